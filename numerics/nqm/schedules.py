"""Step-size schedules for the NQM: the best constant step, receding-horizon schedules, the
optimal schedule (L-BFGS-B with the adjoint gradient) and the inverse-time family (spec §6-7).

SciPy's optimisers are imported inside the functions that use them (cold start of ``l2l eval``)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..validation import ValidationError, as_instance, as_int, as_real, as_real_vector, check_entries
from .adjoint import Adjoint, final_excess_gradient
from .dynamics import Schedule, constant_sgd_excess, constant_sgd_moment, make_schedule
from .greedy import greedy_schedule
from .problem import ADJOINT_STORE_FLOATS, GRID_BLOCK, MAX_STEPS, MAX_WORK, MU_MAX, STEP_MAX, NQMProblem, eta_bound

__all__ = ["best_constant_eta", "receding_horizon_schedule", "optimal_schedule", "inverse_time", "tune_inverse_time"]

def _grid_then_brent(f_grid, f_scalar, lo: float, hi: float, per_decade: int = 12, *, grid=None, vals=None) -> tuple[float, float]:
    """Global min of a smooth f over [lo, hi]: a log grid (``per_decade`` points per decade; or
    the given ``grid`` with its values ``vals``), then bounded Brent in log eta between the best
    grid point's neighbours (xatol 1e-9); the better of grid point and refined point is returned."""
    from scipy.optimize import minimize_scalar  # lazily: importing scipy.optimize costs ~0.4 s
    if grid is None:
        ndec = max(1.0, math.log10(hi / lo))
        grid = np.exp(np.linspace(math.log(lo), math.log(hi), int(math.ceil(ndec * per_decade)) + 1))
        vals = f_grid(grid)
    vals = np.asarray(vals, dtype=np.float64)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    i = int(np.argmin(vals))
    if not np.isfinite(vals[i]):
        raise ValidationError("eta_max", "the loss overflows float64 for every step size on the grid")
    zl = math.log(grid[max(i - 1, 0)])
    zh = math.log(grid[min(i + 1, grid.size - 1)])
    best_e, best_v = float(grid[i]), float(vals[i])
    if zh > zl:
        res = minimize_scalar(lambda z: f_scalar(math.exp(z)), bounds=(zl, zh), method="bounded",
                              options={"xatol": 1e-9, "maxiter": 200})
        e = min(max(math.exp(float(res.x)), lo), hi)
        v = f_scalar(e)
        if v < best_v:
            best_e, best_v = e, v
    return best_e, best_v


def best_constant_eta(problem: NQMProblem, T: Any, *, eta_max: Any, mu: Any = 0.0) -> tuple[float, float]:
    r"""Best constant step size for horizon T (with a fixed ``mu``): ``(eta, final expected loss)``.

    Search: a log grid of 12 points per decade over ``[eta_max 1e-8, eta_max]``, then bounded
    Brent (``minimize_scalar``, xatol 1e-10 in log eta) between the neighbours of the best grid
    point. SGD uses the closed form (whole grid at once, ``O(grid d)``); momentum iterates the
    recursion for the whole grid at once (``O(grid T d)``). The loss includes the irreducible part.

    >>> p = NQMProblem.stand_in(20)
    >>> eta, loss = best_constant_eta(p, 50, eta_max=1.999)
    >>> round(eta, 4), round(loss - p.irreducible, 3)          # spec §7 (n=20, T=50): 0.289
    (0.1914, 0.289)
    """
    problem = as_instance(problem, NQMProblem, article="an")
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    cap = as_real("eta_max", eta_max, 0.0, eta_bound(problem), lo_open=True)
    mu = as_real("mu", mu, -STEP_MAX, STEP_MAX)
    irr = problem.irreducible
    X0 = problem.X0
    if mu == 0.0:
        f_grid = lambda g: constant_sgd_excess(problem, X0, g, T) + irr
        f_scalar = lambda e: float(constant_sgd_excess(problem, X0, np.array([e]), T)[0]) + irr
    else:
        if T * problem.d * 100 > MAX_WORK:
            raise ValidationError("T", "T x d x grid size exceeds MAX_WORK; use a shorter horizon")

        def f_grid(g):
            return _momentum_constant_excess(problem, np.asarray(g), mu, T) + irr

        f_scalar = lambda e: float(f_grid(np.array([e]))[0])
    return _grid_then_brent(f_grid, f_scalar, cap * 1e-8, cap)


def _momentum_constant_excess(problem: NQMProblem, etas: np.ndarray, mu: float, T: int) -> np.ndarray:
    """Excess after T heavy-ball steps for every eta in ``etas`` (constant mu); overflow -> inf."""
    h = problem.h
    q = h * h * problem.sigma2
    a = etas[:, None] * h
    X = np.broadcast_to(problem.X0, a.shape).copy()
    W = np.zeros_like(X)
    Y = np.zeros_like(X)
    b = 1.0 - a
    b2, a2, c1, c2, c3, c4 = b * b, a * a, 2 * mu * b, -2 * mu * a, -a * b, mu * (1 - 2 * a)
    n = (etas * etas)[:, None] * q
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for _ in range(T):
            m = (mu * mu) * W + n
            X, W, Y = b2 * X + c1 * Y + m, a2 * X + c2 * Y + m, c3 * X + c4 * Y + m
        out = 0.5 * (X @ h)
    return np.where(np.isfinite(out), out, np.inf)


# ---------------------------------------------------------------------------------------------
# receding horizon


def receding_horizon_schedule(problem: NQMProblem, T: Any, k: Any, *, eta_max: Any, truncate: bool = False) -> Schedule:
    r"""Receding-horizon meta-optimisation (spec §7): at each step t choose ONE constant eta that
    minimises the expected loss ``k`` steps ahead (``min(k, T - t)`` with ``truncate=True``),
    apply it for one step (SGD). ``k = 1`` is the greedy schedule.

    The k-step loss of a constant eta is the closed form
    :math:`X_{t+k} = r^kX_t + a^2\sigma^2(1-r^k)/(1-r)` per coordinate. Global minimisation over
    ``[eta_max 1e-8, eta_max]``: the whole log grid (12 points per decade, 97 points) is evaluated
    at once -- the grid is the same at every step, so :math:`r^k` and the noise term are
    precomputed per (grid point, coordinate) and each step costs one (97 x d) matrix-vector
    product -- then bounded Brent (xatol 1e-9 in log eta) refines between the best grid point's
    neighbours. This is the global minimiser as long as no narrower local minimum hides between
    two grid points (the objective is smooth in log eta; the grid spacing is a factor 1.21); it is
    not a certificate. ``info["boundary_steps"]`` counts steps where the choice sat on
    ``eta_max``. With ``truncate`` the precomputation is redone for each of the last k steps.

    Measured (n = 1000, kappa = 1, T = 1000, eta_max = 1.999; ~1 s per run on one core for any
    k <= 300): final excess 1.110, 1.101, 1.069, 0.990, 0.833, 0.706 for k = 1, 3, 10, 30, 100,
    300 (spec §7: the same to the printed digits) and eta at t = 100 0.058, 0.068 (k = 10),
    0.156 (k = 100), 0.186 (k = 300) (spec §7: the same). ``truncate=True`` gives 0.833 and
    0.711 at k = 100, 300: the spec's numbers use the untruncated look-ahead.
    """
    problem = as_instance(problem, NQMProblem, article="an")
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    k = as_int("k", k, 1, MAX_STEPS, integral_floats=True)
    cap = as_real("eta_max", eta_max, 0.0, eta_bound(problem), lo_open=True)
    if not isinstance(truncate, (bool, np.bool_)):
        raise ValidationError("truncate", f"must be True or False (got {truncate!r})")
    if T * problem.d * 100 > MAX_WORK:
        raise ValidationError("T", "T x d x 100 exceeds MAX_WORK")
    t0 = time.perf_counter()
    h = problem.h
    q = h * h * problem.sigma2
    X = problem.X0.copy()
    etas = np.empty(T)
    at_cap = 0
    # the grid is the same at every step: precompute r^k and the noise term per (grid point, i),
    # so that the whole grid costs one (grid x d) matrix-vector product per step
    lo = cap * 1e-8
    grid = np.exp(np.linspace(math.log(lo), math.log(cap), 8 * 12 + 1))
    ag = grid[:, None] * h
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def grid_terms(kk: int):
        if kk not in cache:
            rk = constant_sgd_moment(np.ones(problem.d), np.zeros(problem.d), ag, kk)  # r^k
            noise = constant_sgd_moment(np.zeros(problem.d), problem.sigma2, ag, kk) @ h  # sum h n geo
            cache.clear()
            cache[kk] = (rk * (0.5 * h), 0.5 * noise)
        return cache[kk]

    s2 = problem.sigma2

    def excess_at(e_: float, Xc: np.ndarray, kk: int) -> float:
        # constant_sgd_excess for one eta, specialised to the Brent bracket: when eta lambda_i < 1
        # for every i (and eta > 0) its np.where branches all take the first arm, so these are the
        # same operations on the same numbers (bit for bit); otherwise the general form
        a = e_ * h
        if e_ > 0.0 and e_ * h_max < 1.0:
            lr = 2.0 * np.log1p(-a)
            return float(0.5 * ((np.exp(kk * lr) * Xc + (a * a * s2) * (-np.expm1(kk * lr) / (a * (2.0 - a)))) @ h))
        return float(constant_sgd_excess(problem, Xc, np.array([e_]), kk)[0])

    h_max = float(np.max(h))
    for t in range(T):
        kk = min(k, T - t) if truncate else k
        Rk, Nk = grid_terms(kk)
        Xc = X
        e, _ = _grid_then_brent(
            None,
            lambda e_: excess_at(e_, Xc, kk),
            lo,
            cap,
            grid=grid,
            vals=Rk @ Xc + Nk,
        )
        at_cap += e >= cap
        etas[t] = e
        X = (1.0 - e * h) ** 2 * X + (e * e) * q
    info = {"method": f"receding horizon k={k}" + (" (truncated at T)" if truncate else ""), "k": k,
            "boundary_steps": int(at_cap), "seconds": time.perf_counter() - t0, "success": True,
            "message": "log grid (12/decade) + bounded Brent per step"}
    return make_schedule(problem, etas, np.zeros(T), info)


# ---------------------------------------------------------------------------------------------
# optimal schedule


def _projected_grad_inf(x, g, lb, ub) -> float:
    return float(np.max(np.abs(x - np.clip(x - g, lb, ub)))) if x.size else 0.0


def optimal_schedule(
    problem: NQMProblem,
    T: Any,
    *,
    eta_max: Any,
    momentum: bool = False,
    init: Any = None,
    maxiter: Any = 5000,
    gtol: Any = 1e-9,
    mu_max: Any = MU_MAX,
) -> Schedule:
    r"""The T-optimal schedule: minimise :math:`\mathbb E L(w_T)` over a free schedule (spec §5).

    L-BFGS-B (``scipy.optimize.minimize``, ``jac=True``, ``ftol=0``, ``maxcor=30``; it stops
    when the projected gradient's largest entry is <= ``gtol``) in
    :math:`z_t=\log\eta_t\in[\log(10^{-12}\eta_{\max}), \log\eta_{\max}]` and, with
    ``momentum``, :math:`\mu_t=\tanh u_t`, :math:`u_t\in[0,\operatorname{artanh}\mu_{\max}]`
    for t >= 1 (module docstring: momentum in :math:`[0,\mu_{\max}]`, so SGD is feasible and
    every step with :math:`\eta h\le2` is stable). :math:`\mu_0` multiplies :math:`v_0 = 0`, has
    no effect and is fixed to 0. Gradients: the adjoint (:func:`schedule_gradient`) and the chain
    rule (:math:`\eta\,\partial_\eta`, :math:`(1-\mu^2)\partial_\mu`); ``tanh`` was chosen over
    :math:`\mu = 1 - e^{-v}` because it needed 35% fewer evaluations on the stand-in.

    The objective is not convex in the schedule, so starts matter (``init``):

    * SGD, ``init=None``: two starts, ``"constant"`` (the best constant eta) and ``"greedy"`` (the
      capped greedy schedule); the better result is kept.
    * momentum, ``init=None``: the start ``"sgd"``: the SGD optimum (itself from the
      ``"constant"`` start) with mu = 0. L-BFGS-B only descends, so the result is never worse
      than that SGD schedule. (A start at constant mu = 0.9 stalled at a worse point at
      kappa = 1.) Other starts: ``"constant"`` (best constant eta at mu = 0.9, if
      ``mu_max >= 0.9``) and ``"greedy"`` (the capped greedy (eta, mu), mu clipped into
      [0, mu_max] -- the clip applies to the start point only).
    * a name, a list of names (all run, the best kept), or an array of etas in [0, eta_max]
      (momentum: a pair ``(etas, mus)``, mus in [0, mu_max]); step sizes below the lower bound
      :math:`10^{-12}\eta_{\max}` (e.g. 0) start at that bound, and ``mus[0]`` is ignored.

    ``info``: ``grad_inf`` (largest entry of the projected gradient in (z, u) at the solution),
    ``starts`` (per start: final loss, iterations, evaluations, message, grad_inf),
    ``iterations``, ``evaluations``, ``seconds``, ``success``, ``message`` of the kept run.

    Measured (``benchmarks/nqm.py``, one core): stand-in n = 1000, T = 250, eta_max = 1.999:
    kappa = 1 excess 0.95606 (spec §7: 0.956), kappa = 0.01 0.13755 (0.138), momentum at
    kappa = 0.01 0.030204 (0.030).

    >>> p = NQMProblem.stand_in(20)
    >>> s = optimal_schedule(p, 50, eta_max=1.999)
    >>> round(s.final_loss - p.irreducible, 3)                     # spec §7 (n=20, T=50): 0.208
    0.208
    """
    from scipy.optimize import minimize  # lazily: importing scipy.optimize costs ~0.4 s
    problem = as_instance(problem, NQMProblem, article="an")
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    if T * problem.d > MAX_WORK:
        raise ValidationError("T", f"T x d exceeds MAX_WORK = {MAX_WORK:.0e}")
    cap = as_real("eta_max", eta_max, 0.0, eta_bound(problem), lo_open=True)
    maxiter = as_int("maxiter", maxiter, 1, 10**7, integral_floats=True)
    gtol = as_real("gtol", gtol, 0.0, None)
    mu_max = as_real("mu_max", mu_max, 0.0, 1.0 - 1e-12)
    if not isinstance(momentum, (bool, np.bool_)):
        raise ValidationError("momentum", f"must be True or False (got {momentum!r})")
    t_start = time.perf_counter()
    zlo, zhi = math.log(cap) + math.log(1e-12), math.log(cap)
    uhi = math.atanh(mu_max)
    starts = _starts(problem, T, cap, momentum, mu_max, init)
    irr = problem.irreducible
    adj = Adjoint(problem, momentum)
    nu = T - 1 if momentum else 0  # free momenta mu_1..mu_{T-1}
    lb = np.array([zlo] * T + [0.0] * nu)
    ub = np.array([zhi] * T + [uhi] * nu)
    bounds = list(zip(lb, ub))

    def unpack(x):
        et = np.exp(x[:T])
        mu_ = np.concatenate(([0.0], np.tanh(x[T:]))) if momentum else None
        return et, mu_

    def fun(x):
        et, mu_ = unpack(x)
        exc, ge, gm = adj(et, mu_)
        if momentum:
            return exc + irr, np.concatenate((ge * et, gm[1:] * (1.0 - mu_[1:] ** 2)))
        return exc + irr, ge * et

    runs = []
    for name, e0, m0 in starts:
        x0 = np.log(np.clip(e0, math.exp(zlo), cap))
        if momentum:
            x0 = np.concatenate((x0, np.arctanh(np.clip(m0[1:], 0.0, mu_max))))
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": maxiter, "maxfun": 2 * maxiter, "ftol": 0.0, "gtol": gtol, "maxcor": 30})
        f, g = fun(res.x)
        runs.append((f, name, res, _projected_grad_inf(res.x, g, lb, ub)))
    f, name, res, pg = min(runs, key=lambda r: r[0])
    etas, mus = unpack(res.x)
    if mus is None:
        mus = np.zeros(T)
    info = {
        "method": "L-BFGS-B on log eta" + (" and artanh mu" if momentum else "") + " (adjoint gradient)",
        "start": name,
        "starts": [{"start": r[1], "final_loss": r[0], "iterations": int(r[2].nit), "evaluations": int(r[2].nfev),
                    "message": str(r[2].message), "grad_inf": r[3]} for r in runs],
        "iterations": int(sum(r[2].nit for r in runs)),
        "evaluations": int(sum(r[2].nfev for r in runs)),
        "seconds": time.perf_counter() - t_start,
        "success": bool(res.success),
        "message": str(res.message),
        "grad_inf": pg,
        "gtol": gtol,
        "eta_max": cap,
        "mu_max": mu_max if momentum else 0.0,
    }
    return make_schedule(problem, etas, mus, info)


_START_NAMES = {False: ("constant", "greedy"), True: ("sgd", "constant", "greedy")}


def _starts(problem, T, cap, momentum, mu_max, init):
    allowed = _START_NAMES[bool(momentum)]
    if init is None:
        names = ("sgd",) if momentum else ("constant", "greedy")
    elif isinstance(init, str) or (isinstance(init, (list, tuple)) and init and all(isinstance(v, str) for v in init)):
        names = (init,) if isinstance(init, str) else tuple(init)
        for nm in names:
            if nm not in allowed:
                raise ValidationError("init", f"must be None, one of {allowed} (or a list of them), or an array (got {nm!r})")
    else:
        if momentum:
            if not (isinstance(init, (tuple, list)) and len(init) == 2):
                raise ValidationError("init", "with momentum must be a pair (etas, mus)")
            e0 = as_real_vector("init", init[0])
            m0 = as_real_vector("init", init[1])
        else:
            e0 = as_real_vector("init", init)
            m0 = np.zeros(e0.size)
        if e0.size != T or m0.size != T:
            raise ValidationError("init", f"must have length T = {T}")
        if (e0 < 0).any() or (e0 > cap).any():
            raise ValidationError("init", f"step sizes must lie in [0, eta_max = {cap}]")
        if (m0 < 0).any() or (m0 > mu_max).any():
            raise ValidationError("init", f"momenta must lie in [0, mu_max = {mu_max}]")
        return [("given", e0, m0)]
    out = []
    for nm in names:
        if nm == "constant":
            mu0 = 0.9 if (momentum and mu_max >= 0.9) else 0.0
            e, _ = best_constant_eta(problem, T, eta_max=cap, mu=mu0)
            out.append((nm, np.full(T, e), np.full(T, mu0)))
        elif nm == "greedy":
            g = greedy_schedule(problem, T, momentum=momentum, eta_max=cap)
            out.append((nm, g.etas, np.clip(g.mus, 0.0, mu_max)))
        else:  # "sgd"
            s = optimal_schedule(problem, T, eta_max=cap, init="constant")
            out.append((nm, s.etas, np.zeros(T)))
    return out


# ---------------------------------------------------------------------------------------------
# inverse-time family, spec §7 / §11 item 14


def inverse_time(eta0: Any, tau: Any, beta: Any, T: Any) -> np.ndarray:
    r""":math:`\eta_t = \eta_0/(1+t/\tau)^\beta`, t = 0..T-1 (the offline family of spec §8.2).

    >>> inverse_time(1.0, 2.0, 1.0, 3).tolist()
    [1.0, 0.6666666666666666, 0.5]
    """
    eta0 = as_real("eta0", eta0, 0.0)
    tau = as_real("tau", tau, 0.0, None, lo_open=True)
    beta = as_real("beta", beta, 0.0, 1e6)
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    return eta0 * (1.0 + np.arange(T) / tau) ** (-beta)


def tune_inverse_time(
    problem: NQMProblem,
    T: Any,
    *,
    tau: Any,
    eta0_grid: Any,
    beta_grid: Any,
    refine: bool = True,
) -> tuple[float, float, float]:
    r"""Best :math:`(\eta_0,\beta)` of :func:`inverse_time` for the expected loss at T (SGD).

    Every grid point is evaluated exactly: the schedules are iterated together, ``X`` as a
    (schedules x d) array, in blocks of at most 2^18 elements (cost ``O(grid T d)``; each step is
    six in-place array operations). With ``refine`` the best grid point is polished by L-BFGS-B in
    :math:`(\log\eta_0, \log(1+\beta))` inside the grid's box (gradient: the adjoint,
    :math:`\partial L/\partial\eta_0 = \sum_t g_t\eta_t/\eta_0`,
    :math:`\partial L/\partial\beta = -\sum_t g_t\eta_t\log(1+t/\tau)`); the refined point is kept
    only if it is better. Returns ``(eta0, beta, final expected loss)``.

    >>> p = NQMProblem.stand_in(20)
    >>> e0, b, L = tune_inverse_time(p, 50, tau=10.0, eta0_grid=[0.5, 1.0], beta_grid=[0.0, 1.0], refine=False)
    >>> e0, b
    (1.0, 1.0)
    """
    from scipy.optimize import minimize  # lazily: importing scipy.optimize costs ~0.4 s
    problem = as_instance(problem, NQMProblem, article="an")
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    tau = as_real("tau", tau, 0.0, None, lo_open=True)
    eg = as_real_vector("eta0_grid", eta0_grid, positive=True)
    check_entries("eta0_grid", eg, None, eta_bound(problem))
    bg = as_real_vector("beta_grid", beta_grid)
    check_entries("beta_grid", bg, 0.0, 1e6)
    if eg.size * bg.size * T * problem.d > MAX_WORK:
        raise ValidationError("eta0_grid", "grid size x T x d exceeds MAX_WORK; use a coarser grid")
    h = problem.h
    q = h * h * problem.sigma2
    E0, B0 = np.meshgrid(eg, bg, indexing="ij")
    E0, B0 = E0.ravel(), B0.ravel()
    decay = np.log1p(np.arange(T) / tau)  # eta_t = eta0 exp(-beta decay_t)
    S = E0.size
    blk = max(1, GRID_BLOCK // problem.d)
    final = np.empty(S)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for s0 in range(0, S, blk):
            e0, b0 = E0[s0:s0 + blk], B0[s0:s0 + blk]
            X = np.broadcast_to(problem.X0, (e0.size, problem.d)).copy()
            A = np.empty_like(X)
            for t in range(T):
                et = (e0 * np.exp(-b0 * decay[t]))[:, None]
                np.multiply(et, h, out=A)
                np.subtract(1.0, A, out=A)
                X *= A
                X *= A
                np.multiply(et * et, q, out=A)
                X += A
            final[s0:s0 + blk] = 0.5 * (X @ h)
    final = np.where(np.isfinite(final), final, np.inf)
    i = int(np.argmin(final))
    if not np.isfinite(final[i]):
        raise ValidationError("eta0_grid", "the loss overflows float64 at every grid point")
    best = (float(E0[i]), float(B0[i]), float(final[i]))
    if not isinstance(refine, (bool, np.bool_)):
        raise ValidationError("refine", f"must be True or False (got {refine!r})")
    if refine:
        lb = np.array([math.log(eg.min()), math.log1p(bg.min())])
        ub = np.array([math.log(eg.max()), math.log1p(bg.max())])

        def fun(x):
            e0, b = math.exp(x[0]), math.expm1(x[1])
            et = e0 * np.exp(-b * decay)
            exc, g, _ = final_excess_gradient(problem, et, None, ADJOINT_STORE_FLOATS)
            ge = g * et
            return exc, np.array([float(ge.sum()), -float(ge @ decay) * (1.0 + b)])

        x0 = np.array([math.log(best[0]), math.log1p(best[1])])
        try:
            res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lb, ub)),
                           options={"maxiter": 200, "ftol": 1e-15, "gtol": 1e-12})
            if float(res.fun) < best[2]:
                best = (math.exp(float(res.x[0])), math.expm1(float(res.x[1])), float(res.fun))
        except ValidationError:  # the polish wandered into overflow: keep the grid point
            pass
    return best[0], best[1], best[2] + problem.irreducible


# ---------------------------------------------------------------------------------------------
