"""Small calls (docs/contract.md section 21): each public loss function is compiled, runs a
common call itself and hands every other call to the general path (smoothl1._core.api._run,
smoothl1._core.grad_hess.grad_hess). The two are one contract: for a grid of calls, the same
bits, the same errors with the same messages, nothing written on error; and the common calls
really run without the general path (a profiler hook sees every call of it)."""
import sys

import numpy as np
import pytest

import smoothl1
from smoothl1._core import api
from smoothl1._core import grad_hess as grad_hess_module
from smoothl1._core.losses import LOSSES

OPERATIONS = {"_loss": (True, False), "_grad": (False, True), "_loss_and_grad": (True, True)}


class GeneralPathCalls:
    """How many times the general path ran while active (sys.setprofile reports every call
    of a Python function; the compiled fast path calls none)."""

    def __enter__(self):
        self.count = 0
        codes = {api._run.__code__, grad_hess_module.grad_hess.__code__}

        def profile(frame, event, arg):
            if event == "call" and frame.f_code in codes:
                self.count += 1

        self.previous = sys.getprofile()
        sys.setprofile(profile)
        return self

    def __exit__(self, *exception_info):
        sys.setprofile(self.previous)


def general(loss, operation, input, target, **kwargs):
    """The general path's answer to the call getattr(smoothl1, loss.name + operation)(...)."""
    param = kwargs.pop(loss.param, loss.default)
    if operation == "_grad_hess":
        return grad_hess_module.grad_hess(
            loss, input, target, param=param, weight=kwargs.get("weight"),
            curvature=kwargs.get("curvature", "exact"), grad_out=kwargs.get("grad_out"),
            hess_out=kwargs.get("hess_out"), n_threads=kwargs.get("n_threads"))
    want_loss, want_grad = OPERATIONS[operation]
    out = kwargs.get("out")
    return api._run(
        loss, input, target, param=param, weight=kwargs.get("weight"),
        reduction=kwargs.get("reduction", "mean"),
        loss_out=out if want_loss else None,
        grad_out=kwargs.get("grad_out") if want_loss else out,
        n_threads=kwargs.get("n_threads"), want_loss=want_loss, want_grad=want_grad,
        grad_out_name="grad_out" if want_loss else "out", axis=kwargs.get("axis"),
        keepdims=kwargs.get("keepdims", False), avg_factor=kwargs.get("avg_factor"))


def assert_same_result(fast, slow):
    if isinstance(slow, tuple):
        assert isinstance(fast, tuple) and len(fast) == len(slow)
        for a, b in zip(fast, slow):
            assert_same_result(a, b)
        return
    assert type(fast) is type(slow)
    a, b = np.asarray(fast), np.asarray(slow)
    assert a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
    assert a.tobytes() == b.tobytes()


def make_input(rng, layout, dtype):
    values = rng.standard_normal(64) * 3
    values[rng.integers(0, 64, 3)] = [np.nan, np.inf, -0.0]
    values = values.astype(dtype)
    if layout == "0-d":
        return np.array(values[0])
    if layout == "empty":
        return values[:0]
    if layout == "one":
        return values[:1].copy()
    if layout == "flat":
        return np.resize(values, 1000)
    if layout == "boxes":
        return values[:28].reshape(7, 4).copy()
    if layout == "fortran":
        return np.asfortranarray(values[:28].reshape(7, 4))
    if layout == "strided":
        return values[::2]
    return values[:28].reshape(4, 7).T   # transposed


LAYOUTS = ("0-d", "empty", "one", "flat", "boxes", "fortran", "strided", "transposed")


def operand(rng, kind, like):
    if kind == "array":
        return np.array(rng.standard_normal(like.shape) * 3, dtype=like.dtype)
    if kind == "float":
        return float(rng.standard_normal())
    return int(rng.integers(-3, 4))


def common_calls(seed, count=60):
    """(loss, operation, input, target, kwargs, common) drawn from the grid of common calls
    (plus the one kind that is not: "element_mean" with weights)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        loss = LOSSES[rng.integers(len(LOSSES))]
        dtype = (np.float32, np.float64)[rng.integers(2)]
        x = make_input(rng, LAYOUTS[rng.integers(len(LAYOUTS))], dtype)
        t = operand(rng, ("array", "float", "int")[rng.integers(3)], x)
        kwargs = {}
        if rng.random() < 0.5:
            weight = operand(rng, ("array", "float", "int")[rng.integers(3)], x)
            kwargs["weight"] = np.abs(weight, out=weight) if isinstance(weight, np.ndarray) \
                else abs(weight)
        param = (loss.default, 0.25, 3, 1e300)[rng.integers(4)]
        if loss.zero_allowed and rng.random() < 0.2:
            param = 0.0
        kwargs[loss.param] = param
        if rng.random() < 0.15:
            kwargs["n_threads"] = int(rng.integers(1, 4))
        operation = ("_loss", "_grad", "_loss_and_grad", "_grad_hess")[rng.integers(4)]
        common = True
        if operation == "_grad_hess":
            kwargs["curvature"] = ("exact", "irls", "one")[rng.integers(3)]
            if rng.random() < 0.5:
                kwargs["grad_out"] = np.empty_like(x)
            if rng.random() < 0.5:
                kwargs["hess_out"] = np.empty_like(x)
        else:
            reduction = ("mean", "sum", "none", "weighted_mean",
                         "element_mean")[rng.integers(5)]
            kwargs["reduction"] = reduction
            common = not (reduction == "element_mean" and "weight" in kwargs)
            want_loss, want_grad = OPERATIONS[operation]
            if rng.random() < 0.5 and (reduction == "none" or not want_loss):
                kwargs["out"] = np.empty_like(x)
            if operation == "_loss_and_grad" and rng.random() < 0.5:
                kwargs["grad_out"] = np.empty_like(x)
        yield loss, operation, x, t, kwargs, common


def copied(kwargs):
    """kwargs with fresh output buffers, so each path writes its own."""
    return {key: value.copy() if key in ("out", "grad_out", "hess_out") else value
            for key, value in kwargs.items()}


def check_same(loss, operation, x, t, kwargs, expect_common):
    function = getattr(smoothl1, loss.name + operation)
    fast_kwargs, slow_kwargs = copied(kwargs), copied(kwargs)
    with np.errstate(all="ignore"), GeneralPathCalls() as calls:
        fast = function(x, t, **fast_kwargs)
    assert (calls.count == 0) == expect_common, (loss.name, operation, kwargs)
    with np.errstate(all="ignore"):
        slow = general(loss, operation, x, t, **slow_kwargs)
    assert_same_result(fast, slow)
    returned = fast if isinstance(fast, tuple) else (fast,)
    for key in ("out", "grad_out", "hess_out"):   # given outputs are returned as given
        if key in fast_kwargs:
            assert any(item is fast_kwargs[key] for item in returned)
            assert fast_kwargs[key].tobytes() == slow_kwargs[key].tobytes()


@pytest.mark.parametrize("seed", range(12))
def test_common_calls_run_compiled_and_give_the_general_paths_bits(seed):
    for loss, operation, x, t, kwargs, common in common_calls(seed):
        check_same(loss, operation, x, t, kwargs, common)


class Subclass(np.ndarray):
    pass


def uncommon_calls():
    """Valid calls of smooth_l1_loss that the compiled entry hands to the general path: (name,
    a function making fresh (args, kwargs), so that each path gets its own buffers)."""
    x = np.linspace(-3, 3, 24).reshape(6, 4)
    t = np.cos(x)

    def aliased():   # out is the target's memory, shifted by one element against the input
        buffer = np.linspace(-2, 2, 25)
        return (buffer[1:], buffer[:-1]), {"reduction": "none", "out": buffer[:-1]}

    yield "target (6, 1)", lambda: ((x, t[:, :1]), {})
    yield "weight (4,)", lambda: ((x, t), {"weight": np.arange(1.0, 5.0)})
    yield "a subclass", lambda: ((x.view(Subclass), t), {})
    yield "a NumPy scalar beta", lambda: ((x, t), {"beta": np.float64(0.5)})
    yield "a per-element beta", lambda: ((x, t), {"beta": np.full(x.shape, 0.5)})
    yield "a float32 scalar target", lambda: ((x.astype(np.float32), np.float32(0.5)), {})
    yield "a list target", lambda: ((x[0], [0.0, 1.0, 2.0, 3.0]), {})
    yield "a huge int target", lambda: ((x, 2 ** 70), {})
    yield "keepdims=np.False_", lambda: ((x, t), {"keepdims": np.False_})
    yield "axis", lambda: ((x, t), {"axis": -1})
    yield "avg_factor", lambda: ((x, t), {"avg_factor": 3.0})
    yield "n_threads=np.int64(2)", lambda: ((x, t), {"n_threads": np.int64(2)})
    yield "weighted element_mean", lambda: ((x, t), {"weight": t * t,
                                                     "reduction": "element_mean"})
    yield "out aliasing the target", aliased
    yield "non-contiguous out", lambda: ((x, t), {"reduction": "none",
                                                  "out": np.empty((6, 8))[:, ::2]})


@pytest.mark.parametrize("case", [case for case, _ in uncommon_calls()])
def test_other_valid_calls_take_the_general_path(case):
    make = dict(uncommon_calls())[case]
    loss = LOSSES[0]
    args, kwargs = make()
    with GeneralPathCalls() as calls:
        fast = smoothl1.smooth_l1_loss(*args, **kwargs)
    assert calls.count == 1
    slow_args, slow_kwargs = make()
    slow = general(loss, "_loss", *slow_args, **slow_kwargs)
    if "out" in kwargs:
        assert fast is kwargs["out"]
        assert kwargs["out"].tobytes() == slow_kwargs["out"].tobytes()
    else:
        assert_same_result(fast, slow)


def error_calls():
    """Calls that raise: (name, function name, args, kwargs)."""
    x = np.linspace(-3, 3, 8)
    t = np.cos(x)
    out = np.zeros_like(x)
    read_only = np.zeros_like(x)
    read_only.flags.writeable = False
    yield "list input", "smooth_l1_loss", ([1.0, 2.0], t[:2]), {}
    yield "int input", "smooth_l1_loss", (np.arange(8), t), {}
    yield "float32 target", "smooth_l1_loss", (x, t.astype(np.float32)), {}
    yield "target shape", "huber_loss", (x, t[:3]), {}
    yield "negative beta", "smooth_l1_loss", (x, t), {"beta": -1.0}
    yield "nan delta", "huber_loss", (x, t), {"delta": float("nan")}
    yield "zero delta", "cauchy_grad", (x, t), {"delta": 0}
    yield "bool beta", "smooth_l1_loss", (x, t), {"beta": True}
    yield "str beta", "smooth_l1_loss", (x, t), {"beta": "1"}
    yield "huge int beta", "smooth_l1_loss", (x, t), {"beta": 10 ** 400}
    yield "bad reduction", "smooth_l1_loss", (x, t), {"reduction": "avg"}
    yield "reduction None", "smooth_l1_grad", (x, t), {"reduction": None}
    yield "bool weight", "smooth_l1_loss", (x, t), {"weight": True}
    yield "float32 weight", "huber_loss", (x, t), {"weight": t.astype(np.float32)}
    yield "out with mean", "smooth_l1_loss", (x, t), {"out": out}
    yield "out shape", "smooth_l1_loss", (x, t), {"reduction": "none", "out": out[:4]}
    yield "out read-only", "smooth_l1_grad", (x, t), {"out": read_only}
    yield "out float32", "smooth_l1_grad", (x, t), {"out": out.astype(np.float32)}
    yield "out broadcast", "smooth_l1_grad", (x, t), {
        "out": np.broadcast_to(np.zeros(1), x.shape)}
    yield "out is grad_out", "smooth_l1_loss_and_grad", (x, t), {
        "reduction": "none", "out": out, "grad_out": out}
    yield "n_threads 0", "smooth_l1_loss", (x, t), {"n_threads": 0}
    yield "n_threads 1.5", "smooth_l1_loss", (x, t), {"n_threads": 1.5}
    yield "n_threads True", "smooth_l1_loss", (x, t), {"n_threads": True}
    yield "bad curvature", "huber_grad_hess", (x, t), {"curvature": "exakt"}
    yield "hess_out is grad_out", "huber_grad_hess", (x, t), {"grad_out": out, "hess_out": out}
    yield "hess_out read-only", "huber_grad_hess", (x, t), {"hess_out": read_only}
    yield "negative avg_factor", "smooth_l1_loss", (x, t), {"avg_factor": -1.0}
    yield "axis out of bounds", "smooth_l1_loss", (x, t), {"axis": 3}
    yield "keepdims str", "smooth_l1_loss", (x, t), {"keepdims": "yes"}


@pytest.mark.parametrize("case", [case for case, _, _, _ in error_calls()])
def test_errors_are_the_general_paths_and_write_nothing(case):
    (_, name, args, kwargs), = [c for c in error_calls() if c[0] == case]
    loss = next(row for row in LOSSES if name.startswith(row.name + "_")
                and name[len(row.name):] in (*OPERATIONS, "_grad_hess"))
    operation = name[len(loss.name):]
    outputs = {key: value for key, value in kwargs.items() if isinstance(value, np.ndarray)
               and key in ("out", "grad_out", "hess_out")}
    before = {key: value.copy() for key, value in outputs.items()}
    with pytest.raises((TypeError, ValueError)) as fast:
        getattr(smoothl1, name)(*args, **kwargs)
    with pytest.raises((TypeError, ValueError)) as slow:
        general(loss, operation, *args, **dict(kwargs))
    assert type(fast.value) is type(slow.value)
    assert str(fast.value) == str(slow.value)
    for key, value in outputs.items():
        np.testing.assert_array_equal(value, before[key])


def test_the_compiled_functions_have_the_signatures_of_the_dask_ones():
    """Both faces' signatures come from the table (entry_points.pxi.tp, functions.py's
    templates): they must stay one."""
    import inspect
    from smoothl1._core import functions
    for loss in LOSSES:
        for operation in functions.OPERATIONS:
            compiled = getattr(smoothl1, loss.name + operation.suffix)
            made = functions.loss_function(loss, operation, None, "test", "")
            assert type(compiled).__name__ == "cython_function_or_method"
            assert compiled.__module__ == "smoothl1._core.api"
            assert inspect.signature(compiled) == inspect.signature(made)
        compiled = getattr(smoothl1, loss.name + "_grad_hess")
        made = functions.grad_hess_function(loss, None, "test", "")
        assert compiled.__module__ == "smoothl1._core.grad_hess"
        assert inspect.signature(compiled) == inspect.signature(made)


def test_a_pickled_function_is_the_same_function():
    import pickle
    assert pickle.loads(pickle.dumps(smoothl1.huber_loss)) is smoothl1.huber_loss
    assert pickle.loads(pickle.dumps(smoothl1.cauchy_grad_hess)) is smoothl1.cauchy_grad_hess
