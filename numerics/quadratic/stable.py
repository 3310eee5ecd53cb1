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
* Every sum is a (signed) log-sum-exp: nothing is raised to the power :math:`2t`, so there is no
  overflow or underflow at :math:`t = 10^9`; the only error that grows with :math:`t` is the
  unavoidable :math:`\approx \epsilon\,2t\,|\ln|a_i||` of multiplying by :math:`2t`.
* :math:`G''` uses the variance form, which has no cancellation of order :math:`t`.

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

from ..exact_product import split_mantissa, two_product_scaled
from ..problems import QuadraticProblem
from ..validation import ValidationError, as_horizons, as_nonnegative_reals
from ..results import result_type, returns

__all__ = ["QuadraticEvaluation", "evaluate", "log_objective_grad", "log_objective_grad_kernel", "log_abs_one_minus"]

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


def _problem_terms(problem: QuadraticProblem) -> tuple:
    """(lam_i, ln c_i^2, ln lam_i, ln(c_i^2 lam_i), the mantissa split of lam_i) over the components
    with c_i != 0 (the others never contribute)."""
    keep = problem.coefficients != 0
    lam = problem.eigenvalues[keep]
    lc2, llam = 2.0 * np.log(np.abs(problem.coefficients[keep])), np.log(lam)
    return lam, lc2, llam, lc2 + llam, split_mantissa(lam)


def _log_terms(problem: QuadraticProblem | tuple, eta_f: np.ndarray, t_f: np.ndarray) -> tuple:
    """The log-space terms of f(w_t) shared by :func:`evaluate` and :func:`log_objective_grad`
    (``eta_f`` flat, ``t_f`` a float column of the same length; ``problem`` may be its
    :func:`_problem_terms`, computed once by a caller that evaluates many times)."""
    lam, lc2, llam, base, lam_split = _problem_terms(problem) if isinstance(problem, QuadraticProblem) else problem
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
    without the other fields: about a third of the time), NaN where f(w_t) = 0."""
    eta, t = _inputs(problem, eta, t)
    return _gprime(problem, eta.reshape(-1), t.reshape(-1).astype(np.float64)).reshape(eta.shape)


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
    terms = _problem_terms(problem)
    return lambda eta_f, t_f: _gprime(terms, eta_f, t_f)


def _gprime(problem: QuadraticProblem | tuple, eta_f: np.ndarray, t_f: np.ndarray) -> np.ndarray:
    """G' on checked flat float64 arrays (``problem`` or its :func:`_problem_terms`)."""
    la, sa, zero, _, llam, _, _, rel, lse_rel, _, loss_is_zero = _log_terms(problem, eta_f, t_f[:, None])
    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        grad = _grad_terms(la, sa, zero, llam, rel, lse_rel, loss_is_zero)[4]
    return np.where(loss_is_zero, np.nan, grad)


@returns(QuadraticEvaluation)
def evaluate(problem: QuadraticProblem, eta: Any, t: Any) -> QuadraticEvaluation:
    """Evaluate every meta-objective quantity at the broadcast of ``eta`` (>= 0) and ``t`` (>= 1).

    ``eta`` and ``t`` broadcast like numpy arrays; pass ``eta[:, None]`` and ``t[None, :]`` for a
    grid. Work and memory are O(size of the broadcast x dim).
    """
    eta, t = _inputs(problem, eta, t)
    shape = eta.shape
    eta_f = eta.reshape(-1)
    t_f = t.reshape(-1).astype(np.float64)[:, None]
    la, sa, zero, lc2, llam, t_f, top, rel, lse_rel, lse_f, loss_is_zero = _log_terms(problem, eta_f, t_f)
    log_loss = lse_f + _LN_HALF
    log_objective = log_loss / t_f[:, 0]

    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        # ln q_i = rel_i - lse_rel, and ln|r_i| = ln lam_i - ln|a_i| is O(1): a dominant component
        # (q_i ~ 1) enters G' and G'' with full relative accuracy at any t.
        lq, lr, term, s1, grad = _grad_terms(la, sa, zero, llam, rel, lse_rel, loss_is_zero)
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
    grad = np.where(loss_is_zero, np.nan, grad)
    hess = np.where(loss_is_zero, np.nan, hess)
    max_abs_log_factor = np.max(np.where(zero, 0.0, np.abs(la)), axis=-1)

    def out(x: np.ndarray) -> np.ndarray:
        return np.asarray(x).reshape(shape)

    return QuadraticEvaluation(
        eta=eta.copy(),
        t=t.copy(),
        log_loss=out(log_loss),
        log_objective=out(log_objective),
        log_objective_grad=out(grad),
        log_objective_hess=out(hess),
        naive_grad_sign=out(naive_grad_sign),
        naive_grad_log_abs=out(naive_grad_log_abs),
        loss_is_zero=out(loss_is_zero),
        grad_abs_terms=out(grad_abs_terms),
        max_abs_log_factor=out(max_abs_log_factor),
    )
