"""The main table of ``python -m smoothl1 bench`` (docs/speed.md, "Measure it on your
machine"; its operations, floors and peers: ``smoothl1.cli.bench``'s docstring): ``run``
prints the header (versions, the machine's load), one row per size, dtype and operation,
smoothl1 against the one-thread memory floor and its peers, then one row per dtype of the C API
against the Python API (``c_api_row``).
"""
import ctypes
import os
import platform
import sys

import numpy as np

from .. import __version__, _smoothl1, simd_build, smooth_l1_loss, smooth_l1_loss_and_grad
from ._bench_timing import (_format_seconds, _optional, _spread, best_time, collapse_warnings,
                            measure, on_one_torch_thread)

BETA = 1.0


def numpy_loss(x, t):
    d = np.abs(x - t)
    return np.where(d < BETA, 0.5 * d * d / BETA, d - 0.5 * BETA).mean()


def numpy_loss_and_grad(x, t):
    diff = x - t
    d = np.abs(diff)
    loss = np.where(d < BETA, 0.5 * d * d / BETA, d - 0.5 * BETA).mean()
    grad = np.where(d < BETA, diff / BETA, np.sign(diff)) / diff.size
    return loss, grad


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
