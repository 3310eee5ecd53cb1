r"""High-precision references in mpmath, in a local context (never the global ``mp.dps``).

These evaluate the closed forms of Wang et al. (2021) §5 items 2-5 *directly*: the powers
:math:`(1-\eta\lambda_i)^{k}` are formed in mpmath at ``dps`` digits from the exact float64
inputs, and the sums are plain sums. Nothing here shares code with :mod:`numerics.quadratic.stable` (log
space, error-free products) or :mod:`numerics.quadratic.unroll` (the process step by step), so agreement
between the three is evidence, not tautology.

Precision: at ``dps`` = 60 the products eta*lambda_i (106 bits) are exact, and the relative
error of a power a**k is about k * 10**-60, i.e. below 1e-50 for t <= 10**9.

Example::

    >>> ref = quadratic_reference([1.0, 3.0], [0.6, 0.8], 0.5, 10**9, dps=30)
    >>> ref.mpf_str("log_objective_grad", 15)
    '9.47368421052632'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import mpmath

__all__ = ["QuadraticReference", "quadratic_reference", "quadratic_reference_dense"]


@dataclass(frozen=True)
class QuadraticReference:
    """mpf values (None where undefined) at one (eta, t); ``ctx`` is the context they live in."""

    ctx: Any
    dps: int
    loss: Any  #: f(w_t)
    log_loss: Any  #: ln f(w_t) (None when f = 0)
    log_objective: Any
    log_objective_grad: Any
    log_objective_hess: Any
    naive_grad: Any  #: d f(w_t)/d eta
    naive_grad_hess: Any  #: d^2 f(w_t)/d eta^2
    grad_abs_terms: Any  #: 2 sum_i |c_i^2 lam_i^2 a_i^(2t-1)| / sum_i c_i^2 lam_i a_i^(2t)

    @property
    def naive_grad_sign(self) -> int:
        return int(self.ctx.sign(self.naive_grad))

    @property
    def naive_grad_log_abs(self) -> Any:
        return None if self.naive_grad == 0 else self.ctx.log(abs(self.naive_grad))

    def mpf_str(self, name: str, digits: int = 20) -> str:
        v = getattr(self, name)
        return "None" if v is None else self.ctx.nstr(v, digits)

    def as_float(self, name: str) -> float | None:
        v = getattr(self, name)
        return None if v is None else float(v)


def quadratic_reference(
    eigenvalues: Sequence[float],
    coefficients: Sequence[float],
    eta: float,
    t: int,
    dps: int = 60,
) -> QuadraticReference:
    """f(w_t), its eta-derivatives and the log objective's, at ``dps`` significant digits."""
    ctx = mpmath.MPContext()
    ctx.dps = int(dps)
    t = int(t)
    e = ctx.mpf(float(eta))
    lam = [_exact(ctx, x) for x in eigenvalues]
    c = [_exact(ctx, x) for x in coefficients]
    f0 = f1 = f2 = ctx.mpf(0)
    abs1 = ctx.mpf(0)
    for li, ci in zip(lam, c):
        a = 1 - e * li
        w = ci * ci
        f0 += w * li * a ** (2 * t)
        p1 = w * li**2 * a ** (2 * t - 1)
        f1 += p1
        abs1 += abs(p1)
        f2 += w * li**3 * (a ** (2 * t - 2) if 2 * t - 2 > 0 else ctx.mpf(1))
    loss = f0 / 2
    naive_grad = -t * f1
    naive_hess = t * (2 * t - 1) * f2
    if loss == 0:
        return QuadraticReference(ctx, ctx.dps, loss, None, None, None, None, naive_grad, naive_hess, None)
    log_loss = ctx.log(loss)
    g1 = naive_grad / loss  # f'/f
    g2 = naive_hess / loss  # f''/f
    return QuadraticReference(
        ctx=ctx,
        dps=ctx.dps,
        loss=loss,
        log_loss=log_loss,
        log_objective=log_loss / t,
        log_objective_grad=g1 / t,
        log_objective_hess=(g2 - g1 * g1) / t,
        naive_grad=naive_grad,
        naive_grad_hess=naive_hess,
        grad_abs_terms=2 * abs1 / f0,
    )


def quadratic_reference_dense(hessian: Any, w0: Any, eta: float, t: int, dps: int = 60) -> QuadraticReference:
    """As :func:`quadratic_reference`, diagonalising the dense ``hessian`` in mpmath (``eigsy``)."""
    ctx = mpmath.MPContext()
    ctx.dps = int(dps) + 10
    rows = [[float(x) for x in row] for row in hessian]
    h = ctx.matrix(rows)
    h = (h + h.T) / 2
    lam, u = ctx.eigsy(h)
    w = ctx.matrix([float(x) for x in w0])
    coeffs = u.T * w
    n = len(rows)
    return quadratic_reference([lam[i] for i in range(n)], [coeffs[i] for i in range(n)], eta, t, dps)


def _exact(ctx: Any, x: Any) -> Any:
    """x as an mpf of ``ctx``: mpf values keep their digits, numbers go through float exactly."""
    if isinstance(x, mpmath.mpf) or hasattr(x, "_mpf_"):
        return ctx.mpf(x)
    return ctx.mpf(float(x))
