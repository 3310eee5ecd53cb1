r"""Full-batch GD on least squares and its d/d eta, unrolled in mpmath: the high-precision
reference (``../shared/DESIGN.md``, "Independence") for :mod:`numerics.least_squares.closed_form`.
A local ``mpmath.MPContext`` (never the global ``mp.dps``); no eigen-decomposition, no closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


from ..problems import LeastSquaresProblem
from ..validation import as_instance

__all__ = ["LeastSquaresReference", "reference"]


# ---------------------------------------------------------------------------------------------
# high-precision reference: the same unroll in mpmath (independent of the closed form)


@dataclass(frozen=True)
class LeastSquaresReference:
    """mpf values at one (eta, t) from :func:`reference`; ``*_scale`` bound the derivative's
    magnitude by Cauchy-Schwarz (||residual|| ||X dw/deta|| / n), the natural scale for its
    error (cancellation in the inner product)."""

    ctx: Any
    w: list
    dw: list
    train_loss: Any
    train_loss_grad: Any
    train_grad_scale: Any
    valid_loss: Any
    valid_loss_grad: Any
    valid_grad_scale: Any


def reference(problem: LeastSquaresProblem, eta: float, t: int, w0: Any = None, dps: int = 50) -> LeastSquaresReference:
    r"""GD and its forward-mode d/d eta unrolled in mpmath (local context, ``dps`` digits) on the
    raw (X, y) -- no eigen-decomposition, no closed form. Inputs are taken exactly from float64.

    Precision: each step loses a few units of 10^-dps relative to the iterate's scale, so after
    t <= 50 steps of a well-scaled problem the reference is good to ~10^-(dps-4).

    >>> from l2l.numerics import LeastSquaresProblem
    >>> ref = reference(LeastSquaresProblem([[1.0], [2.0]], [1.0, 1.0]), 0.2, 2, dps=30)
    >>> ref.ctx.nstr(ref.train_loss, 10), ref.ctx.nstr(ref.train_loss_grad, 10)
    ('0.078125', '-0.5625')
    """
    problem = as_instance(problem, LeastSquaresProblem)
    import mpmath  # lazily: only the reference needs it

    ctx = mpmath.MPContext()
    ctx.dps = int(dps)
    n, d = problem.n, problem.d
    X = [[ctx.mpf(float(v)) for v in row] for row in problem.X]
    y = [ctx.mpf(float(v)) for v in problem.y]
    e = ctx.mpf(float(eta))
    w = [ctx.mpf(0)] * d if w0 is None else [ctx.mpf(float(v)) for v in w0]
    wd = [ctx.mpf(0)] * d

    def matvec(A: list, v: list) -> list:
        return [ctx.fsum(a * b for a, b in zip(row, v)) for row in A]

    def rmatvec(A: list, r: list) -> list:
        return [ctx.fsum(A[k][j] * r[k] for k in range(len(A))) for j in range(d)]

    for _ in range(int(t)):
        g = [gi / n for gi in rmatvec(X, [a - b for a, b in zip(matvec(X, w), y)])]
        hwd = [gi / n for gi in rmatvec(X, matvec(X, wd))]
        w, wd = [wi - e * gi for wi, gi in zip(w, g)], [a - b - e * c for a, b, c in zip(wd, g, hwd)]

    def loss_and_grad(A: list, b: list, m: int):
        r = [bi - ai for ai, bi in zip(matvec(A, w), b)]
        xd = matvec(A, wd)
        loss = ctx.fsum(ri * ri for ri in r) / (2 * m)
        grad = -ctx.fsum(ri * xi for ri, xi in zip(r, xd)) / m
        scale = ctx.sqrt(ctx.fsum(ri * ri for ri in r)) * ctx.sqrt(ctx.fsum(xi * xi for xi in xd)) / m
        return loss, grad, scale

    tl, tg, ts = loss_and_grad(X, y, n)
    vl = vg = vs = None
    if problem.has_validation:
        Xv = [[ctx.mpf(float(v)) for v in row] for row in problem.X_valid]
        yv = [ctx.mpf(float(v)) for v in problem.y_valid]
        vl, vg, vs = loss_and_grad(Xv, yv, problem.n_valid)
    return LeastSquaresReference(ctx, w, wd, tl, tg, ts, vl, vg, vs)
