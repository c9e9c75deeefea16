"""Box-shaped work (docs/contract.md sections 3, 12 and 13): broadcast operands, reductions
along axes and per-element beta / delta, against the float64 reference across shapes, layouts,
dtypes, reductions, weights and thread counts; bit-for-bit equalities where the contract makes
them; the bad inputs; and the detection recipes of docs/boxes.md."""
import numpy as np
import pytest

import smoothl1
from reference import (LOSSES, PARAM_NAME, assert_bitwise_equal, assert_close, call,
                       reference)

DTYPES = [np.float32, np.float64]
THREADS = [1, 2, None]
# the thread counts compared bit for bit inside the big grids (None is 1 below 32,768 elements)
GRID_THREADS = [1, 2]
# Shapes that cross chunks (512 elements) and items (16,384 elements), with rows of 4, a
# 3-d array (the gather walks two outer dimensions) and long rows.
SHAPES = [(5000, 4), (3, 700, 4), (70, 300)]


def _in_layout(array, layout):
    """The values of `array` in another memory layout (a view when the layout needs one)."""
    if layout == "C":
        return np.ascontiguousarray(array)
    if layout == "F":
        return np.asfortranarray(array)
    if layout == "transposed":
        return np.ascontiguousarray(array.T).T
    if layout == "strided":
        big = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
        big[..., ::2] = array
        return big[..., ::2]
    if layout == "negative":
        flipped = np.ascontiguousarray(array[::-1, ..., ::-1])
        return flipped[::-1, ..., ::-1]
    raise ValueError(layout)


LAYOUTS = ["C", "F", "transposed", "strided", "negative"]


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(scale=1.5, size=shape).astype(dtype),
            rng.normal(size=shape).astype(dtype))


def _small_shapes(shape):
    """Operand shapes that broadcast to `shape`: per row, per column, per last coordinate."""
    return [shape[:-1] + (1,), shape[-1:], (1,) * (len(shape) - 1) + shape[-1:],
            (shape[0],) + (1,) * (len(shape) - 1)]


# ---------------------------------------------------------------------------------------------
# Broadcast operands: the same bits as the full-size operand of the same values
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("role", ["target", "weight"])
def test_broadcast_operand_matches_full_operand(dtype, shape, layout, role):
    x, t = _data(shape, dtype)
    x = _in_layout(x, layout)
    rng = np.random.default_rng(1)
    for small_shape in _small_shapes(shape):
        small = rng.uniform(0.1, 2.0, size=small_shape).astype(dtype)
        full = np.ascontiguousarray(np.broadcast_to(small, shape))
        for reduction in ["mean", "sum", "none"]:
            def run(operand, n_threads=1):
                kwargs = {"target": operand, "weight": None} if role == "target" else \
                    {"target": t, "weight": operand}
                return smoothl1.smooth_l1_loss_and_grad(
                    x, kwargs["target"], weight=kwargs["weight"], reduction=reduction,
                    beta=0.75, n_threads=n_threads)
            expected = run(full)
            for n_threads in GRID_THREADS:
                got = run(small, n_threads)
                assert_bitwise_equal(got[0], expected[0])
                assert_bitwise_equal(got[1], expected[1])
            target, weight = (small, None) if role == "target" else (t, small)
            ref = reference("smooth_l1", x, target, 0.75, reduction, weight)
            assert_close(got[0], ref[0], rtol=1e-5 if dtype == np.float32 else 1e-12)
            assert_close(got[1], ref[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("out_layout", ["C", "F", "strided", "negative"])
def test_broadcast_operands_with_outputs_in_any_layout(dtype, out_layout):
    x, t = _data((3, 700, 4), dtype)
    target = t[:, :1, :]            # (3, 1, 4)
    weight = np.linspace(0.5, 1.5, 4).astype(dtype)
    loss_out = _in_layout(np.zeros(x.shape, dtype), out_layout)
    grad_out = _in_layout(np.zeros(x.shape, dtype), out_layout)
    loss, grad = smoothl1.huber_loss_and_grad(x, target, weight=weight, reduction="none",
                                              out=loss_out, grad_out=grad_out, delta=0.5)
    assert loss is loss_out and grad is grad_out
    ref = reference("huber", x, target, 0.5, "none", weight)
    assert_close(loss, ref[0])
    assert_close(grad, ref[1])


def test_in_place_gradient_over_a_broadcast_target():
    x, _ = _data((5000, 4), np.float64)
    target = np.arange(4.0)
    expected = smoothl1.smooth_l1_grad(x, target, reduction="sum")
    smoothl1.smooth_l1_grad(x, target, reduction="sum", out=x)
    assert_bitwise_equal(x, expected)


# ---------------------------------------------------------------------------------------------
# Reductions along axes (section 12)
# ---------------------------------------------------------------------------------------------

AXIS_CASES = [((5000, 4), -1), ((5000, 4), 0), ((3, 700, 4), (0, 2)), ((3, 700, 4), 1),
              ((3, 700, 4), (1, 2)), ((70, 300), 0), ((2, 20000), 1), ((2, 20000), 0),
              ((600, 3), 0), ((4, 5, 6), ()), ((40, 30), (0, 1))]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape, axis", AXIS_CASES, ids=str)
@pytest.mark.parametrize("layout, loss", [("C", "smooth_l1"), ("F", "huber"),
                                          ("strided", "smooth_l1"), ("negative", "huber")])
def test_axis_reduction_matches_reference(dtype, shape, axis, layout, loss):
    x, t = _data(shape, dtype)
    x, t = _in_layout(x, layout), _in_layout(t, "transposed")
    w = np.random.default_rng(2).uniform(0.1, 2.0, size=shape).astype(dtype)
    w[0] = 0   # a group of zero weights where axis keeps dimension 0
    for reduction in ["sum", "mean"]:
        for weight in [None, w]:
            for keepdims in [reduction == "sum"]:
                ref = reference(loss, x, t, 0.75, reduction, weight, axis=axis,
                                keepdims=keepdims)
                results = [call(loss, "loss_and_grad", x, t, 0.75, reduction=reduction,
                                weight=weight, axis=axis, keepdims=keepdims, n_threads=n)
                           for n in GRID_THREADS]
                for got in results[1:]:   # independent of the number of threads
                    assert_bitwise_equal(got[0], results[0][0])
                    assert_bitwise_equal(got[1], results[0][1])
                loss_value, grad = results[0]
                assert type(loss_value) is type(ref[0])
                assert_close(loss_value, ref[0], rtol=3e-7 if dtype == np.float32 else 1e-13)
                assert_close(grad, ref[1])
                assert_bitwise_equal(call(loss, "loss", x, t, 0.75, reduction=reduction,
                                          weight=weight, axis=axis, keepdims=keepdims),
                                     loss_value)
                assert_bitwise_equal(call(loss, "grad", x, t, 0.75, reduction=reduction,
                                          weight=weight, axis=axis, keepdims=keepdims), grad)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_big_box_calls_do_not_depend_on_threads(dtype):
    # 2**17 boxes: several items per thread, and n_threads=None picks more than one thread
    x, t = _data((1 << 17, 4), dtype)
    w = np.random.default_rng(11).uniform(size=(1 << 17, 1)).astype(dtype)
    beta = np.array([0.1, 0.2, 0.5, 1.0], dtype)
    for kwargs in [{"weight": w, "axis": -1}, {"weight": w, "axis": 0}, {"beta": beta},
                   {"weight": w[:, 0][:, None], "beta": beta, "axis": 0}]:
        results = [smoothl1.smooth_l1_loss_and_grad(x, t, n_threads=n, **kwargs)
                   for n in THREADS]
        for got in results[1:]:
            assert_bitwise_equal(got[0], results[0][0])
            assert_bitwise_equal(got[1], results[0][1])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_axis_results_have_numpy_shapes_and_types(dtype):
    x, t = _data((6, 5, 4), dtype)
    for axis in [0, 1, 2, -1, (0, 1), (2, 0), (0, 1, 2), ()]:
        for keepdims in [False, True]:
            got = smoothl1.smooth_l1_loss(x, t, reduction="sum", axis=axis, keepdims=keepdims)
            expected = np.sum(x - t, axis=axis, keepdims=keepdims)
            assert np.shape(got) == np.shape(expected)
            assert type(got) is type(expected)
            assert got.dtype == dtype


def test_axis_over_every_dimension_is_the_full_reduction_bit_for_bit():
    x, t = _data((70, 300), np.float32)
    w = np.random.default_rng(3).uniform(size=(70, 300)).astype(np.float32)
    for reduction in ["sum", "mean"]:
        full = smoothl1.smooth_l1_loss_and_grad(x, t, weight=w, reduction=reduction)
        along = smoothl1.smooth_l1_loss_and_grad(x, t, weight=w, reduction=reduction,
                                                 axis=(0, 1))
        assert_bitwise_equal(along[0], full[0])
        assert_bitwise_equal(along[1], full[1])
        kept = smoothl1.smooth_l1_loss(x, t, weight=w, reduction=reduction, keepdims=True)
        assert kept.shape == (1, 1) and kept[0, 0] == full[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows, columns", [(5, 4), (512, 4), (1000, 3), (3 * 16384 + 17, 4),
                                           (40000, 16), (700, 17), (20000, 2)])
def test_each_group_sums_as_its_own_array_bit_for_bit(dtype, rows, columns):
    # Sums along an axis take the same additions as the full reduction of each group copied
    # out, whatever the path (interleaved columns of boxes along axis 0 are summed in memory
    # order, groups of 4 along axis -1 packed into blocks), and whatever the thread count.
    rng = np.random.default_rng(rows + columns)
    x, t = _data((rows, columns), dtype)
    w = rng.uniform(size=(rows, columns)).astype(dtype)
    beta = rng.uniform(0.1, 2.0, size=(rows, columns)).astype(dtype)
    for kwargs in [{}, {"weight": w}, {"weight": w, "beta": beta}]:
        for axis in [0, 1] if rows <= 1000 else [0]:   # (one call per row along axis 1)
            own = [{key: np.ascontiguousarray(np.take(value, k, axis=1 - axis))
                    for key, value in kwargs.items()} for k in range(x.shape[1 - axis])]
            for reduction in ["sum", "mean"]:
                expected = np.array([smoothl1.smooth_l1_loss(
                    np.ascontiguousarray(np.take(x, k, axis=1 - axis)),
                    np.ascontiguousarray(np.take(t, k, axis=1 - axis)), reduction=reduction,
                    **own[k]) for k in range(x.shape[1 - axis])], dtype)
                for n_threads in GRID_THREADS:
                    got = smoothl1.smooth_l1_loss(x, t, reduction=reduction, axis=axis,
                                                  n_threads=n_threads, **kwargs)
                    assert_bitwise_equal(got, expected)
                # with the gradient, a weighted mean sums its weights in a pass of their own
                with_grad = smoothl1.smooth_l1_loss_and_grad(x, t, reduction=reduction,
                                                             axis=axis, **kwargs)
                assert_bitwise_equal(with_grad[0], expected)


def _box_sums(values):
    """Each row's 4 values added up as the library adds a group of 4: in order, from +0.0."""
    return (((0.0 + values[:, 0]) + values[:, 1]) + values[:, 2]) + values[:, 3]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_loss_per_box_is_the_sum_of_its_four_values(dtype, loss, layout):
    # A loss per box (axis=-1 of (N, 4)) sums each box's 4 values straight from the elements
    # (docs/contract.md section 12): the same bits as adding up the float64 elementwise values
    # in order, then one rounding, for every layout, weight shape, reduction and thread count;
    # a weighted mean divides by the box's weight sum, and a box whose weights sum to 0 is NaN.
    # 4500 boxes cross blocks (128 boxes) and items (4096 boxes), with a partial last block.
    x, t = _data((4500, 4), dtype, seed=5)
    x[7, 2], t[8, 0], x[9, 1] = np.inf, np.nan, -np.inf
    rng = np.random.default_rng(6)
    weights = {
        "none": None,
        "(N,1)": rng.uniform(0.5, 1.5, size=(4500, 1)).astype(dtype),
        "(4,)": np.array([1.0, 0.25, 3.0, 0.5], dtype),
        "full": rng.uniform(size=(4500, 4)).astype(dtype),
    }
    weights["(N,1)"][[3, 200]] = 0.0            # a box whose weights sum to 0
    weights["full"][11] = [1.0, -1.0, 0.0, 0.0]  # ... and one whose weights cancel
    params = [0.75, rng.uniform(0.1, 2.0, size=(4500, 4)).astype(dtype)]
    for param in params:
        param64 = np.asarray(param, np.float64)
        for name, w in weights.items():
            w64 = None if w is None else np.broadcast_to(np.asarray(w, np.float64), x.shape)
            # the float64 values the kernel adds up: a float32 input is computed in double
            values = call(loss, "loss", x.astype(np.float64), t.astype(np.float64), param64,
                          weight=w64, reduction="none")
            sums = _box_sums(values)
            divisors = np.full(4500, 4.0) if w is None else _box_sums(w64)
            with np.errstate(divide="ignore", invalid="ignore"):
                means = sums / np.where(divisors == 0, np.nan, divisors)
            for reduction, expected in [("sum", sums), ("mean", means)]:
                expected = expected.astype(dtype)
                expected[np.isnan(expected)] = np.nan   # NaN results are np.nan
                for n_threads in GRID_THREADS:
                    got = call(loss, "loss", _in_layout(x, layout), _in_layout(t, layout),
                               param, weight=w, reduction=reduction, axis=-1,
                               n_threads=n_threads)
                    assert_bitwise_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape, axis, weight_shape", [
    ((3, 700, 4), -1, (3, 700, 1)), ((3, 700, 4), 2, (700, 1)), ((3, 700, 4), -1, (3, 1, 1)),
    ((900, 2, 2), (1, 2), (900, 2, 1)), ((900, 2, 2), (1, 2), (900, 1, 1)),
    ((2, 2, 900), (0, 1), (2, 1, 900)), ((1, 4), -1, (1, 1))], ids=str)
def test_groups_of_four_with_broadcast_weights(dtype, shape, axis, weight_shape):
    # Groups of 4 elements with weights broadcast over some of them: a weight per box is read
    # once a box; a weight that varies inside the group (a (900, 2, 1) weight of 2x2 groups)
    # or groups that are not rows must still give each element its own weight.
    x, t = _data(shape, dtype, seed=8)
    w = np.random.default_rng(9).uniform(0.5, 2.0, size=weight_shape).astype(dtype)
    w64 = np.broadcast_to(w.astype(np.float64), shape)
    axes = tuple(np.atleast_1d(np.arange(len(shape))[np.atleast_1d(axis)]))
    kept = [k for k in range(len(shape)) if k not in axes]

    def groups(values):   # (groups, 4) in the order of the kept axes, then of the group
        return np.transpose(values, kept + list(axes)).reshape(-1, 4)

    values = smoothl1.smooth_l1_loss(x.astype(np.float64), t.astype(np.float64), weight=w64,
                                     reduction="none")
    sums = _box_sums(groups(values))
    kept_shape = tuple(shape[k] for k in kept)
    for reduction, expected in [("sum", sums), ("mean", sums / _box_sums(groups(w64)))]:
        got = smoothl1.smooth_l1_loss(x, t, weight=w, reduction=reduction, axis=axis)
        assert_bitwise_equal(got, expected.astype(dtype).reshape(kept_shape))


def test_axis_reduction_of_box_losses_by_hand():
    pred = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 5.0]])
    target = np.array([[0.0, 0.5, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    # row 0: one difference of 0.5 (0.125); row 1: one of 3 (2.5)
    assert_bitwise_equal(smoothl1.smooth_l1_loss(pred, target, reduction="sum", axis=-1),
                         np.array([0.125, 2.5]))
    assert_bitwise_equal(smoothl1.smooth_l1_loss(pred, target, reduction="mean", axis=1),
                         np.array([0.125 / 4, 2.5 / 4]))
    assert_bitwise_equal(smoothl1.smooth_l1_grad(pred, target, reduction="mean", axis=1),
                         np.array([[0, -0.125, 0, 0], [0, 0, 0, 0.25]]))
    weight = np.array([[2.0], [0.0]])
    assert_bitwise_equal(smoothl1.smooth_l1_loss(pred, target, reduction="mean", axis=1,
                                                 weight=weight),
                         np.array([0.125 * 2 / 8, np.nan]))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_axis_reduction_into_out(dtype):
    x, t = _data((5000, 4), dtype)
    out = _in_layout(np.full((1, 4), 7.0, dtype), "F")
    got = smoothl1.huber_loss(x, t, reduction="mean", axis=0, keepdims=True, out=out)
    assert got is out
    assert_bitwise_equal(out, smoothl1.huber_loss(x, t, reduction="mean", axis=0,
                                                  keepdims=True))
    strided = np.zeros(10000, dtype)[::2]
    loss, grad = smoothl1.huber_loss_and_grad(x, t, reduction="sum", axis=1, out=strided)
    assert loss is strided
    assert_bitwise_equal(strided, smoothl1.huber_loss(x, t, reduction="sum", axis=1))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("shape, axis, keepdims", [((3000, 1), 1, False), ((3000, 1), -1, True),
                                                   ((3000,), (), False), ((1, 3000), 0, False)],
                         ids=str)
def test_groups_of_one_element_into_out_by_formula(dtype, loss, shape, axis, keepdims):
    # Each group one element (a size-1 axis, axis=()): its sum is +0.0 plus the float64
    # elementwise value (so a -0.0 becomes +0.0), its weighted mean that over +0.0 plus its
    # weight (NaN for a zero weight), its gradient grad * (w / w), each rounded once; the
    # same bits with out= and grad_out= (written in place) as from the float64 elementwise
    # values of the library, for every kind of call.
    x, t = _data(shape, dtype, seed=12)
    x.flat[5], t.flat[6] = np.inf, np.nan
    w = np.random.default_rng(13).uniform(-0.5, 2.0, size=shape).astype(dtype)
    w.flat[::9] = 0.0
    x64, t64, w64 = x.astype(np.float64), t.astype(np.float64), w.astype(np.float64)
    values = call(loss, "loss", x64, t64, 0.75, weight=w64, reduction="none")
    grads = call(loss, "grad", x64, t64, 0.75, reduction="none")
    unweighted = call(loss, "loss", x64, t64, 0.75, reduction="none")
    with np.errstate(divide="ignore", invalid="ignore"):
        divisors = np.where(w64 == 0, np.nan, 0.0 + w64)
        cases = [("sum", None, 0.0 + unweighted, grads), ("mean", None, 0.0 + unweighted, grads),
                 ("sum", w, 0.0 + values, grads * w64),
                 ("mean", w, (0.0 + values) / divisors, grads * (w64 / divisors))]
    reduced_shape = np.sum(x, axis=axis, keepdims=keepdims).shape
    for reduction, weight, loss_values, grad_values in cases:
        expected_loss = loss_values.astype(dtype).reshape(reduced_shape)
        expected_loss[np.isnan(expected_loss)] = np.nan   # NaN results are np.nan
        out, grad = np.empty(reduced_shape, dtype), np.empty(shape, dtype)
        kwargs = dict(reduction=reduction, weight=weight, axis=axis, keepdims=keepdims)
        assert call(loss, "loss", x, t, 0.75, out=out, **kwargs) is out
        assert_bitwise_equal(out, expected_loss)
        assert call(loss, "grad", x, t, 0.75, out=grad, **kwargs) is grad
        assert_bitwise_equal(grad, grad_values.astype(dtype))
        out[...], grad[...] = 7, 7
        assert call(loss, "loss_and_grad", x, t, 0.75, out=out, grad_out=grad,
                    **kwargs) == (out, grad)
        assert_bitwise_equal(out, expected_loss)
        assert_bitwise_equal(grad, grad_values.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_axis_reduction_into_an_out_that_is_an_input(dtype):
    # An out sharing memory with an input is written after the pass (the values of separate
    # buffers), whether it is the input itself (groups of one), an offset view of it, or the
    # weight; an out of another layout than the input's is filled as well.
    x, t = _data((3000, 1), dtype, seed=14)
    w = np.random.default_rng(15).uniform(0.5, 2.0, size=(3000, 1)).astype(dtype)
    for reduction in ["sum", "mean"]:
        expected = smoothl1.huber_loss(x, t, weight=w, reduction=reduction, axis=1,
                                       keepdims=True)
        for name in ["input", "target", "weight"]:
            arrays = {"input": x.copy(), "target": t.copy(), "weight": w.copy()}
            got = smoothl1.huber_loss(arrays["input"], arrays["target"],
                                      weight=arrays["weight"], reduction=reduction, axis=1,
                                      keepdims=True, out=arrays[name])
            assert got is arrays[name]
            assert_bitwise_equal(got, expected)
        longer = np.concatenate([x, x[:1]])   # an out one element past the input
        expected = smoothl1.huber_loss(longer[:-1].copy(), t, reduction=reduction, axis=1,
                                       keepdims=True)
        smoothl1.huber_loss(longer[:-1], t, reduction=reduction, axis=1, keepdims=True,
                            out=longer[1:])
        assert_bitwise_equal(longer[1:], expected)
    x, t = _data((6, 50, 4), dtype, seed=16)
    for axis in [(), 1]:
        expected = smoothl1.huber_loss(x, t, reduction="mean", axis=axis)
        for layout in ["F", "strided", "negative"]:
            out = _in_layout(np.zeros(expected.shape, dtype), layout)
            got = smoothl1.huber_loss(x, t, reduction="mean", axis=axis, out=out)
            assert got is out
            assert_bitwise_equal(got, expected)


def test_axis_reduction_of_empty_groups():
    empty = np.empty((0, 4))
    assert_bitwise_equal(smoothl1.smooth_l1_loss(empty, empty, reduction="sum", axis=0),
                         np.zeros(4))
    assert_close(smoothl1.smooth_l1_loss(empty, empty, reduction="mean", axis=0),
                 np.full(4, np.nan))
    assert smoothl1.smooth_l1_loss(empty, empty, reduction="mean", axis=1).shape == (0,)
    assert smoothl1.smooth_l1_grad(empty, empty, reduction="mean", axis=1).shape == (0, 4)


@pytest.mark.parametrize("axis, error, fragment", [
    (2, ValueError, "axis 2 is out of bounds"), (-3, ValueError, "axis -3 is out of bounds"),
    ((0, -2), ValueError, "more than once"), (1.0, TypeError, "got float"),
    ("0", TypeError, "got str"), (True, TypeError, "got bool"), ([0], TypeError, "got list"),
    ((0, None), TypeError, "got NoneType")])
def test_bad_axis(axis, error, fragment):
    x, t = _data((5, 4), np.float64)
    grad_out = np.full((5, 4), 3.0)
    with pytest.raises(error, match="axis") as info:
        smoothl1.smooth_l1_loss_and_grad(x, t, reduction="sum", axis=axis, grad_out=grad_out)
    assert fragment in str(info.value)
    assert (grad_out == 3.0).all()


def test_bad_axis_arguments():
    x, t = _data((5, 4), np.float64)
    with pytest.raises(ValueError, match="axis and keepdims are only accepted"):
        smoothl1.smooth_l1_loss(x, t, reduction="none", axis=0)
    with pytest.raises(TypeError, match="keepdims must be True or False"):
        smoothl1.smooth_l1_loss(x, t, axis=0, keepdims="yes")
    out = np.full(5, 2.0)
    with pytest.raises(ValueError, match=r"out must have the reduced shape \(4,\)"):
        smoothl1.smooth_l1_loss(x, t, reduction="sum", axis=0, out=out)
    with pytest.raises(TypeError, match="out must have input's dtype"):
        smoothl1.smooth_l1_loss(x, t, reduction="sum", axis=1, out=out.astype(np.float32))
    with pytest.raises(ValueError, match="read-only"):
        out.flags.writeable = False
        smoothl1.smooth_l1_loss(x, t, reduction="sum", axis=1, out=out)
    assert (out == 2.0).all()
    with pytest.raises(ValueError, match="out is only accepted"):
        smoothl1.smooth_l1_loss(x, t, reduction="sum", out=np.empty(()))


# ---------------------------------------------------------------------------------------------
# Per-element parameters (section 13)
# ---------------------------------------------------------------------------------------------

def _param_values(loss, shape, dtype, seed=4):
    rng = np.random.default_rng(seed)
    values = rng.choice([0.25, 0.5, 0.75, 1.0, 1.5, 3.0, np.inf], size=shape)
    if loss == "smooth_l1":
        values.flat[::7] = 0.0
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("layout, loss", [("C", "smooth_l1"), ("F", "huber"),
                                          ("transposed", "smooth_l1"), ("strided", "huber"),
                                          ("negative", "smooth_l1")])
def test_per_element_parameter_matches_reference(dtype, shape, layout, loss):
    x, t = _data(shape, dtype)
    x = _in_layout(x, layout)
    w = np.random.default_rng(5).uniform(0.1, 2.0, size=shape[-1:]).astype(dtype)
    for param_shape in [shape, shape[-1:], shape[:-1] + (1,)]:
        param = _in_layout(_param_values(loss, param_shape, dtype), "C")
        if param_shape == shape:
            param = _in_layout(param, layout)
        for reduction in ["none", "sum", "mean"]:
            for weight in [None, w]:
                ref = reference(loss, x, t, param, reduction, weight)
                results = [call(loss, "loss_and_grad", x, t, param, reduction=reduction,
                                weight=weight, n_threads=n) for n in GRID_THREADS]
                for got in results[1:]:
                    assert_bitwise_equal(got[0], results[0][0])
                    assert_bitwise_equal(got[1], results[0][1])
                assert_close(results[0][0], ref[0],
                             rtol=1e-5 if dtype == np.float32 and reduction != "none" else None)
                assert_close(results[0][1], ref[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("rows, columns", [(700, 4), (3 * 4096 + 5, 4), (1500, 2), (900, 8),
                                           (3000, 1), (1000, 3), (300, 16)])
def test_repeating_parameter_gives_the_bits_of_its_full_size_copy(dtype, loss, rows, columns):
    # A parameter that repeats along rows (a per-coordinate beta of boxes) is derived once a
    # lane in whole chunks of a full reduction (rows of 1, 2, 4 or 8 repeat every 8
    # elements); that, and the other rows, give the same bits as the full-size array of the
    # same values, contiguous or not, with or without weights, on any number of threads; and
    # an invalid element is still found after the pass.
    x, t = _data((rows, columns), dtype, seed=columns)
    row = _param_values(loss, (2 * columns,), dtype, seed=rows)
    weights = [None, np.random.default_rng(1).uniform(size=(rows, 1)).astype(dtype),
               np.random.default_rng(2).uniform(size=(rows, columns)).astype(dtype)]
    for param in [row[:columns], row[::2], row[::-2]]:
        full = np.ascontiguousarray(np.broadcast_to(param, x.shape))
        for layout in ["C", "strided"]:
            xs, ts = _in_layout(x, layout), _in_layout(t, layout)
            for weight in weights:
                for reduction in ["sum", "mean"]:
                    expected = call(loss, "loss", xs, ts, full, weight=weight,
                                    reduction=reduction)
                    assert np.isfinite(expected)   # every bit compared is a value's
                    for n_threads in GRID_THREADS:
                        assert_bitwise_equal(
                            call(loss, "loss", xs, ts, param, weight=weight,
                                 reduction=reduction, n_threads=n_threads), expected)
    bad = row[:columns].copy()
    bad[-1] = -1.0
    zero_last = np.ones(columns, dtype)
    zero_last[-1] = 0.0   # the bad element's loss is weighted by 0
    for reduction in ["sum", "mean"]:
        with pytest.raises(ValueError, match=PARAM_NAME[loss]):
            call(loss, "loss", x, t, bad, weight=zero_last, reduction=reduction)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("loss, value", [
    (loss, value) for loss in LOSSES for value in [0.0, 0.1, 0.5, 1.0, 1.7, 2.0, 1e-30, 3e38,
                                                   np.inf]
    if value > 0 or loss == "smooth_l1"])   # delta = 0 is refused: test_bad_parameter_values
def test_array_of_one_value_gives_the_scalar_results(dtype, loss, value):
    value = float(dtype(value))   # the scalar the array holds, exactly
    x, t = _data((3, 700, 4), dtype)
    x[0, 0, :2] = [np.inf, -np.inf]   # (one kind of NaN only: NaN payloads may mix)
    w = np.linspace(0.0, 2.0, 4).astype(dtype)
    for param in [np.full(x.shape, value, dtype), np.full((4,), value, dtype),
                  np.full((3, 1, 1), value, dtype)]:
        for reduction in ["none", "sum", "mean"]:
            for weight in [None, w]:
                for kind in ["loss", "grad", "loss_and_grad"]:
                    scalar = call(loss, kind, x, t, value, reduction=reduction, weight=weight)
                    array = call(loss, kind, x, t, param, reduction=reduction, weight=weight)
                    if kind == "loss_and_grad":
                        assert_bitwise_equal(array[0], scalar[0])
                        assert_bitwise_equal(array[1], scalar[1])
                    else:
                        assert_bitwise_equal(array, scalar)


def test_parameter_lists_and_size_one_arrays():
    x, t = _data((10, 4), np.float32)
    listed = smoothl1.smooth_l1_loss(x, t, beta=[0.5, 1.0, 2.0, 0.25], reduction="none")
    array = smoothl1.smooth_l1_loss(x, t, beta=np.array([0.5, 1.0, 2.0, 0.25], np.float32),
                                    reduction="none")
    assert_bitwise_equal(listed, array)
    assert_bitwise_equal(smoothl1.huber_loss(x, t, delta=np.array([[0.5]], np.float32)),
                         smoothl1.huber_loss(x, t, delta=0.5))


def test_per_element_parameter_with_axis():
    x, t = _data((5000, 4), np.float64)
    beta = np.array([0.1, 0.2, 0.5, 1.0])
    w = np.random.default_rng(6).uniform(size=(5000, 1))
    for axis in [0, -1]:
        got = smoothl1.smooth_l1_loss_and_grad(x, t, beta=beta, weight=w, reduction="mean",
                                               axis=axis)
        ref = reference("smooth_l1", x, t, beta, "mean", w, axis=axis)
        assert_close(got[0], ref[0], rtol=1e-13)
        assert_close(got[1], ref[1])


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("bad, error, fragment", [
    (-0.5, ValueError, "at every element"), (np.nan, ValueError, "got nan"),
    (0.0, ValueError, "0 at every element")])
def test_bad_parameter_values(loss, bad, error, fragment):
    if loss == "smooth_l1" and bad == 0.0:
        bad = -np.inf
    x, t = _data((5, 4), np.float64)
    name = PARAM_NAME[loss]
    param = np.ones((5, 4))
    param[3, 2] = bad
    grad_out = np.full((5, 4), 3.0)
    out = np.full((5, 4), 3.0)
    with pytest.raises(error, match=name) as info:
        call(loss, "loss_and_grad", x, t, param, reduction="none", out=out, grad_out=grad_out)
    assert fragment in str(info.value)
    assert (grad_out == 3.0).all() and (out == 3.0).all()


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction, axis", [("sum", None), ("mean", None), ("sum", -1),
                                             ("mean", (0,))])
def test_bad_parameter_of_a_reduced_loss_is_found_after_the_pass(loss, dtype, reduction,
                                                                   axis):
    # A call returning only a reduced loss checks its parameter array after the kernels ran
    # (docs/contract.md section 13): the bad element must be found whatever hides it (a zero
    # weight, an infinite or NaN loss elsewhere), and `out` is left alone.
    x, t = _data((50, 4), dtype)
    x[0, 0] = np.inf
    x[1, 1] = np.nan
    name = PARAM_NAME[loss]
    weight = np.ones((50, 1), dtype)
    weight[7] = 0
    for bad in [-1.0, np.nan, -np.inf] + ([] if loss == "smooth_l1" else [0.0]):
        param = np.full((50, 4), 2.0, dtype)
        param[7, 3] = bad
        out = None if axis is None else np.full(50 if axis == -1 else 4, 3.0, dtype)
        with pytest.raises(ValueError, match=name):
            call(loss, "loss", x, t, param, reduction=reduction, weight=weight, axis=axis,
                 out=out)
        assert out is None or (out == 3.0).all()
    # a valid array: the NaN of a NaN input is a result, not an error
    param = np.full((50, 4), 2.0, dtype)
    got = call(loss, "loss", x, t, param, reduction=reduction, weight=weight, axis=axis)
    assert np.isnan(got).any()


def test_bad_parameter_arrays():
    x, t = _data((5, 4), np.float32)
    with pytest.raises(TypeError, match="beta must have the dtype of input"):
        smoothl1.smooth_l1_loss(x, t, beta=np.ones(4))
    with pytest.raises(ValueError, match="beta has shape"):
        smoothl1.smooth_l1_loss(x, t, beta=np.ones((5, 4, 1), np.float32))
    with pytest.raises(ValueError, match="delta has shape"):
        smoothl1.huber_loss(x[0], t[0], delta=np.ones((4, 1), np.float32))
    with pytest.raises(TypeError, match="delta must hold real numbers"):
        smoothl1.huber_loss(x, t, delta=["a", "b", "c", "d"])
    with pytest.raises(TypeError, match="beta must be a float32 or float64 array"):
        smoothl1.smooth_l1_loss(x, t, beta=np.ones(4, np.int64))


# ---------------------------------------------------------------------------------------------
# The recipes of docs/boxes.md, each against its formula written out in NumPy
# ---------------------------------------------------------------------------------------------

def _boxes(n=1000, dtype=np.float32, seed=7):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 4)).astype(dtype), rng.normal(size=(n, 4)).astype(dtype),
            rng.uniform(size=(n, 1)).astype(dtype))


def _numpy_smooth_l1(pred, target, beta):
    diff = np.abs(pred.astype(np.float64) - target)
    return np.where(diff < beta, 0.5 * diff**2 / beta, diff - 0.5 * beta)


def test_recipe_mmdetection_avg_factor_and_loss_weight():
    pred, target, weight = _boxes()
    positive = (weight < 0.125).astype(np.float32)
    avg_factor, loss_weight, beta = positive.sum(), 2.0, 1.0 / 9
    eps = 2.0 ** -23   # torch.finfo(torch.float32).eps
    for mask, count in ((positive, avg_factor), (0 * positive, 0.0)):
        # mmdet: loss_weight * (smooth_l1(pred, target, beta) * weight).sum() / (avg_factor + eps)
        expected = loss_weight * (_numpy_smooth_l1(pred, target, beta) * mask).sum() / (
            count + eps)
        one_pass = smoothl1.smooth_l1_loss(pred, target, beta=beta, avg_factor=count,
                                           weight=mask * np.float32(loss_weight))
        np.testing.assert_allclose(one_pass, expected, rtol=1e-6)
    # without avg_factor: mmdet's mean over every element, as PyTorch's
    expected = (_numpy_smooth_l1(pred, target, beta) * positive).mean()
    got = smoothl1.smooth_l1_loss(pred, target, beta=beta, weight=positive,
                                  reduction="element_mean")
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_recipe_torchvision_sum_over_n():
    pred, target, _ = _boxes()
    n = pred.shape[0]
    expected = _numpy_smooth_l1(pred, target, 1.0 / 9).sum() / n
    got = smoothl1.smooth_l1_loss(pred, target, beta=1.0 / 9, avg_factor=n)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_recipe_fast_rcnn_sigma():
    pred, target, _ = _boxes(dtype=np.float64)
    sigma = 3.0
    diff = pred - target
    # Fast R-CNN: 0.5 * (sigma * d)**2 if |d| < 1 / sigma**2 else |d| - 0.5 / sigma**2
    expected = np.where(np.abs(diff) < 1 / sigma**2, 0.5 * (sigma * diff)**2,
                        np.abs(diff) - 0.5 / sigma**2)
    got = smoothl1.smooth_l1_loss(pred, target, beta=1 / sigma**2, reduction="none")
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_recipe_caffe_inside_outside_weights():
    pred, target, _ = _boxes(dtype=np.float64)
    rng = np.random.default_rng(8)
    inside = rng.integers(0, 2, size=(pred.shape[0], 1)).astype(np.float64)
    outside = np.full((pred.shape[0], 1), 1.0 / pred.shape[0])
    sigma = 1.0
    # Caffe's SmoothL1Loss: d = inside * (pred - target); loss = sum(outside * f(d))
    d = inside * (pred - target)
    f = np.where(np.abs(d) < 1 / sigma**2, 0.5 * (sigma * d)**2, np.abs(d) - 0.5 / sigma**2)
    expected = (outside * f).sum()
    got = smoothl1.smooth_l1_loss(inside * pred, inside * target, beta=1 / sigma**2,
                                  weight=outside, reduction="sum")
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Dask: the same axis, keepdims and array parameters (sections 12 and 13)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("axis", [-1, 0, (0, 1), (0, 2), 1])
def test_dask_axis_reduction(dtype, axis):
    da = pytest.importorskip("dask.array")
    import smoothl1.dask as sd
    x, t = _data((3, 1500, 4), dtype)
    w = np.random.default_rng(9).uniform(0.1, 2.0, size=(3, 1500, 1)).astype(dtype)
    dx = da.from_array(x, chunks=(2, 400, 3))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for reduction in ["sum", "mean"]:
        for weight in [None, w, da.from_array(w, chunks=(1, 700, 1))]:
            for keepdims in [False, True]:
                expected = smoothl1.smooth_l1_loss_and_grad(
                    x, t, reduction=reduction, weight=None if weight is None else w,
                    axis=axis, keepdims=keepdims, beta=0.5)
                loss, grad = sd.smooth_l1_loss_and_grad(
                    dx, t, reduction=reduction, weight=weight, axis=axis, keepdims=keepdims,
                    beta=0.5)
                assert loss.shape == expected[0].shape
                axes = {a % 3 for a in (axis if isinstance(axis, tuple) else (axis,))}
                kept_chunks = tuple(c for k, c in enumerate(dx.chunks) if k not in axes)
                if not keepdims:
                    assert loss.chunks == kept_chunks
                computed = loss.compute()
                assert computed.dtype == dtype
                np.testing.assert_allclose(computed, expected[0], rtol=rtol)
                np.testing.assert_allclose(grad.compute(), expected[1], rtol=rtol,
                                           atol=1e-30)


def test_dask_per_element_parameters():
    da = pytest.importorskip("dask.array")
    import smoothl1.dask as sd
    x, t = _data((2000, 4), np.float64)
    dx = da.from_array(x, chunks=(300, 4))
    beta = np.array([0.1, 0.2, 0.5, 1.0])
    delta = np.random.default_rng(10).uniform(0.5, 2.0, size=(2000, 1))
    got = sd.smooth_l1_loss(dx, t, beta=beta, reduction="none").compute()
    assert_bitwise_equal(got, smoothl1.smooth_l1_loss(x, t, beta=beta, reduction="none"))
    got = sd.huber_grad(dx, t, delta=da.from_array(delta, chunks=(700, 1))).compute()
    np.testing.assert_allclose(got, smoothl1.huber_grad(x, t, delta=delta), rtol=1e-14)
    np.testing.assert_allclose(sd.huber_loss(dx, t, delta=delta, axis=0).compute(),
                               smoothl1.huber_loss(x, t, delta=delta, axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="beta must be >= 0 at every element"):
        sd.smooth_l1_loss(dx, t, beta=-beta)   # a NumPy array: checked at the call
    lazy = sd.huber_loss(dx, t, delta=da.from_array(-delta, chunks=(700, 1)))
    with pytest.raises(ValueError, match="delta must be > 0 at every element"):
        lazy.compute()                         # a Dask array: checked block by block
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        sd.smooth_l1_loss(dx, t, reduction="sum", axis=2)


def test_a_gradient_along_axes_of_long_groups_writes_no_sums(tmp_path):
    # A gradient alone along axes sums nothing and has no results array; groups longer than a
    # range once had their (unwanted) range sums stored over the one double the kernel keeps
    # for a total: 1000 groups smashed 8 KB of the stack (a crash, or ASan's report). In a
    # subprocess, so that a crash fails this test and not the run.
    import subprocess
    import sys
    program = (
        "import numpy as np, smoothl1\n"
        "x = np.random.default_rng(0).standard_normal((1000, 16400)).astype(np.float32)\n"
        "for reduction in ('sum', 'mean'):\n"
        "    g = smoothl1.huber_grad(x, 0.0, reduction=reduction, axis=1)\n"
        "    expected = np.clip(x, -1, 1) / (1 if reduction == 'sum' else np.float32(16400))\n"
        "    assert np.allclose(g, expected, rtol=1e-6, atol=0), reduction\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n", (result.returncode,
                                                                 result.stderr[-2000:])
