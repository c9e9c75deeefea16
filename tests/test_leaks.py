"""No leaks: 10**5 calls spread over the nine loss functions, good calls and calls
that raise, leave the process's memory where it was.

- resident set size (/proc/self/statm) and, on glibc, the C heap in use (mallinfo2: catches a
  lost malloc of the kernels' work-item buffer, which large inputs allocate) stay flat;
- tracemalloc's total of Python allocations stays flat (catches a leaked object per call);
- sys.getrefcount of every argument (arrays, parameter, output buffers) is unchanged after
  calls, and a returned new array or scalar is referenced only by the caller.

Under AddressSanitizer (tools/sanitize.sh: libasan in LD_PRELOAD) the RSS and C-heap checks are
skipped: ASan's allocator keeps freed memory in quarantine (RSS grows by design) and replaces
malloc; tracemalloc and reference counts are still checked.
"""
import ctypes
import gc
import os
import sys
import tracemalloc

import numpy as np
import pytest

import smoothl1

UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
PAGE = os.sysconf("SC_PAGE_SIZE")
FUNCTIONS = ["smooth_l1_loss", "smooth_l1_grad", "smooth_l1_loss_and_grad", "huber_loss",
             "huber_grad", "huber_loss_and_grad", "pseudo_huber_loss", "pseudo_huber_grad",
             "pseudo_huber_loss_and_grad"]


def operation(name):
    """What a function of FUNCTIONS computes: "loss", "grad" or "loss_and_grad"."""
    return next(name[len(loss):] for loss in ("smooth_l1_", "pseudo_huber_", "huber_")
                if name.startswith(loss))


pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="needs /proc/self/statm (Linux)")


def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    try:
        libc = ctypes.CDLL(None)
        function = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    return function


MALLINFO2 = _mallinfo2()


def c_heap_in_use():
    """Bytes malloc'ed from the C heap (glibc), or None elsewhere."""
    return None if MALLINFO2 is None else MALLINFO2().uordblks


class Recipe:
    """One call, made again and again: name, function, args, kwargs, the exception it must
    raise (or None), and how many calls of it make one round (large or threaded inputs: one
    call every `period` rounds)."""

    def __init__(self, name, function, args, kwargs, error=None, weight=10, period=1):
        self.name, self.function, self.args, self.kwargs = name, function, args, kwargs
        self.error, self.weight, self.period = error, weight, period

    def objects(self):
        return [a for a in list(self.args) + list(self.kwargs.values())
                if not isinstance(a, (str, type(None), bool, int))]

    def __call__(self):
        if self.error is None:
            return self.function(*self.args, **self.kwargs)
        try:
            self.function(*self.args, **self.kwargs)
        except self.error:
            return None
        raise AssertionError(f"{self.name} did not raise {self.error.__name__}")


def recipes():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 8))
    t = rng.normal(size=(8, 8))
    w = rng.uniform(size=(8, 8))
    x32 = rng.normal(size=(16, 16)).astype(np.float32)[::2, ::-2]
    t32 = rng.normal(size=(8,)).astype(np.float32)
    raw = np.zeros(64 * 8 + 1, dtype=np.uint8)
    unaligned = raw[1:].view(np.float64).reshape(8, 8)
    unaligned[...] = x
    shared = rng.normal(size=70)
    big = np.broadcast_to(np.float32(0.5), (65 * 16384,))  # > 64 work items: heap buffer
    threaded = rng.normal(size=40_000)                      # n_threads=2 runs two threads
    out = np.empty((8, 8))
    grad_out = np.empty((8, 8), order="F")
    param = float("0.75")   # a float object of its own, for its reference count
    result = []
    for name in FUNCTIONS:
        f = getattr(smoothl1, name)
        p = "beta" if name.startswith("smooth_l1") else "delta"
        kind = operation(name)
        good = [("mean", (x, t), {p: param}),
                ("sum-weighted", (x, t), {p: param, "reduction": "sum", "weight": w}),
                ("float32-strided", (x32, t32), {"reduction": "mean", "weight": 2.0}),
                ("python-target", (x, 0.25), {"weight": [1.0] * 8}),
                ("unaligned-input", (unaligned, t), {p: param}),
                ("threads", (threaded, 0.0), {"n_threads": 2}),
                ("big-broadcast", (big, np.float32(0.25)), {"reduction": "sum"})]
        if kind == "loss":
            good.append(("none-out", (x, t), {"reduction": "none", "out": out}))
            good.append(("none-new", (x, t), {"reduction": "none"}))
        elif kind == "grad":
            good.append(("out", (x, t), {"out": grad_out}))
            good.append(("out-overlaps-input", (shared[1:65].reshape(8, 8), t),
                         {"out": shared[0:64].reshape(8, 8)}))
        else:
            good.append(("both-out", (x, t), {"reduction": "none", "out": out,
                                              "grad_out": grad_out}))
            good.append(("grad-out-is-target", (x, t.copy()), {}))
        bad = [("bad-dtype", (x, t.astype(np.int32)), {}, TypeError),
               ("bad-shape", (x, t.ravel()[:7]), {}, ValueError),
               ("bad-reduction", (x, t), {"reduction": "avg"}, ValueError),
               ("bad-param", (x, t), {p: float("nan")}, ValueError),
               ("bad-input", ([1.0, 2.0], t), {}, TypeError),
               ("ragged-weight", (x, t), {"weight": [[1.0], [1.0, 2.0]]}, ValueError)]
        if kind != "loss":
            readonly = np.zeros((8, 8))
            readonly.flags.writeable = False
            key = "out" if kind == "grad" else "grad_out"
            bad.append(("readonly-out", (x, t), {key: readonly}, ValueError))
        for label, args, kwargs in good:
            slow = label in ("big-broadcast", "threads")
            result.append(Recipe(f"{name}[{label}]", f, args, kwargs, None,
                                 1 if slow else 10, 4 if slow else 1))
        for label, args, kwargs, error in bad:
            result.append(Recipe(f"{name}[{label}]", f, args, kwargs, error))
    return result


def run(all_recipes, calls):
    """Rounds over all recipes until `calls` calls are made; returns the count."""
    made = rounds = 0
    while made < calls:
        for recipe in all_recipes:
            if rounds % recipe.period == 0:
                for _ in range(recipe.weight):
                    recipe()
                made += recipe.weight
        rounds += 1
    return made


def _refcounts(objects):
    return [sys.getrefcount(o) for o in objects]


def test_refcounts_unchanged():
    """Arguments keep their reference counts; results are referenced by the caller only."""
    made = 0
    gc.collect()
    raising = []
    for recipe in recipes():
        if recipe.error is not None:
            raising.append(recipe)
            continue
        objects = recipe.objects()
        recipe()
        before = _refcounts(objects)
        for _ in range(60 if recipe.period == 1 else 8):
            value = recipe()
            made += 1
            if isinstance(value, tuple):
                loss, grad = value
                del value
                new = [r for r in (loss, grad) if not any(r is o for o in objects)]
                del loss, grad
            else:
                new = [] if value is None or any(value is o for o in objects) else [value]
                del value
            for item in new:   # a new array or scalar: `new` and getrefcount's argument
                assert sys.getrefcount(item) == 3, (recipe.name, sys.getrefcount(item))
            del new
        assert _refcounts(objects) == before, (recipe.name, before, _refcounts(objects))
    # Calls that raise: a traceback may hold a frame, and so the arguments, in a reference
    # cycle until the collector runs; so one collection, then every count must be back.
    objects = [recipe.objects() for recipe in raising]
    before = [_refcounts(o) for o in objects]
    for recipe in raising:
        for _ in range(60):
            recipe()
            made += 1
    gc.collect()
    for recipe, objs, counts in zip(raising, objects, before):
        assert _refcounts(objs) == counts, (recipe.name, counts, _refcounts(objs))
    assert made > 4000


def test_memory_flat_over_many_calls():
    """10**5 calls in all (this test and the refcount test): RSS, the C heap and tracemalloc's
    total stay flat once warm."""
    all_recipes = recipes()
    run(all_recipes, 3000)                  # warm-up: caches, pool threads, lazy imports
    gc.collect()
    rss_before, heap_before = rss(), c_heap_in_use()
    made = run(all_recipes, 58_000)
    gc.collect()
    rss_growth = rss() - rss_before
    heap_after = c_heap_in_use()
    if not UNDER_ASAN:
        assert rss_growth < 4 * 2**20, \
            f"RSS grew by {rss_growth / 2**20:.1f} MiB over {made} calls"
    if heap_before is not None and not UNDER_ASAN:
        growth = heap_after - heap_before
        assert growth < 256 * 2**10, f"C heap grew by {growth} bytes over {made} calls"

    tracemalloc.start()
    try:
        run(all_recipes, 1000)
        gc.collect()
        traced_before = tracemalloc.get_traced_memory()[0]
        snapshot_before = tracemalloc.take_snapshot()
        made += run(all_recipes, 33_000)
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
        if traced_growth >= 32 * 2**10:
            top = tracemalloc.take_snapshot().compare_to(snapshot_before, "lineno")[:5]
            raise AssertionError(f"traced memory grew by {traced_growth} bytes:\n"
                                 + "\n".join(str(stat) for stat in top))
    finally:
        tracemalloc.stop()
    assert made >= 91_000   # + 3000 + 1000 warm-up calls + about 4600 in the refcount test
