r"""Constant step size and momentum: the NQM's moments at any step ``t`` in ``O(d)`` work, not ``O(t d)``.

For a constant ``eta`` and ``mu`` the raw second moments of one coordinate follow a *fixed* affine
map (spec §3, :mod:`.dynamics`). With :math:`a = \eta h`, :math:`b = 1 - a`,
:math:`n = \eta^2h^2\sigma^2` and the homogeneous state :math:`z = (X, W, Y, 1)`,
:math:`X = \mathbb E w^2`, :math:`W = \mathbb E v^2`, :math:`Y = \mathbb E wv`:

.. math::

    z_{k+1} = F z_k,\qquad
    F = \begin{pmatrix} b^2 & \mu^2 & 2\mu b & n\\ a^2 & \mu^2 & -2a\mu & n\\
        -ab & \mu^2 & \mu(1-2a) & n\\ 0&0&0&1\end{pmatrix},\qquad z_t = F^t z_0 .

:func:`run_constant` evaluates :math:`z_t` two ways, both vectorised over the ``d`` coordinates:

* **SGD** (``mu == 0``): the ``X`` line closes, :math:`X' = b^2X + n`, and
  :math:`X_t = r^tX_0 + n\,(1 - r^t)/(1 - r)` with :math:`r = b^2`, evaluated as
  :math:`r^t = e^{t\ell}`, :math:`(1 - r^t)/(1 - r) = -\mathrm{expm1}(t\ell)/(a(2-a))`,
  :math:`\ell = 2\ln|b|` from ``log1p`` of whichever of ``-a``, ``-b``, ``-(2 - a)`` is accurate
  (the formula of :func:`.dynamics.constant_sgd_moment`, here in long double and with ``b`` and
  ``2 - a`` from the exact product, so ``eta h`` near 1 or 2 keeps its digits); ``W_t, Y_t`` come
  from ``X_{t-1}`` by one step of the map (``mu = 0``: ``W' = a^2X + n``, ``Y' = -abX + n``).
* **heavy ball**: :math:`F^t` by binary powering (repeated squaring), ``O(log t)`` compositions
  per coordinate in long double (``numpy.longdouble``: 64-bit significand on x86-64 Linux). The
  homogeneous part of ``F`` is the symmetric tensor square of the 2x2 mean map
  :math:`A = \begin{pmatrix}1-a&\mu\\-a&\mu\end{pmatrix}` of ``(w, v)`` (``M^k s`` are the second
  moments of ``A^k (w, v)``), so the powers are kept as the pair :math:`(A^k, c_k)`,
  :math:`c_k = \sum_{j<k}M^j n(1,1,1)^\top`, composed by :math:`(A^{k+l}, c_{k+l}) =
  (A^kA^l, M(A^k)c_l + c_k)`, and the moments of :math:`A^t(w, v)` are formed once at the end:
  squaring the 2x2 map instead of the 3x3 one is ~300x more accurate at critical damping. No
  eigen-decomposition, so critical damping :math:`\mu = (1-\sqrt{a})^2` (a defective ``A``) and
  unstable settings need no special case.

**Statement.** :math:`z_t = F^tz_0` exactly (``t`` any integer >= 0), which the step recursion
:func:`.dynamics.run` computes one step at a time.

**Accuracy** (measured, ``tests/numerics/test_nqm_jump.py``: against ``run(..., precision=
"extended")`` for t <= 500 and a 60-digit mpmath power of the one-step map up to t = 10^15).

* SGD: relative error ``<= ~(1 + |t ell|) eps_ext`` + the float64 output rounding, independent of
  ``t``: measured <= 8e-17 for ``eta h`` = 0.5, 1e-10, 1 - 1e-12 and 2 - 1e-10 at t = 1 ... 10^12.
* Heavy ball: the rounding of each composition moves an eigenvalue of ``A^k`` by ~eps_ext
  relative, which the later squarings amplify: the relative error is ~``eps_ext x min(t,
  1/(1 - rho))`` where noise sets the level (``rho`` the spectral radius of the moment map,
  ``1 - rho ~ 2 eta h / (1 - mu)`` for slow coordinates), and ~``eps_ext x t`` on a deterministic
  transient that is still decaying (no noise floor); at a double root (critical damping) ~``t^2
  eps_ext / 10`` relative to a transient that has decayed by ``rho^t``. Measured relative errors
  of the excess at t = 10^3, 10^6, 10^9, 10^12 (the last with the cap below lifted):

  - ``eta h = 0.5, mu = 0.9``: 3e-17 at every t;
  - ``eta h = 1e-6, mu = 0.9`` (1 - rho = 2e-5): 6e-17, 3.5e-15, 3.3e-15, 3.3e-15 (capped);
  - ``eta h = 1e-8, mu = 0.9, sigma2 = 0``: 3e-17, 5e-14, 5e-11 (grows like t);
  - ``eta h`` 1e-9 below the edge 2 (1 + mu), mu = 0.5: 5e-16, 6e-13, 3e-10, 3e-10 (capped at
    1/(1 - rho) = 2.5e8);
  - critical damping, mu = 0.5, sigma2 = 0 (value 4e-297 at t = 10^3): 9e-15 (the step
    recursion: 6e-14);
  - ``eta h = 1e-16, mu = 0.5`` at t = 10^9, 10^12, 10^15: 1.6e-11, 1.6e-8, 1.6e-5, which is why
    ``t`` is capped at :data:`MAX_JUMP_T_MOMENTUM` = 10^9 with momentum.

  So the jump is as accurate as the step recursion it replaces (whose error also grows like
  ``t eps_ext``) and, with noise, stops growing at the relaxation time; it is *not*
  ``O(log t) eps``: a closed form in ``t`` through the roots of ``r^2 - (1 - a + mu) r + mu``
  (as :mod:`.zhang` does for ``mu`` in [0, 1)) would be, with care at the double root.

Beyond float64's range the value is ``+inf`` and ``status`` is ``"overflow"`` (long double's range,
1e4932, leaves room for the exact value up to there); a coordinate with no start and no noise is
exactly 0 at every step, also where ``F^t`` overflows.

Cost: ``O(d)`` (SGD) or ``O(d log t)`` (heavy ball) per call, plus ``O(d)`` per curve point with a
``stride`` (the points come in vectorised blocks). Measured (``benchmarks/nqm_jump.py``), d = 1000:
SGD 2-8 ms at any t; heavy ball 4-23 ms at t = 10^3 ... 10^9 (log2 t compositions; shared
machine); ``run`` at t = 10^6 takes ~10^4 x longer.

Example: one coordinate, ``h = sigma2 = 1``, ``w_0 = 1``, ``eta = mu = 1/2`` (the by-hand case of
:func:`.dynamics.step`), and a stable heavy ball far out (``E w^2`` at its fixed point
:math:`n(1+\mu)/(a(1-\mu)(2+2\mu-a)) = 3/5`)::

    >>> from l2l.numerics.nqm import NQMProblem
    >>> p = NQMProblem([1.0], [1.0], [1.0], [0.0])
    >>> j = run_constant(p, 0.5, 2, mu=0.5, stride=1)
    >>> j.steps.tolist(), j.loss.tolist(), j.method
    ([0, 1, 2], [1.0, 0.75, 0.75], 'affine power')
    >>> j = run_constant(p, 0.5, 10**9, mu=0.5)
    >>> float(j.state.X[0]), j.status
    (0.6, 'ok')
    >>> run_constant(p, 3.0, 10**9).status             # |1 - eta h| = 2: diverges
    'overflow'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exact_product import two_product_scaled
from ..results import result_type, returns
from ..validation import ValidationError, as_instance, as_int, as_real
from .dynamics import constant_sgd_moment
from .problem import MAX_CURVE_POINTS, MAX_WORK, STEP_MAX, NQMProblem, State, eta_bound

__all__ = ["Jump", "run_constant", "jump_steps", "MAX_JUMP_T", "MAX_JUMP_T_MOMENTUM"]

#: Largest ``t`` of :func:`run_constant` for SGD (``t`` is exact in the long double exponent ``t ell``).
MAX_JUMP_T = 10**18
#: Largest ``t`` with momentum: the squaring's relative error grows like ``t eps_ext / 6`` on a slow,
#: still-decaying transient (module docstring), 2e-11 at 10^9 but 2e-5 at 10^15.
MAX_JUMP_T_MOMENTUM = 10**9

_LD = np.longdouble
_BLOCK = 2**16  # elements of a (points x d) block of the SGD curve


@result_type
@dataclass(frozen=True, eq=False)
class Jump:
    """Result of :func:`run_constant`: the expected loss at ``steps`` (the last one is ``t``)."""

    steps: np.ndarray  #: the steps reported (int64): ``[t]``, or ``0, s, 2s, ..., t`` with a stride
    loss: np.ndarray  #: expected loss at those steps (irreducible part included; ``+inf`` beyond float64)
    excess: np.ndarray  #: expected loss above the irreducible part, same steps
    state: State  #: the moments after ``t`` steps, in long double (``+inf`` where they overflowed)
    status: str  #: ``"ok"``, or ``"overflow"`` when a reported value is beyond float64's range
    method: str  #: ``"sgd closed form"`` or ``"affine power"``

    @property
    def t(self) -> int:
        return int(self.steps[-1])

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])

    @property
    def final_excess(self) -> float:
        return float(self.excess[-1])


def jump_steps(t: int, stride: int | None) -> np.ndarray:
    """The steps :func:`run_constant` reports: ``[t]`` without a stride, else ``0, s, 2s, ...`` and ``t``."""
    if stride is None:
        return np.array([t], dtype=np.int64)
    s = np.arange(0, t + 1, stride, dtype=np.int64)
    return s if s[-1] == t else np.append(s, np.int64(t))


def _coefficients(eta: float, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a = eta h``, ``b = 1 - a`` and ``c = 2 - a`` in long double, from the exact product
    ``eta h = hi + lo`` (Dekker): ``1 - hi`` and ``2 - hi`` are exact where they cancel (Sterbenz), so
    ``b`` and ``c`` keep ~eps_ext relative accuracy at ``eta h`` near 1 and 2."""
    p, e, k = two_product_scaled(np.full(h.shape, eta), h)
    with np.errstate(under="ignore", over="ignore"):
        hi, lo = np.ldexp(p, k), np.ldexp(e, k)
    hi, lo = hi.astype(_LD), lo.astype(_LD)
    return hi + lo, (1.0 - hi) - lo, (2.0 - hi) - lo


def _sgd_moment(X0, s2, a, b, c, k):
    """``X_k`` of SGD for integer ``k >= 1`` (array broadcasting against the coordinates): the
    closed form of :func:`.dynamics.constant_sgd_moment` with the accurate ``b = 1 - a``, ``c = 2 - a``."""
    return constant_sgd_moment(X0, s2, a, k, b=b, c=c)


def _overflowed(*xs: np.ndarray) -> np.ndarray:
    bad = np.zeros(xs[0].shape, bool)
    for x in xs:
        bad |= ~np.isfinite(x)
    return bad


def _excess(h: np.ndarray, X: np.ndarray, still: np.ndarray | None = None) -> np.ndarray:
    """1/2 h . X along the last axis, rounded to float64 (+inf beyond its range or where X is);
    coordinates ``still`` (no start, no noise) are exactly 0."""
    if still is not None and still.any():
        X = np.where(still, _LD(0.0), X)
    with np.errstate(over="ignore", invalid="ignore"):
        v = 0.5 * (X @ h)
        return np.where(np.isfinite(v), v, np.inf).astype(np.float64)


def _affine_map(a, b, mu, n):
    """One step as the pair ``(A, c)``: the 2x2 mean map ``A = [[1 - a, mu], [-a, mu]]`` of (w, v),
    shape (d, 2, 2), and the noise input ``c = n (1, 1, 1)`` of the moments, shape (d, 3)."""
    d = a.size
    A = np.empty((d, 2, 2), dtype=_LD)
    A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1] = b, _LD(mu), -a, _LD(mu)
    return A, np.repeat(n[:, None], 3, axis=1)


def _moment_apply(A, z):
    """The moments of ``A (w, v)``: ``(X, W, Y) -> (E(pw + qv)^2, E(rw + sv)^2, E(pw + qv)(rw + sv))``
    for ``A = [[p, q], [r, s]]`` (the symmetric tensor square of A; at one step, the matrix M)."""
    p, q, r, s = A[..., 0, 0], A[..., 0, 1], A[..., 1, 0], A[..., 1, 1]
    X, W, Y = z[..., 0], z[..., 1], z[..., 2]
    return np.stack([p * p * X + q * q * W + 2.0 * p * q * Y,
                     r * r * X + s * s * W + 2.0 * r * s * Y,
                     p * r * X + q * s * W + (p * s + q * r) * Y], axis=-1)


def _apply(F, z):
    A, c = F
    return _moment_apply(A, z) + c


def _compose(F, G):
    """``F o G`` (apply G first): ``(A_F A_G, M(A_F) c_G + c_F)``."""
    return F[0] @ G[0], _apply(F, G[1])


def _power_apply(F, z: np.ndarray, t: int) -> np.ndarray:
    """``F^t z``: the whole power first (the 2x2 product ``A^t`` and the noise input), then one
    application to the state, so that the moments of ``A^t (w, v)`` are formed from the entries of
    ``A^t`` (applying each ``F^(2^i)`` to the state in turn would round the state's cancellations
    ``log2 t`` times: measured 300x worse at critical damping). Beyond the range an entry is
    inf or NaN (inf - inf) without a warning: the caller turns it into the status ``overflow``."""
    if t == 0:
        return z
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return _apply(_power(F, t), z)


def _first_powers(J, n: int):
    """``J^1, ..., J^n`` stacked (``A`` (n, d, 2, 2), ``c`` (n, d, 3)), by doubling: the block
    ``J^(m+1..2m)`` is ``J^m`` composed with ``J^(1..m)``, one vectorised step (``log2 n`` in all, so
    each power is a product of at most ``log2 n`` compositions)."""
    A, c = J[0][None], J[1][None]
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        while A.shape[0] < n:
            last = (A[-1], c[-1])
            A = np.concatenate([A, last[0][None] @ A])
            c = np.concatenate([c, _moment_apply(last[0], c) + last[1]])
    return A[:n], c[:n]


def _power(F, t: int):
    """``F^t`` by binary powering (``t >= 1``)."""
    R = None
    base = F
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        while t:
            if t & 1:
                R = base if R is None else _compose(base, R)
            t >>= 1
            if t:
                base = _compose(base, base)
    return R


@returns(Jump)
def run_constant(problem: NQMProblem, eta: Any, t: Any, mu: Any = 0.0, *, stride: Any = None) -> Jump:
    r"""Exact expected loss of heavy-ball SGD with a constant ``eta`` and ``mu`` after ``t`` steps,
    in ``O(d)`` (SGD) or ``O(d log t)`` (heavy ball) work for any ``t`` up to :data:`MAX_JUMP_T`
    (SGD) or :data:`MAX_JUMP_T_MOMENTUM` (``mu != 0``, where the error grows like ``t eps_ext``).

    The map, the statement and the accuracy are in the module docstring. ``stride`` ``s`` (an
    integer >= 1) also reports the steps ``0, s, 2s, ...`` and ``t``: each SGD point is its own
    closed form; heavy-ball points are chained by ``F^s`` (the error of ``F^s`` adds up over the
    ``t / s`` points, as in the step recursion). The number of points is capped by
    ``MAX_CURVE_POINTS`` and ``points x d`` by ``MAX_WORK``, checked before any work.

    >>> from l2l.numerics.nqm import NQMProblem
    >>> p = NQMProblem.stand_in(3)
    >>> [round(float(v), 6) for v in run_constant(p, 0.5, 3, mu=0.5, stride=1).excess]   # = run(p, 0.5, 3, mu=0.5)
    [0.916667, 0.551505, 0.478753, 0.522919]
    >>> run_constant(p, 0.5, 10**12, stride=4 * 10**11).steps.tolist()
    [0, 400000000000, 800000000000, 1000000000000]
    """
    problem = as_instance(problem, NQMProblem, article="an")
    t = as_int("t", t, 0, MAX_JUMP_T, integral_floats=True)
    eta = as_real("eta", eta, 0.0, eta_bound(problem))
    mu = as_real("mu", mu, -STEP_MAX, STEP_MAX)
    if mu != 0.0 and t > MAX_JUMP_T_MOMENTUM:
        raise ValidationError("t", f"must be <= {MAX_JUMP_T_MOMENTUM:.0e} with momentum (mu != 0), got {t}: the repeated "
                                   f"squaring's error grows like t x 1e-20 (SGD, mu = 0, takes t up to {MAX_JUMP_T:.0e})")
    if stride is not None:
        stride = as_int("stride", stride, 1, MAX_JUMP_T, integral_floats=True)
    d = problem.d
    n_points = 1 if stride is None else t // stride + 1 + (t % stride != 0)
    if n_points > MAX_CURVE_POINTS:
        raise ValidationError("stride", f"t / stride + 1 = {n_points} curve points exceed MAX_CURVE_POINTS = {MAX_CURVE_POINTS}")
    if n_points * d > MAX_WORK:
        raise ValidationError("stride", f"curve points x d = {n_points} x {d} = {n_points * d:.3g} exceeds MAX_WORK = {MAX_WORK:.0e}")
    steps = jump_steps(t, stride)
    h = problem.h.astype(_LD)
    s2 = problem.sigma2.astype(_LD)
    X0 = problem.mean0.astype(_LD) ** 2 + problem.var0.astype(_LD)
    a, b, c = _coefficients(eta, problem.h)
    n = a * a * s2
    if mu == 0.0:
        method = "sgd closed form"
        exc = np.empty(steps.size)
        for i0 in range(0, steps.size, max(1, _BLOCK // d)):
            k = steps[i0:i0 + max(1, _BLOCK // d)]
            Xk = _sgd_moment(X0, s2, a, b, c, np.maximum(k, 1).astype(_LD)[:, None])
            Xk = np.where((k == 0)[:, None], X0, Xk)
            exc[i0:i0 + k.size] = _excess(h, Xk)
        if t == 0:
            X, W, Y = X0, np.zeros(d, _LD), np.zeros(d, _LD)
        else:  # W_t, Y_t from X_{t-1} (mu = 0: X' does not depend on W, Y)
            Xp = X0 if t == 1 else _sgd_moment(X0, s2, a, b, c, _LD(t - 1))
            with np.errstate(over="ignore", invalid="ignore"):
                X, W, Y = b * b * Xp + n, a * a * Xp + n, -a * b * Xp + n
    else:
        method = "affine power"
        still = (X0 == 0.0) & (n == 0.0)
        F = _affine_map(a, b, mu, n)
        z = np.stack([X0, np.zeros(d, _LD), np.zeros(d, _LD)], axis=1)
        if stride is None:
            z = _power_apply(F, z, t)
            exc = _excess(h, z[:, 0], still)[None]
        else:
            exc = np.empty(steps.size)
            exc[0] = float(_excess(h, z[:, 0], still))
            hw = np.where(still, _LD(0.0), 0.5 * h)  # still coordinates: exactly 0 (their F^s may be NaN)
            n_full = t // stride  # points 1..n_full are stride apart; then possibly t
            block = max(1, min(n_full, _BLOCK // d))
            if n_full:
                Ap, cp = _first_powers(_power(F, stride), block)
            i = 1
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                while i <= n_full:  # a block of points from the last one: z_(i+j) = F^(stride (j+1)) z_(i-1)
                    nb = min(block, n_full - i + 1)
                    Z = _moment_apply(Ap[:nb], z[None]) + cp[:nb]
                    exc[i:i + nb] = _excess(hw * 2.0, Z[..., 0])
                    z = Z[nb - 1]
                    i += nb
            if steps.size > n_full + 1:  # the last, shorter step to t
                z = _power_apply(F, z, t - n_full * stride)
                exc[-1] = float(_excess(hw * 2.0, z[:, 0]))
        X, W, Y = z[:, 0], z[:, 1], z[:, 2]
    still = (X0 == 0.0) & (n == 0.0)  # no start and no noise: 0 at every step (also where F^t overflows)
    if still.any():
        X, W, Y = (np.where(still, _LD(0.0), v) for v in (X, W, Y))
    bad = _overflowed(X, W, Y)
    if bad.any():  # beyond long double (or inf - inf): the moments diverged
        X, W, Y = (np.where(bad, _LD(np.inf), v) for v in (X, W, Y))
    # X, W >= 0 and W = Y = 0 exactly where a = 0: only rounding can leave a -0 or a NaN-free tiny negative
    state = State(X, W, Y)
    exc = np.where(np.isfinite(exc), exc, np.inf)
    status = "ok" if np.isfinite(exc).all() and not bad.any() else "overflow"
    return Jump(steps=steps, loss=exc + problem.irreducible, excess=exc, state=state, status=status, method=method)
