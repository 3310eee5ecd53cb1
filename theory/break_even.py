r"""Mean-square stability of SGD along the top Hessian direction: Eq. 1 of Jastrzebski et al. (2020).

Setting (Jastrzebski, Szymczak, Fort, Arpit, Tabor, Cho & Geras (2020), "The Break-Even Point on
Optimization Trajectories of Deep Neural Networks", ICLR; Eq. 1, Section 3 and Section 4.1; claims
B1, B2 and B7). Along the top Hessian direction each of the ``N`` training examples has the loss
``ell_i(psi) = 1/2 h_i psi^2`` (the paper's assumption 1, with the minimum moved to ``psi = 0``);
``lambda = (1/N) sum_i h_i`` is the curvature of the mean loss and
``s^2 = (1/N) sum_i (h_i - lambda)^2`` the variance of the per-example curvatures. SGD with step
``eta`` and a minibatch ``B`` of ``S`` examples maps ``psi`` to ``(1 - eta h_B) psi``, ``h_B`` the
mean of ``h`` over ``B``. The paper states Eq. 1 and cites its proof to earlier work; every step
below is derived here.

``break_even.mean-square-factor`` (B1)
    For ``S`` distinct indices drawn uniformly without replacement,
    ``E[(1 - eta h_B)^2] = (1 - eta lambda)^2 + eta^2 Var[h_B]`` and
    ``Var[h_B] = s^2 c(S)``, ``c(S) = (N - S)/(S (N - 1))`` (the left side of Eq. 1); ``S = N`` gives
    ``(1 - eta lambda)^2``, and ``c(1) = 1``. Assumptions: ``1 <= S <= N``, ``N >= 2``, ``eta > 0``.
    Source: Jastrzebski et al. (2020), Eq. 1.
``break_even.with-replacement``
    For ``S`` indices drawn i.i.d. uniformly (with replacement), ``Var[h_B] = s^2 / S`` and the
    factor is ``(1 - eta lambda)^2 + eta^2 s^2 / S``; ``c(S) <= 1/S``, with equality only at ``S = 1``.
    Source: Jastrzebski et al. (2020), Eq. 1 (the comparison is derived here).
``break_even.critical-step`` (B2)
    For ``eta > 0``, ``lambda > 0`` and ``c(S) >= 0``: the factor is ``<= 1`` for
    ``eta <= eta_crit = 2 lambda / (lambda^2 + s^2 c(S))`` and ``> 1`` above it; for the full batch
    (``S = N``) ``eta_crit = 2/lambda`` and ``1 - (1 - eta lambda)^2 = eta lambda (2 - eta lambda)``,
    the condition ``0 <= eta lambda <= 2``. Source: Jastrzebski et al. (2020), Eq. 1 and Section 3.
``break_even.curvature`` (B2)
    With ``s = kappa lambda``, the factor equals 1 at the break-even curvature
    ``lambda* = 2 / (eta (1 + kappa^2 c(S)))`` (and is below 1 for ``0 < lambda < lambda*``);
    ``d lambda*/d eta < 0``; ``c(S) - c(S + 1) = N / (S (S + 1) (N - 1)) > 0``, so ``lambda*`` increases
    with ``S`` (for ``kappa > 0``, ``1 <= S < N``). Source: Jastrzebski et al. (2020), Section 3.
``break_even.alpha-star`` (B7)
    On ``f(theta) = 1/2 theta^T H theta`` along a unit eigenvector (``H e = lambda e``) the GD step
    gives ``f(theta - alpha (theta - theta')) / f(theta) = (1 - alpha eta lambda)^2``; the smallest
    ``alpha > 0`` with ratio ``>= 6/5`` is ``alpha* = (1 + sqrt(6/5)) / (eta lambda)``.
    Source: Jastrzebski et al. (2020), Section 4.1.

How the steps are checked. A :class:`SamplingDerivation` adds two rules to the base class:

* :class:`Enumerate` -- a moment of the sampling (``E[I_i]``, ``E[I_i I_j]`` for ``i != j``, ...)
  is computed by enumerating every minibatch (all ``C(N, S)`` subsets, or all ``N^S`` index tuples)
  at concrete ``N`` and every batch size, at every value of the free indices, in exact rationals.
  The step states the general form in ``N`` and ``S``; the check is at those sizes only: status
  ``concrete-d`` (the only ``concrete-d`` steps; the general form is stated, not proved).
* :class:`Linearity` -- ``E[...]`` by linearity of expectation, with the moments taken from the
  listed earlier steps (:func:`theory.expectation.expectation_of`, sums averaged term by term);
  a product of two different random entries ``I_i I_j`` may only use the pair moment where its
  coefficient vanishes on the diagonal ``j = i`` (the sum over ``i != j`` is written as the full
  double sum times ``1 - delta_ij``), else the step fails.

The zero test first splits every sum (one or several limits) by linearity: constant factors out,
the sum of a constant is the number of its terms. The square of a sum written as a double sum, and
``sum_{i != j} h_i h_j = (sum_i h_i)^2 - sum_i h_i^2``, are settled with the sums expanded for
``N = 2..5`` (status ``symbolic-d in {2,3,4,5}``: ``N >= 2`` is assumed, and ``c(S)`` has ``N - 1`` in
its denominator); every other identity is symbolic in ``N``, ``S``, ``eta``.

>>> tuple(DERIVATIONS)[:2]
('break_even.mean-square-factor', 'break_even.with-replacement')
>>> c_expr(N).subs(N, 10), c_expr(1)
(0, 1)
>>> mean_square_factor().verify_step(20).status
'symbolic'
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import sympy
from sympy import (
    Add,
    Basic,
    Derivative,
    Function,
    Indexed,
    IndexedBase,
    Integer,
    KroneckerDelta,
    Mul,
    Rational,
    Sum,
    Symbol,
    cancel,
    expand,
    fraction,
    sqrt,
    sstr,
    together,
)

from l2l.theory.derivation import (
    Bound,
    Derivation,
    FromPrevious,
    Hypothesis,
    Identity,
    Quote,
    Rule,
    Step,
)
from l2l.theory.expectation import KnownMoments, ScalarExpect, expect, expectation_of

__all__ = [
    "N",
    "S",
    "i",
    "j",
    "eta",
    "lam",
    "s",
    "kappa",
    "h",
    "c_expr",
    "Subsets",
    "Draws",
    "Enumerate",
    "Linearity",
    "SamplingDerivation",
    "mean_square_factor",
    "with_replacement",
    "critical_step",
    "curvature",
    "alpha_star",
    "DERIVATIONS",
]

_SOURCE = "Jastrzebski et al. (2020)"

# ------------------------------------------------------------------------------------------------
# symbols

N = Symbol("N", integer=True, positive=True)
S = Symbol("S", integer=True, positive=True)
i = Symbol("i", integer=True, positive=True)
j = Symbol("j", integer=True, positive=True)
eta = Symbol("eta", positive=True)
lam = Symbol("lambda", positive=True)
s = Symbol("s", nonnegative=True)
kappa = Symbol("kappa", nonnegative=True)
psi = Symbol("psi", real=True)
psi_next = Symbol("psi'", real=True)
h_B = Symbol("h_B", real=True)
g_B = Symbol("g_B", real=True)
h = IndexedBase("h", real=True)
I_ = IndexedBase("I", nonnegative=True)
m_ = IndexedBase("m", nonnegative=True)
ell = Function("ell")
c = Function("c")
Var = Function("Var")
M = Function("M")
M_iid = Function("M_iid")
F = Function("F")
eta_crit = Function("eta_crit")
lam_star = Function("lambda^*")
f = Function("f")
R = Function("R")
alpha = Symbol("alpha", positive=True)
alpha_star_sym = Symbol("alpha^*", positive=True)
psi_alpha = Symbol("psi_alpha", real=True)

# reparametrisations of the bound proofs (each covers exactly the assumed range; listed in the detail)
_u = Symbol("u", positive=True)
_u0 = Symbol("u", nonnegative=True)
_q = Symbol("q", positive=True)
_k = Symbol("k", integer=True, nonnegative=True)
_v = Symbol("v", nonnegative=True)
_v1 = Symbol("v_1", nonnegative=True)
_v2 = Symbol("v_2", nonnegative=True)


def c_expr(size: Basic) -> Basic:
    r"""``c(S) = (N - S) / (S (N - 1))``: the finite-population factor of a minibatch of ``S`` out of ``N``."""
    return (N - size) / (size * (N - 1))


def _h_sum(power: int = 1) -> Basic:
    return Sum(h[i] ** power, (i, 1, N))


def _offdiag(weight: Basic) -> Basic:
    r"""``sum_{i != j} weight h_i h_j``, written as the full double sum times ``1 - delta_ij``."""
    return Sum((1 - KroneckerDelta(i, j)) * weight * h[i] * h[j], (j, 1, N), (i, 1, N))


# ------------------------------------------------------------------------------------------------
# the sampling laws and the two rules


@dataclass(frozen=True)
class Subsets:
    r"""A minibatch of ``size`` distinct indices drawn uniformly from ``1..population`` (without
    replacement); ``base[k]`` is the indicator of ``k`` in the batch. Every subset has probability
    ``1 / C(population, size)``."""

    base: IndexedBase
    size: Symbol
    population: Symbol
    populations: tuple[int, ...] = (1, 2, 3, 4, 5, 6)

    def grid(self) -> Iterator[tuple[int, int]]:
        for n_ in self.populations:
            for s_ in range(1, n_ + 1):
                yield n_, s_

    def outcomes(self, n_: int, s_: int) -> Iterator[tuple[Basic, dict[int, int]]]:
        p = Rational(1, sympy.binomial(n_, s_))
        for batch in itertools.combinations(range(1, n_ + 1), s_):
            yield p, {k: int(k in batch) for k in range(1, n_ + 1)}

    def describe(self) -> str:
        sizes = ", ".join(map(str, self.populations))
        return (
            f"{self.base.label}[k] = 1 if k is in a uniform {sstr(self.size)}-subset of 1..{sstr(self.population)}; "
            f"all C({sstr(self.population)}, {sstr(self.size)}) subsets enumerated at {sstr(self.population)} = {sizes} "
            f"and every {sstr(self.size)} = 1..{sstr(self.population)}"
        )


@dataclass(frozen=True)
class Draws:
    r"""``size`` indices drawn i.i.d. uniformly from ``1..population`` (with replacement);
    ``base[k]`` is the number of draws equal to ``k``. Every index tuple has probability
    ``population^-size``."""

    base: IndexedBase
    size: Symbol
    population: Symbol
    populations: tuple[int, ...] = (1, 2, 3, 4)
    sizes: tuple[int, ...] = (1, 2, 3, 4)

    def grid(self) -> Iterator[tuple[int, int]]:
        for n_ in self.populations:
            for s_ in self.sizes:
                yield n_, s_

    def outcomes(self, n_: int, s_: int) -> Iterator[tuple[Basic, dict[int, int]]]:
        p = Rational(1, n_**s_)
        for draw in itertools.product(range(1, n_ + 1), repeat=s_):
            yield p, {k: draw.count(k) for k in range(1, n_ + 1)}

    def describe(self) -> str:
        return (
            f"{self.base.label}[k] = number of the {sstr(self.size)} i.i.d. uniform draws from 1..{sstr(self.population)} "
            f"equal to k; all {sstr(self.population)}^{sstr(self.size)} tuples enumerated at "
            f"{sstr(self.population)} = {', '.join(map(str, self.populations))} and {sstr(self.size)} = "
            f"{', '.join(map(str, self.sizes))}"
        )


@dataclass(frozen=True)
class Enumerate(Rule):
    r"""This step is ``E[monomial] = rhs(N, S)``; the check computes ``E`` by enumerating every
    outcome of ``law`` at its concrete sizes, for every value of the free indices (distinct values
    when ``distinct``), in exact rationals: status ``concrete-d``."""

    law: Subsets | Draws
    distinct: bool = True
    kind = "enumerate"


@dataclass(frozen=True)
class Linearity(Rule):
    r"""``E[...]`` by linearity of expectation with the moments of the steps ``moments`` (each
    ``E[monomial] = value``), after replacing the left sides of the equations ``given`` by their right
    sides; a pair ``X_a X_b`` of different random entries needs a coefficient that vanishes at ``b = a``."""

    moments: tuple[int, ...]
    given: tuple[int, ...] = ()
    kind = "linearity"


def _split_sums(expr: Basic) -> Basic:
    """Every ``Sum`` split by linearity: ``sum_k coeff_k * Sum(part_k)`` with the factors free of the
    summation indices outside, and the sum of a constant replaced by the number of its terms."""

    def one(sm: Sum) -> Basic:
        names = [lim[0] for lim in sm.limits]
        num, den = fraction(sm.function)
        out = []
        for term in Add.make_args(expand(num)):
            coeff, part = (term / den).as_independent(*names, as_Add=False)
            if part == 1 and not any(lo.has(*names) or hi.has(*names) for _, lo, hi in sm.limits):
                count: Basic = Integer(1)
                for _, lo, hi in sm.limits:
                    count *= hi - lo + 1
                out.append(coeff * count)
            else:
                out.append(coeff * Sum(part, *sm.limits))
        return Add(*out)

    return expr.replace(lambda e: isinstance(e, Sum), one)


def _bodies(expr: Basic) -> list[tuple[Basic, str]]:
    """``expr`` with its sums set to 0, and the body of each sum, with a label."""
    out = [(expr.replace(lambda e: isinstance(e, Sum), lambda e: Integer(0)), "outside the sums")]
    for sm in sorted(expr.atoms(Sum), key=sympy.default_sort_key):
        out.append((sm.function, f"in {sstr(sm)}"))
    return out


def _off_diagonal_ok(expr: Basic, randoms: Sequence[Basic]) -> tuple[bool, str]:
    """Each monomial with two different random entries ``X[a] X[b]`` has a coefficient vanishing at ``b = a``."""
    bases = {r.base for r in randoms if isinstance(r, Indexed)}
    for body, where in _bodies(expr):
        atoms = sorted((a for a in body.atoms(Indexed) if a.base in bases), key=sympy.default_sort_key)
        if len(atoms) < 2:
            continue
        poly = sympy.Poly(expand(body), *atoms)
        for monom, coeff in poly.terms():
            present = [a for a, e in zip(atoms, monom) if e]
            for a, b in itertools.combinations(present, 2):
                if a.base != b.base or len(a.indices) != 1 or len(b.indices) != 1:
                    continue
                ia, ib = a.indices[0], b.indices[0]
                if not isinstance(ib, Symbol):
                    continue
                if cancel(together(coeff.xreplace({ib: ia}))) != 0:
                    return False, (
                        f"the pair {sstr(a)}*{sstr(b)} {where} has a coefficient that does not vanish at "
                        f"{sstr(ib)} = {sstr(ia)}: the pair moment (for different indices) does not apply"
                    )
    return True, ""


class SamplingDerivation(Derivation):
    r"""A :class:`theory.derivation.Derivation` with the rules :class:`Enumerate` and
    :class:`Linearity`, whose zero test first splits sums by linearity (:func:`_split_sums`)."""

    def _check(self, n_: int, step: Step):
        rule = step.rule
        if isinstance(rule, Enumerate):
            return self._check_enumerate(step, rule) + ((),)
        if isinstance(rule, Linearity):
            return self._check_linearity(n_, step, rule) + ((),)
        return super()._check(n_, step)

    def _check_zero(self, expr: Basic) -> tuple[str, str]:
        status, detail = super()._check_zero(_split_sums(expr))
        if expr.has(Sum) and status != "failed":
            detail = "sums split by linearity (constant factors out, a constant summed is counted); " + detail
        return status, detail

    def _check_enumerate(self, step: Step, rule: Enumerate) -> tuple[str, str]:
        law = rule.law
        if step.rel != "=" or not isinstance(step.lhs, ScalarExpect) or len(step.lhs.args) != 1:
            return "failed", "an Enumerate step is E[monomial] = value"
        arg = step.lhs.args[0]
        entries = sorted((a for a in arg.atoms(Indexed) if a.base == law.base), key=sympy.default_sort_key)
        free = sorted({x for a in entries for x in a.indices if isinstance(x, Symbol)}, key=sympy.default_sort_key)
        others = {x for x in arg.free_symbols if not isinstance(x, Indexed)} - set(free) - {law.base.label}
        if others:
            return "failed", f"the argument must be a monomial in {law.base.label}[...], found {sstr(others)}"
        checked = 0
        for n_, s_ in law.grid():
            for vals in itertools.product(range(1, n_ + 1), repeat=len(free)):
                if rule.distinct and len(set(vals)) < len(vals):
                    continue
                a = arg.xreplace(dict(zip(free, map(Integer, vals))))
                total: Basic = Integer(0)
                for p, outcome in law.outcomes(n_, s_):
                    total += p * a.xreplace({law.base[k]: Integer(v) for k, v in outcome.items()})
                want = step.rhs.xreplace({law.population: Integer(n_), law.size: Integer(s_)})
                if cancel(together(total - want)) != 0:
                    at = ", ".join(f"{sstr(x)} = {v}" for x, v in zip(free, vals))
                    return "failed", (
                        f"enumeration gives {sstr(total)}, the right side {sstr(want)} at "
                        f"{sstr(law.population)} = {n_}, {sstr(law.size)} = {s_}, {at}"
                    )
                checked += 1
        idx = ", ".join(sstr(x) for x in free)
        dist = " (distinct)" if rule.distinct and len(free) > 1 else ""
        return "concrete-d", (
            f"E[...] computed by enumerating every minibatch: {law.describe()}; at every value of {idx}{dist} "
            f"({checked} cases) it equals the right side exactly; the general form in "
            f"{sstr(law.population)}, {sstr(law.size)} is not proved for symbolic sizes"
        )

    def _check_linearity(self, n_: int, step: Step, rule: Linearity) -> tuple[str, str]:
        if step.rel != "=":
            return "failed", f"a Linearity step needs '=', got {step.rel!r}"
        table, variables = [], []
        for k in rule.moments:
            g = self._step(k, n_)
            if g.rel != "=" or not isinstance(g.lhs, ScalarExpect) or len(g.lhs.args) != 1:
                return "failed", f"moment step {k} must be E[monomial] = value"
            mono = g.lhs.args[0]
            table.append((mono, g.rhs))
            for x in Mul.make_args(mono):
                base = x.base if x.is_Pow else x
                if base not in variables:
                    variables.append(base)
        law = KnownMoments(tuple(variables), tuple(table))
        rep = {}
        for k in rule.given:
            g = self._step(k, n_)
            if g.rel != "=":
                return "failed", f"given step {k} is not an equation"
            rep[g.lhs] = g.rhs

        def unfold(e: Basic) -> Basic:
            return self._substitute_until_fixed(e, rep)

        lhs, rhs = unfold(step.lhs), unfold(step.rhs)
        nodes = [e for side in (lhs, rhs) for e in sympy.preorder_traversal(side) if isinstance(e, ScalarExpect)]
        if not nodes:
            return "failed", "a Linearity step must contain E[...]"
        for node in nodes:
            ok, why = _off_diagonal_ok(node.args[0], variables)
            if not ok:
                return "failed", why

        def compute(node: Basic) -> Basic:
            return expectation_of(node.args[0], [law])

        is_e = lambda e: isinstance(e, ScalarExpect)  # noqa: E731
        try:
            diff = lhs.replace(is_e, compute) - rhs.replace(is_e, compute)
        except ValueError as exc:
            return "failed", f"E[...] could not be computed: {exc}"
        status, detail = self._check_zero(diff)
        using = f"steps {', '.join(map(str, rule.given))} substituted, " if rule.given else ""
        moments = ", ".join(map(str, rule.moments))
        head = (
            f"E[...] by linearity ({using}sums averaged term by term; pairs of different entries only with a "
            f"coefficient vanishing on the diagonal) with the moments of steps {moments}: {law.describe()}; "
        )
        if status == "failed":
            return "failed", head + "the result differs from the right side: " + detail
        return status, head + "computed minus right side: " + detail


def _derivation(name: str, title: str, steps: list[Step], source: str, assumptions, **kw) -> SamplingDerivation:
    return SamplingDerivation(
        name, title, steps, source, tuple(assumptions), dimension=N, index=i, dims=(2, 3, 4, 5), **kw
    )


# ------------------------------------------------------------------------------------------------
# break_even.mean-square-factor (B1)


def _variance_head(mult: IndexedBase, what: str) -> list[Step]:
    """Steps 1-10: the update along the top direction, lambda, s^2 and c(S)."""
    return [
        Step(ell(i, psi), "=", h[i] * psi**2 / 2, r"the loss of example $i$ along the top Hessian direction (assumption 1)"),
        Step(h_B, "=", Sum(mult[i] * h[i], (i, 1, N)) / S, what),
        Step(
            g_B,
            "=",
            Sum(mult[i] * Derivative(ell(i, psi), psi), (i, 1, N)) / S,
            r"the minibatch gradient: the mean of $\partial_\psi \ell_i$ over the batch",
        ),
        Step(psi_next, "=", psi - eta * g_B, r"one SGD step with step size $\eta$"),
        Step(psi_next, "=", (1 - eta * h_B) * psi, "steps 4, 3, 1 and 2", Identity(given=(4, 3, 1, 2))),
        Step(lam, "=", _h_sum() / N, r"the curvature of the mean loss, $\lambda = \lambda_H^1$"),
        Step(s**2, "=", Sum((h[i] - lam) ** 2, (i, 1, N)) / N, r"the variance of the per-example curvatures"),
        Step(
            s**2,
            "=",
            (_h_sum(2) - 2 * lam * _h_sum() + N * lam**2) / N,
            "expand the square under the sum",
            Identity(given=(7,)),
        ),
        Step(s**2, "=", _h_sum(2) / N - lam**2, "step 8 with step 6", Identity(given=(8, 6))),
        Step(c(S), "=", c_expr(S), r"the finite-population factor"),
    ]


def mean_square_factor() -> Derivation:
    r"""``break_even.mean-square-factor`` (B1): Eq. 1 for minibatches drawn without replacement.

    Statement: ``psi' = (1 - eta h_B) psi`` and ``E[(1 - eta h_B)^2] = (1 - eta lambda)^2 + eta^2
    Var[h_B]`` with ``Var[h_B] = s^2 c(S)``, ``c(S) = (N - S)/(S (N - 1))``; ``S = N`` gives
    ``(1 - eta lambda)^2`` and ``c(1) = 1``, ``c(N) = 0``.
    Check: the indicator moments ``E[I_i] = E[I_i^2] = S/N`` and ``E[I_i I_j] = S(S-1)/(N(N-1))``
    (``i != j``) by enumerating every subset at ``N = 1..6`` (``concrete-d``); the square of the sum as
    a double sum and ``sum_{i != j} h_i h_j = (sum h)^2 - sum h^2`` at ``N = 2..5``
    (``symbolic-d in {2,3,4,5}``); the rest (linearity with those moments, the variance) symbolic in ``N``, ``S``.

    >>> mean_square_factor().verify_step(23).status
    'symbolic'
    """
    p1, p2 = S / N, S * (S - 1) / (N * (N - 1))
    law = Subsets(I_, S, N)
    hB2 = (Sum(I_[i] ** 2 * h[i] ** 2, (i, 1, N)) + _offdiag(I_[i] * I_[j])) / S**2
    m2 = (p1 * _h_sum(2) + p2 * _offdiag(1)) / S**2
    m2_closed = (p1 * _h_sum(2) + p2 * (_h_sum() ** 2 - _h_sum(2))) / S**2
    factor = (1 - eta * lam) ** 2 + eta**2 * s**2 * c(S)
    steps = _variance_head(I_, r"the minibatch mean curvature; $I_i = 1$ if example $i$ is in the batch, else 0") + [
        Step(expect(I_[i]), "=", p1, r"$i$ is in the batch with probability $S/N$", Enumerate(law)),
        Step(expect(I_[i] ** 2), "=", p1, r"$I_i^2 = I_i$", Enumerate(law)),
        Step(
            expect(I_[i] * I_[j]),
            "=",
            p2,
            r"$i \ne j$ are both in the batch with probability $\frac{S(S-1)}{N(N-1)}$",
            Enumerate(law),
        ),
        Step(expect(h_B), "=", lam, "linearity with step 11 (steps 2 and 6)", Linearity(moments=(11,), given=(2, 6))),
        Step(
            h_B**2,
            "=",
            hB2,
            r"the square of the sum of step 2: the diagonal terms and the terms with $i \ne j$",
            Identity(given=(2,)),
        ),
        Step(
            expect(h_B**2),
            "=",
            m2,
            r"linearity with steps 12 and 13 (the pair moment on the terms $i \ne j$)",
            Linearity(moments=(12, 13), given=(15,)),
        ),
        Step(
            _offdiag(1),
            "=",
            _h_sum() ** 2 - _h_sum(2),
            r"the sum over $i \ne j$ is the square of the sum minus its diagonal",
            Identity(),
        ),
        Step(expect(h_B**2), "=", m2_closed, "step 16 with step 17", Identity(given=(16, 17))),
        Step(Var(h_B), "=", expect(h_B**2) - expect(h_B) ** 2, "the variance of the batch mean"),
        Step(
            Var(h_B),
            "=",
            s**2 * c(S),
            r"steps 19, 18, 14, 9, 6 and 10: the finite-population correction",
            Identity(given=(19, 18, 14, 9, 6, 10)),
        ),
        Step(M(eta, S), "=", expect((1 - eta * h_B) ** 2), r"the mean-square factor of one step (step 5)"),
        Step(
            M(eta, S),
            "=",
            (1 - eta * lam) ** 2 + eta**2 * Var(h_B),
            "linearity with steps 14 and 18",
            Linearity(moments=(14, 18), given=(21, 19)),
        ),
        Step(M(eta, S), "=", factor, r"steps 22 and 20: the left side of Eq. 1", Identity(given=(22, 20))),
        Step(M(eta, S), "=", (1 - eta * lam) ** 2 + eta**2 * s**2 * c_expr(S), "step 23 with step 10", Identity(given=(23, 10))),
        Step(M(eta, N), "=", (1 - eta * lam) ** 2, r"the full batch $S = N$", FromPrevious.substitute({S: N}, source=24)),
        Step(c(1), "=", Integer(1), r"one example per batch, $S = 1$", FromPrevious.substitute({S: Integer(1)}, source=10)),
        Step(c(N), "=", Integer(0), r"the full batch, $S = N$", FromPrevious.substitute({S: N}, source=10)),
    ]
    return _derivation(
        "break_even.mean-square-factor",
        "Mean-square factor of SGD along the top Hessian direction (minibatches without replacement)",
        steps,
        _SOURCE + ", Eq. 1 (the derivation from indicator variables is derived here)",
        (
            r"$\ell_i(\psi) = \frac12 h_i \psi^2$, $i = 1, \dots, N$, $N \ge 2$ (assumption 1 of Section 3)",
            r"the batch: $S$ distinct indices, $1 \le S \le N$, every subset equally likely (without replacement)",
            r"$\eta > 0$, $\lambda > 0$ (the identities hold for any $\eta$, $\lambda$)",
        ),
    )


# ------------------------------------------------------------------------------------------------
# break_even.with-replacement


def with_replacement() -> Derivation:
    r"""``break_even.with-replacement``: the factor for ``S`` i.i.d. uniform indices.

    Statement: with ``m_i`` the number of draws equal to ``i``, ``Var[h_B] = s^2 / S`` and
    ``E[(1 - eta h_B)^2] = (1 - eta lambda)^2 + eta^2 s^2 / S``; ``1/S - c(S) = (S - 1)/(S (N - 1))``,
    so ``c(S) <= 1/S`` with equality only at ``S = 1``.
    Check: the multiplicity moments ``E[m_i] = S/N``, ``E[m_i^2] = S/N + S(S-1)/N^2``,
    ``E[m_i m_j] = S(S-1)/N^2`` by enumerating every index tuple at ``N, S = 1..4`` (``concrete-d``);
    the rest as in ``break_even.mean-square-factor`` (quoted), the comparison symbolic.

    >>> with_replacement().verify_step(14).status
    'symbolic'
    """
    law = Draws(m_, S, N)
    p1, p2 = S / N, S * (S - 1) / N**2
    hB2 = (Sum(m_[i] ** 2 * h[i] ** 2, (i, 1, N)) + _offdiag(m_[i] * m_[j])) / S**2
    m2 = ((p1 + p2) * _h_sum(2) + p2 * _offdiag(1)) / S**2
    m2_closed = ((p1 + p2) * _h_sum(2) + p2 * (_h_sum() ** 2 - _h_sum(2))) / S**2
    quote = "break_even.mean-square-factor"
    steps = [
        Step(h_B, "=", Sum(m_[i] * h[i], (i, 1, N)) / S, r"the batch mean; $m_i$ counts the draws equal to $i$ ($\sum_i m_i = S$)"),
        Step(lam, "=", _h_sum() / N, r"break_even.mean-square-factor, step 6", Quote(quote, 6)),
        Step(s**2, "=", Sum((h[i] - lam) ** 2, (i, 1, N)) / N, r"break_even.mean-square-factor, step 7", Quote(quote, 7)),
        Step(s**2, "=", _h_sum(2) / N - lam**2, r"break_even.mean-square-factor, step 9", Quote(quote, 9)),
        Step(expect(m_[i]), "=", p1, r"each of the $S$ draws hits $i$ with probability $1/N$", Enumerate(law)),
        Step(expect(m_[i] ** 2), "=", p1 + p2, r"binomial second moment: $S/N + S(S-1)/N^2$", Enumerate(law)),
        Step(expect(m_[i] * m_[j]), "=", p2, r"$i \ne j$: two different draws, independent", Enumerate(law)),
        Step(expect(h_B), "=", lam, "linearity with step 5 (steps 1 and 2)", Linearity(moments=(5,), given=(1, 2))),
        Step(h_B**2, "=", hB2, r"the square of the sum of step 1", Identity(given=(1,))),
        Step(expect(h_B**2), "=", m2, "linearity with steps 6 and 7", Linearity(moments=(6, 7), given=(9,))),
        Step(
            _offdiag(1),
            "=",
            _h_sum() ** 2 - _h_sum(2),
            r"break_even.mean-square-factor, step 17",
            Quote(quote, 17),
        ),
        Step(expect(h_B**2), "=", m2_closed, "step 10 with step 11", Identity(given=(10, 11))),
        Step(Var(h_B), "=", expect(h_B**2) - expect(h_B) ** 2, "the variance of the batch mean"),
        Step(Var(h_B), "=", s**2 / S, "steps 13, 12, 8, 4 and 2: the variance of a mean of $S$ i.i.d. draws", Identity(given=(13, 12, 8, 4, 2))),
        Step(M_iid(eta, S), "=", expect((1 - eta * h_B) ** 2), "the mean-square factor of one step"),
        Step(
            M_iid(eta, S),
            "=",
            (1 - eta * lam) ** 2 + eta**2 * Var(h_B),
            "linearity with steps 8 and 12",
            Linearity(moments=(8, 12), given=(15, 13)),
        ),
        Step(M_iid(eta, S), "=", (1 - eta * lam) ** 2 + eta**2 * s**2 / S, "steps 16 and 14", Identity(given=(16, 14))),
        Step(c(S), "=", c_expr(S), r"break_even.mean-square-factor, step 10", Quote(quote, 10)),
        Step(1 / S - c(S), "=", (S - 1) / (S * (N - 1)), "step 18", Identity(given=(18,))),
        Step(
            c(S),
            "<=",
            1 / S,
            r"step 18 with $N \ge 2$ (reparametrised $N = 1 + q$, $q > 0$): sampling without replacement has less variance",
            Bound(assumptions=(N > 1,), given=(18,), reparametrize=((N, 1 + _q),)),
        ),
        Step(
            c(S),
            "<",
            1 / S,
            r"strictly for $S \ge 2$ (reparametrised $S = 2 + k$, $k \ge 0$ an integer, $N = 1 + q$): equality only at $S = 1$",
            Bound(assumptions=(N > 1, S >= 2), given=(18,), reparametrize=((N, 1 + _q), (S, 2 + _k))),
        ),
        Step(c(1), "=", Integer(1), r"break_even.mean-square-factor, step 26: at $S = 1$ the two factors agree", Quote(quote, 26)),
    ]
    return _derivation(
        "break_even.with-replacement",
        "Mean-square factor for minibatches drawn with replacement, and the comparison",
        steps,
        _SOURCE + ", Eq. 1 (the i.i.d. variant and the comparison are derived here)",
        (
            r"$\ell_i(\psi) = \frac12 h_i \psi^2$, $i = 1, \dots, N$, $N \ge 2$",
            r"the batch: $S \ge 1$ indices drawn independently and uniformly from $1..N$ (with replacement)",
            r"$\eta > 0$, $\lambda > 0$",
        ),
    )


# ------------------------------------------------------------------------------------------------
# break_even.critical-step (B2)


def critical_step() -> Derivation:
    r"""``break_even.critical-step`` (B2): Eq. 1 holds exactly below the critical step size.

    Statement: ``F(eta, S) = (1 - eta lambda)^2 + eta^2 s^2 c(S)`` (the left side of Eq. 1,
    ``break_even.mean-square-factor``); ``1 - F = eta (lambda^2 + s^2 c(S)) (eta_crit - eta)`` with
    ``eta_crit = 2 lambda / (lambda^2 + s^2 c(S))``; so for ``eta > 0``, ``lambda > 0``,
    ``c(S) >= 0``: ``F <= 1`` for ``eta <= eta_crit`` and ``F > 1`` for ``eta > eta_crit``. Full
    batch: ``eta_crit(N) = 2/lambda``, ``1 - F(eta, N) = eta lambda (2 - eta lambda)``.

    >>> critical_step().verify_step(4).status
    'symbolic'
    """
    factor = (1 - eta * lam) ** 2 + eta**2 * s**2 * c(S)
    crit = 2 * lam / (lam**2 + s**2 * c(S))
    crit_v = 2 * lam / (lam**2 + s**2 * _v)
    steps = [
        Step(F(eta, S), "=", factor, r"the left side of Eq. 1 (break_even.mean-square-factor, step 23)"),
        Step(eta_crit(S), "=", crit, r"the critical step size"),
        Step(c(S), "=", c_expr(S), r"the finite-population factor"),
        Step(
            1 - F(eta, S),
            "=",
            eta * (lam**2 + s**2 * c(S)) * (eta_crit(S) - eta),
            "steps 1 and 2",
            Identity(given=(1, 2)),
        ),
        Step(
            c(S),
            ">",
            Integer(0),
            r"$1 \le S < N$ (reparametrised $S = 1 + k$, $k \ge 0$ an integer, $N = S + u$, $u > 0$)",
            Bound(assumptions=(S < N,), given=(3,), reparametrize=((S, 1 + _k), (N, 1 + _k + _u))),
        ),
        Step(c(N), "=", Integer(0), r"and $c(N) = 0$: so $c(S) \ge 0$ for $1 \le S \le N$", FromPrevious.substitute({S: N}, source=3)),
        Step(
            F(eta, S),
            "<=",
            Integer(1),
            r"step 1 for $0 < \eta \le \eta_{\mathrm{crit}}$ (reparametrised $c(S) = v \ge 0$ by steps 5 and 6, "
            r"$\eta = \eta_{\mathrm{crit}}/(1 + u)$, $u \ge 0$): Eq. 1 holds",
            Bound(assumptions=(eta > 0, lam > 0, eta <= crit), given=(1,), reparametrize=((c(S), _v), (eta, crit_v / (1 + _u0)))),
        ),
        Step(
            F(eta, S),
            ">",
            Integer(1),
            r"step 1 for $\eta > \eta_{\mathrm{crit}}$ (reparametrised $c(S) = v \ge 0$, $\eta = \eta_{\mathrm{crit}}(1 + u)$, "
            r"$u > 0$): Eq. 1 fails, so it holds iff $\eta \le \eta_{\mathrm{crit}}$",
            Bound(assumptions=(eta > 0, lam > 0, eta > crit), given=(1,), reparametrize=((c(S), _v), (eta, crit_v * (1 + _u)))),
        ),
        Step(F(eta, N), "=", (1 - eta * lam) ** 2 + eta**2 * s**2 * c(N), r"the full batch $S = N$", FromPrevious.substitute({S: N}, source=1)),
        Step(F(eta, N), "=", (1 - eta * lam) ** 2, "steps 9 and 6", Identity(given=(9, 6))),
        Step(eta_crit(N), "=", 2 * lam / (lam**2 + s**2 * c(N)), r"the full batch $S = N$", FromPrevious.substitute({S: N}, source=2)),
        Step(eta_crit(N), "=", 2 / lam, "steps 11 and 6", Identity(given=(11, 6))),
        Step(
            1 - F(eta, N),
            "=",
            eta * lam * (2 - eta * lam),
            r"step 10: Eq. 1 for the full batch is $0 \le \eta\lambda \le 2$",
            Identity(given=(10,)),
        ),
    ]
    return _derivation(
        "break_even.critical-step",
        "The critical step size of Eq. 1",
        steps,
        _SOURCE + ", Eq. 1 and Section 3 (the critical step size is derived here)",
        (
            r"$\eta > 0$, $\lambda > 0$, $s \ge 0$",
            r"$1 \le S \le N$, $N \ge 2$, so $c(S) \ge 0$ (steps 5 and 6)",
        ),
    )


# ------------------------------------------------------------------------------------------------
# break_even.curvature (B2)


def curvature() -> Derivation:
    r"""``break_even.curvature`` (B2): the break-even curvature falls with ``eta`` and rises with ``S``.

    Statement: with ``s = kappa lambda``, ``1 - F = eta^2 lambda (1 + kappa^2 c(S)) (lambda* - lambda)``,
    ``lambda* = 2 / (eta (1 + kappa^2 c(S)))``: for ``lambda > 0`` the factor is 1 exactly at
    ``lambda*`` (the break-even point); ``d lambda*/d eta = -2/(eta^2 (1 + kappa^2 c(S))) < 0``;
    ``c(S) - c(S + 1) = N/(S (S + 1) (N - 1)) > 0``, hence ``lambda*(eta, S + 1) > lambda*(eta, S)``
    for ``kappa > 0`` and ``1 <= S < N``.

    >>> curvature().verify_step(7).status
    'symbolic'
    """
    ls = 2 / (eta * (1 + kappa**2 * c(S)))
    ls1 = 2 / (eta * (1 + kappa**2 * c(S + 1)))
    steps = [
        Step(F(eta, S), "=", (1 - eta * lam) ** 2 + eta**2 * s**2 * c(S), r"the left side of Eq. 1 (break_even.mean-square-factor, step 23)"),
        Step(s, "=", kappa * lam, r"the spread of the curvatures grows with $\lambda$", Hypothesis(2)),
        Step(F(eta, S), "=", (1 - eta * lam) ** 2 + eta**2 * kappa**2 * lam**2 * c(S), "steps 1 and 2", Identity(given=(1, 2))),
        Step(lam_star(eta, S), "=", ls, r"the break-even curvature"),
        Step(
            1 - F(eta, S),
            "=",
            eta**2 * lam * (1 + kappa**2 * c(S)) * (lam_star(eta, S) - lam),
            r"steps 3 and 4: for $\lambda > 0$ the factor is 1 exactly at $\lambda = \lambda^*$, below 1 for $\lambda < \lambda^*$",
            Identity(given=(3, 4)),
        ),
        Step(
            Derivative(lam_star(eta, S), eta),
            "=",
            -2 / (eta**2 * (1 + kappa**2 * c(S))),
            r"differentiate step 4 in $\eta$",
            FromPrevious.differentiate(eta, source=4),
        ),
        Step(
            Derivative(lam_star(eta, S), eta),
            "<",
            Integer(0),
            r"step 6 with $c(S) \ge 0$ (reparametrised $c(S) = v \ge 0$; steps 9 and 10): a larger step size breaks even at a smaller curvature",
            Bound(given=(6,), reparametrize=((c(S), _v),)),
        ),
        Step(c(S), "=", c_expr(S), r"the finite-population factor"),
        Step(
            c(S),
            ">",
            Integer(0),
            r"$1 \le S < N$ (reparametrised $S = 1 + k$, $k \ge 0$ an integer, $N = S + u$, $u > 0$)",
            Bound(assumptions=(S < N,), given=(8,), reparametrize=((S, 1 + _k), (N, 1 + _k + _u))),
        ),
        Step(c(N), "=", Integer(0), r"and $c(N) = 0$: so $c \ge 0$ on $1 \le S \le N$", FromPrevious.substitute({S: N}, source=8)),
        Step(c(S + 1), "=", c_expr(S + 1), r"step 8 at $S + 1$", FromPrevious.substitute({S: S + 1}, source=8)),
        Step(c(S) - c(S + 1), "=", N / (S * (S + 1) * (N - 1)), "steps 8 and 11", Identity(given=(8, 11))),
        Step(
            c(S) - c(S + 1),
            ">",
            Integer(0),
            r"step 12 with $N \ge 2$ (reparametrised $N = 1 + q$, $q > 0$): $c$ strictly decreases in $S$",
            Bound(assumptions=(N > 1,), given=(12,), reparametrize=((N, 1 + _q),)),
        ),
        Step(lam_star(eta, S + 1), "=", ls1, r"step 4 at $S + 1$", FromPrevious.substitute({S: S + 1}, source=4)),
        Step(
            lam_star(eta, S + 1) - lam_star(eta, S),
            "=",
            2 * kappa**2 * (c(S) - c(S + 1)) / (eta * (1 + kappa**2 * c(S)) * (1 + kappa**2 * c(S + 1))),
            "steps 14 and 4",
            Identity(given=(14, 4)),
        ),
        Step(
            lam_star(eta, S + 1) - lam_star(eta, S),
            ">",
            Integer(0),
            r"steps 15 and 12 with $\kappa > 0$, $N \ge 2$ and $c(S), c(S + 1) \ge 0$ for $S + 1 \le N$ (steps 9 and 10; "
            r"reparametrised $c(S) = v_1$, $c(S + 1) = v_2$, $N = 1 + q$): a larger batch breaks even at a larger curvature",
            Bound(
                assumptions=(kappa > 0, N > 1, S < N),
                given=(15, 12),
                reparametrize=((c(S), _v1), (c(S + 1), _v2), (N, 1 + _q), (kappa, _u)),
            ),
        ),
    ]
    return _derivation(
        "break_even.curvature",
        "The break-even curvature and its monotonicity in the step size and the batch size",
        steps,
        _SOURCE + ", Section 3 (the break-even point; the closed form and its monotonicity are derived here)",
        (
            r"$\eta > 0$, $\lambda > 0$, $N \ge 2$, $1 \le S \le N$ ($1 \le S < N$ for the comparison of $S$ and $S + 1$)",
            r"$s = \kappa\lambda$ with $\kappa \ge 0$ ($\kappa > 0$ for the strict monotonicity in $S$)",
        ),
    )


# ------------------------------------------------------------------------------------------------
# break_even.alpha-star (B7)


def alpha_star() -> Derivation:
    r"""``break_even.alpha-star`` (B7): the 20% rule on a quadratic.

    Statement: on ``f(theta) = 1/2 theta^T H theta`` with ``theta = psi e``, ``H e = lambda e``,
    ``|e| = 1``: ``f = lambda psi^2 / 2``; GD gives ``psi' = (1 - eta lambda) psi``; the point
    ``theta - alpha (theta - theta')`` has ``R(alpha) = f(...)/f(theta) = (1 - alpha eta lambda)^2``;
    ``R(alpha*) = 6/5`` at ``alpha* = (1 + sqrt(6/5))/(eta lambda)`` and ``R(alpha) < 6/5`` for
    ``0 < alpha < alpha*``, so ``alpha*`` is the smallest ``alpha > 0`` with ``R >= 6/5``.

    >>> alpha_star().verify_step(10).status
    'symbolic'
    """
    six5 = Rational(6, 5)
    a_star = (1 + sqrt(six5)) / (eta * lam)
    steps = [
        Step(
            f(psi),
            "=",
            lam * psi**2 / 2,
            r"$f$ on the line $\theta = \psi e$: $\frac12 \psi^2 e^\top H e = \frac12 \lambda \psi^2$",
            Hypothesis(1),
        ),
        Step(psi_next, "=", psi - eta * Derivative(f(psi), psi), r"one GD step, $\theta(t + 1) = \theta(t) - \eta\nabla f$, stays on the line"),
        Step(psi_next, "=", (1 - eta * lam) * psi, "steps 2 and 1", Identity(given=(2, 1))),
        Step(psi_alpha, "=", psi - alpha * (psi - psi_next), r"the probe point $\theta(t) - \alpha(\theta(t) - \theta(t + 1))$"),
        Step(psi_alpha, "=", (1 - alpha * eta * lam) * psi, "steps 4 and 3", Identity(given=(4, 3))),
        Step(f(psi_alpha), "=", lam * psi_alpha**2 / 2, r"step 1 at the probe point", FromPrevious.substitute({psi: psi_alpha}, source=1)),
        Step(R(alpha), "=", f(psi_alpha) / f(psi), r"the loss ratio of the $\alpha^*$ rule ($\psi \ne 0$)"),
        Step(R(alpha), "=", (1 - alpha * eta * lam) ** 2, "steps 7, 6, 1 and 5", Identity(given=(7, 6, 1, 5))),
        Step(alpha_star_sym, "=", a_star, r"the candidate: $(1 + \sqrt{1.2})/(\eta\lambda) \approx 2.0954/(\eta\lambda)$"),
        Step(R(a_star), "=", six5, r"step 8 at the candidate: the loss grows by exactly 20%", FromPrevious.substitute({alpha: a_star}, source=8)),
        Step(
            R(alpha),
            "<",
            six5,
            r"step 8 for $0 < \alpha < \alpha^*$ (reparametrised $\alpha = \alpha^* u/(1 + u)$, $u \ge 0$): "
            r"no smaller $\alpha$ reaches 6/5, so $\alpha^*$ is the smallest",
            Bound(assumptions=(alpha < a_star,), given=(8,), reparametrize=((alpha, a_star * _u0 / (1 + _u0)),)),
        ),
        Step(
            R(alpha),
            ">",
            six5,
            r"step 8 for $\alpha > \alpha^*$ (reparametrised $\alpha = \alpha^* (1 + u)$, $u > 0$)",
            Bound(assumptions=(alpha > a_star,), given=(8,), reparametrize=((alpha, a_star * (1 + _u)),)),
        ),
    ]
    return _derivation(
        "break_even.alpha-star",
        r"The alpha* stability proxy on a quadratic",
        steps,
        _SOURCE + ", Section 4.1 (the closed form on a quadratic is derived here)",
        (
            r"$f(\theta) = \frac12\theta^\top H\theta$, $\theta = \psi e$ with $He = \lambda e$, $e^\top e = 1$, "
            r"so $f(\psi e) = \frac12\lambda\psi^2$",
            r"$\eta > 0$, $\lambda > 0$, $\psi \ne 0$, $\alpha > 0$",
        ),
    )


# ------------------------------------------------------------------------------------------------
# registry

#: Every derivation of this module, by name (``l2l derive NAME`` prints them).
DERIVATIONS: dict[str, Callable[[], Derivation]] = {
    "break_even.mean-square-factor": mean_square_factor,
    "break_even.with-replacement": with_replacement,
    "break_even.critical-step": critical_step,
    "break_even.curvature": curvature,
    "break_even.alpha-star": alpha_star,
}
