"""The polynomial-ring fast paths of the checkers (:mod:`l2l.theory.polynomial`) give exactly what
they replace: ``sympy.expand`` (the same expression), ``diff`` at 0 then ``expand``, and
``cancel(together(e)) == 0`` (the same answer), on random expression trees with rational
coefficients, function values, symbolic powers and denominators (so that both the ring and the
fallback paths run), including differences that are identically zero."""

from __future__ import annotations

import sympy
from hypothesis import given, strategies as st

from l2l.theory.polynomial import derivative_at_zero, expand_exact, is_zero_rational

X, Y, Z, H = sympy.symbols("x y z h")
F = sympy.Function("F")
LEAVES = [X, Y, Z, H, sympy.Integer(2), sympy.Rational(-1, 3), F(X), X ** Y]


@st.composite
def trees(draw, depth=3, rational=False):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(LEAVES))
    op = draw(st.sampled_from(["add", "mul", "pow"] + (["div"] if rational else [])))
    a = draw(trees(depth - 1, rational))
    if op == "pow":
        return a ** draw(st.integers(0, 3))
    b = draw(trees(depth - 1, rational))
    if op == "div":
        return a / (b + 1) if b + 1 != 0 else a
    return a + b if op == "add" else a * b


@given(trees())
def test_expand_exact_is_sympy_expand(e):
    assert expand_exact(e) == sympy.expand(e)


@given(trees())
def test_derivative_at_zero_is_diff_then_expand(e):
    assert derivative_at_zero(e, H) == sympy.expand(sympy.diff(e, H).xreplace({H: 0}))


@given(trees(rational=True), trees(rational=True), st.booleans())
def test_zero_test_answers_as_cancel(a, b, rewrite):
    """``rewrite``: compare a with an equal but differently built form of itself (a zero)."""
    e = (a - sympy.expand(a) if rewrite else a - b)
    assert is_zero_rational(e) == (sympy.cancel(sympy.together(e)) == 0)
