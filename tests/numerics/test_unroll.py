"""Tests for numerics.quadratic.unroll: differentiation through unrolled GD on a dense quadratic.

Three implementations of the same derivative are compared (DESIGN.md, "Independence"): reverse
mode, forward mode, and central finite differences of the loss computed by an mpmath unroll; and the
float64 / float32 runs are compared with the mpmath run of the *same* dense H. The status tests
reproduce Corollary 1 of Wang et al. (2021) (papers/wang2021.md §3.4, §5 item 9, §7 item 10).

Tolerance used throughout for a float run against the mpmath run (``_unroll_tol``):

    tol = 4 (t + 1) (d + 2) eps (1 + eta L) / rho * kK * (|ref| + L / rho)

Why: each step w <- w - eta (H w) commits a rounding error of relative size <= (d + 2) eps
(1 + eta L) in norm (d-term dot products, one multiply, one subtraction); later steps shrink or
grow that error by at most rho per step, exactly as they do the iterate, so after t steps (plus the
cast of the inputs, the "+ 1") the iterate's relative error is <= (t + 1)(d + 2) eps (1 + eta L)/rho.
f(w_t) and dF/deta are quadratic forms in the iterates: twice that relative error each, times the
Kantorovich factor kK = (L + alpha) / (2 sqrt(L alpha)) >= ||w|| ||Hw|| / (2 f(w)) (the form's
condition number), hence the 4. F_log' = (dF/deta)/(t f) then errs by that relative amount times
its terms' scale, |F_log'| + L/rho (each eigencomponent contributes -2 lambda_i / (1 - eta lambda_i)).
On 1500 random instances of the strategy below the observed error never exceeded 0.5 x tol / 4.
"""

from __future__ import annotations

import doctest
import math
import warnings
from dataclasses import dataclass

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import l2l.numerics.quadratic.unroll as unroll
from l2l.numerics.quadratic.unroll import MAX_BACKPROP_COST, BackpropResult, Trace, backprop, forward_tangent, loss_curve
from l2l.numerics.validation import ValidationError

EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
#: log10 of the largest finite value / smallest normal value of each dtype (the spec's ~38 / ~308).
RANGE10 = {"float32": math.log10(float(np.finfo(np.float32).max)), "float64": math.log10(float(np.finfo(np.float64).max))}


# ---------------------------------------------------------------------------------------------
# problems


@dataclass
class Problem:
    H: np.ndarray  # dense, rotated: the code never sees the eigenbasis
    w0: np.ndarray
    lam: np.ndarray  # eigenvalues used to build H (exact up to ~eps from the rotation)
    c: np.ndarray  # coefficients in that eigenbasis
    Q: np.ndarray

    @property
    def d(self) -> int:
        return self.lam.size

    @property
    def L(self) -> float:
        return float(self.lam.max())

    @property
    def alpha(self) -> float:
        return float(self.lam.min())

    def rho(self, eta: float) -> float:
        return float(np.max(np.abs(1.0 - eta * self.lam)))


def make_problem(lam, c, seed) -> Problem:
    lam = np.asarray(lam, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(lam.size, lam.size)))
    q = q * np.sign(np.diag(r))
    h = (q * lam) @ q.T
    return Problem(0.5 * (h + h.T), q @ c, lam, c, q)


@st.composite
def spd_problems(draw, max_dim: int = 6, lam_lo: float = 0.1, lam_hi: float = 10.0):
    """Random SPD H = Q diag(lam) Q^T (kappa <= 100) with |c_i| in [0.1, 1]: bounded, finite."""
    d = draw(st.integers(1, max_dim))
    lam = draw(st.lists(st.floats(lam_lo, lam_hi), min_size=d, max_size=d))
    mags = draw(st.lists(st.floats(0.1, 1.0), min_size=d, max_size=d))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=d, max_size=d))
    seed = draw(st.integers(0, 2**32 - 1))
    return make_problem(lam, np.array(mags) * np.array(signs), seed)


def _unroll_tol(p: Problem, eta: float, t: int, ref: float, eps: float) -> float:
    """Error bound of a float unroll against mpmath (module docstring)."""
    rho = p.rho(eta)
    kk = (p.L + p.alpha) / (2.0 * math.sqrt(p.L * p.alpha))
    return 4.0 * (t + 1) * (p.d + 2) * eps * (1.0 + eta * p.L) / rho * kk * (abs(ref) + p.L / rho)


def _mp_log_objective(p: Problem, eta: float, t: int, dps: int = 50):
    f = loss_curve(p.H, p.w0, eta, t, dtype="mpmath", dps=dps)[-1]
    return f.context.log(f) / t


def _mp_central_difference(p: Problem, eta: float, t: int, h: float):
    """(F(eta + h) - F(eta - h)) / (actual spacing), F = (1/t) ln f(w_t) from the mpmath unroll.

    eta +- h are rounded to float64 (the unroll takes float64 step sizes), and the division uses the
    exact spacing of those two floats, so the rounding of the abscissae costs nothing.
    """
    ep, em = float(eta + h), float(eta - h)
    fp, fm = _mp_log_objective(p, ep, t), _mp_log_objective(p, em, t)
    ctx = fp.context
    return (fp - fm) / (ctx.mpf(ep) - ctx.mpf(em))


def _twenty_dim() -> Problem:
    """The spec's default instance (papers/wang2021.md §7): H = X X^T, X in R^{20 x 40} Gaussian."""
    rng = np.random.default_rng(20)
    x = rng.normal(size=(20, 40))
    h = x @ x.T
    h = 0.5 * (h + h.T)
    w0 = rng.normal(size=20)
    w0 /= np.linalg.norm(w0)
    lam, u = np.linalg.eigh(h)
    return Problem(h, w0, lam, u.T @ w0, u)


TWENTY = _twenty_dim()


def _status(p: Problem, eta: float, t: int, dtype: str) -> str:
    return str(backprop(p.H, p.w0, eta, t, dtype=dtype).status[0, 0])


def _first_failing_t(p: Problem, eta: float, dtype: str, lo: int, hi: int) -> int:
    """Smallest t in (lo, hi] with status != ok, by bisection (status ok at lo, failed at hi)."""
    assert _status(p, eta, lo, dtype) == "ok"
    assert _status(p, eta, hi, dtype) != "ok"
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _status(p, eta, mid, dtype) == "ok":
            lo = mid
        else:
            hi = mid
    return hi


# ---------------------------------------------------------------------------------------------
# the module's own examples


def test_doctests():
    res = doctest.testmod(unroll, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 8 and res.failed == 0


# ---------------------------------------------------------------------------------------------
# reverse = forward = finite differences


@given(p=spd_problems(), t=st.integers(1, 60), frac=st.floats(0.0, 1.0))
def test_reverse_forward_and_finite_differences_agree(p, t, frac):
    eta = frac * 2.5 / p.L
    rho = p.rho(eta)
    # keep f(w_t) ~ rho^(2t) well inside float64's range (the status tests cover the edges), and
    # rho >= 1e-4 so that the FD abscissae eta +- h below are distinct floats.
    assume(rho > 1e-4 and 2 * t * abs(math.log10(rho)) < 250)
    # FD step: F_log varies on the scale rho / (t L) (where two eigendirections trade dominance),
    # so h = 1e-9 rho / L is deep in the O(h^2) regime; keep eta - h >= 0.
    h = 1e-9 * rho / p.L
    eta = max(eta, 2 * h)

    rev_mp = backprop(p.H, p.w0, eta, t, dtype="mpmath")
    fwd_mp = forward_tangent(p.H, p.w0, eta, t, dtype="mpmath")
    assert rev_mp.status[0, 0] == fwd_mp.status[0, 0] == "ok"
    r, f = rev_mp.mp_log_objective_grad[0, 0], fwd_mp.mp_log_objective_grad[0, 0]
    ref = float(r)
    # mpmath (dps = 50): the float64 error model with eps = 1e-50.
    assert abs(float(r - f)) <= _unroll_tol(p, eta, t, ref, 1e-50)

    fd1 = _mp_central_difference(p, eta, t, h)
    fd2 = _mp_central_difference(p, eta, t, h / 2)
    # Richardson: the error of fd2 is ~ (fd1 - fd2) / 3 in the O(h^2) regime; 1e-30 covers the
    # rounding of the difference quotient at 50 digits (1e-50 * |ln f| / h < 1e-35 here).
    fd_err = abs(float(fd1 - fd2)) + 1e-30 * (abs(ref) + p.L / rho)
    assert abs(float(r - fd2)) <= fd_err, (float(r), float(fd2))

    for res in (backprop(p.H, p.w0, eta, t), forward_tangent(p.H, p.w0, eta, t)):
        assert res.status[0, 0] == "ok"
        assert abs(res.log_objective_grad[0, 0] - ref) <= _unroll_tol(p, eta, t, ref, EPS["float64"])


@given(p=spd_problems(), t=st.integers(1, 200), frac=st.floats(0.0, 1.0), dtype=st.sampled_from(["float64", "float32"]))
def test_float_unroll_matches_mpmath_unroll(p, t, frac, dtype):
    eta = frac * 2.5 / p.L
    ref_res = backprop(p.H, p.w0, eta, t, dtype="mpmath", dps=40)
    if ref_res.status[0, 0] != "ok":
        # f(w_t) == 0 exactly: needs eta lambda = 1 exactly (d = 1, e.g. lam = 1.0, frac = 0.4)
        assert ref_res.status[0, 0] == "invalid" and ref_res.loss[0, 0] == 0
        assert backprop(p.H, p.w0, eta, t, dtype=dtype).status[0, 0] in ("invalid", "underflow")
        return
    ref = ref_res.log_objective_grad[0, 0]
    for res in (backprop(p.H, p.w0, eta, t, dtype=dtype), forward_tangent(p.H, p.w0, eta, t, dtype=dtype)):
        st_ = res.status[0, 0]
        if st_ == "ok":
            assert abs(res.log_objective_grad[0, 0] - ref) <= _unroll_tol(p, eta, t, ref, EPS[dtype])
        else:
            # The only honest failure is leaving the dtype's range: the true f(w_t) ~ rho^(2t)
            # must then be near the edge (within 10 decades of it, for the prefactor c^2 lambda).
            assert st_ in ("overflow", "underflow")
            assert np.isnan(res.log_objective_grad[0, 0]) and res.value(0, 0) is None
            assert 2 * t * abs(math.log10(p.rho(eta))) > RANGE10[dtype] - 10


def test_multiple_horizons_and_step_sizes_match_single_runs():
    p = make_problem([0.3, 1.0, 2.0, 5.0], [0.5, -0.4, 0.6, 0.3], seed=3)
    etas = np.array([0.0, 0.05, 0.2, 0.39, 0.5])
    ts = [7, 1, 40, 7]  # unsorted and with a duplicate
    for fn in (backprop, forward_tangent):
        res = fn(p.H, p.w0, etas, ts)
        assert res.log_objective_grad.shape == res.status.shape == res.loss.shape == (5, 4)
        assert (res.status == "ok").all()
        np.testing.assert_array_equal(res.log_objective_grad[:, 0], res.log_objective_grad[:, 3])
        for i, eta in enumerate(etas):
            for j, t in enumerate(ts):
                one = fn(p.H, p.w0, eta, t)
                # the vectorised matmul may round differently from the single-column one
                assert one.log_objective_grad[0, 0] == pytest.approx(res.log_objective_grad[i, j], rel=1e-12, abs=1e-12)
    # eta = 0: F_log'(0) = -2 sum c^2 lam^2 / sum c^2 lam (§5 item 5 at eta = 0), for every t
    c2 = p.c**2
    exact0 = -2 * np.sum(c2 * p.lam**2) / np.sum(c2 * p.lam)
    np.testing.assert_allclose(res.log_objective_grad[0], exact0, rtol=1e-12)


def test_chunking_gives_the_same_results(monkeypatch):
    p = make_problem([0.5, 1.0, 3.0], [0.6, 0.6, -0.5], seed=4)
    etas = np.linspace(0.0, 0.8, 7)
    ts = [5, 30]
    full = backprop(p.H, p.w0, etas, ts)
    monkeypatch.setattr(unroll, "MEMORY_CAP_BYTES", 31 * 3 * 8 * 2)  # two step sizes per chunk
    chunked = backprop(p.H, p.w0, etas, ts)
    np.testing.assert_allclose(chunked.log_objective_grad, full.log_objective_grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(chunked.status, full.status)


def test_loss_curve_matches_closed_form_and_backprop():
    p = make_problem([0.2, 1.0, 4.0], [0.7, -0.5, 0.5], seed=5)
    eta, t = 0.3, 25
    curve = loss_curve(p.H, p.w0, eta, t)
    taus = np.arange(t + 1)
    exact = 0.5 * np.sum(p.c[:, None] ** 2 * p.lam[:, None] * (1 - eta * p.lam[:, None]) ** (2 * taus), axis=0)
    # relative error <= (tau + 1)(d + 2) eps (1 + eta L) / rho per iterate, doubled for f: < 1e-12
    np.testing.assert_allclose(curve, exact, rtol=1e-12)
    mp_curve = loss_curve(p.H, p.w0, eta, t, dtype="mpmath", dps=30)
    assert len(mp_curve) == t + 1 and mp_curve[0].context.dps == 30
    np.testing.assert_allclose([float(x) for x in mp_curve], exact, rtol=1e-12)
    res = backprop(p.H, p.w0, eta, [5, t])
    np.testing.assert_allclose(res.loss[0], curve[[5, t]], rtol=1e-13)
    assert mpmath.mp.dps == 15  # the global context is never touched


def test_float32_stays_in_float32():
    p = make_problem([0.5, 2.0], [0.8, 0.6], seed=6)
    res = backprop(p.H, p.w0, [0.1, 0.4], [3, 50], dtype="float32")
    assert res.dtype == "float32" and res.log_objective_grad.dtype == np.float64
    for arr in (res.loss, res.naive_grad, res.log_objective_grad):
        np.testing.assert_array_equal(arr.astype(np.float32).astype(np.float64), arr)
    ref = backprop(p.H, p.w0, [0.1, 0.4], [3, 50])
    diff = np.abs(res.log_objective_grad - ref.log_objective_grad)
    assert diff.max() > 0  # it really is a different (lower) precision
    assert diff.max() < 1e-3


# ---------------------------------------------------------------------------------------------
# statuses (Corollary 1)


def test_float64_overflows_at_three_over_L():
    p = TWENTY
    eta = 3.0 / p.L  # rho = 2: 2 t log10 rho = 1806 >> 308 at t = 3000
    for fn in (backprop, forward_tangent):
        res = fn(p.H, p.w0, eta, 3000)
        assert res.status[0, 0] == "overflow"
        assert np.isnan(res.log_objective_grad[0, 0]) and res.value(0, 0) is None
        assert res.contract_entry(0, 0) == {"log_objective_grad": None, "status": "overflow"}
        assert not np.isfinite(res.loss[0, 0])  # the raw value is reported as it came out


def test_overflow_is_a_status_not_an_exception():
    p = TWENTY
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            res = backprop(p.H, p.w0, [3.0 / p.L, 0.5 / p.L], [100, 3000], dtype="float32")
    assert res.status.tolist() == [["overflow", "overflow"], ["ok", "underflow"]]


@pytest.mark.parametrize("mult", [1.23, 1.5, "3/L"])
def test_overflow_horizons_follow_the_exponent_range(mult):
    """First failing t ~ log10(max) / (2 log10 rho): about 38.5 (float32) or 308 (float64) decades.

    f(w_t) and the adjoint wbar_1 are of order rho^(2t) (times a prefactor c^2 lambda / 2 of a few
    decades), so the first overflow lies within a factor 1.5 of the prediction.
    """
    p = TWENTY
    eta = 3.0 / p.L if mult == "3/L" else mult * 2.0 / (p.L + p.alpha)
    rho = p.rho(eta)
    assert rho > 1
    first = {}
    for dtype in ("float32", "float64"):
        pred = RANGE10[dtype] / (2 * math.log10(rho))
        first[dtype] = _first_failing_t(p, eta, dtype, max(1, int(pred / 1.5)), int(pred * 1.5) + 1)
        assert pred / 1.5 <= first[dtype] <= pred * 1.5, (dtype, first[dtype], pred)
        assert _status(p, eta, first[dtype], dtype) == "overflow"
    assert first["float32"] < first["float64"] / 5  # much earlier: 38.5 vs 308 decades


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_underflow_horizon_follows_the_exponent_range(dtype):
    p = TWENTY
    eta = 0.5 * 2.0 / (p.L + p.alpha)  # rho = 0.958 < 1: the loss and its gradient vanish
    rho = p.rho(eta)
    pred = RANGE10[dtype] / (2 * abs(math.log10(rho)))
    first = _first_failing_t(p, eta, dtype, int(pred / 1.5), int(pred * 1.5))
    assert pred / 1.5 <= first <= pred * 1.5
    assert _status(p, eta, first, dtype) == "underflow"


def test_float64_underflow_at_two_hundred_thousand_steps_while_mpmath_value_exists():
    """kappa = 100 (eigenvalues 0.01 and 1), eta = 0.25 / L, an eighth of the optimal 2/(L + alpha).

    rho = 1 - 0.25 * 0.01 = 0.9975, so at t = 2e5 f(w_t) ~ 0.5 c^2 alpha rho^(2t) ~ 1e-437: far below
    float64's smallest subnormal (4.9e-324), so f rounds to 0 and the ratio is 0/0. (The suggested
    eigenvalues 1e-4..1 with eta = 1/L would not do: there 2t |log10 rho| = 17, nowhere near 308.)
    The mpmath unroll of the same dense H keeps the exponent and gives F_log' ~ -2 alpha / rho.
    """
    p = make_problem([1e-2, 1.0], [0.6, 0.8], seed=7)
    eta, t = 0.25 / p.L, 200_000
    res = backprop(p.H, p.w0, eta, t)
    assert res.status[0, 0] == "underflow"
    assert res.loss[0, 0] == 0.0 and res.value(0, 0) is None and np.isnan(res.log_objective_grad[0, 0])

    mp = forward_tangent(p.H, p.w0, eta, t, dtype="mpmath", dps=30)
    assert mp.status[0, 0] == "ok"
    ctx = mp.mp_loss[0, 0].context
    assert -440 < float(ctx.log10(mp.mp_loss[0, 0])) < -430
    # closed form (§5 item 5) in the eigenbasis used to build H; H's own eigenvalues differ by
    # ~1e-16 relative, which moves F_log' by ~ 2t eta 1e-16 / rho ~ 1e-11 relative.
    lam = [ctx.mpf(float(x)) for x in p.lam]
    c = [ctx.mpf(float(x)) for x in p.c]
    e = ctx.mpf(eta)
    num = sum(ci**2 * li**2 * (1 - e * li) ** (2 * t - 1) for ci, li in zip(c, lam))
    den = sum(ci**2 * li * (1 - e * li) ** (2 * t) for ci, li in zip(c, lam))
    exact = float(-2 * num / den)
    assert mp.log_objective_grad[0, 0] == pytest.approx(exact, rel=1e-9)
    assert exact == pytest.approx(-2 * 0.01 / p.rho(eta), rel=1e-6)  # the slow direction dominates


def test_subnormal_loss_is_underflow_and_normal_loss_is_ok():
    # d = 1, H = [1], eta = 0.9: f(w_t) = 0.5 * 0.1^(2t) (up to rounding)
    H, w0 = [[1.0]], [1.0]
    res = backprop(H, w0, 0.9, [150, 154, 155, 200])
    tiny = np.finfo(np.float64).tiny
    assert res.loss[0, 0] > tiny and res.status[0, 0] == "ok"  # 5e-301: normal
    assert 0 < res.loss[0, 2] < tiny and res.status[0, 2] == "underflow"  # 5e-311: subnormal
    assert res.loss[0, 3] == 0.0 and res.status[0, 3] == "underflow"  # 5e-401: rounded to 0
    assert res.log_objective_grad[0, 0] == pytest.approx(-2 / 0.1, rel=1e-12)
    assert np.isnan(res.log_objective_grad[0, 1:][res.status[0, 1:] != "ok"]).all()


def test_exact_zero_loss_and_negative_loss_are_invalid():
    # eta lambda = 1 exactly: w_1 = 0 exactly, f = 0 and dF/deta = 0, the ratio is 0/0.
    for dtype in ("float64", "float32", "mpmath"):
        for fn in (backprop, forward_tangent):
            res = fn([[2.0]], [1.0], 0.5, [1, 3], dtype=dtype)
            assert (res.status == "invalid").all(), (dtype, fn.__name__)
            assert np.isnan(res.log_objective_grad).all() and (res.loss == 0).all()
    # an indefinite H gives f < 0: ln f is NaN
    res = backprop([[1.0, 0.0], [0.0, -1.0]], [0.0, 1.0], 0.1, 2)
    assert res.loss[0, 0] < 0 and res.status[0, 0] == "invalid"


def test_mpmath_does_not_overflow():
    p = make_problem([0.5, 2.0], [0.8, 0.6], seed=8)
    eta = 3.0 / p.L  # rho = 2: float64 overflows near t = 512
    res = backprop(p.H, p.w0, eta, 600, dtype="mpmath", dps=30)
    assert res.status[0, 0] == "ok"
    assert _status(p, eta, 600, "float64") == "overflow"
    assert abs(res.log_objective_grad[0, 0] - 2 * p.L / (eta * p.L - 1)) < 1e-6  # ~ 2L/(eta L - 1)


# ---------------------------------------------------------------------------------------------
# recorded magnitudes


def _dominance_bound(weights: np.ndarray, ratios: np.ndarray, power: int) -> float:
    """B = -log10(1 - S), S = sum_i w_i r_i^power: |log10(1 +- delta)| <= B whenever |delta| <= S < 1."""
    s = float(np.sum(weights * ratios**power))
    assert s < 0.5
    return -math.log10(1.0 - s)


def _ls_slope_sensitivity(a: int, b: int) -> float:
    """max |change of the least-squares slope| per unit bounded perturbation on x = a..b (~ 3/(b - a))."""
    x = np.arange(a, b + 1, dtype=np.float64)
    xc = x - x.mean()
    return float(np.sum(np.abs(xc)) / np.sum(xc**2))


@pytest.mark.parametrize("dtype", ["float64", "mpmath"])
@pytest.mark.parametrize("mult", [0.5, 1.3])
def test_recorded_magnitudes_grow_with_slope_log10_rho(dtype, mult):
    """Iterates ~ rho^tau, adjoints ~ rho^(2t - tau), running loss ~ rho^(2 tau) (§5 item 9).

    In the eigenbasis w_tau = sum_i c_i r_i^tau u_i with r_i = 1 - eta lambda_i. Writing e for the
    direction with |r_e| = rho, max_k |w_tau,k| = |c_e| rho^tau max_k |u_ek| (1 + delta_tau) with
    |delta_tau| <= sum_{i != e} |c_i| / (|c_e| max_k |u_ek|) (|r_i| / rho)^tau, so log10 max |w_tau| is
    linear in tau up to B = log10(1 + that bound at tau = t/2). A least-squares slope over n evenly
    spaced points on [a, b] moves by at most B sum|x - xbar| / sum (x - xbar)^2 ~ 3 B / (b - a).
    The gap |r_i| / rho <= 0.91 below makes B ~ 1e-9 at tau = t/2 = 200; rounding adds a relative
    error <= 4 (t + 1)(d + 2) eps (1 + eta L) / rho ~ 1e-11 (float64), which enters B the same way.
    So the slopes must match to ~1e-10: a strong check of the rho^(+-tau) anatomy.
    """
    lam = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    p = make_problem(lam, [0.5, 0.4, -0.3, 0.5, 0.5], seed=9)
    eta = mult * 2.0 / (p.L + p.alpha)
    rho = p.rho(eta)
    r = np.abs(1.0 - eta * lam)
    e = int(np.argmax(r))
    others = np.arange(lam.size) != e
    ratios = r[others] / rho
    assert ratios.max() <= 0.91
    t = 400
    a = t // 2
    res = backprop(p.H, p.w0, eta, t, dtype=dtype, dps=30, record=True)
    assert res.status[0, 0] == "ok"
    tr = res.traces[0, 0]
    assert isinstance(tr, Trace) and tr.t == t and tr.w_log10_max.shape == (t + 1,)
    assert (tr.w_zeros == 0).all() and (tr.adjoint_zeros == 0).all()
    assert tr.naive_grad_log10_abs[t] == -np.inf
    umax = np.max(np.abs(p.Q[:, e]))
    # rounding: 4x the iterate's relative error bound (adjoint and loss are quadratic), in log10
    eps = EPS["float64"] if dtype == "float64" else 1e-30
    rounding = 4 * (t + 1) * (p.d + 2) * eps * (1 + eta * p.L) / rho / math.log(10)
    # ... plus the float64 rounding of the recorded log10 values themselves (|log10| < 110 here)
    rounding += 4 * 110 * EPS["float64"]
    sens = _ls_slope_sensitivity(a, t)

    b_w = _dominance_bound(np.abs(p.c[others]) / (abs(p.c[e]) * umax), ratios, a)
    slope = tr.slope("w_log10_max", a)
    assert abs(slope - math.log10(rho)) <= sens * (b_w + rounding)

    cl = np.abs(p.c * lam)
    b_adj = _dominance_bound(cl[others] / (cl[e] * umax), ratios, t)  # exponents 2t - tau >= t
    slope = tr.slope("adjoint_log10_max", a)
    assert abs(slope + math.log10(rho)) <= sens * (b_adj + rounding)

    b_f = _dominance_bound(p.c[others] ** 2 * lam[others] / (p.c[e] ** 2 * lam[e]), ratios, 2 * a)
    slope = tr.slope("loss_log10_abs", a)
    assert abs(slope - 2 * math.log10(rho)) <= sens * (b_f + rounding)

    # The accumulator's terms are all equal ((dF/deta)/t each), so it grows linearly in t - tau.
    acc = 10.0 ** (tr.naive_grad_log10_abs[:t] - tr.naive_grad_log10_abs[0])
    np.testing.assert_allclose(acc, (t - np.arange(t)) / t, rtol=1e-9)


def test_record_float32_shows_overflow_in_the_trace():
    p = TWENTY
    eta = 3.0 / p.L
    res = backprop(p.H, p.w0, eta, 100, dtype="float32", record=True)
    assert res.status[0, 0] == "overflow"
    tr = res.traces[0, 0]
    # iterates of order 2^tau stay finite to tau = 100 in float32 (2^100 ~ 1e30 < 3e38) ...
    assert np.isfinite(tr.w_log10_max).all()
    assert abs(tr.slope("w_log10_max", 50) - math.log10(p.rho(eta))) < 1e-3
    # ... but the adjoint, of order 2^(200 - tau), leaves the range near the end of the tape
    assert not np.isfinite(tr.adjoint_log10_max[:40]).all()


# ---------------------------------------------------------------------------------------------
# validation and the cost guard


GOOD = dict(H=[[2.0, 0.5], [0.5, 1.0]], w0=[1.0, 0.0], etas=0.1, ts=5)


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(H=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), "H"),
        (dict(H=[[1.0, float("nan")], [0.0, 1.0]]), "H"),
        (dict(H=[[1.0, 0.5], [0.4, 1.0]]), "H"),
        (dict(H="identity"), "H"),
        (dict(w0=[1.0, 0.0, 0.0]), "w0"),
        (dict(w0=[1.0, float("inf")]), "w0"),
        (dict(etas=-0.1), "etas"),
        (dict(etas=[0.1, float("nan")]), "etas"),
        (dict(etas=[[0.1, 0.2]]), "etas"),
        (dict(ts=0), "ts"),
        (dict(ts=2.5), "ts"),
        (dict(ts=True), "ts"),
        (dict(ts=[]), "ts"),
        (dict(dtype="float16"), "dtype"),
        (dict(dtype="mpmath", dps=5), "dps"),
    ],
)
@pytest.mark.parametrize("fn", [backprop, forward_tangent])
def test_invalid_inputs_name_the_field(fn, change, field):
    kwargs = {**GOOD, **change}
    with pytest.raises(ValidationError) as info:
        fn(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_loss_curve_validation_names_its_fields():
    with pytest.raises(ValidationError) as info:
        loss_curve([[1.0]], [1.0], -1.0, 3)
    assert info.value.field == "eta"
    with pytest.raises(ValidationError) as info:
        loss_curve([[1.0]], [1.0], 0.1, 0)
    assert info.value.field == "t"


def test_cost_guard():
    d = 10
    H, w0 = np.eye(d), np.ones(d)
    etas = np.linspace(0.0, 1.0, 1000)
    t = MAX_BACKPROP_COST // (1000 * d) + 1  # just over the limit
    for fn in (backprop, forward_tangent):
        with pytest.raises(ValidationError) as info:
            fn(H, w0, etas, [1, t])
        assert info.value.field == "backprop"
        assert str(MAX_BACKPROP_COST) in str(info.value)
    with pytest.raises(ValidationError) as info:
        backprop(H, w0, 0.1, 10**5, dtype="mpmath")  # 10^5 x 10^2 x 2 mpf passes
    assert info.value.field == "backprop" and "MAX_MPMATH_COST" in str(info.value)
    with pytest.raises(ValidationError) as info:
        backprop([[1.0]], [1.0], np.linspace(0, 1, 200), 10**5, record=True)
    assert info.value.field == "record"
    # a request within the limit is accepted
    res = backprop([[1.0]], [1.0], [0.5], 10**4)
    assert isinstance(res, BackpropResult)
