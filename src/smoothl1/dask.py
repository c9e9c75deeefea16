"""smoothl1 for Dask: the losses and ``*_grad_hess`` over ``dask.array.Array``, lazily.

Install with ``pip install "smoothl1[dask]"``. Each function takes what its NumPy twin in
``smoothl1`` takes, with ``input`` a Dask array, and returns lazy Dask results that compute to
exactly what the NumPy functions return (up to the summation order of reductions).

How the functions are built (validation on metadata, operands brought to ``input``'s chunks,
one task per block, tree reductions): ``smoothl1._dask_blocks``.
"""
try:
    import dask.array  # noqa: F401
except ImportError:   # the original error stays attached as the context
    raise ImportError('smoothl1.dask needs Dask: install it with pip install "smoothl1[dask]"')

from . import _smoothl1
from ._dask_blocks import _run, _run_grad_hess

__all__ = [
    "smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad",
    "huber_loss", "huber_grad", "huber_loss_and_grad",
    "pseudo_huber_loss", "pseudo_huber_grad", "pseudo_huber_loss_and_grad",
    "smooth_l1_grad_hess", "huber_grad_hess", "pseudo_huber_grad_hess",
]


# ---------------------------------------------------------------------------------------------
# The functions
# ---------------------------------------------------------------------------------------------

def smooth_l1_loss(input, target, *, beta=1.0, reduction="mean", weight=None, axis=None,
                   keepdims=False, out=None, n_threads=None):
    return _run("smooth_l1_loss", _smoothl1.SMOOTH_L1, beta, input,
                target, weight, reduction, out, None, n_threads, True, False,
                axis=axis, keepdims=keepdims)


def smooth_l1_grad(input, target, *, beta=1.0, reduction="mean", weight=None, axis=None,
                   keepdims=False, out=None, n_threads=None):
    return _run("smooth_l1_grad", _smoothl1.SMOOTH_L1, beta, input,
                target, weight, reduction, None, out, n_threads, False, True, "out",
                axis=axis, keepdims=keepdims)


def smooth_l1_loss_and_grad(input, target, *, beta=1.0, reduction="mean", weight=None,
                            axis=None, keepdims=False, out=None, grad_out=None,
                            n_threads=None):
    return _run("smooth_l1_loss_and_grad", _smoothl1.SMOOTH_L1,
                beta, input, target, weight, reduction, out,
                grad_out, n_threads, True, True,
                axis=axis, keepdims=keepdims)


def huber_loss(input, target, *, delta=1.0, reduction="mean", weight=None, axis=None,
               keepdims=False, out=None, n_threads=None):
    return _run("huber_loss", _smoothl1.HUBER, delta, input,
                target, weight, reduction, out, None, n_threads, True, False,
                axis=axis, keepdims=keepdims)


def huber_grad(input, target, *, delta=1.0, reduction="mean", weight=None, axis=None,
               keepdims=False, out=None, n_threads=None):
    return _run("huber_grad", _smoothl1.HUBER, delta, input,
                target, weight, reduction, None, out, n_threads, False, True, "out",
                axis=axis, keepdims=keepdims)


def huber_loss_and_grad(input, target, *, delta=1.0, reduction="mean", weight=None,
                        axis=None, keepdims=False, out=None, grad_out=None, n_threads=None):
    return _run("huber_loss_and_grad", _smoothl1.HUBER, delta,
                input, target, weight, reduction, out, grad_out, n_threads, True, True,
                axis=axis, keepdims=keepdims)


def pseudo_huber_loss(input, target, *, delta=1.0, reduction="mean", weight=None, axis=None,
                      keepdims=False, out=None, n_threads=None):
    return _run("pseudo_huber_loss", _smoothl1.PSEUDO_HUBER, delta, input, target, weight,
                reduction, out, None, n_threads, True, False, axis=axis, keepdims=keepdims)


def pseudo_huber_grad(input, target, *, delta=1.0, reduction="mean", weight=None, axis=None,
                      keepdims=False, out=None, n_threads=None):
    return _run("pseudo_huber_grad", _smoothl1.PSEUDO_HUBER, delta, input, target, weight,
                reduction, None, out, n_threads, False, True, "out", axis=axis,
                keepdims=keepdims)


def pseudo_huber_loss_and_grad(input, target, *, delta=1.0, reduction="mean", weight=None,
                               axis=None, keepdims=False, out=None, grad_out=None,
                               n_threads=None):
    return _run("pseudo_huber_loss_and_grad", _smoothl1.PSEUDO_HUBER, delta, input, target,
                weight, reduction, out, grad_out, n_threads, True, True, axis=axis,
                keepdims=keepdims)


def smooth_l1_grad_hess(input, target, *, beta=1.0, weight=None, curvature="exact",
                        grad_out=None, hess_out=None, n_threads=None):
    return _run_grad_hess("smooth_l1_grad_hess", _smoothl1.SMOOTH_L1, beta, input, target, weight,
                          curvature, grad_out, hess_out, n_threads)


def huber_grad_hess(input, target, *, delta=1.0, weight=None, curvature="exact",
                    grad_out=None, hess_out=None, n_threads=None):
    return _run_grad_hess("huber_grad_hess", _smoothl1.HUBER, delta, input, target, weight,
                          curvature, grad_out, hess_out, n_threads)


def pseudo_huber_grad_hess(input, target, *, delta=1.0, weight=None, curvature="exact",
                           grad_out=None, hess_out=None, n_threads=None):
    return _run_grad_hess("pseudo_huber_grad_hess", _smoothl1.PSEUDO_HUBER, delta, input, target, weight,
                          curvature, grad_out, hess_out, n_threads)


_GRAD_HESS_DOC = """Gradient and curvature of the {loss} loss of Dask arrays, lazily: the Dask
    version of ``smoothl1.{name}`` (same arguments, rules and errors; ``grad_out``/``hess_out``
    raise ``TypeError``), returning two Dask arrays of ``input``'s shape, dtype and chunks from
    one task per block; ``n_threads=None`` means one kernel thread per block. A per-element
    parameter may be a Dask array too, brought to ``input``'s chunks like ``weight``; its
    values are checked block by block when computed."""
for _grad_hess_function, _loss in ((smooth_l1_grad_hess, "smooth L1"), (huber_grad_hess, "Huber"),
                                   (pseudo_huber_grad_hess, "pseudo-Huber")):
    _grad_hess_function.__doc__ = _GRAD_HESS_DOC.format(loss=_loss,
                                                        name=_grad_hess_function.__name__)

_DOC = """{summary}

    The Dask version of ``smoothl1.{name}``: same formula, parameters, rules and errors (see
    ``help(smoothl1.{name})``), computed lazily block by block.

    Parameters
    ----------
    input : dask.array.Array of float32 or float64
        Predictions, any shape and chunking (chunk sizes must be known).
    target : dask.array.Array, ndarray, Python number or list
        Same dtype and broadcasting rules as in ``smoothl1.{name}``. Chunks are brought to
        ``input``'s along shared dimensions (Dask's ``rechunk``); NumPy values are wrapped.
    {param} : float, keyword-only
        {param_doc}
    reduction : {{"mean", "sum", "none"}}, keyword-only
        As in ``smoothl1.{name}``. ``"mean"`` and ``"sum"`` are tree reductions of per-block
        sums (accumulated in double), never of an elementwise loss array.
    weight : dask.array.Array, ndarray, Python number or list, optional, keyword-only
        Elementwise weights, same rules as ``target``.
    n_threads : int or None, keyword-only
        Kernel threads per block. ``None`` means 1: Dask already runs blocks in parallel (the
        kernels release the GIL). Results do not depend on it.
{outputs}
    Returns
    -------
{returns}
    Raises
    ------
    TypeError, ValueError
        As ``smoothl1.{name}``, raised by this call (from metadata; nothing is computed).
        ``input`` must be a Dask array (``TypeError`` otherwise).
"""

_NO_OUT = """    out : None
        Not supported (``TypeError`` if given): results are lazy; use ``dask.array.store``.
"""
_NO_OUTS = _NO_OUT + """    grad_out : None
        Not supported (``TypeError`` if given).
"""
_LOSS_RETURNS = """    loss : dask.array.Array
        For ``"mean"``/``"sum"`` a 0-d array that computes to a NumPy scalar of ``input``'s
        dtype; for ``"none"`` an array of ``input``'s shape, dtype and chunks."""
_GRAD_RETURNS = """    grad : dask.array.Array
        The derivative of the reduced loss w.r.t. ``input``, with ``input``'s shape, dtype
        and chunks (``"mean"``: scaled by ``1/N`` or by ``1/sum(weight)``, a lazy scalar)."""
_BOTH_RETURNS = """    loss, grad : tuple of dask.array.Array
        What the ``*_loss`` and ``*_grad`` functions return; each block is computed once for
        both when they are computed together (``dask.compute(loss, grad)``)."""

for _function, _summary, _param, _returns, _outputs in [
        (smooth_l1_loss, "Smooth L1 loss of Dask arrays, lazily.", "beta", _LOSS_RETURNS,
         _NO_OUT),
        (smooth_l1_grad, "Gradient of the reduced smooth L1 loss of Dask arrays, lazily.",
         "beta", _GRAD_RETURNS, _NO_OUT),
        (smooth_l1_loss_and_grad, "Smooth L1 loss and gradient of Dask arrays, lazily.",
         "beta", _BOTH_RETURNS, _NO_OUTS),
        (huber_loss, "Huber loss of Dask arrays, lazily.", "delta", _LOSS_RETURNS, _NO_OUT),
        (huber_grad, "Gradient of the reduced Huber loss of Dask arrays, lazily.", "delta",
         _GRAD_RETURNS, _NO_OUT),
        (huber_loss_and_grad, "Huber loss and gradient of Dask arrays, lazily.", "delta",
         _BOTH_RETURNS, _NO_OUTS),
        (pseudo_huber_loss, "Pseudo-Huber loss of Dask arrays, lazily.", "delta",
         _LOSS_RETURNS, _NO_OUT),
        (pseudo_huber_grad, "Gradient of the reduced pseudo-Huber loss of Dask arrays, "
         "lazily.", "delta", _GRAD_RETURNS, _NO_OUT),
        (pseudo_huber_loss_and_grad, "Pseudo-Huber loss and gradient of Dask arrays, lazily.",
         "delta", _BOTH_RETURNS, _NO_OUTS)]:
    _function.__doc__ = _DOC.format(
        summary=_summary, name=_function.__name__, param=_param, outputs=_outputs,
        returns=_returns,
        param_doc=("Width of the quadratic zone, ``>= 0`` (default 1.0; ``inf`` allowed)."
                   if _param == "beta" else
                   "Width of the quadratic zone, ``> 0`` (default 1.0; ``inf`` allowed)."))
del _function, _summary, _param, _returns, _outputs
