"""``least_squares_loss``: the losses as robust losses of ``scipy.optimize.least_squares``
(docs/contract.md section 14)."""
import numpy as np

from . import _smoothl1
from ._api import evaluate
from ._grad_hess import grad_hess
from ._validation import check_param

__all__ = ["least_squares_loss"]

# loss name: (parameter name, whether 0 is allowed, kernel code)
_LOSSES = {
    "smooth_l1": ("beta", True, _smoothl1.SMOOTH_L1),
    "huber": ("delta", False, _smoothl1.HUBER),
    "pseudo_huber": ("delta", False, _smoothl1.PSEUDO_HUBER),
}
_SMALLEST_SUBNORMAL = 5e-324


class LeastSquaresLoss:
    """``rho(z) = 2 * loss(sqrt(z))`` and its first two derivatives in ``z``, as
    ``scipy.optimize.least_squares(loss=...)`` wants them. See ``least_squares_loss``."""

    def __init__(self, loss, param):
        self.loss = loss
        self.param = param
        self._param_name, _, self._kind = _LOSSES[loss]
        self._rho = None

    def __repr__(self):
        return f"least_squares_loss({self.loss!r}, {self._param_name}={self.param!r})"

    def __call__(self, z, cost_only=False):
        """The ``(3, m)`` array ``rho(z), rho'(z), rho''(z)`` for the squared residuals ``z``
        (a 1-D float64 array of length m). The same array is returned by every call of the
        same length (SciPy reads it before the next call). ``cost_only`` (which SciPy may
        pass) skips the derivatives."""
        z = np.asarray(z)
        if z.ndim != 1 or z.dtype != np.float64:
            raise TypeError(f"z must be a 1-D float64 array (the squared residuals), got "
                            f"{z.ndim}-D {z.dtype}")
        if self._rho is None or self._rho.shape[1] != z.shape[0]:
            self._rho = np.empty((3, z.shape[0]))
        rho = self._rho
        param = self.param
        # With r = sqrt(z): rho = 2 loss(r); rho' = grad(r) / r, the "irls" curvature; and
        # rho'' = (exact - irls) / (2 z), which for pseudo-Huber is -exact / (2 delta**2)
        # (the difference would cancel near 0). The rows serve as scratch space on the way.
        if not cost_only:
            np.sqrt(z, out=rho[0])
            grad_hess(self._kind, param, rho[0], 0.0, None, "irls", rho[2], rho[1], None)
            grad_hess(self._kind, param, rho[0], 0.0, None, "exact", rho[0], rho[2], None)
            if self._kind == _smoothl1.PSEUDO_HUBER:
                rho[2] /= -2.0 * param
                rho[2] /= param
            else:
                # exact - irls is exactly 0 inside the quadratic zone, z = 0 included: divide
                # by the smallest subnormal there, not by 0
                rho[2] -= rho[1]
                np.maximum(z, _SMALLEST_SUBNORMAL, out=rho[0])
                rho[2] /= rho[0]
                rho[2] *= 0.5
        np.sqrt(z, out=rho[0])
        evaluate(self._kind, param, rho[0], 0.0, None, "none", rho[0], None, None, True, False)
        rho[0] *= 2.0
        return rho


def least_squares_loss(loss, **param):
    """A robust loss for ``scipy.optimize.least_squares(fun, x0, loss=...)``.

    Given the squared residuals ``z = f**2``, the callable returns the ``(3, m)`` array of
    ``rho(z) = 2 * loss(sqrt(z))`` and its first and second derivatives in ``z`` (SciPy's
    convention: the cost is ``0.5 * sum(rho)``). So ``least_squares_loss("huber")`` is SciPy's
    ``loss="huber"`` and ``least_squares_loss("pseudo_huber")`` its ``"soft_l1"``, for every
    ``f_scale``; a ``delta`` (or ``beta``) other than 1 scales the zone as ``f_scale`` does.
    ``rho'`` is the "irls" curvature of ``<loss>_grad_hess``. One ``(3, m)`` buffer is
    reused across calls: no other array of the residuals' size is made.

    Parameters
    ----------
    loss : {"smooth_l1", "huber", "pseudo_huber"}
    beta or delta : float, keyword-only
        The loss's parameter (``beta >= 0`` for smooth L1, ``delta > 0`` otherwise; default
        1.0).

    Returns
    -------
    callable
        ``rho = f(z)``, with ``z`` a 1-D float64 array.

    Examples
    --------
    ``least_squares(fun, x0, loss=smoothl1.least_squares_loss("smooth_l1", beta=0.5))``;
    docs/api.md has a worked example.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of 'smooth_l1', 'huber', 'pseudo_huber', got "
                         f"{loss!r}")
    param_name, allow_zero, _ = _LOSSES[loss]
    unexpected = set(param) - {param_name}
    if unexpected:
        raise TypeError(f"least_squares_loss({loss!r}) takes the keyword {param_name!r}, got "
                        f"{', '.join(sorted(unexpected))}")
    return LeastSquaresLoss(loss, check_param(param_name, param.get(param_name, 1.0),
                                              allow_zero))
