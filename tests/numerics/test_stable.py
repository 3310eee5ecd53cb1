"""numerics.quadratic.stable against the 60-digit mpmath reference (an independent direct evaluation).

Tolerances (DESIGN.md: from dtype, horizon and conditioning):

* ``log_loss`` / ``log_objective``: 1e-12 relative (the issue's contract) plus the unavoidable
  float64 error of multiplying ln|1 - eta lambda_i| by 2t, about 1e-15 x t x max_i |ln|a_i||
  absolute in ln f (2 ulps of the exponent).
* ``log_objective_grad``: backward-stable, 1e-10 x (|G'| + sum of |terms|), plus the same
  unavoidable exponent error times the sum of |terms| (each weight q_i is exp of an O(t) exponent).
* ``naive_grad_sign``: exact wherever the sign is not lost to rounding of the inputs, i.e. where
  |sum of terms| exceeds the sum of |terms| times the terms' relative sensitivity to one ulp of
  eta and lambda_i, about 2t x eps x max_i (1 + eta lambda_i / |a_i|).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from l2l.numerics import QuadraticProblem, ValidationError
from l2l.numerics.quadratic.reference import quadratic_reference
from l2l.numerics.quadratic.stable import evaluate, log_abs_one_minus
from l2l.proofs import strategies as ps

EPS = np.finfo(np.float64).eps


def _check_against_reference(problem: QuadraticProblem, eta: float, t: int) -> None:
    ev = evaluate(problem, eta, t)
    ref = quadratic_reference(problem.eigenvalues, problem.coefficients, eta, t, dps=60)
    assert np.all(np.isfinite([ev.log_objective_grad, ev.log_objective_hess])) or ref.log_loss is None
    if ref.log_loss is None:  # f(w_t) = 0 exactly
        assert bool(ev.loss_is_zero) and int(ev.naive_grad_sign) == 0
        return
    assert not bool(ev.loss_is_zero)
    growth = 1e-15 * t * float(ev.max_abs_log_factor)  # unavoidable exponent error (see module doc)
    for name in ("log_loss", "log_objective"):
        got, want = float(getattr(ev, name)), float(getattr(ref, name))
        scale = 1.0 if name == "log_loss" else 1.0 / t
        assert abs(got - want) <= 1e-12 * abs(want) + growth * scale, (name, got, want)
    g, gr = float(ev.log_objective_grad), float(ref.log_objective_grad)
    terms = float(ref.grad_abs_terms)
    assert abs(g - gr) <= 1e-10 * (abs(gr) + terms) + growth * terms, (g, gr, terms)
    # the certificate the evaluator reports is itself accurate
    assert abs(float(ev.grad_abs_terms) - terms) <= 1e-10 * terms + growth * terms
    # sign of the naive meta-gradient, where it is determined by the inputs
    a = 1 - eta * problem.eigenvalues
    nz = (a != 0) & (problem.coefficients != 0)
    sens = 2 * t * EPS * float(np.max(1 + eta * problem.eigenvalues[nz] / np.abs(a[nz]))) if nz.any() else 0.0
    naive = ref.naive_grad
    abs_sum = t * sum(
        abs(ref.ctx.mpf(float(ci)) ** 2 * ref.ctx.mpf(float(li)) ** 2 * (1 - ref.ctx.mpf(eta) * ref.ctx.mpf(float(li))) ** (2 * t - 1))
        for ci, li in zip(problem.coefficients, problem.eigenvalues)
    )
    if abs(naive) > 10 * sens * abs_sum:
        assert int(ev.naive_grad_sign) == ref.naive_grad_sign
        got_abs, want_abs = float(ev.naive_grad_log_abs), float(ref.naive_grad_log_abs)
        assert abs(got_abs - want_abs) <= 1e-12 * abs(want_abs) + growth + 1e-10 * float(abs_sum / abs(naive))


@given(
    problem=ps.quadratic_problems(max_dim=6, max_kappa=1e12),
    data=st.data(),
    t=ps.horizons(max_t=10**6),
)
def test_stable_matches_reference_up_to_1e6(problem, data, t):
    eta = data.draw(ps.step_sizes(problem, max_factor=3.0), label="eta")
    _check_against_reference(problem, eta, t)


@given(problem=ps.quadratic_problems(max_dim=4, max_kappa=1e12), data=st.data(), t=ps.horizons(max_t=10**9, min_t=10**6))
def test_stable_matches_reference_up_to_1e9(problem, data, t):
    eta = data.draw(ps.step_sizes(problem, max_factor=3.0), label="eta")
    _check_against_reference(problem, eta, t)


@pytest.mark.parametrize("t", [1, 2, 7, 1000, 10**9])
def test_exceptional_step_sizes(t):
    """0, every 1/lambda_i, 2/(L+alpha), 2/L on a kappa = 1e12 problem, at short and huge t."""
    lam = np.array([1e-12, 3e-7, 0.25, 1.0])
    problem = QuadraticProblem(lam, np.array([0.5, -0.5, 0.5, 0.5]))
    L, a = problem.L, problem.alpha
    for eta in [0.0, 2 / (L + a), 2 / L, 3 / L, *(1 / lam)]:
        _check_against_reference(problem, float(eta), t)


def test_eta_zero_is_exact_line_search_slope():
    """At eta = 0: G'(0) = -2 sum c^2 lam^2 / sum c^2 lam for every t (a = 1 for all i)."""
    lam, c = np.array([0.5, 2.0, 3.0]), np.array([0.6, 0.0, 0.8])
    ev = evaluate(QuadraticProblem(lam, c), 0.0, [1, 10**9])
    want = -2 * np.sum(c**2 * lam**2) / np.sum(c**2 * lam)
    np.testing.assert_allclose(ev.log_objective_grad, want, rtol=4 * EPS)


def test_zero_loss_is_flagged_not_nan_silently():
    """Only c_1 != 0 and eta = 1/lambda_1 exactly: f(w_t) = 0, logs are -inf and flagged."""
    p = QuadraticProblem([2.0, 3.0], [1.0, 0.0])
    ev = evaluate(p, 0.5, 5)
    assert bool(ev.loss_is_zero) and ev.log_loss == -np.inf and int(ev.naive_grad_sign) == 0
    assert ev.naive_grad_log_abs == -np.inf


@given(problem=ps.quadratic_problems(max_dim=50, max_kappa=1e12), t=ps.horizons(10**9))
def test_never_overflows_or_nans(problem, t):
    etas = np.concatenate([np.linspace(0, 3 / problem.L, 41), [2 / (problem.L + problem.alpha)], 1 / problem.eigenvalues])
    ev = evaluate(problem, etas, t)
    ok = ~ev.loss_is_zero
    for name in ("log_loss", "log_objective", "log_objective_grad", "log_objective_hess"):
        assert np.all(np.isfinite(getattr(ev, name)[ok])), name


@pytest.mark.parametrize(
    "p",
    [0.0, 1e-300, 1e-17, 0.3, 0.5, 0.5 + 2**-53, 1 - 2**-53, 1.0, 1 + 2**-52, 1.5, 2 - 2**-52, 2.0, 2.5, 3.0, 7.0, 1e300],
)
def test_log_abs_one_minus_against_mpmath(p):
    import mpmath

    ctx = mpmath.MPContext()
    ctx.dps = 50
    for eta, lam in [(p, 1.0), (p / 3.0, 3.0), (p * 1e-200, 1e200) if p < 1e100 else (p, 1.0)]:
        eta, lam = float(eta), float(lam)
        prod = ctx.mpf(eta) * ctx.mpf(lam)  # exact at 50 digits (106-bit product)
        exact = 1 - prod
        got, sign = log_abs_one_minus(np.array(eta), np.array(lam))
        if exact == 0:
            assert got == -np.inf
            continue
        want = float(ctx.log1p(-prod) if prod < 0.5 else ctx.log(abs(exact)))
        # a few ulps of ln|a|, or of 1 where ln|a| ~ 0 (the log1p branch is relative to |a| - 1)
        assert abs(float(got) - want) <= 4 * EPS * max(abs(want), 1e-300) + 4 * EPS * float(abs(abs(exact) - 1)), (eta, lam)
        assert float(sign) == float(ctx.sign(exact))


# -- metamorphic relations ------------------------------------------------------------------


@given(problem=ps.quadratic_problems(max_dim=6, max_kappa=1e6), data=st.data(), t=ps.horizons(10**4))
def test_permuting_coordinates_changes_nothing(problem, data, t):
    eta = data.draw(ps.step_sizes(problem), label="eta")
    perm = data.draw(st.permutations(range(problem.dim)), label="perm")
    q = QuadraticProblem(problem.eigenvalues[list(perm)], problem.coefficients[list(perm)])
    a, b = evaluate(problem, eta, t), evaluate(q, eta, t)
    assert bool(a.loss_is_zero) == bool(b.loss_is_zero)
    assume(not a.loss_is_zero)
    # sums in another order: rounding of d terms, relative to the sum of |terms|
    tol = 4 * problem.dim * EPS
    assert abs(float(a.log_loss) - float(b.log_loss)) <= tol * (1 + abs(float(a.log_loss)))
    assert abs(float(a.log_objective_grad) - float(b.log_objective_grad)) <= tol * float(a.grad_abs_terms)


@given(
    problem=ps.quadratic_problems(max_dim=6, max_kappa=1e6),
    data=st.data(),
    t=ps.horizons(10**4),
    log2_s=st.integers(-20, 20),
)
def test_scaling_H_and_eta(problem, data, t, log2_s):
    """H -> sH, eta -> eta/s leaves w_t unchanged: f -> s f, and dG/d eta' = s G'(eta).

    s is a power of two so that lambda s and eta/s are exact and eta lambda is unchanged bit for
    bit: the relation then holds to rounding of the final results only.
    """
    s = 2.0**log2_s
    eta = data.draw(ps.step_sizes(problem), label="eta")
    scaled = QuadraticProblem(problem.eigenvalues * s, problem.coefficients)
    a, b = evaluate(problem, eta, t), evaluate(scaled, eta / s, t)
    assert bool(a.loss_is_zero) == bool(b.loss_is_zero)
    assume(not a.loss_is_zero)
    assert abs(float(b.log_loss) - (float(a.log_loss) + math.log(s))) <= 8 * EPS * (abs(float(a.log_loss)) + abs(math.log(s)) + 1)
    # exp of an exponent of size X is rounded to X eps relative: X = |ln lambda| + |ln|a|| + |ln s|
    x = float(np.max(np.abs(np.log(problem.eigenvalues)))) + float(a.max_abs_log_factor) + abs(math.log(s))
    tol = 8 * EPS * (problem.dim + x) * s * float(a.grad_abs_terms)
    assert abs(float(b.log_objective_grad) - s * float(a.log_objective_grad)) <= tol
    assert int(a.naive_grad_sign) == int(b.naive_grad_sign)


@given(problem=ps.quadratic_problems(max_dim=5, max_kappa=1e3), data=st.data(), t=st.integers(1, 200))
def test_chain_rule_for_log_eta(problem, data, t):
    """d G / d ln(eta) = eta G'(eta): compared with a Richardson-extrapolated central difference of
    G in ln(eta) (an independent use of ``log_objective`` only).

    With h = 1e-5 the extrapolated difference has truncation error ~ h^4 |d^5 G/d(ln eta)^5|, where
    each derivative brings a factor of at most ~2t eta lambda/|a| <= 2t x 300 (eta >= 1% away from
    every 1/lambda_i), i.e. < 1e-9 relative at t <= 200; rounding adds ~ 3 eps |G| / h ~ 1e-10.
    The tolerance 1e-7 of the scale (|eta G'| + eta sum|terms| + |G|) leaves a wide margin and still
    catches any wrong term in G'.
    """
    eta = data.draw(st.floats(0.05, 2.9).map(lambda u: u / problem.L), label="eta")
    lam = problem.eigenvalues
    assume(np.all(np.abs(1 - eta * lam) > 0.01))
    h = 1e-5
    steps = np.array([-2 * h, -h, 0.0, h, 2 * h])
    ev = evaluate(problem, eta * np.exp(steps), t)
    g = ev.log_objective
    d1 = (g[4] - g[0]) / (4 * h)
    d2 = (g[3] - g[1]) / (2 * h)
    fd = (4 * d2 - d1) / 3
    exact = eta * ev.log_objective_grad[2]
    assert abs(fd - exact) <= 1e-7 * (abs(exact) + eta * ev.grad_abs_terms[2] + abs(g[2]))


@given(problem=ps.quadratic_problems(max_dim=5, max_kappa=1e3), data=st.data(), t=ps.horizons(10**3))
def test_hessian_matches_reference(problem, data, t):
    eta = data.draw(ps.step_sizes(problem), label="eta")
    ev = evaluate(problem, eta, t)
    ref = quadratic_reference(problem.eigenvalues, problem.coefficients, eta, t, dps=60)
    assume(ref.log_loss is not None)
    # G'' = 4t Var_q(r) - 2 E_q[r^2]: relative to the size of its two parts (E_q r^2 bounds both
    # up to 2t), inflated by the exponent error of the weights.
    hr = float(ref.log_objective_hess)
    scale = float(4 * t * (ref.log_objective_grad / 2) ** 2) + abs(hr) + 1e-300
    growth = 1e-15 * t * float(ev.max_abs_log_factor)
    assert abs(float(ev.log_objective_hess) - hr) <= (1e-10 + 10 * growth) * scale + 1e-10 * abs(hr)


def test_rotated_dense_form_agrees():
    """Eigenbasis versus a dense H = Q diag(lambda) Q^T under a random rotation (eigh round trip).

    eigh perturbs eigenvalues by about d eps L, which moves ln|a_i| by eta d eps L / |a_i| and ln f
    by 2t times that: tolerance 2t x eta x 10 d eps L / min|a_i| at t <= 100.
    """
    rng = np.random.default_rng(7)
    for _ in range(20):
        d = int(rng.integers(2, 8))
        lam = np.exp(rng.uniform(-3, 3, d))
        c = rng.normal(size=d)
        c /= np.linalg.norm(c)
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        base = QuadraticProblem(lam, c)
        dense = QuadraticProblem.from_matrix((q * lam) @ q.T, q @ c)
        for eta in rng.uniform(0, 3 / base.L, 5):
            for t in (1, 10, 100):
                a, b = evaluate(base, eta, t), evaluate(dense, eta, t)
                amin = float(np.min(np.abs(1 - eta * lam)))
                tol = 2 * t * eta * 10 * d * EPS * base.L / amin + 1e-13
                assert abs(float(a.log_loss) - float(b.log_loss)) <= tol * (1 + abs(float(a.log_loss)))
                assert abs(float(a.log_objective_grad) - float(b.log_objective_grad)) <= tol * (1 + float(a.grad_abs_terms)) * base.L / amin


def test_bad_input_names_the_field():
    p = QuadraticProblem([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValidationError, match="^eta: must be >= 0"):
        evaluate(p, -0.1, 3)
    with pytest.raises(ValidationError, match=r"^t: must be an integer in \[1, "):
        evaluate(p, 0.1, 0)
    with pytest.raises(ValidationError, match="^eta: every entry must be finite"):
        evaluate(p, float("nan"), 3)
    with pytest.raises(ValidationError, match="^t: shape"):
        evaluate(p, [0.1, 0.2], [1, 2, 3])
    with pytest.raises(ValidationError, match="^coefficients: must not be all zero"):
        QuadraticProblem([1.0], [0.0])
    with pytest.raises(ValidationError, match="^hessian: must be positive definite"):
        QuadraticProblem.from_matrix([[1.0, 0.0], [0.0, -1.0]], [1.0, 1.0])
    with pytest.raises(ValidationError, match="^hessian: must be symmetric"):
        QuadraticProblem.from_matrix([[1.0, 0.5], [0.0, 1.0]], [1.0, 1.0])
    with pytest.raises(ValidationError, match="^w0: must have length 2"):
        QuadraticProblem.from_matrix([[1.0, 0.0], [0.0, 1.0]], [1.0])


@given(problem=ps.quadratic_problems(max_dim=12, max_kappa=1e6), t=st.integers(1, 10**9), data=st.data())
@settings(max_examples=60, deadline=None)
def test_log_objective_grad_alone_is_evaluates_bit_for_bit(problem, t, data):
    """``log_objective_grad`` (the meta-GD fast path) runs the code of ``evaluate`` for G' only:
    the same bits, NaN exactly where f(w_t) = 0, at exceptional step sizes included."""
    from l2l.numerics.quadratic.stable import log_objective_grad

    etas = np.array(data.draw(st.lists(ps.step_sizes(problem, max_factor=3.0), min_size=1, max_size=6), label="etas"))
    full = evaluate(problem, etas, t).log_objective_grad
    alone = log_objective_grad(problem, etas, t)
    assert np.array_equal(full, alone, equal_nan=True)


@given(data=st.data(), n=st.integers(1, 300))
def test_both_branch_selections_agree_bit_for_bit(data, n):
    """``_log_abs_from_product`` selects its branch per entry either by evaluating every branch and
    choosing (small arrays) or by masks (large ones): the same operation on the same numbers in
    every entry, so the two agree exactly, at the branch edges (eta lam = 0, 1/2, 1, 3/2, 2, 3, inf)
    and in between."""
    from l2l.numerics.exact_product import two_product_scaled
    from l2l.numerics.quadratic import stable

    special = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 1e308, 1e-300]
    etas = data.draw(st.lists(st.one_of(st.sampled_from(special), st.floats(0.0, 1e10)), min_size=n, max_size=n), label="eta")
    lams = data.draw(st.lists(st.one_of(st.just(1.0), st.floats(1e-10, 1e10)), min_size=n, max_size=n), label="lam")
    pm, em, k = two_product_scaled(np.array(etas), np.array(lams))
    saved = stable._SELECT_ALL_MAX
    try:
        stable._SELECT_ALL_MAX = 10**9
        a = stable._log_abs_from_product(pm, em, k)
        stable._SELECT_ALL_MAX = -1
        b = stable._log_abs_from_product(pm, em, k)
    finally:
        stable._SELECT_ALL_MAX = saved
    assert np.array_equal(a[0], b[0], equal_nan=True) and np.array_equal(a[1], b[1])
    assert not np.any(np.isnan(a[0]))
