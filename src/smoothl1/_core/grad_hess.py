"""Gradient and curvature in one pass (docs/contract.md section 11): what Newton-type fitters
such as gradient boosting consume, elementwise; ``<name>_grad_hess`` for every loss of the
table (smoothl1._core.losses), compiled (src/kernels/entry_points.pxi): a common call runs
there, every other one comes to ``grad_hess`` here. Validation is the one path of the loss
functions (``validation.prepare``, with ``hess_out`` checked like ``grad_out``, and
``beta`` / ``delta`` a number or an array of one per element, docs/contract.md section 13)."""
from .. import _smoothl1
from .dispatch import kernels
from .functions import compiled_function, grad_hess_names
from .losses import LOSSES
from .validation import check_curvature, prepare

__all__ = grad_hess_names()


def grad_hess(loss, input, target, *, param, weight=None, curvature, grad_out=None,
              hess_out=None, n_threads=None):
    """Validate, then make one kernel call; returns (grad, hess), allocated when not given
    (given outputs are returned as given, as in api.evaluate). loss is a row of
    smoothl1._core.losses.LOSSES; `param` its raw parameter (a number or an array), validated
    here."""
    curvature_code = check_curvature(curvature)
    given_grad_out, given_hess_out = grad_out, hess_out
    # docs/contract.md section 5: the caller's floating-point flags are kept (see api.evaluate)
    with _smoothl1.KeptFloatingPointFlags():
        input, target, weight, _, hess_out, grad_out, n_threads, param, param_values, _ = prepare(
            input, target, weight, "none", hess_out, grad_out, n_threads, loss=loss, param=param,
            out_name="hess_out")
        if grad_out is None:
            grad_out = given_grad_out = kernels.empty_like(input)
        if hess_out is None:
            hess_out = given_hess_out = kernels.empty_like(input)
        kernels.compute_grad_hess(loss.code, 1.0 if param is None else param, curvature_code,
                                  input, target, weight, grad_out, hess_out, n_threads,
                                  param_values)
    return given_grad_out, given_hess_out


_DOC = """{summary}

    Elementwise, with ``d = input - target`` and ``z = |d|``, no reduction: ``grad`` is the
    derivative of the loss with respect to ``input`` (as ``reduction="none"`` of the
    ``*_grad`` function) and ``hess`` a curvature chosen by ``curvature``::

{table}

    ``"irls"`` is ``grad / d`` (the majorize-minimize curvature), taken at its limit at
    ``d = 0``; it is positive for finite ``d`` (unless it underflows), so a Newton step never
    divides by zero. At ``d = ±inf`` both ``"exact"`` and ``"irls"`` are 0; a NaN ``d`` gives
    NaN for every curvature.{note}

    Parameters
    ----------
    input : ndarray of float32 or float64
        Predictions, any shape and layout; never copied or modified (unless an output).
    target : ndarray, Python number or list
        Same dtype as ``input``, broadcasting to its shape (as for the loss functions).
    {param} : float, or ndarray or list, keyword-only
        {param_doc} An array or list gives one {param} per element, with the rules of
        ``weight`` (every element checked; an array of one value gives that value's results,
        bit for bit).
    weight : ndarray, Python number or list, optional, keyword-only
        Elementwise weights (same rules as ``target``): both ``grad`` and ``hess`` are
        multiplied by them.
    curvature : {{"exact", "irls", "one"}}, keyword-only
        Which curvature ``hess`` holds (default ``"exact"``).
    grad_out, hess_out : ndarray, optional, keyword-only
        Writeable arrays of ``input``'s shape and dtype (any layout, may be ``input`` or
        ``target``) that receive the results; they must not overlap each other.
    n_threads : int or None, keyword-only
        As for the loss functions; results do not depend on it, bit for bit.

    Returns
    -------
    grad, hess : tuple of ndarray
        Of ``input``'s shape and dtype (``grad_out`` / ``hess_out`` if given, else new arrays
        in ``input``'s memory order), computed in one pass in double precision and rounded
        once.

    Raises
    ------
    TypeError, ValueError
        As the loss functions, and ``ValueError`` for a ``curvature`` other than the three, or
        a ``hess_out`` of the wrong shape, read-only or overlapping ``grad_out``. A call that
        raises leaves its outputs untouched.
"""

# Compiled (src/kernels/entry_points.pxi): a common call runs there, every other one comes
# to grad_hess above (docs/contract.md section 21).
for _loss in LOSSES:
    globals()[_loss.name + "_grad_hess"] = compiled_function(
        kernels, _loss.name + "_grad_hess", __name__, _DOC.format(
            summary=f"Gradient and curvature of the {_loss.title} loss.",
            table=_loss.curvatures, note=_loss.curvature_note, param=_loss.param,
            param_doc=_loss.param_doc))
del _loss
