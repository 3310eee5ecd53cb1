r"""Exact moments of the Gaussian-smoothed meta-loss and of its two gradient estimators.

Source: Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (2019), §4 (the smoothed
"variational" objective and its reparameterization (RP) and antithetic evolution-strategies (ES)
estimators; their exact forms are [unconfirmed] as to the paper's text) and claim A4 (exact moments
on quadratics, [derived]). For GD on a quadratic (:mod:`.meta_loss`) and
:math:`\varepsilon\sim\mathcal N(0,1)`:

.. math::

    \tilde L(\eta) = \mathbb E\,L_T(\eta+\sigma\varepsilon),\qquad
    \tilde L'(\eta) = \mathbb E\,L_T'(\eta+\sigma\varepsilon),

    \mathrm{rp\_variance} = \mathrm{Var}\,L_T'(\eta+\sigma\varepsilon),\qquad
    \mathrm{rp\_pair\_variance} = \mathrm{Var}\,\tfrac12\big[L_T'(\eta+\sigma\varepsilon)+L_T'(\eta-\sigma\varepsilon)\big],

    \mathrm{es\_variance} = \mathrm{Var}\,g,\qquad
    g = \frac{L_T(\eta+\sigma\varepsilon)-L_T(\eta-\sigma\varepsilon)}{2\sigma}\,\varepsilon
      = \varepsilon^2\,\frac12\int_{-1}^{1} L_T'(\eta+\sigma\varepsilon v)\,dv

(one RP sample, one pair-averaged RP sample, one antithetic ES pair; both estimators have mean
:math:`\tilde L'`).

**Exactness.** :math:`L_T` is a polynomial of degree :math:`2T` in :math:`\eta`, so every
integrand above is a polynomial in :math:`\varepsilon` of degree at most :math:`4T`
(:math:`g^2`). Probabilists' Gauss–Hermite quadrature with :math:`n=2T+1` nodes is exact for
degree :math:`\le 2n-1=4T+1`, and the inner integral of :math:`g` (degree :math:`2T-1` in
:math:`v`) is exact with :math:`T` Gauss–Legendre nodes; so in exact arithmetic these are the
moments themselves, not approximations. Variances are the quadrature of the *centred* square
:math:`(X-\mathbb EX)^2` (never :math:`\mathbb EX^2-(\mathbb EX)^2`), and writing :math:`g` as an
average of :math:`L_T'` avoids the cancellation of :math:`L_T(\eta+\sigma\varepsilon)-
L_T(\eta-\sigma\varepsilon)` at small :math:`\sigma`.

**Floating point.** Nodes start from SciPy's ``roots_hermitenorm`` and are refined by a Newton
step on the orthonormal three-term recurrence, which also gives the log-weights
:math:`\ln w_k = -\ln n - 2\ln|p_{n-1}(x_k)|` (rescaled as it runs: no underflow of the tails,
where the integrand may be astronomically large). The integrand is evaluated at the nodes in log
space by :func:`.meta_loss.log_meta_loss` and every sum is a (signed) log-sum-exp, so values are
exact to about :math:`10^{-13}` relative for :math:`T\le 30` (measured against a 50-digit polynomial
expansion in the tests; the bound there is 1e-10) and remain accurate to the conditioning of the
quantity up to :data:`MAX_EXACT_T`; signed quantities (:math:`\tilde L'`) carry the unavoidable
absolute error :math:`\epsilon\,\mathbb E\sum_i|\text{component } i|`. A value outside float64's
range is ``None`` with ``status`` "overflow" (or "underflow": nonzero but below the smallest
normal float64), never inf or NaN.

**Size limits** (checked before any work): :math:`T\le` :data:`MAX_EXACT_T` = 1000 (2001 Hermite
nodes; work :math:`\approx (T+1)T\cdot d` closed-form evaluations for the ES integrand) and
:math:`(T^2+3T+1)\,d\le` :data:`MAX_EXACT_WORK`.

Example (claim A4 on a 1-D quadratic meta-loss, T = 1: the pair-averaged RP estimator is exact,
and the ES variance 2 L'(eta)^2 does not depend on sigma)::

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0], [1.0])
    >>> m = smoothed_moments(p, 0.5, 1, 0.1)
    >>> round(m.smoothed_meta_loss, 12), round(m.smoothed_meta_loss_grad, 12)   # 1/8 + sigma^2/2, -1/2
    (0.13, -0.5)
    >>> round(m.rp_variance, 12), m.rp_pair_variance < 1e-30, round(m.es_variance, 12)
    (0.01, True, 0.5)
    >>> round(smoothed_moments(p, 0.5, 1, 0.7).es_variance, 12)
    0.5
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..problems import QuadraticProblem
from ..results import result_type, returns
from ..validation import ValidationError, as_instance, as_int, as_real
from .meta_loss import log_meta_loss, signed_logsumexp, to_float, worst_status

__all__ = ["SmoothedMoments", "smoothed_moments", "hermite_rule", "hermite_nodes_for", "MAX_EXACT_T", "MAX_EXACT_WORK"]

#: Largest unroll length for the exact moments: 2T + 1 = 2001 Gauss-Hermite nodes and T Gauss-Legendre
#: nodes per Hermite node for the ES integrand (about 10^6 x dim closed-form evaluations, ~1 s for
#: dim = 1). The Monte Carlo comparison in the tests reaches this T.
MAX_EXACT_T = 1000
#: Largest (T^2 + 3T + 1) x dim: closed-form evaluations (each ~0.8 microseconds, so ~8 s) for one (eta, T).
MAX_EXACT_WORK = 10**7
#: Evaluation points per block of the ES integrand (bounds memory to ~100 MB at any T and dim).
_BLOCK = 2 * 10**5


def hermite_nodes_for(T: int) -> int:
    """Gauss-Hermite nodes used for unroll length T: n = 2T + 1 (exact for degree <= 4T + 1 >= 4T,
    the degree of the squared ES integrand, the highest of the moments)."""
    return 2 * int(T) + 1


@functools.lru_cache(maxsize=32)
def hermite_rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(x_k, ln w_k) of the n-node probabilists' Gauss-Hermite rule, weights normalised to sum 1
    (so sum_k w_k p(x_k) = E p(eps), eps ~ N(0, 1), for every polynomial p of degree <= 2n - 1).

    Nodes are exactly symmetric; log-weights do not underflow in the tails.

    >>> x, lw = hermite_rule(3)
    >>> x.round(12).tolist(), np.exp(lw).round(12).tolist()       # +-sqrt(3), 0; 1/6, 2/3, 1/6
    ([-1.732050807569, 0.0, 1.732050807569], [0.166666666667, 0.666666666667, 0.166666666667])
    """
    from scipy.special import roots_hermitenorm

    n = as_int("n", n, 1, 2 * MAX_EXACT_T + 1)
    x0 = np.sort(roots_hermitenorm(n)[0])
    x = np.abs(x0[n - n // 2:])  # the positive half (the rule is symmetric), plus 0 when n is odd
    if n % 2:
        x = np.concatenate([[0.0], x])
    for _ in range(2):  # Newton on p_n, whose derivative is sqrt(n) p_{n-1}
        pn1, pn, _ = _orthonormal_hermite(n, x)
        step = np.where(x == 0.0, 0.0, pn / (math.sqrt(n) * pn1))
        x = x - step
    pn1, _, log_scale = _orthonormal_hermite(n, x)
    lw = -math.log(n) - 2.0 * (np.log(np.abs(pn1)) + log_scale)
    if n % 2:
        xs = np.concatenate([-x[:0:-1], x])
        lws = np.concatenate([lw[:0:-1], lw])
    else:
        xs = np.concatenate([-x[::-1], x])
        lws = np.concatenate([lw[::-1], lw])
    lws = lws - signed_logsumexp(lws, np.ones_like(lws))[0]  # normalise (a correction of ~1e-15)
    xs.setflags(write=False)
    lws.setflags(write=False)
    return xs, lws


def _orthonormal_hermite(n: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p_{n-1}(x), p_n(x)) / exp(log_scale) and log_scale, for the orthonormal probabilists'
    Hermite polynomials p_j = He_j / sqrt(j!): x p_j = sqrt(j+1) p_{j+1} + sqrt(j) p_{j-1}.
    Rescaled at every step so nothing overflows (p_n(x) grows like exp(x^2/4))."""
    prev = np.zeros_like(x)
    cur = np.ones_like(x)
    log_scale = np.zeros_like(x)
    for j in range(n):
        nxt = (x * cur - math.sqrt(j) * prev) / math.sqrt(j + 1)
        prev, cur = cur, nxt
        s = np.maximum(np.abs(prev), np.abs(cur))
        prev, cur = prev / s, cur / s
        log_scale += np.log(s)
    return prev, cur, log_scale


def _log_abs_diff(l1: np.ndarray, s1: np.ndarray, l2: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """ln|s1 e^l1 - s2 e^l2| (both given in log space)."""
    m = np.maximum(l1, l2)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", under="ignore", invalid="ignore"):
        d = np.abs(s1 * np.exp(l1 - safe) - s2 * np.exp(l2 - safe))
        return np.where(np.isfinite(m), safe + np.log(d), -np.inf)


def _mean_and_log_variance(lw: np.ndarray, lx: np.ndarray, sx: np.ndarray) -> tuple[float, float, float]:
    """(ln|E X|, sign E X, ln Var X) from values ln|X_k|, sign X_k at the nodes (log-weights lw);
    the variance is the quadrature of the centred square."""
    lm, sm = signed_logsumexp(lw + lx, sx)
    dev = _log_abs_diff(lx, sx, np.full_like(lx, lm), np.full_like(lx, sm))
    lv, _ = signed_logsumexp(lw + 2.0 * dev, np.ones_like(dev))
    return float(lm), float(sm), float(lv)


@result_type
@dataclass(frozen=True)
class SmoothedMoments:
    """Exact moments of the Gaussian-smoothed meta-loss and its estimators (Metz et al. 2019, §4, A4)."""

    eta: float  #: step size (the smoothing is centred here)
    T: int  #: unroll length
    sigma: float  #: smoothing scale: eta + sigma eps, eps ~ N(0, 1)
    smoothed_meta_loss: float | None  #: E L_T(eta + sigma eps)
    smoothed_meta_loss_grad: float | None  #: d/d eta of it = E L_T'(eta + sigma eps)
    rp_variance: float | None  #: Var L_T'(eta + sigma eps): one reparameterization sample
    rp_pair_variance: float | None  #: Var of (L_T'(eta + sigma eps) + L_T'(eta - sigma eps)) / 2
    es_variance: float | None  #: Var of (L_T(eta + sigma eps) - L_T(eta - sigma eps)) eps / (2 sigma)
    es_mean: float | None  #: E of that ES pair estimate (equals smoothed_meta_loss_grad: Stein's lemma)
    nodes: int  #: Gauss-Hermite nodes used, 2T + 1
    status: str  #: "ok", or "overflow" / "underflow" when some value is outside float64's range


def _check(problem: Any, eta: Any, T: Any, sigma: Any) -> tuple[QuadraticProblem, float, int, float]:
    problem = as_instance(problem, QuadraticProblem)
    eta = as_real("eta", eta)
    T = as_int("T", T, 1, MAX_EXACT_T, integral_floats=True)
    sigma = as_real("sigma", sigma, 0.0, lo_open=True)
    d = int(np.count_nonzero(problem.coefficients))
    work = (T * T + 3 * T + 1) * d
    if work > MAX_EXACT_WORK:
        raise ValidationError("T", f"(T^2 + 3T + 1) x dim = {T * T + 3 * T + 1} x {d} = {work} exceeds the limit of "
                                   f"{MAX_EXACT_WORK:.0e} closed-form evaluations for the exact moments; use a smaller T")
    return problem, eta, T, sigma


@returns(SmoothedMoments)
def smoothed_moments(problem: QuadraticProblem, eta: Any, T: Any, sigma: Any) -> SmoothedMoments:
    """The exact smoothed meta-loss, its derivative and the RP / ES estimator variances at one step
    size ``eta`` (any finite real), unroll length ``T`` (an integer in [1, MAX_EXACT_T]) and
    smoothing scale ``sigma`` > 0 (see the module docstring for the formulas and their accuracy)."""
    problem, eta, T, sigma = _check(problem, eta, T, sigma)
    n = hermite_nodes_for(T)
    x, lw = hermite_rule(n)
    # L and L' at every node eta + sigma x_k
    ll, lg, sg = log_meta_loss(problem, eta + sigma * x, T)
    lm_l, _, lv_l = _mean_and_log_variance(lw, ll, np.ones_like(ll))  # E L (its variance unused)
    lm_g, sm_g, lv_rp = _mean_and_log_variance(lw, lg, sg)
    # pair average h(x) = (L'(eta + sigma x) + L'(eta - sigma x)) / 2: nodes are symmetric (x[::-1] = -x)
    lh, sh = signed_logsumexp(np.stack([lg, lg[::-1]], axis=-1) - math.log(2.0), np.stack([sg, sg[::-1]], axis=-1))
    _, _, lv_pair = _mean_and_log_variance(lw, lh, sh)
    # ES: g(x) = x^2 * (1/2) int_{-1}^{1} L'(eta + sigma x v) dv, even in x: computed for x >= 0
    lgs, sgs = _es_integrand(problem, eta, T, sigma, x[T:])
    lges = np.concatenate([lgs[:0:-1], lgs])
    sges = np.concatenate([sgs[:0:-1], sgs])
    lm_es, sm_es, lv_es = _mean_and_log_variance(lw, lges, sges)

    values = {}
    statuses = []
    for name, (la, s) in {"smoothed_meta_loss": (lm_l, 1.0), "smoothed_meta_loss_grad": (lm_g, sm_g),
                          "rp_variance": (lv_rp, 1.0), "rp_pair_variance": (lv_pair, 1.0),
                          "es_variance": (lv_es, 1.0), "es_mean": (lm_es, sm_es)}.items():
        values[name], st = to_float(la, s)
        statuses.append(st)
    return SmoothedMoments(eta=eta, T=T, sigma=sigma, nodes=n, status=worst_status(statuses), **values)


def _es_integrand(problem: QuadraticProblem, eta: float, T: int, sigma: float, xpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln|g(x)|, sign g(x) for x >= 0, g(x) = x^2 * (1/2) sum_j omega_j L'(eta + sigma x v_j) with
    the T-node Gauss-Legendre rule (v_j, omega_j) on [-1, 1] (exact: L' has degree 2T - 1)."""
    from scipy.special import roots_legendre

    v, om = roots_legendre(T)
    lom = np.log(om / 2.0)
    d = max(1, int(np.count_nonzero(problem.coefficients)))
    rows = max(1, _BLOCK // (T * d))
    lout = np.empty(xpos.size)
    sout = np.empty(xpos.size)
    for start in range(0, xpos.size, rows):
        xb = xpos[start:start + rows]
        _, lg, sg = log_meta_loss(problem, (eta + sigma * np.outer(xb, v)).reshape(-1), T)
        la, sa = signed_logsumexp(lom + lg.reshape(xb.size, T), sg.reshape(xb.size, T))
        with np.errstate(divide="ignore"):
            lout[start:start + rows] = la + 2.0 * np.log(xb)
        sout[start:start + rows] = np.where(xb == 0.0, 0.0, sa)
    return lout, sout
