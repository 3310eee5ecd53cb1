r"""Full-batch GD on least squares, simulated step by step: the *process* implementation
(``../shared/DESIGN.md``, "Independence") checked against :mod:`numerics.least_squares.closed_form`.

The dense float64 unroll ``w' = w - eta (H w - b)`` on the raw (X, y) with its forward-mode tangent
``dw/deta``, and the truncation rule of Wang et al. (2021) §2.3 (once ||w_tau|| >= radius, w is
frozen at radius * u). No eigen-decomposition; shares only validation with the closed form.

>>> from l2l.numerics import LeastSquaresProblem
>>> p = LeastSquaresProblem([[1.0], [2.0]], [1.0, 1.0])
>>> round(simulate(p, 0.2, 2).train_loss, 12)                       # 0.05 + 0.45 / 4**2
0.078125
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..problems import LeastSquaresProblem
from ..validation import as_instance

__all__ = ["SimulatedGD", "simulate"]


# ---------------------------------------------------------------------------------------------
# the process, step by step (independent of everything above)


@dataclass(frozen=True)
class SimulatedGD:
    """One dense float64 unroll (:func:`simulate`). ``truncated_at`` is the first step tau with
    ||w_tau|| >= radius (then w is frozen at radius * u), else None."""

    w: np.ndarray
    dw: np.ndarray  #: d w_t / d eta (forward-mode tangent; 0 after truncation)
    train_loss: float
    train_loss_grad: float
    valid_loss: float | None
    valid_loss_grad: float | None
    truncated_at: int | None
    max_w_norm: float  #: max over tau of ||w_tau|| (scale of the unroll's rounding errors)
    max_dw_norm: float  #: max over tau of ||d w_tau / d eta||


def simulate(
    problem: LeastSquaresProblem,
    eta: float,
    t: int,
    w0: Any = None,
    radius: float | None = None,
    u: Any = None,
) -> SimulatedGD:
    r"""Run GD w <- w - eta X^T (X w - y) / n for t steps on the dense X, with the tangent
    wdot <- wdot - g - eta X^T X wdot / n (forward mode), and the truncation rule of Wang et al.
    (2021) §2.3 when ``radius`` is given: the first time ||w_tau|| >= radius, w is set to
    radius * u (u a unit vector; the tangent becomes 0) and the run stops.

    Plain loops, no eigen-decomposition: this is the process itself (implementation 2 of
    DESIGN.md). Overflows to inf/NaN like any float64 unroll would.

    >>> from l2l.numerics import LeastSquaresProblem
    >>> r = simulate(LeastSquaresProblem([[1.0], [2.0]], [1.0, 1.0]), 0.2, 2)
    >>> round(r.train_loss, 12), r.w.round(12).tolist()
    (0.078125, [0.45])
    """
    problem = as_instance(problem, LeastSquaresProblem)
    x, y = problem.X, problem.y
    n, d = problem.n, problem.d
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=np.float64)
    wd = np.zeros(d)
    eta = float(eta)
    stop = None
    wmax = float(np.linalg.norm(w))
    dmax = 0.0
    with np.errstate(all="ignore"):
        for tau in range(1, int(t) + 1):
            g = x.T @ (x @ w - y) / n
            hwd = x.T @ (x @ wd) / n
            w, wd = w - eta * g, wd - g - eta * hwd
            wmax = max(wmax, float(np.linalg.norm(w)))
            dmax = max(dmax, float(np.linalg.norm(wd)))
            if radius is not None and np.linalg.norm(w) >= radius:
                w = float(radius) * np.asarray(u, dtype=np.float64)
                wd = np.zeros(d)
                stop = tau
                break
        res = y - x @ w
        tl = float(res @ res) / (2 * n)
        tg = -float(res @ (x @ wd)) / n
        vl = vg = None
        if problem.has_validation:
            rv = problem.y_valid - problem.X_valid @ w
            vl = float(rv @ rv) / (2 * problem.n_valid)
            vg = -float(rv @ (problem.X_valid @ wd)) / problem.n_valid
    return SimulatedGD(w, wd, tl, tg, vl, vg, stop, wmax, dmax)


