"""Tests for numerics.least_squares.moments: exact expected SGD dynamics.

Every expectation is checked against implementations that share no code with the moment recursion
(DESIGN.md, "Independence"):

1. exact enumeration of *every* minibatch index sequence in rational arithmetic (``fractions``),
   with the pathwise derivative carried exactly along each path (tiny problems);
2. Monte Carlo simulation of the update rule (:mod:`numerics.least_squares.montecarlo`) with z-scores;
3. closed forms (geometric sums, evaluated in mpmath) for scalar / diagonal cases, and plain GD;
4. central finite differences of the exact expectation itself, Richardson-extrapolated.

Monte Carlo z-tests. |exact - MC mean| <= Z * stderr with Z = 5: for a (near-)normal mean the
two-sided false-alarm probability is 5.7e-7 per check, and this file makes 10 such checks (plus
the one in the doctest), so the family-wise false-alarm probability is < 1e-5. Seeds are fixed, so
the outcome is deterministic; the seeds were fixed before the checks were run. The losses are
polynomials in Gaussian or bounded variables (heavy-ish tails), which is why Z is 5 and not 3.
Power: the path counts are chosen so that the standard error is <= 0.2% of each loss and <= 2.5% of
each derivative (measured), and each MC block includes a negative control -- a deliberately wrong
exact value (batch size 1 instead of 2, no minibatch noise, or no additive noise) -- that must be
rejected with |z| > Z. (Measured: |z| of the controls is 68-137, so an error of a few percent in
the recursion would not pass.)
"""

from __future__ import annotations

import doctest
import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, strategies as st

import l2l.numerics.least_squares.moments as moments
from l2l.numerics import LeastSquaresProblem
from l2l.numerics.least_squares.moments import (
    MAX_ETA_SCALE,
    MAX_MOMENT_STEPS,
    additive_noise_expectation,
    finite_set_expectation,
    gaussian_expectation,
)
from l2l.numerics.least_squares.montecarlo import simulate_additive_noise, simulate_finite_set, simulate_gaussian
from l2l.numerics.validation import ValidationError

EPS = float(np.finfo(np.float64).eps)
Z = 5.0  # z-score threshold (module docstring)


def test_doctests():
    res = doctest.testmod(moments, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


# ---------------------------------------------------------------------------------------------
# 1. exact enumeration


def _enumerate(X, y, Xv, yv, eta, t, B, w0):
    """E over all n^(B t) equally likely index sequences, exactly (Fractions); also the largest
    iterate norm W reached on any path (the scale of the float computation's terms)."""
    n, d = len(X), len(X[0])
    Fx = [[Fraction(float(v)) for v in row] for row in X]
    Fy = [Fraction(float(v)) for v in y]
    Fxv = None if Xv is None else [[Fraction(float(v)) for v in row] for row in Xv]
    Fyv = None if yv is None else [Fraction(float(v)) for v in yv]
    e = Fraction(float(eta))
    batches = list(itertools.product(range(n), repeat=B))
    acc = {"train": Fraction(0), "dtrain": Fraction(0), "valid": Fraction(0), "dvalid": Fraction(0)}
    mean = [Fraction(0)] * d
    second = [[Fraction(0)] * d for _ in range(d)]
    norms = [0.0, 0.0]

    def loss(A, b, w, wd):
        r = [sum(A[j][i] * w[i] for i in range(d)) - b[j] for j in range(len(b))]
        rd = [sum(A[j][i] * wd[i] for i in range(d)) for j in range(len(b))]
        return sum(v * v for v in r) / (2 * len(b)), sum(u * v for u, v in zip(r, rd)) / len(b)

    def walk(w, wd, step, weight):
        norms[0] = max(norms[0], math.sqrt(float(sum(v * v for v in w))))
        norms[1] = max(norms[1], math.sqrt(float(sum(v * v for v in wd))))
        if step == t:
            f, g = loss(Fx, Fy, w, wd)
            acc["train"] += weight * f
            acc["dtrain"] += weight * g
            if Fxv is not None:
                f, g = loss(Fxv, Fyv, w, wd)
                acc["valid"] += weight * f
                acc["dvalid"] += weight * g
            for i in range(d):
                mean[i] += weight * w[i]
                for j in range(d):
                    second[i][j] += weight * w[i] * w[j]
            return
        child = weight / len(batches)
        for batch in batches:
            g = [Fraction(0)] * d
            gd = [Fraction(0)] * d
            for j in batch:  # g_B = (1/B) sum_k x_j (x_j^T w - y_j); gd = d g_B / d eta along the path
                r = sum(Fx[j][i] * w[i] for i in range(d)) - Fy[j]
                rd = sum(Fx[j][i] * wd[i] for i in range(d))
                for i in range(d):
                    g[i] += Fx[j][i] * r / B
                    gd[i] += Fx[j][i] * rd / B
            walk([w[i] - e * g[i] for i in range(d)], [wd[i] - g[i] - e * gd[i] for i in range(d)], step + 1, child)

    walk([Fraction(float(v)) for v in w0], [Fraction(0)] * d, 0, Fraction(1))
    return acc, mean, second, norms[0], norms[1]


@st.composite
def tiny_problems(draw):
    """d, n <= 3, B <= 2, t <= 4 with n^(B t) <= 729 sequences; entries on the grid k/4, |k| <= 4
    (exact in binary, so the Fractions stay small); eta = k/16 / max_j ||x_j||^2, k in 0..32, i.e.
    up to twice the one-sample stability limit; optional validation set."""
    d = draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    B = draw(st.integers(1, 2))
    t_max = max(tt for tt in range(1, 5) if n ** (B * tt) <= 729)
    t = draw(st.integers(1, t_max))
    grid = st.integers(-4, 4).map(lambda k: k / 4)
    X = np.array(draw(st.lists(st.lists(grid, min_size=d, max_size=d), min_size=n, max_size=n)))
    y = np.array(draw(st.lists(grid, min_size=n, max_size=n)))
    w0 = np.array(draw(st.lists(grid, min_size=d, max_size=d)))
    nv = draw(st.integers(0, 2))
    Xv = np.array(draw(st.lists(st.lists(grid, min_size=d, max_size=d), min_size=nv, max_size=nv))) if nv else None
    yv = np.array(draw(st.lists(grid, min_size=nv, max_size=nv))) if nv else None
    C = float(np.max(np.sum(X * X, axis=1)))
    eta = draw(st.integers(0, 32)) / 16 / C if C > 0 else draw(st.integers(0, 32)) / 16
    return X, y, Xv, yv, eta, t, B, w0


def _kappa(X: np.ndarray) -> float:
    s = np.linalg.svd(X, compute_uv=False)
    s = s[s > s[0] * max(X.shape) * EPS] if s[0] > 0 else s[:0]
    return float(s[0] / s[-1]) if s.size else 1.0


@given(tiny_problems())
def test_finite_set_matches_exact_enumeration(case):
    """Float recursion against exact rational enumeration of all index sequences.

    Tolerance 16 eps (t + 1) kappa S, with S the scale of the terms each expectation sums (the
    loss evaluated with absolute values, |x_j| W + |y_j| for residuals, and W' = (largest tangent
    norm) + t max_j |x_j| (|x_j| W + |y_j|) for tangents, W = largest iterate norm on any path)
    and kappa = s_max / s_min of X (the SVD reduction solves for the minimum-norm solution a* =
    diag(s)^-1 U^T y, whose error is kappa eps relative). Each of the t + 1 evaluations adds
    O(eps S) rounding. Calibration: over 900 random cases of this strategy the largest observed
    error was 1.2 x eps (t + 1) kappa S, so the factor 16 leaves a margin > 10.
    """
    X, y, Xv, yv, eta, t, B, w0 = case
    p = LeastSquaresProblem(X, y, Xv, yv)
    r = finite_set_expectation(p, eta, t, B, w0)
    acc, mean, second, W, Wd = _enumerate(X, y, Xv, yv, eta, t, B, w0)
    kap = _kappa(X) if X.any() else 1.0
    xn = np.sqrt(np.sum(X * X, axis=1))
    G = float(np.max(xn * (xn * W + np.abs(y))))
    Wd = Wd + t * G
    scale = {
        "train": np.mean((xn * W + np.abs(y)) ** 2) / 2,
        "dtrain": np.mean((xn * W + np.abs(y)) * xn * Wd),
    }
    got = {"train": r.expected_train_loss, "dtrain": r.expected_train_loss_grad}
    if Xv is not None:
        xvn = np.sqrt(np.sum(Xv * Xv, axis=1))
        scale["valid"] = np.mean((xvn * W + np.abs(yv)) ** 2) / 2
        scale["dvalid"] = np.mean((xvn * W + np.abs(yv)) * xvn * Wd)
        got["valid"], got["dvalid"] = r.expected_valid_loss, r.expected_valid_loss_grad
    else:
        assert r.expected_valid_loss is None and r.expected_valid_loss_grad is None
    assert r.status == "ok"
    for key, value in got.items():
        tol = 16 * EPS * (t + 1) * kap * scale[key]
        assert abs(value - float(acc[key])) <= tol, (key, value, float(acc[key]), tol)
    tol = 16 * EPS * (t + 1) * kap * W * W
    assert np.all(np.abs(r.mean - np.array([float(v) for v in mean])) <= 16 * EPS * (t + 1) * kap * W)
    exact2 = np.array([[float(v) for v in row] for row in second])
    assert np.all(np.abs(r.second_moment - exact2) <= tol)
    assert np.all(np.abs(r.covariance - (exact2 - np.outer(r.mean, r.mean))) <= 4 * tol)


def test_exact_enumeration_rank_deficient_and_zero_rows():
    """Duplicate rows, a zero row and n < d (rank 1 in R^3), B = 2: the reduction to the row space
    and the constant orthogonal part of w0 must be exact."""
    X = np.array([[1.0, -0.5, 0.25], [1.0, -0.5, 0.25], [0.0, 0.0, 0.0]])
    y = np.array([0.5, -1.0, 0.75])
    Xv, yv = np.array([[0.5, 1.0, -1.0]]), np.array([0.25])
    w0 = np.array([1.0, 0.5, -0.75])
    eta, t, B = 0.75, 3, 2
    r = finite_set_expectation(LeastSquaresProblem(X, y, Xv, yv), eta, t, B, w0)
    assert r.rank == 1
    acc, mean, second, W, _ = _enumerate(X, y, Xv, yv, eta, t, B, w0)
    for got, key in [
        (r.expected_train_loss, "train"),
        (r.expected_train_loss_grad, "dtrain"),
        (r.expected_valid_loss, "valid"),
        (r.expected_valid_loss_grad, "dvalid"),
    ]:
        assert got == pytest.approx(float(acc[key]), rel=1e-13, abs=1e-15)
    np.testing.assert_allclose(r.second_moment, [[float(v) for v in row] for row in second], rtol=1e-13, atol=1e-15)


def test_zero_design_matrix():
    """X = 0: no gradient ever, so w_t = w0, loss = ||y||^2 / 2n and its derivative is 0."""
    p = LeastSquaresProblem(np.zeros((3, 2)), [1.0, 2.0, -2.0], np.zeros((1, 2)), [3.0])
    r = finite_set_expectation(p, [0.0, 1.0], 5, 2, [0.5, -1.0])
    assert r.rank == 0
    assert r.expected_train_loss.tolist() == [1.5, 1.5]
    assert r.expected_train_loss_grad.tolist() == [0.0, 0.0]
    assert r.expected_valid_loss.tolist() == [4.5, 4.5]
    assert r.mean.tolist() == [[0.5, -1.0], [0.5, -1.0]]
    assert not r.covariance.any()


# ---------------------------------------------------------------------------------------------
# 2. Monte Carlo


def _mc_problem():
    """d = 5, n = 8, 6 validation points, noisy labels (no interpolation)."""
    rng = np.random.default_rng(11)
    n, d, nv = 8, 5, 6
    X = rng.normal(size=(n, d))
    ws = rng.normal(size=d)
    y = X @ ws + 0.5 * rng.normal(size=n)
    Xv = rng.normal(size=(nv, d))
    yv = Xv @ ws + 0.5 * rng.normal(size=nv)
    return LeastSquaresProblem(X, y, Xv, yv)


def test_finite_set_against_monte_carlo():
    """4 z-checks (train/valid loss and their pathwise derivatives) + 2 negative controls.

    eta = 0.5 / max_j ||x_j||^2 (stable), B = 2, t = 20; 20000 paths give stderr 0.1-0.2% of each
    quantity (measured), far below the effect of the controls (B = 1; no noise = GD, B -> inf).
    """
    p = _mc_problem()
    eta = 0.5 / float(np.max(np.sum(p.X**2, axis=1)))
    t, B = 20, 2
    exact = finite_set_expectation(p, eta, t, B)
    mc = simulate_finite_set(p, eta, t, B, n_paths=20000, seed=20240611)
    for name in ("train_loss", "train_loss_grad", "valid_loss", "valid_loss_grad"):
        est = getattr(mc, name)
        assert abs(est.z(getattr(exact, "expected_" + name))) <= Z, name
        assert est.stderr <= 0.005 * abs(est.mean)
    wrong_b = finite_set_expectation(p, eta, t, 1)
    gd = finite_set_expectation(p, eta, t, 2**53)
    assert abs(mc.train_loss.z(wrong_b.expected_train_loss)) > Z
    assert abs(mc.train_loss.z(gd.expected_train_loss)) > Z


def test_gaussian_against_monte_carlo():
    """2 z-checks (population loss and pathwise derivative) for a dense 3 x 3 Sigma, sigma2 = 0.3,
    B = 2, t = 15, eta = 0.1 (eta tr(Sigma) ~ 0.4); 40000 paths give stderr ~0.1% of the loss and
    ~1.3% of its derivative (at eta = 0.2 the heavier tails of the fourth-order terms make the
    derivative's stderr ~10%, a much weaker check).
    Control: the same recursion without the 1/B noise terms (batch -> inf) must be rejected."""
    rng = np.random.default_rng(2)
    A = rng.normal(size=(3, 3))
    Sig = A @ A.T / 3
    ws = rng.normal(size=3)
    w0 = np.array([0.1, 0.0, 0.0])
    exact = gaussian_expectation(Sig, ws, 0.3, 0.1, 15, 2, w0)
    mc = simulate_gaussian(Sig, ws, 0.3, 0.1, 15, 2, n_paths=40000, seed=20240612, w0=w0)
    assert abs(mc.loss.z(exact.expected_loss)) <= Z
    assert abs(mc.loss_grad.z(exact.expected_loss_grad)) <= Z
    assert mc.loss.stderr <= 0.002 * mc.loss.mean
    assert mc.loss_grad.stderr <= 0.025 * abs(mc.loss_grad.mean)
    noiseless = gaussian_expectation(Sig, ws, 0.3, 0.1, 15, 2**53, w0)
    assert abs(mc.loss.z(noiseless.expected_loss)) > Z


def test_additive_noise_momentum_schedule_against_monte_carlo():
    """2 z-checks for dense H, S, cov0 with momentum and step-size schedules (t = 12; 40000 paths,
    stderr 0.03% of |loss|, 2% of the derivative); 2 more for the diagonal fast path. Control: no
    noise (S = 0)."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3))
    H = A @ A.T / 3
    b = rng.normal(size=3)
    C = rng.normal(size=(3, 3))
    S = C @ C.T / 5
    etas = np.linspace(0.3, 0.1, 12)
    mus = np.linspace(0.0, 0.8, 12)
    kw = dict(mu=mus, mean0=[1.0, 2.0, 3.0], cov0=0.3 * np.eye(3), loss_offset=0.1)
    exact = additive_noise_expectation(H, b, S, etas, 12, **kw)
    mc = simulate_additive_noise(H, b, S, etas, 12, n_paths=40000, seed=20240613, **kw)
    assert abs(mc.loss.z(exact.expected_loss)) <= Z
    assert abs(mc.loss_grad.z(exact.expected_loss_grad)) <= Z
    quiet = additive_noise_expectation(H, b, np.zeros((3, 3)), etas, 12, **kw)
    assert abs(mc.loss.z(quiet.expected_loss)) > Z

    h, s = np.array([1.0, 0.1, 2.0]), np.array([0.5, 1.0, 0.1])
    kw = dict(mu=mus, mean0=[1.0, 2.0, 3.0], cov0=[0.3, 0.3, 0.3], loss_offset=0.1)
    exact = additive_noise_expectation(h, b, s, etas, 12, **kw)
    mc = simulate_additive_noise(h, b, s, etas, 12, n_paths=40000, seed=20240614, **kw)
    assert abs(mc.loss.z(exact.expected_loss)) <= Z
    assert abs(mc.loss_grad.z(exact.expected_loss_grad)) <= Z


# ---------------------------------------------------------------------------------------------
# 3. derivative against finite differences of the exact expectation


def test_derivative_against_finite_differences():
    """d = 6, n = 10, B = 3, t = 30, with a validation set, at three step sizes (one unstable).

    Richardson-extrapolated central differences R = (4 D(h/2) - D(h)) / 3 with h = 1e-3 eta:
    E is a polynomial of degree 2t = 60 in eta whose relative variation over a step h is about
    2t h / eta ~ 0.06, so the O(h^4) truncation error of R is ~(0.06)^4 / 100 ~ 1e-7 relative at
    most, and rounding costs ~ eps (t + 1) / (h / eta) ~ 1e-11 relative. Tolerance 1e-6 relative.
    """
    rng = np.random.default_rng(5)
    X = rng.normal(size=(10, 6))
    y = X @ rng.normal(size=6) + 0.3 * rng.normal(size=10)
    Xv = rng.normal(size=(4, 6))
    yv = Xv @ rng.normal(size=6)
    p = LeastSquaresProblem(X, y, Xv, yv)
    C = float(np.max(np.sum(X * X, axis=1)))
    t, B = 30, 3
    for eta in (0.2 / C, 1.0 / C, 4.0 / C):
        r = finite_set_expectation(p, eta, t, B)

        def D(h):
            hi = finite_set_expectation(p, eta + h, t, B)
            lo = finite_set_expectation(p, eta - h, t, B)
            return (
                (hi.expected_train_loss - lo.expected_train_loss) / (2 * h),
                (hi.expected_valid_loss - lo.expected_valid_loss) / (2 * h),
            )

        h = 1e-3 * eta
        d1, d2 = D(h), D(h / 2)
        rich = [(4 * b - a) / 3 for a, b in zip(d1, d2)]
        assert r.expected_train_loss_grad == pytest.approx(rich[0], rel=1e-6)
        assert r.expected_valid_loss_grad == pytest.approx(rich[1], rel=1e-6)


def test_gaussian_and_additive_derivatives_against_finite_differences():
    """Same Richardson scheme (h = 1e-3 eta, t = 25, tolerance 1e-6 relative, as above)."""
    Sig = np.array([[2.0, 0.3], [0.3, 0.5]])
    f = lambda e: gaussian_expectation(Sig, [1.0, -1.0], 0.2, e, 25, 2).expected_loss
    g = lambda e: additive_noise_expectation(Sig, [0.5, 0.1], [0.2, 0.1], np.full(25, e), 25, mu=0.6, mean0=[1.0, 1.0]).expected_loss
    for fun, grad in (
        (f, lambda e: gaussian_expectation(Sig, [1.0, -1.0], 0.2, e, 25, 2).expected_loss_grad),
        (g, lambda e: additive_noise_expectation(Sig, [0.5, 0.1], [0.2, 0.1], np.full(25, e), 25, mu=0.6, mean0=[1.0, 1.0]).expected_loss_grad),
    ):
        for eta in (0.1, 0.4):
            h = 1e-3 * eta
            d1 = (fun(eta + h) - fun(eta - h)) / (2 * h)
            d2 = (fun(eta + h / 2) - fun(eta - h / 2)) / h
            assert grad(eta) == pytest.approx((4 * d2 - d1) / 3, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# 4. limits: large batches, interpolation


def _gd_losses(X, y, Xv, yv, eta, t):
    """Plain full-batch GD, step by step (deterministic)."""
    n = X.shape[0]
    w = np.zeros(X.shape[1])
    for _ in range(t):
        w = w - eta * X.T @ (X @ w - y) / n
    return 0.5 * np.mean((X @ w - y) ** 2), 0.5 * np.mean((Xv @ w - yv) ** 2)


def test_large_batch_limit_is_gradient_descent():
    """E_B - GD = c / B + O(1/B^2): (E_B - GD) B agrees at B = 10^3 and 10^6 to ~1e-3 relative
    (the next order), and B = 2^53 reproduces plain GD to rounding (t eps relative)."""
    p = _mc_problem()
    eta = 0.5 / float(np.max(np.sum(p.X**2, axis=1)))
    t = 40
    gd_tr, gd_va = _gd_losses(p.X, p.y, p.X_valid, p.y_valid, eta, t)
    r = finite_set_expectation(p, eta, t, 2**53)
    assert r.expected_train_loss == pytest.approx(gd_tr, rel=100 * t * EPS)
    assert r.expected_valid_loss == pytest.approx(gd_va, rel=100 * t * EPS)
    c3 = (finite_set_expectation(p, eta, t, 10**3).expected_train_loss - gd_tr) * 1e3
    c6 = (finite_set_expectation(p, eta, t, 10**6).expected_train_loss - gd_tr) * 1e6
    assert c3 > 0 and c6 > 0
    assert c3 == pytest.approx(c6, rel=1e-2)


def test_interpolation_noise_vanishes_at_the_optimum():
    """Consistent system (y = X w*, n = 4 < d = 6) and B = 1: the per-sample gradients all vanish at
    any interpolating solution, so starting there the expected loss and covariance stay 0 (to
    rounding), and from w0 = 0 the expected loss decays geometrically to 0 (no noise floor).
    Control: with noisy labels and n > d there is no interpolation and the noise does not vanish at
    the least-squares solution: after one step the expected loss exceeds the minimum."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(4, 6))
    w_star = rng.normal(size=6)
    null = np.linalg.svd(X)[2][-1]  # X null = 0: w* + null interpolates too
    p = LeastSquaresProblem(X, X @ w_star)
    eta = 0.5 / float(np.max(np.sum(X * X, axis=1)))
    r = finite_set_expectation(p, eta, 500, 1, w_star + null, curve=True)
    scale = float(np.mean((X @ w_star) ** 2))
    assert np.max(r.train_curve) <= 1e-28 * scale
    assert np.max(np.abs(r.covariance)) <= 1e-28 * (1 + float(w_star @ w_star))
    r0 = finite_set_expectation(p, eta, 2000, 1, curve=True)
    assert r0.train_curve[0] > 0.1 * scale
    assert r0.train_curve[-1] <= 1e-12 * r0.train_curve[0]
    assert np.all(np.diff(r0.train_curve) <= 0)

    Xo = rng.normal(size=(10, 3))
    yo = Xo @ rng.normal(size=3) + rng.normal(size=10)
    w_ls = np.linalg.lstsq(Xo, yo, rcond=None)[0]
    f_min = 0.5 * np.mean((Xo @ w_ls - yo) ** 2)
    ro = finite_set_expectation(LeastSquaresProblem(Xo, yo), 0.05, 1, 1, w_ls)
    assert ro.expected_train_loss > f_min * (1 + 1e-3)
    assert np.trace(ro.covariance) > 1e-4


# ---------------------------------------------------------------------------------------------
# 5. closed forms and range


def _mp_single_sample(x, y, w0, eta, t, dps=40):
    """n = 1: SGD is deterministic GD on one sample, residual r_t = (1 - eta |x|^2)^t r_0."""
    ctx = mpmath.MPContext()
    ctx.dps = dps
    xx = ctx.fsum(ctx.mpf(v) ** 2 for v in x)
    r0 = ctx.fsum(ctx.mpf(a) * ctx.mpf(b) for a, b in zip(x, w0)) - ctx.mpf(y)
    a = 1 - ctx.mpf(eta) * xx
    return r0**2 * a ** (2 * t) / 2, -t * xx * r0**2 * a ** (2 * t - 1)


def test_scaling_is_exact_far_outside_float64_range():
    """Unstable eta on a single sample (closed form in mpmath): at t = 300 the loss is ~1e180 and the
    recursion (rescaled by powers of 2 every step) keeps full precision (t eps relative: the power
    a^2t amplifies the relative error of a by 2t); at t = 700 the exact loss is beyond float64,
    and the result is +inf with status "overflow" and the derivative's sign kept, never NaN."""
    x, y, w0 = [1.0, 0.5], 2.0, [0.0, 0.0]
    p = LeastSquaresProblem([x], [y])
    eta = 3.0 / 1.25  # a = 1 - eta |x|^2 = -2
    r = finite_set_expectation(p, eta, 300, 1, w0)
    f, g = _mp_single_sample(x, y, w0, eta, 300)
    assert r.status == "ok"
    assert r.expected_train_loss == pytest.approx(float(f), rel=8 * 300 * EPS)
    assert r.expected_train_loss_grad == pytest.approx(float(g), rel=8 * 300 * EPS)
    r = finite_set_expectation(p, [0.5, eta], 700, 1, w0, curve=True)
    f, g = _mp_single_sample(x, y, w0, eta, 700)
    assert f > float(np.finfo(np.float64).max)
    assert r.status.tolist() == ["ok", "overflow"]
    assert r.expected_train_loss[1] == np.inf
    assert r.expected_train_loss_grad[1] == (np.inf if g > 0 else -np.inf)
    for field in ("mean", "covariance", "second_moment", "train_curve", "train_grad_curve"):
        assert not np.isnan(getattr(r, field)).any(), field


def test_extreme_data_scales_are_exact_rescalings():
    """Scaling x by a, the targets and w by a c, and eta by 1 / a^2 leaves SGD unchanged, with the
    losses scaled by a^2 c^2 and their eta-derivatives by a^4 c^2. With a and c far from 1 (and not
    powers of 2, so the internal power-of-2 normalisation cannot make this a tautology) the results
    must agree to rounding (1e-12 relative: a few hundred operations, each with error eps)."""
    p = _mc_problem()
    eta = 0.3 / float(np.max(np.sum(p.X**2, axis=1)))
    w0 = np.linspace(-1, 1, 5)
    ref = finite_set_expectation(p, eta, 25, 2, w0)
    for a, c in ((3.0**-150, 7.0**120), (3.0**150, 7.0**-120), (1e-50, 1e-50), (1e30, 1e80)):
        q = LeastSquaresProblem(p.X * a, p.y * a * c, p.X_valid * a, p.y_valid * a * c)
        r = finite_set_expectation(q, eta / a**2, 25, 2, w0 * c)
        assert r.status == "ok"
        assert r.expected_train_loss == pytest.approx(ref.expected_train_loss * a**2 * c**2, rel=1e-12)
        assert r.expected_valid_loss_grad == pytest.approx(ref.expected_valid_loss_grad * a**4 * c**2, rel=1e-12)
        np.testing.assert_allclose(r.mean, ref.mean * c, rtol=1e-12)
    Sig = np.array([[2.0, 0.3], [0.3, 0.5]])
    gref = gaussian_expectation(Sig, [1.0, -1.0], 0.2, 0.3, 20, 2, [0.5, 0.0])
    aref = additive_noise_expectation(Sig, [0.3, 0.1], Sig / 4, 0.3, 20, mu=0.5, mean0=[1.0, 2.0], cov0=[0.1, 0.2], loss_offset=0.7)
    for a, c in ((3.0**-100, 7.0**80), (3.0**100, 7.0**-80)):
        g = gaussian_expectation(Sig * a**2, [c, -c], 0.2 * (a * c) ** 2, 0.3 / a**2, 20, 2, [0.5 * c, 0.0])
        assert g.expected_loss == pytest.approx(gref.expected_loss * a**2 * c**2, rel=1e-12)
        assert g.expected_loss_grad == pytest.approx(gref.expected_loss_grad * a**4 * c**2, rel=1e-12)
        # additive: H = a^2 H~, b = a^2 c b~, S = a^4 c^2 S~, w = c w~, offset scales a^2 c^2
        r = additive_noise_expectation(
            Sig * a**2, np.array([0.3, 0.1]) * a**2 * c, Sig / 4 * a**4 * c**2, 0.3 / a**2, 20, mu=0.5,
            mean0=np.array([1.0, 2.0]) * c, cov0=np.array([0.1, 0.2]) * c**2, loss_offset=0.7 * a**2 * c**2,
        )
        assert r.expected_loss == pytest.approx(aref.expected_loss * a**2 * c**2, rel=1e-12)
        assert r.expected_loss_grad == pytest.approx(aref.expected_loss_grad * a**4 * c**2, rel=1e-12)
        assert r.greedy_eta == pytest.approx(aref.greedy_eta / a**2, rel=1e-12)


def _mp_gaussian_scalar(lam, ws, s2, w0, eta, t, B, dps=40):
    """d = 1: E[e'^2] = k E[e^2] + c with k = (1 - eta lam)^2 + 2 eta^2 lam^2 / B and
    c = eta^2 sigma2 lam / B, so E[e_t^2] = k^t e0^2 + c (1 - k^t) / (1 - k)."""
    ctx = mpmath.MPContext()
    ctx.dps = dps

    def loss(e):
        e = ctx.mpf(e)
        k = (1 - e * lam) ** 2 + 2 * e**2 * lam**2 / B
        c = e**2 * s2 * lam / B
        m2 = k**t * (w0 - ws) ** 2 + c * ctx.fsum(k**j for j in range(t))
        return (lam * m2 + s2) / 2

    return loss(eta), ctx.diff(loss, ctx.mpf(eta))


@pytest.mark.parametrize("eta,t", [(0.3, 20), (0.9, 7), (1.3, 40), (2.5, 150)])
def test_gaussian_scalar_closed_form(eta, t):
    """Gaussian model with d = 1 against its geometric closed form (mpmath, 40 digits, derivative by
    mpmath.diff); the last two step sizes are unstable (k > 1). Tolerance 8 t eps relative."""
    lam, ws, s2, w0, B = 1.5, 0.7, 0.4, -0.2, 3
    g = gaussian_expectation([lam], [ws], s2, eta, t, B, [w0])
    f, df = _mp_gaussian_scalar(lam, ws, s2, w0, eta, t, B)
    assert g.expected_loss == pytest.approx(float(f), rel=8 * t * EPS)
    assert g.expected_loss_grad == pytest.approx(float(df), rel=8 * t * EPS)


def _mp_additive_diag(h, b, s, m0, v0, eta, t, offset, dps=40):
    """Diagonal H, S; constant eta; no momentum. Per coordinate with a = 1 - eta h, w* = b/h:
    E[w_t] = w* + a^t (m0 - w*), Var[w_t] = a^2t v0 + eta^2 s sum_{j<t} a^2j;
    E f = sum 1/2 h (Var + E[w]^2) - b E[w] + offset."""
    ctx = mpmath.MPContext()
    ctx.dps = dps

    def loss(e):
        total = ctx.mpf(offset)
        for hi, bi, si, mi, vi in zip(h, b, s, m0, v0):
            a = 1 - e * ctx.mpf(hi)
            ws = ctx.mpf(bi) / hi
            mean = ws + a**t * (mi - ws)
            var = a ** (2 * t) * vi + e**2 * si * ctx.fsum(a ** (2 * j) for j in range(t))
            total += hi * (var + mean**2) / 2 - bi * mean
        return total

    return loss(ctx.mpf(eta)), ctx.diff(loss, ctx.mpf(eta))


@given(
    st.lists(st.tuples(st.floats(0.1, 3.0), st.floats(-1.0, 1.0), st.floats(0.0, 2.0), st.floats(-2, 2), st.floats(0, 1)), min_size=1, max_size=4),
    st.floats(0.0, 1.2),
    st.integers(1, 60),
)
def test_additive_noise_diagonal_closed_form(coords, eta_rel, t):
    """Diagonal additive noise against the geometric closed form, for eta up to 1.2 / max h
    (stable) -- both with the O(d) diagonal path and with the same problem given densely.
    Tolerance: 16 t eps times the sum of the absolute terms (per coordinate 1/2 h (Var + E[w]^2)
    + |b E[w]|), since the loss may cancel (negative b^T w)."""
    h, b, s, m0, v0 = (np.array(c) for c in zip(*coords))
    eta = eta_rel / float(h.max())
    f, df = _mp_additive_diag(h, b, s, m0, v0, eta, t, 0.25)
    r = additive_noise_expectation(h, b, s, eta, t, mean0=m0, cov0=v0, loss_offset=0.25)
    rd = additive_noise_expectation(np.diag(h), b, np.diag(s), eta, t, mean0=m0, cov0=np.diag(v0), loss_offset=0.25)
    mean = r.mean
    var = np.diag(r.covariance)
    scale = float(np.sum(0.5 * h * (var + mean**2) + np.abs(b * mean))) + 0.25 + 1e-300
    dscale = scale * (1 + 2 * t * float(h.max()) / max(1e-3, 1 - eta * float(h.max())) ** 2)
    for got in (r, rd):
        assert abs(got.expected_loss - float(f)) <= 16 * t * EPS * scale
        assert abs(got.expected_loss_grad - float(df)) <= 16 * t * EPS * dscale


def test_additive_noise_schedule_against_scalar_loop():
    """A random schedule of eta and mu for diagonal H: the 2 x 2 moment recursion per coordinate,
    written out with Python floats (E[w], E[v], Var w, Cov(w, v), Var v), against the block code;
    and a constant schedule equals the scalar eta."""
    rng = np.random.default_rng(9)
    t = 30
    h, b, s = np.array([1.0, 0.3]), np.array([0.2, -0.4]), np.array([0.5, 0.05])
    etas, mus = rng.uniform(0.1, 1.0, t), rng.uniform(0.0, 0.9, t)
    r = additive_noise_expectation(h, b, s, etas, t, mu=mus, mean0=[1.0, -1.0], cov0=[0.2, 0.0])
    total = 0.0
    for hi, bi, si, mi, ci in zip(h, b, s, [1.0, -1.0], [0.2, 0.0]):
        mw, mv, pww, pwv, pvv = mi, 0.0, ci, 0.0, 0.0
        for e, m in zip(etas, mus):
            # v' = m v - e (h w - b + eps);  w' = w + v' = (1 - e h) w + m v + e b - e eps
            a, c = 1 - e * hi, -e * hi
            mw, mv = a * mw + m * mv + e * bi, c * mw + m * mv + e * bi
            pww, pwv, pvv = (
                a * a * pww + 2 * a * m * pwv + m * m * pvv + e * e * si,
                a * c * pww + (a + c) * m * pwv + m * m * pvv + e * e * si,
                c * c * pww + 2 * c * m * pwv + m * m * pvv + e * e * si,
            )
        total += 0.5 * hi * (pww + mw * mw) - bi * mw
    assert r.expected_loss == pytest.approx(total, rel=1e-13)
    const = additive_noise_expectation(h, b, s, 0.4, t, mu=0.5)
    sched = additive_noise_expectation(h, b, s, np.full(t, 0.4), t, mu=np.full(t, 0.5))
    assert const.expected_loss == sched.expected_loss and const.expected_loss_grad == sched.expected_loss_grad


@given(st.integers(0, 2**32 - 1))
def test_additive_noise_rotation_invariance(seed):
    """H = Q diag(h) Q^T, S = Q diag(s) Q^T, mean0 = Q m, b = Q c is the diagonal problem in another
    basis: same loss, derivative and greedy step (to ~d t eps, the rotation's rounding)."""
    rng = np.random.default_rng(seed)
    d, t = 4, 25
    h, s = rng.uniform(0.1, 2.0, d), rng.uniform(0.0, 1.0, d)
    m, c, v = rng.normal(size=d), rng.normal(size=d), rng.uniform(0, 1, d)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    kw = dict(mu=0.3, loss_offset=0.1)
    ref = additive_noise_expectation(h, c, s, 0.5, t, mean0=m, cov0=v, **kw)
    rot = additive_noise_expectation((Q * h) @ Q.T, Q @ c, (Q * s) @ Q.T, 0.5, t, mean0=Q @ m, cov0=(Q * v) @ Q.T, **kw)
    tol = 64 * d * t * EPS
    scale = abs(ref.expected_loss) + float(np.sum(h * (np.diag(ref.covariance) + ref.mean**2)) + np.abs(c @ ref.mean))
    assert abs(rot.expected_loss - ref.expected_loss) <= tol * scale
    assert rot.expected_loss_grad == pytest.approx(ref.expected_loss_grad, rel=tol, abs=tol * scale)
    assert rot.greedy_eta == pytest.approx(ref.greedy_eta, rel=tol)
    np.testing.assert_allclose(rot.mean, Q @ ref.mean, atol=tol * (1 + np.abs(ref.mean).max()))


def test_greedy_eta_minimises_the_next_step():
    """E[f(w_{t+1})] is a quadratic in the last step size (with mu_t = 0): fit it through 0, 1, 2
    and compare its vertex with greedy_eta at step t."""
    h, b, s = np.array([1.0, 0.1, 2.0]), np.array([0.3, 0.0, -0.2]), np.array([0.5, 0.2, 0.1])
    t = 10
    etas, mus = np.full(t, 0.3), np.full(t, 0.4)
    g = additive_noise_expectation(h, b, s, etas, t, mu=mus, mean0=[1.0, 2.0, -1.0]).greedy_eta
    vals = [
        additive_noise_expectation(h, b, s, np.append(etas, x), t + 1, mu=np.append(mus, 0.0), mean0=[1.0, 2.0, -1.0]).expected_loss
        for x in (0.0, 1.0, 2.0)
    ]
    curv = vals[2] - 2 * vals[1] + vals[0]  # = 2 x (quadratic coefficient)
    slope = vals[1] - vals[0] - curv / 2
    assert g == pytest.approx(-slope / curv, rel=1e-10)


# ---------------------------------------------------------------------------------------------
# 6. API behaviour


def test_vectorised_etas_and_curves_are_consistent():
    """A list of step sizes equals separate calls; curve[:, tau] equals a run of horizon tau; the
    curves end at the final values."""
    p = _mc_problem()
    etas = [0.0, 0.02, 0.07]
    r = finite_set_expectation(p, etas, 12, 2, curve=True)
    for i, e in enumerate(etas):
        one = finite_set_expectation(p, e, 12, 2)
        assert r.expected_train_loss[i] == pytest.approx(one.expected_train_loss, rel=1e-14)
        assert r.expected_valid_loss_grad[i] == pytest.approx(one.expected_valid_loss_grad, rel=1e-13, abs=1e-15)
        np.testing.assert_allclose(r.second_moment[i], one.second_moment, rtol=1e-13, atol=1e-15)
    for tau in (1, 5):
        short = finite_set_expectation(p, etas, tau, 2)
        np.testing.assert_allclose(r.train_curve[:, tau], short.expected_train_loss, rtol=1e-14)
        np.testing.assert_allclose(r.valid_grad_curve[:, tau], short.expected_valid_loss_grad, rtol=1e-13, atol=1e-15)
    assert r.train_curve[:, -1].tolist() == r.expected_train_loss.tolist()
    assert r.train_curve.shape == (3, 13)
    g = gaussian_expectation([1.0, 2.0], [1.0, 0.0], 0.1, [0.1, 0.2], 9, curve=True)
    assert g.loss_curve[:, -1].tolist() == g.expected_loss.tolist()
    assert g.loss_curve[0, 0] == pytest.approx(0.5 * (1.0 + 0.1))


def test_eta_zero_is_the_start():
    """eta = 0: nothing moves, the loss is that of w0; the derivative is -||grad f(w0)||^2."""
    p = _mc_problem()
    w0 = np.linspace(-1, 1, 5)
    r = finite_set_expectation(p, 0.0, 7, 3, w0)
    res = p.X @ w0 - p.y
    grad = p.X.T @ res / p.n
    assert r.expected_train_loss == pytest.approx(0.5 * np.mean(res**2), rel=1e-13)
    assert r.expected_train_loss_grad == pytest.approx(-7 * grad @ grad, rel=1e-12)
    np.testing.assert_allclose(r.mean, w0, rtol=1e-14, atol=1e-15)


def test_d100_is_fast():
    """The performance requirement: d = 100, n = 50, B = 1, t = 1000 well under 3 s (~0.3 s)."""
    import time

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 100))
    p = LeastSquaresProblem(X, X @ rng.normal(size=100) / 10 + rng.normal(size=50), rng.normal(size=(20, 100)), rng.normal(size=20))
    t0 = time.perf_counter()
    r = finite_set_expectation(p, 0.5 / 100, 1000, 1)
    assert time.perf_counter() - t0 < 2.0
    assert r.status == "ok" and r.rank == 50


LS = LeastSquaresProblem([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0])


@pytest.mark.parametrize(
    "call,field",
    [
        (lambda: finite_set_expectation("not a problem", 0.1, 3), "problem"),
        (lambda: finite_set_expectation(LS, -0.1, 3), "eta"),
        (lambda: finite_set_expectation(LS, float("nan"), 3), "eta"),
        (lambda: finite_set_expectation(LS, [[0.1]], 3), "eta"),
        (lambda: finite_set_expectation(LS, 1e200, 3), "eta"),
        (lambda: finite_set_expectation(LS, 0.1, 0), "t"),
        (lambda: finite_set_expectation(LS, 0.1, 2.5), "t"),
        (lambda: finite_set_expectation(LS, 0.1, [3, 4]), "t"),
        (lambda: finite_set_expectation(LS, 0.1, MAX_MOMENT_STEPS + 1), "t"),
        (lambda: finite_set_expectation(LS, 0.1, 3, 0), "batch_size"),
        (lambda: finite_set_expectation(LS, 0.1, 3, 1.5), "batch_size"),
        (lambda: finite_set_expectation(LS, 0.1, 3, True), "batch_size"),
        (lambda: finite_set_expectation(LS, 0.1, 3, 1, [1.0]), "w0"),
        (lambda: finite_set_expectation(LS, 0.1, 3, 1, [1.0, np.inf]), "w0"),
        (lambda: finite_set_expectation(LS, 0.1, 3, curve="yes"), "curve"),
        (lambda: finite_set_expectation(LS, [0.1] * 20, 10**6, curve=True), "curve"),
        (lambda: gaussian_expectation([[1.0, 2.0], [0.0, 1.0]], [1.0, 1.0], 0.1, 0.1, 3), "Sigma"),
        (lambda: gaussian_expectation([[1.0, 0.0], [0.0, -1.0]], [1.0, 1.0], 0.1, 0.1, 3), "Sigma"),
        (lambda: gaussian_expectation([1.0, -1.0], [1.0, 1.0], 0.1, 0.1, 3), "Sigma"),
        (lambda: gaussian_expectation([1.0, 1.0], [1.0], 0.1, 0.1, 3), "w_star"),
        (lambda: gaussian_expectation([1.0], [1.0], -0.1, 0.1, 3), "sigma2"),
        (lambda: gaussian_expectation([1.0], [1.0], 0.1, 0.1, 3, batch_size=-2), "batch_size"),
        (lambda: additive_noise_expectation([1.0, 2.0], [0.0], [1.0, 1.0], 0.1, 3), "b"),
        (lambda: additive_noise_expectation([1.0], [0.0], [1.0, 1.0], 0.1, 3), "S"),
        (lambda: additive_noise_expectation([1.0], [0.0], [-1.0], 0.1, 3), "S"),
        (lambda: additive_noise_expectation([1.0], [0.0], [1.0], [0.1, 0.2], 3), "eta"),
        (lambda: additive_noise_expectation([1.0], [0.0], [1.0], 0.1, 3, mu=[0.1]), "mu"),
        (lambda: additive_noise_expectation([1.0], [0.0], [1.0], 0.1, 3, mu="x"), "mu"),
        (lambda: additive_noise_expectation([1.0], [0.0], [1.0], 0.1, 3, cov0=[-1.0]), "cov0"),
        (lambda: additive_noise_expectation([1.0], [0.0], [1.0], 0.1, 3, mean0=[1.0, 2.0]), "mean0"),
        (lambda: additive_noise_expectation([1.0], [0.0], [1.0], 0.1, 3, loss_offset=[1.0]), "loss_offset"),
        (lambda: additive_noise_expectation([[1.0, 0.0], [0.5, 1.0]], [0.0, 0.0], [1.0, 1.0], 0.1, 3), "H"),
    ],
)
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_eta_bound_message_gives_the_limit():
    with pytest.raises(ValidationError, match=r"eta: must be <= 1e\+100 / \(X: max_j \|\|x_j\|\|\^2\)"):
        finite_set_expectation(LS, 2 * MAX_ETA_SCALE, 3)
