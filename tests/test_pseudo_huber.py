"""Pseudo-Huber (docs/contract.md section 10): hand values, SciPy's special.pseudo_huber,
stability at tiny, huge and infinite differences, derivatives by finite differences. The
generic tests (layouts, reductions, weights, errors, fuzzing) run it through reference.LOSSES."""
import math
import warnings

import numpy as np
import pytest

import smoothl1
from reference import assert_close, reference

inf = math.inf
nan = math.nan


def _pseudo_huber(d, delta):
    """delta**2 * (sqrt(1 + q**2) - 1), in Python floats, written with the conjugate so that
    small q keeps every digit: hand values for moderate arguments."""
    q = d / delta
    return delta * delta * q * q / (math.sqrt(1 + q * q) + 1)


# (delta, d, loss, grad): values worked out by hand (sqrt(2), sqrt(5), ... in closed form)
HAND = [
    (1.0, 0.0, 0.0, 0.0),
    (1.0, -0.0, 0.0, -0.0),
    (1.0, 1.0, math.sqrt(2) - 1, 1 / math.sqrt(2)),
    (1.0, -2.0, math.sqrt(5) - 1, -2 / math.sqrt(5)),
    (2.0, 2.0, 4 * (math.sqrt(2) - 1), 2 / math.sqrt(2)),
    (0.5, 1.5, 0.25 * (math.sqrt(10) - 1), 1.5 / math.sqrt(10)),
    (3.0, 4.0, 9 * (5 / 3 - 1), 4 / (5 / 3)),            # 3-4-5: sqrt(1 + 16/9) = 5/3
    (1.0, 1e-10, 5e-21, 1e-10),                          # 0.5 d**2: no cancellation
    (1e-300, 1.0, 1e-300 * (1.0 - 1e-300), 1e-300),      # delta * (|d| - delta)
    (1.0, 1e300, 1e300 - 1.0, 1.0),                      # no overflow of d**2
    (1.0, -1e300, 1e300 - 1.0, -1.0),
    (inf, 3.0, 4.5, 3.0),                                # delta = inf: 0.5 d**2
    (1.0, inf, inf, 1.0),
    (1.0, -inf, inf, -1.0),
    (2.5, inf, inf, 2.5),
    (inf, inf, inf, inf),
    (inf, -inf, inf, -inf),
    (1.0, nan, nan, nan),
]


@pytest.mark.parametrize("delta, d, expected_loss, expected_grad", HAND,
                         ids=[f"delta={c[0]:g}-d={c[1]:g}" for c in HAND])
def test_hand_values(delta, d, expected_loss, expected_grad):
    input = np.array([d])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = smoothl1.pseudo_huber_loss_and_grad(input, 0.0, delta=delta,
                                                         reduction="none")
    assert_close(loss, np.array([expected_loss]), rtol=4e-16, atol=0)
    assert_close(grad, np.array([expected_grad]), rtol=4e-16, atol=0)
    assert np.signbit(grad[0]) == np.signbit(expected_grad)


def test_equals_scipy_pseudo_huber():
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(10)
    for delta in (0.1, 1.0, 3.7, 100.0):
        # SciPy computes delta**2 * (sqrt(1 + q**2) - 1), which cancels for small q: compare
        # where it keeps its digits
        d = rng.normal(scale=5 * delta, size=1000)
        d = d[np.abs(d) > 1e-3 * delta]
        expected = special.pseudo_huber(delta, d)
        np.testing.assert_allclose(smoothl1.pseudo_huber_loss(d, 0.0, delta=delta,
                                                              reduction="none"),
                                   expected, rtol=1e-12)


def test_float32_is_the_double_result_rounded_once():
    rng = np.random.default_rng(11)
    x = rng.normal(scale=3, size=10_000).astype(np.float32)
    t = rng.normal(size=10_000).astype(np.float32)
    for delta in (0.3, 1.0, 7.0):
        loss, grad = smoothl1.pseudo_huber_loss_and_grad(x, t, delta=delta, reduction="none")
        d = x.astype(np.float64) - t.astype(np.float64)
        exact_loss = np.array([_pseudo_huber(v, delta) for v in d])
        exact_grad = d / np.sqrt(1 + (d / delta) ** 2)
        # within one float32 rounding of the float64 value (which is good to a few ulps)
        np.testing.assert_allclose(loss, exact_loss, rtol=6.1e-8 + 1e-15, atol=0)
        np.testing.assert_allclose(grad, exact_grad, rtol=6.1e-8 + 1e-15, atol=0)
        assert loss.dtype == grad.dtype == np.float32


@pytest.mark.parametrize("delta", [1e-3, 0.5, 1.0, 4.0, 1e3])
def test_gradient_is_the_loss_derivative(delta):
    """4th-order central differences of the float64 loss."""
    rng = np.random.default_rng(12)
    d = rng.normal(scale=3 * delta, size=200)
    h = 1e-3 * delta

    def loss(values):
        return smoothl1.pseudo_huber_loss(values, 0.0, delta=delta, reduction="none")

    numeric = (-loss(d + 2 * h) + 8 * loss(d + h) - 8 * loss(d - h) + loss(d - 2 * h)) / (12 * h)
    grad = smoothl1.pseudo_huber_grad(d, 0.0, delta=delta, reduction="none")
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-9 * delta)


def test_between_huber_bounds():
    """Huber(d; delta) >= pseudo-Huber(d; delta) >= Huber(d; delta) - delta**2 / 2 ... and it
    approaches 0.5 d**2 for |d| << delta and delta * (|d| - delta) for |d| >> delta."""
    d = np.linspace(-50, 50, 1001)
    for delta in (0.5, 2.0):
        ph = smoothl1.pseudo_huber_loss(d, 0.0, delta=delta, reduction="none")
        hub = smoothl1.huber_loss(d, 0.0, delta=delta, reduction="none")
        assert np.all(ph <= hub + 1e-12)
        assert np.all(ph >= hub - 0.5 * delta ** 2 - 1e-12)
    small = np.array([1e-4, -3e-5])
    np.testing.assert_allclose(smoothl1.pseudo_huber_loss(small, 0.0, reduction="none"),
                               0.5 * small ** 2, rtol=1e-8)


def test_reductions_and_weights_match_the_reference():
    rng = np.random.default_rng(13)
    x = rng.normal(scale=2, size=(30, 7))
    t = rng.normal(size=7)
    w = rng.random((30, 1))
    for reduction in ("mean", "sum", "none"):
        loss, grad = smoothl1.pseudo_huber_loss_and_grad(x, t, delta=0.7, reduction=reduction,
                                                         weight=w)
        expected_loss, expected_grad = reference("pseudo_huber", x, t, 0.7, reduction, w)
        assert_close(loss, expected_loss, rtol=1e-13)
        assert_close(grad, expected_grad, rtol=1e-13)
