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
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from .validation import ValidationError, as_real_vector

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
    "MAX_DIM",
    "MAX_STEPS",
    "MAX_WORK",
    "MAX_CURVE_POINTS",
    "ADJOINT_STORE_FLOATS",
    "MU_MAX",
]

#: Largest number of coordinates.
MAX_DIM = 10**6
#: Largest horizon accepted by :func:`run` and the schedule routines.
MAX_STEPS = 10**8
#: Largest ``t * d`` (coordinate-steps) of one call: about 10^3 s of numpy work.
MAX_WORK = 10**11
#: Largest loss curve (``t + 1`` points).
MAX_CURVE_POINTS = 10**7
#: Floats the adjoint may keep at once (128 MB); beyond it, checkpointing (recompute segments).
ADJOINT_STORE_FLOATS = 2**24
#: Default largest momentum of :func:`optimal_schedule`.
MU_MAX = 0.999

_H_RANGE = (1e-30, 1e30)
_MOMENT_MAX = 1e60  # sigma2, var0
_MEAN_MAX = 1e30
_STEP_MAX = 1e30  # eta * max(h) and |mu|
_NEG_TOL = 1e-12  # rounding of a zero second moment (State)
_GUARD_BITS = 300  # growth allowed between two overflow-guard checks in run()
_GUARD_RESCALE = 2.0**100  # coordinates above this are rescaled by an exact power of 2
_CHUNK_ELEMS = 2**15  # elements of a (steps x d) coefficient block in run() (cache-sized; measured)
_GRID_BLOCK = 2**18  # elements of a (schedules x d) block in tune_inverse_time / steps_to_target


# ---------------------------------------------------------------------------------------------
# validation helpers


def _real(field_: str, value: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False) -> float:
    rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    if lo_open:
        rng = "(" + rng[1:]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValidationError(field_, f"must be a real number in {rng} (got {type(value).__name__})")
    v = float(value)
    if not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
        raise ValidationError(field_, f"must be a finite real number in {rng} (got {v!r})")
    return v


def _int(field_: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValidationError(field_, f"must be an integer in [{lo}, {hi}] (got {value!r})")
    v = int(value)
    if not lo <= v <= hi:
        raise ValidationError(field_, f"must be an integer in [{lo}, {hi}] (got {v})")
    return v


def _vec_range(field_: str, arr: np.ndarray, lo: float | None, hi: float | None, absolute: bool = False) -> np.ndarray:
    x = np.abs(arr) if absolute else arr
    what = f"|{field_}|" if absolute else field_
    if lo is not None and (x < lo).any():
        i = int(np.argmax(x < lo))
        raise ValidationError(field_, f"every entry must be >= {lo} (entry {i} is {float(arr[i])!r})")
    if hi is not None and (x > hi).any():
        i = int(np.argmax(x > hi))
        raise ValidationError(field_, f"every entry must satisfy {what} <= {hi} (entry {i} is {float(arr[i])!r})")
    return arr


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.longdouble if getattr(a, "dtype", None) == np.longdouble else np.float64)
    a.setflags(write=False)
    return a


def _problem(problem: Any) -> "NQMProblem":
    if not isinstance(problem, NQMProblem):
        raise ValidationError("problem", f"must be an NQMProblem (got {type(problem).__name__})")
    return problem


def _schedule(field_: str, value: Any, t: int, *, nonneg: bool, bound: float) -> np.ndarray:
    """A number (repeated t times) or a 1-D array of length t; finite; >= 0 if ``nonneg``;
    |entry| <= ``bound``."""
    if np.ndim(value) == 0:
        v = _real(field_, value, 0.0 if nonneg else None)
        arr = np.full(t, v)
    else:
        if t == 0 and np.size(value) == 0:
            return np.zeros(0)
        arr = as_real_vector(field_, value)
        if arr.size != t:
            raise ValidationError(field_, f"must be a number or have length t = {t} (got length {arr.size})")
        if nonneg:
            _vec_range(field_, arr, 0.0, None)
    if arr.size and float(np.max(np.abs(arr))) > bound:
        i = int(np.argmax(np.abs(arr) > bound))
        raise ValidationError(field_, f"must satisfy |{field_}| <= {bound:.3g} (entry {i} is {float(arr[i])!r})")
    return arr


def _eta_bound(problem: "NQMProblem") -> float:
    return _STEP_MAX / problem.h_max


# ---------------------------------------------------------------------------------------------
# problem and state


@dataclass(frozen=True, eq=False)
class NQMProblem:
    r"""A noisy quadratic problem: curvatures ``h``, centre variances ``sigma2``, initial mean
    ``mean0`` and variance ``var0`` of :math:`w_0` (float64 arrays of one length d, read-only).

    Ranges (checked): 1 <= d <= 10^6; ``h`` in [1e-30, 1e30]; ``sigma2``, ``var0`` in [0, 1e60];
    ``|mean0| <= 1e30``. Only :math:`X_0 = \mathrm{mean0}^2 + \mathrm{var0}` enters the
    second-moment dynamics (spec §2).

    >>> p = NQMProblem([2.0, 1.0], [0.5, 1.0], [1.0, 0.0], [0.0, 3.0])
    >>> p.d, p.irreducible, p.X0.tolist()           # irreducible = 1/2 sum h sigma2
    (2, 1.0, [1.0, 3.0])
    >>> NQMProblem([1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0])
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: h: every entry must be > 0 (entry 1 is -1.0)
    """

    h: np.ndarray
    sigma2: np.ndarray
    mean0: np.ndarray
    var0: np.ndarray

    def __post_init__(self) -> None:
        h = as_real_vector("h", self.h, positive=True)
        _vec_range("h", h, *_H_RANGE)
        d = h.size
        if d > MAX_DIM:
            raise ValidationError("h", f"must have at most {MAX_DIM} entries (got {d})")
        arrays = {"h": h}
        for name, hi, absolute in (("sigma2", _MOMENT_MAX, False), ("mean0", _MEAN_MAX, True), ("var0", _MOMENT_MAX, False)):
            a = as_real_vector(name, getattr(self, name))
            if a.size != d:
                raise ValidationError(name, f"must have the length of h, {d} (got {a.size})")
            _vec_range(name, a, None if absolute else 0.0, hi, absolute=absolute)
            arrays[name] = a
        for name, a in arrays.items():
            object.__setattr__(self, name, _readonly(a))

    @property
    def d(self) -> int:
        """Number of coordinates."""
        return int(self.h.size)

    @property
    def h_max(self) -> float:
        return float(self.h.max())

    @property
    def irreducible(self) -> float:
        r""":math:`\tfrac12\sum_i h_i\sigma_i^2`, the part of the expected loss no schedule removes."""
        return 0.5 * float(self.h @ self.sigma2)

    @property
    def X0(self) -> np.ndarray:
        r""":math:`\mathbb E w_0^2 = \mathrm{mean0}^2 + \mathrm{var0}` per coordinate."""
        return self.mean0**2 + self.var0

    @classmethod
    def stand_in(cls, d: Any, kappa: Any = 1.0, x0: Any = 1.0) -> "NQMProblem":
        r"""The spec's STAND-IN spectrum (spec §2), *not* Wu et al.'s (unknown) one.

        :math:`h_i = 1/i` (i = 1..d), :math:`\sigma_i^2 = \kappa/h_i` (gradient-noise variance
        :math:`h_i^2\sigma_i^2 = \kappa h_i`, as in Zhang et al. with C = H), ``mean0 = 0``,
        ``var0 = x0``. Every reference number of spec §7 and §11 uses it.

        >>> p = NQMProblem.stand_in(3, kappa=0.5)
        >>> p.h.tolist(), p.sigma2.tolist(), p.irreducible      # irreducible = kappa d / 2
        ([1.0, 0.5, 0.3333333333333333], [0.5, 1.0, 1.5], 0.75)
        """
        d = _int("d", d, 1, MAX_DIM)
        kappa = _real("kappa", kappa, 0.0, _MOMENT_MAX / d)
        x0 = _real("x0", x0, 0.0, _MOMENT_MAX)
        i = np.arange(1, d + 1, dtype=np.float64)
        return cls(1.0 / i, kappa * i, np.zeros(d), np.full(d, x0))

    @classmethod
    def from_batch(cls, h: Any, c: Any, batch_size: Any, mean0: Any = None, var0: Any = None) -> "NQMProblem":
        r"""Zhang et al. (2019) parameterisation (spec §10.1): gradient noise of variance
        :math:`c_i/B` per coordinate, i.e. :math:`h_i^2\sigma_i^2 = c_i/B`,
        :math:`\sigma_i^2 = c_i/(Bh_i^2)`. Defaults ``mean0 = 0``, ``var0 = 1``
        (:math:`w_0\sim\mathcal N(0, I)`, as in their notebook). ``batch_size`` > 0 (a real
        number is accepted).

        >>> p = NQMProblem.from_batch([1.0, 0.5], [1.0, 0.5], 4)        # C = H, B = 4
        >>> p.sigma2.tolist(), p.var0.tolist()
        ([0.25, 0.5], [1.0, 1.0])
        """
        hh = as_real_vector("h", h, positive=True)
        cc = as_real_vector("c", c)
        if cc.size != hh.size:
            raise ValidationError("c", f"must have the length of h, {hh.size} (got {cc.size})")
        _vec_range("c", cc, 0.0, None)
        B = _real("batch_size", batch_size, 0.0, None, lo_open=True)
        d = hh.size
        m0 = np.zeros(d) if mean0 is None else mean0
        v0 = np.ones(d) if var0 is None else var0
        with np.errstate(over="ignore", under="ignore"):
            s2 = cc / (B * hh * hh)
        if not np.isfinite(s2).all():
            raise ValidationError("c", f"c / (batch_size h^2) must be <= {_MOMENT_MAX:.0e}")
        return cls(hh, s2, m0, v0)

    def to_dict(self) -> dict:
        """JSON-ready dict (lists of floats)."""
        return {
            "d": self.d,
            "h": self.h.tolist(),
            "sigma2": self.sigma2.tolist(),
            "mean0": self.mean0.tolist(),
            "var0": self.var0.tolist(),
            "irreducible": self.irreducible,
        }


@dataclass(frozen=True, eq=False)
class State:
    r"""Raw second moments per coordinate: ``X`` = E w^2, ``W`` = E v^2, ``Y`` = E w v.

    Checked: equal lengths, no NaN, ``X, W >= 0`` (``+inf`` is allowed: :func:`run` returns it
    for a value beyond the float64 range; functions that step from a state need it finite).
    Negative entries down to ``-1e-12 x max(1, largest |entry|)`` are accepted: they are the
    float64 rounding of a second moment that is exactly 0 (e.g. one step after a state with
    ``Y^2 = XW`` and no noise), not invalid input.
    """

    X: np.ndarray
    W: np.ndarray
    Y: np.ndarray

    def __post_init__(self) -> None:
        arrs = {}
        for name in ("X", "W", "Y"):
            raw = getattr(self, name)
            # float64, or long double as returned by run(..., precision="extended")
            dt = np.longdouble if getattr(raw, "dtype", None) == np.longdouble else np.float64
            try:
                a = np.array(raw, dtype=dt)
            except (TypeError, ValueError):
                raise ValidationError(name, "must be a 1-D array of real numbers") from None
            if a.ndim != 1 or a.size == 0:
                raise ValidationError(name, f"must be a non-empty 1-D array (got shape {a.shape})")
            if np.isnan(a).any():
                raise ValidationError(name, f"must not contain NaN (entry {int(np.argmax(np.isnan(a)))})")
            arrs[name] = a
        with np.errstate(invalid="ignore"):
            scale = max(1.0, *(float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0)) for a in arrs.values()))
        for name in ("X", "W"):
            a = arrs[name]
            if (a < -_NEG_TOL * scale).any():
                i = int(np.argmax(a < -_NEG_TOL * scale))
                raise ValidationError(name, f"is a second moment: every entry must be >= 0 (entry {i} is {float(a[i])!r})")
        if not arrs["X"].size == arrs["W"].size == arrs["Y"].size:
            raise ValidationError("W", "X, W and Y must have equal lengths")
        for name, a in arrs.items():
            object.__setattr__(self, name, _readonly(a))


def _state(problem: NQMProblem, state: Any, *, finite: bool = True) -> State:
    if not isinstance(state, State):
        raise ValidationError("state", f"must be a State (got {type(state).__name__})")
    if state.X.size != problem.d:
        raise ValidationError("state", f"must have the problem's dimension {problem.d} (got {state.X.size})")
    if finite and not (np.isfinite(state.X).all() and np.isfinite(state.W).all() and np.isfinite(state.Y).all()):
        raise ValidationError("state", "must be finite (it overflowed float64)")
    return state


def initial_state(problem: NQMProblem) -> State:
    """``X = mean0^2 + var0``, ``W = Y = 0`` (v_0 = 0)."""
    problem = _problem(problem)
    z = np.zeros(problem.d)
    return State(problem.X0, z, z)


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Result of :func:`run`. ``loss``/``excess`` hold steps 0..t (length t + 1) with
    ``curve=True``, else only the final value (length 1); ``loss[-1]`` is always the final one.
    ``loss`` includes the irreducible part, ``excess`` does not."""

    loss: np.ndarray
    excess: np.ndarray
    state: State
    etas: np.ndarray
    mus: np.ndarray

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


def _exact_ab(eta: Any, h: Any, ft: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """``a = eta h`` and ``b = 1 - eta h`` in type ``ft``, broadcasting ``eta`` (any shape, e.g. (k, 1))
    against the curvatures ``h`` (d,). Where ``eta h`` can lie in (1/2, 3/2), i.e. where ``1 - eta h``
    may cancel, both come from the exact product of the float64 inputs (Dekker's error-free product,
    :mod:`numerics.stable`), so ``b`` keeps its relative accuracy near ``eta h = 1``, where the
    deterministic part of the loss is ``(1 - eta h)^(2t) X_0``. Only those columns of ``h`` take the
    exact path; elsewhere ``1 - fl(eta h)`` loses at most a factor 2 of relative accuracy."""
    eta, h = np.asarray(eta, dtype=np.float64), np.asarray(h, dtype=np.float64)
    a = np.array(np.broadcast_to(eta.astype(ft, copy=False) * h.astype(ft, copy=False), np.broadcast_shapes(eta.shape, h.shape)))
    b = 1.0 - a
    emin, emax = float(eta.min(initial=np.inf)), float(eta.max(initial=0.0))
    if emax > 0.0 and h.ndim == 1:
        cols = (h > 0.5 / emax) & (h < (1.5 / emin if emin > 0.0 else np.inf))
        if cols.any():
            from .stable import _two_product_scaled

            E, H = np.broadcast_arrays(eta, h[cols])
            p, e, k = _two_product_scaled(E, H)
            with np.errstate(under="ignore", over="ignore"):
                hi, lo = np.ldexp(p, k), np.ldexp(e, k)  # eta h = hi + lo exactly
            a[..., cols] = hi.astype(ft) + lo.astype(ft)
            b[..., cols] = (1.0 - hi).astype(ft) - lo.astype(ft)  # 1 - hi exact where hi in [1/2, 2] (Sterbenz)
    return a, b


def _full_step(X, W, Y, eta, mu, h, q):
    """One exact step of (X, W, Y); ``q = h^2 sigma2`` (possibly rescaled per coordinate)."""
    a, b = _exact_ab(eta, h, np.asarray(X).dtype if np.asarray(X).dtype == np.longdouble else np.float64)
    m = (mu * mu) * W + (eta * eta) * q
    Xn = b * b * X + (2.0 * mu) * b * Y + m
    Wn = a * a * X - (2.0 * mu) * a * Y + m
    Yn = -a * b * X + mu * (1.0 - 2.0 * a) * Y + m
    return Xn, Wn, Yn


def step(problem: NQMProblem, state: State, eta: Any, mu: Any = 0.0) -> State:
    r"""One exact step of the second moments (spec §3): :math:`s' = Ms + \eta^2h^2\sigma^2(1,1,1)`.

    >>> p = NQMProblem([1.0], [1.0], [0.0], [1.0])
    >>> s = step(p, step(p, initial_state(p), 0.5), 0.5, mu=0.5)
    >>> s.X.tolist(), s.W.tolist(), s.Y.tolist()
    ([0.5], [0.5], [0.25])
    """
    problem = _problem(problem)
    state = _state(problem, state)
    eta = _real("eta", eta, 0.0, _eta_bound(problem))
    mu = _real("mu", mu, -_STEP_MAX, _STEP_MAX)
    with np.errstate(over="ignore", invalid="ignore"):
        X, W, Y = _full_step(state.X, state.W, state.Y, eta, mu, problem.h, problem.h**2 * problem.sigma2)
    if not (np.isfinite(X).all() and np.isfinite(W).all() and np.isfinite(Y).all()):
        raise ValidationError("eta", "this step overflows float64 (use run(), which rescales)")
    return State(X, W, Y)


def per_coordinate_excess(problem: NQMProblem, state: State) -> np.ndarray:
    r""":math:`\tfrac12 h_iX_i` per coordinate (sums to :func:`excess_loss`)."""
    problem = _problem(problem)
    state = _state(problem, state, finite=False)
    return 0.5 * problem.h * state.X


def excess_loss(problem: NQMProblem, state: State) -> float:
    r""":math:`\tfrac12\sum_i h_iX_i` (``+inf`` for an overflowed state)."""
    problem = _problem(problem)
    state = _state(problem, state, finite=False)
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


def run(problem: NQMProblem, eta: Any, t: Any, mu: Any = 0.0, *, curve: bool = True, precision: str = "float64") -> Trajectory:
    r"""Exact expected loss of heavy-ball SGD on the NQM for ``t`` steps (spec §3).

    ``eta`` (>= 0) and ``mu``: numbers or schedules of length ``t``. Vectorised over the
    coordinates; plain SGD (every ``mu == 0``) iterates ``X`` alone and recovers ``W, Y`` at the
    last step. Cost ``O(t d)``; measured on one core (``benchmarks/nqm.py``), d = 10^4: t = 10^4
    in 0.2-0.3 s (SGD) and 0.7-0.9 s (momentum), 10^5-step schedules in 2.5 s and 9.3 s; 13-89x
    faster than :func:`numerics.moments.additive_noise_expectation` on the same problem (which
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
    problem = _problem(problem)
    t = _int("t", t, 0, MAX_STEPS)
    etas = _schedule("eta", eta, t, nonneg=True, bound=_eta_bound(problem))
    mus = _schedule("mu", mu, t, nonneg=False, bound=_STEP_MAX)
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
        ab_const = _exact_ab(etas[:1, None], problem.h, ft)
        r_const = ab_const[1] ** 2
    with np.errstate(under="ignore"):
        if sgd:
            sc.guard([X])
            for s0, s1 in _chunks(etas[:n_loop], mus[:n_loop], problem.h_max, d):
                e = etas_f[s0:s0 + 1] if const else etas_f[s0:s1]
                r = r_const if const else _exact_ab(etas[s0:s1, None], problem.h, ft)[1] ** 2
                n = (e * e)[:, None] * sc.q
                for j in range(s1 - s0):
                    k = 0 if const else j
                    X *= r[k]
                    X += n[k]
                    if curve:
                        exc[s0 + j + 1] = sc.excess(X)
                sc.guard([X])
            if t > 0:
                X, W, Y = _full_step(X, W, Y, etas_f[-1], ft(0.0), h, sc.q)
                if curve:
                    exc[t] = sc.excess(X)
        else:
            parts = [X, W, Y]
            sc.guard(parts)
            Xn, Wn, Yn, m, tmp = (np.empty(d, ft) for _ in range(5))
            for s0, s1 in _chunks(etas, mus, problem.h_max, d):
                e = etas_f[s0:s0 + 1] if const else etas_f[s0:s1]
                u = mus_f[s0:s0 + 1] if const else mus_f[s0:s1]
                a, b = ab_const if const else _exact_ab(etas[s0:s1, None], problem.h, ft)
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
    problem = _problem(problem)
    t = _int("t", t, 0, MAX_STEPS)
    etas = _schedule("eta", eta, t, nonneg=True, bound=_eta_bound(problem))
    mus = _schedule("mu", mu, t, nonneg=False, bound=_STEP_MAX)
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
            Vw, Vv, C = _full_step(Vw, Vv, C, e, u, h, q)
    out = {"mean_w": mw, "mean_v": mv, "var_w": Vw, "var_v": Vv, "cov": C}
    if not all(np.isfinite(v).all() for v in out.values()):
        raise ValidationError("eta", "the moments overflow float64 for this schedule (use run())")
    out["X"] = mw * mw + Vw
    out["W"] = mv * mv + Vv
    out["Y"] = mw * mv + C
    out["excess"] = 0.5 * float(h @ out["X"])
    out["loss"] = out["excess"] + problem.irreducible
    return out


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
    problem = _problem(problem)
    state = _state(problem, state)
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
    problem = _problem(problem)
    state = _state(problem, state)
    A, B, C, D, E = _greedy_sums(problem.h, problem.sigma2, state.X, state.W, state.Y)
    if C == 0:
        return greedy_eta(problem, state), 0.0
    return _solve_greedy(A, B, C, D, E)


def _finish(problem: NQMProblem, etas: np.ndarray, mus: np.ndarray, info: dict) -> Schedule:
    tr = run(problem, etas, etas.size, mus)
    return Schedule(etas=etas, mus=mus, loss=tr.loss, final_loss=tr.final_loss, info=info, excess=tr.excess)


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
    problem = _problem(problem)
    T = _int("T", T, 1, MAX_STEPS)
    if T * problem.d > MAX_WORK:
        raise ValidationError("T", f"T x d exceeds MAX_WORK = {MAX_WORK:.0e}")
    cap = None if eta_max is None else _real("eta_max", eta_max, 0.0, _eta_bound(problem), lo_open=True)
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
        X, W, Y = _full_step(X, W, Y, e, u, h, q)
        if not np.isfinite(X).all():  # pragma: no cover - greedy steps never increase the loss
            raise ValidationError("problem", "the greedy trajectory overflowed float64")
    info = {"method": "greedy" + (" (eta, mu)" if momentum else " eta"), "capped": capped, "at_zero": at_zero, "eta_max": cap,
            "seconds": time.perf_counter() - t0, "success": True, "message": "closed form each step"}
    return _finish(problem, etas, mus, info)


# ---------------------------------------------------------------------------------------------
# constant step size: closed form (SGD)


def _sgd_constant_X(X0: np.ndarray, s2: np.ndarray, a: np.ndarray, k: int) -> np.ndarray:
    r""":math:`X_k = r^kX_0 + a^2\sigma^2(1-r^k)/(1-r)`, :math:`r=(1-a)^2`, for arrays ``a``
    (any shape broadcasting against X0, s2); exact forms at a in {0, 1, 2}. ``k >= 1``."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        lr = 2.0 * np.where(a < 1.0, np.log1p(-np.minimum(a, 1.0)), np.log(np.abs(a - 1.0)))
        rk = np.exp(k * lr)
        one_minus_r = a * (2.0 - a)
        geo = np.where(one_minus_r == 0.0, k, -np.expm1(k * lr) / np.where(one_minus_r == 0.0, 1.0, one_minus_r))
        return rk * X0 + (a * a * s2) * geo


def _sgd_constant_excess(problem: NQMProblem, X: np.ndarray, etas: np.ndarray, k: int) -> np.ndarray:
    """Excess after k SGD steps with each eta in ``etas`` (1-D), from X; vectorised (len x d)."""
    h = problem.h
    Xk = _sgd_constant_X(X, problem.sigma2, etas[:, None] * h, k)
    with np.errstate(over="ignore"):
        return 0.5 * (Xk @ h)


def _grid_then_brent(f_grid, f_scalar, lo: float, hi: float, per_decade: int = 12, *, grid=None, vals=None) -> tuple[float, float]:
    """Global min of a smooth f over [lo, hi]: a log grid (``per_decade`` points per decade; or
    the given ``grid`` with its values ``vals``), then bounded Brent in log eta between the best
    grid point's neighbours (xatol 1e-9); the better of grid point and refined point is returned."""
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
    problem = _problem(problem)
    T = _int("T", T, 1, MAX_STEPS)
    cap = _real("eta_max", eta_max, 0.0, _eta_bound(problem), lo_open=True)
    mu = _real("mu", mu, -_STEP_MAX, _STEP_MAX)
    irr = problem.irreducible
    X0 = problem.X0
    if mu == 0.0:
        f_grid = lambda g: _sgd_constant_excess(problem, X0, g, T) + irr
        f_scalar = lambda e: float(_sgd_constant_excess(problem, X0, np.array([e]), T)[0]) + irr
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
    problem = _problem(problem)
    T = _int("T", T, 1, MAX_STEPS)
    k = _int("k", k, 1, MAX_STEPS)
    cap = _real("eta_max", eta_max, 0.0, _eta_bound(problem), lo_open=True)
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
            rk = _sgd_constant_X(np.ones(problem.d), np.zeros(problem.d), ag, kk)  # r^k
            noise = _sgd_constant_X(np.zeros(problem.d), problem.sigma2, ag, kk) @ h  # sum h n geo
            cache.clear()
            cache[kk] = (rk * (0.5 * h), 0.5 * noise)
        return cache[kk]

    for t in range(T):
        kk = min(k, T - t) if truncate else k
        Rk, Nk = grid_terms(kk)
        Xc = X
        e, _ = _grid_then_brent(
            None,
            lambda e_: float(_sgd_constant_excess(problem, Xc, np.array([e_]), kk)[0]),
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
    return _finish(problem, etas, np.zeros(T), info)


# ---------------------------------------------------------------------------------------------
# adjoint gradient of the final loss, spec §5


class _Adjoint:
    """Forward and reverse passes of spec §5 with reusable buffers (an optimiser calls this
    thousands of times; fresh multi-MB temporaries would cost more in page faults than the
    arithmetic). Plain SGD runs on ``X`` alone; heavy ball keeps the state stacked as (3, d) =
    (X, W, Y) and applies ``M_t`` as two broadcast products, ``K1 * X + K2 * Y`` with
    ``K1 = ((1-a)^2, a^2, -a(1-a))``, ``K2 = (2 mu (1-a), -2 mu a, mu (1-2a))``, plus
    ``mu^2 W + n`` on every row; ``M_t^T`` is the same pair summed over rows (``W``'s adjoint is
    ``mu^2 (lX + lW + lY)``)."""

    def __init__(self, problem: NQMProblem, momentum: bool, max_store: int = ADJOINT_STORE_FLOATS):
        self.h = problem.h
        self.q = problem.h * problem.h * problem.sigma2
        self.d = problem.d
        self.X0 = problem.X0
        self.sgd = not momentum
        nstate = 1 if self.sgd else 3
        per_leaf = 5 if self.sgd else 18  # (steps x d) arrays alive in a stored segment
        # half the budget for a stored segment, half for each level of checkpoints
        self.leaf_cap = max(1, max_store // (2 * self.d * per_leaf))
        self.ck_cap = max(2, max_store // (2 * self.d * nstate))
        self._buf: dict[str, np.ndarray] = {}

    def _b(self, name: str, *shape: int) -> np.ndarray:
        need = int(np.prod(shape))
        arr = self._buf.get(name)
        if arr is None or arr.size < need:
            arr = np.empty(need)
            self._buf[name] = arr
        return arr[:need].reshape(shape)

    # -- plain SGD: X only -------------------------------------------------------------------
    def _sgd_coeffs(self, e: np.ndarray):
        n = e.size
        A = self._b("A", n, self.d)
        B = self._b("B", n, self.d)
        R = self._b("R", n, self.d)
        np.multiply(e[:, None], self.h, out=A)
        np.subtract(1.0, A, out=B)
        np.multiply(B, B, out=R)
        np.multiply((e * e)[:, None], self.q, out=A)  # A now holds the noise n_t
        return B, R, A

    def _sgd_leaf(self, X0: np.ndarray, e: np.ndarray, lam: np.ndarray, g: np.ndarray):
        n = e.size
        B, R, N = self._sgd_coeffs(e)
        Xs = self._b("Xs", n, self.d)
        X = X0.copy()
        for j in range(n):
            Xs[j] = X
            X *= R[j]
            X += N[j]
        L = self._b("L", n, self.d)  # L[j] = lambda_{j+1}
        L[n - 1] = lam
        for j in range(n - 2, -1, -1):
            np.multiply(L[j + 1], R[j + 1], out=L[j])
        lam0 = R[0] * L[0]
        # dX'/deta . lambda = lambda (-2 h (1-a) X + 2 eta h^2 sigma2)
        np.multiply(B, Xs, out=B)
        B *= -2.0 * self.h
        np.einsum("ij,ij->i", L, B, out=g)
        g += 2.0 * e * (L @ self.q)
        return X, lam0

    def _sgd_run(self, X0: np.ndarray, e: np.ndarray) -> np.ndarray:
        X = X0.copy()
        for s0 in range(0, e.size, self.leaf_cap):
            _, R, N = self._sgd_coeffs(e[s0:s0 + self.leaf_cap])
            for j in range(R.shape[0]):
                X *= R[j]
                X += N[j]
        return X

    # -- heavy ball: stacked (3, d) state -------------------------------------------------------
    # Buffers are laid out (3, n, d) so that every bulk operation runs on contiguous (n, d)
    # blocks; step j uses the (3, d) view [:, j].
    def _mom_coeffs(self, e: np.ndarray, u: np.ndarray):
        n, d = e.size, self.d
        A = self._b("A", n, d)
        B = self._b("B", n, d)
        K1 = self._b("K1", 3, n, d)
        K2 = self._b("K2", 3, n, d)
        N = self._b("N", n, d)
        np.multiply(e[:, None], self.h, out=A)
        np.subtract(1.0, A, out=B)
        np.multiply(B, B, out=K1[0])
        np.multiply(A, A, out=K1[1])
        np.multiply(A, B, out=K1[2])
        np.negative(K1[2], out=K1[2])
        uc = u[:, None]
        np.multiply(2.0 * uc, B, out=K2[0])
        np.multiply(-2.0 * uc, A, out=K2[1])
        np.multiply(A, -2.0 * uc, out=K2[2])
        K2[2] += uc
        np.multiply((e * e)[:, None], self.q, out=N)
        return A, K1, K2, N

    def _mom_steps(self, s: np.ndarray, K1, K2, N, u2, S=None) -> np.ndarray:
        d = self.d
        s = s.copy()
        sn = np.empty((3, d))
        tmp = np.empty((3, d))
        m = np.empty(d)
        mul, add = np.multiply, np.add
        for j in range(N.shape[0]):
            if S is not None:
                S[:, j] = s
            mul(s[1], u2[j], out=m)
            add(m, N[j], out=m)
            mul(K1[:, j], s[0], out=sn)
            mul(K2[:, j], s[2], out=tmp)
            add(sn, tmp, out=sn)
            add(sn, m, out=sn)
            s, sn = sn, s
        return s

    def _mom_leaf(self, s0: np.ndarray, e, u, lam: np.ndarray, ge, gm):
        n, d = e.size, self.d
        A, K1, K2, N = self._mom_coeffs(e, u)
        u2 = u * u
        S = self._b("S", 3, n, d)
        end = self._mom_steps(s0, K1, K2, N, u2, S)
        Lam = self._b("Lam", 3, n, d)  # Lam[:, j] = lambda_{j+1}
        lam = lam.copy()
        new = np.empty((3, d))
        tmp = np.empty((3, d))
        mul, add = np.multiply, np.add
        for j in range(n - 1, -1, -1):
            Lam[:, j] = lam
            mul(K1[:, j], lam, out=tmp)
            add(tmp[0], tmp[1], out=new[0])
            add(new[0], tmp[2], out=new[0])
            mul(K2[:, j], lam, out=tmp)
            add(tmp[0], tmp[1], out=new[2])
            add(new[2], tmp[2], out=new[2])
            add(lam[0], lam[1], out=new[1])
            add(new[1], lam[2], out=new[1])
            mul(new[1], u2[j], out=new[1])
            lam, new = new, lam
        # Lsum = lX + lW + lY; p = 2(1-a) lX - 2a lW + (1-2a) lY = 2 lX + lY - 2 a Lsum
        Ls = self._b("Ls", n, d)
        P = self._b("P", n, d)
        T1 = self._b("T1", n, d)
        add(Lam[0], Lam[1], out=Ls)
        add(Ls, Lam[2], out=Ls)
        mul(A, Ls, out=P)
        P *= -2.0
        P += Lam[2]
        P += Lam[0]
        P += Lam[0]
        X, W, Y = S[0], S[1], S[2]
        # d/d eta: sum h [-X p - 2 mu Y Lsum] + 2 eta h^2 sigma2 Lsum
        mul(X, P, out=T1)
        ge[:] = -(T1 @ self.h)
        mul(Y, Ls, out=T1)
        ge -= 2.0 * u * (T1 @ self.h)
        ge += 2.0 * e * (Ls @ self.q)
        # d/d mu: sum 2 mu W Lsum + Y p
        gm[:] = 2.0 * u * np.einsum("ij,ij->i", W, Ls)
        gm += np.einsum("ij,ij->i", Y, P)
        return end, lam

    def _mom_run(self, s: np.ndarray, e, u) -> np.ndarray:
        for s0 in range(0, e.size, self.leaf_cap):
            es, us = e[s0:s0 + self.leaf_cap], u[s0:s0 + self.leaf_cap]
            _, K1, K2, N = self._mom_coeffs(es, us)
            s = self._mom_steps(s, K1, K2, N, us * us)
        return s

    # -- driver with checkpointing -------------------------------------------------------------
    def __call__(self, etas: np.ndarray, mus: np.ndarray | None):
        """(final excess, d excess / d etas, d excess / d mus or None)."""
        T, d = etas.size, self.d
        ge = np.empty(T)
        gm = None if self.sgd else np.empty(T)
        final = {}

        def forward(s, lo, hi):
            if self.sgd:
                return self._sgd_run(s, etas[lo:hi])
            return self._mom_run(s, etas[lo:hi], mus[lo:hi])

        def segment(s, lo, hi, lam, top):
            n = hi - lo
            if n <= self.leaf_cap:
                if self.sgd:
                    end, lam0 = self._sgd_leaf(s, etas[lo:hi], lam, ge[lo:hi])
                else:
                    end, lam0 = self._mom_leaf(s, etas[lo:hi], mus[lo:hi], lam, ge[lo:hi], gm[lo:hi])
                if top:
                    final["s"] = end
                return lam0
            m = min(self.ck_cap, -(-n // self.leaf_cap))
            L = -(-n // m)
            bounds = list(range(lo, hi, L)) + [hi]
            ckpts = [s]
            for j in range(len(bounds) - 2):
                s = forward(s, bounds[j], bounds[j + 1])
                ckpts.append(s)
            if top:
                final["s"] = forward(s, bounds[-2], bounds[-1])
            for j in range(len(bounds) - 2, -1, -1):
                lam = segment(ckpts[j], bounds[j], bounds[j + 1], lam, False)
            return lam

        if self.sgd:
            s0, lam = self.X0, 0.5 * self.h
        else:
            s0 = np.zeros((3, d))
            s0[0] = self.X0
            lam = np.zeros((3, d))
            lam[0] = 0.5 * self.h
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            segment(s0, 0, T, lam, True)
            Xf = final["s"] if self.sgd else final["s"][0]
            excess = 0.5 * float(self.h @ Xf)
        ok = math.isfinite(excess) and np.isfinite(ge).all() and (self.sgd or np.isfinite(gm).all())
        if not ok:
            raise ValidationError("etas", "the expected loss or its gradient overflows float64 for this schedule")
        return excess, ge, gm


def _adjoint(problem: NQMProblem, etas: np.ndarray, mus: np.ndarray | None, max_store: int = ADJOINT_STORE_FLOATS):
    return _Adjoint(problem, mus is not None, max_store)(etas, mus)


def schedule_gradient(problem: NQMProblem, etas: Any, mus: Any = None, *, max_store: Any = ADJOINT_STORE_FLOATS):
    r"""Final expected loss at ``T = len(etas)`` and its gradient by the adjoint recursion (spec §5).

    :math:`\lambda_T = (h/2, 0, 0)`, :math:`\lambda_t = M_t^\top\lambda_{t+1}`, and with
    :math:`\Lambda = \lambda_X+\lambda_W+\lambda_Y`,
    :math:`p = 2(1-a)\lambda_X - 2a\lambda_W + (1-2a)\lambda_Y` (all at t + 1):

    .. math::

        \frac{\partial L_T}{\partial\eta_t} = \sum_i h\,[-X p - 2\mu Y\Lambda] + 2\eta h^2\sigma^2\Lambda,
        \qquad
        \frac{\partial L_T}{\partial\mu_t} = \sum_i 2\mu W\Lambda + Y p,

    which is spec §5's six partial derivatives contracted with :math:`\lambda_{t+1}`; and
    :math:`\lambda_t = ((1-a)^2\lambda_X + a^2\lambda_W - a(1-a)\lambda_Y,\ \mu^2\Lambda,\ \mu p)`.
    ``mus=None``: plain SGD through ``X`` alone (:math:`\lambda_t = (1-a)^2\lambda_{t+1}`, a
    reverse cumulative product) and the third return value is ``None``. Memory: a segment's states
    and coefficients are stored while they fit in ``max_store / 2`` floats; a longer horizon is
    split into checkpointed segments (at most ``max_store / 2`` floats of checkpoints per level,
    recursively) that are recomputed before their reverse pass: one extra forward pass per
    level, peak memory about (levels + 1) / 2 x ``max_store`` x 8 bytes. Measured on one core
    (``benchmarks/nqm.py``): d = 10^4, T = 10^5 takes 12-13 s for SGD and 58-68 s for momentum
    (two levels), peak RSS of the whole process 0.19 and 0.22 GB.

    Returns ``(final_loss, d final_loss / d etas, d final_loss / d mus)``.

    >>> p = NQMProblem([1.0], [1.0], [0.0], [1.0])
    >>> L, g, _ = schedule_gradient(p, [0.5])       # L = 1/2 ((1-eta)^2 + eta^2) + 1/2
    >>> L, g.tolist()                               # dL/deta = -(1 - eta) + eta = 0
    (0.75, [0.0])
    """
    problem = _problem(problem)
    e = as_real_vector("etas", etas)
    if e.size > MAX_STEPS:
        raise ValidationError("etas", f"must have at most {MAX_STEPS} entries")
    _vec_range("etas", e, 0.0, _eta_bound(problem))
    m = None
    if mus is not None:
        m = as_real_vector("mus", mus)
        if m.size != e.size:
            raise ValidationError("mus", f"must have the length of etas, {e.size} (got {m.size})")
        _vec_range("mus", m, None, _STEP_MAX, absolute=True)
    if e.size * problem.d > MAX_WORK:
        raise ValidationError("etas", f"len(etas) x d exceeds MAX_WORK = {MAX_WORK:.0e}")
    max_store = _int("max_store", max_store, 1, 2**40)
    excess, ge, gm = _adjoint(problem, e, m, max_store)
    return excess + problem.irreducible, ge, gm


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
    problem = _problem(problem)
    T = _int("T", T, 1, MAX_STEPS)
    if T * problem.d > MAX_WORK:
        raise ValidationError("T", f"T x d exceeds MAX_WORK = {MAX_WORK:.0e}")
    cap = _real("eta_max", eta_max, 0.0, _eta_bound(problem), lo_open=True)
    maxiter = _int("maxiter", maxiter, 1, 10**7)
    gtol = _real("gtol", gtol, 0.0, None)
    mu_max = _real("mu_max", mu_max, 0.0, 1.0 - 1e-12)
    if not isinstance(momentum, (bool, np.bool_)):
        raise ValidationError("momentum", f"must be True or False (got {momentum!r})")
    t_start = time.perf_counter()
    zlo, zhi = math.log(cap) + math.log(1e-12), math.log(cap)
    uhi = math.atanh(mu_max)
    starts = _starts(problem, T, cap, momentum, mu_max, init)
    irr = problem.irreducible
    adj = _Adjoint(problem, momentum)
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
    return _finish(problem, etas, mus, info)


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
    eta0 = _real("eta0", eta0, 0.0)
    tau = _real("tau", tau, 0.0, None, lo_open=True)
    beta = _real("beta", beta, 0.0, 1e6)
    T = _int("T", T, 1, MAX_STEPS)
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
    problem = _problem(problem)
    T = _int("T", T, 1, MAX_STEPS)
    tau = _real("tau", tau, 0.0, None, lo_open=True)
    eg = as_real_vector("eta0_grid", eta0_grid, positive=True)
    _vec_range("eta0_grid", eg, None, _eta_bound(problem))
    bg = as_real_vector("beta_grid", beta_grid)
    _vec_range("beta_grid", bg, 0.0, 1e6)
    if eg.size * bg.size * T * problem.d > MAX_WORK:
        raise ValidationError("eta0_grid", "grid size x T x d exceeds MAX_WORK; use a coarser grid")
    h = problem.h
    q = h * h * problem.sigma2
    E0, B0 = np.meshgrid(eg, bg, indexing="ij")
    E0, B0 = E0.ravel(), B0.ravel()
    decay = np.log1p(np.arange(T) / tau)  # eta_t = eta0 exp(-beta decay_t)
    S = E0.size
    blk = max(1, _GRID_BLOCK // problem.d)
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
            exc, g, _ = _adjoint(problem, et, None, ADJOINT_STORE_FLOATS)
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
    problem = _problem(problem)
    target = _real("target", target, 0.0)
    eta = _real("eta", eta, 0.0, _eta_bound(problem))
    mu = _real("mu", mu, -_STEP_MAX, _STEP_MAX)
    max_steps = _int("max_steps", max_steps, 0, MAX_STEPS)
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
                X, W, Y = _full_step(X, W, Y, eta, mu, h, q)
                v = 0.5 * float(h @ X)
                if v <= target:
                    return t
                if not math.isfinite(v):
                    return None  # diverged: the exact excess only grows beyond float64
        return None
    a = eta * h

    def excess_at(ts: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return 0.5 * (_sgd_constant_X(X0, s2, a * np.ones((ts.size, 1)), ts[:, None]) @ h)

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
    blk = max(1, _GRID_BLOCK // problem.d)
    for s in range(1, max_steps + 1, blk):
        ts = np.arange(s, min(s + blk, max_steps + 1))
        v = excess_at(ts)
        hit = np.nonzero(v <= target)[0]
        if hit.size:
            return int(ts[hit[0]])
    return None
