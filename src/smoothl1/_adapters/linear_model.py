"""The estimators of ``smoothl1.linear_model`` (docs/contract.md section 17): point 5 of the
order in which a fit is read, after the blocks, drivers, objective and solver of points 1 to 4
(``smoothl1._adapters.robust_objective``, whose docstring tells them):

5. The estimators: validation as scikit-learn's (``validate_data``, ``_check_sample_weight``),
   or on a Dask array's metadata; the fit; ``predict`` in X's dtype.
"""
from numbers import Integral, Real

import numpy as np
# The optional dependencies have no type information (import-untyped), or are not installed
# where mypy runs (import-not-found): either way, nothing to check here.
from scipy import sparse  # type: ignore[import-untyped, import-not-found, unused-ignore]
from sklearn.base import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    BaseEstimator,
    RegressorMixin,
)
from sklearn.utils import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    validation as sklearn_validation,
)
from sklearn.utils._param_validation import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    Interval,
    StrOptions,
)
from sklearn.utils.validation import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    _check_sample_weight,
    check_is_fitted,
)

from .._core.losses import LOSSES, NAMES, loss_named
from .._core.validation import check_param
from .robust_objective import _DaskRows, _InMemoryRows, _Objective, _solve



def validate_data(estimator, *args, **kwargs):
    """scikit-learn's validate_data (>= 1.6), or the estimator's method it replaced."""
    if hasattr(sklearn_validation, "validate_data"):
        return sklearn_validation.validate_data(estimator, *args, **kwargs)
    return estimator._validate_data(*args, **kwargs)   # pragma: no cover (scikit-learn < 1.6)


__all__ = ["HuberRegressor", "RobustRegressor"]


# ---------------------------------------------------------------------------------------------
# 5. The estimators
# ---------------------------------------------------------------------------------------------

def _is_dask(array):
    return type(array).__module__.startswith("dask.")


class _RobustLinearModel(RegressorMixin, BaseEstimator):
    """What the estimators share: validation, the solve, predict."""

    _joint_scale = False

    def _loss_and_param(self):
        raise NotImplementedError

    def _validate_fit(self, X, y, sample_weight):
        if _is_dask(X):
            if X.ndim != 2:
                raise ValueError(f"X must be a 2-D Dask array, got {X.ndim}-D")
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            if not _is_dask(y):
                y = np.asarray(y, dtype=np.float64).ravel()
            if sample_weight is not None and not _is_dask(sample_weight):
                sample_weight = np.asarray(sample_weight, dtype=np.float64)
            return _DaskRows(X, y, sample_weight)
        X, y = validate_data(self, X, y, copy=False, accept_sparse=["csr"], y_numeric=True,
                             dtype=[np.float64, np.float32])
        if sparse.issparse(X):
            X = X.tocsr()
        y = np.asarray(y)
        if y.dtype not in (np.float32, np.float64):   # (the blocks make float64 residuals)
            y = y.astype(np.float64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if np.any(sample_weight < 0):
                raise ValueError("sample_weight must be non-negative")
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
        return _InMemoryRows(X, y, sample_weight)

    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` (NumPy, CSR or a Dask array chunked by rows) and ``y``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            float32 data is used as float32 (never converted to a float64 copy). A Dask
            array is evaluated chunk by chunk: one pass over it per objective evaluation.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight equals repeating the sample.

        Returns
        -------
        self : object
        """
        self._validate_params()
        loss, param = self._loss_and_param()
        rows = self._validate_fit(X, y, sample_weight)
        objective = _Objective(rows, loss, param, self.alpha, self.fit_intercept,
                               self._joint_scale)
        if self.warm_start and hasattr(self, "coef_") and \
                np.shape(self.coef_) == (rows.n_features,):
            theta = objective.from_model(self.coef_, self.intercept_,
                                         getattr(self, "scale_", 1.0))
        else:
            theta = objective.start()
        theta, self.n_iter_ = _solve(objective, theta, self.max_iter, self.tol)
        self.coef_, intercept, scale = objective.to_model(theta)
        self.intercept_ = float(intercept)
        if scale is not None:
            self.scale_ = float(scale)
        self._after_fit(rows)
        return self

    def _after_fit(self, rows):
        pass

    def predict(self, X):
        """``X @ coef_ + intercept_`` (in X's floating dtype; lazily for a Dask X)."""
        check_is_fitted(self)
        if _is_dask(X):
            if X.ndim != 2 or X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has shape {X.shape}, but {type(self).__name__} was fitted "
                                 f"with {self.n_features_in_} features")
            dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
            return X.astype(dtype) @ self.coef_.astype(dtype) + dtype.type(self.intercept_)
        X = validate_data(self, X, reset=False, accept_sparse=["csr"],
                          dtype=[np.float64, np.float32])
        return np.asarray(X @ self.coef_.astype(X.dtype) + X.dtype.type(self.intercept_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"allow_nan": False}


class HuberRegressor(_RobustLinearModel):
    """L2-regularized linear regression robust to outliers: a drop-in for
    ``sklearn.linear_model.HuberRegressor`` (same parameters, objective and attributes),
    computed with smoothl1's fused Huber kernel.

    It minimizes, over the coefficients ``w``, the intercept ``c`` and the scale ``sigma > 0``
    (Owen 2007's joint estimate)::

        sum_i s_i * (sigma + 2 * sigma * huber((y_i - x_i w - c) / sigma; epsilon))
            + alpha * ||w||^2

    (``2 * huber(z; epsilon)`` is scikit-learn's ``H_epsilon(z)``: ``z**2`` inside
    ``|z| < epsilon``, ``2 * epsilon * |z| - epsilon**2`` outside), with ``s_i`` the sample
    weights. The solver works on standardized features (internally, without copying X),
    restarts L-BFGS-B after a line-search failure and polishes the result with Newton steps:
    it does not raise where scikit-learn's does, and an uncentred feature (a Unix timestamp)
    gets the right coefficients.

    Parameters
    ----------
    epsilon : float, default=1.35
        The Huber threshold in units of ``sigma``; ``>= 1``. Smaller is more robust.
    max_iter : int, default=100
        Maximum number of L-BFGS-B iterations (restarts included).
    alpha : float, default=0.0001
        Strength of the squared L2 penalty ``alpha * ||w||^2`` (not on the intercept).
    warm_start : bool, default=False
        Start from the previous fit's ``coef_``, ``intercept_`` and ``scale_``.
    fit_intercept : bool, default=True
        Whether to fit the intercept.
    tol : float, default=1e-05
        L-BFGS-B stops when the largest projected gradient component of the standardized
        objective (divided by the sum of the weights) is at most ``tol``; Newton steps follow.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    scale_ : float
        The fitted ``sigma``.
    n_iter_ : int
        L-BFGS-B iterations, at most ``max_iter``.
    outliers_ : ndarray of bool, shape (n_samples,)
        ``|y - X w - c| > epsilon * scale_`` (for a Dask X: a Dask array).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has string feature names.
    """

    _parameter_constraints: dict = {
        "epsilon": [Interval(Real, 1.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "fit_intercept": ["boolean"],
        "tol": [Interval(Real, 0.0, None, closed="left")],
    }
    _joint_scale = True

    def __init__(self, *, epsilon=1.35, max_iter=100, alpha=0.0001, warm_start=False,
                 fit_intercept=True, tol=1e-05):
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.alpha = alpha
        self.warm_start = warm_start
        self.fit_intercept = fit_intercept
        self.tol = tol

    def _loss_and_param(self):
        return loss_named("huber"), float(self.epsilon)

    def _after_fit(self, rows):
        self.outliers_ = rows.outliers(self.coef_, self.intercept_, self.scale_ * self.epsilon)


_TABLE = ", ".join(f"``{loss.name}`` ({loss.param}, default {loss.default})" for loss in LOSSES)


class RobustRegressor(_RobustLinearModel):
    """Linear regression with any loss of smoothl1's table, a fixed loss parameter, sample
    weights and an L2 penalty::

        sum_i s_i * loss(y_i - x_i w - c; param) + alpha * ||w||^2

    Parameters
    ----------
    loss : str, default="huber"
        One of the table of losses: {table}.
    param : float or None, default=None
        The loss's parameter (``beta`` or ``delta``, in the units of ``y``); ``None`` is the
        table's default.
    alpha : float, default=0.0001
        Strength of the squared L2 penalty (not on the intercept).
    fit_intercept : bool, default=True
    max_iter : int, default=100
        Maximum number of L-BFGS-B iterations.
    tol : float, default=1e-05
        As in ``HuberRegressor``.
    warm_start : bool, default=False

    Attributes
    ----------
    coef_, intercept_, n_iter_, n_features_in_, feature_names_in_
        As in ``HuberRegressor``.

    Notes
    -----
    ``cauchy`` is not convex: the fit finds a local minimum, started from the least-squares
    intercept and zero coefficients. ``smooth_l1`` with ``beta = 0`` (plain L1) is not smooth:
    prefer a small positive ``beta``.
    """

    _parameter_constraints: dict = {
        "loss": [StrOptions(set(NAMES))],
        "param": [None, Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "warm_start": ["boolean"],
    }

    def __init__(self, *, loss="huber", param=None, alpha=0.0001, fit_intercept=True,
                 max_iter=100, tol=1e-05, warm_start=False):
        self.loss = loss
        self.param = param
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start

    def _loss_and_param(self):
        row = loss_named(self.loss)
        return row, check_param(row, row.default if self.param is None else self.param)


RobustRegressor.__doc__ = (RobustRegressor.__doc__ or "").format(table=_TABLE)
