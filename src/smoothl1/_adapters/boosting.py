"""The code of ``smoothl1.boosting`` (its guide: ``help(smoothl1.boosting)``): every loss of
the table as a custom objective of XGBoost, LightGBM and CatBoost, each a ``<loss>_grad_hess``
call of the core. None of the three libraries is imported here.
"""
import textwrap

import numpy as np

from .._core.functions import parameter_ranges, quoted_names
from .._core.grad_hess import grad_hess
from .._core.losses import loss_named
from .._core.validation import check_curvature, check_n_threads, check_param

__all__ = ["xgboost_objective", "lightgbm_objective", "catboost_objective"]


def _float_array(name, value):
    """value as a float32/float64 ndarray: integer or other float data becomes float64."""
    value = np.asarray(value)
    if value.dtype != np.float32 and value.dtype != np.float64:
        value = value.astype(np.float64)
    return value


class _Objective:
    """What the three adapters share: the loss, its parameter, the curvature, and one call
    that returns (grad, hess) of the loss with respect to the prediction."""

    def __init__(self, loss, param, curvature, n_threads=None):
        self._loss = loss_named(loss)
        param_name = self._loss.param
        unexpected = set(param) - {param_name}
        if unexpected:
            raise TypeError(f"the {loss} objective takes the keyword {param_name!r}, got "
                            f"{', '.join(sorted(unexpected))}")
        self.loss = loss
        self.param_name = param_name
        self.param = check_param(self._loss, param.get(param_name, self._loss.default))
        check_curvature(curvature)
        self.curvature = curvature
        self.n_threads = check_n_threads(n_threads)

    def __repr__(self):
        return (f"{type(self).__name__}({self.loss!r}, {self.param_name}={self.param!r}, "
                f"curvature={self.curvature!r})")

    def grad_hess(self, prediction, label, weight=None, grad_out=None, hess_out=None):
        """(grad, hess) of the loss at d = prediction - label, times the weights.

        Labels and weights of another dtype than the prediction (LightGBM keeps float32
        labels beside float64 scores) are converted into grad_out and hess_out, which the
        kernel then reads in place: no array of the data's size beyond the two results.
        """
        prediction = _float_array("prediction", prediction)
        grad = np.empty_like(prediction) if grad_out is None else grad_out
        hess = np.empty_like(prediction) if hess_out is None else hess_out
        label = np.asarray(label)
        if label.size == prediction.size and label.shape != prediction.shape:
            label = label.reshape(prediction.shape)    # flat labels of a 2-D prediction
        if label.dtype != prediction.dtype:
            np.copyto(grad, label, casting="unsafe")
            label = grad
        if weight is not None:
            weight = np.asarray(weight)
            if weight.size == 0:       # XGBoost's "no weights"
                weight = None
            elif weight.dtype != prediction.dtype:
                np.copyto(hess, weight if weight.shape == hess.shape
                          else np.broadcast_to(weight.reshape(-1, *([1] * (hess.ndim - 1))),
                                               hess.shape), casting="unsafe")
                weight = hess
            elif weight.ndim < prediction.ndim:
                weight = weight.reshape(-1, *([1] * (prediction.ndim - 1)))
        return grad_hess(self._loss, prediction, label, param=self.param, weight=weight,
                         curvature=self.curvature, grad_out=grad, hess_out=hess,
                         n_threads=self.n_threads)


class XGBoostObjective(_Objective):
    """An XGBoost custom objective; see ``xgboost_objective``."""

    def __call__(self, predt, dtrain, sample_weight=None):
        # xgboost.train calls obj(predt, dtrain); XGBRegressor calls
        # objective(y_true, y_pred[, sample_weight=]) (it looks for that parameter name).
        if hasattr(dtrain, "get_label"):
            return self.grad_hess(predt, dtrain.get_label(), dtrain.get_weight())
        y_true, y_pred = predt, dtrain
        return self.grad_hess(y_pred, y_true, sample_weight)


class LightGBMObjective(_Objective):
    """A LightGBM custom objective; see ``lightgbm_objective``."""

    def __call__(self, preds, train_data, weight=None):
        # lightgbm.train calls objective(preds, train_data); LGBMRegressor counts the
        # parameters and, for three, calls objective(y_true, y_pred, weight).
        if hasattr(train_data, "get_label"):
            return self.grad_hess(preds, train_data.get_label(), train_data.get_weight())
        y_true, y_pred = preds, train_data
        return self.grad_hess(y_pred, y_true, weight)


class CatBoostObjective(_Objective):
    """A CatBoost custom objective; see ``catboost_objective``."""

    def calc_ders_range(self, approxes, targets, weights):
        """CatBoost's interface: an ``(n, 2)`` array of ``der1, der2``, the first and second
        derivatives of the *negated* loss (CatBoost maximises), weighted."""
        approxes = _float_array("approxes", approxes)
        # (n, 2) in Fortran order: the two columns are separate blocks of memory, so the
        # kernel writes (and reads converted labels and weights from) each in place
        ders = np.empty((2, approxes.shape[0]), dtype=approxes.dtype).T
        self.grad_hess(approxes, targets, weights, ders[:, 0], ders[:, 1])
        np.negative(ders, out=ders)
        return ders


_PARAM_DOC = textwrap.fill(
    f"The loss's parameter ({parameter_ranges()}; default 1.0). One number, not one per row "
    "as ``*_grad_hess`` accepts: the libraries call the objective on row sets it cannot align "
    "an array with (a validation set, CatBoost's row ranges), and their sample weights are "
    "the per-row knob.", 95, initial_indent=" " * 8, subsequent_indent=" " * 8,
    break_on_hyphens=False)

_DOC = """{summary}

    Parameters
    ----------
    loss : {{{names}}}
        The loss of the residual ``prediction - label``.
    beta or delta : float, keyword-only
{param_doc}
    curvature : {{"exact", "irls", "one"}}, keyword-only
        The Hessian given to the trees (default ``"irls"``; see ``help(smoothl1.boosting)``
        and ``help(smoothl1.huber_grad_hess)``).
    n_threads : int or None, keyword-only
        Threads of each call, as in the NumPy functions (``None``: smoothl1 chooses). The
        library's own threads are idle while the objective runs.

    Returns
    -------
    {returns}
{usage}
    Raises
    ------
    ValueError, TypeError
        For an unknown ``loss`` or ``curvature``, a parameter of another loss, or one out of
        range.
"""


def xgboost_objective(loss, *, curvature="irls", n_threads=None, **param):
    return XGBoostObjective(loss, param, curvature, n_threads)


def lightgbm_objective(loss, *, curvature="irls", n_threads=None, **param):
    return LightGBMObjective(loss, param, curvature, n_threads)


def catboost_objective(loss, *, curvature="irls", n_threads=None, **param):
    return CatBoostObjective(loss, param, curvature, n_threads)


xgboost_objective.__doc__ = _DOC.format(
    names=quoted_names(), param_doc=_PARAM_DOC,
    summary="A custom objective for XGBoost: ``obj=`` of ``xgboost.train``, or "
            "``objective=`` of ``XGBRegressor``.",
    returns="""objective : XGBoostObjective
        A callable: ``objective(predt, dtrain)`` (native: labels and weights from the
        ``DMatrix``) and ``objective(y_true, y_pred, sample_weight=None)`` (scikit-learn)
        return ``(grad, hess)`` of the loss with respect to the prediction, weighted.""",
    usage="""
    With ``("pseudo_huber", delta=d, curvature="exact")`` it is XGBoost's
    ``objective="reg:pseudohubererror", huber_slope=d``. Set ``base_score`` (XGBoost
    estimates it only for its built-in objectives); the median of the labels suits these
    losses.
""")
lightgbm_objective.__doc__ = _DOC.format(
    names=quoted_names(), param_doc=_PARAM_DOC,
    summary="A custom objective for LightGBM: ``params[\"objective\"]`` of "
            "``lightgbm.train``, or ``objective=`` of ``LGBMRegressor``.",
    returns="""objective : LightGBMObjective
        A callable: ``objective(preds, train_data)`` (native) and
        ``objective(y_true, y_pred, weight)`` (scikit-learn) return ``(grad, hess)`` of the
        loss with respect to the raw score, weighted.""",
    usage="""
    With ``("huber", delta=a, curvature="one")`` it is LightGBM's ``objective="huber",
    alpha=a`` (LightGBM starts a custom objective from 0, its built-in Huber from the label
    mean unless ``boost_from_average=False``).
""")
catboost_objective.__doc__ = _DOC.format(
    names=quoted_names(), param_doc=_PARAM_DOC,
    summary="A custom objective for CatBoost: ``loss_function=`` of ``CatBoostRegressor`` "
            "or of ``catboost.train``'s parameters.",
    returns="""objective : CatBoostObjective
        An object with ``calc_ders_range(approxes, targets, weights)``, which returns the
        ``(n, 2)`` array of the first and second derivatives of the negated loss (CatBoost's
        sign convention), weighted.""",
    usage="""
    CatBoost needs ``eval_metric`` (e.g. ``"RMSE"``) with a custom objective.
""")


# Their public home: smoothl1.boosting re-exports them, and repr, help and pickles name it.
for _public in (XGBoostObjective, LightGBMObjective, CatBoostObjective, xgboost_objective,
                lightgbm_objective, catboost_objective):
    _public.__module__ = "smoothl1.boosting"
del _public
