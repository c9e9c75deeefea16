import os as _os

from ._adapters.least_squares import LeastSquaresLoss, least_squares_loss
from ._core import api as _api, grad_hess as _grad_hess
from ._core import dispatch as _dispatch
from ._core.api import *  # noqa: F401,F403 (the loss functions of every loss: _api.__all__)
from ._core.grad_hess import *  # noqa: F401,F403 (<loss>_grad_hess: _grad_hess.__all__)
from ._core.losses import LOSSES as _LOSSES

__version__ = "0.1.0"
__all__ = _api.__all__ + _grad_hess.__all__ + ["least_squares_loss", "LeastSquaresLoss",
                                                 "get_include", "simd_build"]


def get_include():
    """The folder holding smoothl1's C header and Cython .pxd (for building extensions)."""
    return _os.path.dirname(_os.path.abspath(__file__))


def simd_build():
    """The build of the kernels this process runs: ``"avx512"``, ``"avx2"`` or ``"baseline"``.

    The widest build the CPU supports and this install has (``"baseline"`` is SSE2 on x86-64,
    the only build elsewhere), chosen once at import; ``SMOOTHL1_BASELINE=1`` in the
    environment forces ``"baseline"``. Every build gives the same bits, only speed differs; C
    and Cython callers of the kernels run this build too (docs/embedding.md).
    """
    return _dispatch.build


def _titles():
    """"smooth L1, Huber and pseudo-Huber": the losses, in prose."""
    titles = [loss.title for loss in _LOSSES]
    return ", ".join(titles[:-1]) + " and " + titles[-1]


_FIRST = _LOSSES[0]
__doc__ = f"""smoothl1: {_api.capitalized(_titles())} losses and their
derivatives, fast and exact, for NumPy.

The loss functions share one signature (see ``help(smoothl1.{_FIRST.name}_loss)``)::

    {_FIRST.name}_loss(input, target, *, {_FIRST.param}={_FIRST.default!r}, reduction="mean",
        weight=None, avg_factor=None, axis=None, keepdims=False, out=None, n_threads=None)
    {_FIRST.name}_grad(...)            # derivative of the reduced loss w.r.t. input
    {_FIRST.name}_loss_and_grad(...)   # both, one pass; also takes grad_out=
{"".join(f"    {loss.name}_loss / _grad / _loss_and_grad   # {loss.param}="
         f"{loss.default!r}{chr(10)}" for loss in _LOSSES[1:])}
Second derivatives, elementwise (``help(smoothl1.{_FIRST.name}_grad_hess)``)::

    {_FIRST.name}_grad_hess(input, target, *, {_FIRST.param}={_FIRST.default!r}, weight=None,
        curvature="exact", grad_out=None, hess_out=None, n_threads=None) -> (grad, hess)
{"".join(f"    {loss.name}_grad_hess   # {loss.param}={loss.default!r}{chr(10)}"
         for loss in _LOSSES[1:])}
Adapters: ``least_squares_loss`` (``scipy.optimize.least_squares``) and the module
``smoothl1.boosting`` (XGBoost, LightGBM, CatBoost objectives).
"""
