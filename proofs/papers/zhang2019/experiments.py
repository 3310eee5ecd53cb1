"""The critical-batch-size table of Zhang et al. (2019), shared by their claims and figure (cached).

Claims run in worker processes, so the numbers the figure shows are also *published*
(:func:`l2l.proofs.report.figures.publish`) when a claim computes the table: ``l2l report`` then
draws the figure without computing it again. Claims never read what is published.
"""

from __future__ import annotations

import functools

BATCH_FIGURE = "zhang2019.batch_table()"


@functools.lru_cache(maxsize=None)
def batch_table():
    from l2l.numerics.nqm import zhang

    rows = zhang.critical_batch_table(d=1000, target=0.05)
    try:
        from l2l.proofs.report.figures import publish  # lazily: only on this expensive path

        publish(BATCH_FIGURE, _batch_summary(rows))
    except Exception:  # noqa: BLE001 - a claim's verdict must not depend on the report's cache
        pass
    return rows


def _batch_summary(rows: list) -> dict:
    return {"batch_size": [r.batch_size for r in rows], "sgd": [r.sgd.steps for r in rows],
            "momentum": [r.momentum.steps for r in rows], "preconditioned": [r.preconditioned.steps for r in rows],
            "lower_bound": [r.lower_bound for r in rows]}


def batch_figure_data() -> dict:
    """What the batch-size figure shows of :func:`batch_table` (published by the claims)."""
    from l2l.proofs.report.figures import shared

    return shared(BATCH_FIGURE, lambda: _batch_summary(batch_table()))
