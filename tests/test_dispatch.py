"""Which kernel build runs (smoothl1._core.dispatch), and that every SIMD build gives the
baseline build's bits: the builds compile one source (src/_smoothl1.pyx), with IEEE operations,
no FMA contraction and one fixed summation order, so only their speed may differ."""
import itertools

import numpy as np
import pytest

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
