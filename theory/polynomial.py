r"""Exact expansion and zero tests in a sparse polynomial ring: the fast path of the checkers.

Realizing a matrix statement at concrete sizes (:mod:`theory.expectation.realize`) gives entries
that are polynomials with rational coefficients in the entry symbols (``X[1,2]``, ``M[1,1]``,
``eta``, ...), built as deep trees of sums and products. :func:`sympy.expand` multiplies such a
tree out through SymPy's general expression machinery; the same polynomial is obtained, much
faster, by evaluating the tree in SymPy's sparse polynomial ring ``QQ[symbols]``
(:func:`sympy.polys.rings.ring`) and converting the result back (``as_expr``): a canonical sum of
monomials with exact rational coefficients, the same expression ``expand`` returns for a
polynomial. Anything that is not a polynomial over ``QQ`` (a symbol in a denominator, a float, a
function) falls back to :func:`sympy.expand`, so the result never depends on which path was taken.

:func:`is_zero_rational` is the zero test of :class:`theory.derivation.Derivation`: a rational
function is 0 exactly when the numerator of ``together(e)`` is the zero polynomial, which the ring
decides without the gcd computations of ``cancel``; anything else goes to ``cancel(together(e))``
as before.

Source: mechanics only; no mathematics is claimed here.

>>> x, y, h = sympy.symbols("x y h")
>>> expand_exact((x + y) ** 2 - x * (x + 2 * y))
y**2
>>> derivative_at_zero((x + h * y) ** 3, h)
3*x**2*y
>>> expand_exact(1 / (x + y) + 1)  # not a polynomial: sympy.expand
1 + 1/(x + y)
>>> is_zero_rational(1 / (x - y) - (x + y) / (x**2 - y**2)), is_zero_rational(1 / (x - y) - 1 / x)
(True, False)
"""

from __future__ import annotations

import sympy
from sympy import Basic, Integer, Rational, Symbol
from sympy.polys.polyerrors import CoercionFailed, PolynomialError
from sympy.polys.rings import ring

__all__ = ["expand_exact", "derivative_at_zero", "is_zero_rational"]

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


def _generators(expr: Basic, out: set) -> None:
    """The generators of ``expr`` read as a polynomial: whatever is not a sum, a product, a
    non-negative integer power or a rational number (symbols, function values, other powers)."""
    if expr.is_Rational:
        return
    if expr.is_Add or expr.is_Mul:
        for a in expr.args:
            _generators(a, out)
    elif expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
        _generators(expr.base, out)
    else:
        out.add(expr)


def is_zero_rational(expr: Basic) -> bool:
    """``cancel(together(expr)) == 0``, decided first in a polynomial ring: the numerator of
    ``together(expr)`` with every non-polynomial part (a function value, a power with a symbolic
    or negative exponent, a float) as an independent generator. A formal zero there is a zero for
    every value of the generators, so True is sound; anything else is left to ``cancel`` (which
    may still find a zero, e.g. through a relation between generators), so the answer is always
    that of ``cancel(together(expr)) == 0``."""
    expr = sympy.sympify(expr)
    if expr == 0:
        return True
    combined = sympy.together(expr)
    num, _ = sympy.fraction(combined)
    if num == 0:
        return True
    gens: set = set()
    _generators(num, gens)
    if gens:
        try:
            R, *_ = ring(sorted(gens, key=sympy.default_sort_key), sympy.QQ)
            if not R.from_expr(num):
                return True
        except _NOT_POLYNOMIAL:
            pass
    return sympy.cancel(combined) == 0
