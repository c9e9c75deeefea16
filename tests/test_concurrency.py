"""Thread safety: 8 Python threads call the six functions at once, many times, on
shared read-only inputs and private output buffers, each call itself running OpenMP threads
(n_threads=2); every result must be bit-for-bit the single-threaded one (contract §8), and the
shared inputs unchanged."""
import os
import threading

import numpy as np
import pytest

import smoothl1
from reference import assert_bitwise_equal

N_THREADS = 8
# each thread makes ROUNDS * len(specs()) calls; fewer under AddressSanitizer (about 10 times
# slower there: tools/sanitize.sh preloads libasan)
ROUNDS = 20 if "libasan" in os.environ.get("LD_PRELOAD", "") else 120

FUNCTIONS = ["smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad", "huber_loss",
             "huber_grad", "huber_loss_and_grad"]


def _readonly(array):
    array.flags.writeable = False
    return array


def shared_inputs():
    """Read-only inputs shared by every thread: large ones (several work items, so n_threads=2
    runs two OpenMP threads) and small ones, both dtypes, strided and broadcast."""
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


def test_threads_share_inputs_and_get_single_threaded_bits():
    all_specs = specs()
    expected = [_copy(_call(spec, _private_buffers(spec), 1)) for spec in all_specs]
    snapshots = [(spec[2].copy(), np.array(spec[3], copy=True)) for spec in all_specs]
    barrier = threading.Barrier(N_THREADS)
    failures = []
    calls = [0] * N_THREADS

    def worker(index):
        try:
            # private outputs, reused for every call (as a training loop would)
            buffers = [_private_buffers(spec) for spec in all_specs]
            order = np.random.default_rng(index).permutation(len(all_specs))
            barrier.wait()
            for _ in range(ROUNDS):
                for k in order:
                    result = _call(all_specs[k], buffers[k], 2)
                    if isinstance(result, tuple):
                        for got, want in zip(result, expected[k], strict=True):
                            assert_bitwise_equal(got, want)
                    else:
                        assert_bitwise_equal(result, expected[k])
                    calls[index] += 1
        except BaseException as error:   # noqa: BLE001 -- reported in the main thread
            failures.append((index, repr(error)[:2000]))
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert not failures, failures
    assert sum(calls) == N_THREADS * ROUNDS * len(all_specs)
    for spec, (x, t) in zip(all_specs, snapshots):
        assert_bitwise_equal(spec[2], x)
        assert_bitwise_equal(np.asarray(spec[3]), t)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 8])
def test_threads_with_bad_calls_mixed_in(n_threads):
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

    threads = [threading.Thread(target=good if i % 2 else bad) for i in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures[:5]
    assert np.all(out == 3.0)
