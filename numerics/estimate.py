"""A Monte Carlo estimate: the sample mean over independent paths with its standard error.

Shared by the Monte Carlo simulators (:mod:`numerics.least_squares.montecarlo`,
:mod:`numerics.nqm.montecarlo`); a result container, no computation of either model.

>>> e = MCEstimate(mean=1.02, stderr=0.01, n_paths=10000, seed=0)
>>> round(e.z(1.0), 6), round(e.sd, 6)                  # z-score against the exact value
(2.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MCEstimate"]


@dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo mean with its standard error (sample sd / sqrt(n_paths), ddof = 1).

    ``mean``/``stderr`` are floats, or arrays over steps 0..t for curves.
    """

    mean: Any
    stderr: Any
    n_paths: int
    seed: int

    @property
    def sd(self) -> Any:
        """Per-path standard deviation."""
        return self.stderr * math.sqrt(self.n_paths)

    def z(self, exact: Any) -> Any:
        """(mean - exact) / stderr (inf if stderr is 0 and they differ, 0 if equal)."""
        diff = np.asarray(self.mean, dtype=np.float64) - np.asarray(exact, dtype=np.float64)
        se = np.asarray(self.stderr, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(se > 0, diff / np.where(se > 0, se, 1.0), np.where(diff == 0, 0.0, np.inf * np.sign(diff)))
        return float(out) if out.ndim == 0 else out
