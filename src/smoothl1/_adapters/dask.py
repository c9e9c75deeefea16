"""The functions of ``smoothl1.dask`` (the public module, which documents them and checks
that Dask is installed before importing this one), made from the table of losses by the core's
factory (``smoothl1._core.functions``); each calls ``_run`` or ``_run_grad_hess`` of
``smoothl1._adapters.dask_blocks``, which hold the Dask machinery.
"""
import functools

from .._core.api import capitalized
from .._core.functions import (
    OPERATIONS,
    grad_hess_function,
    grad_hess_names,
    loss_function,
    loss_function_names,
)
from .._core.losses import LOSSES
from .dask_blocks import _run, _run_grad_hess

__all__ = loss_function_names() + grad_hess_names()
#: Where the functions are public (their ``__module__``): ``smoothl1.dask`` re-exports them.
PUBLIC_MODULE = "smoothl1.dask"


_GRAD_HESS_DOC = """Gradient and curvature of the {loss} loss of Dask arrays, lazily: the Dask
    version of ``smoothl1.{name}`` (same arguments, rules and errors; ``grad_out``/``hess_out``
    raise ``TypeError``), returning two Dask arrays of ``input``'s shape, dtype and chunks from
    one task per block; ``n_threads=None`` means one kernel thread per block. A per-element
    parameter may be a Dask array too, brought to ``input``'s chunks like ``weight``; its
    values are checked block by block when computed."""
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
    reduction : {{"mean", "sum", "none", "weighted_mean", "element_mean"}}, keyword-only
        As in ``smoothl1.{name}``. The reductions are tree reductions of per-block sums
        (accumulated in double), never of an elementwise loss array.
    avg_factor : float, optional, keyword-only
        As in ``smoothl1.{name}``: with ``"mean"``, the sum over ``avg_factor`` (0: over
        MMDetection's epsilon, ``2**-23``).
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

# Each operation's docstring: its first line, then its outputs and returns.
_DOCS = {
    "_loss": ("{Title} loss of Dask arrays, lazily.", _NO_OUT, _LOSS_RETURNS),
    "_grad": ("Gradient of the reduced {title} loss of Dask arrays, lazily.", _NO_OUT,
              _GRAD_RETURNS),
    "_loss_and_grad": ("{Title} loss and gradient of Dask arrays, lazily.", _NO_OUTS,
                       _BOTH_RETURNS),
}


def _docstring(loss, operation):
    summary, outputs, returns = _DOCS[operation.suffix]
    return _DOC.format(
        summary=summary.format(Title=capitalized(loss.title), title=loss.title),
        name=loss.name + operation.suffix, param=loss.param, param_doc=loss.param_doc,
        outputs=outputs, returns=returns)


for _loss in LOSSES:
    for _operation in OPERATIONS:
        _name = _loss.name + _operation.suffix
        globals()[_name] = loss_function(
            _loss, _operation, functools.partial(_run, function_name=_name), PUBLIC_MODULE,
            _docstring(_loss, _operation))
    _name = _loss.name + "_grad_hess"
    globals()[_name] = grad_hess_function(
        _loss, functools.partial(_run_grad_hess, function_name=_name), PUBLIC_MODULE,
        _GRAD_HESS_DOC.format(loss=_loss.title, name=_name))
del _loss, _operation, _name
