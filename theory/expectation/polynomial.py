r"""Exact expansion of the realized entries in a sparse polynomial ring.

Realizing a matrix statement at concrete sizes (:mod:`theory.expectation.realize`) gives entries
that are polynomials with rational coefficients in the entry symbols (``X[1,2]``, ``M[1,1]``,
``eta``, ...), built as deep trees of sums and products. :func:`sympy.expand` multiplies such a
tree out through SymPy's general expression machinery; the same polynomial is obtained, much
faster, by evaluating the tree in SymPy's sparse polynomial ring ``QQ[symbols]``
(:func:`sympy.polys.rings.ring`) and converting the result back (``as_expr``): a canonical sum of
monomials with exact rational coefficients, the same expression ``expand`` returns for a
polynomial. Anything that is not a polynomial over ``QQ`` (a symbol in a denominator, a float, a
function) falls back to :func:`sympy.expand`, so the result never depends on which path was taken.

Source: mechanics only; no mathematics is claimed here.

>>> x, y, h = sympy.symbols("x y h")
>>> expand_exact((x + y) ** 2 - x * (x + 2 * y))
y**2
>>> derivative_at_zero((x + h * y) ** 3, h)
3*x**2*y
>>> expand_exact(1 / (x + y) + 1)  # not a polynomial: sympy.expand
1 + 1/(x + y)
"""

from __future__ import annotations

import sympy
from sympy import Basic, Integer, Rational, Symbol
from sympy.polys.polyerrors import CoercionFailed, PolynomialError
from sympy.polys.rings import ring

__all__ = ["expand_exact", "derivative_at_zero"]

_NOT_POLYNOMIAL = (ValueError, TypeError, CoercionFailed, PolynomialError)


def _ring_element(expr: Basic, extra: tuple = ()):
    """``(element, generators)`` of ``expr`` in ``QQ[free symbols + extra]``, or None when ``expr``
    is not a polynomial over the rationals."""
    atoms = expr.atoms()
    if not all(isinstance(a, (Symbol, Rational)) for a in atoms):
        return None
    gens = sorted(expr.free_symbols | set(extra), key=sympy.default_sort_key)
    if not gens:
        return None
    try:
        R, *elements = ring(gens, sympy.QQ)
        return R.from_expr(expr), dict(zip(gens, elements))
    except _NOT_POLYNOMIAL:
        return None


def expand_exact(expr: Basic) -> Basic:
    """``sympy.expand(expr)``, through the polynomial ring when ``expr`` is a polynomial over QQ."""
    expr = sympy.sympify(expr)
    if not isinstance(expr, Basic) or not expr.args:
        return expr
    found = _ring_element(expr)
    if found is None:
        return sympy.expand(expr)
    return found[0].as_expr()


def derivative_at_zero(expr: Basic, h: Symbol) -> Basic:
    """``d expr / dh`` at ``h = 0``, expanded (the coefficient of ``h``)."""
    found = _ring_element(expr, (h,))
    if found is None:
        return sympy.expand(sympy.diff(expr, h).xreplace({h: Integer(0)}))
    element, gens = found
    return element.diff(gens[h]).subs(gens[h], 0).as_expr()
