"""smoothl1: Smooth L1 and Huber losses and their gradients, fast and exact, for NumPy.

The six functions share one signature (see ``help(smoothl1.smooth_l1_loss)``)::

    smooth_l1_loss(input, target, *, beta=1.0, reduction="mean", weight=None, out=None,
                   n_threads=None)
    smooth_l1_grad(...)            # derivative of the reduced loss w.r.t. input
    smooth_l1_loss_and_grad(...)   # both, one pass; also takes grad_out=
    huber_loss / huber_grad / huber_loss_and_grad   # the same with delta=1.0
"""
import os as _os

from ._api import (
    huber_grad,
    huber_loss,
    huber_loss_and_grad,
    smooth_l1_grad,
    smooth_l1_loss,
    smooth_l1_loss_and_grad,
)

__version__ = "0.1.0"
__all__ = [
    "smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad",
    "huber_loss", "huber_grad", "huber_loss_and_grad", "get_include",
]


def get_include():
    """The folder holding smoothl1's C header and Cython .pxd (for building extensions)."""
    return _os.path.dirname(_os.path.abspath(__file__))
