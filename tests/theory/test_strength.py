"""A verdict is not stronger than what it quotes (issue 13, point 3).

Each step's *effective* status is the weakest of its own check and, for a :class:`Quote`, the
quoted derivation's effective status, transitively; definitions and declared hypotheses do not
weaken a derivation, an undeclared premise (:class:`Assumed`) does; a cycle of quotes is an error.
The runner gives ``proved`` only when nothing weakens the derivation.
"""

from __future__ import annotations

import sympy
from sympy import Function, Symbol

from l2l.proofs.catalogue import load
from l2l.proofs.claim import REGISTRY, claim
from l2l.proofs.runner import run_claim
from l2l.theory import least_squares
from l2l.theory.derivation import (
    QUOTE_CYCLE,
    Assumed,
    Definition,
    Derivation,
    FromPrevious,
    Hypothesis,
    Identity,
    Quote,
    Step,
    status_strength,
)

x = Symbol("x", positive=True)
n = Symbol("n", integer=True, positive=True)
g, h = Function("g"), Function("h")


def _power(name: str = "demo.power", first=None) -> Derivation:
    """g(x) = x^(2n) and its derivative: symbolic unless ``first`` (the rule of step 1) weakens it."""
    return Derivation(
        name, "power",
        [Step(g(x), "=", x ** (2 * n), "definition", first if first is not None else Definition()),
         Step(sympy.Derivative(g(x), x), "=", 2 * n * x ** (2 * n - 1), "differentiate", FromPrevious.differentiate(x))],
        source="test", horizon=n,
    )


def _quoting(name: str, quoted: str, step: int | None = 2, extra=()) -> Derivation:
    """One step quoting step 2 (the derivative) of ``quoted``, then a checked consequence."""
    return Derivation(
        name, f"quotes {quoted}",
        [Step(sympy.Derivative(g(x), x), "=", 2 * n * x ** (2 * n - 1), f"{quoted}, step 2", Quote(quoted, step)),
         Step(2 * sympy.Derivative(g(x), x), "=", 4 * n * x ** (2 * n - 1), "twice step 1", Identity(given=(1,))),
         *extra],
        source="test", horizon=n,
    )


def _concrete_d() -> Derivation:
    """A derivation whose one checked step is only ``concrete-d`` (a MomentDerivation matrix step)."""
    return least_squares.train_loss()


def test_an_all_symbolic_quote_keeps_the_strength():
    v = _quoting("demo.q", "demo.power").verify(quotes={"demo.power": _power()})
    assert v.ok and v.statuses == ("quoted", "symbolic") and v.status == "symbolic"
    assert v.results[0].inherited_text() == "symbolic, inherited from demo.power step 2"


def test_a_quote_of_a_concrete_d_derivation_is_not_stronger_than_concrete_d():
    q = Derivation(
        "demo.q-ls", "quotes train-loss",
        [Step(least_squares.F_tbt(least_squares.eta), "=", least_squares.train_loss_expr(), "train-loss 11",
              Quote("least_squares.train-loss", 11))],
        source="test",
    )
    v = q.verify(quotes={"least_squares.train-loss": _concrete_d})
    assert v.ok and v.statuses == ("quoted",)
    assert status_strength(v.status) <= status_strength("concrete-d")
    assert v.results[0].inherited == "concrete-d"
    assert v.results[0].inherited_from.startswith("least_squares.train-loss step 3")


def test_a_chain_of_three_inherits_transitively():
    weak = _power("demo.a", first=Assumed("believed"))
    b = _quoting("demo.b", "demo.a")
    c = _quoting("demo.c", "demo.b", step=1)
    quotes = {"demo.a": weak, "demo.b": b}
    vc = c.verify(quotes=quotes)
    assert vc.ok and vc.status == "assumed"
    r = vc.results[0]
    assert (r.status, r.inherited) == ("quoted", "assumed")
    assert r.inherited_from == "demo.b step 1, inherited from demo.a step 1"
    text = c.to_text(vc)
    assert "inherits: [assumed, inherited from demo.b step 1, inherited from demo.a step 1]" in text
    assert text.splitlines()[-1].startswith("strength: assumed (weakest: step 1, assumed, inherited from demo.b")
    assert "*Inherits:* **assumed**" in c.to_markdown(vc)
    # the same chain with a sound root is symbolic all along
    assert c.verify(quotes={"demo.a": _power("demo.a"), "demo.b": b}).status == "symbolic"


def test_a_quote_of_an_earlier_step_inherits_the_whole_derivation():
    late = _power("demo.late")
    late = Derivation("demo.late", "late premise", [*late.steps, Step(h(x), "=", x, "premise", Assumed())],
                      source="test", horizon=n)
    assert late.verify().status == "assumed"
    for step in (2, None):
        v = _quoting("demo.q", "demo.late", step=step).verify(quotes={"demo.late": late})
        assert v.status == "assumed" and v.results[0].inherited_from == "demo.late step 3"


def test_a_cycle_of_quotes_is_reported():
    a = _quoting("demo.a", "demo.b")
    b = _quoting("demo.b", "demo.a")
    v = a.verify(quotes={"demo.a": a, "demo.b": b})
    assert not v.ok
    r = v.results[0]
    assert r.status == "failed" and r.detail.startswith(QUOTE_CYCLE)
    assert "demo.a -> demo.b -> demo.a" in r.detail
    own = _quoting("demo.self", "demo.self")
    assert own.verify(quotes={"demo.self": own}).results[0].detail.startswith(QUOTE_CYCLE)


def test_unknown_quotes_and_restatements_do_not_pass_silently():
    v = _quoting("demo.q", "demo.nowhere").verify()
    assert v.results[0].status == "failed" and "not a registered derivation" in v.results[0].detail
    wrong = Derivation("demo.r", "restated", [Step(g(x), "=", x ** n, "power step 1", Quote("demo.power", 1))],
                       source="test")
    v = wrong.verify(quotes={"demo.power": _power()})
    assert v.statuses == ("assumed",) and "not checked" in v.results[0].detail
    renamed = Derivation("demo.r", "renamed", [Step(h(x), "=", x ** (2 * n), "power step 1",
                                                    Quote("demo.power", 1, substitute=((g(x), h(x)),)))], source="test")
    assert renamed.verify(quotes={"demo.power": _power()}).statuses == ("quoted",)


def test_hypotheses_must_be_listed_and_do_not_weaken():
    listed = Derivation("demo.h", "hyp", [Step(h(x), "=", 0, "by hypothesis", Hypothesis(1))], source="test",
                        assumptions=("$h = 0$",))
    v = listed.verify()
    assert v.statuses == ("hypothesis",) and v.status == "definition"
    by_text = Derivation("demo.h", "hyp", [Step(h(x), "=", 0, "by hypothesis", Hypothesis("$h = 0$"))],
                         source="test", assumptions=("$h = 0$",))
    assert by_text.verify().statuses == ("hypothesis",)
    unlisted = Derivation("demo.h", "hyp", [Step(h(x), "=", 0, "by hypothesis", Hypothesis("$h = 0$"))], source="test")
    assert unlisted.verify().status == "assumed"


def _as_claim(cid: str, derivation: Derivation):
    @claim(id=cid, statement="test", source="test", kind="identity")
    def check():
        return derivation

    return check


def test_an_undeclared_premise_makes_proved_impossible():
    try:
        sound = run_claim(_as_claim("t.strength.sound", _power()), profile="ci", isolate=False)
        assert sound.verdict == "proved"
        weak = run_claim(_as_claim("t.strength.premise", _power(first=Assumed("believed"))), profile="ci", isolate=False)
        assert weak.verdict == "holds" and "step 1 (assumed)" in weak.message
        cyc = _quoting("demo.cycle", "demo.cycle")
        cycle = run_claim(_as_claim("t.strength.cycle", cyc), profile="ci", isolate=False)
        assert cycle.verdict == "error" and QUOTE_CYCLE in cycle.message
    finally:
        for k in ("t.strength.sound", "t.strength.premise", "t.strength.cycle"):
            REGISTRY.pop(k, None)


def test_tbt_quadratic_is_no_stronger_than_what_it_quotes():
    claims = {c.id: c for c in load("wang2021")}
    r = run_claim(claims["wang2021.ls.tbt-is-section3-quadratic"], profile="ci")
    v = least_squares.tbt_quadratic().verify()
    if v.status in ("symbolic", "definition"):  # every premise proved: then, and only then, proved
        assert r.verdict == "proved"
    else:
        assert r.verdict == "holds", r.message
        assert f"step 1 inherits {v.results[0].inherited} from least_squares.train-loss step" in r.message
    # the crux r^2 = 0 is a declared hypothesis, listed among the assumptions
    step2 = least_squares.tbt_quadratic().steps[1]
    assert isinstance(step2.rule, Hypothesis) and v.results[1].status == "hypothesis"


def test_negative_control_without_the_quote_tbt_quadratic_would_be_proved():
    """The same derivation with step 1 taken as a definition instead of a quote: proved. So the
    quote's inheritance is what weakens the verdict above."""
    d = least_squares.tbt_quadratic()
    s1 = d.steps[0]
    bare = d.replace_step(1, Step(s1.lhs, s1.rel, s1.rhs, s1.justification, Definition()))
    try:
        r = run_claim(_as_claim("t.strength.bare-tbt", bare), profile="ci", isolate=False)
        assert r.verdict == "proved", r.message
    finally:
        REGISTRY.pop("t.strength.bare-tbt", None)


# The overall (effective) status of every registered derivation: a change here is a change in what
# the catalogue may call proved, so it must be deliberate.
EXPECTED_STRENGTH = {
    "quadratic.iterate": "symbolic", "quadratic.loss": "symbolic", "quadratic.naive-gradient": "symbolic",
    "quadratic.log-gradient": "symbolic", "quadratic.rho-normalised": "sampled", "quadratic.theorem3": "sampled",
    "quadratic.theorem4-bound": "sampled",
    "least_squares.iterate": "assumed", "least_squares.train-loss": "concrete-d",
    "least_squares.tbt-quadratic": "concrete-d", "least_squares.validation-loss": "concrete-d",
    "least_squares.validation-identity": "concrete-d", "least_squares.early-stopping": "concrete-d",
    "least_squares.erm-error": "assumed",
    "sgd.isserlis": "assumed", "sgd.finite-set": "concrete-d", "sgd.gaussian": "concrete-d",
    "sgd.additive-noise": "concrete-d",
    "nqm.moments": "symbolic", "nqm.adjoint": "symbolic", "nqm.greedy-sgd": "symbolic",
    "nqm.greedy-momentum": "sampled", "nqm.greedy-1d": "symbolic", "nqm.zhang-sgd-risk": "symbolic",
    "nqm.zhang-momentum-risk": "symbolic", "nqm.zhang-preconditioned-risk": "symbolic", "nqm.zhang-ema-risk": "symbolic",
    # metz.smoothing-bound: step 5 (monotonicity of the integral) is an unchecked premise;
    # metz.quadratic-estimators: the Gaussian moments are computed at d = 1, 2, 3
    "metz.meta-loss": "symbolic", "metz.tbptt-gradient": "symbolic", "metz.smoothing": "symbolic",
    "metz.smoothing-bound": "assumed", "metz.quadratic-estimators": "concrete-d", "metz.inverse-variance": "symbolic",
    # break_even.mean-square-factor, break_even.with-replacement: the sampling moments (E[I_i], E[I_i I_j], ...)
    # are computed by enumerating every minibatch at concrete N only
    "break_even.mean-square-factor": "concrete-d", "break_even.with-replacement": "concrete-d",
    "break_even.critical-step": "symbolic", "break_even.curvature": "symbolic", "break_even.alpha-star": "symbolic",
    "learned.timescale": "symbolic", "learned.log-meta-objective": "symbolic",
}


def test_every_registered_quote_checks_and_the_strengths_are_as_recorded():
    from l2l.theory import registry

    got = {}
    for name in registry.names():
        d = registry.get(name)
        v = registry.verified(name)  # once per process: the module tests read the same verification
        assert v.ok, name
        for s, r in zip(d.steps, v.results):
            if isinstance(s.rule, Quote):  # every quote of the catalogue states what it quotes
                assert r.status == "quoted", (name, r.number, r.detail)
        got[name] = v.status
    assert got == EXPECTED_STRENGTH
