"""Figures of the Wang et al. (2021) section of ``l2l report``: meta-gradients against t, eta*(t),
meta-GD (Figure 1), backprop's failure (Corollary 1), train-by-train versus train-by-validation
(Figures 3 and 4, small setting). Deterministic instances, no randomness.
"""

from __future__ import annotations

from typing import Any, Callable


def figures(render: Callable[..., Any]) -> list:
    """Wang et al. (2021): meta-gradients against t, eta*(t), meta-GD, backprop, TbT vs TbV."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    from l2l.numerics.least_squares import metaopt as tasks_metaopt
    from l2l.numerics.quadratic import metaopt, stable
    from l2l.numerics.problems import QuadraticProblem

    from l2l.proofs.strategies import make_gaussian_quadratic

    out: list = []

    # (1) naive vs log meta-gradient against t
    problem = make_gaussian_quadratic(0, 20)
    scale = 2.0 / (problem.L + problem.alpha)
    ts = np.unique(np.round(np.geomspace(1, 2000, 60)).astype(np.int64))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for factor in (0.5, 1.0, 1.3):
        ev = stable.evaluate(problem, factor * scale, ts)
        log10_naive = np.asarray(ev.naive_grad_log_abs, dtype=float) / np.log(10.0)
        label = rf"$\eta = {factor:g} \times 2/(L+\alpha)$"
        ax1.plot(ts, log10_naive, label=label)
        ax2.plot(ts, np.abs(np.asarray(ev.log_objective_grad, dtype=float)), label=label)
    ax1.set_xlabel("t")
    ax1.set_ylabel(r"$\log_{10} |\,\mathrm{d} f(w_t)/\mathrm{d}\eta\,|$")
    ax1.set_title("naive meta-gradient")
    ax2.set_xlabel("t")
    ax2.set_ylabel(r"$|G'(\eta)|$")
    ax2.set_title(r"log meta-gradient $G = \frac{1}{t}\ln f(w_t)$")
    ax2.set_yscale("log")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    fig.tight_layout()
    out.append(
        render(
            fig,
            "meta-gradients",
            "Naive and log meta-gradients against the horizon",
            "Gaussian quadratic make_gaussian_quadratic(0, 20). Left: log10 |d f(w_t)/d eta| is a straight line in t "
            "(exponential vanishing below and explosion above the stable range); right: |G'(eta)| stays bounded "
            "(Wang et al. 2021, Theorem 4(ii)). Evaluated with numerics.quadratic.stable.evaluate.",
        )
    )

    # (2) eta*(t) (L + alpha)/2 against t: Wang et al. Figure 2
    ts2 = np.unique(np.round(np.geomspace(1, 5000, 40)).astype(np.int64))
    ratio = np.array([metaopt.eta_star(problem, int(t)) for t in ts2]) * (problem.L + problem.alpha) / 2.0
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(ts2, ratio, marker=".")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\eta^*(t)\,(L+\alpha)/2$")
    ax.set_title(r"optimal step size against the horizon")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(
        render(
            fig,
            "eta-star",
            "Optimal step size against the horizon (Wang et al. 2021, Figure 2)",
            "eta*(t) (L + alpha)/2 for make_gaussian_quadratic(0, 20), computed by numerics.quadratic.metaopt.eta_star; "
            "it tends to 1 as t grows.",
        )
    )

    # (3) meta-GD trajectory on the released code's instance: Wang et al. Figure 1
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 20))
    w0 = rng.normal(size=20)
    inst = QuadraticProblem.from_matrix(x.T @ x, w0)
    steps = 1000
    traj = metaopt.meta_gd(inst, 0.1, 80, steps, c=0.01)
    target = metaopt.eta_star(inst, 80)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(np.arange(traj.etas.size), traj.etas, label=r"meta-GD $\eta_k$")
    ax.axhline(target, color="grey", lw=0.8, ls="--", label=r"$\eta^*(80)$")
    ax.set_xlabel("meta-step k")
    ax.set_ylabel(r"$\eta_k$")
    ax.set_title("meta-GD on the log meta-objective, t = 80")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(
        render(
            fig,
            "meta-gd",
            "Meta-GD trajectory (Wang et al. 2021, Figure 1)",
            f"numerics.quadratic.metaopt.meta_gd with t = 80, eta0 = 0.1, c = 0.01, {steps} meta-steps, on the released code's "
            "instance (rng = default_rng(1); X 20x20 Gaussian; H = X^T X; w0 Gaussian).",
        )
    )

    # (4) backprop's relative error against t, float32 and float64 (Corollary 1)
    from l2l.numerics.quadratic.unroll import backprop

    eta_bp = 1.23 * scale
    tb = np.unique(np.round(np.geomspace(1, 3000, 40)).astype(np.int64))
    h, w0p = problem.dense()
    exact = np.asarray(stable.evaluate(problem, eta_bp, tb).log_objective_grad, dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for dtype in ("float32", "float64"):
        run = backprop(h, w0p, eta_bp, tb, dtype=dtype)
        ok = run.status[0] == "ok"
        err = np.full(tb.size, np.nan)
        err[ok] = np.abs(run.log_objective_grad[0][ok] - exact[ok]) / np.abs(exact[ok])
        ax1.plot(tb, np.maximum(err, 1e-17), marker=".", label=f"{dtype} (no value from t = {int(tb[~ok][0]) if (~ok).any() else '-'} on)")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("t")
    ax1.set_ylabel("relative error of backprop's G'")
    ax1.set_title(r"backprop at $\eta = 1.23 \times 2/(L+\alpha)$")
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3)
    # (5) the growth of backprop's intermediates
    tr = backprop(h, w0p, eta_bp, 400, dtype="float64", record=True).traces[0, 0]
    ax2.plot(tr.steps, tr.w_log10_max, label=r"$\max|w_\tau|$")
    ax2.plot(tr.steps, tr.adjoint_log10_max, label=r"$\max|\bar w_\tau|$ (adjoint)")
    ax2.plot(tr.steps, tr.loss_log10_abs, label=r"$f(w_\tau)$")
    ax2.set_xlabel(r"step $\tau$")
    ax2.set_ylabel("log10 magnitude")
    ax2.set_title("backprop's intermediates (float64, t = 400)")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    out.append(
        render(
            fig,
            "backprop",
            "Plain backpropagation through the unrolled loop (Wang et al. 2021, Corollary 1)",
            "Left: relative error of the log meta-gradient computed by reverse mode through the unrolled GD "
            "(numerics.quadratic.unroll.backprop), against the stable closed form, on make_gaussian_quadratic(0, 20); the "
            "curves stop where the dtype overflows. Right: log10 magnitudes of the iterates, adjoints and loss grow "
            "linearly in the step (rho^(+-tau)), although G' itself is bounded.",
        )
    )

    # (6) train-by-train versus train-by-validation: Wang et al. Figures 3 and 4 (small setting)
    sigmas = [0.5, 1.0, 2.0, 4.0]
    by_sigma = [tasks_metaopt.tbt_vs_tbv(d=40, n=20, sigma=sg, t=40, m=10, m_test=50, seed=0) for sg in sigmas]
    ns = [10, 20, 40, 80, 160]
    by_n = [tasks_metaopt.tbt_vs_tbv(d=40, n=n, sigma=1.0, t=40, m=10, m_test=50, seed=0) for n in ns]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, xs, runs, xlabel in ((ax1, sigmas, by_sigma, r"noise $\sigma$ (n = 20)"), (ax2, ns, by_n, r"samples n ($\sigma$ = 1)")):
        for which, marker, label in (("tbt", "o", "train-by-train"), ("tbv", "s", "train-by-validation (50/50)")):
            rmse = [r.test_rmse(which) for r in runs]
            mean = np.array([v.mean() for v in rmse])
            lo = mean - np.array([v.min() for v in rmse])
            hi = np.array([v.max() for v in rmse]) - mean
            ax.errorbar(xs, mean, yerr=[lo, hi], marker=marker, capsize=3, label=label)
        ax.set_xscale("log" if ax is ax2 else "linear")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(r"test RMSE $\sqrt{\|w_t - w^*\|^2 + \sigma^2}$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax1.set_title("against the noise (cf. Figure 3)")
    ax2.set_title("against the sample size (cf. Figure 4)")
    fig.tight_layout()
    out.append(
        render(
            fig,
            "tbt-vs-tbv",
            "Train-by-train versus train-by-validation (Wang et al. 2021, Figures 3 and 4, small setting)",
            "d = 40, t = 40, m = 10 training tasks, 50 test tasks trained on all n samples (numerics.least_squares.metaopt.tbt_vs_tbv); "
            "eta chosen by grid search and refinement on each meta-objective. Population test RMSE "
            "sqrt(||w_t - w*||^2 + sigma^2) (the RMSE on an unlimited fresh test set): mean over the test tasks, bars "
            "from the smallest to the largest task, as the paper's mean and range; "
            "the paper's setting is d = 1000 (see the Theorem 5 claims under the thorough profile). The peak of "
            "train-by-train at n = d = 40 is the interpolation threshold, where the ERM error "
            "sigma^2 d/(n - d - 1) diverges.",
        )
    )
    return out
