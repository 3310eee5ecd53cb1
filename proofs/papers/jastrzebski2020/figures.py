r"""Figures of the Jastrzębski et al. (2020) section of ``l2l report``.

1. lambda_H^1 against the step for full-batch GD on the uv-model, several step sizes, with their
   2/eta lines (the break-even cap and the catapult overshoot);
2. the break-even curvature lambda*(eta, S) against eta for several batch sizes;
3. mean-square against almost-sure stability at the point SGD reaches on the uv-model.

Their numbers come from :mod:`.experiments`; the uv-model trajectories and the final point of SGD
are published by the claims that compute them, so a report that ran the catalogue draws these
figures without computing them again.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from l2l.proofs.report.figures import COLORS, LINESTYLES, FigureSpec, figure_function, legend_below, log_scale, subplots

from . import experiments as X

_UV = (r"the uv-model $\ell(u, v) = \frac{1}{N}\sum_i \frac{1}{2}(u v x_i - x_i)^2$ ($N = 64$, "
       r"$\frac{1}{N}\sum_i x_i^2 = 1$) from $(u, v) = (0.1, 2)$")


def _style(i: int) -> dict:
    return dict(color=COLORS[i], ls=LINESTYLES[i])


def draw_uv(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    shown = ("0.1", "0.3", "0.4", "0.45")
    for i, key in enumerate(shown):
        d = data[key]
        steps = np.asarray(d["steps"], dtype=float)
        ax.plot(steps[1:], d["trajectory"][1:], color=COLORS[i], ls="-", label=rf"$\eta = {key}$")
        ax.axhline(2 / float(key), color=COLORS[i], ls=":", lw=1.0)
    log_scale(ax, "x")
    ax.set_xlabel("GD step")
    ax.set_ylabel(r"top Hessian eigenvalue $\lambda_H^1$")
    ax.set_ylim(2, 7)
    legend_below(fig, ncol=2)
    peak = data["0.45"]
    return render(
        fig,
        "jastrzebski2020-uv-curvature",
        "Top curvature along gradient descent on the uv-model (Jastrzębski et al. 2020)",
        rf"The largest Hessian eigenvalue $\lambda_H^1$ along full-batch gradient descent on {_UV}, for four step sizes; "
        r"the dotted line of each colour is its $2/\eta$ (that of $\eta = 0.1$, 20, lies above the plot). Every run settles at or below its $2/\eta$ (break-even caps "
        r"the curvature), and the larger step sizes settle lower; but on the way the curvature overshoots: at "
        rf"$\eta = 0.45$ it peaks at {peak['peak']:.2f} (step {peak['peak_step']}) against $2/\eta = 4.44$, so the "
        r"running maximum is not capped without a burn-in.",
    )


def draw_curvature(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    eta = np.asarray(data["eta"])
    for i, (S, curve) in enumerate(data["curves"].items()):
        label = rf"$S = {S}$" + (r" (full batch: $2/\eta$)" if int(S) == X.CURVATURE_N else "")
        ax.plot(eta, curve, **_style(i), label=label)
    log_scale(ax, "both")
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel(r"break-even curvature $\lambda^*$")
    legend_below(fig, ncol=3)
    return render(
        fig,
        "jastrzebski2020-break-even-curvature",
        "Break-even curvature against learning rate and batch size (Jastrzębski et al. 2020)",
        r"The curvature $\lambda^*(\eta, S) = 2/(\eta(1 + \kappa^2 c(S)))$ at which Eq. 1 reaches equality, "
        rf"$c(S) = (N - S)/(S(N - 1))$, for $N = {X.CURVATURE_N}$ examples and per-example curvature spread "
        rf"$s = \kappa\lambda$ with $\kappa^2 = {X.CURVATURE_KAPPA2:g}$ (Gaussian inputs of the uv-model). A larger learning "
        r"rate or a smaller batch reaches break-even at a smaller curvature; the full batch gives $2/\eta$.",
    )


def draw_stability(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    eta = np.asarray(data["eta"])
    for i, S in enumerate(("2", "8")):
        ax1.plot(eta, data[S]["factor"], **_style(i), label=rf"$S = {S}$")
    ax1.axhline(1.0, color="0.4", lw=0.8, ls=":")
    log_scale(ax1, "y")
    ax1.set_xlabel(r"learning rate $\eta$")
    ax1.set_ylabel(r"$\mathbb{E}[(1 - \eta h_B)^2]$")
    ax1.set_title("Mean square (Eq. 1)")
    ax1.legend(loc="upper left")
    rate = np.asarray(data["2"]["rate"])
    ax2.plot(eta, rate, **_style(0), label=r"$S = 2$")
    ax2.axhline(0.0, color="0.4", lw=0.8, ls=":")
    ax2.set_xlabel(r"learning rate $\eta$")
    ax2.set_ylabel(r"$\mathbb{E}\,\log|1 - \eta h_B|$")
    ax2.set_title("Almost sure")
    factor = np.asarray(data["2"]["factor"])
    both = (factor > 1) & (rate < 0)
    lo = float(eta[both].min()) if both.any() else None
    hi = float(eta[both].max()) if both.any() else None
    for ax in (ax1, ax2):
        if lo is not None:
            ax.axvspan(lo, hi, color=COLORS[4], alpha=0.2, lw=0)
    region = (rf"On $\eta \in [{lo:.2f}, {hi:.2f}]$ (shaded) Eq. 1 fails while the almost-sure rate is negative: "
              r"there SGD is mean-square unstable yet converges with probability one." if lo is not None else
              r"On this instance the two criteria agree on the step sizes drawn.")
    return render(
        fig,
        "jastrzebski2020-stability",
        "Mean-square against almost-sure stability (Jastrzębski et al. 2020)",
        r"At the point reached by SGD ($S = 2$, $\eta = 0.4$, seed 0) on " + _UV + r", with the per-example curvatures "
        rf"$h_i$ along the top Hessian direction ($\lambda = {data['lambda']:.3f}$): left, the mean-square factor of Eq. 1 "
        r"for batches of 2 and 8 drawn without replacement; right, the almost-sure rate $\mathbb{E}\log|1 - \eta h_B|$ "
        r"(exact, over all 2016 batches of 2). " + region,
    )


figures = figure_function(
    FigureSpec("jastrzebski2020-uv-curvature", X.uv_figure_data, draw_uv, cost=0.5),
    FigureSpec("jastrzebski2020-break-even-curvature", X.curvature_figure_data, draw_curvature, cost=0.3),
    FigureSpec("jastrzebski2020-stability", X.stability_figure_data, draw_stability, cost=0.8),
)
