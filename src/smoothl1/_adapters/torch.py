"""The functions and modules of ``smoothl1.torch`` (the public module, which documents them and
checks that PyTorch is installed before importing this one), made from the table of losses
(``smoothl1._core.losses``): for each loss, a function ``<name>_loss`` with
``torch.nn.functional``'s keywords and a ``torch.nn.Module`` ``<Name>Loss`` that follows
MMDetection's loss modules (docs/contract.md section 18; docs/torch.md).

Both compute with ``_run`` of ``smoothl1._adapters.torch_autograd`` (the checks, the kernel
calls and the autograd ``Function``), whose docstring gives the design: tensors read and
written without a copy, one kernel pass for the loss and its gradient, the means by name, and
which operands get a gradient.

PyTorch is imported with ``importlib`` (as threadpoolctl is in ``smoothl1._core.threads``):
type checkers reading smoothl1 then need not analyse PyTorch.
"""
import importlib
from typing import Any

from .._core.api import capitalized
from .._core.functions import _define
from .._core.losses import LOSSES
from .._core.validation import AVG_FACTOR_EPS
from .torch_autograd import _avg_factor_value, _run

torch: Any = importlib.import_module("torch")
_Module: Any = torch.nn.Module   # the base class, typed Any for type checkers

#: Where the functions and modules are public (their ``__module__``).
PUBLIC_MODULE = "smoothl1.torch"
#: MMDetection's guard against a zero avg_factor (mmdet/models/losses/utils.py):
#: torch.finfo(torch.float32).eps, the NumPy API's own (docs/contract.md section 20).
MMDET_EPS = AVG_FACTOR_EPS


def class_name(loss):
    """The module class of a loss: "smooth_l1" -> "SmoothL1Loss", "log_cosh" -> "LogCoshLoss"."""
    return "".join(part[:1].upper() + part[1:] for part in loss.name.split("_")) + "Loss"


__all__ = ([loss.name + "_loss" for loss in LOSSES] + [class_name(loss) for loss in LOSSES])


# -- the functions -------------------------------------------------------------------------------

_FUNCTION = """\
def {name}(input, target, reduction="mean", {param}={default!r}, *, weight=None,
        avg_factor=None, dim=None, keepdim=False, n_threads=None):
    return run(loss, input, target, reduction, {param}, weight, avg_factor, n_threads, dim,
               keepdim)
"""

_DOC = """{summary}

    The PyTorch version of ``smoothl1.{name}``: tensors in, a tensor out, with autograd
    (gradients to ``input`` and ``target`` from one fused kernel pass, and to ``weight``). {torch_peer}
    {formula}

    Parameters
    ----------
    input : torch.Tensor of float32 or float64, on the CPU
        Predictions, any shape and strides; read in place, never copied.
    target : torch.Tensor
        ``input``'s dtype; its shape broadcasts to ``input``'s without changing it.
    reduction : {{"mean", "sum", "none", "weighted_mean", "element_mean"}}
        ``"mean"`` (default): ``mean(w * loss)`` over ``input``'s elements, as
        ``torch.nn.functional.huber_loss(weight=)``; ``"sum"``: ``sum(w * loss)``;
        ``"none"``: ``w * loss`` per element; ``"weighted_mean"``:
        ``sum(w * loss) / sum(w)`` (the NumPy API's ``"mean"``, ``np.average``);
        ``"element_mean"``: ``"mean"``, by the name the NumPy API gives it.
    {param} : float or torch.Tensor
        {param_doc} A tensor (``input``'s dtype, broadcasting to ``input``) gives one
        {param} per element; it must not require grad (ValueError).
    weight : torch.Tensor or float, optional, keyword-only
        Multiplies each elementwise loss: ``input``'s dtype, broadcasting to ``input``
        (``(N, 1)`` per box, ``(4,)`` per coordinate, or full). A weight that requires grad
        gets its gradient (summed to its shape).
    avg_factor : float or one-element tensor, optional, keyword-only
        With ``reduction="mean"`` only: the loss is ``sum(w * loss) / avg_factor``
        (MMDetection's normalisation; ``avg_factor >= 0``, and 0 divides by MMDetection's
        epsilon, ``torch.finfo(torch.float32).eps``, so no positive sample gives 0).
    dim : int or tuple of ints, optional, keyword-only
        Reduce along these dimensions only (as ``torch.sum(dim=)``); each mean is then that of
        its group (``"mean"``: over the group's element count). A loss per box is
        ``reduction="sum", dim=-1``.
    keepdim : bool, keyword-only
        Keep the reduced dimensions with size 1.
    n_threads : int, optional, keyword-only
        Kernel threads; ``None``: ``torch.get_num_threads()``.

    Returns
    -------
    torch.Tensor
        0-d for the reductions (the reduced shape with ``dim``), ``input``'s shape for
        ``"none"``; ``input``'s dtype.

    Raises
    ------
    TypeError
        A non-tensor, a dtype other than float32/float64, a mismatched dtype, a sparse tensor.
    ValueError
        A tensor on another device, a shape that does not broadcast to ``input``'s, a bad
        ``reduction`` or ``avg_factor``, a parameter out of range, a parameter or
        ``avg_factor`` tensor that requires grad.
"""

_TORCH_PEERS = {
    "smooth_l1": "Drop-in for ``torch.nn.functional.smooth_l1_loss``.",
    "huber": "Drop-in for ``torch.nn.functional.huber_loss``.",
}


def _docstring(loss):
    return _DOC.format(summary=loss.summary, name=loss.name + "_loss",
                       torch_peer=_TORCH_PEERS.get(loss.name, ""), formula=loss.formula,
                       param=loss.param, param_doc=loss.param_doc)


def loss_function(loss):
    name = loss.name + "_loss"
    source = _FUNCTION.format(name=name, param=loss.param, default=loss.default)
    return _define(name, source, PUBLIC_MODULE, _docstring(loss), loss=loss, run=_run)


# -- the modules ---------------------------------------------------------------------------------

class _LossModule(_Module):
    """A loss as MMDetection's loss modules compute it (mmdet/models/losses): ``forward(input,
    target, weight=None, avg_factor=None, reduction_override=None)``."""
    _loss = LOSSES[0]   # each subclass sets its row

    def __init__(self, *, reduction="mean", param=None, loss_weight=1.0, n_threads=None):
        super().__init__()
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be one of 'none', 'mean', 'sum', got "
                             f"{reduction!r}")
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.n_threads = n_threads
        setattr(self, self._loss.param, self._loss.default if param is None else param)

    def extra_repr(self):
        return (f"reduction={self.reduction!r}, {self._loss.param}="
                f"{getattr(self, self._loss.param)!r}, loss_weight={self.loss_weight!r}")

    def forward(self, input, target, weight=None, avg_factor=None, reduction_override=None):
        """The loss of ``input`` against ``target``, as MMDetection computes it: ``w * loss``
        reduced by ``reduction`` (``"mean"``: ``mean(w * loss)``; with ``avg_factor``:
        ``sum(w * loss) / (avg_factor + eps)``, eps float32's, as MMDetection guards a zero
        count; ``"none"`` ignores ``avg_factor``; ``"sum"`` refuses it), times
        ``loss_weight``."""
        if weight is not None and isinstance(weight, torch.Tensor) \
                and not torch.any(weight > 0):
            # MMDetection's shortcut when no element counts: a zero kept in the graph
            if input.dim() == weight.dim() + 1:
                weight = weight.unsqueeze(1)
            return (input * weight).sum()
        if reduction_override not in (None, "none", "mean", "sum"):
            raise ValueError(f"reduction_override must be None, 'none', 'mean' or 'sum', got "
                             f"{reduction_override!r}")
        reduction = reduction_override if reduction_override else self.reduction
        if isinstance(target, torch.Tensor) and target.numel() == 0:
            return input.sum() * 0   # MMDetection: no target, a zero loss in the graph
        if avg_factor is not None:
            if reduction == "sum":
                raise ValueError('avg_factor can not be used with reduction="sum"')
            if reduction == "none":
                avg_factor = None
            else:
                avg_factor = _avg_factor_value(avg_factor) + MMDET_EPS
        loss = _run(self._loss, input, target, reduction, getattr(self, self._loss.param),
                    weight, avg_factor, self.n_threads)
        if self.loss_weight != 1.0:
            loss = self.loss_weight * loss
        return loss


_MODULE_DOC = """{summary} A ``torch.nn.Module`` as MMDetection's ``{name}``.

    ``{name}(*, reduction="mean", {param}={default!r}, loss_weight=1.0, n_threads=None)``;
    ``forward(input, target, weight=None, avg_factor=None, reduction_override=None)`` returns
    ``loss_weight`` times ``w * loss`` reduced: ``"mean"`` is ``mean(w * loss)`` over
    ``input``'s elements, or with ``avg_factor`` ``sum(w * loss) / (avg_factor + eps)`` with
    ``eps = torch.finfo(torch.float32).eps`` (MMDetection's guard); ``"sum"`` refuses
    ``avg_factor``; ``"none"`` ignores it. Weights all ``<= 0`` give MMDetection's
    ``(input * weight).sum()``; an empty ``target`` gives ``input.sum() * 0``. ``{param}``:
    a number or a tensor broadcasting to ``input``; everything else as
    ``smoothl1.torch.{function}``. The constructor takes keywords only.
"""


_INIT = """\
def __init__(self, *, reduction="mean", {param}={default!r}, loss_weight=1.0, n_threads=None):
    base.__init__(self, reduction=reduction, param={param}, loss_weight=loss_weight,
                  n_threads=n_threads)
"""


def loss_module(loss):
    """The module class of ``loss``; its ``__init__`` is written from _INIT, so its signature
    names the loss's own parameter and default."""
    name = class_name(loss)
    init = _define("__init__", _INIT.format(param=loss.param, default=loss.default),
                   PUBLIC_MODULE, None, base=_LossModule)
    init.__qualname__ = name + ".__init__"
    doc = _MODULE_DOC.format(summary=capitalized(loss.title) + " loss.", name=name,
                             param=loss.param, default=loss.default,
                             function=loss.name + "_loss")
    return type(name, (_LossModule,), {"__init__": init, "__doc__": doc, "_loss": loss,
                                       "__module__": PUBLIC_MODULE, "__qualname__": name})


for _loss in LOSSES:
    globals()[_loss.name + "_loss"] = loss_function(_loss)
    globals()[class_name(_loss)] = loss_module(_loss)
del _loss
