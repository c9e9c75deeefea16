"""Robust linear models on smoothl1's kernels: ``HuberRegressor`` (a drop-in for
scikit-learn's) and ``RobustRegressor`` (any loss of the table), fitted on NumPy, SciPy CSR or
Dask arrays (docs/linear_model.md, docs/contract.md section 17).

Install with ``pip install "smoothl1[sklearn]"`` (scikit-learn and SciPy; Dask arrays also
need ``smoothl1[dask]``).
"""
try:   # (as private names, deleted below: they are not names of this module)
    import scipy.optimize as _scipy_optimize  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: E501
    import sklearn as _sklearn  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:   # the original error stays attached as the context
    raise ImportError('smoothl1.linear_model needs scikit-learn and SciPy: install them with '
                      'pip install "smoothl1[sklearn]"', name="sklearn")

# The estimators are made in the adapters' wing (smoothl1._adapters.linear_model); this is
# their public home.
from ._adapters.linear_model import HuberRegressor, RobustRegressor  # noqa: E402

HuberRegressor.__module__ = RobustRegressor.__module__ = __name__
__all__ = ["HuberRegressor", "RobustRegressor"]
del _scipy_optimize, _sklearn
