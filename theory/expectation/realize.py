r"""Realizing a matrix statement at concrete sizes: every entry an explicit, independent symbol.

:func:`realize` maps a ``MatrixSymbol`` expression of symbolic size (``d x d``, ``n x d``, ...)
together with the nodes of :mod:`theory.expectation.notation` to an explicit ``ImmutableMatrix``
(or a scalar) at the sizes given: a matrix named ``N`` becomes ``N[a,b]`` (``N[a]`` for a vector;
``N[a,b] = N[b,a]`` when ``N`` is listed as symmetric), averages become explicit sums, rows and
entries are picked (a random index ``J[k]`` from the outcome being enumerated), and a tangent
node becomes the directional derivative ``d/dh expr(var + h, Z + h Zdot)`` at ``h = 0``.

A difference of two sides that realizes to the zero matrix with every entry symbolic proves the
statement at those sizes (status ``"concrete-d"``, :mod:`theory.expectation.checks`).

Source: mechanics only; no mathematics is claimed here.

>>> n, d = sympy.symbols("n d", integer=True, positive=True)
>>> X = MatrixSymbol("X", n, d)
>>> realize(X.T * X / n, {n: 2, d: 1})
Matrix([[X[1,1]**2/2 + X[2,1]**2/2]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import sympy
from sympy import Basic, Dummy, ImmutableMatrix, Indexed, Integer, MatrixSymbol, Symbol, Trace, ZeroMatrix, sstr
from sympy.matrices.expressions.matexpr import MatrixExpr

from l2l.theory.expectation.notation import (
    CUSTOM,
    Entry,
    MatAvg,
    MatExpect,
    MatTangent,
    Row,
    RowT,
    Sc,
    ScalarAvg,
    ScalarExpect,
    ScalarTangent,
    as_basic,
)
from l2l.theory.polynomial import derivative_at_zero

__all__ = ["realize", "realize_in", "RealizeContext", "concrete_int", "fmt_sizes"]


@dataclass
class RealizeContext:
    """What realizing an expression at concrete sizes needs to know: the sizes, the symmetric
    matrices, bound indices, outcomes of random indices and overrides (shared by the engine)."""

    sizes: Mapping[Basic, int]
    symmetric: frozenset[str]
    bound: dict
    outcome: dict
    override: dict

    def child(self, **kw) -> "RealizeContext":
        new = RealizeContext(self.sizes, self.symmetric, dict(self.bound), dict(self.outcome), dict(self.override))
        for key, value in kw.items():
            getattr(new, key).update(value)
        return new


def concrete_int(x: Basic, ctx: RealizeContext, what: str) -> int:
    """``x`` (a size, index or exponent) as a Python int at the context's sizes, else ValueError."""
    v = as_basic(x, what).xreplace({k: Integer(v) for k, v in ctx.sizes.items()})
    v = v.xreplace({k: Integer(v2) for k, v2 in ctx.bound.items()})
    if not v.is_Integer:
        raise ValueError(f"cannot realize {what} {sstr(x)}: not an integer at sizes {fmt_sizes(ctx.sizes)}")
    return int(v)


def _entry_symbols(name: str, rows: int, cols: int, symmetric: bool, vector: bool) -> ImmutableMatrix:
    def sym(a: int, b: int) -> Symbol:
        if symmetric:
            a, b = min(a, b), max(a, b)
        if vector:
            return Symbol(f"{name}[{a}]")
        return Symbol(f"{name}[{a},{b}]")

    return ImmutableMatrix(rows, cols, lambda a, b: sym(a + 1, b + 1))


def _index_value(idx: Basic, ctx: RealizeContext) -> int:
    if isinstance(idx, Indexed):
        label = idx.base.label
        key = str(label)
        if key not in ctx.outcome:
            raise ValueError(f"random index {sstr(idx)} has no law (UniformIndex) in this step")
        return ctx.outcome[key][_index_value(idx.indices[0], ctx) - 1]
    return concrete_int(idx, ctx, "index")


def realize(expr: Basic, sizes: Mapping[Basic, int], symmetric: Iterable[str] = (), **kw) -> Basic:
    r"""``expr`` at concrete sizes, as an explicit ``ImmutableMatrix`` (or a scalar expression).

    Every ``MatrixSymbol`` named ``N`` becomes a matrix of independent symbols ``N[a,b]``
    (``N[a]`` for a vector); names listed in ``symmetric`` get ``N[a,b] = N[b,a]``. The size
    symbols of ``sizes`` become integers, :class:`Avg` becomes an explicit average, :class:`Row`
    and :class:`Entry` pick rows and entries. Keyword ``outcome`` maps a random index base name
    (``"J"``) to its values.

    >>> n, d = sympy.symbols("n d", integer=True, positive=True)
    >>> X = MatrixSymbol("X", n, d)
    >>> realize(X.T * X / n, {n: 2, d: 1})
    Matrix([[X[1,1]**2/2 + X[2,1]**2/2]])
    """
    ctx = RealizeContext(dict(sizes), frozenset(symmetric), {}, dict(kw.get("outcome", {})), {})
    return realize_in(expr, ctx)


def realize_in(expr: Basic, ctx: RealizeContext) -> Basic:
    if isinstance(expr, MatrixSymbol):
        name = str(expr.name)
        if name in ctx.override:
            return ctx.override[name]
        rows, cols = concrete_int(expr.shape[0], ctx, "rows"), concrete_int(expr.shape[1], ctx, "columns")
        return _entry_symbols(name, rows, cols, name in ctx.symmetric, vector=expr.shape[1] == 1)
    if isinstance(expr, sympy.Identity):
        return ImmutableMatrix(sympy.eye(concrete_int(expr.shape[0], ctx, "size")))
    if isinstance(expr, ZeroMatrix):
        return ImmutableMatrix(sympy.zeros(concrete_int(expr.shape[0], ctx, "rows"), concrete_int(expr.shape[1], ctx, "columns")))
    if isinstance(expr, sympy.MatAdd):
        parts = [realize_in(a, ctx) for a in expr.args]
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out
    if isinstance(expr, sympy.MatMul):
        out: Basic = Integer(1)
        for a in expr.args:
            out = out * realize_in(a, ctx)
        return out
    if isinstance(expr, sympy.MatPow):
        return realize_in(expr.args[0], ctx) ** concrete_int(expr.args[1], ctx, "exponent")
    if isinstance(expr, sympy.Transpose):
        return realize_in(expr.args[0], ctx).T
    if isinstance(expr, Trace):
        return realize_in(expr.args[0], ctx).trace()
    if isinstance(expr, Sc):
        value = realize_in(expr.args[0], ctx)
        if value.shape != (1, 1):
            raise ValueError(f"Sc needs a 1 x 1 matrix, got shape {value.shape} for {sstr(expr.args[0])}")
        return value[0, 0]
    if isinstance(expr, Row):
        mat = realize_in(expr.args[0], ctx)
        return ImmutableMatrix(mat[_index_value(expr.args[1], ctx) - 1, :].T)
    if isinstance(expr, RowT):
        return realize_in(Row(*expr.args), ctx).T
    if isinstance(expr, Entry):
        vec = realize_in(expr.args[0], ctx)
        return vec[_index_value(expr.args[1], ctx) - 1, 0]
    if isinstance(expr, (MatAvg, ScalarAvg)):
        body, idx, count = expr.args
        size = concrete_int(count, ctx, "count")
        parts = [realize_in(body, ctx.child(bound={idx: v})) for v in range(1, size + 1)]
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out / size
    if isinstance(expr, (MatTangent, ScalarTangent)):
        inner, pairs, var = expr.args
        h = Dummy("h")
        over, scalars = {}, {var: var + h}
        for z, zd in pairs:
            if isinstance(z, MatrixSymbol):
                over[str(z.name)] = realize_in(z, ctx) + h * realize_in(zd, ctx)
            else:
                scalars[z] = z + h * zd
        value = realize_in(inner, ctx.child(override=over))
        value = value.xreplace(scalars)
        if isinstance(value, ImmutableMatrix):
            return value.applyfunc(lambda e: derivative_at_zero(e, h))
        return derivative_at_zero(value, h)
    if isinstance(expr, (MatExpect, ScalarExpect)):
        raise ValueError("E[...] is computed only by an Expectation step (as its left side)")
    if isinstance(expr, MatrixExpr):
        raise ValueError(f"cannot realize the matrix expression {type(expr).__name__}: {sstr(expr)}")
    if not expr.args:
        if expr in ctx.sizes:
            return Integer(ctx.sizes[expr])
        if expr in ctx.bound:
            return Integer(ctx.bound[expr])
        return expr
    if not any(isinstance(a, (MatrixExpr,) + CUSTOM + (Sc,)) for a in sympy.preorder_traversal(expr)):
        rep = {k: Integer(v) for k, v in ctx.sizes.items()}
        rep.update({k: Integer(v) for k, v in ctx.bound.items()})
        return expr.xreplace(rep)
    return expr.func(*[realize_in(a, ctx) for a in expr.args])


def fmt_sizes(sizes: Mapping[Basic, int]) -> str:
    """``(d = 2, n = 3)``: concrete sizes as printed in check details."""
    return "(" + ", ".join(f"{sstr(k)} = {v}" for k, v in sizes.items()) + ")"
