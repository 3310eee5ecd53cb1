r"""Exact expected dynamics of SGD on least squares: moment recursions derived from the update rule.

For SGD on a quadratic loss the iterate is a random vector, but its first two moments
``m = E[w]`` and ``M = E[w w^T]`` follow an exact *linear* (affine) recursion: the update is affine
in ``w`` with random coefficients that are independent of ``w``, so taking expectations (linearity,
the tower rule, independence) closes the recursion on ``(m, M)``. This module derives the
recursion for three noise models and checks every step with SymPy:

``sgd.finite-set``
    minibatches of size ``B`` drawn uniformly *with replacement* from a finite training set
    ``(x_j, y_j)``, ``j = 1..n``; ``H = X^T X / n``, ``b = X^T y / n``, ``A = I - eta H``::

        m' = A m + eta b
        M' = A M A^T + eta (A m b^T + b m^T A^T) + eta^2 b b^T + (eta^2 / B) (Sbar(M, m) - Gbar(M, m))
        Sbar(M, m) = (1/n) sum_j x_j x_j^T (x_j^T M x_j - 2 y_j x_j^T m + y_j^2)
        Gbar(M, m) = H M H - H m b^T - b m^T H + b b^T

    from ``E[g g^T | w] = (1/B) S(w) + (1 - 1/B) gbar gbar^T`` (``gbar = H w - b``,
    ``S(w) = (1/n) sum_j x_j x_j^T (x_j^T w - y_j)^2``); expected training loss
    ``(1/2n) (tr(X^T X M) - 2 y^T X m + y^T y)``.
``sgd.gaussian``
    fresh samples ``x ~ N(0, Sigma)``, ``y = <w*, x> + xi``, ``xi ~ N(0, sigma^2)``, batch ``B``;
    with ``e = w - w*``::

        m_e' = (I - eta Sigma) m_e
        M_e' = (I - eta Sigma) M_e (I - eta Sigma) + (eta^2 / B) (Sigma M_e Sigma + (tr(Sigma M_e) + sigma^2) Sigma)

    population loss ``1/2 (tr(Sigma M_e) + sigma^2)``; it rests on ``sgd.isserlis``:
    ``E[x x^T A x x^T] = 2 Sigma A Sigma + tr(Sigma A) Sigma`` for symmetric ``A``.
``sgd.additive-noise``
    ``w' = w - eta (H w - b + eps)``, ``E[eps] = 0``, ``Cov(eps) = S``:
    ``M' = A M A^T + eta (A m b^T + b m^T A^T) + eta^2 b b^T + eta^2 S``.

Each derivation also carries the forward tangent recursion (``d/d eta`` of the moment map, with
``mdot = dm/d eta``, ``Mdot = dM/d eta``) as ``FromPrevious`` steps.

How the steps are checked. The statements are written in matrix notation (SymPy
``MatrixSymbol`` expressions of symbolic size ``d x d``, ``n x d``, ...). A :class:`MomentDerivation`
checks them in two ways:

* ``"symbolic"``: pure matrix algebra (``Identity`` steps) is expanded with SymPy's
  noncommutative matrix algebra; a difference that expands to the zero matrix holds for every size.
* ``"concrete-d"``: otherwise the two sides are *realized* at the concrete sizes listed in
  ``MomentDerivation.sizes`` (e.g. ``(d, n, B) = (2, 3, 2)``): every matrix becomes an explicit
  matrix of independent symbols (symmetric where the derivation says so: ``M``, ``Sigma``, ...),
  and the difference must cancel to 0 entry by entry, with all entries, moments and ``eta``
  symbolic. For an :class:`Expectation` step the left side ``E[...]`` is computed *from the
  update rule* at those sizes: the minibatch index tuples ``(J_1, ..., J_B)`` are enumerated (all
  ``n^B`` of them, probability ``n^-B`` each), the product is expanded, and the remaining random
  symbols are replaced by their moments: ``w_a -> m_a``, ``w_a w_b -> M_ab`` (only first and
  second moments are assumed), and Gaussian entries by Isserlis' (Wick's) theorem written out as a
  sum over pairings, ``E[x_a x_b x_c x_e] = S_ab S_ce + S_ac S_be + S_ae S_bc``. Independent
  blocks multiply. No ``sympy.stats``.

``"concrete-d"`` is a status this module adds to those of :mod:`theory.derivation` (it does not
change that module): it means "exact, with every entry symbolic, at the listed sizes only". The
base class ranks statuses it does not know with ``"failed"`` when it combines the two sides of a
``FromPrevious`` step (or the two halves of an ``Induction``); :class:`MomentDerivation` therefore
fails a step whenever any part of its check failed. The tangent steps are ``FromPrevious`` steps
whose operation (:func:`tangent_rule`) is the total derivative in ``eta`` with the states
``m, M, ...`` depending on ``eta`` (plain ``FromPrevious.differentiate`` would treat them as
constants). ``MomentDerivation.replace_step`` and ``verify_step`` let tests check deliberately
wrong variants of one step.

Source: derived (the update rules are those of ``papers/wang2021.md`` §2.1 and §4.4 and
``papers/wu2018.md``; the SGD results of the paper's Appendix D are not reproduced or claimed).

>>> names()
('sgd.isserlis', 'sgd.finite-set', 'sgd.gaussian', 'sgd.additive-noise')
>>> step = finite_set_step_callable(1, 2, 1)
>>> m1, M1 = step([[1], [2]], [1, 0], [0], [[0]], 0.5)   # from w = 0 (m = 0, M = 0)
>>> float(m1[0]), float(M1[0][0])   # E[w'] = eta b = 1/4; E[w'^2] = eta^2 (1/2)(1^2 + 0) = 1/8
(0.25, 0.125)
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterable, Mapping, Sequence

import sympy
from sympy import (
    Basic,
    Dummy,
    Expr,
    ImmutableMatrix,
    Indexed,
    IndexedBase,
    Integer,
    MatrixSymbol,
    Rational,
    Symbol,
    Trace,
    Tuple,
    ZeroMatrix,
    cancel,
    expand,
    sstr,
    together,
)
from sympy.matrices.expressions.matexpr import MatrixExpr

from l2l.theory.derivation import Definition, Derivation, FromPrevious, Identity, Rule, Step

__all__ = [
    "CONCRETE_STATUS",
    "eta",
    "d",
    "n",
    "B",
    "sigma",
    "Sc",
    "Row",
    "RowT",
    "Entry",
    "Avg",
    "MatAvg",
    "ScalarAvg",
    "MatExpect",
    "ScalarExpect",
    "MatTangent",
    "ScalarTangent",
    "expect",
    "tangent_of",
    "Gaussian",
    "SecondOrder",
    "UniformIndex",
    "Expectation",
    "MomentDerivation",
    "realize",
    "expectation",
    "wick",
    "tangent_rule",
    "MomentRecursion",
    "isserlis",
    "finite_set",
    "gaussian",
    "additive_noise",
    "finite_set_recursion",
    "gaussian_recursion",
    "additive_noise_recursion",
    "finite_set_step_callable",
    "finite_set_tangent_callable",
    "finite_set_loss_callable",
    "gaussian_step_callable",
    "gaussian_tangent_callable",
    "gaussian_loss_callable",
    "additive_noise_step_callable",
    "additive_noise_tangent_callable",
    "additive_noise_loss_callable",
    "DERIVATIONS",
    "get",
    "names",
]

#: The status of a step checked exactly, with every entry symbolic, at the concrete sizes listed
#: in its detail (added by this module; see the module docstring).
CONCRETE_STATUS = "concrete-d"

# ------------------------------------------------------------------------------------------------
# symbols (eta and d are those of theory.quadratic)

eta = Symbol("eta", nonnegative=True)
d = Symbol("d", integer=True, positive=True)
n = Symbol("n", integer=True, positive=True)
B = Symbol("B", integer=True, positive=True)
sigma = Symbol("sigma", positive=True)
# aliases for functions whose parameters are named d, n, B
_dim, _nsamp, _batch = d, n, B
_j = Symbol("j", integer=True, positive=True)
_k = Symbol("k", integer=True, positive=True)
_J = IndexedBase("J")


# ------------------------------------------------------------------------------------------------
# display nodes that also carry meaning for the realizer


def _paren(printer, x: Basic) -> str:
    return r"\left(" + printer._print(x) + r"\right)"


class Sc(Expr):
    r"""The scalar held by a ``1 x 1`` matrix expression (``x^T M x``, ``y^T X m``, ...).

    Printed as the matrix expression in parentheses; realized as its only entry.

    >>> x = MatrixSymbol("x", d, 1)
    >>> sympy.latex(Sc(x.T * x))
    '\\left(x^{T} x\\right)'
    """

    is_commutative = True

    def __new__(cls, arg: MatrixExpr) -> "Sc":
        if not isinstance(arg, MatrixExpr):
            raise TypeError("Sc needs a 1 x 1 matrix expression")
        return Expr.__new__(cls, arg)

    def _latex(self, printer) -> str:
        return _paren(printer, self.args[0])

    def _sympystr(self, printer) -> str:
        return "(" + printer._print(self.args[0]) + ")"


def _basic(x: object, what: str) -> Basic:
    """A SymPy object or an int; strings are never parsed."""
    if isinstance(x, Basic):
        return x
    if isinstance(x, int) and not isinstance(x, bool):
        return Integer(x)
    raise TypeError(f"{what} must be a SymPy expression or an int, got {type(x).__name__}")


class Row(MatrixExpr):
    r"""Row ``idx`` of the matrix ``mat`` as a column vector, printed ``label_{idx}`` (e.g. ``x_j``).

    ``idx`` is a summation index bound by an enclosing :class:`Avg`, an integer, or a random index
    ``J[k]`` whose value comes from the outcome enumerated by :class:`UniformIndex`.
    """

    def __new__(cls, mat: MatrixExpr, idx: Basic, label: Symbol) -> "Row":
        return MatrixExpr.__new__(cls, mat, _basic(idx, "Row index"), label)

    @property
    def shape(self):
        return (self.args[0].shape[1], Integer(1))

    def _eval_transpose(self) -> "RowT":
        return RowT(*self.args)

    def _latex(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{{{printer._print(self.args[1])}}}"

    def _sympystr(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{printer._print(self.args[1])}"


class RowT(MatrixExpr):
    r"""The transpose of :class:`Row` (the row itself), printed ``label_{idx}^T``."""

    def __new__(cls, mat: MatrixExpr, idx: Basic, label: Symbol) -> "RowT":
        return MatrixExpr.__new__(cls, mat, _basic(idx, "Row index"), label)

    @property
    def shape(self):
        return (Integer(1), self.args[0].shape[1])

    def _eval_transpose(self) -> Row:
        return Row(*self.args)

    def _latex(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{{{printer._print(self.args[1])}}}^{{T}}"

    def _sympystr(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{printer._print(self.args[1])}.T"


class Entry(Expr):
    r"""Entry ``idx`` of the column vector ``vec``, printed ``label_{idx}`` (e.g. ``y_j``)."""

    is_commutative = True

    def __new__(cls, vec: MatrixExpr, idx: Basic, label: Symbol) -> "Entry":
        return Expr.__new__(cls, vec, _basic(idx, "Entry index"), label)

    def _latex(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{{{printer._print(self.args[1])}}}"

    def _sympystr(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{printer._print(self.args[1])}"


def _avg_latex(self, printer) -> str:
    body, idx, count = self.args
    return (
        rf"\frac{{1}}{{{printer._print(count)}}} \sum_{{{printer._print(idx)}=1}}^{{{printer._print(count)}}} "
        + _paren(printer, body)
    )


def _avg_str(self, printer) -> str:
    body, idx, count = self.args
    return f"(1/{printer._print(count)})*Sum_{printer._print(idx)}=1..{printer._print(count)}({printer._print(body)})"


class MatAvg(MatrixExpr):
    """``(1/count) sum_{idx=1}^{count} body`` for a matrix-valued ``body`` (see :func:`Avg`)."""

    def __new__(cls, body: MatrixExpr, idx: Symbol, count: Basic) -> "MatAvg":
        return MatrixExpr.__new__(cls, body, idx, _basic(count, "Avg count"))

    @property
    def shape(self):
        return self.args[0].shape

    _latex = _avg_latex
    _sympystr = _avg_str


class ScalarAvg(Expr):
    """``(1/count) sum_{idx=1}^{count} body`` for a scalar ``body`` (see :func:`Avg`)."""

    is_commutative = True

    def __new__(cls, body: Expr, idx: Symbol, count: Basic) -> "ScalarAvg":
        return Expr.__new__(cls, body, idx, _basic(count, "Avg count"))

    _latex = _avg_latex
    _sympystr = _avg_str


def Avg(body: Basic, idx: Symbol, count: Basic) -> Basic:
    r"""The average ``(1/count) sum_{idx=1}^{count} body`` (a sample mean or a minibatch mean).

    >>> X = MatrixSymbol("X", n, d)
    >>> x = Symbol("x")
    >>> j = Symbol("j", integer=True, positive=True)
    >>> sympy.latex(Avg(Row(X, j, x) * Row(X, j, x).T, j, n))
    '\\frac{1}{n} \\sum_{j=1}^{n} \\left(x_{j} x_{j}^{T}\\right)'
    """
    if isinstance(body, MatrixExpr):
        return MatAvg(body, idx, count)
    return ScalarAvg(body, idx, count)


def _expect_latex(self, printer) -> str:
    arg = printer._print(self.args[0])
    if len(self.args) > 1:
        return rf"\mathbb{{E}}\left[{arg} \,\middle|\, {printer._print(self.args[1])}\right]"
    return rf"\mathbb{{E}}\left[{arg}\right]"


def _expect_str(self, printer) -> str:
    arg = printer._print(self.args[0])
    if len(self.args) > 1:
        return f"E[{arg} | {printer._print(self.args[1])}]"
    return f"E[{arg}]"


class MatExpect(MatrixExpr):
    """``E[arg]`` (or ``E[arg | given]``) of a matrix-valued random expression; see :func:`expect`."""

    @property
    def shape(self):
        return self.args[0].shape

    _latex = _expect_latex
    _sympystr = _expect_str


class ScalarExpect(Expr):
    """``E[arg]`` (or ``E[arg | given]``) of a scalar random expression; see :func:`expect`."""

    is_commutative = True
    _latex = _expect_latex
    _sympystr = _expect_str


def expect(arg: Basic, given: Basic | None = None) -> Basic:
    r"""The display node ``E[arg]`` or ``E[arg | given]``; an :class:`Expectation` step computes it.

    ``given`` is only displayed: what is random is fixed by the step's laws (the check refuses a
    law for the conditioning variable).

    >>> w = MatrixSymbol("w", d, 1)
    >>> sympy.latex(expect(w * w.T))
    '\\mathbb{E}\\left[w w^{T}\\right]'
    """
    args = (arg,) if given is None else (arg, given)
    if isinstance(arg, MatrixExpr):
        return MatExpect(*args)
    return ScalarExpect(*args)


def _tangent_latex(self, printer) -> str:
    return r"\frac{\mathrm{d}}{\mathrm{d}" + printer._print(self.args[2]) + "}" + _paren(printer, self.args[0])


def _tangent_str(self, printer) -> str:
    return f"d/d{printer._print(self.args[2])}({printer._print(self.args[0])})"


class MatTangent(MatrixExpr):
    """Total derivative in ``eta`` of a matrix expression along given state tangents; see :func:`tangent_of`."""

    @property
    def shape(self):
        return self.args[0].shape

    _latex = _tangent_latex
    _sympystr = _tangent_str


class ScalarTangent(Expr):
    """Total derivative in ``eta`` of a scalar expression along given state tangents."""

    is_commutative = True
    _latex = _tangent_latex
    _sympystr = _tangent_str


def tangent_of(expr: Basic, pairs: Sequence[tuple[Basic, Basic]], var: Symbol) -> Basic:
    r"""``d expr / d var`` where each state ``Z`` of ``pairs`` depends on ``var`` with ``dZ/dvar = Zdot``.

    States are ``MatrixSymbol`` objects (``M``, ``m``, ...) or scalar ``Symbol`` objects (a loss).

    Realized as ``d/dh expr(var + h, Z + h Zdot)`` at ``h = 0`` (a directional derivative), so it
    is exactly the forward-mode tangent of ``expr``.
    """
    tup = Tuple(*[Tuple(z, zd) for z, zd in pairs])
    if isinstance(expr, MatrixExpr):
        return MatTangent(expr, tup, var)
    return ScalarTangent(expr, tup, var)


_CUSTOM = (Row, RowT, Entry, MatAvg, ScalarAvg, MatExpect, ScalarExpect, MatTangent, ScalarTangent)


# ------------------------------------------------------------------------------------------------
# laws of the random quantities


@dataclass(frozen=True)
class Gaussian:
    r"""Zero-mean Gaussian entries of the matrix (or vector, or scalar) ``name``.

    ``iid_rows=False``: the column vector ``name`` (``d x 1``) is ``N(0, cov)``.
    ``iid_rows=True``: the rows of ``name`` (``r x c``) are independent ``N(0, cov)`` vectors
    (``cov`` is ``c x c``, or a scalar variance when ``c = 1``). A plain ``Symbol`` is a scalar
    ``N(0, cov)``. Moments by Isserlis' theorem (:func:`wick`).
    """

    name: Basic
    cov: Basic
    iid_rows: bool = False


@dataclass(frozen=True)
class SecondOrder:
    r"""A random column vector ``name`` of which only ``E[name] = mean`` and ``E[name name^T] = second`` are known.

    Monomials of degree 3 or more in its entries cannot be averaged (the check fails loudly).
    """

    name: MatrixSymbol
    mean: Basic
    second: Basic


@dataclass(frozen=True)
class UniformIndex:
    r"""Random indices ``J[1], ..., J[count]``, independent and uniform on ``1..range``.

    The expectation enumerates all ``range**count`` outcomes with probability ``range**-count``.
    """

    base: IndexedBase
    count: Basic
    range: Basic


Law = Gaussian | SecondOrder | UniformIndex


# ------------------------------------------------------------------------------------------------
# realizing an expression at concrete sizes


@dataclass
class _Ctx:
    sizes: Mapping[Basic, int]
    symmetric: frozenset[str]
    bound: dict
    outcome: dict
    override: dict

    def child(self, **kw) -> "_Ctx":
        new = _Ctx(self.sizes, self.symmetric, dict(self.bound), dict(self.outcome), dict(self.override))
        for key, value in kw.items():
            getattr(new, key).update(value)
        return new


def _int(x: Basic, ctx: _Ctx, what: str) -> int:
    v = _basic(x, what).xreplace({k: Integer(v) for k, v in ctx.sizes.items()})
    v = v.xreplace({k: Integer(v2) for k, v2 in ctx.bound.items()})
    if not v.is_Integer:
        raise ValueError(f"cannot realize {what} {sstr(x)}: not an integer at sizes {_fmt_sizes(ctx.sizes)}")
    return int(v)


def _entry_symbols(name: str, rows: int, cols: int, symmetric: bool, vector: bool) -> ImmutableMatrix:
    def sym(a: int, b: int) -> Symbol:
        if symmetric:
            a, b = min(a, b), max(a, b)
        if vector:
            return Symbol(f"{name}[{a}]")
        return Symbol(f"{name}[{a},{b}]")

    return ImmutableMatrix(rows, cols, lambda a, b: sym(a + 1, b + 1))


def _index_value(idx: Basic, ctx: _Ctx) -> int:
    if isinstance(idx, Indexed):
        label = idx.base.label
        key = str(label)
        if key not in ctx.outcome:
            raise ValueError(f"random index {sstr(idx)} has no law (UniformIndex) in this step")
        return ctx.outcome[key][_index_value(idx.indices[0], ctx) - 1]
    return _int(idx, ctx, "index")


def realize(expr: Basic, sizes: Mapping[Basic, int], symmetric: Iterable[str] = (), **kw) -> Basic:
    r"""``expr`` at concrete sizes, as an explicit ``ImmutableMatrix`` (or a scalar expression).

    Every ``MatrixSymbol`` named ``N`` becomes a matrix of independent symbols ``N[a,b]``
    (``N[a]`` for a vector); names listed in ``symmetric`` get ``N[a,b] = N[b,a]``. The size
    symbols of ``sizes`` become integers, :class:`Avg` becomes an explicit average, :class:`Row`
    and :class:`Entry` pick rows and entries. Keyword ``outcome`` maps a random index base name
    (``"J"``) to its values.

    >>> X = MatrixSymbol("X", n, d)
    >>> realize(X.T * X / n, {n: 2, d: 1})
    Matrix([[X[1,1]**2/2 + X[2,1]**2/2]])
    """
    ctx = _Ctx(dict(sizes), frozenset(symmetric), {}, dict(kw.get("outcome", {})), {})
    return _realize(expr, ctx)


def _realize(expr: Basic, ctx: _Ctx) -> Basic:
    if isinstance(expr, MatrixSymbol):
        name = str(expr.name)
        if name in ctx.override:
            return ctx.override[name]
        rows, cols = _int(expr.shape[0], ctx, "rows"), _int(expr.shape[1], ctx, "columns")
        return _entry_symbols(name, rows, cols, name in ctx.symmetric, vector=expr.shape[1] == 1)
    if isinstance(expr, sympy.Identity):
        return ImmutableMatrix(sympy.eye(_int(expr.shape[0], ctx, "size")))
    if isinstance(expr, ZeroMatrix):
        return ImmutableMatrix(sympy.zeros(_int(expr.shape[0], ctx, "rows"), _int(expr.shape[1], ctx, "columns")))
    if isinstance(expr, sympy.MatAdd):
        parts = [_realize(a, ctx) for a in expr.args]
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out
    if isinstance(expr, sympy.MatMul):
        out: Basic = Integer(1)
        for a in expr.args:
            out = out * _realize(a, ctx)
        return out
    if isinstance(expr, sympy.MatPow):
        return _realize(expr.args[0], ctx) ** _int(expr.args[1], ctx, "exponent")
    if isinstance(expr, sympy.Transpose):
        return _realize(expr.args[0], ctx).T
    if isinstance(expr, Trace):
        return _realize(expr.args[0], ctx).trace()
    if isinstance(expr, Sc):
        value = _realize(expr.args[0], ctx)
        if value.shape != (1, 1):
            raise ValueError(f"Sc needs a 1 x 1 matrix, got shape {value.shape} for {sstr(expr.args[0])}")
        return value[0, 0]
    if isinstance(expr, Row):
        mat = _realize(expr.args[0], ctx)
        return ImmutableMatrix(mat[_index_value(expr.args[1], ctx) - 1, :].T)
    if isinstance(expr, RowT):
        return _realize(Row(*expr.args), ctx).T
    if isinstance(expr, Entry):
        vec = _realize(expr.args[0], ctx)
        return vec[_index_value(expr.args[1], ctx) - 1, 0]
    if isinstance(expr, (MatAvg, ScalarAvg)):
        body, idx, count = expr.args
        size = _int(count, ctx, "count")
        parts = [_realize(body, ctx.child(bound={idx: v})) for v in range(1, size + 1)]
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
                over[str(z.name)] = _realize(z, ctx) + h * _realize(zd, ctx)
            else:
                scalars[z] = z + h * zd
        value = _realize(inner, ctx.child(override=over))
        value = value.xreplace(scalars)
        if isinstance(value, ImmutableMatrix):
            return value.applyfunc(lambda e: sympy.diff(e, h).xreplace({h: Integer(0)}))
        return sympy.diff(value, h).xreplace({h: Integer(0)})
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
    if not any(isinstance(a, (MatrixExpr,) + _CUSTOM + (Sc,)) for a in sympy.preorder_traversal(expr)):
        rep = {k: Integer(v) for k, v in ctx.sizes.items()}
        rep.update({k: Integer(v) for k, v in ctx.bound.items()})
        return expr.xreplace(rep)
    return expr.func(*[_realize(a, ctx) for a in expr.args])


def _fmt_sizes(sizes: Mapping[Basic, int]) -> str:
    return "(" + ", ".join(f"{sstr(k)} = {v}" for k, v in sizes.items()) + ")"


# ------------------------------------------------------------------------------------------------
# moments


def wick(indices: Sequence[int], cov: Callable[[int, int], Basic]) -> Basic:
    r"""Isserlis' theorem: ``E[x_{i1} ... x_{i2k}]`` for ``x ~ N(0, S)`` as a sum over pairings.

    ``E[x_{i1} x_{i2} ... ] = sum_{p >= 2} S_{i1 ip} E[product of the others]``; odd orders
    vanish. ``cov(a, b)`` returns ``S_ab``.

    >>> S = sympy.Matrix(2, 2, sympy.symbols("s11 s12 s21 s22"))
    >>> wick((0, 0, 1, 1), lambda a, b: S[min(a, b), max(a, b)])
    s11*s22 + 2*s12**2
    """
    idx = tuple(indices)
    if not idx:
        return Integer(1)
    if len(idx) % 2:
        return Integer(0)
    first, rest = idx[0], idx[1:]
    total: Basic = Integer(0)
    for pos, other in enumerate(rest):
        total += cov(first, other) * wick(rest[:pos] + rest[pos + 1 :], cov)
    return total


@dataclass
class _Block:
    symbols: tuple[Symbol, ...]
    kind: str  # "gaussian" | "second"
    cov: ImmutableMatrix | None = None
    mean: ImmutableMatrix | None = None
    second: ImmutableMatrix | None = None

    def moment(self, exps: Sequence[int]) -> Basic:
        idx = tuple(a for a, e in enumerate(exps) for _ in range(e))
        if self.kind == "gaussian":
            cov = self.cov
            return wick(idx, lambda a, b: cov[a, b])
        if len(idx) == 0:
            return Integer(1)
        if len(idx) == 1:
            return self.mean[idx[0], 0]
        if len(idx) == 2:
            return self.second[idx[0], idx[1]]
        raise ValueError(
            f"a monomial of degree {len(idx)} in {', '.join(map(str, self.symbols))}: only first and second moments are known"
        )


def _as_matrix(x: Basic, rows: int) -> ImmutableMatrix:
    if isinstance(x, ImmutableMatrix):
        return x
    return ImmutableMatrix([[x]]) if rows == 1 else ImmutableMatrix(sympy.eye(rows) * x)


def _blocks(laws: Sequence[Law], ctx: _Ctx) -> list[_Block]:
    out = []
    for law in laws:
        if isinstance(law, UniformIndex):
            continue
        if isinstance(law, Gaussian):
            if isinstance(law.name, Symbol):
                out.append(_Block((law.name,), "gaussian", cov=_as_matrix(_realize(law.cov, ctx), 1)))
                continue
            value = _realize(law.name, ctx)
            cov = _realize(law.cov, ctx)
            if law.iid_rows:
                cov = _as_matrix(cov, value.shape[1])
                for r in range(value.shape[0]):
                    out.append(_Block(tuple(value[r, :]), "gaussian", cov=cov))
            else:
                out.append(_Block(tuple(value[:, 0]), "gaussian", cov=_as_matrix(cov, value.shape[0])))
        elif isinstance(law, SecondOrder):
            value = _realize(law.name, ctx)
            out.append(
                _Block(tuple(value[:, 0]), "second", mean=_realize(law.mean, ctx), second=_realize(law.second, ctx))
            )
        else:
            raise TypeError(f"unknown law {law!r}")
    return out


def _average_entry(entry: Basic, blocks: Sequence[_Block]) -> Basic:
    gens = [s for blk in blocks for s in blk.symbols]
    entry = expand(entry)
    if not gens or not entry.has(*gens):
        return entry
    poly = sympy.Poly(entry, *gens)
    total: Basic = Integer(0)
    for monom, coeff in poly.terms():
        value: Basic = coeff
        pos = 0
        for blk in blocks:
            exps = monom[pos : pos + len(blk.symbols)]
            pos += len(blk.symbols)
            if any(exps):
                value = value * blk.moment(exps)
        total += value
    return expand(total)


def expectation(
    arg: Basic, laws: Sequence[Law], sizes: Mapping[Basic, int], symmetric: Iterable[str] = ()
) -> Basic:
    r"""``E[arg]`` at concrete sizes, computed by enumeration and moment replacement (see module docstring).

    >>> x = MatrixSymbol("x", d, 1)
    >>> Sig = MatrixSymbol("Sigma", d, d)
    >>> expectation(x * x.T, [Gaussian(x, Sig)], {d: 2}, symmetric=["Sigma"])
    Matrix([
    [Sigma[1,1], Sigma[1,2]],
    [Sigma[1,2], Sigma[2,2]]])
    """
    ctx = _Ctx(dict(sizes), frozenset(symmetric), {}, {}, {})
    index_laws = [law for law in laws if isinstance(law, UniformIndex)]
    spaces = []
    for law in index_laws:
        count, rng = _int(law.count, ctx, "count"), _int(law.range, ctx, "range")
        spaces.append([(str(law.base.label), tup) for tup in itertools.product(range(1, rng + 1), repeat=count)])
        spaces[-1] = [(key, tup, Rational(1, rng**count)) for key, tup in spaces[-1]]
    total: Basic | None = None
    for combo in itertools.product(*spaces) if spaces else [()]:
        prob: Basic = Integer(1)
        outcome = {}
        for key, tup, p in combo:
            outcome[key] = tup
            prob *= p
        value = _realize(arg, ctx.child(outcome=outcome)) * prob
        total = value if total is None else total + value
    blocks = _blocks(laws, ctx)
    if isinstance(total, ImmutableMatrix):
        return total.applyfunc(lambda e: _average_entry(e, blocks))
    return _average_entry(total, blocks)


# ------------------------------------------------------------------------------------------------
# rules and the derivation class


@dataclass(frozen=True)
class Expectation(Rule):
    r"""This step is ``E[arg] = rhs`` (``E[arg | ...]`` for a conditional one), computed from ``laws``.

    ``given`` lists earlier equations whose left sides (``MatrixSymbol`` or ``Symbol`` definitions
    such as ``w' = w - eta g`` or ``H = X^T X / n``) are replaced by their right sides in ``arg`` and
    in ``rhs``, repeatedly, before realizing. Checked by :class:`MomentDerivation` only (the plain
    :class:`theory.derivation.Derivation` reports an unknown rule as failed).
    """

    laws: tuple = ()
    given: tuple[int, ...] = ()
    kind = "expectation"


def tangent_rule(pairs: Sequence[tuple[Basic, Basic]], var: Symbol = eta, source: int | None = None) -> FromPrevious:
    r"""``FromPrevious``: differentiate both sides in ``var``, each state ``Z`` of ``pairs`` having ``dZ/dvar = Zdot``.

    The quantities named by the derivation's ``definitions`` (``H``, ``Sbar(M, m)``, ...) are
    substituted before realizing, so hidden dependences on the states are differentiated too.
    """
    pairs = tuple(pairs)
    states = ", ".join(f"d{sstr(z)}/d{var} = {sstr(zd)}" for z, zd in pairs)
    return FromPrevious(lambda e: tangent_of(e, pairs, var), f"differentiate in {var} (forward tangent; {states})", source)


def _is_matrixy(expr: Basic) -> bool:
    return any(isinstance(a, (MatrixExpr, Sc) + _CUSTOM) for a in sympy.preorder_traversal(expr))


def _entries_zero(value: Basic) -> tuple[bool, str]:
    entries = list(value) if isinstance(value, ImmutableMatrix) else [value]
    for pos, e in enumerate(entries):
        if e == 0:
            continue
        e = expand(e)
        if e == 0:
            continue
        if e.is_polynomial() or cancel(together(e)) != 0:
            where = f" (entry {pos})" if isinstance(value, ImmutableMatrix) else ""
            text = sstr(cancel(together(e)))
            return False, f"{where}: {text if len(text) < 160 else text[:157] + '...'}"
    return True, ""


class MomentDerivation(Derivation):
    r"""A :class:`theory.derivation.Derivation` whose steps may be matrix statements and expectations.

    Extra keyword parameters:

    ``sizes``
        a tuple of dicts of concrete values of the size symbols (``{d: 2, n: 3, B: 2}``) at which
        matrix statements are realized (:func:`realize`).
    ``symmetric``
        names of the ``MatrixSymbol`` objects realized as symmetric matrices (``M``, ``Sigma``).
    ``definitions``
        numbers of ``Definition`` steps that *name* a quantity (``H = X^T X / n``,
        ``w' = w - eta g``): before any later step is realized, their left sides are replaced by
        their right sides (repeatedly, so definitions may refer to earlier ones).

    Scalar steps without matrices (sums over an eigenbasis, ...) are checked exactly as by the
    base class. A matrix identity is first expanded symbolically (status ``"symbolic"``: valid for
    every size), else realized at every size (status ``"concrete-d"``); :class:`Expectation` steps
    are computed from their laws at every size (``"concrete-d"``).
    """

    def __init__(
        self,
        *args,
        sizes: Sequence[Mapping[Basic, int]] = (),
        symmetric: Iterable[str] = (),
        definitions: Sequence[int] = (),
        **kw,
    ):
        super().__init__(*args, **kw)
        if not sizes:
            raise ValueError("MomentDerivation.sizes must list at least one concrete size")
        for sz in sizes:
            for key, value in sz.items():
                if not isinstance(key, Symbol) or isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError("MomentDerivation.sizes: each entry maps a size Symbol to an integer >= 1")
        for k in definitions:
            if not isinstance(k, int) or not 1 <= k <= len(self.steps):
                raise ValueError(f"MomentDerivation.definitions: {k!r} is not a step number")
            st = self.steps[k - 1]
            if not isinstance(st.rule, Definition) or st.rel != "=" or not isinstance(st.lhs, (MatrixSymbol, Symbol)):
                raise ValueError(f"MomentDerivation.definitions: step {k} must be a Definition 'name = expression'")
        self.sizes = tuple(dict(sz) for sz in sizes)
        self.symmetric = frozenset(symmetric)
        self.definitions = tuple(definitions)
        self._current = len(self.steps) + 1
        self._failures = []

    def _sizes_text(self) -> str:
        return ", ".join(_fmt_sizes(sz) for sz in self.sizes)

    def _symmetric_text(self) -> str:
        return f" (symmetric: {', '.join(sorted(self.symmetric))})" if self.symmetric else ""

    def _check(self, n_: int, step: Step):
        self._current = n_
        self._failures: list[str] = []
        try:
            if isinstance(step.rule, Expectation):
                status, detail, inst = self._check_expectation(n_, step, step.rule) + ((),)
            else:
                status, detail, inst = super()._check(n_, step)
            # The base class combines the parts of a FromPrevious or Induction check by a strength
            # order that does not know "concrete-d" (it ranks it with "failed"): any failed part
            # fails the step here, whatever that order says.
            if self._failures and status != "failed":
                status = "failed"
            return status, detail, inst
        finally:
            self._current = len(self.steps) + 1
            self._failures = []

    def unfold(self, expr: Basic, before: int | None = None, extra: Sequence[int] = ()) -> Basic:
        """``expr`` with the definitions of steps ``< before`` (and the equations ``extra``) substituted."""
        limit = self._current if before is None else before
        rep = {}
        for k in tuple(self.definitions) + tuple(extra):
            if k < limit:
                g = self.steps[k - 1]
                if g.rel != "=":
                    raise ValueError(f"step {k} is not an equation")
                rep[g.lhs] = g.rhs
        for _ in range(len(rep) + 1):
            new = expr.xreplace(rep)
            if new == expr:
                break
            expr = new
        return expr

    def realize_rhs(self, k: int, sizes: Mapping[Basic, int]) -> Basic:
        """The right side of step ``k`` realized at ``sizes``, with the earlier definitions substituted."""
        if not isinstance(k, int) or not 1 <= k <= len(self.steps):
            raise ValueError(f"no step {k!r}")
        return _realize(self.unfold(self.steps[k - 1].rhs, before=k), _Ctx(dict(sizes), self.symmetric, {}, {}, {}))

    def _check_zero(self, expr: Basic) -> tuple[str, str]:
        status, detail = self._check_zero_inner(expr)
        if status == "failed":
            self._failures.append(detail)
        return status, detail

    def _check_zero_inner(self, expr: Basic) -> tuple[str, str]:
        if not _is_matrixy(expr):
            return super()._check_zero(expr)
        if self._matrix_symbolic_zero(expr):
            return "symbolic", "the difference expands to 0 with noncommutative matrix algebra (every size)"
        unfolded = self.unfold(expr)
        used = [str(k) for k in self.definitions if k < self._current and self.steps[k - 1].lhs in expr.atoms(MatrixSymbol, Symbol)]
        for sz in self.sizes:
            value = _realize(unfolded, _Ctx(sz, self.symmetric, {}, {}, {}))
            ok, why = _entries_zero(value)
            if not ok:
                return "failed", f"the difference is not 0 at {_fmt_sizes(sz)}{why}"
        using = f" with the definitions of steps {', '.join(used)} substituted" if used else ""
        return CONCRETE_STATUS, (
            f"not settled for symbolic sizes; realized{using} at {self._sizes_text()} with every entry "
            f"symbolic{self._symmetric_text()}: the difference cancels to 0 entry by entry"
        )

    @staticmethod
    def _matrix_symbolic_zero(expr: Basic) -> bool:
        if any(isinstance(a, _CUSTOM) for a in sympy.preorder_traversal(expr)):
            return False
        try:
            e = sympy.expand(expr)
        except Exception:  # SymPy's matrix expressions cannot expand everything; fall back
            return False
        return e == 0 or isinstance(e, ZeroMatrix)

    def _check_expectation(self, n_: int, step: Step, rule: Expectation) -> tuple[str, str]:
        if step.rel != "=":
            return "failed", f"an Expectation step needs '=', got {step.rel!r}"
        if not isinstance(step.lhs, (MatExpect, ScalarExpect)):
            return "failed", "the left side of an Expectation step must be E[...] (theory.sgd.expect)"
        if len(step.lhs.args) > 1:
            cond = step.lhs.args[1]
            for law in rule.laws:
                if not isinstance(law, UniformIndex) and law.name == cond:
                    return "failed", f"the conditioning variable {sstr(cond)} must not be random in the laws"
        for k in rule.given:
            self._step(k, n_)
        arg = self.unfold(step.lhs.args[0], extra=rule.given)
        rhs = self.unfold(step.rhs, extra=rule.given)
        laws = rule.laws
        for sz in self.sizes:
            ctx = _Ctx(sz, self.symmetric, {}, {}, {})
            lhs_value = expectation(arg, laws, sz, self.symmetric)
            rhs_value = _realize(rhs, ctx)
            ok, why = _entries_zero(lhs_value - rhs_value)
            if not ok:
                return "failed", f"E[...] computed from the laws differs from the right side at {_fmt_sizes(sz)}{why}"
        text = "; ".join(_describe_law(law) for law in rule.laws)
        used = [k for k in self.definitions if k < n_] + list(rule.given)
        using = f" (definitions of steps {', '.join(map(str, used))} substituted)" if used else ""
        return CONCRETE_STATUS, (
            f"E[...] computed from the laws{using} at {self._sizes_text()} with every entry "
            f"symbolic{self._symmetric_text()}: {text}; equal to the right side entry by entry"
        )


def _describe_law(law: Law) -> str:
    if isinstance(law, UniformIndex):
        return (
            f"{law.base.label}[1..{sstr(law.count)}] iid uniform on 1..{sstr(law.range)}, all "
            f"{sstr(law.range)}^{sstr(law.count)} outcomes enumerated"
        )
    if isinstance(law, Gaussian):
        rows = " (iid rows)" if law.iid_rows else ""
        return f"{sstr(law.name)}{rows} ~ N(0, {sstr(law.cov)}) by Isserlis' theorem"
    return f"{sstr(law.name)}: E = {sstr(law.mean)}, second moment {sstr(law.second)} (degree <= 2 only)"



# ------------------------------------------------------------------------------------------------
# derivations

_SOURCE = (
    "derived (update rules of papers/wang2021.md §2.1, §4.4 and papers/wu2018.md; the paper's SGD "
    "results, Appendix D, are not reproduced)"
)


def _I(k: Basic = d) -> sympy.Identity:
    return sympy.Identity(k)


def _ms(name: str, rows: Basic = d, cols: Basic = 1) -> MatrixSymbol:
    return MatrixSymbol(name, rows, cols)


def isserlis() -> MomentDerivation:
    r"""``sgd.isserlis``: ``E[x x^T A x x^T] = 2 Sigma A Sigma + tr(Sigma A) Sigma`` for ``x ~ N(0, Sigma)``.

    Statement: for symmetric ``A``; for a general ``C`` the middle term is
    ``Sigma (C + C^T) Sigma``; also ``E[x x^T] = Sigma`` and
    ``E[(x^T A x)^2] = 2 tr(Sigma A Sigma A) + tr(Sigma A)^2``.
    Assumptions: ``x ~ N(0, Sigma)``; ``Sigma`` and ``A`` symmetric, ``C`` arbitrary.
    Check: step 1 quotes Isserlis' theorem; the others are computed from it (the fourth moments
    written out as the sum over the three pairings, :func:`wick`) with symbolic symmetric
    ``Sigma``, ``A`` and symbolic ``C`` at ``d = 1, 2, 3``.
    Source: Isserlis (1918), Biometrika 12, 134-139; the matrix forms are derived.

    >>> isserlis().verify().statuses
    ('definition', 'concrete-d', 'concrete-d', 'concrete-d', 'concrete-d')
    """
    x, Sig, A, C = _ms("x"), _ms("Sigma", d, d), _ms("A", d, d), _ms("C", d, d)
    a, b, c, e = sympy.symbols("a b c e", integer=True, positive=True)
    xi, Si = IndexedBase("x"), IndexedBase("Sigma")
    law = (Gaussian(x, Sig),)
    steps = [
        Step(
            expect(xi[a] * xi[b] * xi[c] * xi[e]),
            "=",
            Si[a, b] * Si[c, e] + Si[a, c] * Si[b, e] + Si[a, e] * Si[b, c],
            r"Isserlis' theorem for $x \sim N(0, \Sigma)$: a sum over the pairings; odd moments vanish",
        ),
        Step(expect(x * x.T), "=", Sig, r"the covariance of $x$", Expectation(law)),
        Step(
            expect(x * x.T * A * x * x.T),
            "=",
            2 * Sig * A * Sig + Trace(Sig * A) * Sig,
            r"entry $(a, b)$ is $\sum_{c,e} A_{ce} E[x_a x_c x_e x_b]$; the three pairings give "
            r"$\Sigma A \Sigma$, $\Sigma A^\top \Sigma$ and $\operatorname{tr}(\Sigma A)\Sigma$",
            Expectation(law),
        ),
        Step(
            expect(x * x.T * C * x * x.T),
            "=",
            Sig * (C + C.T) * Sig + Trace(Sig * C) * Sig,
            r"the same for a general (not symmetric) $C$",
            Expectation(law),
        ),
        Step(
            expect(Sc(x.T * A * x) ** 2),
            "=",
            2 * Trace(Sig * A * Sig * A) + Trace(Sig * A) ** 2,
            r"the trace of $A$ times step 3",
            Expectation(law),
        ),
    ]
    return MomentDerivation(
        "sgd.isserlis",
        "Fourth moments of a Gaussian vector (Isserlis)",
        steps,
        "Isserlis (1918), Biometrika 12, 134-139; matrix forms derived",
        (r"$x \sim N(0, \Sigma)$", r"$\Sigma = \Sigma^\top$, $A = A^\top$"),
        sizes=({d: 1}, {d: 2}, {d: 3}),
        symmetric=("Sigma", "A"),
    )


# -- finite training set

_x, _y = Symbol("x"), Symbol("y")


def _sbar(X: MatrixExpr, y: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, const: bool = True) -> MatrixExpr:
    """``(1/n) sum_j x_j x_j^T (x_j^T Mx x_j - 2 y_j x_j^T mx [+ y_j^2])``."""
    xj, yj = Row(X, _j, _x), Entry(y, _j, _y)
    scalar = Sc(xj.T * Mx * xj) - 2 * yj * Sc(xj.T * mx) + (yj**2 if const else 0)
    return Avg(scalar * xj * xj.T, _j, n)


def _gbar(H: MatrixExpr, b: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, const: bool = True) -> MatrixExpr:
    """``H Mx H - H mx b^T - b mx^T H [+ b b^T]``."""
    out = H * Mx * H - H * mx * b.T - b * mx.T * H
    return out + b * b.T if const else out


def _finite_loss(X: MatrixExpr, y: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, const: bool = True) -> Expr:
    """``(1/2n)(tr(X^T X Mx) - 2 y^T X mx [+ y^T y])``."""
    out = Trace(X.T * X * Mx) - 2 * Sc(y.T * X * mx) + (Sc(y.T * y) if const else 0)
    return out / (2 * n)


def _affine_second(A: MatrixExpr, Mx: MatrixExpr, mx: MatrixExpr, b: MatrixExpr) -> MatrixExpr:
    """``E[(A w + eta b)(A w + eta b)^T]`` in terms of ``E[w w^T] = Mx``, ``E[w] = mx``."""
    return A * Mx * A.T + eta * (A * mx * b.T + b * mx.T * A.T) + eta**2 * b * b.T


def _affine_second_tangent(A, H, Mx, mx, Md, md, b) -> MatrixExpr:
    """``d/d eta`` of :func:`_affine_second` with ``A = I - eta H``."""
    return (
        A * Md * A.T
        - H * Mx * A.T
        - A * Mx * H.T
        + (A * mx * b.T + b * mx.T * A.T)
        + eta * (A * md * b.T + b * md.T * A.T - H * mx * b.T - b * mx.T * H.T)
        + 2 * eta * b * b.T
    )


#: Step numbers of the recursion, loss and tangents in each derivation (used by the exports).
_FINITE_STEPS = {"m_next": 15, "M_next": 16, "loss": 18, "dm_next": 19, "dM_next": 20, "dloss": 21}


def finite_set() -> MomentDerivation:
    r"""``sgd.finite-set``: moments of minibatch SGD (with replacement) on a finite training set.

    Setting: data ``X`` (``n x d``, rows ``x_j^T``) and ``y`` (``n``); training loss
    ``(1/2n)||y - X w||^2``; ``H = X^T X / n``, ``b = X^T y / n``, ``A = I - eta H``. Update
    ``w' = w - eta g`` with ``g = (1/B) sum_{k=1}^B x_{J_k} (x_{J_k}^T w - y_{J_k})`` and
    ``J_1, ..., J_B`` iid uniform on ``1..n``, independent of ``w``.

    Statement: ``E[g | w] = gbar = H w - b``; ``E[g g^T | w] = (1/B) S(w) + (1 - 1/B) gbar gbar^T``
    with ``S(w) = (1/n) sum_j x_j x_j^T (x_j^T w - y_j)^2``; so ``E[w' w'^T | w] = (w - eta gbar)
    (w - eta gbar)^T + (eta^2/B)(S(w) - gbar gbar^T)`` and, with ``m = E[w]``, ``M = E[w w^T]``:
    ``m' = A m + eta b``,
    ``M' = A M A^T + eta (A m b^T + b m^T A^T) + eta^2 b b^T + (eta^2/B)(Sbar(M, m) - Gbar(M, m))``,
    where ``Sbar(M, m) = (1/n) sum_j x_j x_j^T (x_j^T M x_j - 2 y_j x_j^T m + y_j^2)`` and
    ``Gbar(M, m) = H M H - H m b^T - b m^T H + b b^T`` are ``S(w)`` and ``gbar gbar^T`` averaged over
    ``w``. Expected training loss ``Lbar = (1/2n)(tr(X^T X M) - 2 y^T X m + y^T y)``; forward
    tangents ``mdot' = A mdot - (H m - b)``, ``Mdot' = d M'/d eta`` (step 20) and
    ``Lbar_dot = (1/2n)(tr(X^T X Mdot) - 2 y^T X mdot)``. Iterating the map ``t`` times from
    ``(m, M) = (w_0, w_0 w_0^T)`` gives the exact expected loss of SGD after ``t`` steps and its
    ``eta``-derivative (the ``least_squares_sgd`` model of ``DESIGN.md``; with a validation set,
    use ``X_valid``, ``y_valid`` in ``Lbar``).

    Check: each expectation is computed *from the update rule* by enumerating all ``n^B`` index
    tuples (probability ``n^-B`` each), expanding, and replacing ``w_a -> m_a``,
    ``w_a w_b -> M_ab``, at ``(d, n, B) = (2, 2, 1), (2, 2, 2), (2, 3, 1), (2, 3, 2), (1, 3, 3)``
    with symbolic data, ``w``, ``m``, symmetric ``M`` and ``eta`` (status ``concrete-d``); the
    regrouping of step 10 is symbolic matrix algebra. Source: derived.

    >>> v = finite_set().verify()
    >>> v.ok, v.statuses.count("concrete-d"), v.statuses[9]
    (True, 9, 'symbolic')
    """
    X, y = _ms("X", n, d), _ms("y", n, 1)
    w, m, M = _ms("w"), _ms("m"), _ms("M", d, d)
    H, b = _ms("H", d, d), _ms("b")
    g, gb, S = _ms("g"), _ms(r"\bar{g}(w)"), _ms("S(w)", d, d)
    wp, mp, Mp = _ms("w'"), _ms("m'"), _ms("M'", d, d)
    Sb, Gb = _ms(r"\bar{S}(M,m)", d, d), _ms(r"\bar{G}(M,m)", d, d)
    md, Md, mpd, Mpd = _ms(r"\dot{m}"), _ms(r"\dot{M}", d, d), _ms(r"\dot{m}'"), _ms(r"\dot{M}'", d, d)
    Lb, Lbd = Symbol(r"\bar{L}"), Symbol(r"\dot{\bar{L}}")
    A = _I() - eta * H
    xk, yk = Row(X, _J[_k], _x), Entry(y, _J[_k], _y)
    xj, yj = Row(X, _j, _x), Entry(y, _j, _y)
    idx = UniformIndex(_J, B, n)
    wlaw = SecondOrder(w, m, M)
    M_next = _affine_second(A, M, m, b) + eta**2 / B * (Sb - Gb)
    pairs = [(m, md), (M, Md), (mp, mpd), (Mp, Mpd), (Lb, Lbd)]
    dM_next = (
        _affine_second_tangent(A, H, M, m, Md, md, b)
        + 2 * eta / B * (Sb - Gb)
        + eta**2 / B * (_sbar(X, y, Md, md, const=False) - _gbar(H, b, Md, md, const=False))
    )
    steps = [
        Step(H, "=", X.T * X / n, r"$H = X^\top X / n$, the Hessian of the training loss"),
        Step(b, "=", X.T * y / n, r"$b = X^\top y / n$"),
        Step(
            g,
            "=",
            Avg(xk * (Sc(xk.T * w) - yk), _k, B),
            r"minibatch gradient; $J_1, \dots, J_B$ iid uniform on $\{1, \dots, n\}$ (with replacement), independent of $w$",
        ),
        Step(wp, "=", w - eta * g, r"the SGD update"),
        Step(gb, "=", H * w - b, r"the full-batch gradient $\nabla \hat f(w)$"),
        Step(
            S, "=", Avg(xj * xj.T * (Sc(xj.T * w) - yj) ** 2, _j, n), r"mean outer product of the per-sample gradients"
        ),
        Step(
            expect(g, w),
            "=",
            gb,
            r"linearity: each $J_k$ is uniform, so $E[x_{J_k}(x_{J_k}^\top w - y_{J_k}) \mid w] = \bar g(w)$",
            Expectation((idx,)),
        ),
        Step(
            expect(g * g.T, w),
            "=",
            S / B + (1 - 1 / B) * gb * gb.T,
            r"expand $\frac{1}{B^2}\sum_{k,l}$: the $B$ terms $k = l$ give $S(w)$, the $B(B-1)$ terms "
            r"$k \ne l$ factor by independence into $\bar g \bar g^\top$",
            Expectation((idx,)),
        ),
        Step(
            expect(wp * wp.T, w),
            "=",
            w * w.T - eta * (w * gb.T + gb * w.T) + eta**2 * (S / B + (1 - 1 / B) * gb * gb.T),
            r"expand $w' w'^\top$ and use steps 7 and 8 (linearity)",
            Expectation((idx,)),
        ),
        Step(
            expect(wp * wp.T, w),
            "=",
            (w - eta * gb) * (w - eta * gb).T + eta**2 / B * (S - gb * gb.T),
            r"regroup: the full-batch step plus $\eta^2/B$ times the per-sample gradient covariance",
            Identity(given=(9,)),
        ),
        Step(
            Sb,
            "=",
            _sbar(X, y, M, m),
            r"$E[S(w)]$ with $m = E[w]$, $M = E[w w^\top]$: "
            r"$(x_j^\top w - y_j)^2 \to x_j^\top M x_j - 2 y_j x_j^\top m + y_j^2$",
        ),
        Step(Gb, "=", _gbar(H, b, M, m), r"$E[\bar g \bar g^\top]$, likewise"),
        Step(
            expect(wp),
            "=",
            A * m + eta * b,
            r"tower rule: average step 7 over $w$",
            Expectation((idx, wlaw)),
        ),
        Step(
            expect(wp * wp.T),
            "=",
            M_next,
            r"tower rule: average step 10 over $w$; $w - \eta \bar g = A w + \eta b$ gives "
            r"$A M A^\top + \eta(A m b^\top + b m^\top A^\top) + \eta^2 b b^\top$",
            Expectation((idx, wlaw)),
        ),
        Step(mp, "=", A * m + eta * b, r"$m' = E[w']$ (step 13)"),
        Step(Mp, "=", M_next, r"$M' = E[w' w'^\top]$ (step 14)"),
        Step(
            expect(Sc((y - X * w).T * (y - X * w)) / (2 * n)),
            "=",
            _finite_loss(X, y, M, m),
            r"expected training loss: expand the square, $E[w w^\top] = M$, $E[w] = m$",
            Expectation((wlaw,)),
        ),
        Step(Lb, "=", _finite_loss(X, y, M, m), r"$\bar L(m, M)$, the expected training loss (step 17)"),
        Step(
            mpd,
            "=",
            A * md - (H * m - b),
            r"forward tangent of step 15",
            tangent_rule(pairs, eta, source=15),
        ),
        Step(
            Mpd,
            "=",
            dM_next,
            r"forward tangent of step 16 (product rule; $\bar S$ and $\bar G$ are affine in $(M, m)$)",
            tangent_rule(pairs, eta, source=16),
        ),
        Step(
            Lbd,
            "=",
            _finite_loss(X, y, Md, md, const=False),
            r"meta-gradient of the expected training loss through the moments",
            tangent_rule(pairs, eta, source=18),
        ),
    ]
    return MomentDerivation(
        "sgd.finite-set",
        "SGD with replacement on a finite training set: exact moment recursion",
        steps,
        _SOURCE,
        (
            r"$J_1, \dots, J_B$ iid uniform on $\{1, \dots, n\}$, independent of $w$",
            r"$m = E[w]$, $M = E[w w^\top]$",
        ),
        sizes=(
            {d: 2, n: 2, B: 1},
            {d: 2, n: 2, B: 2},
            {d: 2, n: 3, B: 1},
            {d: 2, n: 3, B: 2},
            {d: 1, n: 3, B: 3},
        ),
        symmetric=("M", r"\dot{M}", "M'", r"\dot{M}'"),
        definitions=(1, 2, 3, 4, 5, 6, 11, 12),
    )


# -- fresh Gaussian samples

_GAUSS_STEPS = {"m_next": 10, "M_next": 11, "loss": 13, "dm_next": 14, "dM_next": 15, "dloss": 16}


def gaussian() -> MomentDerivation:
    r"""``sgd.gaussian``: moments of minibatch SGD on fresh Gaussian samples (population least squares).

    Setting: every step draws a fresh batch ``x_1..x_B`` iid ``N(0, Sigma)`` and
    ``y_k = <w*, x_k> + xi_k`` with ``xi_k`` iid ``N(0, sigma^2)``, independent of ``w``; loss
    ``1/2 (y - <w, x>)^2``; update ``w' = w - eta g``, ``g = (1/B) sum_k x_k (x_k^T w - y_k)``.
    Track the error ``e = w - w*``: ``e' = e - eta g``.

    Statement: ``E[g | e] = Sigma e``;
    ``E[g g^T | e] = (1/B)(2 Sigma e e^T Sigma + (e^T Sigma e) Sigma + sigma^2 Sigma) + (1 - 1/B) Sigma e e^T Sigma``
    (Isserlis, ``sgd.isserlis``); with ``m_e = E[e]``, ``M_e = E[e e^T]``:
    ``m_e' = (I - eta Sigma) m_e`` and
    ``M_e' = (I - eta Sigma) M_e (I - eta Sigma) + (eta^2/B)(Sigma M_e Sigma + (tr(Sigma M_e) + sigma^2) Sigma)``;
    population loss ``E[1/2 (y - <w, x>)^2] = 1/2 (tr(Sigma M_e) + sigma^2)`` (for a fresh ``(x, y)``);
    forward tangents of all three.
    Check: expectations computed from the update with Isserlis' theorem for the Gaussian entries and
    ``e_a -> (m_e)_a``, ``e_a e_b -> (M_e)_ab``, at ``(d, B) = (1, 1), (1, 2), (2, 1), (2, 2), (3, 1)``,
    symbolic symmetric ``Sigma``, ``M_e``, symbolic ``w*``, ``sigma``, ``eta``.
    Source: derived; ``papers/wang2021.md`` §2.3 (data model).

    >>> gaussian().verify().statuses
    ('definition', 'definition', 'definition', 'definition', 'concrete-d', 'concrete-d', 'concrete-d', 'concrete-d', 'concrete-d', 'definition', 'definition', 'concrete-d', 'definition', 'concrete-d', 'concrete-d', 'concrete-d')
    """
    Sig, ws = _ms("Sigma", d, d), _ms("w^*")
    e, w = _ms("e"), _ms("w")
    xb, xib, yb = _ms("X_B", B, d), _ms(r"\xi_B", B, 1), _ms("y_B", B, 1)
    g, ep = _ms("g"), _ms("e'")
    me, Me = _ms("m_e"), _ms("M_e", d, d)
    mep, Mep = _ms("m'_e"), _ms("M'_e", d, d)
    med, Med, mepd, Mepd = _ms(r"\dot{m}_e"), _ms(r"\dot{M}_e", d, d), _ms(r"\dot{m}'_e"), _ms(r"\dot{M}'_e", d, d)
    x0, xi0 = _ms("x"), Symbol("xi")
    Lp, Lpd = Symbol(r"\bar{L}"), Symbol(r"\dot{\bar{L}}")
    xk, yk = Row(xb, _k, _x), Entry(yb, _k, _y)
    Ps = _I() - eta * Sig
    laws_batch = (Gaussian(xb, Sig, iid_rows=True), Gaussian(xib, sigma**2, iid_rows=True))
    elaw = SecondOrder(e, me, Me)
    M_next = Ps * Me * Ps + eta**2 / B * (Sig * Me * Sig + (Trace(Sig * Me) + sigma**2) * Sig)
    loss = (Trace(Sig * Me) + sigma**2) / 2
    pairs = [(me, med), (Me, Med), (mep, mepd), (Mep, Mepd), (Lp, Lpd)]
    steps = [
        Step(w, "=", ws + e, r"the error $e = w - w^*$"),
        Step(
            yb,
            "=",
            xb * ws + xib,
            r"the batch: rows $x_k^\top$ of $X_B$ iid $N(0, \Sigma)$, $\xi_k$ iid $N(0, \sigma^2)$, independent of $w$",
        ),
        Step(g, "=", Avg(xk * (Sc(xk.T * w) - yk), _k, B), r"minibatch gradient of $\frac12 (y - \langle w, x\rangle)^2$"),
        Step(ep, "=", e - eta * g, r"the SGD update $w' = w - \eta g$ in terms of the error"),
        Step(expect(g, e), "=", Sig * e, r"$E[x x^\top] = \Sigma$, $E[\xi] = 0$", Expectation(laws_batch)),
        Step(
            expect(g * g.T, e),
            "=",
            (2 * Sig * e * e.T * Sig + Sc(e.T * Sig * e) * Sig + sigma**2 * Sig) / B + (1 - 1 / B) * Sig * e * e.T * Sig,
            r"terms $k = l$: sgd.isserlis with $A = e e^\top$ plus $\sigma^2 \Sigma$; terms $k \ne l$: independence",
            Expectation(laws_batch),
        ),
        Step(
            expect(ep * ep.T, e),
            "=",
            Ps * e * e.T * Ps + eta**2 / B * (Sig * e * e.T * Sig + (Sc(e.T * Sig * e) + sigma**2) * Sig),
            r"expand $e' e'^\top$ with steps 5 and 6",
            Expectation(laws_batch),
        ),
        Step(expect(ep), "=", Ps * me, r"tower rule over $e$ ($m_e = E[e]$)", Expectation(laws_batch + (elaw,))),
        Step(
            expect(ep * ep.T),
            "=",
            M_next,
            r"tower rule over $e$ ($M_e = E[e e^\top]$, $E[e^\top \Sigma e] = \operatorname{tr}(\Sigma M_e)$)",
            Expectation(laws_batch + (elaw,)),
        ),
        Step(mep, "=", Ps * me, r"$m_e' = E[e']$ (step 8)"),
        Step(Mep, "=", M_next, r"$M_e' = E[e' e'^\top]$ (step 9)"),
        Step(
            expect((Sc(x0.T * ws) + xi0 - Sc(x0.T * w)) ** 2 / 2),
            "=",
            loss,
            r"population loss at a fresh $(x, y)$, $x \sim N(0, \Sigma)$, $y = \langle w^*, x\rangle + \xi$",
            Expectation((Gaussian(x0, Sig), Gaussian(xi0, sigma**2), elaw)),
        ),
        Step(Lp, "=", loss, r"$\bar L(m_e, M_e)$ (step 12)"),
        Step(mepd, "=", Ps * med - Sig * me, r"forward tangent of step 10", tangent_rule(pairs, eta, source=10)),
        Step(
            Mepd,
            "=",
            Ps * Med * Ps
            - Sig * Me * Ps
            - Ps * Me * Sig
            + 2 * eta / B * (Sig * Me * Sig + (Trace(Sig * Me) + sigma**2) * Sig)
            + eta**2 / B * (Sig * Med * Sig + Trace(Sig * Med) * Sig),
            r"forward tangent of step 11",
            tangent_rule(pairs, eta, source=11),
        ),
        Step(Lpd, "=", Trace(Sig * Med) / 2, r"forward tangent of step 13", tangent_rule(pairs, eta, source=13)),
    ]
    return MomentDerivation(
        "sgd.gaussian",
        "SGD on fresh Gaussian samples: exact moment recursion of the error",
        steps,
        _SOURCE + "; data model of papers/wang2021.md §2.3 with a general covariance",
        (
            r"$x_k \sim N(0, \Sigma)$, $\xi_k \sim N(0, \sigma^2)$, all independent and independent of $w$",
            r"$m_e = E[w - w^*]$, $M_e = E[(w - w^*)(w - w^*)^\top]$",
        ),
        sizes=({d: 1, B: 1}, {d: 1, B: 2}, {d: 2, B: 1}, {d: 2, B: 2}, {d: 3, B: 1}),
        symmetric=("Sigma", "M_e", r"\dot{M}_e", "M'_e", r"\dot{M}'_e"),
        definitions=(1, 2, 3, 4),
    )


# -- additive gradient noise

_NOISE_STEPS = {"m_next": 6, "M_next": 7, "loss": 9, "dm_next": 10, "dM_next": 11, "dloss": 12}


def additive_noise() -> MomentDerivation:
    r"""``sgd.additive-noise``: moments of GD with additive gradient noise (a noisy quadratic).

    Setting: ``f(w) = 1/2 w^T H w - b^T w`` (``H`` symmetric); update
    ``w' = w - eta (H w - b + eps)`` with ``E[eps] = 0``, ``Cov(eps) = S``, ``eps`` independent of
    ``w`` (only these two moments of ``eps`` are assumed).
    Statement: with ``A = I - eta H``: ``m' = A m + eta b`` and
    ``M' = A M A + eta (A m b^T + b m^T A) + eta^2 b b^T + eta^2 S``;
    ``E[f(w)] = 1/2 tr(H M) - b^T m``; forward tangents of the three.
    Check: expectations from the update with ``w`` and ``eps`` independent second-order blocks
    at ``d = 1, 2, 3`` (symbolic symmetric ``H``, ``S``, ``M``).
    Source: derived; the noisy quadratic of ``papers/wu2018.md`` (there ``H`` diagonal, ``b = 0``).

    >>> additive_noise().verify().statuses
    ('definition', 'concrete-d', 'concrete-d', 'concrete-d', 'concrete-d', 'definition', 'definition', 'concrete-d', 'definition', 'concrete-d', 'concrete-d', 'concrete-d')
    """
    H, b, S = _ms("H", d, d), _ms("b"), _ms("S", d, d)
    w, eps, wp = _ms("w"), _ms(r"\varepsilon"), _ms("w'")
    m, M, mp, Mp = _ms("m"), _ms("M", d, d), _ms("m'"), _ms("M'", d, d)
    md, Md, mpd, Mpd = _ms(r"\dot{m}"), _ms(r"\dot{M}", d, d), _ms(r"\dot{m}'"), _ms(r"\dot{M}'", d, d)
    Lb, Lbd = Symbol(r"\bar{L}"), Symbol(r"\dot{\bar{L}}")
    A = _I() - eta * H
    noise = SecondOrder(eps, ZeroMatrix(d, 1), S)
    wlaw = SecondOrder(w, m, M)
    M_next = A * M * A + eta * (A * m * b.T + b * m.T * A) + eta**2 * b * b.T + eta**2 * S
    loss = Trace(H * M) / 2 - Sc(b.T * m)
    pairs = [(m, md), (M, Md), (mp, mpd), (Mp, Mpd), (Lb, Lbd)]
    steps = [
        Step(wp, "=", w - eta * (H * w - b + eps), r"noisy gradient step; $E[\varepsilon] = 0$, $\mathrm{Cov}(\varepsilon) = S$"),
        Step(expect(wp, w), "=", A * w + eta * b, r"$E[\varepsilon] = 0$", Expectation((noise,))),
        Step(
            expect(wp * wp.T, w),
            "=",
            (A * w + eta * b) * (A * w + eta * b).T + eta**2 * S,
            r"the cross terms vanish ($E[\varepsilon] = 0$); $E[\varepsilon \varepsilon^\top] = S$",
            Expectation((noise,)),
        ),
        Step(expect(wp), "=", A * m + eta * b, r"tower rule over $w$", Expectation((noise, wlaw))),
        Step(
            expect(wp * wp.T),
            "=",
            M_next,
            r"tower rule over $w$ ($\varepsilon$ independent of $w$)",
            Expectation((noise, wlaw)),
        ),
        Step(mp, "=", A * m + eta * b, r"$m' = E[w']$ (step 4)"),
        Step(Mp, "=", M_next, r"$M' = E[w' w'^\top]$ (step 5)"),
        Step(
            expect(Sc(w.T * H * w) / 2 - Sc(b.T * w)),
            "=",
            loss,
            r"expected loss: $E[w^\top H w] = \operatorname{tr}(H M)$",
            Expectation((wlaw,)),
        ),
        Step(Lb, "=", loss, r"$\bar L(m, M)$ (step 8)"),
        Step(mpd, "=", A * md - (H * m - b), r"forward tangent of step 6", tangent_rule(pairs, eta, source=6)),
        Step(
            Mpd,
            "=",
            A * Md * A
            - H * M * A
            - A * M * H
            + (A * m * b.T + b * m.T * A)
            + eta * (A * md * b.T + b * md.T * A - H * m * b.T - b * m.T * H)
            + 2 * eta * b * b.T
            + 2 * eta * S,
            r"forward tangent of step 7",
            tangent_rule(pairs, eta, source=7),
        ),
        Step(Lbd, "=", Trace(H * Md) / 2 - Sc(b.T * md), r"forward tangent of step 9", tangent_rule(pairs, eta, source=9)),
    ]
    return MomentDerivation(
        "sgd.additive-noise",
        "GD with additive gradient noise: exact moment recursion",
        steps,
        "derived; the noisy quadratic of papers/wu2018.md (diagonal H, b = 0 there)",
        (r"$H = H^\top$", r"$E[\varepsilon] = 0$, $\mathrm{Cov}(\varepsilon) = S$, $\varepsilon$ independent of $w$"),
        sizes=({d: 1}, {d: 2}, {d: 3}),
        symmetric=("H", "S", "M", r"\dot{M}", "M'", r"\dot{M}'"),
        definitions=(1,),
    )


# ------------------------------------------------------------------------------------------------
# explicit recursion maps at concrete sizes (for numerical comparisons)


@dataclass(frozen=True)
class MomentRecursion:
    r"""A verified moment map realized at concrete sizes: explicit SymPy matrices in explicit symbols.

    ``inputs`` lists ``(name, kind, value)`` with ``kind`` one of ``"matrix"``, ``"vector"``,
    ``"scalar"`` and ``value`` the explicit matrix (or symbol) standing for that input (symmetric
    inputs share ``N[a,b] = N[b,a]``); ``tangent_inputs`` likewise for the tangents ``dm``, ``dM``. ``m_next``, ``M_next``: the map; ``loss``: the expected loss at
    ``(m, M)``; ``dm_next``, ``dM_next``, ``dloss``: the forward tangents. Each is the right side of
    a step of the named derivation, realized with its definitions substituted.
    """

    name: str
    sizes: tuple[tuple[str, int], ...]
    inputs: tuple[tuple[str, str, Basic], ...]
    tangent_inputs: tuple[tuple[str, str, Basic], ...]
    m_next: ImmutableMatrix
    M_next: ImmutableMatrix
    loss: Basic
    dm_next: ImmutableMatrix
    dM_next: ImmutableMatrix
    dloss: Basic


def _check_size(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
    return value


def _kind(x: Basic) -> str:
    if isinstance(x, MatrixSymbol):
        return "vector" if x.shape[1] == 1 else "matrix"
    return "scalar"


def _recursion(
    factory: Callable[[], MomentDerivation],
    steps: Mapping[str, int],
    sizes: Mapping[Basic, int],
    inputs: Sequence[tuple[str, Basic]],
    tangents: Sequence[tuple[str, Basic]],
) -> MomentRecursion:
    D = factory()
    ctx = _Ctx(dict(sizes), D.symmetric, {}, {}, {})
    real = {key: D.realize_rhs(k, sizes) for key, k in steps.items()}
    return MomentRecursion(
        name=D.name,
        sizes=tuple((sstr(k), v) for k, v in sizes.items()),
        inputs=tuple((nm, _kind(x), _realize(x, ctx)) for nm, x in inputs),
        tangent_inputs=tuple((nm, _kind(x), _realize(x, ctx)) for nm, x in tangents),
        m_next=real["m_next"],
        M_next=real["M_next"],
        loss=real["loss"],
        dm_next=real["dm_next"],
        dM_next=real["dM_next"],
        dloss=real["dloss"],
    )


@functools.lru_cache(maxsize=None)
def finite_set_recursion(d: int, n: int, B: int) -> MomentRecursion:
    r"""The ``sgd.finite-set`` map at ``d``, ``n``, ``B``: inputs ``X``, ``y``, ``m``, ``M``, ``eta``.

    >>> r = finite_set_recursion(1, 1, 1)
    >>> r.m_next[0]
    X[1,1]*eta*y[1] + m[1]*(-X[1,1]**2*eta + 1)
    """
    sizes = {_dim: _check_size(d, "d"), _nsamp: _check_size(n, "n"), _batch: _check_size(B, "B")}
    return _recursion(
        finite_set,
        _FINITE_STEPS,
        sizes,
        [("X", _ms("X", _nsamp, _dim)), ("y", _ms("y", _nsamp, 1)), ("m", _ms("m")), ("M", _ms("M", _dim, _dim)), ("eta", eta)],
        [("dm", _ms(r"\dot{m}")), ("dM", _ms(r"\dot{M}", _dim, _dim))],
    )


@functools.lru_cache(maxsize=None)
def gaussian_recursion(d: int, B: int) -> MomentRecursion:
    r"""The ``sgd.gaussian`` map at ``d``, ``B``: inputs ``Sigma``, ``sigma``, ``m_e``, ``M_e``, ``eta``.

    >>> gaussian_recursion(1, 1).M_next[0, 0].expand().coeff(eta, 2)   # E[x^4] = 3 Sigma^2
    3*M_e[1,1]*Sigma[1,1]**2 + Sigma[1,1]*sigma**2
    """
    sizes = {_dim: _check_size(d, "d"), _batch: _check_size(B, "B")}
    return _recursion(
        gaussian,
        _GAUSS_STEPS,
        sizes,
        [("Sigma", _ms("Sigma", _dim, _dim)), ("sigma", sigma), ("m", _ms("m_e")), ("M", _ms("M_e", _dim, _dim)), ("eta", eta)],
        [("dm", _ms(r"\dot{m}_e")), ("dM", _ms(r"\dot{M}_e", _dim, _dim))],
    )


@functools.lru_cache(maxsize=None)
def additive_noise_recursion(d: int) -> MomentRecursion:
    r"""The ``sgd.additive-noise`` map at ``d``: inputs ``H``, ``b``, ``S``, ``m``, ``M``, ``eta``.

    >>> additive_noise_recursion(1).M_next[0, 0].expand().coeff(eta, 2)
    H[1,1]**2*M[1,1] - 2*H[1,1]*b[1]*m[1] + S[1,1] + b[1]**2
    """
    sizes = {_dim: _check_size(d, "d")}
    return _recursion(
        additive_noise,
        _NOISE_STEPS,
        sizes,
        [("H", _ms("H", _dim, _dim)), ("b", _ms("b")), ("S", _ms("S", _dim, _dim)), ("m", _ms("m")), ("M", _ms("M", _dim, _dim)), ("eta", eta)],
        [("dm", _ms(r"\dot{m}")), ("dM", _ms(r"\dot{M}", _dim, _dim))],
    )


_CALL_MODULES = ("mpmath", "math", "exact")


class _Reader:
    """Reads user arguments (nested sequences, numbers) into the symbols of explicit inputs."""

    def __init__(self, specs: Sequence[tuple[str, str, Basic]]):
        self.specs = tuple(specs)
        self.symbols: list[Symbol] = []
        self.positions: dict[Symbol, list[tuple[int, int, int]]] = {}
        for pos, (_, _kind_, value) in enumerate(self.specs):
            if isinstance(value, ImmutableMatrix):
                for a in range(value.shape[0]):
                    for b in range(value.shape[1]):
                        self._add(value[a, b], (pos, a, b))
            else:
                self._add(value, (pos, -1, -1))

    def _add(self, sym: Basic, where: tuple[int, int, int]) -> None:
        if sym not in self.positions:
            self.symbols.append(sym)
            self.positions[sym] = []
        self.positions[sym].append(where)

    def read(self, args: Sequence[object]) -> list[object]:
        if len(args) != len(self.specs):
            names = ", ".join(nm for nm, _, _ in self.specs)
            raise TypeError(f"expected {len(self.specs)} arguments ({names}), got {len(args)}")
        cells = []
        for (nm, kind, value), arg in zip(self.specs, args):
            if kind != "scalar":
                rows, cols = value.shape
                try:
                    if kind == "vector":
                        if len(arg) != rows:
                            raise ValueError
                        cells.append([[arg[a]] for a in range(rows)])
                    else:
                        if len(arg) != rows or any(len(arg[a]) != cols for a in range(rows)):
                            raise ValueError
                        cells.append([[arg[a][b] for b in range(cols)] for a in range(rows)])
                except (TypeError, ValueError):
                    shape = f"a sequence of length {rows}" if kind == "vector" else f"a {rows} x {cols} nested sequence"
                    raise ValueError(f"argument {nm!r} must be {shape}") from None
            else:
                cells.append(arg)
        out = []
        for sym in self.symbols:
            vals = [cells[p] if a < 0 else cells[p][a][b] for p, a, b in self.positions[sym]]
            if len(vals) == 1 or all(v == vals[0] for v in vals[1:]):
                out.append(vals[0])
            elif all(isinstance(v, (int, Fraction)) for v in vals):
                out.append(Fraction(sum(vals), len(vals)))  # exact mean of the symmetric pair
            else:
                out.append(sum(vals[1:], vals[0]) / len(vals))
        return out


def _shape_out(value: Basic, convert: Callable[[Basic], object]) -> object:
    if isinstance(value, ImmutableMatrix):
        if value.shape[1] == 1:
            return [convert(value[a, 0]) for a in range(value.shape[0])]
        return [[convert(value[a, b]) for b in range(value.shape[1])] for a in range(value.shape[0])]
    return convert(value)


def _make_callable(
    specs: Sequence[tuple[str, str, Basic]], outputs: Sequence[tuple[str, Basic]], modules: str, name: str
):
    if modules not in _CALL_MODULES:
        raise ValueError(f"modules must be one of {_CALL_MODULES}, got {modules!r}")
    reader = _Reader(specs)
    flat: list[Basic] = []
    shapes = []
    for kind, out in outputs:
        if kind == "scalar":
            shapes.append(None)
            flat.append(out)
        else:
            shapes.append((out.shape, kind))
            flat.extend(list(out))

    def unflatten(values: Sequence[object]) -> tuple:
        res, pos = [], 0
        for shp in shapes:
            if shp is None:
                res.append(values[pos])
                pos += 1
            else:
                (r, c), kind = shp
                block = values[pos : pos + r * c]
                pos += r * c
                if kind == "vector":
                    res.append(list(block))
                else:
                    res.append([list(block[a * c : (a + 1) * c]) for a in range(r)])
        return tuple(res)

    if modules == "exact":

        def to_rational(x: object) -> Basic:
            if isinstance(x, Fraction):
                return Rational(x.numerator, x.denominator)
            if isinstance(x, int) and not isinstance(x, bool):
                return Integer(x)
            if isinstance(x, Basic) and x.is_Rational:
                return x
            raise TypeError(f"modules='exact' takes ints, fractions.Fraction or SymPy Rationals, got {x!r}")

        def to_fraction(x: Basic) -> object:
            if not x.is_Rational:
                raise ValueError(f"non-rational output {sstr(x)}")
            return Fraction(int(x.p), int(x.q))

        def fn(*args):
            vals = [to_rational(v) for v in reader.read(args)]
            rep = dict(zip(reader.symbols, vals))
            return unflatten([to_fraction(e.xreplace(rep)) for e in flat])

    else:
        compiled = sympy.lambdify(reader.symbols, flat, modules=modules)

        def fn(*args):
            return unflatten(list(compiled(*reader.read(args))))

    fn.__name__ = name
    fn.__doc__ = f"{name}({', '.join(nm for nm, _, _ in specs)}) ({modules})"
    return fn


def _step_fn(rec: MomentRecursion, modules: str, name: str):
    return _make_callable(rec.inputs, [("vector", rec.m_next), ("matrix", rec.M_next)], modules, name)


def _tangent_fn(rec: MomentRecursion, modules: str, name: str):
    specs = list(rec.inputs[:-1]) + list(rec.tangent_inputs) + [rec.inputs[-1]]
    outs = [("vector", rec.m_next), ("matrix", rec.M_next), ("vector", rec.dm_next), ("matrix", rec.dM_next)]
    return _make_callable(specs, outs, modules, name)


def _loss_fn(rec: MomentRecursion, modules: str, name: str):
    specs = list(rec.inputs[:-1]) + list(rec.tangent_inputs)
    return _make_callable(specs, [("scalar", rec.loss), ("scalar", rec.dloss)], modules, name)


@functools.lru_cache(maxsize=None)
def finite_set_step_callable(d: int, n: int, B: int, modules: str = "mpmath"):
    r"""``f(X, y, m, M, eta) -> (m', M')``: one step of the ``sgd.finite-set`` moment map.

    ``X`` is ``n x d`` (nested sequences, rows ``x_j``), ``y``, ``m`` sequences, ``M`` a ``d x d``
    nested sequence (read as ``(M + M^T)/2``: the map assumes a symmetric second moment).
    ``modules``: ``"mpmath"`` (mpmath's current context, never changed here), ``"math"`` (floats)
    or ``"exact"`` (ints / ``Fraction`` in, ``Fraction`` out). Outputs: ``m'`` a list, ``M'`` a
    list of lists. Cached per arguments.

    >>> f = finite_set_step_callable(1, 2, 2, modules="exact")
    >>> f([[1], [3]], [1, 1], [0], [[0]], 1)[1]   # eta^2 (b^2 + (Sbar - b^2)/B), b = 2, Sbar = 5, B = 2
    [[Fraction(9, 2)]]
    """
    return _step_fn(finite_set_recursion(d, n, B), modules, f"finite_set_step_d{d}_n{n}_B{B}")


@functools.lru_cache(maxsize=None)
def finite_set_tangent_callable(d: int, n: int, B: int, modules: str = "mpmath"):
    r"""``f(X, y, m, M, dm, dM, eta) -> (m', M', dm', dM')``: the map and its forward tangent in ``eta``.

    >>> f = finite_set_tangent_callable(1, 1, 1, modules="exact")
    >>> f([[2]], [2], [0], [[0]], [0], [[0]], 0)[2]   # dm'/deta at eta = 0, m = 0: b = 4
    [Fraction(4, 1)]
    """
    return _tangent_fn(finite_set_recursion(d, n, B), modules, f"finite_set_tangent_d{d}_n{n}_B{B}")


@functools.lru_cache(maxsize=None)
def finite_set_loss_callable(d: int, n: int, modules: str = "mpmath"):
    r"""``f(X, y, m, M, dm, dM) -> (Lbar, Lbar_dot)``: expected training loss and its tangent.

    ``Lbar = (1/2n)(tr(X^T X M) - 2 y^T X m + y^T y)``, ``Lbar_dot`` the same with ``(dm, dM)``
    and without ``y^T y``. For the validation loss pass ``X_valid``, ``y_valid`` (``n`` = their
    number of rows).

    >>> f = finite_set_loss_callable(1, 1, modules="exact")
    >>> f([[1]], [1], [0], [[0]], [0], [[0]])
    (Fraction(1, 2), Fraction(0, 1))
    """
    return _loss_fn(finite_set_recursion(d, n, 1), modules, f"finite_set_loss_d{d}_n{n}")


@functools.lru_cache(maxsize=None)
def gaussian_step_callable(d: int, B: int, modules: str = "mpmath"):
    r"""``f(Sigma, sigma, m_e, M_e, eta) -> (m_e', M_e')`` for ``sgd.gaussian`` (``sigma`` the noise std).

    >>> f = gaussian_step_callable(1, 1, modules="exact")
    >>> f([[1]], 1, [1], [[1]], 1)   # (1 - 1)^2 + 1 * (1 + (1 + 1)) = 3
    ([Fraction(0, 1)], [[Fraction(3, 1)]])
    """
    return _step_fn(gaussian_recursion(d, B), modules, f"gaussian_step_d{d}_B{B}")


@functools.lru_cache(maxsize=None)
def gaussian_tangent_callable(d: int, B: int, modules: str = "mpmath"):
    """``f(Sigma, sigma, m_e, M_e, dm_e, dM_e, eta) -> (m_e', M_e', dm_e', dM_e')`` for ``sgd.gaussian``."""
    return _tangent_fn(gaussian_recursion(d, B), modules, f"gaussian_tangent_d{d}_B{B}")


@functools.lru_cache(maxsize=None)
def gaussian_loss_callable(d: int, modules: str = "mpmath"):
    """``f(Sigma, sigma, m_e, M_e, dm_e, dM_e) -> (1/2 (tr(Sigma M_e) + sigma^2), 1/2 tr(Sigma dM_e))``."""
    return _loss_fn(gaussian_recursion(d, 1), modules, f"gaussian_loss_d{d}")


@functools.lru_cache(maxsize=None)
def additive_noise_step_callable(d: int, modules: str = "mpmath"):
    r"""``f(H, b, S, m, M, eta) -> (m', M')`` for ``sgd.additive-noise`` (``H``, ``S``, ``M`` read symmetrised).

    >>> from fractions import Fraction
    >>> f = additive_noise_step_callable(1, modules="exact")
    >>> f([[2]], [0], [[1]], [1], [[1]], Fraction(1, 4))   # (1/2)^2 + 1/16
    ([Fraction(1, 2)], [[Fraction(5, 16)]])
    """
    return _step_fn(additive_noise_recursion(d), modules, f"additive_noise_step_d{d}")


@functools.lru_cache(maxsize=None)
def additive_noise_tangent_callable(d: int, modules: str = "mpmath"):
    """``f(H, b, S, m, M, dm, dM, eta) -> (m', M', dm', dM')`` for ``sgd.additive-noise``."""
    return _tangent_fn(additive_noise_recursion(d), modules, f"additive_noise_tangent_d{d}")


@functools.lru_cache(maxsize=None)
def additive_noise_loss_callable(d: int, modules: str = "mpmath"):
    """``f(H, b, S, m, M, dm, dM) -> (1/2 tr(H M) - b^T m, 1/2 tr(H dM) - b^T dm)``."""
    return _loss_fn(additive_noise_recursion(d), modules, f"additive_noise_loss_d{d}")


# ------------------------------------------------------------------------------------------------
# registry

#: Every derivation of this module, by name (``l2l derive NAME`` prints them via theory.registry).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "sgd.isserlis": isserlis,
    "sgd.finite-set": finite_set,
    "sgd.gaussian": gaussian,
    "sgd.additive-noise": additive_noise,
}


def names() -> tuple[str, ...]:
    """The registered derivation names, in registration order."""
    return tuple(DERIVATIONS)


def get(name: str) -> Derivation:
    """A fresh derivation by name; ``KeyError`` naming the known names otherwise.

    >>> get("sgd.isserlis").title
    'Fourth moments of a Gaussian vector (Isserlis)'
    """
    try:
        factory = DERIVATIONS[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown derivation {name!r}; known: {', '.join(DERIVATIONS)}") from None
    return factory()
