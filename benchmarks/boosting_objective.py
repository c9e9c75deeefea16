"""One call of a boosting objective at 10**6 rows: smoothl1.boosting against the same
objective written in NumPy (what a custom objective usually is), in one run, as ratios.

    python benchmarks/boosting_objective.py [--rows 1000000] [--repeat 7]

Each row times ``objective(y_true, y_pred)`` (the scikit-learn form every library calls,
returning ``grad, hess``) for one loss and curvature: smoothl1's object as shipped (its
kernel picks its threads), the same object with ``n_threads=1``, and the NumPy function,
all on the same arrays; float32 as XGBoost passes them, float64 as LightGBM does.
"x NumPy" is NumPy's time over smoothl1's (higher is better). The floor is
``np.subtract(y_pred, y_true, out=grad)``: reading two arrays and writing one, once.
"""
import argparse
import time

import numpy as np

import smoothl1
from smoothl1 import boosting
from smoothl1._core import dispatch as _dispatch

DELTA = 1.0


def numpy_objective(loss, curvature):
    """The objective as a NumPy user writes it: (grad, hess) of the loss at y_pred - y_true."""
    def objective(y_true, y_pred):
        d = y_pred - y_true
        z = np.abs(d)
        if loss == "pseudo_huber":
            scale = np.sqrt(1 + (d / DELTA) ** 2)
            grad = d / scale
            hess = {"exact": 1 / (scale * scale * scale), "irls": 1 / scale,
                    "one": np.ones_like(d)}[curvature]
            return grad, hess
        inside = z < DELTA
        if loss == "huber":
            grad = np.where(inside, d, DELTA * np.sign(d))
            slope = 1.0
        else:
            grad = np.where(inside, d / DELTA, np.sign(d))
            slope = 1 / DELTA
        if curvature == "exact":
            hess = np.where(inside, slope, 0.0).astype(d.dtype)
        elif curvature == "irls":
            hess = (slope * DELTA / np.maximum(DELTA, z)).astype(d.dtype)
        else:
            hess = np.ones_like(d)
        return grad, hess
    return objective


def best_time(function, repeat):
    function()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10**6)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{args.rows} rows, smoothl1 {smoothl1.__version__} ({_dispatch.build} kernels), "
          f"NumPy {np.__version__}; best of {args.repeat}; times in ms")
    print(f"{'dtype':8} {'loss':13} {'curvature':9} {'floor':>7} {'smoothl1':>9} "
          f"{'1 thread':>9} {'NumPy':>8} {'x NumPy':>8} {'x NumPy 1t':>10}")
    for dtype in (np.float32, np.float64):
        y_true = rng.normal(size=args.rows).astype(dtype)
        y_pred = (y_true + rng.standard_t(2, size=args.rows)).astype(dtype)
        grad = np.empty_like(y_pred)
        floor = best_time(lambda: np.subtract(y_pred, y_true, out=grad), args.repeat)
        for loss in ("smooth_l1", "huber", "pseudo_huber"):
            keyword = {"beta" if loss == "smooth_l1" else "delta": DELTA}
            for curvature in ("exact", "irls", "one"):
                ours = boosting.xgboost_objective(loss, curvature=curvature, **keyword)
                theirs = numpy_objective(loss, curvature)
                expected = theirs(y_true, y_pred)
                got = ours(y_true, y_pred)
                for a, b in zip(got, expected):   # the same objective, or the row is void
                    np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12)
                t_ours = best_time(lambda: ours(y_true, y_pred), args.repeat)
                one_thread = boosting.xgboost_objective(loss, curvature=curvature, n_threads=1,
                                                        **keyword)
                t_one = best_time(lambda: one_thread(y_true, y_pred), args.repeat)
                t_numpy = best_time(lambda: theirs(y_true, y_pred), args.repeat)
                print(f"{np.dtype(dtype).name:8} {loss:13} {curvature:9} {floor * 1e3:7.2f} "
                      f"{t_ours * 1e3:9.2f} {t_one * 1e3:9.2f} {t_numpy * 1e3:8.2f} "
                      f"{t_numpy / t_ours:8.1f} {t_numpy / t_one:10.1f}")


if __name__ == "__main__":
    main()
