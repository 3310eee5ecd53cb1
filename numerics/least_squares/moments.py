r"""Exact expected dynamics of SGD: first and second moments as linear recursions.

Source of the process: Wang, Yuan, Wu & Ge (2021) §2.1 defines SGD as
:math:`u_\eta(w) = w - \eta\nabla_w\ell(w, x, y)` with a random training sample; the paper's SGD
theorems (its Appendix D) are not available to this package (``papers/wang2021.md`` §4.4), so
what follows is the package's *own* exact analogue: instead of estimating the expected
meta-objective by Monte Carlo, the mean :math:`m_\tau = \mathbb E[w_\tau]` and the second moment
:math:`M_\tau = \mathbb E[w_\tau w_\tau^\top]` obey closed linear recursions, so the expected
loss after ``t`` steps and its derivative in ``eta`` are computed exactly (up to float64 rounding)
in ``t`` steps of matrix algebra. :mod:`numerics.least_squares.montecarlo` simulates the same processes path by
path; the tests compare the two, and both against exact enumeration of every sample path.

Three processes
---------------

**(a) finite training set** (:func:`finite_set_expectation`). A :class:`LeastSquaresProblem`
(``X`` n x d, ``y``), minibatches of ``B`` indices drawn uniformly *with replacement* at every
step, :math:`w' = w - \eta g_B`, :math:`g_B = \frac1B\sum_{k=1}^B x_{j_k}(x_{j_k}^\top w - y_{j_k})`.
With :math:`H = X^\top X/n`, :math:`b = X^\top y/n`, :math:`\bar g = Hw - b` and
:math:`S(w) = \frac1n\sum_j x_jx_j^\top (x_j^\top w - y_j)^2`,

.. math::

    \mathbb E[g_B\mid w] = \bar g,\qquad
    \mathbb E[g_Bg_B^\top\mid w] = \tfrac1B S(w) + (1-\tfrac1B)\,\bar g\bar g^\top,

hence, with :math:`A = I - \eta H` and the covariance :math:`P = M - mm^\top`,

.. math::

    m' = A m + \eta b,\qquad
    P' = A P A + \frac{\eta^2}{B}\,D,\qquad
    D = \mathbb E[S(w)] - H P H - (Hm - b)(Hm - b)^\top ,

where :math:`\mathbb E[S(w)] = \frac1n\sum_j x_jx_j^\top\,(x_j^\top P x_j + (x_j^\top m - y_j)^2)`
(:math:`D` is the expected conditional covariance of a one-sample gradient). The expected losses
are :math:`\frac1{2n}(\mathrm{tr}(X^\top X M) - 2y^\top Xm + y^\top y)` (training) and the same
with ``(X_valid, y_valid)`` (validation).

*Reduction.* Every gradient lies in the row space of ``X``, so :math:`w_\tau - w_0` stays in it.
With the thin SVD :math:`X = U\,\mathrm{diag}(s)\,V^\top` (rank ``r``) the code works with
:math:`a = V^\top w` in :math:`\mathbb R^r` -- the part of :math:`w_0` orthogonal to the span is
constant -- where :math:`Z = XV = U\mathrm{diag}(s)` and :math:`H = \mathrm{diag}(s^2/n)` is
*diagonal*, and tracks the offset :math:`\delta = m - a^*` from the minimum-norm least-squares
solution :math:`a^* = \mathrm{diag}(s)^{-1}U^\top y` instead of :math:`m`. Then
:math:`\delta' = A\delta` (no source term), the mean residual is
:math:`\rho = Z\delta - y_\perp` with :math:`y_\perp = (I - UU^\top)y`, and

.. math::

    \mathbb E[\text{train loss}] = \tfrac1{2n}\Big(\|Z\delta\|^2 + \|y_\perp\|^2
        + \textstyle\sum_j q_j\Big),\qquad q_j = z_j^\top P z_j ,

a sum of non-negative terms (no cancellation, so small losses near an interpolating solution are
resolved), and :math:`\mathbb E[S] = \frac1n Z^\top\mathrm{diag}(q + \rho^2)Z`. One step costs
:math:`O(n r^2)`: two batched matrix products, ``Z @ [P, dP]`` (the fourth moments ``q`` and their
tangents) and ``[Z^T | H delta, H ddelta] @ [diag(w) Z; rank rows]`` (``E[S]`` and the mean-gradient
outer products ``H delta delta^T H`` with their tangents, in one product), plus about fifteen
elementwise numpy calls on preallocated buffers; :math:`AP A - \tfrac{\eta^2}{B}HPH = P\circ K`
with :math:`K = aa^\top - \tfrac{\eta^2}{B}hh^\top` is elementwise because ``H`` is diagonal
(:func:`_finite_set_recursion` spells out the layout). The value and the eta-tangent share both
products.
Singular values below the rank tolerance ``s_max * max(n, d) * eps`` (numpy's ``matrix_rank``
rule) are treated as zero; the neglected gradient components are of order ``eps`` relative.

**(b) fresh Gaussian samples** (:func:`gaussian_expectation`). :math:`x\sim\mathcal N(0,\Sigma)`,
:math:`y = \langle w^*, x\rangle + \xi`, :math:`\xi\sim\mathcal N(0,\sigma^2)`, a fresh batch of
``B`` pairs each step (the population version of §2.3 of the paper digest). With
:math:`e = w - w^*` and the Gaussian fourth-moment identity
:math:`\mathbb E[xx^\top Axx^\top] = 2\Sigma A\Sigma + \mathrm{tr}(\Sigma A)\Sigma` (A symmetric),
:math:`\mathbb E[gg^\top\mid e] = \Sigma ee^\top\Sigma + \frac1B(\Sigma ee^\top\Sigma
+ (e^\top\Sigma e)\Sigma + \sigma^2\Sigma)`, so for :math:`M_e = \mathbb E[ee^\top]`

.. math::

    \mathbb E[e'] = (I - \eta\Sigma)\mathbb E[e],\qquad
    M_e' = (I-\eta\Sigma)M_e(I-\eta\Sigma) + \frac{\eta^2}{B}\big(\Sigma M_e\Sigma
          + \mathrm{tr}(\Sigma M_e)\Sigma + \sigma^2\Sigma\big),

and the population loss is :math:`\mathbb E\,\tfrac12(y - \langle w_t,x\rangle)^2 =
\tfrac12(\mathrm{tr}(\Sigma M_e) + \sigma^2)`. In the eigenbasis of :math:`\Sigma` the diagonal
of :math:`M_e` evolves on its own (``O(d)`` per step), which is all the loss and its tangent need;
the off-diagonal entries are only multiplied elementwise (``O(d^2)`` per step, for the returned
second moment).

**(c) additive noise** (:func:`additive_noise_expectation`). :math:`g = Hw - b + \epsilon` with
:math:`\epsilon` independent of everything else, mean 0 and covariance ``S``; heavy-ball
:math:`v' = \mu_\tau v - \eta_\tau g`, :math:`w' = w + v'`, :math:`v_0 = 0` (plain SGD when
:math:`\mu = 0`), per-step schedules :math:`\eta_\tau, \mu_\tau` allowed. Per eigen-coordinate of
``H`` the pair :math:`z = (w, v)` moves by :math:`T_\tau = \begin{pmatrix}1-\eta_\tau h &
\mu_\tau\\ -\eta_\tau h & \mu_\tau\end{pmatrix}`, so :math:`\mathbb E[z'] = T\,\mathbb E[z] +
\eta_\tau (b, b)` and :math:`\mathrm{Cov}(z') = T\,\mathrm{Cov}(z)\,T^\top + \eta_\tau^2
\begin{pmatrix}S & S\\ S & S\end{pmatrix}`; for :math:`\mu = 0` this is
:math:`M' = (I-\eta H)M(I-\eta H) + \eta^2 S` plus the mean terms. The expected objective is
:math:`\mathbb E[\tfrac12 w^\top Hw - b^\top w] + \text{loss\_offset}`. Only the mean and
covariance of :math:`\epsilon` enter (the simulator draws it Gaussian). The noisy quadratic model
of Wu et al. (2018) is the case ``H = diag(h)``, ``b = 0``, ``S = diag(h^2 sigma2)``,
``loss_offset = 1/2 sum h sigma2``; diagonal ``H``, ``S`` and ``cov0`` (1-D arrays) cost
``O(d)`` per step.

Derivatives
-----------
Every recursion is run together with its forward tangent :math:`(\dot m, \dot P) =
\partial(m, P)/\partial\eta` (the derivative of the recursion map, applied by hand), so
``*_grad`` fields are the exact derivatives of the exact expectations -- the derivative of a
polynomial of degree ``2t`` in ``eta``. For a schedule (case c) the derivative is along a common
shift of every step size, :math:`\frac{d}{d\delta}\,\mathbb E[\text{loss}]\big|_{\eta_\tau
\to \eta_\tau + \delta}`, which for a constant schedule is the ordinary d/d eta.

Range: no overflow, no NaN
--------------------------
The recursions are homogeneous once the constant 1 is carried as a state variable ``c``
(:math:`b \to cb`, :math:`y \to cy`, :math:`\sigma^2 \to c^2\sigma^2`, ...): scaling the
first-order quantities by :math:`2^k` and the second-order ones by :math:`2^{2k}` commutes with
a step and with its tangent. The state is rescaled by an exact power of 2 so that its
largest entry is in [1/2, 1), and the exponents are accumulated in an integer. (Case (a) rescales
only every ``RESCALE_BLOCK`` = 32 steps, which gives bit for bit the same numbers as long as no
value leaves the normal range in between; a block in which anything overflowed is recomputed from
its saved start, rescaling every step, and so are all blocks once the carried constant is below
2^-60 of the state, e.g. beyond stability.) For step sizes
beyond stability the expected loss grows like :math:`\rho^{2t}` and is still computed with full
relative precision; the result is then multiplied back with ``ldexp``, so a value beyond the
float64 range comes out as ``+inf`` (a derivative as ``+-inf`` with its correct sign), **never
NaN**, and ``status`` is ``"overflow"`` for that step size (``"ok"`` otherwise). Values below the
range underflow to 0. Before the recursion the data are normalised by exact powers of 2 (the
curvature scale of ``X``, ``Sigma`` or ``H`` to about 1, with ``eta`` scaled inversely, then the
scale of ``w``, ``y``, ``b``, noise to about 1), so data of any finite magnitude (1e-300 or 1e150,
or subnormal) are handled like data of magnitude 1 and only the final results are scaled back.
For case (a) the exponents are taken from ``frexp`` exponents (never by forming y / 2^k1, which may
leave the range): X = 2^k1 X~, y = 2^(k1 + k2) y~, w = 2^k2 w~, eta~ = 4^k1 eta is the same process
(w~' = w~ - eta~ X~^T (X~ w~ - y~) / n), so the losses scale by 4^(k1 + k2) and d/d eta = 4^k1 d/d eta~
by 16^k1 4^k2. The validation set has its own scale, X_valid = 2^kv Xv~ and y_valid - X_valid w0 =
2^kr rv0~, and its mean residual is rv0 + X_valid V u with u = E[a] - a0 the displacement, tracked
by its own recursion u' = A u - eta~ g0 (forming it as delta + a* - a0 would cancel when the
iterates barely move from w0 while |a*| is huge, e.g. X entries of 1e-20); the two parts are added
relative to the larger, row by row. (Limitation: the covariance shares the state's exponent with
the mean, so if the validation set is on a vastly different scale from X and eta is huge, e.g.
X ~ 1e-300, X_valid ~ 1, eta ~ 1e300, the covariance's share of the validation loss can underflow.) The one
restriction that remains is that a single step cannot leave the range: ``eta * C <=
MAX_ETA_SCALE`` (= 1e100), with ``C`` the curvature scale (``max_j ||x_j||^2``, ``tr Sigma``,
``max eig H``); larger step sizes raise :class:`ValidationError`.

Examples
--------
Two orthogonal samples, ``w0 = 0``, ``B = 1``: the first step lands on ``eta e_1`` or
``eta e_2``, so E[train loss] = ((1 - eta)^2 + 1) / 4, which is 1/4 with derivative 0 at eta = 1::

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0])
    >>> r = finite_set_expectation(p, 1.0, 1)
    >>> r.expected_train_loss, r.expected_train_loss_grad, r.status
    (0.25, 0.0, 'ok')
    >>> r.mean.tolist()                      # E[w_1] = (e_1 + e_2) / 2
    [0.5, 0.5]
    >>> float(finite_set_expectation(p, 0.5, 1).expected_train_loss_grad)   # -(1 - eta) / 2
    -0.25

Beyond stability the exact value leaves the float64 range: ``+inf``, never NaN::

    >>> r = finite_set_expectation(p, [0.5, 5.0], 400)
    >>> r.status.tolist(), bool(r.expected_train_loss[0] < 1e-40), float(r.expected_train_loss[1])
    (['ok', 'overflow'], True, inf)

Scalar Gaussian model, ``Sigma = 1``, ``w* = 1``, ``w0 = 0``, ``sigma2 = 1/4``, ``B = 4``:
:math:`\mathbb E[e_1^2] = ((1-\eta)^2 + 2\eta^2/4)\cdot 1 + \eta^2 \sigma^2/4 = 0.390625`
at ``eta = 1/2``, so the population loss is (0.390625 + 0.25) / 2::

    >>> g = gaussian_expectation([1.0], [1.0], 0.25, 0.5, 1, batch_size=4)
    >>> g.expected_loss
    0.3203125

Additive noise on ``f(w) = w^2 / 2``, ``S = 1``, ``w0 = 0``:
:math:`\mathrm{Var}[w_t] = \eta^2\sum_{\tau<t}(1-\eta)^{2\tau}`::

    >>> a = additive_noise_expectation([1.0], [0.0], [1.0], 0.5, 2)
    >>> float(a.covariance[0, 0]), 0.25 * (1 + 0.25)
    (0.3125, 0.3125)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..problems import LeastSquaresProblem
from ..validation import MAX_BATCH_SIZE, ValidationError, as_batch_size, as_horizon, as_nonnegative_reals, as_psd_matrix, as_real_array, as_schedule, as_step_sizes, as_vector_of_length
from ..results import result_type, returns

__all__ = [
    "FiniteSetMoments",
    "MomentResult",
    "GaussianMoments",
    "AdditiveNoiseMoments",
    "finite_set_expectation",
    "gaussian_expectation",
    "additive_noise_expectation",
    "MAX_MOMENT_STEPS",
    "MAX_MOMENT_COST",
    "MAX_CURVE_POINTS",
    "MAX_ETA_SCALE",
    "MAX_BATCH_SIZE",
]

#: Largest horizon ``t`` accepted (each step is a few numpy calls, ~10-100 microseconds for small r).
MAX_MOMENT_STEPS = 10**7
#: Largest accepted work ``len(eta) x t x (per-step flops)``; per-step flops are counted as
#: ``4 n r^2 + 12 r^2 + 4 n r`` (finite set), ``4 d^2 + 20 d`` (Gaussian; the ``d^2`` is the returned
#: second moment) and ``64 d^2`` / ``64 d`` (additive noise, dense / diagonal). 10^11 is a minute or
#: two.
MAX_MOMENT_COST = 10**11
#: Largest ``len(eta) x (t + 1)`` with ``curve=True`` (each point keeps four float64 numbers).
MAX_CURVE_POINTS = 10**7
#: A single step multiplies the state by at most about ``(1 + eta C)^2``; ``eta C`` is kept below
#: this so that no intermediate of one step leaves the float64 range (see "Range").
MAX_ETA_SCALE = 1e100
#: Largest accepted batch size (the recursion only uses 1/B; 2^53 keeps B exact in float64).

STATUSES = ("ok", "overflow")


# ---------------------------------------------------------------------------------------------
# results


@result_type
@dataclass(frozen=True, eq=False)
class FiniteSetMoments:
    """Exact expectations over the minibatch draws of SGD on a finite training set.

    Shapes: with a scalar ``eta`` the loss fields are floats, ``status`` a str, ``mean`` (d,) and
    ``second_moment``/``covariance`` (d, d); with a 1-D ``eta`` of length k every field gains a
    leading axis of length k. Curves (``curve=True``) have a last axis of length t + 1 (steps
    0..t), else they are ``None``. Validation fields are ``None`` without a validation set.
    """

    eta: Any  #: the step size(s)
    t: int  #: the number of SGD steps
    batch_size: int  #: minibatch size (indices drawn with replacement)
    rank: int  #: r = rank X: dimension of the span the iterates move in
    expected_train_loss: Any  #: E[(1/2n) ||X w_t - y||^2]
    expected_train_loss_grad: Any  #: its d/d eta (None with grad=False)
    expected_valid_loss: Any  #: E[(1/2n_valid) ||X_valid w_t - y_valid||^2] (or None)
    expected_valid_loss_grad: Any  #: its d/d eta (or None)
    status: Any  #: "ok", or "overflow" if some value above is +-inf (exact value beyond float64)
    mean: np.ndarray  #: E[w_t]
    covariance: np.ndarray  #: Cov[w_t]
    second_moment: np.ndarray  #: E[w_t w_t^T]
    train_curve: np.ndarray | None = None  #: E[training loss] at steps 0..t (curve=True), else None
    train_grad_curve: np.ndarray | None = None  #: its d/d eta at steps 0..t, else None
    valid_curve: np.ndarray | None = None  #: E[validation loss] at steps 0..t, else None
    valid_grad_curve: np.ndarray | None = None  #: its d/d eta at steps 0..t, else None


#: The name suggested by the design discussion.
MomentResult = FiniteSetMoments


@result_type
@dataclass(frozen=True, eq=False)
class GaussianMoments:
    """Exact expectations for SGD on fresh Gaussian samples (shapes as in :class:`FiniteSetMoments`)."""

    eta: Any  #: the step size(s)
    t: int  #: the number of SGD steps
    batch_size: int  #: minibatch size
    expected_loss: Any  #: population loss E[1/2 (y - <w_t, x>)^2] = 1/2 (tr(Sigma M_e) + sigma^2)
    expected_loss_grad: Any  #: its d/d eta
    status: Any  #: "ok", or "overflow" if a value is beyond float64
    mean: np.ndarray  #: E[w_t]
    covariance: np.ndarray  #: Cov[w_t]
    second_moment: np.ndarray  #: E[w_t w_t^T]
    loss_curve: np.ndarray | None = None  #: E[loss] at steps 0..t (curve=True), else None
    loss_grad_curve: np.ndarray | None = None  #: its d/d eta at steps 0..t, else None


@result_type
@dataclass(frozen=True, eq=False)
class AdditiveNoiseMoments:
    """Exact expectations for (heavy-ball) SGD with additive gradient noise (one schedule).

    ``expected_loss`` is E[1/2 w_t^T H w_t - b^T w_t] + loss_offset; ``expected_loss_grad`` its
    derivative along a common shift of every step size; ``greedy_eta`` the step size minimising
    the expected loss after one more *plain SGD* step from the final state,
    ``E||gbar||^2 / (E[gbar^T H gbar] + tr(H S))`` with ``gbar = H w_t - b`` (``inf`` when the
    denominator is 0 but the numerator is not, 0 when both are 0).
    """

    t: int  #: the number of SGD steps
    expected_loss: float  #: E[f(w_t)]
    expected_loss_grad: float  #: its d/d eta
    greedy_eta: float  #: the step size minimising the one-step expected loss
    status: str  #: "ok", or "overflow" if a value is beyond float64
    mean: np.ndarray  #: E[w_t]
    covariance: np.ndarray  #: Cov[w_t] (d x d; the diagonal of a diagonal problem is returned dense)
    second_moment: np.ndarray  #: E[w_t w_t^T]
    velocity_mean: np.ndarray  #: E[v_t]
    loss_curve: np.ndarray | None = None  #: E[f(w_k)] at steps 0..t (curve=True), else None
    loss_grad_curve: np.ndarray | None = None  #: its d/d eta at steps 0..t, else None


# ---------------------------------------------------------------------------------------------
# validation helpers


def _check_cost(k: int, t: int, per_step: float, curve: bool) -> None:
    cost = float(k) * t * per_step
    if cost > MAX_MOMENT_COST:
        raise ValidationError(
            "t",
            f"len(eta) x t x per-step work = {k} x {t} x {per_step:.3g} = {cost:.3g} exceeds "
            f"MAX_MOMENT_COST = {MAX_MOMENT_COST:.0e}; use fewer step sizes or a shorter horizon",
        )
    if curve and k * (t + 1) > MAX_CURVE_POINTS:
        raise ValidationError(
            "curve", f"len(eta) x (t + 1) = {k * (t + 1)} exceeds MAX_CURVE_POINTS = {MAX_CURVE_POINTS}"
        )


def _exponent(x: float) -> int:
    """k with x = m 2^k, m in [1/2, 1) (0 for x = 0): dividing by 2^k is exact."""
    return int(np.frexp(x)[1]) if x > 0 else 0


def _check_eta_scale(eta_max: float, scale_s: float, k: int, what: str) -> None:
    """eta_max * C <= MAX_ETA_SCALE for C = scale_s * 4^k (compared in log2: C itself may overflow)."""
    if eta_max <= 0 or scale_s <= 0:
        return
    excess = np.log2(eta_max) + np.log2(scale_s) + 2 * k - np.log2(MAX_ETA_SCALE)
    if excess > 0:
        limit = float(np.exp2(np.log2(MAX_ETA_SCALE) - np.log2(scale_s) - 2 * k))
        raise ValidationError(
            "eta",
            f"must be <= {MAX_ETA_SCALE:.0e} / ({what}) = {limit:.6g} for this problem "
            f"(got {eta_max!r}); a larger step leaves the float64 range within a single step",
        )


# ---------------------------------------------------------------------------------------------
# exact power-of-two rescaling (see "Range" in the module docstring)


def _amax(x: np.ndarray) -> np.ndarray:
    """max |x| over every axis but the first (0 for empty trailing axes)."""
    if x.ndim == 1:
        return np.abs(x)
    flat = np.abs(x.reshape(x.shape[0], -1))
    return flat.max(axis=1) if flat.shape[1] else np.zeros(x.shape[0])


def _rescale(deg1: list[np.ndarray], deg2: list[np.ndarray]) -> np.ndarray:
    """Scale first-order arrays by 2^-e and second-order ones by 2^-2e in place (per leading index)
    so that max(|deg1|, sqrt|deg2|) lies in [1/2, 1); return e (int64 per leading index)."""
    scale = _amax(deg1[0])
    for x in deg1[1:]:
        scale = np.maximum(scale, _amax(x))
    for x in deg2:
        scale = np.maximum(scale, np.sqrt(_amax(x)))
    e = np.frexp(scale)[1].astype(np.int64)  # 0 when scale == 0
    if not e.any():
        return e
    for x in deg1:
        x[...] = np.ldexp(x, -e.reshape((-1,) + (1,) * (x.ndim - 1)))
    for x in deg2:
        x[...] = np.ldexp(x, -2 * e.reshape((-1,) + (1,) * (x.ndim - 1)))
    return e


def _unscale(x: np.ndarray, two_e: Any, extra: int = 0) -> np.ndarray:
    """x * 2^(two_e + extra) (two_e per leading index, broadcast over trailing axes); +-inf beyond
    the range, never NaN for finite x."""
    x = np.asarray(x, dtype=np.float64)
    two_e = np.asarray(two_e, dtype=np.int64) + extra
    with np.errstate(over="ignore", under="ignore"):
        if two_e.ndim == 0:
            return np.ldexp(x, two_e)
        return np.ldexp(x, two_e.reshape((-1,) + (1,) * (x.ndim - 1)))


def _combine(parts: list) -> tuple[np.ndarray, np.ndarray]:
    """(m, K) with sum_i 2^(k_i) x_i = 2^K m exactly up to one rounding, per leading index, for
    parts (x_i, k_i) of equal shape (k_i an int or an int array over the leading index). K is the
    largest exponent among the parts, so a part that underflows is below 2^-1074 of the sum's
    largest term (negligible); this is how quantities of different units (the validation
    residual at w0 and the validation prediction of the displacement) are added."""
    ex = []
    for x, k in parts:
        x = np.asarray(x, dtype=np.float64)
        big = np.abs(x.reshape(x.shape[0], -1)).max(axis=1) if x.ndim > 1 else np.abs(x)
        e = np.frexp(big)[1].astype(np.int64) + np.asarray(k, dtype=np.int64)
        ex.append(np.where(big > 0, e, np.iinfo(np.int64).min // 4))
    K = np.maximum.reduce(ex) if len(ex) > 1 else ex[0]
    K = np.where(K < np.iinfo(np.int64).min // 8, 0, K)
    out = None
    with np.errstate(under="ignore"):
        for x, k in parts:
            x = np.asarray(x, dtype=np.float64)
            shift = (np.asarray(k, dtype=np.int64) - K).reshape((-1,) + (1,) * (x.ndim - 1))
            term = np.ldexp(x, np.maximum(shift, -2200))
            out = term if out is None else out + term
    return out, K


def _status(*arrays: np.ndarray) -> np.ndarray:
    ok = np.ones(arrays[0].shape[0], dtype=bool)
    for a in arrays:
        if a is not None:
            ok &= np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)
    return np.where(ok, "ok", "overflow").astype(object)


def _out(x: Any, scalar: bool) -> Any:
    if x is None:
        return None
    if scalar:
        x = x[0]
        if isinstance(x, np.ndarray) and x.ndim == 0:
            return float(x)
        if isinstance(x, (np.floating, float)):
            return float(x)
        return x
    return x


# ---------------------------------------------------------------------------------------------
# (a) finite training set


#: Steps between two rescalings of the finite-set state (module docstring, "Range" and "Cost"): the
#: state is rescaled by an exact power of 2 only every RESCALE_BLOCK steps, which gives bit for bit
#: the numbers of rescaling every step unless a value leaves the normal float64 range in between;
#: a block in which anything became non-finite is recomputed from its saved start one step at a
#: time, and blocks are used only while the carried constant c1 is >= 2^-60 (relative to a state
#: of size ~1), so that nothing the per-step rescaling keeps can become subnormal within a block.
RESCALE_BLOCK = 32
_C1_MIN = 2.0**-60


def _finite_set_losses(n: int, c1: np.ndarray, sums: np.ndarray, u: Any, dd: Any, gp: Any, valid: Any) -> tuple:
    """Losses of N states at once, in the states' units: training loss and d/d eta~ (mantissas),
    validation ones as (mantissa, exponent relative to the state's units) pairs.

    ``sums`` (N, 4) holds sum_j of (q_j, dq_j, rho_j^2, rho_j drho_j), or (N, 2) of (q_j, rho_j^2)
    without tangents (then the derivatives are None); with a validation set ``u`` and ``dd``
    (N, r) are the displacement and d delta / d eta~ (None without tangents), ``gp`` (N, 2) =
    <Gv, P>, <Gv, dP> (or (N, 1)).
    """
    nm = sums.shape[1] // 2
    tr = (sums[:, nm] + sums[:, 0]) / (2 * n)
    dtr = (2.0 * sums[:, 3] + sums[:, 1]) / (2 * n) if nm == 2 else None
    if valid is None:
        return tr, dtr, None, None
    Zv, Gv, rv0, kr, ku, g0, nv = valid
    rv, K = _combine([(c1[:, None] * rv0, kr), (u @ Zv.T, ku)])  # residual = 2^K rv
    va = _combine([(np.einsum("kn,kn->k", rv, rv) / (2 * nv), 2 * K), (gp[:, 0] / (2 * nv), 2 * ku)])
    if nm == 1:
        return tr, dtr, va, None
    drv = dd @ Zv.T  # unit ku
    dva = _combine([(np.einsum("kn,kn->k", rv, drv) / nv, K + ku), (gp[:, 1] / (2 * nv), 2 * ku)])
    return tr, dtr, va, dva


def _finite_set_recursion(Z, h, y_perp, etas, B, delta0, t, curve, valid, units, grad=True) -> tuple:
    r"""The moment recursion of case (a) in reduced coordinates (module docstring), ``t`` steps.

    Layout (chosen so that a step is two matrix products plus ~15 elementwise numpy calls on
    preallocated buffers): ``PD`` (k, 2, r, r) holds P and its tangent dP; ``DD`` (k, 2, r + 1)
    holds delta and ddelta with the carried constant c1 as the extra entry of delta (so that
    ``DD @ [Z^T; -y_perp]`` gives the mean residual rho and its tangent in one product). One step:

    * ``Z @ PD`` and a row-wise dot with Z give q_j = z_j^T P z_j and dq_j (fourth moments);
    * with v = q + rho^2, w_v = cB v / n and w_dv = (dcB v + cB (dq + 2 rho drho)) / n, one batched
      product ``[Z^T | Hd dHd] @ [diag(w) Z; rank rows]`` gives cB (E[S] - Hd Hd^T) and its tangent
      (the mean-gradient outer products ride along as two extra columns of the left factor);
      P is symmetric only up to rounding (its antisymmetric part is rounding that the map does
      not amplify faster than P itself: |K_ij| <= the spectral radius of the map) and is
      symmetrised once at the end;
    * P' = P o K + R_0 and dP' = dP o K + P o dK + R_1 with K = a a^T - cB h h^T (elementwise, the
      A P A - cB H P H part), dK its eta-derivative; delta' = a delta, ddelta' = a ddelta - h delta.

    Without ``grad`` the tangents are left out (the second axis of ``PD``, ``DD``, ... has length 1,
    and the two products are half as wide); the values are the same up to rounding.

    Returns (P, delta, u, c1, E, (tr, dtr, va, dva) at step t, curves or None); the state is 2^E
    times the stored one (E per step size), as in :func:`_rescale`.
    """
    x_loss, x_grad, k1 = units
    n, r = Z.shape
    k = etas.size
    ra = r + 1
    et = etas[:, None]
    a = 1.0 - et * h  # (k, r)
    cB = etas * etas / B
    dcB = 2.0 * etas / B
    hh = np.outer(h, h)
    ha = h[None, :, None] * a[:, None, :]
    K = (a[:, :, None] * a[:, None, :] - cB[:, None, None] * hh)[:, None]  # (k, 1, r, r), symmetric
    dK = -(ha + np.swapaxes(ha, 1, 2)) - dcB[:, None, None] * hh  # d K / d eta~, exactly symmetric
    a_aug = np.ones((k, 1, ra))
    a_aug[:, 0, :r] = a
    ZaT = np.empty((ra, n))  # [Z^T; -y_perp]: DD @ ZaT = (rho, drho)
    ZaT[:r] = Z.T
    ZaT[r] = -y_perp
    c_, dc_ = cB / n, dcB / n
    nm = 2 if grad else 1  # value (and tangent)
    M24 = np.zeros((k, nm, 2 * nm))  # (q, dq, rho^2, rho drho) -> (w_v, w_dv), or (q, rho^2) -> w_v
    M24[:, 0, 0] = M24[:, 0, nm] = c_
    C = np.zeros((k, nm, nm, nm))  # rank rows of the right factor from (Hd, dHd)
    C[:, 0, 0, 0] = -cB
    if grad:
        M24[:, 1, 0] = M24[:, 1, 2] = dc_
        M24[:, 1, 1] = c_
        M24[:, 1, 3] = 2.0 * c_
        C[:, 1, 0, 1] = C[:, 1, 1, 0] = -cB
        C[:, 1, 0, 0] = -dcB

    PD = np.zeros((k, nm, r, r))
    DD = np.zeros((k, nm, ra))
    DD[:, 0, :r] = delta0
    DD[:, 0, r] = 1.0
    has_valid = valid is not None
    if has_valid:
        Zv, Gv, rv0, kr, ku, g0, nv = valid
        u = np.zeros((k, r))  # E[a] - a0: u' = a u - eta~ c1 g0
    else:
        u = None
    E = np.zeros(k, dtype=np.int64)
    ZP = np.empty((k, nm, n, r))
    RR = np.empty((k, nm, n))
    V4 = np.empty((k, 2 * nm, n))
    W2 = np.empty((k, nm, n))
    Left = np.empty((k, 1, r, n + nm))  # [Z^T | Hd dHd], shared by the value and the tangent
    Left[:, 0, :, :n] = Z.T
    HdT = Left[:, 0, :, n:]  # (k, r, nm): H delta, H ddelta
    Right = np.empty((k, nm, n + nm, r))  # [diag(w_v) Z; rank rows] and [diag(w_dv) Z; rank rows]
    Rb = np.empty((k, nm, r, r))
    tmp = np.empty((k, r, r)) if grad else None
    ecg = np.empty((k, r))
    nb = RESCALE_BLOCK if curve else 1
    rec_sums = np.empty((nb, k, 2 * nm))
    rec_u = np.empty((nb, k, r)) if has_valid else None
    rec_dd = np.empty((nb, k, r)) if (has_valid and grad) else None
    rec_gp = np.empty((nb, k, nm)) if has_valid else None
    rec_c1 = np.empty((nb, k))
    if curve:
        tc = np.empty((k, t + 1))
        tgc = np.empty((k, t + 1)) if grad else None
        vc = np.empty((k, t + 1)) if has_valid else None
        vgc = np.empty((k, t + 1)) if (has_valid and grad) else None

    def observe(i: int, record: bool) -> None:
        """rho, q and their tangents of the current state; if ``record``, what the losses need
        into record i."""
        np.matmul(Z, PD, out=ZP)
        np.matmul(DD, ZaT, out=RR)
        np.einsum("kmnr,nr->kmn", ZP, Z, out=V4[:, 0:nm])  # q_j = z_j^T P z_j, dq_j = z_j^T dP z_j
        np.multiply(RR, RR[:, 0:1], out=V4[:, nm:])  # rho^2, rho drho
        if record:
            V4.sum(axis=-1, out=rec_sums[i])
            rec_c1[i] = DD[:, 0, r]
            if has_valid:
                rec_u[i] = u
                if grad:
                    rec_dd[i] = DD[:, 1, :r]
                np.einsum("ij,kmij->km", Gv, PD, out=rec_gp[i])

    def advance() -> None:
        """One step of the recursion (after observe)."""
        np.matmul(M24, V4, out=W2)
        np.multiply(W2[:, :, :, None], Z, out=Right[:, :, :n, :])
        np.multiply(h[:, None], DD[:, :, :r].transpose(0, 2, 1), out=HdT)
        np.matmul(C, HdT.transpose(0, 2, 1)[:, None], out=Right[:, :, n:, :])
        np.matmul(Left, Right, out=Rb)  # cB (E[S] - Hd Hd^T) and its tangent
        if grad:
            np.multiply(PD[:, 0], dK, out=tmp)
        np.multiply(PD, K, out=PD)
        np.add(PD, Rb, out=PD)
        np.multiply(a_aug, DD, out=DD)
        if grad:
            np.add(PD[:, 1], tmp, out=PD[:, 1])
            np.subtract(DD[:, 1, :r], HdT[:, :, 0], out=DD[:, 1, :r])
        if has_valid:
            np.multiply(a, u, out=u)
            np.subtract(u, ecg, out=u)

    def rescale(force: bool) -> Any:
        """Rescale the state to max in [1/2, 1) (as :func:`_rescale`); None (state untouched) if it
        is not finite and ``force`` is False."""
        scale = np.abs(DD).max(axis=(1, 2))
        if has_valid:
            scale = np.maximum(scale, np.abs(u).max(axis=1, initial=0.0))
        scale = np.maximum(scale, np.sqrt(np.abs(PD).max(axis=(1, 2, 3), initial=0.0)))
        if not force and not np.isfinite(scale).all():
            return None
        e = np.frexp(scale)[1].astype(np.int64)
        if e.any():
            DD[...] = np.ldexp(DD, -e[:, None, None])
            PD[...] = np.ldexp(PD, -2 * e[:, None, None, None])
            if has_valid:
                u[...] = np.ldexp(u, -e[:, None])
        return e

    def flush(m: int, tau0: int) -> None:
        """Curve points tau0 .. tau0 + m - 1 from records 0 .. m-1 (taken with exponent E)."""
        N = m * k
        sums = rec_sums[:m].reshape(N, 2 * nm)
        c1s = rec_c1[:m].reshape(N)
        if has_valid:
            dd = rec_dd[:m].reshape(N, r) if grad else None
            vals = _finite_set_losses(n, c1s, sums, rec_u[:m].reshape(N, r), dd, rec_gp[:m].reshape(N, nm), valid)
        else:
            vals = _finite_set_losses(n, c1s, sums, None, None, None, None)
        tr_, dtr_, va_, dva_ = vals
        two_e = np.tile(2 * E, m)
        sl = slice(tau0, tau0 + m)
        tc[:, sl] = _unscale(tr_, two_e, x_loss).reshape(m, k).T
        if grad:
            tgc[:, sl] = _unscale(dtr_, two_e, x_grad).reshape(m, k).T
        if has_valid:
            vc[:, sl] = _unscale(va_[0], two_e + va_[1]).reshape(m, k).T
            if grad:
                vgc[:, sl] = _unscale(dva_[0], two_e + dva_[1], 2 * k1).reshape(m, k).T

    def set_block_constants() -> None:
        if has_valid:
            np.multiply(et * DD[:, 0, r][:, None], g0, out=ecg)

    with np.errstate(under="ignore"):
        E += rescale(True)
        tau = 0
        while tau < t:
            m = min(RESCALE_BLOCK, t - tau) if bool(np.all(DD[:, 0, r] >= _C1_MIN)) else 1
            set_block_constants()
            saved = (PD.copy(), DD.copy(), None if u is None else u.copy()) if m > 1 else None
            for i in range(m):
                observe(i, curve)
                advance()
            e = rescale(m == 1)
            if e is not None:
                if curve:
                    flush(m, tau)
                E += e
            else:  # left the range inside the block: redo it, rescaling every step
                PD[...], DD[...] = saved[0], saved[1]
                if has_valid:
                    u[...] = saved[2]
                for i in range(m):
                    set_block_constants()
                    observe(0, curve)
                    advance()
                    e = rescale(True)
                    if curve:
                        flush(1, tau + i)
                    E += e
            tau += m
        observe(0, True)  # step t: its losses
        if curve:
            flush(1, t)
        if has_valid:
            last = _finite_set_losses(n, rec_c1[0], rec_sums[0], rec_u[0], rec_dd[0] if grad else None, rec_gp[0], valid)
        else:
            last = _finite_set_losses(n, rec_c1[0], rec_sums[0], None, None, None, None)
    P = 0.5 * (PD[:, 0] + np.swapaxes(PD[:, 0], 1, 2))  # symmetric up to rounding: made exact
    delta = DD[:, 0, :r].copy()
    c1 = DD[:, 0, r].copy()
    curves = (tc, tgc, vc, vgc) if curve else None
    return P, delta, u, c1, E, last, curves


@returns(FiniteSetMoments)
def finite_set_expectation(
    problem: LeastSquaresProblem,
    eta: Any,
    t: Any,
    batch_size: Any = 1,
    w0: Any = None,
    *,
    curve: bool = False,
    grad: bool = True,
) -> FiniteSetMoments:
    r"""Exact E[training loss] and E[validation loss] after ``t`` SGD steps, and their d/d eta.

    Minibatches of ``batch_size`` indices are drawn uniformly with replacement at every step;
    ``w0`` (default 0) is deterministic; ``eta`` (>= 0) is one step size or a 1-D list (evaluated
    together, vectorised). Recursion and reduction: see the module docstring, case (a). Cost
    ``O(len(eta) t n r^2)`` with ``r = rank X``; d = 100, n = 50 (r = 50), t = 1000 takes about
    0.1 s of CPU time (``benchmarks/sgd_moments.py``). With ``grad=False`` the eta-tangent is not
    carried (about half the work) and the ``*_grad`` fields are None.

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0], [[1.0, 1.0]], [3.0])
    >>> r = finite_set_expectation(p, 1.0, 1, curve=True)
    >>> r.expected_valid_loss, r.valid_curve.tolist()   # w_1 = e_1 or e_2: (3 - 1)^2 / 2
    (2.0, [4.5, 2.0])
    """
    if not isinstance(problem, LeastSquaresProblem):
        raise ValidationError("problem", f"must be a LeastSquaresProblem (got {type(problem).__name__})")
    etas, scalar = as_step_sizes("eta", eta)
    t = as_horizon("t", t, maximum=MAX_MOMENT_STEPS)
    B = as_batch_size(batch_size)
    if not isinstance(curve, (bool, np.bool_)):
        raise ValidationError("curve", f"must be True or False (got {curve!r})")
    if not isinstance(grad, (bool, np.bool_)):
        raise ValidationError("grad", f"must be True or False (got {grad!r})")
    n, d = problem.X.shape
    w0 = as_vector_of_length("w0", w0, d)
    # Exact power-of-2 normalisation of the data (module docstring, "Range"): with X = 2^k1 X~,
    # y = 2^(k1 + k2) y~, w = 2^k2 w~ and eta~ = 4^k1 eta the process is the same, and the losses
    # scale by 4^(k1 + k2), their eta-derivatives by 16^k1 4^k2, the moments of w by 2^k2, 4^k2.
    # The exponents are chosen from frexp exponents (never by forming y / 2^k1, which can leave the
    # range), so that max|X~| and max(|y~|, |w0~|) are in [1/2, 1). The validation set has its own
    # scale (see below), since its predictions need not be of the size of the training targets.
    k1 = _exponent(float(np.max(np.abs(problem.X))))
    X = np.ldexp(problem.X, -k1)
    C_s = float(np.max(np.einsum("ij,ij->i", X, X)))  # max_j ||x_j||^2 / 4^k1, <= d
    _check_eta_scale(float(etas.max()), C_s, k1, "X: max_j ||x_j||^2")
    ey, ew = _exponent(float(np.max(np.abs(problem.y)))), _exponent(float(np.max(np.abs(w0))))
    k2 = max(ey - k1 if np.any(problem.y) else -(2**40), ew if np.any(w0) else -(2**40))
    k2 = 0 if k2 == -(2**40) else k2
    with np.errstate(under="ignore"):
        y, w0 = np.ldexp(problem.y, -(k1 + k2)), np.ldexp(w0, -k2)
    etas_in = etas
    with np.errstate(under="ignore"):  # eta~ below the range: a step moves w by < 2^-1074 of it
        etas = np.ldexp(etas, 2 * k1)
    x_loss, x_grad = 2 * k1 + 2 * k2, 4 * k1 + 2 * k2  # extra exponents of losses, derivatives

    # reduction to the row space of X (module docstring, "Reduction")
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    tol = (s[0] if s.size else 0.0) * max(n, d) * np.finfo(np.float64).eps
    r = int(np.sum(s > tol))
    _check_cost(etas.size, t, 4.0 * n * r * r + 12.0 * r * r + 4.0 * n * r, curve)
    U, s, V = U[:, :r], s[:r], Vt[:r].T
    Z = U * s  # (n, r) = X V
    h = s * s / n  # H = diag(h) in this basis
    a0 = V.T @ w0
    w_perp = w0 - V @ a0  # constant part of every iterate
    y_eff = y - X @ w_perp  # ~ y (exactly y when no singular value was dropped)
    proj = U.T @ y_eff
    a_star = proj / s
    y_perp = y_eff - U @ proj
    has_valid = problem.has_validation
    if has_valid:
        # Validation, in its own units: X_valid = 2^kv Xv~, so X_valid w = 2^(kv + k2) Xv~ w~; the
        # residual at w0, X_valid w0 - y_valid = 2^kr rv0~, in the unit 2^kr of its larger part.
        # The residual at w_t is rv0 + X_valid V u with u = a - a0 the displacement (tracked
        # itself): forming it from delta = a - a* would cancel when |a*| >> |a - a0| (data of
        # 1e-20 and a validation set of size 1).
        kv = _exponent(float(np.max(np.abs(problem.X_valid))))
        Xv = np.ldexp(problem.X_valid, -kv)
        nv = Xv.shape[0]
        Zv = Xv @ V
        Gv = Zv.T @ Zv
        xw0 = Xv @ w0
        e_xw0 = kv + k2 + _exponent(float(np.max(np.abs(xw0)))) if np.any(xw0) else None
        e_yv = _exponent(float(np.max(np.abs(problem.y_valid)))) if np.any(problem.y_valid) else None
        kr = max([e for e in (e_xw0, e_yv) if e is not None], default=0)
        with np.errstate(under="ignore"):
            rv0 = np.ldexp(xw0, kv + k2 - kr) - np.ldexp(problem.y_valid, -kr)
        ku = kv + k2  # unit of Xv~ V u~
        g0 = s * (U.T @ (X @ w0 - y)) / n  # mean gradient at w0 (reduced coordinates)
    valid = (Zv, Gv, rv0, kr, ku, g0, nv) if has_valid else None

    state = _finite_set_recursion(Z, h, y_perp, etas, B, a0 - a_star, t, curve, valid, (x_loss, x_grad, k1), bool(grad))
    P, delta, u, c1, E, (tr, dtr, va, dva) = state[:6]
    if curve:
        tc, tgc, vc, vgc = state[6]

    two_e = 2 * E
    f_tr, g_tr = _unscale(tr, two_e, x_loss), (_unscale(dtr, two_e, x_grad) if grad else None)
    f_va = g_va = None
    if has_valid:
        f_va = _unscale(va[0], two_e + va[1])
        g_va = _unscale(dva[0], two_e + dva[1], 2 * k1) if grad else None
    # E[w_t] = w0 + V E[a - a0], the displacement taken from whichever form has the smaller terms:
    # u itself (tracked with a validation set) or delta - (a0 - a*) (cancels when |a*| >> |u|)
    disp_d = delta + c1[:, None] * (a_star - a0)
    if has_valid:
        scale_d = np.abs(delta).max(-1, initial=0.0) + np.abs(c1[:, None] * (a_star - a0)).max(-1, initial=0.0)
        disp = np.where((np.abs(u).max(-1, initial=0.0) <= scale_d)[:, None], u, disp_d)
    else:
        disp = disp_d
    mean_s = c1[:, None] * w0[None, :] + disp @ V.T
    cov_s = V @ P @ V.T
    mean = _unscale(mean_s, E, k2)
    cov = _unscale(cov_s, two_e, 2 * k2)
    second = _unscale(cov_s + mean_s[:, :, None] * mean_s[:, None, :], two_e, 2 * k2)
    status = _status(f_tr, g_tr, f_va, g_va)
    return FiniteSetMoments(
        eta=_out(etas_in, scalar),
        t=t,
        batch_size=B,
        rank=r,
        expected_train_loss=_out(f_tr, scalar),
        expected_train_loss_grad=_out(g_tr, scalar),
        expected_valid_loss=_out(f_va, scalar),
        expected_valid_loss_grad=_out(g_va, scalar),
        status=_out(status, scalar),
        mean=_out(mean, scalar),
        covariance=_out(cov, scalar),
        second_moment=_out(second, scalar),
        train_curve=_out(tc, scalar) if curve else None,
        train_grad_curve=_out(tgc, scalar) if curve and grad else None,
        valid_curve=_out(vc, scalar) if curve else None,
        valid_grad_curve=_out(vgc, scalar) if curve and grad else None,
    )


# ---------------------------------------------------------------------------------------------
# (b) fresh Gaussian samples


def gaussian_expectation(
    Sigma: Any,
    w_star: Any,
    sigma2: Any,
    eta: Any,
    t: Any,
    batch_size: Any = 1,
    w0: Any = None,
    *,
    curve: bool = False,
) -> GaussianMoments:
    r"""Exact population loss E[1/2 (y - <w_t, x>)^2] after ``t`` SGD steps on fresh Gaussian data.

    ``Sigma``: covariance of x (d x d symmetric PSD, or a length-d diagonal); ``w_star``: the
    teacher; ``sigma2 >= 0``: label-noise variance; ``w0`` deterministic (default 0). Recursion: see
    the module docstring, case (b). Cost ``O(len(eta) t d^2)`` (the loss itself needs only
    ``O(d)`` per step; the ``d^2`` is the returned second moment).

    A singular Sigma is fine: the direction it does not excite keeps its initial value. At
    ``eta = 1`` the excited error is multiplied by 0 in mean and its second moment by ``2 / B``
    per step, so the loss after 3 steps is ``(2 / B)^3 / 2``::

        >>> g = gaussian_expectation([[1.0, 0.0], [0.0, 0.0]], [1.0, 2.0], 0.0, 1.0, 3, batch_size=10**9)
        >>> round(g.expected_loss / ((2e-9) ** 3 / 2), 12), g.mean.tolist()
        (1.0, [1.0, 0.0])
    """
    lam, Uv = as_psd_matrix("Sigma", Sigma)
    d = lam.size
    ws = as_vector_of_length("w_star", w_star, d, zero_if_none=False)
    s2 = as_nonnegative_reals("sigma2", sigma2)
    if s2.ndim != 0:
        raise ValidationError("sigma2", "must be a single number >= 0")
    s2 = float(s2)
    etas, scalar = as_step_sizes("eta", eta)
    t = as_horizon("t", t, maximum=MAX_MOMENT_STEPS)
    B = as_batch_size(batch_size)
    w0 = as_vector_of_length("w0", w0, d)
    if not isinstance(curve, (bool, np.bool_)):
        raise ValidationError("curve", f"must be True or False (got {curve!r})")
    _check_cost(etas.size, t, 4.0 * d * d + 20.0 * d, curve)
    # exact power-of-2 normalisation (as in finite_set_expectation): x = 2^k1 x~, so Sigma~ =
    # Sigma / 4^k1, eta~ = 4^k1 eta, sigma~ = sigma / 2^k1; then w, w*, sigma~ scale by 2^k2.
    k1 = _exponent(float(np.sqrt(lam.max())))
    lam = np.ldexp(lam, -2 * k1)
    _check_eta_scale(float(etas.max()), float(lam.sum()), k1, "Sigma: trace")
    sig = np.ldexp(np.sqrt(s2), -k1)
    k2 = _exponent(max(float(np.max(np.abs(ws))), float(np.max(np.abs(w0))), float(sig)))
    ws, w0, sig = np.ldexp(ws, -k2), np.ldexp(w0, -k2), np.ldexp(sig, -k2)
    etas_in = etas
    etas = np.ldexp(etas, 2 * k1)
    x_loss, x_grad = 2 * k1 + 2 * k2, 4 * k1 + 2 * k2

    e0 = w0 - ws
    if Uv is not None:
        e0 = Uv.T @ e0
    k = etas.size
    et = etas[:, None]
    a = 1.0 - et * lam  # (k, d)
    cB = etas * etas / B
    dcB = 2.0 * etas / B
    Kd = a * a + cB[:, None] * lam * lam  # diagonal transfer, (k, d)
    dKd = -2.0 * lam * a + dcB[:, None] * lam * lam
    Koff = a[:, :, None] * a[:, None, :] + cB[:, None, None] * np.outer(lam, lam)

    c1 = np.ones(k)
    m = np.tile(e0, (k, 1))  # E[e] in the eigenbasis
    M = np.tile(np.outer(e0, e0), (k, 1, 1))  # E[e e^T] in the eigenbasis
    v = np.tile(e0 * e0, (k, 1))  # its diagonal (evolves on its own)
    dv = np.zeros((k, d))
    E = np.zeros(k, dtype=np.int64)
    diag = np.arange(d)
    if curve:
        lc = np.empty((k, t + 1))
        lgc = np.empty((k, t + 1))
    with np.errstate(under="ignore"):
        for tau in range(t + 1):
            lv = v @ lam
            dlv = dv @ lam
            src = lv + (sig * c1) ** 2  # tr(Sigma M_e) + sigma^2 (scaled)
            if curve:
                lc[:, tau] = _unscale(0.5 * src, 2 * E, x_loss)
                lgc[:, tau] = _unscale(0.5 * dlv, 2 * E, x_grad)
            if tau == t:
                break
            dv = dKd * v + Kd * dv + (dcB * src)[:, None] * lam + (cB * dlv)[:, None] * lam
            v = Kd * v + (cB * src)[:, None] * lam
            M = M * Koff
            M[:, diag, diag] = v
            m = a * m
            E += _rescale([c1, m], [v, dv, M])
    two_e = 2 * E
    loss = _unscale(0.5 * src, two_e, x_loss)
    grad = _unscale(0.5 * dlv, two_e, x_grad)
    if Uv is not None:
        m = m @ Uv.T
        M = Uv @ M @ Uv.T
    wsc = c1[:, None] * ws  # w* in the scaled units
    mean = _unscale(wsc + m, E, k2)
    cov = _unscale(M - m[:, :, None] * m[:, None, :], two_e, 2 * k2)
    second = _unscale(
        M + wsc[:, :, None] * wsc[:, None, :] + wsc[:, :, None] * m[:, None, :] + m[:, :, None] * wsc[:, None, :],
        two_e,
        2 * k2,
    )
    status = _status(loss, grad)
    return GaussianMoments(
        eta=_out(etas_in, scalar),
        t=t,
        batch_size=B,
        expected_loss=_out(loss, scalar),
        expected_loss_grad=_out(grad, scalar),
        status=_out(status, scalar),
        mean=_out(mean, scalar),
        covariance=_out(cov, scalar),
        second_moment=_out(second, scalar),
        loss_curve=_out(lc, scalar) if curve else None,
        loss_grad_curve=_out(lgc, scalar) if curve else None,
    )


# ---------------------------------------------------------------------------------------------
# (c) additive noise, optional heavy-ball momentum and schedules


def additive_noise_expectation(
    H: Any,
    b: Any,
    S: Any,
    eta: Any,
    t: Any,
    *,
    mu: Any = 0.0,
    mean0: Any = None,
    cov0: Any = None,
    loss_offset: Any = 0.0,
    curve: bool = False,
) -> AdditiveNoiseMoments:
    r"""Exact E[f(w_t)] for SGD (heavy ball if ``mu != 0``) with gradient ``H w - b + eps``.

    ``H``: symmetric PSD (d x d) or its diagonal (length d); ``b``: length d; ``S``: covariance of
    the independent noise ``eps`` (d x d PSD or a diagonal); ``eta`` >= 0 and ``mu`` (|mu| <=
    1e100): numbers or schedules of length ``t``; ``mean0``/``cov0``: mean (default 0) and
    covariance (default 0; d x d or diagonal) of ``w_0``; ``v_0 = 0``. The objective is
    ``f(w) = 1/2 w^T H w - b^T w + loss_offset``. Recursion: module docstring, case (c).
    Cost ``O(t d)`` if H, S, cov0 are all given as diagonals, else ``O(t d^2)`` (+ one ``eigh``).

    Noisy quadratic model (Wu et al. 2018) with h = 1, sigma2 = 1 (so S = h^2 sigma2 = 1 and the
    irreducible loss is 1/2), eta = mu = 1/2, w_0 = 1: by hand ``w_1 = (1 - eps_1) / 2`` and
    ``w_2 = -(eps_1 + eps_2) / 2``, so E[loss] is 1, 3/4, 3/4 and the greedy step at ``w_2`` is
    ``E w^2 / (E w^2 + 1) = 1/3``::

        >>> nq = additive_noise_expectation([1.0], [0.0], [1.0], 0.5, 2, mu=0.5, mean0=[1.0],
        ...                                 loss_offset=0.5, curve=True)
        >>> nq.loss_curve.tolist(), round(nq.greedy_eta, 15)
        ([1.0, 0.75, 0.75], 0.333333333333333)
    """
    h, Uh = as_psd_matrix("H", H)
    d = h.size
    bb = as_vector_of_length("b", b, d, zero_if_none=False)
    sS, US = as_psd_matrix("S", S, d)
    t = as_horizon("t", t, maximum=MAX_MOMENT_STEPS)
    etas = as_schedule("eta", eta, t, nonneg=True)
    mus = as_schedule("mu", mu, t, nonneg=False)
    if np.max(np.abs(mus)) > MAX_ETA_SCALE:
        raise ValidationError("mu", f"must satisfy |mu| <= {MAX_ETA_SCALE:.0e}")
    m0 = as_vector_of_length("mean0", mean0, d)
    if cov0 is None:
        c0, Uc = np.zeros(d), None
    else:
        c0, Uc = as_psd_matrix("cov0", cov0, d)
    off = as_real_array("loss_offset", loss_offset)
    if off.ndim != 0:
        raise ValidationError("loss_offset", f"must be a single finite number (got shape {off.shape})")
    off = float(off)
    if not isinstance(curve, (bool, np.bool_)):
        raise ValidationError("curve", f"must be True or False (got {curve!r})")
    # exact power-of-2 normalisation: H = 4^k1 H~, eta~ = 4^k1 eta, b~ = b / 4^k1, S~ = S / 16^k1
    # (the same process); then w, b~, sqrt(S~) scale by 2^k2. The loss scales by 4^(k1 + k2), its
    # derivative by 16^k1 4^k2, greedy_eta by 4^-k1, the moments of w and v by 2^k2 and 4^k2.
    k1 = _exponent(float(np.sqrt(h.max())))
    h = np.ldexp(h, -2 * k1)
    _check_eta_scale(float(etas.max()), float(h.max()), k1, "H: largest eigenvalue")
    bb = np.ldexp(bb, -2 * k1)
    sS = np.ldexp(sS, -4 * k1)
    sq_off = np.ldexp(np.sqrt(abs(off)), -k1)
    k2 = _exponent(max(float(np.max(np.abs(bb))), float(np.sqrt(sS.max())), float(np.max(np.abs(m0))), float(np.sqrt(c0.max())), float(sq_off)))
    bb, m0 = np.ldexp(bb, -k2), np.ldexp(m0, -k2)
    sS, c0 = np.ldexp(sS, -2 * k2), np.ldexp(c0, -2 * k2)
    off = float(np.ldexp(off, -2 * k1 - 2 * k2))
    etas = np.ldexp(etas, 2 * k1)
    x_loss, x_grad = 2 * k1 + 2 * k2, 4 * k1 + 2 * k2

    diagonal = Uh is None and US is None and Uc is None
    _check_cost(1, t, (64.0 * d) if diagonal else (64.0 * d * d), curve)
    # everything in the eigenbasis of H
    if diagonal:
        St = sS
        C0 = c0
    else:
        Ufull = np.eye(d) if Uh is None else Uh
        Sd = np.diag(sS) if US is None else (US * sS) @ US.T
        Cd = np.diag(c0) if Uc is None else (Uc * c0) @ Uc.T
        St = Ufull.T @ Sd @ Ufull
        St = 0.5 * (St + St.T)
        C0 = Ufull.T @ Cd @ Ufull
        C0 = 0.5 * (C0 + C0.T)
        bb = Ufull.T @ bb
        m0 = Ufull.T @ m0
    sub = "agi,gdi,bdi->abi" if diagonal else "agi,gdij,bdj->abij"

    def cong(P, T, U):  # T P U^T for per-coordinate 2x2 blocks
        return np.einsum(sub, T, P, U, optimize=False)

    def btrans(X):  # block transpose
        return np.swapaxes(X, 0, 1) if diagonal else np.swapaxes(np.swapaxes(X, 0, 1), 2, 3)

    shape2 = (2, 2) + St.shape
    P = np.zeros(shape2)
    P[0, 0] = C0
    dP = np.zeros(shape2)
    z = np.zeros((2, d))
    z[0] = m0
    dz = np.zeros((2, d))
    c1 = np.ones(1)
    E = 0
    Tdot = np.zeros((2, 2, d))
    Tdot[0, 0] = Tdot[1, 0] = -h
    if curve:
        lc = np.empty(t + 1)
        lgc = np.empty(t + 1)

    def pww_diag(X):
        return X[0, 0] if diagonal else np.diagonal(X[0, 0])

    def loss_and_grad():
        mw, dmw = z[0], dz[0]
        f = 0.5 * (h @ pww_diag(P) + h @ (mw * mw)) - c1[0] * (bb @ mw) + off * c1[0] ** 2
        g = 0.5 * (h @ pww_diag(dP) + 2.0 * (h @ (mw * dmw))) - c1[0] * (bb @ dmw)
        return f, g

    T = np.empty((2, 2, d))
    with np.errstate(under="ignore"):
        for tau in range(t + 1):
            if curve:
                f, g = loss_and_grad()
                lc[tau], lgc[tau] = _unscale(f, 2 * E, x_loss), _unscale(g, 2 * E, x_grad)
            if tau == t:
                break
            e, mu_ = etas[tau], mus[tau]
            T[0, 0] = 1.0 - e * h
            T[0, 1] = mu_
            T[1, 0] = -e * h
            T[1, 1] = mu_
            cross = cong(P, Tdot, T)
            noise = (c1[0] ** 2) * St
            dP = cong(dP, T, T) + cross + btrans(cross) + (2.0 * e) * noise
            P = cong(P, T, T) + (e * e) * noise
            dz = np.einsum("agi,gi->ai", T, dz) + np.einsum("agi,gi->ai", Tdot, z) + c1[0] * bb
            z = np.einsum("agi,gi->ai", T, z) + (e * c1[0]) * bb
            if not diagonal:
                P = 0.5 * (P + btrans(P))
                dP = 0.5 * (dP + btrans(dP))
            ee = _rescale([c1, z[None, 0], z[None, 1], dz[None, 0], dz[None, 1]], [P[None], dP[None]])
            E += int(ee[0])
    f, g = loss_and_grad()
    with np.errstate(over="ignore", under="ignore"):
        f_out, g_out = float(_unscale(f, 2 * E, x_loss)), float(_unscale(g, 2 * E, x_grad))
        # greedy plain-SGD step from the final state (scale-free ratio)
        pd = pww_diag(P)
        gm = h * z[0] - c1[0] * bb
        num = h @ (h * pd) + gm @ gm
        den = h @ (h * h * pd) + gm @ (h * gm) + (c1[0] ** 2) * (h @ (St if diagonal else np.diagonal(St)))
        greedy = float(np.ldexp(num / den, -2 * k1)) if den > 0 else (0.0 if num == 0 else float("inf"))
        Pw = np.diag(P[0, 0]) if diagonal else P[0, 0]
        mw, mv = z[0], z[1]
        second_s = Pw + np.outer(mw, mw)
        if not diagonal:
            mw, mv = Ufull @ mw, Ufull @ mv
            Pw = Ufull @ Pw @ Ufull.T
            second_s = Ufull @ second_s @ Ufull.T
        mean = _unscale(mw, E, k2)
        vmean = _unscale(mv, E, k2)
        cov = _unscale(Pw, 2 * E, 2 * k2)
        second = _unscale(second_s, 2 * E, 2 * k2)
    status = "ok" if np.isfinite(f_out) and np.isfinite(g_out) else "overflow"
    return AdditiveNoiseMoments(
        t=t,
        expected_loss=f_out,
        expected_loss_grad=g_out,
        greedy_eta=greedy,
        status=status,
        mean=mean,
        covariance=cov,
        second_moment=second,
        velocity_mean=vmean,
        loss_curve=lc if curve else None,
        loss_grad_curve=lgc if curve else None,
    )
