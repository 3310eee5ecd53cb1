"""Greedy (one-step look-ahead) step sizes and momenta for the NQM (spec §4): the closed-form
minimiser of the next step's expected loss, and the greedy schedule."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..validation import ValidationError, as_instance, as_int, as_real
from .dynamics import Schedule, make_schedule, moment_step
from .problem import MAX_STEPS, MAX_WORK, NQMProblem, State, check_state, eta_bound

__all__ = ["greedy_eta", "greedy_eta_mu", "greedy_schedule"]

# ---------------------------------------------------------------------------------------------
# greedy (one-step look-ahead), spec §4


def greedy_eta(problem: NQMProblem, state: State) -> float:
    r"""Greedy SGD step size :math:`\sum_ih_i^2X_i/\sum_ih_i^3(X_i+\sigma_i^2)` (spec §4).

    The one-step expected loss :math:`\tfrac12\sum h[(1-\eta h)^2X + \eta^2h^2\sigma^2]` (plus
    constants) is a convex quadratic in eta with this unique minimiser; it does not depend on
    ``W, Y`` when ``mu = 0``. If ``X = 0`` and ``sigma2 = 0`` everywhere, every eta gives the same
    loss and 0.0 is returned; a numerator that rounded below 0 (a state that converged to 0 in a
    noiseless problem, see :class:`State`) counts as 0.
    """
    problem = as_instance(problem, NQMProblem, article="an")
    state = check_state(problem, state)
    h = problem.h
    h2 = h * h
    # the ratio is invariant under scaling X and sigma2 together: rescale by an exact power of 2 so
    # that tiny (subnormal) moments keep their full precision
    top = max(np.max(np.abs(state.X)), np.max(problem.sigma2).astype(state.X.dtype))
    k = -int(np.frexp(top)[1]) if top > 0 and np.isfinite(top) else 0
    X, s2 = np.ldexp(state.X, k), np.ldexp(problem.sigma2, k)
    num = max(float(h2 @ X), 0.0)  # < 0 only by rounding of an X that is exactly 0
    den = float((h2 * h) @ (X + s2))
    return num / den if den > 0 else 0.0


def _greedy_sums(h, s2, X, W, Y):
    h2 = h * h
    A = float((h2 * h) @ (X + s2))
    B = float(h2 @ Y)
    C = float(h @ W)
    D = float(h2 @ X)
    E = float(h @ Y)
    return A, B, C, D, E


def _solve_greedy(A, B, C, D, E) -> tuple[float, float]:
    det = A * C - B * B
    if det > 1e-12 * A * C:
        return (D * C - B * E) / det, (B * D - A * E) / det
    sol = np.linalg.lstsq(np.array([[A, -B], [-B, C]]), np.array([D, -E]), rcond=1e-12)[0]
    return float(sol[0]), float(sol[1])


def greedy_eta_mu(problem: NQMProblem, state: State) -> tuple[float, float]:
    r"""Greedy (eta, mu) for heavy ball (spec §4): with :math:`A=\sum h^3(X+\sigma^2)`,
    :math:`B=\sum h^2Y`, :math:`C=\sum hW`, :math:`D=\sum h^2X`, :math:`E=\sum hY`,

    .. math:: \eta = \frac{DC-BE}{AC-B^2},\qquad \mu = \frac{BD-AE}{AC-B^2},

    the minimiser of the convex quadratic :math:`f(\eta,\mu)` (Hessian
    :math:`\begin{pmatrix}A&-B\\-B&C\end{pmatrix}`, :math:`AC-B^2\ge C\sum h^3\sigma^2`).

    * ``C == 0`` (``W = 0``, e.g. at t = 0 with v_0 = 0): mu has no effect on the one-step loss
      and the system is singular; returns ``(greedy_eta(problem, state), 0.0)``.
    * ``AC - B^2 <= 1e-12 AC`` (a flat direction; needs :math:`\sum h^3\sigma^2\approx0` and
      ``v`` proportional to ``w`` in every coordinate): the minimum-norm minimiser (lstsq).
    * This is the unconstrained minimiser: eta may come out negative (see
      :func:`greedy_schedule` for the constrained version used to build schedules).
    """
    problem = as_instance(problem, NQMProblem, article="an")
    state = check_state(problem, state)
    A, B, C, D, E = _greedy_sums(problem.h, problem.sigma2, state.X, state.W, state.Y)
    if C == 0:
        return greedy_eta(problem, state), 0.0
    return _solve_greedy(A, B, C, D, E)


def greedy_schedule(problem: NQMProblem, T: Any, *, momentum: bool = False, eta_max: Any = None) -> Schedule:
    r"""The greedy schedule: at each step the one-step-optimal eta (and mu) from the current state.

    With ``eta_max``: for SGD the one-step loss is a convex quadratic in eta, so
    :math:`\min(\eta^{\rm greedy}, \eta_{\max})` is the constrained argmin. With momentum the
    constrained argmin of the convex :math:`f(\eta,\mu)` lies on :math:`\eta = \eta_{\max}` when
    the unconstrained one exceeds it, with the mu that minimises there,
    :math:`\mu = (B\eta_{\max} - E)/C` (0 if C = 0). Step sizes are also kept >= 0: if the
    unconstrained momentum solution has :math:`\eta < 0` (it happens only at rounding level,
    once the state has converged to ~0 in a noiseless problem), the constrained argmin is
    :math:`\eta = 0`, :math:`\mu = -E/C`. (For SGD, :math:`D/A\ge0` always.)
    ``info["capped"]`` and ``info["at_zero"]`` count those steps.

    >>> p = NQMProblem([0.5], [2.0], [0.0], [1.0])         # 1-D: eta_t = m0 / (h (s2 + (t+1) m0))
    >>> s = greedy_schedule(p, 3)
    >>> [round(float(e), 12) for e in s.etas], [round(1 / (0.5 * (2 + k)), 12) for k in (1, 2, 3)]
    ([0.666666666667, 0.5, 0.4], [0.666666666667, 0.5, 0.4])
    """
    problem = as_instance(problem, NQMProblem, article="an")
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    if T * problem.d > MAX_WORK:
        raise ValidationError("T", f"T x d exceeds MAX_WORK = {MAX_WORK:.0e}")
    cap = None if eta_max is None else as_real("eta_max", eta_max, 0.0, eta_bound(problem), lo_open=True)
    if not isinstance(momentum, (bool, np.bool_)):
        raise ValidationError("momentum", f"must be True or False (got {momentum!r})")
    t0 = time.perf_counter()
    h, s2 = problem.h, problem.sigma2
    q = h * h * s2
    X, W, Y = problem.X0.copy(), np.zeros(problem.d), np.zeros(problem.d)
    etas, mus = np.empty(T), np.zeros(T)
    capped = at_zero = 0
    for k in range(T):
        A, B, C, D, E = _greedy_sums(h, s2, X, W, Y)
        if momentum and C != 0:
            e, u = _solve_greedy(A, B, C, D, E)
            if e < 0:  # box-constrained argmin of the convex quadratic: on eta = 0
                at_zero += 1
                e, u = 0.0, -E / C
        else:
            e, u = (max(D, 0.0) / A if A > 0 else 0.0), 0.0
        if cap is not None and e > cap:
            capped += 1
            e = cap
            if momentum and C != 0:
                u = (B * cap - E) / C
        etas[k], mus[k] = e, u
        X, W, Y = moment_step(X, W, Y, e, u, h, q)
        if not np.isfinite(X).all():  # pragma: no cover - greedy steps never increase the loss
            raise ValidationError("problem", "the greedy trajectory overflowed float64")
    info = {"method": "greedy" + (" (eta, mu)" if momentum else " eta"), "capped": capped, "at_zero": at_zero, "eta_max": cap,
            "seconds": time.perf_counter() - t0, "success": True, "message": "closed form each step"}
    return make_schedule(problem, etas, mus, info)


