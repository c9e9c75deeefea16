"""Values: a hand-computed table (contract §1 and 5), reduced values, the Huber/smooth L1 identity,
finite-difference gradient checks, continuity at the kink, and double-precision sums (contract §4)."""
import ctypes
import ctypes.util
import math
import platform
import sys
import warnings

import numpy as np
import pytest

import smoothl1
from reference import (ELEMENTWISE, LOSSES, PARAM_NAME, REDUCTIONS, assert_close, call,
                       exact_sum, reference)

inf = math.inf
nan = math.nan

# ---------------------------------------------------------------------------------------------
# Hand-computed elementwise values
# ---------------------------------------------------------------------------------------------

# (id, loss, param, input, target, expected loss, expected d loss / d input). The expected
# numbers are worked out by hand from the contract's formulas, in real arithmetic.
HAND_CASES = [
    # smooth L1, beta = 1: quadratic 0.5 d**2, linear |d| - 0.5
    ("sl1-beta=1-quadratic", "smooth_l1", 1.0, 0.5, 0.0, 0.125, 0.5),
    ("sl1-beta=1-quadratic-negative", "smooth_l1", 1.0, 1.0, 1.5, 0.125, -0.5),
    ("sl1-beta=1-linear", "smooth_l1", 1.0, 3.0, 1.0, 1.5, 1.0),
    ("sl1-beta=1-linear-negative", "smooth_l1", 1.0, -3.0, 0.0, 2.5, -1.0),
    ("sl1-beta=1-at-beta", "smooth_l1", 1.0, 1.0, 0.0, 0.5, 1.0),
    ("sl1-beta=1-at-minus-beta", "smooth_l1", 1.0, 0.0, 1.0, 0.5, -1.0),
    ("sl1-beta=1-zero", "smooth_l1", 1.0, 0.0, 0.0, 0.0, 0.0),
    ("sl1-beta=1-minus-zero", "smooth_l1", 1.0, -0.0, 0.0, 0.0, 0.0),
    ("sl1-beta=1-tiny-delta", "smooth_l1", 1.0, 1e-300, 0.0, 0.0, 1e-300),  # 5e-601 -> 0
    ("sl1-beta=1-huge-delta", "smooth_l1", 1.0, 1e300, 0.0, 1e300, 1.0),
    ("sl1-beta=1-huge-negative-delta", "smooth_l1", 1.0, 0.0, 1e300, 1e300, -1.0),
    # beta = 0.5 and 2
    ("sl1-beta=0.5-quadratic", "smooth_l1", 0.5, 0.25, 0.0, 0.0625, 0.5),
    ("sl1-beta=0.5-at-beta", "smooth_l1", 0.5, 0.5, 0.0, 0.25, 1.0),
    ("sl1-beta=0.5-at-minus-beta", "smooth_l1", 0.5, -0.5, 0.0, 0.25, -1.0),
    ("sl1-beta=0.5-linear", "smooth_l1", 0.5, 2.0, 0.0, 1.75, 1.0),
    ("sl1-beta=2-quadratic", "smooth_l1", 2.0, 1.0, 0.0, 0.25, 0.5),
    ("sl1-beta=2-at-beta", "smooth_l1", 2.0, 2.0, 0.0, 1.0, 1.0),
    ("sl1-beta=2-linear-negative", "smooth_l1", 2.0, -5.0, 0.0, 4.0, -1.0),
    # beta = 0: plain L1, sign(0) = 0
    ("sl1-beta=0-zero", "smooth_l1", 0.0, 0.0, 0.0, 0.0, 0.0),
    ("sl1-beta=0-minus-zero-input", "smooth_l1", 0.0, -0.0, 0.0, 0.0, 0.0),
    ("sl1-beta=0-minus-zero-target", "smooth_l1", 0.0, 0.0, -0.0, 0.0, 0.0),
    ("sl1-beta=0-positive", "smooth_l1", 0.0, 2.5, 0.0, 2.5, 1.0),
    ("sl1-beta=0-negative", "smooth_l1", 0.0, -2.5, 0.0, 2.5, -1.0),
    ("sl1-beta=0-tiny-delta", "smooth_l1", 0.0, 1e-300, 0.0, 1e-300, 1.0),
    ("sl1-beta=0-tiny-negative-delta", "smooth_l1", 0.0, 0.0, 1e-300, 1e-300, -1.0),
    ("sl1-beta=0-huge-delta", "smooth_l1", 0.0, 1e300, -1e300, 2e300, 1.0),
    # beta = 1/9 (Faster R-CNN)
    ("sl1-beta=1/9-quadratic", "smooth_l1", 1 / 9, 0.05, 0.0, 0.01125, 0.45),
    ("sl1-beta=1/9-quadratic-negative", "smooth_l1", 1 / 9, -0.05, 0.0, 0.01125, -0.45),
    ("sl1-beta=1/9-linear", "smooth_l1", 1 / 9, 1.0, 0.0, 17 / 18, 1.0),
    ("sl1-beta=1/9-at-beta", "smooth_l1", 1 / 9, 1 / 9, 0.0, 1 / 18, 1.0),
    ("sl1-beta=1/9-at-minus-beta", "smooth_l1", 1 / 9, 0.0, 1 / 9, 1 / 18, -1.0),
    # beta = inf: loss 0 for finite d
    ("sl1-beta=inf-finite", "smooth_l1", inf, 5.0, 0.0, 0.0, 0.0),
    ("sl1-beta=inf-huge-negative", "smooth_l1", inf, -1e300, 0.0, 0.0, 0.0),
    ("sl1-beta=inf-huge-delta", "smooth_l1", inf, 1e300, -1e300, 0.0, 0.0),
    # huge and tiny beta
    ("sl1-beta=1e300-quadratic", "smooth_l1", 1e300, 1e200, 0.0, 5e99, 1e-100),
    ("sl1-beta=1e300-linear", "smooth_l1", 1e300, 3e300, 0.0, 2.5e300, 1.0),
    ("sl1-beta=1e-300-quadratic", "smooth_l1", 1e-300, 1e-301, 0.0, 5e-303, 0.1),
    ("sl1-beta=1e-300-linear", "smooth_l1", 1e-300, 1.0, 0.0, 1.0, 1.0),
    ("sl1-beta=subnormal-zero", "smooth_l1", 5e-324, 0.0, 0.0, 0.0, 0.0),
    ("sl1-beta=subnormal-linear", "smooth_l1", 5e-324, -1.0, 0.0, 1.0, -1.0),
    # Huber, delta = 1: quadratic 0.5 d**2, linear |d| - 0.5
    ("huber-delta=1-quadratic", "huber", 1.0, 0.5, 0.0, 0.125, 0.5),
    ("huber-delta=1-linear", "huber", 1.0, 3.0, 1.0, 1.5, 1.0),
    ("huber-delta=1-linear-negative", "huber", 1.0, -3.0, 0.0, 2.5, -1.0),
    ("huber-delta=1-at-delta", "huber", 1.0, 1.0, 0.0, 0.5, 1.0),
    ("huber-delta=1-zero", "huber", 1.0, 0.0, 0.0, 0.0, 0.0),
    ("huber-delta=1-minus-zero", "huber", 1.0, -0.0, 0.0, 0.0, 0.0),
    # delta = 2: linear 2 (|d| - 1)
    ("huber-delta=2-quadratic", "huber", 2.0, 1.0, 0.0, 0.5, 1.0),
    ("huber-delta=2-at-delta", "huber", 2.0, 2.0, 0.0, 2.0, 2.0),
    ("huber-delta=2-at-minus-delta", "huber", 2.0, 0.0, 2.0, 2.0, -2.0),
    ("huber-delta=2-linear", "huber", 2.0, 3.0, 0.0, 4.0, 2.0),
    ("huber-delta=2-linear-negative", "huber", 2.0, -3.0, 0.0, 4.0, -2.0),
    ("huber-delta=0.5-quadratic", "huber", 0.5, 0.25, 0.0, 0.03125, 0.25),
    ("huber-delta=0.5-linear", "huber", 0.5, 2.0, 0.0, 0.875, 0.5),
    ("huber-delta=1/9-linear", "huber", 1 / 9, 1.0, 0.0, 17 / 162, 1 / 9),
    # delta = inf: 0.5 d**2 everywhere
    ("huber-delta=inf-quadratic", "huber", inf, -3.0, 0.0, 4.5, -3.0),
    ("huber-delta=inf-huge", "huber", inf, 1e100, 0.0, 5e199, 1e100),
    # huge and tiny delta
    ("huber-delta=1e300-quadratic-overflows", "huber", 1e300, 1e200, 0.0, inf, 1e200),
    ("huber-delta=1e300-linear-overflows", "huber", 1e300, 3e300, 0.0, inf, 1e300),
    ("huber-delta=1e-300-linear", "huber", 1e-300, 1.0, 0.0, 1e-300, 1e-300),
    ("huber-delta=1e-300-quadratic", "huber", 1e-300, 1e-301, 0.0, 0.0, 1e-301),
    ("huber-delta=1-tiny-delta", "huber", 1.0, 1e-300, 0.0, 0.0, 1e-300),
    ("huber-delta=1-huge-delta", "huber", 1.0, -1e300, 0.0, 1e300, -1.0),
]

# contract §5 for every parameter value, inf included: (id, input, target, loss, grad / unit) where
# the unit is 1 for smooth L1 and delta for Huber.
SPECIAL_CASES = [
    ("inf-minus-finite", inf, 3.0, inf, 1.0),
    ("minus-inf-minus-finite", -inf, 3.0, inf, -1.0),
    ("finite-minus-inf", 3.0, inf, inf, -1.0),
    ("finite-minus-minus-inf", 3.0, -inf, inf, 1.0),
    ("inf-minus-zero", inf, 0.0, inf, 1.0),
    ("inf-minus-inf", inf, inf, nan, nan),
    ("minus-inf-minus-minus-inf", -inf, -inf, nan, nan),
    ("nan-input", nan, 0.0, nan, nan),
    ("nan-target", 1.0, nan, nan, nan),
    ("nan-minus-inf", nan, inf, nan, nan),
    ("inf-minus-nan", inf, nan, nan, nan),
]
SPECIAL_PARAMS = {"smooth_l1": [0.0, 1 / 9, 1.0, 1e300, inf],
                  "huber": [1 / 9, 1.0, 2.0, 1e300, inf]}

for _loss, _params in SPECIAL_PARAMS.items():
    for _param in _params:
        _unit = 1.0 if _loss == "smooth_l1" else _param
        for _id, _x, _t, _l, _g in SPECIAL_CASES:
            HAND_CASES.append((f"{_loss}-{PARAM_NAME[_loss]}={_param:g}-{_id}", _loss, _param,
                               _x, _t, _l, _g * _unit))


def _float32_exact(value):
    if math.isnan(value) or math.isinf(value):
        return True
    return abs(value) < 3e38 and float(np.float32(value)) == value


def _float32_friendly(case):
    """Also run a case in float32 when its numbers are float32 numbers (no under/overflow)."""
    _, _, _, x, t, loss, grad = case
    if not (_float32_exact(x) and _float32_exact(t)):
        return False
    for value in (loss, grad):
        if math.isfinite(value) and value != 0 and not 1e-37 < abs(value) < 1e37:
            return False
    return True


HAND_PARAMS = ([pytest.param(case, np.float64, id=f"{case[0]}-float64") for case in HAND_CASES]
               + [pytest.param(case, np.float32, id=f"{case[0]}-float32")
                  for case in HAND_CASES if _float32_friendly(case)])


@pytest.mark.parametrize("case, dtype", HAND_PARAMS)
def test_hand_computed_values(case, dtype):
    _, loss, param, x, t, expected_loss, expected_grad = case
    input = np.array([x], dtype=dtype)
    target = np.array([t], dtype=dtype)
    rtol = 4e-16 if dtype == np.float64 else 1.2e-7
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # contract §5: no warnings for special values
        loss_value = call(loss, "loss", input, target, param, reduction="none")
        grad_value = call(loss, "grad", input, target, param, reduction="none")
        both = call(loss, "loss_and_grad", input, target, param, reduction="none")
    for got in (loss_value, both[0]):
        assert_close(got, np.array([expected_loss], dtype=dtype), rtol=rtol, atol=0)
    for got in (grad_value, both[1]):
        assert_close(got, np.array([expected_grad], dtype=dtype), rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("param", [0.0, 1 / 9, 1.0, inf], ids=["0", "1/9", "1", "inf"])
def test_special_values_reduced_no_warnings(loss, param, dtype):
    """inf and NaN propagate through "mean" and "sum" too, without warnings (contract §5)."""
    if loss != "smooth_l1" and param == 0.0:
        param = 2.0
    zeros = np.zeros(3, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in ("mean", "sum"):
            value = call(loss, "loss", np.array([inf, 1.0, -2.0], dtype=dtype), zeros, param,
                         reduction=reduction)
            assert value == inf
            value = call(loss, "loss", np.array([-inf, 1.0, nan], dtype=dtype), zeros, param,
                         reduction=reduction)
            assert np.isnan(value)
            value = call(loss, "loss", np.array([inf, 1.0, 0.0], dtype=dtype),
                         np.array([inf, 0.0, 0.0], dtype=dtype), param, reduction=reduction)
            assert np.isnan(value)
            grad = call(loss, "grad", np.array([inf, -inf, nan], dtype=dtype), zeros, param,
                        reduction=reduction)
            # the derivative at d = +inf: 1 (smooth L1), delta, or 0 (Cauchy, finite delta)
            unit = float(ELEMENTWISE[loss](inf, param)[1])
            scale = 1.0 if reduction == "sum" else 1 / 3
            assert_close(grad, np.array([unit * scale, -unit * scale, nan], dtype=dtype))


def _libm():
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "i686"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    except OSError:
        return None


# x86 <fenv.h>: FE_INVALID 0x01, FE_DIVBYZERO 0x04, FE_OVERFLOW 0x08, all flags 0x3d
_FE_ALL_EXCEPT, _FE_INVALID_DIVBYZERO_OVERFLOW = 0x3D, 0x01 | 0x04 | 0x08


@pytest.mark.skipif(_libm() is None, reason="reads the x86 floating-point status flags via libm")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("loss", LOSSES)
def test_special_values_raise_no_floating_point_flags(loss, dtype):
    """contract §5: no invalid / divide-by-zero / overflow flag for NaN, inf and inf - inf, for any
    parameter (0 and inf included; beta = 0 must never divide by zero)."""
    libm = _libm()
    input = np.array([inf, -inf, nan, 1.0, inf, 3.0, nan, 0.0], dtype=dtype)
    target = np.array([0.0, 0.0, 0.0, inf, inf, -inf, inf, 0.0], dtype=dtype)
    params = [0.0, 1 / 9, 1.0, inf] if loss == "smooth_l1" else [1 / 9, 1.0, 2.0, inf]
    for param in params:
        for reduction in REDUCTIONS:
            for weight in (None, np.full(8, 0.5, dtype=dtype)):
                libm.feclearexcept(_FE_ALL_EXCEPT)
                call(loss, "loss_and_grad", input, target, param, reduction=reduction,
                     weight=weight)
                raised = libm.fetestexcept(_FE_ALL_EXCEPT) & _FE_INVALID_DIVBYZERO_OVERFLOW
                assert raised == 0, (param, reduction, weight is not None, hex(raised))


# ---------------------------------------------------------------------------------------------
# Hand-computed reduced values
# ---------------------------------------------------------------------------------------------

REDUCED_CASES = [
    # losses [0.02, 1, 2.5], derivatives [0.2, 1, -1]
    pytest.param("smooth_l1", 1.0, None, "mean", 3.52 / 3, [0.2 / 3, 1 / 3, -1 / 3],
                 id="sl1-mean"),
    pytest.param("smooth_l1", 1.0, None, "sum", 3.52, [0.2, 1.0, -1.0], id="sl1-sum"),
    pytest.param("smooth_l1", 1.0, None, "none", [0.02, 1.0, 2.5], [0.2, 1.0, -1.0],
                 id="sl1-none"),
    # delta = 2: losses [0.02, 1.125, 4], derivatives [0.2, 1.5, -2]; weights [1, 1, 0.5]
    pytest.param("huber", 2.0, [1.0, 1.0, 0.5], "mean", 3.145 / 2.5, [0.08, 0.6, -0.4],
                 id="huber-weighted-mean"),
    pytest.param("huber", 2.0, [1.0, 1.0, 0.5], "sum", 3.145, [0.2, 1.5, -1.0],
                 id="huber-weighted-sum"),
    pytest.param("huber", 2.0, [1.0, 1.0, 0.5], "none", [0.02, 1.125, 2.0], [0.2, 1.5, -1.0],
                 id="huber-weighted-none"),
    pytest.param("huber", 2.0, None, "mean", 5.145 / 3, [0.2 / 3, 0.5, -2 / 3],
                 id="huber-mean"),
    # beta = 0.5: losses [0.04, 1.25, 2.75], weights [2, 0, 1]
    pytest.param("smooth_l1", 0.5, [2.0, 0.0, 1.0], "mean", 2.83 / 3, [0.8 / 3, 0.0, -1 / 3],
                 id="sl1-beta=0.5-weighted-mean"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, param, weight, reduction, expected_loss, expected_grad",
                         REDUCED_CASES)
def test_hand_computed_reduced(loss, param, weight, reduction, expected_loss, expected_grad,
                               dtype):
    input = np.array([0.2, 1.5, -3.0], dtype=dtype)
    target = np.zeros(3, dtype=dtype)
    if weight is not None:
        weight = np.array(weight, dtype=dtype)
    rtol = 1e-15 if dtype == np.float64 else 2e-7
    value, grad = call(loss, "loss_and_grad", input, target, param, reduction=reduction,
                       weight=weight)
    if reduction == "none":
        assert isinstance(value, np.ndarray) and value.shape == (3,)
    else:
        assert type(value) is np.dtype(dtype).type
    assert_close(value, np.asarray(expected_loss, dtype=dtype), rtol=rtol, atol=1e-300)
    assert_close(grad, np.asarray(expected_grad, dtype=dtype), rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("scale", [1e-310, 1e-300, 1.0, 1e300], ids=lambda s: f"weights~{s:g}")
@pytest.mark.parametrize("loss", LOSSES)
def test_weighted_mean_scale_invariant(loss, scale):
    """The weighted mean sum(w*l)/sum(w) and its gradient g*w/sum(w) do not depend on the
    weights' scale (hand values: losses [0.125, 1.5], derivatives [0.5, 1], equal weights;
    pseudo-Huber: losses [sqrt(1.25) - 1, sqrt(5) - 1], derivatives [0.5, 2] / the roots;
    log-cosh: log(cosh(d)) and tanh(d); Cauchy: log1p(d**2) / 2 and d / (1 + d**2))."""
    input = np.array([0.5, 2.0])
    weight = np.array([scale, scale])
    if loss == "pseudo_huber":
        losses = [math.sqrt(1.25) - 1, math.sqrt(5) - 1]
        derivatives = [0.5 / math.sqrt(1.25), 2 / math.sqrt(5)]
    elif loss == "log_cosh":
        losses = [math.log(math.cosh(0.5)), math.log(math.cosh(2.0))]
        derivatives = [math.tanh(0.5), math.tanh(2.0)]
    elif loss == "cauchy":
        losses = [0.5 * math.log(1.25), 0.5 * math.log(5.0)]
        derivatives = [0.5 / 1.25, 2 / 5]
    else:
        losses, derivatives = [0.125, 1.5], [0.5, 1.0]
    mean, mean_grad = sum(losses) / 2, [g / 2 for g in derivatives]
    value, grad = call(loss, "loss_and_grad", input, np.zeros(2), 1.0, reduction="mean",
                       weight=weight)
    np.testing.assert_allclose(value, mean, rtol=1e-12)
    np.testing.assert_allclose(grad, mean_grad, rtol=1e-12)
    np.testing.assert_allclose(call(loss, "grad", input, np.zeros(2), 1.0, reduction="mean",
                                    weight=weight), mean_grad, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES)
def test_empty_input(loss, dtype):
    """contract §4: empty "mean" is NaN without a warning, "sum" 0, arrays empty of input's shape."""
    input = np.empty((0, 3), dtype=dtype)
    target = np.empty((0, 3), dtype=dtype)
    scalar = np.dtype(dtype).type
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean = call(loss, "loss", input, target, 1.0, reduction="mean")
        total = call(loss, "loss", input, target, 1.0, reduction="sum")
        mean_w = call(loss, "loss", input, target, 1.0, reduction="mean",
                      weight=np.empty((0, 3), dtype=dtype))
        elementwise = call(loss, "loss", input, target, 1.0, reduction="none")
        grads = [call(loss, "grad", input, target, 1.0, reduction=r) for r in REDUCTIONS]
    assert type(mean) is scalar and np.isnan(mean)
    assert type(mean_w) is scalar and np.isnan(mean_w)
    assert type(total) is scalar and total == 0
    for array in [elementwise] + grads:
        assert isinstance(array, np.ndarray)
        assert array.shape == (0, 3) and array.dtype == dtype


@pytest.mark.parametrize("loss", LOSSES)
def test_defaults(loss):
    """beta / delta default to 1.0 and reduction to "mean"."""
    rng = np.random.default_rng(0)
    input = rng.normal(scale=2.0, size=50)
    target = rng.normal(size=50)
    got = getattr(smoothl1, f"{loss}_loss")
    assert_close(got(input, target), reference(loss, input, target, 1.0, "mean")[0])
    assert got(input, target) == call(loss, "loss", input, target, 1.0, reduction="mean")
    got_grad = getattr(smoothl1, f"{loss}_grad")
    assert_close(got_grad(input, target), reference(loss, input, target, 1.0, "mean")[1])


# ---------------------------------------------------------------------------------------------
# huber(d; delta) == delta * smooth_l1(d; beta=delta)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1e-3, 1 / 9, 0.5, 1.0, 2.0, 10.0, 1e100])
def test_huber_is_delta_times_smooth_l1(delta, reduction):
    rng = np.random.default_rng(1)
    input = rng.normal(scale=3 * delta, size=200)
    input[:4] = [delta, -delta, 0.0, 20 * delta]
    target = np.zeros_like(input)
    huber_loss, huber_grad = smoothl1.huber_loss_and_grad(input, target, delta=delta,
                                                          reduction=reduction)
    sl1_loss, sl1_grad = smoothl1.smooth_l1_loss_and_grad(input, target, beta=delta,
                                                          reduction=reduction)
    assert_close(huber_loss, delta * sl1_loss, rtol=1e-14, atol=0)
    assert_close(huber_grad, delta * sl1_grad, rtol=1e-14, atol=0)


# ---------------------------------------------------------------------------------------------
# Gradients: 4th-order central differences away from the kinks
# ---------------------------------------------------------------------------------------------

def _differences_away_from_kinks(param, rng):
    """Differences d on both branches, at least 0.2 * param from |d| = param (and from 0)."""
    outside = np.array([0.3, 1.0, 2.5]) + 1.5 * param
    inside = param * np.array([0.2, 0.5, 0.8]) if param > 0 else np.empty(0)
    d = np.concatenate([inside, -inside, outside, -outside])
    return rng.permutation(d)


def _central_difference(f, x, h):
    return (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)


FD_PARAMS = [pytest.param("smooth_l1", p, id=f"smooth_l1-beta={p:g}")
             for p in (0.0, 1 / 9, 1.0, 2.5)]
FD_PARAMS += [pytest.param("huber", p, id=f"huber-delta={p:g}") for p in (1 / 9, 1.0, 2.5)]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, param", FD_PARAMS)
def test_gradient_finite_differences(loss, param, reduction, weighted):
    rng = np.random.default_rng(2)
    d = _differences_away_from_kinks(param, rng)
    target = rng.uniform(-1, 1, size=d.size)
    input = target + d
    weight = rng.uniform(0.5, 2.0, size=d.size) if weighted else None
    h = 1e-3 * min(param, 1.0) if param > 0 else 1e-3

    def reduced_loss(x):
        return call(loss, "loss", x, target, param, reduction=reduction, weight=weight)

    grad = call(loss, "grad", input, target, param, reduction=reduction, weight=weight)
    _, grad_both = call(loss, "loss_and_grad", input, target, param, reduction=reduction,
                        weight=weight)
    if reduction == "none":
        # elementwise losses: perturb every element at once
        numerical = _central_difference(reduced_loss, input, h)
    else:
        numerical = np.empty_like(input)
        for i in range(input.size):
            def along_i(step, i=i):
                x = input.copy()
                x[i] += step
                return reduced_loss(x)
            numerical[i] = _central_difference(along_i, 0.0, h)
    np.testing.assert_allclose(grad, numerical, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(grad_both, numerical, rtol=1e-7, atol=1e-9)

    # contract §1: the derivative with respect to target is minus the one with respect to input.
    if reduction == "none":
        def loss_of_target(t):
            return call(loss, "loss", input, t, param, reduction="none", weight=weight)
        np.testing.assert_allclose(_central_difference(loss_of_target, target, h), -grad,
                                   rtol=1e-7, atol=1e-9)


KINK_PARAMS = [pytest.param("smooth_l1", p, id=f"smooth_l1-beta={p:g}")
               for p in (1 / 9, 0.5, 1.0, 3.0, 1e-300, 1e300)]
KINK_PARAMS += [pytest.param("huber", p, id=f"huber-delta={p:g}")
                for p in (1 / 9, 0.5, 1.0, 3.0, 1e-150, 1e150)]


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["positive", "negative"])
@pytest.mark.parametrize("loss, param", KINK_PARAMS)
def test_continuous_across_kink(loss, param, sign):
    """Loss and derivative just below, at and just above |d| = param agree (C1, contract §1)."""
    z = np.array([np.nextafter(param, 0.0), param, np.nextafter(param, inf)])
    input = sign * z
    target = np.zeros(3)
    values, grads = call(loss, "loss_and_grad", input, target, param, reduction="none")
    at_kink_loss = 0.5 * param if loss == "smooth_l1" else 0.5 * param * param
    at_kink_grad = sign * (1.0 if loss == "smooth_l1" else param)
    np.testing.assert_allclose(values, at_kink_loss, rtol=1e-14)
    np.testing.assert_allclose(grads, at_kink_grad, rtol=1e-14)
    # Slightly further away on both sides: the jump equals the slope times the step.
    step = 1e-9 * param
    z2 = np.array([param - step, param + step])
    values2, grads2 = call(loss, "loss_and_grad", sign * z2, np.zeros(2), param,
                           reduction="none")
    slope = 1.0 if loss == "smooth_l1" else param
    np.testing.assert_allclose(values2[1] - values2[0], 2 * step * slope, rtol=1e-5)
    np.testing.assert_allclose(grads2, at_kink_grad, rtol=1e-8)


# ---------------------------------------------------------------------------------------------
# A power-of-two beta takes a multiplication by 1 / beta: the same bits as the division
# ---------------------------------------------------------------------------------------------

# Powers of two across the whole range: subnormal (2**-1073 and 2**-1074, whose reciprocal
# overflows and so takes the division), the edges of the normal range, and their neighbours.
POWER_OF_TWO_BETAS = [2.0**k for k in (-1074, -1073, -1060, -1023, -1022, -1021, -40, -1, 0, 1,
                                       3, 40, 1000, 1022, 1023)]
NEAR_POWER_OF_TWO_BETAS = [np.nextafter(b, np.inf) for b in POWER_OF_TWO_BETAS[2:]] + \
    [np.nextafter(b, 0.0) for b in POWER_OF_TWO_BETAS[2:]]


@pytest.mark.parametrize("beta", POWER_OF_TWO_BETAS + NEAR_POWER_OF_TWO_BETAS)
def test_smooth_l1_divides_exactly_for_every_beta(beta):
    # Differences of every magnitude relative to beta (subnormal to huge), both signs, and the
    # results' own subnormal range; each loss and gradient must be the correctly rounded
    # division formula, bit for bit, in float64 (the elementwise values the dtypes round).
    rng = np.random.default_rng(int.from_bytes(np.float64(beta).tobytes(), "little") % 2**32)
    exponents = rng.integers(-1074, 1024, size=4000)
    magnitudes = np.ldexp(rng.uniform(0.5, 1.0, size=4000), exponents)
    near_beta = beta * rng.uniform(0.0, 2.0, size=2000)
    d = np.concatenate([magnitudes, near_beta, [0.0, 5e-324, beta, np.nextafter(beta, 0)]])
    d = np.concatenate([d, -d])
    d = d[np.isfinite(d)]
    target = np.zeros_like(d)
    expected_loss, expected_grad = reference("smooth_l1", d, target, beta, reduction="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = smoothl1.smooth_l1_loss_and_grad(d, target, beta=beta, reduction="none")
    assert loss.tobytes() == expected_loss.tobytes()
    assert grad.tobytes() == expected_grad.tobytes()
    total = smoothl1.smooth_l1_loss(d, target, beta=beta, reduction="sum")
    assert_close(total, exact_sum(expected_loss), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# Sums are accumulated in double precision (contract §4)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss", ["smooth_l1", "huber"])   # whose float64 losses are exact here
def test_float32_sum_accumulated_in_double(loss, weighted):
    rng = np.random.default_rng(3)
    n = 10**6
    input = rng.uniform(-4, 4, size=n).astype(np.float32)
    target = rng.uniform(-1, 1, size=n).astype(np.float32)
    weight = rng.uniform(0, 2, size=n).astype(np.float32) if weighted else None
    # With param 1 every elementwise float64 loss is exact (d exact, d*d rounded once).
    d = input.astype(np.float64) - target.astype(np.float64)
    z = np.abs(d)
    if loss == "smooth_l1":
        elementwise = np.where(z < 1.0, 0.5 * d * d, z - 0.5)
    else:
        elementwise = np.where(z < 1.0, 0.5 * d * d, 1.0 * (z - 0.5))
    if weighted:
        elementwise = elementwise * weight.astype(np.float64)
    exact = math.fsum(elementwise)
    total = call(loss, "loss", input, target, 1.0, reduction="sum", weight=weight)
    assert type(total) is np.float32
    assert total == np.float32(exact)
    mean = call(loss, "loss", input, target, 1.0, reduction="mean", weight=weight)
    count = math.fsum(weight.astype(np.float64)) if weighted else n
    assert mean == np.float32(exact / count)


@pytest.mark.parametrize("loss", LOSSES)
def test_float64_sum_is_accurate(loss):
    rng = np.random.default_rng(4)
    n = 10**6
    input = rng.uniform(-4, 4, size=n)
    target = rng.uniform(-1, 1, size=n)
    elementwise_loss = reference(loss, input, target, 1.0, reduction="none")[0]
    exact = math.fsum(elementwise_loss)
    total = call(loss, "loss", input, target, 1.0, reduction="sum")
    assert type(total) is np.float64
    assert abs(total - exact) / exact < 1e-14
    mean = call(loss, "loss", input, target, 1.0, reduction="mean")
    assert abs(mean - exact / n) / (exact / n) < 1e-14


def test_exact_sum_helper():
    # The oracle's own sum: exact where math.fsum is, IEEE rules for inf and NaN.
    assert exact_sum([1e16, 1.0, -1e16]) == 1.0
    assert exact_sum([inf, 1.0]) == inf
    assert math.isnan(exact_sum([inf, -inf]))
    assert exact_sum([1e308, 1e308]) == inf
