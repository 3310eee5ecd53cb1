r"""Optimality certificate of a step-size (and momentum) schedule for the NQM (spec §5).

A schedule returned by an optimiser is only as good as its optimiser; this module measures, at
the returned point and independently of how it was found, the first-order condition of the box
problem the optimiser solves: minimise :math:`\mathbb E L_T` over :math:`z_t=\log\eta_t\in
[\log(10^{-12}\eta_{\max}),\log\eta_{\max}]` and, with momentum,
:math:`u_t=\operatorname{artanh}\mu_t\in[0,\operatorname{artanh}\mu_{\max}]` (t >= 1). The
gradient is the adjoint's (:func:`numerics.nqm.adjoint.schedule_gradient`, checked against finite
differences elsewhere), projected onto the box: entries pushing against an active bound count 0.

>>> from l2l.numerics.nqm import NQMProblem, greedy_schedule
>>> p = NQMProblem([0.5], [2.0], [0.0], [1.0])
>>> c = schedule_certificate(p, greedy_schedule(p, 5).etas, eta_max=1.999 / 0.5)
>>> c.relative < 1e-12                      # the greedy schedule is optimal in 1-D
True

How far above that stationary point can a certified schedule still be? The projected gradient g
alone does not say: where the loss is flat in some direction (small curvature), a small gradient
leaves a large gap. :func:`schedule_gap` gives the second-order answer, the gap of the quadratic
model at the schedule, :math:`\tfrac12 g_F^\top H_{FF}^{-1} g_F` over the coordinates F not held by
an active bound, with H the Hessian in the same coordinates by central differences of the adjoint
gradient. Measured (Wu et al. 2018's 1-D isotropic NQM, where the greedy schedule is the optimum
in closed form; n = 1, T = 36, h = sigma^2 = 1/8, m_0 = 1/4): L-BFGS-B stopped with projected
gradient 9.7e-10 at 2.66998e-13 above the optimum; the model's gap is 2.66996e-13. The curvature
there is 1.2e-5 to 3.5e-5 in log-step units, so a gradient of 1e-9 allows such a gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .adjoint import schedule_gradient
from .problem import MU_MAX, NQMProblem

__all__ = ["ScheduleCertificate", "schedule_certificate", "schedule_gap"]


@dataclass(frozen=True)
class ScheduleCertificate:
    excess: float  #: final excess loss E L_T - irreducible at the schedule
    grad_inf: float  #: largest entry of the projected gradient in (log eta, artanh mu)
    relative: float  #: grad_inf / excess: the scale-free certificate
    at_upper: int  #: steps with eta at eta_max (active upper bound)
    at_lower: int  #: steps with eta at the lower bound 1e-12 eta_max


def _box(etas: np.ndarray, mus: np.ndarray | None, cap: float, mu_max: float):
    """The schedule in the optimiser's coordinates ``x = (z, u)`` (z = log eta clipped into the box,
    u = artanh mu_t for t >= 1 with momentum) and the box ``(lo, hi)``."""
    zlo, zhi = math.log(cap) + math.log(1e-12), math.log(cap)
    T = etas.size
    x = [np.log(np.clip(etas, math.exp(zlo), cap))]
    lo, hi = [np.full(T, zlo)], [np.full(T, zhi)]
    if mus is not None:
        x.append(np.arctanh(np.clip(mus[1:], 0.0, mu_max)))
        lo.append(np.zeros(T - 1))
        hi.append(np.full(T - 1, math.atanh(mu_max)))
    return np.concatenate(x), np.concatenate(lo), np.concatenate(hi)


def _box_gradient(problem: NQMProblem, etas: np.ndarray, mus: np.ndarray | None):
    """``(E L_T, its gradient in (z, u))`` at ``(etas, mus)`` by the adjoint and the chain rule
    (eta d/deta, (1 - mu^2) d/dmu)."""
    loss, ge, gm = schedule_gradient(problem, etas, mus)
    if mus is None:
        return loss, ge * etas
    return loss, np.concatenate((ge * etas, gm[1:] * (1.0 - mus[1:] * mus[1:])))


def schedule_certificate(problem: NQMProblem, etas: Any, mus: Any = None, *, eta_max: float, mu_max: float = MU_MAX) -> ScheduleCertificate:
    """The projected-gradient certificate of ``(etas, mus)`` (``mus=None``: SGD)."""
    e = np.asarray(etas, dtype=np.float64)
    m = None if mus is None else np.asarray(mus, dtype=np.float64)
    cap = float(eta_max)
    x, lo, hi = _box(e, m, cap, mu_max)
    loss, g = _box_gradient(problem, e, m)
    pg = float(np.max(np.abs(x - np.clip(x - g, lo, hi))))
    excess = float(loss - problem.irreducible)
    return ScheduleCertificate(excess, pg, pg / excess if excess > 0 else math.inf,
                               int(np.sum(e >= cap * (1 - 1e-12))), int(np.sum(e <= math.exp(lo[0]) * (1 + 1e-9))))


def schedule_gap(problem: NQMProblem, etas: Any, mus: Any = None, *, eta_max: float, mu_max: float = MU_MAX,
                 step: float = 1e-5) -> float:
    r"""Second-order estimate of how far :math:`\mathbb E L_T` at ``(etas, mus)`` lies above the
    stationary point of the box problem (module docstring) nearby: :math:`\tfrac12 g_F^\top
    H_{FF}^{-1} g_F` with g the gradient in :math:`(z, u)` = (log eta, artanh mu for t >= 1), F
    the coordinates whose projected gradient is not zeroed by an active bound, and :math:`H_{FF}`
    by central differences of the adjoint gradient (``step`` in z and u: 2|F| gradient
    evaluations; truncation error O(step^2) relative, rounding about eps |g| / step). ``inf`` when
    :math:`H_{FF}` is not positive definite (no local minimum to measure from); 0 when F is empty.

    A quadratic model: accurate when the schedule is close to the stationary point relative to the
    scale on which the curvature changes, as for a schedule an optimiser certified; an estimate,
    not a bound, far from it.

    >>> from l2l.numerics.nqm import NQMProblem, greedy_schedule, schedule_gradient
    >>> p = NQMProblem([0.5], [2.0], [0.0], [1.0])
    >>> g = greedy_schedule(p, 5).etas                          # the optimum in 1-D
    >>> schedule_gap(p, g, eta_max=1.999 / 0.5) < 1e-25
    True
    >>> est = schedule_gap(p, g * 1.001, eta_max=1.999 / 0.5)   # every step 0.1% too long
    >>> true = schedule_gradient(p, g * 1.001)[0] - schedule_gradient(p, g)[0]
    >>> f"{est:.4e} vs {true:.4e}"
    '6.5751e-08 vs 6.5757e-08'
    """
    e = np.asarray(etas, dtype=np.float64)
    T = e.size
    m = None if mus is None else np.asarray(mus, dtype=np.float64)
    x, lo, hi = _box(e, m, float(eta_max), mu_max)

    def grad(xx: np.ndarray) -> np.ndarray:
        return _box_gradient(problem, np.exp(xx[:T]), None if m is None else np.concatenate(([0.0], np.tanh(xx[T:]))))[1]

    g = grad(x)
    # free: not at a bound, or at one with the gradient pointing inside (its projected entry is not 0)
    free = np.flatnonzero(((x > lo) | (g < 0)) & ((x < hi) | (g > 0)))
    if free.size == 0:
        return 0.0
    H = np.empty((free.size, free.size))
    for k, i in enumerate(free):
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        H[:, k] = (grad(xp)[free] - grad(xm)[free]) / (2.0 * step)
    H = 0.5 * (H + H.T)
    try:
        C = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return math.inf
    y = np.linalg.solve(C, g[free])
    return float(0.5 * (y @ y))
