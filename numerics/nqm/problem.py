"""The noisy quadratic model (NQM) as objects: :class:`NQMProblem` (curvatures, noise, start)
and :class:`State` (raw second moments per coordinate), with the ranges every NQM routine checks."""

from __future__ import annotations

import numpy as np
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from .. import codec
from ..validation import ValidationError, as_instance, as_int, as_real, as_real_vector, check_entries

__all__ = ["NQMProblem", "State", "initial_state", "check_state", "eta_bound", "MAX_DIM", "MAX_STEPS", "MAX_WORK", "MAX_CURVE_POINTS", "ADJOINT_STORE_FLOATS", "MU_MAX", "STEP_MAX", "MOMENT_MAX", "GRID_BLOCK"]

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
#: Largest sigma2 and var0.
MOMENT_MAX = 1e60
_MEAN_MAX = 1e30
#: Largest eta * max(h) and |mu|.
STEP_MAX = 1e30
_NEG_TOL = 1e-12  # rounding of a zero second moment (State)
#: Elements of a (schedules x d) block in tune_inverse_time / steps_to_target.
GRID_BLOCK = 2**18




def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.longdouble if getattr(a, "dtype", None) == np.longdouble else np.float64)
    a.setflags(write=False)
    return a


def eta_bound(problem: "NQMProblem") -> float:
    """Largest step size accepted for ``problem``: eta * max(h) <= STEP_MAX."""
    return STEP_MAX / problem.h_max

# ---------------------------------------------------------------------------------------------
# problem and state


@codec.register
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

    #: Keys of :meth:`to_dict` (:mod:`numerics.codec`); ``d`` and ``irreducible`` are derived.
    CODEC_KEYS: ClassVar[tuple[str, ...]] = ("d", "h", "sigma2", "mean0", "var0", "irreducible")

    def __post_init__(self) -> None:
        h = as_real_vector("h", self.h, positive=True)
        check_entries("h", h, *_H_RANGE)
        d = h.size
        if d > MAX_DIM:
            raise ValidationError("h", f"must have at most {MAX_DIM} entries (got {d})")
        arrays = {"h": h}
        for name, hi, absolute in (("sigma2", MOMENT_MAX, False), ("mean0", _MEAN_MAX, True), ("var0", MOMENT_MAX, False)):
            a = as_real_vector(name, getattr(self, name))
            if a.size != d:
                raise ValidationError(name, f"must have the length of h, {d} (got {a.size})")
            check_entries(name, a, None if absolute else 0.0, hi, absolute=absolute)
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
        d = as_int("d", d, 1, MAX_DIM, integral_floats=True)
        kappa = as_real("kappa", kappa, 0.0, MOMENT_MAX / d)
        x0 = as_real("x0", x0, 0.0, MOMENT_MAX)
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
        check_entries("c", cc, 0.0, None)
        B = as_real("batch_size", batch_size, 0.0, None, lo_open=True)
        d = hh.size
        m0 = np.zeros(d) if mean0 is None else mean0
        v0 = np.ones(d) if var0 is None else var0
        with np.errstate(over="ignore", under="ignore"):
            s2 = cc / (B * hh * hh)
        if not np.isfinite(s2).all():
            raise ValidationError("c", f"c / (batch_size h^2) must be <= {MOMENT_MAX:.0e}")
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

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "NQMProblem":
        """Inverse of :meth:`to_dict` (the derived ``d`` and ``irreducible`` are recomputed)."""
        return cls(obj["h"], obj["sigma2"], obj["mean0"], obj["var0"])


@codec.register
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

    #: Keys of :meth:`to_dict` (:mod:`numerics.codec`).
    CODEC_KEYS: ClassVar[tuple[str, ...]] = ("X", "W", "Y")

    def to_dict(self) -> dict:
        """JSON-ready dict (lists of floats; a long-double state is rounded to float64)."""
        return {name: np.asarray(getattr(self, name), dtype=np.float64).tolist() for name in self.CODEC_KEYS}

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> "State":
        """Inverse of :meth:`to_dict`."""
        return cls(obj["X"], obj["W"], obj["Y"])

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


def check_state(problem: NQMProblem, state: Any, *, finite: bool = True) -> State:
    """``state`` if it is a State of the problem's dimension (and finite, if asked)."""
    if not isinstance(state, State):
        raise ValidationError("state", f"must be a State (got {type(state).__name__})")
    if state.X.size != problem.d:
        raise ValidationError("state", f"must have the problem's dimension {problem.d} (got {state.X.size})")
    if finite and not (np.isfinite(state.X).all() and np.isfinite(state.W).all() and np.isfinite(state.Y).all()):
        raise ValidationError("state", "must be finite (it overflowed float64)")
    return state


def initial_state(problem: NQMProblem) -> State:
    """``X = mean0^2 + var0``, ``W = Y = 0`` (v_0 = 0)."""
    problem = as_instance(problem, NQMProblem, article="an")
    z = np.zeros(problem.d)
    return State(problem.X0, z, z)
