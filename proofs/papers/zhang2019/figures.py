"""Figure of the Zhang et al. (2019) section of ``l2l report``: steps to target against batch size.

Its numbers come from :mod:`.experiments`, where the claims that compute the table publish them,
so a report that ran the catalogue draws it without computing anything.
"""

from __future__ import annotations

from typing import Any, Callable

from l2l.proofs.report.figures import FigureSpec, figure_function, legend_below, log_scale, subplots

from .experiments import batch_figure_data


def draw_batch_size(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    B = data["batch_size"]
    ax.plot(B, data["sgd"], marker="o", label="SGD")
    ax.plot(B, data["momentum"], marker="s", label="momentum")
    ax.plot(B, data["preconditioned"], marker="^", label="preconditioned")
    ax.plot(B, data["lower_bound"], color="0.2", ls=":", label="lower bound")
    log_scale(ax, "both")
    ax.set_xlabel("batch size $B$")
    ax.set_ylabel(r"steps to excess loss $\epsilon = 0.05$")
    ax.set_title("Steps to target against batch size")
    legend_below(fig, ncol=2)
    return render(
        fig,
        "nqm-batch-size",
        "Steps to target against batch size (Zhang et al. 2019)",
        r"The number of steps to bring the expected excess loss below $\epsilon = 0.05$, against the batch size $B$, for "
        "SGD, heavy-ball momentum and preconditioned SGD (preconditioner $H^{-p}$ with $p = 0.5$), each at its best "
        "learning rate (and momentum), chosen on the grids of the authors' notebook and refined; dotted: the lower "
        r"bound $d/(2\epsilon B)$. Instance: a noisy quadratic model with $d = 1000$ coordinates, curvatures $h_i = 1/i$, "
        r"gradient noise of covariance $C/B$ with $C = H$, and $\mathrm{E}\,\theta_0^2 = 1$. The number of steps falls as "
        "$1/B$ (perfect scaling) up to a critical batch size, then levels off where the curvature limits the learning "
        "rate; momentum and preconditioning move that plateau to larger batches.",
    )


figures = figure_function(FigureSpec("nqm-batch-size", batch_figure_data, draw_batch_size, cost=3.1))
figures.__doc__ = "Steps to the target loss against the batch size (spec §10.7), made by ``render(fig, name, title, caption)``."
