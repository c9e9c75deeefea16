"""Robust linear regression with the smooth L1 loss: the fit behind ``smoothl1 demo``.

``fit_smooth_l1(X, y, beta=...)`` minimises ``mean(smooth_l1(X @ coef - y; beta))`` with L-BFGS
(SciPy) or Nesterov's accelerated gradient descent (NumPy only). Every evaluation of the loss
and its gradient reuses two buffers of ``y``'s size, filled in place by ``np.matmul(out=)`` and
``smooth_l1_loss_and_grad(..., grad_out=)``, so no step allocates an array of the data's size.
``examples/robust_regression.py`` uses the same function; ``report`` prints the demo's table.
"""
import importlib
import sys
import time

import numpy as np

from .. import smooth_l1_loss_and_grad

OPTIMIZERS = ("auto", "lbfgs", "gd")
TEST_POINTS = 10000  # the clean test set on which the demo measures both fits


def make_regression_data(n, n_features, outlier_fraction, seed, noise=0.3):
    """A linear model ``y = X @ coef + intercept + noise`` with a fraction of gross outliers.

    The outliers replace ``y`` by values from 20 to 60 that do not depend on ``X`` (a stuck
    sensor, a unit mix-up): least squares is pulled towards them, both its slopes (shrunk
    towards zero) and its intercept. Returns ``X1`` (with a leading column of ones), ``y``, the
    true coefficients (intercept first) and the outlier mask.
    """
    rng = np.random.default_rng(seed)
    true_coef = np.round(rng.uniform(-3.0, 3.0, size=n_features + 1), 1)
    X1 = np.empty((n, n_features + 1))
    X1[:, 0] = 1.0
    X1[:, 1:] = rng.standard_normal((n, n_features))
    y = X1 @ true_coef + noise * rng.standard_normal(n)
    is_outlier = np.zeros(n, dtype=bool)
    n_outliers = int(round(outlier_fraction * n))
    is_outlier[rng.choice(n, size=n_outliers, replace=False)] = True
    y[is_outlier] = rng.uniform(20.0, 60.0, size=n_outliers)
    return X1, y, true_coef, is_outlier


class SmoothL1Objective:
    """``coef -> (mean smooth L1 of X @ coef - y, its gradient)`` with preallocated buffers.

    The prediction and the residual gradient live in two buffers of ``y``'s size made once;
    each evaluation writes into them (``np.matmul(out=)``, ``grad_out=``), so an optimiser step
    allocates nothing of the data's size, only the ``n_params``-sized gradient it returns.
    """

    def __init__(self, X, y, beta):
        self.X, self.y, self.beta = X, y, beta
        self.pred = np.empty_like(y)
        self.residual_grad = np.empty_like(y)
        self.n_evaluations = 0

    def __call__(self, coef):
        np.matmul(self.X, coef, out=self.pred)
        loss, _ = smooth_l1_loss_and_grad(self.pred, self.y, beta=self.beta,
                                          grad_out=self.residual_grad)
        self.n_evaluations += 1
        return float(loss), self.residual_grad @ self.X  # chain rule: n_params numbers


def have_scipy():
    try:
        importlib.import_module("scipy.optimize")
    except ImportError:
        return False
    return True


def fit_lbfgs(objective, coef0, tol=1e-10, max_iter=1000):
    # Imported by name: SciPy is optional, and type checkers need no SciPy stubs for it.
    optimize = importlib.import_module("scipy.optimize")
    result = optimize.minimize(objective, coef0, jac=True, method="L-BFGS-B",
                               options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15})
    return result.x


def fit_accelerated_gd(objective, coef0, lipschitz, tol=1e-10, max_iter=20000):
    """Nesterov's accelerated gradient descent with step ``1 / lipschitz`` (NumPy only).

    The mean smooth L1 of ``X @ coef - y`` has a gradient that is Lipschitz with constant
    ``||X||_2**2 / (n * beta)`` (smooth L1's second derivative is at most ``1 / beta``), so
    this step always descends; the momentum makes it converge in a few hundred steps on
    well-conditioned data. Stops when every gradient component is below ``tol``.
    """
    coef = coef0.copy()
    previous = coef.copy()
    lookahead = coef.copy()
    step = 1.0 / lipschitz
    for k in range(1, max_iter + 1):
        _, grad = objective(lookahead)
        previous[:] = coef
        np.subtract(lookahead, step * grad, out=coef)
        if np.max(np.abs(grad)) < tol:
            break
        np.subtract(coef, previous, out=lookahead)
        lookahead *= (k - 1) / (k + 2)
        lookahead += coef
    return coef


def fit_smooth_l1(X, y, *, beta, optimizer="gd"):
    """Minimise ``mean(smooth_l1(X @ coef - y; beta))`` over ``coef``, from zero.

    ``optimizer`` is ``"gd"`` (accelerated gradient descent, NumPy only) or ``"lbfgs"``
    (SciPy). Returns ``(coef, n_evaluations)``: the fit and how many loss-and-gradient
    evaluations it took.
    """
    objective = SmoothL1Objective(X, y, beta)
    coef0 = np.zeros(X.shape[1])
    if optimizer == "lbfgs":
        coef = fit_lbfgs(objective, coef0)
    elif optimizer == "gd":
        lipschitz = np.linalg.norm(X, 2) ** 2 / (len(y) * beta)
        coef = fit_accelerated_gd(objective, coef0, lipschitz)
    else:
        raise ValueError(f"optimizer must be 'gd' or 'lbfgs', got {optimizer!r}")
    return coef, objective.n_evaluations


def data_bytes(n, n_features):
    """Memory the demo's arrays take: the design matrices (training and test) and the targets,
    each about twice (NumPy's least squares works on copies)."""
    return 2 * 8 * (n + TEST_POINTS) * (n_features + 2)


def report(n, n_features, outliers, beta, seed, optimizer, out=None):
    """Fit both models on seeded data and print the table of ``smoothl1 demo`` to ``out``
    (default: ``sys.stdout`` at the time of the call).

    ``optimizer`` is ``"gd"`` or ``"lbfgs"`` (resolve ``"auto"`` first with ``have_scipy``).
    """
    out = sys.stdout if out is None else out
    X1, y, true_coef, is_outlier = make_regression_data(n, n_features, outliers, seed)

    start = time.perf_counter()
    coef_ls = np.linalg.lstsq(X1, y, rcond=None)[0]
    time_ls = time.perf_counter() - start
    start = time.perf_counter()
    coef_sl1, n_evaluations = fit_smooth_l1(X1, y, beta=beta, optimizer=optimizer)
    time_sl1 = time.perf_counter() - start
    method = "L-BFGS (SciPy)" if optimizer == "lbfgs" else "accelerated GD (NumPy)"

    # Accuracy on fresh, clean data from the same model: what a user of the fit would see.
    X_test, _, _, _ = make_regression_data(TEST_POINTS, n_features, 0.0, seed + 1)
    y_test = X_test @ true_coef  # noiseless truth
    rmse_ls = float(np.sqrt(np.mean((X_test @ coef_ls - y_test) ** 2)))
    rmse_sl1 = float(np.sqrt(np.mean((X_test @ coef_sl1 - y_test) ** 2)))
    err_ls = float(np.max(np.abs(coef_ls - true_coef)))
    err_sl1 = float(np.max(np.abs(coef_sl1 - true_coef)))

    print(f"Linear fit of {n} points with {n_features} features, seed {seed}: "
          f"{int(is_outlier.sum())} gross outliers\n({100 * outliers:g}% of the targets "
          f"replaced by values in [20, 60])", file=out)
    print(f"smooth L1: beta={beta:g}, {method}, "
          f"{n_evaluations} loss+gradient evaluations\n", file=out)
    names = ["intercept"] + [f"coef[{i}]" for i in range(1, n_features + 1)]
    rows = [(name, f"{t:.3f}", f"{a:.3f}", f"{b:.3f}")
            for name, t, a, b in zip(names, true_coef, coef_ls, coef_sl1)]
    rows.append(("max |error|", "", f"{err_ls:.3f}", f"{err_sl1:.3f}"))
    rows.append(("test RMSE", "", f"{rmse_ls:.3f}", f"{rmse_sl1:.3f}"))
    rows.append(("time", "", f"{1e3 * time_ls:.1f} ms", f"{1e3 * time_sl1:.1f} ms"))
    header = ("", "true", "least squares", "smooth L1")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
    line = "  ".join("{:<%d}" % widths[0] if i == 0 else "{:>%d}" % widths[i]
                     for i in range(4))
    print(line.format(*header), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line.format(*row), file=out)
    ratio = err_ls / err_sl1 if err_sl1 > 0 else float("inf")
    print(f"\nLeast squares ends {err_ls:.2f} from the truth: under a squared loss each "
          f"outlier pulls in\nproportion to its residual. Smooth L1 caps every point's pull "
          f"(|gradient| <= 1) and ends\n{err_sl1:.3f} from the truth, {ratio:.0f}x closer.",
          file=out)
