"""The block functions of ``smoothl1.linear_model`` (see smoothl1._adapters.robust_objective,
point 1): every pass of a fit over the data is one of these, called on a block of rows of X in
memory or as one Dask task per chunk on a worker. They import NumPy, SciPy's sparse module and
smoothl1's core only (not scikit-learn), so a Dask worker stays small.
"""
import numpy as np
from scipy import sparse  # type: ignore[import-untyped, import-not-found, unused-ignore]

from .._core.api import evaluate
from .._core.grad_hess import grad_hess


def dense(block):
    """A block of rows as a NumPy array (a CSR block densified: only SUB_ROWS rows at once)."""
    return block.toarray() if sparse.issparse(block) else block


def residuals(X, y, coef, offset, y_scale, scale):
    """z = (y / y_scale - X @ coef - offset) / scale, float64; X @ coef in X's dtype."""
    z = X @ coef.astype(X.dtype, copy=False)
    z = np.subtract(np.divide(y, y_scale, dtype=np.float64), z, dtype=np.float64)
    z -= offset
    if scale != 1.0:
        z /= scale
    return np.asarray(z).ravel()


def block_sums(X, y, weight, coef, offset, y_scale, scale, loss, param):
    """One block's (sum of w * loss(z), X.T @ g, sum of g, z . g), g = w * loss'(z), float64."""
    z = residuals(X, y, coef, offset, y_scale, scale)
    _, total, _, g, _ = evaluate(loss, z, 0.0, param=param, weight=weight, reduction="sum",
                                 want_loss=True, want_grad=True)
    xtg = X.T @ g.astype(X.dtype, copy=False)
    return (float(total), np.asarray(xtg, dtype=np.float64).ravel(), float(g.sum()),
            float(z @ g))


SUB_ROWS = 1024   # rows of the float64 sub-blocks of the Hessian and the moments (~0.4 MiB)


def block_hessian(X, y, weight, coef, offset, y_scale, scale, loss, param, curvature):
    """One block's sum of w * loss''(z) a a^T over its rows, a = [x, 1, z] (float64), built
    from float64 copies of ``SUB_ROWS`` rows at a time."""
    z = residuals(X, y, coef, offset, y_scale, scale)
    _, h = grad_hess(loss, z, 0.0, param=param, weight=weight, curvature=curvature)
    d = X.shape[1]
    h_nonnegative = bool(np.all(h >= 0))
    root_h = np.sqrt(h) if h_nonnegative else None
    gram = np.zeros((d + 2, d + 2))
    for start in range(0, z.shape[0], SUB_ROWS):
        part = slice(start, start + SUB_ROWS)
        rows = np.empty((z[part].shape[0], d + 2))
        rows[:, :-2] = dense(X[part])
        rows[:, -2] = 1.0
        rows[:, -1] = z[part]
        if h_nonnegative:   # (sqrt(h) a)^T (sqrt(h) a): NumPy's A.T @ A, half the work
            rows *= root_h[part, None]
            gram += rows.T @ rows
        else:
            gram += rows.T @ (h[part, None] * rows)
    return gram


def block_moments(X, y, weight, shift):
    """One block's weighted sums of 1, x - shift, (x - shift)**2, y, y**2 (float64)."""
    w = np.ones(X.shape[0]) if weight is None else weight
    d = X.shape[1]
    sums = np.zeros(2 * d + 3)
    sums[0] = w.sum()
    if sparse.issparse(X):   # from X's nonzeros: never a dense copy of a sparse block
        first, second = np.asarray(X.T @ w).ravel(), np.asarray(X.multiply(X).T @ w).ravel()
        sums[1:d + 1] = first - shift[:-1] * sums[0]
        sums[d + 1:2 * d + 1] = second - 2 * shift[:-1] * first + shift[:-1] ** 2 * sums[0]
    else:
        for start in range(0, X.shape[0], SUB_ROWS):
            part = slice(start, start + SUB_ROWS)
            x = np.asarray(X[part], dtype=np.float64) - shift[:-1]
            sums[1:d + 1] += w[part] @ x
            x *= x
            sums[d + 1:2 * d + 1] += w[part] @ x
    t = np.asarray(y, dtype=np.float64) - shift[-1]
    sums[-2], sums[-1] = w @ t, w @ (t * t)
    return sums
