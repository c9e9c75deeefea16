"""Robust linear regression with the smooth L1 loss, in NumPy only.

A line is fitted to points of which about one in eight is a gross outlier (a bad batch of
measurements, all far above the line). Least squares is dragged towards them; minimising the
mean smooth L1 loss is not, because each point's gradient is capped at 1 whatever its residual.

    python examples/robust_regression.py            # 100,000 points
    python examples/robust_regression.py --small    # 2,000 points (or SMOOTHL1_EXAMPLES_SMALL=1)

The fit is ``smoothl1.cli.demo.fit_smooth_l1``, the one behind ``python -m smoothl1 demo``:
Nesterov-accelerated gradient descent whose steps reuse two buffers of the data's size, the
prediction and the gradient of the loss with respect to it, which
``smooth_l1_loss_and_grad(..., grad_out=...)`` fills in place: no step allocates an array of
the data's size. Read it in ``src/smoothl1/cli/demo.py``.
"""
import argparse
import os
import time

import numpy as np

from smoothl1.cli.demo import fit_smooth_l1

TRUE_SLOPE, TRUE_INTERCEPT = 2.5, -1.0
BETA = 0.5


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
    coef_sl1, steps = fit_smooth_l1(X, y, beta=BETA)
    time_sl1 = time.perf_counter() - start

    print(f"{n} points on y = {TRUE_SLOPE:g} x - {-TRUE_INTERCEPT:g}, {outliers.sum()} of them "
          f"gross outliers (+10 to +30)\n")
    print(f"{'':16}{'slope':>9}{'intercept':>11}{'max |error|':>13}{'time':>10}")
    print(f"{'truth':16}{truth[0]:9.4f}{truth[1]:11.4f}")
    for name, coef, seconds in (("least squares", coef_ls, time_ls),
                                ("smooth L1", coef_sl1, time_sl1)):
        error = np.max(np.abs(coef - truth))
        print(f"{name:16}{coef[0]:9.4f}{coef[1]:11.4f}{error:13.4f}{1e3 * seconds:8.1f} ms")
    print(f"\n(smooth L1, beta = {BETA:g}: {steps} gradient steps)")


if __name__ == "__main__":
    main()
