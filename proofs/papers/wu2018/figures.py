r"""Figures of the Wu et al. (2018) section of ``l2l report``: short-horizon bias on the NQM.

All on the spec's *stand-in* NQP (:math:`h_i = 1/i`, :math:`\sigma_i^2=\kappa/h_i`,
:math:`\mathbb E\theta_0^2 = 1`, step cap 1.999), not the paper's unknown instance; they reuse the
computations cached by :mod:`.experiments`, so a report that ran the catalogue draws them at
little extra cost.

1. greedy versus T-optimal schedules and their excess-loss curves (n = 1000, T = 250, kappa = 1 and
   0.01);
2. the per-curvature decomposition of the final excess loss;
3. the bias against the look-ahead k of receding-horizon meta-optimisation (T = 1000);
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

STAND_IN = "stand-in NQP h_i = 1/i, sigma_i^2 = kappa/h_i, E theta_0^2 = 1 (papers/wu2018.md §2), not the paper's instance"


def figures(render: Callable[..., Any]) -> list:
    """The three figures, each made by ``render(fig, name, title, caption)``."""
    import matplotlib.pyplot as plt

    from l2l.numerics import nqm

    from .experiments import final_state, look_ahead_runs, schedules

    out = []

    # (1) greedy vs optimal schedules and loss curves
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for kappa, ls in ((1.0, "-"), (0.01, "--")):
        s = schedules(1000, kappa, 250)
        t = np.arange(250)
        axes[0].plot(t, s["greedy"].etas, ls, color="C0", label=f"greedy, kappa = {kappa:g}")
        axes[0].plot(t, s["optimal"].etas, ls, color="C1", label=f"T-optimal, kappa = {kappa:g}")
        axes[0].axhline(s["fixed"][0], ls=ls, color="C2", lw=0.8, label=f"best fixed, kappa = {kappa:g}")
        t1 = np.arange(251)
        axes[1].plot(t1, s["greedy"].excess, ls, color="C0", label=f"greedy, kappa = {kappa:g}")
        axes[1].plot(t1, s["optimal"].excess, ls, color="C1", label=f"T-optimal, kappa = {kappa:g}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("step t")
    axes[0].set_ylabel(r"step size $\alpha_t$")
    axes[0].set_title("schedules (n = 1000, T = 250)")
    axes[0].legend(fontsize=6)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("step t")
    axes[1].set_ylabel(r"excess loss $\frac{1}{2}\sum_i h_i \mathrm{E}\,\theta_{t,i}^2$")
    axes[1].set_title("greedy leads early, loses at T")
    axes[1].legend(fontsize=6)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(render(
        fig, "nqm-greedy-vs-optimal",
        "Short-horizon bias on the noisy quadratic model (Wu et al. 2018, §7 of the spec)",
        "Greedy (one-step optimal) schedule against the schedule optimal for the loss at T = 250 "
        "(L-BFGS-B in log eta with the adjoint gradient, numerics.nqm.optimal_schedule) and the best fixed step, "
        f"on the {STAND_IN}; n = 1000. The greedy step decays much faster; greedy is ahead early and behind at T.",
    ))

    # (2) per-curvature decomposition
    s = schedules(1000, 1.0, 250)
    p = s["problem"]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    edges = np.geomspace(p.h.min(), p.h.max() * 1.0001, 16)
    for name, color in (("greedy", "C0"), ("optimal", "C1")):
        pc = nqm.per_coordinate_excess(p, final_state(p, s[name]))
        idx = np.digitize(p.h, edges) - 1
        sums = np.bincount(idx, weights=pc, minlength=len(edges) - 1)[: len(edges) - 1]
        mids = np.sqrt(edges[:-1] * edges[1:])
        ax.step(mids, sums, where="mid", color=color, label="T-optimal" if name == "optimal" else name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvline(0.01, color="k", lw=0.6, ls=":")
    ax.axvline(0.1, color="k", lw=0.6, ls=":")
    ax.set_xlabel("curvature h (15 log bins)")
    ax.set_ylabel("final excess loss in the bin")
    ax.set_title("greedy wins on high curvature, loses on low")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(render(
        fig, "nqm-curvature",
        "Per-curvature decomposition of the final loss (Wu et al. 2018; spec §11 item 9)",
        f"Final excess loss 1/2 h_i E theta_i^2 summed over log bins of h, greedy vs T-optimal, n = 1000, T = 250, "
        f"kappa = 1 ({STAND_IN}). Dotted lines: h = 0.01 and h = 0.1, the thresholds of the claim.",
    ))

    # (3) bias against look-ahead
    runs, opt = look_ahead_runs()
    ks = sorted(runs)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.plot(ks, [runs[k].final_excess for k in ks], "o-", label="k-step look-ahead")
    ax1.axhline(opt.final_excess, color="C1", label="T-optimal schedule")
    ax1.set_xscale("log")
    ax1.set_xlabel("look-ahead k")
    ax1.set_ylabel("excess loss at T = 1000")
    ax1.legend(fontsize=7)
    for k in ks:
        ax2.plot(np.arange(1000), runs[k].etas, lw=0.9, label=f"k = {k}")
    ax2.plot(np.arange(1000), opt.etas, "k", lw=1.2, label="T-optimal")
    ax2.set_yscale("log")
    ax2.set_xlabel("step t")
    ax2.set_ylabel(r"step size $\alpha_t$")
    ax2.legend(fontsize=6, ncol=2)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(render(
        fig, "nqm-look-ahead",
        "Longer look-ahead reduces the bias but does not remove it (spec §7, §11 item 10)",
        "Receding-horizon meta-optimisation: at each step one constant step size minimising the expected loss k "
        f"steps ahead (numerics.nqm.receding_horizon_schedule); n = 1000, kappa = 1, T = 1000, {STAND_IN}.",
    ))

    return out
