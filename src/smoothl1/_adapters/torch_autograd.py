"""The computation behind the functions and modules of ``smoothl1.torch`` (made from the table
of losses in ``smoothl1._adapters.torch``): the checks that read tensors as NumPy views, one
validated call of the kernels (``_Call``), the autograd ``Function`` whose forward runs it
(``_FusedLoss``) and its backward, and ``_run``, what every ``<name>_loss`` and
``<Name>Loss.forward`` compute with (docs/contract.md section 18; docs/torch.md).

Design:

1. Tensors in, tensors out, no copy: a CPU float32/float64 tensor is read through
   ``tensor.numpy()`` (a view of its memory, strides included). Results are NumPy arrays in
   input's memory order, shared with PyTorch through ``torch.from_numpy``: NumPy asks for huge
   pages for large arrays, which spares most of the page faults of fresh memory.
2. One kernel pass does the forward and the backward: the autograd ``Function``'s forward
   calls the fused loss-and-gradient kernel and keeps the gradient; its backward hands it over
   (scaled in place by the incoming gradient unless that is 1), so PyTorch's
   ``AccumulateGrad`` takes it as ``.grad`` without a copy. A second backward through the same
   graph (``retain_graph=True``) recomputes it. Without a tensor that needs a gradient the
   kernel computes the loss alone. The common call (operands of input's shape, a number as
   parameter) goes to the kernels directly; the others through the NumPy API's validation
   (``smoothl1._core.api.evaluate``), which broadcasts and checks parameter arrays.
3. The means, by name: ``reduction="mean"`` is PyTorch's ``mean(w * l)`` over the input's
   elements (with weights, the kernel's sum with the gradient normaliser ``N``),
   ``"weighted_mean"`` the NumPy API's ``sum(w * l) / sum(w)``, and ``avg_factor=``
   MMDetection's ``sum(w * l) / avg_factor`` (the sum, normalised by ``avg_factor``).
4. Gradients flow to ``input``, ``target`` and a ``weight`` tensor that requires grad (its
   gradient needs the elementwise loss, which backward makes with one more kernel pass, only
   then); a parameter or ``avg_factor`` tensor that requires grad is refused (ValueError)
   rather than silently given none; double backward raises (the gradient is returned behind
   PyTorch's ``DelayedError`` node, as ``once_differentiable`` does).

PyTorch is imported with ``importlib`` (as threadpoolctl is in ``smoothl1._core.threads``):
type checkers reading smoothl1 then need not analyse PyTorch.
"""
import importlib
import numbers
from typing import Any

import numpy as np

from .._core import api
from .._core.dispatch import kernels
from .._core.validation import (avg_factor_divisor, check_axis, check_n_threads, check_param,
                                 element_count, reduced_shape)

torch: Any = importlib.import_module("torch")
_DelayedError = importlib.import_module("torch._C")._functions.DelayedError
_Function: Any = torch.autograd.Function   # the base class, typed Any for type checkers

_FLOAT_DTYPES = (torch.float32, torch.float64)
_REDUCTION_CODES = {"none": kernels.REDUCTION_NONE, "sum": kernels.REDUCTION_SUM,
                    "mean": kernels.REDUCTION_MEAN}
_ndarray = np.ndarray
_scalar_tensor = torch.scalar_tensor
_from_numpy = torch.from_numpy
_empty_like = kernels.empty_like
_compute = kernels.compute
_evaluate = api.evaluate
#: The reductions the functions take; "weighted_mean" is sum(w*l)/sum(w), "element_mean" is
#: "mean" by the name the NumPy API gives it (docs/contract.md sections 18 and 20).
REDUCTIONS = ("none", "mean", "sum", "weighted_mean", "element_mean")


# -- checks: tensors to NumPy views --------------------------------------------------------------

def _describe(value):
    return f"{type(value).__module__}.{type(value).__qualname__}".replace("builtins.", "")


def _check_tensor(name, tensor, dtype=None):
    """The NumPy view of a CPU float32/float64 strided tensor (no copy), or the error naming
    ``name``. dtype: the dtype it must have (input's), or None for input itself."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_describe(tensor)}")
    if not tensor.is_cpu:
        raise ValueError(f"{name} is on device {tensor.device}; smoothl1.torch computes on the "
                         f"CPU only: pass {name}.cpu() (or use torch.nn.functional on that "
                         f"device)")
    if tensor.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {tensor.layout}; "
                        f"pass {name}.to_dense()")
    if dtype is None:
        if tensor.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{name} must be a float32 or float64 tensor, got {tensor.dtype}; "
                            f"convert it explicitly, e.g. {name}.float() (smoothl1 computes in "
                            f"double and rounds once to the tensor's dtype; float16 and "
                            f"bfloat16 are not supported)")
    elif tensor.dtype != dtype:
        raise TypeError(f"{name} must have input's dtype ({dtype}), got {tensor.dtype}; "
                        f"convert one of them explicitly, e.g. {name}.to(input.dtype)")
    if tensor.is_neg():   # a lazy negation (torch._neg_view): .numpy() refuses it, and
        tensor = tensor.resolve_neg()   # it has no memory of its own values: the one copy
    return tensor.detach().numpy()


def _check_operand(name, value, dtype, learnable=False):
    """weight or a parameter: a tensor (its NumPy view), or a Python number as given. Only a
    learnable one (the weight) may require grad."""
    if isinstance(value, torch.Tensor):
        if value.requires_grad and not learnable and torch.is_grad_enabled():
            raise ValueError(f"{name} requires grad, but smoothl1.torch gives gradients to input, "
                             f"target and weight only; pass {name}.detach() (or compute the loss "
                             f"with torch operations where {name} must be learned)")
        return _check_tensor(name, value, dtype)
    return value   # a number (or None): checked and converted by the NumPy API


def _avg_factor_value(avg_factor):
    """avg_factor (a real number or a one-element tensor, as MMDetection passes it) as a
    float, or the error naming it."""
    if isinstance(avg_factor, torch.Tensor):
        if avg_factor.requires_grad and torch.is_grad_enabled():
            raise ValueError("avg_factor requires grad, but smoothl1.torch gives gradients to "
                             "input, target and weight only; pass avg_factor.detach()")
        if avg_factor.numel() != 1:
            raise ValueError(f"avg_factor must be a number or a tensor of one element, got a "
                             f"tensor of shape {tuple(avg_factor.shape)}")
        return float(avg_factor.detach().item())
    if isinstance(avg_factor, bool) or not isinstance(avg_factor, numbers.Real):
        raise TypeError(f"avg_factor must be a number or a tensor of one element, got "
                        f"{_describe(avg_factor)}")
    return float(avg_factor)


def _check_avg_factor(avg_factor):
    """The functions' avg_factor, as the NumPy API takes it (docs/contract.md section 20): a
    finite number > 0 divides exactly, 0 is MMDetection's epsilon."""
    return avg_factor_divisor(_avg_factor_value(avg_factor))


def _check_n_threads(n_threads):
    # PyTorch's intra-op thread count unless the call says otherwise (checked by the NumPy API)
    return torch.get_num_threads() if n_threads is None else n_threads


# -- the computation -----------------------------------------------------------------------------

class _Call:
    """One validated call: the NumPy views and how the kernel reduces. ``reduction`` is the
    NumPy API's, ``norm`` the divisor of the sum (N for PyTorch's weighted mean, avg_factor) or
    None. ``direct``: the common case (operands of input's shape, a number as parameter, no
    divisor), checked here, which calls the kernels without the NumPy API's validation (the
    results are the same: that validation has nothing to change in it)."""
    __slots__ = ("loss", "input", "target", "weight", "param", "reduction", "norm",
                 "n_threads", "dtype", "axes", "shape", "direct")

    def __init__(self, loss, input, target, weight, param, reduction, norm, n_threads, dtype,
                 axes=None, shape=None):
        self.loss, self.input, self.target, self.weight = loss, input, target, weight
        self.param, self.reduction, self.norm = param, reduction, norm
        self.n_threads, self.dtype = n_threads, dtype
        # dim: the reduced dimensions (a sorted tuple) and the loss's shape (keepdim's or not)
        self.axes, self.shape = axes, shape
        self.direct = (norm is None and axes is None and target.shape == input.shape
                       and (weight is None or (isinstance(weight, _ndarray)
                                               and weight.shape == input.shape))
                       and type(param) in (float, int)
                       and kernels.aligned(input, target, weight))
        if self.direct:
            self.param = check_param(loss, param)
            self.n_threads = check_n_threads(n_threads)

    def run(self, want_loss, want_grad):
        """(loss tensor or None, gradient tensor or None), in input's memory order."""
        # NumPy allocates the results (in input's memory order), and the tensors share them:
        # NumPy asks the OS for huge pages for a large array, which spares most of the page
        # faults of touching fresh memory (the first touch of torch.empty_like's memory costs
        # about three times the kernel at 10^7 float32 elements).
        loss_out = grad_out = loss_array = grad_array = None
        if want_loss and self.reduction == "none":
            loss_array = _empty_like(self.input)
            loss_out = _from_numpy(loss_array)
        if want_grad:
            grad_array = _empty_like(self.input)
            grad_out = _from_numpy(grad_array)
        if self.axes is not None:
            return self._run_along_dims(want_loss, loss_out, grad_out, grad_array)
        if self.direct:
            with kernels.KeptFloatingPointFlags():
                total = _compute(self.loss.code, self.param, self.input, self.target,
                                 self.weight, _REDUCTION_CODES[self.reduction], loss_array,
                                 grad_array, want_loss, want_grad, self.n_threads)
        else:
            _, total, _, _, _ = _evaluate(
                self.loss, self.input, self.target, param=self.param, weight=self.weight,
                reduction=self.reduction, loss_out=loss_array, grad_out=grad_array,
                n_threads=self.n_threads, want_loss=want_loss, want_grad=want_grad,
                grad_norm=self.norm)
        if want_loss and loss_out is None:
            if self.norm is not None:   # (N = 0: the mean of nothing, NaN as without weight)
                total = total / self.norm if self.norm else float("nan")
            loss_out = _scalar_tensor(total, dtype=self.dtype)   # rounded once, as C casts
        return loss_out, grad_out

    def _run_along_dims(self, want_loss, loss_out, grad_out, grad_array):
        """The loss reduced along ``dim`` (section 12's groups): with a divisor (PyTorch's
        weighted mean, avg_factor), the kernels return the groups' sums in double, divided
        here and rounded once."""
        norm = self.norm
        if norm is not None and self.weight is not None:   # one divisor per group
            norm = np.full(reduced_shape(self.input.shape, self.axes, False), float(norm))
        _, values, _, _, _ = _evaluate(
            self.loss, self.input, self.target, param=self.param, weight=self.weight,
            reduction=self.reduction, grad_out=grad_array, n_threads=self.n_threads,
            want_loss=want_loss, want_grad=grad_array is not None, grad_norm=norm,
            axis=self.axes, float64_groups=self.norm is not None)
        if want_loss:
            if self.norm is not None:
                with np.errstate(all="ignore"):   # an empty group: 0 / 0 is NaN
                    values = values / norm
            loss_out = _from_numpy(np.asarray(values)).to(self.dtype).reshape(self.shape)
        return loss_out, grad_out


def _prepare(loss, input, target, reduction, param, weight, avg_factor, n_threads, dim=None,
             keepdim=False):
    """A _Call from the tensors and keywords, every argument checked."""
    x = _check_tensor("input", input)
    dtype = input.dtype
    if isinstance(target, torch.Tensor):
        t = _check_tensor("target", target, dtype)
    else:
        raise TypeError(f"target must be a torch.Tensor, got {_describe(target)}")
    w = None if weight is None else _check_operand("weight", weight, dtype, learnable=True)
    p = _check_operand(loss.param, param, dtype)
    if reduction not in REDUCTIONS:   # (a list would raise TypeError: unhashable is fine)
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, got "
                         f"{reduction!r}")
    axes = shape = None
    if dim is not None or keepdim is not False:
        axes, shape = _check_dim(dim, keepdim, x.shape, reduction)
    norm = None
    if avg_factor is not None:
        if reduction != "mean":
            raise ValueError(f"avg_factor is only accepted with reduction='mean' (it divides "
                             f"the sum), got reduction={reduction!r}")
        norm = _check_avg_factor(avg_factor)
        reduction = "sum"
    elif reduction == "weighted_mean":
        reduction = "mean"          # the NumPy API's mean: sum(w*l) / sum(w)
    elif reduction in ("mean", "element_mean") and w is not None:
        # PyTorch's: mean(w*l) over the input's elements (of each group, along dim)
        reduction = "sum"
        norm = element_count(x.shape, axes)
    elif reduction == "element_mean":
        reduction = "mean"          # without weights, the element count is the kernel's mean
    return _Call(loss, x, t, w, p, reduction, norm, _check_n_threads(n_threads), dtype, axes,
                 shape)


def _check_dim(dim, keepdim, shape, reduction):
    """(the reduced dimensions as a sorted tuple, the loss's shape), or the error naming dim
    or keepdim (the NumPy API's axis rules, section 12, under torch's names)."""
    if reduction == "none":
        raise ValueError("dim and keepdim are only accepted with a reduction ('mean', 'sum', "
                         "'weighted_mean'): reduction='none' keeps every element")
    if isinstance(dim, list):
        dim = tuple(dim)
    try:
        axes = check_axis(dim, len(shape), keepdim)
    except (TypeError, ValueError) as error:
        message = str(error).replace("keepdims", "keepdim").replace("axis", "dim")
        raise type(error)(message) from None
    if axes is None:
        axes = tuple(range(len(shape)))
    return axes, reduced_shape(shape, axes, bool(keepdim))


class _FusedLoss(_Function):
    """The loss of one _Call; the gradient is made by the forward's kernel pass."""

    @staticmethod
    def forward(ctx, input, target, weight, call):
        # weight: the weight tensor when it requires grad, else None
        want_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        value, grad = call.run(True, want_grad)
        ctx.call, ctx.grad = call, grad
        # for what backward recomputes (a second backward, the weight's gradient): the
        # tensors and their versions, to refuse one modified in place since, as saved tensors
        # do (and cheaper to keep)
        ctx.tensors = (input, target) if weight is None else (input, target, weight)
        ctx.versions = tuple(tensor._version for tensor in ctx.tensors)
        return value

    @staticmethod
    def backward(ctx, grad_output):
        # create_graph=True: the gradient is made by the kernel, not by operations autograd
        # can differentiate, so it is returned behind a node that raises if differentiated
        # (as once_differentiable does, but also when grad_output does not require grad)
        if not torch.is_grad_enabled():   # the usual backward: autograd turned grad mode off
            return _backward(ctx, grad_output)
        with torch.no_grad():
            grads = _backward(ctx, grad_output)
        # (the node is attached only to tensors that require grad: aliases that do)
        given = [grad.detach().requires_grad_() for grad in grads if grad is not None]
        wrapped = _DelayedError(_DOUBLE_BACKWARD, len(given))(*given)
        wrapped = iter((wrapped,) if isinstance(wrapped, torch.Tensor) else wrapped)
        return tuple(None if grad is None else next(wrapped) for grad in grads)


_DOUBLE_BACKWARD = (b"smoothl1.torch does not support double backward: its gradients come from "
                    b"a compiled kernel; compute the loss with torch operations where a "
                    b"second derivative is needed")


def _backward(ctx, grad_output):
    call = ctx.call
    needs_input, needs_target, needs_weight = ctx.needs_input_grad[:3]
    input_grad = target_grad = weight_grad = None
    if needs_weight:
        weight_grad = _weight_gradient(ctx, call, grad_output)
    if not (needs_input or needs_target):
        return input_grad, target_grad, weight_grad, None
    grad = ctx.grad
    ctx.grad = None   # handed over: AccumulateGrad may take it as .grad without a copy
    if grad is None:  # a second backward through the graph: recompute
        _check_unchanged(ctx)
        _, grad = call.run(False, True)
    if call.axes is not None:   # one value per group: its gradient to each of its elements
        grad.mul_(grad_output.reshape(reduced_shape(call.input.shape, call.axes, True)))
    elif call.reduction == "none" or grad_output.item() != 1.0:
        grad.mul_(grad_output)
    if needs_target:
        target_grad = torch.neg(grad) if needs_input else grad.neg_()
        target_shape = call.target.shape
        if target_shape != call.input.shape:   # a broadcast target: sum its gradient
            target_grad = target_grad.sum_to_size(target_shape)
    if needs_input:
        input_grad = grad
    return input_grad, target_grad, weight_grad, None


def _check_unchanged(ctx):
    if tuple(tensor._version for tensor in ctx.tensors) != ctx.versions:
        raise RuntimeError("one of the tensors given to smoothl1.torch (input, target or "
                           "weight) has been modified in place since the forward pass, so "
                           "the gradient cannot be computed")


def _weight_gradient(ctx, call, grad_output):
    """The gradient to the weight: the elementwise loss (one more kernel pass, made only
    here) times the incoming gradient, per reduction, summed to the weight's shape."""
    _check_unchanged(ctx)
    weight = ctx.tensors[2]
    losses = _empty_like(call.input)
    _evaluate(call.loss, call.input, call.target, param=call.param, reduction="none",
              loss_out=losses, n_threads=call.n_threads, want_loss=True, want_grad=False)
    losses = _from_numpy(losses)
    if call.axes is not None:
        grad_output = grad_output.reshape(reduced_shape(call.input.shape, call.axes, True))
    if call.reduction == "mean":   # "weighted_mean": sum(w*l) / sum(w), of each group
        dims = tuple(range(losses.dim())) if call.axes is None else call.axes
        weights = weight.detach().expand(losses.shape)

        def group_sum(values):
            return values.sum(dims, keepdim=True) if dims else values

        weight_sum = group_sum(weights)
        mean = group_sum(weights * losses) / weight_sum
        elementwise = (losses - mean) / weight_sum * grad_output
    elif call.norm is not None:     # PyTorch's mean, avg_factor: sum(w*l) / norm
        elementwise = losses * (grad_output / call.norm)
    else:                           # "sum", "none"
        elementwise = losses * grad_output
    return elementwise.sum_to_size(weight.shape)


def _run(loss, input, target, reduction, param, weight, avg_factor, n_threads, dim=None,
         keepdim=False):
    """What ``<loss>_loss`` returns: a tensor, attached to the graph when input, target or
    weight requires a gradient."""
    call = _prepare(loss, input, target, reduction, param, weight, avg_factor, n_threads, dim,
                    keepdim)
    learned_weight = weight if isinstance(weight, torch.Tensor) and weight.requires_grad \
        else None
    if (input.requires_grad or target.requires_grad or learned_weight is not None) \
            and torch.is_grad_enabled():
        return _FusedLoss.apply(input, target, learned_weight, call)
    return call.run(True, False)[0]
