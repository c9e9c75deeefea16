"""What an adversarial review broke, and its kin: arguments that lie about themselves, global
state, outputs whose elements overlap, needless copies, NaN bits, floating-point flags, numbers
of every kind, NumPy scalars and other libraries' arrays (docs/contract.md sections 3, 5, 6, 7)."""
import ctypes
import ctypes.util
import os
import platform
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import smoothl1
from reference import (KINDS, LOSSES, REDUCTIONS, assert_bitwise_equal, call, reference_grad,
                       reference_loss, assert_close)

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
FUNCTIONS = [pytest.param(loss, kind, id=f"{loss}_{kind}") for loss in LOSSES for kind in KINDS]


def run_python(code, env_update=None):
    """Run `code` in a fresh interpreter with this test's PYTHONPATH; (returncode, out, err)."""
    env = dict(os.environ, **(env_update or {}))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=120)
    return done.returncode, done.stdout, done.stderr


# ---------------------------------------------------------------------------------------------
# 1. Subclasses that lie: the kernel's view of an array is what validation checks
# ---------------------------------------------------------------------------------------------

class ShapeLie(np.ndarray):
    shape = property(lambda self: (4,))


class Float32Lie(np.ndarray):
    dtype = property(lambda self: np.dtype(np.float32))


class Float64Lie(np.ndarray):
    dtype = property(lambda self: np.dtype(np.float64))


class WriteableLie(np.ndarray):
    flags = property(lambda self: type("Flags", (), {"writeable": True})())


class StridesLie(np.ndarray):
    strides = property(lambda self: (8,) * self.ndim)


class Honest(np.ndarray):
    pass


def test_subclass_lying_about_its_shape_cannot_steer_a_read():
    """The review's segfault: a million elements claiming to be four."""
    code = """
        import numpy as np, smoothl1
        class Lie(np.ndarray):
            shape = property(lambda s: (4,))
        try:
            smoothl1.smooth_l1_loss(np.arange(1e6).view(Lie), np.zeros(4), reduction="sum")
        except ValueError as error:
            print("ValueError", error)
    """
    returncode, out, err = run_python(code)
    assert returncode == 0, err
    assert out.startswith("ValueError") and "target" in out and "(1000000,)" in out


@pytest.mark.parametrize("argument", ["target", "weight"])
def test_operand_lying_about_its_shape_is_refused(argument):
    """Two elements claiming to be four would be read past their end."""
    kwargs = {"target": np.zeros(4), "weight": None, argument: np.zeros(2).view(ShapeLie)}
    with pytest.raises(ValueError, match=f"(?s)(?=.*{argument})(?=.*\\(2,\\))"):
        smoothl1.huber_loss(np.ones(4), kwargs["target"], weight=kwargs["weight"])


def test_array_likes_are_not_taken_for_arrays():
    """Objects with __array__ or __array_interface__ are not ndarrays: refused by name, never
    asked for their data (which they could report as anything)."""
    class ArrayLike:
        def __array__(self, dtype=None, copy=None):
            return np.zeros(4)

    class InterfaceLike:
        __array_interface__ = np.zeros(4).__array_interface__

    for value in (ArrayLike(), InterfaceLike()):
        for argument in ("input", "target", "weight", "out"):
            kwargs = {"input": np.zeros(4), "target": np.zeros(4), argument: value}
            with pytest.raises(TypeError, match=f"(?s)(?=.*{argument})"
                                                f"(?=.*{type(value).__name__})"):
                smoothl1.smooth_l1_grad(**kwargs)


def _guarded(dtype, n, guard=8):
    """(buffer, view of its first n elements): the buffer's tail must stay untouched."""
    buffer = np.full(n + guard, 7.0, dtype)
    return buffer, buffer[:n]


@pytest.mark.parametrize("loss", LOSSES)
def test_input_lying_float32_cannot_write_float64_into_out(loss):
    """Float64 data claiming float32, with float32 target and out: refused (the kernel would
    write eight-byte values into a four-byte out, past its end)."""
    buffer, out = _guarded(np.float32, 4)
    input = np.arange(4.0).view(Float32Lie)
    with pytest.raises(TypeError, match="float64"):
        call(loss, "loss", input, np.zeros(4, np.float32), 1.0, reduction="none", out=out)
    assert (buffer == 7).all()


@pytest.mark.parametrize("kind", ["grad", "loss_and_grad"])
@pytest.mark.parametrize("lie, data, message", [
    pytest.param(ShapeLie, np.zeros(2), "shape", id="shape"),
    pytest.param(Float64Lie, np.zeros(4, np.float32), "dtype", id="dtype"),
    pytest.param(StridesLie, np.zeros(8)[::2], None, id="strides"),
])
def test_output_lying_cannot_steer_a_write(kind, lie, data, message):
    """An out claiming another shape or dtype is refused on what it is; one claiming other
    strides is written where its elements really are."""
    buffer = np.full(16, 7.0, data.dtype)
    base = np.ndarray(data.shape, data.dtype, buffer, strides=data.strides)
    base[...] = 0
    out = base.view(lie)
    input, target = np.linspace(-2, 2, 4), np.zeros(4)
    name = "out" if kind == "grad" else "grad_out"
    if message is None:
        result = call("smooth_l1", kind, input, target, 1.0, **{name: out})
        grad = result if kind == "grad" else result[1]
        assert grad is out
        assert_close(np.asarray(base), reference_grad("smooth_l1", input, target, 1.0))
        assert (buffer[1::2] == 7).all() and (buffer[8:] == 7).all()
        return
    with pytest.raises((TypeError, ValueError), match=f"(?s)(?=.*{name})(?=.*{message})"):
        call("smooth_l1", kind, input, target, 1.0, **{name: out})
    assert (buffer[data.size:] == 7).all() and (base == 0).all()


def test_output_lying_about_writeable_is_refused():
    memory = np.zeros(4)
    memory.flags.writeable = False
    with pytest.raises(ValueError, match="(?s)(?=.*out)(?=.*read-only)"):
        smoothl1.smooth_l1_grad(np.ones(4), 0.0, out=memory.view(WriteableLie))
    assert (memory == 0).all()


def test_output_lying_about_its_address_is_untangled():
    """_overlap._same_view reads the data address; an out claiming the input's address while sitting
    four elements further still gets the result of separate buffers."""
    buffer = np.linspace(-3, 3, 40)
    input = buffer[:30]

    class AddressLie(np.ndarray):
        __array_interface__ = property(lambda self: input.__array_interface__)

    expected = smoothl1.smooth_l1_grad(input.copy(), 0.5, reduction="none")
    out = buffer[4:34].view(AddressLie)
    smoothl1.smooth_l1_grad(input, 0.5, reduction="none", out=out)
    assert_bitwise_equal(buffer[4:34], expected)


def test_object_claiming_to_be_an_ndarray():
    """isinstance() believes __class__; validation does not."""
    class Impostor:
        __class__ = property(lambda self: np.ndarray)
        shape, dtype = (4,), np.dtype(np.float64)

    assert isinstance(Impostor(), np.ndarray)
    for arguments in ({"input": Impostor()}, {"target": Impostor()}, {"weight": Impostor()},
                      {"out": Impostor()}):
        kwargs = {"input": np.zeros(4), "target": np.zeros(4), **arguments}
        name = next(iter(arguments))
        with pytest.raises(TypeError, match=f"(?s)(?=.*{name})(?=.*Impostor)"):
            smoothl1.smooth_l1_grad(**kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_honest_subclasses_work_and_outputs_come_back_as_given(loss, kind, dtype):
    rng = np.random.default_rng(3)
    input, target, weight = (rng.normal(size=(5, 7)).astype(dtype) for _ in range(3))
    expected = call(loss, kind, input, target, 0.5, reduction="none", weight=weight)
    outputs = {}
    if kind == "grad":
        outputs["out"] = np.empty_like(input).view(Honest)
    elif kind == "loss_and_grad":
        outputs = {"out": np.empty_like(input).view(Honest),
                   "grad_out": np.empty_like(input).view(Honest)}
    result = call(loss, kind, input.view(Honest), target.view(Honest), 0.5, reduction="none",
                  weight=weight.view(Honest), **outputs)
    results = result if kind == "loss_and_grad" else (result,)
    expecteds = expected if kind == "loss_and_grad" else (expected,)
    for got, want, given in zip(results, expecteds, outputs.values() or [None]):
        if given is not None:
            assert got is given
        assert_bitwise_equal(np.asarray(got), want)


def test_misaligned_and_byte_swapped_subclass_outputs_are_refused():
    raw = np.zeros(8 * 5 + 1, np.uint8)[1:].view(np.float64)
    assert not raw.flags.aligned
    with pytest.raises(ValueError, match="(?s)(?=.*out)(?=.*aligned)"):
        smoothl1.smooth_l1_grad(np.ones(5), 0.0, out=raw.view(Honest))
    swapped = np.zeros(4, np.dtype(np.float64).newbyteorder()).view(Float64Lie)
    with pytest.raises(TypeError, match="(?s)(?=.*out)(?=.*byte order)"):
        smoothl1.smooth_l1_grad(np.ones(4), 0.0, out=swapped)


# ---------------------------------------------------------------------------------------------
# 2. No global state: the warnings filters are never touched
# ---------------------------------------------------------------------------------------------

def test_threads_converting_numbers_leave_the_warning_filters_alone():
    """Eight threads converting Python numbers, switching every microsecond: no thread ever
    sees the filters list replaced or changed (warnings.catch_warnings would replace it for
    the duration of each call, and a race would leave an "ignore" filter behind for good)."""
    x = np.linspace(-1, 1, 64)
    filters, before = warnings.filters, list(warnings.filters)
    interval = sys.getswitchinterval()
    seen = []

    def work():
        for _ in range(1000):
            smoothl1.smooth_l1_loss(x, 0.5)
            smoothl1.smooth_l1_loss(x.astype(np.float32), [0.25] * 64, weight=2)
            if warnings.filters is not filters or len(filters) != len(before):
                seen.append(list(warnings.filters))
                return

    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not seen, seen[0][:2]
    assert warnings.filters is filters and warnings.filters == before


def test_call_in_a_finalizer_at_interpreter_teardown():
    code = """
        import numpy as np, smoothl1

        class Late:
            def __init__(self):
                self.loss, self.x = smoothl1.smooth_l1_loss, np.ones(4, np.float32)

            def __del__(self):
                print("late", self.loss(self.x, 0.5), self.loss(self.x, [1, 2, 3, 4.0]),
                      flush=True)

        late = Late()
    """
    returncode, out, err = run_python(code)
    assert returncode == 0 and "Exception ignored" not in err, err
    assert out.split() == ["late", "0.125", "1.125"]


# ---------------------------------------------------------------------------------------------
# 3. Outputs whose elements overlap each other are refused, for every n_threads
# ---------------------------------------------------------------------------------------------

def _zero_stride(array, n):
    return np.lib.stride_tricks.as_strided(array, (n,), (0,), writeable=True)


@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_zero_stride_out_viewing_a_one_element_target(n_threads):
    t = np.array([2.0])
    out = _zero_stride(t, 4)
    with pytest.raises(ValueError, match="(?s)(?=.*out)(?=.*share memory)"):
        smoothl1.smooth_l1_grad(np.arange(4.0), out, reduction="sum", out=out,
                                n_threads=n_threads)
    assert t[0] == 2.0


@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_zero_stride_input_used_in_place(n_threads):
    x = np.array([1.5])
    view = _zero_stride(x, 8)
    with pytest.raises(ValueError, match="(?s)(?=.*out)(?=.*share memory)"):
        smoothl1.smooth_l1_grad(view, 1.0, out=view, n_threads=n_threads)
    assert x[0] == 1.5


@pytest.mark.parametrize("name", ["out", "grad_out"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_zero_stride_out_with_threads(name, n_threads):
    """Large enough for two threads: refused every time, nothing written."""
    memory = np.array([5.0])
    input = np.linspace(-3, 3, 1 << 16)
    out = _zero_stride(memory, input.size)
    for _ in range(3):
        with pytest.raises(ValueError, match=f"(?s)(?=.*{name})(?=.*share memory)"):
            smoothl1.smooth_l1_loss_and_grad(input, 0.0, reduction="none", n_threads=n_threads,
                                             **{name: out})
        assert memory[0] == 5.0


def test_self_overlapping_out_without_zero_strides():
    """A sliding-window view made writeable: rows share elements."""
    memory = np.zeros(10)
    out = np.lib.stride_tricks.as_strided(memory, (4, 4), (16, 8), writeable=True)
    with pytest.raises(ValueError, match="(?s)(?=.*out)(?=.*share memory)"):
        smoothl1.huber_grad(np.ones((4, 4)), 0.0, out=out)
    assert (memory == 0).all()


@pytest.mark.parametrize("view", [
    pytest.param(lambda m: m.reshape(6, 8)[::2, ::-3], id="sliced-reversed"),
    pytest.param(lambda m: m.reshape(4, 3, 4).transpose(2, 0, 1), id="transposed"),
    pytest.param(lambda m: m[:1].reshape(1, 1)[:, :], id="one-element"),
    pytest.param(lambda m: np.broadcast_to(m[:1], (1, 1)).copy(), id="size-1-axes"),
    pytest.param(lambda m: m[:0].reshape(0, 4), id="empty"),
    pytest.param(lambda m: np.lib.stride_tricks.as_strided(m, (3, 1), (8, 0), writeable=True),
                 id="zero-stride-on-length-1-axis"),
])
def test_outputs_with_one_element_per_result_are_accepted(view):
    out = view(np.zeros(48))
    input = np.linspace(-2, 2, out.size).reshape(out.shape)
    assert smoothl1.smooth_l1_grad(input, 0.0, reduction="sum", out=out) is out
    assert_close(out, reference_grad("smooth_l1", input, 0.0, 1.0, reduction="sum"))


# ---------------------------------------------------------------------------------------------
# 4. Interleaved but separate: no copy of the input
# ---------------------------------------------------------------------------------------------

def _peak_bytes(function):
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_output_interleaved_with_the_input_is_not_copied():
    n = 1 << 20
    a = np.random.default_rng(4).normal(size=(n, 2))
    expected = smoothl1.smooth_l1_grad(a[:, 0].copy(), 0.0)
    peak = _peak_bytes(lambda: smoothl1.smooth_l1_grad(a[:, 0], 0.0, out=a[:, 1]))
    assert peak < n, peak   # the input is 8 MB; a copy would show
    assert_bitwise_equal(a[:, 1].copy(), expected)


def test_out_and_grad_out_interleaved_are_accepted():
    """Two outputs that share no element are not refused as overlapping."""
    input = np.linspace(-2, 2, 11)
    pair = np.zeros((11, 2))
    loss, grad = smoothl1.huber_loss_and_grad(input, 0.0, reduction="none", out=pair[:, 0],
                                              grad_out=pair[:, 1])
    assert_close(pair[:, 0], reference_loss("huber", input, 0.0, 1.0, reduction="none"))
    assert_close(pair[:, 1], reference_grad("huber", input, 0.0, 1.0, reduction="none"))


@pytest.mark.parametrize("shift", [1, 3])
def test_true_overlap_still_gives_the_separate_buffer_result(shift):
    buffer = np.random.default_rng(5).normal(size=80)
    input, out = buffer[0:60:2], buffer[shift * 2:60 + shift * 2:2]   # shares elements
    expected = smoothl1.smooth_l1_grad(input.copy(), 0.1)
    smoothl1.smooth_l1_grad(input, 0.1, out=out)
    assert_bitwise_equal(out.copy(), expected)


# ---------------------------------------------------------------------------------------------
# 5. NaN bits: the same on every path
# ---------------------------------------------------------------------------------------------

CANONICAL_NAN = {np.dtype(np.float32): 0x7FC00000, np.dtype(np.float64): 0x7FF8000000000000}


def _bits(array):
    array = np.ascontiguousarray(array)
    return array.view(np.uint32 if array.itemsize == 4 else np.uint64)


def test_review_case_nan_scale_past_the_last_chunk():
    x = (np.random.default_rng(1).normal(size=1025) * .1).astype(np.float32)
    grad = smoothl1.smooth_l1_grad(x, 0, beta=0, weight=0.0)
    _, grad_both = smoothl1.smooth_l1_loss_and_grad(x, 0, beta=0, weight=0.0)
    assert (_bits(grad) == 0x7FC00000).all()
    assert_bitwise_equal(grad_both, grad)


def _mixed_nans(rng, dtype, n):
    """Normal values, with NaNs of both signs and one with a payload, at random places."""
    values = rng.normal(size=n).astype(dtype)
    bits = _bits(values).copy()
    nan = _bits(np.array([np.nan], dtype))[0]
    sign = _bits(np.array([-0.0], dtype))[0]
    draw = rng.random(n)
    bits[draw < 0.15] = nan
    bits[(draw >= 0.15) & (draw < 0.3)] = nan | sign
    # the payload as the bits' own type: NumPy 1's uint64 | int promotes to float64 and fails
    bits[(draw >= 0.3) & (draw < 0.35)] = nan | nan.dtype.type(5)
    return bits.view(dtype)


def _all_paths(loss, param, input, target, weight, reduction, monkeypatch):
    """{path: result bits} over functions, layouts, thread counts and SIMD builds."""
    from smoothl1._core import api as _api, dispatch as _dispatch
    n = input.size
    results = {}
    for build, module in _dispatch.available_builds().items():
        monkeypatch.setattr(_api, "kernels", module)
        for layout in ("contiguous", "strided"):
            operands = [input, target, weight]
            if layout == "strided":
                for k, operand in enumerate(operands):
                    if isinstance(operand, np.ndarray):
                        wide = np.empty(2 * n, operand.dtype)
                        wide[::2] = operand
                        operands[k] = wide[::2]
            for n_threads in (1, 2):
                kwargs = dict(reduction=reduction, weight=operands[2], n_threads=n_threads)
                key = (build, layout, n_threads)
                loss_value, grad = call(loss, "loss_and_grad", operands[0], operands[1], param,
                                        **kwargs)
                results[key + ("loss",)] = _bits(call(loss, "loss", operands[0], operands[1],
                                                      param, **kwargs))
                results[key + ("loss of loss_and_grad",)] = _bits(loss_value)
                results[key + ("grad",)] = _bits(call(loss, "grad", operands[0], operands[1],
                                                      param, **kwargs))
                results[key + ("grad of loss_and_grad",)] = _bits(grad)
    return results


@pytest.mark.parametrize("weighting", ["none", "nan-weights", "zero-sum"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, param", [("smooth_l1", 0.0), ("smooth_l1", 1.0),
                                         ("smooth_l1", 0.3), ("huber", 1.0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_bits_are_the_same_on_every_path(loss, param, reduction, weighting, dtype,
                                             monkeypatch):
    """NaNs of both signs in input, target and weight, over two chunks and a tail: every path
    gives the same bits. A reduced NaN, and a weighted elementwise NaN (the product of two
    NaNs, whose bits IEEE leaves open), is np.nan's."""
    rng = np.random.default_rng(7)
    n = 1100
    input, target = _mixed_nans(rng, dtype, n), _mixed_nans(rng, dtype, n)
    weight = {"none": None, "nan-weights": _mixed_nans(rng, dtype, n),
              "zero-sum": np.zeros(n, dtype)}[weighting]
    results = _all_paths(loss, param, input, target, weight, reduction, monkeypatch)
    first = {}
    for key, bits in results.items():
        kind = "loss" if key[-1].startswith("loss") else "grad"
        values = bits.view(dtype)
        if weight is not None or (kind == "loss" and reduction != "none"):
            assert (bits[np.isnan(values)] == CANONICAL_NAN[np.dtype(dtype)]).all(), key
        first.setdefault(kind, (key, bits))
        assert np.array_equal(bits, first[kind][1]), (key, first[kind][0])


# ---------------------------------------------------------------------------------------------
# 6. Floating-point state: no flags, no FloatingPointError
# ---------------------------------------------------------------------------------------------

FE_INVALID, FE_DIVBYZERO, FE_OVERFLOW, FE_UNDERFLOW, FE_INEXACT = 1, 4, 8, 16, 32
FE_ALL = FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INEXACT


def _libm():
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    except OSError:
        return None


def _flag_cases():
    big32 = np.full(4, 3e38, np.float32)
    tiny32 = np.full(4, 1e-30, np.float32)
    ones32 = np.ones(4, np.float32)
    x64 = np.linspace(-3, 3, 40)
    special = np.array([np.inf, -np.inf, np.nan, 1.0, 0.0], np.float32)
    return [
        ("float32-sum-overflows", lambda: smoothl1.smooth_l1_loss(big32, 0, reduction="sum")),
        ("float32-mean-underflows", lambda: smoothl1.smooth_l1_loss(tiny32, 0)),
        ("float32-grad-underflows", lambda: smoothl1.huber_grad(tiny32, 0, weight=1e-30)),
        ("beta-smallest-subnormal", lambda: smoothl1.smooth_l1_loss_and_grad(x64, 0, beta=5e-324)),
        ("delta-smallest-subnormal", lambda: smoothl1.huber_loss_and_grad(x64, 0, delta=5e-324)),
        ("target-underflows-in-float32", lambda: smoothl1.smooth_l1_loss(ones32, 1e-40)),
        ("target-overflows-in-float32", lambda: smoothl1.smooth_l1_loss(ones32, 1e300)),
        ("weight-list-inexact", lambda: smoothl1.smooth_l1_loss(ones32, 0.0, weight=[0.1] * 4)),
        ("target-big-int", lambda: smoothl1.smooth_l1_loss(x64, 2 ** 64 + 1)),
        ("fraction-param", lambda: smoothl1.smooth_l1_loss(x64, 0.0, beta=Fraction(1, 10 ** 320))),
        ("fraction-target", lambda: smoothl1.smooth_l1_loss(ones32, Fraction(1, 3))),
        ("weights-sum-to-zero", lambda: smoothl1.smooth_l1_loss_and_grad(x64, 0, weight=0.0)),
        ("special-values", lambda: smoothl1.smooth_l1_loss_and_grad(special, special[::-1])),
        ("mean-of-nothing", lambda: smoothl1.huber_loss_and_grad(np.zeros(0), 0.0)),
        # the compiled small calls' checks (docs/contract.md section 21): an int beyond 53 bits
        # converts inexactly, a NaN parameter compares as invalid, also when refused
        ("target-int-beyond-53-bits", lambda: smoothl1.smooth_l1_loss(x64, 2 ** 60 + 1)),
        ("beta-int-beyond-53-bits", lambda: smoothl1.smooth_l1_grad(x64, 0, beta=2 ** 53 + 1)),
        ("nan-beta-refused", lambda: _refused(smoothl1.smooth_l1_loss, x64, 0, beta=np.nan)),
        ("nan-delta-grad-hess-refused",
         lambda: _refused(smoothl1.huber_grad_hess, x64, 0, delta=float("nan"))),
    ]


def _refused(function, *args, **kwargs):
    with pytest.raises(ValueError):
        function(*args, **kwargs)


@pytest.mark.skipif(_libm() is None, reason="reads the x86-64 floating-point status flags")
@pytest.mark.parametrize("case", [pytest.param(call_, id=name) for name, call_ in _flag_cases()])
def test_no_floating_point_flags_leak(case):
    """Every flag the computation raises is cleared again, inexact included; and flags the
    caller had set are kept."""
    libm = _libm()
    libm.feclearexcept(FE_ALL)
    case()
    raised = libm.fetestexcept(FE_ALL)
    assert raised == 0, hex(raised)
    libm.feraiseexcept(FE_OVERFLOW | FE_INEXACT)
    case()
    assert libm.fetestexcept(FE_ALL) == FE_OVERFLOW | FE_INEXACT
    libm.feclearexcept(FE_ALL)


@pytest.mark.parametrize("case", [pytest.param(call_, id=name) for name, call_ in _flag_cases()])
def test_no_floating_point_error_under_errstate_raise(case):
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        case()


def test_tiny_and_huge_python_numbers_convert_like_c():
    """Below float32's range: a subnormal or 0; above it: inf; quietly, as documented."""
    ones = np.ones(4, np.float32)
    with np.errstate(under="ignore"):
        subnormal = np.full(4, 1e-40, np.float32)
    assert subnormal[0] != 0
    with np.errstate(all="raise"):
        assert_bitwise_equal(smoothl1.smooth_l1_loss(ones, 1e-40, reduction="none"),
                             smoothl1.smooth_l1_loss(ones, subnormal, reduction="none"))
        assert smoothl1.smooth_l1_loss(ones, 1e300) == np.float32(np.inf)
        assert smoothl1.smooth_l1_loss(ones, -1e300, weight=[1e300, 1, 1, 1],
                                       reduction="sum") == np.inf


# ---------------------------------------------------------------------------------------------
# 7. Numbers: every numbers.Real alike for target, weight and parameter; bool and Decimal not
# ---------------------------------------------------------------------------------------------

def _results(kind, *args, **kwargs):
    result = call("smooth_l1", kind, *args, **kwargs)
    return result if kind == "loss_and_grad" else (result,)


@pytest.mark.parametrize("argument", ["target", "weight", "beta"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("number", [
    pytest.param(Fraction(1, 3), id="Fraction"),
    pytest.param(np.int64(3), id="numpy-int64"),
    pytest.param(np.float16(0.3), id="numpy-float16"),
    pytest.param(np.float32(0.3), id="numpy-float32"),
    pytest.param(2 ** 70, id="int-beyond-64-bits"),
])
def test_every_real_number_is_taken_as_its_float(number, dtype, argument):
    input = np.linspace(-2, 2, 9).astype(dtype)
    for kind in KINDS:
        given = {"target": 0.25, "param": 1.0, "weight": 0.5}
        as_float = dict(given)
        key = "param" if argument == "beta" else argument
        given[key], as_float[key] = number, float(number)
        got = _results(kind, input, **given)
        want = _results(kind, input, **as_float)
        for g, w in zip(got, want):
            assert_bitwise_equal(g, w)


def test_list_of_fractions():
    input = np.linspace(-1, 1, 3)
    got = smoothl1.huber_loss(input, [Fraction(1, 2), 0, Fraction(-5, 4)], delta=Fraction(1, 2))
    assert got == smoothl1.huber_loss(input, [0.5, 0.0, -1.25], delta=0.5)


@pytest.mark.parametrize("argument", ["target", "weight", "beta"])
@pytest.mark.parametrize("value, given", [
    pytest.param(Decimal("0.5"), "Decimal", id="Decimal"),
    pytest.param(True, "bool", id="bool"),
    pytest.param(np.bool_(False), "bool", id="numpy-bool"),
    pytest.param([Decimal("0.5")] * 4, "Decimal", id="list-of-Decimal"),
    pytest.param([True, False, True, True], "bool", id="list-of-bool"),
])
def test_bool_and_decimal_are_refused_alike(argument, value, given):
    if argument == "beta" and isinstance(value, list):
        return   # a list is no parameter (refused for being a list)
    kwargs = {"target": 0.0, argument: value}
    with pytest.raises(TypeError, match=f"(?s)(?=.*{argument})(?=.*{given})"):
        smoothl1.smooth_l1_loss(np.zeros(4), **kwargs)


def test_long_double_beyond_float64_becomes_inf_quietly():
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is double here")
    huge = np.longdouble("1e400")
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert smoothl1.smooth_l1_loss(np.zeros(3), huge) == np.inf
        assert smoothl1.smooth_l1_loss(np.zeros(3, np.float32), -huge) == np.inf


# ---------------------------------------------------------------------------------------------
# 8. NumPy scalars as input; other libraries' arrays; smoothl1.dask without Dask
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss, kind", FUNCTIONS)
def test_numpy_scalar_input_is_a_0d_array_of_its_dtype(loss, kind, dtype):
    for reduction in REDUCTIONS:
        got = call(loss, kind, dtype(1.5), 0.25, 0.5, reduction=reduction)
        want = call(loss, kind, np.array(1.5, dtype), 0.25, 0.5, reduction=reduction)
        for g, w in zip(got if kind == "loss_and_grad" else [got],
                        want if kind == "loss_and_grad" else [want]):
            assert_bitwise_equal(g, w)
            assert np.asarray(g).dtype == dtype


@pytest.mark.parametrize("scalar, given", [(np.float16(1), "float16"), (np.int64(1), "int64"),
                                           (np.complex128(1), "complex128")])
def test_other_numpy_scalar_input_is_refused(scalar, given):
    with pytest.raises(TypeError, match=f"(?s)(?=.*input)(?=.*{given})(?=.*scalar)"):
        smoothl1.smooth_l1_loss(scalar, 0.0)


def _foreign(module, name):
    return type(name, (), {"__module__": module})()


@pytest.mark.parametrize("value, advice", [
    pytest.param(_foreign("pandas.core.series", "Series"), ".to_numpy()", id="pandas"),
    pytest.param(_foreign("torch", "Tensor"), ".numpy()", id="torch"),
    pytest.param(_foreign("dask.array.core", "Array"), "smoothl1.dask", id="dask"),
])
@pytest.mark.parametrize("argument", ["input", "target", "weight", "out"])
def test_other_libraries_arrays_get_a_conversion_hint(argument, value, advice):
    kwargs = {"input": np.zeros(3), "target": np.zeros(3), argument: value}
    with pytest.raises(TypeError) as raised:
        smoothl1.smooth_l1_grad(**kwargs)
    message = str(raised.value)
    assert message.startswith(argument) and advice in message


def test_no_foreign_library_is_imported():
    code = """
        import sys, numpy as np, smoothl1
        Series = type("Series", (), {"__module__": "pandas.core.series"})
        try:
            smoothl1.smooth_l1_loss(Series(), 0.0)
        except TypeError as error:
            print(error)
        print(sorted(name for name in ("pandas", "torch", "dask") if name in sys.modules))
    """
    returncode, out, err = run_python(code)
    assert returncode == 0, err
    assert ".to_numpy()" in out and out.splitlines()[-1] == "[]"


def test_smoothl1_dask_without_dask_says_what_to_install():
    code = """
        import sys
        sys.modules["dask"] = None   # import dask now raises ImportError
        try:
            import smoothl1.dask
        except ImportError as error:
            print(error)
    """
    returncode, out, err = run_python(code)
    assert returncode == 0, err
    assert 'pip install "smoothl1[dask]"' in out and "smoothl1.dask needs Dask" in out


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_dask_float32_overflow_of_a_reduced_loss_is_quiet(reduction):
    """As in the NumPy functions: inf, with no warning (NumPy's own cast would warn)."""
    da = pytest.importorskip("dask.array")
    import smoothl1.dask
    x = np.full(8, 3e38, np.float32)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        lazy = smoothl1.dask.smooth_l1_loss(da.from_array(x, chunks=4), 0.0, reduction=reduction)
        got = lazy.compute(scheduler="sync")
    assert_bitwise_equal(got, smoothl1.smooth_l1_loss(x, 0.0, reduction=reduction))
