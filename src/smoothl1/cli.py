"""The command line: ``python -m smoothl1 {loss,demo,plot,bench} ...`` (also ``smoothl1 ...``).

Design:

1. ``main(argv)`` returns an exit status: 0 on success, 2 for a user error (a missing or
   unreadable file, a bad shape, dtype or parameter). User errors are one line on stderr,
   ``smoothl1 <command>: error: <message>``, never a traceback; the library's own
   ``TypeError``/``ValueError`` messages are printed as they are, since they already name the
   argument, what was given and what is accepted.
2. Each subcommand is one ``_run_<name>(args)`` function. Heavy imports (SciPy, matplotlib, the
   benchmark module) happen inside the subcommand that needs them, so ``loss`` starts fast.
3. ``bench`` forwards everything after it to ``smoothl1.bench.main(argv)`` untouched, so the
   benchmark owns its own options and ``--help``.
"""
import argparse
import importlib
import os
import sys
import textwrap
import time

import numpy as np

EXIT_OK = 0
EXIT_USAGE = 2
_LOSSES = ("smooth_l1", "huber")
_REDUCTIONS = ("mean", "sum", "none")
_DTYPES = ("float32", "float64")


class UserError(Exception):
    """A mistake in the command line or its files: printed as one line, exit status 2."""


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line too (argparse prints the usage first)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------------------------
# Reading arrays


def _split_key(spec, default_key):
    """``data.npz:pred`` -> ("data.npz", "pred"); other paths keep ``default_key``."""
    head, sep, tail = spec.rpartition(":")
    if sep and head.lower().endswith(".npz") and tail:
        return head, tail
    return spec, default_key


def load_array(spec, *, key=None, dtype=None, text_dtype=None, what="file"):
    """Read one array from ``.npy``, ``.npz`` (``FILE.npz:KEY`` or ``key``) or ``.csv``.

    ``dtype`` (from ``--dtype``) converts whatever was read, explicitly requested by the user.
    Without it, binary files keep their dtype (the library refuses a mismatch) and CSV text,
    which has no dtype, is parsed as ``text_dtype``.
    """
    path, key = _split_key(spec, key)
    if not os.path.exists(path):
        raise UserError(f"{what} {path!r} not found")
    if os.path.isdir(path):
        raise UserError(f"{what} {path!r} is a directory, not a .npy, .npz or .csv file")
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            array = _load_npz_member(path, key, what)
        elif suffix == ".csv":
            array = np.loadtxt(path, delimiter=",", dtype=dtype or text_dtype or np.float64,
                               ndmin=1, comments="#")
        else:
            raise UserError(f"{what} {path!r}: unsupported file type {suffix or '(none)'!r}; "
                            f"use .npy, .npz (with --key or FILE.npz:KEY) or .csv")
    except UserError:
        raise
    except (OSError, ValueError, EOFError) as error:
        raise UserError(f"cannot read {what} {path!r}: {_one_line(error)}") from None
    if dtype is not None and array.dtype != dtype:
        if array.dtype.kind not in "biuf":
            raise UserError(f"{what} {path!r} has dtype {array.dtype}, which --dtype {dtype} "
                            f"cannot convert (real numbers only)")
        array = array.astype(dtype)
    return array


def _load_npz_member(path, key, what):
    with np.load(path, allow_pickle=False) as archive:
        names = list(archive.files)
        if key is None:
            if len(names) == 1:
                return archive[names[0]]
            raise UserError(f"{what} {path!r} holds {len(names)} arrays "
                            f"({', '.join(names) or 'none'}); choose one with --key NAME "
                            f"or {path}:NAME")
        if key not in names:
            raise UserError(f"{what} {path!r} has no array {key!r}; it holds: "
                            f"{', '.join(names) or 'nothing'}")
        return archive[key]


def _one_line(error):
    return " ".join(str(error).split())


def _parse_target(spec, *, key, dtype, text_dtype):
    """TARGET may be a file or a plain number (a scalar target, as in the Python API)."""
    if not os.path.exists(_split_key(spec, key)[0]):
        try:
            return float(spec)
        except ValueError:
            pass
    return load_array(spec, key=key, dtype=dtype, text_dtype=text_dtype, what="TARGET")


# ---------------------------------------------------------------------------------------------
# loss


def _add_loss_parser(subparsers):
    parser = subparsers.add_parser(
        "loss", help="compute a loss (and its gradient) from array files",
        description=textwrap.fill(
                    "Compute the smooth L1 or Huber loss of PRED against TARGET and print it. "
                    "Files: .npy, .npz (pick the array with --key NAME or FILE.npz:NAME) and "
                    ".csv (comma-separated numbers, one row per line). TARGET may also be a "
                    "number. Arrays must share one dtype (float32 or float64); nothing is "
                    "cast unless you ask with --dtype.", 80),
        epilog="examples:\n"
               "  smoothl1 loss pred.npy target.npy\n"
               "  smoothl1 loss pred.npy target.npy --loss huber --delta 2 --reduction sum\n"
               "  smoothl1 loss data.npz:pred data.npz:target --beta 0.1 --grad-out grad.npy\n"
               "  smoothl1 loss pred.csv target.csv --weight w.csv --reduction none\n"
               "  smoothl1 loss pred_f64.npy target_f32.npy --dtype float64",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pred", metavar="PRED", help="predictions (the loss's input)")
    parser.add_argument("target", metavar="TARGET", help="targets: a file or a number")
    parser.add_argument("--loss", default="smooth_l1", metavar="{smooth_l1,huber}",
                        help="which loss (default: smooth_l1)")
    parser.add_argument("--beta", type=float, default=None,
                        help="smooth L1's quadratic-zone width, >= 0 (default 1.0; 0 is L1)")
    parser.add_argument("--delta", type=float, default=None,
                        help="Huber's quadratic-zone width, > 0 (default 1.0)")
    parser.add_argument("--reduction", default="mean", metavar="{mean,sum,none}",
                        help="mean (default), sum, or none (elementwise losses)")
    parser.add_argument("--weight", metavar="FILE", help="elementwise weights (file or number)")
    parser.add_argument("--key", metavar="NAME",
                        help="array name in .npz files given without ':NAME'")
    parser.add_argument("--dtype", choices=_DTYPES, default=None,
                        help="convert every array to this dtype first (default: no conversion; "
                             "mismatched dtypes are an error; CSV is read as PRED's dtype)")
    parser.add_argument("--grad-out", metavar="FILE",
                        help="write the gradient of the reduced loss w.r.t. PRED to FILE (.npy)")
    parser.add_argument("--out", metavar="FILE",
                        help="with --reduction none: write the elementwise losses to FILE "
                             "(.npy) instead of printing them")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for the computation (default: chosen by size)")
    parser.set_defaults(run=_run_loss)
    return parser


def _check_output_path(option, path):
    if not path.lower().endswith(".npy"):
        raise UserError(f"{option} {path!r}: the output is written as .npy; give a name "
                        f"ending in .npy")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"{option} {path!r}: folder {folder!r} does not exist")


def _run_loss(args):
    import smoothl1

    if args.loss not in _LOSSES:
        raise UserError(f"--loss must be one of {', '.join(_LOSSES)}, got {args.loss!r}")
    if args.reduction not in _REDUCTIONS:
        raise UserError(f"--reduction must be one of {', '.join(_REDUCTIONS)}, got "
                        f"{args.reduction!r}")
    if args.loss == "smooth_l1" and args.delta is not None:
        raise UserError("--delta is Huber's parameter; smooth L1 takes --beta "
                        "(or use --loss huber)")
    if args.loss == "huber" and args.beta is not None:
        raise UserError("--beta is smooth L1's parameter; Huber takes --delta "
                        "(or use --loss smooth_l1)")
    if args.out is not None and args.reduction != "none":
        raise UserError("--out writes elementwise losses: it needs --reduction none")
    for option, path in (("--grad-out", args.grad_out), ("--out", args.out)):
        if path is not None:
            _check_output_path(option, path)

    pred = load_array(args.pred, key=args.key, dtype=args.dtype, what="PRED")
    # CSV text has no dtype of its own: read it as PRED's, so a float32 .npy PRED works with a
    # .csv TARGET. Binary files keep theirs, and a mismatch is refused by the library.
    text_dtype = pred.dtype if pred.dtype.kind == "f" else None
    target = _parse_target(args.target, key=args.key, dtype=args.dtype, text_dtype=text_dtype)
    weight = None
    if args.weight is not None:
        weight = _parse_target(args.weight, key=args.key, dtype=args.dtype,
                               text_dtype=text_dtype)

    options = {"reduction": args.reduction, "weight": weight, "n_threads": args.threads}
    if args.loss == "smooth_l1":
        options["beta"] = 1.0 if args.beta is None else args.beta
        loss_fn, both_fn = smoothl1.smooth_l1_loss, smoothl1.smooth_l1_loss_and_grad
    else:
        options["delta"] = 1.0 if args.delta is None else args.delta
        loss_fn, both_fn = smoothl1.huber_loss, smoothl1.huber_loss_and_grad
    try:
        if args.grad_out is not None:
            loss, grad = both_fn(pred, target, **options)
        else:
            loss, grad = loss_fn(pred, target, **options), None
    except TypeError as error:
        message = _one_line(error)
        if "dtype" in message and args.dtype is None:
            message += "; or pass --dtype float32/float64 to convert every array"
        raise UserError(message) from None
    except ValueError as error:
        raise UserError(_one_line(error)) from None

    if grad is not None:
        np.save(args.grad_out, grad)
    if args.reduction != "none":
        print(loss)
    elif args.out is not None:
        np.save(args.out, loss)
    else:
        with np.printoptions(threshold=200):
            print(loss)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# demo: robust linear regression


def make_regression_data(n, n_features, outlier_fraction, seed, noise=0.3):
    """A linear model ``y = X @ coef + intercept + noise`` with a fraction of gross outliers.

    The outliers replace ``y`` by values from 20 to 60 that do not depend on ``X`` (a stuck
    sensor, a unit mix-up): least squares is pulled towards them, both its slopes (shrunk
    towards zero) and its intercept. Returns ``X1`` (with a leading column of ones), ``y``, the
    true coefficients (intercept first) and the outlier mask.
    """
    rng = np.random.default_rng(seed)
    true_coef = np.round(rng.uniform(-3.0, 3.0, size=n_features + 1), 1)
    X1 = np.empty((n, n_features + 1))
    X1[:, 0] = 1.0
    X1[:, 1:] = rng.standard_normal((n, n_features))
    y = X1 @ true_coef + noise * rng.standard_normal(n)
    is_outlier = np.zeros(n, dtype=bool)
    n_outliers = int(round(outlier_fraction * n))
    is_outlier[rng.choice(n, size=n_outliers, replace=False)] = True
    y[is_outlier] = rng.uniform(20.0, 60.0, size=n_outliers)
    return X1, y, true_coef, is_outlier


class SmoothL1Objective:
    """``coef -> (mean smooth L1 of X1 @ coef - y, its gradient)`` with preallocated buffers.

    The prediction and the residual gradient live in two buffers of ``y``'s size made once;
    each evaluation writes into them (``np.matmul(out=)``, ``grad_out=``), so an optimiser step
    allocates nothing of the data's size, only the ``n_params``-sized gradient it returns.
    """

    def __init__(self, X1, y, beta):
        import smoothl1

        self._loss_and_grad = smoothl1.smooth_l1_loss_and_grad
        self.X1, self.y, self.beta = X1, y, beta
        self.pred = np.empty_like(y)
        self.residual_grad = np.empty_like(y)
        self.n_evaluations = 0

    def __call__(self, coef):
        np.matmul(self.X1, coef, out=self.pred)
        loss, _ = self._loss_and_grad(self.pred, self.y, beta=self.beta,
                                      grad_out=self.residual_grad)
        self.n_evaluations += 1
        return float(loss), self.residual_grad @ self.X1


def fit_lbfgs(objective, coef0, tol=1e-10, max_iter=1000):
    # Imported by name: SciPy is optional, and type checkers need no SciPy stubs for it.
    optimize = importlib.import_module("scipy.optimize")
    result = optimize.minimize(objective, coef0, jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "gtol": tol, "ftol": 1e-15})
    return result.x


def fit_accelerated_gd(objective, coef0, lipschitz, tol=1e-10, max_iter=20000):
    """Nesterov's accelerated gradient descent with step ``1 / lipschitz`` (NumPy only).

    The mean smooth L1 of ``X1 @ coef - y`` has a gradient that is Lipschitz with constant
    ``||X1||_2**2 / (n * beta)``, so this step always descends; the momentum makes it converge
    in a few hundred steps on well-conditioned data.
    """
    coef = coef0.copy()
    previous = coef.copy()
    lookahead = coef.copy()
    step = 1.0 / lipschitz
    for k in range(1, max_iter + 1):
        _, grad = objective(lookahead)
        previous[:] = coef
        np.subtract(lookahead, step * grad, out=coef)
        if np.max(np.abs(grad)) < tol:
            break
        np.subtract(coef, previous, out=lookahead)
        lookahead *= (k - 1) / (k + 2)
        lookahead += coef
    return coef


def _add_demo_parser(subparsers):
    parser = subparsers.add_parser(
        "demo", help="robust regression: least squares vs smooth L1 on data with outliers",
        description="Fit a linear model to seeded synthetic data in which a fraction of the "
                    "targets are gross outliers, once by least squares and once by minimising "
                    "the mean smooth L1 loss, and print both fits next to the truth.")
    parser.add_argument("--n", type=int, default=20000, help="data points (default 20000)")
    parser.add_argument("--features", type=int, default=3, help="features (default 3)")
    parser.add_argument("--outliers", type=float, default=0.1,
                        help="fraction of gross outliers, 0 <= f < 0.5 (default 0.1)")
    parser.add_argument("--beta", type=float, default=0.5, help="smooth L1 beta (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--optimizer", choices=("auto", "lbfgs", "gd"), default="auto",
                        help="auto: L-BFGS from SciPy if installed, else accelerated gradient "
                             "descent in NumPy (gd)")
    parser.set_defaults(run=_run_demo)
    return parser


def _run_demo(args):
    if args.n < 2:
        raise UserError(f"--n must be at least 2, got {args.n}")
    if args.features < 1:
        raise UserError(f"--features must be at least 1, got {args.features}")
    if not 0.0 <= args.outliers < 0.5:
        raise UserError(f"--outliers must be a fraction in [0, 0.5), got {args.outliers}")
    if not args.beta > 0.0 or not np.isfinite(args.beta):
        # beta = 0 (plain L1) is valid for the library, but not differentiable for the fit.
        raise UserError(f"--beta must be a finite number > 0 for the demo, got {args.beta}")
    optimizer = args.optimizer
    if optimizer != "gd":
        try:
            importlib.import_module("scipy.optimize")
            have_scipy = True
        except ImportError:
            have_scipy = False
        if optimizer == "lbfgs" and not have_scipy:
            raise UserError("--optimizer lbfgs needs SciPy (pip install scipy); "
                            "or use --optimizer gd")
        optimizer = "lbfgs" if have_scipy else "gd"

    X1, y, true_coef, is_outlier = make_regression_data(
        args.n, args.features, args.outliers, args.seed)

    start = time.perf_counter()
    coef_ls = np.linalg.lstsq(X1, y, rcond=None)[0]
    time_ls = time.perf_counter() - start

    objective = SmoothL1Objective(X1, y, args.beta)
    start = time.perf_counter()
    coef0 = np.zeros(X1.shape[1])
    if optimizer == "lbfgs":
        coef_sl1 = fit_lbfgs(objective, coef0)
        method = "L-BFGS (SciPy)"
    else:
        lipschitz = np.linalg.norm(X1, 2) ** 2 / (len(y) * args.beta)
        coef_sl1 = fit_accelerated_gd(objective, coef0, lipschitz)
        method = "accelerated GD (NumPy)"
    time_sl1 = time.perf_counter() - start

    # Accuracy on fresh, clean data from the same model: what a user of the fit would see.
    X_test, y_test, _, _ = make_regression_data(10000, args.features, 0.0, args.seed + 1)
    y_test = X_test @ true_coef  # noiseless truth
    rmse_ls = float(np.sqrt(np.mean((X_test @ coef_ls - y_test) ** 2)))
    rmse_sl1 = float(np.sqrt(np.mean((X_test @ coef_sl1 - y_test) ** 2)))
    err_ls = float(np.max(np.abs(coef_ls - true_coef)))
    err_sl1 = float(np.max(np.abs(coef_sl1 - true_coef)))

    print(f"Linear fit of {args.n} points with {args.features} features, seed {args.seed}: "
          f"{int(is_outlier.sum())} gross outliers\n({100 * args.outliers:g}% of the targets "
          f"replaced by values in [20, 60])")
    print(f"smooth L1: beta={args.beta:g}, {method}, "
          f"{objective.n_evaluations} loss+gradient evaluations\n")
    names = ["intercept"] + [f"coef[{i}]" for i in range(1, args.features + 1)]
    rows = [(name, f"{t:.3f}", f"{a:.3f}", f"{b:.3f}")
            for name, t, a, b in zip(names, true_coef, coef_ls, coef_sl1)]
    rows.append(("max |error|", "", f"{err_ls:.3f}", f"{err_sl1:.3f}"))
    rows.append(("test RMSE", "", f"{rmse_ls:.3f}", f"{rmse_sl1:.3f}"))
    rows.append(("time", "", f"{1e3 * time_ls:.1f} ms", f"{1e3 * time_sl1:.1f} ms"))
    header = ("", "true", "least squares", "smooth L1")
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
    line = "  ".join("{:<%d}" % widths[0] if i == 0 else "{:>%d}" % widths[i]
                     for i in range(4))
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line.format(*row))
    ratio = err_ls / err_sl1 if err_sl1 > 0 else float("inf")
    print(f"\nLeast squares ends {err_ls:.2f} from the truth: under a squared loss each "
          f"outlier pulls in\nproportion to its residual. Smooth L1 caps every point's pull "
          f"(|gradient| <= 1) and ends\n{err_sl1:.3f} from the truth, {ratio:.0f}x closer.")
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
    parser.add_argument("--dpi", type=int, default=150, help="resolution (default 150)")
    parser.set_defaults(run=_run_plot)
    return parser


def _run_plot(args):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("the plot needs matplotlib, which is not installed: "
                        "pip install 'smoothl1[plot]' (or pip install matplotlib)") from None
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        raise UserError(f"OUT {args.output!r}: folder {folder!r} does not exist")
    figure = draw_losses(plt)
    try:
        figure.savefig(args.output, dpi=args.dpi)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot write {args.output!r}: {_one_line(error)}") from None
    finally:
        plt.close(figure)
    print(f"wrote {args.output}")
    return EXIT_OK


def draw_losses(plt):
    """The figure of ``smoothl1 plot``: losses on the left, their derivatives on the right."""
    import smoothl1

    d = np.linspace(-3.0, 3.0, 1201)
    zero = 0.0
    grey, black = "#9a9a9a", "#222222"
    betas = ((0.5, "#9ecae1"), (1.0, "#3182bd"), (2.0, "#08519c"))
    huber_delta, huber_color = 1.5, "#e6550d"

    figure, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 4.6))
    # L2 and L1 (L1 is smooth L1 with beta = 0).
    ax_loss.plot(d, 0.5 * d ** 2, color=grey, lw=2, ls="--", label="L2:  ½d²")
    ax_grad.plot(d, d, color=grey, lw=2, ls="--", label="L2:  d")
    ax_loss.plot(d, smoothl1.smooth_l1_loss(d, zero, beta=0.0, reduction="none"),
                 color=black, lw=2, label="L1:  |d|")
    # L1's derivative: -1, then 0 at exactly 0 (sign(0) = 0), then +1. Drawn on top, since
    # every smooth L1 curve joins it outside its quadratic zone.
    left, right = d < 0, d > 0
    l1_style = {"color": black, "lw": 1.8, "zorder": 4}
    ax_grad.plot(d[left], np.full(left.sum(), -1.0), label="L1:  sign(d)", **l1_style)
    ax_grad.plot(d[right], np.full(right.sum(), 1.0), **l1_style)
    ax_grad.plot([0, 0], [-1, 1], color=black, lw=1, ls=":", zorder=4)
    ax_grad.plot([0, 0], [-1, 1], "o", color=black, mfc="white", ms=6, zorder=5)
    ax_grad.plot([0], [0], "o", color=black, ms=4, zorder=5)
    ax_grad.annotate("L1: the gradient jumps from −1 to +1\nat d = 0 (the kink of |d|)",
                     xy=(-0.04, 0.7), xytext=(-2.9, 1.3), fontsize=9, color=black,
                     va="center", arrowprops={"arrowstyle": "->", "color": black, "lw": 0.8})
    for beta, color in betas:
        ax_loss.plot(d, smoothl1.smooth_l1_loss(d, zero, beta=beta, reduction="none"),
                     color=color, lw=2.4, zorder=3, label=f"smooth L1, β={beta:g}")
        ax_grad.plot(d, smoothl1.smooth_l1_grad(d, zero, beta=beta, reduction="none"),
                     color=color, lw=2.4, zorder=3, label=f"smooth L1, β={beta:g}")
    ax_loss.plot(d, smoothl1.huber_loss(d, zero, delta=huber_delta, reduction="none"),
                 color=huber_color, lw=2, ls="-.", zorder=2, label=f"Huber, δ={huber_delta:g}")
    ax_grad.plot(d, smoothl1.huber_grad(d, zero, delta=huber_delta, reduction="none"),
                 color=huber_color, lw=2, ls="-.", zorder=2, label=f"Huber, δ={huber_delta:g}")
    ax_grad.axvspan(-1.0, 1.0, color="#3182bd", alpha=0.07, lw=0)
    ax_grad.annotate("smooth L1: a straight line d/β through 0\n(continuous, no jump), "
                     "then capped at ±1", xy=(-0.55, -0.55), xytext=(-2.9, 0.55),
                     fontsize=9, color="#08519c", va="center",
                     arrowprops={"arrowstyle": "->", "color": "#08519c", "lw": 0.8})
    ax_grad.text(0, 1.75, "shaded: |d| < β = 1, quadratic zone",
                 ha="center", va="top", fontsize=8.5, color="#08519c")
    ax_loss.set_ylim(-0.1, 3.2)
    ax_grad.set_ylim(-1.8, 1.8)
    ax_loss.set_title("loss", fontsize=12)
    ax_grad.set_title("derivative w.r.t. the prediction", fontsize=12)
    for ax in (ax_loss, ax_grad):
        ax.set_xlim(-3, 3)
        ax.set_xlabel("d = prediction − target")
        ax.axhline(0, color="#cccccc", lw=0.8, zorder=0)
        ax.axvline(0, color="#cccccc", lw=0.8, zorder=0)
        ax.grid(alpha=0.25)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    ax_loss.legend(loc="upper center", fontsize=8.5, frameon=False, ncol=2)
    ax_grad.legend(loc="lower right", fontsize=8.5, frameon=False)
    figure.suptitle("Smooth L1 is L2 near zero and L1 far away: robust, with a continuous "
                    "gradient", fontsize=12.5)
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------------------------------------
# bench and the top level


def _run_bench(argv):
    try:
        bench = importlib.import_module(__package__ + ".bench")
    except ModuleNotFoundError as error:
        if error.name != __package__ + ".bench":
            raise  # bench.py exists but one of its own imports is missing: show it
        print("smoothl1 bench: error: the benchmark module (smoothl1.bench) is not part of "
              "this installation", file=sys.stderr)
        return EXIT_USAGE
    return bench.main(list(argv))


def build_parser():
    parser = _ArgumentParser(
        prog="smoothl1",
        description="Smooth L1 and Huber losses and gradients for NumPy arrays.",
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

    from . import __version__, _dispatch, _smoothl1
    return (f"smoothl1 {__version__} (kernels: {_dispatch.build}, OpenMP: "
            f"{'yes' if _smoothl1.HAVE_OPENMP else 'no'}, threads: "
            f"{_smoothl1.max_threads()}), numpy {np.__version__}, "
            f"Python {platform.python_version()}")


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
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
        print(f"smoothl1 {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
