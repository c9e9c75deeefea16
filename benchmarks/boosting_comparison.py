"""smoothl1's boosting objectives (Huber, pseudo-Huber and smooth L1, with each curvature)
against the built-in objectives of XGBoost, LightGBM and CatBoost, on six seeded regression
problems: training labels with 0%, 10% or 30% outliers and noise of standard deviation 0.5 or
2. Prints, per library, the held-out RMSE against the noise-free function of every model.

    pip install "smoothl1[boosting]"
    python benchmarks/boosting_comparison.py [--rows 4000] [--rounds 200] [--seed 0]

The data: Friedman's first function of five uniform features (labels from about 0 to 30),
plus Gaussian noise; an outlier adds 20 to 60, of either sign. The held-out rows are as many,
scored against the noise-free function: the score says how well a model recovers the signal
through noise and outliers. Each model starts as a user would run it: a built-in objective
from the library's own start (XGBoost estimates base_score, LightGBM and CatBoost start RMSE
and Huber from the label mean; the row "built-in pseudo-Huber, c" starts XGBoost's
pseudo-Huber from initial_score instead, as its own estimate is far off), smoothl1's objectives from ``boosting.initial_score`` (XGBoost's
base_score; LightGBM's init_score, added back at prediction; CatBoost's baseline, then
set_scale_and_bias). Library settings are their defaults except: learning rate 0.1, depth 4
(LightGBM: 15 leaves), one thread, the seed; delta = 1 for Huber and pseudo-Huber (and the
built-ins: huber_slope, alpha, delta), beta = 2 for smooth L1 (with beta = 1 it is Huber with
delta = 1, row for row). The output is pasted in docs/boosting.md.
"""
import argparse
import time
import warnings

import numpy as np

from smoothl1 import boosting

LOSSES = (("huber", {"delta": 1.0}), ("pseudo_huber", {"delta": 1.0}),
          ("smooth_l1", {"beta": 2.0}))
CURVATURES = ("exact", "irls", "one")
DATASETS = tuple((outliers, noise) for outliers in (0.0, 0.1, 0.3) for noise in (0.5, 2.0))
# the built-in objectives: (row label, {library: objective}); a library without it is blank
BUILT_IN = (
    ("built-in squared error", {"xgboost": "reg:squarederror", "lightgbm": "regression",
                                "catboost": "RMSE"}),
    ("built-in absolute error", {"xgboost": "reg:absoluteerror", "lightgbm": "regression_l1",
                                 "catboost": "MAE"}),
    ("built-in Huber", {"lightgbm": "huber", "catboost": "Huber:delta=1.0"}),
    ("built-in pseudo-Huber", {"xgboost": "reg:pseudohubererror"}),
    # XGBoost 3.2 estimates base_score for pseudo-Huber far off (742 for labels of median
    # 14.5): the same objective from initial_score
    ("built-in pseudo-Huber, c", {"xgboost": "reg:pseudohubererror from initial_score"}),
)


def make_data(rows, outliers, noise, seed):
    rng = np.random.default_rng(seed)

    def friedman(n):
        X = rng.uniform(size=(n, 5))
        y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2
             + 10 * X[:, 3] + 5 * X[:, 4])
        return X, y

    X_train, y_train = friedman(rows)
    y_train = y_train + rng.normal(scale=noise, size=rows)
    hit = rng.random(rows) < outliers
    y_train[hit] += rng.choice([-1.0, 1.0], hit.sum()) * rng.uniform(20, 60, hit.sum())
    X_test, y_test = friedman(rows)
    return X_train, y_train, X_test, y_test


class XGBoost:
    def __init__(self, module, rounds, seed):
        self.module = module
        self.common = dict(n_estimators=rounds, learning_rate=0.1, max_depth=4, n_jobs=1,
                           random_state=seed)

    def built_in(self, objective, X, y, X_test):
        extra = {}
        if objective.startswith("reg:pseudohubererror"):
            extra["huber_slope"] = 1.0
        if objective.endswith(" from initial_score"):
            objective = objective.split()[0]
            extra["base_score"] = boosting.initial_score(y, "pseudo_huber", delta=1.0)
        model = self.module.XGBRegressor(objective=objective, **extra, **self.common)
        return model.fit(X, y).predict(X_test)

    def custom(self, loss, curvature, param, X, y, X_test):
        objective = boosting.xgboost_objective(loss, curvature=curvature, **param)
        model = self.module.XGBRegressor(objective=objective,
                                         base_score=objective.initial_score(y), **self.common)
        return model.fit(X, y).predict(X_test)


class LightGBM:
    def __init__(self, module, rounds, seed):
        self.module = module
        self.common = dict(n_estimators=rounds, learning_rate=0.1, num_leaves=15, n_jobs=1,
                           random_state=seed, verbose=-1)

    def built_in(self, objective, X, y, X_test):
        extra = {"alpha": 1.0} if objective == "huber" else {}
        model = self.module.LGBMRegressor(objective=objective, **extra, **self.common)
        return model.fit(X, y).predict(X_test)

    def custom(self, loss, curvature, param, X, y, X_test):
        objective = boosting.lightgbm_objective(loss, curvature=curvature, **param)
        start = objective.initial_score(y)
        model = self.module.LGBMRegressor(objective=objective, **self.common)
        model.fit(X, y, init_score=np.full(y.size, start))
        return model.predict(X_test) + start


class CatBoost:
    def __init__(self, module, rounds, seed):
        self.module = module
        self.common = dict(iterations=rounds, learning_rate=0.1, depth=4, thread_count=1,
                           random_seed=seed, verbose=0, allow_writing_files=False)

    def built_in(self, objective, X, y, X_test):
        model = self.module.CatBoostRegressor(loss_function=objective, **self.common)
        return model.fit(X, y).predict(X_test)

    def custom(self, loss, curvature, param, X, y, X_test):
        objective = boosting.catboost_objective(loss, curvature=curvature, **param)
        start = objective.initial_score(y)
        model = self.module.CatBoostRegressor(
            loss_function=objective, eval_metric=boosting.catboost_metric(loss, **param),
            **self.common)
        model.fit(self.module.Pool(X, y, baseline=np.full(y.size, start)))
        model.set_scale_and_bias(1.0, start)
        return model.predict(X_test)


def scores(library, X, y, X_test, y_test):
    """{row label: held-out RMSE against the noise-free function} of every model."""
    def rmse(prediction):
        return float(np.sqrt(np.mean((prediction - y_test) ** 2)))

    result = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, objectives in BUILT_IN:
            if library.name in objectives:
                result[label] = rmse(library.built_in(objectives[library.name], X, y, X_test))
        for loss, param in LOSSES:
            for curvature in CURVATURES:
                result[f"{loss} {curvature}"] = rmse(
                    library.custom(loss, curvature, param, X, y, X_test))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    libraries = []
    for name, adapter in (("xgboost", XGBoost), ("lightgbm", LightGBM),
                          ("catboost", CatBoost)):
        try:
            module = __import__(name)
        except ImportError:
            print(f"({name} is not installed: its table is left out)")
            continue
        library = adapter(module, args.rounds, args.seed)
        library.name = name
        libraries.append(library)
    started = time.perf_counter()
    data = {dataset: make_data(args.rows, *dataset, args.seed) for dataset in DATASETS}
    columns = [f"{outliers:.0%}/{noise:g}" for outliers, noise in DATASETS]
    print(f"{args.rows} training rows, {args.rows} held-out rows, {args.rounds} rounds, seed "
          f"{args.seed}; " + ", ".join(f"{lib.name} {lib.module.__version__}"
                                       for lib in libraries))
    print("held-out RMSE against the noise-free function (lower is better); columns: "
          "outlier share / noise sd")
    for library in libraries:
        results = {dataset: scores(library, *data[dataset]) for dataset in DATASETS}
        labels = list(results[DATASETS[0]])
        print(f"\n{library.name:26}" + "".join(f"{column:>9}" for column in columns))
        for label in labels:
            print(f"{label:26}" + "".join(f"{results[dataset][label]:9.2f}"
                                          for dataset in DATASETS))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
