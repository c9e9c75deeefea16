"""The rows of ``python -m smoothl1 bench`` that time smoothl1 against one peer each: the loss
rows (``--losses N``; docs/speed.md, "Every loss against NumPy"), every loss of the table of
losses against the NumPy expression a NumPy user writes for it, and the PyTorch rows
(docs/torch.md, "Speed"), ``smoothl1.torch`` forward + backward against ``F.smooth_l1_loss``.
"""
import importlib
import sys

import numpy as np

from .._core.losses import LOSSES
from .._core import api
from ._bench_flat import BETA
from ._bench_timing import (_format_seconds, _optional, _spread, collapse_warnings, measure,
                            on_one_torch_thread)


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
