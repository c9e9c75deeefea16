"""Pure-NumPy reference implementation of smoothl1: the test oracle.

Written straight from docs/contract.md sections 1, 2, 4, 5, 10 to 13, for clarity rather than speed: every value
is computed in float64 from the float64 widening of the arguments, sums are exact
(``math.fsum``), and each result is rounded once to the input's dtype at the end.

The only liberty taken with the contract's wording: the quadratic branch ``0.5 * z**2 / beta`` is
evaluated as ``0.5 * z * (z / beta)`` (the same real number), so that a finite result is not
lost to an overflow of ``z**2`` on the way (e.g. ``z = 1e200, beta = 1e300``).

The second half holds the comparison helpers the tests use against this oracle.
"""
import math

import numpy as np

LOSSES = ("smooth_l1", "huber", "pseudo_huber")
CURVATURES = ("exact", "irls", "one")
REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------------------------
# Elementwise loss and derivative (docs/contract.md section 1 and 5)
# ---------------------------------------------------------------------------------------------

def smooth_l1_elementwise(d, beta):
    """(loss, d loss / d input) of smooth L1 at the differences ``d = input - target``; beta is
    a number or an array broadcasting to d's shape (one beta per element)."""
    d = np.asarray(d, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    z = np.abs(d)
    with np.errstate(all="ignore"):
        # beta == 0: `z < 0` is never true, so z / 0 is computed but never selected.
        inside = z < beta
        loss = np.where(inside, 0.5 * z * (z / beta), z - 0.5 * beta)
        grad = np.where(inside, d / beta, np.sign(d))  # np.sign(0) == 0, np.sign(nan) is nan
    # contract §5: |d| = inf gives loss inf for every beta (z - 0.5 * beta would be nan at beta = inf).
    loss = np.where(np.isinf(z), np.inf, loss)
    return loss, grad


def huber_elementwise(d, delta):
    """(loss, d loss / d input) of the Huber loss at the differences ``d = input - target``;
    delta is a number or an array broadcasting to d's shape."""
    d = np.asarray(d, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    z = np.abs(d)
    with np.errstate(all="ignore"):
        inside = z < delta
        loss = np.where(inside, 0.5 * z * z, delta * (z - 0.5 * delta))
        grad = np.where(inside, d, delta * np.sign(d))
    loss = np.where(np.isinf(z), np.inf, loss)
    return loss, grad


def pseudo_huber_elementwise(d, delta):
    """(loss, d loss / d input) of pseudo-Huber, ``delta**2 * (sqrt(1 + q**2) - 1)`` with
    ``q = d / delta``, evaluated as ``z * (z / (hypot(1, q) + 1))`` where ``|q| <= 1`` (no
    cancellation, and no over- or underflow the loss has not) and as ``delta**2 * (hypot(1, q)
    - 1)`` beyond; where ``|q| > 1e8`` the asymptote ``delta * (|d| - delta)`` is used
    instead (the terms it drops are below 1e-16 relatively), so that a ``q`` beyond double's
    range (tiny delta) still gives the right value. ``delta = inf`` is ``0.5 * d**2``. delta is
    a number or an array broadcasting to d's shape."""
    d = np.asarray(d, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    z = np.abs(d)
    with np.errstate(all="ignore"):
        q = z / delta
        h = np.hypot(1.0, q)
        near = q <= 1e8
        # delta**2 * q**2 / (h + 1) is z * (z / (h + 1)): no delta**2, which overflows for a
        # huge delta where the loss is small, and no q**2, which underflows there; the
        # product overflows or underflows only where the loss itself does
        loss = np.where(near, z * (z / (h + 1.0)), delta * (z - delta))
        loss = np.where(near & (q > 1.0), delta * delta * (h - 1.0), loss)
        # d / sqrt(1 + q**2); far out, delta * sign(d) / sqrt(1 + 1/q**2)
        grad = np.where(near, d / h, np.sign(d) * delta / np.hypot(1.0, delta / z))
        infinite_delta = np.isinf(delta)
        loss = np.where(infinite_delta, 0.5 * z * z, loss)
        grad = np.where(infinite_delta, d, grad)
    loss = np.where(np.isinf(z), np.inf, loss)
    grad = np.where(np.isinf(z), np.sign(d) * delta, grad)
    return loss, grad


ELEMENTWISE = {"smooth_l1": smooth_l1_elementwise, "huber": huber_elementwise,
               "pseudo_huber": pseudo_huber_elementwise}


def curvature_elementwise(loss, d, param, curvature):
    """The curvature of ``<loss>_grad_hess`` (docs/contract.md section 11) at ``d``, in float64:
    "exact" the second derivative, "irls" ``grad / d`` (its limit at 0; 0 at ``|d| = inf``),
    "one" 1; NaN where d is NaN. param is a number or an array broadcasting to d's shape."""
    d = np.asarray(d, dtype=np.float64)
    param = np.asarray(param, dtype=np.float64)
    z = np.abs(d)
    with np.errstate(all="ignore"):
        if curvature == "one":
            hess = np.ones_like(d)
        elif loss == "smooth_l1":
            inside = z < param     # never for beta = 0, whose 1 / beta is inf
            if curvature == "exact":
                hess = np.where(inside, 1.0 / param, 0.0)
            else:   # min(1/beta, 1/z); beta = 0: 1/z, inf at 0
                hess = np.minimum(1.0 / param, 1.0 / z)
        elif loss == "huber":
            inside = z < param
            if curvature == "exact":
                hess = np.where(inside, 1.0, 0.0)
            else:
                hess = np.where(inside, 1.0, param / z)
        else:
            q = z / param
            # (1 + q**2) ** -1.5 and ** -0.5, via 1/q where q is large (no overflow)
            near = q <= 1.0
            inverse = param / z
            one_over_h = np.where(near, 1.0 / np.hypot(1.0, q),
                                  inverse / np.hypot(1.0, inverse))
            hess = one_over_h ** 3 if curvature == "exact" else one_over_h
            hess = np.where(np.isinf(param), 1.0, hess)   # delta = inf: 0.5 * d**2
        if curvature != "one":
            hess = np.where(np.isinf(z), 0.0, hess)
        hess = np.broadcast_to(hess, d.shape)
    return np.where(np.isnan(d), np.nan, hess)


def reference_grad_hess(loss, input, target, param, curvature, weight=None):
    """What ``<loss>_grad_hess(input, target, beta|delta=param, weight, curvature)`` returns:
    (grad, hess), each rounded once to input's dtype; param a number or an array (per
    element, converted to input's dtype as the library converts it)."""
    input = np.asarray(input)
    dtype = input.dtype
    x = input.astype(np.float64)
    t = _widen(target, dtype, input.shape)
    param = _as_param(param, dtype, input.shape)
    with np.errstate(all="ignore"):
        d = x - t
        grad = ELEMENTWISE[loss](d, param)[1]
        hess = curvature_elementwise(loss, d, param, curvature)
        if weight is not None:
            w = _widen(weight, dtype, input.shape)
            grad = grad * w
            hess = hess * w
    return _round(grad, dtype), _round(hess, dtype)


# ---------------------------------------------------------------------------------------------
# Weights and reductions (docs/contract.md section 2 and 4)
# ---------------------------------------------------------------------------------------------

def exact_sum(values):
    """The sum of float64 values, rounded once (IEEE inf/nan rules when non-finite)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(values)):
        with np.errstate(all="ignore"):
            return float(np.sum(values))
    try:
        return math.fsum(values)
    except OverflowError:  # the exact sum overflows double: +-inf
        with np.errstate(all="ignore"):
            return float(np.sum(values))


def _widen(value, dtype, shape):
    """target/weight as the library sees it: converted to input's dtype, broadcast, in float64."""
    value = np.asarray(value, dtype=dtype)
    return np.broadcast_to(value, shape).astype(np.float64)


def _round(value, dtype):
    with np.errstate(all="ignore"):
        return np.asarray(value, dtype=np.float64).astype(dtype)


def _as_param(param, dtype, shape):
    """beta or delta as the library sees it: a Python number as a float64 scalar, an array or
    list converted to input's dtype (the rules of weight) and broadcast, in float64."""
    if isinstance(param, (np.ndarray, list, tuple)):
        return _widen(param, dtype, shape)
    return float(param)


def _group_sums(values, axes):
    """Exact sums (rounded once) of values over the dimensions `axes`, keepdims=True."""
    values = np.asarray(values, dtype=np.float64)
    kept = [k for k in range(values.ndim) if k not in axes]
    moved = np.transpose(values, kept + list(axes))
    kept_shape = moved.shape[:len(kept)]
    rows = moved.reshape(int(np.prod(kept_shape)), -1) if values.size else \
        np.zeros((int(np.prod(kept_shape)), 0))
    sums = np.array([exact_sum(row) for row in rows], dtype=np.float64).reshape(kept_shape)
    return np.expand_dims(sums, tuple(axes))


def reference(loss, input, target, param, reduction="mean", weight=None, axis=None,
              keepdims=False):
    """What ``<loss>_loss_and_grad(input, target, beta|delta=param, reduction, weight, axis,
    keepdims)`` returns.

    ``loss`` is one of LOSSES; ``param`` a number or an array (per element). Returns
    ``(loss, grad)``: for "mean" and "sum" the loss is a NumPy scalar of input's dtype (an array
    of NumPy's reduced shape with ``axis`` or ``keepdims``), else an array of input's shape;
    grad is always an array of input's shape and dtype (the derivative of the sum of the
    reduced values).
    """
    input = np.asarray(input)
    dtype = input.dtype
    shape = input.shape
    x = input.astype(np.float64)
    t = _widen(target, dtype, shape)
    w = None if weight is None else _widen(weight, dtype, shape)
    with np.errstate(all="ignore"):
        d = x - t
    elem_loss, elem_grad = ELEMENTWISE[loss](d, _as_param(param, dtype, shape))
    unweighted_grad = elem_grad
    if w is not None:
        with np.errstate(all="ignore"):
            elem_loss = elem_loss * w
            elem_grad = elem_grad * w
    if reduction == "none":
        return _round(elem_loss, dtype), _round(elem_grad, dtype)
    if reduction not in ("sum", "mean"):
        raise ValueError(reduction)
    if axis is not None or keepdims:
        return _reference_along_axes(x, elem_loss, elem_grad, unweighted_grad, w, reduction,
                                     axis, keepdims, dtype)
    total = exact_sum(elem_loss)
    if reduction == "sum":
        return dtype.type(_round(total, dtype)), _round(elem_grad, dtype)
    count = float(x.size) if w is None else exact_sum(w)
    with np.errstate(all="ignore"):
        mean = np.float64(total) / np.float64(count)  # 0 / 0 is nan for empty input
        # g * (w / W): the same value as g * w / W, without underflow for tiny weights
        grad = (elem_grad / np.float64(count) if w is None
                else unweighted_grad * (w / np.float64(count)))
    return dtype.type(_round(mean, dtype)), _round(grad, dtype)


def _reference_along_axes(x, elem_loss, elem_grad, unweighted_grad, w, reduction, axis,
                          keepdims, dtype):
    """Section 12: per group sums, means Σ w·l / Σ w, gradient of the sum of the results."""
    ndim = x.ndim
    if axis is None:
        axes = tuple(range(ndim))
    else:
        axes = tuple(sorted(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))))
    totals = _group_sums(elem_loss, axes)
    grad = elem_grad
    if reduction == "mean":
        if w is None:
            count = np.full(totals.shape, float(np.prod([x.shape[a] for a in axes])))
        else:
            count = _group_sums(w, axes)
        with np.errstate(all="ignore"):
            totals = totals / count
            grad = (elem_grad * (1.0 / count) if w is None
                    else unweighted_grad * (w / count))
    if not keepdims:
        totals = np.squeeze(totals, axis=axes) if axes else totals
    loss = _round(totals, dtype)
    if loss.ndim == 0:
        loss = dtype.type(loss)
    return loss, _round(grad, dtype)


def reference_loss(loss, input, target, param, reduction="mean", weight=None, **axis_kwargs):
    return reference(loss, input, target, param, reduction, weight, **axis_kwargs)[0]


def reference_grad(loss, input, target, param, reduction="mean", weight=None, **axis_kwargs):
    return reference(loss, input, target, param, reduction, weight, **axis_kwargs)[1]


# ---------------------------------------------------------------------------------------------
# Comparing the library with the reference
# ---------------------------------------------------------------------------------------------

# The library computes in double and rounds once; the reference too, but its double results may
# differ by an ulp or two (other evaluation order, exact sums), which can move a float32 result
# by one float32 ulp. atol only matters for results in the subnormal range.
RTOL = {np.dtype(np.float32): 3e-7, np.dtype(np.float64): 1e-14}
ATOL = {np.dtype(np.float32): float(np.finfo(np.float32).tiny),
        np.dtype(np.float64): float(np.finfo(np.float64).tiny)}


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, err_msg=""):
    """Same shape, NaN at the same places, infinities equal, finite values close."""
    dtype = np.dtype(dtype if dtype is not None else np.asarray(expected).dtype)
    rtol = RTOL[dtype] if rtol is None else rtol
    atol = ATOL[dtype] if atol is None else atol
    actual_arr = np.asarray(actual)
    expected_arr = np.asarray(expected)
    assert actual_arr.shape == expected_arr.shape, (actual_arr.shape, expected_arr.shape)
    np.testing.assert_allclose(actual_arr, expected_arr, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=err_msg)


def assert_bitwise_equal(actual, expected):
    """Identical type, dtype, shape and bits (so NaN == NaN and -0.0 != 0.0)."""
    assert type(actual) is type(expected), (type(actual), type(expected))
    actual_arr = np.asarray(actual)
    expected_arr = np.asarray(expected)
    assert actual_arr.dtype == expected_arr.dtype
    assert actual_arr.shape == expected_arr.shape
    same = (np.ascontiguousarray(actual_arr).tobytes()
            == np.ascontiguousarray(expected_arr).tobytes())
    if not same:
        with np.printoptions(precision=17):
            raise AssertionError(f"not bitwise equal:\n{actual!r}\n{expected!r}")


PARAM_NAME = {"smooth_l1": "beta", "huber": "delta", "pseudo_huber": "delta"}
KINDS = ("loss", "grad", "loss_and_grad")


def library_function(loss, kind):
    """The public function ``smoothl1.<loss>_<kind>``."""
    import smoothl1
    return getattr(smoothl1, f"{loss}_{kind}")


def call(loss, kind, input, target, param, **kwargs):
    """Call ``smoothl1.<loss>_<kind>`` with its parameter (beta or delta) set to ``param``."""
    kwargs[PARAM_NAME[loss]] = param
    return library_function(loss, kind)(input, target, **kwargs)
