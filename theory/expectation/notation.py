r"""Matrix-expectation notation: display nodes that also carry meaning for the realizer.

The nodes carry no printing of their own beyond SymPy's string form (``_sympystr``, used by the
plain-text derivations); :mod:`theory.printing` prints them in LaTeX and MathML.

Statements about random matrices are written with SymPy ``MatrixSymbol`` expressions of symbolic
size plus the nodes below; :mod:`theory.expectation.realize` turns them into explicit matrices at
concrete sizes, and :mod:`theory.expectation.engine` computes ``E[...]`` of them.

* :class:`Sc` -- the scalar of a ``1 x 1`` matrix expression (``x^T M x``);
* :class:`Row` / :class:`RowT` / :class:`Entry` -- ``x_j``, ``x_j^T``, ``y_j`` for a data matrix
  ``X`` (rows ``x_j^T``) and a vector ``y``; ``j`` a summation index or a random index ``J[k]``;
* :func:`Avg` -- ``(1/count) sum_{idx=1}^{count} body`` (:class:`MatAvg`, :class:`ScalarAvg`);
* :func:`expect` -- ``E[arg]`` or ``E[arg | given]`` (:class:`MatExpect`, :class:`ScalarExpect`);
* :func:`tangent_of` -- the total derivative ``d/d var`` along state tangents
  (:class:`MatTangent`, :class:`ScalarTangent`).

Source: notation only (no mathematics is claimed here).

>>> d = sympy.Symbol("d", integer=True, positive=True)
>>> w = MatrixSymbol("w", d, 1)
>>> sympy.sstr(expect(Sc(w.T * w)))
'E[(w.T*w)]'
"""

from __future__ import annotations

from typing import Sequence

import sympy  # noqa: F401  (used by the docstring examples)
from sympy import Basic, Expr, Integer, MatrixSymbol, Symbol, Tuple  # noqa: F401  (MatrixSymbol: examples)
from sympy.matrices.expressions.matexpr import MatrixExpr

__all__ = [
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
    "CUSTOM",
    "as_basic",
]


class Sc(Expr):
    r"""The scalar held by a ``1 x 1`` matrix expression (``x^T M x``, ``y^T X m``, ...).

    Printed (by :mod:`theory.printing`) as the matrix expression in parentheses; realized as its
    only entry.

    >>> from l2l.theory.printing import latex
    >>> d = sympy.Symbol("d", integer=True, positive=True)
    >>> x = MatrixSymbol("x", d, 1)
    >>> latex(Sc(x.T * x))
    '\\left(x^{\\top} x\\right)'
    """

    is_commutative = True

    def __new__(cls, arg: MatrixExpr) -> "Sc":
        if not isinstance(arg, MatrixExpr):
            raise TypeError("Sc needs a 1 x 1 matrix expression")
        return Expr.__new__(cls, arg)

    def _sympystr(self, printer) -> str:
        return "(" + printer._print(self.args[0]) + ")"


def as_basic(x: object, what: str) -> Basic:
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
        return MatrixExpr.__new__(cls, mat, as_basic(idx, "Row index"), label)

    @property
    def shape(self):
        return (self.args[0].shape[1], Integer(1))

    def _eval_transpose(self) -> "RowT":
        return RowT(*self.args)

    def _sympystr(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{printer._print(self.args[1])}"


class RowT(MatrixExpr):
    r"""The transpose of :class:`Row` (the row itself), printed ``label_{idx}^T``."""

    def __new__(cls, mat: MatrixExpr, idx: Basic, label: Symbol) -> "RowT":
        return MatrixExpr.__new__(cls, mat, as_basic(idx, "Row index"), label)

    @property
    def shape(self):
        return (Integer(1), self.args[0].shape[1])

    def _eval_transpose(self) -> Row:
        return Row(*self.args)

    def _sympystr(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{printer._print(self.args[1])}.T"


class Entry(Expr):
    r"""Entry ``idx`` of the column vector ``vec``, printed ``label_{idx}`` (e.g. ``y_j``)."""

    is_commutative = True

    def __new__(cls, vec: MatrixExpr, idx: Basic, label: Symbol) -> "Entry":
        return Expr.__new__(cls, vec, as_basic(idx, "Entry index"), label)

    def _sympystr(self, printer) -> str:
        return f"{printer._print(self.args[2])}_{printer._print(self.args[1])}"


def _avg_str(self, printer) -> str:
    body, idx, count = self.args
    return f"(1/{printer._print(count)})*Sum_{printer._print(idx)}=1..{printer._print(count)}({printer._print(body)})"


class MatAvg(MatrixExpr):
    """``(1/count) sum_{idx=1}^{count} body`` for a matrix-valued ``body`` (see :func:`Avg`)."""

    def __new__(cls, body: MatrixExpr, idx: Symbol, count: Basic) -> "MatAvg":
        return MatrixExpr.__new__(cls, body, idx, as_basic(count, "Avg count"))

    @property
    def shape(self):
        return self.args[0].shape

    _sympystr = _avg_str


class ScalarAvg(Expr):
    """``(1/count) sum_{idx=1}^{count} body`` for a scalar ``body`` (see :func:`Avg`)."""

    is_commutative = True

    def __new__(cls, body: Expr, idx: Symbol, count: Basic) -> "ScalarAvg":
        return Expr.__new__(cls, body, idx, as_basic(count, "Avg count"))

    _sympystr = _avg_str


def Avg(body: Basic, idx: Symbol, count: Basic) -> Basic:
    r"""The average ``(1/count) sum_{idx=1}^{count} body`` (a sample mean or a minibatch mean).

    >>> n, d = sympy.symbols("n d", integer=True, positive=True)
    >>> X = MatrixSymbol("X", n, d)
    >>> x = Symbol("x")
    >>> j = Symbol("j", integer=True, positive=True)
    >>> from l2l.theory.printing import latex
    >>> latex(Avg(Row(X, j, x) * Row(X, j, x).T, j, n))
    '\\frac{1}{n} \\sum_{j=1}^{n} x_{j} x_{j}^{\\top}'
    """
    if isinstance(body, MatrixExpr):
        return MatAvg(body, idx, count)
    return ScalarAvg(body, idx, count)


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

    _sympystr = _expect_str


class ScalarExpect(Expr):
    """``E[arg]`` (or ``E[arg | given]``) of a scalar random expression; see :func:`expect`."""

    is_commutative = True
    _sympystr = _expect_str


def expect(arg: Basic, given: Basic | None = None) -> Basic:
    r"""The display node ``E[arg]`` or ``E[arg | given]``; an :class:`theory.expectation.engine.Expectation` step computes it.

    ``given`` is only displayed: what is random is fixed by the step's laws (the check refuses a
    law for the conditioning variable).

    >>> d = sympy.Symbol("d", integer=True, positive=True)
    >>> w = MatrixSymbol("w", d, 1)
    >>> from l2l.theory.printing import latex
    >>> latex(expect(w * w.T))
    '\\mathbb{E}\\left[w w^{\\top}\\right]'
    """
    args = (arg,) if given is None else (arg, given)
    if isinstance(arg, MatrixExpr):
        return MatExpect(*args)
    return ScalarExpect(*args)


def _tangent_str(self, printer) -> str:
    return f"d/d{printer._print(self.args[2])}({printer._print(self.args[0])})"


class MatTangent(MatrixExpr):
    """Total derivative in ``eta`` of a matrix expression along given state tangents; see :func:`tangent_of`."""

    @property
    def shape(self):
        return self.args[0].shape

    _sympystr = _tangent_str


class ScalarTangent(Expr):
    """Total derivative in ``eta`` of a scalar expression along given state tangents."""

    is_commutative = True
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


#: The nodes of this module that the realizer treats specially (never expanded as plain SymPy).
CUSTOM = (Row, RowT, Entry, MatAvg, ScalarAvg, MatExpect, ScalarExpect, MatTangent, ScalarTangent)
