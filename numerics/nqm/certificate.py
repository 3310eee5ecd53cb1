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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .adjoint import schedule_gradient
from .problem import MU_MAX, NQMProblem

__all__ = ["ScheduleCertificate", "schedule_certificate"]


@dataclass(frozen=True)
class ScheduleCertificate:
    excess: float  #: final excess loss E L_T - irreducible at the schedule
    grad_inf: float  #: largest entry of the projected gradient in (log eta, artanh mu)
    relative: float  #: grad_inf / excess: the scale-free certificate
    at_upper: int  #: steps with eta at eta_max (active upper bound)
    at_lower: int  #: steps with eta at the lower bound 1e-12 eta_max


def schedule_certificate(problem: NQMProblem, etas: Any, mus: Any = None, *, eta_max: float, mu_max: float = MU_MAX) -> ScheduleCertificate:
    """The projected-gradient certificate of ``(etas, mus)`` (``mus=None``: SGD)."""
    e = np.asarray(etas, dtype=np.float64)
    cap = float(eta_max)
    zlo, zhi = math.log(cap) + math.log(1e-12), math.log(cap)
    loss, ge, gm = schedule_gradient(problem, e, mus)
    z = np.log(np.clip(e, math.exp(zlo), cap))
    parts = [np.abs(z - np.clip(z - ge * e, zlo, zhi))]
    if mus is not None:
        m = np.asarray(mus, dtype=np.float64)[1:]
        u = np.arctanh(np.clip(m, 0.0, mu_max))
        parts.append(np.abs(u - np.clip(u - gm[1:] * (1.0 - m * m), 0.0, math.atanh(mu_max))))
    pg = float(max(np.max(p) if p.size else 0.0 for p in parts))
    excess = float(loss - problem.irreducible)
    return ScheduleCertificate(excess, pg, pg / excess if excess > 0 else math.inf,
                               int(np.sum(e >= cap * (1 - 1e-12))), int(np.sum(e <= math.exp(zlo) * (1 + 1e-9))))
