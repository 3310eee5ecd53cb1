r"""Truncation bias of TBPTT and of truncated ES on a quadratic (Metz et al. 2019).

Source: Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (2019), "Understanding and
correcting pathologies in the training of learned optimizers", the short-truncation bias of the
abstract; spec items A6 (TBPTT fixed points, [derived]) and A7 (truncated ES has the same bias,
[derived], a prediction until run).

Setting. GD with step :math:`\eta` on :math:`f(w)=\tfrac12\sum_i\lambda_i w_i^2` from
:math:`w_0 = c` (a :class:`~l2l.numerics.problems.QuadraticProblem`), so that
:math:`w_{t,i} = r_i^t c_i` with :math:`r_i = 1-\eta\lambda_i`. The meta-loss averages the
trajectory,

.. math::  L_T(\eta) = \frac1T\sum_{t=1}^T f(w_t).

TBPTT with window :math:`K` cuts :math:`1..T` into windows :math:`\{s+1..s+k\}`, :math:`s = 0, K,
2K, \dots` (the last one of length :math:`R = T - nK` if :math:`K` does not divide :math:`T`). In
a window, :math:`w_t = (1-\eta\lambda)^{t-s} w_s` with :math:`w_s` held fixed, so that

.. math::  g_K(\eta) = -\frac1T\sum_i\lambda_i^2c_i^2\Big[S_i(K)\sum_{m=0}^{n-1}u_i^{mK}
           + u_i^{nK}S_i(R)\Big],\qquad S_i(k)=\sum_{j=1}^k j\,r_i^{2j-1},\quad u_i=r_i^2 .

For :math:`K = T` this is :math:`dL_T/d\eta` (one window). Every term of :math:`S_i` has the sign
of :math:`r_i` (odd power), so :math:`S_i` is summed without cancellation; the window sum is a
geometric series evaluated with ``expm1``.

Truncated antithetic ES on each window perturbs the step *inside* the window only,
:math:`\eta' = \eta\pm\sigma\varepsilon`, while the window's start :math:`w_s` comes from the
unperturbed :math:`\eta`. Its expectation over :math:`\varepsilon\sim\mathcal N(0,1)` is

.. math::  e_K(\eta) = \sum_{\text{windows}}\mathbb E_\varepsilon\Big[\varepsilon\,
           \frac{W_s(\eta+\sigma\varepsilon) - W_s(\eta-\sigma\varepsilon)}{2\sigma}\Big],\qquad
           W_s(\eta') = \frac1T\sum_{t=s+1}^{s+k}\tfrac12\sum_i\lambda_i r_i^{2s}c_i^2\,
           (1-\eta'\lambda_i)^{2(t-s)} ,

a polynomial of degree :math:`2K` in :math:`\eta'`: Gauss-Hermite quadrature with :math:`K+1`
nodes is exact (degree :math:`2K+1` with the factor :math:`\varepsilon`). The window loss at each
node is the geometric sum :math:`\sum_{j=1}^k x^j`, :math:`x=(1-\eta'\lambda)^2`, taken in log
space, so that outer nodes (where :math:`x^k` overflows but the weight underflows) give 0, not NaN.
With :math:`K = T` it is the expected *full-unroll* ES gradient, the derivative of the smoothed
:math:`\mathbb E[L_T(\eta+\sigma\varepsilon)]`.

Limits. ``eta`` lies in :math:`[0, 2/L]`, where :math:`|r_i|\le1` and
:math:`|g_K|\le\tfrac{K+1}2\sum_i\lambda_i^2c_i^2` (problems where that bound exceeds float64 are
refused); windows :math:`K\le` :data:`MAX_WINDOW` (the work is :math:`O(Kd)` per evaluation for
TBPTT, :math:`O(Kd)` Gauss-Hermite nodes for ES), any :math:`T\le` ``MAX_HORIZON``. An expected
ES gradient whose magnitude exceeds float64 (very large :math:`\sigma\lambda K`) is refused with
a message naming ``sigma``, never returned as inf or NaN.

Example (the spec's 2-D problem; the spec's values are 1.1716 and 1.0050, 1.0464)::

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0, 0.01], [1.0, 1.0])
    >>> round(full_minimiser(p, 1000), 4)
    1.1716
    >>> [round(tbptt_fixed_point(p, 1000, k), 4) for k in (1, 20)]
    [1.005, 1.0464]
    >>> round(truncated_es_fixed_point(p, 1000, 20, 0.01), 4)
    1.0464
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..problems import QuadraticProblem
from .meta_loss import signed_logsumexp
from ..validation import MAX_HORIZON, ValidationError, as_horizon, as_instance, as_int, as_real

__all__ = [
    "MAX_WINDOW",
    "SCAN_POINTS",
    "XTOL",
    "tbptt_grad",
    "tbptt_fixed_point",
    "full_grad",
    "full_minimiser",
    "truncated_es_grad",
    "full_es_grad",
    "truncated_es_fixed_point",
]

#: Largest window K accepted (work and memory O(K d) per gradient evaluation).
MAX_WINDOW = 100_000

#: Grid points of the sign-change scan on (0, 2/L] before brentq refines each bracket.
SCAN_POINTS = 1025

#: brentq's absolute tolerance on eta, relative to 2/L (the scan interval's length).
XTOL = 1e-13

_LOG_MAX = math.log(np.finfo(np.float64).max)


# ---------------------------------------------------------------------------------------------
# input checks


def _checked(problem: Any, eta: Any, T: Any, K: Any | None) -> tuple[QuadraticProblem, float, int, int]:
    problem = as_instance(problem, QuadraticProblem)
    eta_max = 2.0 / problem.L
    eta = as_real("eta", eta, 0.0, eta_max) if eta is not None else None
    T = as_horizon("T", T, maximum=MAX_HORIZON)
    if K is None:  # the full horizon: one window of T steps
        if T > MAX_WINDOW:
            raise ValidationError("T", f"the full-horizon (one-window) quantities need T <= {MAX_WINDOW} (got {T})")
        K = T
    K = as_int("K", K, 1, MAX_WINDOW)
    if K > T:
        raise ValidationError("K", f"must be <= T = {T} (got {K})")
    lam, c = problem.eigenvalues, problem.coefficients
    with np.errstate(divide="ignore"):
        log_bound = np.log((K + 1) / 2) + _logsumexp1(2 * np.log(lam) + 2 * np.log(np.abs(c)))
    if log_bound > _LOG_MAX - 1:
        raise ValidationError("coefficients", "sum_i lambda_i^2 c_i^2 (K+1)/2 exceeds the float64 range")
    return problem, eta, T, K


def _logsumexp1(x: np.ndarray) -> float:
    m = float(np.max(x))
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.sum(np.exp(x - m))))


# ---------------------------------------------------------------------------------------------
# TBPTT (closed form per window)


def _window_weights(u: np.ndarray, T: int, K: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(sum_{m<n} u^{mK}, u^{nK}, R) with n = T // K full windows and R = T - nK (u in [0, 1])."""
    n, R = divmod(T, K)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        lu = np.log(u)  # <= 0, -inf where u == 0
        den = -np.expm1(K * lu)
        geo = np.where(den > 0, -np.expm1(n * K * lu) / np.where(den > 0, den, 1.0), float(n))
        geo = np.where(u == 0, 1.0, geo)  # only the first window (m = 0) contributes
        tail = np.where(u == 0, 0.0 if n > 0 else 1.0, np.exp(n * K * lu))
    return geo, tail, R


def _s_sum(r: np.ndarray, k: int) -> np.ndarray:
    """S(k) = sum_{j=1}^k j r^{2j-1} (|r| <= 1; every term has the sign of r), for r of shape
    (..., d); the sum runs in chunks so that memory stays O(chunk x size of r)."""
    out = np.zeros(r.shape)
    step = max(1, 2**20 // max(1, r.size))
    with np.errstate(under="ignore"):
        for j0 in range(1, k + 1, step):
            j = np.arange(j0, min(k, j0 + step - 1) + 1, dtype=np.float64).reshape((-1,) + (1,) * r.ndim)
            out += np.sum(j * r ** (2 * j - 1), axis=0)
    return out


def _tbptt_many(problem: QuadraticProblem, etas: np.ndarray, T: int, K: int) -> np.ndarray:
    """g_K at every eta of a 1-D array (inputs already checked)."""
    lam, c = problem.eigenvalues, problem.coefficients
    r = 1.0 - etas[:, None] * lam[None, :]
    u = r * r
    geo, tail, R = _window_weights(u, T, K)
    win = _s_sum(r, K) * geo
    if R:
        win = win + tail * _s_sum(r, R)
    return -np.sum(lam**2 * c**2 * win, axis=1) / T


def tbptt_grad(problem: QuadraticProblem, eta: float, T: int, K: int) -> float:
    r"""The TBPTT meta-gradient :math:`g_K(\eta)` summed over the windows of length ``K`` of a
    horizon ``T`` (see the module docstring; window starts held fixed, no derivative through them).

    Assumptions: ``eta`` in [0, 2/L], 1 <= K <= min(T, MAX_WINDOW). Source: Metz et al. (2019),
    short-truncation bias; spec item A6 [derived].

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0], [1.0])
    >>> tbptt_grad(p, 0.5, 2, 1)      # windows {1}, {2}: -(1/2)(0.5 + 0.5^2 * 0.5)
    -0.3125
    """
    problem, eta, T, K = _checked(problem, eta, T, K)
    return float(_tbptt_many(problem, np.array([eta]), T, K)[0])


def full_grad(problem: QuadraticProblem, eta: float, T: int) -> float:
    r""":math:`dL_T/d\eta`, the TBPTT gradient with one window (``K = T``); requires T <= MAX_WINDOW.

    >>> from l2l.numerics import QuadraticProblem
    >>> full_grad(QuadraticProblem([1.0], [1.0]), 0.5, 2)    # -(1/2)(0.5 + 2 * 0.5^3)
    -0.375
    """
    problem, eta, T, K = _checked(problem, eta, T, None)
    return float(_tbptt_many(problem, np.array([eta]), T, K)[0])


# ---------------------------------------------------------------------------------------------
# fixed points


def _roots(fn: Callable[[np.ndarray], np.ndarray], hi: float) -> list[float]:
    """Every sign change of ``fn`` on a grid of (0, hi], refined by brentq."""
    from scipy.optimize import brentq

    grid = np.linspace(0.0, hi, SCAN_POINTS)[1:]
    vals = fn(grid)
    roots = [float(x) for x, v in zip(grid, vals) if v == 0.0]
    xtol = XTOL * hi
    for i in np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)[0]:
        roots.append(float(brentq(lambda e: float(fn(np.array([e]))[0]), grid[i], grid[i + 1], xtol=xtol, rtol=4 * np.finfo(float).eps)))
    return sorted(roots)


def _nearest(roots: list[float], target: float) -> float | None:
    return min(roots, key=lambda x: abs(x - target)) if roots else None


def full_minimiser(problem: QuadraticProblem, T: int) -> float | None:
    r"""The minimiser of :math:`L_T` in :math:`(0, 2/L)`, or None when it is not there.

    :math:`L_T` is convex in :math:`\eta` (each :math:`r_i^{2t}` is convex in the affine
    :math:`r_i`), so the zero of :math:`dL_T/d\eta` is unique; its derivative is negative at 0, and
    the minimiser lies in (0, 2/L) exactly when the derivative is positive at 2/L. Requires
    T <= MAX_WINDOW. Source: spec item A6 [derived] (alpha* ~ 1.1716 on its 2-D problem).

    >>> from l2l.numerics import QuadraticProblem
    >>> round(full_minimiser(QuadraticProblem([1.0], [1.0]), 50), 12)   # f(w_1) = 0 at eta = 1
    1.0
    """
    return _fixed_point(problem, T, None)


def _fixed_point(problem: QuadraticProblem, T: int, K: int | None) -> float | None:
    problem, _, T, K = _checked(problem, None, T, K)
    hi = 2.0 / problem.L
    roots = _roots(lambda e: _chunked(lambda x: _tbptt_many(problem, x, T, K), e, K), hi)
    return _nearest([x for x in roots if x < hi], hi) if K == T else _nearest_to_full(problem, T, roots)


def _nearest_to_full(problem: QuadraticProblem, T: int, roots: list[float]) -> float | None:
    hi = 2.0 / problem.L
    roots = [x for x in roots if 0 < x < hi]
    if T <= MAX_WINDOW:
        target = full_minimiser(problem, T)
    else:
        target = None
    return _nearest(roots, hi if target is None else target)


def _chunked(fn: Callable[[np.ndarray], np.ndarray], etas: np.ndarray, width: int) -> np.ndarray:
    """``fn`` over ``etas`` in chunks so that chunk x width stays about 2^20."""
    step = max(1, 2**20 // max(1, width))
    return np.concatenate([fn(etas[i : i + step]) for i in range(0, etas.size, step)])


def tbptt_fixed_point(problem: QuadraticProblem, T: int, K: int) -> float | None:
    r"""The zero :math:`\alpha_K` of :func:`tbptt_grad` in :math:`\eta` that is nearest to the
    full-horizon minimiser (:func:`full_minimiser`; 2/L when that is None), within (0, 2/L);
    None when there is none.

    Method: sign changes on a grid of :data:`SCAN_POINTS` points of (0, 2/L], each refined by
    ``scipy.optimize.brentq`` with ``xtol = XTOL * 2/L``. Source: Metz et al. (2019); spec item A6
    [derived]: alpha_K ~ 1.0050, 1.0074, 1.0145, 1.0464, 1.1383, 1.1716 for K = 1, 2, 5, 20, 100,
    1000 on lambda = (1, 0.01), c = (1, 1), T = 1000 (reproduced to the digits shown).

    >>> from l2l.numerics import QuadraticProblem
    >>> round(tbptt_fixed_point(QuadraticProblem([1.0, 0.01], [1.0, 1.0]), 1000, 100), 4)
    1.1383
    """
    return _fixed_point(problem, T, K)


# ---------------------------------------------------------------------------------------------
# truncated ES (Gauss-Hermite, exact for the polynomial window loss)


def _log_abs_expm1(y: np.ndarray) -> np.ndarray:
    """ln|e^y - 1| without overflow (y > 0: y + ln(1 - e^-y)); -inf at y = 0."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        pos = y + np.log(-np.expm1(-np.abs(y)))
        neg = np.log(-np.expm1(np.minimum(y, 0.0)))
    return np.where(y > 0, pos, neg)


def _log_geometric(eta_p: np.ndarray, lam: np.ndarray, k: int) -> np.ndarray:
    """ln sum_{j=1}^k x^j with x = (1 - eta' lam)^2 >= 0, for any real eta' (broadcast)."""
    p = eta_p * lam
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # ln|1 - p| with log1p where 1 - p would round (p small) or |1 - p| is near 1 (p near 2);
        # 1 - p is exact for p in [0.5, 1.5] (Sterbenz) and p - 2 for p in [1, 4].
        half = np.where(p < 0.5, np.log1p(-np.minimum(p, 0.5)),
                        np.where(p <= 1.5, np.log(np.abs(1.0 - p)), np.log1p(np.maximum(p, 1.5) - 2.0)))
        lx = 2.0 * half  # -inf at p == 1 (then the sum is 0)
        num = _log_abs_expm1(k * lx)
        den = np.log(np.abs(p)) + np.log(np.abs(2.0 - p))  # ln|x - 1| = ln|p| + ln|2 - p|
        out = lx + num - den
        out = np.where(lx == 0, math.log(k), out)  # x == 1: the sum is k
        out = np.where(np.isneginf(lx), -np.inf, out)
    return out


def _es_window(problem: QuadraticProblem, etas: np.ndarray, k: int, sigma: float, nodes: tuple) -> tuple:
    """(ln|A|, sign A) of A_i(k) = E[eps (G(eta + sigma eps) - G(eta - sigma eps))] / (2 sigma),
    G(eta') = (lam_i/2) sum_{j=1}^k (1 - eta' lam_i)^{2j}, per eta (rows) and component (cols)."""
    x, logw = nodes
    eps = np.sqrt(2.0) * x  # (n,)
    lam = problem.eigenvalues
    e = etas[:, None, None]
    plus = _log_geometric(e + sigma * eps[None, :, None], lam[None, None, :], k)
    minus = _log_geometric(e - sigma * eps[None, :, None], lam[None, None, :], k)
    with np.errstate(divide="ignore"):
        base = (logw + np.log(np.abs(eps)))[None, :, None] - math.log(2 * sigma) + np.log(lam / 2)[None, None, :]
    s = np.sign(eps)[None, :, None]
    terms = np.concatenate([base + plus, base + minus], axis=1)
    signs = np.concatenate([np.broadcast_to(s, plus.shape), np.broadcast_to(-s, minus.shape)], axis=1)
    return signed_logsumexp(terms, signs, axis=1)


def _hermite_nodes(k: int) -> tuple[np.ndarray, np.ndarray]:
    """k + 1 Gauss-Hermite nodes x and ln(w / sqrt(pi)) (probabilists' form via eps = sqrt(2) x)."""
    from scipy.special import roots_hermite

    x, w = roots_hermite(k + 1)
    with np.errstate(divide="ignore"):
        return x, np.log(w) - 0.5 * math.log(math.pi)


def _es_many(problem: QuadraticProblem, etas: np.ndarray, T: int, K: int, sigma: float) -> np.ndarray:
    lam, c = problem.eigenvalues, problem.coefficients
    nodes = _hermite_nodes(K)
    r = 1.0 - etas[:, None] * lam[None, :]
    u = r * r
    geo, tail, R = _window_weights(u, T, K)
    la, sa = _es_window(problem, etas, K, sigma, nodes)
    logs = [la + np.log(geo)]
    signs = [sa]
    if R:
        lr, sr = _es_window(problem, etas, R, sigma, nodes)
        with np.errstate(divide="ignore"):
            logs.append(lr + np.log(tail))
        signs.append(sr)
    with np.errstate(divide="ignore"):
        lc2 = 2 * np.log(np.abs(c))
    x = np.concatenate([lg + lc2 for lg in logs], axis=1)
    s = np.concatenate(signs, axis=1)
    lv, sv = signed_logsumexp(x, s, axis=1)
    lv = lv - math.log(T)
    if np.any(lv > _LOG_MAX):
        raise ValidationError("sigma", f"the expected ES gradient exceeds the float64 range at sigma = {sigma!r} "
                              f"(ln|value| = {float(np.max(lv)):.4g}); use a smaller sigma")
    with np.errstate(under="ignore"):
        return sv * np.exp(lv)


def _checked_sigma(sigma: Any) -> float:
    return as_real("sigma", sigma, 0.0, None, lo_open=True)


def truncated_es_grad(problem: QuadraticProblem, eta: float, T: int, K: int, sigma: float) -> float:
    r"""The expectation :math:`e_K(\eta)` of the antithetic ES estimate on every window of length
    ``K``, each window started from the state of the *unperturbed* ``eta``, summed over windows
    (module docstring). Exact: Gauss-Hermite quadrature with K + 1 nodes of a polynomial of degree
    2K + 1 in eps.

    Assumptions: ``eta`` in [0, 2/L], ``sigma`` > 0, 1 <= K <= min(T, MAX_WINDOW). Source: Metz et
    al. (2019) (the truncated ES of the released code); spec items A7 [derived] and §4 ("both
    estimators are unbiased only for the objective actually unrolled", [derived]).

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0], [1.0])
    >>> round(truncated_es_grad(p, 0.5, 2, 1, 0.1), 12)   # E[(0.5 - 0.1 eps)]: as TBPTT (linear)
    -0.3125
    """
    problem, eta, T, K = _checked(problem, eta, T, K)
    sigma = _checked_sigma(sigma)
    return float(_es_many(problem, np.array([eta]), T, K, sigma)[0])


def full_es_grad(problem: QuadraticProblem, eta: float, T: int, sigma: float) -> float:
    r"""The expected full-unroll antithetic ES gradient (``K = T``): exactly
    :math:`\frac{d}{d\eta}\mathbb E_\varepsilon[L_T(\eta+\sigma\varepsilon)]`, the derivative of
    the smoothed full-horizon objective. Requires T <= MAX_WINDOW.

    >>> from l2l.numerics import QuadraticProblem
    >>> round(full_es_grad(QuadraticProblem([1.0], [1.0]), 0.5, 1, 0.1), 12)   # d/d eta of E[(1-eta')^2]/2
    -0.5
    """
    problem, eta, T, _ = _checked(problem, eta, T, None)
    return truncated_es_grad(problem, eta, T, T, sigma)


def truncated_es_fixed_point(problem: QuadraticProblem, T: int, K: int, sigma: float) -> float | None:
    r"""The zero of :func:`truncated_es_grad` in (0, 2/L) nearest to the full-horizon minimiser
    (as :func:`tbptt_fixed_point`; ``K = T`` gives the full-unroll ES fixed point, nearest to 2/L
    among the roots, which is the unique one when L_T's smoothed version is convex).

    Spec item A7 [derived] predicts agreement with :func:`tbptt_fixed_point` within O(sigma^2).

    >>> from l2l.numerics import QuadraticProblem
    >>> round(truncated_es_fixed_point(QuadraticProblem([1.0, 0.01], [1.0, 1.0]), 1000, 5, 1e-3), 4)
    1.0145
    """
    problem, _, T, K = _checked(problem, None, T, K)
    sigma = _checked_sigma(sigma)
    hi = 2.0 / problem.L
    roots = _roots(lambda e: _chunked(lambda x: _es_many(problem, x, T, K, sigma), e, 4 * (K + 1) * problem.dim), hi)
    if K == T:
        return _nearest([x for x in roots if x < hi], hi)
    return _nearest_to_full(problem, T, roots)
