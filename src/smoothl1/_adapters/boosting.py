"""The code of ``smoothl1.boosting`` (its guide: ``help(smoothl1.boosting)``): every loss of
the table as a custom objective of XGBoost, LightGBM and CatBoost, each a ``<loss>_grad_hess``
call of the core. None of the three libraries is imported here.
"""
import textwrap

import numpy as np

from .._core.api import evaluate
from .._core.functions import parameter_ranges, quoted_names
from .._core.grad_hess import grad_hess
from .._core.losses import loss_named
from .._core.validation import check_curvature, check_n_threads, loss_param

__all__ = ["xgboost_objective", "lightgbm_objective", "catboost_objective", "xgboost_metric",
           "lightgbm_metric", "catboost_metric", "initial_score", "XGBoostObjective",
           "LightGBMObjective", "CatBoostObjective", "XGBoostMetric", "LightGBMMetric",
           "CatBoostMetric"]


def _float_array(name, value):
    """value as a float32/float64 ndarray: integer or other float data becomes float64."""
    value = np.asarray(value)
    if value.dtype != np.float32 and value.dtype != np.float64:
        value = value.astype(np.float64)
    return value


def _loss_and_param(loss, param, what):
    """The row of ``loss`` and its checked parameter from the keywords ``param``: the one check
    of the objectives, the metrics and initial_score (a keyword of another loss is a
    TypeError that names it)."""
    row = loss_named(loss)
    return row, loss_param(row, param, f"the {loss} {what}")


def _labels_and_weights(label, weight):
    """label and weight as 1-D float64 arrays (weight None: all ones), checked: the labels
    finite and not empty; the weights of the labels' length, finite, >= 0, with a positive
    sum."""
    label = np.asarray(label)
    if label.dtype.kind not in "iuf":
        raise TypeError(f"label must be an array of real numbers, got dtype {label.dtype}")
    label = label.astype(np.float64).reshape(-1)
    if label.size == 0:
        raise ValueError("label must not be empty")
    if not np.isfinite(label).all():
        raise ValueError("label must be finite (it holds nan or inf)")
    if weight is None:
        return label, np.ones_like(label)
    weight = np.asarray(weight)
    if weight.dtype.kind not in "iuf":
        raise TypeError(f"weight must be an array of real numbers, got dtype {weight.dtype}")
    weight = weight.astype(np.float64).reshape(-1)
    if weight.size != label.size:
        raise ValueError(f"weight must have one value per label ({label.size}), got "
                         f"{weight.size}")
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("weight must be finite and >= 0")
    if not weight.sum() > 0:
        raise ValueError("weight must have a positive sum")
    return label, weight


def _weighted_median(label, weight):
    """The smallest label at which the labels' weights, summed in order, reach half their
    total."""
    order = np.argsort(label, kind="stable")
    cumulative = np.cumsum(weight[order])
    return float(label[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


_MAX_STEPS = 200   # Newton and bisection steps of constant_minimiser: each at least halves the
                   # bracket or lands on a root; about 60 halvings reach the last bit of a double


def constant_minimiser(row, param, label, weight):
    """The constant c that minimises sum(weight * loss(c - label)): a zero of the weighted
    gradient sum G(c), which is < 0 below every label and > 0 above (the loss's gradient has
    the residual's sign). From the weighted median, Newton steps on G with the exact curvature,
    kept inside the bracket [lo, hi] where G changes sign; a step that leaves it, or no
    curvature (the linear zone of Huber and smooth L1), bisects instead. Ends when G is 0, the
    bracket is a few ulps wide or a step no longer moves c. For a convex loss c is the
    minimiser (for smooth L1 with beta = 0, L1, a weighted median); for Cauchy, not convex, a
    local minimum, the one nearest the median in practice."""
    lo, hi = float(label.min()), float(label.max())
    c = _weighted_median(label, weight)
    # Scaled to at most 1 (the same minimiser): huge finite weights cannot overflow G's sum.
    weight = weight / weight.max()
    guess = np.empty(1)
    grad, hess = np.empty_like(label), np.empty_like(label)
    for _ in range(_MAX_STEPS):
        guess[0] = c
        grad_hess(row, np.broadcast_to(guess, label.shape), label, param=param, weight=weight,
                  curvature="exact", grad_out=grad, hess_out=hess)
        slope, curvature = float(grad.sum()), float(hess.sum())
        if slope == 0.0:
            break
        if slope > 0.0:
            hi = c
        else:
            lo = c
        if hi - lo <= 4 * np.spacing(max(abs(lo), abs(hi))):
            break
        step = c - slope / curvature if curvature > 0.0 else np.nan
        if not lo < step < hi:
            step = 0.5 * (lo + hi)
        if step == c:
            break
        c = step
    return c


class _Objective:
    """What the three adapters share: the loss, its parameter, the curvature, and one call
    that returns (grad, hess) of the loss with respect to the prediction."""

    def __init__(self, loss, param, curvature, n_threads=None):
        self._loss, self.param = _loss_and_param(loss, param, "objective")
        self.loss = loss
        self.param_name = self._loss.param
        check_curvature(curvature)
        self.curvature = curvature
        self.n_threads = check_n_threads(n_threads)

    def __repr__(self):
        return (f"{type(self).__name__}({self.loss!r}, {self.param_name}={self.param!r}, "
                f"curvature={self.curvature!r})")

    def initial_score(self, label, weight=None):
        """The constant prediction that minimises the weighted loss of the labels, the start
        of boosting: ``smoothl1.boosting.initial_score`` with this objective's loss and
        parameter."""
        label, weight = _labels_and_weights(label, weight)
        return constant_minimiser(self._loss, self.param, label, weight)

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


class _Metric:
    """What the three metrics share: the loss, its parameter, and the weighted mean loss
    ``sum(w * loss(prediction - label)) / sum(w)`` in double precision (the libraries' own
    metrics are weighted means too)."""

    is_higher_better = False

    def __init__(self, loss, param, n_threads=None):
        self._loss, self.param = _loss_and_param(loss, param, "metric")
        self.loss = loss
        self.param_name = self._loss.param
        self.n_threads = check_n_threads(n_threads)
        self.__name__ = loss     # the metric's name in the libraries' logs and results

    def __repr__(self):
        return f"{type(self).__name__}({self.loss!r}, {self.param_name}={self.param!r})"

    def _sums(self, prediction, label, weight):
        """(sum of w * loss, sum of w) over the rows, in float64: the libraries hand over
        float32 predictions, labels or weights, which smoothl1 does not cast silently."""
        prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
        label = np.asarray(label, dtype=np.float64).reshape(-1)
        if weight is not None and np.size(weight) == 0:    # XGBoost's "no weights"
            weight = None
        if weight is None:
            total = evaluate(self._loss, prediction, label, param=self.param,
                             reduction="sum", n_threads=self.n_threads, want_loss=True,
                             want_grad=False)[1]
            return total, float(prediction.size)
        weight = np.asarray(weight, dtype=np.float64).reshape(-1)
        total = evaluate(self._loss, prediction, label, param=self.param, weight=weight,
                         reduction="sum", n_threads=self.n_threads, want_loss=True,
                         want_grad=False)[1]
        return total, float(weight.sum())

    def mean_loss(self, prediction, label, weight=None):
        """The weighted mean loss of ``prediction - label``."""
        total, weight_sum = self._sums(prediction, label, weight)
        return total / weight_sum


class XGBoostMetric(_Metric):
    """An XGBoost evaluation metric; see ``xgboost_metric``."""

    def __call__(self, predt, dtrain, sample_weight=None):
        # xgboost.train calls custom_metric(predt, dmatrix) for a (name, value) pair;
        # XGBRegressor(eval_metric=) calls metric(y_true, y_pred[, sample_weight=]) for a value
        # and names it by __name__.
        if hasattr(dtrain, "get_label"):
            return self.__name__, self.mean_loss(predt, dtrain.get_label(),
                                                 dtrain.get_weight())
        y_true, y_pred = predt, dtrain
        return self.mean_loss(y_pred, y_true, sample_weight)


class LightGBMMetric(_Metric):
    """A LightGBM evaluation metric; see ``lightgbm_metric``."""

    def __call__(self, preds, eval_data, weight=None):
        # lightgbm.train calls feval(preds, eval_data); LGBMRegressor(eval_metric=) counts
        # the parameters and, for three, calls metric(y_true, y_pred, weight). Both want
        # (name, value, is_higher_better).
        if hasattr(eval_data, "get_label"):
            value = self.mean_loss(preds, eval_data.get_label(), eval_data.get_weight())
        else:
            y_true, y_pred = preds, eval_data
            value = self.mean_loss(y_pred, y_true, weight)
        return self.__name__, value, False


class CatBoostMetric(_Metric):
    """A CatBoost evaluation metric; see ``catboost_metric``."""

    def is_max_optimal(self):
        return False

    def evaluate(self, approxes, target, weight):
        """CatBoost's interface: ``(sum of w * loss, sum of w)`` over a range of rows;
        ``approxes`` holds one array of predictions (a single-output model)."""
        if len(approxes) != 1:
            raise ValueError(f"the {self.loss} metric is for a single output, got "
                             f"{len(approxes)} approxes")
        return self._sums(approxes[0], target, weight)

    def get_final_error(self, error, weight):
        return error / weight


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
    estimates it only for its built-in objectives) to ``objective.initial_score(y)``;
    ``xgboost_metric`` is the same loss for early stopping.
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
    mean unless ``boost_from_average=False``). Start it from ``objective.initial_score(y)``:
    ``init_score`` of the ``Dataset`` or of ``fit``, added back to ``predict()``;
    ``lightgbm_metric`` is the same loss for early stopping.
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
    CatBoost needs ``eval_metric`` with a custom objective: ``catboost_metric`` (the same
    loss) or one of its own (``"RMSE"``). It starts a custom objective from 0: give
    ``objective.initial_score(y)`` as the ``Pool``'s ``baseline``, then
    ``model.set_scale_and_bias(1.0, start)`` so that ``predict()`` adds it.
""")


def initial_score(label, loss, *, weight=None, **param):
    row, param = _loss_and_param(loss, param, "initial_score")
    label, weight = _labels_and_weights(label, weight)
    return constant_minimiser(row, param, label, weight)


initial_score.__doc__ = f"""The start of boosting: the constant prediction ``c`` that minimises
    ``sum(weight * loss(c - label))``, the loss's own constant model.

    XGBoost estimates its start only for its built-in objectives, LightGBM and CatBoost start
    a custom objective from 0; a start far from the labels costs rounds (and, with curvature
    ``"one"``, many: each round moves a leaf by at most the loss's slope). Give ``c`` to
    XGBoost as ``base_score``, to LightGBM as ``init_score`` (one value per row, added back at
    prediction) and to CatBoost as ``baseline`` (then ``set_scale_and_bias(1.0, c)``);
    docs/boosting.md shows each.

    How ``c`` is found: ``c`` is a zero of ``G(c) = sum(weight * grad(c - label))``. From the
    weighted median of the labels, Newton steps on ``G`` (with the exact curvature), each kept
    inside the bracket where ``G`` changes sign, which a step that leaves it, or a zero
    curvature (the linear zone of Huber and smooth L1), halves instead; it ends when ``G`` is
    0 or the bracket is a few ulps wide. For the convex losses ``c`` is the minimiser (Huber
    with ``delta = inf``: the weighted mean; smooth L1 with ``beta = 0``: a weighted median);
    for Cauchy, which is not convex, it is a local minimum (the one nearest the median in
    practice).

    Parameters
    ----------
    label : array_like of real numbers
        The training labels (any shape; finite).
    loss : {{{quoted_names()}}}
    weight : array_like or None, keyword-only
        One weight per label, finite and ``>= 0`` with a positive sum (default: all 1).
    beta or delta : float, keyword-only
        The loss's parameter ({parameter_ranges()}; default 1.0).

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        For an unknown ``loss``, a parameter of another loss or out of range, empty or
        non-finite labels, or weights of another length, negative, non-finite or summing to 0.
    """


def xgboost_metric(loss, *, n_threads=None, **param):
    return XGBoostMetric(loss, param, n_threads)


def lightgbm_metric(loss, *, n_threads=None, **param):
    return LightGBMMetric(loss, param, n_threads)


def catboost_metric(loss, *, n_threads=None, **param):
    return CatBoostMetric(loss, param, n_threads)


_METRIC_DOC = """{summary}

    The weighted mean of the loss of ``prediction - label`` over the evaluation rows,
    ``sum(w * loss) / sum(w)`` (the plain mean without weights), computed in double precision;
    lower is better. XGBoost and LightGBM name it ``loss`` in their logs and results,
    CatBoost ``CatBoostMetric``.

    Parameters
    ----------
    loss : {{{names}}}
    beta or delta : float, keyword-only
        The loss's parameter ({ranges}; default 1.0).
    n_threads : int or None, keyword-only
        Threads of each call, as in the NumPy functions.

    Returns
    -------
    {returns}
"""
xgboost_metric.__doc__ = _METRIC_DOC.format(
    names=quoted_names(), ranges=parameter_ranges(),
    summary="An evaluation metric for XGBoost: ``custom_metric=`` of ``xgboost.train``, or "
            "``eval_metric=`` of ``XGBRegressor`` (for early stopping).",
    returns="""metric : XGBoostMetric
        ``metric(predt, dmatrix)`` returns ``(name, value)`` (native) and
        ``metric(y_true, y_pred, sample_weight=None)`` the value (scikit-learn).""")
lightgbm_metric.__doc__ = _METRIC_DOC.format(
    names=quoted_names(), ranges=parameter_ranges(),
    summary="An evaluation metric for LightGBM: ``feval=`` of ``lightgbm.train``, or "
            "``eval_metric=`` of ``LGBMRegressor.fit`` (for early stopping).",
    returns="""metric : LightGBMMetric
        ``metric(preds, eval_data)`` (native) and ``metric(y_true, y_pred, weight)``
        (scikit-learn) return ``(name, value, False)`` (False: lower is better).""")
catboost_metric.__doc__ = _METRIC_DOC.format(
    names=quoted_names(), ranges=parameter_ranges(),
    summary="An evaluation metric for CatBoost: ``eval_metric=`` of ``CatBoostRegressor`` "
            "or of ``catboost.train``'s parameters (for early stopping).",
    returns="""metric : CatBoostMetric
        An object with CatBoost's ``is_max_optimal()``, ``evaluate(approxes, target,
        weight)`` (the sums of ``w * loss`` and of ``w``) and ``get_final_error``.""")


# Their public home: smoothl1.boosting re-exports them, and repr, help and pickles name it.
for _public in (XGBoostObjective, LightGBMObjective, CatBoostObjective, xgboost_objective,
                lightgbm_objective, catboost_objective, XGBoostMetric, LightGBMMetric,
                CatBoostMetric, xgboost_metric, lightgbm_metric, catboost_metric,
                initial_score):
    _public.__module__ = "smoothl1.boosting"
del _public
