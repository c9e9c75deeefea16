"""The other weighted mean (docs/contract.md section 20): ``reduction="element_mean"`` (PyTorch's,
Keras' and MMDetection's ``(w * l).mean()``) and ``avg_factor=`` (MMDetection's ``sum(w * l) /
avg_factor``, 0 taken as float32's epsilon), on every loss function, along axes and in Dask;
against the float64 reference of tests/reference.py, PyTorch's own functions and autograd,
and MMDetection's formula written out."""
import numpy as np
import pytest

import smoothl1
from reference import LOSSES, PARAM_NAME, assert_close, call, reference

DTYPES = [np.float32, np.float64]
# MMDetection's guard (mmdet/models/losses/utils.py): torch.finfo(torch.float32).eps
EPS = 2.0 ** -23
# Beyond the reference's own rounding: a weighted sum over a divisor is one more division in
# double (which may move a float32 result by one ulp where the reference's sum differs).
RTOL = {np.float32: 3e-7, np.float64: 1e-14}


def _boxes(dtype, n=60, seed=3):
    """Box regression data: (pred, target, weight) of shapes (n, 4), (n, 4), (n, 1), the
    weight 0/1 (a positive box or not), as detection heads have them."""
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=(n, 4)).astype(dtype)
    target = rng.normal(size=(n, 4)).astype(dtype)
    weight = (rng.random((n, 1)) < 0.25).astype(dtype)
    return pred, target, weight


def _expected(loss, pred, target, param, weight, divisor, axis=None):
    """(loss, grad) of sum(w * l) / divisor from the reference's "sum" (exact sums, rounded
    once): the sum over divisor in double, rounded once; the gradient w * g / divisor."""
    dtype = pred.dtype
    kwargs = {} if axis is None else {"axis": axis}
    # the reference's sum in double: its float64 twin (the weight as input's dtype holds it)
    total, _ = reference(loss, pred.astype(np.float64), target.astype(np.float64), param,
                         "sum", weight.astype(np.float64), **kwargs)
    _, elementwise = reference(loss, pred.astype(np.float64), target.astype(np.float64), param,
                               "none", weight.astype(np.float64))
    value = np.asarray(total / divisor).astype(dtype)
    return (value if value.ndim else dtype.type(value)), (elementwise / divisor).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_element_mean_is_the_weighted_sum_over_the_element_count(loss, dtype):
    pred, target, weight = _boxes(dtype)
    value, grad = call(loss, "loss_and_grad", pred, target, 0.5, weight=weight,
                       reduction="element_mean")
    expected_value, expected_grad = _expected(loss, pred, target, 0.5, weight, pred.size)
    assert type(value) is np.dtype(dtype).type
    assert_close(value, expected_value, rtol=RTOL[dtype])
    assert_close(grad, expected_grad, rtol=RTOL[dtype])
    # 3.97x apart for these 0/1 weights in the issue: here the ratio is the weight fraction
    weighted = call(loss, "loss", pred, target, 0.5, weight=weight)
    assert_close(value / weighted, weight.mean(), rtol=1e-5)
    # without weights, it is "mean", bit for bit
    plain = call(loss, "loss_and_grad", pred, target, 0.5, reduction="element_mean")
    mean = call(loss, "loss_and_grad", pred, target, 0.5)
    assert plain[0].tobytes() == mean[0].tobytes() and np.array_equal(plain[1], mean[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("avg_factor", [7, 0.5, np.float32(3.0), np.int64(11)])
def test_avg_factor_divides_the_weighted_sum(loss, dtype, avg_factor):
    pred, target, weight = _boxes(dtype)
    value, grad = call(loss, "loss_and_grad", pred, target, 1.0, weight=weight,
                       avg_factor=avg_factor)
    expected_value, expected_grad = _expected(loss, pred, target, 1.0, weight,
                                              float(avg_factor))
    assert_close(value, expected_value, rtol=RTOL[dtype])
    assert_close(grad, expected_grad, rtol=RTOL[dtype])
    # *_loss and *_grad separately give the bits of *_loss_and_grad
    assert call(loss, "loss", pred, target, 1.0, weight=weight,
                avg_factor=avg_factor).tobytes() == value.tobytes()
    assert np.array_equal(call(loss, "grad", pred, target, 1.0, weight=weight,
                               avg_factor=avg_factor), grad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_positive_sample_gives_zero(dtype):
    # MMDetection divides by avg_factor + eps: 0 positives, 0 loss and 0 gradient (the recipe
    # without the epsilon raised ZeroDivisionError)
    pred, target, _ = _boxes(dtype)
    weight = np.zeros((len(pred), 1), dtype)
    value, grad = smoothl1.smooth_l1_loss_and_grad(pred, target, weight=weight,
                                                   avg_factor=weight.sum())
    assert value == 0 and type(value) is np.dtype(dtype).type
    assert not grad.any()
    # a zero avg_factor with weights that are not zero divides by the epsilon, as MMDetection
    _, _, weight = _boxes(dtype)
    value, grad = smoothl1.huber_loss_and_grad(pred, target, weight=weight, avg_factor=0)
    expected_value, expected_grad = _expected("huber", pred, target, 1.0, weight, EPS)
    assert_close(value, expected_value, rtol=RTOL[dtype])
    assert_close(grad, expected_grad, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, -1, (0, 1)])
def test_along_axes_each_group_is_divided(dtype, axis):
    pred, target, weight = _boxes(dtype, n=9)
    axes = axis if isinstance(axis, tuple) else (axis % 2,)
    count = float(np.prod([pred.shape[a] for a in axes]))
    for kwargs, divisor in (({"reduction": "element_mean"}, count), ({"avg_factor": 3}, 3.0)):
        value, grad = smoothl1.cauchy_loss_and_grad(pred, target, weight=weight, axis=axis,
                                                    **kwargs)
        expected_value, expected_grad = _expected("cauchy", pred, target, 1.0, weight,
                                                  divisor, axis=axis)
        assert_close(value, expected_value, rtol=RTOL[dtype])
        assert_close(grad, expected_grad, rtol=RTOL[dtype])
        kept = smoothl1.cauchy_loss(pred, target, weight=weight, axis=axis, keepdims=True,
                                    **kwargs)
        assert_close(kept.reshape(np.shape(value)), value, rtol=0, atol=0)
    out = np.empty(pred.shape[0], dtype)
    assert smoothl1.cauchy_loss(pred, target, weight=weight, axis=1, avg_factor=3,
                                out=out) is out
    assert_close(out, _expected("cauchy", pred, target, 1.0, weight, 3.0, axis=1)[0],
                 rtol=RTOL[dtype])


def test_weighted_mean_is_the_other_name_of_mean():
    pred, target, weight = _boxes(np.float64)
    for axis in (None, 0):
        a = smoothl1.log_cosh_loss_and_grad(pred, target, weight=weight, axis=axis,
                                            reduction="weighted_mean")
        b = smoothl1.log_cosh_loss_and_grad(pred, target, weight=weight, axis=axis)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_empty_input():
    empty = np.zeros((0, 4))
    assert np.isnan(smoothl1.smooth_l1_loss(empty, 0.0, weight=1.0, reduction="element_mean"))
    assert smoothl1.smooth_l1_loss(empty, 0.0, weight=1.0, avg_factor=0) == 0
    groups = smoothl1.smooth_l1_loss(np.zeros((3, 0)), 0.0, weight=1.0, axis=1,
                                     reduction="element_mean")
    assert groups.shape == (3,) and np.isnan(groups).all()


def test_grad_hess_has_no_reduction_so_no_avg_factor():
    with pytest.raises(TypeError, match="avg_factor"):
        smoothl1.huber_grad_hess(np.zeros(3), 0.0, avg_factor=2)


ERRORS = {
    "with-sum": ({"reduction": "sum", "avg_factor": 2}, ValueError,
                 r"avg_factor is only accepted with reduction='mean' \(it replaces the mean's "
                 r"divisor\), got reduction='sum'"),
    "with-none": ({"reduction": "none", "avg_factor": 2}, ValueError,
                  r"avg_factor is only accepted with reduction='mean'"),
    "with-element-mean": ({"reduction": "element_mean", "avg_factor": 2}, ValueError,
                          r"got reduction='element_mean'"),
    "negative": ({"avg_factor": -1}, ValueError, r"avg_factor must be a finite number >= 0, "
                                                 r"got -1"),
    "nan": ({"avg_factor": float("nan")}, ValueError, r"avg_factor must be a finite number"),
    "inf": ({"avg_factor": float("inf")}, ValueError, r"avg_factor must be a finite number"),
    "huge-int": ({"avg_factor": 10 ** 400}, ValueError, r"avg_factor must be a finite number"),
    "string": ({"avg_factor": "2"}, TypeError, r"avg_factor must be a number >= 0 \(int or "
                                               r"float\), got str"),
    "bool": ({"avg_factor": True}, TypeError, r"avg_factor must be a number .*got bool"),
    "array": ({"avg_factor": np.ones(2)}, TypeError, r"avg_factor must be a number .*ndarray"),
    "bad-reduction": ({"reduction": "avg", "avg_factor": 2}, ValueError,
                      r"reduction must be one of 'none', 'mean', 'sum', 'weighted_mean', "
                      r"'element_mean', got 'avg'"),
}


@pytest.mark.parametrize("kind", ["loss", "grad", "loss_and_grad"])
@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_errors_name_avg_factor_and_change_nothing(case, kind):
    kwargs, error, message = case
    pred, target, weight = _boxes(np.float64)
    out = np.full_like(pred, 7.0)
    if kind != "loss":   # a gradient buffer, which a failed call leaves as it was
        kwargs = dict(kwargs, **{"out" if kind == "grad" else "grad_out": out})
    with pytest.raises(error, match=message):
        call("smooth_l1", kind, pred, target, 1.0, weight=weight, **kwargs)
    assert (out == 7.0).all()


@pytest.mark.parametrize("kind", ["loss", "loss_and_grad"])
@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_errors_along_axes_leave_out_as_it_was(case, kind):
    # A reduction along axes writes its values into out= (section 12): a call refused for its
    # avg_factor leaves out, and grad_out, as they were (reduction="none" with axis is refused
    # for its axis first: the property checked is that nothing changed)
    kwargs, error, message = case
    if kwargs.get("reduction") in ("none", "avg"):
        error, message = ValueError, "axis|reduction"
    pred, target, weight = _boxes(np.float64)
    out = np.full(pred.shape[0], 7.0)
    grad_out = np.full_like(pred, 7.0)
    kwargs = dict(kwargs, axis=-1, out=out)
    if kind == "loss_and_grad":
        kwargs["grad_out"] = grad_out
    with pytest.raises(error, match=message):
        call("smooth_l1", kind, pred, target, 1.0, weight=weight, **kwargs)
    assert (out == 7.0).all() and (grad_out == 7.0).all()


# -- against PyTorch and MMDetection ------------------------------------------------------------

def _torch_loss(torch, loss, pred, target, param):
    functional = torch.nn.functional
    if loss == "smooth_l1":
        return functional.smooth_l1_loss(pred, target, reduction="none", beta=param)
    return functional.huber_loss(pred, target, reduction="none", delta=param)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["smooth_l1", "huber"])
@pytest.mark.parametrize("avg_factor", [None, 13, 0])
def test_against_pytorch_and_mmdetection(loss, dtype, avg_factor):
    """``(F.smooth_l1_loss(reduction="none") * w).mean()`` for "element_mean"; MMDetection's
    ``(l * w).sum() / (avg_factor + eps)`` for avg_factor; gradients by torch autograd."""
    torch = pytest.importorskip("torch")
    pred, target, weight = _boxes(dtype, n=200)
    if avg_factor == 0:
        weight[:] = 0
    x = torch.from_numpy(pred.copy()).requires_grad_()
    elementwise = _torch_loss(torch, loss, x, torch.from_numpy(target), 0.7)
    weighted = elementwise * torch.from_numpy(weight)
    if avg_factor is None:
        torch_value = weighted.mean()
        kwargs = {"reduction": "element_mean"}
    else:
        torch_value = weighted.sum() / (avg_factor + torch.finfo(torch.float32).eps)
        kwargs = {"avg_factor": avg_factor}
    torch_value.backward()
    value, grad = call(loss, "loss_and_grad", pred, target, 0.7, weight=weight, **kwargs)
    # MMDetection adds eps to every avg_factor; smoothl1 divides exactly by one > 0: the two
    # differ by a relative eps / avg_factor, below the tolerance of float32 and visible in
    # float64
    rtol = {np.float32: 2e-6, np.float64: 1e-13 if avg_factor is None else 2 * EPS}[dtype]
    assert_close(value, torch_value.detach().numpy(), rtol=rtol)
    assert_close(grad, x.grad.numpy(), rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_smoothl1_torch_names_the_same_means(dtype):
    """smoothl1.torch's "element_mean" is its "mean"; its avg_factor=0 is the epsilon too."""
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("smoothl1.torch")
    pred, target, weight = _boxes(dtype)
    tensors = [torch.from_numpy(a) for a in (pred, target, weight)]
    for kwargs in ({"reduction": "element_mean"}, {"avg_factor": 0}, {"avg_factor": 5},
                   {"reduction": "weighted_mean"}):
        torch_value = st.huber_loss(*tensors[:2], weight=tensors[2], **kwargs)
        numpy_value = smoothl1.huber_loss(pred, target, weight=weight, **kwargs)
        assert_close(torch_value.numpy(), numpy_value, rtol=RTOL[dtype])
    assert torch.equal(st.huber_loss(*tensors[:2], reduction="element_mean"),
                       st.huber_loss(*tensors[:2]))


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("kwargs", [{"reduction": "element_mean"}, {"avg_factor": 4},
                                    {"avg_factor": 0}], ids=["element_mean", "avg4", "avg0"])
def test_dask_gives_the_numpy_results(axis, kwargs):
    da = pytest.importorskip("dask.array")
    import smoothl1.dask as sd
    pred, target, weight = _boxes(np.float64, n=50)
    chunked = da.from_array(pred, chunks=(7, 3))
    for kind in ("loss", "grad", "loss_and_grad"):
        lazy = getattr(sd, f"pseudo_huber_{kind}")(chunked, target, weight=weight, axis=axis,
                                                  **kwargs)
        computed = da.compute(*lazy) if kind == "loss_and_grad" else (lazy.compute(),)
        expected = getattr(smoothl1, f"pseudo_huber_{kind}")(pred, target, weight=weight,
                                                            axis=axis, **kwargs)
        expected = expected if kind == "loss_and_grad" else (expected,)
        for got, want in zip(computed, expected):
            assert_close(got, want, rtol=1e-15)   # block sums added in another order
    with pytest.raises(ValueError, match="avg_factor is only accepted with reduction='mean'"):
        sd.huber_loss(chunked, target, reduction="sum", avg_factor=2)


def test_parameter_names_in_signatures():
    import inspect
    for loss in LOSSES:
        for kind in ("loss", "grad", "loss_and_grad"):
            parameters = inspect.signature(getattr(smoothl1, f"{loss}_{kind}")).parameters
            assert parameters["avg_factor"].default is None
            assert parameters["avg_factor"].kind is inspect.Parameter.KEYWORD_ONLY
        assert PARAM_NAME[loss] in parameters
