r"""SGD stability along the top Hessian direction: Eq. 1 of Jastrzebski et al. (2020) in closed form.

Setting (Jastrzebski et al. (2020), Sec. 3, Assumption 1, in the normalisation of the paper's digest): along
the top Hessian direction :math:`e_H^1` the per-example losses are quadratics
:math:`\ell_i(\psi)=\tfrac12 h_i(\psi-\psi^*)^2`, :math:`i=1..N`, so the training loss has curvature
:math:`\lambda=\frac1N\sum_i h_i` and the per-example curvatures have population variance
:math:`s^2=\frac1N\sum_i(h_i-\lambda)^2`. One SGD step on a minibatch :math:`B` of :math:`S`
indices maps :math:`\psi-\psi^*` to :math:`(1-\eta h_B)(\psi-\psi^*)`, with
:math:`h_B=\frac1S\sum_{i\in B}h_i`.

Mean-square stability (Jastrzebski et al. (2020), Eq. 1; exact for this model):

.. math::  \mathbb E\big[(1-\eta h_B)^2\big]=(1-\eta\lambda)^2+\eta^2 s^2\,c(S)\le 1,
           \qquad c(S)=\frac{N-S}{S(N-1)}\ \text{(without replacement)},\quad \frac1S\ \text{(with)},

because :math:`\mathbb E h_B=\lambda` and :math:`\operatorname{Var}h_B=s^2c(S)` (the finite-population
correction). For :math:`S=N` (full batch, :math:`c=0`) it reduces to :math:`0\le\eta\lambda\le2`.
It bounds the *second moment* of :math:`\psi`; it says nothing about almost-sure convergence, whose
rate is :math:`\mathbb E\log|1-\eta h_B|` (:func:`almost_sure_rate`; claim B3: the two can disagree).

Accuracy. :math:`\lambda` is correctly rounded from the exact sum of the ``h`` (an error-free
expansion built with :func:`math.fsum`); :math:`s^2` is a two-pass sum of exactly formed squares
of exactly formed deviations, corrected for the rounding of :math:`\lambda`, so its relative error
is a few ulps. :math:`1-\eta\lambda` is evaluated in exact rational arithmetic and rounded once, so
it keeps its relative accuracy however close :math:`\eta\lambda` is to 1. Both terms of the factor
are then >= 0: their sum has no cancellation, and the factor's relative error is below 1e-15
(checked against exact enumeration at 1e-12; the gap covers the handful of roundings). These
relative bounds hold for results in float64's normal range; a result below 2.2e-308 (say
:math:`s^2` of curvatures near 1e-200) is within one subnormal ulp (4.9e-324) instead. A factor
beyond the float64 range is returned as ``inf`` (never NaN); a caller reports it as an overflow.

Limits (checked before any work): :math:`N\le` :data:`MAX_EXAMPLES`, every :math:`|h_i|` and
:math:`\eta` at most :data:`MAX_MAGNITUDE` (so that every square and product of them is finite in
float64 and the error-free products are exact), at most :data:`MAX_STEP_SIZES` step sizes per
call, at most :data:`MAX_BATCHES` minibatches for the enumeration of :func:`almost_sure_rate`.

Example (N = 5 curvatures; S = N is full-batch GD, where Eq. 1 is :math:`\eta\lambda\le2`)::

    >>> h = [0.5, 1.0, 1.5, 2.0, 5.0]
    >>> curvature_moments(h)
    (2.0, 2.5)
    >>> round(mean_square_factor(h, 0.5, 2), 12), critical_step(h, 5), round(critical_step(h, 2), 12)
    (0.234375, 1.0, 0.810126582278)
    >>> round(almost_sure_rate(h, 0.5, 2), 6)
    -0.902221
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from ..validation import ValidationError, as_choice, as_int, as_nonnegative_real, as_real, as_real_vector, as_step_sizes, check_entries

__all__ = [
    "SAMPLINGS",
    "MAX_EXAMPLES",
    "MAX_MAGNITUDE",
    "MAX_STEP_SIZES",
    "MAX_BATCHES",
    "ALPHA_RTOL",
    "finite_population_factor",
    "curvature_moments",
    "mean_square_factor",
    "critical_step",
    "break_even_curvature",
    "almost_sure_rate",
    "alpha_star",
]

#: How minibatches of S indices are drawn: S distinct indices (every S-subset equally likely), or
#: S independent uniform indices.
SAMPLINGS = ("without_replacement", "with_replacement")

#: Largest number N of per-example curvatures (memory and the O(N) exact sums).
MAX_EXAMPLES = 10**6

#: Largest |h_i| and eta accepted: products and squares of two such numbers stay below 1e200 << 1.8e308,
#: so the error-free products below are exact and intermediate results cannot overflow.
MAX_MAGNITUDE = 1e100

#: Largest number of step sizes in one call (each costs a few exact rational operations).
MAX_STEP_SIZES = 10**5

#: Largest number of minibatches enumerated by :func:`almost_sure_rate` (C(N, S) or N^S).
MAX_BATCHES = 10**6

#: Relative width to which :func:`alpha_star` bisects the first crossing.
ALPHA_RTOL = 1e-12

_SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's splitting constant for float64


def _two_product(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """(p, q) with p = fl(a b) and p + q = a b exactly (Dekker; exact when nothing over- or underflows)."""
    p = a * b
    c = _SPLIT * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLIT * b
    bh = c - (c - b)
    bl = b - bh
    q = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, q


def _two_difference(a: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """(d, e) with d = fl(a - b) and d + e = a - b exactly (Knuth's TwoSum)."""
    d = a - b
    bb = d - a
    e = (a - (d - bb)) + (-b - bb)
    return d, e


def _exact_sum(values: list[float]) -> Fraction:
    """The exact sum of finite floats, as a Fraction: an expansion of non-overlapping floats built by
    repeated :func:`math.fsum` (each pass adds the correctly rounded remainder; it is 0 only when the
    expansion is exact, since a nonzero sum of floats is at least 2^-1074 in magnitude)."""
    parts: list[float] = []
    while True:
        rest = math.fsum(values + [-p for p in parts])
        if rest == 0.0:
            return sum(map(Fraction, parts), Fraction(0))
        parts.append(rest)


def _checked_curvatures(h: Any) -> np.ndarray:
    arr = as_real_vector("h", h)
    if arr.size > MAX_EXAMPLES:
        raise ValidationError("h", f"must have at most {MAX_EXAMPLES} entries (got {arr.size})")
    return check_entries("h", arr, hi=MAX_MAGNITUDE, absolute=True)


def _checked_batch(S: Any, n: int, sampling: Any) -> tuple[int, str]:
    sampling = as_choice("sampling", sampling, SAMPLINGS)
    return as_int("S", S, 1, n, integral_floats=True), sampling


def _population_factor(n: int, S: int, sampling: str) -> Fraction:
    if sampling == "with_replacement":
        return Fraction(1, S)
    if n == 1:
        return Fraction(0)  # S = N = 1: the batch is the whole population
    return Fraction(n - S, S * (n - 1))


def _moments(h: np.ndarray) -> tuple[float, float, Fraction]:
    """(lambda, s2, exact sum of h) on checked input (see the module docstring)."""
    n = h.size
    total = _exact_sum(h.tolist())
    mean = total / n
    lam = float(mean)
    d, e = _two_difference(h, lam)  # d + e = h_i - lam exactly
    top = float(np.max(np.abs(d)))
    if top == 0.0:
        return lam, 0.0, total
    k = math.frexp(top)[1]  # scale by 2^-k (exact) so the largest deviation is in [1/2, 1)
    d, e = np.ldexp(d, -k), np.ldexp(e, -k)
    p, q = _two_product(d, d)
    squares = _exact_sum(np.concatenate([p, q, 2.0 * d * e, e * e]).tolist())  # sum (d + e)^2
    delta = (Fraction(lam) - mean) * Fraction(2) ** -k
    # sum_i (h_i - mean)^2 = sum_i (h_i - lam)^2 - N (lam - mean)^2, exactly
    s2 = max(squares - n * delta * delta, Fraction(0)) / n
    return lam, math.ldexp(float(s2), 2 * k), total


def finite_population_factor(N: Any, S: Any, sampling: str = "without_replacement") -> float:
    r"""The variance factor :math:`c(S)` of a minibatch mean: :math:`\operatorname{Var}h_B=s^2c(S)`.

    Without replacement (S distinct indices, every subset equally likely) :math:`c(S)=\frac{N-S}{S(N-1)}`,
    the finite-population correction: :math:`c(1)=1`, :math:`c(N)=0`, strictly decreasing in S. With
    replacement (S independent uniform indices) :math:`c(S)=1/S`. For N = S = 1 without replacement
    the formula is 0/0; the batch is then the whole population and c = 0 is returned.

    Assumptions: integers :math:`1\le S\le N\le 2^{53}`. Correctly rounded (exact rational, rounded once).
    Source: Jastrzebski et al. (2020), Eq. 1 (the factor :math:`\eta^2(N-S)/(S(N-1))`).

    >>> finite_population_factor(10, 4), finite_population_factor(10, 4, "with_replacement")
    (0.16666666666666666, 0.25)
    >>> finite_population_factor(10, 10)
    0.0
    """
    N = as_int("N", N, 1, 2**53, integral_floats=True)
    S, sampling = _checked_batch(S, N, sampling)
    return float(_population_factor(N, S, sampling))


def curvature_moments(h: Any) -> tuple[float, float]:
    r"""``(lambda, s2)``: the mean :math:`\lambda=\frac1N\sum_ih_i` and the population variance
    :math:`s^2=\frac1N\sum_i(h_i-\lambda)^2` of the per-example curvatures.

    Accurate: :math:`\lambda` correctly rounded; :math:`s^2` two-pass with exact deviations and
    squares and an exact correction for the rounding of :math:`\lambda`, relative error a few ulps
    (0 exactly when all h are equal). Assumptions: 1 to ``MAX_EXAMPLES`` finite entries,
    :math:`|h_i|\le` ``MAX_MAGNITUDE``. Source: Jastrzebski et al. (2020), Eq. 1
    (:math:`\lambda_H^1` and :math:`s^2=\operatorname{Var}_i[H_i]`).

    >>> curvature_moments([1.0, 2.0, 4.0])
    (2.3333333333333335, 1.5555555555555556)
    >>> curvature_moments([0.1] * 10)
    (0.1, 0.0)
    """
    lam, s2, _ = _moments(_checked_curvatures(h))
    return lam, s2


def mean_square_factor(h: Any, eta: Any, S: Any, sampling: str = "without_replacement") -> Any:
    r"""The mean-square factor :math:`\mathbb E[(1-\eta h_B)^2]=(1-\eta\lambda)^2+\eta^2s^2c(S)`
    over minibatches B of S indices (module docstring); Eq. 1 holds iff it is <= 1.

    ``eta``: a number or a 1-D array of step sizes >= 0 (a float or an array comes back). Both terms
    are >= 0, so nothing cancels: relative error below 1e-15 (module docstring), ``inf`` where the
    value exceeds float64. Assumptions: ``h`` as in :func:`curvature_moments`, integer
    :math:`1\le S\le N`, :math:`0\le\eta\le` ``MAX_MAGNITUDE``. Source: Jastrzebski et al. (2020), Eq. 1.

    >>> mean_square_factor([0.5, 1.0, 1.5, 2.0, 5.0], [0.2, 0.5], 1).round(12).tolist()
    [0.46, 0.625]
    """
    hv = _checked_curvatures(h)
    etas, scalar = as_step_sizes("eta", eta)
    if etas.size > MAX_STEP_SIZES:
        raise ValidationError("eta", f"must have at most {MAX_STEP_SIZES} entries (got {etas.size})")
    check_entries("eta", etas, hi=MAX_MAGNITUDE)
    n = hv.size
    S, sampling = _checked_batch(S, n, sampling)
    c = float(_population_factor(n, S, sampling))
    _, s2, total = _moments(hv)
    # 1 - eta lambda = (N - eta sum h) / N in exact rational arithmetic, rounded once
    a = np.array([float((n - Fraction(float(e)) * total) / n) for e in etas])
    with np.errstate(over="ignore"):
        out = a * a + (etas * etas) * (s2 * c)
    return float(out[0]) if scalar else out


def critical_step(h: Any, S: Any, sampling: str = "without_replacement") -> float:
    r"""The largest :math:`\eta\ge0` with :math:`\mathbb E[(1-\eta h_B)^2]\le1`.

    The factor is :math:`1-2\eta\lambda+\eta^2D` with :math:`D=\lambda^2+s^2c(S)\ge0`, so the stable
    step sizes :math:`\eta\ge0` are exactly:

    - :math:`[0,\,2\lambda/D]` when :math:`\lambda>0`: returns :math:`\eta_{\text{crit}}=2\lambda/(\lambda^2+s^2c)`
      (for S = N it is :math:`2/\lambda`);
    - :math:`\{0\}` when :math:`\lambda\le0` and :math:`D>0`: returns 0.0;
    - every :math:`\eta\ge0` when :math:`D=0`, i.e. :math:`\lambda=0` and :math:`s^2c=0` (all h zero,
      or mean zero with S = N without replacement): the factor is identically 1; returns ``inf``.

    ``inf`` is also returned when :math:`\eta_{\text{crit}}` exceeds the float64 range (only for
    :math:`\lambda` below about 1e-308). Evaluated as :math:`2/(\lambda+s^2c/\lambda)`, a sum of
    positive terms: relative error a few ulps. The cases are decided on the exact mean and the
    exact spread, not on rounded values. Source: Jastrzebski et al. (2020), Eq. 1 solved for
    :math:`\eta` (the digest's closed forms).

    >>> h = [0.5, 1.0, 1.5, 2.0, 5.0]
    >>> critical_step(h, 5), round(critical_step(h, 1), 12)
    (1.0, 0.615384615385)
    >>> critical_step([-1.0, 1.0], 2), critical_step([-1.0, 1.0], 1), critical_step([-1.0, 0.5], 1)
    (inf, 0.0, 0.0)
    """
    hv = _checked_curvatures(h)
    n = hv.size
    S, sampling = _checked_batch(S, n, sampling)
    c = _population_factor(n, S, sampling)
    lam, s2, total = _moments(hv)
    spread = c != 0 and bool(np.any(hv != hv[0]))  # s2 c > 0 exactly
    if total < 0 or (total == 0 and spread):
        return 0.0
    if total == 0:
        return math.inf
    if lam == 0.0:  # a positive mean below the float64 range
        return math.inf
    with np.errstate(over="ignore"):
        return float(2.0 / (np.float64(lam) + np.float64(s2) * float(c) / lam))


def break_even_curvature(eta: Any, kappa: Any, N: Any, S: Any, sampling: str = "without_replacement") -> Any:
    r"""The break-even curvature :math:`\lambda^*=\dfrac{2}{\eta\,(1+\kappa^2c(S))}`: where Eq. 1
    reaches equality when the spread grows with the curvature as :math:`s=\kappa\lambda`.

    With :math:`s=\kappa\lambda`, Eq. 1 reads :math:`\lambda\big(\eta\lambda(1+\kappa^2c)-2\big)\le0`,
    so for :math:`\lambda>0` it holds iff :math:`\lambda\le\lambda^*`. :math:`\lambda^*` is strictly
    decreasing in :math:`\eta` and (as c is) increasing in S (claim B2). ``eta``: a number or a 1-D
    array, each > 0; ``inf`` where the value exceeds float64. Correctly computed up to three
    roundings. Source: Jastrzebski et al. (2020), Sec. 3 and App. A (the break-even point); spec
    Sec. 4, [derived].

    >>> break_even_curvature(0.5, 0.0, 10, 1), break_even_curvature(0.5, 1.0, 10, 1)
    (4.0, 2.0)
    >>> break_even_curvature([0.5, 1.0], 1.0, 10, 10).tolist()
    [4.0, 2.0]
    """
    etas, scalar = as_step_sizes("eta", eta)
    check_entries("eta", etas, lo=0.0, lo_open=True)
    kappa = as_real("kappa", kappa, 0.0)
    N = as_int("N", N, 1, 2**53, integral_floats=True)
    S, sampling = _checked_batch(S, N, sampling)
    c = float(_population_factor(N, S, sampling))
    with np.errstate(over="ignore"):
        out = 2.0 / (etas * (1.0 + kappa * kappa * c))
    return float(out[0]) if scalar else out


def _batches(n: int, S: int, sampling: str) -> int:
    return math.comb(n, S) if sampling == "without_replacement" else n**S


def almost_sure_rate(h: Any, eta: Any, S: Any, sampling: str = "without_replacement") -> float:
    r"""The almost-sure growth rate :math:`\mathbb E\log|1-\eta h_B|` of SGD along the top direction,
    exactly by enumeration of every minibatch (each of the C(N, S) subsets, or N^S index sequences
    with replacement, weight exactly 1/count).

    By the law of large numbers :math:`\frac1t\log|\psi_t-\psi^*|\to\mathbb E\log|1-\eta h_B|` almost
    surely, so SGD converges almost surely iff it is < 0; by Jensen it is at most
    :math:`\tfrac12\log\mathbb E[(1-\eta h_B)^2]`, so mean-square stability implies it but not
    conversely (claim B3). Returns ``-inf`` when some minibatch has exactly :math:`1-\eta h_B=0`.

    Accuracy: each :math:`1-\eta h_B` is computed in float64 and, where its error bound exceeds
    1e-13 of its value (near cancellation), recomputed from error-free products by
    :func:`math.fsum`, rounded once; so every logarithm is within about 1e-13 absolute and the
    zero test is exact (for products :math:`\eta h_i` above 1e-290 in magnitude). The mean of
    the logarithms is an exactly rounded sum. Refuses (naming ``S``) when the count exceeds
    :data:`MAX_BATCHES`. Source: Jastrzebski et al. (2020), Eq. 1 and its model; item B3 of the paper's digest [derived].

    >>> almost_sure_rate([1.0, 3.0], 1.0, 1)
    -inf
    >>> round(almost_sure_rate([0.5, 2.0, 3.5], 0.6, 2), 6)
    -1.142172
    """
    hv = _checked_curvatures(h)
    eta = as_nonnegative_real("eta", eta)
    if eta > MAX_MAGNITUDE:
        raise ValidationError("eta", f"must be at most {MAX_MAGNITUDE:g} (got {eta!r})")
    n = hv.size
    S, sampling = _checked_batch(S, n, sampling)
    count = _batches(n, S, sampling)
    if count > MAX_BATCHES:
        kind = f"C(N, S) = C({n}, {S})" if sampling == "without_replacement" else f"N^S = {n}^{S}"
        raise ValidationError("S", f"{kind} = {count} minibatches exceed the enumeration limit of {MAX_BATCHES}")
    # index sets: the batch itself, or (without replacement, S > N/2) its complement
    complement = sampling == "without_replacement" and 2 * S > n
    k = n - S if complement else S
    combos = itertools.combinations(range(n), k) if sampling == "without_replacement" else itertools.product(range(n), repeat=S)
    idx = np.fromiter(itertools.chain.from_iterable(combos), dtype=np.int64, count=count * k).reshape(count, k)
    total = math.fsum(hv.tolist())
    sums = hv[idx].sum(axis=1) if k else np.zeros(count)
    if complement:
        sums = total - sums
    a = 1.0 - eta * (sums / S)
    # float error of a: at most (k + 4) eps (1 + eta magnitude / S); recompute where it exceeds 1e-13 |a|
    # (the sum over a batch, or total minus complement, is bounded by sum_j |h_j|, or S max |h_j| with repeats)
    magnitude = max(float(np.sum(np.abs(hv))), S * float(np.max(np.abs(hv))))
    bound = (k + 4) * np.finfo(np.float64).eps * (1.0 + eta * magnitude / S)
    near = np.flatnonzero(np.abs(a) * 1e-13 <= bound)
    logs = np.zeros(count)
    far = np.ones(count, dtype=bool)
    far[near] = False
    logs[far] = np.log(np.abs(a[far]))
    if near.size:
        p, q = _two_product(eta, hv)  # p_i + q_i = eta h_i exactly
        prods = np.stack([p, q], axis=1)
        whole = [-x for x in prods.reshape(-1).tolist()]
        for b in near.tolist():
            part = prods[idx[b]].reshape(-1).tolist()
            terms = [float(S), *whole, *part] if complement else [float(S), *(-x for x in part)]
            scaled = math.fsum(terms)  # S (1 - eta h_B), correctly rounded
            if scaled == 0.0:
                return -math.inf
            logs[b] = math.log(abs(scaled)) - math.log(S)
    return math.fsum(logs.tolist()) / count


def alpha_star(
    loss: Callable[[np.ndarray], Any],
    theta: Any,
    theta_next: Any,
    ratio: float = 1.2,
    alpha_max: float = 100.0,
    grid: int = 2000,
    vectorized: bool = False,
) -> float | None:
    r"""The stability proxy :math:`\alpha^*`: the smallest :math:`\alpha>0` with
    :math:`\mathcal L\big(\theta-\alpha(\theta-\theta')\big)\ge\text{ratio}\cdot\mathcal L(\theta)`,
    for consecutive iterates :math:`\theta=\theta(t)`, :math:`\theta'=\theta(t+1)`.

    Method: the loss is scanned at :math:`\alpha_k=k\,\alpha_{\max}/\text{grid}`, :math:`k=1..\text{grid}`;
    the first :math:`\alpha_k` where the condition holds brackets the first crossing with
    :math:`\alpha_{k-1}` (:math:`\alpha_0=0`, where it fails since ratio > 1), and bisection narrows
    the bracket to :data:`ALPHA_RTOL` = 1e-12 relative; the upper end (where the condition holds) is
    returned. Returns None when no scan point in :math:`(0,\alpha_{\max}]` satisfies it. A crossing
    narrower than the scan step :math:`\alpha_{\max}/\text{grid}` (the loss rising above the level
    and falling back between two scan points) can be missed, and the answer is then a later crossing.
    When :math:`\mathcal L(\theta)=0` every :math:`\alpha` qualifies and 0.0 (the infimum) is returned.

    ``loss`` maps a parameter vector to a number; with ``vectorized=True`` it maps a (k, D) array of
    parameter vectors to k numbers (one call per scan). A loss value of +inf counts as a crossing;
    NaN is an error. On the 1-D quadratic model, GD from any point gives
    :math:`\alpha^*=(1+\sqrt{1.2})/(\eta\lambda)` (claim B7). Source: Jastrzebski et al. (2020),
    Sec. 4.1 (the 20% rule); the digest, [derived], for the quadratic value.

    >>> f = lambda w: 0.5 * 2.0 * float(w[0]) ** 2  # lambda = 2, GD with eta = 0.25: w' = w / 2
    >>> round(alpha_star(f, [1.0], [0.5]), 9), round((1 + 1.2 ** 0.5) / 0.5, 9)
    (4.19089023, 4.19089023)
    """
    if not callable(loss):
        raise ValidationError("loss", f"must be callable (got {type(loss).__name__})")
    theta = as_real_vector("theta", theta)
    theta_next = as_real_vector("theta_next", theta_next, length=theta.size)
    ratio = as_real("ratio", ratio, 1.0, lo_open=True)
    alpha_max = as_real("alpha_max", alpha_max, 0.0, lo_open=True)
    grid = as_int("grid", grid, 1, 10**7)
    step = theta - theta_next

    def value(alphas: np.ndarray) -> np.ndarray:
        if vectorized:
            out = np.asarray(loss(theta[None, :] - alphas[:, None] * step[None, :]), dtype=np.float64).reshape(-1)
        else:
            out = np.array([float(loss(theta - a * step)) for a in alphas])
        if out.shape != alphas.shape:
            raise ValidationError("loss", f"must return one value per parameter vector (got {out.size} for {alphas.size})")
        if np.isnan(out).any():
            raise ValidationError("loss", f"returned NaN at alpha = {float(alphas[np.argmax(np.isnan(out))])!r}")
        return out

    base = float(value(np.zeros(1))[0])
    if not (math.isfinite(base) and base >= 0.0):
        raise ValidationError("loss", f"loss(theta) must be finite and >= 0 (got {base!r})")
    if base == 0.0:
        return 0.0
    level = ratio * base
    alphas = alpha_max * np.arange(1, grid + 1) / grid
    hit = np.flatnonzero(value(alphas) >= level)
    if hit.size == 0:
        return None
    k = int(hit[0])
    lo, hi = (float(alphas[k - 1]) if k else 0.0), float(alphas[k])
    while hi - lo > ALPHA_RTOL * hi:
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        if value(np.array([mid]))[0] >= level:
            hi = mid
        else:
            lo = mid
    return hi
