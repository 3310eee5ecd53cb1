r"""Figures of the Wichrowska et al. (2017) section of ``l2l report``: the gradient-scale invariance
of the hierarchical RNN and where its epsilon breaks it; the tail of the released code's
unroll-length sampler against an exponential and the product-of-exponentials reading; the
meta-training curves (train-by-train against train-by-validation, with the ES estimator's
variance); learned optimizers against tuned baselines on held-out tasks. The meta-training
figures show the ci-size runs that the claims compute and publish (``experiments``)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from l2l.proofs.report.figures import COLORS, LINESTYLES, FigureSpec, figure_function, legend_below, log_scale, subplots

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



# =============================================================================================
# meta-training (C8, and the train-by-train vs train-by-validation experiment of Wang et al. 2021)


def _seed_lines(ax, x, rows, i, label):
    rows = np.asarray(rows, dtype=float)
    for j, row in enumerate(rows):
        ax.plot(x, row, color=COLORS[i], ls=LINESTYLES[i], lw=0.9, alpha=0.8, label=label if j == 0 else None)


def draw_metatraining(data: dict, render: Callable[..., Any]) -> Any:
    ls, c8 = data["ls"], data["c8"]
    fig, (ax1, ax2) = subplots(2)
    k = np.arange(1, len(ls["objective_tbt"][0]) + 1)
    _seed_lines(ax1, k, ls["objective_tbt"], 0, "train-by-train")
    _seed_lines(ax1, k, ls["objective_tbv"], 1, "train-by-validation")
    log_scale(ax1, "y")
    ax1.set_xlabel("meta-step")
    ax1.set_ylabel("meta-objective (training draws)")
    ax1.set_title(rf"Least squares, $d = {ls['d']}$, $n = {ls['n']}$")
    _seed_lines(ax2, k, ls["es_variance_tbt"], 0, None)
    _seed_lines(ax2, k, ls["es_variance_tbv"], 1, None)
    kc = np.arange(1, len(c8["es_variance"][0]) + 1)
    _seed_lines(ax2, kc, c8["es_variance"], 2, "hierarchical RNN biases (C8)")
    log_scale(ax2, "y")
    ax2.set_xlabel("meta-step")
    ax2.set_ylabel("ES estimator variance")
    ax2.set_title("Variance of the ES estimate")
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    legend_below(fig, h1 + h2, l1 + l2)
    z = ls["sizes"]
    return render(
        fig,
        X.META_FIGURE,
        "Meta-training by antithetic ES: train-by-train against train-by-validation",
        rf"Left: the meta-objective on each meta-step's training draws (the antithetic mean over {z['pairs']} pairs of "
        rf"{z['tasks_per_pair']} tasks) while the per-parameter MLP optimizer of Metz et al. (2019), reduced to its last "
        rf"layer and a log step scale, is meta-trained on least squares with $d = {ls['d']}$, $n = {ls['n']}$, "
        rf"$\sigma = {ls['sigma']:g}$, unrolls of {ls['unroll']} steps, one line per seed: the mean training loss over "
        r"the unroll (train-by-train) falls far, the mean validation loss (train-by-validation, $5 + 5$ samples) "
        r"barely moves. Right: the variance of the ES gradient estimate, summed over the meta-parameters, over "
        r"meta-training, for both and for the five scalar biases of the hierarchical RNN meta-trained on the 2-D "
        r"bowl and quadratic ensemble (claim C8). The variance grows as the optimizers take larger steps.",
    )


def draw_learned_vs_tuned(data: dict, render: Callable[..., Any]) -> Any:
    c8, ls, big = data["c8"], data["ls"], data["ls_large"]
    fig, (ax1, ax2) = subplots(2)
    names = {"sgd": "SGD", "momentum": "momentum", "rmsprop": "RMSProp", "adam": "Adam"}
    for i, (method, b) in enumerate(c8["baselines"].items()):
        grid = np.asarray(b["heldout_grid"], dtype=float)
        ok = np.isfinite(grid)
        ax1.plot(np.asarray(b["lrs"], dtype=float)[ok], grid[ok], marker="o", ms=3, color=COLORS[i], ls=LINESTYLES[i],
                 label=names.get(method, method))
    fin = np.asarray(c8["final"], dtype=float)
    ax1.axhline(float(np.mean(fin)), color=COLORS[4], ls=LINESTYLES[4], label="learned biases (mean of seeds)")
    ax1.axhline(float(np.mean(c8["initial"])), color="0.4", ls=":", label="biases at initialisation")
    lows = [min(v for v in b["heldout_grid"] if np.isfinite(v)) for b in c8["baselines"].values()]
    ax1.set_ylim(min(lows + [float(np.min(fin))]) - 0.5, 2.0)  # above: steps too large for the bowls (diverging)
    log_scale(ax1, "x")
    ax1.set_xlabel("learning rate")
    ax1.set_ylabel("held-out log meta-objective")
    ax1.set_title("2-D bowls and quadratics (C8)")
    labels = ["initial", "TbT", "TbV", "GD\nTbT", "GD\nTbV"]
    for j, (d, marker) in enumerate(((ls, "o"), (big, "s"))):
        vals = [d["initial"], d["tbt"], d["tbv"], [d["gd"]["tbt"]["test_error"]], [d["gd"]["tbv"]["test_error"]]]
        for i, v in enumerate(vals):
            xs = i + (j - 0.5) * 0.3 + np.linspace(-0.05, 0.05, len(v))
            ax2.plot(xs, v, ls="none", marker=marker, ms=4, color=COLORS[5 + j],
                     label=(rf"$n = {d['n']}$" if i == 0 else None))
    ax2.set_xticks(range(len(labels)))
    ax2.set_xticklabels(labels)
    log_scale(ax2, "y")
    ax2.set_ylabel(r"test error $\|w_T - w^*\|^2$")
    ax2.set_title(rf"Least squares, $d = {ls['d']}$")
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    legend_below(fig, h1 + h2, l1 + l2, ncol=3)
    return render(
        fig,
        X.BASELINE_FIGURE,
        "Learned optimizers against tuned baselines on held-out tasks",
        rf"Left: the held-out log meta-objective ({c8['unroll']}-step unrolls, 64 held-out tasks; lower is better) of "
        rf"SGD, momentum, RMSProp and Adam at each learning rate of their grids, against the hierarchical RNN whose five "
        rf"scalar biases were meta-trained by ES ({c8['sizes']['meta_steps']} meta-steps, mean of {len(c8['seeds'])} "
        rf"seeds) and at its initialisation; every tuned baseline beats the learned biases (the axis stops at 2: "
        rf"larger learning rates diverge on the steepest bowls). Right: the held-out test error after "
        rf"{ls['unroll']} steps on new tasks trained on all their samples, at initialisation, after meta-training by "
        rf"train-by-train (TbT) and by train-by-validation (TbV), one point per seed, and for gradient descent with a "
        rf"constant step tuned either way; $n = {ls['n']}$ (circles) and $n = {big['n']}$ (squares), "
        rf"$\sigma = {ls['sigma']:g}$. The trivial output $w = 0$ has error 1.",
    )


figures = figure_function(
    FigureSpec("wichrowska2017-invariance", X.invariance_figure_data, draw_invariance, cost=0.6),
    FigureSpec(X.META_FIGURE, X.metatraining_figure_data, draw_metatraining, cost=3.0),
    FigureSpec(X.BASELINE_FIGURE, X.baselines_figure_data, draw_learned_vs_tuned, cost=3.0),
)
