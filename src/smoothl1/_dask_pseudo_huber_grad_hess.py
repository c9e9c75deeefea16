"""smoothl1.dask's pseudo-Huber and grad_hess functions (docs/contract.md sections 10 and 11
over Dask arrays), re-exported (and documented) by smoothl1.dask: pseudo-Huber as the other
losses there, ``smoothl1.<loss>_grad_hess`` on every block. They use smoothl1.dask's helpers,
imported when called: smoothl1.dask imports this module, so it cannot import them first."""
import operator

import dask.array as da
import numpy as np

from . import _smoothl1
from ._grad_hess import grad_hess
from ._validation import check_curvature, check_n_threads, check_param
__all__ = ["pseudo_huber_loss", "pseudo_huber_grad", "pseudo_huber_loss_and_grad",
           "smooth_l1_grad_hess", "huber_grad_hess", "pseudo_huber_grad_hess"]


def pseudo_huber_loss(input, target, *, delta=1.0, reduction="mean", weight=None, axis=None,
                      keepdims=False, out=None, n_threads=None):
    from .dask import _run
    return _run("pseudo_huber_loss", _smoothl1.PSEUDO_HUBER, delta, input, target, weight,
                reduction, out, None, n_threads, True, False, axis=axis, keepdims=keepdims)


def pseudo_huber_grad(input, target, *, delta=1.0, reduction="mean", weight=None, axis=None,
                      keepdims=False, out=None, n_threads=None):
    from .dask import _run
    return _run("pseudo_huber_grad", _smoothl1.PSEUDO_HUBER, delta, input, target, weight,
                reduction, None, out, n_threads, False, True, "out", axis=axis,
                keepdims=keepdims)


def pseudo_huber_loss_and_grad(input, target, *, delta=1.0, reduction="mean", weight=None,
                               axis=None, keepdims=False, out=None, grad_out=None,
                               n_threads=None):
    from .dask import _run
    return _run("pseudo_huber_loss_and_grad", _smoothl1.PSEUDO_HUBER, delta, input, target,
                weight, reduction, out, grad_out, n_threads, True, True, axis=axis,
                keepdims=keepdims)


def _run_grad_hess(function_name, loss_kind, param, input, target, weight, curvature,
                   grad_out, hess_out, n_threads):
    """(grad, hess) as two Dask arrays of input's chunks, from one task per block that runs
    smoothl1._grad_hess.grad_hess, the NumPy functions' own path."""
    from .dask import _check_input, _check_no_output, _operand
    _check_input(input, function_name)
    _check_no_output("grad_out", grad_out, function_name)
    _check_no_output("hess_out", hess_out, function_name)
    check_curvature(curvature)
    target, target_index = _operand("target", target, input)
    weight, weight_index = (None, None) if weight is None else _operand("weight", weight, input)
    n_threads = check_n_threads(n_threads) or 1
    index, meta = tuple(range(input.ndim)), np.empty((0,) * input.ndim, input.dtype)
    blocks = da.blockwise(
        grad_hess, index, loss_kind, None, param, None, input, index, target, target_index,
        weight, weight_index, curvature, None, None, None, None, None, n_threads, None,
        token=function_name.replace("_", "-") + "-block", dtype=input.dtype, meta=meta)
    return tuple(blocks.map_blocks(operator.itemgetter(k), dtype=input.dtype, meta=meta)
                 for k in (0, 1))


def smooth_l1_grad_hess(input, target, *, beta=1.0, weight=None, curvature="exact",
                        grad_out=None, hess_out=None, n_threads=None):
    return _run_grad_hess("smooth_l1_grad_hess", _smoothl1.SMOOTH_L1,
                          check_param("beta", beta, True), input, target, weight, curvature,
                          grad_out, hess_out, n_threads)


def huber_grad_hess(input, target, *, delta=1.0, weight=None, curvature="exact",
                    grad_out=None, hess_out=None, n_threads=None):
    return _run_grad_hess("huber_grad_hess", _smoothl1.HUBER,
                          check_param("delta", delta, False), input, target, weight, curvature,
                          grad_out, hess_out, n_threads)


def pseudo_huber_grad_hess(input, target, *, delta=1.0, weight=None, curvature="exact",
                           grad_out=None, hess_out=None, n_threads=None):
    return _run_grad_hess("pseudo_huber_grad_hess", _smoothl1.PSEUDO_HUBER,
                          check_param("delta", delta, False), input, target, weight, curvature,
                          grad_out, hess_out, n_threads)


_GRAD_HESS_DOC = """Gradient and curvature of the {loss} loss of Dask arrays, lazily: the Dask
    version of ``smoothl1.{name}`` (same arguments, rules and errors; ``grad_out``/``hess_out``
    raise ``TypeError``), returning two Dask arrays of ``input``'s shape, dtype and chunks from
    one task per block; ``n_threads=None`` means one kernel thread per block."""
for _grad_hess_function, _loss in ((smooth_l1_grad_hess, "smooth L1"), (huber_grad_hess, "Huber"),
                                   (pseudo_huber_grad_hess, "pseudo-Huber")):
    _grad_hess_function.__doc__ = _GRAD_HESS_DOC.format(loss=_loss,
                                                        name=_grad_hess_function.__name__)
