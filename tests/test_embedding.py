"""The embedding API (docs/contract.md section 9), used as a stranger would use it.

The functions are those of the kernel build the Python API runs (smoothl1._core.dispatch):
the tests at the end check that ``__pyx_capi__`` and both consumers hold that build's functions,
and the baseline's under SMOOTHL1_BASELINE=1.

The consumers under tests/embedding/ (a Cython extension that cimports ``smoothl1.kernels``, a C
extension that includes ``_smoothl1_api.h``) are copied into a temporary folder, built in a
subprocess against the *installed* package, imported, and compared with the Python API: both
losses, both dtypes, contiguous and strided data, all four operations, so every one of the 32
smooth L1 and Huber functions with a scalar parameter is called; and the functions with a
per-element parameter (_params) of the three losses, every one from C, loss_and_grad from
Cython. Results must be the Python API's bit for bit (sums: before the Python API rounds them
to the dtype). Each consumer is built once per test session. (tests/test_capi_params.py checks
the _params functions against the reference through their capsules.)
"""
import ctypes
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

import smoothl1
from smoothl1._core.losses import LOSSES as TABLE_OF_LOSSES
import smoothl1._smoothl1
from capsules import capsule_address, capsule_name
from smoothl1._core import dispatch as _dispatch

EMBEDDING = Path(__file__).parent / "embedding"
CONSUMERS = {"cython": ("cython", "smoothl1_cython_consumer"),
             "c": ("c", "smoothl1_c_consumer")}
ITEM_SIZE = 16384  # the Python API's item size (ITEM_SIZE in src/_smoothl1.pyx, section 2)
PARAMS = {"smooth_l1": [1.0, 0.0, 0.25, np.inf], "huber": [1.0, 0.25, np.inf]}


def build_in_place(folder):
    """python setup.py build_ext --inplace in `folder`, in a subprocess; returns the result."""
    return subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=folder,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def compiler_check(tmp_path_factory):
    """Skip when no C compiler works here: the one acceptable reason not to run these tests."""
    folder = tmp_path_factory.mktemp("compiler_probe")
    (folder / "probe.c").write_text(textwrap.dedent("""\
        #include <Python.h>
        static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "probe", NULL, -1, NULL};
        PyMODINIT_FUNC PyInit_probe(void) { return PyModule_Create(&module); }
        """))
    (folder / "setup.py").write_text(
        "from setuptools import Extension, setup\n"
        "setup(name='probe', ext_modules=[Extension('probe', ['probe.c'])])\n")
    result = build_in_place(folder)
    if result.returncode != 0:
        pytest.skip("no working C compiler to build extensions with:\n" + result.stderr[-2000:])


def load_extension(folder, name):
    path = folder / (name + sysconfig.get_config_var("EXT_SUFFIX"))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=sorted(CONSUMERS))
def consumer(request, tmp_path_factory, compiler_check):
    """(kind, module): a consumer built from a copy of its sources, outside the source tree."""
    kind = request.param
    source, name = CONSUMERS[kind]
    folder = tmp_path_factory.mktemp(kind + "_consumer") / source
    shutil.copytree(EMBEDDING / source, folder)
    result = build_in_place(folder)
    assert result.returncode == 0, f"building the {kind} consumer failed:\n{result.stderr}"
    return kind, load_extension(folder, name)


def call(consumer, operation, loss, input, target, out, param, grad_scale, strided):
    """One call of an exported function through the consumer: returns the sum or None."""
    kind, module = consumer
    if kind == "c":
        return module.run(operation, loss, input, target, out, param, grad_scale, strided)
    if operation == "loss_sum":
        return module.loss_sum(loss, input, target, param, strided)
    if operation == "loss":
        return module.loss(loss, input, target, out, param, strided)
    if operation == "grad":
        return module.grad(loss, input, target, out, param, grad_scale, strided)
    return module.loss_and_grad(loss, input, target, out, param, grad_scale, strided)


def python_api(loss, operation, input, target, param, **options):
    name = {"loss": "_loss", "grad": "_grad", "loss_and_grad": "_loss_and_grad"}[operation]
    keyword = "beta" if loss == "smooth_l1" else "delta"
    return getattr(smoothl1, loss + name)(input, target, **{keyword: param}, **options)


def assert_same_bits(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if actual.tobytes() != expected.tobytes():
        np.testing.assert_array_equal(actual, expected)   # shows where
        raise AssertionError(f"equal values, different bits: {actual!r} vs {expected!r}")


def make_data(dtype, n, param, seed=0, special=True):
    """Input and target with differences on both sides of the branch point, exactly at it,
    zero, and (special=True) NaN and infinities."""
    rng = np.random.default_rng(seed)
    scale = 1.0 if not np.isfinite(param) or param == 0 else param
    target = rng.normal(size=n)
    input = target + scale * rng.normal(scale=2.0, size=n)
    if n >= 16 and special:
        input[:8] = target[:8] + np.array([0, param, -param, scale, -scale, np.nan, np.inf,
                                           -np.inf])
        target[8] = np.inf
        input[8] = np.inf    # inf - inf: NaN
    if n >= 16 and not special:
        input[:5] = target[:5] + np.array([0, param, -param, scale, -scale])
    return input.astype(dtype), target.astype(dtype)


def strided_case(layout, input, target, dtype):
    """(input, target, output) views of `layout` holding input's and target's values."""
    n = input.size
    if layout == "contiguous":
        return input, target, np.empty(n, dtype)
    if layout == "steps":          # positive steps, all different
        x = np.empty(3 * n, dtype)[::3]
        t = np.empty(2 * n, dtype)[::2]
        out = np.full(4 * n, -7, dtype)[1::4]
    elif layout == "negative":     # negative steps: element 0 is the last in memory
        x = np.empty(n, dtype)[::-1]
        t = np.empty(2 * n, dtype)[::-2]
        out = np.full(3 * n, -7, dtype)[::-3]
    x[...] = input
    t[...] = target
    return x, t, out


LOSSES = [pytest.param(loss, param, id=f"{loss}-{param}")
          for loss in PARAMS for param in PARAMS[loss]]
DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
LAYOUTS = [pytest.param("contiguous", False, id="contiguous"),
           pytest.param("contiguous", True, id="contiguous-strided"),
           pytest.param("steps", True, id="steps"),
           pytest.param("negative", True, id="negative-steps")]


@pytest.mark.parametrize("layout, strided", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, param", LOSSES)
def test_all_operations_match_python_api(consumer, loss, param, dtype, layout, strided):
    input, target = make_data(dtype, 1003, param)
    x, t, out = strided_case(layout, input, target, dtype)
    n = input.size
    total = call(consumer, "loss_sum", loss, x, t, None, param, 1.0, strided)
    assert isinstance(total, float)
    assert_same_bits(dtype(total), python_api(loss, "loss", input, target, param,
                                              reduction="sum", n_threads=1))
    assert call(consumer, "loss", loss, x, t, out, param, 1.0, strided) is None
    assert_same_bits(out, python_api(loss, "loss", input, target, param, reduction="none"))
    for reduction, grad_scale in [("sum", 1.0), ("mean", 1.0 / n)]:
        out[...] = -7
        assert call(consumer, "grad", loss, x, t, out, param, grad_scale, strided) is None
        assert_same_bits(out, python_api(loss, "grad", input, target, param,
                                         reduction=reduction))
        out[...] = -7
        total = call(consumer, "loss_and_grad", loss, x, t, out, param, grad_scale, strided)
        expected_loss, expected_grad = python_api(loss, "loss_and_grad", input, target, param,
                                                  reduction=reduction)
        assert_same_bits(dtype(total if reduction == "sum" else total / n), expected_loss)
        assert_same_bits(out, expected_grad)
    np.testing.assert_array_equal(x, input)       # inputs untouched
    np.testing.assert_array_equal(t, target)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, param", [("smooth_l1", 1.0), ("huber", 0.5)])
def test_zero_stride_target(consumer, loss, param, dtype):
    # A scalar target broadcast by NumPy is a read-only view with stride 0.
    input, _ = make_data(dtype, 500, param)
    target = np.broadcast_to(dtype(0.25), input.shape)
    grad = np.empty_like(input)
    total = call(consumer, "loss_and_grad", loss, input, target, grad, param, 1.0, True)
    expected_loss, expected_grad = python_api(loss, "loss_and_grad", input, target, param,
                                              reduction="sum")
    assert_same_bits(dtype(total), expected_loss)
    assert_same_bits(grad, expected_grad)


@pytest.mark.parametrize("operation", ["loss", "grad", "loss_and_grad"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("aliased", ["input", "target"])
def test_output_may_be_an_input(consumer, operation, dtype, aliased):
    input, target = make_data(dtype, 300, 1.0)
    if operation == "loss":
        expected = python_api("huber", "loss", input, target, 1.0, reduction="none")
    else:
        expected = python_api("huber", "grad", input, target, 1.0, reduction="sum")
    x, t = input.copy(), target.copy()
    out = x if aliased == "input" else t
    call(consumer, operation, "huber", x, t, out, 1.0, 1.0, False)
    assert_same_bits(out, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("loss", ["smooth_l1", "huber"])
def test_sums_over_several_items_are_bit_identical(consumer, loss, dtype, strided):
    # Three items and a bit: the item splitting must be the Python API's for identical bits,
    # and the Python API's result does not depend on its thread count.
    n = 3 * ITEM_SIZE + 17
    input, target = make_data(dtype, n, 1.0, seed=1, special=False)
    x, t, grad = strided_case("negative" if strided else "contiguous", input, target, dtype)
    expected = python_api(loss, "loss", input, target, 0.75, reduction="sum", n_threads=1)
    assert_same_bits(expected, python_api(loss, "loss", input, target, 0.75, reduction="sum",
                                          n_threads=2))
    total = call(consumer, "loss_sum", loss, x, t, None, 0.75, 1.0, strided)
    assert_same_bits(dtype(total), expected)
    if dtype is np.float64:
        assert total == float(expected)
    total = call(consumer, "loss_and_grad", loss, x, t, grad, 0.75, 1.0 / n, strided)
    expected_loss, expected_grad = python_api(loss, "loss_and_grad", input, target, 0.75)
    assert_same_bits(dtype(total / n), expected_loss)
    assert_same_bits(grad, expected_grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("strided", [False, True])
def test_empty(consumer, dtype, strided):
    empty = np.empty(0, dtype)
    for loss in PARAMS:
        assert call(consumer, "loss_sum", loss, empty, empty, None, 1.0, 1.0, strided) == 0.0
        assert call(consumer, "loss_and_grad", loss, empty, empty, empty, 1.0, 1.0,
                    strided) == 0.0
        assert call(consumer, "loss", loss, empty, empty, empty, 1.0, 1.0, strided) is None


# (data layout, _strided function, parameter step): every step 1 for the contiguous functions
PARAM_LAYOUTS = [pytest.param("contiguous", False, 1, id="contiguous"),
                 pytest.param("contiguous", True, 3, id="param-steps"),
                 pytest.param("steps", True, 1, id="steps"),
                 pytest.param("steps", True, 0, id="steps-param-zero-step"),
                 pytest.param("negative", True, -2, id="negative-steps"),
                 pytest.param("negative", True, 0, id="negative-param-zero-step")]


def param_array(values, step):
    """A 1-D view of `values` with `step` elements between consecutive ones (0: one value)."""
    if step == 0:
        return np.broadcast_to(values[:1], values.shape)
    memory = np.full(abs(step) * values.size, -7, values.dtype)
    view = memory[::step][:values.size]
    view[...] = values
    return view


@pytest.mark.parametrize("layout, strided, step", PARAM_LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["smooth_l1", "huber", "pseudo_huber"])
def test_params_functions_match_python_api(consumer, loss, dtype, layout, strided, step):
    kind, module = consumer
    n = 1003
    input, target = make_data(dtype, n, 1.0, special=False)   # finite sums
    rng = np.random.default_rng(3)
    values = rng.choice([0.3, 0.5, 1.0, 2.5, np.inf] + ([0.0] if loss == "smooth_l1" else []),
                        size=n).astype(dtype)
    if step == 0:
        values[:] = values[0]
    param = param_array(values, step)
    x, t, out = strided_case(layout, input, target, dtype)
    keyword = "beta" if loss == "smooth_l1" else "delta"
    operations = ["loss_sum", "loss", "grad", "loss_and_grad"] if kind == "c" \
        else ["loss_and_grad"]
    for operation in operations:
        out[...] = -7
        if kind == "c":
            total = module.run_params(operation, loss, x, t,
                                      None if operation == "loss_sum" else out, param, 1.0,
                                      strided)
        else:
            total = module.loss_and_grad_params(loss, x, t, out, param, 1.0, strided)
        if operation in ("loss_sum", "loss_and_grad"):
            assert_same_bits(dtype(total), getattr(smoothl1, loss + "_loss")(
                input, target, **{keyword: values}, reduction="sum", n_threads=1))
        else:
            assert total is None
        if operation == "loss":
            assert_same_bits(out, getattr(smoothl1, loss + "_loss")(
                input, target, **{keyword: values}, reduction="none"))
        if operation in ("grad", "loss_and_grad"):
            assert_same_bits(out, getattr(smoothl1, loss + "_grad")(
                input, target, **{keyword: values}, reduction="sum"))


def test_package_ships_pxd_and_header():
    folder = Path(smoothl1.get_include())
    for name in ("kernels.pxd", "_smoothl1.pxd", "_smoothl1_api.h", "smoothl1.h",
                 "smoothl1_functions.h"):
        assert (folder / name).is_file(), f"{name} is missing from {folder}"
    exported = set(smoothl1._smoothl1.__pyx_capi__)
    # every loss of the table x 2 dtypes x 2 layouts x 7 operations x 2 parameter kinds
    # (scalar, per element) (tools/generate_kernels.py's table)
    assert len(exported) == len(TABLE_OF_LOSSES) * 2 * 2 * 7 * 2 == 280
    kernels = (folder / "kernels.pxd").read_text()
    header = (folder / "_smoothl1_api.h").read_text()
    for name in exported:
        assert f"    {name},\n" in kernels, f"kernels.pxd does not re-export {name}"
        assert f"#define {name} " in header, f"_smoothl1_api.h does not declare {name}"
    assert "static int import_smoothl1___smoothl1(void)" in header


def test_hand_written_header_matches_the_package():
    # smoothl1.h is written by hand: its version macros must follow the release, and it must
    # include the generated declarations and define the import function it documents.
    text = (Path(smoothl1.get_include()) / "smoothl1.h").read_text()
    macros = dict(re.findall(r"^#define (SMOOTHL1_VERSION\w*) (.+)$", text, re.M))
    major, minor, patch = (int(part) for part in smoothl1.__version__.split(".")[:3])
    assert macros["SMOOTHL1_VERSION"] == f'"{smoothl1.__version__}"'
    assert (int(macros["SMOOTHL1_VERSION_MAJOR"]), int(macros["SMOOTHL1_VERSION_MINOR"]),
            int(macros["SMOOTHL1_VERSION_PATCH"])) == (major, minor, patch)
    assert '#include "_smoothl1_api.h"' in text
    assert "#define smoothl1_import() import_smoothl1___smoothl1()" in text


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def shared_object_of(address):
    """The file of the shared object holding `address` (dladdr; Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    dladdr = ctypes.CDLL(None).dladdr
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    info = _DlInfo()
    assert dladdr(address, ctypes.byref(info)) != 0, hex(address)
    return Path(os.fsdecode(info.dli_fname)).resolve()


def test_capsules_are_the_dispatched_builds():
    exported = smoothl1._smoothl1.__pyx_capi__
    chosen = _dispatch.kernels.__pyx_capi__
    assert len(exported) == len(TABLE_OF_LOSSES) * 56 and set(exported) == set(chosen)
    chosen_file = Path(_dispatch.kernels.__file__).resolve()
    for name, capsule in exported.items():
        assert capsule_name(capsule) == capsule_name(chosen[name])
        address = capsule_address(capsule)
        assert address == capsule_address(chosen[name]), name
        found = shared_object_of(address)
        assert found in (None, chosen_file), f"{name} runs {found}, not {chosen_file}"


# Run in a fresh interpreter: where the C API's functions and a consumer's pointer live.
_WHERE = """
import importlib.util, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import test_embedding as here
import smoothl1._smoothl1
from smoothl1._core import dispatch as _dispatch
spec = importlib.util.spec_from_file_location(sys.argv[3], sys.argv[2])
consumer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(consumer)
capsule = smoothl1._smoothl1.__pyx_capi__["smoothl1_smooth_l1_loss_sum_f32"]
address = consumer.kernel_address()
found = here.shared_object_of(address)
print(json.dumps({"build": _dispatch.build,
                  "file": str(Path(_dispatch.kernels.__file__).resolve()),
                  "capsule": here.capsule_address(capsule), "consumer": address,
                  "found": None if found is None else str(found)}))
"""


@pytest.mark.parametrize("force_baseline", [False, True], ids=["dispatched", "baseline-forced"])
def test_consumers_call_the_dispatched_build(consumer, force_baseline):
    # A consumer built once runs whatever build the process dispatches to, without rebuilding.
    kind, module = consumer
    env = dict(os.environ)
    env.pop("SMOOTHL1_BASELINE", None)
    if force_baseline:
        env["SMOOTHL1_BASELINE"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", _WHERE, str(Path(__file__).parent), module.__file__,
         module.__name__], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    where = json.loads(result.stdout)
    assert where["consumer"] == where["capsule"]
    widest = next(name for name in ("avx512", "avx2", "baseline")
                  if name in _dispatch.available_builds())
    assert where["build"] == ("baseline" if force_baseline else widest)
    assert where["found"] in (None, where["file"]), (kind, where)
    if where["found"] is not None:
        assert ("_smoothl1." in Path(where["found"]).name) == (where["build"] == "baseline")
