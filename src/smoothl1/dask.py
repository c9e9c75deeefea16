"""smoothl1 for Dask: the losses and ``*_grad_hess`` over ``dask.array.Array``, lazily.

Install with ``pip install "smoothl1[dask]"``. Each function takes what its NumPy twin in
``smoothl1`` takes, with ``input`` a Dask array, and returns lazy Dask results that compute to
exactly what the NumPy functions return (up to the summation order of reductions).

How the functions are built (validation on metadata, operands brought to ``input``'s chunks,
one task per block, tree reductions): ``smoothl1._adapters.dask_blocks``.
"""
try:
    import dask.array as _dask_array
except ImportError:   # the original error stays attached as the context
    raise ImportError('smoothl1.dask needs Dask: install it with pip install "smoothl1[dask]"')
del _dask_array   # imported to check that Dask is there: not a name of this module

# The functions are made in the adapters' wing (smoothl1._adapters.dask); this is their
# public home, which their __module__ names.
from ._adapters.dask import *  # noqa: E402,F401,F403
from ._adapters.dask import __all__  # noqa: E402,F401
