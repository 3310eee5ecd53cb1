"""Wang et al. (2021) Sec. 3 derivations: every registered derivation verifies; closed forms agree
with a separately written high-precision evaluation of the same formulas."""

from __future__ import annotations

import functools
import random
from fractions import Fraction

import mpmath
import pytest
import sympy
from hypothesis import assume, given, strategies as st

from l2l.theory import lambdify, quadratic as q, registry
from l2l.theory.derivation import Derivation, Verification

# The statuses observed for each registered derivation. A change here is a change in what is
# proved, so it must be deliberate.
EXPECTED_STATUSES = {
    "quadratic.iterate": ("definition", "definition", "symbolic"),
    "quadratic.loss": ("definition", "symbolic", "symbolic"),
    "quadratic.naive-gradient": ("quoted", "symbolic", "symbolic"),
    "quadratic.log-gradient": ("definition", "symbolic", "symbolic", "definition", "definition", "symbolic", "symbolic"),
    "quadratic.rho-normalised": ("definition", "symbolic", "definition", "definition", "symbolic", "sampled"),
    "quadratic.theorem3": (
        "quoted", "symbolic", "symbolic", "symbolic", "sampled",
        "symbolic", "symbolic", "symbolic", "sampled", "symbolic",
    ),
    "quadratic.theorem4-bound": (
        "definition", "symbolic", "definition", "sampled", "sampled",
        "symbolic", "symbolic", "symbolic", "symbolic", "symbolic",
    ),
}


@functools.lru_cache(maxsize=None)
def _verified(name: str) -> tuple[Derivation, Verification]:
    d = registry.get(name)
    return d, d.verify()


def test_registry():
    assert tuple(q.DERIVATIONS) == tuple(EXPECTED_STATUSES)
    assert set(q.DERIVATIONS) == set(EXPECTED_STATUSES)
    with pytest.raises(KeyError, match="unknown derivation 'nope'; known: quadratic.iterate"):
        registry.get("nope")
    assert registry.get("quadratic.loss") is not registry.get("quadratic.loss")  # fresh objects


@pytest.mark.parametrize("name", list(EXPECTED_STATUSES))
def test_every_derivation_verifies_with_a_status_per_step(name):
    d, v = _verified(name)
    assert d.name == name and v.name == name
    assert v.ok is True
    assert len(v.results) == len(d.steps)
    assert v.statuses == EXPECTED_STATUSES[name]
    for r in v.results:
        assert r.detail
        if r.status == "sampled":
            assert r.instances and "exactly in rational arithmetic" in r.detail
        else:
            assert r.instances == ()
    assert d.source and d.title
    assert "Wang" in d.source or "wang2021" in d.source


def test_theorem4_final_inequality_is_proved_symbolically():
    _, v = _verified("quadratic.theorem4-bound")
    assert v.results[8].status == "symbolic"
    assert "alpha + delta" in v.results[8].detail
    rho_step = v.results[6]
    assert rho_step.status == "symbolic"
    assert "case eta in [0, 2/(L + alpha))" in rho_step.detail and "case eta >= 2/(L + alpha)" in rho_step.detail


def test_theorem3_triangle_inequality_and_remark_b():
    _, v = _verified("quadratic.theorem3")
    assert "triangle inequality" in v.results[6].detail
    assert v.results[8].status == "sampled"  # remark (b): a sum bound, checked at eta > 2/L
    assert all("eta=" in lbl for lbl in v.results[8].instances)


def _fraction(r: sympy.Rational) -> Fraction:
    assert isinstance(r, sympy.Rational)
    return Fraction(int(r.p), int(r.q))


@given(seed=st.integers(0, 10_000), region=st.sampled_from(["any", "below", "above"]))
def test_sampled_instances_satisfy_the_setting(seed, region):
    # compared as Fractions: plain Python booleans, never the truth value of a SymPy relational
    inst = q.sample_instance(random.Random(seed), eta_region=region)
    vals, dim = {k: _fraction(v) for k, v in inst.values.items()}, inst.dimension
    lams = [vals[q.lam[k]] for k in range(1, dim + 1)]
    cs = [vals[q.c[k]] for k in range(1, dim + 1)]
    assert lams == sorted(lams, reverse=True) and len(set(lams)) == dim
    assert (vals[q.L], vals[q.alpha]) == (lams[0], lams[-1])
    assert sum(x * x for x in cs) == 1 and all(x != 0 for x in cs)
    assert vals[q.c_min] == min(abs(cs[0]), abs(cs[-1]))
    assert vals[q.rho] == max(abs(1 - vals[q.eta] * x) for x in lams)
    two_over_L = 2 / vals[q.L]
    if region == "below":
        assert 0 <= vals[q.eta] < two_over_L
    if region == "above":
        assert vals[q.eta] > two_over_L


def test_expression_functions_return_the_shared_symbols():
    for name, fn in q.EXPRESSIONS.items():
        expr, sym = fn()
        assert sym is q.SYMBOLS
        assert expr.has(sym.eta) and expr.has(sym.t), name
    assert q.naive_grad_expr()[0] == q.naive_gradient().steps[1].rhs
    assert q.log_grad_expr()[0] == q.log_gradient().steps[1].rhs


def test_lambdify_concrete_validates():
    with pytest.raises(ValueError, match="expr_name"):
        lambdify.lambdify_concrete("nope", 2)
    with pytest.raises(ValueError, match="d must be"):
        lambdify.lambdify_concrete("loss", 0)
    with pytest.raises(ValueError, match="modules"):
        lambdify.lambdify_concrete("loss", 2, modules="numpy")
    f = lambdify.lambdify_concrete("loss", 2, modules="math")
    with pytest.raises(ValueError, match="eigenvalues must have length d = 2"):
        f([1.0], [1.0, 0.0], 0.1, 3)
    with pytest.raises(ValueError, match="coefficients must have length d = 2"):
        f([1.0, 2.0], [1.0], 0.1, 3)


# ------------------------------------------------------------------------------------------------
# lambdified closed forms vs. a separately written 50-digit evaluation of the same formulas

_UNIT_ROUNDOFF = 2.0**-53  # float64, and mpmath's default 53-bit context used by lambdify "mpmath"


def _reference(ctx, name, eigenvalues, coefficients, eta, t):
    """(value, scale): the formula summed directly in ``ctx``, and the sum of the absolute
    values of everything that is added, which bounds the effect of rounding each term."""
    lam = [ctx.mpf(v.numerator) / v.denominator for v in eigenvalues]
    c = [ctx.mpf(v.numerator) / v.denominator for v in coefficients]
    e = ctx.mpf(eta.numerator) / eta.denominator
    x = [1 - e * v for v in lam]

    def wsum(k, p, absolute=False):
        terms = [ci**2 * li**k * xi**p for ci, li, xi in zip(c, lam, x)]
        return ctx.fsum(abs(term) for term in terms) if absolute else ctx.fsum(terms)

    B = wsum(1, 2 * t)
    A, A_abs = wsum(2, 2 * t - 1), wsum(2, 2 * t - 1, absolute=True)
    C = wsum(3, 2 * t - 2)
    if name == "loss":
        return B / 2, B / 2
    if name == "naive_grad":
        return -t * A, t * A_abs
    if name == "naive_hess":
        return t * (2 * t - 1) * C, t * (2 * t - 1) * C
    if name == "log_objective":
        value = ctx.log(B / 2) / t
        return value, abs(value) + ctx.mpf(1) / t
    if name == "log_grad" or name == "log_grad_normalised":
        return -2 * A / B, 2 * (A_abs + abs(A)) / B
    if name == "log_hess":
        value = 2 * (2 * t - 1) * C / B - 4 * t * A**2 / B**2
        return value, 4 * (2 * t - 1) * C / B + 12 * t * (A_abs / B) ** 2
    raise AssertionError(name)


_dyadic_eig = st.integers(1, 40).map(lambda k: sympy.Rational(k, 8))  # 1/8 .. 5, exact in binary
_dyadic_coef = st.integers(-8, 8).map(lambda k: sympy.Rational(k, 8))
_dyadic_eta = st.integers(0, 256).map(lambda k: sympy.Rational(k, 256))  # eta*lambda in [0, 5]


@st.composite
def _instances(draw):
    dim = draw(st.integers(1, 4))
    eig = draw(st.lists(_dyadic_eig, min_size=dim, max_size=dim))
    coef = draw(st.lists(_dyadic_coef, min_size=dim, max_size=dim))
    return eig, coef, draw(_dyadic_eta), draw(st.integers(1, 30))


@pytest.mark.parametrize("modules", ["mpmath", "math"])
@pytest.mark.parametrize("name", list(q.EXPRESSIONS))
@given(instance=_instances())
def test_lambdify_concrete_matches_direct_mpmath_sums(name, modules, instance):
    eig, coef, eta, t = instance
    # every log quantity divides by B = 2 f(w_t); require f(w_t) > 0 (some c_i != 0 with eta lambda_i != 1)
    assume(any(ci != 0 and eta * li != 1 for ci, li in zip(coef, eig)))
    f = lambdify.lambdify_concrete(name, len(eig), modules=modules)
    if modules == "math":
        got = f([float(v) for v in eig], [float(v) for v in coef], float(eta), t)
    else:
        got = f([mpmath.mpf(float(v)) for v in eig], [mpmath.mpf(float(v)) for v in coef], mpmath.mpf(float(eta)), t)
    ctx = mpmath.MPContext()  # local 50-digit context: the global mpmath precision is never touched
    ctx.dps = 50
    value, scale = _reference(ctx, name, eig, coef, eta, t)
    # Inputs are dyadic, so 1 - eta*lambda_i is exact in binary and each power is correctly rounded:
    # each added term carries about one unit of roundoff, summing d terms adds d more, and a ratio or
    # log adds a few. The normalised form divides by rho first, and s_i^(2t-1) amplifies that one
    # rounding by the exponent, hence the 4t term. Cancellation is covered by `scale`.
    tolerance = 2 * _UNIT_ROUNDOFF * (4 * t + len(eig) + 10) * scale
    assert abs(ctx.mpf(got) - value) <= tolerance, (name, modules, instance, got, value)
