"""The command line: ``python -m smoothl1 {loss,demo,plot,bench} ...`` (also ``smoothl1 ...``).

Design:

1. ``main(argv)`` returns an exit status: 0 on success, 2 for a user error (a missing,
   unreadable, corrupt or too large file, a bad shape, dtype, option or parameter), 1 when
   stdout is closed early (``smoothl1 demo | head``: quiet, as Python's docs on SIGPIPE
   advise). A user error is one line on stderr, ``smoothl1 <command>: error: <message>``,
   never a traceback; the library's own ``TypeError``/``ValueError`` messages are printed as
   they are, since they already name the argument, what was given and what is accepted.
   Ctrl-C stops quietly with status 130.
2. This module parses, checks options and dispatches; each concern lives in its own module,
   imported only by the command that needs it, so ``--help`` and ``loss`` start fast:
   ``_arguments`` holds the one-line errors and option types, ``_files`` reads and writes the
   array files, ``demo`` fits the regression, ``figure`` draws the plot (matplotlib),
   ``bench`` times the kernels.
3. ``bench`` forwards everything after it to ``smoothl1.cli.bench.main(argv)`` untouched, so
   the benchmark owns its own options and ``--help``; it builds its parser with
   ``OneLineArgumentParser`` and ``whole_number`` from ``_arguments``, as this module does,
   so its errors read the same.
"""
import argparse
import importlib
import math
import os
import sys
import textwrap

from ._arguments import (
    EXIT_USAGE,
    OneLineArgumentParser,
    UserError,
    one_line_message,
    single_line,
    whole_number,
)
from .._core.losses import LOSSES, NAMES, loss_named

EXIT_OK = 0
EXIT_BROKEN_PIPE = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C
DEFAULT_LOSS = "smooth_l1"
_REDUCTIONS = ("mean", "sum", "none")
_DTYPES = ("float32", "float64")
DEMO_MAX_BYTES = 2**31   # the demo's data must fit in this (see demo.data_bytes)
PLOT_DPI = (10, 1000)    # beyond 1000 dpi the figure's pixels alone take over 200 MB


def _check_at_least(option, value, least):
    if value is not None and value < least:
        raise UserError(f"{option} must be at least {least}, got {value}")


# ---------------------------------------------------------------------------------------------
# loss


def _listed(words, last="and"):
    """"a, b and c"."""
    return ", ".join(words[:-1]) + f" {last} " + words[-1] if len(words) > 1 else words[0]


def _parameters():
    """{parameter name: the rows of the losses that take it}, in the table's order."""
    by_name = {}
    for loss in LOSSES:
        by_name.setdefault(loss.param, []).append(loss)
    return by_name


def _add_loss_parser(subparsers):
    titles = _listed([loss.title for loss in LOSSES], "or")
    parser = subparsers.add_parser(
        "loss", help="compute a loss (and its gradient) from array files",
        description=textwrap.fill(
                    f"Compute the {titles} loss of PRED against TARGET and print it. "
                    "Files: .npy, .npz (pick the array with --key NAME or FILE.npz:NAME) and "
                    ".csv (comma-separated numbers, one row per line: N lines of M values are "
                    "an (N, M) array, so a one-column file is (N, 1)); - reads CSV text from "
                    "standard input (for one input at most). Regular files only, up to "
                    "--max-bytes each. TARGET and --weight may also be a number. Arrays must "
                    "share one dtype (float32 or float64); nothing is cast unless you ask with "
                    "--dtype.", 80),
        epilog="examples:\n"
               "  smoothl1 loss pred.npy target.npy\n"
               "  smoothl1 loss pred.npy target.npy --loss huber --delta 2 --reduction sum\n"
               "  smoothl1 loss data.npz:pred data.npz:target --beta 0.1 --grad-out grad.npy\n"
               "  smoothl1 loss pred.csv target.csv --weight w.csv --reduction none\n"
               "  cat pred.csv | smoothl1 loss - target.csv --grad-out - > grad.csv\n"
               "  smoothl1 loss pred_f64.npy target_f32.npy --dtype float64",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pred", metavar="PRED", help="predictions (the loss's input)")
    parser.add_argument("target", metavar="TARGET", help="targets: a file or a number")
    parser.add_argument("--loss", default=DEFAULT_LOSS, metavar="{" + ",".join(NAMES) + "}",
                        help=f"which loss (default: {DEFAULT_LOSS})")
    # One option per parameter name (--beta, --delta), for every loss that takes it.
    for name, losses in _parameters().items():
        first = losses[0]
        parser.add_argument(f"--{name}", type=float, default=None,
                            help=f"the parameter of {_listed([loss.title for loss in losses])}"
                                 f", {first.accepted} (default {first.default})")
    parser.add_argument("--reduction", default="mean", metavar="{mean,sum,none}",
                        help="mean (default), sum, or none (elementwise losses)")
    parser.add_argument("--weight", metavar="FILE",
                        help="weights: a file or a number, of PRED's shape or one that "
                             "broadcasts to it (a one-column CSV weighs each row)")
    parser.add_argument("--key", metavar="NAME",
                        help="array name in .npz files given without ':NAME'")
    parser.add_argument("--dtype", choices=_DTYPES, default=None,
                        help="convert every array to this dtype first (default: no conversion; "
                             "mismatched dtypes are an error; CSV is read as PRED's dtype)")
    parser.add_argument("--grad-out", metavar="FILE",
                        help="write the gradient of the reduced loss w.r.t. PRED to FILE "
                             "(.npy or .csv, by its name; - writes CSV to standard output, "
                             "which then holds only that)")
    parser.add_argument("--out", metavar="FILE",
                        help="with --reduction none: write the elementwise losses to FILE "
                             "(.npy or .csv; - for CSV on standard output) instead of printing "
                             "them")
    parser.add_argument("--threads", type=whole_number, default=None, metavar="N",
                        help="threads for the computation, >= 1 (default: chosen by size)")
    parser.add_argument("--max-bytes", type=whole_number, default=None, metavar="N",
                        help="refuse an input file (or a .npz array) larger than N bytes "
                             "(default 2**30 = 1 GiB; e.g. 8e9)")
    parser.set_defaults(run=_run_loss)
    return parser


def _parse_number_or_file(spec, *, label, key, **read_options):
    """TARGET and --weight may be a file or a plain number (a scalar, as in the Python API)."""
    from . import _files

    if spec != _files.STANDARD_STREAM and not os.path.lexists(_files.split_key(spec, key)[0]):
        try:
            return float(spec)
        except ValueError:
            pass
    return _files.load_array(spec, key=key, label=label, **read_options)


def _run_loss(args):
    import numpy as np

    import smoothl1
    from . import _files

    if args.loss not in NAMES:
        raise UserError(f"--loss must be one of {', '.join(NAMES)}, got {args.loss!r}")
    chosen = loss_named(args.loss)
    if args.reduction not in _REDUCTIONS:
        raise UserError(f"--reduction must be one of {', '.join(_REDUCTIONS)}, got "
                        f"{args.reduction!r}")
    for name, losses in _parameters().items():
        if name != chosen.param and getattr(args, name) is not None:
            owner = losses[0]
            raise UserError(f"--{name} is {owner.title}'s parameter; {chosen.title} takes "
                            f"--{chosen.param} (or use --loss {owner.name})")
    _check_at_least("--threads", args.threads, 1)
    _check_at_least("--max-bytes", args.max_bytes, 0)
    if args.out is not None and args.reduction != "none":
        raise UserError("--out writes elementwise losses: it needs --reduction none")
    inputs = {"PRED": args.pred, "TARGET": args.target, "--weight": args.weight}
    from_stdin = [label for label, spec in inputs.items() if spec == _files.STANDARD_STREAM]
    if len(from_stdin) > 1:
        raise UserError(f"only one input can be - (standard input holds one CSV text), but "
                        f"{_listed(from_stdin)} are: give the others as files")
    outputs = {option: path for option, path in (("--grad-out", args.grad_out),
                                                  ("--out", args.out)) if path is not None}
    for option, path in outputs.items():
        _files.check_output_path(option, path)
    if len(outputs) == 2:
        if args.out == args.grad_out == _files.STANDARD_STREAM:
            raise UserError("--out and --grad-out are both - (standard output), which can "
                            "hold one CSV table: write one of them to a file")
        if os.path.abspath(args.out) == os.path.abspath(args.grad_out):
            raise UserError(f"--out and --grad-out name the same file {args.out!r}")
    # An output on stdout is all that stdout holds, so a pipe gets a clean CSV table.
    stdout_is_an_output = _files.STANDARD_STREAM in outputs.values()

    read_options = {"key": args.key, "dtype": args.dtype}
    if args.max_bytes is not None:
        read_options["max_bytes"] = args.max_bytes
    pred = _files.load_array(args.pred, label="PRED", **read_options)
    for option, path in outputs.items():   # every output has PRED's shape
        _files.check_output_shape(option, path, pred.shape)
    # CSV text has no dtype of its own: read it as PRED's, so a float32 .npy PRED works with a
    # .csv TARGET. Binary files keep theirs, and a mismatch is refused by the library.
    read_options["text_dtype"] = pred.dtype if pred.dtype.kind == "f" else None
    target = _parse_number_or_file(args.target, label="TARGET", **read_options)
    weight = None
    if args.weight is not None:
        weight = _parse_number_or_file(args.weight, label="--weight", **read_options)

    param = getattr(args, chosen.param)
    options = {"reduction": args.reduction, "weight": weight, "n_threads": args.threads,
               chosen.param: chosen.default if param is None else param}
    loss_fn = getattr(smoothl1, f"{chosen.name}_loss")
    both_fn = getattr(smoothl1, f"{chosen.name}_loss_and_grad")
    try:
        if args.grad_out is not None:
            loss, grad = both_fn(pred, target, **options)
        else:
            loss, grad = loss_fn(pred, target, **options), None
    except TypeError as error:
        message = one_line_message(error)
        if "dtype" in message and args.dtype is None:
            message += "; or pass --dtype float32/float64 to convert every array"
        raise UserError(message) from None
    except ValueError as error:
        message = one_line_message(error)
        read_as_csv = [spec for spec in inputs.values()
                       if spec is not None and _files.is_csv(spec)]
        if "shape" in message and read_as_csv:
            message += ("; a CSV file keeps its shape: N lines of M values are (N, M), one "
                        "column (N, 1), one line (1, M)")
        raise UserError(message) from None

    if grad is not None:
        _files.save_array("--grad-out", args.grad_out, grad)
    if args.out is not None:
        _files.save_array("--out", args.out, loss)
    elif stdout_is_an_output:
        pass   # stdout holds the gradient's CSV alone
    elif args.reduction != "none":
        print(loss)
    else:
        with np.printoptions(threshold=200):
            print(loss)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# demo


def _add_demo_parser(subparsers):
    parser = subparsers.add_parser(
        "demo", help="robust regression: least squares vs smooth L1 on data with outliers",
        description="Fit a linear model to seeded synthetic data in which a fraction of the "
                    "targets are gross outliers, once by least squares and once by minimising "
                    "the mean smooth L1 loss, and print both fits next to the truth.")
    parser.add_argument("--n", type=whole_number, default=20000,
                        help="data points, >= 2 (default 20000)")
    parser.add_argument("--features", type=whole_number, default=3,
                        help="features, >= 1 (default 3)")
    parser.add_argument("--outliers", type=float, default=0.1,
                        help="fraction of gross outliers, 0 <= f < 0.5 (default 0.1)")
    parser.add_argument("--beta", type=float, default=0.5, help="smooth L1 beta (default 0.5)")
    parser.add_argument("--seed", type=whole_number, default=0,
                        help="random seed, >= 0 (default 0)")
    parser.add_argument("--optimizer", choices=("auto", "lbfgs", "gd"), default="auto",
                        help="auto: L-BFGS from SciPy if installed, else accelerated gradient "
                             "descent in NumPy (gd)")
    parser.set_defaults(run=_run_demo)
    return parser


def _run_demo(args):
    from . import demo

    _check_at_least("--n", args.n, 2)
    _check_at_least("--features", args.features, 1)
    _check_at_least("--seed", args.seed, 0)
    if not 0.0 <= args.outliers < 0.5:
        raise UserError(f"--outliers must be a fraction in [0, 0.5), got {args.outliers}")
    if not 0.0 < args.beta < math.inf:
        # beta = 0 (plain L1) is valid for the library, but not differentiable for the fit.
        raise UserError(f"--beta must be a finite number > 0 for the demo, got {args.beta}")
    needed = demo.data_bytes(args.n, args.features)
    if needed > DEMO_MAX_BYTES:
        raise UserError(f"--n {args.n} with --features {args.features} needs about "
                        f"{needed / 1e9:.3g} GB of memory; the demo allows "
                        f"{DEMO_MAX_BYTES / 1e9:.3g} GB: lower --n or --features")
    optimizer = args.optimizer
    if optimizer != "gd":
        have_scipy = demo.have_scipy()
        if optimizer == "lbfgs" and not have_scipy:
            raise UserError("--optimizer lbfgs needs SciPy (pip install scipy); "
                            "or use --optimizer gd")
        optimizer = "lbfgs" if have_scipy else "gd"
    demo.report(args.n, args.features, args.outliers, args.beta, args.seed, optimizer)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# plot


def _add_plot_parser(subparsers):
    parser = subparsers.add_parser(
        "plot", help="draw loss and gradient curves of L1, L2, smooth L1 and Huber",
        description="Draw the loss and its derivative for L2, L1, smooth L1 (a few beta) and "
                    "Huber side by side, computed by smoothl1 itself, and save the figure. "
                    "Needs matplotlib: pip install 'smoothl1[plot]'.")
    parser.add_argument("output", metavar="OUT", help="image file (.png, .svg, .pdf, ...)")
    parser.add_argument("--dpi", type=whole_number, default=150,
                        help=f"resolution, {PLOT_DPI[0]} to {PLOT_DPI[1]} (default 150)")
    parser.set_defaults(run=_run_plot)
    return parser


def _run_plot(args):
    from . import figure

    if not PLOT_DPI[0] <= args.dpi <= PLOT_DPI[1]:
        raise UserError(f"--dpi must be from {PLOT_DPI[0]} to {PLOT_DPI[1]}, got {args.dpi}")
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise UserError(f"OUT {args.output!r}: folder {folder!r} does not exist")
    if os.path.isdir(args.output):
        raise UserError(f"OUT {args.output!r} is a directory; give an image file name")
    try:
        figure.save_losses_figure(args.output, args.dpi)
    except ImportError:
        raise UserError("the plot needs matplotlib, which is not installed: "
                        "pip install 'smoothl1[plot]' (or pip install matplotlib)") from None
    except (OSError, ValueError) as error:
        raise UserError(f"cannot write {args.output!r}: {one_line_message(error)}") from None
    print(f"wrote {args.output}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# bench and the top level


def _run_bench(argv):
    try:
        bench = importlib.import_module(__package__ + ".bench")
    except ModuleNotFoundError as error:
        if error.name != __package__ + ".bench":
            raise  # bench.py exists but one of its own imports is missing: show it
        print("smoothl1 bench: error: the benchmark module (smoothl1.cli.bench) is not part of "
              "this installation", file=sys.stderr)
        return EXIT_USAGE
    return bench.main(list(argv))


def build_parser():
    parser = OneLineArgumentParser(
        prog="smoothl1",
        description=f"{_listed([loss.title for loss in LOSSES])} losses and gradients for "
                    f"NumPy arrays.",
        epilog="Run 'smoothl1 COMMAND --help' for a command's options. "
               "Start with 'smoothl1 demo'.")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_loss_parser(subparsers)
    _add_demo_parser(subparsers)
    _add_plot_parser(subparsers)
    subparsers.add_parser(
        "bench", add_help=False,
        help="time smoothl1 against NumPy (options: smoothl1 bench --help)")
    return parser


def version_text():
    import platform

    import numpy as np

    from .. import __version__, _smoothl1, simd_build
    return (f"smoothl1 {__version__} (kernels: {simd_build()}, threads: "
            f"{_smoothl1.max_threads()}), numpy {np.__version__}, "
            f"Python {platform.python_version()}")


def _dispatch_command(argv):
    if argv and argv[0] == "bench":
        return _run_bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(version_text())
        return EXIT_OK
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return args.run(args)
    except UserError as error:
        message = error
    except MemoryError:
        message = "not enough memory for this command"
    print(f"smoothl1 {args.command}: error: {single_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def _silence_stdout():
    """After EPIPE, point stdout at /dev/null so the flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass  # stdout is not a real file (a test's capture): nothing will flush it at exit


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            status = _dispatch_command(argv)
        except SystemExit as exit:  # argparse after --help or a usage error
            status = exit.code
        if sys.stdout is not None:  # None when started with stdout closed (>&-)
            sys.stdout.flush()  # a write error shows here, not at exit as a traceback
    except BrokenPipeError:
        # The reader left (smoothl1 demo | head): stop quietly, as Python's docs advise.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as error:
        # Files are UserErrors already; what is left is stdout itself (> /dev/full, a full disk).
        _silence_stdout()
        print(f"smoothl1: error: cannot write the output: {error.strerror or error}",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # Ctrl-C: stop quietly, with the shell's status for SIGINT
    return status
