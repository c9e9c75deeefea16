"""``python -m smoothl1 bench``: smoothl1 against the memory floor, NumPy, SciPy and PyTorch.

Every contender gets the same input arrays and one warm-up call; a row's contenders are then
timed in turns, ``--repeat`` calls each, and the row prints smoothl1's best and median time.
Two operations are measured (the table: ``smoothl1.cli._bench_flat``):

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

The contenders of a row are timed in turns (one batch of each, ``--repeat`` rounds;
``smoothl1.cli._bench_timing``), so a burst of load slows them alike. Each row prints
smoothl1's best and median time and the row's spread (the largest median over best among its
contenders). A contender that collapsed while timed (``collapse_warnings``: its median far
above its best, its threads far slower than one thread, or a floor that smoothl1 beats by more
than is possible) has its ratio printed as ``?`` with a warning line saying why, never as a
number. The header gives the machine's load average and CPU count.

After the table, one row per dtype compares the C API with the Python API at 10^6 elements on
one thread: ``smoothl1_smooth_l1_loss_sum_<f32|f64>`` called through its capsule in
``smoothl1._smoothl1.__pyx_capi__`` (as C and Cython consumers call it; ctypes adds about a
microsecond) against ``smooth_l1_loss(x, t, reduction="sum", n_threads=1)``, with the same bits.

Then the loss rows (``--losses N``, default 10^6; ``smoothl1.cli._bench_peers``): every loss
of the table of losses, its mean on one thread against the stable NumPy expression a NumPy
user writes for it (the row's ``numpy_mean``: for log-cosh ``np.logaddexp(q, -q) - log(2)``,
for Cauchy ``np.log1p(q**2)``), with the time per element.

Then the box rows (``--boxes N``, see ``smoothl1.cli._bench_boxes``): ``(N, 4)`` arrays with
broadcast operands, reductions along an axis and per-element parameters, each against the
same call with a full-size operand, a full reduction or a scalar parameter, and, for the rows
that move more bytes than that baseline, against the floor those bytes set.

Then the small-call rows (``--no-small`` skips them; ``smoothl1.cli._bench_small``): calls
of 1 and 1,000 elements against ``np.add(a, b, out=o)``, with NumPy, SciPy and PyTorch per call.

Then, when PyTorch is installed, the PyTorch rows (``--no-torch`` skips them;
``smoothl1.cli._bench_peers``):
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
import sys

import numpy as np

from . import _bench_boxes, _bench_flat, _bench_peers, _bench_small, _bench_timing
from ._arguments import OneLineArgumentParser, whole_number

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
        _bench_flat.run(args.sizes, dtypes, args.repeat)
        if args.losses > 0:
            _bench_peers.loss_rows(min(args.losses, MAX_SIZE), dtypes, args.repeat)
        if args.boxes > 0:
            _bench_boxes.run(min(args.boxes, MAX_SIZE // 4), dtypes, args.repeat,
                             _bench_timing.best_time, sys.stdout)
        if args.small:
            _bench_small.run(args.repeat, _bench_timing.measure)
        if args.torch:
            _bench_peers.torch_rows(_bench_peers.TORCH_SIZES, args.repeat)
    except MemoryError:
        parser.exit(2, f"{parser.prog}: error: not enough memory for --sizes "
                       f"{max(args.sizes)} or --boxes {args.boxes}; try smaller ones\n")
    return 0

if __name__ == "__main__":
    sys.exit(main())
