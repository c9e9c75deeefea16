"""``least_squares_loss``: the losses as robust losses of ``scipy.optimize.least_squares``
(docs/contract.md section 14).

With ``r = sqrt(z)`` (``z`` the squared residual) and ``q = r / param``: ``rho = 2 loss(r)``;
``rho' = grad(r) / r``, the "irls" curvature; ``rho'' = (exact - irls) / (2 z)``, with
``exact`` and ``irls`` the two curvatures of ``<loss>_grad_hess``. That difference is exactly 0
in the quadratic zone of smooth L1 and Huber, but cancels near 0 for the losses smooth there,
so each row of the table names the form its ``rho''`` takes (``Loss.least_squares_rho2``):

- ``"difference"``: the formula as written (smooth L1, Huber).
- ``"exact"``: pseudo-Huber's ``exact - irls = -q**2 * exact``, so ``rho'' = -exact /
  (2 param**2)``.
- ``"irls_squared"``: Cauchy's ``exact - irls = -2 q**2 / (1 + q**2)**2``, so ``rho'' =
  -irls**2 / param**2``.
- ``"tanh_series"``: log-cosh's ``exact - irls = 1 / cosh(q)**2 - tanh(q) / q`` has no such
  form (it holds ``q - tanh(q)``, which cancels), so ``rho'' = f(q) / param**2`` with
  ``f(q) = (q / cosh(q)**2 - tanh(q)) / (2 q**3)``: the formula as written for ``q >= 1/2``
  (relative error under 2e-15 there), Taylor's series of ``f`` in ``q**2`` below (18 terms:
  within 3e-16). ``f(0) = -1/3``.
"""
import textwrap

import numpy as np

from .._core.api import evaluate
from .._core.functions import parameter_ranges, quoted_names
from .._core.grad_hess import grad_hess
from .._core.losses import LOSSES, loss_named
from .._core.validation import loss_param

__all__ = ["least_squares_loss"]

_SMALLEST_SUBNORMAL = 5e-324
# f(q) (see above) = sum over k >= 0 of F_SERIES[k] * q**2k, with F_SERIES[k] = (k + 1) *
# a[k + 2] and a[n] = 2**2n (2**2n - 1) B_2n / (2n)! the Taylor coefficients of tanh(q) = sum of
# a[n] q**(2n - 1) (B the Bernoulli numbers): -1/3, 4/15, -17/105, 248/2835, ... Below q = 1/2,
# 18 terms give f within 3e-16; above it, the difference loses under 2e-15.
_F_SERIES = (
    -0.3333333333333333, 0.26666666666666666, -0.1619047619047619, 0.08747795414462081,
    -0.044316177649510985, 0.021552768219434887, -0.010190840709359227,
    0.004720219527564688, -0.002152162028191972, 0.0009691537956929451,
    -0.0004320615627164852, 0.00019102686083194756, -8.38719598035206e-05,
    3.6606796118070564e-05, -1.589590248015698e-05, 6.871857725238089e-06,
    -2.95912522380718e-06, 1.2698346503521743e-06)
_SERIES_BELOW = 0.5   # q below which log-cosh's rho'' sums the series


def _rho2_difference(rho, z, param):
    # (exact - irls) / (2 z); exact - irls is exactly 0 inside the quadratic zone, z = 0
    # included: divide by the smallest subnormal there, not by 0. rho[0] is free scratch.
    rho[2] -= rho[1]
    np.maximum(z, _SMALLEST_SUBNORMAL, out=rho[0])
    rho[2] /= rho[0]
    rho[2] *= 0.5


def _rho2_exact(rho, z, param):
    rho[2] /= -2.0 * param
    rho[2] /= param          # twice, not by param**2, which may overflow


def _rho2_irls_squared(rho, z, param):
    np.divide(rho[1], param, out=rho[2])
    np.square(rho[2], out=rho[2])
    np.negative(rho[2], out=rho[2])


def _rho2_tanh_series(rho, z, param):
    _rho2_difference(rho, z, param)
    limit = _SERIES_BELOW * param
    small = np.flatnonzero(z < limit * limit)   # (a product: ** would raise on overflow)
    if small.size:
        q2 = z[small] / param / param
        f = np.full_like(q2, _F_SERIES[-1])
        for coefficient in reversed(_F_SERIES[:-1]):
            f *= q2
            f += coefficient
        f /= param
        f /= param
        rho[2][small] = f


# Loss.least_squares_rho2: its form of rho'' (a row naming another form fails at import).
_RHO2 = {"difference": _rho2_difference, "exact": _rho2_exact,
         "irls_squared": _rho2_irls_squared, "tanh_series": _rho2_tanh_series}
_RHO2_OF = {loss.name: _RHO2[loss.least_squares_rho2] for loss in LOSSES}


class LeastSquaresLoss:
    """``rho(z) = 2 * loss(sqrt(z))`` and its first two derivatives in ``z``, as
    ``scipy.optimize.least_squares(loss=...)`` wants them. See ``least_squares_loss``."""

    def __init__(self, loss, param):
        self._loss = loss_named(loss)
        self.loss = loss
        self.param = param
        self._rho2 = _RHO2_OF[self._loss.name]
        self._rho = None

    def __repr__(self):
        return f"least_squares_loss({self.loss!r}, {self._loss.param}={self.param!r})"

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
        loss, param = self._loss, self.param
        # With r = sqrt(z): rho' is the "irls" curvature at r, rho'' comes from the "exact"
        # and "irls" curvatures (see the module's docstring). The rows serve as scratch space
        # on the way: irls lands in rho[1], exact in rho[2].
        if not cost_only:
            np.sqrt(z, out=rho[0])
            grad_hess(loss, rho[0], 0.0, param=param, curvature="irls", grad_out=rho[2],
                      hess_out=rho[1])
            grad_hess(loss, rho[0], 0.0, param=param, curvature="exact", grad_out=rho[0],
                      hess_out=rho[2])
            self._rho2(rho, z, param)
        np.sqrt(z, out=rho[0])
        evaluate(loss, rho[0], 0.0, param=param, reduction="none", loss_out=rho[0],
                 want_loss=True, want_grad=False)
        rho[0] *= 2.0
        return rho


def least_squares_loss(loss, *, beta=None, delta=None):
    # The keywords are the parameters of the table's losses (tests/test_least_squares.py checks
    # that they are all there), spelled out so that help() and IDEs show them.
    row = loss_named(loss)
    given = {name: value for name, value in (("beta", beta), ("delta", delta))
             if value is not None}
    param = loss_param(row, given, f"least_squares_loss({loss!r})")
    if param == 0.0:
        # Plain L1: rho(z) = 2 sqrt(z), whose rho' = 1 / sqrt(z) is infinite at z = 0, so
        # SciPy's fit stalls there and stops at its evaluation limit without a word.
        raise ValueError(f"{row.param} must be > 0 in least_squares_loss: with {row.param} = 0 "
                         f"(plain L1) rho'(z) = 1 / sqrt(z) is infinite at z = 0, which stalls "
                         f"scipy.optimize.least_squares; use a small {row.param} (L1 beyond it), "
                         f"or 'pseudo_huber' (SciPy's \"soft_l1\") with a small delta")
    return LeastSquaresLoss(loss, param)


def _series_note():
    series = [loss for loss in LOSSES if loss.least_squares_rho2 == "tanh_series"]
    if not series:
        return ""
    return " (but for the series of " + ", ".join(
        f"{loss.title}'s ``rho''`` at residuals below ``{loss.param} / 2``"
        for loss in series) + ")"


def _paragraph(text, indent):
    return textwrap.fill(text, 95, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False)


def _parameters_doc():
    """The Parameters entries of the keywords, each with the losses that take it."""
    entries = []
    for name in dict.fromkeys(loss.param for loss in LOSSES):
        takers = [loss.title for loss in LOSSES if loss.param == name]
        entries.append(f"    {name} : float, keyword-only\n" + _paragraph(
            f"The parameter of {', '.join(takers)}: ``> 0`` (default 1.0; ``inf`` is "
            f"allowed). Given with another loss it is a TypeError.", " " * 8))
    return "\n".join(entries)


def _docstring():
    scipy = "; ".join(f"{loss.title} {loss.scipy_least_squares}" for loss in LOSSES
                      if loss.scipy_least_squares)
    new = [loss.title for loss in LOSSES if not loss.scipy_least_squares]
    summary = _paragraph(
        "Given the squared residuals ``z = f**2``, the callable returns the ``(3, m)`` array "
        "of ``rho(z) = 2 * loss(sqrt(z))`` and its first and second derivatives in ``z`` "
        "(SciPy's convention: the cost is ``0.5 * sum(rho)``). With the parameter ``c``, a "
        f"loss finds what SciPy's own finds with ``f_scale=c``: {scipy}; at ``c = 1`` their "
        f"``rho`` are SciPy's, for every ``f_scale``. New to SciPy: {', '.join(new)}. "
        "``rho'`` is the \"irls\" curvature of "
        "``<loss>_grad_hess``. One ``(3, m)`` buffer is reused across calls: no other array "
        f"of the residuals' size is made{_series_note()}.", " " * 4)
    zero = _paragraph(
        "A parameter of 0 (smooth L1's ``beta = 0``, plain L1) is a ValueError: ``rho'(z) = "
        "1 / sqrt(z)`` is infinite at ``z = 0``, and SciPy's fit would stall there and stop at "
        "its evaluation limit without a warning; take a small ``beta`` instead.", " " * 8)
    parameters = _parameters_doc()
    names = quoted_names()
    return f"""A robust loss for ``scipy.optimize.least_squares(fun, x0, loss=...)``.

{summary}

    Parameters
    ----------
    loss : {{{names}}}
{parameters}

    Returns
    -------
    callable
        ``rho = f(z)``, with ``z`` a 1-D float64 array.

    Raises
    ------
    ValueError, TypeError
        For an unknown ``loss``, a keyword of another loss, or a parameter out of range.
{zero}

    Examples
    --------
    ``least_squares(fun, x0, loss=smoothl1.least_squares_loss("smooth_l1", beta=0.5))``;
    docs/api.md has a worked example.
    """


least_squares_loss.__doc__ = _docstring()
