"""Property-based tests (hypothesis): random shapes, strides, broadcasting, special values and
parameters, every function, compared with the reference."""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference import (KINDS, LOSSES, REDUCTIONS, assert_bitwise_equal, assert_close, call,
                       reference)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SPECIAL = [0.0, -0.0, math.nan, math.inf, -math.inf]


def _elements(dtype):
    """Finite values on both sides of the kinks, huge and tiny magnitudes, and specials."""
    info = np.finfo(dtype)
    width = info.bits
    # exactly representable in dtype (hypothesis refuses values that would round)
    big = float(np.dtype(dtype).type(1e300 if width == 64 else 1e37))
    tiny = float(np.dtype(dtype).type(1e-300 if width == 64 else 1e-37))
    return st.one_of(
        st.floats(-10, 10, width=width),
        st.sampled_from(SPECIAL + [big, -big, tiny, -tiny, float(info.max), float(info.tiny),
                                   float(info.smallest_subnormal)]),
        st.floats(allow_nan=True, allow_infinity=True, width=width),
    )


@st.composite
def strided_arrays(draw, dtype, shape):
    """An array of `shape` viewed out of a bigger one with random (possibly negative) steps,
    possibly transposed."""
    ndim = len(shape)
    order = draw(st.permutations(range(ndim))) if ndim > 1 else list(range(ndim))
    steps = draw(st.lists(st.sampled_from([1, 1, 2, 3, -1, -2]), min_size=ndim, max_size=ndim))
    # the base is laid out in `order`, then transposed back
    base_shape = [shape[axis] * abs(steps[axis]) for axis in range(ndim)]
    base = draw(hnp.arrays(dtype, [base_shape[axis] for axis in order],
                           elements=_elements(dtype)))
    base = base.transpose(np.argsort(order)) if ndim > 1 else base
    index = tuple(slice(None, None, step) for step in steps)
    view = base[index] if ndim else base
    assert view.shape == tuple(shape)
    return view


@st.composite
def broadcast_shape(draw, shape):
    """A shape that broadcasts to `shape` without changing it: leading axes dropped, others
    kept or set to 1."""
    ndim = len(shape)
    dropped = draw(st.integers(0, ndim))
    kept = [draw(st.sampled_from([side, 1])) for side in shape[dropped:]]
    return tuple(kept)


@st.composite
def operands(draw, dtype, shape, elements):
    """target/weight: full shape with its own layout, or a broadcast one (also a zero-stride
    view), or a Python float."""
    style = draw(st.sampled_from(["full", "broadcast", "broadcast-view", "python-float"]))
    if style == "full":
        return draw(strided_arrays(dtype, shape)) if elements is None else \
            draw(hnp.arrays(dtype, shape, elements=elements))
    if style == "python-float":
        return float(draw(elements if elements is not None else _elements(dtype)))
    small = draw(broadcast_shape(shape))
    value = draw(hnp.arrays(dtype, small, elements=elements if elements is not None
                            else _elements(dtype)))
    return np.broadcast_to(value, shape) if style == "broadcast-view" else value


PARAMS = st.one_of(st.sampled_from([0.0, 1 / 9, 0.5, 1.0, 2.0, 1e-300, 1e300, math.inf]),
                   st.floats(0, 1e6, allow_subnormal=False))


@st.composite
def calls(draw):
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    input = draw(strided_arrays(dtype, shape))
    target = draw(operands(dtype, shape, None))
    weighted = draw(st.booleans())
    weight = draw(operands(dtype, shape, st.floats(0, 100, width=dtype.itemsize * 8))) \
        if weighted else None
    loss = draw(st.sampled_from(LOSSES))
    param = draw(PARAMS)
    if loss != "smooth_l1" and param == 0:
        param = 1.0
    reduction = draw(st.sampled_from(REDUCTIONS))
    return loss, param, reduction, input, target, weight


@SETTINGS
@given(calls())
def test_matches_reference(case):
    loss, param, reduction, input, target, weight = case
    dtype = input.dtype
    before = [np.array(a, copy=True) for a in (input, target, weight) if isinstance(a, np.ndarray)]
    got_loss, got_grad = call(loss, "loss_and_grad", input, target, param,
                              reduction=reduction, weight=weight)
    only_loss = call(loss, "loss", input, target, param, reduction=reduction, weight=weight)
    only_grad = call(loss, "grad", input, target, param, reduction=reduction, weight=weight)
    expected_loss, expected_grad = reference(loss, input, target, param, reduction, weight)
    if reduction == "none":
        assert type(got_loss) is np.ndarray and got_loss.shape == input.shape
    else:
        assert type(got_loss) is dtype.type
    assert got_grad.shape == input.shape and got_grad.dtype == dtype
    assert_close(got_loss, expected_loss, dtype)
    assert_close(got_grad, expected_grad, dtype)
    assert_bitwise_equal(got_loss, only_loss)
    assert_bitwise_equal(got_grad, only_grad)
    after = [a for a in (input, target, weight) if isinstance(a, np.ndarray)]
    for array, copy in zip(after, before):
        assert_bitwise_equal(np.asarray(array), copy)


@st.composite
def elementwise_calls(draw):
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64])))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=6))
    input = draw(strided_arrays(dtype, shape))
    target = draw(strided_arrays(dtype, shape))
    loss = draw(st.sampled_from(LOSSES))
    param = draw(PARAMS)
    if loss != "smooth_l1" and param == 0:
        param = 1.0
    return loss, param, input, target


@SETTINGS
@given(elementwise_calls())
def test_symmetry_and_target_derivative(case):
    """loss(d) == loss(-d), grad(-d) == -grad(d): swapping input and target negates d, so the
    derivative w.r.t. target is minus the derivative w.r.t. input (contract §1)."""
    loss, param, input, target = case
    forward_loss, forward_grad = call(loss, "loss_and_grad", input, target, param,
                                      reduction="none")
    swapped_loss, swapped_grad = call(loss, "loss_and_grad", target, input, param,
                                      reduction="none")
    assert_close(swapped_loss, forward_loss, input.dtype, rtol=0, atol=0)
    assert_close(swapped_grad, -forward_grad, input.dtype, rtol=0, atol=0)
    # nonnegative loss, |grad| <= 1 (smooth L1) or <= delta (Huber, rounded to the dtype)
    assert not np.any(forward_loss < 0)
    with np.errstate(over="ignore"):
        bound = np.float64(np.float64(1.0 if loss == "smooth_l1" else param).astype(input.dtype))
    assert not np.any(np.abs(forward_grad.astype(np.float64)) > bound)


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from([np.float32, np.float64]),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
       loss=st.sampled_from(LOSSES), kind=st.sampled_from(KINDS),
       reduction=st.sampled_from(REDUCTIONS), data=st.data())
def test_out_is_input_property(dtype, shape, loss, kind, reduction, data):
    """In-place use (out / grad_out is input) gives the result of separate buffers."""
    elements = st.floats(-5, 5, width=np.dtype(dtype).itemsize * 8)
    input = data.draw(hnp.arrays(dtype, shape, elements=elements))
    target = data.draw(hnp.arrays(dtype, shape, elements=elements))
    if kind == "loss" and reduction != "none":
        kind = "grad"
    name = "grad_out" if kind == "loss_and_grad" else "out"
    expected = call(loss, kind, input.copy(), target.copy(), 0.5, reduction=reduction,
                    **{name: np.empty_like(input)})
    result = call(loss, kind, input, target, 0.5, reduction=reduction, **{name: input})
    if kind == "loss_and_grad":
        assert result[1] is input
        assert_bitwise_equal(result[0], expected[0])
        assert_bitwise_equal(result[1], expected[1])
    else:
        assert result is input
        assert_bitwise_equal(result, expected)
