"""The independence rule (DESIGN.md): every quantity has implementations that share no code path.

1. the closed form derived in ``theory`` (lambdified) and its log-space evaluation
   (``numerics.quadratic.stable``);
2. the process itself, simulated step by step on the dense H (``numerics.quadratic.unroll``: reverse mode
   in mpmath and float64);
3. the direct high-precision reference (``numerics.quadratic.reference``, mpmath sums of powers).

Here they are compared pairwise on the *same* dense matrix: the dense H is diagonalised in
mpmath (``quadratic_reference_dense``) so that no float64 eigen-decomposition stands between the
process and the reference.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, strategies as st

from l2l.numerics import QuadraticProblem
from l2l.numerics.quadratic.reference import quadratic_reference_dense
from l2l.numerics.quadratic.stable import evaluate
from l2l.numerics.quadratic.unroll import backprop
from l2l.proofs import strategies as ps

EPS = float(np.finfo(np.float64).eps)


@st.composite
def dense_instances(draw, max_dim: int = 4, max_kappa: float = 1e3):
    problem = draw(ps.quadratic_problems(max_dim=max_dim, max_kappa=max_kappa, skewed=False))
    seed = draw(st.integers(0, 2**32 - 1))
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(problem.dim, problem.dim)))
    h = (q * problem.eigenvalues) @ q.T
    h = 0.5 * (h + h.T)
    return h, q @ problem.coefficients


@given(inst=dense_instances(), t=st.integers(1, 60), frac=st.floats(0.0, 1.0))
def test_mpmath_unroll_equals_mpmath_reference(inst, t, frac):
    """The process (40-digit unroll of the dense H) and the closed form (40-digit sums of powers in
    the 50-digit eigenbasis of that H): both exact to ~1e-35, so 1e-25 relative is a wide margin that
    would still catch any wrong factor, sign or exponent."""
    h, w0 = inst
    lam_max = float(np.linalg.eigvalsh(h).max())
    eta = frac * 2.5 / lam_max
    ref = quadratic_reference_dense(h, w0, eta, t, dps=40)
    run = backprop(h, w0, eta, t, dtype="mpmath", dps=40)
    if ref.log_loss is None or run.status[0, 0] != "ok":
        return  # f(w_t) = 0 exactly (eta lambda = 1 on a 1-D problem): both sides agree it is 0
    loss = run.mp_loss[0, 0]
    grad = run.mp_log_objective_grad[0, 0]
    assert abs(float((loss - ref.loss) / ref.loss)) <= 1e-25
    assert abs(float(grad - ref.log_objective_grad)) <= 1e-25 * (abs(float(ref.log_objective_grad)) + float(ref.grad_abs_terms))
    assert abs(float((run.mp_naive_grad[0, 0] - ref.naive_grad))) <= 1e-25 * float(abs(ref.naive_grad) + ref.grad_abs_terms * ref.loss * t)


@given(inst=dense_instances(), t=st.integers(1, 200), frac=st.floats(0.0, 1.0))
def test_float64_unroll_equals_stable_closed_form(inst, t, frac):
    """Dense float64 backprop against the stable closed form of the same H (diagonalised by eigh).

    Tolerance: the unroll's forward error (t + 1)(d + 2) eps (1 + eta L)/rho per iterate, doubled
    for f and for dF/deta, times the Kantorovich factor (see tests/numerics/test_unroll.py), plus
    the eigh round trip (d eps L per eigenvalue, moved through 2t eta/|a_i| into ln f); both relative
    to the scale |G'| + sum of |terms|.
    """
    h, w0 = inst
    p = QuadraticProblem.from_matrix(h, w0)
    eta = frac * 2.5 / p.L
    rho = float(p.rho(eta))
    ev = evaluate(p, eta, t)
    run = backprop(h, w0, eta, t, dtype="float64")
    if run.status[0, 0] != "ok" or bool(ev.loss_is_zero):
        # only the dtype's range (or an exact zero) may stop the unroll
        assert bool(ev.loss_is_zero) or 2 * t * abs(math.log10(rho)) > 300 or run.status[0, 0] == "invalid"
        return
    kk = (p.L + p.alpha) / (2 * math.sqrt(p.L * p.alpha))
    a_min = float(np.min(np.abs(1 - eta * p.eigenvalues)))
    unroll_err = 4 * (t + 1) * (p.dim + 2) * EPS * (1 + eta * p.L) / rho * kk
    eigh_err = 2 * t * eta * 10 * p.dim * EPS * p.L / max(a_min, 1e-300)
    scale = abs(float(ev.log_objective_grad)) + float(ev.grad_abs_terms) + p.L / rho
    assert abs(float(run.log_objective_grad[0, 0]) - float(ev.log_objective_grad)) <= (unroll_err + eigh_err) * scale


@given(inst=dense_instances(max_dim=3, max_kappa=1e2), t=st.integers(1, 40), frac=st.floats(0.0, 1.0))
def test_lambdified_theory_equals_unroll_and_reference(inst, t, frac):
    """Implementation 1 as SymPy derived it (``theory.quadratic.log_grad_expr`` lambdified to
    float64 ``math``), against the dense float64 unroll and the mpmath reference of the same H.

    The lambdified form sums powers directly, so for t <= 40 and kappa <= 100 everything stays in
    range (rho >= 0.001 is assumed so that ratios of powers do not underflow); its rounding error is
    a few (4t + d) eps of the sum of |terms|, and the unroll's is bounded as in the test above.
    """
    from l2l.theory.lambdify import lambdify_concrete

    h, w0 = inst
    import mpmath

    ctx = mpmath.MPContext()
    ctx.dps = 50
    lam_mp, u = ctx.eigsy(ctx.matrix([[float(x) for x in row] for row in h]))
    lam = [float(lam_mp[k]) for k in range(len(w0))]
    c = [float(x) for x in (u.T * ctx.matrix([float(x) for x in w0]))]
    eta = frac * 2.5 / max(lam)
    rho = max(abs(1 - eta * x) for x in lam)
    if rho < 1e-3 or min(abs(1 - eta * x) for x in lam) == 0:
        return
    ref = quadratic_reference_dense(h, w0, eta, t, dps=40)
    g_theory = lambdify_concrete("log_grad", len(w0), modules="math")(lam, c, eta, t)
    run = backprop(h, w0, eta, t, dtype="float64")
    assert run.status[0, 0] == "ok"
    scale = abs(float(ref.log_objective_grad)) + float(ref.grad_abs_terms)
    p = QuadraticProblem(lam, c)
    a_min = min(abs(1 - eta * x) for x in lam)
    # float64 rounding of lambda_i and c_i from the 50-digit decomposition moves each term by
    # ~ 2t eps eta lambda / a_min relative; the sums themselves add (4t + d + 10) eps.
    tol_theory = EPS * ((4 * t + p.dim + 10) + 4 * t * eta * p.L / a_min) * scale
    assert abs(g_theory - float(ref.log_objective_grad)) <= tol_theory
    kk = (p.L + p.alpha) / (2 * math.sqrt(p.L * p.alpha))
    tol_unroll = 4 * (t + 1) * (p.dim + 2) * EPS * (1 + eta * p.L) / rho * kk * (scale + p.L / rho)
    assert abs(float(run.log_objective_grad[0, 0]) - g_theory) <= tol_unroll + tol_theory
