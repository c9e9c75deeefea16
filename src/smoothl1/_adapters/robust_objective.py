"""The rows, the objective and the solver of ``smoothl1.linear_model`` (docs/contract.md
section 17): what its estimators (``smoothl1._adapters.linear_model``, point 5) minimize, and
how, in the order they are read:

1. Blocks (``smoothl1._adapters.linear_blocks``). Every pass over the data is one function of
   a block of rows: ``block_sums`` (the objective's sums and ``X_b.T @ g``), ``block_hessian``
   (the Gram matrix of a Newton step), ``block_moments`` (column and target moments, once). A
   block computes ``X_b @ coef`` in X's dtype (float32 stays float32), the residuals in
   float64, one fused ``<loss>_loss_and_grad`` kernel call, and ``X_b.T @ g`` in X's dtype; the
   blocks' partial sums are added in float64. Buffers are O(rows of a block), never a copy of X.
2. Drivers. ``_InMemoryRows`` walks a NumPy (or SciPy CSR) X in blocks of about 2 MiB (still in
   cache when ``X_b.T @ g`` reads the block again); ``_DaskRows`` runs the same block function
   as one task per chunk of a Dask X chunked by rows and adds the partial sums on the client:
   one pass over X per evaluation either way.
3. The objective (``_Objective``), in a standardized parametrization: features centred (with
   an intercept) and scaled to unit weighted deviation, the target (and the Huber scale)
   divided by the target's deviation, the objective divided by the weight sum. Nothing is
   copied for it: ``((X - mu) / s) @ v`` is ``X @ (v / s) - mu . (v / s)``, and ``X.T @ g`` maps
   back the same way. It is the same objective (the same minimizer, mapped back exactly), but
   conditioned like standardized data: a Unix-timestamp column (scikit-learn issue 27777) fits
   as any other.
4. The solver (``_solve``): L-BFGS-B (``scipy.optimize.minimize``, the Huber scale bounded away
   from 0 as in scikit-learn), restarted from its best iterate with a fresh memory when its
   line search fails (``_lbfgs``); then Newton steps with backtracking polish the result to
   the exact optimum (``_newton``, up to ``_NEWTON_MAX_PARAMS`` parameters; the Hessian is
   reused while full steps succeed, as a piecewise-quadratic loss's does not change near the
   optimum). For the joint Huber scale, where the data can be interpolated (few rows, or the
   scale heading to 0), the optimum is at ``sigma -> 0``: the minimum-norm interpolant is the
   last candidate, taken when its objective is lower.

They are apart from the estimators as the numerical half of a fit: rows of any kind (NumPy,
CSR, Dask), a loss of the table and its parameter in, the standardized optimum out; nothing
here reads an estimator's parameters or validates as scikit-learn does.
"""
import math
import warnings

import numpy as np
# The optional dependencies have no type information (import-untyped), or are not installed
# where mypy runs (import-not-found): either way, nothing to check here.
import threadpoolctl  # type: ignore[import-untyped, import-not-found, unused-ignore]
from scipy import optimize  # type: ignore[import-untyped, import-not-found, unused-ignore]
from sklearn.exceptions import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    ConvergenceWarning,
)

from .linear_blocks import block_hessian, block_moments, block_sums, dense, residuals

# A block of X is read twice (X_b @ coef, then X_b.T @ g): at about 2 MiB it is still in the
# cache the second time, so a pass costs one read of X from memory (measured: n = 1e6, d = 50
# float64, 26 ms a pass with 4096 rows, 30 ms for one plain X @ coef, 120 ms unblocked).
_BLOCK_BYTES = 1 << 21
_RESTARTS = 3               # L-BFGS-B restarts after a line-search failure with no progress
_NEWTON_STEPS = 20          # Newton polishing steps at most
_NEWTON_MAX_PARAMS = 1002   # no Newton polish past this many parameters (a (p, p) Hessian)
_SCALE_LOWER = 10 * np.finfo(np.float64).eps   # the bound of the (standardized) Huber scale


# ---------------------------------------------------------------------------------------------
# 2. Drivers: one pass of a block function over the rows, partial sums added in float64
# ---------------------------------------------------------------------------------------------

def _add(parts):
    parts = list(parts)
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_add(part[i] for part in parts) for i in range(len(first)))
    total = first + 0.0 if isinstance(first, float) else np.array(first, dtype=np.float64)
    for part in parts[1:]:
        total += part
    return total


def _block_rows(n_features, itemsize):
    """Rows per block: a power of two, about _BLOCK_BYTES of X (at least 256 rows)."""
    rows = max(_BLOCK_BYTES // max(n_features * itemsize, 1), 256)
    return 1 << (rows.bit_length() - 1)


class _InMemoryRows:
    """A NumPy or CSR X, its target and weights, walked in blocks of rows."""

    def __init__(self, X, y, weight):
        self.X, self.y, self.weight = X, y, weight
        self.n_samples, self.n_features = X.shape
        self.first_row = np.asarray(dense(X[:1]), dtype=np.float64).ravel()
        self.first_target = float(y[0])

    def map_sum(self, function, *args):
        n, step = self.n_samples, _block_rows(self.n_features, self.X.dtype.itemsize)
        return _add(function(self.X[start:start + step], self.y[start:start + step],
                             None if self.weight is None else self.weight[start:start + step],
                             *args)
                    for start in range(0, max(n, 1), step))

    def outliers(self, coef, intercept, threshold):
        """|y - X coef - intercept| > threshold, block by block (a bool array)."""
        mask = np.empty(self.n_samples, dtype=bool)
        step = _block_rows(self.n_features, self.X.dtype.itemsize)
        for start in range(0, self.n_samples, step):
            z = residuals(self.X[start:start + step], self.y[start:start + step], coef,
                           intercept, 1.0, 1.0)
            np.greater(np.abs(z, out=z), threshold, out=mask[start:start + step])
        return mask


class _DaskRows:
    """A Dask X chunked by rows: one task per chunk, the partial sums added on the client."""

    def __init__(self, X, y, weight):
        import dask
        import dask.array as da
        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})
        rows = X.chunks[0]
        y = da.asarray(y).rechunk((rows,)) if not isinstance(y, np.ndarray) else \
            da.from_array(y, chunks=(rows,))
        if weight is not None:
            weight = da.from_array(weight, chunks=(rows,)) if isinstance(weight, np.ndarray) \
                else da.asarray(weight, dtype=np.float64).rechunk((rows,))
        self.X, self.y, self.weight = X, y, weight
        self.n_samples, self.n_features = X.shape
        self._blocks = list(zip(X.to_delayed().ravel(), y.to_delayed().ravel(),
                                [None] * len(rows) if weight is None
                                else weight.to_delayed().ravel()))
        first_row, first_target = dask.compute(X[0], y[0])
        self.first_row = np.asarray(first_row, dtype=np.float64).ravel()
        self.first_target = float(first_target)

    def map_sum(self, function, *args):
        import dask
        delayed = dask.delayed(function, pure=True)
        parts = dask.compute(*[delayed(X, y, w, *args) for X, y, w in self._blocks])
        return _add(parts)

    def outliers(self, coef, intercept, threshold):
        """|y - X coef - intercept| > threshold: a lazy Dask array."""
        return abs(self.y - self.X @ coef.astype(self.X.dtype) - intercept) > threshold


# ---------------------------------------------------------------------------------------------
# 3. The objective, standardized
# ---------------------------------------------------------------------------------------------

class _Objective:
    """F(theta) = [sum_i w_i rho_i + alpha ||coef||^2] / (y_scale^k * sum_i w_i), theta =
    (v, b[, tau]) with coef = y_scale * v / s and intercept = y_scale * (b - mu . v / s):

    - fixed loss (``joint_scale=False``, y_scale = 1): rho_i = loss(y_i - x_i coef - c).
    - joint Huber scale (Owen 2007; scikit-learn's objective): rho_i = sigma (1 + 2
      huber(r_i / sigma; epsilon)), sigma = y_scale * tau (= sigma + H_eps(r / sigma) sigma
      in scikit-learn's notation, H = 2 huber).
    """

    def __init__(self, rows, loss, param, alpha, fit_intercept, joint_scale):
        self.rows, self.loss, self.param = rows, loss, param
        self.alpha, self.fit_intercept, self.joint_scale = alpha, fit_intercept, joint_scale
        d = rows.n_features
        shift = np.concatenate([rows.first_row, [rows.first_target]])
        moments = rows.map_sum(block_moments, shift)
        total = moments[0]
        if not total > 0:
            raise ValueError("sample_weight must not sum to 0: there is nothing to fit")
        mean_x, mean_x2 = moments[1:d + 1] / total, moments[d + 1:2 * d + 1] / total
        mean_y, mean_y2 = moments[-2] / total, moments[-1] / total
        if fit_intercept:
            var_x = np.maximum(mean_x2 - mean_x * mean_x, 0.0)
            var_y = max(mean_y2 - mean_y * mean_y, 0.0)
            self.mu = shift[:-1] + mean_x
        else:
            var_x = mean_x2 + shift[:-1] * (2 * mean_x + shift[:-1])       # mean of x**2
            var_y = mean_y2 + shift[-1] * (2 * mean_y + shift[-1])
            self.mu = np.zeros(d)
        scale = np.sqrt(var_x)
        self.s = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        y_scale = math.sqrt(var_y) if joint_scale else 1.0
        self.y_scale = y_scale if y_scale > 0 and math.isfinite(y_scale) else 1.0
        self.y_mean = shift[-1] + mean_y
        self.weight_sum = total
        self.n_params = d + fit_intercept + joint_scale
        self.evaluations = 0
        self._last = None

    # theta <-> (coef, intercept, scale), in the caller's units
    def start(self):
        theta = np.zeros(self.n_params)
        if self.fit_intercept:
            theta[self.rows.n_features] = self.y_mean / self.y_scale
        if self.joint_scale:
            theta[-1] = 1.0
        return theta

    def from_model(self, coef, intercept, scale):
        d = self.rows.n_features
        theta = np.empty(self.n_params)
        theta[:d] = np.asarray(coef, dtype=np.float64) * self.s / self.y_scale
        if self.fit_intercept:
            theta[d] = (intercept + self.mu @ coef) / self.y_scale
        if self.joint_scale:
            theta[-1] = max(scale / self.y_scale, _SCALE_LOWER)
        return theta

    def to_model(self, theta):
        d = self.rows.n_features
        coef = self.y_scale * theta[:d] / self.s
        intercept = (self.y_scale * theta[d] - self.mu @ coef) if self.fit_intercept else 0.0
        scale = self.y_scale * theta[-1] if self.joint_scale else None
        return coef, intercept, scale

    def bounds(self):
        lower = [(None, None)] * (self.n_params - self.joint_scale)
        return lower + [(_SCALE_LOWER, None)] * self.joint_scale

    def _linear(self, theta):
        """(coef in X's units over y_scale, offset, tau): z = (y/y_scale - X coef - offset)/tau."""
        d = self.rows.n_features
        coef = theta[:d] / self.s
        offset = (theta[d] if self.fit_intercept else 0.0) - self.mu @ coef
        tau = theta[-1] if self.joint_scale else 1.0
        return coef, offset, tau

    def _penalty_factor(self):
        return self.alpha * self.y_scale / self.weight_sum

    def value_and_grad(self, theta):
        if self._last is not None and np.array_equal(theta, self._last[0]):
            return self._last[1], self._last[2].copy()   # (L-BFGS-B's last point, again)
        value, grad = self._value_and_grad(theta)
        self._last = (np.array(theta), value, grad.copy())
        return value, grad

    def _value_and_grad(self, theta):
        self.evaluations += 1
        d = self.rows.n_features
        coef, offset, tau = self._linear(theta)
        loss_sum, xtg, g_sum, zg = self.rows.map_sum(
            block_sums, coef, offset, self.y_scale, tau, self.loss, self.param)
        S = self.weight_sum
        # the data term: joint tau (1 + 2 L / S), its derivatives 2 x (those of L / S);
        # fixed L / S
        factor = 2.0 if self.joint_scale else 1.0
        v = theta[:d]
        kappa = self._penalty_factor()
        grad = np.empty_like(theta)
        grad[:d] = -factor / S * (xtg - self.mu * g_sum) / self.s + 2 * kappa * v / self.s ** 2
        if self.fit_intercept:
            grad[d] = -factor / S * g_sum
        penalty = kappa * float(np.sum((v / self.s) ** 2))
        if self.joint_scale:
            value = tau * (1.0 + 2.0 * loss_sum / S) + penalty
            grad[-1] = 1.0 + 2.0 / S * (loss_sum - zg)
        else:
            value = loss_sum / S + penalty
        return value, grad

    def value(self, theta):
        return self.value_and_grad(theta)[0]

    def hessian(self, theta, curvature):
        d = self.rows.n_features
        coef, offset, tau = self._linear(theta)
        gram = self.rows.map_sum(block_hessian, coef, offset, self.y_scale, tau, self.loss,
                                 self.param, curvature)
        # a_theta = T [x, 1, z]: the standardized features, 1, z (joint only)
        T = np.zeros((self.n_params, d + 2))
        T[np.arange(d), np.arange(d)] = 1.0 / self.s
        T[:d, d] = -self.mu / self.s
        if self.fit_intercept:
            T[d, d] = 1.0
        if self.joint_scale:
            T[-1, -1] = 1.0
        factor = 2.0 / tau if self.joint_scale else 1.0
        H = factor / self.weight_sum * (T @ gram @ T.T)
        H[np.arange(d), np.arange(d)] += 2 * self._penalty_factor() / self.s ** 2
        return H

    def few_rows(self):
        """Whether the rows of positive weight are few enough to be interpolated, perhaps."""
        rows = self.rows
        if not isinstance(rows, _InMemoryRows):
            return False
        n = rows.n_samples if rows.weight is None else np.count_nonzero(rows.weight)
        return n <= 4 * (rows.n_features + 1)

    def interpolant(self):
        """The minimum-norm coefficients that interpolate the rows of positive weight (the
        optimum of the joint Huber objective as sigma -> 0 when such coefficients exist), or
        None when X is too large to solve directly."""
        rows = self.rows
        if not isinstance(rows, _InMemoryRows) or rows.n_samples * rows.n_features > 1 << 22:
            return None
        keep = slice(None) if rows.weight is None else rows.weight > 0
        X = np.asarray(dense(rows.X[keep]), dtype=np.float64)
        X = (X - self.mu) / self.s
        y = np.asarray(rows.y[keep], dtype=np.float64) / self.y_scale
        if self.fit_intercept:
            X_centred, y_centred = X - X.mean(axis=0), y - y.mean()
        else:
            X_centred, y_centred = X, y
        v = np.linalg.lstsq(X_centred, y_centred, rcond=None)[0]
        theta = np.empty(self.n_params)
        theta[:rows.n_features] = v
        if self.fit_intercept:
            theta[rows.n_features] = float(np.mean(y - X @ v))
        theta[-1] = _SCALE_LOWER
        return theta


# ---------------------------------------------------------------------------------------------
# 4. The solver
# ---------------------------------------------------------------------------------------------

def _lbfgs(objective, theta, max_iter, tol):
    """L-BFGS-B, restarted from its best iterate after a line-search failure. Returns (theta,
    value, iterations, reached max_iter)."""
    best_value = np.inf
    iterations, failures = 0, 0
    # With a Newton polish to follow, L-BFGS-B may stop on a relative decrease of 1e-8 (the
    # polish ends the fit faster than its last iterations would: n = 1e6, d = 50, 2.1 s -> 1.1 s);
    # without one, it goes on to rounding.
    ftol = 1e-8 if objective.n_params <= _NEWTON_MAX_PARAMS else 64 * np.finfo(float).eps
    while True:
        result = optimize.minimize(
            objective.value_and_grad, theta, jac=True, method="L-BFGS-B",
            bounds=objective.bounds(),
            options={"maxiter": max(max_iter - iterations, 0), "gtol": tol,
                     "ftol": ftol, "maxcor": 20})
        iterations += int(result.nit)
        if result.fun <= best_value:
            progress = result.fun < best_value
            theta, best_value = result.x, float(result.fun)
        else:
            progress = False
        if result.status != 2 or iterations >= max_iter:    # converged or out of iterations
            return theta, best_value, min(iterations, max_iter), result.status == 1 or (
                result.status == 2 and iterations >= max_iter)
        # status 2: the line search failed (ABNORMAL); a fresh memory usually recovers
        failures = 0 if progress else failures + 1
        if failures >= _RESTARTS:
            return theta, best_value, iterations, False


def _newton_step(objective, theta, grad):
    """The Newton step at theta (the exact curvature, else the "irls" one where the former is
    not positive definite), or None."""
    for curvature in ("exact", "irls"):
        H = objective.hessian(theta, curvature)
        H[np.diag_indices_from(H)] *= 1.0 + 1e-12   # a tiny ridge for a semi-definite H
        try:
            factor = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            continue
        return lambda gradient: -np.linalg.solve(factor.T, np.linalg.solve(factor, gradient))
    return None


def _newton(objective, theta, value):
    """Newton steps with backtracking while they lower the objective. The Hessian of a
    piecewise-quadratic loss does not change once the residuals keep their side of the kinks,
    so it is reused while full steps succeed, and recomputed when one needs backtracking."""
    if objective.n_params > _NEWTON_MAX_PARAMS:
        return theta, value
    lower = np.array([low if low is not None else -np.inf for low, _ in objective.bounds()])
    value, grad = objective.value_and_grad(theta)
    solve, fresh = None, False
    for _ in range(_NEWTON_STEPS):
        if solve is None:
            solve, fresh = _newton_step(objective, theta, grad), True
            if solve is None:
                return theta, value
        step = solve(grad)
        slope = float(grad @ step)
        if not slope < 0 or -slope < 1e-30 * max(abs(value), 1.0):
            return theta, value
        length, improved = 1.0, False
        for _ in range(40 if fresh else 1):
            candidate = theta + length * step
            if np.all(candidate >= lower):
                candidate_value, candidate_grad = objective.value_and_grad(candidate)
                if candidate_value <= value + 1e-4 * length * slope:
                    improved = True
                    break
            length *= 0.5
        if not improved or candidate_value >= value:
            if fresh:
                return theta, value
            solve = None          # a stale Hessian: recompute it, then try again
            continue
        converged = value - candidate_value <= 1e-15 * max(abs(value), 1.0)
        theta, value, grad = candidate, candidate_value, candidate_grad
        if length < 1.0:
            solve = None
        fresh = False
        if converged:
            return theta, value
    return theta, value


def _solve(objective, theta, max_iter, tol):
    theta, value, n_iter, hit_max_iter = _lbfgs(objective, theta, max_iter, tol)
    if not hit_max_iter:
        # the Hessian's small matrix products run on one BLAS thread: threaded, they were
        # measured 7x slower (and erratic on a busy machine)
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            theta, value = _newton(objective, theta, value)
    if objective.joint_scale and (theta[-1] < 1e-6 or objective.few_rows()):
        # sigma heading to 0 (or few rows for the features): where the data can be
        # interpolated, the exact optimum is the minimum-norm interpolant, which L-BFGS-B and
        # Newton only creep towards
        candidate = objective.interpolant()
        if candidate is not None:
            candidate_value = objective.value(candidate)
            if candidate_value <= value * (1 + 1e-12):
                theta, value, hit_max_iter = candidate, candidate_value, False
    if hit_max_iter:
        warnings.warn(f"L-BFGS-B reached max_iter={max_iter} before converging: increase "
                      "max_iter or tol", ConvergenceWarning, stacklevel=3)
    return theta, n_iter
