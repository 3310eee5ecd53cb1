"""SGD moment recursions (theory.sgd_moments): every derivation verifies with the expected statuses, wrong
variants are refuted, and the exported recursion maps agree with expectations computed here
independently, by enumerating the sampling (finite set, additive noise) or by Gauss-Hermite
quadrature (Gaussian samples), never from the closed forms."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from fractions import Fraction

import gmpy2
import mpmath
import pytest
import sympy
from hypothesis import given, strategies as st
from sympy import MatrixSymbol, Rational, Symbol, Trace

from l2l.theory import lambdify, quadratic, registry, sgd_moments as sgd
from l2l.theory.derivation import Derivation, Step
from l2l.theory.expectation import (
    Expectation,
    MomentDerivation,
    Sc,
    SecondOrder,
    wick,
    expect,
)

d, n, B, eta, sigma = sgd.d, sgd.n, sgd.B, sgd.eta, sgd.sigma

C, D, S = "concrete-d", "definition", "symbolic"
# The statuses observed for each registered derivation: a change here is a change in what is
# checked, so it must be deliberate.
EXPECTED_STATUSES = {
    "sgd.isserlis": ("assumed", C, C, C, C),  # step 1 states Isserlis' theorem (quoted)
    "sgd.finite-set": (D, D, D, D, D, D, C, C, C, S, D, D, C, C, D, D, C, D, C, C, C),
    "sgd.gaussian": (D, D, D, D, C, C, C, C, C, D, D, C, D, C, C, C),
    "sgd.additive-noise": (D, C, C, C, C, D, D, C, D, C, C, C),
}


@functools.lru_cache(maxsize=None)
def _verified(name: str):
    der = registry.get(name)
    return der, der.verify()


# ------------------------------------------------------------------------------------------------
# registry and verification


def test_registry():
    assert tuple(sgd.DERIVATIONS) == tuple(EXPECTED_STATUSES)
    with pytest.raises(KeyError, match="unknown derivation 'sgd.nope'; known: quadratic.iterate"):
        registry.get("sgd.nope")
    assert registry.get("sgd.isserlis") is not registry.get("sgd.isserlis")


def test_merged_registry():
    every = registry.names()
    assert every[: len(quadratic.DERIVATIONS)] == tuple(quadratic.DERIVATIONS)
    for name in sgd.DERIVATIONS:
        assert name in every
        assert registry.get(name).name == name  # what `l2l derive NAME` calls
    with pytest.raises(KeyError, match="unknown derivation 'nope'; known: quadratic.iterate"):
        registry.get("nope")
    with pytest.raises(KeyError, match="unknown derivation"):
        registry.get(3)


@pytest.mark.parametrize("name", list(EXPECTED_STATUSES))
def test_every_derivation_verifies_with_a_status_per_step(name):
    der, v = _verified(name)
    assert isinstance(der, MomentDerivation)
    assert v.ok is True
    assert v.statuses == EXPECTED_STATUSES[name]
    for r in v.results:
        assert r.detail
        if r.status == "concrete-d":
            assert "every entry symbolic" in r.detail and "(d = " in r.detail
    # rendering works and shows the checks
    md = der.to_markdown(v)
    assert md.count("*Check:*") == len(der.steps)
    tex = der.to_latex()
    assert tex.startswith(r"\begin{align*}") and tex.count(r" \\") == len(der.steps) - 1


def test_finite_set_enumerates_every_index_tuple():
    _, v = _verified("sgd.finite-set")
    detail = v.results[7].detail
    assert "J[1..B] iid uniform on 1..n, all n^B outcomes enumerated" in detail
    assert "(d = 2, n = 3, B = 2)" in detail and "(d = 1, n = 3, B = 3)" in detail
    assert "second moment M (degree <= 2 only)" in v.results[13].detail


# ------------------------------------------------------------------------------------------------
# negative controls: deliberately wrong statements must fail


def _check_variant(der: MomentDerivation, k: int, rhs) -> tuple[str, str]:
    bad = der.replace_step(k, dataclasses.replace(der.steps[k - 1], rhs=rhs))
    res = bad.verify_step(k)
    return res.status, res.detail


_Sw = MatrixSymbol("S(w)", d, d)
_gb = MatrixSymbol("gbar(w)", d, 1)


@pytest.mark.parametrize(
    "rhs",
    [
        _Sw / B,  # the (1 - 1/B) gbar gbar^T term is missing
        _Sw + (1 - 1 / B) * _gb * _gb.T,  # 1/B missing on S
        _Sw / B + _gb * _gb.T,  # (1 - 1/B) replaced by 1
        (_Sw + _gb * _gb.T) / B,  # 1/B in the wrong place
    ],
    ids=["no-mean-term", "no-1/B", "mean-term-without-(1-1/B)", "1/B-on-both"],
)
def test_wrong_minibatch_second_moment_fails(rhs):
    status, detail = _check_variant(sgd.finite_set(), 8, rhs)
    assert status == "failed"
    assert "differs from the right side" in detail


def test_wrong_finite_set_recursion_fails():
    der = sgd.finite_set()
    H, b, m, M = MatrixSymbol("H", d, d), MatrixSymbol("b", d, 1), MatrixSymbol("m", d, 1), MatrixSymbol("M", d, d)
    Sb, Gb = MatrixSymbol("Sbar(M,m)", d, d), MatrixSymbol("Gbar(M,m)", d, d)
    A = sympy.Identity(d) - eta * H
    base = A * M * A.T + eta * (A * m * b.T + b * m.T * A.T) + eta**2 * b * b.T
    assert _check_variant(der, 14, base + eta**2 * (Sb - Gb))[0] == "failed"  # without 1/B
    assert _check_variant(der, 14, base + eta**2 / B * Sb)[0] == "failed"  # without the mean term
    assert _check_variant(der, 13, A * m)[0] == "failed"  # without eta b


def test_wrong_tangent_fails():
    der = sgd.finite_set()
    H = MatrixSymbol("H", d, d)
    md = MatrixSymbol("mdot", d, 1)
    status, detail = _check_variant(der, 19, (sympy.Identity(d) - eta * H) * md)  # forgot -(H m - b)
    assert status == "failed" and "the difference is not 0" in detail


def test_wrong_isserlis_fails():
    Sig, A = MatrixSymbol("Sigma", d, d), MatrixSymbol("A", d, d)
    status, detail = _check_variant(sgd.isserlis(), 3, Sig * A * Sig + Trace(Sig * A) * Sig)
    assert status == "failed"
    assert "at (d = 1)" in detail  # already wrong in one dimension: E[x^4] = 3 Sigma^2
    # the general formula with A symmetric-only terms is wrong for a general C
    C_ = MatrixSymbol("C", d, d)
    assert _check_variant(sgd.isserlis(), 4, 2 * Sig * C_ * Sig + Trace(Sig * C_) * Sig)[0] == "failed"


def test_wrong_gaussian_and_noise_recursions_fail():
    Sig, Me = MatrixSymbol("Sigma", d, d), MatrixSymbol("M_e", d, d)
    P = sympy.Identity(d) - eta * Sig
    # the fourth-moment term with the coefficient 2 of a general A (2 Sigma M Sigma) instead of 1
    wrong = P * Me * P + eta**2 / B * (2 * Sig * Me * Sig + (Trace(Sig * Me) + sigma**2) * Sig)
    assert _check_variant(sgd.gaussian(), 9, wrong)[0] == "failed"
    H, b, m, M = MatrixSymbol("H", d, d), MatrixSymbol("b", d, 1), MatrixSymbol("m", d, 1), MatrixSymbol("M", d, d)
    A = sympy.Identity(d) - eta * H
    no_noise = A * M * A + eta * (A * m * b.T + b * m.T * A) + eta**2 * b * b.T
    assert _check_variant(sgd.additive_noise(), 5, no_noise)[0] == "failed"


def test_expectation_guards():
    w, m, M = MatrixSymbol("w", d, 1), MatrixSymbol("m", d, 1), MatrixSymbol("M", d, d)
    law = SecondOrder(w, m, M)
    sizes = ({d: 2},)
    # a conditional expectation cannot average over its conditioning variable
    step = Step(expect(w, w), "=", m, "wrong", Expectation((law,)))
    res = MomentDerivation("demo.cond", "t", [step], "test", sizes=sizes).verify().results[0]
    assert res.status == "failed" and "conditioning variable" in res.detail
    # third moments are not known for a second-order law: a loud failure, not a silent guess
    step = Step(expect(Sc(w.T * w) * w), "=", M * m, "wrong", Expectation((law,)))
    res = MomentDerivation("demo.third", "t", [step], "test", sizes=sizes).verify().results[0]
    assert res.status == "failed" and "only first and second moments" in res.detail
    # the left side must be E[...]
    step = Step(w, "=", w, "no E", Expectation((law,)))
    res = MomentDerivation("demo.lhs", "t", [step], "test", sizes=sizes).verify().results[0]
    assert res.status == "failed"
    # the plain Derivation does not know the rule: failed, not silently passed
    step = Step(expect(w), "=", m, "ok", Expectation((law,)))
    assert Derivation("demo.base", "t", [step], "test").verify().statuses == ("failed",)
    assert MomentDerivation("demo.ok", "t", [step], "test", sizes=sizes).verify().statuses == ("concrete-d",)


def test_moment_derivation_validation():
    w = MatrixSymbol("w", d, 1)
    step = Step(w, "=", w, "w")
    with pytest.raises(ValueError, match="sizes"):
        MomentDerivation("a", "b", [step], "c")
    with pytest.raises(ValueError, match="sizes"):
        MomentDerivation("a", "b", [step], "c", sizes=({d: 0},))
    with pytest.raises(ValueError, match="definitions"):
        MomentDerivation("a", "b", [step], "c", sizes=({d: 1},), definitions=(2,))
    with pytest.raises(ValueError, match="must be an integer"):
        sgd.finite_set_recursion(0, 1, 1)
    with pytest.raises(ValueError, match="modules"):
        lambdify.finite_set_step_callable(1, 1, 1, modules="numpy")


def test_wick_matches_known_moments():
    s_ = Symbol("s", positive=True)
    cov = lambda a, b: s_  # noqa: E731 - one-dimensional N(0, s)
    assert wick((0,) * 4, cov) == 3 * s_**2
    assert wick((0,) * 6, cov) == 15 * s_**3
    assert wick((0,) * 5, cov) == 0


# ------------------------------------------------------------------------------------------------
# independent brute force: finite training set


def _outer_mean(samples):
    """(E[w], E[w w^T]) of a finite list of (probability, vector) pairs, exactly."""
    dim = len(samples[0][1])
    m = [sum(p * v[a] for p, v in samples) for a in range(dim)]
    M = [[sum(p * v[a] * v[b] for p, v in samples) for b in range(dim)] for a in range(dim)]
    return m, M


def _sgd_step(X, y, w, idx, eta_):
    """One SGD step w - eta (1/B) sum_k x_{J_k} (x_{J_k}^T w - y_{J_k}) with the indices idx (0-based)."""
    dim = len(w)
    grad = [Fraction(0)] * dim
    for j in idx:
        r = sum(X[j][a] * w[a] for a in range(dim)) - y[j]
        for a in range(dim):
            grad[a] += X[j][a] * r
    return [w[a] - eta_ * grad[a] / len(idx) for a in range(dim)]


def _brute_force_moments(X, y, w_dist, batch, eta_, steps=1):
    """Exact moments after ``steps`` SGD steps: enumerate w and every index sequence."""
    n_ = len(X)
    paths = [(p, w) for p, w in w_dist]
    for _ in range(steps):
        new = []
        for p, w in paths:
            for idx in itertools.product(range(n_), repeat=batch):
                new.append((p * Fraction(1, n_**batch), _sgd_step(X, y, w, idx, eta_)))
        paths = new
    return _outer_mean(paths)


def _train_loss(X, y, w):
    n_ = len(X)
    return sum((y[j] - sum(X[j][a] * w[a] for a in range(len(w)))) ** 2 for j in range(n_)) / (2 * n_)


small = st.fractions(min_value=-2, max_value=2, max_denominator=4)


@st.composite
def finite_problems(draw):
    dim = draw(st.integers(1, 2))
    n_ = draw(st.integers(1, 3))
    batch = draw(st.integers(1, 2))
    X = [[draw(small) for _ in range(dim)] for _ in range(n_)]
    y = [draw(small) for _ in range(n_)]
    support = draw(st.integers(1, 2))
    ws = [[draw(small) for _ in range(dim)] for _ in range(support)]
    w_dist = [(Fraction(1, support), w) for w in ws]
    eta_ = draw(st.fractions(min_value=0, max_value=1, max_denominator=8))
    return dim, n_, batch, X, y, w_dist, eta_


@given(finite_problems())
def test_finite_set_step_matches_enumeration(problem):
    dim, n_, batch, X, y, w_dist, eta_ = problem
    m, M = _outer_mean(w_dist)
    m1, M1 = lambdify.finite_set_step_callable(dim, n_, batch, modules="exact")(X, y, m, M, eta_)
    bm, bM = _brute_force_moments(X, y, w_dist, batch, eta_)
    assert m1 == bm and M1 == bM  # exact rational equality
    # the expected loss formula against the loss averaged over the distribution of w
    loss, _ = lambdify.finite_set_loss_callable(dim, n_, modules="exact")(X, y, m, M, [0] * dim, [[0] * dim] * dim)
    assert loss == sum(p * _train_loss(X, y, w) for p, w in w_dist)


def test_finite_set_mpmath_callable_agrees_with_exact():
    X = [[1, 2], [-1, Fraction(1, 2)], [3, 0]]
    y = [1, 0, -2]
    m, M = [Fraction(1, 3), -1], [[1, Fraction(1, 5)], [Fraction(1, 5), 2]]
    exact = lambdify.finite_set_step_callable(2, 3, 2, modules="exact")(X, y, m, M, Fraction(1, 7))
    ctx = mpmath.MPContext()  # the lambdified code uses mpmath's default context (53 bits)
    approx = lambdify.finite_set_step_callable(2, 3, 2)(X, y, m, M, mpmath.mpf(1) / 7)  # Fractions mix with mpf
    flat_e = exact[0] + [x for row in exact[1] for x in row]
    flat_a = approx[0] + [x for row in approx[1] for x in row]
    # inputs of size O(1), about 20 operations per entry: 2^-53 * 100 bounds the rounding error
    tol = ctx.mpf(2) ** -53 * 100
    for e, a in zip(flat_e, flat_a):
        assert abs(ctx.mpf(e.numerator) / e.denominator - ctx.mpf(a)) <= tol * (1 + abs(ctx.mpf(a)))


@pytest.mark.parametrize("dim,n_,batch,steps", [(1, 2, 1, 3), (2, 2, 2, 2), (2, 3, 1, 2)])
def test_iterated_map_matches_enumeration_over_paths(dim, n_, batch, steps):
    X = [[Fraction(a + 2 * j + 1, 3) * (-1) ** (a * j) for a in range(dim)] for j in range(n_)]
    y = [Fraction(j - 1, 2) for j in range(n_)]
    w0 = [Fraction(1, 2)] * dim
    eta_ = Fraction(1, 3)
    step = lambdify.finite_set_step_callable(dim, n_, batch, modules="exact")
    m, M = _outer_mean([(1, w0)])
    for _ in range(steps):
        m, M = step(X, y, m, M, eta_)
    assert (m, M) == _brute_force_moments(X, y, [(1, w0)], batch, eta_, steps)


def test_tangent_matches_derivative_of_enumeration():
    """d/deta of the expected loss after t steps: exact derivative of the enumerated polynomial."""
    X = [[1, Fraction(1, 2)], [Fraction(-1, 2), 1], [2, 1]]
    y = [1, -1, Fraction(1, 2)]
    dim, n_, batch, steps = 2, 3, 2, 2
    w0 = [1, -1]
    h = Symbol("h")  # eta as a symbol in the brute force: exact polynomial in eta
    paths = [(sympy.Integer(1), [sympy.Integer(v) for v in w0])]
    Xs = [[sympy.nsimplify(v) for v in row] for row in X]
    ys = [sympy.nsimplify(v) for v in y]
    for _ in range(steps):
        new = []
        for p, w in paths:
            for idx in itertools.product(range(n_), repeat=batch):
                grad = [sum(Xs[j][a] * (sum(Xs[j][c] * w[c] for c in range(dim)) - ys[j]) for j in idx) for a in range(dim)]
                new.append((p / n_**batch, [sympy.expand(w[a] - h * grad[a] / batch) for a in range(dim)]))
        paths = new
    exp_loss = sum(p * _train_loss(Xs, ys, w) for p, w in paths)
    eta0 = Fraction(1, 5)
    want = sympy.diff(exp_loss, h).subs(h, sympy.Rational(1, 5))
    tan = lambdify.finite_set_tangent_callable(dim, n_, batch, modules="exact")
    m, M = [Fraction(v) for v in w0], [[Fraction(a * b) for b in w0] for a in w0]
    dm, dM = [Fraction(0)] * dim, [[Fraction(0)] * dim for _ in range(dim)]
    for _ in range(steps):
        m, M, dm, dM = tan(X, y, m, M, dm, dM, eta0)
    loss, dloss = lambdify.finite_set_loss_callable(dim, n_, modules="exact")(X, y, m, M, dm, dM)
    at = exp_loss.subs(h, sympy.Rational(1, 5))
    assert dloss == Fraction(int(want.p), int(want.q))
    assert loss == Fraction(int(at.p), int(at.q))


# ------------------------------------------------------------------------------------------------
# independent brute force: additive noise (a discrete noise with the right two moments)


@given(
    st.integers(1, 3),
    st.lists(small, min_size=27, max_size=27),
    st.fractions(min_value=0, max_value=1, max_denominator=8),
)
def test_additive_noise_step_matches_enumeration(dim, pool, eta_):
    vals = iter(pool)
    H = [[Fraction(0)] * dim for _ in range(dim)]
    for a in range(dim):
        for b in range(a, dim):
            H[a][b] = H[b][a] = next(vals)
    bvec = [next(vals) for _ in range(dim)]
    vs = [[next(vals) for _ in range(dim)] for _ in range(2)]  # eps = +-v_k with probability 1/4 each
    eps_dist = [(Fraction(1, 4), [sgn * x for x in v]) for v in vs for sgn in (1, -1)]
    Scov = _outer_mean(eps_dist)[1]
    w_dist = [(Fraction(1, 2), [next(vals) for _ in range(dim)]) for _ in range(2)]
    m, M = _outer_mean(w_dist)
    out = []
    for pw, w in w_dist:
        for pe, e in eps_dist:
            g = [sum(H[a][c] * w[c] for c in range(dim)) - bvec[a] + e[a] for a in range(dim)]
            out.append((pw * pe, [w[a] - eta_ * g[a] for a in range(dim)]))
    assert lambdify.additive_noise_step_callable(dim, modules="exact")(H, bvec, Scov, m, M, eta_) == _outer_mean(out)


# ------------------------------------------------------------------------------------------------
# independent check: Gaussian samples by Gauss-Hermite quadrature (exact for these degrees)


def test_gaussian_step_matches_gauss_hermite_quadrature():
    """x = L z with z ~ N(0, I): the 3-point Gauss-Hermite rule (nodes 0, +-sqrt(3); weights 2/3,
    1/6, 1/6) integrates polynomials of degree <= 5 in each coordinate exactly, and e'e'^T has
    degree 4 in each x_k and 2 in each xi_k."""
    ctx = mpmath.MPContext()
    ctx.dps = 40

    def q(x):
        x = Fraction(x)
        return ctx.mpf(x.numerator) / x.denominator

    nodes = [(ctx.mpf(2) / 3, ctx.mpf(0)), (ctx.mpf(1) / 6, ctx.sqrt(3)), (ctx.mpf(1) / 6, -ctx.sqrt(3))]
    dim, batch = 2, 2
    L = [[Fraction(1), Fraction(0)], [Fraction(1, 2), Fraction(3, 2)]]
    Sigma = [[sum(L[a][c] * L[b][c] for c in range(dim)) for b in range(dim)] for a in range(dim)]
    Lq = [[q(v) for v in row] for row in L]
    sig = Fraction(1, 2)
    eta_ = Fraction(1, 4)
    e_dist = [(Fraction(1, 2), [Fraction(1), Fraction(-1, 2)]), (Fraction(1, 2), [Fraction(0), Fraction(2)])]
    m_e, M_e = _outer_mean(e_dist)
    acc_m = [ctx.mpf(0)] * dim
    acc_M = [[ctx.mpf(0)] * dim for _ in range(dim)]
    nvar = batch * (dim + 1)
    for combo in itertools.product(nodes, repeat=nvar):
        weight = ctx.fprod(wt for wt, _ in combo)
        zs = [z for _, z in combo]
        for pe, e in e_dist:
            grad = [ctx.mpf(0)] * dim
            for kk in range(batch):
                z = zs[kk * (dim + 1) : kk * (dim + 1) + dim]
                xi = zs[kk * (dim + 1) + dim] * q(sig)
                x = [sum(Lq[a][c] * z[c] for c in range(dim)) for a in range(dim)]
                r = sum(x[a] * q(e[a]) for a in range(dim)) - xi  # x^T w - y = x^T e - xi
                for a in range(dim):
                    grad[a] += x[a] * r / batch
            ep = [q(e[a]) - q(eta_) * grad[a] for a in range(dim)]
            for a in range(dim):
                acc_m[a] += weight * q(pe) * ep[a]
                for b in range(dim):
                    acc_M[a][b] += weight * q(pe) * ep[a] * ep[b]
    m1, M1 = lambdify.gaussian_step_callable(dim, batch, modules="exact")(Sigma, sig, m_e, M_e, eta_)
    tol = ctx.mpf(10) ** -30  # 40 digits, about 10^3 terms of size O(10)
    for a in range(dim):
        assert abs(acc_m[a] - q(m1[a])) < tol
        for b in range(dim):
            assert abs(acc_M[a][b] - q(M1[a][b])) < tol
    loss, _ = lambdify.gaussian_loss_callable(dim, modules="exact")(Sigma, sig, m_e, M_e, [0, 0], [[0, 0], [0, 0]])
    want = (sum(Sigma[a][b] * M_e[b][a] for a in range(dim) for b in range(dim)) + sig**2) / 2
    assert loss == want


def test_gaussian_tangent_is_the_eta_derivative():
    """d/deta of the Gaussian map along (dm, dM): a five-point stencil is exact for the cubic in eta."""
    Sigma, sig = [[2, Fraction(1, 2)], [Fraction(1, 2), 1]], Fraction(1, 3)
    m, M = [1, Fraction(-1, 2)], [[2, Fraction(1, 3)], [Fraction(1, 3), 1]]
    dm, dM = [Fraction(1, 2), 1], [[1, Fraction(-1, 4)], [Fraction(-1, 4), 3]]
    eta0, hh = Fraction(1, 5), Fraction(1, 10)
    step = lambdify.gaussian_step_callable(2, 2, modules="exact")

    def at(e_):  # the map along the path (m, M) + (eta - eta0)(dm, dM)
        s_ = e_ - eta0
        mm = [m[a] + s_ * dm[a] for a in range(2)]
        MM = [[M[a][b] + s_ * dM[a][b] for b in range(2)] for a in range(2)]
        return step(Sigma, sig, mm, MM, e_)

    vals = [at(eta0 + c * hh) for c in (-2, -1, 1, 2)]

    def stencil(get):
        f = [get(v) for v in vals]
        return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * hh)

    _, _, tdm, tdM = lambdify.gaussian_tangent_callable(2, 2, modules="exact")(Sigma, sig, m, M, dm, dM, eta0)
    for a in range(2):
        assert tdm[a] == stencil(lambda v: v[0][a])
        for b in range(2):
            assert tdM[a][b] == stencil(lambda v: v[1][a][b])


def test_recursion_objects_expose_the_verified_expressions():
    rec = sgd.finite_set_recursion(2, 3, 2)
    assert rec.name == "sgd.finite-set" and dict(rec.sizes) == {"d": 2, "n": 3, "B": 2}
    assert [nm for nm, _, _ in rec.inputs] == ["X", "y", "m", "M", "eta"]
    M_in = dict((nm, v) for nm, _, v in rec.inputs)["M"]
    assert M_in[0, 1] == M_in[1, 0]  # symmetric second moment
    assert rec.M_next.shape == (2, 2) and rec.m_next.shape == (2, 1)
    assert sympy.expand(rec.M_next - rec.M_next.T) == sympy.zeros(2, 2)
    assert sgd.gaussian_recursion(1, 1).dloss.free_symbols >= {Symbol("Mdot_e[1,1]")}


def test_the_exact_printer_refuses_floats_and_fractional_powers():
    """``modules="exact"`` prints the expressions as Python over GMP rationals: a rational stays exact,
    a Float constant or a fractional power (an irrational value) is refused, never rounded."""
    x = Symbol("x")
    printer = lambdify._ExactPrinter()
    code = printer.doprint(Rational(1, 3) * x**2 + x / 3 - Rational(1, 2))
    assert "/" not in code  # no Python division, which would make a float of 1/3
    assert eval(code, {"mpq": gmpy2.mpq, "x": gmpy2.mpq(1, 7)}) == Fraction(1, 147) + Fraction(1, 21) - Fraction(1, 2)
    for bad in (sympy.Float(0.5) * x, sympy.sqrt(x), x ** Rational(3, 2)):
        with pytest.raises(ValueError, match="non-rational"):
            printer.doprint(bad)
