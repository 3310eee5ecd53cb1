r"""Derivation classes whose steps may take expectations: the checks of the expectation engine.

* :class:`MomentDerivation` -- matrix statements (``MatrixSymbol`` expressions of symbolic size)
  and :class:`Expectation` steps with the matrix laws. A matrix identity is first expanded with
  SymPy's noncommutative matrix algebra (status ``"symbolic"``: every size); otherwise both sides
  are realized at the concrete sizes listed in ``sizes`` with every entry symbolic
  (:mod:`theory.expectation.realize`) and must cancel entry by entry (status ``"concrete-d"``:
  exact, at those sizes only). ``E[...]`` is computed from the laws at every size
  (:func:`theory.expectation.engine.expectation`).
* :class:`ScalarMomentDerivation` -- scalar statements with :class:`Expectation` steps that use
  the scalar laws (:class:`KnownMoments`, :class:`CenteredNormal`): every ``E[...]`` node is
  computed symbolically (:func:`theory.expectation.engine.expectation_of`) and the difference
  goes through the zero test of :class:`theory.derivation.Derivation`; explicit matrix sides
  (``M s + n``) are checked entry by entry, the weakest entry status deciding
  (:func:`theory.derivation.status_strength`).
* :func:`tangent_rule` -- a ``FromPrevious`` rule: the forward tangent ``d/d var`` with the states
  depending on ``var`` (realized by :func:`theory.expectation.notation.tangent_of`).

Both classes accept ``replace_step`` / ``verify_step`` of the base class, so tests can check
deliberately wrong variants of one step.

Source: the checking rules of ``DESIGN.md`` (theory: derivations whose every step SymPy checks).

>>> from l2l.theory.expectation import Gaussian, expect
>>> d = Symbol("d", integer=True, positive=True)
>>> x, Sig = MatrixSymbol("x", d, 1), MatrixSymbol("Sigma", d, d)
>>> step = Step(expect(x * x.T), "=", Sig, "covariance", Expectation((Gaussian(x, Sig),)))
>>> MomentDerivation("demo", "t", [step], "demo", sizes=({d: 2},), symmetric=("Sigma",)).verify().statuses
('concrete-d',)
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import sympy
from sympy import Basic, Determinant, ImmutableMatrix, MatrixSymbol, Symbol, ZeroMatrix, cancel, sstr, together
from sympy.matrices import MatrixBase
from sympy.matrices.expressions.matexpr import MatrixExpr

from l2l.theory.derivation import Definition, Derivation, FromPrevious, Step, status_strength
from l2l.theory.expectation.engine import Expectation, expectation, expectation_of, random_symbols
from l2l.theory.expectation.laws import UniformIndex
from l2l.theory.expectation.notation import CUSTOM, MatExpect, Sc, ScalarExpect, tangent_of
from l2l.theory.polynomial import expand_exact
from l2l.theory.expectation.realize import RealizeContext, realize_in, fmt_sizes

__all__ = ["CONCRETE_STATUS", "MomentDerivation", "ScalarMomentDerivation", "explicit_matrix", "tangent_rule"]

#: The status of a step checked exactly, with every entry symbolic, at the concrete sizes listed
#: in its detail (one of :data:`theory.derivation.STATUSES`).
CONCRETE_STATUS = "concrete-d"


def tangent_rule(pairs: Sequence[tuple[Basic, Basic]], var: Symbol, source: int | None = None) -> FromPrevious:
    r"""``FromPrevious``: differentiate both sides in ``var``, each state ``Z`` of ``pairs`` having ``dZ/dvar = Zdot``.

    The quantities named by the derivation's ``definitions`` (``H``, ``Sbar(M, m)``, ...) are
    substituted before realizing, so hidden dependences on the states are differentiated too.
    """
    pairs = tuple(pairs)
    states = ", ".join(f"d{sstr(z)}/d{var} = {sstr(zd)}" for z, zd in pairs)
    return FromPrevious(lambda e: tangent_of(e, pairs, var), f"differentiate in {var} (forward tangent; {states})", source)


def _is_matrixy(expr: Basic) -> bool:
    return any(isinstance(a, (MatrixExpr, Sc) + CUSTOM) for a in sympy.preorder_traversal(expr))


def _entries_zero(value: Basic) -> tuple[bool, str]:
    entries = list(value) if isinstance(value, ImmutableMatrix) else [value]
    for pos, e in enumerate(entries):
        if e == 0:
            continue
        e = expand_exact(e)
        if e == 0:
            continue
        if e.is_polynomial() or cancel(together(e)) != 0:
            where = f" (entry {pos})" if isinstance(value, ImmutableMatrix) else ""
            text = sstr(cancel(together(e)))
            return False, f"{where}: {text if len(text) < 160 else text[:157] + '...'}"
    return True, ""


class MomentDerivation(Derivation):
    r"""A :class:`theory.derivation.Derivation` whose steps may be matrix statements and expectations.

    Its :class:`Expectation` steps use the matrix laws (:class:`Gaussian`, :class:`SecondOrder`,
    :class:`UniformIndex`). Extra keyword parameters:

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
        return ", ".join(fmt_sizes(sz) for sz in self.sizes)

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
            # Any failed part (of a FromPrevious or Induction check) fails the step, whatever the
            # combination of the parts by theory.derivation.status_strength says.
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
        return self._substitute_until_fixed(expr, rep)

    def realize_rhs(self, k: int, sizes: Mapping[Basic, int]) -> Basic:
        """The right side of step ``k`` realized at ``sizes``, with the earlier definitions substituted."""
        if not isinstance(k, int) or not 1 <= k <= len(self.steps):
            raise ValueError(f"no step {k!r}")
        return realize_in(self.unfold(self.steps[k - 1].rhs, before=k), RealizeContext(dict(sizes), self.symmetric, {}, {}, {}))

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
            value = realize_in(unfolded, RealizeContext(sz, self.symmetric, {}, {}, {}))
            ok, why = _entries_zero(value)
            if not ok:
                return "failed", f"the difference is not 0 at {fmt_sizes(sz)}{why}"
        using = f" with the definitions of steps {', '.join(used)} substituted" if used else ""
        return CONCRETE_STATUS, (
            f"not settled for symbolic sizes; realized{using} at {self._sizes_text()} with every entry "
            f"symbolic{self._symmetric_text()}: the difference cancels to 0 entry by entry"
        )

    @staticmethod
    def _matrix_symbolic_zero(expr: Basic) -> bool:
        if any(isinstance(a, CUSTOM) for a in sympy.preorder_traversal(expr)):
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
            return "failed", "the left side of an Expectation step must be E[...] (theory.expectation.expect)"
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
            ctx = RealizeContext(sz, self.symmetric, {}, {}, {})
            lhs_value = expectation(arg, laws, sz, self.symmetric)
            rhs_value = realize_in(rhs, ctx)
            ok, why = _entries_zero(lhs_value - rhs_value)
            if not ok:
                return "failed", f"E[...] computed from the laws differs from the right side at {fmt_sizes(sz)}{why}"
        text = "; ".join(law.describe() for law in rule.laws)
        used = [k for k in self.definitions if k < n_] + list(rule.given)
        using = f" (definitions of steps {', '.join(map(str, used))} substituted)" if used else ""
        return CONCRETE_STATUS, (
            f"E[...] computed from the laws{using} at {self._sizes_text()} with every entry "
            f"symbolic{self._symmetric_text()}: {text}; equal to the right side entry by entry"
        )


def explicit_matrix(expr: Basic) -> Basic:
    """Evaluate products and sums of explicit matrices and explicit determinants."""
    if isinstance(expr, MatrixBase):
        return ImmutableMatrix(expr)
    if isinstance(expr, MatrixExpr):
        value = expr.doit()
        if isinstance(value, MatrixExpr) and not isinstance(value, MatrixBase):
            value = value.as_explicit()
        return ImmutableMatrix(value)
    if expr.has(Determinant):
        expr = expr.replace(lambda e: isinstance(e, Determinant), lambda e: e.doit())
    return expr


class ScalarMomentDerivation(Derivation):
    r"""A :class:`theory.derivation.Derivation` with scalar :class:`Expectation` steps and matrix steps.

    ``E[...]`` nodes are computed by :func:`theory.expectation.engine.expectation_of` from the
    scalar laws of the rule (``theory.nqm.NQMDerivation`` is this class).

    Matrix-valued sides (explicit ``ImmutableMatrix`` objects, unevaluated products of them such as
    ``M s + n``, explicit determinants) are multiplied out and checked entry by entry with the base
    class's zero test; the status of a matrix step is the weakest entry status.
    """

    def _check(self, n_: int, step: Step):
        if isinstance(step.rule, Expectation):
            return self._check_expectation(n_, step, step.rule) + ((),)
        return super()._check(n_, step)

    def _check_zero(self, expr: Basic) -> tuple[str, str]:
        expr = explicit_matrix(expr)
        if not isinstance(expr, MatrixBase):
            return super()._check_zero(expr)
        worst, details = "symbolic", []
        for k, entry in enumerate(expr):
            status, detail = super()._check_zero(entry)
            where = f"entry ({k // expr.cols + 1}, {k % expr.cols + 1})"
            if status == "failed":
                return "failed", f"{where}: {detail}"
            if status_strength(status) < status_strength(worst):
                worst = status
            if detail not in details:
                details.append(detail)
        return worst, f"entry by entry ({expr.rows}x{expr.cols}): " + "; ".join(details)

    def _check_expectation(self, n_: int, step: Step, rule: Expectation) -> tuple[str, str]:
        if step.rel != "=":
            return "failed", f"a ScalarExpectation step needs '=', got {step.rel!r}"
        nodes = [e for e in sympy.preorder_traversal(step.lhs) if isinstance(e, ScalarExpect)]
        if not nodes:
            return "failed", "the left side of a ScalarExpectation step must contain E[...] (theory.expectation.expect)"
        if any(len(e.args) > 1 for e in nodes):
            return "failed", "conditional expectations E[... | ...] are not supported here"
        rep = {}
        for k in rule.given:
            gk = self._step(k, n_)
            if gk.rel != "=":
                return "failed", f"given step {k} is not an equation"
            rep[gk.lhs] = gk.rhs

        def unfold(e: Basic) -> Basic:
            return self._substitute_until_fixed(e, rep)

        def compute(node: Basic) -> Basic:
            return expectation_of(unfold(node.args[0]), rule.laws)

        is_e = lambda e: isinstance(e, ScalarExpect)  # noqa: E731
        lhs = unfold(step.lhs.replace(is_e, compute))
        rhs = unfold(step.rhs.replace(is_e, compute))
        status, detail = self._check_zero(lhs - rhs)
        using = f"steps {', '.join(map(str, rule.given))} substituted, " if rule.given else ""
        laws = "; ".join(law.describe() for law in rule.laws)
        head = (
            f"E[...] computed by the checker ({using}expanded as a polynomial in the random symbols "
            f"{', '.join(sstr(r) for r in random_symbols(rule.laws))}; independent laws multiply; "
            f"sums averaged term by term): {laws}; "
        )
        if status == "failed":
            return "failed", head + "the result differs from the right side: " + detail
        return status, head + "computed minus right side: " + detail
