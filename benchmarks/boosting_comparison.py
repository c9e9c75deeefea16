"""Smooth L1, Huber and pseudo-Huber objectives in XGBoost, LightGBM and CatBoost, with each
curvature, against the libraries' built-in objectives, on one seeded regression problem
whose training labels carry outliers. Prints the test RMSE (on clean labels) of every model.

    pip install "smoothl1[boosting]"
    python benchmarks/boosting_comparison.py [--rows 4000] [--rounds 200] [--seed 0]

The data: Friedman's first function of five uniform features, with noise of standard
deviation 1; 10% of the training labels get an outlier of size 20 to 60 (either sign); the
test labels are the noise-free function. Every model fits the labels minus their training
median (and adds it back), so custom and built-in objectives start from the same point. Library settings are
their defaults except: learning rate 0.1, depth 4 (LightGBM: 15 leaves), one thread, the
seed; delta = 1 for Huber and pseudo-Huber (and the built-ins: huber_slope, alpha, delta),
beta = 2 for smooth L1 (with beta = 1 it is Huber with delta = 1, row for row).
The output is pasted in docs/boosting.md.
"""
import argparse
import time
import warnings

import numpy as np

from smoothl1 import boosting

LOSSES = (("huber", {"delta": 1.0}), ("pseudo_huber", {"delta": 1.0}),
          ("smooth_l1", {"beta": 2.0}))
# the built-in objectives, one row each across the libraries
SQUARED, HUBER, ABSOLUTE = ("built-in squared error", "built-in Huber (XGBoost: pseudo)",
                            "built-in absolute error")
CURVATURES = ("exact", "irls", "one")


def make_data(rows, seed):
    rng = np.random.default_rng(seed)

    def friedman(n):
        X = rng.uniform(size=(n, 5))
        y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2
             + 10 * X[:, 3] + 5 * X[:, 4])
        return X, y

    X_train, y_train = friedman(rows)
    y_train = y_train + rng.normal(size=rows)
    hit = rng.random(rows) < 0.10
    y_train[hit] += rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(20, 60, hit.sum())
    X_test, y_test = friedman(rows)
    return X_train, y_train, X_test, y_test


def xgboost_models(xgb, rounds, seed):
    common = dict(n_estimators=rounds, learning_rate=0.1, max_depth=4, n_jobs=1,
                  random_state=seed, base_score=0.0)
    yield SQUARED, xgb.XGBRegressor(objective="reg:squarederror", **common)
    yield HUBER, xgb.XGBRegressor(objective="reg:pseudohubererror", huber_slope=1.0, **common)
    yield ABSOLUTE, xgb.XGBRegressor(objective="reg:absoluteerror", **common)
    for loss, param in LOSSES:
        for curvature in CURVATURES:
            yield f"{loss} {curvature}", xgb.XGBRegressor(
                objective=boosting.xgboost_objective(loss, curvature=curvature, **param),
                **common)


def lightgbm_models(lgb, rounds, seed):
    common = dict(n_estimators=rounds, learning_rate=0.1, num_leaves=15, n_jobs=1,
                  random_state=seed, verbose=-1)
    yield SQUARED, lgb.LGBMRegressor(objective="regression", **common)
    yield HUBER, lgb.LGBMRegressor(objective="huber", alpha=1.0, **common)
    yield ABSOLUTE, lgb.LGBMRegressor(objective="regression_l1", **common)
    for loss, param in LOSSES:
        for curvature in CURVATURES:
            yield f"{loss} {curvature}", lgb.LGBMRegressor(
                objective=boosting.lightgbm_objective(loss, curvature=curvature, **param),
                **common)


def catboost_models(catboost, rounds, seed):
    common = dict(iterations=rounds, learning_rate=0.1, depth=4, thread_count=1,
                  random_seed=seed, verbose=0, boost_from_average=False,
                  allow_writing_files=False)
    yield SQUARED, catboost.CatBoostRegressor(loss_function="RMSE", **common)
    yield HUBER, catboost.CatBoostRegressor(loss_function="Huber:delta=1.0", **common)
    yield ABSOLUTE, catboost.CatBoostRegressor(loss_function="MAE", **common)
    for loss, param in LOSSES:
        for curvature in CURVATURES:
            yield f"{loss} {curvature}", catboost.CatBoostRegressor(
                loss_function=boosting.catboost_objective(loss, curvature=curvature, **param),
                eval_metric="RMSE", **common)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = make_data(args.rows, args.seed)
    centre = np.median(y_train)
    libraries = {}
    for name, factory in (("xgboost", xgboost_models), ("lightgbm", lightgbm_models),
                          ("catboost", catboost_models)):
        try:
            libraries[name] = (__import__(name), factory)
        except ImportError:
            print(f"({name} is not installed: its column is left out)")
    results, versions = {}, []
    started = time.perf_counter()
    for name, (module, factory) in libraries.items():
        versions.append(f"{name} {module.__version__}")
        for label, model in factory(module, args.rounds, args.seed):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X_train, y_train - centre)
            prediction = model.predict(X_test) + centre
            results[label, name] = float(np.sqrt(np.mean((prediction - y_test) ** 2)))
    print(f"{args.rows} training rows (10% outliers), {args.rows} noise-free test rows, "
          f"{args.rounds} rounds, seed {args.seed}; {', '.join(versions)}")
    print("test RMSE against the noise-free function (lower is better)")
    labels = list(dict.fromkeys(label for label, _ in results))
    print(f"{'objective':32}" + "".join(f"{name:>10}" for name in libraries))
    for label in labels:
        cells = "".join(f"{results[label, name]:10.2f}" if (label, name) in results
                        else f"{'':>10}" for name in libraries)
        print(f"{label:32}{cells}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
