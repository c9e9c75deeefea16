"""Threads (docs/contract.md sections 8 and 15; docs/threads.md), in one place:

1. bit-identical results for every thread count: every function, dtype, layout (contiguous,
   strided, transposed, 3-d, broadcast), weight, reduction and output buffer;
2. Python threads calling at once, each asking for several threads: single-threaded bits, and
   the pool's helpers bounded (no oversubscription);
3. controls: n_threads clamped (10**9, 40000), the environment variables, threadpoolctl;
4. the pool's life: lazy start, helpers really share the work, fork (os.fork and multiprocessing
   with the 'fork' start method), interpreter exit; and the pool alone under a C stress program.
(The samples of docs/threads.md run in tests/test_docs.py.)

Everything that could hang runs in a subprocess with a timeout. No test times anything.
"""
import functools
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import smoothl1
from smoothl1._core import dispatch as _dispatch, threads as _threads
from reference import (KINDS, LOSSES, REDUCTIONS, assert_bitwise_equal, assert_close, call,
                       reference)

KERNELS = _dispatch.kernels
DTYPES = [np.float32, np.float64]
PARAM = 0.75  # beta / delta: the values below fall on both sides of it
THREAD_COUNTS = (2, 3, 4, 8, 64, None)   # compared with n_threads=1
SUBPROCESS_TIMEOUT = 120
# fewer calls under AddressSanitizer (about 10 times slower: tools/sanitize.sh preloads libasan)
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def run_python(code, env=None, timeout=SUBPROCESS_TIMEOUT):
    """Run `code` in a fresh interpreter (this test run's PYTHONPATH); return its stdout. A hang
    fails the test by the timeout, a crash by the return code."""
    environment = dict(os.environ, **(env or {}))
    for name, value in (env or {}).items():
        if value is None:
            del environment[name]
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _split(kind, result):
    """(loss, grad) of a call's result, None for the part the function does not return."""
    if kind == "loss":
        return result, None
    if kind == "grad":
        return None, result
    return result


# ---------------------------------------------------------------------------------------------
# 1. Bit-identical results for every thread count
# ---------------------------------------------------------------------------------------------

BIG_SHAPE = (367, 401)  # 147,167 elements: 9 work items, so up to 9 threads take part


def _values(rng, shape, dtype):
    return rng.normal(scale=1.5, size=shape).astype(dtype)


def _weights(rng, shape, dtype):
    return rng.uniform(0.1, 2.0, size=shape).astype(dtype)


@functools.lru_cache(maxsize=None)
def _big_arrays(layout, dtype):
    rng = np.random.default_rng(7)
    dtype = np.dtype(dtype)
    if layout == "contiguous-weighted":
        arrays = (_values(rng, BIG_SHAPE, dtype), _values(rng, BIG_SHAPE, dtype),
                  _weights(rng, BIG_SHAPE, dtype))
    elif layout == "strided-weighted":
        arrays = (_values(rng, (734, 803), dtype)[::2, ::-2], _values(rng, (367, 1), dtype),
                  _weights(rng, (803, 734), dtype)[::-2, ::2].T)
    elif layout == "transposed-weighted":
        arrays = (_values(rng, BIG_SHAPE[::-1], dtype).T, _values(rng, BIG_SHAPE[::-1], dtype).T,
                  _weights(rng, (BIG_SHAPE[0], 1), dtype))
    else:
        assert layout == "3-d-strided"
        arrays = (_values(rng, (60, 50, 100), dtype)[::-1, :, ::2].transpose(1, 2, 0),
                  _values(rng, (50, 1, 60), dtype), None)
    for array in arrays:
        if array is not None:
            array.flags.writeable = False  # shared between tests
    return arrays


LAYOUTS = ["contiguous-weighted", "strided-weighted", "transposed-weighted", "3-d-strided"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("loss, kind", [(loss, kind) for loss in LOSSES for kind in KINDS],
                         ids=[f"{loss}_{kind}" for loss in LOSSES for kind in KINDS])
def test_every_thread_count_gives_the_same_bits(loss, kind, dtype, layout):
    """n_threads = 2, 3, 4, 8, 64 and None give the bits of n_threads=1, for every reduction;
    and that common answer is right."""
    input, target, weight = _big_arrays(layout, dtype)
    for reduction in REDUCTIONS:
        want = call(loss, kind, input, target, PARAM, reduction=reduction, weight=weight,
                    n_threads=1)
        for n in THREAD_COUNTS:
            got = call(loss, kind, input, target, PARAM, reduction=reduction, weight=weight,
                       n_threads=n)
            for got_part, want_part in zip(_split(kind, got), _split(kind, want)):
                if got_part is not None:
                    assert_bitwise_equal(got_part, want_part)
        if kind == "loss" and reduction == "sum":
            assert_close(want, reference(loss, input, target, PARAM, "sum", weight)[0])


def test_every_thread_count_fills_output_buffers_alike():
    """Into given, non-contiguous output buffers (one reversed and strided, one Fortran)."""
    input, target, weight = _big_arrays("strided-weighted", np.dtype(np.float64))
    expected = call("huber", "loss_and_grad", input, target, PARAM, reduction="none",
                    weight=weight, n_threads=1)
    for n in THREAD_COUNTS:
        out = np.full([2 * s for s in input.shape], np.nan)[::-2, ::-2]
        grad_out = np.empty(input.shape, order="F")
        loss_value, grad = call("huber", "loss_and_grad", input, target, PARAM,
                                reduction="none", weight=weight, out=out, grad_out=grad_out,
                                n_threads=n)
        assert loss_value is out and grad is grad_out
        assert_bitwise_equal(np.asarray(out), expected[0])
        assert_bitwise_equal(np.asarray(grad_out), expected[1])


@pytest.mark.parametrize("layout", ["contiguous", "strided", "transposed"])
def test_loss_and_grad_with_per_column_weights(layout):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((700, 900))
    t = rng.standard_normal((700, 900))
    w = rng.random(900)
    if layout == "strided":
        x, t = x[:, ::2], t[:, ::2]
        w = w[::2]
    elif layout == "transposed":
        x, t, w = x.T, t.T, rng.random(700)
    results = []
    for n_threads in (1,) + THREAD_COUNTS:
        loss, grad = smoothl1.smooth_l1_loss_and_grad(x, t, weight=w, beta=0.3,
                                                      n_threads=n_threads)
        results.append((loss.tobytes(), grad.tobytes()))
    assert all(result == results[0] for result in results)


def test_helpers_really_run_items_and_give_the_same_bits():
    """The tests above would pass if helpers never ran an item (the caller can do them all):
    here calls repeat until the pool's helpers have run items, every result checked."""
    x = np.random.default_rng(4).standard_normal(1 << 21).astype(np.float32)   # 128 items
    expected = smoothl1.huber_loss(x, 0.25, reduction="sum", n_threads=1)
    before = KERNELS.pool_statistics()["helper_items"]
    for _ in range(2000):
        assert_bitwise_equal(smoothl1.huber_loss(x, 0.25, reduction="sum", n_threads=2),
                             expected)
        if KERNELS.pool_statistics()["helper_items"] > before:
            break
    assert KERNELS.pool_statistics()["helper_items"] > before


MXCSR_LIBRARY = """
#include <xmmintrin.h>
unsigned int get_mxcsr(void) { return _mm_getcsr(); }
void set_mxcsr(unsigned int value) { _mm_setcsr(value); }
"""
MXCSR_FTZ_DAZ = 0x8040   # flush-to-zero (bit 15) and denormals-are-zero (bit 6)


@pytest.fixture(scope="module")
def mxcsr(tmp_path_factory):
    """get_mxcsr() and set_mxcsr(value) of the calling thread, from a tiny shared library built
    here (x86-64 with a C compiler only)."""
    import ctypes
    import platform
    import shutil
    import sysconfig
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32":
        pytest.skip("the MXCSR is x86-64's; the library is built with a POSIX C compiler")
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    if shutil.which(compiler[0]) is None:
        pytest.skip(f"no C compiler ({compiler[0]})")
    folder = tmp_path_factory.mktemp("mxcsr")
    (folder / "mxcsr.c").write_text(MXCSR_LIBRARY)
    library = str(folder / "mxcsr.so")
    build = subprocess.run(compiler + ["-O2", "-shared", "-fPIC", str(folder / "mxcsr.c"), "-o",
                                       library],
                           capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert build.returncode == 0, build.stderr
    functions = ctypes.CDLL(library)
    functions.get_mxcsr.restype = ctypes.c_uint
    functions.set_mxcsr.argtypes = [ctypes.c_uint]
    return functions


def _subnormal_results(x, n_threads):
    """Results that are subnormal in the default environment and 0 under FTZ/DAZ: beta=0 makes
    the loss |x|, beta=1 the gradient x."""
    return [smoothl1.smooth_l1_loss(x, 0.0, beta=0.0, reduction="sum",
                                    n_threads=n_threads).tobytes(),
            smoothl1.smooth_l1_loss(x, 0.0, beta=0.0, reduction="none",
                                    n_threads=n_threads).tobytes(),
            smoothl1.smooth_l1_grad(x, 0.0, reduction="none", n_threads=n_threads).tobytes()]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda dtype: np.dtype(dtype).name)
def test_helpers_run_in_the_callers_floating_point_environment(mxcsr, dtype):
    """A caller with FTZ and DAZ set (as a library built with fast-math sets them on the thread
    that loads it) gets the same bits for every thread count: helpers take on the caller's
    MXCSR (docs/contract.md section 15). The default environment's results, computed first,
    also start the helpers there; they must differ, or FTZ/DAZ did not take effect."""
    tiny = np.finfo(dtype).smallest_normal
    rng = np.random.default_rng(11)
    x = (rng.uniform(-1.0, 1.0, 1 << 21) * float(tiny)).astype(dtype)   # 128 blocks
    thread_counts = (1, 2, 8)
    default = [_subnormal_results(x, n_threads) for n_threads in thread_counts]
    assert all(results == default[0] for results in default)
    saved = mxcsr.get_mxcsr()
    try:
        mxcsr.set_mxcsr(saved | MXCSR_FTZ_DAZ)
        expected = _subnormal_results(x, 1)
        # until the helpers have run items, so that the comparison means something
        before = KERNELS.pool_statistics()["helper_items"]
        for _ in range(200):
            for n_threads in thread_counts[1:]:
                assert _subnormal_results(x, n_threads) == expected, n_threads
            if KERNELS.pool_statistics()["helper_items"] > before:
                break
        assert KERNELS.pool_statistics()["helper_items"] > before
        assert mxcsr.get_mxcsr() & MXCSR_FTZ_DAZ == MXCSR_FTZ_DAZ   # the call kept it
    finally:
        mxcsr.set_mxcsr(saved)
    for flushed, subnormal in zip(expected, default[0]):
        assert flushed != subnormal
    assert not np.frombuffer(expected[0], dtype).any()   # |x| summed with x flushed to 0


# ---------------------------------------------------------------------------------------------
# 2. Python threads calling at once
# ---------------------------------------------------------------------------------------------

PYTHON_THREADS = 16
KERNEL_THREADS = 4      # asked for by each call of every Python thread
# each Python thread makes ROUNDS * len(specs()) calls
ROUNDS = 10 if UNDER_ASAN else 60

FUNCTIONS = ["smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad", "huber_loss",
             "huber_grad", "huber_loss_and_grad"]


def _readonly(array):
    array.flags.writeable = False
    return array


def shared_inputs():
    """Read-only inputs shared by every thread: large ones (several work items, so every call
    runs threads) and small ones, both dtypes, strided and broadcast."""
    rng = np.random.default_rng(2024)
    big = _readonly(rng.normal(scale=2.0, size=(300, 230)))           # 69000 elements
    big_target = _readonly(rng.normal(size=(230,)))                    # per column
    big_weight = _readonly(rng.uniform(0, 2, size=(300, 1)))           # per row
    big32 = _readonly(rng.normal(size=(460, 300)).astype(np.float32)[::2, ::-1])
    big32_target = np.broadcast_to(np.float32(0.25), big32.shape)
    small = _readonly(rng.normal(size=(17, 5)))
    small_target = _readonly(rng.normal(size=(17, 5)).T.copy().T)
    special = _readonly(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, 5e-324, 0.5]))
    return [
        ("big", big, big_target, {"weight": big_weight, "beta_or_delta": 0.5}),
        ("big-unweighted-sum", big, big_target, {"reduction": "sum"}),
        ("big32", big32, big32_target, {"beta_or_delta": 1.5}),
        ("big32-none", big32, big32_target, {"reduction": "none"}),
        ("small", small, small_target, {"reduction": "mean"}),
        ("special", special, 0.0, {"reduction": "sum"}),
    ]


def specs():
    """(label, function name, input, target, kwargs, output names) for every combination."""
    result = []
    for label, x, t, options in shared_inputs():
        for name in FUNCTIONS:
            kwargs = dict(options)
            param = kwargs.pop("beta_or_delta", 1.0)
            kwargs["beta" if name.startswith("smooth") else "delta"] = param
            outputs = []
            if name.endswith("_grad") and not name.endswith("loss_and_grad"):
                outputs = ["out"]
            elif name.endswith("loss_and_grad"):
                outputs = ["grad_out"] + (["out"] if kwargs.get("reduction") == "none" else [])
            elif kwargs.get("reduction") == "none":
                outputs = ["out"]
            result.append((f"{name}[{label}]", name, x, t, kwargs, outputs))
    return result


def _call(spec, buffers, n_threads):
    label, name, x, t, kwargs, outputs = spec
    kwargs = dict(kwargs, **{key: buffers[key] for key in outputs})
    return getattr(smoothl1, name)(x, t, n_threads=n_threads, **kwargs)


def _private_buffers(spec):
    x = spec[2]
    return {key: np.full(x.shape, np.nan, dtype=x.dtype) for key in spec[5]}


def _copy(result):
    if isinstance(result, tuple):
        return tuple(_copy(r) for r in result)
    return result.copy() if isinstance(result, np.ndarray) else result


def _run_threads(targets):
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"


def test_python_threads_share_inputs_and_get_single_threaded_bits():
    """16 Python threads call the six functions at once, many times, on shared read-only inputs
    and private output buffers, each call asking for 4 threads: every result is bit-for-bit the
    single-threaded one, and the shared inputs are unchanged."""
    all_specs = specs()
    expected = [_copy(_call(spec, _private_buffers(spec), 1)) for spec in all_specs]
    snapshots = [(spec[2].copy(), np.array(spec[3], copy=True)) for spec in all_specs]
    barrier = threading.Barrier(PYTHON_THREADS)
    failures = []
    calls = [0] * PYTHON_THREADS

    def worker(index):
        try:
            # private outputs, reused for every call (as a training loop would)
            buffers = [_private_buffers(spec) for spec in all_specs]
            order = np.random.default_rng(index).permutation(len(all_specs))
            barrier.wait()
            for _ in range(ROUNDS):
                for k in order:
                    result = _call(all_specs[k], buffers[k], KERNEL_THREADS)
                    if isinstance(result, tuple):
                        for got, want in zip(result, expected[k], strict=True):
                            assert_bitwise_equal(got, want)
                    else:
                        assert_bitwise_equal(result, expected[k])
                    calls[index] += 1
        except BaseException as error:   # noqa: BLE001 -- reported in the main thread
            failures.append((index, repr(error)[:2000]))
            barrier.abort()

    _run_threads([functools.partial(worker, i) for i in range(PYTHON_THREADS)])
    assert not failures, failures
    assert sum(calls) == PYTHON_THREADS * ROUNDS * len(all_specs)
    for spec, (x, t) in zip(all_specs, snapshots):
        assert_bitwise_equal(spec[2], x)
        assert_bitwise_equal(np.asarray(spec[3]), t)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
def test_python_threads_with_bad_calls_mixed_in(n_threads):
    """Calls that raise, interleaved with good ones in other threads, change nothing and
    disturb no result."""
    x = _readonly(np.random.default_rng(1).normal(size=40_000))
    out = np.full(x.shape, 3.0)
    expected = smoothl1.huber_loss(x, 0.1, reduction="sum", n_threads=1)
    failures = []

    def good():
        try:
            for _ in range(300):
                assert_bitwise_equal(
                    smoothl1.huber_loss(x, 0.1, reduction="sum", n_threads=n_threads),
                    expected)
        except BaseException as error:   # noqa: BLE001
            failures.append(repr(error))

    def bad():
        try:
            for _ in range(300):
                for kwargs in ({"reduction": "avg"}, {"delta": -1.0}, {"out": out[::2]},
                               {"out": out.astype(np.float32)}, {"n_threads": 0}):
                    try:
                        smoothl1.huber_grad(x, 0.1, **kwargs)
                    except (TypeError, ValueError):
                        pass
                    else:
                        failures.append(f"no error for {kwargs}")
        except BaseException as error:   # noqa: BLE001
            failures.append(repr(error))

    _run_threads([good if i % 2 else bad for i in range(8)])
    assert not failures, failures[:5]
    assert np.all(out == 3.0)


def test_python_threads_share_a_bounded_pool():
    """In a fresh process, 16 Python threads each asking for 4 threads at once: the pool starts
    3 helpers in all (what the largest single call needs), not 16 x 3; results unchanged."""
    out = run_python("""
        import threading
        import numpy as np
        import smoothl1
        from smoothl1._core import dispatch as _dispatch
        x = np.random.default_rng(0).standard_normal(1 << 20)
        expected = smoothl1.smooth_l1_loss(x, 0.5, n_threads=1)
        barrier = threading.Barrier(16)
        wrong = []

        def work():
            barrier.wait()
            for _ in range(20):
                if smoothl1.smooth_l1_loss(x, 0.5, n_threads=4) != expected:
                    wrong.append(1)

        threads = [threading.Thread(target=work) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(len(wrong), _dispatch.kernels.pool_statistics()["helpers"])
    """)
    wrong, helpers = map(int, out.split())
    assert wrong == 0
    assert helpers == 3


# ---------------------------------------------------------------------------------------------
# 3. Controls: clamping, the environment, threadpoolctl
# ---------------------------------------------------------------------------------------------

def test_max_threads_is_documented_and_reachable():
    assert KERNELS.MAX_THREADS == 64
    assert 1 <= KERNELS.max_threads() <= KERNELS.MAX_THREADS


@pytest.mark.parametrize("n_threads", [10**9, 40000, 65, sys.maxsize])
def test_huge_n_threads_is_clamped(n_threads):
    """More threads than work items or than MAX_THREADS: clamped, never an OS error or crash.
    A broadcast input of 2**27 elements (8192 work items, no memory) with exact answers:
    smooth L1 at d = 0.5, beta = 1 is 0.125 per element."""
    input = np.broadcast_to(np.float32(0.5), (1 << 27,))
    assert smoothl1.smooth_l1_loss(input, 0.0, reduction="sum", n_threads=n_threads) == 2.0**24
    assert smoothl1.smooth_l1_loss(input, 0.0, n_threads=n_threads) == 0.125
    assert KERNELS.pool_statistics()["helpers"] <= KERNELS.MAX_THREADS - 1


def test_huge_n_threads_starts_at_most_max_threads_in_a_fresh_process():
    out = run_python("""
        import numpy as np
        import smoothl1
        from smoothl1._core import dispatch as _dispatch
        x = np.random.default_rng(0).standard_normal(1 << 22).astype(np.float32)  # 256 items
        expected = smoothl1.huber_loss(x, 0.5, reduction="sum", n_threads=1)
        for n_threads in (10**9, 40000):
            assert smoothl1.huber_loss(x, 0.5, reduction="sum", n_threads=n_threads) == expected
        small = x[:3 * 16384]   # 3 items: at most 3 threads
        smoothl1.huber_loss(small, 0.5, n_threads=10**9)
        print(_dispatch.kernels.pool_statistics()["helpers"], _dispatch.kernels.MAX_THREADS)
    """)
    helpers, max_threads = map(int, out.split())
    assert helpers == max_threads - 1


@pytest.mark.parametrize("environ, expected", [
    ({"SMOOTHL1_NUM_THREADS": "3"}, 3),
    ({"OMP_NUM_THREADS": "5"}, 5),
    ({"OMP_NUM_THREADS": "4,2"}, 4),                               # OpenMP's nested list
    ({"SMOOTHL1_NUM_THREADS": "3", "OMP_NUM_THREADS": "5"}, 3),    # smoothl1's own wins
    ({"SMOOTHL1_NUM_THREADS": " 7 "}, 7),
    ({"OMP_NUM_THREADS": "0"}, None),                              # invalid: the CPUs
    ({"OMP_NUM_THREADS": "many"}, None),
    ({"SMOOTHL1_NUM_THREADS": "", "OMP_NUM_THREADS": ""}, None),
    ({}, None),
], ids=["own", "openmp", "openmp-list", "own-first", "spaces", "openmp-zero", "openmp-text",
        "empty", "unset"])
def test_default_thread_count_from_the_environment(environ, expected):
    want = _threads.usable_cpus() if expected is None else expected
    assert _threads.default_thread_count(environ) == want


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_invalid_smoothl1_num_threads_warns_and_falls_back(value):
    with pytest.warns(RuntimeWarning, match="SMOOTHL1_NUM_THREADS"):
        got = _threads.default_thread_count({"SMOOTHL1_NUM_THREADS": value,
                                             "OMP_NUM_THREADS": "6"})
    assert got == 6


def test_usable_cpus_follow_the_affinity_mask():
    if not hasattr(os, "sched_getaffinity"):
        assert _threads.usable_cpus() == (os.cpu_count() or 1)
        return
    assert _threads.usable_cpus() == len(os.sched_getaffinity(0))
    out = run_python("""
        import os
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        from smoothl1._core import dispatch as _dispatch
        print(_dispatch.kernels.max_threads())
    """, env={"SMOOTHL1_NUM_THREADS": None, "OMP_NUM_THREADS": None})
    assert int(out) == 1


@pytest.mark.parametrize("env, expected", [
    ({"SMOOTHL1_NUM_THREADS": "3", "OMP_NUM_THREADS": "5"}, 3),
    ({"SMOOTHL1_NUM_THREADS": None, "OMP_NUM_THREADS": "5"}, 5),
    ({"SMOOTHL1_NUM_THREADS": "1000", "OMP_NUM_THREADS": None}, 64),   # clamped
])
def test_every_kernel_build_reads_the_environment_at_import(env, expected):
    out = run_python("""
        from smoothl1._core import dispatch as _dispatch
        print(*(module.max_threads() for module in _dispatch.available_builds().values()))
    """, env=env)
    assert set(map(int, out.split())) == {expected}


def test_default_n_threads_uses_the_limit_in_a_fresh_process():
    """n_threads=None on a large input runs max_threads() threads (one helper for 2), on a small
    one a single thread; nothing is started before the first threaded call."""
    out = run_python("""
        import numpy as np
        import smoothl1
        from smoothl1._core import dispatch as _dispatch
        kernels = _dispatch.kernels
        stats = [kernels.pool_statistics()["helpers"]]
        smoothl1.smooth_l1_loss(np.ones(1000), 0.0)                    # small: one thread
        smoothl1.smooth_l1_loss(np.ones(1 << 20), 0.0, n_threads=1)
        stats.append(kernels.pool_statistics()["helpers"])
        smoothl1.smooth_l1_loss(np.ones(1 << 20), 0.0)                 # default: 2 threads
        stats.append(kernels.pool_statistics()["helpers"])
        print(*stats)
    """, env={"SMOOTHL1_NUM_THREADS": "2"})
    assert out.split() == ["0", "0", "1"]


def test_threadpoolctl_lists_and_limits_smoothl1():
    """threadpool_info lists the kernel build in use (only it: every build's file name starts
    alike), and threadpool_limits sets its limit, for all APIs or user_api="smoothl1"."""
    threadpoolctl = pytest.importorskip("threadpoolctl", minversion="3.5")
    _dispatch.available_builds()   # load every build this CPU runs: only one may be listed
    entries = [info for info in threadpoolctl.threadpool_info()
               if info["internal_api"] == "smoothl1"]
    assert len(entries) == 1
    (entry,) = entries
    assert os.path.realpath(entry["filepath"]) == os.path.realpath(KERNELS.__file__)
    assert entry["user_api"] == "smoothl1" and entry["version"] == smoothl1.__version__
    before = KERNELS.max_threads()
    assert entry["num_threads"] == before
    with threadpoolctl.threadpool_limits(1):
        assert KERNELS.max_threads() == 1
    assert KERNELS.max_threads() == before
    with threadpoolctl.threadpool_limits(limits=3, user_api="smoothl1"):
        assert KERNELS.max_threads() == 3
        assert [info["num_threads"] for info in threadpoolctl.threadpool_info()
                if info["internal_api"] == "smoothl1"] == [3]
    assert KERNELS.max_threads() == before


def test_threadpoolctl_limit_really_limits_threads():
    """Under threadpool_limits(1) a default call starts no helper; after it, one does."""
    pytest.importorskip("threadpoolctl", minversion="3.5")
    out = run_python("""
        import numpy as np
        import threadpoolctl
        import smoothl1
        from smoothl1._core import dispatch as _dispatch
        x = np.ones(1 << 20)
        with threadpoolctl.threadpool_limits(1):
            smoothl1.smooth_l1_loss(x, 0.0)
            inside = _dispatch.kernels.pool_statistics()["helpers"]
        smoothl1.smooth_l1_loss(x, 0.0)
        print(inside, _dispatch.kernels.pool_statistics()["helpers"])
    """, env={"SMOOTHL1_NUM_THREADS": "2"})
    assert out.split() == ["0", "1"]


# ---------------------------------------------------------------------------------------------
# 4. Fork and exit
# ---------------------------------------------------------------------------------------------

# Threaded calls until the pool's helpers have run items (bounded in time), each checked.
THREADED_CALLS = """
import time
import numpy as np
import smoothl1
from smoothl1._core import dispatch as _dispatch
kernels = _dispatch.kernels
x = np.random.default_rng(0).standard_normal(1 << 20)
expected = smoothl1.smooth_l1_loss(x, 0.5, reduction="sum", n_threads=1)

def threaded_calls():
    deadline = time.monotonic() + 30
    start = kernels.pool_statistics()["helper_items"]
    while True:
        assert smoothl1.smooth_l1_loss(x, 0.5, reduction="sum", n_threads=2) == expected
        if kernels.pool_statistics()["helper_items"] > start or time.monotonic() > deadline:
            return kernels.pool_statistics()["helper_items"] > start
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_os_fork_child_makes_threaded_calls():
    """After threaded calls in the parent (its helpers started), a forked child's threaded
    calls work, with helpers of its own; also forks while another thread is inside calls."""
    out = run_python(THREADED_CALLS + """
import os, threading
assert threaded_calls()
stop = threading.Event()

def keep_calling():
    while not stop.is_set():
        assert smoothl1.smooth_l1_loss(x, 0.5, reduction="sum", n_threads=2) == expected

background = threading.Thread(target=keep_calling)
background.start()
statuses = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        ok = kernels.pool_statistics()["helpers"] == 0 and threaded_calls()
        ok = ok and kernels.pool_statistics()["helpers"] == 1
        os._exit(0 if ok else 1)
    statuses.append(os.waitpid(pid, 0)[1])
stop.set()
background.join()
print(*statuses)
""")
    assert out.split() == ["0"] * 5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_multiprocessing_fork_pool_makes_threaded_calls():
    out = run_python(THREADED_CALLS + """
import multiprocessing

def child(_):
    return threaded_calls()

if __name__ == "__main__":
    assert threaded_calls()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(*pool.map(child, range(4)))
""")
    assert out.split() == ["True"] * 4


def test_interpreter_exits_with_helpers_alive():
    """Helpers asleep, and a daemon thread still inside threaded calls: the process exits."""
    out = run_python(THREADED_CALLS + """
import threading
assert threaded_calls()

def forever():
    while True:
        smoothl1.smooth_l1_loss(x, 0.5, n_threads=2)

threading.Thread(target=forever, daemon=True).start()
print("exiting")
""", timeout=60)
    assert out.split() == ["exiting"]


def _pool_header_folder():
    """src/, which holds smoothl1_pool.h; skips where the suite runs against an installed wheel
    from a copy of tests/ (no source tree)."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src")
    if not os.path.exists(os.path.join(folder, "smoothl1_pool.h")):
        pytest.skip("src/smoothl1_pool.h is not next to tests/ (an installed-wheel run)")
    return folder


STRESS_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool", "stress.c")


@pytest.mark.skipif(sys.platform == "win32", reason="the program uses POSIX threads and fork")
def test_pool_stress_program(tmp_path):
    """tests/pool/stress.c drives src/smoothl1_pool.h on its own: 16 callers at once with varying
    item and thread counts (every item runs exactly once, in its caller's floating-point
    environment; helpers bounded), then forked children. Needs the source tree's header and a
    C compiler."""
    import shutil
    import sysconfig
    header_folder = _pool_header_folder()
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    if shutil.which(compiler[0]) is None:
        pytest.skip(f"no C compiler ({compiler[0]})")
    program = str(tmp_path / "stress")
    build = subprocess.run(compiler + ["-O2", "-pthread", "-I", header_folder, STRESS_PROGRAM,
                                       "-o", program],
                           capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert build.returncode == 0, build.stderr
    result = subprocess.run([program], capture_output=True, text=True,
                            timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stdout + result.stderr


WINDOWS_TOOLS = ("x86_64-w64-mingw32-gcc", "wine")


def test_pool_stress_program_on_windows_under_wine(tmp_path):
    """The pool's Windows side (SRW lock, condition variables, Interlocked*, CreateThread):
    tests/pool/stress.c cross-compiled with MinGW-w64 and run under Wine, in a fresh Wine
    prefix (about 5 s to create). Skips without the tools, unless SMOOTHL1_REQUIRE_WINE=1 (CI,
    which installs them): then a missing tool fails."""
    import shutil
    header_folder = _pool_header_folder()
    missing = [tool for tool in WINDOWS_TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not found"
        if os.environ.get("SMOOTHL1_REQUIRE_WINE") == "1":
            pytest.fail(message + ", and SMOOTHL1_REQUIRE_WINE=1 asks for this test")
        pytest.skip(message)
    program = str(tmp_path / "stress.exe")
    # -static: the program needs no MinGW DLL beside it
    build = subprocess.run(["x86_64-w64-mingw32-gcc", "-O2", "-static", "-I", header_folder,
                            STRESS_PROGRAM, "-o", program],
                           capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert build.returncode == 0, build.stderr
    # no Mono or Gecko in the new prefix (their install dialogs would wait), no Wine messages
    environment = dict(os.environ, WINEPREFIX=str(tmp_path / "wine"), WINEDEBUG="-all",
                       WINEDLLOVERRIDES="mscoree,mshtml=")
    try:
        result = subprocess.run(["wine", program], capture_output=True, text=True,
                                env=environment, timeout=SUBPROCESS_TIMEOUT)
    finally:
        # the prefix's wineserver, started by this test, would linger a few seconds
        if shutil.which("wineserver"):
            subprocess.run(["wineserver", "-k"], env=environment, capture_output=True,
                           timeout=SUBPROCESS_TIMEOUT)
    # a Windows program writes "\r\n"
    assert result.returncode == 0 and result.stdout.split() == ["ok"], \
        result.stdout + result.stderr
