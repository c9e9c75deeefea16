"""smoothl1.boosting against the real libraries (docs/contract.md section 14): each objective
trains in the library's native function and in its scikit-learn estimator, honours sample
weights, and reproduces the library's own objective where one exists. Each library's tests
skip when it is not installed (pip install "smoothl1[boosting]")."""
import numpy as np
import pytest

import smoothl1
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
