r"""Meta-gradient descent on the step size, and the optimal step size eta*(t).

Source: Wang, Yuan, Wu & Ge (2021), Theorem 4 (``../shared/papers/wang2021.md`` §3.3, §6.1,
§7 items 4, 7 and 9). For GD on :math:`f(w)=\tfrac12 w^\top Hw` the log meta-objective is

.. math::  G(\eta) = \tfrac1t \ln f(w_{t,\eta}),\qquad
           G'(\eta) = -2\,\frac{\sum_i c_i^2\lambda_i^2 a_i^{2t-1}}{\sum_i c_i^2\lambda_i a_i^{2t}},
           \quad a_i = 1-\eta\lambda_i ,

evaluated here with :func:`numerics.stable.evaluate` (log space, accurate at any t <= 10^9).

* **Theorem 4(i)** [paper]: G has a unique minimiser :math:`\eta^*`. Since
  :math:`\mathrm{sign}\,G' = \mathrm{sign}\,F'` for the naive objective :math:`F = f(w_{t,\eta})`
  (strictly convex, Theorem 3(i)), :math:`\eta^*` is the unique zero of G'. It lies in
  :math:`[1/L, 2/\alpha)`: every :math:`a_i \ge 0` below 1/L (so G' < 0) and every
  :math:`a_i \le -1` above 2/alpha (so G' > 0). :func:`eta_star` brackets and solves it.
* **Theorem 4(iii)** [paper]: meta-GD :math:`\eta_{k+1} = \max(0, \eta_k - \mu_k G'(\eta_k))` with
  :math:`\mu_k = 1/\sqrt k` converges to :math:`\eta^*` (after polynomially many steps). The paper's
  experiment (§6.1) uses :math:`\mu_k = 1/(100\sqrt k)`; :func:`meta_gd` takes
  :math:`\mu_k = c/\sqrt k`.
* §3.3 remark [derived]: :math:`\eta^*(1) = \sum c_i^2\lambda_i^2/\sum c_i^2\lambda_i^3` (exact
  line search) and :math:`\eta^*(t)\to 2/(L+\alpha)`.

Two further facts, [derived] here (not the paper's claims; tested in
``tests/numerics/test_metaopt.py``):

* **Rate of** :math:`\eta^*(t)\to2/(L+\alpha)`. Keeping only the extreme components, G' = 0 reads
  :math:`c_d^2\alpha^2 a_d^{2t-1} = c_1^2L^2|a_1|^{2t-1}`, whose root is
  :math:`\eta_{\rm ext}(t) = (1+q)/(L+q\alpha)` with
  :math:`q = (c_d^2\alpha^2/(c_1^2L^2))^{1/(2t-1)}` (:func:`eta_star_extremes`); the other
  components shift the root by an exponentially small amount. Hence
  :math:`\eta^*(t) - \tfrac{2}{L+\alpha} = \frac{\rho\,\ln(c_d^2\alpha^2/(c_1^2L^2))}{(2t-1)(L+\alpha)}
  + O(t^{-2})`, :math:`\rho = \tfrac{L-\alpha}{L+\alpha}`: the gap closes like 1/t, so
  :math:`t\,|\eta^*(t) - 2/(L+\alpha)|` stays bounded (the conjecture of ``wang2021.md`` §7 item 7).
* **When meta-GD settles.** Near :math:`\eta^*` the update is GD with step :math:`c/\sqrt k` on a
  function of curvature :math:`G''(\eta^*)`, which is linearly stable only once
  :math:`c/\sqrt k < 2/G''(\eta^*)`, i.e. after :math:`k_c = (c\,G''(\eta^*)/2)^2` steps
  (:func:`stability_step`). Before that the iterate keeps oscillating around :math:`\eta^*`
  (period-doubling and chaotic orbits, amplitude ~ :math:`c|G'|/\sqrt k`); after it, the error
  contracts geometrically. :math:`G''(\eta^*)` grows like t, so :math:`k_c` ~ :math:`(c\,t)^2`
  and depends strongly on the instance (12 to 10^5 for t = 1000 on 20-d ``X^T X`` instances with
  c = 1/100). c has units of 1/lambda^2: rescaling H by s and eta by 1/s maps c to c/s^2.

Example (a 2-d problem; eta*(1) = (0.36 + 0.64 x 9)/(0.36 + 0.64 x 27) = 6.12/17.64)::

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0, 3.0], [0.6, 0.8])
    >>> round(eta_star(p, 1), 12), round(6.12 / 17.64, 12)
    (0.34693877551, 0.34693877551)
    >>> [round(eta_star(p, t), 6) for t in (10, 100, 1000)]          # -> 2/(L + alpha) = 0.5
    [0.482431, 0.498264, 0.499827]
    >>> es = eta_star(p, 100)
    >>> round(stability_step(p, 100, c=0.002), 1)                      # k_c = (c G''(eta*) / 2)^2
    23.1
    >>> traj = meta_gd(p, eta0=0.4, t=100, steps=300, c=0.002)
    >>> first_hit(traj, es, 1e-3 * es), first_hit(traj, es, 1e-12 * es)
    (56, 69)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq

from .problems import QuadraticProblem
from .stable import evaluate
from .validation import MAX_HORIZON, ValidationError, as_horizons

__all__ = [
    "MetaTrajectory",
    "meta_gd",
    "meta_gd_many",
    "eta_star",
    "eta_star_extremes",
    "stability_step",
    "first_hit",
    "MAX_META_STEPS",
]

#: Largest number of meta-steps accepted by :func:`meta_gd`: each step is one call of
#: :func:`numerics.stable.evaluate` (~0.1-0.3 ms), so the cap is a few minutes of work and 24 MB of
#: trajectory per run.
MAX_META_STEPS = 10**6

_EPS = float(np.finfo(np.float64).eps)
#: Doublings of the upper bracket end before giving up; 2/L * 2^k passes 2/alpha after
#: log2(kappa) doublings, so this bounds kappa by 2^1100, beyond any float64 spectrum.
_MAX_DOUBLINGS = 1100


@dataclass(frozen=True)
class MetaTrajectory:
    """One run of meta-GD. ``etas[k]`` is the iterate after k meta-steps (``etas[0] = eta0``).

    ``grads[k - 1]`` = G'(etas[k - 1]) and ``step_sizes[k - 1]`` = c / sqrt(k) were used to get
    ``etas[k]``; ``projected[k - 1]`` says whether the update was reset to 0. ``terminated`` is
    ``None`` for a complete run, else why it stopped early (only with ``project=False``, when an
    iterate went negative: G' is defined for eta >= 0 only); then the arrays are shorter.
    """

    problem: QuadraticProblem
    t: int
    c: float
    project: bool
    etas: np.ndarray
    grads: np.ndarray
    step_sizes: np.ndarray
    projected: np.ndarray
    terminated: str | None = None

    @property
    def eta0(self) -> float:
        return float(self.etas[0])

    @property
    def steps(self) -> int:
        """Number of meta-steps taken."""
        return int(self.grads.size)


# ---------------------------------------------------------------------------------------------
# validation


def _problem(problem: Any) -> QuadraticProblem:
    if not isinstance(problem, QuadraticProblem):
        raise ValidationError("problem", f"must be a QuadraticProblem (got {type(problem).__name__})")
    return problem


def _real(field: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValidationError(field, f"must be a real number (got {type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValidationError(field, f"must be finite (got {v!r})")
    return v


def _nonneg(field: str, value: Any) -> float:
    v = _real(field, value)
    if v < 0:
        raise ValidationError(field, f"must be >= 0 (got {v!r})")
    return v


def _positive(field: str, value: Any) -> float:
    v = _real(field, value)
    if not v > 0:
        raise ValidationError(field, f"must be > 0 (got {v!r})")
    return v


def _integer(field: str, value: Any, maximum: int) -> int:
    arr = as_horizons(field, value, maximum=maximum)
    if arr.ndim != 0:
        raise ValidationError(field, f"must be a single integer in [1, {maximum}] (got shape {arr.shape})")
    return int(arr)


# ---------------------------------------------------------------------------------------------
# G' and its root


def _gprime(problem: QuadraticProblem, eta: Any, t: Any) -> np.ndarray:
    """G'(eta) from numerics.stable; 0 where f(w_t) = 0 exactly (there eta is a global minimiser
    of f(w_t) >= 0, and G' does not exist: every excited component has eta lambda_i = 1)."""
    ev = evaluate(problem, eta, t)
    return np.where(ev.loss_is_zero, 0.0, ev.log_objective_grad)


def eta_star(problem: QuadraticProblem, t: Any) -> float:
    r"""The unique minimiser :math:`\eta^*(t)` of :math:`\tfrac1t\ln f(w_{t,\eta})` over eta >= 0.

    Statement (Theorem 4(i), with Theorem 3(i)): :math:`\eta^*` is the unique zero of G' (equally
    of the naive F'), G' < 0 below it and > 0 above. Assumptions: H positive definite (a
    :class:`~numerics.QuadraticProblem`), t >= 1.

    Method: G'(eta) < 0 on [0, 1/L) (all a_i > 0), so the lower end is 1/L (returned at once if
    f(w_t) = 0 there; 0 if rounding put fl(1/L) past a root at the real 1/L). The upper end starts
    at 2/L and doubles until G' > 0; this is needed because eta*(t) can exceed 2/L at small t
    (eta*(1) = sum c^2 lambda^2 / sum c^2 lambda^3 is a weighted mean of 1/lambda), and it stops
    before 4/alpha since G' > 0 beyond 2/alpha. The root is found by :func:`scipy.optimize.brentq`
    with tolerance 4 eps |eta| + 4 eps / L <= 8 eps eta* (eta* >= 1/L); the evaluation error of G'
    near its root adds about eps x (sum of |terms|) / G''(eta*), a few ulps on the instances tested.

    >>> from l2l.numerics import QuadraticProblem
    >>> eta_star(QuadraticProblem([2.0], [1.0]), 7)        # 1-d: f(w_t) = 0 at eta = 1/lambda
    0.5
    """
    problem = _problem(problem)
    t = _integer("t", t, maximum=MAX_HORIZON)
    lo = 1.0 / problem.L
    g_lo = float(_gprime(problem, lo, t))
    if g_lo == 0.0:
        return lo
    if g_lo > 0:
        # fl(1/L) > 1/L and only the L-eigenspace is excited (e.g. d = 1): the root (a pole of
        # G', where f(w_t) = 0) is the real 1/L, just below; G'(0) < 0 always.
        lo = 0.0
    hi = 2.0 / problem.L
    for _ in range(_MAX_DOUBLINGS):
        g_hi = float(_gprime(problem, hi, t))
        if g_hi == 0.0:
            return hi
        if g_hi > 0:
            break
        lo, hi = hi, 2.0 * hi
    else:  # pragma: no cover - 2/L * 2^1100 overflows long before
        raise RuntimeError("eta_star: no sign change of G' found")
    return float(
        brentq(
            lambda e: float(_gprime(problem, e, t)),
            lo,
            hi,
            xtol=4.0 * _EPS / problem.L,
            rtol=4.0 * _EPS,
            maxiter=500,
        )
    )


def eta_star_extremes(problem: QuadraticProblem, t: Any) -> float:
    r"""Root of G' keeping only the two extreme eigencomponents: (1 + q) / (L + q alpha).

    With :math:`r = c_d^2\alpha^2 / (c_1^2 L^2)` and :math:`q = r^{1/(2t-1)}`. [derived] The
    neglected components change :math:`\eta^*(t)` by a relative amount that decays exponentially in
    t, so this is the asymptotics of :math:`\eta^*(t)` and shows the 1/t approach to
    2/(L + alpha) (module docstring). Repeated extreme eigenvalues pool their c_i^2. Needs
    :math:`c_1, c_d \ne 0` (``c_min > 0``, as in the paper) and L > alpha.

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0, 3.0], [0.6, 0.8])           # only two components: exact
    >>> abs(eta_star_extremes(p, 10) - eta_star(p, 10)) < 1e-15
    True
    """
    problem = _problem(problem)
    t = _integer("t", t, maximum=MAX_HORIZON)
    lam, c = problem.eigenvalues, problem.coefficients
    L, a = problem.L, problem.alpha
    if not L > a:
        raise ValidationError("problem", "needs L > alpha (two distinct extreme eigenvalues)")
    c1 = float(np.sum(c[lam == L] ** 2))
    cd = float(np.sum(c[lam == a] ** 2))
    if c1 == 0 or cd == 0:
        raise ValidationError("problem", "needs c_1 != 0 and c_d != 0 (c_min > 0)")
    log_r = math.log(cd) + 2 * math.log(a) - math.log(c1) - 2 * math.log(L)
    q = math.exp(log_r / (2 * t - 1))
    return (1.0 + q) / (L + q * a)


def stability_step(problem: QuadraticProblem, t: Any, c: Any = 1.0) -> float:
    r"""k_c = (c G''(eta*) / 2)^2: the meta-step after which c/sqrt(k) < 2 / G''(eta*).

    [derived] Below this step the fixed point eta* of meta-GD is linearly unstable and the
    iterate oscillates around it; above it the error contracts (module docstring). Returns 0 when
    G''(eta*) <= 0 or does not exist (f(w_t) = 0 at eta*).

    >>> from l2l.numerics import QuadraticProblem
    >>> round(stability_step(QuadraticProblem([1.0, 3.0], [0.6, 0.8]), 100, c=0.05), 1)
    14457.4
    """
    problem = _problem(problem)
    t = _integer("t", t, maximum=MAX_HORIZON)
    c = _positive("c", c)
    es = eta_star(problem, t)
    ev = evaluate(problem, es, t)
    h = float(ev.log_objective_hess)
    if bool(ev.loss_is_zero) or not h > 0:
        return 0.0
    return (c * h / 2.0) ** 2


# ---------------------------------------------------------------------------------------------
# meta-gradient descent


def meta_gd(
    problem: QuadraticProblem,
    eta0: Any,
    t: Any,
    steps: Any,
    c: Any = 1.0,
    project: bool = True,
) -> MetaTrajectory:
    r"""Meta-GD on the log meta-objective: eta_{k+1} = max(0, eta_k - (c/sqrt k) G'(eta_k)), k = 1..steps.

    Statement (Theorem 4(iii)) [paper]: with :math:`\mu_k = 1/\sqrt k` and the reset to 0 of
    negative iterates, :math:`|\eta_k-\eta^*|\le\varepsilon` for all
    :math:`k \ge k' = (M^6/\varepsilon^2)\,\mathrm{poly}(1/c_{\min}, L, 1/\alpha, 1/(L-\alpha))`
    when :math:`\eta_0 \le M`. The paper's experiment uses c = 1/100 (§6.1). G' comes from
    :func:`numerics.stable.evaluate` (bounded, Theorem 4(ii), and accurate at any t). Where
    f(w_t) = 0 exactly (every excited component has eta lambda_i = 1, so eta is a global
    minimiser), G' does not exist and the step is 0.

    Inputs: ``eta0`` finite >= 0; ``t`` integer in [1, 10^12] (``MAX_HORIZON``); ``steps`` integer in
    [1, :data:`MAX_META_STEPS`]; ``c`` finite > 0 (units 1/lambda^2); ``project``: reset negative
    iterates to 0 (the theorem's rule). Without projection a negative iterate ends the run
    (``terminated`` says so) because G' is only evaluated for eta >= 0.

    Cost: one :func:`numerics.stable.evaluate` per step; :func:`meta_gd_many` runs several
    starting points or horizons for about the price of one.

    >>> from l2l.numerics import QuadraticProblem
    >>> tr = meta_gd(QuadraticProblem([1.0, 3.0], [0.6, 0.8]), 2.0, 10, 3, c=0.1)
    >>> tr.etas.round(6).tolist(), tr.step_sizes.round(6).tolist()     # G'(2) ~ 2 x 3 / (2 x 3 - 1)
    ([2.0, 1.88, 1.788564, 1.709215], [0.1, 0.070711, 0.057735])
    """
    eta0 = _nonneg("eta0", eta0)
    t = _integer("t", t, maximum=MAX_HORIZON)
    return meta_gd_many(problem, [eta0], [t], steps, c=c, project=project)[0]


def meta_gd_many(
    problem: QuadraticProblem,
    eta0s: Any,
    ts: Any,
    steps: Any,
    c: Any = 1.0,
    project: bool = True,
) -> list[MetaTrajectory]:
    """:func:`meta_gd` for every pair of the broadcast of ``eta0s`` and ``ts`` (1-D lists), run
    together (one vectorised G' evaluation per step). Returns one trajectory per pair, in
    broadcast order; each is identical to the corresponding :func:`meta_gd` run.

    >>> from l2l.numerics import QuadraticProblem
    >>> runs = meta_gd_many(QuadraticProblem([1.0, 3.0], [0.6, 0.8]), [0.1, 2.0], [10], 3, c=0.1)
    >>> [round(float(r.etas[-1]), 6) for r in runs]
    [0.047918, 1.709215]
    """
    problem = _problem(problem)
    if not isinstance(project, (bool, np.bool_)):
        raise ValidationError("project", f"must be True or False (got {type(project).__name__})")
    e0 = [_nonneg("eta0", v) for v in _as_list("eta0", eta0s)]
    t_list = [_integer("t", v, maximum=MAX_HORIZON) for v in _as_list("t", ts)]
    steps = _integer("steps", steps, maximum=MAX_META_STEPS)
    c = _positive("c", c)
    try:
        eta, tt = np.broadcast_arrays(np.asarray(e0, dtype=np.float64), np.asarray(t_list, dtype=np.int64))
    except ValueError:
        raise ValidationError("t", f"{len(t_list)} horizons cannot be paired with {len(e0)} starting points") from None
    eta = eta.copy()
    tt = tt.copy()
    n = eta.size
    etas = np.empty((n, steps + 1))
    grads = np.empty((n, steps))
    projected = np.zeros((n, steps), dtype=bool)
    etas[:, 0] = eta
    mu = c / np.sqrt(np.arange(1, steps + 1, dtype=np.float64))
    alive = np.ones(n, dtype=bool)
    stop = np.full(n, steps, dtype=np.int64)  # steps taken by each run
    for k in range(steps):
        idx = np.nonzero(alive)[0]
        if idx.size == 0:
            break
        g = _gprime(problem, eta[idx], tt[idx])
        grads[idx, k] = g
        new = eta[idx] - mu[k] * g
        neg = new < 0
        if project:
            projected[idx, k] = neg
            new = np.where(neg, 0.0, new)
        else:
            for j in idx[neg]:
                alive[j] = False
                stop[j] = k + 1
        etas[idx, k + 1] = new
        eta[idx] = new
    out = []
    for j in range(n):
        m = int(stop[j])
        term = None
        if m < steps or (not project and etas[j, m] < 0):
            term = (
                f"eta became negative ({etas[j, m]!r}) at step {m} with project=False; "
                "G' is defined for eta >= 0 only"
            )
        out.append(
            MetaTrajectory(
                problem=problem,
                t=int(tt[j]),
                c=c,
                project=bool(project),
                etas=etas[j, : m + 1].copy(),
                grads=grads[j, :m].copy(),
                step_sizes=mu[:m].copy(),
                projected=projected[j, :m].copy(),
                terminated=term,
            )
        )
    return out


def _as_list(field: str, value: Any) -> list:
    if isinstance(value, (str, bytes)) or value is None:
        raise ValidationError(field, f"must be a number or a 1-D list of numbers (got {type(value).__name__})")
    arr = np.asarray(value, dtype=object)
    if arr.ndim > 1 or arr.size == 0:
        raise ValidationError(field, f"must be a number or a non-empty 1-D list (got shape {arr.shape})")
    return arr.reshape(-1).tolist()


def first_hit(traj: Any, target: Any, tol: Any) -> int | None:
    """First k with |eta_j - target| <= tol for every j >= k (to the end of the run), else None.

    ``traj`` is a :class:`MetaTrajectory` or a 1-D array of iterates. The answer is about the run
    as recorded: a later excursion, beyond its last step, is not ruled out (for meta-GD near
    eta* it is once k exceeds :func:`stability_step`).

    >>> first_hit(np.array([1.0, 0.5, 0.52, 0.7, 0.51, 0.5]), 0.5, 0.05)
    4
    >>> first_hit(np.array([1.0, 0.5, 0.9]), 0.5, 0.05) is None
    True
    """
    etas = traj.etas if isinstance(traj, MetaTrajectory) else traj
    if isinstance(etas, (str, bytes)) or etas is None:
        raise ValidationError("traj", f"must be a MetaTrajectory or a 1-D array (got {type(traj).__name__})")
    try:
        etas = np.asarray(etas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError("traj", f"must be a MetaTrajectory or a 1-D array of numbers ({exc})") from None
    if etas.ndim != 1 or etas.size == 0:
        raise ValidationError("traj", f"must be a non-empty 1-D array (got shape {etas.shape})")
    target = _real("target", target)
    tol = _nonneg("tol", tol)
    ok = np.abs(etas - target) <= tol
    if not ok[-1]:
        return None
    bad = np.nonzero(~ok)[0]
    return 0 if bad.size == 0 else int(bad[-1]) + 1


# =============================================================================================
# Least squares: train-by-train vs train-by-validation
# =============================================================================================
#
# Wang, Yuan, Wu & Ge (2021) Section 4 (``../shared/papers/wang2021.md`` §2.3, §4, §5 items
# 10-13, §6.2, §7 items 11-15). Everything below evaluates GD in closed form through
# :mod:`numerics.least_squares`; only the truncation rule needs the whole trajectory, and its
# first crossing is found exactly from the closed-form norms ||w_tau||, tau = 0..t.

from functools import cached_property  # noqa: E402  (section-local imports, appended section)
from typing import Callable, NamedTuple  # noqa: E402

from scipy.optimize import minimize_scalar  # noqa: E402

from . import least_squares as _ls  # noqa: E402
from .problems import LeastSquaresProblem  # noqa: E402
from .validation import as_nonnegative_reals, as_real_vector  # noqa: E402

__all__ += [
    "TRUNCATION_FACTOR",
    "MAX_TASK_HORIZON",
    "DEFAULT_ETA_GRID",
    "Task",
    "sample_tasks",
    "MetaObjective",
    "meta_objective",
    "tbt_objective",
    "tbv_objective",
    "MetaMinimum",
    "minimise_meta_objective",
    "TaskMetaTrajectory",
    "meta_gd_tasks",
    "test_error",
    "test_errors",
    "expected_test_error",
    "eta_tbt_limit",
    "erm_error_underdetermined",
    "erm_error_overdetermined",
    "EarlyStopping",
    "early_stopping_optimum",
    "TbtVsTbv",
    "tbt_vs_tbv",
]

#: The truncation radius is TRUNCATION_FACTOR * sigma (Wang et al. 2021 §4; spec §2.3) [paper].
TRUNCATION_FACTOR = 40.0
#: Largest horizon accepted by the task meta-objectives: the truncation rule needs ||w_tau|| at
#: every tau <= t for step sizes that can diverge, O(t x rank) each (about 1 s per such step
#: size and task at t = 10^5, rank 100; convergent step sizes are cleared by a bound at once).
MAX_TASK_HORIZON = 10**6
#: The released code's step-size grid, ``logspace(-6, 0, 25)`` (spec §6.2) [code].
DEFAULT_ETA_GRID = np.logspace(-6, 0, 25)
_KINDS = ("tbt", "tbv")
_TRAIN_ON = ("train", "all")


@dataclass(frozen=True, eq=False)
class Task:
    r"""One least-squares task of Wang et al. (2021) §4 (spec §2.3) [paper].

    ``problem`` holds the n_train training samples (and the n_valid validation samples as
    ``X_valid``, ``y_valid`` when n_valid > 0); ``w_star`` is the task's ground truth (unit norm),
    ``sigma`` the noise level and ``u`` the unit vector the iterate is frozen at when truncated
    (radius :data:`TRUNCATION_FACTOR` * sigma). GD always starts at w0 = 0.

    The spectra are computed once and cached (pure functions of the frozen task).
    """

    problem: LeastSquaresProblem
    w_star: np.ndarray
    sigma: float
    u: np.ndarray

    @property
    def radius(self) -> float:
        return TRUNCATION_FACTOR * self.sigma

    @cached_property
    def spectrum(self) -> "_ls.LeastSquaresSpectrum":
        """Closed-form data of GD on the training samples (validation kept for the TbV loss)."""
        return _ls.spectrum(self.problem)

    @cached_property
    def merged(self) -> "Task":
        """The same task with every sample (training and validation) used for training."""
        p = self.problem
        if not p.has_validation:
            return self
        merged = LeastSquaresProblem(np.vstack([p.X, p.X_valid]), np.concatenate([p.y, p.y_valid]))
        return Task(merged, self.w_star, self.sigma, self.u)

    @cached_property
    def frozen_losses(self) -> tuple[float, float | None]:
        """(training loss, validation loss) at the frozen iterate radius * u."""
        p = self.problem
        w = self.radius * self.u
        r = p.y - p.X @ w
        tl = float(r @ r) / (2 * p.n)
        vl = None
        if p.has_validation:
            rv = p.y_valid - p.X_valid @ w
            vl = float(rv @ rv) / (2 * p.n_valid)
        return tl, vl


def _count(field: str, value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValidationError(field, f"must be an integer >= {minimum} (got {value!r})")
    v = int(value)
    if v < minimum:
        raise ValidationError(field, f"must be an integer >= {minimum} (got {v})")
    return v


def sample_tasks(d: int, n_train: int, n_valid: int, m: int, sigma: float, seed: int) -> list[Task]:
    r"""m independent tasks from the distribution of Wang et al. (2021) §4 (spec §2.3) [paper].

    Each task: :math:`w^*` uniform on the unit sphere of :math:`\mathbb R^d`; rows
    :math:`x\sim\mathcal N(0, I_d)`; :math:`y = \langle w^*, x\rangle + \xi`,
    :math:`\xi\sim\mathcal N(0,\sigma^2)`; n_train training and n_valid (>= 0) validation samples.
    The truncation direction u is drawn uniformly on the sphere per task, once, from the same
    seeded generator ([code]: the released code draws a random unit vector; drawing it once per
    task makes the meta-objective a deterministic function of eta, which grid search and
    refinement need). Draw order per task, from ``numpy.random.default_rng(seed)``: w*, X, xi,
    X_valid, xi_valid, u. The paper assumes sigma >= 1; any sigma > 0 is accepted here.

    >>> tasks = sample_tasks(d=5, n_train=3, n_valid=2, m=4, sigma=1.0, seed=0)
    >>> len(tasks), tasks[0].problem.X.shape, tasks[0].problem.X_valid.shape, tasks[0].radius
    (4, (3, 5), (2, 5), 40.0)
    >>> round(float(np.linalg.norm(tasks[0].w_star)), 12), round(float(np.linalg.norm(tasks[0].u)), 12)
    (1.0, 1.0)
    """
    d = _count("d", d, 1)
    n_train = _count("n_train", n_train, 1)
    n_valid = _count("n_valid", n_valid, 0)
    m = _count("m", m, 1)
    sigma = _positive("sigma", sigma)
    seed = _count("seed", seed, 0)
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(m):
        w = rng.standard_normal(d)
        w /= np.linalg.norm(w)
        x = rng.standard_normal((n_train, d))
        y = x @ w + sigma * rng.standard_normal(n_train)
        xv = yv = None
        if n_valid > 0:
            xv = rng.standard_normal((n_valid, d))
            yv = xv @ w + sigma * rng.standard_normal(n_valid)
        u = rng.standard_normal(d)
        u /= np.linalg.norm(u)
        w.setflags(write=False)
        u.setflags(write=False)
        tasks.append(Task(LeastSquaresProblem(x, y, xv, yv), w, sigma, u))
    return tasks


def _tasks(tasks: Any, need_valid: bool = False) -> list[Task]:
    if isinstance(tasks, Task):
        tasks = [tasks]
    try:
        tasks = list(tasks)
    except TypeError:
        raise ValidationError("tasks", f"must be a list of Task (got {type(tasks).__name__})") from None
    if not tasks:
        raise ValidationError("tasks", "must not be empty")
    for i, tk in enumerate(tasks):
        if not isinstance(tk, Task):
            raise ValidationError("tasks", f"entry {i} must be a Task (got {type(tk).__name__})")
        if need_valid and not tk.problem.has_validation:
            raise ValidationError("tasks", f"entry {i} has no validation set (TbV needs n_valid > 0)")
    return tasks


def _choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(map(repr, allowed))} (got {value!r})")
    return value


def _truncated(task: Task, sp: "_ls.LeastSquaresSpectrum", eta: np.ndarray, t: int) -> np.ndarray:
    """Whether ||w_tau|| >= radius for some tau <= t (closed-form norms, every tau checked)."""
    return _ls.first_crossing(sp, eta, t, task.radius) >= 0


@dataclass(frozen=True)
class MetaObjective:
    """A meta-objective on a grid of step sizes: ``value`` (mean meta-loss over the tasks),
    ``grad`` (its d/d eta, with frozen tasks contributing 0: the objective is piecewise smooth,
    and not differentiable where a task's first crossing changes) and ``truncated`` (fraction of
    tasks frozen at each eta)."""

    eta: np.ndarray
    value: np.ndarray
    grad: np.ndarray
    truncated: np.ndarray


def meta_objective(tasks: Any, eta: Any, t: Any, kind: str = "tbt", train_on: str = "train") -> MetaObjective:
    r"""The empirical meta-objective with truncation, vectorised over ``eta`` (any shape, >= 0).

    ``kind="tbt"``: Eq. (1), :math:`\hat F_{\rm TbT}(\eta) = \frac1m\sum_k \frac1{2n}\|y_k -
    X_kw_{t,\eta}^{(k)}\|^2` (training loss of the samples GD ran on). ``kind="tbv"``: Eq. (2),
    the mean validation loss :math:`\frac1{2n_2}\|y'_k - X'_kw_{t,\eta}^{(k)}\|^2` [paper §2.3].
    ``train_on="all"`` trains on training + validation samples (TbT only: TbV needs held-out data).
    Truncation [paper]: if :math:`\|w_\tau\|\ge40\sigma` for some :math:`\tau\le t`, the task's
    iterate is :math:`40\sigma u` (``Task.u``). Whether that happens is decided exactly from the
    closed-form norms at every :math:`\tau\le t` (:func:`numerics.least_squares.first_crossing`),
    so t is limited to :data:`MAX_TASK_HORIZON`; the losses of untruncated tasks come from
    :func:`numerics.least_squares.gd`.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=2, sigma=1.0, seed=1)
    >>> mo = meta_objective(tasks, [0.0, 1e3], 5, kind="tbv")
    >>> mo.truncated.tolist()                        # eta = 1e3 diverges at the first step
    [0.0, 1.0]
    >>> bool(mo.value[1] > 100 * mo.value[0]), mo.grad[1].item()
    (True, 0.0)
    """
    kind = _choice("kind", kind, _KINDS)
    train_on = _choice("train_on", train_on, _TRAIN_ON)
    if kind == "tbv" and train_on == "all":
        raise ValidationError("train_on", "must be 'train' for kind='tbv' (validation samples must be held out)")
    tasks = _tasks(tasks, need_valid=(kind == "tbv"))
    eta = as_nonnegative_reals("eta", eta)
    t = _integer("t", t, maximum=MAX_TASK_HORIZON)
    shape = eta.shape
    flat = eta.reshape(-1)
    value = np.zeros(flat.size)
    grad = np.zeros(flat.size)
    trunc = np.zeros(flat.size)
    for tk in tasks:
        task = tk.merged if train_on == "all" else tk
        sp = task.spectrum
        cut = _truncated(task, sp, flat, t)
        ok = ~cut
        frozen_train, frozen_valid = task.frozen_losses
        v = np.full(flat.size, frozen_train if kind == "tbt" else frozen_valid)
        g = np.zeros(flat.size)
        if ok.any():
            res = _ls.gd(sp, flat[ok], t)
            v[ok] = res.train_loss if kind == "tbt" else res.valid_loss
            g[ok] = res.train_loss_grad if kind == "tbt" else res.valid_loss_grad
        value += v
        grad += g
        trunc += cut
    m = len(tasks)
    return MetaObjective(eta.copy(), (value / m).reshape(shape), (grad / m).reshape(shape), (trunc / m).reshape(shape))


def tbt_objective(tasks: Any, eta: Any, t: Any, train_on: str = "train") -> np.ndarray:
    r"""Train-by-train :math:`\hat F_{\rm TbT}(\eta)` (Eq. (1), with truncation); see :func:`meta_objective`.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=0, m=2, sigma=1.0, seed=1)
    >>> f = tbt_objective(tasks, [0.0, 0.5], 40)
    >>> bool(f[1] < 1e-6 * f[0])                     # n < d: the training loss is driven to ~0
    True
    """
    return meta_objective(tasks, eta, t, kind="tbt", train_on=train_on).value


def tbv_objective(tasks: Any, eta: Any, t: Any) -> np.ndarray:
    r"""Train-by-validation :math:`\hat F_{\rm TbV}(\eta)` (Eq. (2), with truncation); see :func:`meta_objective`.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=2, sigma=1.0, seed=1)
    >>> f0 = np.mean([tk.problem.y_valid @ tk.problem.y_valid / 6 for tk in tasks])   # w_t = 0
    >>> bool(abs(tbv_objective(tasks, [0.0], 40)[0] - f0) < 1e-15)
    True
    """
    return meta_objective(tasks, eta, t, kind="tbv").value


@dataclass(frozen=True)
class MetaMinimum:
    """Result of :func:`minimise_meta_objective`: ``eta`` (refined, or the grid point),
    ``value`` there, the best grid point ``grid_eta`` / ``grid_value``, and the whole ``grid`` and
    ``grid_values``."""

    eta: float
    value: float
    grid_eta: float
    grid_value: float
    grid: np.ndarray
    grid_values: np.ndarray
    refined: bool


def minimise_meta_objective(
    objective: Callable[..., np.ndarray],
    tasks: Any,
    t: Any,
    grid: Any = None,
    refine: bool = True,
) -> MetaMinimum:
    r"""eta* = argmin of ``objective(tasks, eta_array, t)`` by grid search, then bounded Brent.

    Grid search over ``grid`` (default :data:`DEFAULT_ETA_GRID`, ``logspace(-6, 0, 25)``, as the
    released code [code]); with ``refine``, :func:`scipy.optimize.minimize_scalar` (bounded,
    on ln eta, tolerance 1e-7 in ln eta) between the best grid point's neighbours (the best point
    itself at the ends of the grid: nothing outside the grid is searched). The refined point is
    kept only if it is no worse than the best grid point, so the result never loses to the grid.
    Brent assumes a unimodal objective inside the bracket; truncation can make the objective jump
    there, which at worst returns the grid point.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=3, sigma=1.0, seed=2)
    >>> res = minimise_meta_objective(tbv_objective, tasks, 20)
    >>> bool(res.value <= res.grid_value), bool(res.grid[0] <= res.eta <= res.grid[-1])
    (True, True)
    """
    if not callable(objective):
        raise ValidationError("objective", f"must be callable (got {type(objective).__name__})")
    if not isinstance(refine, (bool, np.bool_)):
        raise ValidationError("refine", f"must be True or False (got {type(refine).__name__})")
    grid = DEFAULT_ETA_GRID if grid is None else grid
    g = as_nonnegative_reals("grid", grid).reshape(-1)
    g = np.unique(g)
    values = np.asarray(objective(tasks, g, t), dtype=np.float64).reshape(-1)
    if values.shape != g.shape:
        raise ValidationError("objective", f"must return one value per grid point ({g.size}), got {values.size}")
    if np.isnan(values).any():
        raise ValidationError("objective", "returned NaN on the grid")
    k = int(np.argmin(values))
    best_eta, best_val = float(g[k]), float(values[k])
    eta, val, refined = best_eta, best_val, False
    if refine and g.size > 1 and best_eta > 0:
        lo = float(g[k - 1]) if k > 0 else best_eta
        hi = float(g[k + 1]) if k + 1 < g.size else best_eta
        lo = lo if lo > 0 else best_eta  # ln eta needs eta > 0
        if hi > lo:
            res = minimize_scalar(
                lambda le: float(np.asarray(objective(tasks, np.array([math.exp(le)]), t)).reshape(-1)[0]),
                bounds=(math.log(lo), math.log(hi)),
                method="bounded",
                options={"xatol": 1e-7},
            )
            cand = math.exp(float(res.x))
            cval = float(np.asarray(objective(tasks, np.array([cand]), t)).reshape(-1)[0])
            if cval <= best_val:
                eta, val, refined = cand, cval, True
    return MetaMinimum(eta, val, best_eta, best_val, g, values, refined)


@dataclass(frozen=True)
class TaskMetaTrajectory:
    """Meta-GD on a least-squares meta-objective (:func:`meta_gd_tasks`): ``etas[k]`` after k
    steps, ``grads[k-1]`` the derivative used (of ln F when ``log``), ``truncated[k-1]`` the
    fraction of frozen tasks at ``etas[k-1]``."""

    kind: str
    t: int
    c: float
    log: bool
    etas: np.ndarray
    grads: np.ndarray
    truncated: np.ndarray


def meta_gd_tasks(
    tasks: Any,
    eta0: Any,
    t: Any,
    steps: Any,
    kind: str = "tbv",
    c: Any = 1e-3,
    log: bool = True,
    train_on: str = "train",
) -> TaskMetaTrajectory:
    r"""Meta-GD :math:`\eta_{k+1} = \max(0, \eta_k - (c/\sqrt k)\,D(\eta_k))` on a task meta-objective.

    D is :math:`\hat F'/\hat F` (the derivative of :math:`\ln\hat F`, as Theorem 4's log objective;
    ``log=True``) or :math:`\hat F'` (``log=False``), with :math:`\hat F` from
    :func:`meta_objective`. It is the exact derivative wherever no task's truncation status changes
    (the objective is differentiable there); frozen tasks contribute 0. For TbT with n < d,
    :math:`\hat F` is a mean of Section-3 quadratics and its naive derivative vanishes or explodes
    with t, hence the log default. This is the paper's Theorem 4 scheme transplanted to the
    least-squares objectives [derived]; the paper's experiment for §4 uses grid search (§6.2).

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=2, sigma=1.0, seed=1)
    >>> tr = meta_gd_tasks(tasks, 0.01, 10, 50, kind="tbv", c=1e-3)
    >>> tr.etas.shape, bool(np.all(tr.etas >= 0)), bool(np.all(tr.truncated == 0))
    ((51,), True, True)
    """
    kind = _choice("kind", kind, _KINDS)
    tasks = _tasks(tasks, need_valid=(kind == "tbv"))
    eta = _nonneg("eta0", eta0)
    t = _integer("t", t, maximum=MAX_TASK_HORIZON)
    steps = _integer("steps", steps, maximum=MAX_META_STEPS)
    c = _positive("c", c)
    if not isinstance(log, (bool, np.bool_)):
        raise ValidationError("log", f"must be True or False (got {type(log).__name__})")
    etas = np.empty(steps + 1)
    grads = np.empty(steps)
    trunc = np.empty(steps)
    etas[0] = eta
    for k in range(1, steps + 1):
        mo = meta_objective(tasks, eta, t, kind=kind, train_on=train_on)
        f, g = float(mo.value), float(mo.grad)
        d = g / f if log else g
        if not math.isfinite(d):
            raise ValidationError("eta0", f"meta-gradient is not finite at eta = {eta!r} (F = {f!r}, F' = {g!r})")
        grads[k - 1] = d
        trunc[k - 1] = float(mo.truncated)
        eta = max(0.0, eta - c / math.sqrt(k) * d)
        etas[k] = eta
    return TaskMetaTrajectory(kind, t, c, bool(log), etas, grads, trunc)


def test_error(w_star: Any, w: Any) -> np.ndarray:
    r"""||w - w*||^2 (over the last axis of w): the error bounded in Theorems 5 and 6 [paper].

    >>> test_error([1.0, 0.0], [[0.0, 0.0], [1.0, 1.0]]).tolist()
    [1.0, 1.0]
    """
    ws = as_real_vector("w_star", w_star)
    w = np.asarray(w, dtype=np.float64)
    if w.shape[-1:] != ws.shape:
        raise ValidationError("w", f"last axis must have length {ws.size} like w_star (got shape {w.shape})")
    diff = w - ws
    return np.sum(diff * diff, axis=-1)


test_error.__test__ = False  # not a pytest test despite the name


def test_errors(tasks_test: Any, eta: Any, t: Any, train_on: str = "all") -> np.ndarray:
    r"""||w_{t,eta} - w*||^2 per test task: shape ``(len(tasks_test),) + eta.shape``.

    Each test task runs GD (with the truncation rule) on all its samples (``train_on="all"``,
    training + validation, as the released code [code; spec §6.2, §8]) or on its training
    samples only (``"train"``).
    """
    train_on = _choice("train_on", train_on, _TRAIN_ON)
    tasks = _tasks(tasks_test)
    eta = as_nonnegative_reals("eta", eta)
    t = _integer("t", t, maximum=MAX_TASK_HORIZON)
    flat = eta.reshape(-1)
    out = np.empty((len(tasks), flat.size))
    for j, tk in enumerate(tasks):
        task = tk.merged if train_on == "all" else tk
        sp = task.spectrum
        cut = _truncated(task, sp, flat, t)
        err = np.full(flat.size, float(test_error(task.w_star, task.radius * task.u)))
        if (~cut).any():
            err[~cut] = test_error(task.w_star, _ls.iterate(sp, flat[~cut], t))
        out[j] = err
    return out.reshape((len(tasks),) + eta.shape)


test_errors.__test__ = False


def expected_test_error(tasks_test: Any, eta: Any, t: Any, train_on: str = "all") -> np.ndarray:
    r"""Monte Carlo estimate of :math:`\mathbb E\|w_{t,\eta} - w^*\|^2` over new tasks: the mean of
    :func:`test_errors` over ``tasks_test`` (shape of ``eta``). Test tasks train on all their
    samples by default, as the released code (spec §8: the paper does not say).

    >>> tasks = sample_tasks(d=4, n_train=2, n_valid=2, m=3, sigma=1.0, seed=0)
    >>> expected_test_error(tasks, [0.0], 10).round(12).tolist()    # w_0 = 0: ||w*||^2 = 1
    [1.0]
    """
    return np.mean(test_errors(tasks_test, eta, t, train_on=train_on), axis=0)


def eta_tbt_limit(problem: Any) -> float:
    r"""2 / (lambda_max + lambda_min^+) of H = X^T X / n: the t -> infinity limit of the TbT
    minimiser when n < d (spec §5 item 11 [derived]; Theorem 4 remark with H restricted to its
    range). Accepts a :class:`Task` (its training samples) or a LeastSquaresProblem.

    >>> eta_tbt_limit(LeastSquaresProblem([[1.0, 0.0], [0.0, 3.0]], [1.0, 1.0]))   # H = diag(1/2, 9/2)
    0.4
    """
    if isinstance(problem, Task):
        problem = problem.problem
    sp = _ls.spectrum(problem)
    if sp.rank == 0:
        raise ValidationError("problem", "X is zero: H has no positive eigenvalue")
    return 2.0 / (sp.lam_max + sp.lam_min_positive)


def erm_error_underdetermined(n: int, d: int, sigma: float) -> float:
    r""":math:`\mathbb E\|X^+y - w^*\|^2 = (1 - n/d)\|w^*\|^2 + \sigma^2 n/(d-n-1)` for n < d - 1,
    Gaussian design, :math:`\|w^*\| = 1` (spec §5 item 12 [derived]; inverse-Wishart mean).

    >>> round(erm_error_underdetermined(100, 200, 1.0), 6)            # about 1/2 + sigma^2
    1.510101
    """
    n = _count("n", n, 1)
    d = _count("d", d, 1)
    sigma = _nonneg("sigma", sigma)
    if not d > n + 1:
        raise ValidationError("d", f"must exceed n + 1 = {n + 1} (the inverse-Wishart mean is finite only then), got {d}")
    return (1.0 - n / d) + sigma**2 * n / (d - n - 1)


def erm_error_overdetermined(n: int, d: int, sigma: float) -> float:
    r""":math:`\mathbb E\|w_{\rm ERM} - w^*\|^2 = \sigma^2 d/(n-d-1)` for n > d + 1, Gaussian design
    (spec §5 item 12 [derived]); it is :math:`(1+o(1))\,d\sigma^2/n`.

    >>> round(erm_error_overdetermined(2000, 50, 1.0), 6)
    0.025654
    """
    n = _count("n", n, 1)
    d = _count("d", d, 1)
    sigma = _nonneg("sigma", sigma)
    if not n > d + 1:
        raise ValidationError("n", f"must exceed d + 1 = {d + 1} (the inverse-Wishart mean is finite only then), got {n}")
    return sigma**2 * d / (n - d - 1)


class EarlyStopping(NamedTuple):
    """s* (the best multiple of b = X^T y / n_1 in the small-step regime) and its error 1 - s*."""

    s_star: float
    error: float


def early_stopping_optimum(d: int, n1: int, sigma: float) -> EarlyStopping:
    r"""Early-stopping prediction for TbV (spec §5 item 13 [derived]).

    When :math:`\eta t\lambda_{\max}\ll 1`, :math:`w_t\approx\eta t\,b` with
    :math:`b = X^\top y/n_1`, and with :math:`\mathbb E[\hat H^2] = (1+(d+1)/n_1)I`,
    :math:`\|w^*\| = 1`: :math:`\mathbb E\|sb - w^*\|^2 = 1 - 2s + s^2(1 + (d+1)/n_1 +
    \sigma^2 d/n_1)`, minimised at :math:`s^* = 1/(1 + (d+1)/n_1 + \sigma^2 d/n_1)` with error
    :math:`1 - s^*`; the matching step size is :math:`\eta\approx s^*/t`.

    >>> es = early_stopping_optimum(200, 50, 1.0)
    >>> round(es.s_star, 6), round(es.error, 6)
    (0.110865, 0.889135)
    """
    d = _count("d", d, 1)
    n1 = _count("n1", n1, 1)
    sigma = _nonneg("sigma", sigma)
    s = 1.0 / (1.0 + (d + 1) / n1 + sigma**2 * d / n1)
    return EarlyStopping(s, 1.0 - s)


@dataclass(frozen=True)
class TbtVsTbv:
    """One run of the §7 item 13/14 comparison (:func:`tbt_vs_tbv`)."""

    d: int
    n: int
    n1: int
    sigma: float
    t: int
    m: int
    m_test: int
    tbt: MetaMinimum
    tbv: MetaMinimum
    error_tbt: float  #: mean ||w - w*||^2 over the test tasks at eta_TbT
    error_tbv: float
    error_tbt_se: float  #: its standard error over the test tasks
    error_tbv_se: float
    errors_tbt: tuple = ()  #: ||w - w*||^2 on each test task at eta_TbT
    errors_tbv: tuple = ()  #: the same at eta_TbV

    def test_rmse(self, which: str) -> np.ndarray:
        r"""Population test RMSE per test task, :math:`\sqrt{\|w_t - w^*\|^2 + \sigma^2}`.

        For a fresh test point :math:`x\sim\mathcal N(0, I_d)`, :math:`y = \langle w^*, x\rangle + \xi`,
        :math:`\xi\sim\mathcal N(0,\sigma^2)` independent of the trained ``w``, the expected squared
        residual is :math:`\mathbb E(\langle w - w^*, x\rangle - \xi)^2 = \|w - w^*\|^2 + \sigma^2`:
        the RMSE on an infinitely large fresh test set (the paper's Figures 3-4 use 500 fresh points).
        ``which`` is ``"tbt"`` or ``"tbv"``.
        """
        errs = {"tbt": self.errors_tbt, "tbv": self.errors_tbv}.get(which)
        if errs is None:
            raise ValidationError("which", f"must be 'tbt' or 'tbv', got {which!r}")
        return np.sqrt(np.asarray(errs, dtype=float) + self.sigma**2)


def tbt_vs_tbv(
    d: int,
    n: int,
    sigma: float,
    t: int,
    m: int,
    m_test: int,
    seed: int,
    n1: int | None = None,
    grid: Any = None,
    refine: bool = True,
) -> TbtVsTbv:
    r"""Tune eta by TbT(n) and by TbV(n1, n - n1) on the same m tasks, test both on m_test new tasks.

    The setting of spec §6.2 / §7 items 13-14 [code]: each training task has n samples; TbT
    trains and evaluates on all n (:func:`tbt_objective` with ``train_on="all"``), TbV trains on
    the first n1 (default n // 2, the 50/50 split) and validates on the rest. eta* is chosen by
    :func:`minimise_meta_objective` (grid, then refinement if ``refine``), and test tasks train on
    all n samples. Training and test tasks come from independent seeds derived from ``seed``.

    >>> r = tbt_vs_tbv(d=20, n=10, sigma=2.0, t=40, m=5, m_test=20, seed=0, refine=False)
    >>> bool(r.tbt.eta > 30 * r.tbv.eta), bool(r.error_tbt > r.error_tbv)
    (True, True)
    """
    n = _count("n", n, 2)
    n1 = n // 2 if n1 is None else _count("n1", n1, 1)
    if not n1 < n:
        raise ValidationError("n1", f"must be < n = {n} (TbV needs validation samples), got {n1}")
    seed = _count("seed", seed, 0)
    s_train, s_test = (int(v) for v in np.random.SeedSequence(seed).generate_state(2))
    tasks = sample_tasks(d, n1, n - n1, m, sigma, s_train)
    tests = sample_tasks(d, n1, n - n1, m_test, sigma, s_test)
    tbt = minimise_meta_objective(lambda ts, e, tt: tbt_objective(ts, e, tt, train_on="all"), tasks, t, grid, refine)
    tbv = minimise_meta_objective(tbv_objective, tasks, t, grid, refine)
    errs = test_errors(tests, [tbt.eta, tbv.eta], t, train_on="all")
    mean = errs.mean(axis=0)
    se = errs.std(axis=0, ddof=1) / math.sqrt(errs.shape[0]) if errs.shape[0] > 1 else np.full(2, np.nan)
    return TbtVsTbv(d, n, n1, float(sigma), int(t), m, m_test, tbt, tbv, float(mean[0]), float(mean[1]), float(se[0]), float(se[1]),
                    tuple(float(e) for e in errs[:, 0]), tuple(float(e) for e in errs[:, 1]))
