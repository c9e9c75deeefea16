"""Robust linear regression with the smooth L1 loss, in NumPy only.

A line is fitted to points of which about one in eight is a gross outlier (a bad batch of
measurements, all far above the line). Least squares is dragged towards them; minimising the
mean smooth L1 loss is not, because each point's gradient is capped at 1 whatever its residual.

    python examples/robust_regression.py            # 100,000 points
    python examples/robust_regression.py --small    # 2,000 points (or SMOOTHL1_EXAMPLES_SMALL=1)

The fit is Nesterov-accelerated gradient descent. Its step reuses two buffers of the data's
size, the prediction and the gradient of the loss with respect to it, which
``smooth_l1_loss_and_grad(..., grad_out=...)`` fills in place: no step allocates an array of
the data's size.
"""
import argparse
import os
import time

import numpy as np

import smoothl1

TRUE_SLOPE, TRUE_INTERCEPT = 2.5, -1.0


def make_data(n, outlier_fraction=0.2, seed=0):
    """Points on ``y = 2.5 x - 1`` with noise; a fraction of them pushed 10 to 30 upwards."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=n)
    y = TRUE_SLOPE * x + TRUE_INTERCEPT + 0.2 * rng.standard_normal(n)
    outliers = rng.random(n) < outlier_fraction
    # The bad batch was recorded at large x, so the outliers tilt the line, not only shift it.
    outliers &= x > -0.5
    y[outliers] += rng.uniform(10.0, 30.0, size=outliers.sum())
    X = np.column_stack([x, np.ones(n)])  # columns: slope, intercept
    return X, y, outliers


def fit_least_squares(X, y):
    return np.linalg.lstsq(X, y, rcond=None)[0]


def fit_smooth_l1(X, y, beta=0.5, tol=1e-9, max_steps=5000):
    """Minimise ``mean(smooth_l1(X @ coef - y; beta))`` by accelerated gradient descent.

    The loss's gradient is Lipschitz with constant ``||X||_2**2 / (n * beta)`` (the second
    derivative of smooth L1 is at most ``1 / beta``), so ``1 / L`` is a safe step.
    """
    n = len(y)
    step = n * beta / np.linalg.norm(X, 2) ** 2
    pred = np.empty(n)        # X @ coef, rewritten in place each step
    grad_pred = np.empty(n)   # d loss / d pred, filled by grad_out=
    coef = np.zeros(X.shape[1])
    previous = coef.copy()
    lookahead = coef.copy()
    for k in range(1, max_steps + 1):
        np.matmul(X, lookahead, out=pred)
        smoothl1.smooth_l1_loss_and_grad(pred, y, beta=beta, grad_out=grad_pred)
        grad_coef = grad_pred @ X  # chain rule: two numbers
        previous[:] = coef
        coef[:] = lookahead - step * grad_coef
        if np.max(np.abs(grad_coef)) < tol:
            break
        lookahead[:] = coef + (k - 1) / (k + 2) * (coef - previous)
    return coef, k


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true",
                        help="2,000 points instead of 100,000 (also SMOOTHL1_EXAMPLES_SMALL=1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    small = args.small or os.environ.get("SMOOTHL1_EXAMPLES_SMALL", "") not in ("", "0")
    n = 2000 if small else 100_000

    X, y, outliers = make_data(n, seed=args.seed)
    truth = np.array([TRUE_SLOPE, TRUE_INTERCEPT])
    start = time.perf_counter()
    coef_ls = fit_least_squares(X, y)
    time_ls = time.perf_counter() - start
    start = time.perf_counter()
    coef_sl1, steps = fit_smooth_l1(X, y)
    time_sl1 = time.perf_counter() - start

    print(f"{n} points on y = {TRUE_SLOPE:g} x - {-TRUE_INTERCEPT:g}, {outliers.sum()} of them "
          f"gross outliers (+10 to +30)\n")
    print(f"{'':16}{'slope':>9}{'intercept':>11}{'max |error|':>13}{'time':>10}")
    print(f"{'truth':16}{truth[0]:9.4f}{truth[1]:11.4f}")
    for name, coef, seconds in (("least squares", coef_ls, time_ls),
                                ("smooth L1", coef_sl1, time_sl1)):
        error = np.max(np.abs(coef - truth))
        print(f"{name:16}{coef[0]:9.4f}{coef[1]:11.4f}{error:13.4f}{1e3 * seconds:8.1f} ms")
    print(f"\n(smooth L1, beta = 0.5: {steps} gradient steps)")


if __name__ == "__main__":
    main()
