"""least_squares_loss (docs/contract.md section 14): SciPy's rho convention, derivatives by
finite differences, the same solutions as SciPy's "huber" and "soft_l1" for any f_scale (smooth
L1's too), one buffer reused across calls, its keywords in its signature and beta = 0
refused."""
import inspect
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


@pytest.mark.parametrize("loss, param", [("smooth_l1", 0.5),
                                         ("smooth_l1", 2.0), ("huber", 0.3), ("huber", 4.0),
                                         ("pseudo_huber", 0.2), ("pseudo_huber", 5.0)])
def test_rho_is_twice_the_loss_and_its_derivatives(loss, param):
    keyword = "beta" if loss == "smooth_l1" else "delta"
    f = np.random.default_rng(40).uniform(0.01, 10, 300)
    z = f * f
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
    with pytest.raises(TypeError, match="takes the keyword 'delta', got beta"):
        smoothl1.least_squares_loss("cauchy", beta=1.0, delta=2.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'gamma'"):
        smoothl1.least_squares_loss("huber", gamma=1.0)


def test_beta_zero_is_refused_with_the_reason():
    # plain L1's rho' = 1 / sqrt(z) is infinite at z = 0: SciPy's fit used to stall and stop
    # at its evaluation limit without a warning
    with pytest.raises(ValueError, match=r"beta must be > 0 in least_squares_loss: .*"
                                         r"infinite at z = 0.*small beta"):
        smoothl1.least_squares_loss("smooth_l1", beta=0.0)


def test_the_keywords_are_in_the_signature():
    """help() and IDEs show each parameter of the table's losses, keyword-only."""
    from smoothl1._core.losses import LOSSES
    parameters = inspect.signature(smoothl1.least_squares_loss).parameters
    keywords = {name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert keywords == {loss.param for loss in LOSSES}
    for loss in LOSSES:
        assert f"    {loss.param} : float, keyword-only" in smoothl1.least_squares_loss.__doc__
        made = smoothl1.least_squares_loss(loss.name, **{loss.param: None})
        assert made.param == loss.default        # None (left out): the loss's default


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


def huber_minimiser(x, y, c, start):
    """The exact minimiser of sum(huber(p[0] * x + p[1] - y; c)), the reference of the fits:
    given which residuals lie inside (|r| < c) and the signs of the others, it solves a linear
    system; repeated from start until that partition no longer changes."""
    A = np.column_stack([x, np.ones_like(x)])
    p = np.asarray(start, dtype=np.float64)
    for _ in range(100):
        r = A @ p - y
        inside = np.abs(r) < c
        sign = np.where(inside, 0.0, np.sign(r))
        new = np.linalg.solve(A[inside].T @ A[inside], A[inside].T @ y[inside] - c * A.T @ sign)
        if np.array_equal(new, p):
            break
        p = new
    return p


@pytest.mark.parametrize("beta", [0.05, 0.5, 2.0, 7.0])
def test_smooth_l1_is_scipys_huber_with_f_scale_beta(beta):
    """smooth L1's rho is SciPy's "huber" with f_scale=beta divided by beta: the same minimum,
    and SciPy's cost is beta times ours."""
    z = np.concatenate([np.logspace(-4, 4, 300) * beta * beta, [0.0]])
    z = z[np.abs(z - beta * beta) > 1e-9 * beta * beta]        # away from the kink
    ours = smoothl1.least_squares_loss("smooth_l1", beta=beta)(z).copy()
    # SciPy's rho with f_scale=C: C**2 rho(z / C**2), whose derivatives in z are rho'(z / C**2)
    # and rho''(z / C**2) / C**2
    theirs = scipy_rho("huber", z / beta ** 2) * np.array([[beta ** 2], [1.0], [beta ** -2]])
    np.testing.assert_allclose(beta * ours, theirs, rtol=1e-13, atol=1e-300)

    x, y = line_with_outliers()

    def residuals(p):
        return p[0] * x + p[1] - y

    fit = optimize.least_squares(residuals, [1.0, 0.0],
                                 loss=smoothl1.least_squares_loss("smooth_l1", beta=beta))
    scipys = optimize.least_squares(residuals, [1.0, 0.0], loss="huber", f_scale=beta)
    assert fit.status > 0 and scipys.status > 0     # converged, not the evaluation limit
    np.testing.assert_allclose(beta * fit.cost, scipys.cost, rtol=1e-9)
    # SciPy's solver stops within 1e-7 of the minimum (measured: 5e-10 to 6e-8, whichever rho
    # it is given; rounding alone moves its end point by 2e-8), so both fits are checked
    # against the exact minimiser, to that precision
    exact = huber_minimiser(x, y, beta, scipys.x)
    np.testing.assert_allclose(scipys.x, exact, rtol=0, atol=1e-7)
    np.testing.assert_allclose(fit.x, exact, rtol=0, atol=1e-7)


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
