"""Jastrzebski et al. (2020) derivations (theory.break_even): every derivation verifies with the expected
statuses, a deliberately wrong variant of each key step is rejected (negative controls), and the
mean-square factor agrees with a brute-force average over every minibatch, written here in exact
Fractions (no code shared with the derivation or its enumeration rule)."""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import pytest
import sympy
from hypothesis import given, strategies as st
from sympy import Integer, Rational, Sum, sqrt

from l2l.proofs.cli import main as cli_main
from l2l.theory import break_even as be, registry
from l2l.theory.derivation import Derivation, Identity, Step

C, D, H, Q, S5, Y = "concrete-d", "definition", "hypothesis", "quoted", "symbolic-d in {2,3,4,5}", "symbolic"
# The statuses observed for each registered derivation: a change here is a change in what is
# proved, so it must be deliberate.
EXPECTED_STATUSES = {
    "break_even.mean-square-factor": (D, D, D, D, Y, D, D, Y, Y, D, C, C, C, Y, S5, Y, S5, Y, D, Y, D, Y, Y, Y, Y, Y, Y),
    "break_even.with-replacement": (D, Q, Q, Q, C, C, C, Y, S5, Y, Q, Y, D, Y, D, Y, Y, Q, Y, Y, Y, Q),
    "break_even.critical-step": (D, D, D, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y),
    "break_even.curvature": (D, H, Y, D, Y, Y, Y, D, Y, Y, Y, Y, Y, Y, Y, Y),
    "break_even.alpha-star": (H, D, Y, D, Y, Y, D, Y, D, Y, Y, Y),
}
#: The overall (weakest effective) status of each derivation.
EXPECTED_OVERALL = {
    "break_even.mean-square-factor": "concrete-d",  # the indicator moments, enumerated at N = 1..6
    "break_even.with-replacement": "concrete-d",  # the multiplicity moments, enumerated at N, S = 1..4
    "break_even.critical-step": "symbolic",
    "break_even.curvature": "symbolic",
    "break_even.alpha-star": "symbolic",
}
#: The steps checked by enumerating minibatches (the only concrete-d steps).
ENUMERATED = {"break_even.mean-square-factor": (11, 12, 13), "break_even.with-replacement": (5, 6, 7)}

N, S, i, j, eta, lam, s, kappa = be.N, be.S, be.i, be.j, be.eta, be.lam, be.s, be.kappa
h, I_, m_, c, h_B = be.h, be.I_, be.m_, be.c, be.h_B


def _verified(name: str):
    """The derivation and its verification (the registry's once-per-process cache)."""
    return registry.get(name), registry.verified(name)


def _variant(name: str, k: int, **changes):
    der = registry.get(name)
    bad = der.replace_step(k, dataclasses.replace(der.steps[k - 1], **changes))
    return bad.verify_step(k)


# ------------------------------------------------------------------------------------------------
# registry and verification


def test_registry():
    names = tuple(be.DERIVATIONS)
    assert names == tuple(EXPECTED_STATUSES) == tuple(EXPECTED_OVERALL)
    assert be in registry.MODULES
    assert registry.select(["break_even"]) == names
    for name in names:
        assert registry.get(name).name == name  # what `l2l derive NAME` calls
    assert registry.get("break_even.curvature") is not registry.get("break_even.curvature")


@pytest.mark.parametrize("name", list(EXPECTED_STATUSES))
def test_every_derivation_verifies_with_a_status_per_step(name):
    der, v = _verified(name)
    assert isinstance(der, Derivation)
    assert v.ok is True
    assert "failed" not in v.statuses
    assert v.statuses == EXPECTED_STATUSES[name]
    assert v.status == EXPECTED_OVERALL[name]
    assert der.title and der.assumptions
    assert der.source.startswith("Jastrzebski et al. (2020), ")
    assert "derived here" in der.source and "spec" not in der.source and "/" not in der.source
    for r in v.results:
        assert r.detail
    md = der.to_markdown(v)
    assert md.count("*Check:*") == len(der.steps)
    tex = der.to_latex()
    assert tex.startswith(r"\begin{align*}") and tex.count(r" \\") == len(der.steps) - 1


def test_only_the_sampling_moments_are_concrete():
    for name in EXPECTED_STATUSES:
        _, v = _verified(name)
        concrete = tuple(r.number for r in v.results if r.status == C)
        assert concrete == ENUMERATED.get(name, ()), name
        for k in concrete:
            detail = v.results[k - 1].detail
            assert "enumerating every minibatch" in detail and "not proved for symbolic sizes" in detail
    _, v = _verified("break_even.mean-square-factor")
    assert "all C(N, S) subsets enumerated at N = 1, 2, 3, 4, 5, 6 and every S = 1..N" in v.results[10].detail
    assert "(distinct)" in v.results[12].detail
    assert [r.number for r in v.weakest()] == [11, 12, 13]
    # the algebra from the moments to the variance is symbolic in N and S
    for k in (14, 16, 18, 20, 22, 23):
        assert v.statuses[k - 1] == Y, k
    assert "N = 2, 3, 4, 5" in v.results[16].detail  # sum over i != j, with the sums expanded


def test_quotes_state_what_they_quote():
    _, v = _verified("break_even.with-replacement")
    for k in (2, 3, 4, 11, 18, 22):
        r = v.results[k - 1]
        assert r.status == Q and "the same statement" in r.detail
        assert r.inherited == C and r.inherited_from.startswith("break_even.mean-square-factor step 11")
    assert "step 17 of break_even.mean-square-factor" in v.results[10].detail


def test_l2l_derive_break_even(capsys):
    assert cli_main(["derive", "break_even", "--format", "text"]) == 0
    out = capsys.readouterr().out
    for name in EXPECTED_STATUSES:
        assert f"{name}: " in out
    assert "source: Jastrzebski et al. (2020)" in out and "[failed]" not in out
    assert "[concrete-d]" in out and "strength: symbolic" in out


# ------------------------------------------------------------------------------------------------
# negative controls: a deliberately wrong variant of each key step is rejected

P1, P2 = S / N, S * (S - 1) / (N * (N - 1))
P2_IID = S * (S - 1) / N**2
SUM_H, SUM_H2 = Sum(h[i], (i, 1, N)), Sum(h[i] ** 2, (i, 1, N))


@pytest.mark.parametrize(
    ("k", "rhs"),
    [
        (11, S / (N - 1)),  # the wrong inclusion probability
        (12, S**2 / N**2),  # E[I^2] = E[I]^2: indicators treated as constants
        (13, P2_IID),  # the with-replacement pair moment
        (13, S**2 / N**2),  # independent indicators
    ],
    ids=["E[I]-wrong", "E[I^2]-squared", "pair-with-replacement", "pair-independent"],
)
def test_wrong_indicator_moments_fail(k, rhs):
    res = _variant("break_even.mean-square-factor", k, rhs=rhs)
    assert res.status == "failed" and "enumeration gives" in res.detail, res.detail


def test_the_pair_moment_does_not_apply_on_the_diagonal():
    """Enumerated at i = j too, E[I_i I_j] = S(S-1)/(N(N-1)) is false."""
    der = registry.get("break_even.mean-square-factor")
    st13 = der.steps[12]
    bad = der.replace_step(13, dataclasses.replace(st13, rule=be.Enumerate(st13.rule.law, distinct=False)))
    assert bad.verify_step(13).status == "failed"


@pytest.mark.parametrize(
    ("k", "rhs"),
    [
        (20, s**2 / S),  # the with-replacement variance 1/S in the without-replacement step
        (20, s**2 * (N - S) / (S * N)),  # c(S) without the N - 1
        (20, s**2 * c(S) * N / (N - 1)),  # the sample-variance normalisation
        (16, (P1 * SUM_H2 + P2 * Sum(h[i] * h[j], (j, 1, N), (i, 1, N))) / S**2),  # pair moment on the diagonal too
        (14, SUM_H / S),  # E[h_B] without the inclusion probability
        (23, (1 - eta * lam) ** 2 + eta**2 * s**2 / S),  # Eq. 1 with the i.i.d. factor
        (23, (1 - eta * lam) ** 2 - eta**2 * s**2 * c(S)),  # the variance term with the wrong sign
        (25, (1 - eta * lam) ** 2 + eta**2 * s**2),  # the full batch keeps the noise
        (26, Integer(0)),  # c(1) = 0
        (17, SUM_H**2 - 2 * SUM_H2),  # the diagonal subtracted twice
    ],
    ids=["iid-variance", "c-without-N-1", "c-sample-variance", "pair-on-diagonal", "mean-without-p",
         "eq1-iid-factor", "eq1-sign", "full-batch-noise", "c1", "offdiag-twice"],
)
def test_wrong_mean_square_factor_fails(k, rhs):
    res = _variant("break_even.mean-square-factor", k, rhs=rhs)
    assert res.status == "failed", res.detail


def test_the_linearity_rule_refuses_a_pair_moment_on_the_diagonal():
    """A true expansion written as the full double sum (no 1 - delta_ij): the pair moment would be used
    on the diagonal i = j, where it does not hold, so the Linearity step is refused (and the step
    that states the expansion itself verifies: the refusal comes from the rule, not a wrong premise)."""
    der = registry.get("break_even.mean-square-factor")
    full = Sum(I_[i] * I_[j] * h[i] * h[j], (j, 1, N), (i, 1, N)) / S**2
    naive = P2 * Sum(h[i] * h[j], (j, 1, N), (i, 1, N)) / S**2
    der = der.replace_step(15, Step(h_B**2, "=", full, "the square as a full double sum", Identity(given=(2,))))
    assert der.verify_step(15).status == S5
    der = der.replace_step(16, dataclasses.replace(der.steps[15], rhs=naive))
    res = der.verify_step(16)
    assert res.status == "failed" and "does not vanish at j = i" in res.detail, res.detail


@pytest.mark.parametrize(
    ("k", "rhs"),
    [
        (5, S / (N - 1)),  # the wrong hit rate
        (6, S / N),  # the indicator's second moment for a multiplicity
        (7, P2),  # the without-replacement pair moment
        (14, s**2 * c(S)),  # the without-replacement variance
        (17, (1 - eta * lam) ** 2 + eta**2 * s**2 * c(S)),
        (19, (S - 1) / (S * N)),
    ],
    ids=["E[m]", "E[m^2]-indicator", "pair-without-replacement", "variance-c", "factor-c", "gap"],
)
def test_wrong_with_replacement_fails(k, rhs):
    res = _variant("break_even.with-replacement", k, rhs=rhs)
    assert res.status == "failed", res.detail


def test_c_below_one_over_s_is_not_strict_at_s_1():
    """The strict bound c(S) < 1/S from S >= 1 (reparametrised S = 1 + k) is not provable: equality at S = 1."""
    der = registry.get("break_even.with-replacement")
    st21 = der.steps[20]
    rule = dataclasses.replace(st21.rule, reparametrize=((N, 1 + be._q), (S, 1 + be._k)))
    res = der.replace_step(21, dataclasses.replace(st21, rule=rule)).verify_step(21)
    assert res.status == "failed"
    # and c(S) >= 1/S is refuted the same way
    assert _variant("break_even.with-replacement", 20, rel=">=").status == "failed"


def test_wrong_critical_step_fails():
    # eta_crit without the factor 2, and without the finite-population factor
    assert _variant("break_even.critical-step", 2, rhs=lam / (lam**2 + s**2 * c(S))).status == D  # a definition...
    bad = registry.get("break_even.critical-step")
    for wrong in (lam / (lam**2 + s**2 * c(S)), 2 * lam / (lam**2 + s**2)):
        d2 = bad.replace_step(2, dataclasses.replace(bad.steps[1], rhs=wrong))
        assert d2.verify_step(4).status == "failed"  # ...that the identity of step 4 then rejects
    # F <= 1 claimed up to twice the critical step size
    v2 = 2 * lam / (lam**2 + s**2 * be._v)
    rule = dataclasses.replace(bad.steps[6].rule, reparametrize=((c(S), be._v), (eta, 2 * v2 / (1 + be._u0))))
    assert bad.replace_step(7, dataclasses.replace(bad.steps[6], rule=rule)).verify_step(7).status == "failed"
    # F > 1 claimed already at the critical step size (u >= 0 instead of u > 0)
    rule = dataclasses.replace(bad.steps[7].rule, reparametrize=((c(S), be._v), (eta, v2 * (1 + be._u0))))
    assert bad.replace_step(8, dataclasses.replace(bad.steps[7], rule=rule)).verify_step(8).status == "failed"
    assert _variant("break_even.critical-step", 12, rhs=1 / lam).status == "failed"  # full batch: 1/lambda
    assert _variant("break_even.critical-step", 13, rhs=eta * lam * (1 - eta * lam)).status == "failed"


def test_wrong_curvature_fails():
    ls = be.lam_star
    assert _variant("break_even.curvature", 5, rhs=eta * lam * (1 + kappa**2 * c(S)) * (ls(eta, S) - lam)).status == "failed"
    der = registry.get("break_even.curvature")
    d4 = der.replace_step(4, dataclasses.replace(der.steps[3], rhs=2 / (eta * (1 + kappa * c(S)))))  # kappa, not kappa^2
    assert d4.verify_step(5).status == "failed"
    assert _variant("break_even.curvature", 7, rel=">").status == "failed"  # lambda* increasing in eta
    assert _variant("break_even.curvature", 12, rhs=N / (S * (S + 1) * N)).status == "failed"
    assert _variant("break_even.curvature", 13, rel="<").status == "failed"  # c increasing in S
    assert _variant("break_even.curvature", 16, rel="<").status == "failed"  # lambda* decreasing in S
    wrong = 2 * kappa**2 * (c(S + 1) - c(S)) / (eta * (1 + kappa**2 * c(S)) * (1 + kappa**2 * c(S + 1)))
    assert _variant("break_even.curvature", 15, rhs=wrong).status == "failed"
    # without kappa > 0 (kappa = 0 gives equality) the strict monotonicity in S is not provable
    st16 = der.steps[15]
    rule = dataclasses.replace(st16.rule, reparametrize=st16.rule.reparametrize[:3])
    assert der.replace_step(16, dataclasses.replace(st16, rule=rule)).verify_step(16).status == "failed"


@pytest.mark.parametrize(
    "wrong",
    [
        (1 + Rational(6, 5)) / (eta * lam),  # sqrt forgotten
        2 / (eta * lam),  # the break-even guess alpha* = 2
        (1 + sqrt(Rational(5, 6))) / (eta * lam),  # the inverse ratio
        (1 + sqrt(sympy.Float(1.2, 15))) / (eta * lam),  # a float constant: not exactly 6/5
    ],
    ids=["no-sqrt", "two", "inverse", "float"],
)
def test_a_wrong_alpha_star_is_rejected(wrong):
    der = registry.get("break_even.alpha-star")
    st10 = der.steps[9]
    bad = der.replace_step(10, dataclasses.replace(st10, lhs=be.R(wrong), rule=dataclasses.replace(
        st10.rule, op=lambda e: e.xreplace({be.alpha: wrong}))))
    assert bad.verify_step(10).status == "failed"


def test_wrong_alpha_star_steps_fail():
    assert _variant("break_even.alpha-star", 8, rhs=(1 - be.alpha * eta * lam)).status == "failed"  # no square
    assert _variant("break_even.alpha-star", 8, rhs=(1 - be.alpha * eta * lam) ** 2 / 2).status == "failed"
    assert _variant("break_even.alpha-star", 5, rhs=(1 - be.alpha * eta * lam / 2) * be.psi).status == "failed"
    der = registry.get("break_even.alpha-star")
    a_star = (1 + sqrt(Rational(6, 5))) / (eta * lam)
    # "R < 6/5 on (0, 2 alpha*)" is false, and the prover does not accept it
    rule = dataclasses.replace(der.steps[10].rule, reparametrize=((be.alpha, 2 * a_star * be._u0 / (1 + be._u0)),))
    assert der.replace_step(11, dataclasses.replace(der.steps[10], rule=rule)).verify_step(11).status == "failed"


def test_alpha_star_is_exact():
    der = registry.get("break_even.alpha-star")
    value = der.steps[8].rhs
    assert not value.atoms(sympy.Float)
    assert sympy.simplify(value * eta * lam - 1 - sqrt(Rational(6, 5))) == 0
    assert abs(float((value * eta * lam)) - 2.0954451150103321) < 1e-15
    # the other root of R = 6/5 is negative: excluded by alpha > 0, not by the check of step 10
    assert (1 - sqrt(Rational(6, 5))).is_negative is True


# ------------------------------------------------------------------------------------------------
# the mean-square factor against a brute-force average over every minibatch (exact Fractions)


def _brute_without(hs, eta_, size):
    """E[(1 - eta h_B)^2] over every subset of ``size`` distinct indices, each equally likely."""
    batches = list(itertools.combinations(range(len(hs)), size))
    total = Fraction(0)
    for b in batches:
        hb = sum((hs[k] for k in b), Fraction(0)) / size
        total += (1 - eta_ * hb) ** 2
    return total / len(batches)


def _brute_with(hs, eta_, size):
    """E[(1 - eta h_B)^2] over every tuple of ``size`` i.i.d. uniform indices."""
    total, count = Fraction(0), 0
    for b in itertools.product(range(len(hs)), repeat=size):
        hb = sum((hs[k] for k in b), Fraction(0)) / size
        total += (1 - eta_ * hb) ** 2
        count += 1
    return total / count


def _closed(name, k, hs, eta_, size):
    """The right side of step ``k`` of ``name`` at the instance, with lambda and s^2 from their definitions."""
    n_ = len(hs)
    mean = sum(hs, Fraction(0)) / n_
    var = sum(((x - mean) ** 2 for x in hs), Fraction(0)) / n_
    rhs = registry.get(name).steps[k - 1].rhs
    value = rhs.xreplace({s: sqrt(Rational(var.numerator, var.denominator)), lam: Rational(mean.numerator, mean.denominator),
                          eta: Rational(eta_.numerator, eta_.denominator), N: Integer(n_), S: Integer(size)})
    value = sympy.nsimplify(value) if not value.is_Rational else value
    assert value.is_Rational, value
    return Fraction(int(value.p), int(value.q))


_curv = st.lists(st.fractions(min_value=Fraction(-1, 2), max_value=3, max_denominator=6), min_size=2, max_size=5)
_eta = st.fractions(min_value=Fraction(1, 20), max_value=Fraction(3, 2), max_denominator=20)


@given(hs=_curv, eta_=_eta, data=st.data())
def test_mean_square_factor_matches_every_minibatch(hs, eta_, data):
    size = data.draw(st.integers(1, len(hs)))
    exact = _brute_without(hs, eta_, size)
    assert _closed("break_even.mean-square-factor", 24, hs, eta_, size) == exact  # Eq. 1, without replacement
    iid = data.draw(st.integers(1, 3))
    assert _closed("break_even.with-replacement", 17, hs, eta_, iid) == _brute_with(hs, eta_, iid)


def test_mean_square_factor_spot_check():
    """A fixed N = 6 instance at every S (N = 20 would need 184756 subsets at S = 10), the limits
    S = 1 and S = N, and a float evaluation of the closed form."""
    hs = [Fraction(1, 5), Fraction(7, 10), Fraction(3, 2), Fraction(2), Fraction(5, 2), Fraction(3)]
    for eta_ in (Fraction(3, 10), Fraction(7, 10)):
        for size in range(1, 7):
            exact = _brute_without(hs, eta_, size)
            assert _closed("break_even.mean-square-factor", 24, hs, eta_, size) == exact
        full = _brute_without(hs, eta_, 6)
        mean = sum(hs, Fraction(0)) / 6
        assert full == (1 - eta_ * mean) ** 2  # S = N: deterministic
        assert _brute_without(hs, eta_, 1) == _brute_with(hs, eta_, 1)  # S = 1: c(1) = 1
    # float spot check: the closed form of step 24 evaluated in float64 against the exact average; a
    # handful of float operations on numbers of order 1, so agreement to 1e-12 (relative) is ample
    rhs = registry.get("break_even.mean-square-factor").steps[23].rhs
    fn = sympy.lambdify((eta, lam, s, N, S), rhs, modules="math")
    mean = sum(hs, Fraction(0)) / 6
    sd = float(sum(((x - mean) ** 2 for x in hs), Fraction(0)) / 6) ** 0.5
    for size in (1, 2, 5):
        exact = float(_brute_without(hs, Fraction(7, 10), size))
        assert abs(fn(0.7, float(mean), sd, 6, size) - exact) <= 1e-12 * exact, size
    assert abs(float(_brute_without(hs, Fraction(7, 10), 2)) - 0.2100617) < 1e-7  # this instance's value
    # with replacement is noisier than without (c(S) < 1/S for S >= 2)
    assert _brute_with(hs, Fraction(7, 10), 3) > _brute_without(hs, Fraction(7, 10), 3)
