"""Least-squares derivations (theory.least_squares): every derivation verifies with the expected
statuses, wrong variants are refuted, and the closed forms agree with GD unrolled exactly in
rational arithmetic (the eigendecomposition they need is taken in a local 50-digit mpmath
context), and the Gaussian moments with Gauss-Hermite quadrature."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from fractions import Fraction

import mpmath
import pytest
import sympy
from hypothesis import given, strategies as st
from sympy import MatrixSymbol, Rational, Sum

from l2l.theory import lambdify, least_squares as ls, registry
from l2l.theory.derivation import Derivation
from l2l.theory.expectation import MomentDerivation, Sc

C, D, S, S3, SA = "concrete-d", "definition", "symbolic", "symbolic-d<=3", "sampled"
A, Q, H = "assumed", "quoted", "hypothesis"
EXPECTED_STATUSES = {
    "least_squares.iterate": (D, A, D, S, S, S, S),
    "least_squares.train-loss": (D, D, C, A, Q, S, D, S, S, S, S, S),
    "least_squares.tbt-quadratic": (Q, H, D, S, S),
    "least_squares.validation-loss": (D, D, C, A, Q, S, S3),
    "least_squares.validation-identity": (D, C, D, C, S),
    "least_squares.early-stopping": (
        D, D, D, C, A, C, C, C, C, C, C, C, C, S, D, D, S, S, S, D, S, S, S, Q, S, Q, S,
    ),
    "least_squares.erm-error": (A, A, S, S, S, S),
}
# what is only quoted from the literature (not checked): step numbers with status "assumed" that state a result
QUOTED = {
    "least_squares.early-stopping": (5,),  # E[H^2] = (1 + (d+1)/n) I, also checked at small sizes in step 6
    "least_squares.erm-error": (1, 2),  # the inverse-Wishart ERM errors
}


@functools.lru_cache(maxsize=None)
def _verified(name: str):
    der = registry.get(name)
    return der, registry.verified(der.name)  # the once-per-process cache, shared with test_strength


def test_registry():
    assert tuple(ls.DERIVATIONS) == tuple(EXPECTED_STATUSES)
    with pytest.raises(KeyError, match="unknown derivation 'least_squares.nope'; known: quadratic.iterate"):
        registry.get("least_squares.nope")
    for name in ls.DERIVATIONS:
        assert registry.get(name).name == name  # `l2l derive NAME` goes through registry.get
        assert name in registry.names()
    assert len(set(registry.names())) == len(registry.names())


@pytest.mark.parametrize("name", list(EXPECTED_STATUSES))
def test_every_derivation_verifies_with_a_status_per_step(name):
    der, v = _verified(name)
    assert v.ok is True
    assert v.statuses == EXPECTED_STATUSES[name]
    assert all(r.detail for r in v.results)
    for k in QUOTED.get(name, ()):
        assert v.statuses[k - 1] == "assumed"
        assert "quoted" in der.steps[k - 1].justification
    md = der.to_markdown(v)
    assert md.count("*Check:*") == len(der.steps)
    assert der.to_latex().count(r" \\") == len(der.steps) - 1


def test_quoted_wishart_moment_is_also_checked():
    der, v = _verified("least_squares.early-stopping")
    assert der.steps[4].lhs == der.steps[5].lhs and der.steps[4].rhs == der.steps[5].rhs
    assert v.statuses[5] == "concrete-d" and "Isserlis" in v.results[5].detail


# ------------------------------------------------------------------------------------------------
# negative controls


def _variant_status(der, k, report=None, **changes):
    """Status of step ``report`` (default ``k``) after changing step ``k``."""
    report = k if report is None else report
    bad_step = dataclasses.replace(der.steps[k - 1], **changes)
    if isinstance(der, MomentDerivation):
        return der.replace_step(k, bad_step).verify_step(report).status
    steps = list(der.steps)
    steps[k - 1] = bad_step
    bad = Derivation(
        der.name, der.title, steps, der.source, der.assumptions,
        dimension=der.dimension, index=der.index, horizon=der.horizon,
    )
    return bad.verify().results[report - 1].status


def test_wrong_closed_forms_fail():
    eta, t, lam, a, i, p = ls.eta, ls.t, ls.lam, ls.a, ls.i, ls.p
    # iterate with the wrong power
    assert _variant_status(ls.iterate(), 5, rhs=a[i] + (1 - eta * lam[i]) ** (t + 1) * (ls.g[i] - a[i])) == "failed"
    # training-loss derivative with 2t instead of t
    wrong = -2 * t * Sum(lam[i] ** 2 * (1 - eta * lam[i]) ** (2 * t - 1) * a[i] ** 2, (i, 1, p))
    assert _variant_status(ls.train_loss(), 12, rhs=wrong) == "failed"
    # the residual with the wrong factor
    assert _variant_status(ls.train_loss(), 8, rhs=ls.Y2 - Sum(lam[i] * a[i] ** 2, (i, 1, p))) == "failed"
    # TbT is the Sec. 3 quadratic with c = -a (so also c = a); c = 2a is not, nor is r != 0
    assert _variant_status(ls.tbt_quadratic(), 3, report=4, rhs=2 * a[i]) == "failed"
    assert _variant_status(ls.tbt_quadratic(), 3, report=4, rhs=a[i]) == "symbolic"
    assert _variant_status(ls.tbt_quadratic(), 2, report=4, rhs=sympy.Integer(1)) == "failed"
    # validation-loss derivative without the factor t
    der = ls.validation_loss()
    assert _variant_status(der, 7, rhs=ls.valid_loss_grad_expr() / t) == "failed"


def test_wrong_gaussian_facts_fail():
    d, n, sigma = ls.d, ls.n, ls.sigma
    der = ls.validation_identity()
    w, ws = MatrixSymbol("w", d, 1), MatrixSymbol("w^*", d, 1)
    assert _variant_status(der, 2, rhs=Sc((w - ws).T * (w - ws)) / 2) == "failed"  # the noise term missing
    der = ls.early_stopping()
    assert _variant_status(der, 6, rhs=(1 + d / n) * sympy.Identity(d)) == "failed"  # E[H^2] without the +1
    assert _variant_status(der, 23, rhs=1 / (1 + d / n + sigma**2 * d / n)) == "failed"  # wrong s*
    assert _variant_status(der, 7, rhs=2 * ws) == "failed"  # E[b] = w*, not 2 w*


def test_reversed_erm_bound_is_not_proved():
    der = ls.erm_error()
    assert _variant_status(der, 4, rel="<=") == "failed"
    assert _variant_status(der, 6, rel="<=") == "failed"


# ------------------------------------------------------------------------------------------------
# closed forms against GD unrolled exactly

small = st.fractions(min_value=-2, max_value=2, max_denominator=3)


@st.composite
def ls_problems(draw):
    d = draw(st.integers(1, 3))
    n = draw(st.integers(1, 4))
    X = [[draw(small) for _ in range(d)] for _ in range(n)]
    y = [draw(small) for _ in range(n)]
    nv = draw(st.integers(1, 3))
    Xv = [[draw(small) for _ in range(d)] for _ in range(nv)]
    yv = [draw(small) for _ in range(nv)]
    eta = draw(st.fractions(min_value=0, max_value=Fraction(1, 2), max_denominator=16))
    t = draw(st.integers(1, 5))
    return X, y, Xv, yv, eta, t


def _gd(X, y, eta, t, w0):
    """t steps of full-batch GD on (1/2n)||y - Xw||^2, in whatever arithmetic the inputs carry."""
    n, d = len(X), len(X[0])
    w = list(w0)
    for _ in range(t):
        r = [sum(X[j][a] * w[a] for a in range(d)) - y[j] for j in range(n)]
        w = [w[a] - eta * sum(X[j][a] * r[j] for j in range(n)) / n for a in range(d)]
    return w


def _loss(X, y, w):
    n, d = len(X), len(X[0])
    return sum((y[j] - sum(X[j][a] * w[a] for a in range(d))) ** 2 for j in range(n)) / (2 * n)


def _eigen(ctx, X, y):
    """Positive eigenpairs of H = X^T X / n, the coordinates a_i of w_ERM, and ||r||^2 (50 digits)."""
    n, d = len(X), len(X[0])
    q = lambda v: ctx.mpf(Fraction(v).numerator) / Fraction(v).denominator  # noqa: E731
    H = ctx.matrix([[sum(q(X[j][a]) * q(X[j][b]) for j in range(n)) / n for b in range(d)] for a in range(d)])
    bvec = [sum(q(X[j][a]) * q(y[j]) for j in range(n)) / n for a in range(d)]
    E, Q = ctx.eigsy(H)
    scale = max([abs(E[k]) for k in range(d)] + [ctx.mpf(1)])
    pos = [k for k in range(d) if E[k] > scale * ctx.mpf(10) ** -40]  # exact zeros come out ~1e-50
    lams = [E[k] for k in pos]
    vecs = [[Q[a, k] for a in range(d)] for k in pos]
    a_coef = [sum(v[c] * bvec[c] for c in range(d)) / lam for lam, v in zip(lams, vecs)]
    werm = [sum(a_coef[m] * vecs[m][c] for m in range(len(pos))) for c in range(d)]
    r2 = sum((q(y[j]) - sum(q(X[j][c]) * werm[c] for c in range(d))) ** 2 for j in range(n))
    return lams, vecs, a_coef, r2


def _evaluate(ctx, expr, p, values):
    """A least_squares closed form with its sums expanded for p terms, evaluated at 50 digits."""
    e = expr.xreplace({ls.p: sympy.Integer(p)}).doit()
    rep = {}
    for key, val in values.items():
        rep[key] = sympy.Float(ctx.nstr(val, 60), 60) if not isinstance(val, (int, Fraction)) else sympy.nsimplify(val)
    return ctx.mpf(sympy.N(e.xreplace(rep), 55))


def _close(ctx, x, y, scale=1):
    # 50 digits carried through O(10^2) operations on O(1)-sized numbers: 1e-35 is generous
    return abs(ctx.mpf(x) - ctx.mpf(y)) <= ctx.mpf(10) ** -35 * (1 + abs(ctx.mpf(scale)))


@given(ls_problems())
def test_iterate_and_training_loss_closed_forms_match_unrolled_gd(problem):
    X, y, _, _, eta, t = problem
    ctx = mpmath.MPContext()
    ctx.dps = 50
    d = len(X[0])
    lams, vecs, a_coef, r2 = _eigen(ctx, X, y)
    p = len(lams)
    w_t = _gd(X, y, eta, t, [Fraction(0)] * d)  # exact rational iterate
    # iterate: w_t = sum_i (1 - (1 - eta lambda_i)^t) a_i v_i
    q = lambda v: ctx.mpf(v.numerator) / v.denominator  # noqa: E731
    for c in range(d):
        closed = sum((1 - (1 - q(eta) * lam) ** t) * a * v[c] for lam, a, v in zip(lams, a_coef, vecs))
        assert _close(ctx, closed, q(Fraction(w_t[c])))
    # training loss and its eta-derivative
    loss = _loss(X, y, w_t)
    h = sympy.Symbol("h")
    Xs = [[sympy.nsimplify(v) for v in row] for row in X]
    ys = [sympy.nsimplify(v) for v in y]
    poly = sympy.expand(_loss(Xs, ys, _gd(Xs, ys, h, t, [0] * d)))  # exact polynomial in eta
    grad = sympy.diff(poly, h).subs(h, sympy.nsimplify(eta))
    if p == 0:
        assert loss == _loss(X, y, [0] * d)
        return
    values = {ls.eta: eta, ls.t: t, ls.r2: r2, ls.n: len(X)}
    for m in range(p):
        values[ls.lam[m + 1]] = lams[m]
        values[ls.a[m + 1]] = a_coef[m]
    assert _close(ctx, _evaluate(ctx, ls.train_loss_expr(), p, values), q(Fraction(loss)))
    assert _close(ctx, _evaluate(ctx, ls.train_loss_grad_expr(), p, values), ctx.mpf(sympy.N(grad, 55)), grad)


@given(ls_problems())
def test_validation_loss_closed_form_matches_unrolled_gd(problem):
    X, y, Xv, yv, eta, t = problem
    ctx = mpmath.MPContext()
    ctx.dps = 50
    d, nv = len(X[0]), len(Xv)
    lams, vecs, a_coef, _ = _eigen(ctx, X, y)
    p = len(lams)
    if p == 0:
        return
    q = lambda v: ctx.mpf(Fraction(v).numerator) / Fraction(v).denominator  # noqa: E731
    Hv = [[sum(q(Xv[j][a]) * q(Xv[j][b]) for j in range(nv)) / nv for b in range(d)] for a in range(d)]
    bv = [sum(q(Xv[j][a]) * q(yv[j]) for j in range(nv)) / nv for a in range(d)]
    values = {ls.eta: eta, ls.t: t, ls.C_v: sum(q(v) ** 2 for v in yv) / (2 * nv)}
    for m in range(p):
        values[ls.lam[m + 1]] = lams[m]
        values[ls.a[m + 1]] = a_coef[m]
        values[ls.g[m + 1]] = 0
        values[ls.beta_v[m + 1]] = sum(vecs[m][c] * bv[c] for c in range(d))
        for k in range(p):
            values[ls.Q[m + 1, k + 1]] = sum(vecs[m][a] * Hv[a][b] * vecs[k][b] for a in range(d) for b in range(d))
    h = sympy.Symbol("h")
    Xs, ys = [[sympy.nsimplify(v) for v in row] for row in X], [sympy.nsimplify(v) for v in y]
    Xvs, yvs = [[sympy.nsimplify(v) for v in row] for row in Xv], [sympy.nsimplify(v) for v in yv]
    poly = sympy.expand(_loss(Xvs, yvs, _gd(Xs, ys, h, t, [0] * d)))
    at = poly.subs(h, sympy.nsimplify(eta))
    grad = sympy.diff(poly, h).subs(h, sympy.nsimplify(eta))
    # the closed forms sum over the range of H only: w_0 = 0 has no component outside it
    assert _close(ctx, _evaluate(ctx, ls.valid_loss_expr(), p, values), ctx.mpf(sympy.N(at, 55)), at)
    assert _close(ctx, _evaluate(ctx, ls.valid_loss_grad_expr(), p, values), ctx.mpf(sympy.N(grad, 55)), grad)


def test_tbt_is_the_section3_quadratic_when_n_below_d():
    X = [[1, 2, 0], [0, 1, -1]]  # n = 2 < d = 3, full row rank
    y = [Fraction(1, 2), -1]
    ctx = mpmath.MPContext()
    ctx.dps = 50
    lams, _, a_coef, r2 = _eigen(ctx, X, y)
    assert len(lams) == 2 and abs(r2) < ctx.mpf(10) ** -40  # the interpolating residual vanishes
    f = lambdify.lambdify_concrete("loss", 2, modules="math")
    for eta, t in ((Fraction(1, 4), 3), (Fraction(1, 10), 7)):
        w_t = _gd(X, y, eta, t, [Fraction(0)] * 3)
        direct = float(_loss(X, y, w_t))
        via_quadratic = f([float(v) for v in lams], [-float(v) for v in a_coef], float(eta), t)
        # float64 evaluation of a sum of three O(1) terms: 1e-12 relative
        assert abs(direct - via_quadratic) <= 1e-12 * (1 + abs(direct))


def test_early_stopping_moments_by_gauss_hermite_quadrature():
    """E[H^2] and E||b||^2 at d = n = 2 (sigma = 1/2, w* fixed) by the 3-point Gauss-Hermite rule,
    exact for degree <= 5 in each standard normal coordinate (here degree <= 4)."""
    ctx = mpmath.MPContext()
    ctx.dps = 30
    d_, n_, sig = 2, 2, ctx.mpf(1) / 2
    ws = [ctx.mpf(3) / 5, ctx.mpf(4) / 5]
    nodes = [(ctx.mpf(2) / 3, ctx.mpf(0)), (ctx.mpf(1) / 6, ctx.sqrt(3)), (ctx.mpf(1) / 6, -ctx.sqrt(3))]
    EH2 = [[ctx.mpf(0)] * d_ for _ in range(d_)]
    Eb2 = ctx.mpf(0)
    for combo in itertools.product(nodes, repeat=n_ * d_ + n_):
        wt = ctx.fprod(c[0] for c in combo)
        z = [c[1] for c in combo]
        X = [z[j * d_ : (j + 1) * d_] for j in range(n_)]
        xi = [zz * sig for zz in z[n_ * d_ :]]
        H = [[sum(X[j][a] * X[j][b] for j in range(n_)) / n_ for b in range(d_)] for a in range(d_)]
        for a in range(d_):
            for b in range(d_):
                EH2[a][b] += wt * sum(H[a][c] * H[c][b] for c in range(d_))
        yv = [sum(X[j][c] * ws[c] for c in range(d_)) + xi[j] for j in range(n_)]
        bvec = [sum(X[j][a] * yv[j] for j in range(n_)) / n_ for a in range(d_)]
        Eb2 += wt * sum(v * v for v in bvec)
    tol = ctx.mpf(10) ** -20
    coef = 1 + ctx.mpf(d_ + 1) / n_
    for a in range(d_):
        for b in range(d_):
            assert abs(EH2[a][b] - (coef if a == b else 0)) < tol
    assert abs(Eb2 - (coef * (ws[0] ** 2 + ws[1] ** 2) + sig**2 * d_ / n_)) < tol


def test_early_stopping_optimum_minimises_the_quadratic():
    d, n, sigma, s = ls.d, ls.n, ls.sigma, ls.s
    sstar = ls.early_stopping_scale_expr()
    qfun = 1 - 2 * s + s**2 * (1 + (d + 1) / n + sigma**2 * d / n)
    for vals in ({d: 200, n: 100, sigma: 1}, {d: 20, n: 50, sigma: 3}):
        sv = sstar.subs(vals)
        qs = qfun.subs(vals)
        assert sympy.diff(qs, s).subs(s, sv) == 0
        assert qs.subs(s, sv) == ls.early_stopping_error_expr().subs(vals)
        for ds in (Rational(1, 100), Rational(-1, 100)):
            assert (qs.subs(s, sv + ds) - qs.subs(s, sv)).is_positive is True
    # papers/wang2021.md §7 item 13: d = 200, n_1 = 50 (TbV split), the approached error is 1 - s*
    assert ls.early_stopping_error_expr().subs({d: 200, n: 50, sigma: 1}) == Rational(401, 451)
    assert ls.erm_error_expr("under").subs({d: 200, n: 100, sigma: 2}) == Rational(1, 2) + Rational(400, 99)
    with pytest.raises(ValueError, match="regime"):
        ls.erm_error_expr("middle")
