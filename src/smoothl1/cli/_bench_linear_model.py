"""The robust-linear-model table of ``python -m smoothl1 bench --linear-model N``: one fit of
each contender on the same data, ``N`` rows, ``d = 50`` features, Gaussian noise and 5% gross
outliers, for each dtype:

- ``smoothl1``: ``smoothl1.linear_model.HuberRegressor()`` (defaults);
- ``scikit-learn``: ``sklearn.linear_model.HuberRegressor()`` (the same defaults and objective);
- ``statsmodels RLM``: ``statsmodels.api.RLM(y, [1, X], M=HuberT()).fit()`` (IRLS, its own
  scale estimate), when statsmodels is installed and ``N <= STATSMODELS_MAX_ROWS`` (it
  allocates some 25 to 50 times X: 10 GB at N = 1e6);
- ``SGD``: ``SGDRegressor(loss="huber", epsilon=1.35, random_state=0)``.

Columns: the wall time of the fit; the peak memory it allocated beyond its inputs (Python's
tracemalloc, which sees NumPy's allocations, not BLAS's small internal ones), over the size of
X; the largest error of a coefficient against the true ones. A last line per dtype compares
smoothl1 with scikit-learn: coefficients (relative) and objective (scikit-learn's objective,
evaluated in float64 at both fits).
"""
import time
import tracemalloc

import numpy as np

N_FEATURES = 50
OUTLIERS = 0.05
SEED = 0
STATSMODELS_MAX_ROWS = 200_000


def make_data(n, d=N_FEATURES, dtype=np.float64, seed=SEED):
    """X, y, true coefficients, true intercept: y = X coef + 1 + N(0, 0.5^2), 5% of y moved
    by 20 to 100 in a random direction."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float64).astype(dtype, copy=False)
    coef = rng.uniform(-3, 3, d)
    y = X @ coef.astype(dtype) + dtype(1.0) + rng.normal(0, 0.5, n).astype(dtype)
    bad = rng.random(n) < OUTLIERS
    y[bad] += (rng.choice([-1, 1], bad.sum()) * rng.uniform(20, 100, bad.sum())).astype(dtype)
    return X, y, coef, 1.0


def huber_objective(coef, intercept, scale, X, y, epsilon=1.35, alpha=1e-4):
    """scikit-learn's HuberRegressor objective, in float64, blockwise."""
    total = 0.0
    for start in range(0, X.shape[0], 1 << 16):
        Xb, yb = X[start:start + (1 << 16)], y[start:start + (1 << 16)]
        z = np.abs(yb - Xb.astype(np.float64) @ coef - intercept) / scale
        total += np.sum(np.where(z > epsilon, 2 * epsilon * z - epsilon ** 2, z * z))
    return scale * X.shape[0] + scale * total + alpha * coef @ coef


def _smoothl1(X, y):
    from ..linear_model import HuberRegressor
    model = HuberRegressor().fit(X, y)
    return model.coef_, model.intercept_, model


def _sklearn(X, y):
    from sklearn.linear_model import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        HuberRegressor,
    )
    model = HuberRegressor().fit(X, y)
    return model.coef_, model.intercept_, model


def _statsmodels(X, y):
    import statsmodels.api as sm  # type: ignore[import-untyped, import-not-found, unused-ignore]
    result = sm.RLM(y, sm.add_constant(X), M=sm.robust.norms.HuberT()).fit()
    return np.asarray(result.params[1:]), float(result.params[0]), None


def _sgd(X, y):
    from sklearn.linear_model import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        SGDRegressor,
    )
    model = SGDRegressor(loss="huber", epsilon=1.35, random_state=0).fit(X, y)
    return model.coef_, float(model.intercept_[0]), model


def _available(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


CONTENDERS = (("smoothl1", _smoothl1, "sklearn"), ("scikit-learn", _sklearn, "sklearn"),
              ("statsmodels RLM", _statsmodels, "statsmodels"), ("SGD", _sgd, "sklearn"))


def measure(fit, X, y):
    """(seconds, peak bytes allocated during the fit, coef, intercept, model)."""
    tracemalloc.start()
    try:
        start = time.perf_counter()
        coef, intercept, model = fit(X, y)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak, coef, intercept, model


def run(n, dtypes, out):
    """Print the table; returns its rows as dicts."""
    rows = []
    out.write(f"\nrobust linear models: n = {n}, d = {N_FEATURES}, {OUTLIERS:.0%} gross outliers "
              f"(one fit each)\n")
    out.write(f"{'dtype':8} {'contender':16} {'time s':>8} {'x faster':>9} {'peak / X':>9} "
              f"{'max coef err':>13}\n")
    for dtype in dtypes:
        X, y, true_coef, _ = make_data(n, dtype=np.dtype(dtype).type)
        fits, notes = {}, []
        for name, fit, module in CONTENDERS:
            if not _available(module):
                continue
            if name == "statsmodels RLM" and n > STATSMODELS_MAX_ROWS:
                notes.append(f"{np.dtype(dtype).name:8} {name}: skipped above "
                             f"{STATSMODELS_MAX_ROWS} rows (it allocates 25-50x X)\n")
                continue
            seconds, peak, coef, intercept, model = measure(fit, X, y)
            fits[name] = (seconds, coef, intercept, model)
            rows.append({"dtype": np.dtype(dtype).name, "contender": name, "seconds": seconds,
                         "peak_over_X": peak / X.nbytes,
                         "coef_error": float(np.max(np.abs(coef - true_coef)))})
        ours = fits["smoothl1"][0]
        for row in rows[-len(fits):]:
            row["x_slower_than_smoothl1"] = row["seconds"] / ours
            out.write(f"{row['dtype']:8} {row['contender']:16} {row['seconds']:8.2f} "
                      f"{row['x_slower_than_smoothl1']:9.1f} {row['peak_over_X']:9.3f} "
                      f"{row['coef_error']:13.2e}\n")
        out.write("".join(notes))
        if "scikit-learn" in fits:
            _, coef, intercept, model = fits["smoothl1"]
            _, their_coef, their_intercept, theirs = fits["scikit-learn"]
            relative = np.max(np.abs(coef - their_coef) / np.maximum(np.abs(their_coef), 1e-12))
            value = huber_objective(coef, intercept, model.scale_, X, y)
            their_value = huber_objective(their_coef, their_intercept, theirs.scale_, X, y)
            out.write(f"{np.dtype(dtype).name:8} smoothl1 vs scikit-learn: coefficients within "
                      f"{relative:.1e} relative; objective {value:.10e} vs {their_value:.10e} "
                      f"({(value - their_value) / their_value:+.1e} relative); n_iter "
                      f"{model.n_iter_} vs {theirs.n_iter_}\n")
        out.flush()
    return rows
