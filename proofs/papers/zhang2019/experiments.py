"""The critical-batch-size table of Zhang et al. (2019), shared by their claims and figure (cached)."""

from __future__ import annotations

import functools

@functools.lru_cache(maxsize=None)
def batch_table():
    from l2l.numerics.nqm import zhang

    return zhang.critical_batch_table(d=1000, target=0.05)
