"""``python -m smoothl1 bench``: smoothl1 against the memory floor, NumPy, SciPy and PyTorch.

Every contender gets the same input arrays and one warm-up call; a row's contenders are then
timed in turns, ``--repeat`` calls each, and the row prints smoothl1's best and median time. Two operations are measured:

- ``loss``: ``smooth_l1_loss(x, t)`` (mean). Floor: one thread reading the same bytes, NumPy's
  SIMD maximum of each input viewed as integers of its item size (NumPy runs it on one thread
  whatever BLAS does; an all-core ``np.dot`` floor collapsed on a busy machine, its threads
  waiting for cores, and made smoothl1 look 100x faster than memory). Peers: the NumPy
  expression
  ``np.where(d < beta, 0.5*d*d/beta, d - 0.5*beta).mean()`` with ``d = abs(x - t)``,
  ``scipy.special.huber(beta, x - t).mean()`` and ``torch.nn.functional.smooth_l1_loss``.
- ``loss+grad``: ``smooth_l1_loss_and_grad(x, t, grad_out=g)``. Floor:
  ``np.subtract(x, t, out=g)`` (reads two arrays, writes one; one thread). Peers: the NumPy
  expressions for both, and PyTorch forward + backward.
- ``loss[::2]``: ``loss`` on every other element of arrays twice as long (the same number of
  elements, non-contiguous). Floor: the integer maximum of the same strided views. Its time over
  the ``loss`` row's is the cost of the layout.

The contenders of a row are timed in turns (one batch of each, ``--repeat`` rounds), so a burst
of load slows them alike. Each row prints smoothl1's best and median time and the row's spread
(the largest median over best among its contenders). A contender that collapsed while timed
(``collapse_warnings``: its median far above its best, its threads far slower than one thread,
or a floor that smoothl1 beats by more than is possible) has its ratio printed as ``?`` with a
warning line saying why, never as a number. The header gives the machine's load average and
CPU count.

After the table, one row per dtype compares the C API with the Python API at 10^6 elements on
one thread: ``smoothl1_smooth_l1_loss_sum_<f32|f64>`` called through its capsule in
``smoothl1._smoothl1.__pyx_capi__`` (as C and Cython consumers call it; ctypes adds about a
microsecond) against ``smooth_l1_loss(x, t, reduction="sum", n_threads=1)``, with the same bits.

Then the loss rows (``--losses N``, default 10^6): every loss of the table of losses, its mean
on one thread against the stable NumPy expression a NumPy user writes for it (the row's
``numpy_mean``: for log-cosh ``np.logaddexp(q, -q) - log(2)``, for Cauchy ``np.log1p(q**2)``),
with the time per element.

Then the box rows (``--boxes N``, see ``smoothl1.cli._bench_boxes``): ``(N, 4)`` arrays with
broadcast operands, reductions along an axis and per-element parameters, each against the
same call with a full-size operand, a full reduction or a scalar parameter, and, for the rows
that move more bytes than that baseline, against the floor those bytes set.

Then the small-call rows (``--no-small`` skips them; ``smoothl1.cli._bench_small``): calls
of 1 and 1,000 elements against ``np.add(a, b, out=o)``, with NumPy, SciPy and PyTorch per call.

Then, when PyTorch is installed, the PyTorch rows (``--no-torch`` skips them):
``smoothl1.torch.smooth_l1_loss(x, t).backward()`` against
``F.smooth_l1_loss(x, t).backward()`` at 10^3, 10^6 and 10^7 float32 elements, both on
PyTorch's thread count, in this one process.

With ``--against DIR`` the benchmark prints only the regression table instead
(``smoothl1.cli._bench_regression``): this build against the smoothl1 in DIR (an earlier
commit built in place), in alternating processes, each row "faster", "slower" or "within
spread".

With ``--linear-model N`` the benchmark prints only the robust-linear-model table instead
(``smoothl1.cli._bench_linear_model``): smoothl1's ``HuberRegressor`` against scikit-learn's,
statsmodels' RLM and ``SGDRegressor(loss="huber")`` on N rows, 50 features, 5% outliers: fit
time, peak memory over X's size, coefficient error against the true coefficients.

"vs floor" is smoothl1's time divided by the one-thread floor's (below 1.0 where smoothl1's
threads share the work); the "x NumPy/SciPy/PyTorch" columns are the peer's time divided by
smoothl1's (higher is better). ``--help`` prints ``DESCRIPTION`` and ``EPILOG``, the plain-text
summary of this docstring.
"""
import argparse
import ctypes
import importlib
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

from .. import __version__, _smoothl1, simd_build, smooth_l1_loss, smooth_l1_loss_and_grad
from .._core.losses import LOSSES
from .._core import api
from . import _bench_boxes, _bench_small
from ._arguments import OneLineArgumentParser, whole_number

BETA = 1.0
UNSTABLE = 2.0         # a median over this many times the best: slowed down while timed
FLOOR_ALLOWANCE = 2.0  # smoothl1 on one thread may beat the one-thread floor by this much
                       # (by up to 1.35x measured, 1e5 to 1e7 elements, both layouts); by
                       # more, the floor was slowed down while timed


@dataclass(frozen=True)
class Timing:
    """The seconds per call of each timed batch of one contender."""
    samples: tuple

    @property
    def best(self):
        return min(self.samples)

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def spread(self):
        """Median over best: 1.0 when every batch took the same time."""
        return self.median / self.best


def _calls_per_batch(function):
    """One warm-up call, then enough calls per batch to last about 20 ms, so small sizes are
    not lost in the timer's resolution."""
    function()
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(0.02 / once))


def _batch_seconds(function, number):
    start = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - start) / number


def measure(functions, repeat):
    """{name: Timing} of `repeat` batches of each function, timed in turns (a batch of each,
    then the next round), so that a burst of load falls on every contender alike."""
    numbers = {name: _calls_per_batch(function) for name, function in functions.items()}
    samples = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            samples[name].append(_batch_seconds(function, numbers[name]))
    return {name: Timing(tuple(times)) for name, times in samples.items()}


def best_time(function, repeat):
    """Best wall time of one call of `function` over `repeat` batches (see ``measure``)."""
    return measure({"function": function}, repeat)["function"].best


def collapse_warnings(timings, one_thread):
    """{contender: why its ratio is not shown} for one row's {contender: Timing} (the main
    table's: "smoothl1", "floor" and the peers); `one_thread` {contender: Timing} holds the
    same calls of the threaded contenders on one thread (smoothl1's, where there is a floor).

    Three signs of a contender that collapsed (the machine was busy while it was timed): its
    median is over UNSTABLE times its best; its best on its threads is over UNSTABLE times its
    best on one thread (threads waiting for cores that others hold, which every repeat can show
    alike); or, for the floor, smoothl1 on one thread beating it by more than FLOOR_ALLOWANCE,
    widened by their spreads (one thread cannot read the same bytes much faster than one
    thread)."""
    warnings = {}
    for name, timing in timings.items():
        if timing.spread > UNSTABLE:
            warnings[name] = (f"{_named(name)} was slowed down while timed: its median time is "
                              f"{timing.spread:.1f}x its best (over {UNSTABLE:g}x)")
        elif name in one_thread and timing.best > UNSTABLE * one_thread[name].best:
            warnings[name] = (f"{_named(name)} collapsed on its threads: its best time is "
                              f"{timing.best / one_thread[name].best:.1f}x its best on one "
                              f"thread (over {UNSTABLE:g}x)")
    if "floor" not in timings or "floor" in warnings:
        return warnings
    ours, floor = one_thread["smoothl1"], timings["floor"]
    limit = FLOOR_ALLOWANCE * max(ours.spread, floor.spread)
    if floor.best / ours.best > limit:
        warnings["floor"] = (f"the floor collapsed: smoothl1 on one thread would be "
                             f"{floor.best / ours.best:.1f}x faster than one thread reading "
                             f"the same bytes (possible: up to {limit:.1f}x)")
    return warnings


def _named(contender):
    return "the floor" if contender == "floor" else contender


def numpy_loss(x, t):
    d = np.abs(x - t)
    return np.where(d < BETA, 0.5 * d * d / BETA, d - 0.5 * BETA).mean()


def numpy_loss_and_grad(x, t):
    diff = x - t
    d = np.abs(diff)
    loss = np.where(d < BETA, 0.5 * d * d / BETA, d - 0.5 * BETA).mean()
    grad = np.where(d < BETA, diff / BETA, np.sign(diff)) / diff.size
    return loss, grad


def _optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def loss_peers(x, t, torch, special):
    """{peer: function} computing the mean smooth L1 loss of x and t."""
    peers = {"NumPy": lambda: numpy_loss(x, t)}
    if special is not None:
        peers["SciPy"] = lambda: special.huber(BETA, x - t).mean()
    if torch is not None:
        functional = torch.nn.functional
        x_torch, t_torch = torch.from_numpy(x), torch.from_numpy(t)

        def torch_forward():
            with torch.no_grad():
                return functional.smooth_l1_loss(x_torch, t_torch, beta=BETA)

        peers["PyTorch"] = torch_forward
    return peers


def contenders(x, t, grad, x_wide, t_wide, torch, special):
    """{operation: (functions, one_thread)} for one pair of inputs (and arrays twice as long,
    for the strided case): functions is {"smoothl1": ..., "floor": ..., peer: ...}, and
    one_thread the same calls of the contenders that run threads, on one thread."""
    x_strided, t_strided = x_wide[::2], t_wide[::2]
    grad_peers = {"NumPy": lambda: numpy_loss_and_grad(x, t)}
    if torch is not None:
        functional = torch.nn.functional
        t_torch = torch.from_numpy(t)
        x_leaf = torch.from_numpy(x.copy()).requires_grad_(True)

        def torch_forward_backward():
            x_leaf.grad = None
            functional.smooth_l1_loss(x_leaf, t_torch, beta=BETA).backward()

        grad_peers["PyTorch"] = torch_forward_backward
    operations = {
        "loss": (lambda threads: smooth_l1_loss(x, t, beta=BETA, n_threads=threads),
                 read_floor(x, t), loss_peers(x, t, torch, special)),
        "loss+grad": (lambda threads: smooth_l1_loss_and_grad(x, t, beta=BETA, grad_out=grad,
                                                              n_threads=threads),
                      lambda: np.subtract(x, t, out=grad), grad_peers),
        "loss[::2]": (lambda threads: smooth_l1_loss(x_strided, t_strided, beta=BETA,
                                                     n_threads=threads),
                      read_floor(x_strided, t_strided),
                      loss_peers(x_strided, t_strided, torch, special)),
    }
    table = {}
    for operation, (ours, floor, peers) in operations.items():
        functions = {"smoothl1": lambda ours=ours: ours(None), "floor": floor, **peers}
        one_thread = {"smoothl1": lambda ours=ours: ours(1)}
        if "PyTorch" in peers:
            one_thread["PyTorch"] = on_one_torch_thread(torch, peers["PyTorch"])
        table[operation] = (functions, one_thread)
    return table


def on_one_torch_thread(torch, function):
    """`function` run with PyTorch on one thread (setting it costs 0.2 us)."""
    def run():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return function()
        finally:
            torch.set_num_threads(threads)

    return run


def read_floor(*arrays):
    """A function that reads every byte of `arrays` once, on one thread: NumPy's maximum of
    each viewed as integers of its item size (a view, even of a strided array; integers have
    no NaN to test, NumPy's integer maximum is SIMD, the fastest of its reductions, and NumPy
    never threads a reduction)."""
    views = [array.view(f"i{array.itemsize}") for array in arrays]

    def read():
        return [np.maximum.reduce(view) for view in views]

    return read


def versions(torch, scipy):
    parts = [f"smoothl1 {__version__} ({simd_build()} kernels, "
             f"{_smoothl1.max_threads()} threads)", f"NumPy {np.__version__}"]
    parts.append(f"SciPy {scipy.__version__}" if scipy else "SciPy not installed")
    parts.append(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"
                 if torch else "PyTorch not installed")
    parts.append(f"Python {platform.python_version()}")
    return ", ".join(parts) + f"\n{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"


def load_line():
    """The machine's load average and CPU count, for the header: timings on a machine whose
    load exceeds its CPUs collapse in ways a row alone cannot always show."""
    cpus = os.cpu_count() or 1
    try:
        one, five, fifteen = os.getloadavg()
    except (OSError, AttributeError):   # not on Windows
        return f"load average unknown, {cpus} CPUs"
    line = f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min), {cpus} CPUs"
    if one > cpus:
        line += ": busy, so timings may collapse (the rows that show it are flagged)"
    return line


def _spread(timings):
    """A row's spread: the largest median over best among its contenders, minus 1."""
    return max(timing.spread for timing in timings.values()) - 1


def format_row(size, dtype, operation, timings, one_thread, peers):
    """The table's line for one row, and its warning lines: a ratio of a contender that
    collapsed (``collapse_warnings``) is printed as ``?``, never as a number."""
    warnings = collapse_warnings(timings, one_thread)
    ours = timings["smoothl1"]

    def ratio(name, value, width):
        if "smoothl1" in warnings or name in warnings:
            return f"{'?':>{width}}"
        return f"{value:>{width - 1}.2f}x" if name == "floor" else f"{value:>{width - 1}.1f}x"

    cells = [ratio(name, timings[name].best / ours.best, 9) if name in timings
             else f"{'-':>9}" for name in peers]
    line = (f"{size:>10} {dtype:>7} {operation:>9} {_format_seconds(ours.best):>10} "
            f"{_format_seconds(ours.median):>10} "
            f"{ratio('floor', ours.best / timings['floor'].best, 8)} " + " ".join(cells)
            + f" {_spread(timings):>+6.0%}")
    return line, [f"  ! {size} {dtype} {operation}: {message}" for message in warnings.values()]


def run(sizes, dtypes, repeat, out=sys.stdout, measure=measure):
    """The main table; `measure` is injectable, so a test can give it collapsed timings."""
    torch = _optional("torch")
    scipy = _optional("scipy")
    special = _optional("scipy.special") if scipy is not None else None
    print(versions(torch, scipy), file=out)
    print(load_line(), file=out)
    peers = ["NumPy"] + (["SciPy"] if special else []) + (["PyTorch"] if torch else [])
    header = (f"{'size':>10} {'dtype':>7} {'operation':>9} {'smoothl1':>10} {'median':>10} "
              f"{'vs floor':>8} " + " ".join(f"{'x ' + name:>9}" for name in peers)
              + f" {'spread':>6}")
    print(header, file=out)
    print("-" * len(header), file=out)
    rng = np.random.default_rng(0)
    rows = []
    for size in sizes:
        for dtype in dtypes:
            x = (rng.standard_normal(size) * 2).astype(dtype)
            t = rng.standard_normal(size).astype(dtype)
            grad = np.empty_like(x)
            x_wide = (rng.standard_normal(2 * size) * 2).astype(dtype)
            t_wide = rng.standard_normal(2 * size).astype(dtype)
            for operation, (functions, one_thread) in contenders(
                    x, t, grad, x_wide, t_wide, torch, special).items():
                measured = measure({**functions, **{f"{name} on one thread": function
                                                    for name, function in one_thread.items()}},
                                   repeat)
                timings = {name: measured[name] for name in functions}
                one_thread = {name: measured[f"{name} on one thread"] for name in one_thread}
                line, warnings = format_row(size, np.dtype(dtype).name, operation, timings,
                                            one_thread, peers)
                seconds = timings["smoothl1"].best
                row = {"size": size, "dtype": np.dtype(dtype).name, "operation": operation,
                       "seconds": seconds, "median": timings["smoothl1"].median,
                       "vs_floor": seconds / timings["floor"].best, "warnings": warnings}
                for name in peers:
                    if name in timings:
                        row[name] = timings[name].best / seconds
                rows.append(row)
                print(line, file=out)
                for warning in warnings:
                    print(warning, file=out)
    print(f"\nC API ({simd_build()} kernels) vs Python API, one thread, loss_sum:", file=out)
    for dtype in dtypes:
        row = c_api_row(dtype, repeat)
        print(f"{row['size']:>10} {row['dtype']:>7}  C API {_format_seconds(row['c_api'])}, "
              f"smooth_l1_loss(n_threads=1) {_format_seconds(row['python_api'])}: "
              f"{row['ratio']:.2f}x{'' if row['same_bits'] else '  DIFFERENT BITS'}", file=out)
    return rows


def loss_rows(size, dtypes, repeat, out=sys.stdout):
    """Each loss's mean at `size` elements, one thread, against its NumPy expression."""
    print(f"\nlosses: mean of {size} elements, one thread, against the NumPy expression "
          f"(d = x - t, p the parameter, 0.7)", file=out)
    header = (f"{'loss':>13} {'dtype':>7} {'smoothl1':>10} {'per element':>12} {'x NumPy':>8} "
              f"{'spread':>6}")
    print(header, file=out)
    print("-" * len(header), file=out)
    rng = np.random.default_rng(2)
    rows = []
    for dtype in dtypes:
        x = (rng.standard_normal(size) * 2).astype(dtype)
        t = rng.standard_normal(size).astype(dtype)
        p = dtype.type(0.7)
        for loss in LOSSES:
            function = getattr(api, loss.name + "_loss")
            keywords = {loss.param: 0.7, "n_threads": 1}
            expression = compile(loss.numpy_mean, f"<{loss.name}.numpy_mean>", "eval")

            def ours():
                return function(x, t, **keywords)

            def numpy():
                return eval(expression, {"np": np, "d": x - t, "p": p})

            timings = measure({"smoothl1": ours, "NumPy": numpy}, repeat)
            warnings = collapse_warnings(timings, {})
            ours_time = timings["smoothl1"].best
            speedup = timings["NumPy"].best / ours_time
            rows.append({"loss": loss.name, "dtype": dtype.name, "seconds": ours_time,
                         "NumPy": speedup, "warnings": list(warnings.values())})
            ratio = f"{'?':>8}" if warnings else f"{speedup:>7.1f}x"
            print(f"{loss.name:>13} {dtype.name:>7} {_format_seconds(ours_time):>10} "
                  f"{ours_time / size * 1e9:>9.2f} ns {ratio} {_spread(timings):>+6.0%}",
                  file=out)
            for message in warnings.values():
                print(f"  ! {loss.name} {dtype.name}: {message}", file=out)
    return rows


TORCH_SIZES = (10**3, 10**6, 10**7)


def torch_rows(sizes=TORCH_SIZES, repeat=7, out=sys.stdout):
    """``smoothl1.torch.smooth_l1_loss`` forward + backward against PyTorch's own
    ``F.smooth_l1_loss`` (mean, float32, a leaf that requires grad), side by side, at each
    size; [] and nothing printed when PyTorch is not installed."""
    torch = _optional("torch")
    if torch is None:
        return []
    smoothl1_torch = importlib.import_module("smoothl1.torch")
    functional = torch.nn.functional
    threads = torch.get_num_threads()
    print(f"\nPyTorch: smooth_l1_loss forward + backward, float32, mean, {threads} "
          f"thread{'s' if threads != 1 else ''} (smoothl1.torch against F.smooth_l1_loss)",
          file=out)
    header = (f"{'size':>10} {'smoothl1.torch':>15} {'PyTorch':>10} {'x PyTorch':>9} "
              f"{'spread':>6}")
    print(header, file=out)
    print("-" * len(header), file=out)
    generator = torch.Generator().manual_seed(3)
    rows = []
    for size in sizes:
        x = (torch.randn(size, generator=generator) * 2).requires_grad_(True)
        t = torch.randn(size, generator=generator)

        def ours():
            x.grad = None
            smoothl1_torch.smooth_l1_loss(x, t, beta=BETA).backward()

        def theirs():
            x.grad = None
            functional.smooth_l1_loss(x, t, beta=BETA).backward()

        # Both run on PyTorch's threads: each is also timed on one, to see a collapse. Those
        # are timed after, not in turns with them: changing PyTorch's thread count between
        # batches slowed its next batch on its threads (3x at 10^6 elements), which made
        # smoothl1.torch look faster than it is.
        functions = {"smoothl1.torch": ours, "PyTorch": theirs}
        timings = measure(functions, repeat)
        one_thread = measure({name: on_one_torch_thread(torch, function)
                              for name, function in functions.items()}, repeat)
        warnings = collapse_warnings(timings, one_thread)
        ours_time, torch_time = timings["smoothl1.torch"].best, timings["PyTorch"].best
        rows.append({"size": size, "dtype": "float32", "seconds": ours_time,
                     "PyTorch_seconds": torch_time, "PyTorch": torch_time / ours_time,
                     "warnings": list(warnings.values())})
        ratio = f"{'?':>9}" if warnings else f"{torch_time / ours_time:>8.2f}x"
        print(f"{size:>10} {_format_seconds(ours_time):>15} {_format_seconds(torch_time):>10} "
              f"{ratio} {_spread(timings):>+6.0%}", file=out)
        for message in warnings.values():
            print(f"  ! {size} float32: {message}", file=out)
        del x, t
    return rows


def c_api_row(dtype, repeat, size=10**6):
    """{dtype, c_api, python_api (seconds), ratio, same_bits} for the C API's loss_sum against
    the Python API's single-thread sum at `size` elements."""
    dtype = np.dtype(dtype)
    name = f"smoothl1_smooth_l1_loss_sum_{'f32' if dtype == np.float32 else 'f64'}"
    capsule = _smoothl1.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    signature = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_ssize_t, ctypes.c_void_p,
                                 ctypes.c_void_p, ctypes.c_double)
    kernel = signature(get_pointer(capsule, get_name(capsule)))
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(size) * 2).astype(dtype)
    t = rng.standard_normal(size).astype(dtype)

    def c_api():
        return kernel(size, x.ctypes.data, t.ctypes.data, BETA)

    def python_api():
        return smooth_l1_loss(x, t, beta=BETA, reduction="sum", n_threads=1)

    c_time, python_time = best_time(c_api, repeat), best_time(python_api, repeat)
    return {"dtype": dtype.name, "size": size, "c_api": c_time,
            "python_api": python_time, "ratio": c_time / python_time,
            "same_bits": dtype.type(c_api()).tobytes() == python_api().tobytes()}


def _format_seconds(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


MAX_SIZE = 10**8  # about a dozen float64 arrays of this size are alive at once: some 10 GB


def _sizes(text):
    """argparse type for --sizes: ``1e3,1e5`` -> [1000, 100000], each from 1 to MAX_SIZE."""
    sizes = [whole_number(value) for value in text.split(",")]
    for size in sizes:
        if not 1 <= size <= MAX_SIZE:
            raise argparse.ArgumentTypeError(f"each size must be from 1 to {MAX_SIZE:.0e}, "
                                             f"got {size}")
    return sizes


DESCRIPTION = """\
Time smoothl1 against the memory floor, NumPy, SciPy and PyTorch, on arrays of --sizes
elements. Each row is one size, dtype and operation:

  loss       smooth_l1_loss(x, t), the mean; floor: one thread reading x and t once
  loss+grad  smooth_l1_loss_and_grad(x, t, grad_out=g); floor: np.subtract(x, t, out=g)
  loss[::2]  loss of every other element of arrays twice as long (non-contiguous)

Then the C API against the Python API, every loss against its NumPy expression (--losses),
(N, 4) box rows (--boxes) and, when PyTorch is installed, smoothl1.torch against
F.smooth_l1_loss, forward and backward."""

EPILOG = """\
columns:
  smoothl1, median  smoothl1's best and median time per call over --repeat rounds
  vs floor          smoothl1's time over the one-thread floor's (1.0: one thread's memory
                    speed; below 1.0 where smoothl1's threads share the work)
  x NumPy, ...      the peer's time over smoothl1's (higher is better; - where it lacks
                    the operation)
  spread            the row's largest median over best, minus 1: how steady the timings were

The header gives the versions, the machine's load average and its CPU count. On a busy
machine a contender can collapse: its median far above its best, its threads far slower
than one thread, or a floor that smoothl1 beats by more than is possible. Its ratio is then
printed as ? with a line starting with ! that says why, never as a number.

examples:
  smoothl1 bench --sizes 1e3,1e6 --dtypes float32 --repeat 11
  smoothl1 bench --losses 0 --boxes 0 --no-torch
  smoothl1 bench --against /tmp/smoothl1-before/src"""


def main(argv=None):
    parser = OneLineArgumentParser(prog="smoothl1 bench", description=DESCRIPTION,
                                   epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=None,
                        help="comma-separated element counts (default 1e3,1e5,1e7; at most "
                             "1e8; with --against, the largest is the flat rows' size, "
                             "default 3e7)")
    parser.add_argument("--dtypes", default="float32,float64",
                        help="comma-separated dtypes (default float32,float64)")
    parser.add_argument("--repeat", type=whole_number, default=7,
                        help="timed repeats, 1 to 1000 (default 7)")
    parser.add_argument("--losses", type=whole_number, default=10**6,
                        help="elements of the loss rows, every loss against NumPy (default "
                             "1e6; 0 skips them)")
    parser.add_argument("--boxes", type=whole_number, default=1 << 20,
                        help="N of the (N, 4) box rows (default 1048576; 0 skips them)")
    parser.add_argument("--no-small", dest="small", action="store_false",
                        help="skip the small-call rows (n = 1 and 1000 against np.add, "
                             "docs/speed.md)")
    parser.add_argument("--no-torch", dest="torch", action="store_false",
                        help="skip the PyTorch rows (smoothl1.torch forward + backward against "
                             "F.smooth_l1_loss at 1e3, 1e6, 1e7 float32; run when PyTorch is "
                             "installed)")
    parser.add_argument("--linear-model", type=whole_number, default=0, metavar="N",
                        help="print only the robust-linear-model table at N rows, 50 features "
                             "(smoothl1.linear_model against scikit-learn, statsmodels, SGD; "
                             "needs scikit-learn; docs/linear_model.md used 1000000)")
    parser.add_argument("--against", metavar="DIR",
                        help="print only the regression table: this build against the smoothl1 "
                             "in DIR (a checkout's src/ built in place, or a site-packages), "
                             "in alternating processes (docs/speed.md)")
    parser.add_argument("--pairs", type=whole_number, default=4,
                        help="with --against: pairs of alternating processes, 1 to 100 "
                             "(default 4)")
    args = parser.parse_args(argv)
    dtypes = []
    for name in args.dtypes.split(","):
        if name not in ("float32", "float64"):
            parser.error(f"--dtypes: {name!r} is not float32 or float64")
        dtypes.append(np.dtype(name))
    if not 1 <= args.repeat <= 1000:
        parser.error(f"--repeat must be from 1 to 1000, got {args.repeat}")
    for option, value in (("--boxes", args.boxes), ("--losses", args.losses)):
        if value < 0:
            parser.error(f"{option} must be >= 0 (0 skips those rows), got {value}")
    if not 1 <= args.pairs <= 100:
        parser.error(f"--pairs must be from 1 to 100, got {args.pairs}")
    if args.against is not None:
        from . import _bench_regression
        flat_size = max(args.sizes) if args.sizes else 3 * 10**7
        try:
            _bench_regression.run(args.against, flat_size, args.losses or 10**6, args.pairs,
                                  args.repeat)
        except RuntimeError as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")
        return 0
    if args.sizes is None:
        args.sizes = [10**3, 10**5, 10**7]
    if args.linear_model > 0:
        from . import _bench_linear_model   # scikit-learn is needed only here
        _bench_linear_model.run(args.linear_model, dtypes, sys.stdout)
        return 0
    try:
        run(args.sizes, dtypes, args.repeat)
        if args.losses > 0:
            loss_rows(min(args.losses, MAX_SIZE), dtypes, args.repeat)
        if args.boxes > 0:
            _bench_boxes.run(min(args.boxes, MAX_SIZE // 4), dtypes, args.repeat, best_time,
                             sys.stdout)
        if args.small:
            _bench_small.run(args.repeat, measure)
        if args.torch:
            torch_rows(TORCH_SIZES, args.repeat)
    except MemoryError:
        parser.exit(2, f"{parser.prog}: error: not enough memory for --sizes "
                       f"{max(args.sizes)} or --boxes {args.boxes}; try smaller ones\n")
    return 0

if __name__ == "__main__":
    sys.exit(main())
