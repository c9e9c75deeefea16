"""smoothl1: Smooth L1, Huber and pseudo-Huber losses and their derivatives, fast and exact,
for NumPy.

The loss functions share one signature (see ``help(smoothl1.smooth_l1_loss)``)::

    smooth_l1_loss(input, target, *, beta=1.0, reduction="mean", weight=None, out=None,
                   n_threads=None)
    smooth_l1_grad(...)            # derivative of the reduced loss w.r.t. input
    smooth_l1_loss_and_grad(...)   # both, one pass; also takes grad_out=
    huber_loss / huber_grad / huber_loss_and_grad   # the same with delta=1.0
    pseudo_huber_loss / ..._grad / ..._loss_and_grad  # the same with delta=1.0

Second derivatives, elementwise (``help(smoothl1.smooth_l1_grad_hess)``)::

    smooth_l1_grad_hess(input, target, *, beta=1.0, weight=None, curvature="exact",
                        grad_out=None, hess_out=None, n_threads=None) -> (grad, hess)
    huber_grad_hess / pseudo_huber_grad_hess         # with delta=1.0

Adapters: ``least_squares_loss`` (``scipy.optimize.least_squares``) and the module
``smoothl1.boosting`` (XGBoost, LightGBM, CatBoost objectives).
"""
import os as _os

from ._api import (
    huber_grad,
    huber_loss,
    huber_loss_and_grad,
    pseudo_huber_grad,
    pseudo_huber_loss,
    pseudo_huber_loss_and_grad,
    smooth_l1_grad,
    smooth_l1_loss,
    smooth_l1_loss_and_grad,
)
from ._grad_hess import huber_grad_hess, pseudo_huber_grad_hess, smooth_l1_grad_hess
from ._least_squares import LeastSquaresLoss, least_squares_loss

__version__ = "0.1.0"
__all__ = [
    "smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad",
    "huber_loss", "huber_grad", "huber_loss_and_grad",
    "pseudo_huber_loss", "pseudo_huber_grad", "pseudo_huber_loss_and_grad",
    "smooth_l1_grad_hess", "huber_grad_hess", "pseudo_huber_grad_hess",
    "least_squares_loss", "get_include",
]


def get_include():
    """The folder holding smoothl1's C header and Cython .pxd (for building extensions)."""
    return _os.path.dirname(_os.path.abspath(__file__))
