"""Metz et al. (2019) derivations (theory.metz): every derivation verifies with the expected statuses,
a deliberately wrong variant of each key result is rejected (negative controls), and the closed forms
agree with a separately written exact evaluation (plain loops over the update rule in Fractions,
forward-mode tangents by hand, the truncation done by resetting the tangent at a window's start)."""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction

import pytest
import sympy
from hypothesis import given, strategies as st
from sympy import Integer, Integral, Rational, Sum, Trace, oo, pi, sqrt

from l2l.proofs.cli import main as cli_main
from l2l.theory import metz, registry
from l2l.theory.derivation import Derivation

C, D, Q, S = "concrete-d", "definition", "quoted", "symbolic"
# The statuses observed for each registered derivation: a change here is a change in what is
# proved, so it must be deliberate.
EXPECTED_STATUSES = {
    "metz.meta-loss": (Q, Q, D, S, S, D, D, D, S, S, S, S, D, D, D, S, S, S),
    "metz.tbptt-gradient": (Q, D, S, S, S, Q, Q, S, S, Q, S, D, S, S, D, D, D, S, S, S, S, Q, S),
    "metz.smoothing": (D, S, S, S, D, S, S, S, S),
    "metz.smoothing-bound": (D, Q, S, S, "assumed", S, S),
    "metz.quadratic-estimators": (D, C, D, C, C, C, D, S, D, C, C, C, C),
    "metz.inverse-variance": (S, D, D, D, S, S, S, S, S, S, S, S),
}
#: The overall (weakest effective) status of each derivation.
EXPECTED_OVERALL = {
    "metz.meta-loss": "symbolic",
    "metz.tbptt-gradient": "symbolic",
    "metz.smoothing": "symbolic",
    "metz.smoothing-bound": "assumed",  # step 5: monotonicity of the integral, an unchecked premise
    "metz.quadratic-estimators": "concrete-d",  # Isserlis at d = 1, 2, 3 with every entry symbolic
    "metz.inverse-variance": "symbolic",
}


@functools.lru_cache(maxsize=None)
def _verified(name: str):
    der = registry.get(name)
    return der, registry.verified(der.name)  # the once-per-process cache, shared with test_strength


def _variant(name: str, k: int, **changes):
    der = registry.get(name)
    bad = der.replace_step(k, dataclasses.replace(der.steps[k - 1], **changes))
    return bad.verify_step(k)


# ------------------------------------------------------------------------------------------------
# registry and verification


def test_registry():
    names = tuple(metz.DERIVATIONS)
    assert names == tuple(EXPECTED_STATUSES) == tuple(EXPECTED_OVERALL)
    assert registry.MODULES[-1] is metz
    assert registry.names()[-len(names):] == names
    assert registry.select(["metz"]) == names
    for name in names:
        assert registry.get(name).name == name  # what `l2l derive NAME` calls
    assert registry.get("metz.meta-loss") is not registry.get("metz.meta-loss")


@pytest.mark.parametrize("name", list(EXPECTED_STATUSES))
def test_every_derivation_verifies_with_a_status_per_step(name):
    der, v = _verified(name)
    assert isinstance(der, Derivation)
    assert v.ok is True
    assert "failed" not in v.statuses
    assert v.statuses == EXPECTED_STATUSES[name]
    assert v.status == EXPECTED_OVERALL[name]
    assert der.title and der.assumptions
    assert der.source.startswith("Metz et al. (2019)")
    assert "derived here" in der.source
    for r in v.results:
        assert r.detail
    md = der.to_markdown(v)
    assert md.count("*Check:*") == len(der.steps)
    tex = der.to_latex()
    assert tex.startswith(r"\begin{align*}") and tex.count(r" \\") == len(der.steps) - 1


def test_quotes_reuse_the_quadratic_derivations():
    der, v = _verified("metz.meta-loss")
    assert "quadratic.loss" in v.results[1].detail and "F(eta) -> ell[t]" in v.results[1].detail
    assert v.results[1].inherited == "symbolic"  # quadratic.loss is symbolic
    _, v = _verified("metz.tbptt-gradient")
    assert "step 16 of metz.meta-loss" in v.results[6].detail


def test_the_only_unchecked_premise_is_named():
    _, v = _verified("metz.smoothing-bound")
    (weak,) = v.weakest()
    assert weak.number == 5 and "monotonicity of the integral" in weak.detail


def test_gaussian_integrals_are_computed_by_sympy():
    _, v = _verified("metz.smoothing")
    assert "integrate over x in (-oo, oo) (normalisation)" in v.results[1].detail
    assert "integrate over x in (-oo, oo) (first moment)" in v.results[3].detail
    _, v = _verified("metz.quadratic-estimators")
    assert "epsilon ~ N(0, I) by Isserlis' theorem" in v.results[12].detail
    assert "(d = 1), (d = 2), (d = 3)" in v.results[12].detail


def test_l2l_derive_metz(capsys):
    assert cli_main(["derive", "metz.inverse-variance", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("metz.inverse-variance: Inverse-variance merging of two unbiased estimators")
    assert "source: Metz et al. (2019)" in out and "[failed]" not in out


# ------------------------------------------------------------------------------------------------
# negative controls: a deliberately wrong variant of each key result is rejected

r1 = 1 - metz.eta * metz.lam[metz.i]
T, K, N = metz.T, metz.K, metz.N


@pytest.mark.parametrize(
    ("k", "rhs"),
    [
        (9, r1 * (1 - r1 ** (2 * T)) / (1 - r1**2)),  # geometric sum missing a factor r
        (9, r1**2 * (1 - r1 ** (2 * T + 2)) / (1 - r1**2)),  # one term too many
        (16, r1 * (1 - T * r1 ** (2 * T) + T * r1 ** (2 * T + 2)) / (1 - r1**2) ** 2),  # (T+1) -> T
        (12, -Sum(metz.lam[metz.i] ** 2 * metz.c[metz.i] ** 2 * Sum(metz.t * r1 ** (2 * metz.t - 1), (metz.t, 1, T)), (metz.i, 1, metz.d)) / (2 * T)),
        (5, Sum(metz.c[metz.i] ** 2 * metz.lam[metz.i] * Sum(r1 ** (2 * metz.t), (metz.t, 1, T)), (metz.i, 1, metz.d)) / T),
    ],
    ids=["geometric-missing-r", "geometric-extra-term", "weighted-T+1", "gradient-halved", "meta-loss-no-1/2"],
)
def test_wrong_meta_loss_fails(k, rhs):
    res = _variant("metz.meta-loss", k, rhs=rhs)
    assert res.status == "failed", res.detail


def test_wrong_tbptt_fails():
    lam, c, u, i, d, kk, j = metz.lam, metz.c, metz.u, metz.i, metz.d, metz.k, metz.j
    # differentiating through the window's start: the window sum weighted by the global step jK + k
    through = -Sum(lam[i] ** 2 * u[i] ** 2 * Sum((j * K + kk) * r1 ** (2 * kk - 1), (kk, 1, K)), (i, 1, d)) / (N * K)
    assert _variant("metz.tbptt-gradient", 5, rhs=through).status == "failed"
    # the total with the full-horizon geometric factor instead of the window one
    DK = metz.weighted_geometric_closed(r1, K)
    wrong = -Sum(lam[i] ** 2 * c[i] ** 2 * DK * (1 - r1 ** (2 * N * K)) / (1 - r1**2), (i, 1, d)) / (N * K)
    assert _variant("metz.tbptt-gradient", 20, rhs=wrong).status == "failed"
    # the window start off the trajectory by one step
    assert _variant("metz.tbptt-gradient", 10, rhs=c[i] * r1 ** (j * K + 1)).status == "assumed"


def test_wrong_smoothing_fails():
    x, th, sg, L, p = metz.x, metz.theta, metz.sigma, metz.Lf, metz.p
    pd = p(x, th)
    # Stein's identity without the 1/sigma^2 of the score
    res = _variant("metz.smoothing", 9, rhs=Integral((L(x) - metz.c0) * (x - th) * pd, (x, -oo, oo)))
    assert res.status == "failed"
    assert _variant("metz.smoothing", 4, rhs=Integer(1)).status == "failed"  # E[eps] = 1
    assert _variant("metz.smoothing", 2, rhs=sqrt(2 * pi)).status == "failed"  # unnormalised density
    # E|eps| = 1 instead of sqrt(2/pi), and a bound twice too tight
    assert _variant("metz.smoothing-bound", 6, rhs=1 / sg).status == "failed"
    tight = (metz.L_sup - metz.L_inf) * sqrt(2 / pi) / (4 * sg)
    assert _variant("metz.smoothing-bound", 7, rhs=tight).status == "failed"


def test_wrong_estimator_moments_fail():
    A, gL, d = metz._A, metz._gL, metz.d
    assert _variant("metz.quadratic-estimators", 2, rhs=metz._quad(metz._th)).status == "failed"  # no trace term
    assert _variant("metz.quadratic-estimators", 5, rhs=metz.sigma**2 * A).status == "failed"  # covariance sigma^2 A
    assert _variant("metz.quadratic-estimators", 12, rhs=metz.Sc(gL.T * gL) * sympy.Identity(d)).status == "failed"
    res = _variant("metz.quadratic-estimators", 13, rhs=d * metz.Sc(gL.T * gL))  # total variance d ||g||^2
    assert res.status == "failed" and "differs from the right side" in res.detail
    assert _variant("metz.quadratic-estimators", 6, rhs=metz.sigma**2 * Trace(A) ** 2).status == "failed"


def test_wrong_inverse_variance_fails():
    v1, v2, cv, w = metz.v1, metz.v2, metz.cv, metz.wt
    assert _variant("metz.inverse-variance", 1, rhs=w**2 * v1 + (1 - w) ** 2 * v2).status == "failed"  # covariance dropped
    assert _variant("metz.inverse-variance", 7, rhs=v1 / (v1 + v2)).status == "failed"  # weights swapped
    assert _variant("metz.inverse-variance", 9, rhs=v1 / 2).status == "failed"  # too strong: not provable
    wrong = (metz.g_rp * v1 + metz.g_es * v2) / (v1 + v2)
    assert _variant("metz.inverse-variance", 12, lhs=wrong).status == "failed"
    wrong_min = metz.V_min(cv) + (v1 + v2 + 2 * cv) * (w - metz.w_star(cv)) ** 2
    assert _variant("metz.inverse-variance", 5, rhs=wrong_min).status == "failed"


# ------------------------------------------------------------------------------------------------
# the closed forms against an independent exact evaluation (loops over the update rule)


def _unroll(lams, cs, eta, horizon, window=None):
    """(L_T, dL_T/deta) by forward-mode tangents through GD; with ``window`` the tangent is reset
    to 0 at the start of every window (truncated BPTT: the start is held fixed)."""
    total, dtotal = Fraction(0), Fraction(0)
    for lam, c in zip(lams, cs):
        wv, dw = Fraction(c), Fraction(0)
        for step in range(1, horizon + 1):
            if window is not None and (step - 1) % window == 0:
                dw = Fraction(0)
            wv, dw = wv - eta * lam * wv, dw - lam * wv - eta * lam * dw
            total += lam * wv * wv / 2
            dtotal += lam * wv * dw
    return total / horizon, dtotal / horizon


def _closed(name, values):
    der = registry.get(name)
    step = {"metz.meta-loss": (11, 18), "metz.tbptt-gradient": (20,)}[name]
    return [der.steps[k - 1].rhs for k in step]


def _evaluate(expr, dim, values):
    e = expr.xreplace({metz.d: Integer(dim)})
    e = e.replace(lambda s: isinstance(s, Sum), lambda s: sum(s.function.xreplace({s.limits[0][0]: Integer(q)}) for q in range(s.limits[0][1], s.limits[0][2] + 1)) if s.limits[0][1].is_Integer and s.limits[0][2].is_Integer else s)
    e = e.xreplace(values)
    value = sympy.nsimplify(e) if not e.is_Rational else e
    assert value.is_Rational, value
    return Fraction(int(value.p), int(value.q))


_eigen = st.lists(st.fractions(min_value=Fraction(1, 8), max_value=4, max_denominator=8), min_size=1, max_size=3, unique=True)


@given(lams=_eigen, eta_=st.fractions(min_value=Fraction(1, 16), max_value=Fraction(3, 5), max_denominator=16), horizon=st.integers(1, 6), data=st.data())
def test_closed_forms_match_the_unrolled_loop(lams, eta_, horizon, data):
    cs = data.draw(st.lists(st.fractions(min_value=-2, max_value=2, max_denominator=4), min_size=len(lams), max_size=len(lams)))
    if any((1 - eta_ * lam) ** 2 == 1 for lam in lams):
        return
    vals = {metz.eta: Rational(eta_.numerator, eta_.denominator), T: Integer(horizon)}
    for q, (lam, c) in enumerate(zip(lams, cs), start=1):
        vals[metz.lam[q]] = Rational(lam.numerator, lam.denominator)
        vals[metz.c[q]] = Rational(c.numerator, c.denominator)
    loss, grad = _unroll(lams, cs, eta_, horizon)
    closed_loss, closed_grad = _closed("metz.meta-loss", vals)
    assert _evaluate(closed_loss, len(lams), vals) == loss
    assert _evaluate(closed_grad, len(lams), vals) == grad
    # truncated BPTT with windows of K steps, N windows
    window = data.draw(st.integers(1, 3))
    windows = data.draw(st.integers(1, 3))
    if any((1 - eta_ * lam) ** (2 * window) == 1 for lam in lams):
        return
    vals.update({K: Integer(window), N: Integer(windows)})
    _, tgrad = _unroll(lams, cs, eta_, window * windows, window=window)
    (closed_tbptt,) = _closed("metz.tbptt-gradient", vals)
    assert _evaluate(closed_tbptt, len(lams), vals) == tgrad


def test_a1_reference_values():
    """The spec's reference numbers for a = w_0 = 1: |dL_T/dalpha| at alpha = 0.5 and 2.05."""
    grad = _closed("metz.meta-loss", {})[1]
    f = sympy.lambdify((metz.eta, T), grad.xreplace({metz.d: Integer(1)}).doit().xreplace({metz.lam[1]: 1, metz.c[1]: 1}), "mpmath")
    for eta_, horizon, ref in ((0.5, 10, 0.0889), (0.5, 50, 0.0178), (2.05, 10, 10.7), (2.05, 50, 1.09e3), (2.05, 100, 1.6e5)):
        assert math.isclose(abs(float(f(eta_, horizon))), ref, rel_tol=0.01), (eta_, horizon)
