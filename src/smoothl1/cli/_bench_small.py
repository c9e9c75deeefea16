"""The small-call rows of ``python -m smoothl1 bench`` (docs/speed.md, "Small calls";
docs/contract.md section 21): what one call costs when there is almost nothing to compute.

Each row times a call of smoothl1 against ``np.add(a, b, out=o)`` at the same n (NumPy's
cheapest call: one ufunc loop, no allocation), in turns with its peers, best of ``repeat``
batches; "x np.add" is smoothl1's time over np.add's (lower is better) and "bar" the most it
may be (issue 24). The peers, per call, where installed: the NumPy expression a user writes,
``scipy.special.huber`` (a ufunc) and PyTorch's ``F.smooth_l1_loss`` / ``F.huber_loss`` on
tensors sharing the arrays' memory. The "out= costs" line is the difference between the same
call with and without ``out=`` (without it, the call allocates its result).
"""
import sys

import numpy as np

from .. import _core
from ._bench_timing import _optional

BETA = 1.0
_MISSING = "-"


def _numpy_loss(x, t):
    d = np.abs(x - t)
    return np.where(d < BETA, 0.5 * d * d / BETA, d - 0.5 * BETA)


def _numpy_grad(x, t):
    diff = x - t
    return np.where(np.abs(diff) < BETA, diff / BETA, np.sign(diff))


def _rows(n, rng, special, torch):
    """(label, smoothl1's call, {peer: call}) of the rows at n elements."""
    x, t, w = (rng.standard_normal(n) for _ in range(3))
    w = np.abs(w)
    out, grad = np.empty(n), np.empty(n)
    api = _core.api
    tx = tt = tw = None
    if torch is not None:
        tx, tt, tw = (torch.from_numpy(a) for a in (x, t, w))
    peers_mean = {"NumPy": lambda: _numpy_loss(x, t).mean()}
    peers_none = {"NumPy": lambda: _numpy_loss(x, t)}
    peers_weighted = {"NumPy": lambda: np.average(_numpy_loss(x, t), weights=w)}
    peers_both = {"NumPy": lambda: (_numpy_loss(x, t).mean(), _numpy_grad(x, t) / n)}
    peers_grad_hess = {"NumPy": lambda: (_numpy_grad(x, t),
                                         (np.abs(x - t) < BETA) / BETA)}
    if special is not None:
        peers_mean["SciPy"] = lambda: special.huber(BETA, x - t).mean()
        peers_none["SciPy"] = lambda: special.huber(BETA, x - t, out=out)
        peers_weighted["SciPy"] = lambda: np.average(special.huber(BETA, x - t), weights=w)
    if torch is not None:
        functional = torch.nn.functional
        peers_mean["PyTorch"] = lambda: functional.smooth_l1_loss(tx, tt)
        peers_none["PyTorch"] = lambda: functional.smooth_l1_loss(tx, tt, reduction="none")
        peers_weighted["PyTorch"] = lambda: functional.huber_loss(tx, tt, weight=tw)
    return [
        ("smooth_l1_loss(x, t)", lambda: api.smooth_l1_loss(x, t), peers_mean),
        ('reduction="none", out=o',
         lambda: api.smooth_l1_loss(x, t, reduction="none", out=out), peers_none),
        ('reduction="none"', lambda: api.smooth_l1_loss(x, t, reduction="none"), peers_none),
        ("smooth_l1_loss_and_grad(grad_out=g)",
         lambda: api.smooth_l1_loss_and_grad(x, t, grad_out=grad), peers_both),
        ("huber_loss(x, t, weight=w)", lambda: api.huber_loss(x, t, weight=w),
         peers_weighted),
        ("smooth_l1_grad_hess(x, t)", lambda: _core.grad_hess.smooth_l1_grad_hess(x, t),
         peers_grad_hess),
    ]


#: {(row label, n): the most its time may be over np.add's} (issue 24); the rows without one
#: are printed for reference
BARS = {("smooth_l1_loss(x, t)", 1): 2.0, ("smooth_l1_loss(x, t)", 1000): 2.5,
        ('reduction="none", out=o', 1): 2.5, ("smooth_l1_loss_and_grad(grad_out=g)", 1): 2.5,
        ("huber_loss(x, t, weight=w)", 1000): 3.0, ("smooth_l1_grad_hess(x, t)", 1): 3.0}
#: the most passing out= may add to the same call at n = 1, in seconds
OUT_COST_BAR = 0.3e-6


def run(repeat, measure, out=sys.stdout, sizes=(1, 1000)):
    """Print the small-call table; returns its rows as dicts (for tests and docs)."""
    special = _optional("scipy.special")
    torch = _optional("torch")
    peers = ["NumPy", "SciPy", "PyTorch"]
    print(f"\nsmall calls: float64, one call, best of {repeat} batches; x np.add is the "
          f"time over np.add(a, b, out=o) at the same n (lower is better); peers in us",
          file=out)
    header = (f"{'call':>36} {'n':>5} {'smoothl1':>9} {'np.add':>7} {'x np.add':>8} "
              f"{'bar':>5} " + " ".join(f"{peer:>8}" for peer in peers))
    print(header, file=out)
    print("-" * len(header), file=out)
    rng = np.random.default_rng(5)
    results = []
    for n in sizes:
        a, b, o = rng.standard_normal(n), rng.standard_normal(n), np.empty(n)
        for label, ours, row_peers in _rows(n, rng, special, torch):
            contenders = {"smoothl1": ours, "np.add": lambda: np.add(a, b, out=o)}
            contenders.update(row_peers)
            timings = measure(contenders, repeat)
            ours_time, add_time = timings["smoothl1"].best, timings["np.add"].best
            ratio = ours_time / add_time
            bar = BARS.get((label, n))
            results.append({"call": label, "n": n, "seconds": ours_time,
                            "np.add": add_time, "ratio": ratio, "bar": bar,
                            **{peer: timings[peer].best for peer in row_peers}})
            cells = " ".join(f"{timings[peer].best * 1e6:>8.2f}" if peer in timings
                             else f"{_MISSING:>8}" for peer in peers)
            print(f"{label:>36} {n:>5} {ours_time * 1e6:>6.2f} us {add_time * 1e6:>7.2f} "
                  f"{ratio:>7.2f}x {(f'{bar:.1f}x' if bar else _MISSING):>5} "
                  f"{cells}", file=out)
    for n in sizes:
        given, allocated = (next(row["seconds"] for row in results
                                 if row["call"] == label and row["n"] == n)
                            for label in ('reduction="none", out=o', 'reduction="none"'))
        print(f"{'out= costs':>36} {n:>5} {(given - allocated) * 1e6:>+6.2f} us "
              f"(the call with out= less the call that allocates; bar "
              f"+{OUT_COST_BAR * 1e6:.2f} us at n = 1)",
              file=out)
    return results
