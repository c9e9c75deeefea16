"""The loss functions of every loss of the table (smoothl1._core.losses: ``<name>_loss``,
``<name>_grad``, ``<name>_loss_and_grad``): compiled (src/kernels/entry_points.pxi), they run a
common call themselves and hand every other one to ``_run`` here: validation
(``validation.prepare``), then one kernel call."""
import math

import numpy as np

from .. import _smoothl1
from .dispatch import kernels
from .functions import OPERATIONS, compiled_function, loss_function_names
from .losses import LOSSES
from .overlap import overlap
from .validation import (ELEMENT_COUNT, check_param_array, element_count, mean_divisor,
                         prepare, reduced_shape)

__all__ = loss_function_names()

_empty_like = kernels.empty_like


def evaluate(loss, input, target, *, param, weight=None, reduction="mean", loss_out=None,
             grad_out=None, n_threads=None, want_loss, want_grad, grad_out_name="grad_out",
             grad_norm=None, axis=None, keepdims=False, float64_groups=False, avg_factor=None):
    """Validate, then make one kernel call. Returns (input, reduced loss as a float, an
    ndarray of the reduced values along axes (of input's dtype; float64 with float64_groups,
    for Dask), or None, loss array or None, gradient array or None, axes); outputs are
    allocated when not given (the loss along axes is not: see _reduced_loss). loss is a row of
    smoothl1._core.losses.LOSSES; param its raw parameter (a number or an array). grad_norm
    overrides the gradient's normaliser (see _smoothl1.compute); a number, with weights along
    axes, holds for every group. Given outputs are returned as given (a subclass stays itself;
    the kernel writes through a base-class view)."""
    given_loss_out, given_grad_out = loss_out, grad_out
    # A call that writes nothing but its reduced loss leaves a parameter array unchecked: the
    # kernels give a NaN loss for an invalid element, and the check runs only on a NaN result,
    # so a valid call makes one pass over the array, not two (docs/contract.md section 13).
    # A call given `out` writes an array, the reduced loss straight from the kernels: it
    # checks before it computes, so a bad element leaves `out` untouched.
    deferred_check = (want_loss and not want_grad and loss_out is None
                      and isinstance(reduction, str)
                      and reduction in ("mean", "sum", "weighted_mean", "element_mean"))
    # docs/contract.md section 5: the call leaves the caller's floating-point flags as they
    # were, raised or not: NumPy's operations on a parameter array (its check, the NaN test)
    # clear them, and the kernels raise some.
    with _smoothl1.KeptFloatingPointFlags():
        (input, target, weight, reduction_code, loss_out, grad_out, n_threads, param,
         param_values, axes) = prepare(input, target, weight, reduction, loss_out, grad_out,
                                       n_threads, loss=loss, param=param,
                                       grad_out_name=grad_out_name, axis=axis, keepdims=keepdims,
                                       deferred_param_check=deferred_check)
        # docs/contract.md section 20: PyTorch's mean and avg_factor are the kernel's sum with
        # the divisor as the gradient's normaliser (one pass, as "mean"), the sum divided after
        divisor = mean_divisor(reduction, avg_factor)
        if divisor is ELEMENT_COUNT:   # without weights, the kernel's own mean
            divisor = None if weight is None else float(
                element_count(input.shape, axes))
        if divisor is not None:
            reduction_code = _smoothl1.REDUCTION_SUM
            grad_norm = divisor
            float64_groups = True   # the group sums, divided below and rounded once
        if grad_norm is not None and weight is not None and axes is not None \
                and np.ndim(grad_norm) == 0:   # the kernels take one normaliser per group
            grad_norm = np.full(reduced_shape(input.shape, axes, False), float(grad_norm))
        if want_loss and reduction_code == _smoothl1.REDUCTION_NONE and loss_out is None:
            loss_out = given_loss_out = _empty_like(input)
        if want_grad and grad_out is None:
            grad_out = given_grad_out = _empty_like(input)
        elementwise_out = loss_out if axes is None else None
        reduced_out = None
        if axes is not None and want_loss and not float64_groups:
            reduced_out = _writable_during_the_pass(loss_out, input, target, weight,
                                                    param_values)
        total = kernels.compute(loss.code, 1.0 if param is None else param, input, target,
                                weight, reduction_code, elementwise_out if want_loss else None,
                                grad_out if want_grad else None, want_loss, want_grad,
                                n_threads, grad_norm, param_values, axes, float64_groups,
                                reduced_out=reduced_out)
        if deferred_check and param_values is not None and _has_nan(total):
            check_param_array(loss, param_values)
        if divisor is not None and want_loss:
            total = _divided(total, divisor, input)
    return input, total, given_loss_out, given_grad_out, axes


def _divided(total, divisor, input):
    """The sum (a float, or the float64 group sums along axes) over divisor, in double,
    rounded once to input's dtype along axes (as the kernels round a mean). A divisor of 0 (the
    element count of empty groups) gives NaN, the mean of nothing."""
    if isinstance(total, float):
        return total / divisor if divisor else math.nan
    if not divisor:
        total.fill(math.nan)
    else:
        with np.errstate(all="ignore"):   # a quotient beyond float64 is inf, quietly
            np.divide(total, divisor, out=total)
    return total if total.dtype == input.dtype else _smoothl1.quiet_cast(total, input)


def _writable_during_the_pass(out, *operands):
    """out (the checked reduced-loss buffer, or None) if the kernel may write the reduced
    values straight into it while it reads the operands (docs/contract.md section 8: nothing
    of the input's size is allocated), else None: an out sharing memory with an input is
    filled after the pass, from an array of its own, so no input is read after it changed."""
    if out is None or any(operand is not None and overlap(out, operand)
                          for operand in operands):
        return None
    return out


def _has_nan(total):
    # total: a float, or the ndarray of the values along axes
    if isinstance(total, float):
        return total != total
    lowest = total.min() if total.size else 0.0   # NaN propagates; no temporary
    return lowest != lowest


def _reduced_loss(input, values, axes, keepdims, out):
    """The loss reduced along axes: values (input's dtype, the reduced shape without keepdims,
    from the kernel, which rounds each value once), into out if given; a NumPy scalar when
    nothing is left, as NumPy."""
    shape = reduced_shape(input.shape, axes, keepdims)
    if out is not None:
        if not np.may_share_memory(values, out):   # else the kernel wrote into out itself
            np.asarray(out)[...] = values.reshape(shape)
        return out
    if not shape:
        return kernels.reduced_scalar(input, float(values.reshape(())))
    return values.reshape(shape)


def _run(loss, input, target, *, param, weight, reduction, loss_out, grad_out, n_threads,
         want_loss, want_grad, grad_out_name="grad_out", axis=None, keepdims=False,
         avg_factor=None):
    """What a loss function returns: its loss, its gradient, or both."""
    input, total, loss_out, grad_out, axes = evaluate(
        loss, input, target, param=param, weight=weight, reduction=reduction,
        loss_out=loss_out, grad_out=grad_out, n_threads=n_threads, want_loss=want_loss,
        want_grad=want_grad, grad_out_name=grad_out_name, axis=axis, keepdims=keepdims,
        avg_factor=avg_factor)
    if axes is not None and want_loss:
        value = _reduced_loss(input, total, axes, keepdims, loss_out)
    else:
        value = loss_out if total is None else kernels.reduced_scalar(input, total)
    if want_loss and want_grad:
        return value, grad_out
    return value if want_loss else grad_out


_PARAMETERS = """
    Parameters
    ----------
    input : ndarray of float32 or float64
        Predictions. Any shape and memory layout; never copied or modified (unless passed as
        an output).
    target : ndarray, Python number or list
        Same dtype as ``input``; its shape must broadcast to ``input``'s without changing it
        (``(N, 1)`` against ``(N,)`` is refused). Python numbers and lists are converted to
        ``input``'s dtype.
    {param} : float, or ndarray or list, keyword-only
        {param_doc} An array or list gives one {param} per element, with the rules of
        ``weight`` (every element checked).
    reduction : {{"mean", "sum", "none", "weighted_mean", "element_mean"}}, keyword-only
        ``"mean"`` (default) averages over all elements, or is the weighted average
        ``sum(w * loss) / sum(w)`` with ``weight`` (``np.average``; ``"weighted_mean"`` is
        its other name); ``"element_mean"`` is PyTorch's and Keras' ``mean(w * loss)``, the
        weighted sum over the element count; ``"sum"`` adds up; ``"none"`` keeps the
        elementwise values. Sums are accumulated in double precision, pairwise.
    avg_factor : float, optional, keyword-only
        With ``reduction="mean"`` only: the loss is ``sum(w * loss) / avg_factor``, as
        MMDetection normalises by the number of positive samples (each group's sum, with
        ``axis``). ``avg_factor >= 0``; 0 divides by MMDetection's epsilon,
        ``torch.finfo(torch.float32).eps`` (``2**-23``), so a batch without positives gives 0.
        The gradient is divided alike.
    axis : None, int or tuple of ints, keyword-only
        With ``"mean"``/``"sum"``: the dimensions to reduce, as in NumPy (``None``: all). The
        loss is then an array of NumPy's reduced shape (a weighted mean per group), and the
        gradient that of the sum of the reduced values.
    keepdims : bool, keyword-only
        Keep the reduced dimensions with size 1, as in NumPy.
    weight : ndarray, Python number or list, optional, keyword-only
        Elementwise weights, same rules as ``target``; each loss and derivative is multiplied
        by its weight. Weights summing to zero make the ``"mean"`` (and its gradient) NaN.
    n_threads : int or None, keyword-only
        Threads for the computation; ``None`` chooses (one thread for small inputs, else up to
        ``OMP_NUM_THREADS`` / threadpoolctl limits). Results do not depend on it, bit for bit.
"""

_ERRORS = """
    Raises
    ------
    TypeError
        A non-float32/float64 or mismatched dtype, a non-array output, a non-number parameter.
    ValueError
        A shape that does not broadcast to ``input``'s, a bad ``reduction``, a parameter or
        ``avg_factor`` out of range (or ``avg_factor`` with a reduction other than ``"mean"``),
        an output of the wrong shape or read-only, ``out`` with a reduced loss. A call
        that raises leaves inputs and outputs untouched.
"""

_LOSS_OUT = """    out : ndarray, optional, keyword-only
        With ``reduction="none"``: a writeable array of ``input``'s shape and dtype (any
        layout, may be ``input`` or ``target`` itself) that receives the losses; with ``axis``,
        an array of the reduced shape that receives the reduced loss.
"""
_GRAD_OUT = """    out : ndarray, optional, keyword-only
        A writeable array of ``input``'s shape and dtype (any layout, may be ``input`` or
        ``target`` itself) that receives the gradient.
"""
_BOTH_OUT = """    out : ndarray, optional, keyword-only
        With ``reduction="none"`` only: receives the losses (as in the ``*_loss`` function).
    grad_out : ndarray, optional, keyword-only
        Receives the gradient (as ``out`` of the ``*_grad`` function).
"""
_LOSS_RETURNS = """
    Returns
    -------
    loss : numpy.float32 or numpy.float64, or ndarray
        A NumPy scalar of ``input``'s dtype for ``"mean"`` and ``"sum"`` (NaN for the mean of
        nothing, 0 for the sum of nothing), an array of the reduced shape with ``axis`` or
        ``keepdims``; an array of ``input``'s shape (``out`` if given, else a new array in
        ``input``'s memory order) for ``"none"``.
"""
_GRAD_RETURNS = """
    Returns
    -------
    grad : ndarray
        The derivative of the *reduced* loss with respect to ``input``, of ``input``'s shape
        and dtype: elementwise derivative times weight, divided by the element count (or the
        weight sum) for ``"mean"``, by the element count for ``"element_mean"``, by
        ``avg_factor`` if given. The derivative with respect to ``target`` is ``-grad``.
"""
_BOTH_RETURNS = """
    Returns
    -------
    loss, grad : tuple
        Exactly what the ``*_loss`` and ``*_grad`` functions return, bit for bit, computed
        in one pass over memory.
"""


def capitalized(title):
    """A loss's title at the start of a sentence: "Smooth L1", "Pseudo-Huber"."""
    return title[0].upper() + title[1:]


# Each operation's docstring: its first line, then its outputs and returns.
_DOCS = {
    "_loss": (lambda loss: loss.summary, _LOSS_OUT, _LOSS_RETURNS),
    "_grad": (lambda loss: f"Gradient of the reduced {loss.title} loss with respect to "
                           f"``input``.", _GRAD_OUT, _GRAD_RETURNS),
    "_loss_and_grad": (lambda loss: f"{capitalized(loss.title)} loss and its gradient, in one "
                                    f"pass.", _BOTH_OUT, _BOTH_RETURNS),
}


def _docstring(loss, operation):
    summary, outputs, returns = _DOCS[operation.suffix]
    return (summary(loss) + "\n" + loss.formula + "\n"
            + _PARAMETERS.format(param=loss.param, param_doc=loss.param_doc)
            + outputs + returns + _ERRORS)


# The functions themselves are compiled (src/kernels/entry_points.pxi): a common call runs
# there, every other one comes back to _run (docs/contract.md section 21).
for _loss in LOSSES:
    for _operation in OPERATIONS:
        _name = _loss.name + _operation.suffix
        globals()[_name] = compiled_function(kernels, _name, __name__,
                                             _docstring(_loss, _operation))
del _loss, _operation, _name
kernels.load_general_paths()
