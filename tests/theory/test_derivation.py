"""The derivation model: checks with teeth, honest statuses, deterministic rendering."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import random

import pytest
import sympy
from hypothesis import given, strategies as st
from sympy import Derivative, Function, Integer, Rational, Sum

from l2l.theory import quadratic as q, registry
from l2l.theory.derivation import (
    STATUSES,
    Bound,
    Derivation,
    FromPrevious,
    Identity,
    Instance,
    Step,
    Verification,
)
from l2l.theory.printing import latex

SNAPSHOTS = pathlib.Path(__file__).parent / "snapshots"

x = sympy.Symbol("x", positive=True)
n = sympy.Symbol("n", integer=True, positive=True)
g = Function("g")


def _replace_step(derivation: Derivation, number: int, **changes) -> Derivation:
    """A copy of ``derivation`` with step ``number`` (1-based) changed."""
    steps = list(derivation.steps)
    steps[number - 1] = dataclasses.replace(steps[number - 1], **changes)
    return Derivation(
        derivation.name,
        derivation.title,
        steps,
        derivation.source,
        derivation.assumptions,
        dimension=derivation.dimension,
        index=derivation.index,
        horizon=derivation.horizon,
    )


def _status(derivation: Derivation, number: int) -> str:
    return derivation.verify().results[number - 1].status


# ------------------------------------------------------------------------------------------------
# negative controls: deliberately wrong steps must fail


def test_wrong_sign_of_the_naive_gradient_fails():
    wrong = _replace_step(q.naive_gradient(), 2, rhs=-q.naive_grad_expr()[0])
    v = wrong.verify()
    assert v.results[1].status == "failed"
    assert v.ok is False
    assert "not 0" in v.results[1].detail


def test_wrong_exponent_2t_instead_of_2t_minus_1_fails():
    wrong = _replace_step(q.naive_gradient(), 2, rhs=-q.t * q.weighted_sum(2, 2 * q.t))
    assert _status(wrong, 2) == "failed"


def test_wrong_hessian_coefficient_fails():
    wrong = _replace_step(q.naive_gradient(), 3, rhs=q.t * (2 * q.t + 1) * q.weighted_sum(3, 2 * q.t - 2))
    assert _status(wrong, 3) == "failed"


def test_wrong_log_hessian_form_fails():
    d = q.log_gradient()
    wrong = _replace_step(d, 6, rhs=2 * (2 * q.t - 1) * q.S2 - 2 * q.t * q.S1**2)
    assert _status(wrong, 6) == "failed"


def test_wrong_normalised_gradient_power_fails():
    d = q.rho_normalised()
    rhs = d.steps[4].rhs.xreplace({q.s[q.i] ** (2 * q.t - 1): q.s[q.i] ** (2 * q.t + 1)})
    assert rhs != d.steps[4].rhs
    assert _status(_replace_step(d, 5, rhs=rhs), 5) == "failed"


def test_wrong_closed_form_of_the_iterate_fails_the_induction():
    wrong = _replace_step(q.iterate(), 3, rhs=q.c[q.i] * (1 - q.eta * q.lam[q.i]) ** (q.t + 1))
    v = wrong.verify()
    assert v.results[2].status == "failed"
    assert "induction" in v.results[2].detail


def test_false_inequality_is_refuted_by_sampling():
    # B >= 2 L rho^{2t} is false: B <= L rho^{2t} sum_i c_i^2 = L rho^{2t}
    d = q.theorem4_bound()
    wrong = _replace_step(d, 5, rhs=2 * q.L * q.rho ** (2 * q.t))
    res = wrong.verify().results[4]
    assert res.status == "failed"
    assert res.detail.startswith("counterexample at d=")


def test_false_rho_bound_is_refuted():
    d = q.theorem4_bound()
    wrong = _replace_step(d, 7, rhs=2 * (q.L - q.alpha) / (q.L + q.alpha))
    assert _status(wrong, 7) == "failed"


def test_false_inequality_without_sampler_fails():
    d = q.theorem4_bound()
    b8, b9 = d.steps[8].lhs, d.steps[8].rhs
    wrong = _replace_step(d, 9, lhs=b9, rhs=b8)  # 4L^3 <= 2L^2 (L + alpha): false for alpha < L
    res = wrong.verify().results[8]
    assert res.status == "failed"
    assert "no sampler" in res.detail


def test_weaker_argument_is_not_reported_as_symbolic():
    # |G'| <= L^2 (L + alpha) / (2 c_min^2 alpha (L - alpha)) does not follow from steps 6, 7, but
    # it is true at the samples (the true supremum is about 2L): the honest status is "sampled".
    d = q.theorem4_bound()
    res = _replace_step(d, 8, rhs=d.steps[7].rhs / 4).verify().results[7]
    assert res.status == "sampled"
    assert "no sign certificate" in res.detail
    assert "after substituting the equation of step 2" in res.detail


def test_split_that_does_not_cover_the_domain_is_not_symbolic():
    d = q.theorem4_bound()
    rule = dataclasses.replace(d.steps[6].rule, split=(q.eta, (Integer(1), 2 / (q.L + q.alpha))))
    res = _replace_step(d, 7, rule=rule).verify().results[6]
    assert res.status == "sampled"
    assert "does not start at the lower end" in res.detail


def test_from_previous_refuses_inequalities():
    steps = [
        Step(g(x), "<=", x**2, "hypothesis"),
        Step(Derivative(g(x), x), "<=", 2 * x, "differentiating an inequality is invalid", FromPrevious.differentiate(x)),
    ]
    v = Derivation("demo.bad", "bad", steps, "test").verify()
    assert v.statuses == ("definition", "failed")
    assert "equations only" in v.results[1].detail


def test_identity_needs_equality_and_given_equations():
    steps = [
        Step(g(x), "<=", x, "hypothesis"),
        Step(g(x), "=", x, "uses an inequality as an equation", Identity(given=(1,))),
        Step(x, "<=", x + 1, "not an identity", Identity()),
        Step(x, "=", x, "refers forward", Identity(given=(9,))),
    ]
    v = Derivation("demo.bad", "bad", steps, "test").verify()
    assert v.statuses == ("definition", "failed", "failed", "failed")


def test_sampler_violating_the_assumptions_fails():
    def bad_sampler(rng: random.Random) -> Instance:
        return Instance({x: Rational(-1)}, None, "x=-1")

    step = Step(x**2, ">=", x, "false for 0 < x < 1", Bound(assumptions=(x > 1,), sampler=bad_sampler, samples=1))
    v = Derivation("demo.bad", "bad", [step], "test").verify()
    assert v.statuses == ("failed",)
    assert "violates the assumption" in v.results[0].detail


def test_true_bound_outside_sympy_reach_is_sampled_with_instances():
    def sampler(rng: random.Random) -> Instance:
        v = Rational(rng.randint(1, 50), rng.randint(1, 7))
        return Instance({x: v}, None, f"x={v}")

    # (x - 1)^2 / 2 >= 0 after factoring: SymPy proves it, so the status is symbolic
    step = Step(x**2, ">=", 2 * x - 1 + (x - 1) ** 2 / 2, "(x - 1)^2 / 2 >= 0", Bound(sampler=sampler, samples=5, seed=1))
    assert Derivation("demo.s", "s", [step], "test").verify().statuses == ("symbolic",)
    # x^2 - x + 1 >= 0 needs a sum of squares, which the prover does not search: sampled
    step = Step(x**2 + 1, ">=", x, "(x - 1/2)^2 + 3/4 > 0", Bound(assumptions=(x > 0,), sampler=sampler, samples=5, seed=1))
    res = Derivation("demo.s", "s", [step], "test").verify().results[0]
    assert res.status == "sampled"
    assert len(res.instances) == 5 and all(lbl.startswith("x=") and lbl in res.detail for lbl in res.instances)
    assert "random.Random(1)" in res.detail


def test_sampled_status_lists_its_instances():
    v = q.theorem4_bound().verify()
    res = v.results[3]
    assert res.status == "sampled"
    assert len(res.instances) == 10
    for label in res.instances:
        assert label in res.detail
        assert label.startswith("d=")
    assert "random.Random(4)" in res.detail


@given(a=st.integers(-20, 20), b=st.integers(-20, 20), k=st.integers(1, 4))
def test_polynomial_identities_with_teeth(a, b, k):
    """(x + a)(x + b) x^k expands correctly; perturbing one coefficient always fails."""
    lhs = (x + a) * (x + b) * x**k
    good = x ** (k + 2) + (a + b) * x ** (k + 1) + a * b * x**k
    bad = good + x**k
    steps = [Step(g(x), "=", lhs, "definition"), Step(g(x), "=", good, "expand", Identity(given=(1,)))]
    assert Derivation("demo.poly", "p", steps, "test").verify().statuses == ("definition", "symbolic")
    steps[1] = Step(g(x), "=", bad, "expand (wrong)", Identity(given=(1,)))
    assert Derivation("demo.poly", "p", steps, "test").verify().statuses == ("definition", "failed")


@given(p=st.integers(1, 6), wrong=st.booleans())
def test_symbolic_horizon_powers(p, wrong):
    """d/dx x^(2n + p) = (2n + p) x^(2n + p - 1) for symbolic n; an off-by-one exponent fails."""
    exponent = 2 * n + p - 1 + (1 if wrong else 0)
    steps = [
        Step(g(x), "=", (1 - x) ** (2 * n + p), "definition"),
        Step(Derivative(g(x), x), "=", -(2 * n + p) * (1 - x) ** exponent, "differentiate", FromPrevious.differentiate(x)),
    ]
    v = Derivation("demo.pow", "p", steps, "test", horizon=n).verify()
    assert v.results[1].status == ("failed" if wrong else "symbolic")


def test_concrete_t_fallback_is_reported_as_such():
    # 4^n = 2^(2n): the zero test treats 4^n and 2^n as independent generators, so only the
    # concrete horizons settle it, and the status says so.
    steps = [Step(4**n, "=", 2 ** (2 * n), "4 = 2^2", Identity())]
    res = Derivation("demo.pow", "p", steps, "test", horizon=n, ts=(1, 2, 3)).verify().results[0]
    assert res.status == "concrete-t"
    assert "n = 1, 2, 3" in res.detail
    steps = [Step(4**n, "=", 2 ** (2 * n + 1), "wrong", Identity())]
    assert Derivation("demo.pow", "p", steps, "test", horizon=n).verify().statuses == ("failed",)


def test_concrete_dimension_fallback_is_reported_as_such():
    c, i, d = q.c, q.i, q.d
    peel = Step(Sum(c[i], (i, 1, d)) + c[d + 1], "=", Sum(c[i], (i, 1, d + 1)), "peel the last term", Identity())
    res = Derivation("demo.sum", "s", [peel], "test", dimension=d).verify().results[0]
    assert res.status == "symbolic-d<=3"
    assert "d = 1, 2, 3" in res.detail
    wrong = dataclasses.replace(peel, lhs=Sum(c[i], (i, 1, d)) + c[d])
    res = Derivation("demo.sum", "s", [wrong], "test", dimension=d).verify().results[0]
    assert res.status == "failed"
    assert "at d = 1" in res.detail


def test_statuses_are_from_the_documented_set():
    allowed = set(STATUSES) - {"symbolic-d<=N"}
    for name in tuple(q.DERIVATIONS):
        for status in registry.verified(name).statuses:
            assert status in allowed or status.startswith("symbolic-d<="), (name, status)


def test_verification_object():
    v = q.loss().verify()
    assert isinstance(v, Verification)
    assert v.ok is True
    assert v.name == "quadratic.loss"
    assert [r.number for r in v.results] == [1, 2, 3]
    assert v.to_text().splitlines()[0] == "quadratic.loss: ok"


# ------------------------------------------------------------------------------------------------
# construction errors


def test_step_validation():
    with pytest.raises(ValueError, match="Step.rel"):
        Step(x, "==", x, "bad relation")
    with pytest.raises(TypeError, match="Step.lhs"):
        Step("x", "=", x, "strings are not parsed")
    with pytest.raises(TypeError, match="Step.rhs"):
        Step(x, "=", 1.5, "floats are not exact")
    with pytest.raises(TypeError, match="Step.rule"):
        Step(x, "=", x, "why", rule="identity")
    assert Step(x, "=", 3, "ints are fine").rhs == Integer(3)


def test_derivation_validation():
    with pytest.raises(ValueError, match="steps"):
        Derivation("a", "b", [], "c")
    with pytest.raises(ValueError, match="dims"):
        Derivation("a", "b", [Step(x, "=", x, "w")], "c", dims=(0,))
    with pytest.raises(ValueError, match="times"):
        FromPrevious.differentiate(x, times=0)
    with pytest.raises(ValueError, match="samples"):
        Bound(samples=-1)


# ------------------------------------------------------------------------------------------------
# rendering


@pytest.mark.parametrize("name", tuple(q.DERIVATIONS))
def test_latex_and_markdown_contain_every_step(name):
    d = registry.get(name)
    tex = d.to_latex()
    assert tex.startswith(r"\begin{align*}") and tex.endswith(r"\end{align*}")
    assert tex.count(r" \\") == len(d.steps) - 1
    assert d._repr_latex_() == tex
    md_before = d.to_markdown()
    assert "*Check:*" not in md_before
    v = d.verify()
    md = d.to_markdown()
    text = d.to_text()
    for k, step in enumerate(d.steps, start=1):
        assert latex(step.lhs) in tex and latex(step.rhs) in tex
        assert f"\\text{{({k}) " in tex
        assert f"\n{k}. ${step.latex()}$\n" in md
        assert f"**{v.results[k - 1].status}**" in md
        assert step.text() in text
    assert md.startswith(f"### {name}: ")


@pytest.mark.parametrize("name", ["quadratic.theorem3", "quadratic.theorem4-bound"])
def test_rendering_is_deterministic(name):
    # the details name SymPy Dummy slack variables; two builds in one process must still agree
    a, b = registry.get(name), registry.get(name)
    a.verify()
    b.verify()
    assert a.to_markdown() == b.to_markdown()
    assert a.to_text() == b.to_text()
    assert a.to_latex() == b.to_latex()


def test_latex_escapes_text_but_not_math():
    step = Step(x, "=", x, r"50% of a_b & c, keep $a_b$ and an unmatched $ sign", Identity())
    tex = Derivation("demo.esc", "e", [step], "test").to_latex()
    assert r"50\% of a\_b \& c, keep $a_b$ and an unmatched \$ sign" in tex


def test_latex_snapshot_of_the_loss_derivation():
    path = SNAPSHOTS / "quadratic_loss.tex"
    got = q.loss().to_latex() + "\n"
    if os.environ.get("L2L_UPDATE_SNAPSHOTS") == "1":
        path.write_text(got)
    assert path.read_text() == got, "regenerate with L2L_UPDATE_SNAPSHOTS=1 after checking the diff"
