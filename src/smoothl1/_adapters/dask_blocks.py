"""The machinery behind smoothl1.dask (its public functions are thin calls of ``_run`` and
``_run_grad_hess``), in the order it is read:

1. Validation, when the function is called: the parameters, ``reduction`` and ``n_threads`` go
   through ``smoothl1._core.validation`` unchanged; Dask arrays are checked on their metadata
   (dtype, shape, chunk type) by the same rules, applied to a zero-stride NumPy stand-in of
   their dtype and shape, so errors are raised at the call with the NumPy messages, never on a
   worker. Nothing is computed at call time.
2. Operands: ``target`` and ``weight`` are brought to ``input``'s chunks along the dimensions
   they share with it (Dask's ``rechunk`` for Dask arrays, ``from_array`` for NumPy values);
   dimensions they broadcast along stay of size 1, so a per-row target is never expanded.
3. Blocks: one task per block of ``input`` runs the validation path and one kernel call on
   that block (``_block``). Elementwise losses and gradients keep ``input``'s chunks.
4. Reductions: each block yields its loss sum in double precision as a ``(1, ..., 1)`` array;
   ``da.sum`` combines them in a tree (``split_every``) and the total is rounded once to
   ``input``'s dtype. The elementwise loss is never built for ``"mean"``/``"sum"``. The
   ``"mean"`` gradient is scaled by ``1 / N``, or by ``1 / sum(weight)``, a lazy scalar
   computed from the weights alone and passed into every gradient block.
5. ``*_grad_hess``: one task per block runs ``smoothl1._core.grad_hess.grad_hess`` (the NumPy
   functions' own path; an array parameter comes as its block, as in 3) and its two results
   become two Dask arrays of ``input``'s chunks.
"""
import math
import operator

import dask.array as da
import numpy as np

from .. import _smoothl1
from .._core.api import evaluate
from .._core.grad_hess import grad_hess
from .._core.validation import (
    ELEMENT_COUNT,
    _as_operand,
    _check_array_type,
    _check_float_dtype,
    check_axis,
    check_curvature,
    check_n_threads,
    check_param_values,
    check_reduction,
    element_count,
    mean_divisor,
    reduced_shape,
)


# ---------------------------------------------------------------------------------------------
# 1. Validation on metadata
# ---------------------------------------------------------------------------------------------

def _stand_in(dtype, shape):
    """A NumPy array of this dtype and shape that owns one element: Dask metadata in a form the
    NumPy validation path reads."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def _check_dask_array(name, array):
    _check_array_type(name, array._meta)
    if not isinstance(array._meta, np.ndarray):
        raise TypeError(f"{name} must be a Dask array of numpy.ndarray chunks, got chunks of "
                        f"type {type(array._meta).__name__}")
    if any(math.isnan(size) for size in array.shape):
        raise ValueError(f"{name} has unknown chunk sizes (shape {array.shape}); call "
                         f"{name}.compute_chunk_sizes() first")


def _check_input(input, function_name):
    if not isinstance(input, da.Array):
        raise TypeError(f"input must be a dask.array.Array of float32 or float64, got "
                        f"{type(input).__name__}; wrap NumPy data with dask.array.from_array, "
                        f"or call smoothl1.{function_name} on it directly")
    _check_float_dtype("input", input.dtype)
    _check_dask_array("input", input)


def _check_no_output(name, value, function_name):
    if value is not None:
        raise TypeError(f"{name} is not supported by smoothl1.dask.{function_name}: its results "
                        f"are lazy Dask arrays; compute them, or write them with "
                        f"dask.array.store / to_zarr")


# ---------------------------------------------------------------------------------------------
# 2. Operands
# ---------------------------------------------------------------------------------------------

def _operand(name, value, input):
    """target or weight as a Dask array chunked like input along shared dimensions, and its
    blockwise index (input's trailing dimensions)."""
    input_stand_in = _stand_in(input.dtype, input.shape)
    if isinstance(value, da.Array):
        _check_dask_array(name, value)
        _as_operand(name, _stand_in(value.dtype, value.shape), input_stand_in)
    else:
        # NumPy arrays, NumPy and Python numbers, lists: the NumPy rules, conversion included.
        value = _as_operand(name, value, input_stand_in)
    offset = input.ndim - value.ndim
    chunks = tuple(input.chunks[offset + k] if size == input.shape[offset + k] else (size,)
                   for k, size in enumerate(value.shape))
    if isinstance(value, da.Array):
        value = value.rechunk(chunks)
    else:
        value = da.from_array(value, chunks=chunks)
    return value, tuple(range(offset, input.ndim))


# ---------------------------------------------------------------------------------------------
# 3. Blocks (module-level functions: workers import them from the installed package)
# ---------------------------------------------------------------------------------------------

def _block(input, target, weight, param, grad_norm, *, loss, loss_mode, want_grad, n_threads,
           axes=None):
    """One kernel call on one block. loss_mode: None, "none" (elementwise loss) or "sum" (the
    block's loss sums in double: of the whole block as an array of shape (1,) * ndim, or, with
    axes, of each group, keepdims-shaped). The gradient is normalised by grad_norm (the global
    element count or weight sum of "mean", per group with axes and weights) if given, exactly
    as the NumPy path normalises it. loss is a row of smoothl1._core.losses.LOSSES; param a number
    or the block of a parameter array."""
    reduction = "none" if loss_mode == "none" else "sum"
    input, total, loss_out, grad_out, _ = evaluate(
        loss, input, target, param=param, weight=weight, reduction=reduction,
        n_threads=n_threads, want_loss=loss_mode is not None, want_grad=want_grad,
        grad_norm=grad_norm, axis=axes, float64_groups=True)
    if loss_mode == "sum" and axes is not None:
        loss = np.asarray(total).reshape(reduced_shape(input.shape, axes, keepdims=True))
    else:
        loss = np.full((1,) * input.ndim, total) if loss_mode == "sum" else loss_out
    if loss_mode is None:
        return grad_out
    return (loss, grad_out) if want_grad else loss


def _finish(total, weight_sum, dtype):
    # As the kernel: the mean is total / weight_sum in double, rounded once to dtype as the
    # NumPy functions round it (a float32 overflow is inf, with no warning and no flag).
    with _smoothl1.KeptFloatingPointFlags():
        if weight_sum is None:
            value = float(total)
        elif weight_sum == 0:   # weights summing to zero: undefined, NaN as in the kernel
            value = math.nan
        else:
            value = float(total) / float(weight_sum)
        return _smoothl1.reduced_scalar(_stand_in(dtype, ()), value)


# ---------------------------------------------------------------------------------------------
# 4. The lazy graph
# ---------------------------------------------------------------------------------------------

def _scalar(value):
    # the NumPy scalar of a 0-d block
    return value[()]


def _finish_groups(total, weight_sum, dtype):
    # _finish for the keepdims-shaped group sums of a reduction along axes
    with np.errstate(all="ignore"):
        value = np.asarray(total, dtype=np.float64)
        if weight_sum is not None:
            weight_sum = np.where(np.asarray(weight_sum) == 0, np.nan, weight_sum)
            value = value / weight_sum
        return value.astype(dtype)


def _parameter(loss, param, input):
    """The parameter of loss: (number, None) or (Dask array chunked like input, its index).
    NumPy arrays and lists are checked element by element here; a Dask array's values are
    checked block by block when computed (its metadata here)."""
    if isinstance(param, da.Array):
        return _operand(loss.param, param, input)
    value, values = check_param_values(loss, param, _stand_in(input.dtype, input.shape))
    if values is None:
        return value, None
    return _operand(loss.param, values, input)


def _run(loss, input, target, *, function_name, param, weight, reduction, loss_out, grad_out,
         n_threads, want_loss, want_grad, grad_out_name="grad_out", axis=None, keepdims=False,
         avg_factor=None):
    """The Dask loss function called function_name: as smoothl1._core.api._run, lazily."""
    _check_input(input, function_name)
    _check_no_output("out", loss_out, function_name)
    _check_no_output(grad_out_name, grad_out, function_name)
    is_mean = check_reduction(reduction) == _smoothl1.REDUCTION_MEAN
    divisor = mean_divisor(reduction, avg_factor)
    param, param_index = _parameter(loss, param, input)
    axes = check_axis(axis, input.ndim, keepdims)
    if axes is not None and reduction == "none":
        raise ValueError("axis and keepdims are only accepted with reduction='mean' or 'sum' "
                         "(reduction='none' keeps every element)")
    target, target_index = _operand("target", target, input)
    if weight is not None:
        weight, weight_index = _operand("weight", weight, input)
    else:
        weight_index = None
    # Dask runs blocks in parallel: one kernel thread per block unless asked for more.
    n_threads = check_n_threads(n_threads) or 1

    dtype = input.dtype
    index = tuple(range(input.ndim))
    reduced = reduction != "none"
    weight_sum = None
    summed = tuple(range(input.ndim)) if axes is None else axes
    kept_index = tuple(k for k in index if k not in summed)
    if divisor is ELEMENT_COUNT:   # docs/contract.md section 20: PyTorch's mean
        divisor = float(element_count(input.shape, summed))
    if is_mean:
        if divisor is not None:    # ... or avg_factor: the sum over one number
            weight_sum = divisor
        elif weight is None:
            weight_sum = float(element_count(input.shape, summed))
        else:
            weight_sum = da.broadcast_to(weight, input.shape, chunks=input.chunks).sum(
                axis=summed, dtype=np.float64, keepdims=axes is not None)
    grad_norm, grad_norm_index = None, None
    if want_grad and is_mean:
        grad_norm = weight_sum
        if isinstance(weight_sum, da.Array):
            grad_norm_index = () if axes is None else kept_index
            if axes is not None:
                grad_norm = weight_sum.squeeze(axis=axes)

    loss_mode = None if not want_loss else ("sum" if reduced else "none")
    partials_only = loss_mode == "sum" and not want_grad
    element_meta = np.empty((0,) * input.ndim, dtype)
    partial_meta = np.empty((0,) * input.ndim, np.float64)
    partial_chunks = tuple((1,) * len(sizes) if k in summed else sizes
                           for k, sizes in enumerate(input.chunks))
    token = function_name.replace("_", "-")
    blocks = da.blockwise(
        _block, index,
        input, index, target, target_index, weight, weight_index, param, param_index,
        grad_norm, grad_norm_index,
        loss=loss, loss_mode=loss_mode, want_grad=want_grad, n_threads=n_threads, axes=axes,
        token=token + "-block", dtype=np.float64 if partials_only else dtype,
        meta=partial_meta if partials_only else element_meta,
        adjust_chunks={k: 1 for k in summed} if partials_only else None)
    if want_loss and want_grad:
        # One task computes both; the two results are picked from its tuple.
        losses = blocks.map_blocks(operator.itemgetter(0),
                                   chunks=partial_chunks if reduced else input.chunks,
                                   dtype=np.float64 if reduced else dtype,
                                   meta=partial_meta if reduced else element_meta)
        grad = blocks.map_blocks(operator.itemgetter(1),
                                 dtype=dtype, meta=element_meta)
    elif want_loss:
        losses, grad = blocks, None
    else:
        return blocks
    if reduced and axes is not None:
        total = losses.sum(axis=axes, dtype=np.float64, keepdims=True)
        if weight_sum is None or not isinstance(weight_sum, da.Array):
            losses = total.map_blocks(_finish_groups, weight_sum, dtype, dtype=dtype,
                                      meta=np.empty((0,) * input.ndim, dtype))
        else:
            losses = da.map_blocks(_finish_groups, total, weight_sum, dtype, dtype=dtype,
                                   meta=np.empty((0,) * input.ndim, dtype))
        if not keepdims:
            losses = losses.squeeze(axis=axes)
        if losses.ndim == 0:   # every dimension reduced: a NumPy scalar, as smoothl1 gives
            losses = da.blockwise(_scalar, (), losses, (), token=token + "-scalar",
                                  dtype=dtype, meta=np.empty((), dtype))
    elif reduced:
        total = losses.sum(dtype=np.float64)
        losses = da.blockwise(_finish, (), total, (), weight_sum,
                              () if isinstance(weight_sum, da.Array) else None, dtype, None,
                              token=token + "-" + reduction, dtype=dtype,
                              meta=np.empty((), dtype))
    return losses if grad is None else (losses, grad)


def _grad_hess_block(input, target, weight, param, *, loss, curvature, n_threads):
    """(grad, hess) of one block: smoothl1._core.grad_hess.grad_hess, the NumPy functions' own
    path."""
    return grad_hess(loss, input, target, param=param, weight=weight, curvature=curvature,
                     n_threads=n_threads)


def _run_grad_hess(loss, input, target, *, function_name, param, weight, curvature, grad_out,
                   hess_out, n_threads):
    """(grad, hess) as two Dask arrays of input's chunks, from one task per block
    (_grad_hess_block)."""
    _check_input(input, function_name)
    _check_no_output("grad_out", grad_out, function_name)
    _check_no_output("hess_out", hess_out, function_name)
    check_curvature(curvature)
    param, param_index = _parameter(loss, param, input)
    target, target_index = _operand("target", target, input)
    weight, weight_index = (None, None) if weight is None else _operand("weight", weight, input)
    n_threads = check_n_threads(n_threads) or 1
    index, meta = tuple(range(input.ndim)), np.empty((0,) * input.ndim, input.dtype)
    blocks = da.blockwise(
        _grad_hess_block, index, input, index, target, target_index, weight, weight_index,
        param, param_index, loss=loss, curvature=curvature, n_threads=n_threads,
        token=function_name.replace("_", "-") + "-block", dtype=input.dtype, meta=meta)
    return tuple(blocks.map_blocks(operator.itemgetter(k), dtype=input.dtype, meta=meta)
                 for k in (0, 1))
