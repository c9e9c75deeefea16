"""Pure-NumPy reference implementation of smoothl1: the test oracle.

Written straight from docs/contract.md sections 1, 2, 4, 5, 10 to 13 and 16, for clarity
rather than speed: every value is computed in float64 from the float64 widening of the
arguments, sums are exact (``math.fsum``), and each result is rounded once to the input's dtype
at the end.

The only liberty taken with the contract's wording: the quadratic branch ``0.5 * z**2 / beta`` is
evaluated as ``0.5 * z * (z / beta)`` (the same real number), so that a finite result is not
lost to an overflow of ``z**2`` on the way (e.g. ``z = 1e200, beta = 1e300``).

The second half holds the comparison helpers the tests use against this oracle.
"""
import math

import numpy as np

LOSSES = ("smooth_l1", "huber", "pseudo_huber", "log_cosh", "cauchy")
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


# Log-cosh and Cauchy (docs/contract.md section 16). Both are functions of q = d / delta; the
# formulas below take |q| as a quotient of its own and switch between a near form (small |q|:
# the loss as 0.5 * d**2 times a ratio that tends to 1) and a far form (large |q|: written with
# delta / |d|, so that nothing depends on q's overflow to inf or delta**2's). Below SERIES_BELOW
# the ratios are their Taylor series, whose dropped terms are below 1e-32 relatively (and which
# stay right when q underflows to 0, e.g. delta = inf).
SERIES_BELOW = 1e-8
LOG_2 = math.log(2.0)
# Beyond |q| = 20, tanh(|q|) rounds to 1 and log(cosh(q)) = |q| - log(2) + log1p(exp(-2|q|))
# drops a term below 2e-19 relatively: the far forms of log-cosh are then exact in double.
LOG_COSH_FAR = 20.0


def log_cosh_elementwise(d, delta):
    """(loss, d loss / d input) of log-cosh, ``delta**2 * log(cosh(q))`` and ``delta *
    tanh(q)`` with ``q = d / delta``. Near 0 the loss is ``0.5 * d**2 * r`` with ``r =
    log(cosh(q)) / (q**2 / 2) = log1p(sinh(q)**2) / q**2`` (no cancellation, no ``delta**2``)
    and the gradient ``d * tanh(q) / q``; beyond ``|q| = 20`` the loss is ``delta * (|d| -
    delta * log(2))`` and the gradient ``delta * sign(d)``, which ``cosh``'s overflow past
    ``|q| = 710`` (or q's own, for a tiny delta) does not reach. delta is a number or an array
    broadcasting to d's shape."""
    d = np.asarray(d, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    z = np.abs(d)
    with np.errstate(all="ignore"):
        q = z / delta                     # |q|: 0 for delta = inf, inf past double's range
        series = q < SERIES_BELOW
        far = q > LOG_COSH_FAR
        # log(cosh(q)) = 0.5 * log1p(sinh(q)**2), as cosh(q)**2 = 1 + sinh(q)**2
        loss_ratio = np.where(series, 1.0 - q * q / 6.0, np.log1p(np.sinh(q) ** 2) / (q * q))
        grad_ratio = np.where(series, 1.0 - q * q / 3.0, np.tanh(q) / q)
        # z * (0.5 * z * r) overflows only where the loss does (z * z would from 1.3e154)
        loss = np.where(far, delta * (z - delta * LOG_2), z * (0.5 * z * loss_ratio))
        grad = np.where(far, np.sign(d) * delta, d * grad_ratio)
        # |d| = inf: loss inf, grad ±delta, also for delta = inf (where z / delta is NaN)
        loss = np.where(np.isinf(z), np.inf, loss)
        grad = np.where(np.isinf(z), np.sign(d) * delta, grad)
    return loss, grad


def cauchy_elementwise(d, delta):
    """(loss, d loss / d input) of the Cauchy (Lorentzian) loss, ``0.5 * delta**2 * log1p(q**2)``
    and ``d / (1 + q**2)`` with ``q = d / delta``. For ``|q| <= 1`` the loss is ``0.5 * d**2 *
    log1p(q**2) / q**2``; beyond, ``delta**2 * (log|q| + 0.5 * log1p(b**2))`` and the gradient
    ``delta * sign(d) * b / (1 + b**2)``, with ``b = delta / |d|`` computed as a quotient of its
    own (so a q past double's range, tiny delta, still gives the right values; log|q| is then
    ``log|d| - log(delta)``, both terms beyond 709 apart). delta is a number or an array
    broadcasting to d's shape."""
    d = np.asarray(d, dtype=np.float64)
    delta = np.asarray(delta, dtype=np.float64)
    z = np.abs(d)
    with np.errstate(all="ignore"):
        q = z / delta
        b = delta / z                     # 1 / |q| where |q| > 1
        near = q <= 1.0
        loss_ratio = np.where(q < SERIES_BELOW, 1.0 - 0.5 * q * q, np.log1p(q * q) / (q * q))
        log_q = np.where(np.isinf(q), np.log(z) - np.log(delta), np.log(q))
        far_loss = delta * (delta * (log_q + 0.5 * np.log1p(b * b)))
        loss = np.where(near, z * (0.5 * z * loss_ratio), far_loss)
        grad = np.where(near, d / (1.0 + q * q), np.sign(d) * (delta * b) / (1.0 + b * b))
        # delta = inf: 0.5 * d**2 and d, for |d| = inf too (L2 everywhere)
        loss = np.where(np.isinf(delta), 0.5 * z * z, loss)
        grad = np.where(np.isinf(delta), d, grad)
    # |d| = inf (finite delta): loss inf, grad 0 (the sign of d's: b is +0)
    loss = np.where(np.isinf(z), np.inf, loss)
    return loss, grad


def _two_product(a, b):
    """(high, low) with high + low == a * b exactly (Dekker's product with Veltkamp's split),
    for a and b whose product neither overflows nor underflows."""
    def split(x):
        scaled = 134217729.0 * x          # 2**27 + 1
        high = scaled - (scaled - x)
        return high, x - high
    high = a * b
    a_high, a_low = split(a)
    b_high, b_low = split(b)
    low = ((a_high * b_high - high) + a_high * b_low + a_low * b_high) + a_low * b_low
    return high, low


def _quotient_error(z, delta, q):
    """``z / delta - q``, the rounding error of ``q = fl(z / delta)``, for positive finite z and
    delta and a normal q (garbage elsewhere): the product ``q * delta`` is formed exactly from
    the three numbers' mantissas (frexp), so that nothing over- or underflows whatever their
    exponents. log-cosh's exact curvature needs it: ``sech(q)**2`` has the condition number
    ``2 |q| tanh|q|``, up to 740 before it underflows, which would turn q's half-ulp rounding
    into hundreds of ulps."""
    q_mantissa, q_exponent = np.frexp(q)
    delta_mantissa, delta_exponent = np.frexp(delta)
    z_mantissa, z_exponent = np.frexp(z)
    high, low = _two_product(q_mantissa, delta_mantissa)
    # z / 2**(q_exponent + delta_exponent), exact: z / delta ~ q puts the shift in [-1, 1];
    # it is within an ulp or two of high, so their difference is exact (Sterbenz)
    scaled_z = np.ldexp(z_mantissa, z_exponent - q_exponent - delta_exponent)
    remainder = (scaled_z - high) - low
    return np.ldexp(remainder / delta_mantissa, q_exponent)


def _log_cosh_curvatures(d, delta):
    """(exact, irls) of log-cosh, finite d and delta only: ``sech(q)**2``, corrected for q's
    rounding (see _quotient_error), and ``tanh(q) / q``, which is ``delta / |d|`` beyond
    ``|q| = 20``."""
    z = np.abs(d)
    q = z / delta
    tanh = np.tanh(q)
    # below |q| = 0.5, 1 - tanh**2 has no cancellation (and is 1 at q = 0); 1 / cosh(q) is 0
    # past |q| = 710, where sech**2 has long underflowed
    exact = np.where(q < 0.5, 1.0 - tanh * tanh, (1.0 / np.cosh(q)) ** 2)
    # sech(q + e)**2 = sech(q)**2 * (1 - 2 tanh(q) e) to first order; below |q| = 0.5 the
    # condition number is below 0.5 and q may be subnormal or 0: no correction there
    corrected = (q >= 0.5) & np.isfinite(q)
    q_error = np.where(corrected, _quotient_error(z, delta, np.where(corrected, q, 1.0)), 0.0)
    exact = exact * (1.0 - 2.0 * tanh * q_error)
    irls = np.where(q < SERIES_BELOW, 1.0 - q * q / 3.0,
                    np.where(q > LOG_COSH_FAR, delta / z, tanh / q))
    return exact, irls


def _cauchy_curvatures(d, delta):
    """(exact, irls) of Cauchy, finite d and delta only: ``(1 - q**2) / (1 + q**2)**2`` and
    ``1 / (1 + q**2)``; up to ``|q| = 2`` the factor ``1 - |q|`` is ``(delta - |d|) / delta``,
    exact where it cancels (the curvature's zero at ``|d| = delta``, where q's own rounding
    would leave nothing); beyond, both in ``b = delta / |d|``: ``-b**2 (1 - b**2) / (1 +
    b**2)**2`` and ``b**2 / (1 + b**2)``."""
    z = np.abs(d)
    q = z / delta
    b = delta / z
    near = q <= 2.0
    one_minus_q = (delta - z) / delta
    exact = np.where(near, one_minus_q * (1.0 + q) / (1.0 + q * q) ** 2,
                     -(b * b) * (1.0 - b * b) / (1.0 + b * b) ** 2)
    irls = np.where(q <= 1.0, 1.0 / (1.0 + q * q), b * b / (1.0 + b * b))
    return exact, irls


ELEMENTWISE = {"smooth_l1": smooth_l1_elementwise, "huber": huber_elementwise,
               "pseudo_huber": pseudo_huber_elementwise, "log_cosh": log_cosh_elementwise,
               "cauchy": cauchy_elementwise}


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
        elif loss in ("log_cosh", "cauchy"):
            curvatures = (_log_cosh_curvatures if loss == "log_cosh" else _cauchy_curvatures)
            exact, irls = curvatures(d, param)
            hess = exact if curvature == "exact" else irls
            hess = np.where(np.isinf(param), 1.0, hess)   # delta = inf: 0.5 * d**2
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


PARAM_NAME = {"smooth_l1": "beta", "huber": "delta", "pseudo_huber": "delta",
              "log_cosh": "delta", "cauchy": "delta"}
KINDS = ("loss", "grad", "loss_and_grad")


def library_function(loss, kind):
    """The public function ``smoothl1.<loss>_<kind>``."""
    import smoothl1
    return getattr(smoothl1, f"{loss}_{kind}")


def call(loss, kind, input, target, param, **kwargs):
    """Call ``smoothl1.<loss>_<kind>`` with its parameter (beta or delta) set to ``param``."""
    kwargs[PARAM_NAME[loss]] = param
    return library_function(loss, kind)(input, target, **kwargs)
