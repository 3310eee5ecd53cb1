r"""Figures of the Wu et al. (2018) section of ``l2l report``: short-horizon bias on the NQM.

All on the spec's *stand-in* NQP (:math:`h_i = 1/i`, :math:`\sigma_i^2=\kappa/h_i`,
:math:`\mathbb E\theta_0^2 = 1`, step cap 1.999), not the paper's unknown instance. Their numbers
come from :mod:`.experiments`, where the claims that compute them publish them, so a report that
ran the catalogue draws these figures without computing anything.

1. greedy versus T-optimal schedules and their excess-loss curves (n = 1000, T = 250, kappa = 1 and
   0.01);
2. the per-curvature decomposition of the final excess loss;
3. the bias against the look-ahead k of receding-horizon meta-optimisation (T = 1000);
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from l2l.proofs.report.figures import COLORS, LINESTYLES, FigureSpec, figure_function, legend_below, log_scale, subplots

from .experiments import CAP, look_ahead_figure_data, schedule_figure_data

N, T = 1000, 250
KAPPAS = (1.0, 0.01)
BOTH_KAPPAS, KAPPA_ONE = r"$\kappa = 1$ and $\kappa = 0.01$", r"$\kappa = 1$"


def _nqm(n: int, kappas: str) -> str:
    return (rf"a noisy quadratic model with $n = {n}$ coordinates, curvatures $h_i = 1/i$, gradient noise of variance "
            rf"$\kappa h_i$ in coordinate $i$ ({kappas}) and $\mathrm{{E}}\,\theta_{{0,i}}^2 = 1$, step sizes capped at "
            rf"${CAP:g}$: a stand-in spectrum chosen for this package, not the paper's, which is not published")


# (1) greedy vs optimal schedules and loss curves

#: The method of a curve is its colour and dash pattern; kappa is its width and marker.
METHODS = {"greedy": 0, "optimal": 1, "fixed": 2}
METHOD_LABELS = {"greedy": "greedy", "optimal": "$T$-optimal", "fixed": "best fixed"}
KAPPA_STYLE = {1.0: dict(lw=2.0), 0.01: dict(lw=1.1, marker="o", markersize=3.5, markevery=25, fillstyle="none")}


def schedules_data() -> dict:
    return {str(k): schedule_figure_data(N, k, T) for k in KAPPAS}


def _method(name: str) -> dict:
    i = METHODS[name]
    return dict(color=COLORS[i], ls=LINESTYLES[i])


def draw_schedules(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    t = np.arange(T)
    for kappa in KAPPAS:
        s = data[str(kappa)]
        for name in ("greedy", "optimal"):
            ax1.plot(t, s["etas"][name], **_method(name), **KAPPA_STYLE[kappa])
            ax2.plot(np.arange(T + 1), s["excess"][name], **_method(name), **KAPPA_STYLE[kappa])
        ax1.plot([0, T - 1], [s["fixed_eta"]] * 2, **_method("fixed"), **{**KAPPA_STYLE[kappa], "markevery": 1})
    log_scale(ax1, "y")
    ax1.set_xlabel("step $t$")
    ax1.set_ylabel(r"step size $\alpha_t$")
    ax1.set_title("Schedules")
    log_scale(ax2, "y")
    ax2.set_xlabel("step $t$")
    ax2.set_ylabel("expected excess loss")
    ax2.set_title("Greedy leads early, loses at $T$")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], label=METHOD_LABELS[m], **_method(m)) for m in METHODS]
    handles += [Line2D([], [], color="0.2", label=rf"$\kappa = {k:g}$", **KAPPA_STYLE[k]) for k in KAPPAS]
    legend_below(fig, handles)
    return render(
        fig,
        "nqm-greedy-vs-optimal",
        "Short-horizon bias on the noisy quadratic model (Wu et al. 2018)",
        r"Step-size schedules (left) and the expected excess loss $\frac{1}{2}\sum_i h_i \mathrm{E}\,\theta_{t,i}^2$ "
        rf"along them (right), for horizon $T = {T}$ on "
        f"{_nqm(N, BOTH_KAPPAS)}. Greedy: each step size minimises the expected loss after "
        r"that step; $T$-optimal: the schedule that minimises the expected loss at step $T$ (L-BFGS-B in $\log\eta$ with "
        "exact gradients); best fixed: the best constant step size. The greedy step size decays much faster: greedy "
        "is ahead early and behind at $T$, the short-horizon bias.",
    )


# (2) per-curvature decomposition

BINS = 15


def curvature_data() -> dict:
    s = schedule_figure_data(N, 1.0, T)
    h = np.asarray(s["h"])
    edges = np.geomspace(h.min(), h.max() * 1.0001, BINS + 1)
    idx = np.digitize(h, edges) - 1
    sums = {name: np.bincount(idx, weights=np.asarray(pc), minlength=BINS)[:BINS] for name, pc in s["final_per_coordinate"].items()}
    return {"mids": np.sqrt(edges[:-1] * edges[1:]), "sums": sums}


def draw_curvature(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    for name in ("greedy", "optimal"):
        ax.step(data["mids"], data["sums"][name], where="mid", **_method(name), label=METHOD_LABELS[name])
    log_scale(ax, "both")
    for h in (0.01, 0.1):
        ax.axvline(h, color="0.3", lw=0.8, ls=":")
    ax.set_xlabel(f"curvature $h$ ({BINS} log bins)")
    ax.set_ylabel("final excess loss in the bin")
    ax.set_title("Greedy wins on high curvature only")
    legend_below(fig)
    return render(
        fig,
        "nqm-curvature",
        "Per-curvature decomposition of the final loss (Wu et al. 2018)",
        rf"Where the loss left at step $T = {T}$ sits: the expected excess loss $\frac{{1}}{{2}} h_i \mathrm{{E}}\,\theta_{{T,i}}^2$ "
        rf"of each coordinate, summed over {BINS} logarithmic bins of the curvature $h$, after the greedy and the $T$-optimal "
        r"schedules of the previous figure at $\kappa = 1$. The greedy schedule leaves less loss in the high-curvature "
        "directions and much more in the low-curvature ones. Dotted lines: $h = 0.01$ and $h = 0.1$, the thresholds of the "
        "corresponding claim.",
    )


# (3) bias against look-ahead

LOOK_AHEAD_T = 1000


def draw_look_ahead(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    ks = data["k"]
    ax1.plot(ks, data["final_excess"], marker="o", **_method("greedy"), label="$k$-step look-ahead")
    ax1.axhline(data["optimal_excess"], **_method("optimal"), label="$T$-optimal schedule")
    log_scale(ax1, "x")
    ax1.set_xlabel("look-ahead $k$")
    ax1.set_ylabel(f"excess loss at $T = {LOOK_AHEAD_T}$")
    ax1.set_title("Final loss")
    ax1.legend(loc="lower left", bbox_to_anchor=(0.0, 0.12))  # between the two: no curve there
    t = np.arange(LOOK_AHEAD_T)
    styles = [i for i in range(len(COLORS)) if i != METHODS["optimal"]]  # k = 1 (greedy) in the greedy style
    for i, k, etas in zip(styles, ks, data["etas"]):
        ax2.plot(t, etas, lw=1.2, color=COLORS[i], ls=LINESTYLES[i], label=f"$k = {k}$")
    ax2.plot(t, data["optimal_etas"], lw=1.6, **_method("optimal"), label="$T$-optimal")
    log_scale(ax2, "y")
    ax2.set_xlabel("step $t$")
    ax2.set_ylabel(r"step size $\alpha_t$")
    ax2.set_title("Schedules")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, handlelength=2.2)
    return render(
        fig,
        "nqm-look-ahead",
        "Longer look-ahead reduces the bias but does not remove it (Wu et al. 2018)",
        "Receding-horizon meta-optimisation: at every step, the one constant step size that minimises the expected loss "
        "$k$ steps ahead is chosen and applied for one step ($k = 1$ is the greedy schedule). Left: the expected excess "
        rf"loss at $T = {LOOK_AHEAD_T}$ against the look-ahead $k$, and that of the $T$-optimal schedule; right: the "
        f"schedules. Instance: {_nqm(N, KAPPA_ONE)}. A longer look-ahead lowers the final loss, but even $k = 300$ "
        "stays well above the $T$-optimal schedule.",
    )


figures = figure_function(
    FigureSpec("nqm-greedy-vs-optimal", schedules_data, draw_schedules, cost=2.7),
    FigureSpec("nqm-curvature", curvature_data, draw_curvature, cost=0.5),
    FigureSpec("nqm-look-ahead", look_ahead_figure_data, draw_look_ahead, cost=8.0),
)
figures.__doc__ = "The three figures, each made by ``render(fig, name, title, caption)``."
