"""Log-cosh and Cauchy (docs/contract.md section 16): what is specific to the two losses,
against references independent of the oracle where one exists.

- The oracle itself (tests/reference.py) against mpmath at 160 bits, on a grid of |d| and delta
  from 1e-300 (and subnormals) to 1e300: every other test trusts it.
- The library against mpmath: float64 within a few ulps, float32 correctly rounded (the
  float64 mpmath value rounded to float32, with no ulp of slack); hand values; limits (d = ±inf,
  delta = inf, d = 0, NaN, |q| past 710 where cosh overflows and past 1.3e154 where q**2 does);
  finite differences (grad is the derivative of the loss, "exact" of grad).
- The faces: SciPy's least_squares(loss="cauchy", f_scale=C) and a log-cosh fit, Keras' and
  optax's log-cosh at delta = 1, the XGBoost objective, smoothl1.dask, the C API through ctypes
  and the command line.

The generic tests (layouts, reductions, weights, axes, errors, fuzzing, hardening, threads, the
per-element C API) run both losses through reference.LOSSES.
"""
import ctypes
import functools
import inspect
import math
import os
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smoothl1
from capsules import capsule_address
from reference import (ELEMENTWISE, assert_close, curvature_elementwise, reference,
                       reference_grad_hess)

inf = math.inf
nan = math.nan
LOSSES = ("log_cosh", "cauchy")
QUANTITIES = ("loss", "grad", "exact", "irls")
# The oracle measures within 4.2 ulps of mpmath on the grid below (NumPy 2.4's SIMD log1p,
# sinh, cosh, tanh and exp are within 1 ulp); the bound leaves room for another libm. The
# library is held to the same bound (the contract: "within a few ulps").
MAX_ULPS = 6.0
PRECISION = 160   # bits: the grid's worst cancellation (1 - q**2 at q = 1 +- 1e-9) keeps 100


# ---------------------------------------------------------------------------------------------
# mpmath references: exact d and delta (the doubles' values), finite delta
# ---------------------------------------------------------------------------------------------

def mp_log_cosh(d, delta):
    """(loss, grad, exact, irls) of log-cosh as mpf numbers."""
    d, delta = mpmath.mpf(d), mpmath.mpf(delta)
    q = d / delta
    a = abs(q)
    if a > 1000:   # exp(-2 |q|) < 2**-2885, far below the working precision
        log_cosh = a - mpmath.log(2)
        tanh = mpmath.sign(q)
        sech_squared = 4 * mpmath.exp(-2 * a) if a < 1e6 else mpmath.mpf(0)
    else:
        log_cosh = mpmath.log1p(2 * mpmath.sinh(a / 2) ** 2)   # cosh(a) - 1 = 2 sinh(a/2)**2
        tanh = mpmath.tanh(q)
        sech_squared = 1 / mpmath.cosh(q) ** 2
    irls = mpmath.mpf(1) if q == 0 else tanh / q
    return delta ** 2 * log_cosh, delta * tanh, sech_squared, irls


def mp_cauchy(d, delta):
    """(loss, grad, exact, irls) of Cauchy as mpf numbers."""
    d, delta = mpmath.mpf(d), mpmath.mpf(delta)
    q = d / delta
    s = 1 + q * q
    return delta ** 2 / 2 * mpmath.log1p(q * q), d / s, (1 - q * q) / s ** 2, 1 / s


MP_REFERENCE = {"log_cosh": mp_log_cosh, "cauchy": mp_cauchy}


def mp_values(loss, d, delta):
    """The four quantities at each (d, delta) pair, as lists of mpf."""
    with mpmath.workprec(PRECISION):
        rows = [MP_REFERENCE[loss](float(x), float(p)) for x, p in zip(d, delta)]
    return [list(column) for column in zip(*rows)]


def ulps(got, exact):
    """|got - exact| in units of the spacing of doubles at exact (the subnormal spacing below
    the normal range); 0 where exact rounds to ±inf and got is that inf."""
    nearest = float(exact)
    if math.isinf(nearest):
        return 0.0 if got == nearest else inf
    if not math.isfinite(got):
        return inf
    with mpmath.workprec(PRECISION):
        return float(abs(mpmath.mpf(got) - exact) / max(math.ulp(abs(nearest)), 5e-324))


SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)


def error_in_ulps(got, exact):
    """ulps(got, exact), except where the exact value is below the normal range: there, as
    everywhere in the suite (reference.ATOL), an error up to the smallest normal number is
    accepted (0 is returned), to let a result that underflows be flushed to 0 a little early;
    beyond that the error counts in subnormal ulps."""
    error = ulps(got, exact)
    if abs(float(exact)) < SMALLEST_NORMAL and abs(got - float(exact)) <= SMALLEST_NORMAL:
        return 0.0
    return error


def worst(values, exact, d, delta):
    """(largest ulps error, a message naming its point) of float64 values against mpf ones."""
    errors = [error_in_ulps(float(v), e) for v, e in zip(values, exact)]
    i = int(np.argmax(errors))
    return errors[i], (f"{errors[i]:.3g} ulps at d={d[i]!r}, delta={delta[i]!r}: "
                       f"got {float(values[i])!r}, expected {float(exact[i])!r}")


def wide_grid():
    """(d, delta) pairs, float64: every pair of magnitudes 1e-300 .. 1e300 (a step of 1e10,
    random mantissas) with subnormals and the extremes, then q = d / delta drawn densely where
    the formulas switch or stop: 1e-10 .. 1e4, around 1 (Cauchy's curvature changes sign),
    20, 355 .. 380 (sech**2 underflows) and 700 .. 720 (cosh overflows), at random scales.
    Half of the d are negative."""
    rng = np.random.default_rng(160)
    magnitudes = 10.0 ** np.arange(-300, 301, 10)
    ds = np.concatenate([magnitudes * rng.uniform(1, 10, magnitudes.size),
                         [5e-324, 1e-310, 2.2250738585072014e-308, 1.7e308]])
    deltas = np.concatenate([magnitudes * rng.uniform(1, 10, magnitudes.size),
                             [5e-324, 1e-310, 1.7e308]])
    d, delta = (grid.ravel() for grid in np.meshgrid(ds, deltas))
    q = np.concatenate([np.exp(rng.uniform(np.log(1e-10), np.log(1e4), 2000)),
                        1 + rng.normal(scale=1e-6, size=200), 1 + rng.normal(scale=1e-9, size=50),
                        20 + rng.normal(scale=1e-3, size=100), rng.uniform(355, 380, 200),
                        rng.uniform(700, 720, 50)])
    scale = 10.0 ** rng.uniform(-250, 250, q.size)
    d = np.concatenate([d, q * scale])
    delta = np.concatenate([delta, scale])
    return d * np.where(rng.random(d.size) < 0.5, -1.0, 1.0), delta


@functools.lru_cache(maxsize=None)
def wide_grid_with_exact_values(loss):
    d, delta = wide_grid()
    return d, delta, mp_values(loss, d, delta)


def oracle_values(loss, d, delta):
    """(loss, grad, exact, irls) from tests/reference.py, float64."""
    loss_values, grad = ELEMENTWISE[loss](d, delta)
    return (loss_values, grad, curvature_elementwise(loss, d, delta, "exact"),
            curvature_elementwise(loss, d, delta, "irls"))


def library_values(loss, input, delta, target=0.0):
    """(loss, grad, exact, irls) from smoothl1, elementwise, at the differences input - target;
    delta a number or an array (per element)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_values, grad = getattr(smoothl1, f"{loss}_loss_and_grad")(
            input, target, delta=delta, reduction="none")
        grad_hess = getattr(smoothl1, f"{loss}_grad_hess")
        exact = grad_hess(input, target, delta=delta, curvature="exact")[1]
        irls = grad_hess(input, target, delta=delta, curvature="irls")[1]
    return loss_values, grad, exact, irls


# ---------------------------------------------------------------------------------------------
# The oracle itself
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES)
def test_oracle_is_within_a_few_ulps_of_mpmath(loss):
    d, delta, exact = wide_grid_with_exact_values(loss)
    for name, values, expected in zip(QUANTITIES, oracle_values(loss, d, delta), exact):
        error, where = worst(values, expected, d, delta)
        assert error <= MAX_ULPS, f"oracle {loss} {name}: {where}"


@pytest.mark.parametrize("loss", LOSSES)
def test_oracle_special_values(loss):
    """The rules of section 16 that mpmath's formulas do not reach: delta = inf is 0.5 * d**2
    (d = ±inf too), d = ±inf gives loss inf, log-cosh's grad ±delta and Cauchy's 0, and
    curvatures +0.0; NaN gives NaN."""
    d = np.array([3.0, -1e200, 0.0, inf, -inf, inf, -inf, nan, nan])
    delta = np.array([inf, inf, inf, 2.5, 2.5, inf, inf, 1.0, inf])
    far_grad = [2.5, -2.5] if loss == "log_cosh" else [0.0, -0.0]
    loss_values, grad, exact, irls = oracle_values(loss, d, delta)
    np.testing.assert_array_equal(loss_values, [4.5, inf, 0.0, inf, inf, inf, inf, nan, nan])
    np.testing.assert_array_equal(grad, [3.0, -1e200, 0.0, *far_grad, inf, -inf, nan, nan])
    np.testing.assert_array_equal(exact, [1, 1, 1, 0, 0, 0, 0, nan, nan])
    np.testing.assert_array_equal(irls, [1, 1, 1, 0, 0, 0, 0, nan, nan])
    assert not np.signbit(exact[3:7]).any() and not np.signbit(irls[3:7]).any()


# ---------------------------------------------------------------------------------------------
# The library against mpmath
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES)
def test_float64_is_within_a_few_ulps_of_mpmath(loss):
    d, delta, exact = wide_grid_with_exact_values(loss)
    failures = []
    for name, values, expected in zip(QUANTITIES, library_values(loss, d, delta), exact):
        error, where = worst(values, expected, d, delta)
        if error > MAX_ULPS:
            failures.append(f"{name}: {where}")
    assert not failures, f"{loss}:\n" + "\n".join(failures)


FLOAT32_MAX_ROUNDED_UP = 2 ** 128 - 2 ** 103   # from here up, float32 rounding gives inf


def round_to_float32(exact):
    """The float32 nearest to the mpf exact (ties to even), from the nearest double and its
    float32 neighbours (the double alone can round twice)."""
    if abs(exact) >= FLOAT32_MAX_ROUNDED_UP:
        return np.float32(inf if exact > 0 else -inf)
    start = np.float32(float(exact)) if abs(float(exact)) < 3.4e38 else \
        np.float32(math.copysign(np.finfo(np.float32).max, float(exact)))
    candidates = [start, np.nextafter(start, np.float32(-inf)),
                  np.nextafter(start, np.float32(inf))]
    with mpmath.workprec(PRECISION):
        distances = [abs(mpmath.mpf(float(c)) - exact) for c in candidates]
    best = min(distances)
    tied = [c for c, distance in zip(candidates, distances) if distance == best]
    return min(tied, key=lambda c: int(np.array(c).view(np.uint32)) & 1)


def float32_grid():
    """(input, target, delta) float32: magnitudes over float32's whole range (subnormals too)
    against target 0, then moderate differences of random inputs and targets."""
    rng = np.random.default_rng(32)
    magnitudes = 10.0 ** np.arange(-44, 39, 3)
    ds = np.concatenate([magnitudes * rng.uniform(1, 3, magnitudes.size), [1.4e-45, 3.4e38]])
    deltas = np.concatenate([magnitudes * rng.uniform(1, 3, magnitudes.size), [1.4e-45]])
    wide_input, wide_delta = (grid.ravel().astype(np.float32) for grid in np.meshgrid(ds, deltas))
    wide_input *= np.where(rng.random(wide_input.size) < 0.5, -1, 1).astype(np.float32)
    n = 3000
    input = np.concatenate([wide_input, rng.normal(scale=4, size=n).astype(np.float32)])
    target = np.concatenate([np.zeros(wide_input.size, np.float32),
                             rng.normal(size=n).astype(np.float32)])
    delta = np.concatenate([wide_delta, rng.choice([0.1, 0.5, 1.0, 1.7, 3.0, 40.0], n)
                            .astype(np.float32)])
    return input, target, delta


@pytest.mark.parametrize("loss", LOSSES)
def test_float32_is_correctly_rounded(loss):
    """Each float32 result is the exact value rounded once to float32: the kernels compute in
    double (within a few ulps) and round once, which can differ from the correct rounding only
    when the exact value lies within a few double ulps of a float32 midpoint (a chance of about
    1e-8 per value; none occurs here)."""
    input, target, delta = float32_grid()
    d = input.astype(np.float64) - target.astype(np.float64)   # exact: both are float32
    exact = mp_values(loss, d, delta.astype(np.float64))
    failures = []
    for name, values, expected in zip(QUANTITIES, library_values(loss, input, delta, target),
                                      exact):
        assert values.dtype == np.float32
        rounded = np.array([round_to_float32(e) for e in expected], dtype=np.float32)
        wrong = np.flatnonzero(values.view(np.uint32) != rounded.view(np.uint32))
        # zeros of either sign are the same rounding (Cauchy's negative curvature underflows)
        wrong = [i for i in wrong if not (values[i] == 0 and rounded[i] == 0)]
        if wrong:
            i = wrong[0]
            failures.append(f"{name}: {len(wrong)} values, e.g. d={d[i]!r}, "
                            f"delta={float(delta[i])!r}: got {values[i]!r}, "
                            f"expected {rounded[i]!r}")
    assert not failures, f"{loss}:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# Hand values
# ---------------------------------------------------------------------------------------------

LN2, LN3, LN10 = math.log(2), math.log(3), math.log(10)

# (delta, d, (loss, grad, exact, irls)), worked out by hand: cosh(ln 2) = 5/4, tanh(ln 2) = 3/5;
# cosh(ln 3) = 5/3, tanh(ln 3) = 4/5; far out, log(cosh(q)) = |q| - ln 2 and tanh(q) = ±1
LOG_COSH_HAND = [
    (1.0, 0.0, (0.0, 0.0, 1.0, 1.0)),
    (1.0, LN2, (math.log(1.25), 0.6, 0.64, 0.6 / LN2)),
    (1.0, -LN3, (math.log(5 / 3), -0.8, 0.36, 0.8 / LN3)),
    (2.0, 2 * LN2, (4 * math.log(1.25), 1.2, 0.64, 0.6 / LN2)),
    (0.5, 0.5 * LN3, (0.25 * math.log(5 / 3), 0.4, 0.36, 0.8 / LN3)),
    (1.0, 1e-10, (5e-21, 1e-10, 1.0, 1.0)),              # 0.5 d**2: no cancellation
    (1e300, 1.0, (0.5, 1.0, 1.0, 1.0)),                  # q = 1e-300
    (1.0, 709.5, (709.5 - LN2, 1.0, 0.0, 1 / 709.5)),    # either side of cosh's overflow
    (1.0, -711.0, (711.0 - LN2, -1.0, 0.0, 1 / 711.0)),
    (3.0, 3000.0, (3.0 * (3000.0 - 3.0 * LN2), 3.0, 0.0, 1e-3)),
    (1.0, 1e154, (1e154, 1.0, 0.0, 1e-154)),
    (1.0, 1e300, (1e300, 1.0, 0.0, 1e-300)),
    (1e-300, 1.0, (1e-300, 1e-300, 0.0, 1e-300)),        # q = 1e300
    (1e-300, 1e300, (1e-300 * 1e300, 1e-300, 0.0, 0.0)), # q overflows; the loss is 1.0
    (inf, 3.0, (4.5, 3.0, 1.0, 1.0)),                    # delta = inf: 0.5 d**2
    (1.0, inf, (inf, 1.0, 0.0, 0.0)),
    (2.5, -inf, (inf, -2.5, 0.0, 0.0)),
    (inf, inf, (inf, inf, 0.0, 0.0)),
    (1.0, nan, (nan, nan, nan, nan)),
]
# q = d / delta; 3-4-5: 1 + (4/3)**2 = 25/9
CAUCHY_HAND = [
    (1.0, 0.0, (0.0, 0.0, 1.0, 1.0)),
    (1.0, 1.0, (0.5 * LN2, 0.5, 0.0, 0.5)),              # the curvature's zero, |d| = delta
    (2.0, -2.0, (2 * LN2, -1.0, 0.0, 0.5)),
    (1.0, 3.0, (0.5 * LN10, 0.3, -0.08, 0.1)),
    (3.0, 4.0, (4.5 * math.log(25 / 9), 1.44, -63 / 625, 0.36)),
    (1.0, 1e-10, (5e-21, 1e-10, 1.0, 1.0)),
    (1e300, 1.0, (0.5, 1.0, 1.0, 1.0)),
    (1.0, 1e154, (154 * LN10, 1e-154, -1e-308, 1e-308)), # q**2 overflows from 1.3e154
    (1.0, -1e200, (200 * LN10, -1e-200, 0.0, 0.0)),
    (1.0, 1e300, (300 * LN10, 1e-300, 0.0, 0.0)),
    (1e-150, 1.0, (1e-300 * 150 * LN10, 1e-300, -1e-300, 1e-300)),
    (1e-300, 1e10, (0.0, 0.0, 0.0, 0.0)),                # q = 1e310 overflows; 1e-600 * 713
    (inf, 3.0, (4.5, 3.0, 1.0, 1.0)),
    (1.0, inf, (inf, 0.0, 0.0, 0.0)),
    (2.5, -inf, (inf, 0.0, 0.0, 0.0)),
    (inf, -inf, (inf, -inf, 0.0, 0.0)),                  # delta = inf: L2, d = inf included
    (1.0, nan, (nan, nan, nan, nan)),
]
HAND = [pytest.param(loss, delta, d, expected, id=f"{loss}-delta={delta:g}-d={d:g}")
        for loss, cases in (("log_cosh", LOG_COSH_HAND), ("cauchy", CAUCHY_HAND))
        for delta, d, expected in cases]
# A hand value holds a rounding or two (of math.log, of a quotient, of the argument d when it
# is ln 2 or ln 3); the library is within a few ulps of the exact value.
HAND_RTOL = 8 * 2.0 ** -52


@pytest.mark.parametrize("loss, delta, d, expected", HAND)
def test_hand_values(loss, delta, d, expected):
    for source, values in (("smoothl1", library_values(loss, np.array([d]), delta)),
                           ("oracle", oracle_values(loss, np.array([d]), delta))):
        for name, got, value in zip(QUANTITIES, values, expected):
            assert_close(got, np.array([value]), rtol=HAND_RTOL, atol=1e-320,
                         err_msg=f"{source} {name}")


# ---------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------

DELTAS = [5e-324, 1e-300, 1e-5, 0.5, 1.0, 3.0, 1e5, 1e300, 1.7e308, inf]


@pytest.mark.parametrize("loss", LOSSES)
def test_infinite_differences(loss):
    """d = ±inf: loss inf; grad ±delta (log-cosh) or 0 of either sign (Cauchy), except for
    delta = inf, where both are 0.5 * d**2 and the grad is d; curvatures +0.0."""
    for delta in DELTAS:
        loss_values, grad, exact, irls = library_values(loss, np.array([inf, -inf]), delta)
        np.testing.assert_array_equal(loss_values, [inf, inf])
        if loss == "log_cosh" or delta == inf:
            np.testing.assert_array_equal(grad, [delta, -delta])
        else:
            np.testing.assert_array_equal(grad, [0.0, 0.0])
        for curvature in (exact, irls):
            assert (curvature == 0).all() and not np.signbit(curvature).any(), (delta, curvature)


@pytest.mark.parametrize("loss", LOSSES)
def test_infinite_delta_is_half_the_square(loss):
    d = np.array([0.0, -0.0, 5e-324, 1e-300, -0.75, 3.0, 1e100, -1.3e154, 1e200, 1.7e308])
    loss_values, grad, exact, irls = library_values(loss, d, inf)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(loss_values, 0.5 * d * d)   # +0.0 at -0.0
    assert not np.signbit(loss_values).any()
    assert grad.tobytes() == d.tobytes()                          # -0.0 keeps its sign
    np.testing.assert_array_equal(exact, 1.0)
    np.testing.assert_array_equal(irls, 1.0)


@pytest.mark.parametrize("loss", LOSSES)
def test_zero_and_nan(loss):
    for delta in DELTAS:
        loss_values, grad, exact, irls = library_values(loss, np.array([0.0, -0.0, nan]), delta)
        assert loss_values[:2].tobytes() == np.zeros(2).tobytes()      # +0.0 for both zeros
        assert grad[:2].tobytes() == np.array([0.0, -0.0]).tobytes()   # the sign of d
        np.testing.assert_array_equal(exact[:2], 1.0)
        np.testing.assert_array_equal(irls[:2], 1.0)
        assert all(np.isnan(values[2]) for values in (loss_values, grad, exact, irls))


@pytest.mark.parametrize("delta", [1e-300, 1e-5, 1.0, 7.0, 1e5, 1e300])
def test_log_cosh_does_not_overflow_past_cosh(delta):
    """|q| from 700 to 720 (cosh overflows at 710) and far beyond, to 1e300: against mpmath,
    within a few ulps (the loss overflows only where delta * |d| does)."""
    q = np.concatenate([np.linspace(700, 720, 41), 10.0 ** np.arange(3, 301, 3)])
    with np.errstate(over="ignore"):
        d = np.concatenate([q, -q]) * delta
    d = d[np.isfinite(d)]
    exact = mp_values("log_cosh", d, np.full(d.size, delta))
    for name, values, expected in zip(QUANTITIES, library_values("log_cosh", d, delta), exact):
        error, where = worst(values, expected, d, np.full(d.size, delta))
        assert error <= MAX_ULPS, f"{name}: {where}"


@pytest.mark.parametrize("delta", [1e-300, 1e-150, 1.0, 1e5, 1e150])
def test_cauchy_does_not_overflow_past_q_squared(delta):
    """|q| around 1.3e154 (q**2 overflows) and up to double's range: against mpmath."""
    q = np.concatenate([1.34e154 * np.linspace(0.9, 1.1, 21), 10.0 ** np.arange(100, 301, 10)])
    with np.errstate(over="ignore"):
        d = np.concatenate([q, -q]) * delta
    d = d[np.isfinite(d)]
    exact = mp_values("cauchy", d, np.full(d.size, delta))
    for name, values, expected in zip(QUANTITIES, library_values("cauchy", d, delta), exact):
        error, where = worst(values, expected, d, np.full(d.size, delta))
        assert error <= MAX_ULPS, f"{name}: {where}"


@pytest.mark.parametrize("loss", LOSSES)
def test_subnormal_differences_and_deltas(loss):
    """Subnormal d against normal, subnormal and huge delta: the grad stays d (or, far out,
    its closed form) instead of flushing to 0, against mpmath."""
    tiny = np.array([5e-324, 1e-323, 3e-320, 1e-315, 2.2e-308])
    d = np.concatenate([tiny, -tiny])
    for delta in (5e-324, 1e-320, 1e-310, 1.0, 1e300):
        exact = mp_values(loss, d, np.full(d.size, delta))
        for name, values, expected in zip(QUANTITIES, library_values(loss, d, delta), exact):
            error, where = worst(values, expected, d, np.full(d.size, delta))
            assert error <= MAX_ULPS, f"{name}: {where}"


# ---------------------------------------------------------------------------------------------
# Derivatives and shape of the curves
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("delta", [1e-3, 0.5, 1.0, 4.0, 1e3])
@pytest.mark.parametrize("loss", LOSSES)
def test_derivatives_by_finite_differences(loss, delta):
    """grad is the derivative of the loss and "exact" the derivative of grad (4th-order
    central differences, float64); "irls" is grad / d."""
    rng = np.random.default_rng(12)
    d = rng.normal(scale=3 * delta, size=200)
    h = 1e-3 * delta
    loss_function = getattr(smoothl1, f"{loss}_loss")
    grad_function = getattr(smoothl1, f"{loss}_grad")

    def loss_at(values):
        return loss_function(values, 0.0, delta=delta, reduction="none")

    def grad_at(values):
        return grad_function(values, 0.0, delta=delta, reduction="none")

    def derivative(f):
        return (-f(d + 2 * h) + 8 * f(d + h) - 8 * f(d - h) + f(d - 2 * h)) / (12 * h)

    _, grad, exact, irls = library_values(loss, d, delta)
    np.testing.assert_allclose(grad, derivative(loss_at), rtol=1e-7, atol=1e-9 * delta)
    np.testing.assert_allclose(exact, derivative(grad_at), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(irls * d, grad, rtol=8 * 2.0 ** -52, atol=0)


@pytest.mark.parametrize("loss", LOSSES)
def test_symmetry_bit_for_bit(loss):
    """loss(-d) = loss(d), grad(-d) = -grad(d), the curvatures even, for every delta."""
    rng = np.random.default_rng(14)
    d = np.concatenate([10.0 ** rng.uniform(-320, 308, 500), rng.normal(scale=3, size=500)])
    for delta in DELTAS:
        plus = library_values(loss, d, delta)
        minus = library_values(loss, -d, delta)
        assert plus[0].tobytes() == minus[0].tobytes()
        assert plus[1].tobytes() == (-minus[1]).tobytes()
        assert plus[2].tobytes() == minus[2].tobytes()
        assert plus[3].tobytes() == minus[3].tobytes()


@settings(max_examples=300, deadline=None)
@given(d=st.floats(-1e300, 1e300), delta=st.floats(1e-300, 1e300))
def test_losses_are_ordered(d, delta):
    """With one delta: Cauchy <= pseudo-Huber <= log-cosh <= Huber (in q: 0.5 log1p(q**2) <=
    sqrt(1 + q**2) - 1 <= log(cosh(q)) <= Huber's), up to each one's few ulps."""
    input = np.array([d])
    values = [getattr(smoothl1, f"{loss}_loss")(input, 0.0, delta=delta, reduction="none")[0]
              for loss in ("cauchy", "pseudo_huber", "log_cosh", "huber")]
    slack = 1 + 16 * 2.0 ** -52
    for smaller, larger in zip(values, values[1:]):
        assert smaller <= larger * slack, values


@pytest.mark.parametrize("delta", [1e-3, 1.0, 50.0])
def test_cauchy_curvature_changes_sign_at_delta_and_irls_stays_positive(delta):
    d = delta * np.array([0.0, 0.5, 0.999, 1.001, 2.0, 1e3, 1e100])
    _, grad, exact, irls = library_values("cauchy", np.concatenate([d, -d]), delta)
    np.testing.assert_array_equal(np.sign(exact), [1, 1, 1, -1, -1, -1, -1] * 2)
    assert (irls > 0).all()
    # the gradient falls back towards 0 past |d| = delta: gross outliers barely pull
    assert np.all(np.diff(np.abs(grad[3:7])) < 0)


# ---------------------------------------------------------------------------------------------
# The other libraries' losses
# ---------------------------------------------------------------------------------------------

def test_log_cosh_at_delta_one_is_keras_and_optax():
    """Keras' LogCosh and optax's log_cosh: log(cosh(y_pred - y_true)), Keras averaging over
    the last axis. log(cosh(d)) as written keeps its digits for |d| >= 1 (log(cosh(d)) is not
    small) and below 710 (cosh overflows); smaller differences are the hand values' and
    mpmath's."""
    rng = np.random.default_rng(15)
    y_true = rng.normal(size=(64, 5))
    d = rng.choice([-1, 1], size=(64, 5)) * rng.uniform(1.0, 300, size=(64, 5))
    y_pred = y_true + d
    d = y_pred - y_true      # the differences the library sees
    elementwise = smoothl1.log_cosh_loss(y_pred, y_true, reduction="none")
    np.testing.assert_allclose(elementwise, np.log(np.cosh(d)), rtol=2e-15, atol=0)
    np.testing.assert_allclose(smoothl1.log_cosh_loss(y_pred, y_true, axis=-1),
                               np.mean(np.log(np.cosh(d)), axis=-1), rtol=4e-15, atol=0)
    np.testing.assert_allclose(smoothl1.log_cosh_grad(y_pred, y_true, reduction="none"),
                               np.tanh(d), rtol=1e-15, atol=0)


def scipy_builtin_rho(name, f_scale, f):
    """SciPy's own loss function for least_squares(loss=name, f_scale=f_scale), applied to the
    residuals f: the (3, m) array least_squares uses. A private helper of SciPy's, so skip
    if it moved."""
    try:
        from scipy.optimize._lsq.least_squares import construct_loss_function
    except ImportError:
        pytest.skip("scipy.optimize._lsq.least_squares.construct_loss_function moved")
    return construct_loss_function(f.size, name, f_scale)(f)


@pytest.mark.parametrize("f_scale", [0.05, 0.3, 1.0, 4.5, 1e3])
def test_cauchy_rho_is_scipys(f_scale):
    """least_squares_loss("cauchy", delta=C) given z = f**2 is SciPy's loss="cauchy",
    f_scale=C given f: C**2 log1p(z / C**2), 1 / (1 + z / C**2), -1 / C**2 / (1 + z / C**2)**2."""
    pytest.importorskip("scipy.optimize")
    f = np.concatenate([[0.0, f_scale, -f_scale], f_scale * np.logspace(-4, 4, 201)])
    ours = smoothl1.least_squares_loss("cauchy", delta=f_scale)(f * f).copy()
    theirs = scipy_builtin_rho("cauchy", f_scale, f)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)


def line_with_outliers():
    rng = np.random.default_rng(41)
    x = np.linspace(0, 10, 200)
    y = 3.0 * x - 2.0 + 0.3 * rng.normal(size=200)
    y[::13] += rng.uniform(15, 40, y[::13].size)
    return x, y


@pytest.mark.parametrize("f_scale", [0.3, 1.0, 3.0])
def test_cauchy_least_squares_finds_scipys_solution(f_scale):
    optimize = pytest.importorskip("scipy.optimize")
    x, y = line_with_outliers()

    def residuals(p):
        return p[0] * x + p[1] - y

    expected = optimize.least_squares(residuals, [1.0, 0.0], loss="cauchy", f_scale=f_scale)
    # delta plays f_scale's part ...
    scaled = optimize.least_squares(residuals, [1.0, 0.0],
                                    loss=smoothl1.least_squares_loss("cauchy", delta=f_scale))
    np.testing.assert_allclose(scaled.x, expected.x, rtol=1e-7, atol=1e-9)
    # ... and delta = 1 with f_scale is SciPy's loss with the same f_scale
    same_scale = optimize.least_squares(residuals, [1.0, 0.0], f_scale=f_scale,
                                        loss=smoothl1.least_squares_loss("cauchy"))
    np.testing.assert_allclose(same_scale.x, expected.x, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(same_scale.cost, expected.cost, rtol=1e-9)
    assert abs(expected.x[0] - 3.0) < 0.05   # robust: the outliers are all but ignored


def mp_log_cosh_rho(z, delta):
    """SciPy's (rho, rho', rho'') for log-cosh: rho(z) = 2 delta**2 log(cosh(sqrt(z) / delta)),
    differentiated in z by mpmath."""
    with mpmath.workprec(PRECISION):
        z, delta = mpmath.mpf(z), mpmath.mpf(delta)

        def rho(t):
            return 2 * delta ** 2 * mpmath.log(mpmath.cosh(mpmath.sqrt(t) / delta))
        return [float(mpmath.diff(rho, z, n)) for n in range(3)]


@pytest.mark.parametrize("delta", [0.2, 1.0, 6.0])
def test_log_cosh_rho(delta):
    """rho = 2 loss(sqrt(z)), rho' its derivative (the "irls" curvature), rho'' the second,
    against mpmath; rho'' only matters beside rho' in SciPy's 2 z rho'' + rho' (the
    Jacobian's scaling), so it is held to that sum's precision."""
    z = np.concatenate([[1e-12, 1e-6], (delta * np.logspace(-3, 2, 40)) ** 2])
    rho = smoothl1.least_squares_loss("log_cosh", delta=delta)(z).copy()
    expected = np.array([mp_log_cosh_rho(v, delta) for v in z]).T
    np.testing.assert_allclose(rho[0], expected[0], rtol=1e-14, atol=0)
    np.testing.assert_allclose(rho[1], expected[1], rtol=1e-14, atol=0)
    np.testing.assert_allclose(2 * z * rho[2], 2 * z * expected[2], rtol=1e-12,
                               atol=1e-14 * np.abs(expected[1]).min())
    # rho'' = -1 / (3 delta**2) + 4 z / (15 delta**4) + ...: at z = 1e-12, its limit at 0
    np.testing.assert_allclose(rho[2][0], -1 / (3 * delta ** 2), rtol=1e-9)


def test_log_cosh_least_squares_converges_to_the_minimum():
    """A robust line fit with log-cosh converges (SciPy's own criteria), to the minimum of
    sum(log_cosh(residuals)): the gradient J^T grad(r) there is ~0; and it is far closer to
    the true line than plain least squares."""
    optimize = pytest.importorskip("scipy.optimize")
    x, y = line_with_outliers()
    delta = 0.5

    def residuals(p):
        return p[0] * x + p[1] - y

    fit = optimize.least_squares(residuals, [1.0, 0.0],
                                 loss=smoothl1.least_squares_loss("log_cosh", delta=delta))
    plain = optimize.least_squares(residuals, [1.0, 0.0])
    assert fit.success and fit.status > 0
    grad = smoothl1.log_cosh_grad(residuals(fit.x), 0.0, delta=delta, reduction="sum")
    jacobian = np.stack([x, np.ones_like(x)], axis=1)
    assert np.abs(jacobian.T @ grad).max() < 1e-6 * np.abs(jacobian).sum()
    assert np.abs(fit.x - [3.0, -2.0]).max() < 0.3 * np.abs(plain.x - [3.0, -2.0]).max()
    cost = smoothl1.log_cosh_loss(residuals(fit.x), 0.0, delta=delta, reduction="sum")
    assert fit.cost == pytest.approx(cost, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Gradient boosting
# ---------------------------------------------------------------------------------------------

def boosting_data(n=800, seed=30):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = 2 * X[:, 0] + np.sin(2 * X[:, 1]) + 0.1 * rng.normal(size=n)
    outlier = rng.random(n) < 0.05
    y[outlier] += rng.choice([-1, 1], outlier.sum()) * rng.uniform(20, 50, outlier.sum())
    return X, y, rng.uniform(0.2, 3.0, size=n), outlier


@pytest.mark.parametrize("loss", LOSSES)
def test_xgboost_objective_is_grad_hess_irls(loss):
    from smoothl1 import boosting
    X, y, w, outlier = boosting_data()
    prediction = np.random.default_rng(31).normal(scale=3, size=y.size)
    objective = boosting.xgboost_objective(loss, delta=0.8)      # curvature="irls" by default
    expected = getattr(smoothl1, f"{loss}_grad_hess")(prediction, y, delta=0.8, weight=w,
                                                      curvature="irls")
    # scikit-learn's calling convention needs no XGBoost
    grad, hess = objective(y, prediction, sample_weight=w)
    assert grad.tobytes() == expected[0].tobytes() and hess.tobytes() == expected[1].tobytes()
    xgb = pytest.importorskip("xgboost")
    dtrain = xgb.DMatrix(X, label=y, weight=w)
    label = dtrain.get_label().astype(np.float64)    # XGBoost keeps float32 labels
    weight = dtrain.get_weight().astype(np.float64)
    expected = getattr(smoothl1, f"{loss}_grad_hess")(prediction, label, delta=0.8,
                                                      weight=weight, curvature="irls")
    grad, hess = objective(prediction, dtrain)
    assert grad.tobytes() == expected[0].tobytes() and hess.tobytes() == expected[1].tobytes()
    # and it trains, robustly: the weighted mean loss falls, and the inliers are fitted
    # (their RMSE well below their spread) although 5% of the labels are off by 20 to 50
    start = float(np.median(y))
    booster = xgb.train(dict(max_depth=3, eta=0.3, base_score=start, tree_method="hist",
                             nthread=1), dtrain, 30, obj=objective)
    fitted = booster.predict(dtrain).astype(np.float64)
    loss_function = getattr(smoothl1, f"{loss}_loss")
    assert (loss_function(fitted, y, delta=0.8, weight=w)
            < loss_function(np.full(y.size, start), y, delta=0.8, weight=w))
    inlier = ~outlier
    rmse = np.sqrt(np.mean((fitted[inlier] - y[inlier]) ** 2))
    assert rmse < 0.3 * np.std(y[inlier])


# ---------------------------------------------------------------------------------------------
# smoothl1.dask
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", LOSSES)
def test_dask_functions_equal_numpy(loss):
    pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    import dask
    import smoothl1.dask as sd
    rng = np.random.default_rng(16)
    input = rng.normal(scale=3, size=(37, 23))
    input[0, :4] = [inf, -inf, nan, 0.0]
    target = rng.normal(size=23)
    weight = rng.uniform(0.1, 1.0, size=(37, 23))
    lazy_input = da.from_array(input, chunks=((5, 20, 12), (3, 20)))
    for reduction in ("none", "sum", "mean"):
        for w in (None, weight):
            kwargs = dict(delta=1.3, reduction=reduction, weight=w)
            loss_value, grad = dask.compute(
                *getattr(sd, f"{loss}_loss_and_grad")(lazy_input, target, **kwargs),
                scheduler="synchronous")
            expected_loss, expected_grad = getattr(smoothl1, f"{loss}_loss_and_grad")(
                input, target, **kwargs)
            # elementwise results are the NumPy path's bits; a weighted mean divides by a
            # sum of per-block weight sums, and reductions add per-block sums
            if w is None or reduction != "mean":
                assert grad.tobytes() == expected_grad.tobytes()
            np.testing.assert_allclose(grad, expected_grad, rtol=1e-13)
            if reduction == "none":
                assert loss_value.tobytes() == expected_loss.tobytes()
            assert loss_value.dtype == expected_loss.dtype
            np.testing.assert_allclose(loss_value, expected_loss, rtol=1e-12)
            for kind, expected in (("loss", expected_loss), ("grad", expected_grad)):
                got = getattr(sd, f"{loss}_{kind}")(lazy_input, target, **kwargs).compute(
                    scheduler="synchronous")
                np.testing.assert_allclose(got, expected, rtol=1e-12)
    for curvature in ("exact", "irls", "one"):
        grad, hess = dask.compute(*getattr(sd, f"{loss}_grad_hess")(
            lazy_input, target, delta=1.3, weight=weight, curvature=curvature),
            scheduler="synchronous")
        expected = getattr(smoothl1, f"{loss}_grad_hess")(input, target, delta=1.3,
                                                          weight=weight, curvature=curvature)
        assert grad.tobytes() == expected[0].tobytes()
        assert hess.tobytes() == expected[1].tobytes()


# ---------------------------------------------------------------------------------------------
# The C API, through ctypes
# ---------------------------------------------------------------------------------------------

CTYPES = {"f32": (np.float32, ctypes.c_float), "f64": (np.float64, ctypes.c_double)}


def c_function(name, restype, *argtypes):
    from smoothl1 import _smoothl1
    return ctypes.CFUNCTYPE(restype, *argtypes)(capsule_address(_smoothl1.__pyx_capi__[name]))


def pointer(array, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


@pytest.mark.parametrize("suffix", CTYPES)
@pytest.mark.parametrize("loss", LOSSES)
def test_c_api_gives_the_python_api_bit_for_bit(loss, suffix):
    """smoothl1_<loss>_<operation>_<dtype>[_strided] (docs/embedding.md): the sum, the
    elementwise loss, the gradient scaled by grad_scale, both in one pass, and grad_hess with
    each curvature, over 40,000 elements with NaN and infinite ones."""
    dtype, ctype = CTYPES[suffix]
    rng = np.random.default_rng(17)
    n = 40_000
    x = (rng.standard_normal(n) * 3).astype(dtype)
    x[::97] = nan
    x[1::89] = inf
    x[2::83] = -inf
    t = rng.standard_normal(n).astype(dtype)
    finite_x = np.where(np.isfinite(x), x, 0).astype(dtype)   # a sum without NaN
    array = ctypes.POINTER(ctype)
    size, double = ctypes.c_ssize_t, ctypes.c_double
    delta = 0.7
    python = {kind: functools.partial(getattr(smoothl1, f"{loss}_{kind}"), delta=delta)
              for kind in ("loss", "grad", "loss_and_grad", "grad_hess")}

    total = c_function(f"smoothl1_{loss}_loss_sum_{suffix}", double, size, array, array,
                       double)(n, pointer(finite_x, ctype), pointer(t, ctype), delta)
    assert dtype(total) == python["loss"](finite_x, t, reduction="sum")
    # an unrounded double: the pairwise sum is within a few ulps of the exact sum
    assert total == pytest.approx(float(reference(loss, finite_x.astype(np.float64),
                                                  t.astype(np.float64), delta, "sum")[0]),
                                  rel=1e-12)

    out = np.empty_like(x)
    c_function(f"smoothl1_{loss}_loss_{suffix}", None, size, array, array, array, double)(
        n, pointer(x, ctype), pointer(t, ctype), pointer(out, ctype), delta)
    assert out.tobytes() == python["loss"](x, t, reduction="none").tobytes()
    assert_close(out, reference(loss, x, t, delta, "none")[0])

    c_function(f"smoothl1_{loss}_grad_{suffix}", None, size, array, array, array, double,
               double)(n, pointer(x, ctype), pointer(t, ctype), pointer(out, ctype), delta,
                       1.0 / n)
    assert out.tobytes() == python["grad"](x, t, reduction="mean").tobytes()

    total = c_function(f"smoothl1_{loss}_loss_and_grad_{suffix}", double, size, array, array,
                       array, double, double)(n, pointer(finite_x, ctype), pointer(t, ctype),
                                              pointer(out, ctype), delta, 1.0)
    expected_loss, expected_grad = python["loss_and_grad"](finite_x, t, reduction="sum")
    assert dtype(total) == expected_loss and out.tobytes() == expected_grad.tobytes()

    for curvature in ("exact", "irls", "one"):
        expected = python["grad_hess"](x, t, curvature=curvature)
        assert_close(expected[1], reference_grad_hess(loss, x, t, delta, curvature)[1])
        name = f"smoothl1_{loss}_grad_hess_{curvature}_{suffix}"
        grad, hess = np.empty_like(x), np.empty_like(x)
        c_function(name, None, size, array, array, array, array, double)(
            n, pointer(x, ctype), pointer(t, ctype), pointer(grad, ctype), pointer(hess, ctype),
            delta)
        assert grad.tobytes() == expected[0].tobytes()
        assert hess.tobytes() == expected[1].tobytes()
        # the _strided twin: outputs every other / every third element, reversed target
        wide, hess_wide = np.zeros((n, 2), dtype), np.zeros((n, 3), dtype)
        reversed_t = t[::-1].copy()
        c_function(name + "_strided", None, size, array, size, array, size, array, size, array,
                   size, double)(n, pointer(x, ctype), 1, pointer(reversed_t[n - 1:], ctype), -1,
                                 pointer(wide, ctype), 2, pointer(hess_wide, ctype), 3, delta)
        assert wide[:, 0].tobytes() == expected[0].tobytes()
        assert hess_wide[:, 0].tobytes() == expected[1].tobytes()
        assert not wide[:, 1].any() and not hess_wide[:, 1:].any()


def test_c_api_exports_every_function_of_both_losses():
    from smoothl1 import _smoothl1
    operations = ("loss_sum", "loss", "grad", "loss_and_grad", "grad_hess_exact",
                  "grad_hess_irls", "grad_hess_one")
    expected = {f"smoothl1_{loss}_{operation}_{suffix}{params}{layout}"
                for loss in LOSSES for operation in operations for suffix in CTYPES
                for params in ("", "_params") for layout in ("", "_strided")}
    assert expected <= set(_smoothl1.__pyx_capi__)


# ---------------------------------------------------------------------------------------------
# Python faces: signatures, and the command line
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["loss", "grad", "loss_and_grad", "grad_hess"])
@pytest.mark.parametrize("loss", LOSSES)
def test_signatures_are_pseudo_hubers(loss, kind):
    assert (inspect.signature(getattr(smoothl1, f"{loss}_{kind}"))
            == inspect.signature(getattr(smoothl1, f"pseudo_huber_{kind}")))
    assert f"{loss}_{kind}" in smoothl1.__all__


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    return subprocess.run([sys.executable, "-m", "smoothl1", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("loss", LOSSES)
def test_command_line(tmp_path, loss):
    rng = np.random.default_rng(18)
    pred = rng.normal(scale=3, size=(40, 3))
    target = rng.normal(size=(40, 3))
    np.save(tmp_path / "pred.npy", pred)
    np.save(tmp_path / "target.npy", target)
    result = run_cli("loss", "pred.npy", "target.npy", "--loss", loss, "--delta", "2.5",
                     "--reduction", "sum", "--grad-out", "grad.npy", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    expected = getattr(smoothl1, f"{loss}_loss")(pred, target, delta=2.5, reduction="sum")
    assert result.stdout.strip() == str(expected)
    assert float(result.stdout) == pytest.approx(reference(loss, pred, target, 2.5, "sum")[0],
                                                 rel=1e-14)
    grad = np.load(tmp_path / "grad.npy")
    assert grad.tobytes() == getattr(smoothl1, f"{loss}_grad")(pred, target, delta=2.5,
                                                               reduction="sum").tobytes()
    assert_close(grad, reference(loss, pred, target, 2.5, "sum")[1])
    # delta defaults to 1.0; the mean by default
    default = run_cli("loss", "pred.npy", "target.npy", "--loss", loss, cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == str(getattr(smoothl1, f"{loss}_loss")(pred, target))
    # beta is smooth L1's: a user error (status 2, one line, no traceback)
    refused = run_cli("loss", "pred.npy", "target.npy", "--loss", loss, "--beta", "2",
                      cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "--beta" in refused.stderr and refused.stdout == ""
