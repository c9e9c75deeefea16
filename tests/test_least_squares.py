"""least_squares_loss (docs/contract.md section 14): SciPy's rho convention, derivatives by
finite differences, the same solutions as SciPy's "huber" and "soft_l1" for any f_scale, and
one buffer reused across calls."""
import math

import numpy as np
import pytest

import smoothl1
from reference import ELEMENTWISE

optimize = pytest.importorskip("scipy.optimize")


def scipy_rho(name, z):
    """SciPy's "huber" and "soft_l1", as its least_squares documentation writes them."""
    if name == "huber":
        inside = z <= 1
        with np.errstate(divide="ignore"):
            return np.array([np.where(inside, z, 2 * np.sqrt(z) - 1),
                             np.where(inside, 1.0, z ** -0.5),
                             np.where(inside, 0.0, -0.5 * z ** -1.5)])
    t = 1 + z
    # 2 (sqrt(1 + z) - 1), without its cancellation for small z
    return np.array([2 * z / (np.sqrt(t) + 1), t ** -0.5, -0.5 * t ** -1.5])


@pytest.mark.parametrize("ours, theirs", [("huber", "huber"), ("pseudo_huber", "soft_l1")])
def test_equals_scipy_rho_at_parameter_one(ours, theirs):
    z = np.concatenate([[0.0, 0.25, 0.81], np.logspace(-3, 6, 200)])
    z = z[z != 1.0]      # at the kink SciPy's huber takes rho'' = 0, ours the linear branch
    got = smoothl1.least_squares_loss(ours)(z)
    np.testing.assert_allclose(got, scipy_rho(theirs, z), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("loss, param", [("smooth_l1", 0.0), ("smooth_l1", 0.5),
                                         ("smooth_l1", 2.0), ("huber", 0.3), ("huber", 4.0),
                                         ("pseudo_huber", 0.2), ("pseudo_huber", 5.0)])
def test_rho_is_twice_the_loss_and_its_derivatives(loss, param):
    keyword = "beta" if loss == "smooth_l1" else "delta"
    f = np.random.default_rng(40).uniform(0.01, 10, 300)
    z = f * f
    if param:
        z = z[np.abs(np.sqrt(z) - param) > 1e-3]     # away from the kink
    rho = smoothl1.least_squares_loss(loss, **{keyword: param})(z).copy()
    expected = 2 * ELEMENTWISE[loss](np.sqrt(z), param)[0]
    np.testing.assert_allclose(rho[0], expected, rtol=1e-14)
    h = 1e-5 * z
    fn = smoothl1.least_squares_loss(loss, **{keyword: param})
    first = (fn(z + h)[0].copy() - fn(z - h)[0].copy()) / (2 * h)
    np.testing.assert_allclose(rho[1], first, rtol=1e-7)
    second = (fn(z + h)[1].copy() - fn(z - h)[1].copy()) / (2 * h)
    np.testing.assert_allclose(rho[2], second, rtol=1e-5, atol=1e-12 * np.max(np.abs(rho[2])))


def test_special_points():
    z = np.array([0.0, np.inf])
    np.testing.assert_array_equal(smoothl1.least_squares_loss("huber")(z),
                                  [[0.0, np.inf], [1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(smoothl1.least_squares_loss("pseudo_huber", delta=2.0)(z),
                                  [[0.0, np.inf], [1.0, 0.0], [-0.125, 0.0]])
    # plain L1: rho = 2 sqrt(z), rho' = 1/sqrt(z) and rho'' = -z**-1.5 / 2 are infinite at 0
    np.testing.assert_array_equal(smoothl1.least_squares_loss("smooth_l1", beta=0.0)(z),
                                  [[0.0, np.inf], [np.inf, 0.0], [-np.inf, 0.0]])
    assert np.isnan(smoothl1.least_squares_loss("huber")(np.array([np.nan]))).all()


def test_one_buffer_reused():
    fn = smoothl1.least_squares_loss("huber", delta=2.0)
    first = fn(np.array([1.0, 9.0]))
    second = fn(np.array([4.0, 0.0]))
    assert first is second and second.shape == (3, 2) and second.dtype == np.float64
    assert fn(np.array([1.0, 2.0, 3.0])).shape == (3, 3)   # a new length: a new buffer
    only_cost = fn(np.array([1.0, 2.0, 3.0]), cost_only=True)
    np.testing.assert_allclose(only_cost[0], 2 * ELEMENTWISE["huber"](np.sqrt([1, 2, 3.0]),
                                                                       2.0)[0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="loss must be one of"):
        smoothl1.least_squares_loss("tukey")
    with pytest.raises(TypeError, match="takes the keyword 'beta'"):
        smoothl1.least_squares_loss("smooth_l1", delta=1.0)
    with pytest.raises(ValueError, match="delta must be > 0"):
        smoothl1.least_squares_loss("huber", delta=0.0)
    with pytest.raises(TypeError, match="1-D float64"):
        smoothl1.least_squares_loss("huber")(np.zeros((2, 2)))


def line_with_outliers():
    rng = np.random.default_rng(41)
    x = np.linspace(0, 10, 200)
    y = 3.0 * x - 2.0 + 0.3 * rng.normal(size=200)
    y[::13] += rng.uniform(15, 40, y[::13].size)
    return x, y


@pytest.mark.parametrize("f_scale", [0.1, 0.5, 1.0, 3.0, 20.0])
@pytest.mark.parametrize("ours, theirs", [("huber", "huber"), ("pseudo_huber", "soft_l1")])
def test_least_squares_finds_scipys_solution(ours, theirs, f_scale):
    x, y = line_with_outliers()

    def residuals(p):
        return p[0] * x + p[1] - y

    expected = optimize.least_squares(residuals, [1.0, 0.0], loss=theirs, f_scale=f_scale)
    got = optimize.least_squares(residuals, [1.0, 0.0], loss=smoothl1.least_squares_loss(ours),
                                 f_scale=f_scale)
    np.testing.assert_allclose(got.x, expected.x, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got.cost, expected.cost, rtol=1e-9)
    # the parameter plays f_scale's part: delta = c with f_scale 1 is f_scale = c
    scaled = optimize.least_squares(residuals, [1.0, 0.0],
                                    loss=smoothl1.least_squares_loss(ours, delta=f_scale))
    np.testing.assert_allclose(scaled.x, expected.x, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("beta", [0.05, 0.5, 2.0])
def test_smooth_l1_is_robust(beta):
    x, y = line_with_outliers()
    fit = optimize.least_squares(lambda p: p[0] * x + p[1] - y, [1.0, 0.0],
                                 loss=smoothl1.least_squares_loss("smooth_l1", beta=beta))
    plain = optimize.least_squares(lambda p: p[0] * x + p[1] - y, [1.0, 0.0])
    assert abs(fit.x[0] - 3.0) < 0.05 and abs(fit.x[1] + 2.0) < 0.6
    assert abs(fit.x[1] + 2.0) < 0.5 * abs(plain.x[1] + 2.0)
    # smooth L1 is Huber(delta=beta) / beta: the same minimiser
    huber = optimize.least_squares(lambda p: p[0] * x + p[1] - y, [1.0, 0.0],
                                   loss=smoothl1.least_squares_loss("huber", delta=beta))
    np.testing.assert_allclose(fit.x, huber.x, rtol=1e-6, atol=1e-8)
    assert math.isfinite(fit.cost)
