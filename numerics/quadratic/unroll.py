r"""Hand-written differentiation through unrolled gradient descent on a quadratic.

This is implementation 2 of ``../shared/DESIGN.md`` ("Independence"): the *process* itself, run
step by step on the **dense** matrix H (never in its eigenbasis), with the meta-gradient obtained the
way an autodiff framework obtains it. It exists to reproduce Corollary 1 of Wang, Yuan, Wu & Ge
(2021) ("back-propagation is numerically unstable"; ``papers/wang2021.md`` §3.4, §5 item 9,
§7 item 10) and to serve the ``backprop`` field of the ``l2l eval`` contract.

The process (``f(w) = 1/2 w^T H w``, fixed ``w_0``, step size ``eta``, horizon ``t``)::

    forward    g_tau     = H w_tau                                tau = 0 .. t
               w_{tau+1} = w_tau - eta g_tau                      tau = 0 .. t-1
               f(w_t)    = 1/2 <w_t, g_t>

    reverse    wbar_t    = g_t  (= H w_t = d f / d w_t)                     (adjoint seed)
               for tau = t-1 .. 0:
                   dF/deta  += <wbar_{tau+1}, -g_tau>                        (accumulator)
                   wbar_tau  = wbar_{tau+1} - eta H wbar_{tau+1}             (= d f / d w_tau)

    tangent    wdot_0 = 0,  wdot_{tau+1} = wdot_tau - g_tau - eta H wdot_tau
               dF/deta = <g_t, wdot_t>

    log objective    F_log(eta) = (1/t) ln f(w_t),   F_log'(eta) = ((dF/deta) / f(w_t)) / t

The last division is done in the working dtype, as a framework would, so it over- and underflows
like one. Mathematically (§5 item 9) ``w_tau = (I - eta H)^tau w_0`` is of order ``rho^tau``, the
adjoint ``wbar_tau = (I - eta H)^(t - tau) H w_t`` of order ``rho^(2t - tau)``, and both ``f(w_t)``
and ``dF/deta = -t w_0^T H^2 (I - eta H)^(2t-1) w_0`` of order ``rho^(2t)`` with
``rho(eta) = max_i |1 - eta lambda_i|``; every term of the accumulator equals ``(dF/deta)/t``. The
ratio F_log' is polynomially bounded (Theorem 4), but the quantities it is computed from leave the
dtype's range once ``2 t |log10 rho|`` exceeds about 38 (float32) or about 308 (float64).

Remark: a framework differentiating ``(1/t) ln f`` end to end seeds the adjoint with
``H w_t / (t f)`` instead of ``H w_t``. That rescales every adjoint by one constant and changes
nothing about the failure: ``f`` itself (and ``1/f``) leaves the range at the same horizon, which is
what the statuses below report. Performance: the loops cost a few microseconds of Python per step
(amortised over all step sizes of a chunk); arithmetic on subnormals is much slower on most CPUs,
so runs deep into the underflow regime take longer.

Statuses (per (eta, t) pair; the ``l2l eval`` backprop contract)
---------------------------------------------------------------
``"overflow"``
    a forward or adjoint quantity (iterate ``w_tau``, gradient ``g_tau``, ``f(w_t)``, adjoint
    ``wbar_tau`` for tau >= 1, the dF/deta accumulator, tangent ``wdot_tau``) or the final ratio
    became non-finite. The inputs are validated finite and the loops use only ``+ - *``, so a
    non-finite value can only come from exceeding the dtype's range: a NaN there (``inf - inf``,
    ``0 * inf``) is a consequence of an earlier inf and is reported as overflow too. Non-finite
    values are absorbing, so inspecting ``w_t, g_t, f`` and the final accumulator suffices.
``"underflow"``
    ``f(w_t)`` rounded to 0 -- and also (a deliberate choice, stricter than "rounded to 0") when
    ``f(w_t)`` or ``dF/deta`` is *subnormal* (``0 < |x| < finfo.tiny``): there the value has lost
    relative precision (a subnormal carries fewer than 24 / 53 significant bits), so the ratio
    cannot be trusted even though it is finite. This is also what makes the float32 / float64
    thresholds ``2t|log10 rho| ~ 38 / 308`` of the spec the ones observed. Subnormal *iterates or
    adjoints* are not flagged (they are visible with ``record=True``).
    A zero ``f(w_t)`` counts as rounded when there is evidence of underflow in the forward pass
    (a subnormal component of some ``w_tau``, ``g_tau`` or ``eta g_tau``, or a product
    ``w_i g_i`` of two nonzero components that underflowed).
``"invalid"``
    a NaN arose otherwise: ``f(w_t) == 0`` *exactly* (no underflow evidence: e.g. ``eta lambda_i
    = 1`` on every excited eigendirection of a diagonal H, so ``w_t = 0`` and the ratio is 0/0), or
    ``f(w_t) < 0`` (H not positive semi-definite, so ``ln f`` is NaN).
``"ok"``
    otherwise. Only then is ``log_objective_grad`` a number; it is NaN for every other status.

In mpmath (arbitrary exponent range) nothing over- or underflows; the status is ``"ok"`` unless
``f(w_t) <= 0`` (``"invalid"``).

Example (H has eigenvalues 1.5 +- sqrt(1/2), so rho(0.3) = 0.76 and rho(1.5) = 2.31)::

    >>> r = backprop([[2.0, 0.5], [0.5, 1.0]], [1.0, 0.0], etas=[0.3, 1.5], ts=[10, 3000])
    >>> r.status.tolist()
    [['ok', 'underflow'], ['ok', 'overflow']]
    >>> [round(float(x), 6) for x in r.log_objective_grad[:, 0]]
    [-2.080739, 1.910369]
    >>> r.value(0, 1) is None, float(r.loss[0, 1]), bool(np.isnan(r.log_objective_grad[1, 1]))
    (True, 0.0, True)
    >>> f = forward_tangent([[2.0, 0.5], [0.5, 1.0]], [1.0, 0.0], etas=[0.3, 1.5], ts=10)
    >>> [round(float(x), 6) for x in f.log_objective_grad[:, 0]]
    [-2.080739, 1.910369]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..validation import ValidationError, as_horizons, as_int, as_nonnegative_reals, as_real_vector, as_symmetric_matrix
from ..results import result_type, returns

__all__ = [
    "BackpropResult",
    "Trace",
    "backprop",
    "forward_tangent",
    "loss_curve",
    "MAX_BACKPROP_COST",
    "MAX_MPMATH_COST",
    "MAX_RECORD_STEPS",
    "MEMORY_CAP_BYTES",
    "DTYPES",
    "STATUSES",
]

#: Largest accepted ``len(etas) x max(ts) x dim``: one unit is one scalar entry of one iterate (the
#: scalar part of one scalar-vector operation) at one step for one step size. Reverse mode stores
#: ``max(ts) x dim`` numbers per step size, so a single step size under this limit always fits
#: in :data:`MEMORY_CAP_BYTES` (10^8 x 8 bytes = 0.75 GiB); the run time is about
#: ``cost x dim`` flops (a dense matrix-vector product per unit of ``dim``). Larger requests raise
#: :class:`ValidationError` on the field ``backprop``.
MAX_BACKPROP_COST = 10**8

#: Largest accepted ``len(etas) x max(ts) x dim**2`` for ``dtype="mpmath"`` (number of mpf
#: multiply-adds of one pass; pure-Python mpmath does roughly 10^5-10^6 of them per second).
MAX_MPMATH_COST = 4 * 10**6

#: Largest accepted ``len(etas) x sum(ts + 1)`` with ``record=True`` (each recorded step keeps ten
#: float64 / int64 numbers).
MAX_RECORD_STEPS = 10**7

#: Cap on the forward data that reverse mode stores at once for one chunk of step sizes: the
#: gradients ``g_tau`` for ``tau = 0..max(ts)`` and the iterate ``w_t`` at each requested horizon,
#: ``(max(ts) + 1 + len(set(ts))) x dim x itemsize`` bytes per step size (plus 32 bytes per step
#: with ``record=True``). Step sizes are processed in chunks of ``max(1, MEMORY_CAP_BYTES // that)``;
#: a chunk never has fewer than one step size, whose storage the cost guard keeps near 0.75 GiB.
MEMORY_CAP_BYTES = 2**30

DTYPES = ("float32", "float64", "mpmath")
STATUSES = ("ok", "overflow", "underflow", "invalid")
DEFAULT_DPS = 50


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, eq=False)
class Trace:
    """Magnitudes of every intermediate of one reverse-mode run (one eta, one horizon t).

    All ``*_log10_*`` arrays are float64 ``log10`` of absolute values, ``-inf`` for 0, ``+inf``
    for inf and NaN for NaN, indexed by the step ``tau = 0..t`` (length ``t + 1``):

    - ``w_log10_max[tau]``, ``w_log10_min[tau]``: max and smallest *nonzero* ``|component|`` of
      the iterate ``w_tau`` (``-inf`` when every component is 0); ``w_zeros[tau]``: number of
      components exactly 0.
    - ``adjoint_log10_max``, ``adjoint_log10_min``, ``adjoint_zeros``: the same for the adjoint
      ``wbar_tau = d f(w_t) / d w_tau`` (``wbar_0`` is computed for the record only).
    - ``loss_log10_abs[tau]``: ``|f(w_tau)|``, the running loss of the forward pass.
    - ``naive_grad_log10_abs[tau]``: ``|sum_{s=tau}^{t-1} <wbar_{s+1}, -g_s>|``, the dF/deta
      accumulator after the backward step at ``tau`` (``-inf`` at ``tau = t``, where it is 0).

    Expected slopes in ``tau`` (§7 item 10): ``+log10 rho`` for the iterates, ``-log10 rho`` for
    the adjoints, ``2 log10 rho`` for the running loss; the accumulator grows linearly (its terms
    are all equal) and its final value scales as ``rho^(2t)`` across horizons.
    """

    eta: float  #: the step size as used (after the cast to the working dtype)
    t: int
    dtype: str
    w_log10_max: np.ndarray
    w_log10_min: np.ndarray
    w_zeros: np.ndarray
    adjoint_log10_max: np.ndarray
    adjoint_log10_min: np.ndarray
    adjoint_zeros: np.ndarray
    loss_log10_abs: np.ndarray
    naive_grad_log10_abs: np.ndarray

    @property
    def steps(self) -> np.ndarray:
        """tau = 0..t."""
        return np.arange(self.t + 1)

    def slope(self, name: str, start: int | None = None, stop: int | None = None) -> float:
        """Least-squares slope (per step) of the finite entries of ``name`` over ``steps[start:stop]``.

        NaN when fewer than two finite points remain.
        """
        y = np.asarray(getattr(self, name), dtype=np.float64)[start:stop]
        x = self.steps[start:stop].astype(np.float64)
        keep = np.isfinite(y)
        if keep.sum() < 2:
            return float("nan")
        x, y = x[keep], y[keep]
        xc = x - x.mean()
        return float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))


@result_type
@dataclass(frozen=True, eq=False)
class BackpropResult:
    """Meta-gradients by differentiation through the unrolled loop, one entry per (eta, t).

    Every array has shape ``(len(etas), len(ts))`` (eta varying slowest when flattened).

    - ``log_objective_grad``: float64; ``((dF/deta) / f(w_t)) / t`` computed in ``dtype``, NaN
      wherever ``status != "ok"`` -- never use a value whose status is not ok.
    - ``status``: str array with entries from :data:`STATUSES` (see the module docstring).
    - ``loss``: ``f(w_t)`` in ``dtype``, cast to float64 (raw: inf, 0, NaN allowed).
    - ``naive_grad``: ``dF/deta`` in ``dtype``, cast to float64 (raw).
    - ``mp_loss``, ``mp_naive_grad``, ``mp_log_objective_grad``: object arrays of mpf for
      ``dtype="mpmath"`` (``None`` entries where undefined), else ``None``.
    - ``traces``: with ``record=True`` an object array of :class:`Trace`, else ``None``.
    """

    etas: np.ndarray  #: the step sizes (rows)
    ts: np.ndarray  #: the horizons (columns)
    dtype: str  #: "float32", "float64" or "mpmath": the arithmetic of the unrolled loop
    mode: str  #: "reverse" (backprop) or "forward" (forward_tangent)
    log_objective_grad: np.ndarray
    status: np.ndarray
    loss: np.ndarray
    naive_grad: np.ndarray
    mp_loss: np.ndarray | None = None
    mp_naive_grad: np.ndarray | None = None  #: dF/deta as mpf (dtype "mpmath"), else None
    mp_log_objective_grad: np.ndarray | None = None  #: the log meta-gradient as mpf (dtype "mpmath"), else None
    traces: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the entries whose value may be used."""
        return self.status == "ok"

    def value(self, i: int, j: int) -> float | None:
        """The log-objective gradient at (etas[i], ts[j]), or None unless its status is ok."""
        if self.status[i, j] != "ok":
            return None
        v = float(self.log_objective_grad[i, j])
        return v if math.isfinite(v) else None

    def contract_entry(self, i: int, j: int) -> dict:
        """``{"log_objective_grad": number or None, "status": ...}`` as in the ``l2l eval`` contract."""
        return {"log_objective_grad": self.value(i, j), "status": str(self.status[i, j])}


# ---------------------------------------------------------------------------------------------
# validation


def _validate(
    H: Any,
    w0: Any,
    etas: Any,
    ts: Any,
    dtype: Any,
    dps: Any,
    n_passes: int = 1,
    names: tuple = ("etas", "ts"),
    max_cost: int | None = MAX_BACKPROP_COST,
):
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ValidationError("dtype", f"must be one of {', '.join(DTYPES)} (got {dtype!r})")
    h = as_symmetric_matrix("H", H)
    d = h.shape[0]
    w = as_real_vector("w0", w0)
    if w.size != d:
        raise ValidationError("w0", f"must have length {d} to match H, got {w.size}")
    e = as_nonnegative_reals(names[0], etas)
    if e.ndim > 1:
        raise ValidationError(names[0], f"must be a number or a 1-D list of numbers (got shape {e.shape})")
    e = e.reshape(-1)
    tt = as_horizons(names[1], ts)
    if tt.ndim > 1:
        raise ValidationError(names[1], f"must be an integer or a 1-D list of integers (got shape {tt.shape})")
    tt = tt.reshape(-1)
    t_max = int(tt.max())
    cost = e.size * t_max * d
    if max_cost is not None and cost > max_cost:
        raise ValidationError(
            "backprop",
            f"len(etas) x max(ts) x dim = {e.size} x {t_max} x {d} = {cost} exceeds the limit "
            f"{max_cost}; use fewer step sizes or a shorter horizon",
        )
    if dtype == "mpmath":
        as_int("dps", dps, 15, 10_000)
        mcost = e.size * t_max * d * d * n_passes
        if mcost > MAX_MPMATH_COST:
            raise ValidationError(
                "backprop",
                f"dtype='mpmath' work len(etas) x max(ts) x dim^2 = {mcost} exceeds the limit "
                f"MAX_MPMATH_COST = {MAX_MPMATH_COST}; use float64 or a smaller problem",
            )
    return h, w, e, tt


# ---------------------------------------------------------------------------------------------
# float helpers


def _log10_abs(x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.log10(np.abs(np.asarray(x, dtype=np.float64)))


def _col_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log10 max |.|, log10 min nonzero |.|, number of zeros, per column of a (d, m) array."""
    A = np.abs(X).astype(np.float64)
    with np.errstate(all="ignore"):
        mx = np.log10(A.max(axis=0))
        mn = np.where(A > 0, A, np.inf).min(axis=0)  # NaN entries are skipped
        mn = np.log10(np.where((A > 0).any(axis=0), mn, 0.0))
    zeros = (A == 0).sum(axis=0).astype(np.int64)
    return mx, mn, zeros


def _subnormal_cols(x: np.ndarray, tiny: float) -> np.ndarray:
    a = np.abs(x)
    return ((a > 0) & (a < tiny)).any(axis=0)


def _zero_loss_is_rounded(H: np.ndarray, w0: np.ndarray, E: np.ndarray, t: int) -> np.ndarray:
    """Per step size in ``E``: evidence that an exactly-zero f(w_t) came from underflow.

    Re-runs the forward pass (vectorised over the given step sizes only) and reports whether a
    component of some ``w_tau``, ``g_tau`` or ``eta g_tau`` (tau <= t) was subnormal, or whether a
    product ``w_i g_i`` of two nonzero components of ``w_t``, ``g_t`` underflowed.
    """
    tiny = np.finfo(H.dtype).tiny
    W = np.repeat(w0[:, None], E.size, axis=1)
    E = E[None, :]
    evidence = np.zeros(E.shape[1], dtype=bool)
    with np.errstate(all="ignore"):
        for tau in range(t + 1):
            G = H @ W
            evidence |= _subnormal_cols(W, tiny) | _subnormal_cols(G, tiny)
            if tau == t:
                break
            S = E * G
            evidence |= _subnormal_cols(S, tiny)
            W = W - S
        evidence |= ((W != 0) & (G != 0) & (np.abs(W * G) < tiny)).any(axis=0)
    return evidence


def _classify(
    H: np.ndarray,
    w0: np.ndarray,
    E: np.ndarray,
    t: int,
    fwd_finite: np.ndarray,
    f: np.ndarray,
    grad: np.ndarray,
    value: np.ndarray,
) -> np.ndarray:
    """Status of each column at horizon t (see the module docstring)."""
    tiny = np.finfo(f.dtype).tiny
    af, ag = np.abs(f), np.abs(grad)
    overflow = ~fwd_finite | ~np.isfinite(f) | ~np.isfinite(grad)
    overflow |= ~np.isfinite(value) & (af >= tiny)  # the final ratio itself left the range
    f_sub = (af > 0) & (af < tiny)
    g_sub = (ag > 0) & (ag < tiny)
    underflow = ~overflow & (f_sub | g_sub)
    zero = np.flatnonzero(~overflow & ~underflow & (f == 0))
    if zero.size:
        underflow[zero] = _zero_loss_is_rounded(H, w0, E[zero], t)
    invalid = ~overflow & ~underflow & ((f <= 0) | ~np.isfinite(value))
    status = np.full(f.shape, "ok", dtype="<U9")
    status[invalid] = "invalid"
    status[underflow] = "underflow"
    status[overflow] = "overflow"
    return status


def _chunks(n: int, per_item_bytes: int):
    size = max(1, min(n, MEMORY_CAP_BYTES // max(1, per_item_bytes)))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _empty_outputs(n: int, k: int, dt: np.dtype):
    return (
        np.full((n, k), np.nan, dtype=dt),  # value
        np.full((n, k), "invalid", dtype="<U9"),  # status
        np.full((n, k), np.nan, dtype=dt),  # loss
        np.full((n, k), np.nan, dtype=dt),  # naive grad
    )


def _finish(etas, ts, dtype, mode, value, status, loss, grad, **extra) -> BackpropResult:
    v = value.astype(np.float64)
    v[status != "ok"] = np.nan
    return BackpropResult(
        etas=etas,
        ts=ts,
        dtype=dtype,
        mode=mode,
        log_objective_grad=v,
        status=status,
        loss=loss.astype(np.float64),
        naive_grad=grad.astype(np.float64),
        **extra,
    )


# ---------------------------------------------------------------------------------------------
# reverse mode


@returns(BackpropResult)
def backprop(
    H: Any,
    w0: Any,
    etas: Any,
    ts: Any,
    dtype: str = "float64",
    record: bool = False,
    dps: int = DEFAULT_DPS,
    max_cost: int | None = MAX_BACKPROP_COST,
) -> BackpropResult:
    r"""Reverse-mode meta-gradient through ``t`` unrolled GD steps on ``f(w) = 1/2 w^T H w``.

    Plain back-propagation exactly as an autodiff framework does it in ``dtype`` (module
    docstring: the forward pass stores ``g_tau = H w_tau``; the adjoint is seeded with
    ``wbar_t = H w_t``; ``dF/deta`` accumulates ``<wbar_{tau+1}, -g_tau>`` for
    ``tau = t-1..0``; then ``F_log' = ((dF/deta) / f(w_t)) / t``). Source: Wang et al. (2021),
    Corollary 1, and ``papers/wang2021.md`` §5 item 9: the intermediates are of order
    ``rho(eta)^(+-Theta(t))``, so they over/underflow once ``2 t |log10 rho|`` exceeds about 38
    (float32) or 308 (float64), although F_log' itself stays bounded.

    Parameters
    ----------
    H:
        dense symmetric d x d matrix (finite); iterated as given, never diagonalised.
    w0:
        start, length d.
    etas:
        step size(s) >= 0, a number or 1-D list. Vectorised: the iterates of all step sizes form a
        d x n matrix and each step is one matrix product; step sizes are processed in chunks so
        that the stored ``g_tau`` stay under :data:`MEMORY_CAP_BYTES`.
    ts:
        horizon(s), integers >= 1. One forward pass to ``max(ts)``, one backward pass per ``t``.
    dtype:
        ``"float32"`` (H, w0, eta cast to float32 and every operation in float32),
        ``"float64"``, or ``"mpmath"`` (local ``MPContext`` at ``dps`` digits, plain loops over
        mpf: small problems only, see :data:`MAX_MPMATH_COST`).
    record:
        keep a :class:`Trace` of every intermediate's magnitude per (eta, t) (one eta recommended).
    max_cost:
        refuse ``len(etas) x max(ts) x dim`` above this (default :data:`MAX_BACKPROP_COST`);
        ``None`` lifts the guard for deliberate long runs such as ``benchmarks/quadratic.py``.

    Returns a :class:`BackpropResult` (arrays of shape ``(len(etas), len(ts))``). Never raises on
    overflow: non-finite results come back as a status. Raises :class:`ValidationError` (naming
    the field) on bad input, and on the field ``backprop`` when
    ``len(etas) x max(ts) x dim > max_cost``.

    Example::

        >>> r = backprop([[1.0]], [1.0], etas=0.5, ts=[1, 2])
        >>> r.status.tolist(), r.log_objective_grad.tolist()   # f = (1 - eta)^(2t)/2
        ([['ok', 'ok']], [[-4.0, -4.0]])
    """
    h, w, e, tt = _validate(H, w0, etas, ts, dtype, dps, n_passes=2, max_cost=max_cost)
    if record and e.size * int(np.sum(tt + 1)) > MAX_RECORD_STEPS:
        raise ValidationError(
            "record", f"len(etas) x sum(ts + 1) exceeds MAX_RECORD_STEPS = {MAX_RECORD_STEPS}; record one eta"
        )
    if dtype == "mpmath":
        return _mp_run(h, w, e, tt, int(dps), record, mode="reverse")
    return _float_reverse(h, w, e, tt, np.dtype(dtype), record)


def _float_reverse(h, w0, etas, ts, dt, record) -> BackpropResult:
    H = h.astype(dt)
    w0c = w0.astype(dt)
    E_all = etas.astype(dt)
    d = H.shape[0]
    T = int(ts.max())
    uniq = sorted(set(int(x) for x in ts))
    col = {t: [j for j, x in enumerate(ts) if int(x) == t] for t in uniq}
    half = dt.type(0.5)
    value, status, loss, grad = _empty_outputs(etas.size, ts.size, dt)
    traces = np.empty((etas.size, ts.size), dtype=object) if record else None

    with np.errstate(all="ignore"):
        per_eta = (T + 1 + len(uniq)) * d * dt.itemsize + (4 * 8 * (T + 1) if record else 0)
        for sl in _chunks(etas.size, per_eta):
            E = E_all[sl][None, :]
            m = E.shape[1]
            G = np.empty((T + 1, d, m), dtype=dt)  # g_tau = H w_tau, tau = 0..T
            W = np.repeat(w0c[:, None], m, axis=1)
            tmp = np.empty((d, m), dtype=dt)
            W_at: dict[int, np.ndarray] = {}
            if record:
                fw = [np.empty((T + 1, m)) for _ in range(4)]
            for tau in range(T + 1):
                np.matmul(H, W, out=G[tau])
                if tau in col:
                    W_at[tau] = W.copy()
                if record:
                    fw[0][tau], fw[1][tau], fw[2][tau] = _col_stats(W)
                    fw[3][tau] = _log10_abs(half * np.sum(W * G[tau], axis=0))
                if tau == T:
                    break
                np.multiply(E, G[tau], out=tmp)
                np.subtract(W, tmp, out=W)

            for t in uniq:
                Wt, Gt = W_at[t], G[t]
                f = half * np.sum(Wt * Gt, axis=0)
                fwd_finite = np.isfinite(Wt).all(axis=0) & np.isfinite(Gt).all(axis=0)
                wbar = Gt.copy()  # wbar_t = d f / d w_t = H w_t
                acc = np.zeros(m, dtype=dt)
                if record:
                    bw = [np.empty((t + 1, m)) for _ in range(4)]
                    bw[0][t], bw[1][t], bw[2][t] = _col_stats(wbar)
                    bw[3][t] = -np.inf
                for tau in range(t - 1, -1, -1):
                    # wbar holds wbar_{tau+1}
                    acc -= np.sum(wbar * G[tau], axis=0)
                    if tau == 0 and not record:
                        break  # wbar_0 is not needed for dF/deta
                    np.matmul(H, wbar, out=tmp)
                    tmp *= E
                    wbar -= tmp  # wbar_tau
                    if record:
                        bw[0][tau], bw[1][tau], bw[2][tau] = _col_stats(wbar)
                        bw[3][tau] = _log10_abs(acc)
                val = (acc / f) / dt.type(t)
                st = _classify(H, w0c, E[0], t, fwd_finite, f, acc, val)
                for j in col[t]:
                    value[sl, j], status[sl, j], loss[sl, j], grad[sl, j] = val, st, f, acc
                    if record:
                        for k in range(m):
                            traces[sl.start + k, j] = Trace(
                                eta=float(E[0, k]),
                                t=t,
                                dtype=dt.name,
                                w_log10_max=fw[0][: t + 1, k].copy(),
                                w_log10_min=fw[1][: t + 1, k].copy(),
                                w_zeros=fw[2][: t + 1, k].astype(np.int64),
                                adjoint_log10_max=bw[0][:, k].copy(),
                                adjoint_log10_min=bw[1][:, k].copy(),
                                adjoint_zeros=bw[2][:, k].astype(np.int64),
                                loss_log10_abs=fw[3][: t + 1, k].copy(),
                                naive_grad_log10_abs=bw[3][:, k].copy(),
                            )
            del G
    return _finish(etas, ts, dt.name, "reverse", value, status, loss, grad, traces=traces)


# ---------------------------------------------------------------------------------------------
# forward mode


@returns(BackpropResult)
def forward_tangent(
    H: Any,
    w0: Any,
    etas: Any,
    ts: Any,
    dtype: str = "float64",
    dps: int = DEFAULT_DPS,
    max_cost: int | None = MAX_BACKPROP_COST,
) -> BackpropResult:
    r"""Forward-mode (tangent) meta-gradient through ``t`` unrolled GD steps.

    ``wdot_0 = 0``, ``wdot_{tau+1} = wdot_tau - H w_tau - eta H wdot_tau`` alongside
    ``w_{tau+1} = w_tau - eta H w_tau``; then ``dF/deta = <H w_t, wdot_t>`` and
    ``F_log' = ((dF/deta) / f(w_t)) / t`` in ``dtype``. Nothing is stored, so there is one pass to
    ``max(ts)`` for all horizons; ``[w | wdot]`` for all step sizes is multiplied by H in one
    matrix product per step. The tangent is of order ``t rho^t`` (Wang et al. 2021, Corollary 1:
    forward mode has the same ``rho^(2t)`` ratio problem as reverse mode). Same arguments,
    statuses, cost guard and result type as :func:`backprop` (``traces`` is None).

    Example::

        >>> forward_tangent([[1.0]], [1.0], etas=0.5, ts=[1, 2]).log_objective_grad.tolist()
        [[-4.0, -4.0]]
    """
    h, w, e, tt = _validate(H, w0, etas, ts, dtype, dps, n_passes=2, max_cost=max_cost)
    if dtype == "mpmath":
        return _mp_run(h, w, e, tt, int(dps), False, mode="forward")
    return _float_forward(h, w, e, tt, np.dtype(dtype))


def _float_forward(h, w0, etas, ts, dt) -> BackpropResult:
    H = h.astype(dt)
    w0c = w0.astype(dt)
    E_all = etas.astype(dt)
    d = H.shape[0]
    T = int(ts.max())
    col: dict[int, list[int]] = {}
    for j, x in enumerate(ts):
        col.setdefault(int(x), []).append(j)
    half = dt.type(0.5)
    value, status, loss, grad = _empty_outputs(etas.size, ts.size, dt)

    with np.errstate(all="ignore"):
        for sl in _chunks(etas.size, 8 * d * dt.itemsize):
            E = E_all[sl][None, :]
            m = E.shape[1]
            B = np.zeros((d, 2 * m), dtype=dt)  # [w | wdot]
            B[:, :m] = w0c[:, None]
            W, Wd = B[:, :m], B[:, m:]
            GG = np.empty((d, 2 * m), dtype=dt)
            G, Gd = GG[:, :m], GG[:, m:]
            tmp = np.empty((d, m), dtype=dt)
            for tau in range(T + 1):
                np.matmul(H, B, out=GG)  # [g | H wdot]
                if tau in col:
                    f = half * np.sum(W * G, axis=0)
                    dF = np.sum(G * Wd, axis=0)
                    fwd_finite = np.isfinite(B).reshape(d, 2, m).all(axis=(0, 1)) & np.isfinite(G).all(axis=0)
                    val = (dF / f) / dt.type(tau)
                    st = _classify(H, w0c, E[0], tau, fwd_finite, f, dF, val)
                    for j in col[tau]:
                        value[sl, j], status[sl, j], loss[sl, j], grad[sl, j] = val, st, f, dF
                if tau == T:
                    break
                np.multiply(E, Gd, out=tmp)
                Wd -= G
                Wd -= tmp  # wdot_{tau+1} = (wdot - g) - eta H wdot
                np.multiply(E, G, out=tmp)
                W -= tmp
    return _finish(etas, ts, dt.name, "forward", value, status, loss, grad)


# ---------------------------------------------------------------------------------------------
# mpmath


def _mp_context(dps: int):
    import mpmath

    ctx = mpmath.MPContext()
    ctx.dps = dps
    return ctx


def _mp_stats(ctx, v) -> tuple[float, float, int]:
    a = [abs(x) for x in v]
    nz = [x for x in a if x != 0]
    mx = float(ctx.log10(max(a))) if nz else -math.inf
    mn = float(ctx.log10(min(nz))) if nz else -math.inf
    return mx, mn, len(a) - len(nz)


def _mp_log10(ctx, x) -> float:
    return float(ctx.log10(abs(x))) if x != 0 else -math.inf


def _mp_run(h, w0, etas, ts, dps, record, mode) -> BackpropResult:
    ctx = _mp_context(dps)
    mpf, fdot = ctx.mpf, ctx.fdot
    H = [[mpf(float(x)) for x in row] for row in h]  # exact: mpf of a float64 is exact
    d = len(H)
    T = int(ts.max())
    uniq = set(int(x) for x in ts)
    n, k = etas.size, ts.size
    status = np.full((n, k), "invalid", dtype="<U9")
    out = {name: np.empty((n, k), dtype=object) for name in ("value", "loss", "grad")}
    traces = np.empty((n, k), dtype=object) if record else None
    half = mpf(1) / 2

    def matvec(v):
        return [fdot(row, v) for row in H]

    for i, eta_f in enumerate(etas):
        eta = mpf(float(eta_f))
        w = [mpf(float(x)) for x in w0]
        res: dict[int, tuple[Any, Any]] = {}
        if mode == "reverse":
            gs = []
            w_at = {}
            fw = []
            for tau in range(T + 1):
                g = matvec(w)
                gs.append(g)
                if record:
                    fw.append(_mp_stats(ctx, w) + (_mp_log10(ctx, half * fdot(w, g)),))
                if tau in uniq:
                    w_at[tau] = w
                if tau == T:
                    break
                w = [wi - eta * gi for wi, gi in zip(w, g)]
            for t in sorted(uniq):
                f = half * fdot(w_at[t], gs[t])
                wbar = list(gs[t])
                acc = mpf(0)
                bw = {t: _mp_stats(ctx, wbar) + (-math.inf,)} if record else None
                for tau in range(t - 1, -1, -1):
                    acc -= fdot(wbar, gs[tau])
                    if tau == 0 and not record:
                        break
                    hb = matvec(wbar)
                    wbar = [b - eta * x for b, x in zip(wbar, hb)]
                    if record:
                        bw[tau] = _mp_stats(ctx, wbar) + (_mp_log10(ctx, acc),)
                res[t] = (f, acc)
                if record:
                    tr = Trace(
                        eta=float(eta_f),
                        t=t,
                        dtype="mpmath",
                        w_log10_max=np.array([fw[s][0] for s in range(t + 1)]),
                        w_log10_min=np.array([fw[s][1] for s in range(t + 1)]),
                        w_zeros=np.array([fw[s][2] for s in range(t + 1)], dtype=np.int64),
                        adjoint_log10_max=np.array([bw[s][0] for s in range(t + 1)]),
                        adjoint_log10_min=np.array([bw[s][1] for s in range(t + 1)]),
                        adjoint_zeros=np.array([bw[s][2] for s in range(t + 1)], dtype=np.int64),
                        loss_log10_abs=np.array([fw[s][3] for s in range(t + 1)]),
                        naive_grad_log10_abs=np.array([bw[s][3] for s in range(t + 1)]),
                    )
                    for j, x in enumerate(ts):
                        if int(x) == t:
                            traces[i, j] = tr
        else:
            wd = [mpf(0)] * d
            for tau in range(T + 1):
                g = matvec(w)
                if tau in uniq:
                    res[tau] = (half * fdot(w, g), fdot(g, wd))
                if tau == T:
                    break
                gd = matvec(wd)
                wd = [a - b - eta * c for a, b, c in zip(wd, g, gd)]
                w = [wi - eta * gi for wi, gi in zip(w, g)]
        for j, x in enumerate(ts):
            f, dF = res[int(x)]
            out["loss"][i, j], out["grad"][i, j] = f, dF
            if f > 0:
                out["value"][i, j] = dF / f / int(x)
                status[i, j] = "ok"
            else:
                out["value"][i, j] = None
    to_f = np.vectorize(lambda x: math.nan if x is None else float(x), otypes=[np.float64])
    with np.errstate(all="ignore"):  # float(mpf) beyond float64's range is inf / 0 (raw values)
        value_f, loss_f, grad_f = to_f(out["value"]), to_f(out["loss"]), to_f(out["grad"])
    return BackpropResult(
        etas=etas,
        ts=ts,
        dtype="mpmath",
        mode=mode,
        log_objective_grad=np.where(status == "ok", value_f, np.nan),
        status=status,
        loss=loss_f,
        naive_grad=grad_f,
        mp_loss=out["loss"],
        mp_naive_grad=out["grad"],
        mp_log_objective_grad=out["value"],
        traces=traces,
    )


# ---------------------------------------------------------------------------------------------
# loss curve


def loss_curve(H: Any, w0: Any, eta: float, t: int, dtype: str = "float64", dps: int = DEFAULT_DPS):
    """``f(w_tau)`` for ``tau = 0..t`` along the same unrolled loop (``f = 1/2 <w, H w>``).

    Float dtypes return a float64 array of length ``t + 1`` (raw values: inf / 0 allowed);
    ``"mpmath"`` returns a list of mpf at ``dps`` digits (e.g. for finite differences without
    cancellation). Same validation and cost guard as :func:`backprop`.

    Example::

        >>> loss_curve([[2.0]], [1.0], 0.25, 3).tolist()   # f = (1/2)^(2 tau)
        [1.0, 0.25, 0.0625, 0.015625]
    """
    if isinstance(eta, (list, tuple, np.ndarray)) and np.size(eta) != 1:
        raise ValidationError("eta", "must be a single number")
    if isinstance(t, (list, tuple, np.ndarray)) and np.size(t) != 1:
        raise ValidationError("t", "must be a single integer")
    h, w, e, tt = _validate(H, w0, eta, t, dtype, dps, names=("eta", "t"))
    T = int(tt[0])
    if dtype == "mpmath":
        ctx = _mp_context(int(dps))
        mpf, fdot = ctx.mpf, ctx.fdot
        Hm = [[mpf(float(x)) for x in row] for row in h]
        et = mpf(float(e[0]))
        v = [mpf(float(x)) for x in w]
        out = []
        for tau in range(T + 1):
            g = [fdot(row, v) for row in Hm]
            out.append(fdot(v, g) / 2)
            v = [a - et * b for a, b in zip(v, g)]
        return out
    dt = np.dtype(dtype)
    Hd, v, et, half = h.astype(dt), w.astype(dt), e.astype(dt)[0], dt.type(0.5)
    out = np.empty(T + 1, dtype=dt)
    with np.errstate(all="ignore"):
        for tau in range(T + 1):
            g = Hd @ v
            out[tau] = half * np.sum(v * g)
            v = v - et * g
    return out.astype(np.float64)
