"""Gradient and curvature in one pass (docs/contract.md section 11): what Newton-type fitters
such as gradient boosting consume, elementwise. Validation is the one path of the loss
functions (``_validation.prepare``, with ``hess_out`` checked like ``grad_out``, and ``beta`` /
``delta`` a number or an array of one per element, docs/contract.md section 13)."""
from . import _smoothl1
from ._dispatch import kernels
from ._validation import check_curvature, prepare

__all__ = ["smooth_l1_grad_hess", "huber_grad_hess", "pseudo_huber_grad_hess"]


def grad_hess(loss_kind, param, input, target, weight, curvature, grad_out, hess_out,
              n_threads):
    """Validate, then make one kernel call; returns (grad, hess), allocated when not given
    (given outputs are returned as given, as in _api.evaluate). `param` is the raw beta or
    delta (a number or an array), validated here."""
    curvature_code = check_curvature(curvature)
    given_grad_out, given_hess_out = grad_out, hess_out
    input, target, weight, _, hess_out, grad_out, n_threads, param, param_values, _ = prepare(
        input, target, weight, "none", hess_out, grad_out, n_threads, param=param,
        allow_zero=loss_kind == _smoothl1.SMOOTH_L1, out_name="hess_out")
    if grad_out is None:
        grad_out = given_grad_out = kernels.empty_like(input)
    if hess_out is None:
        hess_out = given_hess_out = kernels.empty_like(input)
    with _smoothl1.KeptFloatingPointFlags():   # docs/contract.md section 5: no flags raised
        kernels.compute_grad_hess(loss_kind, 1.0 if param is None else param, curvature_code,
                                  input, target, weight, grad_out, hess_out, n_threads,
                                  param_values)
    return given_grad_out, given_hess_out


def smooth_l1_grad_hess(input, target, *, beta=1.0, weight=None, curvature="exact",
                        grad_out=None, hess_out=None, n_threads=None):
    return grad_hess(_smoothl1.SMOOTH_L1, beta, input, target, weight, curvature, grad_out,
                     hess_out, n_threads)


def huber_grad_hess(input, target, *, delta=1.0, weight=None, curvature="exact",
                    grad_out=None, hess_out=None, n_threads=None):
    return grad_hess(_smoothl1.HUBER, delta, input, target, weight, curvature, grad_out,
                     hess_out, n_threads)


def pseudo_huber_grad_hess(input, target, *, delta=1.0, weight=None, curvature="exact",
                           grad_out=None, hess_out=None, n_threads=None):
    return grad_hess(_smoothl1.PSEUDO_HUBER, delta, input, target, weight, curvature,
                     grad_out, hess_out, n_threads)


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

_TABLES = {
    "smooth_l1": """\
        grad  = d / beta           if z < beta  else  sign(d)
        exact = 1 / beta           if z < beta  else  0          (beta = 0: 0)
        irls  = min(1 / beta, 1 / z)                            (= 1 / max(beta, z))
        one   = 1""",
    "huber": """\
        grad  = d                  if z < delta else  delta * sign(d)
        exact = 1                  if z < delta else  0
        irls  = min(1, delta / z)
        one   = 1""",
    "pseudo_huber": """\
        grad  = d / sqrt(1 + (d / delta)**2)
        exact = (1 + (d / delta)**2) ** -1.5
        irls  = 1 / sqrt(1 + (d / delta)**2)
        one   = 1""",
}
_NOTES = {
    "smooth_l1": ("\n\n    With ``beta = 0`` (plain L1) ``\"irls\"`` is ``1 / z``, +inf at "
                  "``d = 0`` (the limit of\n    ``sign(d) / d``); use ``beta > 0`` to keep "
                  "curvatures finite."),
    "huber": "",
    "pseudo_huber": "",
}

for _function, _loss, _summary, _param, _param_doc in (
        (smooth_l1_grad_hess, "smooth_l1", "Gradient and curvature of the smooth L1 loss.",
         "beta", "Width of the quadratic zone, ``>= 0`` (default 1.0; ``inf`` is allowed)."),
        (huber_grad_hess, "huber", "Gradient and curvature of the Huber loss.",
         "delta", "Width of the quadratic zone, ``> 0`` (default 1.0; ``inf`` is allowed)."),
        (pseudo_huber_grad_hess, "pseudo_huber",
         "Gradient and curvature of the pseudo-Huber loss.",
         "delta", "Scale of the quadratic zone, ``> 0`` (default 1.0; ``inf`` is allowed).")):
    _function.__doc__ = _DOC.format(summary=_summary, table=_TABLES[_loss], note=_NOTES[_loss],
                                    param=_param, param_doc=_param_doc)
