r"""Figures of the Wichrowska et al. (2017) section of ``l2l report``: the gradient-scale invariance
of the hierarchical RNN and where its epsilon breaks it; the tail of the released code's
unroll-length sampler against an exponential and the product-of-exponentials reading."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from l2l.proofs.report.figures import COLORS, LINESTYLES, FigureSpec, figure_function, log_scale, subplots

from . import experiments as X


def draw_invariance(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    c, err = np.asarray(data["c"]), np.asarray(data["error"])
    ax1.plot(c[err > 0], err[err > 0], color=COLORS[0], ls=LINESTYLES[0], marker="o", ms=3)  # c = 1 is f itself: 0
    ax1.axhline(1e-5, color="0.4", lw=0.8, ls=":")
    log_scale(ax1, "both")
    ax1.set_xlabel(r"objective scale $c$")
    ax1.set_ylabel("trajectory error / displacement")
    ax1.set_title(r"$f$ against $cf$, 20 steps")
    ratio = np.asarray(data["ratio"])
    for i, (mode, label) in enumerate((("code", "released code"), ("product", "product reading"))):
        tail = np.asarray(data["tails"][mode])
        ax2.plot(ratio[tail > 0], tail[tail > 0], color=COLORS[i + 1], ls=LINESTYLES[i + 1], label=label)
    ax2.plot(ratio, data["exponential"], color="0.3", ls=":", label="exponential")
    log_scale(ax2, "y")
    ax2.set_xlabel(r"length / mean length")
    ax2.set_ylabel(r"$P(L > x\,\bar L)$")
    ax2.set_title("Unroll lengths")
    ax2.legend(loc="lower left")
    return render(
        fig,
        "wichrowska2017-invariance",
        "Gradient-scale invariance and unroll-length tails (Wichrowska et al. 2017)",
        r"Left: the largest difference between the 20-step trajectories of the hierarchical RNN (random weights) on a "
        r"separable quadratic $f$ and on $cf$, relative to the largest displacement, against $c$; the dotted line is the "
        r"claim's tolerance $10^{-5}$. The trajectories agree to rounding for large $c$ and drift apart as $c|g|$ "
        r"approaches $10^{-6}$, where the $10^{-12}$ in the running mean square stops being negligible. Right: the "
        r"survival function of the total number of unrolled steps, 50000 draws of the released code's sampler (a sum of "
        r"exponentials) and of a product of exponentials, against the exponential of the same mean: the code's sampler "
        r"is exponential-like, not heavy-tailed.",
    )


figures = figure_function(FigureSpec("wichrowska2017-invariance", X.invariance_figure_data, draw_invariance, cost=0.6))
