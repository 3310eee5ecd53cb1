r"""Noisy quadratic model (NQM): exact expected dynamics, greedy and optimal schedules.

Sources: Wu, Ren, Liao & Grosse (2018), *Understanding Short-Horizon Bias in Stochastic
Meta-Optimization*, and the NQM of Zhang et al. (2019); spec ``../shared/papers/wu2018.md``
§2-§7, §10-§11. The dynamics, greedy formulas and adjoint are [derived] in the spec (their role
as the paper's Theorems 1-2 is [unconfirmed]); every reference number quoted below is computed
on the spec's *stand-in* instance, not the paper's (unknown) one.

Model (spec §2)
---------------
Per coordinate ``i`` (the Hessian is diagonal): loss :math:`\tfrac12\sum_i h_i(w_i - c_i)^2`,
:math:`c_i\sim\mathcal N(0,\sigma_i^2)` redrawn every step, stochastic gradient
:math:`g_i = h_i(w_i - c_i)`. Heavy-ball form (spec §3; *not* the TF form of the authors'
neural-net code, which differs for time-varying step sizes):

.. math::  v' = \mu_t v - \eta_t g,\qquad w' = w + v',\qquad v_0 = 0 .

Exact dynamics (spec §3)
------------------------
With :math:`a = \eta h`, :math:`n = \eta^2h^2\sigma^2` and the raw second moments
:math:`s = (X, W, Y) = (\mathbb E w^2, \mathbb E v^2, \mathbb E wv)`:

.. math::

    s' = M s + n\,(1,1,1)^\top,\qquad
    M = \begin{pmatrix}(1-a)^2&\mu^2&2\mu(1-a)\\ a^2&\mu^2&-2a\mu\\
        -a(1-a)&\mu^2&\mu(1-2a)\end{pmatrix}.

:math:`\mathbb E L = \tfrac12\sum_i h_iX_i + \tfrac12\sum_i h_i\sigma_i^2`; the second term is
irreducible, the first is the *excess* loss. For SGD (:math:`\mu = 0`) the ``X`` line is closed:
:math:`X' = (1-a)^2X + n`, and for a constant step size
:math:`X_k = r^kX_0 + n\,(1-r^k)/(1-r)`, :math:`r = (1-a)^2` (spec §3; evaluated with
``expm1``/``log1p``, exact at ``a = 1`` and ``r = 1``). :func:`mean_variance_run` propagates the
mean/variance form instead (:math:`X = (\mathbb E w)^2 + V_w`).

Greedy (spec §4), adjoint (spec §5)
-----------------------------------
* :func:`greedy_eta`: :math:`\eta = \sum h^2X/\sum h^3(X+\sigma^2)`, the exact minimiser of the
  convex one-step loss; :func:`greedy_eta_mu`: the 2x2 system
  :math:`A\eta - B\mu = D,\ -B\eta + C\mu = -E`.
* :func:`schedule_gradient`: reverse recursion :math:`\lambda_T = (h/2, 0, 0)`,
  :math:`\lambda_t = M_t^\top\lambda_{t+1}`, :math:`\partial L_T/\partial\eta_t =
  \sum_i\lambda_{t+1}\cdot\partial_\eta s_{t+1}` (and :math:`\mu_t`), one forward and one
  backward pass; with checkpointing when the stored states would exceed ``max_store`` floats.

Optimisation
------------
:func:`optimal_schedule` minimises the expected loss at ``T`` over a free per-step schedule with
L-BFGS-B in :math:`z_t = \log\eta_t` (upper bound :math:`\log\eta_{\max}`) and, with momentum,
:math:`\mu_t = \tanh u_t`, :math:`u_t\in[0, \operatorname{artanh}\mu_{\max}]` -- momentum is
restricted to :math:`[0,\mu_{\max}]` so that every step with :math:`\eta h\le 2` is stable
(heavy ball is stable iff :math:`0<a<2(1+\mu)`, :math:`|\mu|<1`), and :math:`\mu = 0` (plain
SGD) is feasible, so the momentum optimum is never worse than the SGD optimum. The gradient comes
from the adjoint.

Range
-----
Inputs are bounded so that nothing overflows for a non-diverging schedule: ``h`` in
[1e-30, 1e30], ``sigma2`` and ``var0`` in [0, 1e60], ``|mean0| <= 1e30``, ``d <= 10^6``; step
sizes with ``eta * max(h) <= 1e30`` and ``|mu| <= 1e30``. A *diverging* schedule is still
evaluated exactly by :func:`run` (each coordinate's moments are rescaled by exact powers of 2 and
the exponents carried in integers): a value beyond the float64 range comes out as ``+inf``, never
NaN. The gradient and optimisation routines need a finite forward pass and raise
:class:`ValidationError` otherwise.

Reproduction of spec §7 (stand-in; ``benchmarks/nqm.py``; eta_max = 1.999)
-------------------------------------------------------------------------
Excess at T, ours (spec): n = 1000, T = 250, kappa = 1: greedy 1.461 (1.461), T-optimal 0.956
(0.956), best fixed 1.192 at eta 0.246 (1.192, 0.246); kappa = 0.01: 0.484 (0.484), 0.138 (0.138),
0.200 at eta 1.692 (0.200 at 1.68); n = 100, T = 100, kappa = 1: 0.668, 0.434, 0.581 (the same);
n = 20, T = 50: 0.282, 0.208, 0.289 (the same); momentum, kappa = 0.01: greedy 0.411, optimal
0.030 (the same); receding horizon k = 1..300: 1.110 ... 0.706 (the same). The step-size ranges,
first crossing times and the curvature split agree to the printed digits. Differences: the
optimal momentum schedule found here uses mu up to 0.989 (t = 1) decreasing to 0 at T and an
effective rate eta/(1-mu) up to ~180, where the spec reports mu ~ 0.90-0.97 and up to ~60 (same
final loss); the inverse-time table gives best beta 100, 17.6, 5.88, 3.07 (spec 100, 20.2, 6.06,
2.72) -- a finer optimum: at T = 20000 ours reaches 0.0409 < 0.0417.

Examples
--------
One coordinate, ``h = sigma2 = 1``, ``E w_0^2 = 1``: the greedy step is
:math:`m/(h(m+\sigma^2)) = 1/2` and the excess halves (:math:`m_1 = \sigma^2m_0/(m_0+\sigma^2)`)::

    >>> from l2l.numerics.nqm import NQMProblem, excess_loss, greedy_eta, greedy_schedule, initial_state, run, step
    >>> p = NQMProblem([1.0], [1.0], [0.0], [1.0])
    >>> s0 = initial_state(p)
    >>> greedy_eta(p, s0), excess_loss(p, step(p, s0, 0.5))
    (0.5, 0.25)
    >>> run(p, 0.5, 2).excess.tolist()                 # 1/2 E w_t^2 = 1/2, 1/4, 3/16
    [0.5, 0.25, 0.1875]

The stand-in of spec §2 (h_i = 1/i, sigma2_i = kappa / h_i, E w_0^2 = 1)::

    >>> q = NQMProblem.stand_in(20)
    >>> round(greedy_schedule(q, 50).final_loss - q.irreducible, 3)     # spec §7: 0.282
    0.282

Layout: :mod:`.problem` (NQMProblem, State, ranges) · :mod:`.dynamics` (step, run, losses) ·
:mod:`.jump` (constant eta and mu: the moments at any t in O(d), closed form / repeated squaring) ·
:mod:`.greedy` · :mod:`.adjoint` (schedule gradient) · :mod:`.schedules` (constant, receding
horizon, optimal, inverse time) · :mod:`.steps_to_target`; independent checks: :mod:`.montecarlo`
(the process, path by path), :mod:`.reference` (mpmath mean/variance propagation) and
:mod:`.zhang` (Zhang et al.'s closed forms, written separately). Those three are not imported here.
SciPy is imported only inside the schedule optimisers.
"""

import importlib

#: Public name -> the module of this package that defines it (loaded on first use, so that
#: ``import l2l.numerics`` can register NQMProblem without loading the dynamics and schedules).
_HOMES = {
    "schedule_gradient": "adjoint",
    **dict.fromkeys(["Schedule", "Trajectory", "excess_loss", "expected_loss", "mean_variance_run", "one_step_loss",
                     "per_coordinate_excess", "run", "step"], "dynamics"),
    **dict.fromkeys(["greedy_eta", "greedy_eta_mu", "greedy_schedule"], "greedy"),
    **dict.fromkeys(["ADJOINT_STORE_FLOATS", "MAX_CURVE_POINTS", "MAX_DIM", "MAX_STEPS", "MAX_WORK", "MU_MAX",
                     "NQMProblem", "State", "initial_state"], "problem"),
    **dict.fromkeys(["best_constant_eta", "inverse_time", "optimal_schedule", "receding_horizon_schedule",
                     "tune_inverse_time"], "schedules"),
    "steps_to_target": "steps_to_target",
    **dict.fromkeys(["Jump", "run_constant", "jump_steps", "MAX_JUMP_T", "MAX_JUMP_T_MOMENTUM"], "jump"),
}


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "NQMProblem",
    "State",
    "Trajectory",
    "Schedule",
    "initial_state",
    "step",
    "expected_loss",
    "excess_loss",
    "per_coordinate_excess",
    "run",
    "mean_variance_run",
    "greedy_eta",
    "greedy_eta_mu",
    "one_step_loss",
    "greedy_schedule",
    "receding_horizon_schedule",
    "schedule_gradient",
    "optimal_schedule",
    "best_constant_eta",
    "inverse_time",
    "tune_inverse_time",
    "steps_to_target",
    "Jump",
    "run_constant",
    "jump_steps",
    "MAX_JUMP_T",
    "MAX_JUMP_T_MOMENTUM",
    "MAX_DIM",
    "MAX_STEPS",
    "MAX_WORK",
    "MAX_CURVE_POINTS",
    "ADJOINT_STORE_FLOATS",
    "MU_MAX",
]
