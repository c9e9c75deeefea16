"""The figure of ``smoothl1 plot`` (and of the README): L2, L1, smooth L1 and Huber side by side.

The curves are computed by smoothl1 itself. matplotlib is optional (``pip install
"smoothl1[plot]"``) and imported only when a figure is drawn, so importing this module is cheap.
"""
import numpy as np

from .. import huber_grad, huber_loss, smooth_l1_grad, smooth_l1_loss


def save_losses_figure(path, dpi):
    """Draw the figure and write it to ``path`` (the format from its suffix) at ``dpi``.

    Raises ImportError without matplotlib, OSError or ValueError when it cannot be written.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = draw_losses(plt)
    try:
        figure.savefig(path, dpi=dpi)
    finally:
        plt.close(figure)


def draw_losses(plt):
    """The figure of ``smoothl1 plot``: losses on the left, their derivatives on the right.

    L2, Huber (delta 1.5) and smooth L1 (beta 1) are the same curve, d**2 / 2, for |d| < 1 (and
    L2 and Huber up to 1.5): L2 and Huber are drawn on top, thin and dashed with interleaved
    dashes, so that all three stay visible where they coincide. The notes sit where no curve
    passes (the upper left of the derivative panel is empty: every derivative is <= 0 for
    d < 0)."""
    d = np.linspace(-3.0, 3.0, 1201)
    zero = 0.0
    grey, black = "#8a8a8a", "#222222"
    betas = ((0.5, "#9ecae1"), (1.0, "#3182bd"), (2.0, "#08519c"))
    huber_delta, huber_color = 1.5, "#e6550d"
    # 3 points on, 6 off; Huber's dashes fall in L2's gaps, and the curve beneath shows
    # between them
    l2_style = {"color": grey, "lw": 1.8, "ls": (0, (3, 6)), "zorder": 6}
    huber_style = {"color": huber_color, "lw": 1.8, "ls": (4.5, (3, 6)), "zorder": 6}

    figure, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 4.6))
    ax_loss.plot(d, smooth_l1_loss(d, zero, beta=0.0, reduction="none"),
                 color=black, lw=2, label="L1:  |d|")
    # L1's derivative: -1, then 0 at exactly 0 (sign(0) = 0), then +1. Drawn above the smooth
    # L1 curves, since every one joins it outside its quadratic zone.
    left, right = d < 0, d > 0
    l1_style = {"color": black, "lw": 1.8, "zorder": 4}
    ax_grad.plot(d[left], np.full(left.sum(), -1.0), label="L1:  sign(d)", **l1_style)
    ax_grad.plot(d[right], np.full(right.sum(), 1.0), **l1_style)
    ax_grad.plot([0, 0], [-1, 1], color=black, lw=1, ls=":", zorder=4)
    ax_grad.plot([0, 0], [-1, 1], "o", color=black, mfc="white", ms=6, zorder=7)
    ax_grad.plot([0], [0], "o", color=black, ms=4, zorder=7)
    for beta, color in betas:
        ax_loss.plot(d, smooth_l1_loss(d, zero, beta=beta, reduction="none"),
                     color=color, lw=2.6, zorder=3, label=f"smooth L1, β={beta:g}")
        ax_grad.plot(d, smooth_l1_grad(d, zero, beta=beta, reduction="none"),
                     color=color, lw=2.6, zorder=3, label=f"smooth L1, β={beta:g}")
    ax_loss.plot(d, 0.5 * d ** 2, label="L2:  ½d²", **l2_style)
    ax_grad.plot(d, d, label="L2:  d", **l2_style)
    ax_loss.plot(d, huber_loss(d, zero, delta=huber_delta, reduction="none"),
                 label=f"Huber, δ={huber_delta:g}", **huber_style)
    ax_grad.plot(d, huber_grad(d, zero, delta=huber_delta, reduction="none"),
                 label=f"Huber, δ={huber_delta:g}", **huber_style)
    ax_grad.axvspan(-1.0, 1.0, color="#3182bd", alpha=0.07, lw=0)
    note = {"fontsize": 8.5, "va": "center", "ha": "left"}
    ax_grad.annotate("L1: the gradient jumps\nfrom −1 to +1 at d = 0\n(the kink of |d|)",
                     xy=(-0.05, 0.85), xytext=(-2.9, 1.3), color=black,
                     arrowprops={"arrowstyle": "->", "color": black, "lw": 0.8}, **note)
    ax_grad.annotate("smooth L1: a line d/β\nthrough 0, no jump,\nthen capped at ±1",
                     xy=(-0.6, -0.6), xytext=(-2.9, 0.45), color="#08519c",
                     arrowprops={"arrowstyle": "->", "color": "#08519c", "lw": 0.8}, **note)
    ax_grad.text(-0.97, -1.72, "shaded: |d| < β = 1,\nthe quadratic zone", ha="left",
                 va="bottom", fontsize=8, color="#08519c")
    # (below the beta=2 curve, right of d = 1.45, no curve passes)
    ax_loss.text(2.97, 0.04, "L2, Huber δ=1.5 and\nsmooth L1 β=1: one\ncurve, ½d², for |d| < 1",
                 ha="right", va="bottom", fontsize=8, color="#555555")
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
