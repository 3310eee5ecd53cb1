"""Tests for numerics.nqm.jump (constant eta and mu: the NQM moments at any t in O(d) work).

Independent checks (DESIGN.md, "Independence"):

* the step recursion ``numerics.nqm.run`` (long double, one step at a time) at small t;
* a 60-digit mpmath power of the one-step map, built here from the 2x2 update of (w, v) (the map
  P -> A P A^T + n 1 1^T applied to a basis of symmetric matrices, not the expanded 3x3 entries
  that ``jump`` uses), raised to the power t by binary powering at large t (up to 10^12);
* by-hand values at t = 0 and t = 1, the fixed point at t = 10^9, and a diverging setting.

Tolerances are stated next to each comparison, from the accuracy statement of the module
docstring: eps_ext = 1.08e-19 (x87 long double) for the arithmetic, eps_64 = 1.1e-16 for the
float64 output.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

from l2l.numerics.nqm import NQMProblem, initial_state, run, step
from l2l.numerics.nqm.jump import MAX_JUMP_T, MAX_JUMP_T_MOMENTUM, jump_steps, run_constant
from l2l.numerics.validation import ValidationError

EPS_EXT = float(np.finfo(np.longdouble).eps)
EPS_64 = float(np.finfo(np.float64).eps)
fl = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731


# ---------------------------------------------------------------------------------------------
# independent references


def mp_power_excess(h, s2, X0, eta, mu, t, dps=60):
    """1/2 sum_i h_i E w_t^2 from a dps-digit power of the affine one-step map. The map is *built*
    from the (w, v) update: the mean map A = [[1 - a, mu], [-a, mu]] and the noise vector
    (a, a) c, applied to the basis of symmetric 2x2 matrices (P -> A P A^T + sigma2 b b^T), so no
    hand-expanded entry is shared with numerics.nqm. Binary powering at dps digits loses about
    log2(t) x 10^-dps relative: negligible at dps 60."""
    ctx = mpmath.MPContext()
    ctx.dps = dps
    total = ctx.mpf(0)
    for hi, si, xi in zip(h, s2, X0):
        a = ctx.mpf(float(eta)) * ctx.mpf(float(hi))
        m = ctx.mpf(float(mu))
        A = ctx.matrix([[1 - a, m], [-a, m]])
        bvec = ctx.matrix([[a], [a]])
        noise = bvec * bvec.T * ctx.mpf(float(si))

        def apply(P):
            return A * P * A.T

        basis = [ctx.matrix([[1, 0], [0, 0]]), ctx.matrix([[0, 0], [0, 1]]), ctx.matrix([[0, 1], [1, 0]])]
        F = ctx.zeros(4, 4)  # state (P_ww, P_vv, P_wv, 1)
        for j, B in enumerate(basis):
            img = apply(B)
            F[0, j], F[1, j], F[2, j] = img[0, 0], img[1, 1], img[0, 1]
        F[0, 3], F[1, 3], F[2, 3], F[3, 3] = noise[0, 0], noise[1, 1], noise[0, 1], 1
        z = ctx.matrix([[ctx.mpf(float(xi))], [0], [0], [1]])
        base, k = F, int(t)
        while k:
            if k & 1:
                z = base * z
            k >>= 1
            if k:
                base = base * base
        total += ctx.mpf(float(hi)) * z[0] / 2
    return total


def diff(x, y):
    """|x - y| elementwise, 0 where both are the same infinity (an overflow on both sides)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    with np.errstate(invalid="ignore"):
        return np.where((x == y), 0.0, np.abs(x - y))


def within(x, y, bound):
    """Every |x - y| <= bound (equal values, including equal infinities, always pass: the
    allowance itself overflows where the moments do)."""
    dd = diff(x, y)
    return bool(np.all((dd == 0) | (dd <= bound)))


def rho(eta, mu, h):
    """Spectral radius of the moment map's transient, max |r|^2 over the roots of
    r^2 - (1 - eta h + mu) r + mu (the mean dynamics), per coordinate."""
    out = []
    for a in np.asarray(h) * eta:
        r = np.roots([1.0, -(1.0 - a + mu), mu])
        out.append(float(np.max(np.abs(r))) ** 2)
    return np.array(out)


@st.composite
def problems(draw, d_max=4):
    d = draw(st.integers(1, d_max))
    h = draw(st.lists(fl(0.01, 2.0), min_size=d, max_size=d))
    return NQMProblem(h, draw(st.lists(fl(0.0, 2.0), min_size=d, max_size=d)),
                      draw(st.lists(fl(-2.0, 2.0), min_size=d, max_size=d)), draw(st.lists(fl(0.0, 1.0), min_size=d, max_size=d)))


@st.composite
def settings_(draw, p):
    """(eta, mu): SGD or heavy ball; eta h near 0, 1 and the stability edge 2/(1 + ...) included,
    and mu at critical damping (1 - sqrt(eta h))^2 of one coordinate."""
    hmax = float(p.h.max())
    kind = draw(st.sampled_from(["sgd", "sgd_edge", "hb", "hb_critical", "hb_edge", "hb_small"]))
    if kind == "sgd":
        return draw(st.sampled_from([1.0 / x for x in p.h] + [draw(fl(0.0, 1.99)) / hmax])), 0.0
    if kind == "sgd_edge":  # |1 - eta h_max| just below 1 (2 - eta h ~ 1e-9)
        return (2.0 - draw(fl(1e-9, 1e-3))) / hmax, 0.0
    mu = draw(fl(-0.5, 0.99))
    if kind == "hb":
        return draw(fl(0.0, 1.9)) / hmax, mu
    if kind == "hb_critical":  # double root of the mean map: a defective moment map
        mu = draw(fl(0.05, 0.98))
        return (1.0 - math.sqrt(mu)) ** 2 / float(draw(st.sampled_from(list(p.h)))), mu
    if kind == "hb_edge":  # eta h_max just below 2 (1 + mu)
        mu = draw(fl(0.0, 0.9))
        return (2.0 + 2.0 * mu) * (1.0 - draw(fl(1e-9, 1e-3))) / hmax, mu
    return draw(fl(1e-9, 1e-4)) / hmax, draw(fl(0.0, 0.9))  # eta h near 0: a slow coordinate


def abs_allowance(p, eta, mu, t):
    """A-priori forward error bound of a long-double evaluation: 16 (t + 1) eps_ext x the excess of
    the recursion run on absolute values (|M|, the noise). It matters only where heavy ball's
    deterministic part cancels (the same allowance as tests/proofs/test_eval_nqm.py); for t <= 200
    it is below 4e-16 of the loss wherever nothing cancels."""
    h, s2 = p.h, p.sigma2
    a = eta * h
    b = np.abs(1.0 - a)
    X, W, Y = p.X0.copy(), np.zeros(p.d), np.zeros(p.d)
    out = [0.5 * float(h @ X)]
    for _ in range(t):
        n = a * a * s2
        X, W, Y = (b * b * X + mu * mu * W + 2 * abs(mu) * b * Y + n, a * a * X + mu * mu * W + 2 * abs(mu) * a * Y + n,
                   a * b * X + mu * mu * W + abs(mu * (1 - 2 * a)) * Y + n)
        out.append(0.5 * float(h @ X))
    return 16 * (t + 1) * EPS_EXT * np.array(out)


# ---------------------------------------------------------------------------------------------
# against the step recursion (small t)


@given(data=st.data(), p=problems(), t=st.integers(0, 200))
def test_jump_matches_step_recursion(data, p, t):
    eta, mu = data.draw(settings_(p))
    ref = run(p, eta, t, mu=mu, precision="extended")
    curve = run_constant(p, eta, t, mu=mu, stride=1)
    final = run_constant(p, eta, t, mu=mu)
    assert curve.steps.tolist() == list(range(t + 1)) and final.steps.tolist() == [t]
    # two long-double evaluations of the same exact quantity, each within ~(t + 1) eps_ext (plus
    # the cancellation allowance); 1e-13 leaves room for the float64 rounding of the output (1 ulp)
    # and for the log/exp of the SGD closed form (|t ell| eps_ext with |t ell| <= ~1e3 here)
    bound = 1e-13 * np.abs(ref.excess) + abs_allowance(p, eta, mu, t) + np.finfo(float).tiny
    assert within(curve.excess, ref.excess, bound), np.max(diff(curve.excess, ref.excess) / bound)
    assert within(final.final_excess, ref.final_excess, bound[-1])
    # the final state too (greedy_eta is computed from it)
    assert np.allclose(np.asarray(final.state.X, float), np.asarray(ref.state.X, float), rtol=1e-12, atol=1e-300)


def test_t0_and_t1_by_hand():
    """t = 0: the initial state; t = 1: one exact step (numerics.nqm.step)."""
    p = NQMProblem([1.0, 0.3], [1.0, 2.0], [1.0, -0.5], [0.25, 0.0])
    for mu in (0.0, 0.5, -0.3):
        j0 = run_constant(p, 0.7, 0, mu=mu)
        assert j0.steps.tolist() == [0] and j0.final_excess == 0.5 * float(p.h @ p.X0)
        assert np.all(j0.state.W == 0) and np.all(j0.state.Y == 0)
        j1 = run_constant(p, 0.7, 1, mu=mu)
        s1 = step(p, initial_state(p), 0.7, mu)
        for got, want in ((j1.state.X, s1.X), (j1.state.W, s1.W), (j1.state.Y, s1.Y)):
            # one step: each entry is a sum of <= 3 products, 2 ulp of float64 (the step() rounding)
            np.testing.assert_allclose(np.asarray(got, float), want, rtol=4 * EPS_64, atol=1e-300)


def test_by_hand_heavy_ball():
    """h = sigma2 = 1, eta = mu = 1/2, w_0 = 1: E L = 1, 3/4, 3/4 (the by-hand case of the
    reference), and E w^2 -> n (1 + mu) / (a (1 - mu)(2 + 2 mu - a)) = 3/5 as t -> infinity
    (|r|^2 = mu = 1/2 per step: at t = 10^9 the transient is 2^-10^9, far below eps)."""
    p = NQMProblem([1.0], [1.0], [1.0], [0.0])
    j = run_constant(p, 0.5, 2, mu=0.5, stride=1)
    assert j.loss.tolist() == [1.0, 0.75, 0.75] and j.method == "affine power"
    far = run_constant(p, 0.5, 10**9, mu=0.5)
    # the fixed point reached by repeated squaring: ~30 squarings of a map with entries <= 1, each
    # within 2 eps_ext; the float64 rounding of the output dominates: 2 ulp
    assert float(far.state.X[0]) == pytest.approx(0.6, rel=2 * EPS_64)


# ---------------------------------------------------------------------------------------------
# against mpmath at large t


@given(data=st.data(), p=problems(d_max=2), t=st.sampled_from([2, 3, 10**3, 10**6 + 1, 10**9, 10**12 + 3]))
def test_jump_matches_mpmath_power(data, p, t):
    eta, mu = data.draw(settings_(p))
    if mu != 0.0 and t > MAX_JUMP_T_MOMENTUM:
        t = MAX_JUMP_T_MOMENTUM  # the largest t accepted with momentum
    got = run_constant(p, eta, t, mu=mu)
    ref = float(mp_power_excess(p.h, p.sigma2, p.X0, eta, mu, t))
    if ref > 1e308:  # beyond float64: a status, not a number
        assert got.status == "overflow" and got.final_excess == math.inf
        return
    if ref < 1e-300:  # below float64's normal range: the output format cannot carry it
        assert got.final_excess <= 1e-290
        return
    err = abs(got.final_excess / ref - 1)
    if mu == 0.0:
        # SGD closed form: |t ell| eps_ext from exp/expm1 of t ell (|t ell| <= 745 wherever the
        # transient is still visible in float64) + 2 ulp of the float64 output, independent of t
        bound = 4 * EPS_64
    else:
        # heavy ball by repeated squaring: the rounding of the map moves an eigenvalue by
        # ~eps_ext, which lambda^t amplifies t-fold while the transient lasts (capped by the
        # relaxation time 1 / (1 - rho) once the noise floor dominates), and a double root
        # (critical damping) splits by ~sqrt(eps_ext), an error ~t^2 eps_ext / 10 relative to a
        # transient that has decayed by e^-(t ln(1/rho)): 8 eps_ext t (1 + |ln(E_t / E_0)|) covers
        # both (measured <= 0.8 of it); + 2 ulp of output
        decay = abs(math.log(ref / max(0.5 * float(p.h @ p.X0), 1e-300))) if p.X0.any() else 0.0
        bound = 4 * EPS_64 + 8 * EPS_EXT * t * (1.0 + decay)
    assert err <= bound, (err, bound, eta * p.h, mu, rho(eta, mu, p.h))


def test_heavy_ball_error_stops_growing_with_noise():
    """With noise, the heavy-ball error is capped by the relaxation time, not by t: a slow
    coordinate (1 - rho = 2e-5) has the same error at t = 10^6, 10^8 and 10^9."""
    p = NQMProblem([1.0], [1.0], [1.0], [0.0])
    eta, mu = 1e-6, 0.9
    errs = [abs(run_constant(p, eta, t, mu=mu).final_excess / float(mp_power_excess([1.0], [1.0], [1.0], eta, mu, t)) - 1)
            for t in (10**6, 10**8, 10**9)]
    # eps_ext / (1 - rho) = 1e-19 x 5e4 = 5e-15, x 8 (the factor measured <= 6)
    assert max(errs) <= 8 * EPS_EXT / 2e-5 + 4 * EPS_64, errs


def test_sgd_accuracy_independent_of_t():
    """SGD at eta h = 1e-10 (a slow coordinate) and at 2 - 1e-10 (the stability edge): the closed
    form's error does not grow with t (measured <= 8e-17 up to t = 10^15)."""
    for eta in (1e-10, 2.0 - 1e-10, 1.0 - 1e-12):
        p = NQMProblem([1.0], [1e-3], [1.0], [0.0])
        for t in (10, 10**6, 10**12, 10**15):
            ref = float(mp_power_excess([1.0], [1e-3], [1.0], eta, 0.0, t))
            got = run_constant(p, eta, t).final_excess
            # |t ell| eps_ext (<= 745 eps_ext) + 2 ulp of the float64 output
            assert abs(got / ref - 1) <= 4 * EPS_64, (eta, t, got, ref)


def test_critical_damping_large_t():
    """mu = (1 - sqrt(eta h))^2: the mean map has a double root (defective moment map), which
    repeated squaring needs no special case for; t = 10^9 against mpmath."""
    mu = 0.81
    eta = (1.0 - math.sqrt(mu)) ** 2
    p = NQMProblem([1.0, 0.5], [1.0, 0.0], [1.0, 2.0], [0.0, 0.5])
    for t in (7, 1000, 10**9):
        ref = float(mp_power_excess(p.h, p.sigma2, p.X0, eta, mu, t))
        # 1 - rho = 0.1: eps_ext / (1 - rho) is 1e-18, so 2 ulp of output
        assert run_constant(p, eta, t, mu=mu).final_excess == pytest.approx(ref, rel=4 * EPS_64)


# ---------------------------------------------------------------------------------------------
# curves, divergence, input checks


@given(data=st.data(), p=problems(d_max=3), t=st.integers(0, 500), stride=st.integers(1, 60))
def test_stride_curve_is_the_final_values(data, p, t, stride):
    """The strided curve at step s equals the final value of a jump to s (metamorphic)."""
    eta, mu = data.draw(settings_(p))
    c = run_constant(p, eta, t, mu=mu, stride=stride)
    assert c.steps.tolist() == jump_steps(t, stride).tolist() == sorted(set(range(0, t + 1, stride)) | {t})
    direct = np.array([run_constant(p, eta, int(s), mu=mu).final_excess for s in c.steps])
    # SGD: the same closed form at each step (equal up to the last bit); heavy ball: the curve
    # chains F^stride (t / stride products) where the direct jump squares: both within
    # (t + 1) eps_ext of the truth, plus the cancellation allowance
    bound = 1e-13 * np.abs(direct) + abs_allowance(p, eta, mu, t)[c.steps] + np.finfo(float).tiny
    assert within(c.excess, direct, bound)


@pytest.mark.parametrize("mu", [0.0, 0.5, -0.9])
def test_divergence_is_a_status(mu):
    """Unstable settings: +inf and status "overflow", never NaN, at any t; the same t in the
    step recursion also gives +inf."""
    p = NQMProblem([1.0, 0.1], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0])
    eta = 5.0  # eta h = 5 > 2 (1 + mu)
    for t in (2000, 10**9, MAX_JUMP_T if mu == 0.0 else MAX_JUMP_T_MOMENTUM):
        j = run_constant(p, eta, t, mu=mu)
        assert j.status == "overflow" and j.final_loss == math.inf and not np.isnan(j.excess).any()
        assert not np.isnan(j.state.X).any()
    assert run(p, eta, 2000, mu=mu).final_loss == math.inf
    small = run_constant(p, eta, 5, mu=mu, stride=1)  # growing but still finite: ok, the exact value
    assert small.status == "ok"
    np.testing.assert_allclose(small.excess, run(p, eta, 5, mu=mu, precision="extended").excess, rtol=1e-15)


def test_stride_curve_overflow_midway():
    p = NQMProblem([1.0], [1.0], [1.0], [0.0])
    c = run_constant(p, 3.0, 2000, stride=100)  # |1 - eta h| = 2: E w_t^2 ~ 4^t passes 1.8e308 at t ~ 512
    assert c.status == "overflow"
    assert np.isfinite(c.excess[:6]).all() and np.isinf(c.excess[6:]).all()


@pytest.mark.parametrize("kwargs, field", [
    ({"t": -1}, "t"),
    ({"t": MAX_JUMP_T + 1, "mu": 0.0}, "t"),
    ({"t": MAX_JUMP_T_MOMENTUM + 1}, "t"),  # with momentum (mu = 0.5)
    ({"t": 2.5}, "t"),
    ({"eta": -0.1}, "eta"),
    ({"mu": math.nan}, "mu"),
    ({"stride": 0}, "stride"),
    ({"stride": True}, "stride"),
    ({"t": 10**9, "stride": 10}, "stride"),  # 10^8 + 1 points > MAX_CURVE_POINTS
])
def test_bad_input_names_the_field(kwargs, field):
    args = {"problem": NQMProblem([1.0], [1.0], [1.0], [0.0]), "eta": 0.5, "t": 3, "mu": 0.5}
    args.update(kwargs)
    with pytest.raises(ValidationError) as exc:
        run_constant(**args)
    assert exc.value.field == field, str(exc.value)
