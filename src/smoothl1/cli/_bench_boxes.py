"""The box rows of ``python -m smoothl1 bench``: ``(N, 4)`` predictions as detection losses
use them, on one thread, each timed against its own baseline in the same run:

- ``broadcast``: a per-box ``(N, 1)`` or per-coordinate ``(4,)`` target or weight, against the
  same call with a full-size operand of the same values (docs/contract.md section 3).
- ``axis``: a reduction along the last axis (a loss per box) or along axis 0 (per
  coordinate), against the full reduction of the same arrays (section 12).
- ``per-element``: a beta or delta array, against the scalar parameter (section 13).

"vs base" is smoothl1's time over the baseline's (1.0: the same speed); "floor" the least
"vs base" the row's memory traffic allows, where it is above 1, timed in the same run: a loss
per box writes N results that the full sum does not (the baseline plus the time to fill a new
array of N values, over the baseline), a full-size beta reads a third array (the same call
with a full-size weight in place of the beta array, which reads the same bytes, over the
baseline). "x NumPy" is the NumPy expression's time over smoothl1's (higher is better).
"""
import numpy as np

from .. import huber_loss, smooth_l1_loss, smooth_l1_loss_and_grad

BETA = 1.0 / 9   # the detection default (Fast R-CNN's sigma = 3), not a power of two


def _numpy_loss(x, t, beta=BETA, weight=None, axis=None):
    d = np.abs(x - t)
    loss = np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)
    if weight is not None:
        loss = loss * weight
    return loss.sum(axis=axis)


def _numpy_loss_and_grad(x, t, weight):
    diff = x - t
    d = np.abs(diff)
    loss = (np.where(d < BETA, 0.5 * d * d / BETA, d - 0.5 * BETA) * weight).sum()
    grad = np.where(d < BETA, diff / BETA, np.sign(diff)) * weight
    return loss, grad


def cases(x, t, grad):
    """[(group, case, smoothl1 call, baseline call, NumPy call, floor call or None)] for (N, 4)
    arrays x and t; the floor call's time over the baseline's is the row's floor."""
    n = x.shape[0]
    per_box = t[:, :1].copy()
    per_coordinate = t[0].copy()
    weight_box = np.linspace(0.5, 1.5, n, dtype=x.dtype).reshape(n, 1)
    weight_coordinate = np.array([1.0, 2.0, 0.5, 1.5], dtype=x.dtype)
    full = np.ascontiguousarray

    def loss(target, **kwargs):
        return lambda: smooth_l1_loss(x, target, beta=BETA, reduction="sum", n_threads=1,
                                      **kwargs)

    def loss_and_grad(weight):
        return lambda: smooth_l1_loss_and_grad(x, t, beta=BETA, reduction="sum", weight=weight,
                                               grad_out=grad, n_threads=1)

    beta_full = np.full(x.shape, BETA, x.dtype)
    weight_full = np.full(x.shape, 1.0, x.dtype)   # the bytes of beta_full, as a weight

    def with_results(base):   # the baseline, then N results written to a new array
        return lambda: (base(), np.empty(n, x.dtype).fill(0.0))

    beta_coordinate = np.array([BETA, BETA, 2 * BETA, 2 * BETA], x.dtype)
    delta_box = np.linspace(0.5, 2.0, n, dtype=x.dtype).reshape(n, 1)
    def weighted_mean():
        return smooth_l1_loss(x, t, beta=BETA, weight=weight_box, n_threads=1)

    return [
        ("broadcast", "target (N,1)", loss(per_box),
         loss(full(np.broadcast_to(per_box, x.shape))), lambda: _numpy_loss(x, per_box), None),
        ("broadcast", "target (4,)", loss(per_coordinate),
         loss(full(np.broadcast_to(per_coordinate, x.shape))),
         lambda: _numpy_loss(x, per_coordinate), None),
        ("broadcast", "weight (N,1)", loss(t, weight=weight_box),
         loss(t, weight=full(np.broadcast_to(weight_box, x.shape))),
         lambda: _numpy_loss(x, t, weight=weight_box), None),
        ("broadcast", "weight (4,)", loss(t, weight=weight_coordinate),
         loss(t, weight=full(np.broadcast_to(weight_coordinate, x.shape))),
         lambda: _numpy_loss(x, t, weight=weight_coordinate), None),
        ("broadcast", "loss+grad w (N,1)", loss_and_grad(weight_box),
         loss_and_grad(full(np.broadcast_to(weight_box, x.shape))),
         lambda: _numpy_loss_and_grad(x, t, weight_box), None),
        ("axis", "sum axis=-1", loss(t, axis=-1), loss(t), lambda: _numpy_loss(x, t, axis=-1),
         with_results(loss(t))),
        ("axis", "sum axis=0", loss(t, axis=0), loss(t), lambda: _numpy_loss(x, t, axis=0),
         None),
        ("axis", "w mean axis=-1",
         lambda: smooth_l1_loss(x, t, beta=BETA, weight=weight_box, axis=-1, n_threads=1),
         weighted_mean,
         lambda: _numpy_loss(x, t, weight=weight_box, axis=-1) / (4 * weight_box[:, 0]),
         with_results(weighted_mean)),
        ("per-element", "beta (N,4)",
         lambda: smooth_l1_loss(x, t, beta=beta_full, reduction="sum", n_threads=1), loss(t),
         lambda: _numpy_loss(x, t, beta=beta_full), loss(t, weight=weight_full)),
        ("per-element", "beta (4,)",
         lambda: smooth_l1_loss(x, t, beta=beta_coordinate, reduction="sum", n_threads=1),
         loss(t), lambda: _numpy_loss(x, t, beta=beta_coordinate), None),
        ("per-element", "huber delta (N,1)",
         lambda: huber_loss(x, t, delta=delta_box, reduction="sum", n_threads=1),
         lambda: huber_loss(x, t, delta=1.25, reduction="sum", n_threads=1),
         lambda: np.where(np.abs(x - t) < delta_box, 0.5 * (x - t) ** 2,
                          delta_box * (np.abs(x - t) - 0.5 * delta_box)).sum(), None),
    ]


def run(n_boxes, dtypes, repeat, best_time, out):
    """Print the box rows for (n_boxes, 4) arrays of each dtype; return them as dicts."""
    print(f"\nboxes: ({n_boxes}, 4) arrays, one thread; 'vs base' = time over the same call "
          f"with a full-size operand, a full reduction or a scalar parameter", file=out)
    header = (f"{'group':>11} {'case':>18} {'dtype':>7} {'smoothl1':>10} {'vs base':>8} "
              f"{'floor':>6} {'x NumPy':>8}")
    print(header, file=out)
    print("-" * len(header), file=out)
    rng = np.random.default_rng(0)
    rows = []
    for dtype in dtypes:
        x = (rng.standard_normal((n_boxes, 4)) * 0.2).astype(dtype)
        t = (rng.standard_normal((n_boxes, 4)) * 0.2).astype(dtype)
        grad = np.empty_like(x)
        for group, case, ours, base, numpy, floor in cases(x, t, grad):
            # ours, its baseline and its floor alternate, so a burst of load on a shared
            # machine slows all of them rather than one (the ratios are what the row is for)
            seconds = base_seconds = floor_seconds = float("inf")
            for _ in range(repeat):
                seconds = min(seconds, best_time(ours, 1))
                base_seconds = min(base_seconds, best_time(base, 1))
                if floor is not None:
                    floor_seconds = min(floor_seconds, best_time(floor, 1))
            row = {"group": group, "case": case, "dtype": np.dtype(dtype).name,
                   "seconds": seconds, "vs_base": seconds / base_seconds,
                   "floor": None if floor is None else floor_seconds / base_seconds,
                   "NumPy": best_time(numpy, repeat) / seconds}
            rows.append(row)
            shown_floor = "-" if floor is None else f"{row['floor']:.2f}x"
            print(f"{group:>11} {case:>18} {row['dtype']:>7} "
                  f"{seconds * 1e3:>7.3f} ms {row['vs_base']:>7.2f}x {shown_floor:>6} "
                  f"{row['NumPy']:>7.1f}x", file=out)
    return rows
