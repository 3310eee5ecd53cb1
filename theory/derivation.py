r"""A small derivation model whose every step SymPy checks.

A :class:`Derivation` is a numbered list of :class:`Step` objects. Each step is an equation or a
relation ``lhs rel rhs`` (``rel`` one of ``= <= >= < >``) between SymPy expressions, a human
justification, and a machine *rule* that says how the step is checked:

``Definition()``
    Not checked. Introduces a symbol (no premise). Status ``"definition"``.
``Hypothesis(assumption)``
    Not checked: a hypothesis of the statement, which must be listed in the derivation's
    ``assumptions`` (by 1-based number or exact text). Status ``"hypothesis"``; an unlisted one is
    ``"assumed"``.
``Quote(derivation, step=None)``
    Another registered derivation (by name), or one of its steps. Status ``"quoted"`` (or
    ``"assumed"`` when the quoted step states something else, ``"failed"`` for an unknown name or a
    cycle of quotes); the step *inherits* the quoted derivation's effective status (below).
``Assumed(reason)``
    An unchecked premise that is none of the above. Status ``"assumed"`` (strength 0).
``Identity(given=())``
    ``lhs - rhs == 0``, after replacing the left sides of the listed earlier equations by their
    right sides.
``FromPrevious(op, description)``
    ``op`` (a callable, e.g. "differentiate in eta") is applied to both sides of the previous
    equation (or of step ``source``); the results must equal this step's two sides.
``Induction(base, recurrence)``
    ``w[t, ...] = closed(t)`` solves the recursion of step ``recurrence`` (``w[tau+1, ...] = ...
    w[tau, ...]``) from the initial value of step ``base`` (``w[0, ...] = ...``).
``Bound(assumptions, sampler, ...)``
    An inequality. First SymPy tries to prove it for all symbol values (see below); when it
    cannot, the inequality is checked exactly, in rational arithmetic, at concrete instances drawn
    by ``sampler`` from a seeded :class:`random.Random`, and the status says ``"sampled"``.

Checking identities (``Identity``, ``FromPrevious``, ``Induction``). The difference of the two
sides is tested for zero in three stages, and the status records the first that succeeds:

1. ``"symbolic"``: for symbolic dimension ``d`` and symbolic horizon ``t``. Every power whose
   exponent is linear in ``t`` is written through one generator ``P(b) = b**t`` per base ``b``
   (``b**(2t-1) = P(b)**2 / b``; a base with a leading minus sign contributes ``(-1)**t``, which is
   tried at both values), every ``Sum(f, (i, 1, d))`` is split into ``coefficient * Sum(part)``
   with canonical i-dependent parts, equal sums are identified, and the result must ``cancel``
   to 0 as a rational function.
2. ``"symbolic-d<=3"``: the sums expanded for d = 1, 2, 3 (``Derivation.dims``) and the same zero
   test with ``t`` symbolic.
3. ``"concrete-t"``: the sums expanded for each of those d and ``t`` set to 1, 2, 3, 5, 8
   (``Derivation.ts``); the difference must cancel to 0 at every pair.

A difference that is not 0 at a concrete ``(d, t)`` is ``"failed"``, with the witness.

Strength and inheritance. A verdict is not stronger than what it quotes. :meth:`Derivation.verify`
also verifies every quoted derivation (transitively, through :mod:`theory.registry` or the
``quotes`` mapping; a cycle of quotes fails the quoting step) and gives each step an *effective*
status: the weakest (by :func:`status_strength`) of its own check and, for a quote, the quoted
derivation's overall effective status. Definitions, declared
hypotheses and quotes do not weaken by themselves; an undeclared premise (``"assumed"``) does.
:attr:`Verification.status` is the weakest effective status over the steps (``"definition"``
when no step is weaker than a definition), and :attr:`Verification.strength` its rank.

Proving bounds. ``rhs - lhs`` (or ``lhs - rhs`` for ``>=``) is rewritten with the earlier steps
listed in ``given`` (an equation replaces its left side by its right side; an inequality
``A <= B`` replaces ``A`` by ``B - p`` with a fresh slack ``p >= 0``), with the symbol
reparametrisation ``reparametrize`` (e.g. ``L -> alpha + delta`` with ``delta > 0`` for the
assumption ``L > alpha``), and optionally split into intervals of one variable. A sign certificate
is then searched with sound rules only: SymPy's assumptions (``is_nonnegative is True`` on the
expression, its ``together``/``factor`` numerator and positive denominator), ``Abs(x)`` resolved
when the sign of ``x`` is known, ``max(a, b) >= a``, ``|x| >= x`` and ``|x| >= -x`` where the
bounded term enters with a nonnegative coefficient, ``min(a, b) <= a`` and the triangle
inequality ``|sum_i a_i| <= sum_i |a_i|`` where it enters with a nonpositive coefficient.

Source: the checking rules follow ``DESIGN.md`` ("theory: derivations whose every step SymPy
checks") and the SymPy hygiene of ``STYLE.md``: exact Rationals, no Python truthiness on SymPy
relationals (results are compared with ``is sympy.true`` or ``== 0`` on canonical forms).

Example (a two-step derivation with a deliberately small horizon):

>>> import sympy
>>> x = sympy.Symbol("x", positive=True)
>>> n = sympy.Symbol("n", integer=True, positive=True)
>>> D = Derivation(
...     "demo.power", "Derivative of a power",
...     [Step(sympy.Function("g")(x), "=", x**(2*n), "definition", Definition()),
...      Step(sympy.Derivative(sympy.Function("g")(x), x), "=", 2*n*x**(2*n - 1),
...           "differentiate in $x$", FromPrevious.differentiate(x))],
...     source="demo", horizon=n)
>>> v = D.verify()
>>> v.ok, v.statuses
(True, ('definition', 'symbolic'))
>>> print(D.to_text())
demo.power: Derivative of a power
source: demo
  1. g(x) = x**(2*n)
     why: definition
     check: [definition] not checked: a definition (introduces a symbol)
  2. Derivative(g(x), x) = 2*n*x**(2*n - 1)
     why: differentiate in $x$
     check: [symbolic] differentiate in x, applied to both sides of step 1: the left side agrees structurally; the right side: the difference simplifies to 0 with n symbolic (powers with exponents linear in n written through P(b) = b**n)
strength: symbolic (every step proved for all symbol values, and everything it quotes)

A step that quotes another derivation inherits its strength (here an unchecked premise):

>>> E = Derivation("demo.quote", "A quote", [
...     Step(sympy.Function("g")(x), "=", x**(2*n), "demo.power, step 1", Quote("demo.power", 1))],
...     source="demo")
>>> P = D.replace_step(1, Step(sympy.Function("g")(x), "=", x**(2*n), "a premise", Assumed("believed")))
>>> v = E.verify(quotes={"demo.power": P})
>>> v.statuses, v.status, v.results[0].inherited_text()
(('quoted',), 'assumed', 'assumed, inherited from demo.power step 1')
"""

from __future__ import annotations

import copy
import random
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import sympy
from sympy import (
    Abs,
    Add,
    Basic,
    Derivative,
    Dummy,
    Function,
    Indexed,
    Integer,
    Max,
    Min,
    Pow,
    Sum,
    cancel,
    default_sort_key,
    expand,
    expand_power_base,
    factor,
    fraction,
    sstr,
    together,
)
from sympy.core.function import AppliedUndef

from l2l.theory.polynomial import is_zero_rational
from l2l.theory.printing import RELATIONS_LATEX, latex, relation_latex
from l2l.theory.printing import text as text_form
from l2l.theory.store import keep, lookup

__all__ = [
    "RELATIONS",
    "STATUSES",
    "status_strength",
    "Rule",
    "Definition",
    "Hypothesis",
    "Quote",
    "Assumed",
    "QUOTE_CYCLE",
    "NEUTRAL",
    "Identity",
    "FromPrevious",
    "Induction",
    "Bound",
    "Instance",
    "Step",
    "StepResult",
    "Verification",
    "Derivation",
    "resolve_quote",
]

#: Allowed relations of a step.
RELATIONS = ("=", "<=", ">=", "<", ">")

#: Possible step statuses, strongest first. ``symbolic-d<=N`` stands for the concrete-dimension
#: status, whose ``N`` is the largest checked dimension (``Derivation.dims``); ``concrete-d``
#: (exact, every entry symbolic, at listed matrix sizes only) is given by the matrix checks of
#: :mod:`theory.expectation.checks`. :func:`status_strength` ranks them for combining checks.
#: ``definition``, ``hypothesis`` and ``quoted`` do not weaken a derivation (a quote inherits the
#: status of what it quotes); ``assumed`` is an unchecked premise (strength 0).
STATUSES = (
    "definition", "hypothesis", "quoted", "symbolic", "symbolic-d<=N", "concrete-t", "concrete-d", "sampled",
    "assumed", "failed",
)

#: The statuses that state no unchecked premise: they never weaken the effective status.
NEUTRAL = ("definition", "hypothesis", "quoted")

#: The start of the detail of a step whose quote closes a cycle (an authoring error).
QUOTE_CYCLE = "quote cycle"

_TEXT_REL = {"=": "=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}

# P(b) stands for b**t inside the zero test (never leaves this module).
_TPOW = Function("P")


# --------------------------------------------------------------------------------------------
# rules


class Rule:
    """Base class of the machine rules that say how a step is checked."""

    kind = "rule"


@dataclass(frozen=True)
class Definition(Rule):
    """Not checked: introduces a symbol (``H = X^T X / n``) and rests on no premise.

    A step that states a fact is not a definition: declare it a :class:`Hypothesis`, a
    :class:`Quote` or an :class:`Assumed` premise."""

    kind = "definition"


@dataclass(frozen=True)
class Hypothesis(Rule):
    """Not checked: a hypothesis of the statement, listed in the derivation's ``assumptions``.

    ``assumption`` is its 1-based number in ``Derivation.assumptions`` or its exact text."""

    assumption: int | str
    kind = "hypothesis"

    def __post_init__(self) -> None:
        if isinstance(self.assumption, bool) or not isinstance(self.assumption, (int, str)):
            raise TypeError("Hypothesis.assumption must be an assumption number (int) or its text (str)")


@dataclass(frozen=True)
class Quote(Rule):
    """A result quoted from another registered derivation: ``derivation`` (a registry name) and
    optionally its 1-based ``step``. The step inherits the quoted derivation's overall effective
    status (over all its steps: a later step may be what checks the quoted one).

    With a ``step``, the statement must be the quoted one: equal after the renaming
    ``substitute`` (pairs ``(old, new)`` applied to the quoted step; sums that then have integer
    limits are expanded and the renaming applied again, so ``d -> 1`` then ``h[1] -> h`` works), with
    the sides' difference expanding to 0. A restatement that differs is an unchecked premise
    (status ``"assumed"``)."""

    derivation: str
    step: int | None = None
    substitute: tuple[tuple[Basic, Basic], ...] = ()
    kind = "quote"

    def __post_init__(self) -> None:
        if not isinstance(self.derivation, str) or not self.derivation:
            raise TypeError("Quote.derivation must be a derivation name")
        object.__setattr__(self, "substitute", tuple(tuple(pair) for pair in self.substitute))
        for pair in self.substitute:
            if len(pair) != 2 or not all(isinstance(x, Basic) for x in pair):
                raise TypeError("Quote.substitute must be pairs (old, new) of SymPy expressions")
        if self.substitute and self.step is None:
            raise ValueError("Quote.substitute needs the quoted step")
        if self.step is not None and (isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 1):
            raise ValueError(f"Quote.step must be None or an integer >= 1, got {self.step!r}")

    def label(self) -> str:
        return self.derivation + (f" step {self.step}" if self.step is not None else "")


@dataclass(frozen=True)
class Assumed(Rule):
    """An unchecked premise that is neither a definition, a listed hypothesis nor a quote;
    ``reason`` says why it is believed. Status ``"assumed"``: it weakens the derivation."""

    reason: str = ""
    kind = "assumed"


@dataclass(frozen=True)
class Identity(Rule):
    """``lhs == rhs`` for all symbol values, after substituting the equations ``given``.

    ``given`` lists earlier step numbers (1-based) whose relation is ``=``; each replaces its left
    side by its right side (in order) in both sides of this step.
    """

    given: tuple[int, ...] = ()
    kind = "identity"


@dataclass(frozen=True)
class FromPrevious(Rule):
    """``op`` applied to both sides of an earlier equation gives this step's two sides.

    ``source`` is the 1-based number of that equation (default: the previous step). Only
    equations may be transformed this way: an operation such as differentiation does not
    preserve inequalities, so a ``FromPrevious`` step with an inequality on either end fails.
    Use the constructors :meth:`differentiate`, :meth:`substitute` and :meth:`multiply`.
    """

    op: Callable[[Basic], Basic]
    description: str
    source: int | None = None
    kind = "from-previous"

    @classmethod
    def differentiate(cls, var: sympy.Symbol, times: int = 1, source: int | None = None) -> "FromPrevious":
        """Differentiate both sides ``times`` times in ``var``."""
        if not isinstance(times, int) or times < 1:
            raise ValueError(f"FromPrevious.differentiate: times must be an integer >= 1, got {times!r}")
        what = f"differentiate in {var}" + (f" ({times} times)" if times > 1 else "")
        return cls(lambda e: sympy.diff(e, var, times), what, source)

    @classmethod
    def substitute(cls, mapping: Mapping[Basic, Basic], source: int | None = None) -> "FromPrevious":
        """Replace each key of ``mapping`` by its value (structural ``xreplace``)."""
        items = tuple(mapping.items())
        for old, new in items:
            if not isinstance(old, Basic) or not isinstance(new, Basic):
                raise TypeError("FromPrevious.substitute: keys and values must be SymPy expressions")
        what = "substitute " + ", ".join(f"{sstr(o)} -> {sstr(n)}" for o, n in items)
        return cls(lambda e: e.xreplace(dict(items)), what, source)

    @classmethod
    def multiply(cls, factor_: Basic, source: int | None = None) -> "FromPrevious":
        """Multiply both sides by ``factor_``."""
        if not isinstance(factor_, Basic):
            raise TypeError("FromPrevious.multiply: factor must be a SymPy expression")
        return cls(lambda e: factor_ * e, f"multiply by {sstr(factor_)}", source)


@dataclass(frozen=True)
class Induction(Rule):
    """This step ``w[t, ...] = closed(t)`` solves a recursion, by induction on ``t``.

    ``base`` is the step ``w[0, ...] = initial``; ``recurrence`` is the step
    ``w[tau + 1, ...] = R(w[tau, ...])``. The check: ``closed(0) - initial == 0`` and
    ``closed(tau + 1) - R(closed(tau)) == 0`` with ``tau`` symbolic.
    """

    base: int
    recurrence: int
    kind = "induction"


@dataclass(frozen=True)
class Instance:
    """One concrete point at which a bound is checked exactly.

    ``values`` maps symbols and ``Indexed`` objects (``lam[1]``, ``c[2]``, ...) to exact SymPy
    numbers (Rationals); ``dimension`` is the value of the derivation's dimension symbol (or
    ``None``); ``label`` is the human description listed in the verification detail.
    """

    values: Mapping[Basic, Basic]
    dimension: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Bound(Rule):
    """An inequality step; proved symbolically when possible, otherwise checked at samples.

    Parameters
    ----------
    assumptions:
        SymPy relationals (``Eq``, ``<=``, ...) the inequality assumes. They are displayed and,
        for every sampled instance, evaluated exactly; each must be ``sympy.true`` (an assumption
        with the derivation's free index symbol, e.g. ``lam[i] <= L``, is evaluated for every
        i = 1..d). An instance that violates one fails the step: the sampler is wrong.
    sampler:
        ``sampler(rng) -> Instance``; ``None`` means no sampling fallback.
    samples, seed:
        number of instances and the seed of the ``random.Random`` that draws them.
    given:
        earlier step numbers used by the symbolic proof (see the module docstring); equations
        are also substituted before sampling.
    reparametrize:
        pairs ``(symbol, expression)`` encoding assumptions for the symbolic proof, e.g.
        ``((L, alpha + delta),)`` with ``delta`` a positive symbol for ``L > alpha``. The author
        asserts that the expression covers exactly the assumed range; it is listed in the detail.
    split:
        ``(var, (p0, p1, ..., pn))``: prove separately on ``[p0, p1), ..., [pn, oo)``. The prover
        checks that ``p0`` is the lower end of ``var``'s domain (0 for a nonnegative symbol) and
        that the points increase, so the cases cover the domain.
    """

    assumptions: tuple[Basic, ...] = ()
    sampler: Callable[[random.Random], Instance] | None = None
    samples: int = 8
    seed: int = 0
    given: tuple[int, ...] = ()
    reparametrize: tuple[tuple[Basic, Basic], ...] = ()
    split: tuple[Basic, tuple[Basic, ...]] | None = None
    kind = "bound"

    def __post_init__(self) -> None:
        if not isinstance(self.samples, int) or self.samples < 0:
            raise ValueError(f"Bound.samples must be an integer >= 0, got {self.samples!r}")
        for a in self.assumptions:
            if not isinstance(a, Basic):
                raise TypeError("Bound.assumptions must be SymPy relationals")


# --------------------------------------------------------------------------------------------
# steps and results


def _as_expr(x: object, where: str) -> Basic:
    if isinstance(x, Basic):
        return x
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{where} must be a SymPy expression (or an int), got {type(x).__name__}")
    return Integer(x)


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``lhs rel rhs``, why it holds, and how it is checked."""

    lhs: Basic
    rel: str
    rhs: Basic
    justification: str
    rule: Rule = field(default_factory=Definition)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lhs", _as_expr(self.lhs, "Step.lhs"))
        object.__setattr__(self, "rhs", _as_expr(self.rhs, "Step.rhs"))
        if self.rel not in RELATIONS:
            raise ValueError(f"Step.rel must be one of {RELATIONS}, got {self.rel!r}")
        if not isinstance(self.justification, str):
            raise TypeError("Step.justification must be a string")
        if not isinstance(self.rule, Rule):
            raise TypeError(
                "Step.rule must be a Rule (Definition, Hypothesis, Quote, Assumed, Identity, FromPrevious, Induction, Bound)"
            )

    def latex(self) -> str:
        """``lhs`` and ``rhs`` in LaTeX joined by the relation, as :mod:`theory.printing` writes them."""
        return relation_latex(self.lhs, self.rel, self.rhs)

    def text(self) -> str:
        """``lhs rel rhs`` in SymPy's string form, with the signs of :mod:`theory.printing` (``w - eta*g``)."""
        return f"{text_form(self.lhs)} {_TEXT_REL[self.rel]} {text_form(self.rhs)}"


@dataclass(frozen=True)
class StepResult:
    """The outcome of checking one step: its status, what was done, and any instances used.

    ``inherited`` is the status the step inherits through a quote when it is weaker than its own
    (else ``None``), and ``inherited_from`` names where it comes from
    (``"least_squares.train-loss step 3"``, followed by that step's own source, if any)."""

    number: int
    status: str
    detail: str
    instances: tuple[str, ...] = ()
    inherited: str | None = None
    inherited_from: str = ""

    @property
    def effective(self) -> str:
        """The weaker of the own status and the inherited one."""
        return self.inherited if self.inherited is not None else self.status

    def inherited_text(self) -> str:
        """``"concrete-d, inherited from least_squares.train-loss step 3"``, or ``""``."""
        if self.inherited is None:
            return ""
        return f"{self.inherited}, inherited from {self.inherited_from}"


def _weakest(statuses: Iterable[str]) -> str:
    """The weakest non-neutral status (by :func:`status_strength`), ``"definition"`` if none."""
    worst = "definition"
    for st in statuses:
        if st in NEUTRAL:
            continue
        if worst == "definition" or status_strength(st) < status_strength(worst):
            worst = st
    return worst


@dataclass(frozen=True)
class Verification:
    """Per-step results of :meth:`Derivation.verify`; ``ok`` when no step failed (own checks).

    ``status`` is the weakest *effective* status over the steps (quotes inherit; definitions,
    declared hypotheses and quotes themselves do not weaken; an ``"assumed"`` premise does), or
    ``"definition"`` when nothing weakens it; ``strength`` is its :func:`status_strength`."""

    name: str
    results: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(r.status for r in self.results)

    @property
    def effective_statuses(self) -> tuple[str, ...]:
        return tuple(r.effective for r in self.results)

    def status_upto(self, k: int | None = None) -> str:
        """The weakest effective status over steps ``1..k`` (all steps when ``k`` is None)."""
        rs = self.results if k is None else self.results[:k]
        return _weakest(r.effective for r in rs)

    @property
    def status(self) -> str:
        return self.status_upto()

    @property
    def strength(self) -> int:
        return status_strength(self.status)

    def weakest(self, k: int | None = None) -> tuple[StepResult, ...]:
        """The steps (among ``1..k``) whose effective status is as weak as the overall one (by
        :func:`status_strength`); ``()`` when no step weakens the derivation."""
        worst = self.status_upto(k)
        if worst == "definition":
            return ()
        rs = self.results if k is None else self.results[:k]
        rank = status_strength(worst)
        return tuple(r for r in rs if r.effective not in NEUTRAL and status_strength(r.effective) == rank)

    def to_text(self) -> str:
        lines = [f"{self.name}: {'ok' if self.ok else 'FAILED'}"]
        for r in self.results:
            extra = f" (inherits: {r.inherited_text()})" if r.inherited is not None else ""
            lines.append(f"  {r.number}. [{r.status}]{extra} {r.detail}")
        lines.append(f"strength: {_strength_line(self)}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# expression utilities


def _expand_sums(expr: Basic) -> Basic:
    """Replace every ``Sum`` with integer limits by the explicit sum of its terms."""

    def one(s: Sum) -> Basic:
        f = s.function
        for var, lo, hi in reversed(s.limits):
            if not (lo.is_Integer and hi.is_Integer):
                return s
            f = Add(*[f.xreplace({var: Integer(k)}) for k in range(int(lo), int(hi) + 1)])
        return f

    return expr.replace(lambda e: isinstance(e, Sum), one)


def _rebuild(expr: Basic) -> Basic:
    """Rebuild ``expr`` bottom-up with evaluation.

    Some constructors (``Abs`` of a product) leave unevaluated ``Mul(-1, Add)`` inside their
    argument; rebuilding restores the canonical form, so that later structural substitutions of
    earlier steps' left sides find their targets.
    """
    if not expr.args:
        return expr
    return expr.func(*[_rebuild(a) for a in expr.args])


def _eval_derivatives(expr: Basic) -> Basic:
    """Evaluate ``Derivative`` objects whose argument is not an undefined function."""
    return expr.replace(
        lambda e: isinstance(e, Derivative) and not isinstance(e.expr, AppliedUndef),
        lambda e: sympy.diff(e.expr, *e.variable_count),
    )


def _generalise_powers(expr: Basic, t: Basic | None, z: Basic) -> Basic:
    """Write ``b**(k t + m)`` as ``P(b)**k * b**m`` (``P(b)`` = ``b**t``), ``(-1)**t`` as ``z``.

    Exact for integer ``t`` and integer ``k``, ``m``; the zero test then treats ``P(b)`` as an
    independent generator, which can only miss identities, never invent them.
    """
    expr = expand_power_base(expr)
    if t is None:
        return expr

    def rebuild(e: Basic) -> Basic:
        if not e.args:
            return e
        args = [rebuild(a) for a in e.args]
        if isinstance(e, Pow):
            b, x = args
            if x.has(t):
                k = sympy.diff(x, t)
                m = expand(x - k * t)
                if k.is_Integer and not m.has(t) and m.is_integer is True:
                    sign: Basic = Integer(1)
                    if b.could_extract_minus_sign():
                        b = -b
                        sign = z ** (int(k) % 2) * Pow(-1, m)
                    return sign * _TPOW(b) ** k * Pow(b, m)
            if x.is_integer is True and b.could_extract_minus_sign():
                return Pow(-1, x) * Pow(-b, x)
            return Pow(b, x)
        return e.func(*args)

    return rebuild(expr)


def _canonical_sums(expr: Basic) -> Basic:
    """Split each single-limit ``Sum`` into ``sum_k coeff_k * Sum(part_k)`` with i-free coeffs."""

    def canon(s: Sum) -> Basic:
        if len(s.limits) != 1:
            return s
        var, lo, hi = s.limits[0]
        out = []
        num, den = fraction(s.function)  # expand the numerator only: keep denominators factored
        for term in Add.make_args(expand(num)):
            coeff, part = (term / den).as_independent(var, as_Add=False)
            out.append(coeff * Sum(part, (var, lo, hi)))
        return Add(*out)

    return expr.replace(lambda e: isinstance(e, Sum), canon)


def _zero_test(expr: Basic, z: Basic) -> bool:
    """True when ``expr`` cancels to 0 as a rational function (for ``z`` = 1 and ``z`` = -1)."""
    if expr == 0:
        return True
    values = (Integer(1), Integer(-1)) if expr.has(z) else (None,)
    for zv in values:
        e = expr if zv is None else expr.xreplace({z: zv})
        if not is_zero_rational(e):
            return False
    return True


def _replace_sums_by_symbols(expr: Basic) -> Basic:
    sums = sorted(expr.atoms(Sum), key=default_sort_key)
    return expr.xreplace({s: Dummy(f"S{k}") for k, s in enumerate(sums)})


def _short(expr: Basic, limit: int = 160) -> str:
    text = sstr(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt_number(x: Basic) -> str:
    text = sstr(x)
    if len(text) <= 40:
        return text
    return f"{float(x):.6g} (exact rational, {len(text)} characters)"


def _has_sign(e: Basic, strict: bool) -> bool:
    """Sound sign test: SymPy's assumptions on ``e`` or on its numerator and denominator."""
    attr = "is_positive" if strict else "is_nonnegative"
    if getattr(e, attr) is True:
        return True
    try:
        num, den = fraction(together(e))
        if den.is_positive is not True:
            den_f = factor(den)
            if den_f.is_positive is not True:
                return False
        for cand in (num, expand(num), factor(num)):
            if getattr(cand, attr) is True:
                return True
    except (sympy.PolynomialError, sympy.polys.polyerrors.PolificationFailed, TypeError, ValueError):
        return False
    return False


def _resolve_abs(e: Basic) -> Basic:
    def one(a: Abs) -> Basic:
        x = a.args[0]
        if _has_sign(x, False):
            return x
        if _has_sign(-x, False):
            return -x
        return a

    return e.replace(lambda y: isinstance(y, Abs), one)


def _lower_bounds(a: Basic) -> list[tuple[Basic, str]]:
    if isinstance(a, Max):
        return [(arg, f"{sstr(a)} >= {sstr(arg)}") for arg in a.args]
    if isinstance(a, Abs):
        x = a.args[0]
        return [(x, f"|x| >= x for x = {_short(x, 60)}"), (-x, f"|x| >= -x for x = {_short(x, 60)}")]
    return []


def _upper_bounds(a: Basic) -> list[tuple[Basic, str]]:
    if isinstance(a, Min):
        return [(arg, f"{sstr(a)} <= {sstr(arg)}") for arg in a.args]
    if isinstance(a, Abs) and isinstance(a.args[0], Sum):
        s = a.args[0]
        return [(Sum(Abs(s.function), *s.limits), "triangle inequality |sum_i a_i| <= sum_i |a_i|")]
    return []


def _prove_sign(e: Basic, strict: bool, depth: int = 0) -> list[str] | None:
    """A list of the rules used to show ``e >= 0`` (``> 0`` if strict), or ``None``."""
    e = _resolve_abs(e)
    if _has_sign(e, strict):
        return [f"{'positive' if strict else 'nonnegative'} by SymPy's assumptions: {_short(_factor_safe(e), 120)}"]
    if depth >= 4:
        return None
    free = e.free_symbols
    bound = {lim[0] for sm in e.atoms(Sum) for lim in sm.limits}
    seen: set[Basic] = set()
    for a in sympy.preorder_traversal(e):
        if not isinstance(a, (Max, Min, Abs)) or a in seen:
            continue
        if not a.free_symbols <= free or a.free_symbols & bound:
            continue  # the atom lives inside a sum (or shares its index): bounding it here is unsound
        seen.add(a)
        X = Dummy("X")
        eX = e.xreplace({a: X})
        k = cancel(sympy.diff(eX, X))
        if k.has(X):
            continue
        if _has_sign(k, False):
            cands = _lower_bounds(a)
        elif _has_sign(-k, False):
            cands = _upper_bounds(a)
        else:
            continue
        for cand, why in cands:
            rest = _prove_sign(eX.xreplace({X: cand}), strict, depth + 1)
            if rest is not None:
                return [why] + rest
    return None


def _factor_safe(e: Basic) -> Basic:
    """``factor(together(e))``, or ``e`` itself when factoring is not possible."""
    try:
        return factor(together(e))
    except (sympy.PolynomialError, TypeError, ValueError):
        return e


# --------------------------------------------------------------------------------------------
# the derivation


_STRENGTH = {
    "definition": 4,
    "hypothesis": 4,
    "quoted": 4,
    "symbolic": 3,
    "concrete-t": 1,
    "concrete-d": 0,
    "sampled": 0,
    "assumed": 0,
    "failed": -1,
}


def status_strength(status: str) -> int:
    """Rank of a status for combining parts of one check (the weakest part decides): "definition",
    "hypothesis" and "quoted" 4 (they state no unchecked premise, so they never weaken), "symbolic"
    3, "symbolic-d..." 2, "concrete-t" 1, "concrete-d", "sampled", "assumed" and any status not
    listed 0, "failed" -1 (always the weakest, so combining it with anything can never hide the
    failure). The only ranking of statuses in :mod:`theory`."""
    if status.startswith("symbolic-d"):
        return 2
    return _STRENGTH.get(status, 0)


def _same_after(pairs: tuple[tuple[Basic, Basic], ...], quoted: tuple[Basic, ...], own: tuple[Basic, ...]) -> bool:
    """Each quoted side, renamed by ``pairs`` (then its sums expanded and renamed again), minus
    the own side expands to 0."""
    rep = dict(pairs)
    for q, o in zip(quoted, own):
        q1 = q.xreplace(rep)
        q2 = _expand_sums(q1)
        if q2 != q1:  # the renaming again, for the terms the expansion produced (X[1] -> m)
            q2 = q2.xreplace(rep)
        diff = q2 - o
        if diff == 0:
            continue
        try:
            zero = cancel(together(expand(diff.doit()))) == 0 if not getattr(diff, "is_Matrix", False) else (
                diff.applyfunc(lambda e: cancel(together(expand(e)))).is_zero_matrix)
        except (TypeError, ValueError, AttributeError):
            return False
        if zero is not True:
            return False
    return True


#: Names of the derivations being verified, innermost last (the guard against cycles of quotes).
_VERIFYING: list[str] = []

#: Verifications of registered derivations, reached through quotes or :func:`verified` (their
#: verdict depends only on the code, so one verification per process is enough).
_QUOTED_CACHE: dict[str, "Verification"] = {}


def _registered(name: str, compute: Callable[[], "Verification"]) -> "Verification":
    """The verification of the registered derivation ``name``: from this process's cache, else
    from the store, else ``compute()``; kept in both (unless it hit a cycle of quotes), so a store
    also receives what this process verified before the block (:mod:`theory.store`)."""
    v = _QUOTED_CACHE.get(name)
    if v is None:
        v = lookup(name)
    if v is None:
        v = compute()
        if any(r.detail.startswith(QUOTE_CYCLE) for r in v.results):
            return v
    keep(name, v)
    _QUOTED_CACHE[name] = v
    return v


def verified(name: str) -> "Verification":
    """The verification of the registered derivation ``name`` (a fresh one from its model module's
    ``DERIVATIONS``), computed once per process (or read from the :func:`theory.store.verification_store` in
    use) and shared with the quotes that reach it; ``KeyError`` if no loaded model module registers
    ``name``. A derivation built or changed by hand is verified with its own
    :meth:`Derivation.verify`, never through this cache."""

    def compute() -> "Verification":
        d = resolve_quote(name)
        if d is None:
            raise KeyError(f"no loaded model module registers a derivation named {name!r}")
        return d.verify()

    return _registered(name, compute)


def resolve_quote(name: str, quotes: Mapping[str, object] | None = None) -> "Derivation | None":
    """A fresh derivation by name for a :class:`Quote`: from ``quotes`` (a derivation or a
    factory) first, else from the ``DERIVATIONS`` table of a loaded :mod:`theory` model module
    (a module quotes only derivations of modules it imports, so they are loaded; this module
    does not import :mod:`theory.registry`, which imports it). ``None`` when unknown."""
    if quotes is not None and name in quotes:
        found = quotes[name]
        return found() if callable(found) and not isinstance(found, Derivation) else found
    modules = sorted(sys.modules.items(), key=lambda item: not item[0].startswith("l2l.theory."))
    for _, module in modules:  # the installed theory modules first, then any other (a doctest's copy)
        table = getattr(module, "DERIVATIONS", None) if module is not None else None
        if isinstance(table, dict) and name in table and callable(table[name]):
            found = table[name]()
            if isinstance(found, Derivation):
                return found
    return None


class Derivation:
    """A named, sourced sequence of checked steps.

    Parameters
    ----------
    name, title, source:
        registry name (``"quadratic.loss"``), a one-line title, and the source (paper + theorem
        or spec section).
    steps:
        the :class:`Step` list, numbered from 1 in every rendering and in ``given`` references.
    assumptions:
        human-readable (LaTeX) assumptions of the whole derivation.
    dimension, index, horizon:
        the dimension symbol ``d`` (upper limit of the sums), the summation index ``i`` (free in
        per-coordinate statements and assumptions) and the horizon ``t``; any may be ``None``.
    dims, ts:
        the concrete dimensions and horizons of the fallback identity checks.
    """

    def __init__(
        self,
        name: str,
        title: str,
        steps: Sequence[Step],
        source: str,
        assumptions: Sequence[str] = (),
        *,
        dimension: Basic | None = None,
        index: Basic | None = None,
        horizon: Basic | None = None,
        dims: Sequence[int] = (1, 2, 3),
        ts: Sequence[int] = (1, 2, 3, 5, 8),
    ) -> None:
        if not steps:
            raise ValueError("Derivation.steps must not be empty")
        for s in steps:
            if not isinstance(s, Step):
                raise TypeError("Derivation.steps must be Step objects")
        if not dims or any(not isinstance(x, int) or x < 1 for x in dims):
            raise ValueError("Derivation.dims must be positive integers")
        if not ts or any(not isinstance(x, int) or x < 1 for x in ts):
            raise ValueError("Derivation.ts must be positive integers")
        self.name = name
        self.title = title
        self.steps = tuple(steps)
        self.source = source
        self.assumptions = tuple(assumptions)
        self.dimension = dimension
        self.index = index
        self.horizon = horizon
        self.dims = tuple(dims)
        self.ts = tuple(ts)
        self.verification: Verification | None = None

    def __repr__(self) -> str:
        return f"Derivation({self.name!r}, {len(self.steps)} steps)"

    def replace_step(self, k: int, step: Step) -> "Derivation":
        """A copy (same class and settings) with step ``k`` replaced, e.g. by a deliberately wrong
        variant to test the checks."""
        if not isinstance(k, int) or not 1 <= k <= len(self.steps):
            raise ValueError(f"no step {k!r}")
        if not isinstance(step, Step):
            raise TypeError("replace_step needs a Step")
        new = copy.copy(self)
        new.steps = self.steps[: k - 1] + (step,) + self.steps[k:]
        new.verification = None
        return new

    def verify_step(self, k: int, quotes: Mapping[str, object] | None = None) -> "StepResult":
        """Check step ``k`` alone (the earlier steps are used as written, not checked); a quote
        also verifies what it quotes, to give the inherited status."""
        if not isinstance(k, int) or not 1 <= k <= len(self.steps):
            raise ValueError(f"no step {k!r}")
        self._quotes = quotes
        _VERIFYING.append(self.name)
        try:
            return self._result(k, self.steps[k - 1])
        finally:
            _VERIFYING.pop()

    # ---------------------------------------------------------------- verification

    def verify(self, quotes: Mapping[str, object] | None = None) -> Verification:
        """Check every step; the result is also kept in ``self.verification``.

        Quoted derivations are verified too (transitively) to give each quoting step its
        inherited status; ``quotes`` maps names to derivations (or factories) that take
        precedence over the registered ones (see :func:`resolve_quote`)."""
        self._quotes = quotes
        _VERIFYING.append(self.name)
        try:
            results = [self._result(n, step) for n, step in enumerate(self.steps, start=1)]
        finally:
            _VERIFYING.pop()
        self.verification = Verification(self.name, tuple(results))
        return self.verification

    def _result(self, n: int, step: Step) -> StepResult:
        self._inherits: dict[int, tuple[str, str]] = {}
        try:
            status, detail, instances = self._check(n, step)
        except Exception as exc:  # a checker crash is a failed check, reported with its cause
            status, detail, instances = "failed", f"error while checking: {type(exc).__name__}: {exc}", ()
        inherited, source = self._inherits.get(n, (None, ""))
        if inherited is not None and status_strength(inherited) >= status_strength(status):
            inherited, source = None, ""
        return StepResult(n, status, detail, tuple(instances), inherited, source)

    def _check_hypothesis(self, rule: Hypothesis) -> tuple[str, str]:
        a = rule.assumption
        if isinstance(a, int):
            if 1 <= a <= len(self.assumptions):
                # the assumption's text (LaTeX in $...$) is shown with the derivation's assumptions
                return "hypothesis", f"not checked: assumption {a} of the statement, listed above"
            return "assumed", f"declared hypothesis {a}, but the derivation lists {len(self.assumptions)} assumptions"
        if a in self.assumptions:
            return "hypothesis", f"not checked: assumption {self.assumptions.index(a) + 1} of the statement, listed above"
        return "assumed", f"declared a hypothesis that the derivation does not list among its assumptions: {a}"

    def _check_quote(self, n: int, step: Step, rule: Quote) -> tuple[str, str]:
        name = rule.derivation
        if name in _VERIFYING:
            chain = _VERIFYING[_VERIFYING.index(name):] + [name]
            return "failed", f"{QUOTE_CYCLE}: " + " -> ".join(chain)
        quotes = getattr(self, "_quotes", None)
        quoted = resolve_quote(name, quotes)
        if quoted is None:
            return "failed", f"quotes {name}, which is not a registered derivation"
        if rule.step is not None and rule.step > len(quoted.steps):
            return "failed", f"quotes step {rule.step} of {name}, which has {len(quoted.steps)} steps"
        if quotes is None:
            qv = _registered(name, quoted.verify)
        else:  # quotes given by hand: verified with them, never cached
            qv = quoted.verify(quotes=quotes)
        cycle = [r for r in qv.results if r.status == "failed" and r.detail.startswith(QUOTE_CYCLE)]
        if cycle:
            return "failed", f"{cycle[0].detail} (through step {cycle[0].number} of {name})"
        # the whole quoted derivation, not only its steps up to the quoted one: a later step may
        # be what checks an earlier candidate (a fixed point defined, then verified)
        inherited = qv.status
        if inherited != "definition":
            r, *others = qv.weakest()
            source = f"{name} step {r.number}" + (f", inherited from {r.inherited_from}" if r.inherited else "")
            if others:  # as weak (equal strength): named too, so that no premise hides behind another
                source += " (as weak: " + ", ".join(f"step {o.number} {o.effective}" for o in others) + ")"
            self._inherits[n] = (inherited, source)
        what = f"{name} (status {inherited if inherited != 'definition' else 'definition: nothing to inherit'}"
        if rule.step is None:
            return "quoted", f"quotes the result of {what})"
        q = quoted.steps[rule.step - 1]
        what = f"step {rule.step} of {name} (whose derivation has status {inherited})"
        if (q.lhs, q.rel, q.rhs) == (step.lhs, step.rel, step.rhs):
            return "quoted", f"quotes {what}; the same statement"
        if rule.substitute and q.rel == step.rel and _same_after(rule.substitute, (q.lhs, q.rhs), (step.lhs, step.rhs)):
            renaming = ", ".join(f"{sstr(a)} -> {sstr(b)}" for a, b in rule.substitute)
            return "quoted", f"quotes {what}; the same statement after {renaming}"
        return "assumed", f"restates {what}, whose statement differs ({_short(q.lhs)} {q.rel} {_short(q.rhs)}): the restatement is not checked"

    def _step(self, k: int, n: int) -> Step:
        if not isinstance(k, int) or not 1 <= k < n:
            raise ValueError(f"step {n} refers to step {k!r}, which is not an earlier step")
        return self.steps[k - 1]

    def _check(self, n: int, step: Step) -> tuple[str, str, Sequence[str]]:
        rule = step.rule
        if isinstance(rule, Definition):
            return "definition", "not checked: a definition (introduces a symbol)", ()
        if isinstance(rule, Hypothesis):
            return self._check_hypothesis(rule) + ((),)
        if isinstance(rule, Quote):
            return self._check_quote(n, step, rule) + ((),)
        if isinstance(rule, Assumed):
            return "assumed", "not checked: an unchecked premise" + (f" ({rule.reason})" if rule.reason else ""), ()
        if isinstance(rule, Identity):
            if step.rel != "=":
                return "failed", f"an Identity needs the relation '=', got {step.rel!r}", ()
            lhs, rhs, notes = self._substitute_equations(n, rule.given, step.lhs, step.rhs)
            status, detail = self._check_zero(lhs - rhs)
            return status, notes + detail, ()
        if isinstance(rule, FromPrevious):
            return self._check_from_previous(n, step, rule) + ((),)
        if isinstance(rule, Induction):
            return self._check_induction(n, step, rule) + ((),)
        if isinstance(rule, Bound):
            return self._check_bound(n, step, rule)
        return "failed", f"unknown rule {type(rule).__name__}", ()

    @staticmethod
    def _substitute_until_fixed(expr: Basic, rep: Mapping[Basic, Basic]) -> Basic:
        """``expr`` with each left side of ``rep`` replaced by its right side, repeatedly (at most
        ``len(rep) + 1`` rounds), so that definitions may refer to earlier ones. Used by the
        subclasses whose rules substitute named quantities (:mod:`theory.expectation.checks`)."""
        for _ in range(len(rep) + 1):
            new = expr.xreplace(rep)
            if new == expr:
                break
            expr = new
        return expr

    def _substitute_equations(self, n: int, given: Iterable[int], lhs: Basic, rhs: Basic) -> tuple[Basic, Basic, str]:
        used = []
        for k in given:
            g = self._step(k, n)
            if g.rel != "=":
                raise ValueError(f"step {n}: given step {k} is not an equation")
            lhs, rhs = _rebuild(lhs.xreplace({g.lhs: g.rhs})), _rebuild(rhs.xreplace({g.lhs: g.rhs}))
            used.append(str(k))
        if not used:
            return lhs, rhs, ""
        lhs, rhs = _eval_derivatives(lhs), _eval_derivatives(rhs)
        return lhs, rhs, f"using step{'s' if len(used) > 1 else ''} {', '.join(used)}; "

    # -- identities

    def _zero_symbolic(self, expr: Basic) -> bool:
        z = Dummy("z")
        e = _generalise_powers(_eval_derivatives(expr), self.horizon, z)
        e = _replace_sums_by_symbols(_canonical_sums(e))
        return _zero_test(e, z)

    def _zero_concrete_d(self, expr: Basic, dv: int) -> bool:
        z = Dummy("z")
        e = _expand_sums(_eval_derivatives(expr).xreplace({self.dimension: Integer(dv)}))
        return _zero_test(_generalise_powers(e, self.horizon, z), z)

    def _concrete(self, expr: Basic, dv: int | None, tv: int | None) -> Basic:
        rep = {}
        if dv is not None:
            rep[self.dimension] = Integer(dv)
        if tv is not None:
            rep[self.horizon] = Integer(tv)
        return cancel(together(_expand_sums(_eval_derivatives(expr).xreplace(rep))))

    def _check_zero(self, expr: Basic) -> tuple[str, str]:
        """Status and detail of the zero test of ``expr`` (see the module docstring)."""
        if expr == 0:
            return "symbolic", "the difference is identically 0 (structurally equal sides)"
        has_d = self.dimension is not None and expr.has(self.dimension)
        has_t = self.horizon is not None and expr.has(self.horizon)
        has_sum = expr.has(Sum)
        dn, tn = sstr(self.dimension), sstr(self.horizon)
        if self._zero_symbolic(expr):
            what = []
            if has_sum:
                what.append("each sum split into constant x canonical sum and equal sums identified")
            if has_t:
                what.append(f"powers with exponents linear in {tn} written through P(b) = b**{tn}")
            free = " and ".join(x for x, flag in ((dn, has_d), (tn, has_t)) if flag)
            tail = f" ({'; '.join(what)})" if what else ""
            return "symbolic", f"the difference simplifies to 0 with {free or 'all symbols'} symbolic{tail}"
        dims_txt = ", ".join(map(str, self.dims))
        ts_txt = ", ".join(map(str, self.ts))
        if has_d and all(self._zero_concrete_d(expr, dv) for dv in self.dims):
            return (
                self._status_concrete_d(),
                f"not settled for symbolic {dn}; expanded the sums for {dn} = {dims_txt} and the difference "
                f"simplifies to 0 with {tn + ' symbolic' if has_t else 'all other symbols symbolic'}",
            )
        dvs: Sequence[int | None] = self.dims if has_d else (None,)
        tvs: Sequence[int | None] = self.ts if has_t else (None,)
        for dv in dvs:
            for tv in tvs:
                value = self._concrete(expr, dv, tv)
                if value != 0:
                    where = ", ".join(f"{k} = {v}" for k, v in ((dn, dv), (tn, tv)) if v is not None)
                    return "failed", f"the difference is not 0{' at ' + where if where else ''}: {_short(value)}"
        if not has_t:
            return "failed", "the difference does not simplify to 0"
        return (
            "concrete-t",
            f"not settled for symbolic {tn}; "
            + (f"expanded the sums for {dn} = {dims_txt} and " if has_d else "")
            + f"checked that the difference is 0 at {tn} = {ts_txt}",
        )

    def _status_concrete_d(self) -> str:
        if self.dims == tuple(range(1, max(self.dims) + 1)):
            return f"symbolic-d<={max(self.dims)}"
        return "symbolic-d in {" + ",".join(map(str, self.dims)) + "}"

    def _check_from_previous(self, n: int, step: Step, rule: FromPrevious) -> tuple[str, str]:
        k = rule.source if rule.source is not None else n - 1
        src = self._step(k, n)
        if src.rel != "=" or step.rel != "=":
            return "failed", (
                f"FromPrevious transforms equations only; step {k} has {src.rel!r} and step {n} has {step.rel!r}"
            )
        parts = []
        worst = "symbolic"
        for side, before, after in (("left", src.lhs, step.lhs), ("right", src.rhs, step.rhs)):
            diff = rule.op(before) - after
            if diff == 0:
                parts.append(f"the {side} side agrees structurally")
                continue
            status, detail = self._check_zero(diff)
            parts.append(f"the {side} side: {detail}")
            if status_strength(status) < status_strength(worst):
                worst = status
        return worst, f"{rule.description}, applied to both sides of step {k}: " + "; ".join(parts)

    def _check_induction(self, n: int, step: Step, rule: Induction) -> tuple[str, str]:
        base, rec = self._step(rule.base, n), self._step(rule.recurrence, n)
        t = self.horizon
        seq = step.lhs
        if not (isinstance(seq, Indexed) and seq.indices[0] == t):
            return "failed", "Induction needs a left side w[t, ...] with the horizon t as first index"
        if not (isinstance(base.lhs, Indexed) and base.lhs.base == seq.base and base.lhs.indices[0] == 0):
            return "failed", f"step {rule.base} must define w[0, ...]"
        if not (isinstance(rec.lhs, Indexed) and rec.lhs.base == seq.base):
            return "failed", f"step {rule.recurrence} must define w[tau + 1, ...]"
        tau = rec.lhs.indices[0] - 1
        rest = seq.indices[1:]
        if base.lhs.indices[1:] != rest or rec.lhs.indices[1:] != rest:
            return "failed", "the other indices of the sequence must agree in all three steps"

        def closed(k: Basic) -> Basic:
            return step.rhs.xreplace({t: k})

        rec_rhs = rec.rhs.replace(
            lambda e: isinstance(e, Indexed) and e.base == seq.base,
            lambda e: closed(e.indices[0]) if e.indices[1:] == rest else e,
        )
        if rec_rhs.has(seq.base):
            return "failed", f"step {rule.recurrence} refers to the sequence at other indices"
        s0, d0 = self._check_zero(closed(Integer(0)) - base.rhs)
        s1, d1 = self._check_zero(closed(tau + 1) - rec_rhs)
        worst = s0 if status_strength(s0) <= status_strength(s1) else s1
        return worst, (
            f"induction on {t}: base case (closed form at {t} = 0 minus step {rule.base}): {d0}; "
            f"step (closed form at {sstr(tau + 1)} minus the recursion of step {rule.recurrence} applied to "
            f"the closed form at {sstr(tau)}): {d1}"
        )

    # -- bounds

    def _check_bound(self, n: int, step: Step, rule: Bound) -> tuple[str, str, Sequence[str]]:
        if step.rel == "=":
            return "failed", "a Bound needs an inequality, got '='", ()
        ok, why = self._prove_bound(n, step, rule)
        if ok:
            return "symbolic", why, ()
        if rule.sampler is None or rule.samples == 0:
            return "failed", f"SymPy could not prove it ({why}) and no sampler was given", ()
        return self._sample_bound(n, step, rule, why)

    def _prove_bound(self, n: int, step: Step, rule: Bound) -> tuple[bool, str]:
        lhs, rhs = step.lhs, step.rhs
        notes = []
        for k in rule.given:
            g = self._step(k, n)
            if g.rel == "=":
                rep, note = g.rhs, f"step {k} (equation)"
            else:
                slack = Dummy(f"p{k}", nonnegative=True)
                rep = g.rhs - slack if g.rel in ("<=", "<") else g.rhs + slack
                note = (
                    f"step {k} ({_short(g.lhs, 80)} = its bound {'-' if g.rel in ('<=', '<') else '+'} "
                    f"{sstr(slack)}, {sstr(slack)} >= 0)"
                )
            new_lhs, new_rhs = _rebuild(lhs.xreplace({g.lhs: rep})), _rebuild(rhs.xreplace({g.lhs: rep}))
            if new_lhs == lhs and new_rhs == rhs:
                note = f"step {k} (not used: its left side does not occur)"
            lhs, rhs = new_lhs, new_rhs
            notes.append(note)
        lhs, rhs = _eval_derivatives(lhs), _eval_derivatives(rhs)
        strict = step.rel in ("<", ">")
        expr = rhs - lhs if step.rel in ("<=", "<") else lhs - rhs
        reps = dict(rule.reparametrize)
        if reps:
            expr = expr.xreplace(reps)
            notes.append("reparametrised " + ", ".join(f"{sstr(a)} = {sstr(b)}" for a, b in rule.reparametrize))
        prefix = ("given " + "; ".join(notes) + ": ") if notes else ""
        cases: list[tuple[str, Basic]] = [("", expr)]
        if rule.split is not None:
            var, points = rule.split
            points = tuple(points)
            lower_ok = points and points[0] == 0 and (var.is_nonnegative is True)
            if not lower_ok:
                return False, prefix + f"the split of {var} does not start at the lower end of its domain"
            pts = [_as_expr(p, "Bound.split point").xreplace(reps) for p in points]
            for a, b in zip(pts, pts[1:]):
                if not _has_sign(b - a, True):
                    return False, prefix + f"cannot show the split points increase ({sstr(a)} < {sstr(b)})"
            cases = []
            zc = Dummy("z", nonnegative=True)
            for j, a in enumerate(pts):
                if j + 1 < len(pts):
                    b = pts[j + 1]
                    val, label = a + (b - a) * zc / (1 + zc), f"{var} in [{sstr(a)}, {sstr(b)})"
                else:
                    val, label = a + zc, f"{var} >= {sstr(a)}"
                cases.append((label, expr.xreplace({var: val})))
        proofs = []
        for label, e in cases:
            rules = _prove_sign(e, strict)
            if rules is None:
                return False, prefix + (f"case {label}: " if label else "") + "no sign certificate found for " + (
                    "rhs - lhs" if step.rel in ("<=", "<") else "lhs - rhs"
                )
            proofs.append((f"case {label}: " if label else "") + "; ".join(rules))
        side = "rhs - lhs" if step.rel in ("<=", "<") else "lhs - rhs"
        return True, prefix + f"{side} {'> 0' if strict else '>= 0'} for all symbol values: " + " | ".join(proofs)

    def _evaluate(self, expr: Basic, inst: Instance, k: int | None) -> Basic:
        e = expr
        if self.dimension is not None and inst.dimension is not None:
            e = e.xreplace({self.dimension: Integer(inst.dimension)})
        e = _expand_sums(e)
        if k is not None and self.index is not None:
            e = e.xreplace({self.index: Integer(k)})
        return e.xreplace(dict(inst.values))

    def _index_values(self, exprs: Iterable[Basic], inst: Instance) -> Sequence[int | None]:
        if self.index is None or not any(self.index in e.free_symbols for e in exprs):
            return (None,)
        if inst.dimension is None:
            raise ValueError("a statement with the free index needs an instance with a dimension")
        return tuple(range(1, inst.dimension + 1))

    def _unfold_equations(self, n: int, given: Sequence[int], lhs: Basic, rhs: Basic) -> tuple[Basic, Basic, list[str]]:
        """Substitute earlier equations into both sides so that they can be evaluated.

        The equations listed in ``given`` go first, then every earlier equation (latest first)
        whose left side still occurs, until nothing changes.
        """
        order = [k for k in given if self._step(k, n).rel == "="]
        order += [k for k in range(n - 1, 0, -1) if k not in order and self.steps[k - 1].rel == "="]
        used: list[str] = []
        for _ in range(len(order) + 1):
            changed = False
            for k in order:
                g = self.steps[k - 1]
                if g.lhs.is_number:
                    continue
                new_lhs, new_rhs = lhs.xreplace({g.lhs: g.rhs}), rhs.xreplace({g.lhs: g.rhs})
                if new_lhs != lhs or new_rhs != rhs:
                    lhs, rhs, changed = _rebuild(new_lhs), _rebuild(new_rhs), True
                    if str(k) not in used:
                        used.append(str(k))
            if not changed:
                break
        return _eval_derivatives(lhs), _eval_derivatives(rhs), used

    def _sample_bound(self, n: int, step: Step, rule: Bound, why: str) -> tuple[str, str, Sequence[str]]:
        lhs, rhs, notes = self._unfold_equations(n, rule.given, step.lhs, step.rhs)
        rng = random.Random(rule.seed)
        labels = []
        strict = step.rel in ("<", ">")
        for _ in range(rule.samples):
            inst = rule.sampler(rng)
            labels.append(inst.label)
            for a in rule.assumptions:
                for k in self._index_values([a], inst):
                    value = self._evaluate(a, inst, k)
                    if value is not sympy.true:
                        at = f" (i = {k})" if k is not None else ""
                        why_failed = f"sampled instance violates the assumption {sstr(a)}{at}: {inst.label}"
                        return "failed", why_failed, tuple(labels)
            for k in self._index_values([lhs, rhs], inst):
                try:
                    lv, rv = self._evaluate(lhs, inst, k), self._evaluate(rhs, inst, k)
                    gap = rv - lv if step.rel in ("<=", "<") else lv - rv
                except (ValueError, TypeError, ZeroDivisionError) as exc:
                    return "failed", f"could not evaluate at {inst.label}: {type(exc).__name__}: {exc}", tuple(labels)
                if not gap.is_Rational:
                    return "failed", f"could not evaluate exactly at {inst.label}: {_short(gap)}", tuple(labels)
                holds = (gap > 0) if strict else (gap >= 0)
                if holds is not sympy.true:
                    at = f" (i = {k})" if k is not None else ""
                    return (
                        "failed",
                        f"counterexample at {inst.label}{at}: lhs = {_fmt_number(lv)}, rhs = {_fmt_number(rv)}",
                        tuple(labels),
                    )
        plural = "s" if len(notes) > 1 else ""
        using = f" (after substituting the equation{plural} of step{plural} {', '.join(notes)})" if notes else ""
        detail = (
            f"not proved symbolically ({why}); checked exactly in rational arithmetic{using} at "
            f"{rule.samples} instances from random.Random({rule.seed}), each satisfying the "
            f"{len(rule.assumptions)} listed assumptions: " + "; ".join(labels)
        )
        return "sampled", detail, tuple(labels)

    # ---------------------------------------------------------------- rendering

    def _results(self, verification: Verification | None) -> tuple[StepResult, ...] | None:
        v = verification if verification is not None else self.verification
        return v.results if v is not None else None

    def to_latex(self) -> str:
        r"""An ``align*`` block: ``lhs & rel rhs && \text{(n) justification}`` per step."""
        lines = [r"\begin{align*}"]
        for n, s in enumerate(self.steps, start=1):
            end = r" \\" if n < len(self.steps) else ""
            lines.append(
                f"{latex(s.lhs)} &{RELATIONS_LATEX[s.rel]} {latex(s.rhs)} && "
                f"\\text{{({n}) {_latex_text(s.justification)}}}{end}"
            )
        lines.append(r"\end{align*}")
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        return self.to_latex()

    def to_markdown(self, verification: Verification | None = None) -> str:
        """Numbered steps with ``$...$`` math, the justification and (after verify) the status."""
        results = self._results(verification)
        out = [f"### {self.name}: {self.title}", "", f"*Source:* {self.source}", ""]
        if self.assumptions:
            out += ["*Assumptions:* " + "; ".join(self.assumptions), ""]
        for n, s in enumerate(self.steps, start=1):
            out.append(f"{n}. ${s.latex()}$")
            out.append(f"   - *Why:* {s.justification}")
            if isinstance(s.rule, Bound) and s.rule.assumptions:
                out.append("   - *Assumes:* " + ", ".join(f"${latex(a)}$" for a in s.rule.assumptions))
            if results is not None:
                r = results[n - 1]
                out.append(f"   - *Check:* **{r.status}**: {r.detail}")
                if r.inherited is not None:
                    out.append(f"   - *Inherits:* **{r.inherited}**, inherited from {r.inherited_from}")
        if results is not None:
            ok = all(r.status != "failed" for r in results)
            out += ["", f"*Verified:* {'all steps pass' if ok else 'SOME STEPS FAILED'}"]
            out += ["", f"*Strength:* {_strength_line(Verification(self.name, results))}"]
        return "\n".join(out) + "\n"

    def to_text(self, verification: Verification | None = None) -> str:
        """Plain text: one block per step with the justification and (after verify) the check."""
        results = self._results(verification)
        out = [f"{self.name}: {self.title}", f"source: {self.source}"]
        if self.assumptions:
            out.append("assumptions: " + "; ".join(self.assumptions))
        for n, s in enumerate(self.steps, start=1):
            out.append(f"{n:3d}. {s.text()}")
            out.append(f"     why: {s.justification}")
            if isinstance(s.rule, Bound) and s.rule.assumptions:
                out.append("     assumes: " + ", ".join(text_form(a) for a in s.rule.assumptions))
            if results is not None:
                r = results[n - 1]
                out.append(f"     check: [{r.status}] {r.detail}")
                if r.inherited is not None:
                    out.append(f"     inherits: [{r.inherited_text()}]")
        if results is not None:
            out.append(f"strength: {_strength_line(Verification(self.name, results))}")
        return "\n".join(out)


def _strength_line(v: Verification) -> str:
    """``"concrete-d (weakest: step 1, concrete-d, inherited from least_squares.train-loss step 3)"``."""
    weak = v.weakest()
    if not weak:
        return f"{v.status} (no step weaker than a definition, a declared hypothesis or a quote)"
    if v.status == "symbolic":
        return "symbolic (every step proved for all symbol values, and everything it quotes)"
    parts = [f"step {r.number}" + (f", {r.inherited_text()}" if r.inherited is not None else "") for r in weak]
    return f"{v.status} (weakest: " + "; ".join(parts) + ")"


_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "§": r"\S{}",
    "–": "--",
    "—": "---",
}


def _latex_text(text: str) -> str:
    """Escape ``text`` for ``\\text{...}``, leaving ``$...$`` segments as math."""
    parts = text.split("$")
    out = []
    for j, part in enumerate(parts):
        if j % 2 == 1 and j < len(parts) - 1:
            out.append(f"${part}$")
        elif j % 2 == 1:  # an unmatched dollar sign: keep it as text
            out.append(r"\$" + "".join(_TEXT_ESCAPES.get(ch, ch) for ch in part))
        else:
            out.append("".join(_TEXT_ESCAPES.get(ch, ch) for ch in part))
    return "".join(out)
