"""Steps for the NQM's expected excess loss to reach a target at a fixed step size and momentum."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..validation import ValidationError, as_instance, as_int, as_real
from .dynamics import constant_sgd_moment, moment_step
from .problem import GRID_BLOCK, MAX_STEPS, MAX_WORK, STEP_MAX, NQMProblem, eta_bound

__all__ = ["steps_to_target"]

# steps to a target


def steps_to_target(problem: NQMProblem, target: Any, eta: Any, mu: Any = 0.0, *, max_steps: Any) -> int | None:
    r"""First t (0 <= t <= max_steps) with EXCESS loss <= ``target`` for a constant (eta, mu);
    ``None`` if none.

    SGD: the excess is :math:`\sum_i\tfrac12h_i(X^\star_i + r_i^t(X_{0,i}-X^\star_i))` in closed
    form; when every term is non-increasing in t (all :math:`r_i\le1` and
    :math:`X_{0,i}\ge X^\star_i`, or ``n_i = 0`` where ``r_i = 1``) it is monotone and a binary
    search is exact; otherwise t is scanned in vectorised blocks. Momentum: the recursion is
    iterated step by step (``O(t d)``).

    >>> p = NQMProblem([1.0], [0.0], [0.0], [1.0])       # excess 1/2 0.25^t: .5, .125, .031, .0078
    >>> steps_to_target(p, 0.01, 0.5, max_steps=100)
    3
    """
    problem = as_instance(problem, NQMProblem, article="an")
    target = as_real("target", target, 0.0)
    eta = as_real("eta", eta, 0.0, eta_bound(problem))
    mu = as_real("mu", mu, -STEP_MAX, STEP_MAX)
    max_steps = as_int("max_steps", max_steps, 0, MAX_STEPS, integral_floats=True)
    h, X0, s2 = problem.h, problem.X0, problem.sigma2
    if 0.5 * float(h @ X0) <= target:
        return 0
    if max_steps == 0:
        return None
    if mu != 0.0:
        if max_steps * problem.d > MAX_WORK:
            raise ValidationError("max_steps", f"max_steps x d exceeds MAX_WORK = {MAX_WORK:.0e}")
        q = h * h * s2
        X, W, Y = X0.copy(), np.zeros(problem.d), np.zeros(problem.d)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for t in range(1, max_steps + 1):
                X, W, Y = moment_step(X, W, Y, eta, mu, h, q)
                v = 0.5 * float(h @ X)
                if v <= target:
                    return t
                if not math.isfinite(v):
                    return None  # diverged: the exact excess only grows beyond float64
        return None
    a = eta * h

    def excess_at(ts: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return 0.5 * (constant_sgd_moment(X0, s2, a * np.ones((ts.size, 1)), ts[:, None]) @ h)

    r_le_1 = (a <= 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        xstar = np.where(a * (2.0 - a) > 0, a * s2 / np.where(a * (2.0 - a) > 0, 2.0 - a, 1.0), 0.0)
    flat = (a == 0.0) | ((a == 2.0) & (s2 == 0.0))
    monotone = bool(np.all(r_le_1 & ((X0 >= xstar) | flat) & ~((a == 2.0) & (s2 > 0))))
    if monotone:
        if float(excess_at(np.array([max_steps]))[0]) > target:
            return None
        lo, hi = 0, max_steps  # excess(lo) > target >= excess(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if float(excess_at(np.array([mid]))[0]) <= target:
                hi = mid
            else:
                lo = mid
        return hi
    blk = max(1, GRID_BLOCK // problem.d)
    for s in range(1, max_steps + 1, blk):
        ts = np.arange(s, min(s + blk, max_steps + 1))
        v = excess_at(ts)
        hit = np.nonzero(v <= target)[0]
        if hit.size:
            return int(ts[hit[0]])
    return None
