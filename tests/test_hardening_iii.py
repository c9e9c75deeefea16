"""Defects found by the third adversarial review (issue 22), each with the call that showed it:
a thread limit beyond a C int, empty input with a parameter array, a Dask reduction of every
dimension through ``axis``, an unhashable loss name, a negative ``bench --boxes``."""
import os
import subprocess
import sys

import numpy as np
import pytest

import smoothl1
from smoothl1._core.losses import LOSSES

HUGE = str(2**31)


def python(code, **environment):
    """Run `code` in a fresh interpreter with `environment` added; (returncode, stdout, stderr)."""
    env = dict(os.environ, **environment)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("variable", ["SMOOTHL1_NUM_THREADS", "OMP_NUM_THREADS"])
def test_a_thread_limit_beyond_a_c_int_is_clamped_at_import(variable):
    code = "import smoothl1, smoothl1._smoothl1 as k; print(k.max_threads(), k.MAX_THREADS)"
    returncode, out, err = python(code, **{variable: HUGE})
    assert returncode == 0, err
    limit, maximum = map(int, out.split())
    assert limit == maximum   # docs/threads.md: clamped to 1..MAX_THREADS


def test_the_command_line_takes_a_huge_omp_num_threads():
    result = subprocess.run([sys.executable, "-m", "smoothl1", "--version"], capture_output=True,
                            text=True, env=dict(os.environ, OMP_NUM_THREADS=HUGE), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_threadpool_limits_beyond_a_c_int_is_clamped():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from smoothl1._core.dispatch import kernels
    before = kernels.max_threads()
    with threadpoolctl.threadpool_limits(2**31, user_api="smoothl1"):
        assert kernels.max_threads() == kernels.MAX_THREADS
    assert kernels.max_threads() == before


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
@pytest.mark.parametrize("shape, axis", [((0,), None), ((5, 0), 1), ((0, 3), 0)])
def test_empty_input_with_a_parameter_array(loss, shape, axis):
    """docs/contract.md: the mean of nothing is NaN and the sum 0, with no exception, also
    with a per-element parameter (which has no element to check)."""
    function = getattr(smoothl1, loss.name + "_loss")
    x = np.empty(shape)
    param = {loss.param: np.ones(shape)}
    mean = function(x, 0.0, reduction="mean", axis=axis, **param)
    total = function(x, 0.0, reduction="sum", axis=axis, **param)
    expected_shape = () if axis is None else tuple(
        size for k, size in enumerate(shape) if k != axis)
    assert np.shape(mean) == expected_shape and np.shape(total) == expected_shape
    assert np.all(np.asarray(total) == 0)
    if np.size(mean):
        assert np.all(np.isnan(mean))
    grad = getattr(smoothl1, loss.name + "_grad")(x, 0.0, **param)
    assert grad.shape == shape


def test_dask_reduction_of_every_dimension_through_axis_is_a_numpy_scalar():
    da = pytest.importorskip("dask.array")
    import smoothl1.dask as sd
    x = np.linspace(-3, 3, 100)
    for axis in (0, (0,), -1):
        lazy = sd.huber_loss(da.from_array(x, chunks=30), 0.5, reduction="sum", axis=axis)
        value = lazy.compute()
        expected = smoothl1.huber_loss(x, 0.5, reduction="sum", axis=axis)
        assert type(value) is type(expected) is np.float64
        assert value == expected
    value = sd.smooth_l1_loss(da.from_array(x.reshape(10, 10).astype(np.float32), chunks=4),
                              0.0, axis=(0, 1)).compute()
    assert type(value) is np.float32


@pytest.mark.parametrize("name", [["huber"], {"huber": 1}, ("huber",)])
def test_an_unhashable_or_non_string_loss_names_loss_and_lists_the_losses(name):
    from smoothl1 import boosting
    for make in (boosting.xgboost_objective, boosting.lightgbm_objective,
                 boosting.catboost_objective, smoothl1.least_squares_loss):
        with pytest.raises(TypeError) as error:
            make(name)
        message = str(error.value)
        assert "loss" in message
        assert all(repr(loss.name) in message for loss in LOSSES)


@pytest.mark.parametrize("option", ["--boxes", "--losses"])
def test_bench_refuses_a_negative_count(option):
    result = subprocess.run([sys.executable, "-m", "smoothl1", "bench", option, "-1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert option in result.stderr and "Traceback" not in result.stderr


def _parameter_array_calls():
    """Calls whose parameter is an array (checked by NumPy, which clears the status flags)."""
    x = np.linspace(-3, 3, 40)
    half = np.full(x.shape, 0.5)
    calls = []
    for loss in LOSSES:
        param = {loss.param: half}
        for suffix, keywords in (("_loss", {"reduction": "none"}), ("_loss", {}),
                                 ("_grad", {}), ("_loss_and_grad", {"reduction": "sum"}),
                                 ("_grad_hess", {})):
            function = getattr(smoothl1, loss.name + suffix)
            calls.append(pytest.param(
                lambda function=function, param=param, keywords=keywords:
                function(x, 0.0, **param, **keywords), id=f"{loss.name}{suffix}"))
        calls.append(pytest.param(
            lambda loss=loss: getattr(smoothl1, loss.name + "_loss")(
                x, 0.0, **{loss.param: [0.5] * 40}), id=f"{loss.name}-list"))
    return calls


@pytest.mark.parametrize("call", _parameter_array_calls())
def test_a_parameter_array_keeps_the_callers_flags(call):
    """docs/contract.md section 5: the caller's flags stay as they were, all four raised."""
    from test_hardening import FE_ALL, _libm
    libm = _libm()
    if libm is None:
        pytest.skip("reads the x86-64 floating-point status flags")
    raised = FE_ALL & ~32   # invalid, divide-by-zero, overflow, underflow
    libm.feclearexcept(FE_ALL)
    libm.feraiseexcept(raised)
    call()
    kept = libm.fetestexcept(FE_ALL)
    libm.feclearexcept(FE_ALL)
    assert kept == raised, hex(kept)


def _nan_inputs(dtype):
    """(input, target) pairs whose differences are NaNs of both signs: inf - inf (x86's
    default NaN is negative), a NaN input, a negated NaN input."""
    special = np.array([np.inf, -np.inf, np.nan, -np.nan, np.inf, 1.0], dtype)
    return special, np.array([np.inf, -np.inf, 0.0, 0.0, np.nan, -np.nan], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_grad_hess_gives_the_grad_functions_nan_bits(loss, dtype):
    """docs/contract.md section 11: grad_hess's grad is *_grad(..., reduction="none"), bit for
    bit, NaNs included (pseudo-Huber's lost the sign of inf - inf)."""
    x, t = _nan_inputs(dtype)
    grad = getattr(smoothl1, loss.name + "_grad")(x, t, reduction="none")
    _, grad_of_loss_and_grad = getattr(smoothl1, loss.name + "_loss_and_grad")(
        x, t, reduction="none")
    assert grad.tobytes() == grad_of_loss_and_grad.tobytes()
    for curvature in ("exact", "irls", "one"):
        grad_hess_grad, hess = getattr(smoothl1, loss.name + "_grad_hess")(
            x, t, curvature=curvature)
        assert grad_hess_grad.tobytes() == grad.tobytes(), curvature
        assert np.isnan(hess[:4]).all() and np.isnan(grad[:4]).all()
