"""The adapters: the core's functions fitted to other libraries' interfaces. Dask arrays
(``dask``, built on ``dask_blocks``; public as ``smoothl1.dask``), PyTorch tensors (``torch``,
built on ``torch_autograd``; public as ``smoothl1.torch``), ``scipy.optimize.least_squares``
(``least_squares``; public as ``smoothl1.least_squares_loss``) and gradient-boosting objectives
(``boosting``; public as ``smoothl1.boosting``), and scikit-learn estimators of robust linear
models (``linear_model``, on ``robust_objective`` and ``linear_blocks``; public as
``smoothl1.linear_model``). None of those libraries is imported here.
"""
