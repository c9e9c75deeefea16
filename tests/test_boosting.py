"""smoothl1.boosting against the real libraries (docs/contract.md section 14): each objective
trains in the library's native function and in its scikit-learn estimator, honours sample
weights, and reproduces the library's own objective where one exists; initial_score is the
constant model's minimiser and a better start than 0; the metrics are the weighted mean loss
and stop training early. Each library's tests skip when it is not installed (pip install
"smoothl1[boosting]")."""
import numpy as np
import pytest

import smoothl1
from reference import ELEMENTWISE
from smoothl1 import boosting


def dataset(n=1500, seed=30, outliers=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = 2 * X[:, 0] + np.sin(2 * X[:, 1]) + 0.1 * rng.normal(size=n)
    if outliers:
        hit = rng.random(n) < outliers
        y[hit] += rng.choice([-1, 1], hit.sum()) * rng.uniform(20, 50, hit.sum())
    w = rng.uniform(0.2, 3.0, size=n)
    return X, y, w


# ---------------------------------------------------------------------------------------------
# The objects themselves (no library needed)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [boosting.xgboost_objective, boosting.lightgbm_objective,
                                  boosting.catboost_objective])
def test_arguments_are_checked(make):
    with pytest.raises(ValueError, match="loss must be one of"):
        make("l2")
    with pytest.raises(ValueError, match="curvature must be one of 'exact', 'irls', 'one'"):
        make("huber", curvature="newton")
    with pytest.raises(TypeError, match="takes the keyword 'delta', got beta"):
        make("huber", beta=1.0)
    with pytest.raises(ValueError, match="delta must be > 0"):
        make("pseudo_huber", delta=0.0)
    assert "beta=0.5" in repr(make("smooth_l1", beta=0.5))


def test_sklearn_style_call_converts_labels_and_weights_into_the_results():
    objective = boosting.lightgbm_objective("huber", delta=0.5, curvature="irls")
    preds = np.array([0.0, 1.0, -3.0])
    labels = np.array([0.25, 0.0, 0.0], dtype=np.float32)
    weights = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    grad, hess = objective(labels, preds, weights)
    expected = smoothl1.huber_grad_hess(preds, labels.astype(np.float64), delta=0.5,
                                        weight=weights.astype(np.float64), curvature="irls")
    np.testing.assert_array_equal(grad, expected[0])
    np.testing.assert_array_equal(hess, expected[1])
    assert grad.dtype == np.float64


def test_catboost_sign_convention_without_catboost():
    objective = boosting.catboost_objective("pseudo_huber", delta=2.0, curvature="exact")
    approxes = np.array([1.0, -4.0, 0.0])
    targets = np.array([0.0, 0.0, 0.0], dtype=np.float32)
    ders = objective.calc_ders_range(approxes, targets, None)
    grad, hess = smoothl1.pseudo_huber_grad_hess(approxes, 0.0, delta=2.0, curvature="exact")
    np.testing.assert_array_equal(ders[:, 0], -grad)
    np.testing.assert_array_equal(ders[:, 1], -hess)
    assert ders.shape == (3, 2)


def test_namespace_lists_only_its_public_names():
    public = [name for name in dir(boosting) if not name.startswith("__")]
    assert sorted(public) == sorted(boosting.__all__)
    for name in boosting.__all__:
        assert getattr(boosting, name).__module__ == "smoothl1.boosting"


# ---------------------------------------------------------------------------------------------
# initial_score: the constant model's minimiser
# ---------------------------------------------------------------------------------------------

PARAMS = {"smooth_l1": [0.0, 0.3, 2.0], "huber": [0.2, 1.0, 5.0], "pseudo_huber": [0.5, 3.0],
          "log_cosh": [0.5, 3.0], "cauchy": [1.0, 4.0]}
KEYWORD = {"smooth_l1": "beta"}


def mean_loss(loss, param, c, y, w):
    """The weighted mean loss of the constant c, from the NumPy reference."""
    return np.average(ELEMENTWISE[loss](c - y, param)[0], weights=w)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss, param", [(loss, param) for loss, params in PARAMS.items()
                                         for param in params])
def test_initial_score_is_the_constant_minimiser(loss, param, weighted):
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(7)
    y = 40.0 + rng.normal(scale=2.0, size=301)
    y[::7] += rng.uniform(10, 60, y[::7].size)                   # one-sided outliers
    w = rng.uniform(0.1, 3.0, size=y.size) if weighted else None
    c = boosting.initial_score(y, loss, weight=w, **{KEYWORD.get(loss, "delta"): param})
    assert type(c) is float
    # minimize_scalar on the mean loss, from the labels' own bracket (and, for Cauchy, which is
    # not convex, in the bulk of the labels, where the minimum nearest the median lies)
    bounds = (35.0, 45.0) if loss == "cauchy" else (y.min(), y.max())
    found = optimize.minimize_scalar(lambda t: mean_loss(loss, param, t, y, w), bounds=bounds,
                                     method="bounded", options={"xatol": 1e-10})
    ours, theirs = mean_loss(loss, param, c, y, w), mean_loss(loss, param, found.x, y, w)
    assert ours <= theirs * (1 + 1e-12), (c, found.x)
    if loss != "smooth_l1" or param > 0:      # L1's minimisers may form an interval
        np.testing.assert_allclose(c, found.x, rtol=0, atol=1e-6)


def test_initial_score_hand_values():
    y = np.array([0.0, 1.0, 2.0, 100.0])
    # Huber, delta 1: clip(c - y, -1, 1) sums to 1 + 0.5 - 0.5 - 1 = 0 at c = 1.5
    assert boosting.initial_score(y, "huber", delta=1.0) == 1.5
    w = np.array([1.0, 2.0, 3.0, 4.0])
    assert boosting.initial_score(y, "huber", delta=np.inf, weight=w) == pytest.approx(
        np.average(y, weights=w), rel=1e-15)                       # the weighted mean
    # L1: the weighted median, 2, to the bisection's last few ulps
    assert boosting.initial_score(y, "smooth_l1", beta=0.0, weight=w) == pytest.approx(
        2.0, rel=1e-14)
    assert boosting.initial_score(np.full(5, -3.25), "pseudo_huber") == -3.25
    # weights scale out: huge ones (whose sums would overflow) give the same start
    assert boosting.initial_score(y, "huber", weight=w * 4e307) == boosting.initial_score(
        y, "huber", weight=w)
    # the method of an objective is the function
    objective = boosting.lightgbm_objective("log_cosh", delta=0.5)
    assert objective.initial_score(y, w) == boosting.initial_score(y, "log_cosh", delta=0.5,
                                                                   weight=w)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(label=[]), ValueError, "label must not be empty"),
    (dict(label=[1.0, np.nan]), ValueError, "label must be finite"),
    (dict(label=["a", "b"]), TypeError, "label must be an array of real numbers"),
    (dict(weight=[1.0, 2.0]), ValueError, "weight must have one value per label"),
    (dict(weight=[1.0, -1.0, 1.0]), ValueError, "weight must be finite and >= 0"),
    (dict(weight=[0.0, 0.0, 0.0]), ValueError, "weight must have a positive sum"),
    (dict(beta=1.0), TypeError, "takes the keyword 'delta', got beta"),
    (dict(delta=0.0), ValueError, "delta must be > 0"),
    (dict(loss="l2"), ValueError, "loss must be one of"),
])
def test_initial_score_refuses_bad_input(kwargs, error, match):
    arguments = {"label": [1.0, 2.0, 3.0], "loss": "huber", **kwargs}
    with pytest.raises(error, match=match):
        boosting.initial_score(arguments.pop("label"), arguments.pop("loss"), **arguments)


# ---------------------------------------------------------------------------------------------
# The metrics, without the libraries
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", list(PARAMS))
def test_metrics_are_the_weighted_mean_loss(loss):
    rng = np.random.default_rng(8)
    pred = rng.normal(size=50).astype(np.float32)
    label = (pred + rng.normal(scale=3.0, size=50)).astype(np.float32)
    w = rng.uniform(0.1, 2.0, size=50).astype(np.float32)
    param = PARAMS[loss][-1]
    keyword = {KEYWORD.get(loss, "delta"): param}
    d = pred.astype(np.float64) - label.astype(np.float64)
    weighted = np.average(ELEMENTWISE[loss](d, param)[0], weights=w.astype(np.float64))
    plain = np.mean(ELEMENTWISE[loss](d, param)[0])
    xgb_metric = boosting.xgboost_metric(loss, **keyword)
    assert xgb_metric(label, pred, sample_weight=w) == pytest.approx(weighted, rel=1e-13)
    assert xgb_metric(label, pred) == pytest.approx(plain, rel=1e-13)
    assert xgb_metric.__name__ == loss
    name, value, higher_is_better = boosting.lightgbm_metric(loss, **keyword)(label, pred, w)
    assert (name, higher_is_better) == (loss, False)
    assert value == pytest.approx(weighted, rel=1e-13)
    cat_metric = boosting.catboost_metric(loss, **keyword)
    error, weight_sum = cat_metric.evaluate([pred], label, w)
    assert weight_sum == pytest.approx(w.astype(np.float64).sum(), rel=1e-13)
    assert cat_metric.get_final_error(error, weight_sum) == pytest.approx(weighted, rel=1e-13)
    assert cat_metric.evaluate([pred], label, None)[1] == 50.0
    assert not cat_metric.is_max_optimal()
    with pytest.raises(TypeError, match="takes the keyword"):
        boosting.xgboost_metric(loss, gamma=1.0)


# ---------------------------------------------------------------------------------------------
# Starting from initial_score, and stopping early on the metric, in each library
# ---------------------------------------------------------------------------------------------

def offset_dataset():
    """Labels around 100 (an offset far from 0) with 10% outliers, and a clean validation set."""
    X, y, _ = dataset(n=1500, outliers=0.1)
    X_valid, y_valid, _ = dataset(n=500, seed=32)
    return X, y + 100.0, X_valid, y_valid + 100.0


def valid_loss(prediction, y_valid):
    """The NumPy mean Huber loss (delta 1) on the validation rows, with the labels rounded to
    float32 as the libraries store them."""
    d = np.asarray(prediction, dtype=np.float64) - y_valid.astype(np.float32)
    return np.mean(ELEMENTWISE["huber"](d, 1.0)[0])


def rounds_to_reach(curve, level):
    return int(np.argmax(np.asarray(curve) <= level)) if min(curve) <= level else len(curve)


def check_start_helps(from_zero, from_start):
    """The training loss per round from 0 and from initial_score: the start ends lower and
    reaches the level the zero start ends at in fewer rounds."""
    assert from_start[-1] < from_zero[-1], (from_start[-1], from_zero[-1])
    assert rounds_to_reach(from_start, from_zero[-1]) < 0.5 * len(from_zero)


def test_xgboost_starts_from_initial_score_and_stops_early():
    xgb = pytest.importorskip("xgboost")
    X, y, X_valid, y_valid = offset_dataset()
    objective = boosting.xgboost_objective("huber", delta=1.0, curvature="one")
    metric = boosting.xgboost_metric("huber", delta=1.0)
    start = objective.initial_score(y)
    dtrain, dvalid = xgb.DMatrix(X, label=y), xgb.DMatrix(X_valid, label=y_valid)
    curves = {}
    for base_score in (0.0, start):
        record = {}
        xgb.train(dict(max_depth=3, eta=0.3, base_score=base_score, nthread=1,
                       disable_default_eval_metric=1), dtrain, 40, obj=objective,
                  evals=[(dtrain, "train")], custom_metric=metric, evals_result=record,
                  verbose_eval=False)
        curves[base_score] = record["train"]["huber"]
    check_start_helps(curves[0.0], curves[start])
    # early stopping on the validation loss; its value is the NumPy mean Huber loss
    record = {}
    booster = xgb.train(dict(max_depth=3, eta=0.3, base_score=start, nthread=1,
                             disable_default_eval_metric=1), dtrain, 500, obj=objective,
                        evals=[(dvalid, "valid")], custom_metric=metric, evals_result=record,
                        early_stopping_rounds=10, verbose_eval=False)
    assert booster.best_iteration < 400
    prediction = booster.predict(dvalid, iteration_range=(0, booster.best_iteration + 1))
    best = record["valid"]["huber"][booster.best_iteration]
    assert best == min(record["valid"]["huber"])
    # XGBoost records a metric to 6 decimals; the metric itself gives every digit
    assert best == pytest.approx(valid_loss(prediction, y_valid), rel=0, abs=6e-7)
    assert metric(prediction, dvalid)[1] == pytest.approx(valid_loss(prediction, y_valid),
                                                          rel=1e-12)
    # the scikit-learn estimator's eval_metric= calls metric(y_true, y_pred)
    pytest.importorskip("sklearn")
    model = xgb.XGBRegressor(objective=objective, base_score=start, n_estimators=5,
                             max_depth=3, n_jobs=1, eval_metric=metric)
    model.fit(X, y, eval_set=[(X_valid, y_valid)], verbose=False)
    recorded = model.evals_result()["validation_0"]["huber"][-1]
    assert recorded == pytest.approx(valid_loss(model.predict(X_valid), y_valid), abs=6e-7)


def test_lightgbm_starts_from_initial_score_and_stops_early():
    lgb = pytest.importorskip("lightgbm")
    X, y, X_valid, y_valid = offset_dataset()
    objective = boosting.lightgbm_objective("huber", delta=1.0, curvature="one")
    metric = boosting.lightgbm_metric("huber", delta=1.0)
    start = objective.initial_score(y)
    params = dict(objective=objective, metric="None", verbose=-1, num_threads=1,
                  deterministic=True)
    curves = {}
    for init in (0.0, start):
        record = {}
        train = lgb.Dataset(X, y, init_score=np.full(y.size, init))
        lgb.train(params, train, 40, valid_sets=[train], valid_names=["train"], feval=metric,
                  callbacks=[lgb.record_evaluation(record)])
        curves[init] = record["train"]["huber"]
    check_start_helps(curves[0.0], curves[start])
    booster = lgb.train(params, lgb.Dataset(X, y, init_score=np.full(y.size, start)), 2000,
                        valid_sets=[lgb.Dataset(X_valid, y_valid,
                                                init_score=np.full(y_valid.size, start))],
                        feval=metric, callbacks=[lgb.early_stopping(10, verbose=False)])
    assert booster.best_iteration < 1500
    # LightGBM predicts the trees' sum: the start is added back
    prediction = booster.predict(X_valid, num_iteration=booster.best_iteration) + start
    assert booster.best_score["valid_0"]["huber"] == pytest.approx(
        valid_loss(prediction, y_valid), rel=1e-12)
    # the scikit-learn estimator's eval_metric= calls metric(y_true, y_pred, weight)
    pytest.importorskip("sklearn")
    model = lgb.LGBMRegressor(objective=objective, metric="None", n_estimators=5, verbose=-1,
                              n_jobs=1)
    model.fit(X, y, init_score=np.full(y.size, start), eval_set=[(X_valid, y_valid)],
              eval_init_score=[np.full(y_valid.size, start)], eval_metric=metric)
    assert model.evals_result_["valid_0"]["huber"][-1] == pytest.approx(
        valid_loss(model.predict(X_valid) + start, y_valid), rel=1e-12)


def test_catboost_starts_from_initial_score_and_stops_early():
    catboost = pytest.importorskip("catboost")
    X, y, X_valid, y_valid = offset_dataset()
    objective = boosting.catboost_objective("huber", delta=1.0, curvature="one")
    metric = boosting.catboost_metric("huber", delta=1.0)
    start = objective.initial_score(y)
    common = dict(loss_function=objective, eval_metric=metric, learning_rate=0.3, depth=4,
                  verbose=0, thread_count=1, random_seed=0, allow_writing_files=False)
    curves = {}
    for init in (0.0, start):
        train = catboost.Pool(X, y, baseline=np.full(y.size, init))
        model = catboost.CatBoostRegressor(iterations=40, **common)
        model.fit(train, eval_set=train)
        curves[init] = model.get_evals_result()["validation"]["CatBoostMetric"]
    check_start_helps(curves[0.0], curves[start])
    model = catboost.CatBoostRegressor(iterations=2000, early_stopping_rounds=10, **common)
    model.fit(catboost.Pool(X, y, baseline=np.full(y.size, start)),
              eval_set=catboost.Pool(X_valid, y_valid, baseline=np.full(y_valid.size, start)))
    assert model.get_best_iteration() < 1500
    # what training saw: the pool's baseline (CatBoost keeps it in float32) plus the trees
    seen = model.predict(catboost.Pool(X_valid, baseline=np.full(y_valid.size, start)))
    assert model.get_best_score()["validation"]["CatBoostMetric"] == pytest.approx(
        valid_loss(seen, y_valid), rel=1e-12)
    trees = model.predict(X_valid)
    model.set_scale_and_bias(1.0, start)      # predict() then adds the start back
    np.testing.assert_allclose(model.predict(X_valid), trees + start, rtol=1e-15)
    np.testing.assert_allclose(model.predict(X_valid), seen, rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# XGBoost
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("delta", [0.5, 2.0])
def test_xgboost_reproduces_reg_pseudohubererror(delta, weighted):
    xgb = pytest.importorskip("xgboost")
    X, y, w = dataset(outliers=0.05)
    dtrain = xgb.DMatrix(X, label=y, weight=w if weighted else None)
    # min_child_weight=0: an outlier's exact curvature is ~1e-6, and the float32 rounding of
    # XGBoost's own formula can tip a node's curvature sum across a min_child_weight of 1,
    # after which the trees differ (seen at delta=0.5, weighted, after 25 rounds)
    params = dict(max_depth=3, eta=0.3, base_score=0.5, tree_method="hist", nthread=1,
                  min_child_weight=0)
    builtin = xgb.train({**params, "objective": "reg:pseudohubererror", "huber_slope": delta},
                        dtrain, 25)
    custom = xgb.train(params, dtrain, 25,
                       obj=boosting.xgboost_objective("pseudo_huber", delta=delta,
                                                      curvature="exact"))
    expected = builtin.predict(dtrain)
    # XGBoost computes its gradients in float32, smoothl1 rounds the double result once
    np.testing.assert_allclose(custom.predict(dtrain), expected, rtol=0, atol=2e-5 * (1 + delta))
    pytest.importorskip("sklearn")
    model = xgb.XGBRegressor(objective=boosting.xgboost_objective("pseudo_huber", delta=delta,
                                                                  curvature="exact"),
                             n_estimators=25, max_depth=3, learning_rate=0.3, base_score=0.5,
                             tree_method="hist", n_jobs=1, min_child_weight=0)
    model.fit(X, y, sample_weight=w if weighted else None)
    np.testing.assert_allclose(model.predict(X), expected, rtol=0, atol=2e-5 * (1 + delta))


def test_xgboost_weights_matter_and_match_repeated_rows():
    xgb = pytest.importorskip("xgboost")
    X, y, _ = dataset(n=400)
    w = np.where(np.arange(400) % 2 == 0, 2.0, 1.0)
    params = dict(max_depth=2, eta=0.5, base_score=0.0, tree_method="exact", nthread=1,
                  min_child_weight=0, reg_lambda=0)
    objective = boosting.xgboost_objective("huber", delta=1.0, curvature="one")
    weighted = xgb.train(params, xgb.DMatrix(X, label=y, weight=w), 5, obj=objective)
    repeat = np.repeat(np.arange(400), w.astype(int))
    repeated = xgb.train(params, xgb.DMatrix(X[repeat], label=y[repeat]), 5, obj=objective)
    unweighted = xgb.train(params, xgb.DMatrix(X, label=y), 5, obj=objective)
    test = xgb.DMatrix(X)
    np.testing.assert_allclose(weighted.predict(test), repeated.predict(test), atol=1e-5)
    assert not np.allclose(weighted.predict(test), unweighted.predict(test), atol=1e-3)


# ---------------------------------------------------------------------------------------------
# LightGBM
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha", [0.3, 1.5])
def test_lightgbm_reproduces_huber_exactly(alpha, weighted):
    lgb = pytest.importorskip("lightgbm")
    X, y, w = dataset(outliers=0.05)
    weight = w if weighted else None
    # LightGBM starts its built-in Huber from the label mean and a custom objective from 0
    params = dict(verbose=-1, num_threads=1, deterministic=True, boost_from_average=False,
                  num_leaves=15)
    builtin = lgb.train({**params, "objective": "huber", "alpha": alpha},
                        lgb.Dataset(X, y, weight=weight), 25)
    objective = boosting.lightgbm_objective("huber", delta=alpha, curvature="one")
    custom = lgb.train({**params, "objective": objective}, lgb.Dataset(X, y, weight=weight), 25)
    expected = builtin.predict(X)
    np.testing.assert_array_equal(custom.predict(X), expected)
    pytest.importorskip("sklearn")
    model = lgb.LGBMRegressor(objective=objective, n_estimators=25, verbose=-1, n_jobs=1,
                              deterministic=True, num_leaves=15)
    model.fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(model.predict(X), expected)


# ---------------------------------------------------------------------------------------------
# CatBoost
# ---------------------------------------------------------------------------------------------

def test_catboost_trains_and_resists_outliers():
    catboost = pytest.importorskip("catboost")
    X, y, w = dataset(n=1500, outliers=0.08)
    X_test, y_test, _ = dataset(n=1000, seed=31)     # clean test labels
    common = dict(iterations=150, learning_rate=0.2, depth=4, verbose=0, thread_count=1,
                  random_seed=0, allow_writing_files=False)
    robust = catboost.CatBoostRegressor(
        loss_function=boosting.catboost_objective("huber", delta=1.0, curvature="irls"),
        eval_metric="RMSE", **common).fit(X, y)
    rmse = catboost.CatBoostRegressor(loss_function="RMSE", **common).fit(X, y)

    def test_rmse(model):
        return float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))

    assert test_rmse(robust) < 0.5 * test_rmse(rmse), (test_rmse(robust), test_rmse(rmse))
    # native training function, and sample weights reach the objective
    pool = catboost.Pool(X, y, weight=w)
    native = catboost.train(pool, params=dict(
        loss_function=boosting.catboost_objective("huber", delta=1.0, curvature="irls"),
        eval_metric="RMSE", **common))
    weighted = catboost.CatBoostRegressor(
        loss_function=boosting.catboost_objective("huber", delta=1.0, curvature="irls"),
        eval_metric="RMSE", **common).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(native.predict(X_test), weighted.predict(X_test), rtol=1e-12)
    assert not np.allclose(weighted.predict(X_test), robust.predict(X_test), atol=1e-3)
