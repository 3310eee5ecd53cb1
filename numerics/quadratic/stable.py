r"""Log-space evaluation of the GD meta-objectives on a quadratic, at any horizon.

Source: Wang, Yuan, Wu & Ge (2021), Section 3 (``../shared/papers/wang2021.md`` §3 and §5 items
1-6). For :math:`f(w)=\tfrac12 w^\top Hw`, step size :math:`\eta\ge0`, horizon :math:`t\ge1`,
and :math:`a_i = 1-\eta\lambda_i`:

.. math::

    f(w_t) &= \tfrac12 \textstyle\sum_i c_i^2\lambda_i a_i^{2t},\\
    \frac{d f(w_t)}{d\eta} &= -t \textstyle\sum_i c_i^2\lambda_i^2 a_i^{2t-1},\\
    G(\eta) &= \tfrac1t \ln f(w_t),\qquad
    G'(\eta) = -2\,\frac{\sum_i c_i^2\lambda_i^2 a_i^{2t-1}}{\sum_i c_i^2\lambda_i a_i^{2t}}
            = -2\textstyle\sum_i q_i r_i,\\
    G''(\eta) &= 4t\Big(\textstyle\sum_i q_i (r_i-\bar r)^2 + Z\Big) - 2\Big(\sum_i q_i r_i^2 + Z\Big),

with weights :math:`q_i = c_i^2\lambda_i a_i^{2t}/\sum_j c_j^2\lambda_j a_j^{2t}`, ratios
:math:`r_i=\lambda_i/a_i`, :math:`\bar r=\sum_i q_i r_i`, and :math:`Z` the t = 1 contribution of
components with :math:`a_i = 0` (their :math:`a_i^{2t-2}=1`).

How it stays accurate:

* :math:`\ln|a_i|` is computed from the *exact* product :math:`\eta\lambda_i` (Dekker's
  error-free product on frexp-scaled mantissas), with ``log1p`` where :math:`a_i` is near 1 or -1,
  so the points :math:`\eta = 1/\lambda_i` and :math:`\eta = 2/\lambda_i` are resolved as well as
  the float64 inputs allow.
* Every sum is taken relative to the dominant term :math:`m` (the largest
  :math:`c_i^2\lambda_i a_i^{2t}`): weights :math:`w_i = e^{\mathrm{rel}_i} \le 1 = w_m`, with
  :math:`\mathrm{rel}_i = \ln(c_i^2\lambda_i a_i^{2t}) - \ln(c_m^2\lambda_m a_m^{2t})` formed from
  differences of :math:`\ln|a|` before the multiplication by :math:`2t`; nothing is raised to the
  power :math:`2t`, so there is no overflow or underflow at :math:`t = 10^9`; the only error that
  grows with :math:`t` is the unavoidable :math:`\approx \epsilon\,2t\,|\ln|a_i||` of multiplying by
  :math:`2t`.
* :math:`G''` uses the variance form, which has no cancellation of order :math:`t`.

Two paths compute these (issue 17), row by row (one row = one (eta, t)):

* the fast path (``_fast``), for every row whose numbers are in ordinary ranges: one pass per
  block of ``BLOCK`` entries for :math:`\ln|a_i|` (Dekker's product of the values themselves,
  ``log1p`` or ``log`` chosen per entry: the same numbers as :func:`log_abs_one_minus`) and the
  dominant component, then :math:`w_i` and :math:`r_i = \lambda_i/a_i` in linear space (with
  :math:`a_i = (1 - p_i) - e_i` from the exact product, relative error :math:`\le 2\epsilon`), and
  :math:`S_0 = \sum w`, :math:`S_1 = \sum w r`, :math:`\sum w|r|`, :math:`S_2 = \sum w r^2`,
  :math:`V = \sum w (r - S_1/S_0)^2`; so :math:`G' = -2S_1/S_0`, :math:`G'' = 4tV/S_0 - 2S_2/S_0`,
  :math:`\ln|df/d\eta| = \ln t + \ln(c_m^2\lambda_m a_m^{2t}) + \ln|S_1|`. Work blocks bound the
  extra memory by three arrays of length d plus ``BLOCK``-sized blocks.
* the log-space path (``_log_space``: each weight and ratio as the exp of a logarithm, a signed
  log-sum-exp for :math:`df/d\eta`), for the rows the fast path declines: :math:`f(w_t) = 0`,
  :math:`t = 1` with some :math:`a_i = 0`, :math:`\eta\lambda_i` beyond :math:`2^{1000}` or below
  :math:`2^{-1020}`, ratios :math:`|r_i|` outside :math:`[2^{-450}, 2^{450}]` or spread by more than
  :math:`2^{400}` (where an underflowed weight times a huge ratio could matter).

Both give :math:`\ln f`, :math:`\tfrac1t\ln f` and ``max_abs_log_factor`` bit for bit alike; G',
G'' and the rest agree to rounding (``tests/numerics/test_stable_fast.py``); measured against
60-digit mpmath on 450 random problems with the edge step sizes, neither is less accurate
(``benchmarks/evaluate.py`` prints time, memory and error next to bare numpy).

This module imports only numpy, so ``l2l eval`` starts fast.

Example (Wang et al. 2021 §5 items 3-5 on a 2-D problem at t = 10^9, where f(w_t) and
d f(w_t)/d eta are far outside the float64 range: ln|d f/d eta| is about -1.4e9 and +6.7e8)::

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0, 3.0], [0.6, 0.8])
    >>> r = evaluate(p, [0.5, 0.8], 10**9)
    >>> r.log_objective.round(9).tolist()          # mpmath, 30 digits: -1.38629436098886, 0.672944473201604
    [-1.386294361, 0.672944473]
    >>> r.log_objective_grad.round(9).tolist()     # mpmath, 30 digits: 9.47368421052632, 4.28571428571429
    [9.473684211, 4.285714286]
    >>> r.naive_grad_sign.tolist(), r.naive_grad_log_abs.round(3).tolist()
    ([1, 1], [-1386294338.017, 672944495.38])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..exact_product import split_mantissa, two_product_scaled, veltkamp_split
from ..problems import QuadraticProblem
from ..validation import ValidationError, as_horizons, as_nonnegative_reals
from ..results import result_type, returns

__all__ = ["QuadraticEvaluation", "evaluate", "log_objective_grad", "log_objective_grad_kernel", "log_abs_one_minus",
           "log_abs_grid", "ln_abs_block", "rows_in_range", "BLOCK"]  # the last four: shared with the least-squares closed form

_LN_HALF = float(np.log(0.5))


def log_abs_one_minus(eta: np.ndarray, lam: np.ndarray, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """ln|1 - eta*lam*2^shift| and its sign, with eta*lam*2^shift taken exactly (broadcasting;
    ``shift`` lets a caller pass eigenvalues scaled by an exact power of 2 that might not be
    representable themselves).

    Accurate to a few ulps relative to ln|1 - eta lam| for the exact float64 inputs, including
    eta*lam near 1 (where 1 - eta lam cancels), near 2 (where ln|1 - eta lam| is near 0), tiny
    (log1p) and beyond the float64 range (logs of the factors).

    >>> l, s = log_abs_one_minus(np.array([0.0, 0.1, 3.0]), np.array(2.0))
    >>> l.round(15).tolist(), s.tolist()
    ([0.0, -0.22314355131421, 1.6094379124341], [1.0, 1.0, -1.0])
    """
    eta, lam = np.broadcast_arrays(np.asarray(eta, np.float64), np.asarray(lam, np.float64))
    pm, em, k = two_product_scaled(eta, lam)
    return _log_abs_from_product(pm, em, k + int(shift))


#: Up to this many entries :func:`_log_abs_from_product` evaluates every branch on the whole array
#: and selects (fewer numpy calls: meta-gradient descent calls it thousands of times on a few
#: hundred entries); above it, each branch on its own entries (one logarithm per entry).
_SELECT_ALL_MAX = 4096


def _log_abs_from_product(pm: np.ndarray, em: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ln|1 - a| and its sign for a = (pm + em) 2^k exactly (:func:`log_abs_one_minus`). The two
    ways of selecting the branches apply the same operation to the same numbers in every entry,
    so they agree bit for bit (``tests/numerics/test_stable.py``)."""
    with np.errstate(over="ignore", under="ignore"):
        p = np.ldexp(pm, k)  # fl(eta*lam), may be inf or subnormal
        e = np.ldexp(em, k)  # its exact error (only used where p is O(1))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if p.size <= _SELECT_ALL_MAX:
            small, near1, near2 = p <= 0.5, p <= 1.5, p <= 3.0
            a1 = (1.0 - p) - e  # 1 - p is exact on the near-1 branch (Sterbenz)
            out = np.where(small, np.log1p(-(p + e)) + 0.0,  # + 0.0: no -0.0 at eta = 0
                           np.where(near1, np.log(np.abs(a1)),
                                    np.where(near2, np.log1p((p - 2.0) + e),  # |a| - 1 = (p - 2) + e, p - 2 exact
                                             np.where(np.isfinite(p), np.log((p - 1.0) + e),
                                                      np.log(pm) + k * np.log(2.0)))))  # 1/(eta lam) < 1e-308 is negligible
            sign = np.where(small, 1.0, np.where(near1, np.sign(a1), -1.0))
            return out, sign
        out = np.empty(p.shape)
        sign = np.empty(p.shape)
        small = p <= 0.5
        out[small] = np.log1p(-(p[small] + e[small])) + 0.0
        sign[small] = 1.0
        near1 = (p > 0.5) & (p <= 1.5)
        a = (1.0 - p[near1]) - e[near1]
        out[near1] = np.log(np.abs(a))
        sign[near1] = np.sign(a)
        near2 = (p > 1.5) & (p <= 3.0)
        out[near2] = np.log1p((p[near2] - 2.0) + e[near2])
        sign[near2] = -1.0
        big = (p > 3.0) & np.isfinite(p)
        out[big] = np.log((p[big] - 1.0) + e[big])
        sign[big] = -1.0
        huge = ~np.isfinite(p)
        out[huge] = np.log(pm[huge]) + k[huge] * np.log(2.0)
        sign[huge] = -1.0
    return out, sign


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """ln sum exp(x) over the last axis; -inf for an all -inf row (no NaN)."""
    m = np.max(x, axis=-1)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(under="ignore"):
        s = np.sum(np.exp(x - safe[..., None]), axis=-1)
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(m), safe + np.log(s), -np.inf)


def _signed_logsumexp(x: np.ndarray, sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ln|S|, sign S) of S = sum sign*exp(x) over the last axis; (-inf, 0) when S == 0."""
    neg_inf = np.full_like(x, -np.inf)
    pos = _logsumexp(np.where(sign > 0, x, neg_inf))
    neg = _logsumexp(np.where(sign < 0, x, neg_inf))
    hi = np.maximum(pos, neg)
    lo = np.minimum(pos, neg)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        diff = np.where(np.isfinite(hi), lo - hi, -np.inf)
        log_abs = np.where(pos == neg, -np.inf, hi + np.log1p(-np.exp(diff)))
    s = np.where(pos > neg, 1, np.where(neg > pos, -1, 0)).astype(np.int8)
    return log_abs, s


@result_type
@dataclass(frozen=True)
class QuadraticEvaluation:
    """Meta-objectives of GD on a quadratic at broadcast (eta, t); every field has that shape.

    Where f(w_t) is exactly 0 (every component with c_i != 0 has eta lambda_i = 1, flagged by
    ``loss_is_zero``), ``log_loss`` and ``log_objective`` are -inf (ln 0), ``naive_grad_sign`` is 0,
    ``naive_grad_log_abs`` is -inf, and the log-objective derivatives, which do not exist there,
    are NaN — the only NaNs this module returns; ``l2l eval`` prints them as null.
    """

    eta: np.ndarray  #: step sizes (broadcast shape)
    t: np.ndarray  #: horizons (broadcast shape)
    log_loss: np.ndarray  #: ln f(w_t)
    log_objective: np.ndarray  #: (1/t) ln f(w_t)
    log_objective_grad: np.ndarray  #: d/d eta of (1/t) ln f(w_t)
    log_objective_hess: np.ndarray  #: d^2/d eta^2 of (1/t) ln f(w_t)
    naive_grad_sign: np.ndarray  #: sign of d f(w_t)/d eta, in {-1, 0, 1}
    naive_grad_log_abs: np.ndarray  #: ln |d f(w_t)/d eta| (-inf where it is exactly 0)
    loss_is_zero: np.ndarray  #: f(w_t) == 0 exactly
    grad_abs_terms: np.ndarray  #: 2 sum_i q_i |r_i|: the scale of the terms summed into G'
    max_abs_log_factor: np.ndarray  #: max_i |ln|1 - eta lambda_i|| over components with c_i != 0


class _Terms:
    """What one problem contributes to every evaluation, computed once: over the components with
    c_i != 0 (the others never contribute), ``lam`` = lambda_i and ``base`` = ln(c_i^2 lambda_i) =
    2 ln|c_i| + ln lambda_i (computed in blocks of ``BLOCK`` entries: the same numbers as
    whole-array operations, in cache), ``direct``: every lambda_i in [2^-960, 2^960] (Veltkamp's
    split of lambda_i itself neither overflows nor underflows: :func:`_fast` may run); and, on first
    use by the log-space path, ``lc2`` = ln c_i^2, ``llam`` = ln lambda_i and ``split``, the
    mantissa split of :func:`~numerics.exact_product.split_mantissa`."""

    __slots__ = ("lam", "c", "base", "lam_min", "lam_max", "direct", "_logs", "_split")

    def __init__(self, problem: QuadraticProblem) -> None:
        keep = problem.coefficients != 0
        if keep.all():
            lam, c = problem.eigenvalues, problem.coefficients
        else:
            lam, c = problem.eigenvalues[keep], problem.coefficients[keep]
        self.lam, self.c = lam, c
        self.lam_min, self.lam_max = float(np.min(lam)), float(np.max(lam))
        self.direct = SPLIT_MIN <= self.lam_min and self.lam_max <= SPLIT_MAX
        self._logs = self._split = None
        d = lam.size
        self.base = np.empty(d)
        lc2, llam = np.empty(min(d, BLOCK)), np.empty(min(d, BLOCK))
        for j0 in range(0, d, BLOCK):
            j1 = min(d, j0 + BLOCK)
            self._block_logs(j0, j1, lc2[: j1 - j0], llam[: j1 - j0])
            np.add(lc2[: j1 - j0], llam[: j1 - j0], out=self.base[j0:j1])

    def _block_logs(self, j0: int, j1: int, lc2: np.ndarray, llam: np.ndarray) -> None:
        """ln c_i^2 (as 2.0 * np.log(np.abs(c))) and ln lambda_i of components j0..j1-1."""
        np.abs(self.c[j0:j1], out=lc2)
        np.log(lc2, out=lc2)
        lc2 *= 2.0
        np.log(self.lam[j0:j1], out=llam)

    @property
    def lc2(self) -> np.ndarray:
        return self._log_arrays()[0]

    @property
    def llam(self) -> np.ndarray:
        return self._log_arrays()[1]

    def _log_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._logs is None:
            lc2, llam = np.empty(self.lam.size), np.empty(self.lam.size)
            for j0 in range(0, self.lam.size, BLOCK):
                j1 = min(self.lam.size, j0 + BLOCK)
                self._block_logs(j0, j1, lc2[j0:j1], llam[j0:j1])
            self._logs = (lc2, llam)
        return self._logs

    @property
    def split(self) -> tuple:
        if self._split is None:
            self._split = split_mantissa(self.lam)
        return self._split


def _problem_terms(problem: QuadraticProblem) -> _Terms:
    return _Terms(problem)


def _log_terms(problem: QuadraticProblem | _Terms, eta_f: np.ndarray, t_f: np.ndarray) -> tuple:
    """The log-space terms of f(w_t) shared by :func:`evaluate` and :func:`log_objective_grad`
    (``eta_f`` flat, ``t_f`` a float column of the same length; ``problem`` may be its
    :func:`_problem_terms`, computed once by a caller that evaluates many times)."""
    terms = _Terms(problem) if isinstance(problem, QuadraticProblem) else problem
    lam, lc2, llam, base, lam_split = terms.lam, terms.lc2, terms.llam, terms.base, terms.split
    pm, em, k = two_product_scaled(eta_f[:, None], lam[None, :], lam_split)  # eta lam exactly, (n, d)
    la, sa = _log_abs_from_product(pm, em, k)
    zero = np.isneginf(la)  # a_i == 0 exactly
    two_t = 2.0 * t_f
    with np.errstate(invalid="ignore", under="ignore", over="ignore", divide="ignore"):
        # ln(c^2 lam a^2t) relative to the dominant component m. The O(t) exponents are only ever
        # *differenced in ln|a|* before the multiplication by 2t, so components with equal |a_i|
        # (repeated eigenvalues, eta = 2/(lam_i + lam_j)) compare exactly and the error grows like
        # 2t eps |ln|a_i| - ln|a_m||, not 2t eps |ln|a_i||.
        m = np.argmax(base + two_t * la, axis=-1)[:, None]
        la_m = la[np.arange(la.shape[0])[:, None], m]
        loss_is_zero = np.isneginf(la_m[:, 0])
        rel = (base - base[m]) + two_t * (la - la_m)
        rel = np.where(loss_is_zero[:, None], -np.inf, rel)
        lse_rel = np.log(np.sum(np.exp(rel), axis=-1))  # >= 0: the dominant term is exp(0)
        top = base[m[:, 0]] + two_t[:, 0] * la_m[:, 0]  # ln(c_m^2 lam_m a_m^2t)
        lse_f = np.where(loss_is_zero, -np.inf, top + lse_rel)  # ln(2 f)
    return la, sa, zero, lc2, llam, t_f, top, rel, lse_rel, lse_f, loss_is_zero


def _grad_terms(la, sa, zero, llam, rel, lse_rel, loss_is_zero) -> tuple:
    """ln q_i, ln|r_i|, |q_i r_i|, sum_i q_i r_i and G' = -2 sum_i q_i r_i (errstate: the caller's).
    ln q_i = rel_i - lse_rel, and ln|r_i| = ln lam_i - ln|a_i| is O(1): a dominant component
    (q_i ~ 1) enters G' and G'' with full relative accuracy at any t."""
    lq = np.where(loss_is_zero[:, None], -np.inf, rel - lse_rel[:, None])
    lr = np.where(zero, -np.inf, llam - np.where(zero, 0.0, la))  # ln|lam_i / a_i|, a_i != 0
    term = np.exp(lq + lr)  # |q_i r_i| (0 where a_i = 0)
    s1 = np.sum(sa * term, axis=-1)
    return lq, lr, term, s1, -2.0 * s1


def _log_space(terms: _Terms, eta_f: np.ndarray, t_f: np.ndarray, full: bool) -> dict:
    """Every field on flat rows by the log-space path (each weight and ratio as exp of a logarithm,
    signed log-sum-exp): the fallback of :func:`_fast` for the rows it declines. ``full=False``:
    ``grad`` only."""
    t_f = t_f[:, None]
    la, sa, zero, lc2, llam, t_f, top, rel, lse_rel, lse_f, loss_is_zero = _log_terms(terms, eta_f, t_f)
    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        lq, lr, term, s1, grad = _grad_terms(la, sa, zero, llam, rel, lse_rel, loss_is_zero)
        if not full:
            return {"grad": np.where(loss_is_zero, np.nan, grad)}
        log_loss = lse_f + _LN_HALF
        log_objective = log_loss / t_f[:, 0]
        ls1, sgn1 = _signed_logsumexp(rel + lr, sa)  # ln|sum c^2 lam^2 a^(2t-1)| - top
        naive_grad_sign = (-sgn1).astype(np.int8)
        naive_grad_log_abs = np.log(t_f[:, 0]) + top + ls1
        grad_abs_terms = 2.0 * np.sum(term, axis=-1)
        dev = np.abs(sa * np.exp(lr) - s1[:, None])  # |r_i - rbar|
        var = np.sum(np.where(zero, 0.0, np.exp(lq + 2.0 * np.log(dev))), axis=-1)
        s2 = np.sum(np.exp(lq + 2.0 * lr), axis=-1)
        ref = np.where(loss_is_zero, 0.0, lse_f)[:, None]
        z = np.sum(np.where(zero & (t_f == 1.0), np.exp(lc2 + 3.0 * llam - ref), 0.0), axis=-1)
        hess = 4.0 * t_f[:, 0] * (var + z) - 2.0 * (s2 + z)
    return {
        "log_loss": log_loss,
        "log_objective": log_objective,
        "grad": np.where(loss_is_zero, np.nan, grad),
        "hess": np.where(loss_is_zero, np.nan, hess),
        "naive_grad_sign": naive_grad_sign,
        "naive_grad_log_abs": naive_grad_log_abs,
        "loss_is_zero": loss_is_zero,
        "grad_abs_terms": grad_abs_terms,
        "max_abs_log_factor": np.max(np.where(zero, 0.0, np.abs(la)), axis=-1),
    }


#: Work block of the fast path, in entries of the (step size x component) grid: a block of rows
#: (or, for d > BLOCK, of one row's columns) at a time keeps the working arrays in cache and the
#: extra memory at a few arrays of length max(d, BLOCK), whatever the number of step sizes.
BLOCK = 1 << 16
SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's constant (as in numerics/exact_product.py)
#: The fast path splits eta and lambda_i themselves (not their mantissas): both in
#: [2^-960, 2^960] (or eta smaller but every eta*lambda_i <= 1/2, where the error term is not
#: used for ln|a|, and 1 - p - e = 1 - p), and eta*lambda_i in [2^-1020, 2^1000] (normal,
#: finite), keep every partial product of Dekker's algorithm exact where eta*lambda_i > 1/2 and
#: fl(eta*lambda_i) the same number as the mantissa product scaled back.
SPLIT_MIN, SPLIT_MAX = 2.0**-960, 2.0**960
_P_MIN, _P_MAX = 2.0**-1020, 2.0**1000
#: Linear space is used for a row when every ratio |r_i| = lambda_i/|a_i| is <= 2^450, the
#: dominant component's |r_m| >= 2^-450 and max_i |r_i| <= 2^400 |r_m|: then a weight w_i =
#: exp(rel_i) lost to underflow (< 2^-1022) changes sum w|r| by < d 2^-622 and sum w r^2 by
#: < d 2^-222 of their dominant term (w_m = 1), products that underflow by < d 2^-1074 << r_m^2,
#: and nothing overflows (w r^2 <= 2^900).
_R_MIN, _R_MAX, _R_RATIO = 2.0**-450, 2.0**450, 2.0**400


def ln_abs_block(et, xh, xl, lc, YH, YL, P, E, S, U, M1, M2, M3, L, A) -> None:
    """ln|1 - eta lambda| into L, a = (1 - p) - e into A and |a| into S, for the block of rows eta
    (a column ``et`` with Veltkamp's halves ``xh + xl``) and columns ``lc``; the other arguments are
    work arrays of the block's shape (``YH``, ``YL`` of the columns'). The same numbers as
    :func:`log_abs_one_minus` wherever eta and lambda are in [2^-960, 2^960] (or every p <= 1/2)
    and p in [2^-1020, 2^1000] (see ``_fast``)."""
    np.multiply(lc, SPLIT, out=YL)  # Veltkamp: yh = cy - (cy - lam), yl = lam - yh
    np.subtract(YL, lc, out=YH)
    np.subtract(YL, YH, out=YH)
    np.subtract(lc, YH, out=YL)
    np.multiply(et, lc, out=P)  # p = fl(eta lam)
    np.multiply(xh, YH, out=E)  # e = ((xh yh - p) + xh yl + xl yh) + xl yl
    np.subtract(E, P, out=E)
    np.multiply(xh, YL, out=S)
    E += S
    np.multiply(xl, YH, out=S)
    E += S
    np.multiply(xl, YL, out=S)
    E += S
    np.subtract(1.0, P, out=A)  # a = (1 - p) - e
    A -= E
    # log1p where p <= 1/2 (of 0 - p = (0 - p) - e, as fl(p + e) = p) and where
    # 3/2 < p <= 3 (of (p - 2) + e = -((2 - p) - e)): u = s ((c - p) - e) with c = 0, s = 1
    # or c = 2, s = -1, the same number in both (2 - p, p - 2 and negation are exact there)
    np.greater(P, 1.5, out=M2)
    np.multiply(M2, 2.0, out=U)  # c
    np.subtract(1.0, U, out=S)  # s
    np.subtract(U, P, out=U)
    U -= E
    U *= S
    np.less_equal(P, 3.0, out=M3)
    M2 &= M3
    np.less_equal(P, 0.5, out=M1)
    M2 |= M1
    np.logical_not(M2, out=M3)  # log|a| where 1/2 < p <= 3/2 or p > 3
    np.abs(A, out=S)
    # both logarithms over the whole block, each given a neutral argument where the other one is
    # chosen (0 to log1p, 1 to log, whose results are 0), then added: the same numbers as the
    # masked calls (up to the sign of a zero), but ufuncs with where= on a scattered mask ran about
    # 8x slower than unmasked ones (2.2 ms against 0.3 ms for 200,000 entries)
    np.multiply(U, M2, out=U)
    np.log1p(U, out=L)
    np.multiply(S, M3, out=P)
    P += M2
    np.log(P, out=E)
    L += E


def rows_in_range(eta: np.ndarray, lam_min: float, lam_max: float) -> np.ndarray:
    """Step sizes whose row :func:`ln_abs_block` computes exactly (ranges at ``SPLIT_MIN``)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        p_max = eta * lam_max
        return (eta == 0.0) | (
            ((SPLIT_MIN <= eta) | (p_max <= 0.5)) & (eta <= SPLIT_MAX) & (eta * lam_min >= _P_MIN) & (p_max <= _P_MAX)
        )


def log_abs_grid(eta: np.ndarray, lam: np.ndarray, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``log_abs_one_minus(eta[:, None], lam[None, :], shift)`` bit for bit (flat ``eta``, ``lam``),
    by :func:`ln_abs_block` in blocks of ``BLOCK`` entries for the rows in its ranges (about five
    times faster on large grids) and by :func:`log_abs_one_minus` for the others.

    >>> la, sa = log_abs_grid(np.array([0.0, 0.5, 2.0]), np.array([1.0, 2.0]))
    >>> bool(np.array_equal(la, log_abs_one_minus(np.array([[0.0], [0.5], [2.0]]), np.array([[1.0, 2.0]]))[0]))
    True
    """
    eta = np.asarray(eta, np.float64).reshape(-1)
    lam = np.asarray(lam, np.float64).reshape(-1)
    n, d = eta.size, lam.size
    with np.errstate(over="ignore", under="ignore"):
        lam_s = np.ldexp(lam, int(shift))
    if n == 0 or d == 0 or not (SPLIT_MIN <= float(np.min(lam_s)) and float(np.max(lam_s)) <= SPLIT_MAX):
        return log_abs_one_minus(eta[:, None], lam[None, :], shift)
    ok = rows_in_range(eta, float(np.min(lam_s)), float(np.max(lam_s)))
    la, sa = np.empty((n, d)), np.empty((n, d))
    rows = np.flatnonzero(ok)
    nb = max(1, min(rows.size, BLOCK // d))
    cw = min(d, BLOCK)
    p, e, s, u, L, A = (np.empty((nb, cw)) for _ in range(6))
    m1, m2, m3 = (np.empty((nb, cw), bool) for _ in range(3))
    yh, yl = np.empty(cw), np.empty(cw)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        for b0 in range(0, rows.size, nb):
            idx = rows[b0 : b0 + nb]
            k = idx.size
            et = eta[idx][:, None]
            xh, xl = veltkamp_split(et)
            for j0 in range(0, d, cw):
                w = min(d, j0 + cw) - j0
                Lb, Ab = L[:k, :w], A[:k, :w]
                ln_abs_block(et, xh, xl, lam_s[j0 : j0 + w], yh[:w], yl[:w], p[:k, :w], e[:k, :w], s[:k, :w],
                              u[:k, :w], m1[:k, :w], m2[:k, :w], m3[:k, :w], Lb, Ab)
                la[idx, j0 : j0 + w] = Lb
                sa[idx, j0 : j0 + w] = np.sign(Ab)
    if rows.size < n:
        rest = np.flatnonzero(~ok)
        la[rest], sa[rest] = log_abs_one_minus(eta[rest][:, None], lam[None, :], shift)
    return la, sa


def _fast(terms: _Terms, eta: np.ndarray, t: np.ndarray, full: bool) -> tuple[dict, np.ndarray]:
    """Every field on flat rows by one pass for ln|a_i| and the dominant component, and one for the
    weights w_i = exp(rel_i) and the ratios r_i = lambda_i / a_i, in linear space; returns the
    fields and the rows it declines (``slow``: computed again by :func:`_log_space`).

    ln|a_i| is the same number as :func:`log_abs_one_minus` gives (the same operations on the same
    floats: Dekker's product of the values, which equals the scaled mantissa product in range;
    ``log1p(0 - p)`` for p <= 1/2, ``log|(1 - p) - e|`` for 1/2 < p <= 3/2 and p > 3 (where
    ``(1 - p) - e = -((p - 1) + e)`` exactly: rounding is symmetric), ``log1p((p - 2) + e)`` for
    3/2 < p <= 3), and so are the dominant index, rel_i, ln f and ``max_abs_log_factor``. The ratio
    r_i = lambda_i / a_i from a = (1 - p) - e (relative error <= 2 eps, where exp(ln lambda -
    ln|a|) errs by eps |ln lambda - ln|a||) replaces the log-space ln|r_i|; then
    G' = -2 S1/S0, G'' = 4t V/S0 - 2 S2/S0 (variance form: V = sum w (r - S1/S0)^2),
    sum_i c^2 lam^2 a^(2t-1) = e^top S1, with S0 = sum w, S1 = sum w r, S2 = sum w r^2.

    Declined rows: eta or eta*lambda_i outside the ranges above, f(w_t) = 0, t = 1 with some
    a_i = 0 (the Z term), ratios outside [_R_MIN, _R_MAX] or spread beyond _R_RATIO (underflow of
    weights could matter).
    """
    n, d = eta.size, terms.lam.size
    lam, base = terms.lam, terms.base
    ok = rows_in_range(eta, terms.lam_min, terms.lam_max) & terms.direct
    if full:
        out = {
            "log_loss": np.full(n, np.nan),
            "log_objective": np.full(n, np.nan),
            "grad": np.full(n, np.nan),
            "hess": np.full(n, np.nan),
            "naive_grad_sign": np.zeros(n, np.int8),
            "naive_grad_log_abs": np.full(n, np.nan),
            "loss_is_zero": np.zeros(n, bool),
            "grad_abs_terms": np.full(n, np.nan),
            "max_abs_log_factor": np.full(n, np.nan),
        }
    else:  # G' alone (meta-gradient descent's inner loop: thousands of calls on a few rows)
        out = {"grad": np.full(n, np.nan)}
    slow = ~ok
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return out, slow
    nb = max(1, min(rows.size, BLOCK // d))  # rows per block
    cw = min(d, BLOCK)  # columns per chunk
    # la holds ln|a_i| (pass 1), then the weights w_i (pass 2); ra holds a_i, then r_i
    la, ra = np.empty((nb, d)), np.empty((nb, d))
    w = la
    p, e, s, u = (np.empty((nb, cw)) for _ in range(4))
    yh, yl = np.empty(cw), np.empty(cw)
    m1, m2, m3 = (np.empty((nb, cw), bool) for _ in range(3))
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        for b0 in range(0, rows.size, nb):
            idx = rows[b0 : b0 + nb]
            k = idx.size
            et = eta[idx][:, None]
            xh, xl = veltkamp_split(et)
            tt = 2.0 * t[idx][:, None]
            best = np.full(k, -np.inf)
            arg = np.zeros(k, np.int64)
            mabs = np.zeros(k)
            zany = np.zeros(k, bool)
            # pass 1: ln|a_i| (kept), a_i (kept), the dominant component m = argmax base + 2t ln|a|
            for j0 in range(0, d, cw):
                j1 = min(d, j0 + cw)
                P, E, S, U = p[:k, : j1 - j0], e[:k, : j1 - j0], s[:k, : j1 - j0], u[:k, : j1 - j0]
                M1, M2, M3 = m1[:k, : j1 - j0], m2[:k, : j1 - j0], m3[:k, : j1 - j0]
                L, A = la[:k, j0:j1], ra[:k, j0:j1]
                ln_abs_block(et, xh, xl, lam[j0:j1], yh[: j1 - j0], yl[: j1 - j0], P, E, S, U, M1, M2, M3, L, A)
                zc = S.min(axis=1) == 0.0  # some a_i = 0 exactly (S = |a|)
                zany |= zc
                if full and zc.any():  # max |ln|a_i|| over a_i != 0
                    np.equal(A, 0.0, out=M1)
                    np.abs(L, out=S)
                    np.copyto(S, 0.0, where=M1)
                    np.maximum(mabs, S.max(axis=1), out=mabs)
                elif full:
                    np.maximum(mabs, np.maximum(L.max(axis=1), -L.min(axis=1)), out=mabs)
                np.multiply(L, tt, out=S)  # base + 2t ln|a|
                S += base[j0:j1]
                j = np.argmax(S, axis=1)
                v = S[np.arange(k), j]
                up = v > best  # the first maximum, as one argmax over the row
                best[up], arg[up] = v[up], j[up] + j0
            la_m = la[np.arange(k), arg]
            base_m = base[arg]
            # pass 2: weights w = exp(rel), ratios r = lam / a (over a, in place), their sums
            S1 = np.zeros(k)
            if full:
                A1, S2 = np.zeros(k), np.zeros(k)
            rmax = np.zeros(k)
            for j0 in range(0, d, cw):
                j1 = min(d, j0 + cw)
                S, U, M1 = s[:k, : j1 - j0], u[:k, : j1 - j0], m1[:k, : j1 - j0]
                L, A, W = la[:k, j0:j1], ra[:k, j0:j1], w[:k, j0:j1]
                np.subtract(L, la_m[:, None], out=S)  # rel = (base - base_m) + 2t (ln|a| - ln|a_m|)
                S *= tt
                np.subtract(base[j0:j1], base_m[:, None], out=U)
                S += U
                # exp only where it does not underflow to 0 (exp(x) < 2^-1075 rounds to 0 for
                # x < -746; glibc's underflow path costs 2-3 plain exps, and at t = 10^9 most rel are there)
                W[...] = 0.0  # W is L: ln|a| is no longer needed
                np.greater_equal(S, -746.0, out=M1)
                np.exp(S, out=W, where=M1)
                if zany.any():
                    np.equal(A, 0.0, out=M1)
                np.divide(lam[j0:j1], A, out=A)
                if zany.any():
                    np.copyto(A, 0.0, where=M1)  # a_i = 0: w_i = 0 exactly, and no 0 * inf
                np.multiply(W, A, out=U)
                S1 += U.sum(axis=1)
                if full:
                    np.abs(U, out=S)
                    A1 += S.sum(axis=1)
                    U *= A
                    S2 += U.sum(axis=1)
                np.maximum(rmax, np.maximum(A.max(axis=1), -A.min(axis=1)), out=rmax)  # max |r_i|
            S0 = w[:k].sum(axis=1)  # one sum over the whole row: the same number as the log-space path
            r_m = np.abs(ra[np.arange(k), arg])
            loss_is_zero = np.isneginf(la_m)
            declined = loss_is_zero | ~(rmax <= _R_MAX) | ~(r_m >= _R_MIN) | ~(rmax <= _R_RATIO * r_m) | (zany & (tt[:, 0] == 2.0))
            slow[idx[declined]] = True
            s1 = S1 / S0
            out["grad"][idx] = -2.0 * s1
            if not full:
                continue
            V = np.zeros(k)  # pass 3: sum w (r - rbar)^2
            for j0 in range(0, d, cw):
                j1 = min(d, j0 + cw)
                S = s[:k, : j1 - j0]
                np.subtract(ra[:k, j0:j1], s1[:, None], out=S)
                S *= S
                S *= w[:k, j0:j1]
                V += S.sum(axis=1)
            tf = tt[:, 0] / 2.0
            top = base_m + tt[:, 0] * la_m  # ln(c_m^2 lam_m a_m^2t)
            log_loss = (top + np.log(S0)) + _LN_HALF
            out["log_loss"][idx] = log_loss
            out["log_objective"][idx] = log_loss / tf
            out["hess"][idx] = 4.0 * tf * (V / S0) - 2.0 * (S2 / S0)
            out["naive_grad_sign"][idx] = -np.sign(S1).astype(np.int8)
            out["naive_grad_log_abs"][idx] = np.log(tf) + top + np.log(np.abs(S1))
            out["grad_abs_terms"][idx] = 2.0 * (A1 / S0)
            out["max_abs_log_factor"][idx] = mabs
    return out, slow


def _fields(terms: _Terms, eta_f: np.ndarray, t_f: np.ndarray, full: bool) -> dict:
    """:func:`_fast` on every row, :func:`_log_space` on the rows it declines."""
    out, slow = _fast(terms, eta_f, t_f, full)
    if slow.any():
        rows = np.flatnonzero(slow)
        for name, value in _log_space(terms, eta_f[rows], t_f[rows], full).items():
            out[name][rows] = value
    return out


def _inputs(problem: QuadraticProblem, eta: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """The checked problem, and ``eta`` (>= 0) and ``t`` (horizons) broadcast together."""
    if not isinstance(problem, QuadraticProblem):
        raise ValidationError("problem", f"must be a QuadraticProblem (got {type(problem).__name__})")
    eta = as_nonnegative_reals("eta", eta)
    t = as_horizons("t", t)
    try:
        return tuple(np.broadcast_arrays(eta, t))
    except ValueError:
        raise ValidationError("t", f"shape {t.shape} cannot be broadcast against eta's shape {eta.shape}") from None


def log_objective_grad(problem: QuadraticProblem, eta: Any, t: Any) -> np.ndarray:
    """G'(eta) = d/d eta of (1/t) ln f(w_t) alone, at the broadcast of ``eta`` and ``t``: the same
    numbers as ``evaluate(problem, eta, t).log_objective_grad`` (the same code computes them,
    without the other fields), NaN where f(w_t) = 0."""
    eta, t = _inputs(problem, eta, t)
    return _gprime(_Terms(problem), eta.reshape(-1), t.reshape(-1).astype(np.float64)).reshape(eta.shape)


def log_objective_grad_kernel(problem: QuadraticProblem) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """:func:`log_objective_grad` for an inner loop that checked its inputs once (meta-gradient
    descent calls it thousands of times): returns ``g(eta_f, t_f)`` taking flat float64 arrays of
    one length (eta >= 0, horizons t >= 1 as floats) and giving the same numbers, bit for bit, as
    ``log_objective_grad(problem, eta_f, t_f)`` (NaN where f(w_t) = 0), without re-validating them
    and with the problem's terms computed once.

    >>> from l2l.numerics import QuadraticProblem
    >>> p = QuadraticProblem([1.0, 3.0], [0.6, 0.8])
    >>> g = log_objective_grad_kernel(p)
    >>> bool(g(np.array([0.1, 2.0]), np.array([10.0, 10.0]))[1] == log_objective_grad(p, 2.0, 10))
    True
    """
    if not isinstance(problem, QuadraticProblem):
        raise ValidationError("problem", f"must be a QuadraticProblem (got {type(problem).__name__})")
    terms = _Terms(problem)
    return lambda eta_f, t_f: _gprime(terms, eta_f, t_f)


def _gprime(terms: _Terms, eta_f: np.ndarray, t_f: np.ndarray) -> np.ndarray:
    """G' on checked flat float64 arrays."""
    return _fields(terms, np.asarray(eta_f, np.float64), np.asarray(t_f, np.float64), full=False)["grad"]


@returns(QuadraticEvaluation)
def evaluate(problem: QuadraticProblem, eta: Any, t: Any) -> QuadraticEvaluation:
    """Evaluate every meta-objective quantity at the broadcast of ``eta`` (>= 0) and ``t`` (>= 1).

    ``eta`` and ``t`` broadcast like numpy arrays; pass ``eta[:, None]`` and ``t[None, :]`` for a
    grid. Work O(size of the broadcast x dim); extra memory a few arrays of length
    max(dim, 16384) beyond the outputs (a step size at a time when dim is large).
    """
    eta, t = _inputs(problem, eta, t)
    shape = eta.shape
    f = _fields(_Terms(problem), eta.reshape(-1), t.reshape(-1).astype(np.float64), full=True)

    def out(x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(shape)

    return QuadraticEvaluation(
        eta=eta.copy(),
        t=t.copy(),
        log_loss=out(f["log_loss"]),
        log_objective=out(f["log_objective"]),
        log_objective_grad=out(f["grad"]),
        log_objective_hess=out(f["hess"]),
        naive_grad_sign=out(f["naive_grad_sign"]),
        naive_grad_log_abs=out(f["naive_grad_log_abs"]),
        loss_is_zero=out(f["loss_is_zero"]),
        grad_abs_terms=out(f["grad_abs_terms"]),
        max_abs_log_factor=out(f["max_abs_log_factor"]),
    )
