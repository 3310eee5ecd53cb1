"""NQM dynamics: one step of the exact raw-moment recursion, the expected loss, :func:`run` (the
exact expected trajectory, with exact-power-of-2 overflow guards) and the closed form of constant-step SGD."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exact_product import two_product_scaled
from ..validation import ValidationError, as_instance, as_int, as_real, as_schedule
from .problem import MAX_CURVE_POINTS, MAX_STEPS, MAX_WORK, STEP_MAX, NQMProblem, State, check_state, eta_bound
from ..results import result_type, returns

__all__ = ["Trajectory", "Schedule", "step", "expected_loss", "excess_loss", "per_coordinate_excess", "one_step_loss", "run", "mean_variance_run", "make_schedule", "exact_ab", "moment_step", "constant_sgd_moment", "constant_sgd_excess", "PRECISIONS"]

_GUARD_BITS = 300  # growth allowed between two overflow-guard checks in run()
_GUARD_RESCALE = 2.0**100  # coordinates above this are rescaled by an exact power of 2
_CHUNK_ELEMS = 2**15  # elements of a (steps x d) coefficient block in run() (cache-sized; measured)


@result_type
@dataclass(frozen=True, eq=False)
class Trajectory:
    """Result of :func:`run`. ``loss``/``excess`` hold steps 0..t (length t + 1) with
    ``curve=True``, else only the final value (length 1); ``loss[-1]`` is always the final one.
    ``loss`` includes the irreducible part, ``excess`` does not."""

    loss: np.ndarray  #: expected loss (irreducible part included), steps 0..t or the final value
    excess: np.ndarray  #: expected loss above the irreducible part, same steps
    state: State  #: the moment state after t steps (per coordinate)
    etas: np.ndarray  #: the step size schedule used
    mus: np.ndarray  #: the momentum schedule used

    @property
    def t(self) -> int:
        return int(self.etas.size)

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])

    @property
    def final_excess(self) -> float:
        return float(self.excess[-1])


@dataclass(eq=False)
class Schedule:
    """A step-size (and momentum) schedule of length T with its expected-loss curve (steps 0..T,
    including the irreducible part) and the excess curve; ``info`` says how it was found (method,
    iterations, seconds, success, message, ...)."""

    etas: np.ndarray
    mus: np.ndarray
    loss: np.ndarray
    final_loss: float
    info: dict = field(default_factory=dict)
    excess: np.ndarray | None = None

    @property
    def final_excess(self) -> float:
        if self.excess is None:
            raise ValidationError("excess", "this Schedule was built without an excess curve")
        return float(self.excess[-1])


# ---------------------------------------------------------------------------------------------
# one step and losses


def exact_ab(eta: Any, h: Any, ft: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """``a = eta h`` and ``b = 1 - eta h`` in type ``ft``, broadcasting ``eta`` (any shape, e.g. (k, 1))
    against the curvatures ``h`` (d,). Where ``eta h`` can lie in (1/2, 3/2), i.e. where ``1 - eta h``
    may cancel, both come from the exact product of the float64 inputs (Dekker's error-free product,
    (:mod:`numerics.exact_product`), so ``b`` keeps its relative accuracy near ``eta h = 1``, where the
    deterministic part of the loss is ``(1 - eta h)^(2t) X_0``. Only those columns of ``h`` take the
    exact path; elsewhere ``1 - fl(eta h)`` loses at most a factor 2 of relative accuracy."""
    eta, h = np.asarray(eta, dtype=np.float64), np.asarray(h, dtype=np.float64)
    a = np.array(np.broadcast_to(eta.astype(ft, copy=False) * h.astype(ft, copy=False), np.broadcast_shapes(eta.shape, h.shape)))
    b = 1.0 - a
    emin, emax = float(eta.min(initial=np.inf)), float(eta.max(initial=0.0))
    if emax > 0.0 and h.ndim == 1:
        cols = (h > 0.5 / emax) & (h < (1.5 / emin if emin > 0.0 else np.inf))
        if cols.any():
            E, H = np.broadcast_arrays(eta, h[cols])
            p, e, k = two_product_scaled(E, H)
            with np.errstate(under="ignore", over="ignore"):
                hi, lo = np.ldexp(p, k), np.ldexp(e, k)  # eta h = hi + lo exactly
            a[..., cols] = hi.astype(ft) + lo.astype(ft)
            b[..., cols] = (1.0 - hi).astype(ft) - lo.astype(ft)  # 1 - hi exact where hi in [1/2, 2] (Sterbenz)
    return a, b


def moment_step(X, W, Y, eta, mu, h, q):
    """One exact step of (X, W, Y); ``q = h^2 sigma2`` (possibly rescaled per coordinate)."""
    a, b = exact_ab(eta, h, np.asarray(X).dtype if np.asarray(X).dtype == np.longdouble else np.float64)
    m = (mu * mu) * W + (eta * eta) * q
    Xn = b * b * X + (2.0 * mu) * b * Y + m
    Wn = a * a * X - (2.0 * mu) * a * Y + m
    Yn = -a * b * X + mu * (1.0 - 2.0 * a) * Y + m
    return Xn, Wn, Yn


def step(problem: NQMProblem, state: State, eta: Any, mu: Any = 0.0) -> State:
    r"""One exact step of the second moments (spec §3): :math:`s' = Ms + \eta^2h^2\sigma^2(1,1,1)`.

    >>> from l2l.numerics.nqm import initial_state
    >>> p = NQMProblem([1.0], [1.0], [0.0], [1.0])
    >>> s = step(p, step(p, initial_state(p), 0.5), 0.5, mu=0.5)
    >>> s.X.tolist(), s.W.tolist(), s.Y.tolist()
    ([0.5], [0.5], [0.25])
    """
    problem = as_instance(problem, NQMProblem, article="an")
    state = check_state(problem, state)
    eta = as_real("eta", eta, 0.0, eta_bound(problem))
    mu = as_real("mu", mu, -STEP_MAX, STEP_MAX)
    with np.errstate(over="ignore", invalid="ignore"):
        X, W, Y = moment_step(state.X, state.W, state.Y, eta, mu, problem.h, problem.h**2 * problem.sigma2)
    if not (np.isfinite(X).all() and np.isfinite(W).all() and np.isfinite(Y).all()):
        raise ValidationError("eta", "this step overflows float64 (use run(), which rescales)")
    return State(X, W, Y)


def per_coordinate_excess(problem: NQMProblem, state: State) -> np.ndarray:
    r""":math:`\tfrac12 h_iX_i` per coordinate (sums to :func:`excess_loss`)."""
    problem = as_instance(problem, NQMProblem, article="an")
    state = check_state(problem, state, finite=False)
    return 0.5 * problem.h * state.X


def excess_loss(problem: NQMProblem, state: State) -> float:
    r""":math:`\tfrac12\sum_i h_iX_i` (``+inf`` for an overflowed state)."""
    problem = as_instance(problem, NQMProblem, article="an")
    state = check_state(problem, state, finite=False)
    with np.errstate(over="ignore"):
        return 0.5 * float(problem.h @ state.X)


def expected_loss(problem: NQMProblem, state: State) -> float:
    r""":math:`\mathbb E L = \tfrac12\sum_i h_i(X_i + \sigma_i^2)` (spec §2)."""
    return excess_loss(problem, state) + problem.irreducible


def one_step_loss(problem: NQMProblem, state: State, eta: Any, mu: Any = 0.0) -> float:
    r"""Expected loss after one step from ``state`` with ``(eta, mu)``: the function
    :math:`f(\eta,\mu)` of spec §4 that the greedy rules minimise."""
    return expected_loss(problem, step(problem, state, eta, mu))


# ---------------------------------------------------------------------------------------------
# run: the exact expected trajectory


def _chunks(etas: np.ndarray, mus: np.ndarray, hmax: float, d: int):
    """Step ranges [start, end): at most _CHUNK_ELEMS / d steps, and at most _GUARD_BITS of
    worst-case growth of max|state| (bound (1 + eta h_max + |mu|)^2 per step) between guards."""
    t = etas.size
    if t == 0:
        return
    bits = 2.0 * np.log2(1.0 + etas * hmax + np.abs(mus))
    cb = np.concatenate(([0.0], np.cumsum(bits)))
    lc = max(1, _CHUNK_ELEMS // d)
    start = 0
    while start < t:
        end = int(np.searchsorted(cb, cb[start] + _GUARD_BITS, side="right")) - 1
        end = min(max(end, start + 1), start + lc, t)
        yield start, end
        start = end


class _Scaled:
    """Per-coordinate exact power-of-2 exponents E: true moment = stored * 2^E (E >= 0)."""

    def __init__(self, h: np.ndarray, q: np.ndarray):
        self.h = h
        self.q = q.copy()  # h^2 sigma2 / 2^E
        self.E = None  # None while every exponent is 0
        self.hw = 0.5 * h  # 1/2 h 2^(E - Emax)
        self.Emax = 0

    def guard(self, parts: list[np.ndarray]) -> None:
        m = np.abs(parts[0]) if len(parts) == 1 else np.maximum(np.maximum(parts[0], parts[1]), np.abs(parts[2]))
        if not float(m.max()) > _GUARD_RESCALE:
            return
        idx = np.nonzero(m > _GUARD_RESCALE)[0]
        e = np.frexp(m[idx])[1].astype(np.int64)
        for p in parts:
            p[idx] = np.ldexp(p[idx], -e)
        with np.errstate(under="ignore"):
            self.q[idx] = np.ldexp(self.q[idx], -e)
        if self.E is None:
            self.E = np.zeros(self.h.size, dtype=np.int64)
        self.E[idx] += e
        self.Emax = int(self.E.max())
        with np.errstate(under="ignore"):
            self.hw = np.ldexp(0.5 * self.h, (self.E - self.Emax).astype(np.int64))

    def excess(self, X: np.ndarray) -> float:
        v = float(self.hw @ X)
        if self.Emax == 0:
            return v
        with np.errstate(over="ignore"):
            return float(np.ldexp(v, self.Emax))

    def unscale(self, a: np.ndarray) -> np.ndarray:
        if self.E is None:
            return a
        with np.errstate(over="ignore"):
            return np.ldexp(a, self.E)


#: ``run(..., precision=...)``: the floating-point type of the recursion.
PRECISIONS = {"float64": np.float64, "extended": np.longdouble}


@returns(Trajectory)
def run(problem: NQMProblem, eta: Any, t: Any, mu: Any = 0.0, *, curve: bool = True, precision: str = "float64") -> Trajectory:
    r"""Exact expected loss of heavy-ball SGD on the NQM for ``t`` steps (spec §3).

    ``eta`` (>= 0) and ``mu``: numbers or schedules of length ``t``. Vectorised over the
    coordinates; plain SGD (every ``mu == 0``) iterates ``X`` alone and recovers ``W, Y`` at the
    last step. Cost ``O(t d)``; measured on one core (``benchmarks/nqm.py``), d = 10^4: t = 10^4
    in 0.2-0.3 s (SGD) and 0.7-0.9 s (momentum), 10^5-step schedules in 2.5 s and 9.3 s; 13-89x
    faster than :func:`numerics.least_squares.moments.additive_noise_expectation` on the same problem (which
    also carries a tangent and the covariance) and 50-250x faster than a plain Python loop.
    Diverging schedules: module docstring, "Range" (``+inf``, never NaN).

    ``precision="extended"`` iterates in ``numpy.longdouble`` (x87 80-bit on x86-64 Linux: 64-bit
    significand, eps = 1.1e-19; it is plain float64 where the platform has nothing wider, see
    ``numpy.finfo(numpy.longdouble)``), about 2-4x slower. With momentum the raw-moment map can
    cancel (``X' = (1-a)^2 X + mu^2 W + 2 mu (1-a) Y`` when the iterate passes near 0, e.g. a
    deterministic oscillation): float64 then loses ``eps x (sum of |terms|) / X'``, which the
    extra 11 bits absorb; ``l2l eval`` uses it. Results are rounded to float64 at the end.

    >>> p = NQMProblem.stand_in(3)
    >>> tr = run(p, 0.5, 3, mu=0.5)
    >>> [round(float(v), 6) for v in tr.excess]
    [0.916667, 0.551505, 0.478753, 0.522919]
    >>> run(p, 3.0, 2000, curve=False).final_loss       # 3 > 2/h_max: diverges beyond float64
    inf
    """
    problem = as_instance(problem, NQMProblem, article="an")
    t = as_int("t", t, 0, MAX_STEPS, integral_floats=True)
    etas = as_schedule("eta", eta, t, nonneg=True, bound=eta_bound(problem))
    mus = as_schedule("mu", mu, t, nonneg=False, bound=STEP_MAX)
    if not isinstance(curve, (bool, np.bool_)):
        raise ValidationError("curve", f"must be True or False (got {curve!r})")
    d = problem.d
    if t * d > MAX_WORK:
        raise ValidationError("t", f"t x d = {t * d:.3g} exceeds MAX_WORK = {MAX_WORK:.0e}")
    if curve and t + 1 > MAX_CURVE_POINTS:
        raise ValidationError("curve", f"t + 1 = {t + 1} exceeds MAX_CURVE_POINTS = {MAX_CURVE_POINTS}")
    if precision not in PRECISIONS:
        raise ValidationError("precision", f"must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    ft = PRECISIONS[precision]
    h = problem.h.astype(ft)
    sc = _Scaled(h, h * h * problem.sigma2.astype(ft))
    X = problem.mean0.astype(ft) ** 2 + problem.var0.astype(ft)  # in ft: E w_0^2 below float64's range survives
    W = np.zeros(d, ft)
    Y = np.zeros(d, ft)
    etas_f, mus_f = etas.astype(ft), mus.astype(ft)
    exc = np.empty(t + 1 if curve else 1)
    if curve:
        exc[0] = sc.excess(X)
    sgd = not mus.any()
    const = t > 0 and bool(np.all(etas == etas[0]) and np.all(mus == mus[0]))
    n_loop = t - 1 if (sgd and t > 0) else t  # SGD: X alone, the last step in full
    if const:  # the coefficients of a constant schedule, once
        ab_const = exact_ab(etas[:1, None], problem.h, ft)
        r_const = ab_const[1] ** 2
    with np.errstate(under="ignore"):
        if sgd:
            sc.guard([X])
            for s0, s1 in _chunks(etas[:n_loop], mus[:n_loop], problem.h_max, d):
                e = etas_f[s0:s0 + 1] if const else etas_f[s0:s1]
                r = r_const if const else exact_ab(etas[s0:s1, None], problem.h, ft)[1] ** 2
                n = (e * e)[:, None] * sc.q
                for j in range(s1 - s0):
                    k = 0 if const else j
                    X *= r[k]
                    X += n[k]
                    if curve:
                        exc[s0 + j + 1] = sc.excess(X)
                sc.guard([X])
            if t > 0:
                X, W, Y = moment_step(X, W, Y, etas_f[-1], ft(0.0), h, sc.q)
                if curve:
                    exc[t] = sc.excess(X)
        else:
            parts = [X, W, Y]
            sc.guard(parts)
            Xn, Wn, Yn, m, tmp = (np.empty(d, ft) for _ in range(5))
            for s0, s1 in _chunks(etas, mus, problem.h_max, d):
                e = etas_f[s0:s0 + 1] if const else etas_f[s0:s1]
                u = mus_f[s0:s0 + 1] if const else mus_f[s0:s1]
                a, b = ab_const if const else exact_ab(etas[s0:s1, None], problem.h, ft)
                b2, a2 = b * b, a * a
                c1 = (2.0 * u)[:, None] * b
                c2 = (-2.0 * u)[:, None] * a
                c3 = -a * b
                c4 = u[:, None] * (1.0 - 2.0 * a)
                n = (e * e)[:, None] * sc.q
                u2 = u * u
                for j in range(s1 - s0):
                    k = 0 if const else j
                    np.multiply(W, u2[k], out=m)
                    m += n[k]
                    np.multiply(b2[k], X, out=Xn)
                    np.multiply(c1[k], Y, out=tmp)
                    Xn += tmp
                    Xn += m
                    np.multiply(a2[k], X, out=Wn)
                    np.multiply(c2[k], Y, out=tmp)
                    Wn += tmp
                    Wn += m
                    np.multiply(c3[k], X, out=tmp)
                    np.multiply(c4[k], Y, out=Yn)
                    Yn += tmp
                    Yn += m
                    X, Xn = Xn, X
                    W, Wn = Wn, W
                    Y, Yn = Yn, Y
                    if curve:
                        exc[s0 + j + 1] = sc.excess(X)
                sc.guard([X, W, Y])
    final = sc.excess(X)
    if not curve:
        exc[0] = final
    # the final state in the working precision (long double with precision="extended": moments
    # below float64's range, e.g. (1 - eta h)^(2t) X_0 at eta h ~ 1, stay exact for greedy_eta)
    state = State(*(sc.unscale(v) for v in (X, W, Y)))
    irr = problem.irreducible
    return Trajectory(loss=exc + irr, excess=exc, state=state, etas=etas, mus=mus)


def mean_variance_run(problem: NQMProblem, eta: Any, t: Any, mu: Any = 0.0) -> dict:
    r"""The mean/variance form of spec §3, propagated separately from the raw moments.

    Means :math:`\mathbb E w' = (1-a)\mathbb E w + \mu\mathbb E v`,
    :math:`\mathbb E v' = -a\mathbb E w + \mu\mathbb E v`; variances :math:`V_w, V_v` and
    covariance ``cov`` by the same matrix ``M`` with the noise :math:`\eta^2h^2\sigma^2`. Returns
    the final ``mean_w, mean_v, var_w, var_v, cov`` (arrays), ``X = mean_w^2 + var_w``,
    ``W = mean_v^2 + var_v``, ``Y = mean_w mean_v + cov`` and ``excess``, ``loss``. Needs a
    finite result (raises otherwise).

    >>> p = NQMProblem([1.0], [1.0], [2.0], [0.0])
    >>> r = mean_variance_run(p, 0.5, 1)
    >>> r["mean_w"].tolist(), r["var_w"].tolist(), r["X"].tolist()
    ([1.0], [0.25], [1.25])
    """
    problem = as_instance(problem, NQMProblem, article="an")
    t = as_int("t", t, 0, MAX_STEPS, integral_floats=True)
    etas = as_schedule("eta", eta, t, nonneg=True, bound=eta_bound(problem))
    mus = as_schedule("mu", mu, t, nonneg=False, bound=STEP_MAX)
    if t * problem.d > MAX_WORK:
        raise ValidationError("t", f"t x d = {t * problem.d:.3g} exceeds MAX_WORK = {MAX_WORK:.0e}")
    h = problem.h
    q = h * h * problem.sigma2
    mw = problem.mean0.copy()
    mv = np.zeros(problem.d)
    Vw = problem.var0.copy()
    Vv = np.zeros(problem.d)
    C = np.zeros(problem.d)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for k in range(t):
            e, u = etas[k], mus[k]
            a = e * h
            mw, mv = (1.0 - a) * mw + u * mv, -a * mw + u * mv
            Vw, Vv, C = moment_step(Vw, Vv, C, e, u, h, q)
    out = {"mean_w": mw, "mean_v": mv, "var_w": Vw, "var_v": Vv, "cov": C}
    if not all(np.isfinite(v).all() for v in out.values()):
        raise ValidationError("eta", "the moments overflow float64 for this schedule (use run())")
    out["X"] = mw * mw + Vw
    out["W"] = mv * mv + Vv
    out["Y"] = mw * mv + C
    out["excess"] = 0.5 * float(h @ out["X"])
    out["loss"] = out["excess"] + problem.irreducible
    return out




def make_schedule(problem: NQMProblem, etas: np.ndarray, mus: np.ndarray, info: dict) -> Schedule:
    """The :class:`Schedule` of (etas, mus) with its loss and excess curves from :func:`run`."""
    tr = run(problem, etas, etas.size, mus)
    return Schedule(etas=etas, mus=mus, loss=tr.loss, final_loss=tr.final_loss, info=info, excess=tr.excess)

# ---------------------------------------------------------------------------------------------
# constant step size: closed form (SGD)


def constant_sgd_moment(X0: np.ndarray, s2: np.ndarray, a: np.ndarray, k: int, *, b: Any = None, c: Any = None) -> np.ndarray:
    r""":math:`X_k = r^kX_0 + a^2\sigma^2(1-r^k)/(1-r)`, :math:`r=(1-a)^2`, for arrays ``a``
    (any shape broadcasting against X0, s2); exact forms at a in {0, 1, 2}. ``k >= 1``.

    With ``b = 1 - a`` and ``c = 2 - a`` given (e.g. in long double from the exact product, as
    :func:`numerics.nqm.jump.run_constant` does), :math:`\ln|1-a|` comes from ``log1p`` of
    whichever of ``-a``, ``-c`` is small, or from ``ln|b|`` in between, so ``a`` near 1 or 2 keeps
    its digits; :math:`1 - r = ac`; and a zero start or zero noise contributes exactly 0, also
    where :math:`r^k` overflows."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        if b is None:
            lr = 2.0 * np.where(a < 1.0, np.log1p(-np.minimum(a, 1.0)), np.log(np.abs(a - 1.0)))
            one_minus_r = a * (2.0 - a)
        else:
            lr = 2.0 * np.where(a <= 0.5, np.log1p(-np.minimum(a, 0.5)),
                                np.where(a < 1.5, np.log(np.abs(b)), np.log1p(-np.minimum(c, 0.5))))
            one_minus_r = a * c
        rk = np.exp(k * lr)
        geo = np.where(one_minus_r == 0.0, k, -np.expm1(k * lr) / np.where(one_minus_r == 0.0, 1.0, one_minus_r))
        if b is None:
            return rk * X0 + (a * a * s2) * geo
        n = a * a * s2
        return np.where(X0 == 0.0, 0.0, rk * X0) + np.where(n == 0.0, 0.0, n * geo)


def constant_sgd_excess(problem: NQMProblem, X: np.ndarray, etas: np.ndarray, k: int) -> np.ndarray:
    """Excess after k SGD steps with each eta in ``etas`` (1-D), from X; vectorised (len x d)."""
    h = problem.h
    Xk = constant_sgd_moment(X, problem.sigma2, etas[:, None] * h, k)
    with np.errstate(over="ignore"):
        return 0.5 * (Xk @ h)


