r"""Meta-gradient descent on the step size, and the optimal step size eta*(t).

Source: Wang, Yuan, Wu & Ge (2021), Theorem 4 (``../shared/papers/wang2021.md`` §3.3, §6.1,
§7 items 4, 7 and 9). For GD on :math:`f(w)=\tfrac12 w^\top Hw` the log meta-objective is

.. math::  G(\eta) = \tfrac1t \ln f(w_{t,\eta}),\qquad
           G'(\eta) = -2\,\frac{\sum_i c_i^2\lambda_i^2 a_i^{2t-1}}{\sum_i c_i^2\lambda_i a_i^{2t}},
           \quad a_i = 1-\eta\lambda_i ,

evaluated here with :func:`numerics.quadratic.stable.evaluate` (log space, accurate at any t <= 10^9).

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
from dataclasses import dataclass
from typing import Any

import numpy as np
from ..problems import QuadraticProblem
from ..validation import MAX_HORIZON, ValidationError, as_horizon, as_instance, as_number_list, as_real
from .stable import evaluate, log_objective_grad, log_objective_grad_kernel

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
#: :func:`numerics.quadratic.stable.evaluate` (~0.1-0.3 ms), so the cap is a few minutes of work and 24 MB of
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


# ---------------------------------------------------------------------------------------------
# G' and its root


def _gprime(problem: QuadraticProblem, eta: Any, t: Any) -> np.ndarray:
    """G'(eta) from numerics.quadratic.stable; 0 where f(w_t) = 0 exactly (there eta is a global minimiser
    of f(w_t) >= 0, and G' does not exist: every excited component has eta lambda_i = 1)."""
    return _defined(log_objective_grad(problem, eta, t))


def _defined(g: np.ndarray) -> np.ndarray:
    """G' with its NaNs, exactly where f(w_t) = 0 (stable.evaluate's rule), set to 0 (see _gprime)."""
    return np.where(np.isnan(g), 0.0, g)


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
    from scipy.optimize import brentq  # lazily: importing scipy.optimize costs ~0.4 s
    problem = as_instance(problem, QuadraticProblem)
    t = as_horizon("t", t, maximum=MAX_HORIZON)
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
    problem = as_instance(problem, QuadraticProblem)
    t = as_horizon("t", t, maximum=MAX_HORIZON)
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
    problem = as_instance(problem, QuadraticProblem)
    t = as_horizon("t", t, maximum=MAX_HORIZON)
    c = as_real("c", c, 0.0, lo_open=True)
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
    :func:`numerics.quadratic.stable.evaluate` (bounded, Theorem 4(ii), and accurate at any t). Where
    f(w_t) = 0 exactly (every excited component has eta lambda_i = 1, so eta is a global
    minimiser), G' does not exist and the step is 0.

    Inputs: ``eta0`` finite >= 0; ``t`` integer in [1, 10^12] (``MAX_HORIZON``); ``steps`` integer in
    [1, :data:`MAX_META_STEPS`]; ``c`` finite > 0 (units 1/lambda^2); ``project``: reset negative
    iterates to 0 (the theorem's rule). Without projection a negative iterate ends the run
    (``terminated`` says so) because G' is only evaluated for eta >= 0.

    Cost: one :func:`numerics.quadratic.stable.evaluate` per step; :func:`meta_gd_many` runs several
    starting points or horizons for about the price of one.

    >>> from l2l.numerics import QuadraticProblem
    >>> tr = meta_gd(QuadraticProblem([1.0, 3.0], [0.6, 0.8]), 2.0, 10, 3, c=0.1)
    >>> tr.etas.round(6).tolist(), tr.step_sizes.round(6).tolist()     # G'(2) ~ 2 x 3 / (2 x 3 - 1)
    ([2.0, 1.88, 1.788564, 1.709215], [0.1, 0.070711, 0.057735])
    """
    eta0 = as_real("eta0", eta0, 0.0)
    t = as_horizon("t", t, maximum=MAX_HORIZON)
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
    problem = as_instance(problem, QuadraticProblem)
    if not isinstance(project, (bool, np.bool_)):
        raise ValidationError("project", f"must be True or False (got {type(project).__name__})")
    e0 = [as_real("eta0", v, 0.0) for v in as_number_list("eta0", eta0s)]
    t_list = [as_horizon("t", v, maximum=MAX_HORIZON) for v in as_number_list("t", ts)]
    steps = as_horizon("steps", steps, maximum=MAX_META_STEPS)
    c = as_real("c", c, 0.0, lo_open=True)
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
    kernel = log_objective_grad_kernel(problem)  # inputs checked above, the problem's terms once
    t_float = tt.astype(np.float64)
    for k in range(steps):
        idx = np.nonzero(alive)[0]
        if idx.size == 0:
            break
        g = _defined(kernel(eta[idx], t_float[idx]))
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
    target = as_real("target", target)
    tol = as_real("tol", tol, 0.0)
    ok = np.abs(etas - target) <= tol
    if not ok[-1]:
        return None
    bad = np.nonzero(~ok)[0]
    return 0 if bad.size == 0 else int(bad[-1]) + 1
