"""Which kernel build runs (smoothl1._core.dispatch), and that every SIMD build gives the
baseline build's bits: the builds compile one source (src/_smoothl1.pyx), with IEEE operations,
no FMA contraction and one fixed summation order, so only their speed may differ."""
import itertools
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smoothl1
from capsules import capsule_address
from smoothl1 import _smoothl1
from smoothl1._core import dispatch as _dispatch


SIMD_BUILDS = {name: module for name, module in _dispatch.available_builds().items()
               if name != "baseline"}



def over_builds_dtypes_and_losses(test):
    """Run `test` for each SIMD build of this install, both dtypes and every loss."""
    marks = [pytest.mark.skipif(not SIMD_BUILDS,
                                reason="no SIMD build for this CPU in this install"),
             pytest.mark.parametrize("build", sorted(SIMD_BUILDS)),
             pytest.mark.parametrize("dtype", [np.float32, np.float64]),
             pytest.mark.parametrize("loss_kind", [_smoothl1.SMOOTH_L1, _smoothl1.HUBER,
                                                   _smoothl1.PSEUDO_HUBER])]
    for mark in reversed(marks):   # applied as the stacked decorators would be
        test = mark(test)
    return test


def test_dispatch_picks_the_widest_build():
    builds = _dispatch.available_builds()
    expected = "avx512" if "avx512" in builds else "avx2" if "avx2" in builds else "baseline"
    assert _dispatch.build == expected
    assert _dispatch.kernels is builds[expected]


@over_builds_dtypes_and_losses
def test_simd_builds_give_the_baseline_bits(build, dtype, loss_kind):
    # The builds compile one source; IEEE operations without FMA contraction, in one fixed
    # summation order, must give the same bits whatever the SIMD width.
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(100_003) * 4).astype(dtype)
    x[::97] = np.nan   # the sums are NaN then: also check them without the special values
    x[5::101] = np.inf
    x_finite = np.where(np.isfinite(x), x, 1.5).astype(dtype)
    t = rng.standard_normal(100_003).astype(dtype)
    w = rng.random(100_003).astype(dtype)
    cases = [(x, _smoothl1.REDUCTION_NONE), (x_finite, _smoothl1.REDUCTION_SUM),
             (x_finite, _smoothl1.REDUCTION_MEAN), (x, _smoothl1.REDUCTION_SUM)]
    # 0.7 divides; 1.0 (smooth L1) multiplies by its exact inverse. Strided views take the
    # other loops.
    for (x, reduction), param, weight, step in itertools.product(cases, [0.7, 1.0],
                                                                 [w, None], [1, 3]):
        x, target = x[::step], t[::step]
        weight = None if weight is None else weight[::step]
        outputs = []
        for module in (_smoothl1, SIMD_BUILDS[build]):
            loss_out = np.empty_like(x) if reduction == _smoothl1.REDUCTION_NONE else None
            grad_out = np.empty_like(x)
            total = module.compute(loss_kind, param, x, target, weight, reduction, loss_out,
                                   grad_out, True, True, 2)
            total_bits = None if total is None else np.float64(total).tobytes()
            outputs.append((total_bits, None if loss_out is None else loss_out.tobytes(),
                            grad_out.tobytes()))
        assert outputs[0] == outputs[1], (reduction, param, weight is None, step)


@over_builds_dtypes_and_losses
def test_simd_builds_give_the_baseline_bits_for_boxes(build, dtype, loss_kind):
    # The loops of box-shaped sums (a loss per box, per coordinate, a parameter repeating
    # along rows), which vectorise with interleaved loads, add in the baseline's order too.
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((6001, 4)) * 2).astype(dtype)
    t = rng.standard_normal((6001, 4)).astype(dtype)
    weights = [None, rng.random((6001, 1)).astype(dtype), rng.random((6001, 4)).astype(dtype)]
    params = [None, np.array([0.5, 0.7, 1.0, 2.0], dtype),
              rng.uniform(0.1, 2.0, (6001, 4)).astype(dtype)]
    for weight, param_values, reduction, axes in itertools.product(
            weights, params, [_smoothl1.REDUCTION_SUM, _smoothl1.REDUCTION_MEAN],
            [None, (1,), (0,)]):
        results = [module.compute(loss_kind, 0.7, x, t, weight, reduction, None, None, True,
                                  False, 2, param_values=param_values, axes=axes)
                   for module in (_smoothl1, SIMD_BUILDS[build])]
        assert np.asarray(results[0]).tobytes() == np.asarray(results[1]).tobytes(), \
            (weight is None, param_values is None, reduction, axes)


@over_builds_dtypes_and_losses
def test_simd_builds_give_the_baseline_grad_hess_bits(build, dtype, loss_kind):
    # The gradient and every curvature kind (docs/contract.md section 11), with and without
    # weights, contiguous and strided, special values included.
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(50_001) * 4).astype(dtype)
    x[::97] = np.nan
    x[5::101] = np.inf
    x[7::103] = 0.0
    t = rng.standard_normal(50_001).astype(dtype)
    t[7::103] = 0.0
    w = rng.random(50_001).astype(dtype)
    # a per-element parameter (docs/contract.md section 13), 0 only for smooth L1
    per_element = rng.choice([0.0 if loss_kind == _smoothl1.SMOOTH_L1 else 0.5, 1 / 9, 0.7,
                              1.0, 3.0, np.inf], size=50_001).astype(dtype)
    for curvature, param, weight, step in itertools.product(
            _smoothl1.CURVATURES.values(), [0.0, 0.7, 1.0, "array"], [w, None], [1, 3]):
        if param == 0.0 and loss_kind != _smoothl1.SMOOTH_L1:
            continue
        x_step, target = x[::step], t[::step]
        weight = None if weight is None else weight[::step]
        values = per_element[::step] if param == "array" else None
        outputs = []
        for module in (_smoothl1, SIMD_BUILDS[build]):
            grad_out, hess_out = np.empty_like(x_step), np.empty_like(x_step)
            module.compute_grad_hess(loss_kind, 1.0 if values is not None else param,
                                     curvature, x_step, target, weight, grad_out, hess_out, 2,
                                     values)
            outputs.append((grad_out.tobytes(), hess_out.tobytes()))
        assert outputs[0] == outputs[1], (curvature, param, weight is None, step)


# -- smoothl1.simd_build(): the public name of the build in use ---------------------------------

_AVX512_FLAGS = {"avx512f", "avx512dq", "avx512vl", "avx512bw"}


def _installed_builds():
    """The SIMD builds whose compiled module is in the package folder (found by file name)."""
    folder = Path(smoothl1.__file__).parent
    return {name for name in ("avx512", "avx2")
            if any(folder.glob(f"_smoothl1_{name}.*"))}


def _widest_build_by_cpuinfo():
    """What the CPU's flags in /proc/cpuinfo and the installed files say should run: an
    oracle that does not ask smoothl1._core.dispatch."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    installed = _installed_builds()
    if "avx512" in installed and _AVX512_FLAGS <= flags:
        return "avx512"
    if "avx2" in installed and "avx2" in flags:
        return "avx2"
    return "baseline"


def _simd_build_in_child(force_baseline):
    env = dict(os.environ)
    env.pop("SMOOTHL1_BASELINE", None)
    if force_baseline:
        env["SMOOTHL1_BASELINE"] = "1"
    code = "import smoothl1; print(smoothl1.simd_build())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=True)
    return result.stdout.strip()


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file() or platform.machine() != "x86_64",
                    reason="the oracle reads x86-64 flags from Linux's /proc/cpuinfo")
def test_simd_build_is_the_widest_build_the_cpu_flags_allow():
    assert _simd_build_in_child(force_baseline=False) == _widest_build_by_cpuinfo()


def test_simd_build_names_the_module_the_python_api_runs():
    build = smoothl1.simd_build()
    assert build in ("avx512", "avx2", "baseline")
    expected = "smoothl1._smoothl1" + ("" if build == "baseline" else "_" + build)
    assert _dispatch.kernels.__name__ == expected
    # the C API table holds that build's functions too
    name = "smoothl1_huber_loss_sum_f64"
    assert capsule_address(_smoothl1.__pyx_capi__[name]) \
        == capsule_address(_dispatch.kernels.__pyx_capi__[name])


def test_simd_build_is_baseline_when_forced():
    assert _simd_build_in_child(force_baseline=True) == "baseline"


@pytest.mark.parametrize("build", sorted(_dispatch.available_builds()))
def test_each_build_carries_its_own_name(build):
    # The SIMD builds' C is the baseline's, renamed (tools/simd_variants.py): whatever Python
    # shows of a module names that module, and its C API has the baseline's functions with the
    # same signatures.
    module = _dispatch.available_builds()[build]
    name = "smoothl1._smoothl1" + ("" if build == "baseline" else "_" + build)
    assert module.__name__ == name
    assert module.compute.__module__ == module.compute_grad_hess.__module__ == name
    assert module.KeptFloatingPointFlags.__module__ == name
    assert f"``{name}``" in module.__doc__
    signatures = {function: repr(capsule).split('"')[1]
                  for function, capsule in module.__pyx_capi__.items()}
    assert signatures == {function: repr(capsule).split('"')[1]
                          for function, capsule in _smoothl1.__pyx_capi__.items()}
