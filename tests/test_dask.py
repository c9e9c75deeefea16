"""smoothl1.dask: lazy results equal to the NumPy path, errors at call time, a real cluster.

The oracle is the NumPy path (``smoothl1.<function>`` on the computed arrays). Reductions are
sums of per-block sums, so they may differ from the NumPy path in the last bits; elementwise
results (``"none"``, gradients of ``"sum"``, and of the unweighted ``"mean"``) are equal bit for
bit.
"""
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

import smoothl1  # noqa: E402
import smoothl1.dask as sd  # noqa: E402

FUNCTIONS = ["smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad",
             "huber_loss", "huber_grad", "huber_loss_and_grad",
             "pseudo_huber_loss", "pseudo_huber_grad", "pseudo_huber_loss_and_grad"]
GRAD_HESS = ["smooth_l1_grad_hess", "huber_grad_hess", "pseudo_huber_grad_hess"]
REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}
SHAPE = (37, 23)
CHUNKINGS = {
    "single": SHAPE,
    "even": (10, 10),
    "uneven": ((5, 20, 12), (3, 20)),
    "row-blocks": (5, 23),
}


def parameter(name, value=None):
    """The loss parameter keyword of a function, at a value that puts data in both branches."""
    if name.startswith("smooth_l1"):
        return {"beta": 0.7 if value is None else value}
    return {"delta": 1.3 if value is None else value}


def make_data(dtype, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    input = (2 * rng.standard_normal(shape)).astype(dtype)
    target = rng.standard_normal(shape).astype(dtype)
    weight = rng.uniform(0.1, 1.0, shape).astype(dtype)
    return input, target, weight


def computed(value):
    return value.compute() if isinstance(value, da.Array) else value


def assert_same(got, expected, dtype):
    """got (computed Dask result) equals expected (NumPy path): same types, close values."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for got_part, expected_part in zip(got, expected):
            assert_same(got_part, expected_part, dtype)
        return
    assert type(got) is type(expected)      # np.float32 / np.float64 scalars, or ndarrays
    assert got.dtype == expected.dtype == np.dtype(dtype)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL[np.dtype(dtype)], atol=0)


def check(function, input, target, *, scheduler=None, **kwargs):
    """Run function lazily and eagerly; compare; return the lazy result."""
    lazy = getattr(sd, function)(input, target, **kwargs)
    parts = lazy if isinstance(lazy, tuple) else (lazy,)
    assert all(isinstance(part, da.Array) for part in parts)
    got = dask.compute(*parts, scheduler=scheduler)
    got = got if isinstance(lazy, tuple) else got[0]
    eager_kwargs = {k: computed(v) for k, v in kwargs.items()}
    expected = getattr(smoothl1, function)(input.compute(), computed(target), **eager_kwargs)
    assert_same(got, expected, input.dtype)
    return lazy


# ---------------------------------------------------------------------------------------------
# Equal to the NumPy path
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_matches_numpy(function, reduction, dtype, chunks, weighted):
    input, target, weight = make_data(dtype)
    lazy_input = da.from_array(input, chunks=chunks)
    # target and weight chunked differently from input (and from each other)
    lazy_target = da.from_array(target, chunks=(8, 7))
    lazy_weight = da.from_array(weight, chunks=(12, 5)) if weighted else None
    lazy = check(function, lazy_input, lazy_target, reduction=reduction, weight=lazy_weight,
                 **parameter(function))
    for part in lazy if isinstance(lazy, tuple) else (lazy,):
        if part.ndim:
            assert part.chunks == lazy_input.chunks      # input's chunks, whatever target's


@pytest.mark.parametrize("curvature", ["exact", "irls", "one"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("chunks", CHUNKINGS.values(), ids=CHUNKINGS.keys())
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("function", GRAD_HESS)
def test_grad_hess_matches_numpy_bit_for_bit(function, dtype, chunks, weighted, curvature):
    input, target, weight = make_data(dtype)
    lazy_input = da.from_array(input, chunks=chunks)
    kwargs = dict(curvature=curvature, **parameter(function))
    lazy = getattr(sd, function)(lazy_input, da.from_array(target, chunks=(8, 7)),
                                 weight=da.from_array(weight[:1], chunks=(1, 5))
                                 if weighted else None, **kwargs)
    assert isinstance(lazy, tuple) and len(lazy) == 2
    assert all(part.chunks == lazy_input.chunks for part in lazy)
    grad, hess = dask.compute(*lazy)
    expected = getattr(smoothl1, function)(input, target, weight=weight[:1] if weighted
                                           else None, **kwargs)
    for got, want in zip((grad, hess), expected):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


PARAMS = {   # per-element beta / delta (docs/contract.md section 13) of SHAPE (37, 23)
    "numpy-full": lambda p: p,
    "dask-full": lambda p: da.from_array(p, chunks=(9, 6)),
    "dask-per-row": lambda p: da.from_array(p[:, :1].copy(), chunks=(8, 1)),
    "numpy-per-column": lambda p: p[0].copy(),
    "dask-per-column": lambda p: da.from_array(p[0].copy(), chunks=5),
    "list-per-column": lambda p: p[0].tolist(),
    "numpy-0d": lambda p: p[0, :1].reshape(()).copy(),
}


@pytest.mark.parametrize("curvature", ["exact", "irls", "one"])
@pytest.mark.parametrize("param", PARAMS.values(), ids=PARAMS.keys())
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("function", GRAD_HESS)
def test_grad_hess_per_element_parameter_matches_numpy(function, dtype, param, curvature):
    input, target, weight = make_data(dtype)
    values = np.random.default_rng(3).choice([0.25, 0.7, 1.3, 4.0, np.inf],
                                             size=SHAPE).astype(dtype)
    name = next(iter(parameter(function)))
    lazy_param = param(values)
    lazy = getattr(sd, function)(da.from_array(input, chunks=(10, 10)), target, weight=weight,
                                 curvature=curvature, **{name: lazy_param})
    assert all(part.chunks == ((10, 10, 10, 7), (10, 10, 3)) for part in lazy)
    grad, hess = dask.compute(*lazy)
    expected = getattr(smoothl1, function)(input, target, weight=weight, curvature=curvature,
                                           **{name: computed(lazy_param)})
    for got, want in zip((grad, hess), expected):
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("function", GRAD_HESS)
def test_grad_hess_bad_parameter_arrays(function):
    name = next(iter(parameter(function)))
    input = da.from_array(np.ones(SHAPE), chunks=(10, 10))
    bad = np.ones(SHAPE)
    bad[30, 20] = -1.0
    with pytest.raises(ValueError, match=f"{name} must be .* at every element"):
        getattr(sd, function)(input, 0.0, **{name: bad})          # NumPy: checked at the call
    with pytest.raises(ValueError, match=f"{name} has shape"):
        getattr(sd, function)(input, 0.0, **{name: da.ones((37, 1, 1))})
    with pytest.raises(TypeError, match=f"{name} must have the dtype of input"):
        getattr(sd, function)(input, 0.0, **{name: da.ones(23, dtype=np.float32)})
    grad, hess = getattr(sd, function)(input, 0.0, **{name: da.from_array(bad, chunks=9)})
    with pytest.raises(ValueError, match=f"{name} must be .* at every element"):
        hess.compute()                                            # Dask: checked per block


TARGETS = {
    "dask-misaligned": lambda t: da.from_array(t, chunks=(9, 4)),
    "numpy": lambda t: t,
    "python-scalar": lambda t: 0.25,
    "numpy-scalar": lambda t: t.dtype.type(-0.5),
    "dask-0d": lambda t: da.from_array(t[0, 0].copy().reshape(())),
    "dask-per-row": lambda t: da.from_array(t[:, :1].copy(), chunks=(8, 1)),
    "numpy-per-row": lambda t: t[:, :1].copy(),
    "dask-per-column": lambda t: da.from_array(t[0].copy(), chunks=5),
    "numpy-per-column": lambda t: t[0].copy(),
    "list-per-column": lambda t: t[0].tolist(),
}
WEIGHTS = {
    "none": lambda w: None,
    "dask-misaligned": lambda w: da.from_array(w, chunks=(6, 23)),
    "numpy-per-row": lambda w: w[:, :1].copy(),
    "scalar": lambda w: 2.0,
    "dask-per-column": lambda w: da.from_array(w[1].copy(), chunks=7),
}


@pytest.mark.parametrize("weight_kind", WEIGHTS, ids=WEIGHTS.keys())
@pytest.mark.parametrize("target_kind", TARGETS, ids=TARGETS.keys())
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_operand_kinds(target_kind, weight_kind, reduction):
    dtype = np.float32 if target_kind.startswith("numpy") else np.float64
    input, target, weight = make_data(dtype, seed=1)
    lazy_input = da.from_array(input, chunks=((5, 20, 12), (3, 20)))
    check("huber_loss_and_grad", lazy_input, TARGETS[target_kind](target),
          weight=WEIGHTS[weight_kind](weight), reduction=reduction, delta=0.9)


@pytest.mark.parametrize("shape,chunks", [((1000,), 64), ((4, 5, 6), (3, 2, 4)), ((), ())],
                         ids=["1d", "3d", "0d"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("function", ["smooth_l1_loss_and_grad", "huber_loss_and_grad"])
def test_other_dimensions(function, reduction, dtype, shape, chunks):
    input, target, weight = make_data(dtype, shape=shape, seed=2)
    for lazy_weight in (None, da.from_array(weight, chunks=chunks)):
        check(function, da.from_array(input, chunks=chunks), da.from_array(target),
              weight=lazy_weight, reduction=reduction, **parameter(function))


@pytest.mark.parametrize("shape,chunks", [((0,), 4), ((0, 5), (2, 2)), ((3, 0), (1, 1))])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_empty(function, reduction, weighted, shape, chunks):
    input = da.from_array(np.ones(shape), chunks=chunks)
    weight = np.ones(shape) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # the mean of nothing is NaN, without a warning
        lazy = check(function, input, 0.0, reduction=reduction, weight=weight,
                     **parameter(function))
    if reduction == "mean" and function.endswith("loss"):
        assert np.isnan(lazy.compute())


@pytest.mark.parametrize("function", FUNCTIONS)
def test_special_values(function):
    values = np.array([np.nan, np.inf, -np.inf, 0.0, 1e300, -1e-300, 0.5, np.inf])
    targets = np.array([0.0, 1.0, 2.0, np.nan, -1e300, 0.0, 0.5, np.inf])
    for reduction in REDUCTIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check(function, da.from_array(values, chunks=3), da.from_array(targets, chunks=5),
                  reduction=reduction, **parameter(function, 0.0 if "l1" in function else 2.0))


@pytest.mark.parametrize("function", ["smooth_l1", "huber"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_loss_and_grad_is_both_calls_bit_for_bit(function, reduction, weighted, dtype):
    input, target, weight = make_data(dtype, seed=3)
    input = da.from_array(input, chunks=(10, 9))
    weight = da.from_array(weight, chunks=(6, 23)) if weighted else None
    kwargs = dict(reduction=reduction, weight=weight, **parameter(function))
    loss, grad = dask.compute(*getattr(sd, function + "_loss_and_grad")(input, target, **kwargs))
    assert loss.tobytes() == getattr(sd, function + "_loss")(input, target, **kwargs)\
        .compute().tobytes()
    assert grad.tobytes() == getattr(sd, function + "_grad")(input, target, **kwargs)\
        .compute().tobytes()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_results_are_bit_for_bit(reduction):
    # Unweighted float64: the gradient (scaled by 1/N for "mean") and "none" losses are
    # computed exactly as by the NumPy path.
    input, target, _ = make_data(np.float64, seed=4)
    loss, grad = dask.compute(*sd.smooth_l1_loss_and_grad(
        da.from_array(input, chunks=(10, 9)), target, reduction=reduction))
    expected_loss, expected_grad = smoothl1.smooth_l1_loss_and_grad(
        input, target, reduction=reduction)
    assert grad.tobytes() == expected_grad.tobytes()
    if reduction == "none":
        assert loss.tobytes() == expected_loss.tobytes()


def test_schedulers_and_threads_agree_bit_for_bit():
    input, target, weight = make_data(np.float32, shape=(300, 200), seed=5)
    input = da.from_array(input, chunks=(64, 50))
    results = []
    for scheduler in ("threads", "synchronous", "threads"):
        for n_threads in (None, 1, 2):
            loss, grad = dask.compute(*sd.huber_loss_and_grad(
                input, target, weight=weight, n_threads=n_threads), scheduler=scheduler)
            results.append(loss.tobytes() + grad.tobytes())
    assert len(set(results)) == 1


def test_reductions_never_build_the_elementwise_loss():
    # Every task of smoothl1.dask's own layers returns at most one element per block
    # (the block's partial sum), whatever the block size.
    input = da.from_array(np.linspace(-3, 3, 10_000), chunks=1000)
    sizes = {}

    def record(key, result, dsk, state, worker_id):
        name = key[0] if isinstance(key, tuple) else key
        if str(name).startswith(("smooth-l1-loss", "huber-loss")):
            sizes[name] = max(sizes.get(name, 0), np.size(result))

    with dask.callbacks.Callback(posttask=record):
        for function in (sd.smooth_l1_loss, sd.huber_loss):
            for weight in (None, np.full(10_000, 0.5)):
                function(input, 0.1, reduction="mean", weight=weight).compute(
                    scheduler="synchronous", optimize_graph=False)
    assert sizes and max(sizes.values()) == 1


# ---------------------------------------------------------------------------------------------
# Errors at call time, nothing computed
# ---------------------------------------------------------------------------------------------

def _never_computed(shape, dtype=np.float64):
    def fail():
        raise AssertionError("a smoothl1.dask call computed its input")
    return da.from_delayed(dask.delayed(fail)(), shape=shape, dtype=dtype)


def test_calls_are_lazy():
    input = _never_computed((10,))
    for function in FUNCTIONS:
        for reduction in REDUCTIONS:
            getattr(sd, function)(input, _never_computed((10,)), reduction=reduction,
                                  weight=_never_computed((10,)))


X = da.ones((6, 4), chunks=3)
BAD_CALLS = {
    "numpy-input": (lambda: sd.smooth_l1_loss(np.ones(3), 0.0), TypeError,
                    r"input must be a dask\.array\.Array.*got ndarray"),
    "list-input": (lambda: sd.huber_grad([1.0], 0.0), TypeError, r"input .*got list"),
    "int-input": (lambda: sd.smooth_l1_loss(da.ones(3, dtype=int), 0.0), TypeError,
                  r"input must be a float32 or float64 array, got dtype int64"),
    "float16-input": (lambda: sd.huber_loss(da.ones(3, dtype=np.float16), 0.0), TypeError,
                      r"input .*float16"),
    "byteswapped-input": (lambda: sd.smooth_l1_grad(da.ones(3, dtype=">f8"), 0.0), TypeError,
                          r"input .*non-native byte order"),
    "masked-input": (lambda: sd.smooth_l1_loss(da.ma.masked_array(X), 0.0), TypeError,
                     r"input is a numpy\.ma\.MaskedArray"),
    "unknown-shape": (lambda: sd.smooth_l1_loss(X[X[:, 0] > 0], 0.0), ValueError,
                      r"input has unknown chunk sizes"),
    "dask-target-dtype": (lambda: sd.smooth_l1_loss(X, da.ones((6, 4), dtype=np.float32)),
                          TypeError, r"target must have the dtype of input \(float64\), got "
                          r"float32"),
    "numpy-target-dtype": (lambda: sd.huber_loss_and_grad(X, np.ones(4, np.float32)),
                           TypeError, r"target must have the dtype of input"),
    "int-weight": (lambda: sd.smooth_l1_loss(X, 0.0, weight=da.ones(4, dtype=int)),
                   TypeError, r"weight must be a float32 or float64 array, got dtype int64"),
    "none-target": (lambda: sd.smooth_l1_loss(X, None), TypeError, r"target .*NoneType"),
    "string-target": (lambda: sd.smooth_l1_loss(X, "a"), TypeError, r"target .*str"),
    "N1-target-on-N": (lambda: sd.smooth_l1_loss(da.ones(5), da.ones((5, 1))), ValueError,
                       r"target has shape \(5, 1\), which does not broadcast to input's shape "
                       r"\(5,\)"),
    "N-target-on-N1": (lambda: sd.smooth_l1_loss(da.ones((5, 1)), np.ones(5)), ValueError,
                       r"target has shape \(5,\)"),
    "bad-weight-shape": (lambda: sd.huber_grad(X, 0.0, weight=da.ones((6, 1, 1))), ValueError,
                         r"weight has shape \(6, 1, 1\)"),
    "reduction": (lambda: sd.smooth_l1_loss(X, 0.0, reduction="avg"), ValueError,
                  r"reduction must be one of 'none', 'mean', 'sum', 'weighted_mean', "
                  r"'element_mean', got 'avg'"),
    "negative-beta": (lambda: sd.smooth_l1_grad(X, 0.0, beta=-1), ValueError,
                      r"beta must be >= 0"),
    "nan-beta": (lambda: sd.smooth_l1_loss_and_grad(X, 0.0, beta=np.nan), ValueError,
                 r"beta must be a number, got nan"),
    "zero-delta": (lambda: sd.huber_loss(X, 0.0, delta=0), ValueError, r"delta must be > 0"),
    "bool-delta": (lambda: sd.huber_loss(X, 0.0, delta=True), TypeError,
                   r"delta must be a real number, got bool"),
    "zero-threads": (lambda: sd.smooth_l1_loss(X, 0.0, n_threads=0), ValueError,
                     r"n_threads must be None or an int >= 1, got 0"),
    "float-threads": (lambda: sd.huber_loss(X, 0.0, n_threads=1.5), TypeError,
                      r"n_threads must be None or an int >= 1, got float"),
    "out-loss": (lambda: sd.smooth_l1_loss(X, 0.0, reduction="none", out=np.empty((6, 4))),
                 TypeError, r"out is not supported by smoothl1\.dask\.smooth_l1_loss"),
    "out-grad": (lambda: sd.huber_grad(X, 0.0, out=np.empty((6, 4))), TypeError,
                 r"out is not supported by smoothl1\.dask\.huber_grad"),
    "grad_out": (lambda: sd.huber_loss_and_grad(X, 0.0, grad_out=np.empty((6, 4))),
                 TypeError, r"grad_out is not supported"),
    "positional-beta": (lambda: sd.smooth_l1_loss(X, 0.0, 1.0), TypeError, r"positional"),
    "bad-curvature": (lambda: sd.huber_grad_hess(X, 0.0, curvature="newton"), ValueError,
                      r"curvature must be one of 'exact', 'irls', 'one', got 'newton'"),
    "hess_out": (lambda: sd.pseudo_huber_grad_hess(X, 0.0, hess_out=np.empty((6, 4))),
                 TypeError, r"hess_out is not supported by smoothl1\.dask\.pseudo_huber_grad"),
    "grad-hess-numpy-input": (lambda: sd.smooth_l1_grad_hess(np.ones(3), 0.0), TypeError,
                              r"input must be a dask\.array\.Array"),
    "grad-hess-zero-delta": (lambda: sd.pseudo_huber_grad_hess(X, 0.0, delta=0.0), ValueError,
                             r"delta must be > 0"),
}


@pytest.mark.parametrize("call,error,message", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_arguments_raise_at_call(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_errors_do_not_compute():
    input = _never_computed((6, 4))
    with pytest.raises(TypeError, match="target must have the dtype of input"):
        sd.smooth_l1_loss(input, _never_computed((6, 4), np.float32))
    with pytest.raises(ValueError, match="weight has shape"):
        sd.huber_loss(input, 0.0, weight=_never_computed((4, 1)))


# ---------------------------------------------------------------------------------------------
# A real cluster: worker processes, serialization, smoothl1 imported by the workers
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


def test_cluster_workers_import_installed_smoothl1(client):
    paths = client.run(lambda: __import__("smoothl1").__file__)
    assert len(paths) == 2 and set(paths.values()) == {smoothl1.__file__}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_cluster_matches_numpy(client, function):
    # Every reduction, dtype and a few operand kinds, sent to the cluster as one computation.
    lazy, expected = [], []
    for dtype in DTYPES:
        input, target, weight = make_data(dtype, seed=6)
        lazy_input = da.from_array(input, chunks=((5, 20, 12), (3, 20)))
        for reduction in REDUCTIONS:
            for lazy_target, lazy_weight in [
                    (da.from_array(target[:, :1].copy(), chunks=(8, 1)),
                     da.from_array(weight, chunks=(12, 5))),
                    (target[0].copy(), None)]:
                kwargs = dict(reduction=reduction, **parameter(function))
                lazy.append(getattr(sd, function)(lazy_input, lazy_target, weight=lazy_weight,
                                                  **kwargs))
                expected.append(getattr(smoothl1, function)(
                    input, computed(lazy_target), weight=computed(lazy_weight), **kwargs))
    got = dask.compute(*lazy, scheduler=client)
    for got_one, expected_one in zip(got, expected):
        dtype = (expected_one[0] if isinstance(expected_one, tuple) else expected_one).dtype
        assert_same(got_one, expected_one, dtype)


def test_cluster_empty_and_loss_and_grad_together(client):
    for shape, chunks in (((0, 5), (2, 2)), ((1000,), 100)):
        input = da.from_array(np.linspace(-2, 2, int(np.prod(shape))).reshape(shape),
                              chunks=chunks)
        loss, grad = sd.smooth_l1_loss_and_grad(input, 0.5, weight=np.full(shape, 2.0))
        got = client.compute([loss, grad], sync=True)
        expected = smoothl1.smooth_l1_loss_and_grad(input.compute(), 0.5,
                                                    weight=np.full(shape, 2.0))
        assert_same(tuple(got), expected, np.float64)
