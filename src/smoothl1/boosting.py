"""Every loss of smoothl1 (its table: smoothl1._core.losses) as a custom objective of gradient
boosting libraries (docs/contract.md section 14; a guide with measurements in
docs/boosting.md).

    import smoothl1.boosting as sb
    xgboost.train(params, dtrain, obj=sb.xgboost_objective("huber", delta=1.0))
    xgboost.XGBRegressor(objective=sb.xgboost_objective("huber", delta=1.0))
    lightgbm.train({"objective": sb.lightgbm_objective("huber", delta=1.0)}, train_set)
    lightgbm.LGBMRegressor(objective=sb.lightgbm_objective("huber", delta=1.0))
    catboost.CatBoostRegressor(loss_function=sb.catboost_objective("huber", delta=1.0),
                               eval_metric=sb.catboost_metric("huber", delta=1.0))

``initial_score(label, loss, **param)`` (or ``objective.initial_score(label)``) is the constant
that minimises the loss of the labels, the start each library needs (XGBoost's ``base_score``,
LightGBM's ``init_score``, CatBoost's ``baseline``); ``<library>_metric(loss, **param)`` is the
loss's weighted mean as each library's evaluation metric, for early stopping.

Each object computes the gradient and the curvature of every row in one pass of
``<loss>_grad_hess`` (weights applied there), into the arrays it returns: converted labels
and weights are written into those arrays first, so a call makes no other array of the
data's size. None of the three libraries is imported here.

``curvature`` chooses the Hessian the trees are fitted with (docs/contract.md section 11):
``"exact"`` is the true second derivative (0 in the linear zone of Huber and smooth L1: rows
with large residuals then carry no weight in a leaf, and a tree of such rows cannot move);
``"irls"`` (the default) is ``grad / residual``, the majorize-minimize curvature, positive
everywhere, so every Newton step is bounded by the loss's own slope; ``"one"`` gives every
row the same curvature (LightGBM's built-in Huber). No choice wins on every data set:
docs/boosting.md compares them.
"""
# The objectives are made in the adapters' wing (smoothl1._adapters.boosting); this is their
# public home, which the functions' and classes' __module__ names (so pickles name it too).
from ._adapters.boosting import (
    CatBoostMetric,
    CatBoostObjective,
    LightGBMMetric,
    LightGBMObjective,
    XGBoostMetric,
    XGBoostObjective,
    catboost_metric,
    catboost_objective,
    initial_score,
    lightgbm_metric,
    lightgbm_objective,
    xgboost_metric,
    xgboost_objective,
)

# The functions, then the classes they return; dir() lists nothing else (tests/test_boosting.py).
__all__ = ["xgboost_objective", "lightgbm_objective", "catboost_objective", "xgboost_metric",
           "lightgbm_metric", "catboost_metric", "initial_score", "XGBoostObjective",
           "LightGBMObjective", "CatBoostObjective", "XGBoostMetric", "LightGBMMetric",
           "CatBoostMetric"]
