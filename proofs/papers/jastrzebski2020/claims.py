r"""Jastrzębski, Szymczak, Fort, Arpit, Tabor, Cho & Geras (ICLR 2020): the break-even point of SGD
(claims).

*The Break-Even Point on Optimization Trajectories of Deep Neural Networks*. The paper's Eq. 1 is a
stability condition of SGD along the top Hessian direction; its conjectures (a larger learning rate
or a smaller batch keeps the top curvature and gradient-covariance eigenvalues lower, and the
conditioning better) are shown on large networks. Here, with the checkable items B1-B7 of the
paper's digest:

- B1: Eq. 1 is *exactly* the mean-square factor E[(1 - eta h_B)^2] of the projected quadratic
  model with minibatches drawn without replacement (SymPy; all minibatches enumerated in exact
  rationals; Monte Carlo); for S = N it is 0 <= eta lambda <= 2.
- B2: the critical step size and the break-even curvature lambda* = 2/(eta (1 + kappa^2 c(S))),
  decreasing in eta and increasing in S, and the first crossing of Eq. 1 along an increasing
  curvature trajectory.
- B3: mean-square instability is not divergence: the almost-sure rate E log|1 - eta h_B| can be
  negative where Eq. 1 fails, and SGD then converges.
- B4: the two-parameter uv-model: after break-even the final top curvature is at most 2/eta; its
  running maximum is not (the catapult overshoot).
- B5: the measurement tools: Lanczos with Hessian-vector products and power iteration with
  finite-difference products against dense eigenvalues; the Gram trick for the gradient covariance.
- B6: a small tanh MLP, a soft trend registered in advance: max lambda_K^1 falls with eta.
- B7: the alpha* stability proxy (the 20% rule) is (1 + sqrt(1.2))/(eta lambda) on a quadratic.

Independence: the closed forms (``numerics.break_even.stability``) are checked against an
enumeration of every minibatch (``numerics.break_even.enumeration``, exact rationals), Monte Carlo
(``numerics.break_even.montecarlo``) and SymPy derivations (``theory.break_even``); the curvature
tools against dense ``eigvalsh``/``eigh``.

Negative controls ``jastrzebski2020.neg.*`` are false variants that must be refuted; findings
``jastrzebski2020.finding.*`` record reference numbers or soft predictions that do not reproduce
(``expect="refuted"``, with the measurement as counterexample). Run them with
``l2l check jastrzebski2020 --profile ci``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

from l2l.proofs import strategies as ps
from l2l.proofs.claim import claim, evidence, refute
from l2l.proofs.papers.jastrzebski2020 import PAPER

from . import experiments as X

SOURCE = PAPER.short  # "Jastrzębski et al. (2020)"
EPS = float(np.finfo(np.float64).eps)
EQ1 = f"{SOURCE}, Eq. 1 (SGD stability along the top Hessian direction)"
BREAK_EVEN = f"{SOURCE}, Section 3 (the break-even point: a larger learning rate or a smaller batch reaches it at a smaller curvature)"
ALPHA = f"{SOURCE}, Section 4.1 (the stability proxy alpha*: the 20% loss-increase rule)"
CONJ1 = f"{SOURCE}, Conjecture 1 (variance reduction effect of SGD)"
MEASURE = f"{SOURCE}, Section 4 and Appendix B (Lanczos for the top Hessian eigenvalue; the gradient covariance K)"


def _derivation(name: str):
    from l2l.theory.registry import verified

    return verified(name)


def _fractions(h) -> list[Fraction]:
    return [Fraction(float(x)) for x in h]


# =============================================================================================
# B1: Eq. 1 is the exact mean-square factor


@claim(
    id="jastrzebski2020.b1.eq1-derivation",
    shares="derivation:break_even.mean-square-factor",
    statement=r"\mathbb E\big[(1-\eta h_B)^2\big]=(1-\eta\lambda)^2+\eta^2s^2\,\frac{N-S}{S(N-1)},\quad "
    r"h_B=\frac1S\sum_{i\in B}h_i,\ B \text{ drawn without replacement}",
    source=f"{EQ1}; the finite-population factor is derived here",
    kind="identity",
    tag="derived",
)
def b1_derivation():
    """SymPy derivation ``break_even.mean-square-factor``: the variance of a sample mean drawn
    without replacement, from the indicators' first and second moments."""
    return _derivation("break_even.mean-square-factor")


@claim(
    id="jastrzebski2020.b1.with-replacement-derivation",
    shares="derivation:break_even.with-replacement",
    statement=r"\text{with replacement: } \mathbb E\big[(1-\eta h_B)^2\big]=(1-\eta\lambda)^2+\frac{\eta^2s^2}{S}",
    source=f"{EQ1}; the with-replacement variant, for comparison (derived here)",
    kind="identity",
    tag="derived",
)
def b1_with_replacement_derivation():
    return _derivation("break_even.with-replacement")


@claim(
    id="jastrzebski2020.b1.closed-form-vs-enumeration",
    statement=r"(1-\eta\lambda)^2+\eta^2s^2c(S) = \binom{N}{S}^{-1}\sum_{|B|=S}(1-\eta h_B)^2,\quad "
    r"c(S)=\frac{N-S}{S(N-1)};\ \text{with replacement } c=\frac1S,\ N^{-S}\sum_{B\in[N]^S}",
    source=f"{EQ1}; checked here against every minibatch",
    kind="identity",
    tag="derived",
    assumptions=r"$N\le12$, $h_i\in[0,5]$, $\eta\in[0,3]$, at most 2000 minibatches, both samplings",
    tolerance="|closed form - exact rational enumeration| <= 64 eps x (the enumerated value + eta^2 s^2 c + 1): "
    "the closed form is a sum of two non-negative float64 terms, each from an exactly rounded mean and "
    "variance and a few products (a few ulps each); the enumeration is exact",
    examples={"ci": 40, "dev": 150, "thorough": 600},
)
@given(data=st.data(), eta=st.floats(0.0, 3.0), sampling=st.sampled_from(["without_replacement", "with_replacement"]))
def b1_enumeration(data, eta, sampling):
    from l2l.numerics.break_even.enumeration import enumerate_mean_square_factor
    from l2l.numerics.break_even.stability import curvature_moments, finite_population_factor, mean_square_factor

    h, S = data.draw(ps.curvature_batches(max_batches=2000, sampling=sampling), label="(h, S)")
    exact = enumerate_mean_square_factor(_fractions(h), Fraction(eta), S, sampling=sampling)
    got = float(mean_square_factor(h, eta, S, sampling=sampling))
    _, s2 = curvature_moments(h)
    scale = float(exact) + eta * eta * float(s2) * float(finite_population_factor(h.size, S, sampling=sampling)) + 1.0
    assert abs(Fraction(got) - exact) <= Fraction(64 * EPS * scale), (got, float(exact), S, sampling)


@claim(
    id="jastrzebski2020.b1.monte-carlo",
    statement=r"N=20,\ h\sim U(0.2,3),\ S\in\{1,20\},\ \eta\in\{0.3,0.7\}:\ \text{Monte Carlo of } "
    r"(1-\eta h_B)^2 \text{ with } 2\cdot10^5 \text{ draws agrees with Eq. 1 to 3 decimals}",
    source=f"{EQ1}; the digest's Monte Carlo check (derived)",
    kind="identity",
    tag="derived",
    tolerance="|MC - closed form| <= 5 standard errors of the 2e5-draw mean (at S = N, where there is no sampling "
    "noise, within 64 eps of it); h from default_rng(0). The digest's "
    "'3 decimals' is reported as evidence but not asserted: at S = 1 the standard error is about 7e-4, so a sound "
    "Monte Carlo mean differs in the third decimal about one time in seven",
)
def b1_monte_carlo():
    from l2l.numerics.break_even.montecarlo import simulate_mean_square_factor
    from l2l.numerics.break_even.stability import mean_square_factor

    h = np.random.default_rng(0).uniform(0.2, 3.0, 20)
    bad = []
    for S in (1, 20):
        for eta in (0.3, 0.7):
            exact = float(mean_square_factor(h, eta, S))
            mc = simulate_mean_square_factor(h, eta, S, draws=200_000, seed=S * 10 + int(eta * 10))
            if S == h.size:  # every batch is the whole set: no sampling noise, only the rounding of the batch mean
                z = 0.0 if abs(mc.mean - exact) <= 64 * EPS * exact else math.inf
            else:
                z = (mc.mean - exact) / mc.stderr
            evidence(f"S = {S}, eta = {eta}: closed form, Monte Carlo, z, equal to 3 decimals",
                     [exact, mc.mean, z, round(exact, 3) == round(mc.mean, 3)])
            if abs(z) > 5:
                bad.append((S, eta, exact, mc.mean, z))
    if bad:
        refute("Monte Carlo disagrees with Eq. 1", cases=bad)


@claim(
    id="jastrzebski2020.b1.full-batch",
    statement=r"S=N:\ \mathbb E\big[(1-\eta h_B)^2\big]=(1-\eta\lambda)^2,\ \text{so Eq. 1} \iff 0\le\eta\lambda\le2",
    source=f"{EQ1} (the paper: for full-batch training break-even is at lambda = 2/eta)",
    kind="identity",
    tag="paper",
    tolerance="factor == (1 - eta lambda)^2 to 4 ulps of the exact rational value (also where 1 - eta lambda "
    "cancels); the verdict factor <= 1 equals 0 <= eta lambda <= 2 except within "
    "1e-12 of the boundary, where float64 rounding decides",
    examples={"ci": 30, "dev": 100, "thorough": 400},
)
@given(inst=ps.curvature_batches(h_range=(0.01, 5.0)), eta=st.floats(0.0, 3.0))
def b1_full_batch(inst, eta):
    from l2l.numerics.break_even.stability import curvature_moments, mean_square_factor

    h, _ = inst
    lam, _ = curvature_moments(h)
    f = float(mean_square_factor(h, eta, h.size))
    exact_lam = sum(_fractions(h), Fraction(0)) / h.size
    want = (1 - Fraction(eta) * exact_lam) ** 2  # exact: 1 - eta lambda cancels near eta lambda = 1
    assert abs(Fraction(f) - want) <= Fraction(4 * EPS) * want + Fraction(1, 10**300), (f, float(want))
    if abs(eta * lam - 2) > 1e-12:
        assert (f <= 1) == (eta * lam <= 2), (eta * lam, f)


@claim(
    id="jastrzebski2020.neg.eq1-with-replacement-factor",
    statement=r"\text{(false) Eq. 1 with the with-replacement factor } 1/S \text{ in place of } \frac{N-S}{S(N-1)} "
    r"\text{ gives } \mathbb E[(1-\eta h_B)^2] \text{ for batches drawn without replacement}",
    source=f"negative control for {EQ1}",
    kind="identity",
    expect="refuted",
    tag="derived",
    examples={"ci": 30, "dev": 100, "thorough": 300},
)
@given(inst=ps.curvature_batches(max_batches=2000), eta=st.floats(0.0, 3.0))
def neg_with_replacement(inst, eta):
    from l2l.numerics.break_even.enumeration import enumerate_mean_square_factor
    from l2l.numerics.break_even.stability import curvature_moments

    h, S = inst
    lam, s2 = curvature_moments(h)
    wrong = (1 - eta * lam) ** 2 + eta * eta * s2 / S
    exact = float(enumerate_mean_square_factor(_fractions(h), Fraction(eta), S))
    assert abs(wrong - exact) <= 1e-9 * max(exact, 1.0), (wrong, exact, S, h.size)


# =============================================================================================
# B2: the critical step size and the break-even curvature


@claim(
    id="jastrzebski2020.b2.critical-step-derivation",
    shares="derivation:break_even.critical-step",
    statement=r"\eta>0,\ \lambda>0:\ (1-\eta\lambda)^2+\eta^2s^2c\le1 \iff \eta\le\eta_{\mathrm{crit}}=\frac{2\lambda}{\lambda^2+s^2c}",
    source=f"{EQ1}; solved for eta here",
    kind="identity",
    tag="derived",
)
def b2_critical_step_derivation():
    return _derivation("break_even.critical-step")


@claim(
    id="jastrzebski2020.b2.curvature-derivation",
    shares="derivation:break_even.curvature",
    statement=r"s=\kappa\lambda:\ \lambda^*(\eta,S)=\frac{2}{\eta(1+\kappa^2c(S))},\ "
    r"\frac{\partial\lambda^*}{\partial\eta}<0,\ c(S)\ \text{decreasing, so}\ \lambda^*\ \text{increasing in } S",
    source=f"{BREAK_EVEN}; the closed form under s = kappa lambda is derived here (the paper proves the monotonicity in its Appendix A)",
    kind="identity",
    tag="derived",
)
def b2_curvature_derivation():
    return _derivation("break_even.curvature")


@claim(
    id="jastrzebski2020.b2.critical-step-is-the-boundary",
    statement=r"\text{factor}(\eta_{\mathrm{crit}})=1,\ \text{factor}<1 \text{ on } (0,\eta_{\mathrm{crit}}),\ >1 \text{ beyond}",
    source=f"{EQ1}; checked numerically here against the enumerated factor",
    kind="identity",
    tag="derived",
    assumptions=r"$h_i\in[0.01,5]$, $N\le12$, both samplings, at most 2000 minibatches",
    tolerance="exact rational enumeration at eta_crit (float64) within 1e-12 of 1; at 0.999 and 1.001 eta_crit strictly "
    "below and above 1 (the factor's slope there is 2 lambda eta_crit / eta_crit, far above the 1e-12 rounding)",
    examples={"ci": 30, "dev": 100, "thorough": 400},
)
@given(data=st.data(), sampling=st.sampled_from(["without_replacement", "with_replacement"]))
def b2_boundary(data, sampling):
    from l2l.numerics.break_even.enumeration import enumerate_mean_square_factor
    from l2l.numerics.break_even.stability import critical_step

    h, S = data.draw(ps.curvature_batches(h_range=(0.01, 5.0), max_batches=2000, sampling=sampling), label="(h, S)")
    crit = float(critical_step(h, S, sampling=sampling))
    hf = _fractions(h)
    at = enumerate_mean_square_factor(hf, Fraction(crit), S, sampling=sampling)
    assert abs(at - 1) <= Fraction(1, 10**12), float(at)
    assert enumerate_mean_square_factor(hf, Fraction(crit * 0.999), S, sampling=sampling) < 1
    assert enumerate_mean_square_factor(hf, Fraction(crit * 1.001), S, sampling=sampling) > 1


@st.composite
def _trajectories(draw):
    """N, S_1 < S_2, eta_1 < eta_2, kappa, and an increasing curvature trajectory lambda(t)."""
    n = draw(st.integers(2, 10**5))
    s1 = draw(st.integers(1, n - 1))
    s2 = draw(st.integers(s1 + 1, n))
    e1 = draw(st.floats(1e-3, 1.0))
    e2 = e1 * draw(st.floats(1.001, 10.0))
    kappa = draw(st.floats(0.0, 10.0))
    steps = draw(st.lists(st.floats(1e-3, 1.0), min_size=2, max_size=60))
    lam = np.cumsum(steps) * draw(st.floats(0.1, 100.0))
    return n, s1, s2, e1, e2, kappa, lam


def _crossing(lam, eta, kappa, n, S):
    """First index of the trajectory where Eq. 1 fails (factor > 1), or None, by the closed form."""
    from l2l.numerics.break_even.stability import finite_population_factor

    c = float(finite_population_factor(n, S))
    factor = (1 - eta * lam) ** 2 + eta * eta * (kappa * lam) ** 2 * c
    idx = np.flatnonzero(factor > 1)
    return None if idx.size == 0 else int(idx[0])


@claim(
    id="jastrzebski2020.b2.earlier-break-even",
    statement=r"\lambda(t)\uparrow,\ s=\kappa\lambda:\ \eta_2>\eta_1 \text{ (or } S_1<S_2\text{) crosses Eq. 1 no later and at no larger } \lambda",
    source=BREAK_EVEN,
    kind="trend",
    tag="paper",
    assumptions=r"$N\in[2,10^5]$, $1\le S_1<S_2\le N$, $0<\eta_1<\eta_2\le10$, $\kappa\in[0,10]$, increasing $\lambda(t)$ (2-60 points)",
    tolerance="exact comparison of the first crossing indices (a crossing with no counterpart counts as later)",
    examples={"ci": 60, "dev": 300, "thorough": 2000},
)
@given(tr=_trajectories())
def b2_earlier(tr):
    n, s1, s2, e1, e2, kappa, lam = tr
    late = len(lam)
    for (big, small, S_big, S_small) in ((e2, e1, s2, s2), (e1, e1, s1, s2)):
        a = _crossing(lam, big, kappa, n, S_big)
        b = _crossing(lam, small, kappa, n, S_small)
        a_, b_ = late if a is None else a, late if b is None else b
        assert a_ <= b_, (big, small, S_big, S_small, a, b)


@claim(
    id="jastrzebski2020.b2.break-even-curvature-monotone",
    statement=r"\lambda^*(\eta,S)=\frac{2}{\eta(1+\kappa^2c(S))}:\ \text{Eq. 1 holds with equality there; strictly decreasing in } \eta, "
    r"\text{increasing in } S \ (\text{strictly when } \kappa>0)",
    source=f"{BREAK_EVEN}; numerical check of the closed form",
    kind="identity",
    tag="derived",
    assumptions=r"$N\in[2,10^5]$, $1\le S<N$, $\eta\in[10^{-3},10]$, $\kappa\in[0,10]$",
    tolerance="factor at lambda* equal to 1 within 16 eps (1 + kappa^2); the order in eta strict; in S strict when "
    "kappa^2 (c(S) - c(S+1)) exceeds 8 eps (1 + kappa^2 c(S)), the relative change float64 can resolve, else non-strict",
    examples={"ci": 60, "dev": 300, "thorough": 2000},
)
@given(n=st.integers(2, 10**5), data=st.data(), eta=st.floats(1e-3, 10.0), kappa=st.floats(0.0, 10.0))
def b2_curvature_monotone(n, data, eta, kappa):
    from l2l.numerics.break_even.stability import break_even_curvature, finite_population_factor

    S = data.draw(st.integers(1, n - 1))
    lam = float(break_even_curvature(eta, kappa, n, S))
    c = float(finite_population_factor(n, S))
    f = (1 - eta * lam) ** 2 + eta * eta * (kappa * lam) ** 2 * c
    assert abs(f - 1) <= 16 * EPS * (1 + kappa * kappa) * (1 + eta * lam) ** 2, f
    assert float(break_even_curvature(eta * 1.01, kappa, n, S)) < lam
    bigger = float(break_even_curvature(eta, kappa, n, S + 1))
    step = kappa * kappa * n / (S * (S + 1) * (n - 1))  # kappa^2 (c(S) - c(S + 1)), exact algebra
    assert bigger > lam if step > 8 * EPS * (1 + kappa * kappa * c) else bigger >= lam, (bigger, lam, step)


# =============================================================================================
# B7: the alpha* proxy


@claim(
    id="jastrzebski2020.b7.alpha-star-derivation",
    shares="derivation:break_even.alpha-star",
    statement=r"\frac{\mathcal L(\theta-\alpha(\theta-\theta'))}{\mathcal L(\theta)}=(1-\alpha\eta\lambda)^2 \Rightarrow "
    r"\alpha^*=\frac{1+\sqrt{6/5}}{\eta\lambda}",
    source=f"{ALPHA}; the closed form on a quadratic is derived here",
    kind="identity",
    tag="derived",
)
def b7_derivation():
    return _derivation("break_even.alpha-star")


@claim(
    id="jastrzebski2020.b7.alpha-star-on-a-quadratic",
    statement=r"\theta\parallel e_H^1,\ \theta'=\theta-\eta H\theta:\ \alpha^*=\frac{1+\sqrt{1.2}}{\eta\lambda_H^1} "
    r"\text{ (the smallest } \alpha \text{ with } \mathcal L\ge1.2\,\mathcal L(\theta))",
    source=ALPHA,
    kind="identity",
    tag="derived",
    assumptions=r"random quadratic $\frac12\theta^\top H\theta$, $d\in[2,8]$, eigenvalues in $[0.1,10]$, "
    r"$\eta\lambda_H^1\in[0.05,1.9]$, $\theta$ a multiple of the top eigenvector",
    tolerance="1e-8 relative: the bisection's 1e-12 plus the float64 eigenvector's residual (1e-14 relative) "
    "amplified by the loss ratio's slope",
    examples={"ci": 25, "dev": 100, "thorough": 400},
)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 8), eta_lam=st.floats(0.05, 1.9), scale=st.floats(0.1, 10.0))
def b7_alpha_star(seed, d, eta_lam, scale):
    from l2l.numerics.break_even.stability import alpha_star

    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lams = rng.uniform(0.1, 10.0, d)
    H = (q * lams) @ q.T
    w, v = np.linalg.eigh(H)
    top = w[-1]
    eta = eta_lam / top
    theta = scale * v[:, -1]

    def loss(x):
        return 0.5 * float(x @ H @ x)

    got = alpha_star(loss, theta, theta - eta * (H @ theta))
    want = (1 + math.sqrt(1.2)) / (eta * top)
    assert got is not None and abs(got - want) <= 1e-8 * want, (got, want)


@claim(
    id="jastrzebski2020.neg.alpha-star-two",
    statement=r"\text{(false) } \alpha^*=\frac{2}{\eta\lambda} \text{ (break-even read as } \alpha^*=2 \text{ at } \eta\lambda=1\text{)}",
    source=f"negative control for {ALPHA}",
    kind="identity",
    expect="refuted",
    tag="derived",
    examples={"ci": 10, "dev": 30, "thorough": 100},
)
@given(eta_lam=st.floats(0.05, 1.9))
def neg_alpha_two(eta_lam):
    from l2l.numerics.break_even.stability import alpha_star

    got = alpha_star(lambda x: 0.5 * float(x @ x), np.array([1.0]), np.array([1.0 - eta_lam]))
    assert got is not None and abs(got - 2 / eta_lam) <= 1e-3 * (2 / eta_lam), (got, 2 / eta_lam)


# =============================================================================================
# B3: mean-square against almost-sure stability


@claim(
    id="jastrzebski2020.b3.mean-square-is-not-almost-sure",
    shares="jastrzebski2020:uv-sgd",
    statement=r"\text{uv-model, SGD } S=2,\ \eta=0.4:\ \mathbb E[(1-\eta h_B)^2]>1 \text{ (Eq. 1 fails) at the point SGD converges to, "
    r"yet } \mathbb E\log|1-\eta h_B|<0",
    source=f"{EQ1}; Eq. 1 is a mean-square condition: its failure is not divergence (derived here)",
    kind="identity",
    tag="derived",
    tolerance="the factor by the closed form, the rate exactly by enumerating the C(64, 2) = 2016 minibatches and also "
    "against Monte Carlo (2e5 draws) within 5 standard errors; convergence as reported by the run (|uv - 1| <= 1e-8)",
)
def b3_mean_square():
    from l2l.numerics.break_even.enumeration import enumerate_mean_square_factor
    from l2l.numerics.break_even.montecarlo import simulate_log_rate

    from l2l.proofs.report.figures import publish

    t = X.uv_sgd_table()
    publish(X.STABILITY_FIGURE, X.stability_table())
    h = np.array(t["h"])
    mc = simulate_log_rate(h, X.UV_SGD_ETA, X.UV_SGD_S, draws=200_000, seed=1)
    z = (mc.mean - t["log_rate"]) / mc.stderr
    enumerated = float(enumerate_mean_square_factor(h, X.UV_SGD_ETA, X.UV_SGD_S))
    evidence("seed 0, final point: E[(1 - eta h_B)^2] (closed form, enumerated), E log|1 - eta h_B| (exact), Monte Carlo rate, z",
             [t["factor"], enumerated, t["log_rate"], mc.mean, z])
    ok = t["status"][0] == "converged" and t["factor"] > 1 and enumerated > 1 and t["log_rate"] < 0 and abs(z) <= 5
    if not ok:
        refute("the uv-model does not show Eq. 1 failing where SGD converges", status=t["status"][0], factor=t["factor"],
               rate=t["log_rate"], z=z)


@claim(
    id="jastrzebski2020.b3.sgd-steps-are-minibatch-gradients",
    statement=r"\text{uv-model SGD: } (u,v)_{t+1}=(u,v)_t-\eta\,\nabla_{(u,v)}\frac1S\sum_{i\in B_t}\tfrac12(uvx_i-x_i)^2, "
    r"\ B_t \text{ drawn without replacement}",
    source=f"{EQ1}; the simulated process behind the B3 claims, checked against a loop written here",
    kind="identity",
    tag="derived",
    tolerance="the first 300 steps of 5 minibatch streams (seeds 0-4, the data of seed 0) equal to 1e-12 relative to "
    "|(u, v)|: the same operations up to float64 reassociation of the minibatch mean",
)
def b3_sgd_steps():
    """A plain loop: the minibatch indices from ``default_rng(seed).choice(64, 2, replace=False)``
    per step (the sampler the simulation documents), the gradient of the minibatch loss written out,
    (uv - 1) mean_B(x^2) (v, u)."""
    from l2l.numerics.break_even.uv import run_uv, uv_data

    x = uv_data(0)
    worst = 0.0
    for seed in range(5):
        run = run_uv(X.UV_SGD_ETA, steps=300, batch_size=X.UV_SGD_S, seed=seed, x=x)
        rng = np.random.default_rng(seed)
        u, v = 0.1, 2.0
        for t in range(300):
            idx = rng.choice(x.size, size=X.UV_SGD_S, replace=False)
            m = sum(x[i] * x[i] for i in idx) / X.UV_SGD_S
            r = u * v - 1.0
            u, v = u - X.UV_SGD_ETA * r * m * v, v - X.UV_SGD_ETA * r * m * u
            got = run.theta[t + 1]
            worst = max(worst, float(np.hypot(got[0] - u, got[1] - v) / np.hypot(u, v)))
    evidence("largest relative difference over 5 seeds x 300 steps", worst)
    assert worst <= 1e-12, worst


@claim(
    id="jastrzebski2020.finding.b3-reference-values",
    shares="jastrzebski2020:uv-sgd",
    statement=r"\text{uv-model, SGD } S=2,\ \eta=0.4,\ \text{seed 0}:\ \mathbb E[(1-\eta h_B)^2]=1.67,\ "
    r"\mathbb E\log|1-\eta h_B|=-0.45;\ \text{converged in 20/20 seeds}",
    source=f"{EQ1}; reference values computed for the uv-model (derived)",
    kind="identity",
    expect="refuted",
    tag="derived",
    tolerance="equal to the printed digits (2 decimals); the data of seed 0 (``uv_data(0)``) fixed and minibatch "
    "seeds 0-19. With the data redrawn per seed (the other reading of '20 seeds') the count is reported as evidence",
)
def b3_reference():
    """A finding, small but real: the rate (-0.448) and the 20 of 20 reproduce, the factor does not
    to its printed digits: 1.6760 rounds to 1.68 (the printed 1.67 would be a truncation). With the
    data redrawn per seed instead, seed 8 diverges (19 of 20) and seed 0's factor is 1.91."""
    t = X.uv_sgd_table()
    converged = sum(s == "converged" for s in t["status"].values())
    redrawn = {s: st_ for s, st_ in t["redrawn_status"].items() if st_ != "converged"}
    evidence("factor, rate at the final point of seed 0", [t["factor"], t["log_rate"]],
             expected=[X.UV_SGD_SPEC["factor"], X.UV_SGD_SPEC["log_rate"]])
    evidence("seeds converged of 20 (data of seed 0)", converged, expected=X.UV_SGD_SPEC["converged"])
    evidence("with the data redrawn per seed: seeds that did not converge", redrawn)
    if not (round(t["factor"], 2) == X.UV_SGD_SPEC["factor"] and round(t["log_rate"], 2) == X.UV_SGD_SPEC["log_rate"]
            and converged == X.UV_SGD_SPEC["converged"]):
        refute("a reference value of the SGD run is not reproduced", factor=t["factor"], rate=t["log_rate"], converged=converged)


@claim(
    id="jastrzebski2020.neg.mean-square-instability-implies-divergence",
    shares="jastrzebski2020:uv-sgd",
    statement=r"\text{(false) where Eq. 1 fails, SGD diverges: } \mathbb E[(1-\eta h_B)^2]>1 \text{ at a point "
    r"} \Rightarrow \text{SGD does not converge to it}",
    source=f"negative control for {EQ1} (tie Eq. 1 to bounded second moments, never to divergence)",
    kind="identity",
    expect="refuted",
    tag="derived",
)
def neg_mean_square_divergence():
    t = X.uv_sgd_table()
    converged = [s for s, st_ in t["status"].items() if st_ == "converged"]
    evidence("Eq. 1 factor at the final point of seed 0; seeds that converged", [t["factor"], len(converged)])
    if t["factor"] > 1 and converged:
        refute("SGD converged to a point where the mean-square factor exceeds 1", factor=t["factor"],
               converged_seeds=converged)


# =============================================================================================
# B4: the uv-model


@claim(
    id="jastrzebski2020.b4.uv-final-curvature-capped",
    shares="jastrzebski2020:uv-gd",
    statement=r"\text{uv-model, GD, 3000 steps: the converged } \lambda_H^1\le2/\eta\ \text{and, once } 2/\eta<4.45, "
    r"\text{ the final } \lambda_H^1 \text{ is non-increasing in } \eta",
    source=f"{BREAK_EVEN}; a two-parameter analogue (derived)",
    kind="trend",
    tag="analogue",
    tolerance="final lambda_H^1 <= 2/eta (1 + 1e-9): on the minimum manifold the GD map's stability is exactly "
    "eta lambda <= 2, and 3000 steps converge to 1e-8 in |uv - 1|; monotonicity exact",
)
def b4_capped():
    from l2l.proofs.report.figures import publish

    t = X.uv_gd_table()
    publish(X.UV_FIGURE, t)
    finals = [t[str(e)]["final"] for e in X.UV_ETAS]
    evidence("final lambda_H^1 for eta = " + ", ".join(map(str, X.UV_ETAS)), finals)
    evidence("2/eta", [2 / e for e in X.UV_ETAS])
    bad = [(e, t[str(e)]) for e in X.UV_ETAS if t[str(e)]["status"] != "converged" or t[str(e)]["final"] > 2 / e * (1 + 1e-9)]
    capped = [e for e in X.UV_ETAS if 2 / e < 4.45]
    for a, b in zip(capped, capped[1:]):
        if t[str(b)]["final"] > t[str(a)]["final"]:
            bad.append(("not monotone", a, b))
    if bad:
        refute("the converged curvature is not capped by 2/eta", cases=bad)


@claim(
    id="jastrzebski2020.b4.uv-reference-values",
    shares="jastrzebski2020:uv-gd",
    statement=r"\text{final } \lambda_H^1=4.448,4.428,4.369,4.249,3.883,3.446 \text{ for } \eta=0.05,\dots,0.45;\ "
    r"\max_t\lambda_H^1=5.32 \text{ at } \eta=0.45",
    source=f"{BREAK_EVEN}; reference values computed for the uv-model (derived)",
    kind="identity",
    tag="derived",
    tolerance="equal to the printed digits (3 decimals; 2 for the peak)",
)
def b4_reference():
    t = X.uv_gd_table()
    got = {e: round(t[str(e)]["final"], 3) for e in X.UV_ETAS}
    peak = round(t["0.45"]["peak"], 2)
    evidence("final lambda_H^1 (3 decimals)", list(got.values()), expected=list(X.UV_SPEC_FINAL.values()))
    evidence("running max of lambda_H^1 at eta = 0.45", t["0.45"]["peak"], expected=X.UV_SPEC_PEAK[0.45])
    if got != X.UV_SPEC_FINAL or peak != X.UV_SPEC_PEAK[0.45]:
        refute("a reference value of the uv-model is not reproduced", final=got, peak=peak)


@claim(
    id="jastrzebski2020.neg.running-max-below-2-over-eta",
    shares="jastrzebski2020:uv-gd",
    statement=r"\text{(false) along the GD trajectory of the uv-model, } \max_t\lambda_H^1(t)\le2/\eta \text{ (no burn-in)}",
    source=f"negative control for {CONJ1} read without a burn-in: the catapult overshoot",
    kind="trend",
    expect="refuted",
    tag="derived",
)
def neg_running_max():
    t = X.uv_gd_table()
    over = {e: (t[str(e)]["peak"], 2 / e, t[str(e)]["peak_step"]) for e in X.UV_ETAS if t[str(e)]["peak"] > 2 / e}
    evidence("eta: (running max, 2/eta, step of the max) where the max exceeds 2/eta", over)
    if over:
        refute("lambda_H^1 overshoots 2/eta transiently (catapult)", overshoots=over)


# =============================================================================================
# B5: the measurement tools


@claim(
    id="jastrzebski2020.b5.lanczos-vs-dense",
    shares="jastrzebski2020:mlp-states",
    statement=r"\text{Lanczos with exact Hessian-vector products returns } \lambda_H^1 \text{ of the dense Hessian}",
    source=f"{MEASURE}; checked here against dense eigenvalues",
    kind="identity",
    tag="derived",
    assumptions=r"random symmetric matrices $d\in[2,300]$ with eigenvalues in $[-10,10]$; the 10-20-4 tanh MLP "
    r"(304 parameters) at its initialisation and after 40 SGD steps",
    tolerance="1e-8 relative to max|eigenvalue|: ARPACK's residual tolerance 1e-10 bounds the Ritz value's error by "
    "the squared residual over the gap; the dense eigvalsh is backward stable (d eps |H|)",
    examples={"ci": 12, "dev": 40, "thorough": 150},
)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(2, 300), mlp=st.booleans())
def b5_lanczos(seed, d, mlp):
    from l2l.numerics.break_even.curvature import top_hessian_eigenvalue

    if mlp:
        H, what = X.mlp_hessian(seed % 4)
    else:
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        H, what = (q * rng.uniform(-10, 10, d)) @ q.T, f"random d = {d}"
        H = (H + H.T) / 2
    want = float(np.linalg.eigvalsh(H)[-1])
    got = top_hessian_eigenvalue(lambda v: H @ v, H.shape[0], seed=seed % 1000)
    scale = float(np.max(np.abs(np.linalg.eigvalsh(H))))
    assert got.converged and abs(got.eigenvalue - want) <= 1e-8 * scale, (what, got.eigenvalue, want)


@claim(
    id="jastrzebski2020.b5.power-finite-difference",
    shares="jastrzebski2020:mlp-states",
    statement=r"\text{power iteration with } Hv\approx\frac{\nabla L(\theta+\epsilon v)-\nabla L(\theta-\epsilon v)}{2\epsilon} "
    r"\text{ returns } \lambda_H^1 \text{ to } 10^{-4}",
    source=f"{MEASURE}; the finite-difference recipe is checked here against dense eigenvalues",
    kind="identity",
    tag="derived",
    assumptions=r"the 10-20-4 tanh MLP (304 parameters) at four training states",
    tolerance="1e-4 relative (the digest's figure): power iteration to a 1e-6 residual, and a finite-difference "
    "product with error O(eps^2 |D^3 L|) + O(eps_mach |grad| / eps) at eps = eps_mach^(1/3)",
)
def b5_power_fd():
    from l2l.numerics.break_even.curvature import finite_difference_hvp, top_hessian_eigenvalue

    bad = []
    for state in range(4):
        problem, theta = X.mlp_state(state)
        H = problem.hessian_dense(theta)
        want = float(np.linalg.eigvalsh((H + H.T) / 2)[-1])
        got = top_hessian_eigenvalue(finite_difference_hvp(problem.grad, theta), problem.dim, method="power")
        rel = abs(got.eigenvalue - want) / abs(want)
        evidence(f"state {state}: power + finite differences, dense, relative error", [got.eigenvalue, want, rel])
        if not (got.converged and rel <= 1e-4):
            bad.append((state, got.eigenvalue, want, got.converged))
    if bad:
        refute("power iteration with finite-difference products misses lambda_H^1", cases=bad)


@st.composite
def _gradient_stacks(draw):
    """An M x D matrix of gradients, possibly of low rank r (rows in an r-dimensional subspace)."""
    m = draw(st.integers(2, 60))
    d = draw(st.integers(1, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    r = draw(st.integers(1, min(m, d)))
    scale = 10.0 ** draw(st.integers(-3, 3))
    return scale * (rng.standard_normal((m, r)) @ rng.standard_normal((r, d))), r


@claim(
    id="jastrzebski2020.b5.gram-trick",
    statement=r"\hat K=\tfrac1MG_c^\top G_c:\ \mathrm{eig}\big(\tfrac1MG_cG_c^\top\big)\setminus\{0\}=\mathrm{eig}(\hat K)\setminus\{0\},\ "
    r"\mathrm{Tr}\,\hat K=\|G_c\|_F^2/M,\ \mathrm{rank}\,\hat K\le\min(M-1,D),\ \lambda_K^*/\lambda_K^1\le\mathrm{Tr}\,\hat K/\lambda_K^1",
    source=f"{MEASURE}; the Gram trick and the trace and rank identities are derived here",
    kind="identity",
    tag="derived",
    assumptions=r"$M\in[2,60]$, $D\in[1,400]$, rank $r\le\min(M,D)$, entries scaled by $10^{-3}..10^{3}$",
    tolerance="top eigenvalue and trace within 1e-10 relative of the dense D x D eigh (both backward stable: "
    "errors of a few (M + D) eps lambda_1); rank exact above the threshold max(M, D) eps lambda_1; the ratio "
    "inequality, an equality at rank 1, up to 8 (M + D) eps relative",
    examples={"ci": 30, "dev": 100, "thorough": 400},
)
@given(inst=_gradient_stacks())
def b5_gram(inst):
    from l2l.numerics.break_even.curvature import gram_spectrum

    G, r = inst
    m, d = G.shape
    g = gram_spectrum(G)
    Gc = G - G.mean(axis=0)
    dense = np.linalg.eigvalsh(Gc.T @ Gc / m)[::-1]
    top = float(dense[0])
    assert abs(g.top_eigenvalue - top) <= 1e-10 * top, (g.top_eigenvalue, top)
    assert abs(g.trace - float(np.sum(Gc * Gc)) / m) <= 1e-10 * g.trace
    assert g.numerical_rank <= min(m - 1, d) and g.numerical_rank <= r
    assert g.numerical_rank == int(np.sum(dense > g.threshold)), (g.numerical_rank, dense[:5], g.threshold)
    if g.smallest_nonzero is not None:
        # equality when rank K = 1: allow the rounding of the trace sum and of the eigenvalue (M eps each)
        assert g.smallest_nonzero / g.top_eigenvalue <= g.trace_ratio * (1 + 8 * (m + d) * EPS)


@claim(
    id="jastrzebski2020.neg.k-has-n-minus-d-eigenvalues",
    statement=r"\text{(false) } K \text{ has } N-D \text{ nonzero eigenvalues (as the submission writes)}",
    source=f"negative control for {SOURCE}, Section 3 (the submission's count; rank K <= min(N - 1, D) instead)",
    kind="identity",
    expect="refuted",
    tag="paper",
    examples={"ci": 10, "dev": 30, "thorough": 100},
)
@given(inst=_gradient_stacks())
def neg_k_rank(inst):
    from l2l.numerics.break_even.curvature import gram_spectrum

    G, _ = inst
    m, d = G.shape
    assert gram_spectrum(G).numerical_rank == max(m - d, 0), (gram_spectrum(G).numerical_rank, m, d)


# =============================================================================================
# B6: the small MLP (soft, registered in advance)


@claim(
    id="jastrzebski2020.finding.mlp-max-lambda-k-falls-with-eta",
    statement=r"\text{10-32-4 tanh MLP, SGD } S=32,\ 10 \text{ epochs}:\ \text{the Spearman correlation of } \eta\in\{0.01,0.1,1\} "
    r"\text{ with } \max_t\lambda_K^1 \text{, averaged over 5 seeds, is negative}",
    source=f"{CONJ1}; the small-MLP analogue and its direction were registered before the run",
    kind="trend",
    expect="refuted",
    tag="analogue",
    tolerance="the seed-averaged Spearman rho must be < 0 (no threshold beyond the sign: a soft test); the records "
    f"every {X.MLP_RECORD_EVERY} steps and at the last step",
)
def b6_mlp():
    """Registered in advance as a prediction of Conjecture 1 (a larger learning rate reaches a lower
    maximum of lambda_K^1). It does not hold here, a finding about the analogue: in 14 of the 15
    runs the largest lambda_K^1 along the trajectory is its value at initialisation, the same for
    every eta of a seed, so the maxima tie; only eta = 1 at seed 0 climbs above it (0.862 against
    0.664), which makes the seed-averaged rho positive (0.17). lambda_H^1 stays between 0.69 and
    0.79, far below 2/eta even at eta = 1 (2/eta = 2): break-even is never reached, so the test is
    weak. The measurements are reported as they come; nothing was tuned."""
    table = X.mlp_table()
    rhos = []
    for seed in X.MLP_SEEDS:
        peaks = [table[str(eta)][seed]["max_lambda_K"] for eta in X.MLP_ETAS]
        rhos.append(X.spearman(list(X.MLP_ETAS), peaks))
        evidence(f"seed {seed}: max lambda_K^1 for eta = {X.MLP_ETAS}; Spearman rho", peaks + [rhos[-1]])
    for eta in X.MLP_ETAS:
        runs = [table[str(eta)][s] for s in X.MLP_SEEDS]
        evidence(f"eta = {eta}: mean over seeds of max lambda_K^1, max lambda_H^1, max Tr K / lambda_K^1; "
                 "records where max lambda_K^1 is the initial value",
                 [float(np.mean([r["max_lambda_K"] for r in runs])), float(np.mean([r["max_lambda_H"] for r in runs])),
                  float(np.mean([r["max_trace_ratio"] for r in runs])), sum(r["peak_at_start"] for r in runs)])
    rho = float(np.mean(rhos))
    evidence("seed-averaged Spearman rho(eta, max lambda_K^1)", rho, expected="< 0")
    if not rho < 0:
        refute("the maximum of lambda_K^1 does not fall with the learning rate in the small-MLP analogue", rho=rho)
