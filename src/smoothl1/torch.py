"""smoothl1 for PyTorch: every loss as a function of CPU tensors with autograd, and as a
``torch.nn.Module`` that follows MMDetection (docs/torch.md; docs/contract.md section 18).

Install with ``pip install "smoothl1[torch]"``. For each loss of the table of losses (listed
below)::

    <name>_loss(input, target, reduction="mean", beta|delta=1.0, *, weight=None,
                avg_factor=None, dim=None, keepdim=False, n_threads=None) -> torch.Tensor
    <Name>Loss(*, reduction="mean", beta|delta=1.0, loss_weight=1.0, n_threads=None)
        .forward(input, target, weight=None, avg_factor=None, reduction_override=None)

``smooth_l1_loss`` and ``huber_loss`` take ``torch.nn.functional``'s keywords and defaults,
plus ``weight=``, a tensor ``beta``/``delta``, ``avg_factor=`` and ``dim=``/``keepdim=``. CPU float32/float64 tensors
are read in place (no copy); the loss and its gradient come from one kernel pass.

How the functions and modules are built: ``smoothl1._adapters.torch``.
"""
import importlib as _importlib

try:
    _importlib.import_module("torch")   # by name: type checkers need not analyse PyTorch
except ImportError:   # the original error stays attached as the context
    raise ImportError('smoothl1.torch needs PyTorch: install it with pip install '
                      '"smoothl1[torch]"', name="torch")

# The functions and modules are made in the adapters' wing (smoothl1._adapters.torch); this is
# their public home, which their __module__ names.
from ._adapters.torch import *  # noqa: E402,F401,F403
from ._adapters.torch import __all__  # noqa: E402,F401
from ._adapters.torch import class_name as _class_name  # noqa: E402
from ._core.losses import LOSSES as _LOSSES  # noqa: E402

__doc__ += "\nThe losses::\n\n" + "".join(
    f"    {loss.name}_loss({loss.param}={loss.default!r}), {_class_name(loss)}\n"
    for loss in _LOSSES)
