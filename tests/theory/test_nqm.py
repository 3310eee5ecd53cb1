"""The noisy quadratic model (theory.nqm): every derivation verifies with the expected statuses,
deliberately wrong variants are refuted, and the exported expressions agree with computations done
here independently (exact enumeration of a discrete distribution with the same first two moments,
the 2x2 covariance/Lyapunov route to the steady state, a numerical minimiser of the one-step loss),
never by re-evaluating the closed forms."""

from __future__ import annotations

import dataclasses
import functools
import random
import re
from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import sympy
from sympy import ImmutableMatrix, Integer, MatAdd, MatMul, Rational, Sum, sqrt

from l2l.proofs.cli import main as cli_main
from l2l.theory import lambdify, nqm, registry
from l2l.theory.derivation import Derivation, Step
from l2l.theory.expectation import CenteredNormal, Expectation, KnownMoments, expect, expectation_of
from l2l.theory.nqm import (
    NQMDerivation,
    alpha,
    beta,
    batch,
    c,
    c_grad,
    d,
    gamma,
    h,
    hs,
    i,
    mu,
    p,
    sigma,
    sigmas,
    t,
    theta,
    theta_next,
    v,
    W,
    Ws,
    X,
    Xs,
    Y,
    Ys,
)

D_, S_, SA, Q_, H_ = "definition", "symbolic", "sampled", "quoted", "hypothesis"
# The statuses observed for each registered derivation: a change here is a change in what is
# checked, so it must be deliberate. Everything is symbolic except the Cauchy-Schwarz step of the
# momentum convexity certificate, which SymPy cannot prove for a symbolic dimension.
EXPECTED_STATUSES = {
    "nqm.moments": (D_, D_, D_) + (S_,) * 8 + (D_, D_, D_) + (S_,) * 12 + (D_, D_, S_, S_),
    "nqm.adjoint": (Q_, S_, S_, S_, D_, S_),
    "nqm.greedy-sgd": (Q_, Q_, S_, S_, S_, D_, S_, S_),
    "nqm.greedy-momentum": (Q_, Q_, S_) + (D_,) * 5 + (S_,) * 6 + (D_, D_) + (S_,) * 3 + (H_, SA) + (S_,) * 5,
    "nqm.greedy-1d": (Q_, S_, Q_, S_, Q_, S_, S_, S_, S_, D_, S_, S_, S_, S_),
    "nqm.zhang-sgd-risk": (D_, S_, S_, D_, S_, S_, D_, S_, S_, S_),
    "nqm.zhang-momentum-risk": (D_, D_, D_, S_, D_, D_, D_, S_, S_, D_, S_, S_, D_, S_, S_),
    "nqm.zhang-preconditioned-risk": (D_, S_, D_, S_, D_, S_, S_, S_),
    "nqm.zhang-ema-risk": (D_, D_, S_, Q_, D_, D_, S_, S_, D_, S_, S_, S_, S_),
}


@functools.lru_cache(maxsize=None)
def _verified(name: str):
    der = registry.get(name)
    return der, registry.verified(der.name)  # the once-per-process cache, shared with test_strength


# ------------------------------------------------------------------------------------------------
# registry and verification


def test_registry():
    names = tuple(nqm.DERIVATIONS)
    assert names == tuple(EXPECTED_STATUSES)
    every = registry.names()
    start = every.index(names[0])
    assert every[start:start + len(names)] == names  # appended after sgd (metz follows)
    assert registry.MODULES[registry.MODULES.index(nqm) - 1].__name__.endswith("sgd_moments")
    for name in names:
        assert registry.get(name).name == name  # what `l2l derive NAME` calls
    with pytest.raises(KeyError, match="unknown derivation 'nqm.nope'; known: quadratic.iterate"):
        registry.get("nqm.nope")
    assert registry.get("nqm.moments") is not registry.get("nqm.moments")


@pytest.mark.parametrize("name", list(EXPECTED_STATUSES))
def test_every_derivation_verifies_with_a_status_per_step(name):
    der, v = _verified(name)
    assert isinstance(der, NQMDerivation) and isinstance(der, Derivation)
    assert v.ok is True
    assert "failed" not in v.statuses
    assert v.statuses == EXPECTED_STATUSES[name]
    assert der.source and der.assumptions and der.title
    for r in v.results:
        assert r.detail
        if r.status == "sampled":
            assert "not proved symbolically" in r.detail and "random.Random(" in r.detail
    md = der.to_markdown(v)
    assert md.count("*Check:*") == len(der.steps)
    tex = der.to_latex()
    assert tex.startswith(r"\begin{align*}") and tex.count(r" \\") == len(der.steps) - 1
    assert not re.search(r"(?<!\\)theta'", tex)  # primed symbols are printed \theta'


def test_expectation_steps_are_computed_from_the_update_rule():
    der, v = _verified("nqm.moments")
    for k, step in enumerate(der.steps, 1):
        if isinstance(step.rule, Expectation):
            assert "E[...] computed by the checker" in v.results[k - 1].detail
            assert v.results[k - 1].status == "symbolic"
    # the raw 3x3 map is derived by expectation (not quoted) and names the noise law
    detail = v.results[10].detail
    assert "steps 4, 5 substituted" in detail and "c ~ N(0, sigma**2) independent" in detail
    assert "entry by entry (3x1)" in detail


def test_l2l_derive_greedy_momentum(capsys):
    assert cli_main(["derive", "nqm.greedy-momentum", "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nqm.greedy-momentum: Greedy (one-step) learning rate and momentum")
    assert "[sampled] not proved symbolically" in out
    assert "[failed]" not in out


# ------------------------------------------------------------------------------------------------
# negative controls: deliberately wrong statements must fail


def _variant(name: str, k: int, **changes) -> str:
    der = registry.get(name)
    bad = der.replace_step(k, dataclasses.replace(der.steps[k - 1], **changes))
    res = bad.verify_step(k)
    return res.status, res.detail


def test_wrong_noise_vector_fails():
    a = alpha * h
    n_ = alpha**2 * h**2 * sigma**2
    M = nqm.transition_matrix(a, mu)
    s_ = ImmutableMatrix([X, W, Y])
    # noise missing in the v row
    status, detail = _variant("nqm.moments", 11, rhs=MatAdd(MatMul(M, s_), ImmutableMatrix([n_, 0, n_])))
    assert status == "failed" and "entry (2, 1)" in detail and "differs from the right side" in detail
    # noise without h^2 (Zhang's c/B written for sigma^2)
    status, _ = _variant("nqm.moments", 11, rhs=MatAdd(MatMul(M, s_), nqm.noise_vector(alpha, 1, sigma**2)))
    assert status == "failed"


def test_wrong_transition_matrix_fails():
    a = alpha * h
    M = nqm.transition_matrix(a, mu)
    bad = ImmutableMatrix([[1 - a, M[0, 1], M[0, 2]], list(M.row(1)), list(M.row(2))])  # (1-a) for (1-a)^2
    rhs = MatAdd(MatMul(bad, ImmutableMatrix([X, W, Y])), nqm.noise_vector(alpha, h, sigma**2))
    status, detail = _variant("nqm.moments", 11, rhs=rhs)
    assert status == "failed" and "entry (1, 1)" in detail
    # covariance row with mu (1 - a) instead of mu (1 - 2a)
    bad = ImmutableMatrix([list(M.row(0)), list(M.row(1)), [M[2, 0], M[2, 1], mu * (1 - a)]])
    rhs = MatAdd(MatMul(bad, ImmutableMatrix([X, W, Y])), nqm.noise_vector(alpha, h, sigma**2))
    assert _variant("nqm.moments", 11, rhs=rhs)[0] == "failed"


def test_wrong_scalar_moments_fail():
    a = alpha * h
    # forgot the noise in E theta'^2; a cross term E[theta c] kept as if c were not centred
    assert _variant("nqm.moments", 8, rhs=(1 - a) ** 2 * X + mu**2 * W + 2 * mu * (1 - a) * Y)[0] == "failed"
    assert _variant("nqm.moments", 6, rhs=(1 - a) * nqm.m_theta + mu * nqm.m_v + alpha * h)[0] == "failed"
    # variance recursion with +2 a mu C in the v row
    rhs = a**2 * nqm.V_theta + mu**2 * nqm.V_v + 2 * a * mu * nqm.C_cov + alpha**2 * h**2 * sigma**2
    assert _variant("nqm.moments", 16, rhs=rhs)[0] == "failed"
    # SGD closed form with (1 - alpha h)^t instead of ^(2t)
    s_star = alpha * h * sigma**2 / (2 - a)
    status, detail = _variant("nqm.moments", 30, rhs=s_star + (1 - a) ** t * (nqm.s0 - s_star))
    assert status == "failed" and "induction" in detail


def test_wrong_adjoint_fails():
    d_alpha, d_mu = nqm.adjoint_partials()
    bad = ImmutableMatrix([d_alpha[0], d_alpha[1], -(h - alpha * h**2) * X - 2 * h * mu * Y + 2 * alpha * h**2 * sigma**2])
    assert _variant("nqm.adjoint", 3, rhs=bad)[0] == "failed"
    bad = ImmutableMatrix([d_mu[0], 2 * mu * W + 2 * alpha * h * Y, d_mu[2]])
    assert _variant("nqm.adjoint", 4, rhs=bad)[0] == "failed"


def test_wrong_greedy_sgd_fails():
    # alpha_greedy without sigma^2 in the denominator: the factorisation f' = A (alpha - alpha_g) fails
    no_noise = Sum(hs[i] ** 2 * Xs[i], (i, 1, d)) / Sum(hs[i] ** 3 * Xs[i], (i, 1, d))
    der = registry.get("nqm.greedy-sgd")
    bad = der.replace_step(6, dataclasses.replace(der.steps[5], rhs=no_noise))
    res = bad.verify_step(7)
    assert res.status == "failed"
    assert bad.verify().ok is False
    # f'' with h^2 instead of h^3
    assert _variant("nqm.greedy-sgd", 5, rhs=Sum(hs[i] ** 2 * (Xs[i] + sigmas[i] ** 2), (i, 1, d)))[0] == "failed"


def test_wrong_greedy_momentum_fails():
    der = registry.get("nqm.greedy-momentum")
    sA, sB, sC, sD, sE = (der.steps[k].lhs for k in range(3, 8))  # the symbols A..E of steps 4-8
    assert str(sA) == "A" and str(sE) == "E"
    # a sign slip in Cramer's rule for mu
    bad = der.replace_step(16, dataclasses.replace(der.steps[15], rhs=(sB * sD + sA * sE) / (sA * sC - sB**2)))
    assert bad.verify_step(17).status == "failed"
    # gradient with +B mu
    assert _variant("nqm.greedy-momentum", 11, rhs=sA * alpha + sB * mu - sD)[0] == "failed"
    # a too-strong certificate: AC - B^2 >= C sum h^3 (X + sigma^2) is not proved, and with the
    # sampler of step 21 a counterexample is found
    strong = sC * Sum(hs[i] ** 3 * (Xs[i] + sigmas[i] ** 2), (i, 1, d))
    assert _variant("nqm.greedy-momentum", 23, rhs=strong)[0] == "failed"
    sampled = dataclasses.replace(der.steps[20].rule, given=(21, 22))
    status, detail = _variant("nqm.greedy-momentum", 23, rhs=strong, rule=sampled)
    assert status == "failed" and "counterexample" in detail
    # and a false Cauchy-Schwarz (B^2 <= C D / 4) is refuted at the sampled instances
    wrong_cs = sC * Sum(hs[i] ** 3 * Xs[i], (i, 1, d)) / 4
    status, detail = _variant("nqm.greedy-momentum", 21, rhs=wrong_cs)
    assert status == "failed" and "counterexample" in detail


def test_wrong_greedy_1d_fails():
    m0 = nqm.m0
    # t instead of t + 1 in the learning-rate closed form
    assert _variant("nqm.greedy-1d", 14, rhs=m0 / (h * (sigma**2 + t * m0)))[0] == "failed"
    # m_t with t + 1: the induction (base case) fails
    status, detail = _variant("nqm.greedy-1d", 11, rhs=sigma**2 * m0 / (sigma**2 + (t + 1) * m0))
    assert status == "failed" and "base case" in detail
    # precision adds up with slope 1/sigma, not 1/sigma^2
    assert _variant("nqm.greedy-1d", 12, rhs=1 / m0 + t / sigma)[0] == "failed"


def test_wrong_zhang_risks_fail():
    # momentum risk with (2 + beta - alpha h)
    wrong = (1 + beta) * alpha * c_grad / (2 * batch * (1 - beta) * (2 + beta - alpha * h))
    status, detail = _variant("nqm.zhang-momentum-risk", 11, rhs=wrong)
    assert status == "failed"
    # a wrong fixed point candidate fails the fixed-point identity
    der = registry.get("nqm.zhang-momentum-risk")
    bad = der.replace_step(6, dataclasses.replace(der.steps[5], rhs=alpha**2 * c_grad / (batch * (1 - beta) * (2 + 2 * beta - alpha * h))))
    assert bad.verify_step(8).status == "failed"
    # SGD risk with (2 + alpha h)
    assert _variant("nqm.zhang-sgd-risk", 6, rhs=alpha * c_grad / (2 * batch * (2 + alpha * h)))[0] == "failed"
    # preconditioner on the wrong side: h^p instead of h^-p
    wrong = alpha * c_grad * h**p / (2 * batch * (2 - alpha * h ** (1 - p)))
    assert _variant("nqm.zhang-preconditioned-risk", 6, rhs=wrong)[0] == "failed"
    # EMA factor with (1 - gamma)^2 (the unnormalised-EMA slip)
    r_ = 1 - alpha * h
    wrong = (1 - gamma) ** 2 * (1 + gamma * r_) / ((1 + gamma) * (1 - gamma * r_))
    der = registry.get("nqm.zhang-ema-risk")
    bad = der.replace_step(9, dataclasses.replace(der.steps[8], rhs=wrong))
    assert bad.verify_step(10).status == "failed"
    # the EMA noise vector with (1 - gamma) for (1 - gamma)^2 in the u row
    (M,) = [a for a in der.steps[2].rhs.args if isinstance(a, MatMul)]
    (n_,) = [a for a in der.steps[2].rhs.args if not isinstance(a, MatMul)]
    wrong_noise = ImmutableMatrix([n_[0], n_[2], n_[2]])
    assert _variant("nqm.zhang-ema-risk", 3, rhs=MatAdd(M, wrong_noise))[0] == "failed"


def test_wrong_bound_is_not_proved():
    # phi > 1 is false: neither proved nor sampled (no sampler): failed
    assert _variant("nqm.zhang-ema-risk", 13, rel=">")[0] == "failed"
    # the transient bound with the wrong sign of the floor
    der = registry.get("nqm.zhang-sgd-risk")
    step = der.steps[9]
    assert _variant("nqm.zhang-sgd-risk", 10, rhs=step.rhs - 2 * alpha * c_grad / (2 * batch * (2 - alpha * h)))[0] == "failed"


# ------------------------------------------------------------------------------------------------
# the expectation machinery


_LAW = KnownMoments((theta, v), ((theta, nqm.m_theta), (v, nqm.m_v), (theta**2, X), (v**2, W), (theta * v, Y)))


def test_expectation_of_by_hand():
    noise = CenteredNormal(c, sigma**2)
    assert expectation_of(theta * c, [_LAW, noise]) == 0
    assert expectation_of(c**2, [_LAW, noise]) == sigma**2
    assert expectation_of(c**4, [_LAW, noise]) == 3 * sigma**4
    assert expectation_of(c**3 * theta**2, [_LAW, noise]) == 0  # vanishes before theta^2 c^... is looked up
    assert sympy.expand(expectation_of((theta + v - c) ** 2, [_LAW, noise]) - (X + 2 * Y + W + sigma**2)) == 0
    with pytest.raises(ValueError, match=r"E\[theta\*\*3\] is not among the known moments"):
        expectation_of(theta**3, [_LAW, noise])
    with pytest.raises(sympy.PolynomialError):
        expectation_of(1 / theta, [_LAW, noise])
    th = sympy.IndexedBase("theta")
    law_i = KnownMoments((th[i],), ((th[i] ** 2, Xs[i]),))
    with pytest.raises(ValueError, match="product of random sums"):
        expectation_of(Sum(th[i], (i, 1, d)) * Sum(th[i] ** 2, (i, 1, d)), [law_i])
    with pytest.raises(ValueError, match="two laws"):
        expectation_of(theta, [_LAW, CenteredNormal(theta, 1)])


def test_expectation_rule_guards():
    noise = CenteredNormal(c, sigma**2)
    # a plain Derivation does not know the rule: failed, never silently passed
    step = Step(expect(theta), "=", nqm.m_theta, "ok", Expectation((_LAW, noise)))
    assert Derivation("demo.base", "t", [step], "test").verify().statuses == ("failed",)
    assert NQMDerivation("demo.ok", "t", [step], "test").verify().statuses == ("symbolic",)
    # the left side must contain E[...]
    step = Step(theta, "=", theta, "no E", Expectation((_LAW, noise)))
    assert NQMDerivation("demo.lhs", "t", [step], "test").verify().statuses == ("failed",)
    # forgetting the update rule (no given) leaves theta' unaveraged: failed
    steps = [Step(theta_next, "=", theta + c, "update"), Step(expect(theta_next), "=", nqm.m_theta, "E", Expectation((_LAW, noise)))]
    assert NQMDerivation("demo.given", "t", steps, "test").verify().statuses == ("definition", "failed")
    steps[1] = dataclasses.replace(steps[1], rule=Expectation((_LAW, noise), given=(1,)))
    assert NQMDerivation("demo.given", "t", steps, "test").verify().statuses == ("definition", "symbolic")
    # a third moment the law does not know: a loud failure
    steps[1] = Step(expect(theta_next**3), "=", 0, "E", Expectation((_LAW, noise), given=(1,)))
    res = NQMDerivation("demo.third", "t", steps, "test").verify().results[1]
    assert res.status == "failed" and "not among the known moments" in res.detail


# ------------------------------------------------------------------------------------------------
# independent computations


def _enumerated_moments(alpha_, mu_, h_, sigma_, support):
    """E over a discrete (theta, v) law and c = +-sigma (mean 0, variance sigma^2), in Fractions,
    stepping the update rule v' = mu v - alpha h (theta - c), theta' = theta + v' directly."""
    out = [Fraction(0)] * 3
    state = [Fraction(0)] * 3
    for (th, vv), prob in support:
        state[0] += prob * th * th
        state[1] += prob * vv * vv
        state[2] += prob * th * vv
        for cc in (sigma_, -sigma_):
            vn = mu_ * vv - alpha_ * h_ * (th - cc)
            tn = th + vn
            q = prob / 2
            out[0] += q * tn * tn
            out[1] += q * vn * vn
            out[2] += q * tn * vn
    return state, out


def test_next_moments_equal_exact_enumeration():
    rng = random.Random(3)
    for _ in range(20):
        alpha_, mu_, h_, sigma_ = (Fraction(rng.randint(1, 9), rng.randint(1, 9)) for _ in range(4))
        mu_ = mu_ - 1  # may be negative
        k = rng.randint(1, 4)
        weights = [rng.randint(1, 5) for _ in range(k)]
        support = [((Fraction(rng.randint(-5, 5), 3), Fraction(rng.randint(-5, 5), 2)), Fraction(w_, sum(weights))) for w_ in weights]
        state, expected = _enumerated_moments(alpha_, mu_, h_, sigma_, support)
        q = lambda x: Rational(x.numerator, x.denominator)  # noqa: E731
        exact = nqm.next_moments(*map(q, state), q(alpha_), q(mu_), q(h_), q(sigma_) ** 2)
        assert list(exact) == [q(e) for e in expected]
        step = lambdify.moment_step_callable()
        floats = step(*map(float, state), float(alpha_), float(mu_), float(h_), float(sigma_ * sigma_))
        assert np.allclose(floats, [float(e) for e in expected], rtol=1e-12, atol=1e-12)


def _lyapunov_risk(A, b, var, h_, row=0):
    """Steady state of z' = A z + b eps, Var eps = var: P = A P A^T + var b b^T (the covariance route)."""
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float).reshape(-1, 1)
    P = scipy.linalg.solve_discrete_lyapunov(A, var * (b @ b.T))
    return 0.5 * h_ * P[row, row]


@pytest.mark.parametrize("seed", range(6))
def test_steady_state_risks_equal_the_lyapunov_fixed_point(seed):
    rng = np.random.default_rng(seed)
    h_, c_, B_ = rng.uniform(0.05, 2.0), rng.uniform(0.1, 3.0), float(rng.integers(1, 64))
    var = c_ / B_
    a_ = rng.uniform(0.05, 1.9)
    alpha_ = a_ / h_
    # SGD
    got = lambdify.steady_state_risk_callable("sgd")(alpha_, h_, c_, B_)
    assert got == pytest.approx(_lyapunov_risk([[1 - a_]], [-alpha_], var, h_), rel=1e-10)
    # heavy ball: (theta, v), v' = beta v - alpha (h theta + eps), theta' = theta + v'
    beta_ = rng.uniform(0.0, 0.95)
    A = [[1 - a_, beta_], [-a_, beta_]]
    got = lambdify.steady_state_risk_callable("momentum")(alpha_, h_, c_, B_, beta_)
    assert got == pytest.approx(_lyapunov_risk(A, [-alpha_, -alpha_], var, h_), rel=1e-9)
    # preconditioned: theta' = theta - alpha h^-p (h theta + eps)
    p_ = rng.uniform(0.0, 1.0)
    alpha_p = rng.uniform(0.05, 1.9) / h_ ** (1 - p_)
    got = lambdify.steady_state_risk_callable("preconditioned")(alpha_p, h_, c_, B_, p_)
    want = _lyapunov_risk([[1 - alpha_p * h_ ** (1 - p_)]], [-alpha_p * h_ ** (-p_)], var, h_)
    assert got == pytest.approx(want, rel=1e-10)
    # EMA: (theta, u), u' = gamma u + (1 - gamma) theta'
    g_ = rng.uniform(0.05, 0.99)
    r_ = 1 - a_
    A = [[r_, 0.0], [(1 - g_) * r_, g_]]
    got = lambdify.steady_state_risk_callable("ema")(alpha_, h_, c_, B_, g_)
    assert got == pytest.approx(_lyapunov_risk(A, [-alpha_, -(1 - g_) * alpha_], var, h_, row=1), rel=1e-9)
    assert 0 < float(nqm.ema_factor_expr().subs({alpha: alpha_, h: h_, gamma: g_})) < 1


def _concrete(expr, dim, values):
    e = expr.xreplace({d: Integer(dim)}).doit()
    return float(e.xreplace(values))


@pytest.mark.parametrize("seed", range(4))
def test_greedy_closed_forms_equal_a_numerical_minimiser(seed):
    rng = np.random.default_rng(10 + seed)
    dim = 3
    hv = rng.uniform(0.05, 1.0, dim)
    s2 = rng.uniform(0.1, 2.0, dim)
    Xv = rng.uniform(0.1, 2.0, dim)
    Wv = rng.uniform(0.0, 1.0, dim)
    Yv = rng.uniform(-1, 1, dim) * np.sqrt(Xv * Wv)
    step = lambdify.moment_step_callable()

    def f(x):  # one-step expected loss, through the moment map
        a_, m_ = x
        return sum(0.5 * hv[k] * (step(Xv[k], Wv[k], Yv[k], a_, m_, hv[k], s2[k])[0] + s2[k]) for k in range(dim))

    values = {}
    for k in range(dim):
        values.update({hs[k + 1]: hv[k], Xs[k + 1]: Xv[k], Ws[k + 1]: Wv[k], Ys[k + 1]: Yv[k], sigmas[k + 1]: np.sqrt(s2[k])})
    a_sgd = _concrete(nqm.greedy_eta_sgd_expr(), dim, values)
    res = scipy.optimize.minimize_scalar(lambda a_: f((a_, 0.0)), bounds=(0, 50), method="bounded", options={"xatol": 1e-12})
    assert a_sgd == pytest.approx(res.x, rel=1e-6)
    a_g, m_g = (_concrete(e, dim, values) for e in nqm.greedy_eta_mu_expr())
    res = scipy.optimize.minimize(f, x0=[a_sgd, 0.0], method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 4000})
    assert a_g == pytest.approx(res.x[0], rel=1e-5, abs=1e-7) and m_g == pytest.approx(res.x[1], rel=1e-5, abs=1e-7)
    assert f((a_g, m_g)) <= res.fun + 1e-12


def test_greedy_1d_closed_form_equals_iterating_the_greedy_rule():
    rng = random.Random(5)
    for _ in range(5):
        m0, s2, hv = (Fraction(rng.randint(1, 50), rng.randint(1, 10)) for _ in range(3))
        m_ = m0
        a_t, m_t = nqm.greedy_1d_expr()
        for tt in range(50):
            a_ = m_ / (hv * (m_ + s2))  # the greedy rule at the current moment
            subs = {t: tt, nqm.m0: Rational(m0.numerator, m0.denominator), h: Rational(hv.numerator, hv.denominator),
                    sigma: sqrt(Rational(s2.numerator, s2.denominator))}
            assert a_t.subs(subs) == Rational(a_.numerator, a_.denominator)
            assert m_t.subs(subs) == Rational(m_.numerator, m_.denominator)
            m_ = (1 - a_ * hv) ** 2 * m_ + a_ * a_ * hv * hv * s2


def test_expression_helpers():
    assert nqm.RISK_KINDS == ("sgd", "momentum", "preconditioned", "ema")
    with pytest.raises(ValueError, match="kind must be one of"):
        nqm.steady_state_risk("adam")
    assert sympy.simplify(nqm.steady_state_risk("preconditioned").subs(p, 0) - nqm.steady_state_risk("sgd")) == 0
    assert sympy.simplify(nqm.steady_state_risk("ema").subs(gamma, 0) - nqm.steady_state_risk("sgd")) == 0
    M = nqm.transition_matrix(alpha * h, mu)
    assert M.shape == (3, 3) and isinstance(M, ImmutableMatrix)
    d_alpha, d_mu = nqm.adjoint_partials()
    s_next = nqm.next_moments()
    assert (s_next.diff(alpha) - d_alpha).applyfunc(sympy.expand) == sympy.zeros(3, 1)
    assert (s_next.diff(mu) - d_mu).applyfunc(sympy.expand) == sympy.zeros(3, 1)
