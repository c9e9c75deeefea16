"""The C API's per-element-parameter functions, smoothl1_<loss>_<operation>_<dtype>_params
[_strided] (docs/contract.md sections 9 and 13), called through their capsules with ctypes.

Every loss x dtype x operation x layout is checked against the float64 reference
(tests/reference.py, one parameter value at a time) and, bit for bit, against the Python API
given the same beta or delta array; an array of one repeated value (contiguous, or a stride of
0) gives the scalar function's results bit for bit. (The compiled consumers of
tests/test_embedding.py cover how C and Cython callers link to them.)
"""
import ctypes

import numpy as np
import pytest

import smoothl1
from capsules import capsule_address
from reference import ELEMENTWISE, LOSSES, PARAM_NAME, assert_close, exact_sum
from smoothl1 import _smoothl1
from smoothl1._core.losses import LOSSES as TABLE_OF_LOSSES

SUFFIX = {np.float32: "f32", np.float64: "f64"}
DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
OPERATIONS = ("loss_sum", "loss", "grad", "loss_and_grad")
ITEM_SIZE = 16384   # the sums' item size (ITEM_SIZE in src/_smoothl1.pyx, section 2)
N = 2 * ITEM_SIZE + 1000   # three items, whole chunks and a piece of one


def kernel(loss, operation, dtype, param_kind, strided):
    """The exported function as a ctypes function of (n, then pointers as integers, strides,
    scalars), in the order of the table in tools/generate_kernels.py."""
    name = f"smoothl1_{loss}_{operation}_{SUFFIX[dtype]}{param_kind}"
    name += "_strided" if strided else ""
    capsule = _smoothl1.__pyx_capi__[name]
    array = [ctypes.c_void_p, ctypes.c_ssize_t] if strided else [ctypes.c_void_p]
    arguments = [ctypes.c_ssize_t] + array + array               # n, input, target
    if operation != "loss_sum":
        arguments += array                                       # loss_out or grad_out
    arguments += array if param_kind else [ctypes.c_double]      # beta / delta
    if operation in ("grad", "loss_and_grad"):
        arguments.append(ctypes.c_double)                        # grad_scale
    restype = ctypes.c_double if operation in ("loss_sum", "loss_and_grad") else None
    return ctypes.CFUNCTYPE(restype, *arguments)(
        capsule_address(capsule))


class Strided:
    """A 1-D view holding `values` with `step` elements between consecutive ones (negative:
    element 0 is the last in memory; 0: one value, which `values` must all be)."""

    def __init__(self, values, step):
        values = np.asarray(values)
        n = values.size
        self.step = step
        if step == 0:
            assert n == 0 or (values == values[0]).all()
            self.memory = values[:1].copy()
            self.view = np.broadcast_to(self.memory, (n,))
        else:
            self.memory = np.full(abs(step) * n, -7, values.dtype)
            self.view = self.memory[::step][:n]
            self.view[...] = values

    @property
    def address(self):
        """The address of element 0."""
        return self.view.ctypes.data if self.view.size else 0


def run(loss, operation, dtype, param_kind, operands, param, grad_scale=1.0):
    """One call through the _strided twin (if any operand is not step 1) or the contiguous
    function; operands = (input, target, out) Strided, out None for loss_sum; param a Strided
    for the _params functions, else a float. Returns the function's result."""
    x, t, out = operands
    parts = [x, t] + ([out] if operation != "loss_sum" else [])
    per_element = param_kind == "_params"
    if per_element:
        parts.append(param)
    strided = any(part.step != 1 for part in parts)
    arguments = [x.view.size]
    for part in parts:
        arguments += [part.address, part.step] if strided else [part.address]
    if not per_element:
        arguments.append(param)
    if operation in ("grad", "loss_and_grad"):
        arguments.append(grad_scale)
    return kernel(loss, operation, dtype, param_kind, strided)(*arguments)


def make_data(loss, dtype, n=N, seed=0):
    """Input, target and a per-element parameter: differences on both sides of each element's
    branch point, exactly at it and zero; parameters of several magnitudes, powers of two and
    not, inf, and 0 for smooth L1."""
    rng = np.random.default_rng(seed)
    choices = [0.3, 0.5, 1.0, 1.7, 3.0, 1e-3, 250.0, np.inf] + ([0.0] if loss == "smooth_l1"
                                                                  else [])
    param = rng.choice(choices, size=n).astype(dtype)
    target = rng.normal(size=n).astype(dtype)
    scale = np.where(np.isfinite(param) & (param > 0), param, 1.0)
    input = (target + scale * rng.normal(scale=2.0, size=n)).astype(dtype)
    input[:4] = target[:4]
    at_branch = np.arange(4, min(n, 400), 7)
    input[at_branch] = (target[at_branch].astype(np.float64)
                        + np.where(at_branch % 2, 1, -1) * param[at_branch]).astype(dtype)
    return input, target, param


def reference_elementwise(loss, input, target, param):
    """(loss, grad) in float64, unrounded, from tests/reference.py's formulas applied to the
    elements of each parameter value in turn (its pseudo-Huber takes one delta at a time)."""
    with np.errstate(invalid="ignore"):   # inf - inf is NaN, as in the kernels
        d = input.astype(np.float64) - target.astype(np.float64)
    values = param.astype(np.float64)
    losses, grads = np.empty_like(d), np.empty_like(d)
    for value in np.unique(values):
        where = values == value
        losses[where], grads[where] = ELEMENTWISE[loss](d[where], value)
    return losses, grads


def python_api(loss, kind, input, target, param, **options):
    """smoothl1.<loss>_<kind> with the parameter (an array: per element) as beta or delta."""
    return getattr(smoothl1, f"{loss}_{kind}")(input, target, **{PARAM_NAME[loss]: param},
                                              **options)


def same_bits(actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if actual.tobytes() != expected.tobytes():
        np.testing.assert_array_equal(actual, expected)   # shows where
        raise AssertionError("equal values, different bits (a zero's sign or a NaN payload)")


# (input step, target step, output step, parameter step); the contiguous function for all 1
LAYOUTS = {"contiguous": (1, 1, 1, 1), "param-step-3": (1, 1, 1, 3),
           "param-step-minus-2": (1, 1, 1, -2), "all-strided": (2, -1, 3, 2),
           "all-negative": (-3, -2, -1, -1), "param-step-0": (1, 1, 1, 0),
           "strided-param-step-0": (2, 3, -2, 0)}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_params_functions_match_reference_and_python_api(loss, dtype, operation, layout):
    input, target, param = make_data(loss, dtype)
    x_step, t_step, out_step, param_step = LAYOUTS[layout]
    if param_step == 0:
        param[:] = param[5] if loss != "smooth_l1" else dtype(0.3)
    n = input.size
    x, t = Strided(input, x_step), Strided(target, t_step)
    out = Strided(np.zeros(n, dtype), out_step)
    p = Strided(param, param_step)
    ref_loss, ref_grad = reference_elementwise(loss, input, target, param)
    with np.errstate(all="ignore"):
        for grad_scale in ([1.0, 1.0 / n] if operation in ("grad", "loss_and_grad") else [1.0]):
            out.view[...] = -7
            result = run(loss, operation, dtype, "_params", (x, t, out), p, grad_scale)
            if operation in ("loss_sum", "loss_and_grad"):
                # an unrounded double: the pairwise sum is within a few ulps of the exact sum
                assert isinstance(result, float)
                assert result == pytest.approx(exact_sum(ref_loss), rel=1e-12)
                same_bits(dtype(result), python_api(loss, "loss", input, target, param,
                                                    reduction="sum", n_threads=1))
            else:
                assert result is None
            if operation == "loss":
                assert_close(out.view, ref_loss.astype(dtype))
                same_bits(out.view, python_api(loss, "loss", input, target, param,
                                               reduction="none"))
            if operation in ("grad", "loss_and_grad"):
                assert_close(out.view, (ref_grad * grad_scale).astype(dtype))
                reduction = "sum" if grad_scale == 1.0 else "mean"
                same_bits(out.view, python_api(loss, "grad", input, target, param,
                                               reduction=reduction))
            if out_step not in (1, -1):   # the elements between the output's are untouched
                written = np.zeros(out.memory.size, bool)
                written[::out_step][:n] = True
                assert (out.memory[~written] == -7).all()
    np.testing.assert_array_equal(x.view, input)    # inputs untouched
    np.testing.assert_array_equal(t.view, target)
    np.testing.assert_array_equal(p.view, param)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_special_values_match_reference(loss, dtype):
    # NaN and infinite differences, elementwise (a sum would be NaN), with every parameter
    input, target, param = make_data(loss, dtype, n=3000, seed=1)
    input[::11] = np.nan
    input[3::13] = np.inf
    input[5::17] = -np.inf
    target[7::19] = np.inf
    ref_loss, ref_grad = reference_elementwise(loss, input, target, param)
    x, t, p = Strided(input, 1), Strided(target, -1), Strided(param, 2)
    out = Strided(np.empty_like(input), 1)
    with np.errstate(all="ignore"):
        run(loss, "loss", dtype, "_params", (x, t, out), p)
        assert_close(out.view, ref_loss.astype(dtype))
        run(loss, "grad", dtype, "_params", (x, t, out), p, 0.5)
        assert_close(out.view, (ref_grad * 0.5).astype(dtype))


VALUES = {loss: [0.1, 0.5, 1.0, 1.7, 2.0, 1e-30, 3e38, np.inf] + ([0.0] if loss == "smooth_l1"
                                                                   else [])
          for loss in LOSSES}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_array_of_one_value_gives_the_scalar_function_bit_for_bit(loss, dtype, operation):
    # Powers of two (the scalar smooth L1 multiplies by 1 / beta, which is exact), other
    # values (it divides), tiny, huge, inf and 0; a full array, a stride of 0, and strided data.
    input, target, _ = make_data(loss, dtype, n=3 * 512 + 17)
    input[10:13] = [np.inf, -np.inf, 1.0]
    target[12] = np.inf
    n = input.size
    for value in VALUES[loss]:
        value = dtype(value)   # what the array holds; the scalar function gets it as a double
        for steps in [(1, 1, 1, 1), (1, 1, 1, 0), (2, -1, 3, 0), (-1, 2, 1, -2)]:
            x, t = Strided(input, steps[0]), Strided(target, steps[1])
            out = Strided(np.zeros(n, dtype), steps[2])
            scalar_out = Strided(np.zeros(n, dtype), steps[2])
            p = Strided(np.full(n, value, dtype), steps[3])
            with np.errstate(all="ignore"):
                per_element = run(loss, operation, dtype, "_params", (x, t, out), p, 0.25)
                scalar = run(loss, operation, dtype, "", (x, t, scalar_out), float(value),
                             0.25)
            assert (per_element is None) == (scalar is None)
            if scalar is not None:
                same_bits(np.float64(per_element), np.float64(scalar))
            same_bits(out.view, scalar_out.view)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_empty_reads_nothing(loss, dtype):
    # n == 0: every pointer may be NULL, sums are 0.0
    for strided in (False, True):
        for operation in OPERATIONS:
            function = kernel(loss, operation, dtype, "_params", strided)
            arguments = [0] + ([None, 0] if strided else [None]) * (
                3 if operation == "loss_sum" else 4)
            if operation in ("grad", "loss_and_grad"):
                arguments.append(1.0)
            result = function(*arguments)
            assert result == (None if operation in ("loss", "grad") else 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_may_be_the_parameter_array(dtype):
    # The parameter array is an input like the others: an output may be that very array.
    input, target, param = make_data("huber", dtype, n=5000)
    expected = python_api("huber", "grad", input, target, param, reduction="sum")
    expected_sum = python_api("huber", "loss", input, target, param, reduction="sum")
    in_place = Strided(param, 2)
    total = run("huber", "loss_and_grad", dtype, "_params",
                (Strided(input, 1), Strided(target, 1), in_place), in_place)
    same_bits(in_place.view, expected)
    same_bits(dtype(total), expected_sum)


def test_the_table_offers_params_functions_for_every_operation():
    # every loss of the table x 2 dtypes x 2 layouts x (7 scalar + 7 per-element) operations
    # (the grad_hess ones are tested in test_capi_grad_hess.py)
    exported = set(_smoothl1.__pyx_capi__)
    assert len(exported) == len(TABLE_OF_LOSSES) * 2 * 2 * 14 == 280
    params = {name for name in exported if "_params" in name}
    operations = OPERATIONS + tuple(f"grad_hess_{kind}" for kind in ("exact", "irls", "one"))
    assert params == {f"smoothl1_{loss}_{operation}_{suffix}_params{layout}"
                      for loss in LOSSES for operation in operations
                      for suffix in ("f32", "f64") for layout in ("", "_strided")}
