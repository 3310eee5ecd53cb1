"""Figures of the Wang et al. (2021) section of ``l2l report``: meta-gradients against t, eta*(t),
meta-GD (Figure 1), backprop's failure (Corollary 1), train-by-train versus train-by-validation
(Figures 3 and 4, small setting). Deterministic instances, no randomness.

Each figure is a :class:`~l2l.proofs.report.figures.FigureSpec`: its data (cached in this process)
and its drawing, so that ``l2l report`` can draw the five side by side.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from l2l.proofs.report.figures import FigureSpec, figure_function, legend_below, log_scale, subplots

#: The instance of the first four figures: Gaussian quadratic H = X X^T, X 20 x 40, seed 0.
SEED, DIM = 0, 20
FACTORS = (0.5, 1.0, 1.3)  # step sizes in units of 2/(L + alpha)


@functools.lru_cache(maxsize=1)
def _problem():
    from l2l.proofs.strategies import make_gaussian_quadratic

    return make_gaussian_quadratic(SEED, DIM)


def _instance() -> str:
    p = _problem()
    return (rf"a {DIM}-dimensional quadratic $f(w) = \frac{{1}}{{2}} w^\top H w$ with $H = X X^\top$ for a "
            rf"${DIM} \times {2 * DIM}$ standard Gaussian matrix $X$ (seed {SEED}), so that $L = {p.L:.1f}$ and "
            rf"$\alpha = {p.alpha:.2f}$ are its largest and smallest eigenvalues, started from a random unit vector $w_0$")


def _scale() -> float:
    p = _problem()
    return 2.0 / (p.L + p.alpha)


# (1) naive and log meta-gradients against t


def meta_gradient_data() -> dict:
    from l2l.numerics.quadratic import stable

    ts = np.unique(np.round(np.geomspace(1, 2000, 60)).astype(np.int64))
    naive, log = [], []
    for factor in FACTORS:
        ev = stable.evaluate(_problem(), factor * _scale(), ts)
        naive.append(np.asarray(ev.naive_grad_log_abs, dtype=float) / np.log(10.0))
        log.append(np.abs(np.asarray(ev.log_objective_grad, dtype=float)))
    return {"t": ts, "log10_naive": naive, "abs_log_grad": log}


def draw_meta_gradients(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    for factor, naive, log in zip(FACTORS, data["log10_naive"], data["abs_log_grad"]):
        label = rf"$\eta = {factor:g} \times 2/(L+\alpha)$"
        ax1.plot(data["t"], naive, label=label)
        ax2.plot(data["t"], log, label=label)
    ax1.set_xlabel("horizon $t$")
    ax1.set_ylabel(r"$\log_{10} |\,\mathrm{d} f(w_t)/\mathrm{d}\eta\,|$")
    ax1.set_title("Naive meta-gradient")
    ax2.set_xlabel("horizon $t$")
    ax2.set_ylabel(r"$|G'(\eta)|$")
    ax2.set_title("Log meta-gradient")
    log_scale(ax2, "y")
    legend_below(fig)
    return render(
        fig,
        "meta-gradients",
        "Naive and log meta-gradients against the horizon",
        r"The derivative of the loss after $t$ steps of gradient descent with respect to the step size $\eta$, for "
        r"horizons $t$ from 1 to 2000 and three step sizes: 0.5, 1 and 1.3 times $2/(L+\alpha)$. Left: computed directly, "
        r"as $\log_{10} |\mathrm{d} f(w_t)/\mathrm{d}\eta|$; right: the derivative $|G'(\eta)|$ of the log "
        rf"meta-objective $G(\eta) = \frac{{1}}{{t}} \ln f(w_t)$. Instance: {_instance()}. The direct derivative is a "
        "straight line in $t$ on the log scale: it vanishes exponentially for step sizes in the stable range and "
        "explodes above it, while the log meta-gradient stays bounded (Theorem 4(ii)).",
    )


# (2) eta*(t) (L + alpha)/2 against t: Wang et al. Figure 2


def eta_star_data() -> dict:
    from l2l.numerics.quadratic import metaopt

    ts = np.unique(np.round(np.geomspace(1, 5000, 40)).astype(np.int64))
    p = _problem()
    ratio = np.array([metaopt.eta_star(p, int(t)) for t in ts]) * (p.L + p.alpha) / 2.0
    return {"t": ts, "ratio": ratio}


def draw_eta_star(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    ax.plot(data["t"], data["ratio"], marker=".", ls="-")
    ax.axhline(1.0, color="0.4", lw=1.0, ls="--")
    log_scale(ax, "x")
    ax.set_xlabel("horizon $t$")
    ax.set_ylabel(r"$\eta^*(t)\,(L+\alpha)/2$")
    ax.set_title("Optimal step size against the horizon")
    return render(
        fig,
        "eta-star",
        "Optimal step size against the horizon (Wang et al. 2021, Figure 2)",
        r"The step size $\eta^*(t)$ that minimises the loss after $t$ steps of gradient descent, in units of "
        r"$2/(L+\alpha)$, for horizons $t$ from 1 to 5000 (40 points), on the quadratic of the first figure "
        rf"(seed {SEED}, $L = {_problem().L:.1f}$, $\alpha = {_problem().alpha:.2f}$). The ratio tends to 1 (dashed line) "
        r"as $t$ grows: for long horizons the best step size is the classical $2/(L+\alpha)$.",
    )


# (3) meta-GD trajectory on the released code's instance: Wang et al. Figure 1

META_T, META_ETA0, META_C, META_STEPS = 80, 0.1, 0.01, 1000


@functools.lru_cache(maxsize=1)
def _released_instance():
    from l2l.numerics.problems import QuadraticProblem

    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 20))
    w0 = rng.normal(size=20)
    return QuadraticProblem.from_matrix(x.T @ x, w0)


def meta_gd_data() -> dict:
    from l2l.numerics.quadratic import metaopt

    inst = _released_instance()
    traj = metaopt.meta_gd(inst, META_ETA0, META_T, META_STEPS, c=META_C)
    return {"etas": traj.etas, "target": metaopt.eta_star(inst, META_T), "L": inst.L, "alpha": inst.alpha}


def draw_meta_gd(data: dict, render: Callable[..., Any]) -> Any:
    fig, ax = subplots()
    ax.plot(np.arange(len(data["etas"])), data["etas"], label=r"meta-GD iterate $\eta_k$")
    ax.axhline(data["target"], color="0.4", lw=1.0, ls="--", label=rf"$\eta^*({META_T})$")
    ax.set_xlabel("meta-step $k$")
    ax.set_ylabel(r"$\eta_k$")
    ax.set_title(f"Meta-GD on the log meta-objective, $t = {META_T}$")
    ax.legend(loc="upper right")
    return render(
        fig,
        "meta-gd",
        "Meta-GD trajectory (Wang et al. 2021, Figure 1)",
        rf"Meta-gradient descent $\eta_{{k+1}} = \max(0, \eta_k - (c/\sqrt{{k}})\, G'(\eta_k))$ on the log meta-objective "
        rf"$G(\eta) = \frac{{1}}{{t}} \ln f(w_t)$ at horizon $t = {META_T}$, from $\eta_0 = {META_ETA0:g}$ with $c = {META_C:g}$, "
        rf"for {META_STEPS} meta-steps, and the minimiser $\eta^*({META_T})$ (dashed). Instance of the authors' released code: "
        r"a 20-dimensional quadratic with $H = X^\top X$ for a $20 \times 20$ standard Gaussian matrix $X$ and a standard "
        rf"Gaussian $w_0$ (both drawn with seed 1; $L = {data['L']:.1f}$, $\alpha = {data['alpha']:.4f}$). The iterates "
        r"converge to $\eta^*$ although the first ones are above the stable range $2/L$.",
    )


# (4) backprop's relative error against t, float32 and float64 (Corollary 1), and its intermediates

BACKPROP_FACTOR = 1.23


def backprop_data() -> dict:
    from l2l.numerics.quadratic import stable
    from l2l.numerics.quadratic.unroll import backprop

    problem = _problem()
    eta = BACKPROP_FACTOR * _scale()
    tb = np.unique(np.round(np.geomspace(1, 3000, 40)).astype(np.int64))
    h, w0 = problem.dense()
    exact = np.asarray(stable.evaluate(problem, eta, tb).log_objective_grad, dtype=float)
    errors, first_missing = {}, {}
    for dtype in ("float32", "float64"):
        run = backprop(h, w0, eta, tb, dtype=dtype)
        ok = run.status[0] == "ok"
        err = np.full(tb.size, np.nan)
        err[ok] = np.abs(run.log_objective_grad[0][ok] - exact[ok]) / np.abs(exact[ok])
        errors[dtype] = np.maximum(err, 1e-17)
        first_missing[dtype] = int(tb[~ok][0]) if (~ok).any() else None
    tr = backprop(h, w0, eta, 400, dtype="float64", record=True).traces[0, 0]
    return {"t": tb, "error": errors, "first_missing": first_missing,
            "trace": {"step": tr.steps, "w": tr.w_log10_max, "adjoint": tr.adjoint_log10_max, "loss": tr.loss_log10_abs}}


def draw_backprop(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    for dtype, marker in (("float32", "o"), ("float64", "s")):
        ax1.plot(data["t"], data["error"][dtype], marker=marker, markersize=3.5, label=dtype)
    log_scale(ax1, "both")
    ax1.set_xlabel("horizon $t$")
    ax1.set_ylabel("relative error of $G'$")
    ax1.set_title("Error of backpropagation")
    ax1.legend(loc="center right")
    tr = data["trace"]
    ax2.plot(tr["step"], tr["w"], label="iterate")
    ax2.plot(tr["step"], tr["adjoint"], label="adjoint")
    ax2.plot(tr["step"], tr["loss"], label="loss")
    ax2.set_xlabel(r"step $\tau$")
    ax2.set_ylabel(r"$\log_{10}$ of the magnitude")
    ax2.set_title("Intermediates ($t = 400$)")
    ax2.legend(loc="center left", bbox_to_anchor=(0.0, 0.58))  # between the adjoint above and the rest below
    ends = " and ".join(f"$t = {t}$ in {name} precision" for name, t in (("single", data["first_missing"]["float32"]),
                                                                          ("double", data["first_missing"]["float64"])) if t)
    return render(
        fig,
        "backprop",
        "Plain backpropagation through the unrolled loop (Wang et al. 2021, Corollary 1)",
        rf"Reverse-mode differentiation (backpropagation) through the unrolled gradient descent at $\eta = {BACKPROP_FACTOR:g} "
        r"\times 2/(L+\alpha)$, above the stable range, on the quadratic of the first figure "
        rf"(seed {SEED}, $L = {_problem().L:.1f}$, $\alpha = {_problem().alpha:.2f}$). Left: relative error of the log "
        r"meta-gradient $G'(\eta)$ so computed, against the closed form, in single and double precision, for horizons up to "
        f"3000; a curve ends where that precision overflows and backpropagation returns no value (from {ends or 'no horizon'}). "
        r"Right: the largest absolute entry of the iterate $w_\tau$ and of the adjoint $\bar w_\tau$, and the loss "
        r"$f(w_\tau)$, along one run of 400 steps in double precision, on a $\log_{10}$ scale: they grow or shrink linearly in the step (like $\rho^{\pm\tau}$), although $G'$ itself is bounded.",
    )


# (5) train-by-train versus train-by-validation: Wang et al. Figures 3 and 4 (small setting)

SIGMAS = (0.5, 1.0, 2.0, 4.0)
NS = (10, 20, 40, 80, 160)
LS = dict(d=40, t=40, m=10, m_test=50, seed=0)


def tbt_vs_tbv_data() -> dict:
    from l2l.numerics.least_squares import metaopt

    runs: dict = {}  # (n, sigma) -> run; n = 20, sigma = 1 is in both sweeps: computed once

    def run(n: int, sigma: float):
        if (n, sigma) not in runs:
            runs[n, sigma] = metaopt.tbt_vs_tbv(n=n, sigma=sigma, **LS)
        return runs[n, sigma]

    def stats(rs: list) -> dict:
        out = {}
        for which in ("tbt", "tbv"):
            rmse = [np.asarray(r.test_rmse(which)) for r in rs]
            out[which] = {"mean": [v.mean() for v in rmse], "min": [v.min() for v in rmse], "max": [v.max() for v in rmse]}
        return out

    return {"sigma": SIGMAS, "by_sigma": stats([run(20, s) for s in SIGMAS]), "n": NS, "by_n": stats([run(n, 1.0) for n in NS])}


def draw_tbt_vs_tbv(data: dict, render: Callable[..., Any]) -> Any:
    fig, (ax1, ax2) = subplots(2)
    for ax, xs, st, xlabel in ((ax1, data["sigma"], data["by_sigma"], r"noise $\sigma$ ($n = 20$)"),
                               (ax2, data["n"], data["by_n"], r"samples $n$ ($\sigma = 1$)")):
        for which, marker, label in (("tbt", "o", "train-by-train"), ("tbv", "s", "train-by-validation (50/50 split)")):
            mean = np.asarray(st[which]["mean"])
            yerr = [mean - np.asarray(st[which]["min"]), np.asarray(st[which]["max"]) - mean]
            ax.errorbar(xs, mean, yerr=yerr, marker=marker, label=label)
        log_scale(ax, "y")
        ax.set_xlabel(xlabel)
    log_scale(ax2, "x")
    ax1.set_ylabel("test RMSE")
    ax1.set_title("Against the noise")
    ax2.set_title("Against the sample size")
    legend_below(fig)
    return render(
        fig,
        "tbt-vs-tbv",
        "Train-by-train versus train-by-validation (Wang et al. 2021, Figures 3 and 4, small setting)",
        rf"Test error of the step size tuned on {LS['m']} training tasks by train-by-train (meta-objective: the training "
        r"loss on all $n$ samples) and by train-by-validation (train on half of the samples, validate on the other half), "
        rf"for least-squares tasks in dimension $d = {LS['d']}$ with $t = {LS['t']}$ gradient steps (seed {LS['seed']}); "
        r"the step size minimises each meta-objective (grid search, then refinement). Left: against the noise level "
        r"$\sigma$ at $n = 20$ samples; right: against $n$ at $\sigma = 1$. Test error: the population RMSE "
        rf"$\sqrt{{\|w_t - w^*\|^2 + \sigma^2}}$ of each of {LS['m_test']} new tasks trained on all its $n$ samples; markers "
        "are the mean over these tasks and bars span the smallest to the largest, as in the paper. Train-by-validation "
        "is never worse here, and much better for noisy data and near $n = d$. The peak of train-by-train at $n = d$ is the "
        r"interpolation threshold, where the error of the least-squares solution, $\sigma^2 d/(n - d - 1)$, diverges. The "
        "paper's setting is $d = 1000$ (the Theorem 5 claims under the thorough profile).",
    )


figures = figure_function(
    FigureSpec("meta-gradients", meta_gradient_data, draw_meta_gradients, cost=0.9),
    FigureSpec("eta-star", eta_star_data, draw_eta_star, cost=1.1),
    FigureSpec("meta-gd", meta_gd_data, draw_meta_gd, cost=0.6),
    FigureSpec("backprop", backprop_data, draw_backprop, cost=1.0),
    FigureSpec("tbt-vs-tbv", tbt_vs_tbv_data, draw_tbt_vs_tbv, cost=3.2),
)
figures.__doc__ = "Wang et al. (2021): meta-gradients against t, eta*(t), meta-GD, backprop, TbT vs TbV."
