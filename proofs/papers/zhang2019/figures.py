"""Figure of the Zhang et al. (2019) section of ``l2l report``: steps to target against batch size."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def figures(render: Callable[..., Any]) -> list:
    """Steps to the target loss against the batch size (spec §10.7), made by ``render(fig, name, title, caption)``."""
    import matplotlib.pyplot as plt

    from .experiments import batch_table

    out = []
    # (4) steps to target against batch size (Zhang et al.)
    rows = batch_table()
    B = np.array([r.batch_size for r in rows])
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(B, [r.sgd.steps for r in rows], "o-", label="SGD")
    ax.plot(B, [r.momentum.steps for r in rows], "s-", label="heavy-ball momentum")
    ax.plot(B, [r.preconditioned.steps for r in rows], "^-", label="preconditioned, p = 0.5")
    ax.plot(B, [r.lower_bound for r in rows], "k:", label="lower bound d/(2 eps B)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("steps to excess loss 0.05")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(render(
        fig, "nqm-batch-size",
        "Steps to target against batch size (Zhang et al. 2019, spec §10.7)",
        "d = 1000, h_i = 1/i, C = H, target 0.05, E theta_0^2 = 1; each method at its best learning rate (and "
        "momentum) on the notebook's grids, refined (numerics.nqm.zhang.critical_batch_table). Perfect scaling "
        "(slope -1) up to a critical batch size, then a curvature-limited plateau that momentum and "
        "preconditioning push to larger B.",
    ))
    return out
