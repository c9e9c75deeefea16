"""smoothl1.linear_model (docs/contract.md section 17): scikit-learn's HuberRegressor as the
oracle of HuberRegressor, a direct SciPy minimize of the same objective written in plain NumPy
as the oracle of RobustRegressor, check_estimator at default settings, the failures of
scikit-learn's fit (issue 27777) fitted right, float32 kept, memory flat, Dask blockwise.
"""
import tracemalloc
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
scipy_optimize = pytest.importorskip("scipy.optimize")

import sklearn.linear_model  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from smoothl1._adapters import robust_objective  # noqa: E402
from smoothl1._core.losses import LOSSES  # noqa: E402
from smoothl1.linear_model import HuberRegressor, RobustRegressor  # noqa: E402

import reference  # noqa: E402  (tests/reference.py: the losses in plain NumPy)


def make_data(n=2000, d=8, outliers=0.05, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = rng.uniform(-3, 3, d)
    y = X @ coef + 2.0 + 0.3 * rng.standard_normal(n)
    bad = rng.random(n) < outliers
    y[bad] += rng.choice([-1, 1], bad.sum()) * rng.uniform(20, 50, bad.sum())
    return X.astype(dtype), y.astype(dtype), coef


def sklearn_objective(model, X, y, epsilon=1.35, alpha=1e-4, sample_weight=None):
    """scikit-learn's Huber objective (Owen 2007), written out: sigma * sum(w) + sum(w *
    H(r / sigma)) * sigma + alpha ||coef||^2, H(z) = z^2 inside epsilon, 2 eps |z| - eps^2 out."""
    w = np.ones(len(y)) if sample_weight is None else sample_weight
    sigma = model.scale_
    z = np.abs(y - X.astype(np.float64) @ model.coef_ - model.intercept_) / sigma
    H = np.where(z > epsilon, 2 * epsilon * z - epsilon ** 2, z * z)
    return sigma * w.sum() + sigma * (w * H).sum() + alpha * model.coef_ @ model.coef_


# ---------------------------------------------------------------------------------------------
# HuberRegressor against scikit-learn's
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("epsilon,alpha", [(1.35, 1e-4), (2.0, 1.0)])
def test_huber_matches_sklearn(weighted, fit_intercept, epsilon, alpha):
    X, y, _ = make_data()
    sw = np.random.default_rng(1).integers(0, 4, len(y)).astype(float) if weighted else None
    params = dict(epsilon=epsilon, alpha=alpha, fit_intercept=fit_intercept, max_iter=1000)
    theirs = sklearn.linear_model.HuberRegressor(**params).fit(X, y, sample_weight=sw)
    ours = HuberRegressor(**params).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-4, atol=1e-6)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-4, abs=1e-6)
    assert ours.scale_ == pytest.approx(theirs.scale_, rel=1e-4)
    # the outliers agree but for residuals within a hair of the threshold
    residual = np.abs(y - X @ theirs.coef_ - theirs.intercept_) / theirs.scale_
    near = np.abs(residual - epsilon) < 1e-3
    np.testing.assert_array_equal(ours.outliers_[~near], theirs.outliers_[~near])
    ours_value = sklearn_objective(ours, X, y, epsilon, alpha, sw)
    theirs_value = sklearn_objective(theirs, X, y, epsilon, alpha, sw)
    assert ours_value <= theirs_value * (1 + 1e-9)
    assert 0 < ours.n_iter_ <= 1000


def test_huber_attributes_and_api():
    X, y, _ = make_data(n=300, d=3)
    model = HuberRegressor()
    assert model.get_params() == sklearn.linear_model.HuberRegressor().get_params()
    assert model.fit(X, y) is model
    assert model.coef_.shape == (3,) and model.coef_.dtype == np.float64
    assert isinstance(model.intercept_, float) and model.scale_ > 0
    assert model.outliers_.shape == (300,) and model.outliers_.dtype == bool
    assert model.n_features_in_ == 3
    np.testing.assert_allclose(model.predict(X), X @ model.coef_ + model.intercept_)
    from sklearn.metrics import r2_score
    assert model.score(X, y) == pytest.approx(r2_score(y, model.predict(X)))


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, y, _ = make_data(n=100, d=2)
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = HuberRegressor().fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b"])


def test_max_iter_warns_as_sklearn():
    X, y, _ = make_data()
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model = HuberRegressor(max_iter=2).fit(X, y)
    assert model.n_iter_ == 2


def test_warm_start_starts_from_the_fit():
    X, y, _ = make_data()
    model = HuberRegressor(warm_start=True).fit(X, y)
    coef = model.coef_.copy()
    model.fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-7)
    assert model.n_iter_ <= 2


@pytest.mark.parametrize("Estimator", [HuberRegressor, RobustRegressor])
def test_sparse_equals_dense(Estimator):
    sparse = pytest.importorskip("scipy.sparse")
    X, y, _ = make_data(n=500, d=6)
    X[X < 0.3] = 0.0
    dense = Estimator().fit(X, y)
    csr = Estimator().fit(sparse.csr_matrix(X), y)
    np.testing.assert_allclose(csr.coef_, dense.coef_, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# check_estimator, at default settings, no expected failures
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("estimator", [HuberRegressor(), RobustRegressor()],
                         ids=["HuberRegressor", "RobustRegressor"])
def test_check_estimator(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        results = check_estimator(estimator, on_fail=None)
    failed = [(result["check_name"], str(result["exception"])) for result in results
              if result["status"] == "failed"]
    assert not failed
    passed = {result["check_name"] for result in results if result["status"] == "passed"}
    assert {"check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data"} <= passed


@pytest.mark.parametrize("loss", [loss.name for loss in LOSSES])
def test_check_estimator_every_loss(loss):
    results = check_estimator(RobustRegressor(loss=loss), on_fail=None)
    assert not [result["check_name"] for result in results if result["status"] == "failed"]


# ---------------------------------------------------------------------------------------------
# Never fails where scikit-learn does (scikit-learn issue 27777)
# ---------------------------------------------------------------------------------------------

def test_unix_timestamp_feature():
    """A Unix-timestamp column (~1.7e9): scikit-learn's fit stops at coefficients orders of
    magnitude off; ours equals the fit on the centred, rescaled column, mapped back."""
    rng = np.random.default_rng(1)
    n = 500
    seconds = rng.uniform(0, 3e7, n)
    other = rng.standard_normal(n)
    X = np.column_stack([1.7e9 + seconds, other])
    y = 2e-6 * seconds + 3 * other + 10 + 0.1 * rng.standard_normal(n)
    y[:20] += 40
    model = HuberRegressor().fit(X, y)
    well_conditioned = sklearn.linear_model.HuberRegressor().fit(
        np.column_stack([seconds / 1e7, other]), y)
    expected = well_conditioned.coef_ / [1e7, 1]
    np.testing.assert_allclose(model.coef_, expected, rtol=1e-5)
    assert model.intercept_ == pytest.approx(
        well_conditioned.intercept_ - expected[0] * 1.7e9, rel=1e-5)
    assert model.coef_[0] == pytest.approx(2e-6, rel=1e-2)
    assert abs(sklearn.linear_model.HuberRegressor().fit(X, y).coef_[1] - 3) > 1   # theirs


def test_issue_27777_dataset():
    """The reproducer of scikit-learn issue 27777 (a ValueError from L-BFGS-B's line search on
    some platforms): the data are fitted exactly (constant y: coefficient 0)."""
    X = np.array([10, 11, 28.0]).reshape(-1, 1)
    y = np.log(np.array([5000.0, 5000.0, 5000.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = HuberRegressor().fit(X, y, np.array([2.0, 2.0, 2.0]))
    assert model.coef_[0] == pytest.approx(0, abs=1e-12)
    assert model.intercept_ == pytest.approx(np.log(5000.0), rel=1e-14)


def test_line_search_failure_restarts(monkeypatch):
    """L-BFGS-B ending with a line-search failure (status 2) is restarted from its best
    iterate: the fit raises nothing, warns nothing, and ends at the clean fit's optimum."""
    X, y, _ = make_data()
    clean = HuberRegressor().fit(X, y)
    real_minimize = robust_objective.optimize.minimize
    calls = []

    def failing_minimize(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:     # two failures in a row, after 3 iterations each
            options = dict(kwargs["options"], maxiter=3)
            result = real_minimize(*args, **dict(kwargs, options=options))
            result.status, result.success = 2, False
            result.message = "ABNORMAL_TERMINATION_IN_LNSRCH"
            return result
        return real_minimize(*args, **kwargs)

    monkeypatch.setattr(robust_objective.optimize, "minimize", failing_minimize)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = HuberRegressor().fit(X, y)
    assert len(calls) == 3
    np.testing.assert_allclose(model.coef_, clean.coef_, rtol=1e-8)
    assert model.scale_ == pytest.approx(clean.scale_, rel=1e-8)


def test_more_features_than_samples_is_exact():
    """sigma -> 0 (the data interpolated): the minimum-norm interpolant, exactly, weighted or
    repeated (scikit-learn's own HuberRegressor fails this check at its defaults)."""
    rng = np.random.default_rng(42)
    X, y = rng.random((15, 30)), rng.integers(0, 3, 15).astype(float)
    sw = rng.integers(0, 5, 15)
    weighted = HuberRegressor().fit(X, y, sample_weight=sw)
    repeated = HuberRegressor().fit(X.repeat(sw, axis=0), y.repeat(sw))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-9,
                               atol=1e-12)
    keep = sw > 0
    np.testing.assert_allclose(weighted.predict(X[keep]), y[keep], atol=1e-9)


# ---------------------------------------------------------------------------------------------
# Lean: float32 stays float32, memory flat
# ---------------------------------------------------------------------------------------------

def test_float32_stays_float32(monkeypatch):
    X, y, _ = make_data(n=3000, d=5, dtype=np.float32)
    seen = []
    real = robust_objective.block_sums

    def spy(X_block, *args):
        seen.append(X_block.dtype)
        return real(X_block, *args)

    monkeypatch.setattr(robust_objective, "block_sums", spy)
    model = HuberRegressor().fit(X, y)
    assert set(seen) == {np.dtype(np.float32)}
    assert model.predict(X).dtype == np.float32
    double = HuberRegressor().fit(X.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(model.coef_, double.coef_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("Estimator", [HuberRegressor, RobustRegressor])
def test_peak_memory_is_a_fraction_of_X(dtype, Estimator):
    X, y, _ = make_data(n=100_000, d=50, dtype=dtype)
    Estimator().fit(X[:1000], y[:1000])   # imports and caches out of the measure
    tracemalloc.start()
    try:
        Estimator().fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * X.nbytes


# ---------------------------------------------------------------------------------------------
# Sample weights
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("Estimator", [HuberRegressor, RobustRegressor])
def test_integer_weights_equal_repetition(Estimator):
    X, y, _ = make_data(n=400, d=4)
    sw = np.random.default_rng(3).integers(0, 4, len(y))
    weighted = Estimator().fit(X, y, sample_weight=sw)
    repeated = Estimator().fit(X.repeat(sw, axis=0), y.repeat(sw))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8, atol=1e-10)
    assert weighted.intercept_ == pytest.approx(repeated.intercept_, rel=1e-8, abs=1e-10)


def test_negative_weights_refused():
    X, y, _ = make_data(n=50, d=2)
    with pytest.raises(ValueError, match="non-negative"):
        HuberRegressor().fit(X, y, sample_weight=-np.ones(50))


# ---------------------------------------------------------------------------------------------
# RobustRegressor: every loss of the table against a direct SciPy minimize in plain NumPy
# ---------------------------------------------------------------------------------------------

def direct_fit(loss, param, X, y, sw, alpha):
    """minimize sum(sw * loss(y - X coef - c)) + alpha ||coef||^2 with BFGS on the raw
    parameters, the loss and its derivative from tests/reference.py (plain NumPy)."""
    elementwise = reference.ELEMENTWISE[loss]
    d = X.shape[1]

    def objective(theta):
        r = y - X @ theta[:d] - theta[d]
        loss_values, grad = elementwise(r, param)
        g = sw * grad
        value = np.sum(sw * loss_values) + alpha * theta[:d] @ theta[:d]
        return value, np.concatenate([-X.T @ g + 2 * alpha * theta[:d], [-g.sum()]])

    start = np.concatenate([np.zeros(d), [np.median(y)]])
    result = scipy_optimize.minimize(objective, start, jac=True, method="BFGS",
                                     options={"gtol": 1e-10, "maxiter": 10_000})
    return result.x[:d], result.x[d], objective(result.x)[0]


@pytest.mark.parametrize("loss", [loss.name for loss in LOSSES])
@pytest.mark.parametrize("alpha", [1e-4, 10.0])
def test_robust_regressor_every_loss(loss, alpha):
    X, y, _ = make_data(n=600, d=4, seed=2)
    sw = np.random.default_rng(4).uniform(0.5, 2.0, len(y))
    param = {"smooth_l1": 0.5, "huber": 1.0, "pseudo_huber": 1.5, "log_cosh": 1.0,
             "cauchy": 2.0}[loss]
    model = RobustRegressor(loss=loss, param=param, alpha=alpha).fit(X, y, sample_weight=sw)
    coef, intercept, value = direct_fit(loss, param, X, y, sw, alpha)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-6, atol=1e-7)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-6, abs=1e-7)
    r = y - X @ model.coef_ - model.intercept_
    ours = (np.sum(sw * reference.ELEMENTWISE[loss](r, param)[0])
            + alpha * model.coef_ @ model.coef_)
    assert ours <= value * (1 + 1e-10)


def test_robust_regressor_default_param_is_the_tables():
    X, y, _ = make_data(n=300, d=3)
    for loss in LOSSES:
        default = RobustRegressor(loss=loss.name).fit(X, y).coef_
        explicit = RobustRegressor(loss=loss.name, param=loss.default).fit(X, y).coef_
        np.testing.assert_array_equal(default, explicit)


def test_robust_regressor_refuses_a_bad_loss_or_param():
    X, y, _ = make_data(n=50, d=2)
    with pytest.raises(ValueError, match="loss"):
        RobustRegressor(loss="l2").fit(X, y)
    with pytest.raises(ValueError):
        RobustRegressor(loss="huber", param=0.0).fit(X, y)


def test_importing_smoothl1_does_not_import_sklearn():
    import subprocess
    import sys
    code = "import sys, smoothl1; assert 'sklearn' not in sys.modules, 'sklearn imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# Dask: blockwise on a real cluster, the in-memory coefficients
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the cluster's port and resource notices
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client


@pytest.mark.parametrize("Estimator,params", [
    (HuberRegressor, {}),
    (HuberRegressor, {"fit_intercept": False, "alpha": 1.0}),
    (RobustRegressor, {"loss": "pseudo_huber", "param": 0.5}),
    (RobustRegressor, {"loss": "smooth_l1", "param": 0.3}),
], ids=["huber", "huber-no-intercept", "pseudo_huber", "smooth_l1"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dask_equals_in_memory(dask_client, Estimator, params, dtype):
    import dask.array as da
    X, y, _ = make_data(n=20_000, d=6, dtype=dtype)
    sw = np.random.default_rng(5).integers(0, 3, len(y)).astype(np.float64)
    in_memory = Estimator(**params).fit(X, y, sample_weight=sw)
    X_dask = da.from_array(X, chunks=(3_000, 6))
    blockwise = Estimator(**params).fit(X_dask, da.from_array(y, chunks=3_000),
                                        sample_weight=da.from_array(sw, chunks=3_000))
    # float64: to 1e-6; float32: X @ coef is rounded to float32 per row, and BLAS rounds
    # blocks of other sizes differently, so the two objectives differ at float32's precision
    rtol = 1e-6 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(blockwise.coef_, in_memory.coef_, rtol=rtol, atol=rtol / 100)
    assert blockwise.intercept_ == pytest.approx(in_memory.intercept_, rel=rtol,
                                                 abs=rtol / 100)
    predicted = blockwise.predict(X_dask)
    assert isinstance(predicted, da.Array)
    np.testing.assert_allclose(predicted.compute(), in_memory.predict(X), rtol=1e-5, atol=1e-5)
    if Estimator is HuberRegressor:
        assert blockwise.scale_ == pytest.approx(in_memory.scale_, rel=rtol)
        same = blockwise.outliers_.compute() == in_memory.outliers_
        assert same.mean() > 0.999


def test_dask_one_pass_per_evaluation(dask_client, monkeypatch):
    """Each objective evaluation is one task per chunk of X, summed on the client."""
    import dask.array as da
    X, y, _ = make_data(n=6_000, d=4)
    calls = []
    real = robust_objective._DaskRows.map_sum

    def counting(self, function, *args):
        calls.append(function.__name__)
        return real(self, function, *args)

    monkeypatch.setattr(robust_objective._DaskRows, "map_sum", counting)
    model = HuberRegressor().fit(da.from_array(X, chunks=(1_000, 4)), y)
    assert calls.count("block_moments") == 1
    assert calls.count("block_sums") >= model.n_iter_


@pytest.mark.skipif(bool(__import__("os").environ.get("SMOOTHL1_NO_OUT_OF_CORE")),
                    reason="SMOOTHL1_NO_OUT_OF_CORE is set (the test takes ~40 s on 2 cores "
                           "and ~1.2 GB: a 300 MB X, two workers of 400 MB)")
def test_dask_larger_than_a_worker():
    """X (300 MB, generated blockwise on the workers) is larger than a worker's memory limit;
    the fit gives the coefficients of the in-memory fit on the same data."""
    import dask
    import dask.array as da
    distributed = pytest.importorskip("distributed")
    n, d = 750_000, 50
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit="400MB", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        state = da.random.RandomState(0)
        X = state.standard_normal((n, d), chunks=(25_000, d))
        y = X @ np.linspace(-2, 2, d) + 1.0 + 0.5 * state.standard_normal(n, chunks=25_000)
        assert X.nbytes >= 300e6
        workers = set(client.scheduler_info()["workers"])
        model = HuberRegressor().fit(X, y)
        assert set(client.scheduler_info()["workers"]) == workers   # none restarted
        # chunk by chunk to the client: X.compute() would concatenate X on one worker
        X_local = np.concatenate(dask.compute(*X.to_delayed().ravel()))
        y_local = np.concatenate(dask.compute(*y.to_delayed().ravel()))
    in_memory = HuberRegressor().fit(X_local, y_local)
    np.testing.assert_allclose(model.coef_, in_memory.coef_, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# The benchmark's table (python -m smoothl1 bench --linear-model N)
# ---------------------------------------------------------------------------------------------

def test_bench_linear_model_rows():
    import io

    from smoothl1.cli import _bench_linear_model, bench
    printed = io.StringIO()
    rows = _bench_linear_model.run(3000, ["float64", "float32"], printed)
    contenders = {row["contender"] for row in rows}
    assert {"smoothl1", "scikit-learn", "SGD"} <= contenders
    for row in rows:
        assert row["seconds"] > 0 and row["peak_over_X"] > 0
        if row["contender"] != "SGD":
            assert row["coef_error"] < 0.05
    assert printed.getvalue().count("smoothl1 vs scikit-learn") == 2
    assert bench.main(["--linear-model", "500", "--dtypes", "float64"]) == 0


def test_without_sklearn_the_import_error_says_what_to_install():
    import subprocess
    import sys
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import smoothl1.linear_model\nexcept ImportError as error:\n"
            "    print(error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert 'pip install "smoothl1[sklearn]"' in result.stdout
