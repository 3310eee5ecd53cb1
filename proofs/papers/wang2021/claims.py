r"""Wang, Yuan, Wu & Ge (ICML 2021), Section 3, as checkable claims.

*Guarantees for Tuning the Step Size using a Learning-to-Learn Approach*, spec
``papers/wang2021.md`` in the project's shared folder (§3 theorem statements, §5 derivations, §7
checkable claims 1-10). Setting: GD with step size :math:`\eta` on :math:`f(w)=\tfrac12 w^\top Hw`,
:math:`H=\sum_i\lambda_iu_iu_i^\top`, :math:`c_i=\langle w_0,u_i\rangle`, :math:`\|w_0\|=1`,
:math:`L=\lambda_1>\alpha=\lambda_d`, :math:`\rho(\eta)=\max_i|1-\eta\lambda_i|`; naive
meta-objective :math:`F(\eta)=f(w_t)`, log meta-objective :math:`G(\eta)=\tfrac1t\ln f(w_t)`.

Every claim below states the statement, assumptions, source, kind and the tolerance with its
reason; asymptotic claims are checked as growth rates over grids and reported as "consistent
with", never as proofs. Claims ``wang2021.neg.*`` are negative controls: plausible but false
variants that the checker must refute.

Instances: unless a claim says otherwise, ``gaussian_quadratics`` of ``proofs.strategies``
(H = X X^T, X in R^{d x 2d} Gaussian, d in {5, 20}, w0 uniform on the sphere), the spec's
suggested defaults; kappa is then about 10-50.

Section 5.3 (the learned-optimizer experiment, a phenomenon beyond the theory): the per-parameter
MLP optimizer of Metz et al. (2019), reduced to its last layer and a log step scale, meta-trained
by antithetic ES train-by-train and train-by-validation on least squares with n = d/2 and large
noise (``wang2021.s53.*``, soft, registered before the run), with the same experiment at n = 5d
as the control that gives it teeth (the gap must shrink there, as Theorem 6 suggests). The
meta-training loop and the figures are shared with Wichrowska et al. (2017).

Run them with ``l2l check wang2021 --profile ci``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from hypothesis import assume, example, given, strategies as st, target

from l2l.numerics import QuadraticProblem
from l2l.numerics.quadratic.stable import evaluate

from l2l.proofs import strategies as ps
from l2l.proofs.papers.wang2021 import PAPER
from l2l.proofs.claim import claim, evidence, refute

SOURCE = PAPER.short  # "Wang et al. (2021)"
EPS = float(np.finfo(np.float64).eps)

paper_instances = ps.gaussian_quadratics(dims=(5, 20))
small_instances = ps.gaussian_quadratics(dims=(2, 3, 5))
#: the fixed hard instances, visited first under every profile (@example)
HARD = ps.HARD_QUADRATICS


def _top_coefficient(p: QuadraticProblem) -> float:
    """|c_1|: the coefficient of the top eigenspace (its norm when L is repeated)."""
    return float(np.sqrt(np.sum(p.coefficients[p.eigenvalues == p.L] ** 2)))


def _growth_allowance(ev, t) -> np.ndarray:
    """The unavoidable float64 error of ln f(w_t) at horizon t (tests/numerics/test_stable.py)."""
    return 1e-12 + 1e-15 * np.asarray(t) * ev.max_abs_log_factor


# =============================================================================================
# Closed forms (§5 items 1-6): symbolic proofs


@claim(
    id="wang2021.thm3.closed-form",
    shares="derivation:quadratic.naive-gradient",
    statement=r"F'(\eta) = -t\sum_i c_i^2\lambda_i^2(1-\eta\lambda_i)^{2t-1},\quad "
    r"F''(\eta) = t(2t-1)\sum_i c_i^2\lambda_i^3(1-\eta\lambda_i)^{2t-2}",
    source=f"{SOURCE}, Theorem 3 (proof; the closed forms are derived here)",
    kind="identity",
    tag="derived",
)
def closed_form():
    """The naive meta-gradient and its derivative, derived by SymPy from f(w_t) for symbolic t and
    dimension (``theory.quadratic``, derivation ``quadratic.naive-gradient``)."""
    from l2l.theory.registry import verified

    return verified("quadratic.naive-gradient")


@claim(
    id="wang2021.thm4.log-gradient-closed-form",
    shares="derivation:quadratic.log-gradient",
    statement=r"G'(\eta) = -2\,\frac{\sum_i c_i^2\lambda_i^2(1-\eta\lambda_i)^{2t-1}}{\sum_i c_i^2\lambda_i(1-\eta\lambda_i)^{2t}}",
    source=f"{SOURCE}, Theorem 4 (proof; the closed form is derived here)",
    kind="identity",
    tag="derived",
)
def log_gradient_closed_form():
    """The log meta-gradient (the factor t cancels against 1/t) and its second derivative in the
    variance form, derived by SymPy (derivation ``quadratic.log-gradient``)."""
    from l2l.theory.registry import verified

    return verified("quadratic.log-gradient")


@claim(
    id="wang2021.thm4.rho-normalised-form",
    shares="derivation:quadratic.rho-normalised",
    statement=r"G'(\eta) = -\frac{2}{\rho}\,\frac{\sum_i c_i^2\lambda_i^2 s_i^{2t-1}}{\sum_i c_i^2\lambda_i s_i^{2t}},"
    r"\quad s_i = \frac{1-\eta\lambda_i}{\rho(\eta)}\in[-1,1]",
    source=f"{SOURCE}, released code [code]: the closed form normalised by rho(eta)",
    kind="identity",
    tag="code",
)
def rho_normalised_form():
    """The normalised (stable) form of the released code. The identity is proved symbolically; the
    range |s_i| <= 1 is checked in exact rationals at sampled instances, so the verdict is
    ``holds`` rather than ``proved``."""
    from l2l.theory.registry import verified

    return verified("quadratic.rho-normalised")


@claim(
    id="wang2021.thm3.closed-form-matches-process",
    statement=r"\frac{d}{d\eta} f(w_{t,\eta}) \text{ by forward-mode through the unrolled GD} = "
    r"-t\sum_i c_i^2\lambda_i^2(1-\eta\lambda_i)^{2t-1}",
    source=f"{SOURCE}, Theorem 3",
    kind="identity",
    tag="derived",
    tolerance="ln|F'| to 1e-9 absolute plus the eigen round trip 2t eta d eps L/min|a_i|",
    examples={"ci": 10, "dev": 40, "thorough": 300},
)
@example(problem=HARD["kappa-1e6"], t=1, frac=1 / 3)
@example(problem=HARD["repeated-top"], t=7, frac=1 / 3)
@example(problem=HARD["kappa-1e6"], t=60, frac=2 / 3)
@example(problem=HARD["dominant-bottom"], t=60, frac=2 / 3 / (1 + 0.01 / 4))
@given(problem=small_instances, t=st.integers(1, 60), frac=st.floats(0.0, 1.0))
def closed_form_matches_process(problem, t, frac):
    """dF/deta of the process (forward mode through the unrolled loop, mpmath, dense H) against
    the closed form as evaluated by numerics.quadratic.stable: ln|F'| and its sign."""
    from l2l.numerics.quadratic.unroll import forward_tangent

    h, w0 = problem.dense()
    eta = frac * 3.0 / problem.L
    run = forward_tangent(h, w0, eta, t, dtype="mpmath", dps=40)
    ev = evaluate(problem, eta, t)
    if run.status[0, 0] != "ok":
        assert bool(ev.loss_is_zero)
        return
    naive = run.mp_naive_grad[0, 0]
    sign = int(np.sign(float(naive)))
    # The unroll is exact to ~1e-35 on the float64 matrix H = U diag(lambda) U^T, which differs from
    # the eigen-data by ~ d eps L: ln|F'| may move by 2t eta d eps L / min|a_i| (plus the stable
    # evaluator's own 1e-12); the sign is compared where |F'| exceeds that perturbation.
    a_min = float(np.min(np.abs(1 - eta * problem.eigenvalues)))
    tol = 1e-12 * abs(float(ev.naive_grad_log_abs)) + 2 * t * eta * 10 * problem.dim * EPS * problem.L / max(a_min, 1e-300) + 1e-12
    if naive != 0:
        assert abs(math.log(abs(float(naive))) - float(ev.naive_grad_log_abs)) <= tol + 1e-9
        assert sign == int(ev.naive_grad_sign)


# =============================================================================================
# Theorem 3: the naive objective


@claim(
    id="wang2021.thm3.strict-convexity",
    statement=r"F(\eta) = f(w_{t,\eta}) \text{ is strictly convex on } [0, 5/L]",
    source=f"{SOURCE}, Theorem 3 (i)",
    kind="inequality",
    tolerance="second differences of F on a 401-point grid, relative to F: > -1e-9 (float64 rounding of "
    "exp of differences of ln F, each exact to ~1e-15 t |ln|a||)",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@given(problem=paper_instances, t=st.integers(1, 200))
def strict_convexity(problem, t):
    """Checked on the function itself, not on the formula for F'': the second difference
    F(eta - h) - 2F(eta) + F(eta + h) > 0 on a 401-point grid of [0, 5/L], with F from the stable
    log-space evaluator (F itself overflows float64 for eta near 5/L at t = 200)."""
    etas = np.linspace(0.0, 5.0 / problem.L, 401)
    ev = evaluate(problem, etas, t)
    lf = ev.log_loss
    second = np.exp(lf[:-2] - lf[1:-1]) + np.exp(lf[2:] - lf[1:-1]) - 2.0
    worst = int(np.argmin(second))
    evidence("min second difference / F", float(second[worst]), expected="> 0")
    assert second[worst] > -1e-9, f"F not convex near eta = {etas[worst + 1]:.6g} (second difference {second[worst]:.3g})"


@claim(
    id="wang2021.thm3.upper-bound",
    statement=r"\eta<2/L:\quad |F'(\eta)| \le t\sum_i c_i^2\lambda_i^2|1-\eta\lambda_i|^{2t-1}",
    source=f"{SOURCE}, Theorem 3 (ii)",
    kind="inequality",
    tolerance="in log space, 1e-12 relative plus 1e-15 t max|ln|a_i|| (float64 exponents)",
    examples={"ci": 20, "dev": 100, "thorough": 1000},
)
@example(problem=HARD["kappa-1e6"], t=1, frac=0.5)
@example(problem=HARD["dominant-bottom"], t=200, frac=0.999)
@given(problem=paper_instances, t=st.integers(1, 200), frac=st.floats(0.0, 1.0, exclude_max=True))
def upper_bound(problem, t, frac):
    eta = frac * 2.0 / problem.L
    ev = evaluate(problem, eta, t)
    lam, c = problem.eigenvalues, problem.coefficients
    a = np.abs(1 - eta * lam)
    keep = (a > 0) & (c != 0)
    x = np.log(c[keep] ** 2 * lam[keep] ** 2) + (2 * t - 1) * np.log(a[keep])
    log_bound = math.log(t) + float(np.max(x) + np.log(np.sum(np.exp(x - np.max(x))))) if keep.any() else -math.inf
    lhs = float(ev.naive_grad_log_abs)
    if math.isfinite(lhs) and math.isfinite(log_bound):
        target(lhs - log_bound, label="ln|F'| - ln(bound)")  # towards the bound: where a wrong one breaks first
    assert lhs <= log_bound + 1e-12 * abs(log_bound) + float(_growth_allowance(ev, t)), (lhs, log_bound)


#: examples of wang2021.thm3.lower-bound in this process: drawn, and vacuous (right side <= 0)
_LOWER_BOUND_COUNTS = {"drawn": 0, "vacuous": 0}


@claim(
    id="wang2021.thm3.lower-bound",
    statement=r"\eta>2/L:\quad |F'(\eta)| \ge c_1^2L^2t(\eta L-1)^{2t-1} - L^2t",
    source=f"{SOURCE}, Theorem 3 (iii)",
    kind="inequality",
    tolerance="in log space, 1e-12 relative plus 1e-15 t max|ln|a_i|| (float64 exponents)",
    examples={"ci": 20, "dev": 100, "thorough": 1000},
)
@given(problem=paper_instances, log_excess=st.floats(-3.0, math.log10(2.0)), data=st.data())
def lower_bound(problem, log_excess, data):
    """The bound is informative only where c_1^2 (eta L - 1)^(2t-1) > 1. The horizon is therefore
    drawn (log-uniform, up to 10^4) from the smallest t where the right side is positive: with t
    drawn independently in [1, 200], about 30% of the examples were vacuous. Where even t = 10^4 is
    vacuous the example counts as vacuous; the count is evidence. eta = (1 + 10^u) 2/L with u in
    [-3, log10 2]: eta in (2/L, 6/L], log-uniform in its distance to 2/L; within 0.1% of 2/L the
    bound is vacuous for every t <= 10^4 unless c_1^2 > e^-4, so that sliver is left out."""
    mult = 1.0 + 10.0**log_excess
    eta = mult * 2.0 / problem.L
    L = problem.L
    log_c1 = math.log(_top_coefficient(problem) ** 2)
    log_base = math.log(eta * L - 1)
    # smallest t with (2t - 1) log_base + log_c1 > 0 (log_base > 0 since eta L > 2)
    t_min = max(1, math.floor((-log_c1 / log_base + 1) / 2) + 1) if log_base > 0 else 10**9
    _LOWER_BOUND_COUNTS["drawn"] += 1
    if t_min > 10**4:
        _LOWER_BOUND_COUNTS["vacuous"] += 1
        evidence("vacuous examples / drawn (this process)", [_LOWER_BOUND_COUNTS["vacuous"], _LOWER_BOUND_COUNTS["drawn"]])
        assume(False)
    t = data.draw(ps.horizons(max_t=10**4, min_t=t_min), label="t")
    ev = evaluate(problem, eta, t)
    x = log_c1 + (2 * t - 1) * log_base
    if x <= 0:  # rounding at the boundary t_min: nothing to check
        _LOWER_BOUND_COUNTS["vacuous"] += 1
        evidence("vacuous examples / drawn (this process)", [_LOWER_BOUND_COUNTS["vacuous"], _LOWER_BOUND_COUNTS["drawn"]])
        return
    log_rhs = math.log(L * L * t) + x + math.log1p(-math.exp(-x))
    lhs = float(ev.naive_grad_log_abs)
    evidence("vacuous examples / drawn (this process)", [_LOWER_BOUND_COUNTS["vacuous"], _LOWER_BOUND_COUNTS["drawn"]])
    evidence("ln|F'| - ln(right side)", lhs - log_rhs, expected=">= 0")
    assert lhs >= log_rhs - 1e-12 * abs(log_rhs) - float(_growth_allowance(ev, t)), (lhs, log_rhs)


@claim(
    id="wang2021.thm3.rate",
    statement=r"\tfrac1t\ln|F'(\eta)| \to 2\ln\rho(\eta):\ \text{vanishing for }\eta<2/L,\ \text{exploding for }\eta>2/L",
    source=f"{SOURCE}, Theorem 3 and its reading in Section 3 (exponentially small below 2/L, large above; "
    "the rate 2 ln rho is derived here)",
    kind="asymptotic",
    tolerance="fitted slope of ln|F'| - ln t against t within 5% of 2 ln rho (the issue's criterion), "
    "over two decades of t from the horizon where the sub-dominant components have settled",
    examples={"ci": 8, "dev": 40, "thorough": 300},
)
@given(problem=paper_instances, mult=st.sampled_from([0.5, 1.0, 1.1, 1.3]))
def rate(problem, mult):
    """Consistent-with check over a grid of horizons (``numerics.diagnostics.growth``). The grid starts at
    ``settling_horizon`` (sub-dominant eigencomponents below 1e-6 of the dominant ones), which the
    stable evaluator makes affordable. Finding: the grid t in [50, 800] proposed with the reference
    fits misses the 5% criterion on about 0.7% of these instances (up to 18%), because the second
    component has not died out; the fit on that grid is recorded as evidence."""
    from l2l.numerics.diagnostics.growth import compare_slope, naive_gradient_growth, predicted_rate, settling_horizon

    eta = mult * 2.0 / (problem.L + problem.alpha)
    t0 = max(50, settling_horizon(problem, eta))
    ts = np.unique(np.geomspace(t0, 100 * t0, 25).astype(np.int64))
    cls = naive_gradient_growth(problem, eta, ts)
    cmp = compare_slope(cls.exponential_over_t, predicted_rate(problem, eta), rel_tol=0.05)
    paper = naive_gradient_growth(problem, eta, np.arange(50, 801, 25))
    paper_cmp = compare_slope(paper.exponential_over_t, predicted_rate(problem, eta), rel_tol=0.05)
    evidence(f"slope at eta = {mult} x 2/(L+alpha)", cmp.fitted, expected=cmp.predicted, tolerance="5% relative")
    evidence(f"slope on the grid t in [50, 800] at eta = {mult} x 2/(L+alpha)", paper_cmp.fitted, expected=paper_cmp.predicted)
    assert cmp.ok, cmp.sentence
    assert (cmp.fitted < 0) == (eta < 2.0 / problem.L)


@claim(
    id="wang2021.thm3.exceptional-points",
    statement=r"\eta\in\{0, 2/L\}:\ |F'(\eta)| \text{ grows only linearly in } t",
    source=f"{SOURCE}, Theorem 3 (the exceptional points eta = 0 and 2/L are derived here)",
    kind="asymptotic",
    tag="derived",
    tolerance="fitted degree of |F'| against t (log-log, t in [10^3, 10^8]) within 0.02 of 1",
    examples={"ci": 8, "dev": 40, "thorough": 300},
)
@given(problem=paper_instances)
def exceptional_points(problem):
    from l2l.numerics.diagnostics.growth import fit_polynomial

    ts = np.unique(np.geomspace(1_000, 10**8, 30).astype(np.int64))
    for eta in (0.0, 2.0 / problem.L):
        ev = evaluate(problem, eta, ts)
        fit = fit_polynomial(ts, ev.naive_grad_log_abs)
        evidence(f"degree at eta = {eta:.6g}", fit.slope, expected=1.0, tolerance=0.02)
        # at 2/L the other components decay like (rho_2)^(2t), negligible from t = 10^3 on for
        # kappa <= 100; what remains is t c_1^2 L^2: degree exactly 1.
        assert abs(fit.slope - 1.0) <= 0.02, f"degree {fit.slope:.4f} at eta = {eta}"


# =============================================================================================
# Theorem 4: the log objective


@claim(
    id="wang2021.thm4.sign-agreement",
    statement=r"\operatorname{sign} G'(\eta) = \operatorname{sign} F'(\eta)",
    source=f"{SOURCE}, Theorem 4 (i) (proof; derived here: ln is increasing)",
    kind="identity",
    tag="derived",
    tolerance="exact signs; compared where |F'| exceeds the mpmath unroll's rounding by far",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@example(problem=HARD["kappa-1e6"], t=1, frac=1 / 3)
@example(problem=HARD["repeated-top"], t=7, frac=1 / 3)
@example(problem=HARD["kappa-1e6"], t=60, frac=2 / 3)
@example(problem=HARD["dominant-bottom"], t=60, frac=2 / 3 / (1 + 0.01 / 4))
@given(problem=small_instances, t=st.integers(1, 80), frac=st.floats(0.0, 1.0))
def sign_agreement(problem, t, frac):
    """G' from the stable closed form against the sign of dF/deta from the process (forward mode
    in mpmath through the unrolled loop on the dense H)."""
    from l2l.numerics.quadratic.unroll import forward_tangent

    eta = frac * 3.0 / problem.L
    h, w0 = problem.dense()
    run = forward_tangent(h, w0, eta, t, dtype="mpmath", dps=40)
    g = float(evaluate(problem, eta, t).log_objective_grad)
    naive = run.mp_naive_grad[0, 0]
    if naive is None or run.status[0, 0] != "ok":
        return
    # near the root eta*(t) the sign is decided by rounding of the eigen round trip: skip |G'|
    # below 1e-8 of its scale (the evaluators agree to ~1e-13 there).
    assume(abs(g) > 1e-8 * problem.L)
    assert np.sign(g) == np.sign(float(naive)), (g, float(naive))


@claim(
    id="wang2021.thm4.unique-minimiser",
    statement=r"G \text{ has a unique minimiser } \eta^*(t) \text{ on } [0,\infty),\ G'<0 \text{ before it},\ G'>0 \text{ after}",
    source=f"{SOURCE}, Theorem 4 (i)",
    kind="identity",
    tolerance="sign changes of G' on a 2000-point grid of [0, 4/L] plus [4/L, 100/L]; the root by bracketing",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@example(problem=HARD["kappa-1e6"], t=1)
@example(problem=HARD["dominant-bottom"], t=10**4)
@given(problem=paper_instances, t=ps.horizons(max_t=10**4))
def unique_minimiser(problem, t):
    from l2l.numerics.quadratic.metaopt import eta_star

    etas = np.concatenate([np.linspace(0.0, 4.0 / problem.L, 2000), np.geomspace(4.0 / problem.L, 100.0 / problem.L, 200)])
    g = evaluate(problem, etas, t).log_objective_grad
    s = np.sign(g)
    changes = np.flatnonzero(s[:-1] * s[1:] < 0)
    assert g[0] < 0, "G'(0) must be negative"
    assert changes.size == 1, f"G' changes sign {changes.size} times on the grid"
    root = eta_star(problem, t)
    assert etas[changes[0]] <= root <= etas[changes[0] + 1]
    evidence("eta*(t) x (L+alpha)/2", root * (problem.L + problem.alpha) / 2)


@claim(
    id="wang2021.thm4.log-gradient-not-exponential",
    statement=r"G'(\eta) \text{ is polynomially bounded in } t \text{ (no exponential growth or decay), unlike } F'(\eta)",
    source=f"{SOURCE}, Theorem 4 (ii) against Theorem 3",
    kind="asymptotic",
    tolerance="numerics.diagnostics.growth.classify over t in [1, 10^6]: 'bounded' for G', exponential for F' "
    "(t-statistic >= 10 and >= 3 nats of change over the grid)",
    examples={"ci": 8, "dev": 40, "thorough": 300},
)
@given(problem=paper_instances, mult=st.sampled_from([0.5, 1.3, 2.0]))
def log_gradient_not_exponential(problem, mult):
    """The contrast of the two theorems on the same grid of horizons: ln|F'| is classified
    exponential (decay below 2/L, growth above), ln|G'| bounded."""
    from l2l.numerics.diagnostics.growth import log_gradient_growth, naive_gradient_growth, settling_horizon

    eta = mult * 2.0 / (problem.L + problem.alpha)
    ts = np.unique(np.geomspace(1, 10**6, 40).astype(np.int64))
    log_cls = log_gradient_growth(problem, eta, ts)
    t0 = max(50, settling_horizon(problem, eta))
    naive_cls = naive_gradient_growth(problem, eta, np.unique(np.geomspace(t0, 100 * t0, 25).astype(np.int64)))
    evidence(f"G' at eta = {mult} x 2/(L+alpha)", log_cls.kind, expected="bounded", why=log_cls.reason)
    evidence(f"F' at eta = {mult} x 2/(L+alpha)", naive_cls.kind, expected="exponential", why=naive_cls.reason)
    assert log_cls.kind == "bounded", log_cls.reason
    want = "exponential-decay" if eta < 2.0 / problem.L else "exponential-growth"
    assert naive_cls.kind == want, naive_cls.reason


@claim(
    id="wang2021.thm4.log-gradient-bounded",
    statement=r"\sup_{\eta\ge0}|G'(\eta)| \le \frac{2L^2(L+\alpha)}{c_{\min}^2\,\alpha\,(L-\alpha)} \le \frac{4L^3}{c_{\min}^2\alpha(L-\alpha)}",
    source=f"{SOURCE}, Theorem 4 (ii) (the explicit constant is derived here, not the paper's)",
    kind="inequality",
    tolerance="the bound exceeds the observed supremum by orders of magnitude; 1e-10 relative for rounding",
    examples={"ci": 10, "dev": 50, "thorough": 500},
)
@example(problem=HARD["kappa-1e6"], t=1)
@example(problem=HARD["dominant-bottom"], t=10**6)
@given(problem=paper_instances, t=ps.horizons(max_t=10**6))
def log_gradient_bounded(problem, t):
    p = problem
    etas = np.concatenate([np.linspace(0, 4 / p.L, 1500), np.geomspace(4 / p.L, 1e3 / p.L, 200), 1 / p.eigenvalues, [2 / (p.L + p.alpha)]])
    g = np.abs(evaluate(p, etas, t).log_objective_grad)
    bound = 2 * p.L**2 * (p.L + p.alpha) / (p.c_min**2 * p.alpha * (p.L - p.alpha))
    sup = float(np.max(g))
    evidence("sup |G'| / bound", sup / bound, expected="<= 1")
    target(sup / bound, label="sup|G'| / bound")
    assert sup <= bound * (1 + 1e-10), (sup, bound)
    assert bound <= 4 * p.L**3 / (p.c_min**2 * p.alpha * (p.L - p.alpha)) * (1 + 1e-12)


@claim(
    id="wang2021.thm4.log-gradient-matches-reference",
    statement=r"G'(\eta) = -2\,\frac{\sum_i c_i^2\lambda_i^2(1-\eta\lambda_i)^{2t-1}}{\sum_i c_i^2\lambda_i(1-\eta\lambda_i)^{2t}}"
    r"\ \text{(the size of } G'\text{, not only its sign)}",
    source=f"{SOURCE}, Theorem 4 (the quantity the theorem bounds and meta-GD follows)",
    kind="identity",
    tolerance="|G'_stable - G'_ref| <= 1e-10 (|G'_ref| + S) + 1e-15 t max|ln|a_i|| S, S = 2 sum_i |c_i^2 lambda_i^2 "
    "a_i^(2t-1)| / sum_i c_i^2 lambda_i a_i^(2t) the scale of the summed terms (float64 conditioning of a "
    "cancelling sum, plus the exponent error of t-th powers; tests/numerics/test_stable.py)",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@example(problem=HARD["kappa-1e6"], t=10**6)
@example(problem=HARD["repeated-top"], t=1)
@given(problem=paper_instances, t=ps.horizons(max_t=10**6))
def log_gradient_matches_reference(problem, t):
    """The size of G' from the stable log-space evaluator (numerics.quadratic.stable) against the
    60-digit direct evaluation of the closed form (numerics.quadratic.reference: plain mpmath
    powers and sums, no code shared), on 24 step sizes over [0, 3/L] (including 2/(L+alpha) and
    eta*(t)). The sign claims above cannot see a wrong magnitude; this one refutes a G' off by 5%.
    Evidence: the largest relative error at points where G' is well conditioned (|G'| >= S/10)."""
    from l2l.numerics.quadratic.metaopt import eta_star
    from l2l.numerics.quadratic.reference import quadratic_reference

    p = problem
    etas = np.concatenate([np.linspace(0.0, 3.0 / p.L, 22), [2.0 / (p.L + p.alpha), eta_star(p, t)]])
    ev = evaluate(p, etas, t)
    worst_rel, informative = 0.0, 0
    for i, eta in enumerate(etas):
        ref = quadratic_reference(p.eigenvalues, p.coefficients, float(eta), t, dps=60)
        if ref.log_loss is None:
            continue
        g, gr, terms = float(ev.log_objective_grad[i]), float(ref.log_objective_grad), float(ref.grad_abs_terms)
        growth = 1e-15 * t * float(ev.max_abs_log_factor[i])
        tol = 1e-10 * (abs(gr) + terms) + growth * terms
        if abs(gr) >= 0.1 * terms:
            informative += 1
            worst_rel = max(worst_rel, abs(g - gr) / abs(gr))
        assert abs(g - gr) <= tol, f"G' = {g!r} but the 60-digit reference gives {gr!r} at eta = {eta!r}, t = {t}"
    target(worst_rel, label="relative error of G'")
    evidence("max relative error of G' where |G'| >= S/10", worst_rel, expected=0.0, tolerance="1e-10 (|G'| + S)")
    evidence("step sizes with |G'| >= S/10 (of 24)", informative)
    assert informative >= 1, "no well-conditioned step size: the check could not see a wrong magnitude"


@claim(
    id="wang2021.thm4.log-hessian-matches-reference",
    statement=r"G''(\eta) = \frac{F''}{tF} - \frac{(F')^2}{tF^2},\quad F' = -t\sum_i c_i^2\lambda_i^2a_i^{2t-1},\ "
    r"F'' = t(2t-1)\sum_i c_i^2\lambda_i^3a_i^{2t-2}\ \text{(stable variance form = direct 60-digit form)}",
    source=f"{SOURCE}, comments on Theorem 4 (G is not convex) and Theorem 4 (iii) (the curvature that sets "
    "meta-GD's step); the closed form of G'' is derived here",
    kind="identity",
    tag="derived",
    tolerance="|G''_stable - G''_ref| <= (1e-10 + 1e-14 t max|ln|a_i||) C + 1e-10 |G''_ref|, C = t G'_ref^2 + "
    "|G''_ref| the size of the two parts of G'' = 4t Var_q(r) - 2 E_q[r^2] (float64 conditioning of the "
    "difference, plus 10x the exponent error of t-th powers; tests/numerics/test_stable.py). t <= 10^4, so a "
    "wrong E_q[r^2] term (at least G'^2/4 = C/(4t) in size) stays far above the tolerance",
    examples={"ci": 8, "dev": 40, "thorough": 300},
)
@example(problem=HARD["kappa-1e6"], t=10**4)
@example(problem=HARD["repeated-top"], t=1)
@given(problem=paper_instances, t=ps.horizons(max_t=10**4))
def log_hessian_matches_reference(problem, t):
    """G'' from the stable log-space evaluator (the variance form 4t Var_q(r) - 2 E_q[r^2] of
    numerics.quadratic.stable) against the direct 60-digit evaluation of F''/(tF) - F'^2/(tF^2)
    (numerics.quadratic.reference: plain mpmath powers and sums), on 16 step sizes over [0, 3/L]
    plus 2/(L+alpha) and eta*(t). Checks the size of G'' (which sets meta-GD's stability step
    k_c and the non-convexity claims), not only its sign."""
    from l2l.numerics.quadratic.metaopt import eta_star
    from l2l.numerics.quadratic.reference import quadratic_reference

    p = problem
    etas = np.concatenate([np.linspace(0.0, 3.0 / p.L, 16), [2.0 / (p.L + p.alpha), eta_star(p, t)]])
    ev = evaluate(p, etas, t)
    worst_rel = 0.0
    for i, eta in enumerate(etas):
        ref = quadratic_reference(p.eigenvalues, p.coefficients, float(eta), t, dps=60)
        if ref.log_loss is None:
            continue
        h, hr = float(ev.log_objective_hess[i]), float(ref.log_objective_hess)
        scale = t * float(ref.log_objective_grad) ** 2 + abs(hr)
        growth = 1e-15 * t * float(ev.max_abs_log_factor[i])
        tol = (1e-10 + 10 * growth) * scale + 1e-10 * abs(hr)
        worst_rel = max(worst_rel, abs(h - hr) / max(scale, 1e-300))
        assert abs(h - hr) <= tol, f"G'' = {h!r} but the 60-digit reference gives {hr!r} at eta = {eta!r}, t = {t}"
    evidence("max |G''_stable - G''_ref| / (t G'^2 + |G''|)", worst_rel, expected=0.0, tolerance="1e-10 + 1e-14 t max|ln|a||")


@claim(
    id="wang2021.thm4.bound-derivation",
    shares="derivation:quadratic.theorem4-bound",
    statement=r"|G'| \le \frac{2L^2}{c_{\min}^2\alpha\rho} \le \frac{2L^2(L+\alpha)}{c_{\min}^2\alpha(L-\alpha)}",
    source=f"{SOURCE}, Theorem 4 (ii) (proof; the chain of bounds is derived here)",
    kind="inequality",
    tag="derived",
)
def bound_derivation():
    """The chain of inequalities behind the bound (derivation ``quadratic.theorem4-bound``): the
    algebra is proved by SymPy; the two termwise bounds are checked in exact rationals at sampled
    instances, so the verdict is ``holds``."""
    from l2l.theory.registry import verified

    return verified("quadratic.theorem4-bound")


@claim(
    id="wang2021.thm4.bound-t-independent",
    statement=r"\sup_{\eta\ge 0}|G'(\eta)| \text{ does not grow with } t\in\{1,10,10^2,10^3,10^4\}",
    source=f"{SOURCE}, Theorem 4 (ii)",
    kind="trend",
    tolerance="sup at t = 10^4 at most 5% above the largest sup at t <= 10^3 (saturation)",
    examples={"ci": 8, "dev": 40, "thorough": 300},
)
@given(problem=paper_instances)
def bound_t_independent(problem):
    p = problem
    etas = np.concatenate([np.linspace(0, 4 / p.L, 2000), np.geomspace(4 / p.L, 1e3 / p.L, 200)])
    ts = np.array([1, 10, 100, 1000, 10_000])
    sups = np.max(np.abs(evaluate(p, etas[:, None], ts[None, :]).log_objective_grad), axis=0)
    evidence("sup |G'| at t = 1, 10, ..., 10^4", sups.tolist(), expected="flat", tolerance="5%")
    assert sups[-1] <= 1.05 * np.max(sups[:-1]), sups.tolist()


@claim(
    id="wang2021.thm4.meta-gd-converges",
    statement=r"\eta_{k+1}=\max(0,\eta_k-\tfrac{1}{\sqrt k} G'(\eta_k))\ \Rightarrow\ |\eta_k-\eta^*|\le\varepsilon \text{ for all large } k",
    source=f"{SOURCE}, Theorem 4 (iii)",
    kind="asymptotic",
    tolerance="from eta_0 in {1e-4, 0.1, 1, 10} x 2/L: within 0.1% of eta* (bracketed root) and staying "
    "there, within 1.5 k_c + 1500 + 2 k_travel meta-steps: k_c = (G''(eta*)/2)^2 is the step after "
    "which eta* is a stable fixed point of the 1/sqrt(k) iteration, k_travel = (eta_0 L - 1)^4/64 the "
    "steps needed to come down from eta_0 where G' ~ 2L/(eta L - 1) is small",
    examples={"ci": 6, "dev": 30, "thorough": 200},
)
@given(problem=paper_instances, t=st.sampled_from([10, 80]))
def meta_gd_converges(problem, t):
    """The theorem's own meta step 1/sqrt(k), on instances rescaled to L = 1 (the meta step has
    units of 1/lambda^2; on the raw instances, L ~ 100, 1/sqrt(k) would need 10^6-10^8 steps before
    eta* becomes stable). Instances whose k_c exceeds 3000 are set aside to bound the run time;
    the theorem's count M^6/eps^2 poly(...) is an upper bound and is not tested for tightness.

    k_travel: far above eta*, G'(eta) ~ 2/(eta - 1) (L = 1, the top component dominates), so the
    iteration follows d eta/dk = -2/((eta - 1) sqrt k), i.e. (eta - 1)^2 = (eta_0 - 1)^2 - 8 sqrt k,
    and reaches eta* after about (eta_0 - 1)^4/64 steps: the M^4 of the theorem's M^6."""
    from l2l.numerics.quadratic.metaopt import eta_star, first_hit, meta_gd_many, stability_step

    p = QuadraticProblem(problem.eigenvalues / problem.L, problem.coefficients)
    star = eta_star(p, t)
    k_c = stability_step(p, t, c=1.0)
    assume(k_c <= 3000)
    starts = [m * 2.0 / p.L for m in (1e-4, 0.1, 1.0, 10.0)]
    budgets = [int(math.ceil(1.5 * k_c)) + 1500 + int(2 * max(e * p.L - 1, 0) ** 4 / 64) for e in starts]
    runs = meta_gd_many(p, starts, [t], steps=max(budgets) + 500, c=1.0)
    for m, run, budget in zip((1e-4, 0.1, 1.0, 10.0), runs, budgets):
        k = first_hit(run, star, 1e-3 * star)
        evidence(f"meta-steps to stay within 0.1% from {m} x 2/L (t = {t}, k_c = {k_c:.0f})", k)
        assert k is not None and k <= budget, f"not within 0.1% of eta* to stay from {m} x 2/L after {budget} steps"


#: seeds of the released code's instance generator (seed 1 is the instance of the reference
#: counts) and the largest stability step k_c run per profile (the run costs ~1.5 k_c + 2000 meta-steps
#: at ~0.5 ms each; pairs above the cap are set aside a priori, from k_c alone, and counted).
FIG1_SEEDS = {"ci": range(6), "dev": range(6), "thorough": range(12)}
FIG1_MAX_KC = {"ci": 1000.0, "dev": 3000.0, "thorough": 1e5}
#: first hits within 0.1% on seed 1 (derived here, not the paper's numbers)
FIG1_PAPER_COUNTS = {(80, 0.1): 68, (300, 0.1): 195, (1000, 1.0): 1244}


def _fig1_instance(seed: int) -> QuadraticProblem:
    """The released code's instance: H = X^T X, X 20 x 20 Gaussian, w0 ~ N(0, I) unnormalised,
    drawn from numpy.random.default_rng(seed) (X first)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20, 20))
    w0 = rng.normal(size=20)
    return QuadraticProblem.from_matrix(x.T @ x, w0)


def _fig1_runs(settings, profile: str):
    """Meta-GD (c = 1/100) on every seed's instance at each (t, eta0) of ``settings`` whose k_c is
    within the profile's cap. Yields (seed, t, eta0, first, settled, budget) and counts set-aside pairs."""
    from l2l.numerics.quadratic.metaopt import eta_star, first_hit, meta_gd_many, stability_step

    rows, set_aside = [], []
    for seed in FIG1_SEEDS[profile]:
        p = _fig1_instance(seed)
        todo = []
        for t, eta0 in settings:
            k_c = stability_step(p, t, c=0.01)
            if k_c > FIG1_MAX_KC[profile]:
                set_aside.append((seed, t, eta0, round(k_c)))
                continue
            todo.append((t, eta0, eta_star(p, t), int(math.ceil(1.5 * k_c)) + 1500))
        if not todo:
            continue
        runs = meta_gd_many(p, [e for _, e, _, _ in todo], [t for t, _, _, _ in todo], steps=max(b for *_, b in todo) + 500, c=0.01)
        for (t, eta0, star, budget), run in zip(todo, runs):
            inside = np.abs(run.etas - star) <= 1e-3 * star
            first = int(np.argmax(inside)) if inside.any() else None
            rows.append((seed, t, eta0, first, first_hit(run, star, 1e-3 * star), budget))
    return rows, set_aside


@claim(
    id="wang2021.fig1.meta-gd-paper-setting",
    statement=r"\text{meta-GD with } \mu_k = \tfrac{1}{100\sqrt k} \text{ on the released code's 20-d instances converges from } "
    r"\eta_0=0.1:\ |\eta_k-\eta^*|\le 10^{-3}\eta^* \text{ for all } k\ge 1.5k_c+1500",
    source=f"{SOURCE}, Section 5.1, Figure 1 (instances of the released code [code]; the budget 1.5 k_c + 1500 "
    "[derived], not the paper's)",
    kind="trend",
    tag="derived",
    tolerance="on every seed of default_rng(0..5) (ci) and t in {80, 300}: settled within 0.1% of eta* (bracketed "
    "root) by 1.5 k_c + 1500 meta-steps (k_c: the step after which eta* is a stable fixed point); pairs with "
    "k_c above the profile's cap (ci 1000) are set aside a priori for run time and counted; at least 4 pairs checked",
)
def meta_gd_paper_setting():
    """A statement over the distribution of the released code's instances, not one instance: the
    reference first-hit counts 68 / 195 / 1244 hold on default_rng(1) only (seeds 0, 2-5 give 141,
    435, 1027, 231, 159 at t = 80) and are recorded as evidence, not asserted. Finding (seed 1):
    the counts are *first* hits; at t = 80 and 300 the iterate leaves the 0.1% band again and
    settles only after k_c. The start eta_0 = 1 (t = 1000) is the subject of
    ``wang2021.finding.fig1-budget-from-above``."""
    from l2l.proofs.claim import current_profile

    profile = current_profile() if current_profile() in FIG1_SEEDS else "ci"
    rows, set_aside = _fig1_runs(((80, 0.1), (300, 0.1)), profile)
    for seed, t, eta0, first, settled, budget in rows:
        ref = FIG1_PAPER_COUNTS.get((t, eta0)) if seed == 1 else None
        evidence(f"seed {seed}, t = {t}, eta0 = {eta0}: first within 0.1% / settled from", [first, settled],
                 expected=f"settled <= {budget}" + (f"; first = {ref} (reference count, seed 1)" if ref else ""))
    evidence("pairs set aside (seed, t, eta0, k_c) above the k_c cap", set_aside, why="run time, decided from k_c before running")
    late = [(s, t, e, st, b) for s, t, e, _, st, b in rows if st is None or st > b]
    evidence("checked pairs / settled within budget", [len(rows), len(rows) - len(late)])
    if len(rows) < 4:
        refute("fewer than 4 (seed, t) pairs checked: the claim has no distribution behind it", checked=len(rows))
    if late:
        refute("meta-GD did not settle within 1.5 k_c + 1500 steps", late=late)


@claim(
    id="wang2021.finding.fig1-budget-from-above",
    statement=r"\text{(finding; false) from } \eta_0 = 1\ (t = 1000)\text{, meta-GD settles within } 0.1\% \text{ of } \eta^* "
    r"\text{ by } 1.5k_c+1500 \text{ steps on every seed}",
    source=f"finding on {SOURCE}, Figure 1 setting: the budget derived on default_rng(1) does not transfer",
    kind="trend",
    expect="refuted",
    tag="derived",
    tolerance="as wang2021.fig1.meta-gd-paper-setting",
)
def fig1_budget_from_above():
    """Finding: from eta_0 = 1 (eta_0 L ~ 64) the iterate comes down, overshoots below eta*
    (default_rng(4): to 0.011 against eta* = 0.029 at k = 500) and climbs back slowly because
    |G'| is small below eta* and the meta step c/sqrt(k) has shrunk: seeds 4 and 5 settle at
    k = 3087 and 7061 against budgets 2019 and 1517. Seed 1 (1244 steps) holds. The paper's
    qualitative statement (convergence) is not contradicted; the derived budget is."""
    from l2l.proofs.claim import current_profile

    profile = current_profile() if current_profile() in FIG1_SEEDS else "ci"
    rows, set_aside = _fig1_runs(((1000, 1.0),), profile)
    for seed, t, eta0, first, settled, budget in rows:
        evidence(f"seed {seed}, t = 1000, eta0 = 1: first within 0.1% / settled from", [first, settled], expected=f"settled <= {budget}")
    evidence("pairs set aside (seed, t, eta0, k_c)", set_aside)
    late = [(s, st, b) for s, t, e, _, st, b in rows if st is None or st > b]
    if late:
        refute("meta-GD from eta0 = 1 did not settle within 1.5 k_c + 1500 steps", late=late)


# =============================================================================================
# eta*(t) and the log objective's shape


@claim(
    id="wang2021.eta-star.t1-line-search",
    statement=r"\eta^*(1) = \frac{\sum_i c_i^2\lambda_i^2}{\sum_i c_i^2\lambda_i^3}",
    source=f"{SOURCE}, Theorem 4 (i) (the minimiser eta*; its value at t = 1, the exact line-search step, is derived here)",
    kind="identity",
    tag="derived",
    tolerance="1e-12 relative (brentq to 4 eps)",
    examples={"ci": 20, "dev": 100, "thorough": 1000},
)
@given(problem=ps.quadratic_problems(max_dim=8, max_kappa=1e6))
def eta_star_t1(problem):
    from l2l.numerics.quadratic.metaopt import eta_star

    lam, c = problem.eigenvalues, problem.coefficients
    want = float(np.sum(c**2 * lam**2) / np.sum(c**2 * lam**3))
    got = eta_star(problem, 1)
    assert abs(got - want) <= 1e-12 * want, (got, want)


@claim(
    id="wang2021.eta-star.limit",
    statement=r"\eta^*(t) \to \frac{2}{L+\alpha} \quad (t\to\infty)",
    source=f"{SOURCE}, Section 5.1, Figure 2 (eta* depends on t; the limit 2/(L + alpha) is derived here)",
    kind="asymptotic",
    tag="derived",
    tolerance="|eta*(t)(L+alpha)/2 - 1| below 1e-2 at t = 10^5 and shrinking by 3x from t = 10^2",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@given(problem=paper_instances)
def eta_star_limit(problem):
    from l2l.numerics.quadratic.metaopt import eta_star

    target = 2.0 / (problem.L + problem.alpha)
    ts = [1, 10, 100, 1000, 10_000, 100_000]
    dev = [abs(eta_star(problem, t) / target - 1.0) for t in ts]
    evidence("|eta*(t)(L+alpha)/2 - 1| at t = 1..1e5", dev, expected="-> 0")
    assert dev[-1] < 1e-2 and dev[-1] < dev[2] / 3, dev


@claim(
    id="wang2021.eta-star.rate-1-over-t",
    statement=r"t\,\big|\eta^*(t) - \tfrac{2}{L+\alpha}\big| \text{ stays bounded}",
    source=f"conjecture, not a claim of {SOURCE}",
    kind="trend",
    tag="unconfirmed",
    tolerance="t |eta*(t) - 2/(L+alpha)| (L+alpha)/2 at t = 10^5 at most 2x its value at t = 10^3",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@given(problem=paper_instances)
def eta_star_rate(problem):
    from l2l.numerics.quadratic.metaopt import eta_star

    target = 2.0 / (problem.L + problem.alpha)
    ts = [1000, 10_000, 100_000]
    scaled = [t * abs(eta_star(problem, t) / target - 1.0) for t in ts]
    evidence("t |eta*(t)(L+alpha)/2 - 1|", scaled, expected="bounded")
    assert scaled[-1] <= 2 * scaled[0] + 1e-9, scaled


def _reference_root_bracket(problem: QuadraticProblem, t: int, guess: float) -> tuple[float, float]:
    """Adjacent floats [lo, hi] around the root of F'(eta) (equally of G', Theorem 4 (i)) at horizon
    t, by bisection on the sign of the 60-digit mpmath reference (exact at each float eta), from
    [guess (1 - 1e-9), guess (1 + 1e-9)] after checking that it brackets the root."""
    from l2l.numerics.quadratic.reference import quadratic_reference

    def sign(e: float) -> int:
        return quadratic_reference(problem.eigenvalues, problem.coefficients, e, t, dps=60).naive_grad_sign

    lo, hi = guess * (1 - 1e-9), guess * (1 + 1e-9)
    assert sign(lo) < 0 < sign(hi), f"eta*({t}) = {guess!r} is not within 1e-9 of the reference root"
    while np.nextafter(lo, np.inf) < hi:
        mid = 0.5 * (lo + hi)
        s = sign(mid)
        if s == 0:
            return mid, mid
        lo, hi = (mid, hi) if s < 0 else (lo, mid)
    return lo, hi


@claim(
    id="wang2021.eta-star.root-of-reference",
    statement=r"\eta^*(t) \text{ (numerics.quadratic.metaopt.eta\_star) is the root of the 60-digit } G'(\eta) "
    r"\text{ to } 8\,\epsilon\,\eta^*,\ \text{ and } 1/L \le \eta^* < 2/\alpha",
    source=f"{SOURCE}, Theorem 4 (i) (the unique minimiser eta*; every eta*-based claim of this catalogue uses it)",
    kind="identity",
    tag="derived",
    tolerance="distance from eta_star to the adjacent-float bracket of the reference root <= 8 eps eta*: brentq's "
    "stopping rule 4 eps |eta| + 4 eps / L <= 8 eps eta* (eta* >= 1/L); the reference sign is exact at each float",
    examples={"ci": 6, "dev": 30, "thorough": 200},
)
@given(problem=paper_instances, t=ps.horizons(max_t=10**4))
def eta_star_root_of_reference(problem, t):
    """eta* from the float64 root finder (brentq on the stable G') against bisection to adjacent
    floats on the sign of the mpmath reference F' (numerics.quadratic.reference; no shared code).
    ``wang2021.thm4.unique-minimiser`` brackets eta* on a 2000-point grid; this pins it to a few
    ulps, the accuracy the eta*-based claims (limit, 1/t rate, meta-GD convergence) rely on."""
    from l2l.numerics.quadratic.metaopt import eta_star

    es = eta_star(problem, t)
    lo, hi = _reference_root_bracket(problem, t, es)
    distance = 0.0 if lo <= es <= hi else min(abs(es - lo), abs(es - hi))
    evidence("distance to the reference root / (eps eta*)", distance / (EPS * es), expected="<= 8")
    assert distance <= 8 * EPS * es, f"eta*({t}) = {es!r}, reference root in [{lo!r}, {hi!r}]"
    assert 1 / problem.L <= es < 2 / problem.alpha


@claim(
    id="wang2021.eta-star.two-component-closed-form",
    statement=r"d=2:\ \eta^*(t) = \frac{1+q}{L+q\alpha},\quad q = \Big(\frac{c_2^2\alpha^2}{c_1^2L^2}\Big)^{1/(2t-1)}",
    source=f"{SOURCE}, Theorem 4 (i) and Section 5.1, Figure 2 (eta* depends on t); the two-component root, "
    "which carries the 1/t approach of eta*(t) to 2/(L+alpha) in any dimension, is derived here",
    kind="identity",
    tag="derived",
    assumptions=r"$d=2$, $L>\alpha$, $\kappa\le10^6$, $t\le10^4$",
    tolerance="the reference F' (60 digits) changes sign between eta(1 - 1e-10) and eta(1 + 1e-10): q = exp(ln r/(2t-1)) "
    "in float64 errs by eps (1 + |ln r|) <= 1e-13 relative for |ln r| <= 60, and d ln eta / d ln q <= 1",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@given(problem=ps.quadratic_problems(min_dim=2, max_dim=2, max_kappa=1e6, shapes=("log-uniform", "two-level")),
       t=ps.horizons(max_t=10**4))
def eta_star_two_component(problem, t):
    """With two eigencomponents G' = 0 reads c_2^2 alpha^2 a_2^(2t-1) = c_1^2 L^2 |a_1|^(2t-1) exactly,
    so numerics.quadratic.metaopt.eta_star_extremes is the exact root; checked on the sign of the
    mpmath reference F' (numerics.quadratic.reference), not on the float64 G' it was derived from."""
    from l2l.numerics.quadratic.metaopt import eta_star_extremes
    from l2l.numerics.quadratic.reference import quadratic_reference

    assume(problem.L > problem.alpha)
    eta = eta_star_extremes(problem, t)

    def sign(e: float) -> int:
        return quadratic_reference(problem.eigenvalues, problem.coefficients, e, t, dps=60).naive_grad_sign

    assert sign(eta * (1 - 1e-10)) < 0 < sign(eta * (1 + 1e-10)), f"the reference root is not within 1e-10 of {eta!r} (t = {t})"


@claim(
    id="wang2021.thm4.meta-gd-stability-step",
    statement=r"k_c = \big(c\,G''(\eta^*)/2\big)^2:\ \eta^* \text{ is an unstable fixed point of } "
    r"\eta \mapsto \eta - \tfrac{c}{\sqrt k}G'(\eta) \text{ for } k < k_c \text{ and a stable one for } k > k_c",
    source=f"{SOURCE}, Theorem 4 (iii) (meta-GD with step c/sqrt(k) converges; the step k_c after which eta* "
    "is linearly stable, used for the budgets of wang2021.thm4.meta-gd-converges and wang2021.fig1.*, is derived here)",
    kind="inequality",
    tag="derived",
    tolerance="the multiplier |1 - (c/sqrt k) G''(eta*)| > 1 at k = 0.98 k_c and < 1 at k = 1.02 k_c (1% margins), "
    "G''(eta*) by a central difference of the 60-digit reference G' with step 1e-7 eta* (truncation ~(t 1e-7)^2 "
    "<= 1e-8 relative for t <= 1000; rounding 1e-60 / 1e-7)",
    examples={"ci": 6, "dev": 30, "thorough": 200},
)
@given(problem=paper_instances, t=st.sampled_from([10, 80, 1000]), c=st.sampled_from([1.0, 0.01]))
def meta_gd_stability_step(problem, t, c):
    """numerics.quadratic.metaopt.stability_step (from the stable evaluator's G'') against the
    linearisation of the meta-GD map at eta*, with the slope of the reference G' (mpmath,
    numerics.quadratic.reference) measured by a central difference: the definition of k_c in terms
    of the process (meta-GD's fixed point), not of the formula for G''."""
    from l2l.numerics.quadratic.metaopt import eta_star, stability_step
    from l2l.numerics.quadratic.reference import quadratic_reference

    kc = stability_step(problem, t, c=c)
    es = eta_star(problem, t)
    up, down = es * (1 + 1e-7), es * (1 - 1e-7)

    def gprime(e: float):
        return quadratic_reference(problem.eigenvalues, problem.coefficients, e, t, dps=60).log_objective_grad

    slope = float((gprime(up) - gprime(down)) / (up - down))  # exact float difference of the two points
    evidence("k_c, G''(eta*) by central difference", [kc, slope])
    assert slope > 0 and kc > 0, (kc, slope)
    for k, stable in ((0.98 * kc, False), (1.02 * kc, True)):
        m = abs(1.0 - c / math.sqrt(k) * slope)
        assert (m < 1.0) == stable, f"multiplier {m:.6g} at k = {k:.6g} ({'after' if stable else 'before'} k_c = {kc:.6g})"


@claim(
    id="wang2021.thm4.log-objective-nonconvex",
    statement=r"\exists\,\eta:\ G''(\eta) < 0 \quad(\text{e.g. } \eta \gg 2/L,\ G'\approx 2L/(\eta L-1))",
    source=f"{SOURCE}, comments on Theorem 4 (not convex; the explicit region G'' < 0 is derived here)",
    kind="inequality",
    tolerance="G'' < -1e-6 L^2 at some eta in [3/L, 30/L] (far from rounding)",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@given(problem=paper_instances, t=ps.horizons(max_t=10**4))
def log_objective_nonconvex(problem, t):
    etas = np.geomspace(3.0 / problem.L, 30.0 / problem.L, 200)
    hess = evaluate(problem, etas, t).log_objective_hess
    i = int(np.argmin(hess))
    evidence("min G'' on [3/L, 30/L] / L^2", float(hess[i]) / problem.L**2, expected="< 0")
    assert hess[i] < -1e-6 * problem.L**2, f"no negative curvature found (min G'' = {hess[i]:.3g})"


@claim(
    id="wang2021.thm4.log-objective-limit",
    statement=r"\Big|G(\eta) - 2\ln\rho(\eta)\Big| \le \frac1t\max\Big(\big|\ln\tfrac{c_{\min}^2\alpha}{2}\big|,\ \big|\ln\tfrac L2\big|\Big)",
    source=f"{SOURCE}, Theorem 4 (the log meta-objective; its limit 2 ln rho is derived here)",
    kind="inequality",
    tag="derived",
    tolerance="1e-12 relative plus 1e-15 t max|ln|a_i|| absolute",
    examples={"ci": 20, "dev": 100, "thorough": 1000},
)
@given(problem=paper_instances, data=st.data(), t=ps.horizons(max_t=10**9))
def log_objective_limit(problem, data, t):
    """f(w_t) / rho^(2t) = 1/2 sum c_i^2 lambda_i (a_i/rho)^(2t) lies between 1/2 c_min^2 alpha
    (the extreme direction attaining rho) and L/2 (sum c_i^2 = 1), for every t."""
    from l2l.numerics.quadratic.stable import log_abs_one_minus

    eta = data.draw(ps.step_sizes(problem, max_factor=3.0), label="eta")
    # ln rho from the exact products eta L and eta alpha: forming rho = 1 - eta alpha in float64
    # first would cost 1e-16 absolute, which at t = 10^9 is 10^-7 of the bound itself.
    ln_abs, _ = log_abs_one_minus(np.array([eta, eta]), np.array([problem.L, problem.alpha]))
    ln_rho = float(np.max(ln_abs))
    assume(np.isfinite(ln_rho))
    ev = evaluate(problem, eta, t)
    gap = abs(float(ev.log_objective) - 2 * ln_rho)
    bound = max(abs(math.log(problem.c_min**2 * problem.alpha / 2)), abs(math.log(problem.L / 2))) / t
    # rounding: G and 2 ln rho are each accurate to a few ulps (plus the exponent error of G)
    rounding = 8 * EPS * (abs(float(ev.log_objective)) + 2 * abs(ln_rho)) + float(_growth_allowance(ev, t)) / t
    assert gap <= bound * (1 + 1e-12) + rounding, (gap, bound)


# =============================================================================================
# Corollary 1: backpropagation


@claim(
    id="wang2021.cor1.intermediates-exponential",
    statement=r"\text{backprop's intermediates: } \|w_\tau\|\sim\rho^{\tau},\ \|\bar w_\tau\|\sim\rho^{2t-\tau},\ f(w_\tau)\sim\rho^{2\tau}",
    source=f"{SOURCE}, Corollary 1 (the rates of the intermediates are derived here)",
    kind="asymptotic",
    tolerance="per-step slopes of log10 magnitudes, fitted from the horizon where the sub-dominant "
    "eigencomponents have settled (numerics.diagnostics.growth.settling_horizon, 1e-4) to the end, within 5% of "
    "+log10 rho (iterates), -log10 rho (adjoints), 2 log10 rho (running loss)",
    examples={"ci": 8, "dev": 40, "thorough": 300},
)
@given(problem=paper_instances, mult=st.sampled_from([0.5, 1.0, 1.23, 1.5]))
def intermediates_exponential(problem, mult):
    """Measured in float64 on the dense H. The rates are asymptotic: before the slowest
    eigencomponent dominates, the iterate's largest entry mixes several rates (the thorough profile
    found an 8% deviation over steps 150-300 on a 20-d instance with c_d = -0.04). So the fit starts
    at the settling horizon and runs to 2x that horizon (at least 100 more steps), kept inside
    float64's range (2t|log10 rho| <= 250); instances whose settled regime does not fit in the
    range are set aside."""
    from l2l.numerics.diagnostics.growth import settling_horizon
    from l2l.numerics.quadratic.unroll import backprop

    eta = mult * 2.0 / (problem.L + problem.alpha)
    rho = float(problem.rho(eta))
    start = settling_horizon(problem, eta, rel_tol=1e-4)
    limit = int(250 / (2 * abs(math.log10(rho))))
    t = min(max(2 * start, start + 100), limit)
    assume(t - start >= 40)
    h, w0 = problem.dense()
    run = backprop(h, w0, eta, t, dtype="float64", record=True)
    trace = run.traces[0, 0]
    r = math.log10(rho)
    for name, want in (("w_log10_max", r), ("adjoint_log10_max", -r), ("loss_log10_abs", 2 * r)):
        got = trace.slope(name, start=start, stop=t)
        evidence(f"{name} slope / log10 rho (eta = {mult} x 2/(L+alpha))", got / r, expected=want / r, tolerance="5%")
        assert abs(got - want) <= 0.05 * abs(want), (name, got, want)


def _failure_bracket(h, w0, eta, dtype, predicted, band=1.5, resolution=0.02):
    """Bracket ``(lo, hi)`` of the first t whose backprop status is not ok, searched inside
    ``[predicted / band, band * predicted]`` only: ``lo`` is ok, ``hi`` is not, and bisection stops
    once ``hi - lo <= resolution * predicted`` (each probe is a full unrolled run, so probing far
    outside the band, or to the exact integer, is what made this claim slow). ``None`` when the
    status is not ok already at the band's lower end or still ok at its upper end: the claim fails."""
    from l2l.numerics.quadratic.unroll import backprop

    def ok(t):
        return backprop(h, w0, eta, t, dtype=dtype).status[0, 0] == "ok"

    lo, hi = max(1, math.ceil(predicted / band)), math.floor(band * predicted)
    if not ok(lo) or ok(hi):
        return None
    while hi - lo > max(1.0, resolution * predicted):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo, hi


@claim(
    id="wang2021.cor1.backprop-fails-at-predicted-horizon",
    statement=r"\text{float32/float64 backprop fails once } 2t|\log_{10}\rho(\eta)| \gtrsim 38 / 308;\ "
    r"\text{the stable closed form stays accurate}",
    source=f"{SOURCE}, Corollary 1 (the failure horizons are predicted here from float32/float64 ranges)",
    kind="asymptotic",
    tag="derived",
    tolerance="first failing t within a factor 1.5 of log10(max)/(2|log10 rho|) (bracketed to 2% of it; the "
    "status is taken as monotone in t, as the order rho^(2t) of the intermediates makes it); the closed form at that t "
    "within 1e-10 of the 60-digit reference (backward-stable scale)",
    examples={"ci": 4, "dev": 20, "thorough": 100},
)
@given(problem=ps.gaussian_quadratics(dims=(20,)), mult=st.sampled_from([0.5, 1.0, 1.23, 1.5]))
def backprop_fails(problem, mult):
    from l2l.numerics.quadratic.reference import quadratic_reference

    eta = mult * 2.0 / (problem.L + problem.alpha)
    rho = float(problem.rho(eta))
    h, w0 = problem.dense()
    for dtype, top in (("float32", float(np.log10(np.finfo(np.float32).max))), ("float64", float(np.log10(np.finfo(np.float64).max)))):
        predicted = top / (2 * abs(math.log10(rho)))
        bracket = _failure_bracket(h, w0, eta, dtype, predicted)
        evidence(f"{dtype} first failing t / predicted (eta = {mult} x 2/(L+alpha)), to 2%",
                 None if bracket is None else bracket[1] / predicted)
        assert bracket is not None, (dtype, "first failing t outside [predicted/1.5, 1.5 predicted]", predicted)
        first = bracket[1]
        ref = quadratic_reference(problem.eigenvalues, problem.coefficients, eta, first, dps=60)
        g = float(evaluate(problem, eta, first).log_objective_grad)
        gr = float(ref.log_objective_grad)
        assert abs(g - gr) <= 1e-10 * (abs(gr) + float(ref.grad_abs_terms)), (g, gr)


@claim(
    id="wang2021.cor1.backprop-exact-below-horizon",
    statement=r"2t|\log_{10}\rho(\eta)| \le 250:\ \text{float64 reverse- and forward-mode through the unrolled GD return } "
    r"G'(\eta) = -2\,\frac{\sum_i c_i^2\lambda_i^2a_i^{2t-1}}{\sum_i c_i^2\lambda_i a_i^{2t}}",
    source=f"{SOURCE}, Corollary 1 (backprop fails only through the float range; below the failure horizon "
    "it is exact to rounding: derived here)",
    kind="identity",
    tag="derived",
    assumptions=r"$d\in\{2,3,5\}$ Gaussian instances, $\eta\in[0,3/L]$, $t\le300$ clamped to $2t|\log_{10}\rho|\le250$",
    tolerance="|G'_unroll - G'_stable| <= 64 d eps (1 + t (1 + eta L)) (|G'_stable| + S), S = 2 sum_i |c_i^2 "
    "lambda_i^2 a_i^(2t-1)| / sum_i c_i^2 lambda_i a_i^(2t): float64 rounding of d-term dot products in each "
    "of t steps, each step amplifying relative errors by at most 1 + eta L, and the eigen round trip of the "
    "dense H (d eps L); measured worst 3.1 d eps (1 + t(1 + eta L)) (|G'| + S) over 300 examples. The horizon "
    "cap 250 leaves 58 decades of float64's range for c_i^2 lambda_i and the factor t",
    examples={"ci": 10, "dev": 50, "thorough": 300},
)
@given(problem=small_instances, t=st.integers(1, 300), frac=st.floats(0.0, 1.0))
def backprop_exact_below_horizon(problem, t, frac):
    """The hand-written reverse mode (``unroll.backprop``) and forward mode (``unroll.forward_tangent``)
    in float64 on the dense H, against the stable closed form (eigen-data, log space). Corollary 1
    says backprop is numerically unstable; this is the other half: the instability is the float
    range alone (``wang2021.cor1.backprop-fails-at-predicted-horizon``), and inside the range both
    modes are the true meta-gradient. A wrong adjoint pairing or tangent update gives an O(1) error."""
    from l2l.numerics.quadratic.unroll import backprop, forward_tangent

    eta = frac * 3.0 / problem.L
    rho = float(problem.rho(eta))
    if rho != 1.0:
        t = max(1, min(t, int(250 / (2 * abs(math.log10(rho))))))
    h, w0 = problem.dense()
    ev = evaluate(problem, eta, t)
    g, S = float(ev.log_objective_grad), float(ev.grad_abs_terms)
    tol = 64 * problem.dim * EPS * (1 + t * (1 + eta * problem.L)) * (abs(g) + S)
    for run in (backprop(h, w0, eta, t, dtype="float64"), forward_tangent(h, w0, eta, t, dtype="float64")):
        status = str(run.status[0, 0])
        assert status == "ok", f"{run.mode} mode: status {status} at t = {t}, eta L = {eta * problem.L:.4g} (inside the range)"
        v = float(run.log_objective_grad[0, 0])
        assert abs(v - g) <= tol, f"{run.mode} mode G' = {v!r}, closed form {g!r} (t = {t}, eta L = {eta * problem.L:.4g})"
    evidence("t used (after the range cap), eta L", [t, eta * problem.L])


# =============================================================================================
# Negative controls: false variants the checker must refute


@claim(
    id="wang2021.neg.naive-gradient-below-tL2",
    statement=r"\text{(false) } |F'(\eta)| \le t L^2 \text{ for every } \eta \le 3/L",
    source=f"negative control: {SOURCE}, Theorem 3 (iii) says |F'| explodes above 2/L",
    kind="inequality",
    expect="refuted",
    tag="derived",
    examples={"ci": 30, "dev": 100, "thorough": 500},
)
@given(problem=paper_instances, t=st.integers(1, 200), frac=st.floats(0.0, 1.0))
def neg_naive_below(problem, t, frac):
    eta = frac * 3.0 / problem.L
    ev = evaluate(problem, eta, t)
    assert float(ev.naive_grad_log_abs) <= math.log(t * problem.L**2), "|F'| exceeds t L^2"


@claim(
    id="wang2021.neg.log-objective-convex",
    statement=r"\text{(false) } G''(\eta) \ge 0 \text{ for every } \eta\ge 0",
    source=f"negative control: the log objective is not convex ({SOURCE}, comments on Theorem 4)",
    kind="inequality",
    expect="refuted",
    tag="derived",
    examples={"ci": 30, "dev": 100, "thorough": 500},
)
@given(problem=paper_instances, t=st.integers(1, 1000), mult=st.floats(0.0, 30.0))
def neg_log_convex(problem, t, mult):
    eta = mult / problem.L
    assert float(evaluate(problem, eta, t).log_objective_hess) >= 0, "G'' < 0"


@claim(
    id="wang2021.neg.eta-star-horizon-free",
    statement=r"\text{(false) } \eta^*(t) = \eta^*(1) \text{ for every } t",
    source=f"negative control: the optimal step size depends on the horizon ({SOURCE}, Figure 2)",
    kind="identity",
    expect="refuted",
    tag="derived",
    examples={"ci": 20, "dev": 100, "thorough": 500},
)
@given(problem=paper_instances, t=st.integers(2, 1000))
def neg_eta_star_horizon_free(problem, t):
    from l2l.numerics.quadratic.metaopt import eta_star

    a, b = eta_star(problem, 1), eta_star(problem, t)
    assert abs(a - b) <= 1e-6 * a, f"eta*(1) = {a:.8g} but eta*({t}) = {b:.8g}"


@claim(
    id="wang2021.neg.rate-is-ln-rho",
    statement=r"\text{(false) } \tfrac1t\ln|F'(\eta)| \to \ln\rho(\eta) \text{ (missing the factor 2)}",
    source="negative control for wang2021.thm3.rate",
    kind="asymptotic",
    expect="refuted",
    tag="derived",
    examples={"ci": 8, "dev": 40, "thorough": 300},
)
@given(problem=paper_instances, mult=st.sampled_from([0.5, 1.0, 1.3]))
def neg_rate(problem, mult):
    from l2l.numerics.diagnostics.growth import compare_slope, naive_gradient_growth, predicted_rate, settling_horizon

    eta = mult * 2.0 / (problem.L + problem.alpha)
    t0 = max(50, settling_horizon(problem, eta))
    ts = np.unique(np.geomspace(t0, 100 * t0, 25).astype(np.int64))
    cls = naive_gradient_growth(problem, eta, ts)
    cmp = compare_slope(cls.exponential_over_t, predicted_rate(problem, eta) / 2, rel_tol=0.05)
    assert cmp.ok, cmp.sentence


@claim(
    id="wang2021.neg.float64-backprop-safe",
    statement=r"\text{(false) float64 backprop returns a finite } G' \text{ at } \eta=3/L \text{ for all } t\le 3000",
    source=f"negative control for {SOURCE}, Corollary 1",
    kind="inequality",
    expect="refuted",
    tag="derived",
    examples={"ci": 10, "dev": 40, "thorough": 200},
)
@given(problem=small_instances, t=st.integers(1, 3000))
def neg_backprop_safe(problem, t):
    from l2l.numerics.quadratic.unroll import backprop

    h, w0 = problem.dense()
    status = backprop(h, w0, 3.0 / problem.L, t, dtype="float64").status[0, 0]
    assert status == "ok", f"float64 backprop status {status} at t = {t}"


# =============================================================================================
# Section 4: least squares, train-by-train (TbT) versus train-by-validation (TbV)
#
# Statistical claims (Theorems 5 and 6 hide their constants): checked as trends over grids and
# over several seeds, with the fraction of seeds on which an ordering holds reported as evidence.
# The ci-sized setting is d = 40, n = 20 (n = d/2, TbV split 10 + 10), m = 10 training tasks,
# 100 test tasks; the paper's setting (d = 1000, t = 40) is far larger.

LS_SEEDS = (0, 1, 2)
#: The paper's setting (spec §6.2: d = 1000, n = 500 vs 250 + 250, t = 40), used by the thorough
#: profile: 100 training tasks (the released code uses 300 per eta) and 20 test tasks (code: 10),
#: two seeds; about 30 s per (sigma, seed) on this machine.
PAPER_SIZE = dict(d=1000, n=500, m=100, m_test=20)
PAPER_SEEDS = (0, 1)


def _ls_seeds() -> tuple[int, ...]:
    from l2l.proofs.claim import current_profile

    return PAPER_SEEDS if current_profile() == "thorough" else LS_SEEDS


def _ls_setting(sigma: float, seed: int):
    """One TbT-vs-TbV run: ci/dev size d = 40, n = 20, m = 10, 100 test tasks; paper size under
    the thorough profile. Cached, so the Theorem 5 claims share runs."""
    from l2l.proofs.claim import current_profile

    size = PAPER_SIZE if current_profile() == "thorough" else dict(d=40, n=20, m=10, m_test=100)
    return _ls_cached(sigma, seed, **size)


@functools.lru_cache(maxsize=64)
def _ls_cached(sigma: float, seed: int, d: int, n: int, m: int, m_test: int):
    from l2l.numerics.least_squares.metaopt import tbt_vs_tbv

    return tbt_vs_tbv(d=d, n=n, sigma=sigma, t=40, m=m, m_test=m_test, seed=seed)


@functools.lru_cache(maxsize=64)
def _ls_frozen(sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the test tasks frozen (truncated at 40 sigma) at eta*_train and at eta*_valid in
    :func:`_ls_setting`'s run: a frozen task's error is exactly ||w* - 40 sigma u||^2, which is
    recomputed here from the run's test tasks (same seed derivation as ``tbt_vs_tbv``)."""
    from l2l.numerics.least_squares.metaopt import sample_tasks, test_error

    r = _ls_setting(sigma, seed)
    s_test = int(np.random.SeedSequence(seed).generate_state(2)[1])
    tests = sample_tasks(r.d, r.n1, r.n - r.n1, r.m_test, sigma, s_test)
    frozen = np.array([float(test_error(tk.merged.w_star, tk.merged.radius * tk.merged.u)) for tk in tests])
    return np.asarray(r.errors_tbt) == frozen, np.asarray(r.errors_tbv) == frozen


def _at_grid_floor(m) -> bool:
    """eta* at the lowest grid point (1e-6): the trivial output w ~ 0, not a tuned step size."""
    return bool(m.eta <= m.grid[0] * (1 + 1e-9))


@claim(
    id="wang2021.ls.tbt-is-section3-quadratic",
    shares="derivation:least_squares.tbt-quadratic",
    statement=r"n<d:\ \tfrac1{2n}\|y-Xw_t\|^2 = \tfrac12\sum_i\lambda_i(1-\eta\lambda_i)^{2t}\langle v_i,w_{\rm ERM}\rangle^2",
    source=f"{SOURCE}, Section 4, the explanation of Theorem 5 (n < d: the training loss can be driven to 0); "
    "the identity is derived here",
    kind="identity",
    tag="derived",
)
def tbt_is_quadratic():
    """When n < d the residual of the ERM solution vanishes, so the TbT meta-objective is exactly a
    Section-3 quadratic with H = X^T X / n (derivation ``least_squares.tbt-quadratic``)."""
    from l2l.theory.registry import verified

    return verified("least_squares.tbt-quadratic")


@st.composite
def _gaussian_least_squares(draw, max_n: int = 10, max_d: int = 6, n_valid: int = 5):
    """(problem, w0): X (n x d), y, w0 and a validation set of ``n_valid`` rows, all standard
    Gaussian from numpy Generator(seed); n and d drawn independently (under- and over-determined)."""
    from l2l.numerics.problems import LeastSquaresProblem

    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    n, d = draw(st.integers(1, max_n), label="n"), draw(st.integers(1, max_d), label="d")
    rng = np.random.default_rng(seed)
    p = LeastSquaresProblem(rng.standard_normal((n, d)), rng.standard_normal(n), rng.standard_normal((n_valid, d)), rng.standard_normal(n_valid))
    return p, rng.standard_normal(d)


def _ls_closed_form_tolerance(sp, eta: float, t: int) -> float:
    """max(1e-10, 64 eps cond), cond = cond_a + cond_z (tests/numerics/test_least_squares.py):
    cond_a = 1 + 2 t eta lambda_max / max|a_i| is the sensitivity of the powers a_i^k to the SVD's
    eps-relative rounding of lambda_i; cond_z that of a dominant term with a small z_i, since
    z = U^T (X w0 - y) is known to eps ||z|| absolute."""
    if sp.rank == 0:
        return 1e-10
    a = np.abs(1 - eta * sp.lam)
    cond = 1 + 2 * t * eta * sp.lam_max / max(float(np.max(a)), 1e-300)
    zn = float(np.linalg.norm(sp.z))
    for w in (a ** (2 * t), sp.lam * a ** (2 * t - 1)):
        den = float(np.sum(sp.z**2 * w))
        if den > 0:
            cond += 2 * zn * float(np.max(np.abs(sp.z) * w)) / den
    return max(1e-10, 64 * EPS * cond)


@claim(
    id="wang2021.ls.closed-form-matches-simulation",
    statement=r"\hat f(w_t) = \tfrac1{2n}\big(\|r\|^2+\sum_i a_i^{2t}z_i^2\big),\ \ "
    r"\frac{d}{d\eta}\tfrac1{2n_v}\|y_v-X_vw_t\|^2 = -\tfrac1{n_v}\big\langle y_v-X_vw_t,\,X_v\tfrac{dw_t}{d\eta}\big\rangle,"
    r"\ \tfrac{dw_t}{d\eta} = -t\sum_i\lambda_ia_i^{t-1}e_iv_i \ \text{equal the step-by-step GD process}",
    source=f"{SOURCE}, Section 4 (full-batch GD on least squares: the TbT and TbV meta-objectives and the "
    "meta-gradient meta-training follows; the closed form at any w0 is derived here)",
    kind="identity",
    tag="derived",
    assumptions=r"Gaussian $X\in\mathbb R^{n\times d}$, $y$, $w_0$, 5 validation rows; $n\le10$, $d\le6$, "
    r"$\eta\in[0,2/\lambda_{\max}]$, $t\le100$",
    tolerance="per quantity (train loss, valid loss, their d/d eta): 64 eps t K + tol_cf (|value| + K), K the "
    "largest squared magnitude the float64 unroll subtracts ((||y|| + ||X|| max||w_tau||)^2 / n for a loss, "
    "(||y|| + ||X|| max||w_tau||) ||X|| max||dw_tau/deta|| / n for a derivative: eps per step, t steps), "
    "tol_cf = max(1e-10, 64 eps cond) the closed form's own conditioning (SVD rounding of lambda_i and z_i); "
    "measured worst 0.002 of this bound over 300 examples",
    examples={"ci": 12, "dev": 60, "thorough": 400},
)
@given(inst=_gaussian_least_squares(), frac=st.floats(0.0, 1.0), t=st.integers(1, 100))
def ls_closed_form_matches_simulation(inst, frac, t):
    """The closed form of numerics.least_squares.closed_form (SVD of X, log-space powers) against
    numerics.least_squares.simulation.simulate (plain float64 loops over w <- w - eta X^T(Xw - y)/n
    on the raw X with a forward-mode tangent; no eigen-decomposition). Both meta-objectives of
    Section 4 and their meta-gradients, on the convergent side eta <= 2/lambda_max, where the
    float64 unroll stays in range. n > d instances have a nonzero ERM residual ||r||^2."""
    from l2l.numerics.least_squares.closed_form import gd, spectrum
    from l2l.numerics.least_squares.simulation import simulate

    p, w0 = inst
    sp = spectrum(p, w0)
    eta = frac * 2.0 / sp.lam_max if sp.rank else frac
    g = gd(sp, eta, t)
    s = simulate(p, eta, t, w0=w0)
    tol = _ls_closed_form_tolerance(sp, eta, t)
    xn, xv = float(np.linalg.norm(p.X, 2)), float(np.linalg.norm(p.X_valid, 2))
    ktr, kva = np.linalg.norm(p.y) + xn * s.max_w_norm, np.linalg.norm(p.y_valid) + xv * s.max_w_norm
    rows = [("train loss", g.train_loss, s.train_loss, ktr**2 / p.n),
            ("valid loss", g.valid_loss, s.valid_loss, kva**2 / p.n_valid),
            ("train loss d/d eta", g.train_loss_grad, s.train_loss_grad, ktr * xn * s.max_dw_norm / p.n),
            ("valid loss d/d eta", g.valid_loss_grad, s.valid_loss_grad, kva * xv * s.max_dw_norm / p.n_valid)]
    for name, got, want, k in rows:
        bound = 64 * EPS * t * k + tol * (abs(want) + k)
        assert abs(float(got) - want) <= bound, f"{name}: closed form {float(got)!r}, simulation {want!r} (n = {p.n}, d = {p.d}, t = {t})"
    evidence("n, d, ERM residual ||r||^2", [p.n, p.d, float(sp.resid2)])


@claim(
    id="wang2021.ls.validation-identity",
    shares="derivation:least_squares.validation-identity",
    statement=r"\mathbb E_{(x,y)}\big[\tfrac12(y-\langle w,x\rangle)^2\big] = \tfrac12\big(\|w-w^*\|^2+\sigma^2\big)",
    source=f"{SOURCE}, Section 4 setting (the identity is derived here)",
    kind="identity",
    tag="derived",
)
def validation_identity():
    """By linearity with E[x x^T] = I, E[xi] = 0, E[xi^2] = sigma^2 (derivation
    ``least_squares.validation-identity``; some steps are checked at concrete dimensions, so the
    verdict is ``holds``)."""
    from l2l.theory.registry import verified

    return verified("least_squares.validation-identity")


@claim(
    id="wang2021.thm5.eta-train-constant",
    statement=r"\eta^*_{\rm train}(t) = \Theta(1) \text{ and roughly constant in } t,\ \to 2/(\lambda_{\max}+\lambda^+_{\min})",
    source=f"{SOURCE}, Theorem 5 (eta*_train = Theta(1); the limit is derived here)",
    kind="trend",
    tolerance="eta*_train at t in {20, 40, 80, 160} within 10% of each other and of the limit "
    "2/(max_k lambda_max + min_k lambda_min^+) over the m tasks",
)
def eta_train_constant():
    """With m tasks the TbT minimiser tends to 2/(L* + alpha*), L* the largest lambda_max and
    alpha* the smallest positive lambda_min over the tasks (one task: 2/(lambda_max + lambda_min^+)
    of X^T X / n)."""
    from l2l.numerics.least_squares.closed_form import spectrum
    from l2l.numerics.least_squares.metaopt import minimise_meta_objective, sample_tasks, tbt_objective

    tasks = sample_tasks(d=40, n_train=20, n_valid=0, m=10, sigma=1.0, seed=0)
    etas = [minimise_meta_objective(tbt_objective, tasks, t).eta for t in (20, 40, 80, 160)]
    sps = [spectrum(tk.problem) for tk in tasks]
    limit = 2.0 / (max(s.lam_max for s in sps) + min(s.lam_min_positive for s in sps))
    evidence("eta*_train at t = 20, 40, 80, 160", etas, expected=limit, tolerance="10%")
    if max(etas) > 1.1 * min(etas):
        refute("eta*_train varies by more than 10% over t", etas=etas)
    if abs(etas[-1] / limit - 1) > 0.1:
        refute("eta*_train(160) is not within 10% of 2/(lambda_max + lambda_min^+)", eta=etas[-1], limit=limit)


@claim(
    id="wang2021.thm5.t-eta-valid-constant",
    statement=r"\eta^*_{\rm valid} = \Theta(1/t):\ t\,\eta^*_{\rm valid}(t) \text{ roughly constant}",
    source=f"{SOURCE}, Theorem 5 (eta*_valid = Theta(1/t); the early-stopping constant is derived here)",
    kind="trend",
    tolerance="t eta*_valid at t in {10, 20, 40, 80} within a factor 1.5 of each other",
)
def t_eta_valid_constant():
    from l2l.numerics.least_squares.metaopt import early_stopping_optimum, minimise_meta_objective, sample_tasks, tbv_objective

    tasks = sample_tasks(d=40, n_train=10, n_valid=10, m=10, sigma=1.0, seed=0)
    scaled = [t * minimise_meta_objective(tbv_objective, tasks, t).eta for t in (10, 20, 40, 80)]
    evidence("t eta*_valid at t = 10, 20, 40, 80", scaled, expected=early_stopping_optimum(40, 10, 1.0).s_star,
             why="the early-stopping scale s* (derived here; an approximation for eta t lambda_max << 1)")
    if max(scaled) > 1.5 * min(scaled):
        refute("t eta*_valid is not roughly constant", scaled=scaled)


@claim(
    id="wang2021.thm5.tbt-error-grows-with-sigma",
    shares="wang2021.ls-runs",
    statement=r"\mathbb E\|w_{t,\eta^*_{\rm train}}-w^*\|^2 = \Omega(1)\,\sigma^2 \quad(n\approx d/2)",
    source=f"{SOURCE}, Theorem 5 (TbT error Omega(sigma^2); the ERM error formula is derived here)",
    kind="statistical",
    tolerance="on every non-vacuous seed: TbT test error over the test tasks NOT frozen at eta*_train increasing in "
    "sigma in {1, 2, 4}, and error(4)/error(1) >= 5 (sigma^2 grows 16x; the ERM formula (1 - n/d) + sigma^2 n/(d - n - 1) "
    "predicts about 11x); a seed is vacuous when more than half the test tasks are frozen at some sigma; at least "
    "2 non-vacuous seeds",
)
def tbt_error_grows():
    """Frozen test tasks (eta*_train past their stability edge: the iterate is frozen at 40 sigma,
    error ~1600 sigma^2) dominate the mean on some seeds (seed 2: 92-94% of TbT's error from one
    task of 100), so the trend is read on the other tasks and the frozen counts are evidence."""
    from l2l.numerics.least_squares.metaopt import erm_error_underdetermined

    held = support = 0
    seeds = _ls_seeds()
    vacuous = []
    for seed in seeds:
        runs = [_ls_setting(s, seed) for s in (1.0, 2.0, 4.0)]
        masks = [_ls_frozen(s, seed)[0] for s in (1.0, 2.0, 4.0)]
        errs = [float(np.mean(np.asarray(r.errors_tbt)[~f])) if (~f).any() else math.nan for r, f in zip(runs, masks)]
        evidence(f"TbT test error at sigma = 1, 2, 4 without frozen tasks (d = {runs[0].d}, seed {seed}); all tasks",
                 [errs, [r.error_tbt for r in runs]],
                 expected=[erm_error_underdetermined(runs[0].n, runs[0].d, s) for s in (1.0, 2.0, 4.0)], why="ERM error formula")
        evidence(f"test tasks frozen at eta*_train, sigma = 1, 2, 4 (seed {seed})", [int(f.sum()) for f in masks])
        if any(f.sum() > 0.5 * f.size for f in masks):
            vacuous.append(seed)
            continue
        support += 1
        held += errs[0] < errs[1] < errs[2] and errs[2] >= 5 * errs[0]
    evidence("seeds vacuous (most test tasks frozen)", vacuous)
    evidence("fraction of non-vacuous seeds where the trend holds", held / support if support else None)
    if support < 2:
        refute("fewer than 2 non-vacuous seeds", support=support, vacuous=vacuous)
    if held < support:
        refute("TbT error does not grow like sigma^2 on every non-vacuous seed", held=held, support=support)


@claim(
    id="wang2021.thm5.tbv-beats-tbt",
    shares="wang2021.ls-runs",
    statement=r"\mathbb E\|w_{t,\eta^*_{\rm valid}}-w^*\|^2 = \|w^*\|^2-\Omega(1) < \mathbb E\|w_{t,\eta^*_{\rm train}}-w^*\|^2",
    source=f"{SOURCE}, Theorem 5",
    kind="statistical",
    tolerance="on every non-vacuous run (seed x sigma in {1, 2, 4}): on the test tasks frozen at neither eta*, TbV "
    "test error < TbT test error and never above the trivial output's ||w*||^2 = 1 (+1e-9 rounding); strictly "
    "below 0.95 at sigma = 1. A run is vacuous (cannot discriminate) when eta*_valid sits at the grid floor "
    "1e-6 (TbV is then the trivial output) or when most test tasks are frozen. At least half the runs must be non-vacuous",
)
def tbv_beats_tbt():
    """Finding (ci-sized setting d = 40, n1 = 10): at sigma >= 2 the TbV objective is nearly flat and
    its minimiser often sits at the grid's lower end (1e-6), i.e. the trivial output w ~ 0 with error
    ~ 1; the predicted early-stopping gain 1 - s* is only 0.04 (sigma = 2) and 0.015 (sigma = 4)
    there, below what m = 10 tasks resolve. Such runs (3 of 9 under ci) cannot tell TbV from the
    trivial output and are counted as vacuous, not as support. TbT's error is inflated on some seeds
    by 1-3 test tasks for which eta*_train is past their stability edge (frozen at 40 sigma by the
    truncation rule, up to 94% of the mean): the comparison is made without them, and the counts
    are evidence."""
    wins = below_one = support = 0
    vacuous, runs = [], 0
    for seed in _ls_seeds():
        for s in (1.0, 2.0, 4.0):
            r = _ls_setting(s, seed)
            runs += 1
            f_tbt, f_tbv = _ls_frozen(s, seed)
            keep = ~(f_tbt | f_tbv)
            e_tbt = float(np.mean(np.asarray(r.errors_tbt)[keep])) if keep.any() else math.nan
            e_tbv = float(np.mean(np.asarray(r.errors_tbv)[keep])) if keep.any() else math.nan
            floor = _at_grid_floor(r.tbv) or 2 * int(keep.sum()) < keep.size
            evidence(f"d = {r.d}, sigma = {s}, seed {seed}: TbT {r.error_tbt:.3f} +- {r.error_tbt_se:.3f}, TbV {r.error_tbv:.3f} +- {r.error_tbv_se:.3f}; "
                     f"without frozen tasks TbT {e_tbt:.3f}, TbV {e_tbv:.3f}; frozen at eta*_train / eta*_valid {int(f_tbt.sum())} / {int(f_tbv.sum())}"
                     + ("; vacuous (eta*_valid at the grid floor, or most test tasks frozen)" if floor else ""),
                     [r.tbt.eta, r.tbv.eta], why="eta*_train, eta*_valid")
            if floor:
                vacuous.append((seed, s))
                continue
            support += 1
            wins += e_tbv < e_tbt
            below_one += e_tbv <= (0.95 if s == 1.0 else 1.0 + 1e-9)
    evidence("vacuous runs (eta*_valid at the grid floor, or most test tasks frozen)", vacuous)
    evidence("non-vacuous runs: TbV < TbT / meeting the bound on TbV / total", [wins, below_one, support])
    if 2 * support < runs:
        refute("fewer than half the runs can discriminate TbV from the trivial output", support=support, runs=runs)
    if wins < support or below_one < support:
        refute("TbV does not beat TbT and the trivial output on every non-vacuous run", wins=wins, below_one=below_one, support=support)


@claim(
    id="wang2021.thm6.tbt-ratio-tends-to-one",
    statement=r"n\gg d:\ \mathbb E\|w_{t,\eta^*_{\rm train}}-w^*\|^2 \le (1+\varepsilon)\,\frac{d\sigma^2}{n}",
    source=f"{SOURCE}, Theorem 6 (the ERM error d sigma^2/(n - d - 1) is derived here)",
    kind="trend",
    tolerance="ratio to d sigma^2/n decreasing over n/d in {5, 10, 20} and within 15% of 1 at n/d = 20 "
    "(the ERM formula gives 1 + (d+1)/(n-d-1) = 1.05 there)",
)
def tbt_ratio_tends_to_one():
    from l2l.numerics.least_squares.metaopt import tbt_vs_tbv

    d, sigma = 10, 1.0
    ratios = []
    for k in (5, 10, 20):
        n = k * d
        r = tbt_vs_tbv(d=d, n=n, sigma=sigma, t=80, m=10, m_test=200, seed=0)
        ratios.append(r.error_tbt / (d * sigma**2 / n))
    evidence("TbT error / (d sigma^2 / n) at n/d = 5, 10, 20", ratios, expected=[1 + (d + 1) / (k * d - d - 1) for k in (5, 10, 20)])
    if not (ratios[0] > ratios[1] > ratios[2] and abs(ratios[2] - 1) <= 0.15):
        refute("the ratio does not approach 1", ratios=ratios)


def _tbt_log_loss(lam: np.ndarray, c2: np.ndarray, eta: np.ndarray, t: int) -> np.ndarray:
    """ln of the n < d training loss 1/2 sum_i lambda_i (1 - eta lambda_i)^(2t) c_i^2 (ERM residual 0),
    in log space (vectorised over eta); the eigenpairs come from numpy's eigh of X^T X / n."""
    with np.errstate(divide="ignore"):
        terms = 2 * t * np.log(np.abs(1.0 - np.multiply.outer(eta, lam))) + np.log(lam * c2)
    top = np.max(terms, axis=-1, keepdims=True)
    return np.log(0.5) + top[..., 0] + np.log(np.sum(np.exp(terms - top), axis=-1))


@claim(
    id="wang2021.thm5.tbt-limit-is-large-t-argmin",
    statement=r"n<d:\ \arg\min_\eta \tfrac1{2n}\|y-Xw_{t,\eta}\|^2 \to \frac{2}{\lambda_{\max}+\lambda^+_{\min}}"
    r"\ (t\to\infty),\ \lambda \text{ the eigenvalues of } X^\top X/n",
    source=f"{SOURCE}, Theorem 5 (eta*_train = Theta(1); the limit 2/(lambda_max + lambda_min^+) is derived here)",
    kind="asymptotic",
    tag="derived",
    assumptions=r"one task, $w_0=0$, Gaussian $X\in\mathbb R^{n\times d}$ and $y$, $2\le n\le5$, $n<d\le n+4$; "
    r"$t$ log-uniform in $[10^5,10^8]$",
    tolerance="|eta*(t) / limit - 1| <= (|ln(alpha c_alpha^2 / (L c_L^2))| + ln kappa + 2 ln d + 1) / (2t): the two "
    "extreme terms of the loss balance at eta*(t) = limit (1 + O(ln(ratio) / (4t))) (slopes 2t L/rho and "
    "-2t alpha/rho of their logs at the limit), a factor 2 and ln d of margin for the other terms; Brent's "
    "xatol 1e-13 relative. Consistent-with at the sampled t, not a proof of the limit",
    examples={"ci": 10, "dev": 40, "thorough": 200},
)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 5), extra=st.integers(1, 4), t=ps.horizons(max_t=10**8, min_t=10**5))
def tbt_limit_is_large_t_argmin(seed, n, extra, t):
    """numerics.least_squares.metaopt.eta_tbt_limit (the formula, from the SVD spectrum) against the
    minimiser of the TbT meta-objective at a long horizon, found here by a 2001-point grid over
    [1/(2L), 2/L] and bounded Brent on the training loss written in numpy's eigenbasis of X^T X / n
    (c_i = <v_i, w_ERM>, w_ERM = lstsq's minimum-norm solution)."""
    from scipy.optimize import minimize_scalar

    from l2l.numerics.least_squares.metaopt import eta_tbt_limit
    from l2l.numerics.problems import LeastSquaresProblem

    d = n + extra
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    limit = eta_tbt_limit(LeastSquaresProblem(X, y))
    lam, V = np.linalg.eigh(X.T @ X / n)
    keep = lam > 1e-9 * lam[-1]
    lam, V = lam[keep], V[:, keep]
    c2 = (V.T @ np.linalg.lstsq(X, y, rcond=None)[0]) ** 2
    L, a = float(lam[-1]), float(lam[0])
    grid = np.linspace(0.5 / L, 2.0 / L, 2001)
    k = int(np.argmin(_tbt_log_loss(lam, c2, grid, t)))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    res = minimize_scalar(lambda e: float(_tbt_log_loss(lam, c2, np.array([e]), t)[0]), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-13 * lo})
    ratio = abs(math.log(a * c2[0] / (L * c2[-1])))
    tol = (ratio + math.log(L / a) + 2 * math.log(d) + 1) / (2 * t)
    rel = abs(res.x / limit - 1)
    evidence("|eta*(t) / limit - 1|, allowed", [rel, tol])
    assert rel <= tol, f"t = {t}: argmin {res.x!r}, 2/(lambda_max + lambda_min^+) = {limit!r} (rel {rel:.3g} > {tol:.3g})"


#: Monte Carlo z-score bound and paths of the ERM-error and early-stopping claims (see their tolerances)
LS_MC_Z = 5.0
LS_MC_PATHS = 40_000


def _mc_z(samples: np.ndarray, value: float) -> float:
    """(value - sample mean) / standard error of the mean."""
    return float((value - samples.mean()) / (samples.std(ddof=1) / math.sqrt(samples.size)))


@claim(
    id="wang2021.ls.erm-error-monte-carlo",
    statement=r"\mathbb E\|w_{\rm ERM}-w^*\|^2 = \frac{\sigma^2d}{n-d-1}\ (n>d+1),\quad "
    r"\mathbb E\|X^+y-w^*\|^2 = 1-\frac nd+\frac{\sigma^2n}{d-n-1}\ (d>n+1)",
    source=f"{SOURCE}, Theorems 5 and 6 (the ERM errors they compare with; the formulas are derived here)",
    kind="statistical",
    tag="derived",
    assumptions=r"Gaussian design $x\sim\mathcal N(0,I_d)$, $\|w^*\|=1$, $y=\langle w^*,x\rangle+\xi$, "
    r"$\xi\sim\mathcal N(0,\sigma^2)$; fixed $(n,d,\sigma)$: over $(8,1,1),(10,3,0.5),(14,4,2)$, under $(1,6,1),(3,10,0.5)$",
    tolerance=f"|formula - MC mean| <= {LS_MC_Z:g} MC standard errors ({LS_MC_PATHS} simulated regressions per "
    "setting, fixed seeds; n - d >= 5 keeps the error's variance finite). Power, asserted: the off-by-one "
    f"variants sigma^2 d/(n - d) and sigma^2 n/(d - n) must be rejected at |z| > {LS_MC_Z:g}",
)
def erm_error_monte_carlo():
    """numerics.least_squares.metaopt.erm_error_overdetermined / _underdetermined against whole
    regressions simulated here: draw X, w* (uniform on the sphere), the noise, solve least squares
    (normal equations, or the minimum-norm X^T (X X^T)^-1 y), average ||w - w*||^2."""
    from l2l.numerics.least_squares.metaopt import erm_error_overdetermined, erm_error_underdetermined

    zs, controls = {}, {}
    for k, (n, d, sigma, over) in enumerate(((8, 1, 1.0, True), (10, 3, 0.5, True), (14, 4, 2.0, True),
                                             (1, 6, 1.0, False), (3, 10, 0.5, False))):
        rng = np.random.default_rng(20260 + k)
        ws = rng.standard_normal((LS_MC_PATHS, d))
        ws /= np.linalg.norm(ws, axis=1, keepdims=True)
        X = rng.standard_normal((LS_MC_PATHS, n, d))
        y = np.einsum("knd,kd->kn", X, ws) + sigma * rng.standard_normal((LS_MC_PATHS, n))
        if over:
            w = np.linalg.solve(np.einsum("knd,kne->kde", X, X), np.einsum("knd,kn->kd", X, y)[..., None])[..., 0]
            want, wrong = erm_error_overdetermined(n, d, sigma), sigma**2 * d / (n - d)
        else:
            u = np.linalg.solve(np.einsum("knd,kmd->knm", X, X), y[..., None])[..., 0]
            w = np.einsum("knd,kn->kd", X, u)
            want, wrong = erm_error_underdetermined(n, d, sigma), 1 - n / d + sigma**2 * n / (d - n)
        err = np.sum((w - ws) ** 2, axis=1)
        name = f"n = {n}, d = {d}, sigma = {sigma}"
        zs[name] = _mc_z(err, want)
        controls[name] = _mc_z(err, wrong)
        evidence(f"{name}: formula, MC mean", [want, float(err.mean())])
    evidence(f"z-scores of the formulas (|z| <= {LS_MC_Z:g})", {k: round(v, 3) for k, v in zs.items()})
    evidence(f"z-scores of the off-by-one variants (|z| > {LS_MC_Z:g})", {k: round(v, 3) for k, v in controls.items()})
    bad = {k: v for k, v in zs.items() if not abs(v) <= LS_MC_Z}
    if bad:
        refute("an ERM error formula is not within 5 standard errors of the simulated mean", z=bad)
    weak = {k: v for k, v in controls.items() if not abs(v) > LS_MC_Z}
    if weak:
        refute("the Monte Carlo check cannot reject an off-by-one variant: it has no power", z=weak)


@claim(
    id="wang2021.thm5.early-stopping-scale-monte-carlo",
    statement=r"b=\tfrac1{n_1}X^\top y:\ \arg\min_s\mathbb E\|sb-w^*\|^2 = s^*=\frac1{1+(d+1)/n_1+\sigma^2d/n_1},"
    r"\ \min = 1-s^*",
    source=f"{SOURCE}, Theorem 5 (eta*_valid = Theta(1/t); the early-stopping scale s* is derived here)",
    kind="statistical",
    tag="derived",
    assumptions=r"Gaussian design, $\|w^*\|=1$; fixed $(d,n_1,\sigma)$ in $(1,1,0.5),(2,3,1),(3,2,0.25)$",
    tolerance=f"E||sb - w*||^2 = 1 - 2s E<b, w*> + s^2 E||b||^2 is minimised at E<b, w*> / E||b||^2 with minimum "
    f"1 - E<b, w*>^2 / E||b||^2, so s* and 1 - s* hold iff E<b, w*> = 1 and E||b||^2 = 1/s*: both moments against their "
    f"MC means, |z| <= {LS_MC_Z:g} ({2 * LS_MC_PATHS} draws of (X, xi) per setting, fixed seeds), for the numerics' s* "
    "and the SymPy expression's. Power, asserted: the variant with d in place of d + 1 must be rejected at "
    f"|z| > {LS_MC_Z:g}",
)
def early_stopping_scale_monte_carlo():
    """numerics.least_squares.metaopt.early_stopping_optimum and theory.least_squares's
    early_stopping_scale_expr (evaluated at the setting) against the moments of b = X^T y / n_1
    simulated here (X Gaussian, w* uniform on the sphere, y = X w* + sigma xi)."""
    import sympy

    from l2l.numerics.least_squares.metaopt import early_stopping_optimum
    from l2l.theory import least_squares as tls

    paths = 2 * LS_MC_PATHS
    zs, controls = {}, {}
    expr = tls.early_stopping_scale_expr()
    for k, (d, n1, sigma) in enumerate(((1, 1, 0.5), (2, 3, 1.0), (3, 2, 0.25))):
        rng = np.random.default_rng(31337 + k)
        ws = rng.standard_normal((paths, d))
        ws /= np.linalg.norm(ws, axis=1, keepdims=True)
        X = rng.standard_normal((paths, n1, d))
        y = np.einsum("knd,kd->kn", X, ws) + sigma * rng.standard_normal((paths, n1))
        b = np.einsum("knd,kn->kd", X, y) / n1
        bb, bw = np.sum(b * b, axis=1), np.sum(b * ws, axis=1)
        es = early_stopping_optimum(d, n1, sigma)
        s_theory = float(expr.subs({tls.d: d, tls.n: n1, tls.sigma: sympy.nsimplify(sigma)}))
        name = f"d = {d}, n1 = {n1}, sigma = {sigma}"
        s_mc = float(bw.mean() / bb.mean())
        evidence(f"{name}: s* (numerics, SymPy), MC argmin; error 1 - s*, MC minimum",
                 [es.s_star, s_theory, s_mc, es.error, 1 - float(bw.mean()) ** 2 / float(bb.mean())])
        zs[f"{name}: E<b, w*> = 1"] = _mc_z(bw, 1.0)
        zs[f"{name}: E||b||^2 = 1/s* (numerics)"] = _mc_z(bb, 1.0 / es.s_star)
        zs[f"{name}: E||b||^2 = 1/s* (SymPy)"] = _mc_z(bb, 1.0 / s_theory)
        zs[f"{name}: min = 1 - s* (numerics)"] = _mc_z(1 - 2 * es.s_star * bw + es.s_star**2 * bb, es.error)
        controls[name] = _mc_z(bb, 1.0 + d / n1 + sigma**2 * d / n1)
    evidence(f"z-scores (|z| <= {LS_MC_Z:g})", {k: round(v, 3) for k, v in zs.items()})
    evidence(f"z-scores of the d-for-(d + 1) variant (|z| > {LS_MC_Z:g})", {k: round(v, 3) for k, v in controls.items()})
    bad = {k: v for k, v in zs.items() if not abs(v) <= LS_MC_Z}
    if bad:
        refute("an early-stopping moment is not within 5 standard errors of the simulated mean", z=bad)
    weak = {k: v for k, v in controls.items() if not abs(v) > LS_MC_Z}
    if weak:
        refute("the Monte Carlo check cannot reject the d-for-(d + 1) variant: it has no power", z=weak)


@claim(
    id="wang2021.ls.truncation-keeps-meta-loss-finite",
    statement=r"\|w_\tau\|\ge 40\sigma \Rightarrow w \text{ frozen at } 40\sigma u:\ \hat F_{\rm TbV} \approx \tfrac12(1600\sigma^2+\|w^*\|^2+\sigma^2),\ \text{never NaN}",
    source=f"{SOURCE}, Section 4 (the truncation rule)",
    kind="identity",
    tolerance="within 5% (random u and validation noise over m = 20 tasks of 200 validation samples)",
)
def truncation():
    from l2l.numerics.least_squares.metaopt import sample_tasks, tbv_objective
    from l2l.numerics.least_squares.closed_form import spectrum

    sigma = 1.0
    tasks = sample_tasks(d=20, n_train=10, n_valid=200, m=20, sigma=sigma, seed=3)
    lam_max = max(spectrum(tk.problem).lam_max for tk in tasks)
    etas = np.array([10.0, 100.0, 1e6]) / lam_max
    values = tbv_objective(tasks, etas, 40)
    want = 0.5 * (1600 * sigma**2 + 1 + sigma**2)
    evidence("TbV meta-loss at eta = 10/L, 100/L, 1e6/L", values.tolist(), expected=want, tolerance="5%")
    if not np.all(np.isfinite(values)):
        refute("the truncated meta-loss is not finite", values=values.tolist())
    if np.max(np.abs(values / want - 1)) > 0.05:
        refute("the truncated meta-loss is not about 1/2(1600 sigma^2 + 1 + sigma^2)", values=values.tolist(), want=want)


#: Monte Carlo z-score bound of wang2021.sgd-analogue.moments-match-monte-carlo (see its tolerance)
MC_Z = 5.0
MC_PATHS = 20_000


@claim(
    id="wang2021.sgd-analogue.moments-match-monte-carlo",
    statement=r"\text{exact SGD moments: } \mathbb E[\text{loss}(w_t)],\ \tfrac{d}{d\eta}\mathbb E[\text{loss}(w_t)] "
    r"\text{ (finite set, fresh Gaussian samples, additive noise) equal the simulated process' means}",
    source=f"package analogue of {SOURCE}, Section 2.1 (SGD; the paper's Appendix D is not available): the exact "
    "moment recursions are derived here and back wang2021.sgd-analogue.tbv-beats-tbt",
    kind="statistical",
    tag="analogue",
    assumptions=r"fixed instances: finite set $n=6$, $d=3$, $B=2$, $t=5$, $w_0$ far from $w_{\rm ERM}$; Gaussian "
    r"$d=6$, $\sigma^2=1$, $B=1$, $t=10$, $w_0=w^*$; additive noise $d=6$, $t=10$, $w_0$ at the minimiser",
    tolerance=f"|exact - MC mean| <= {MC_Z:g} MC standard errors ({MC_PATHS} paths per model, fixed seeds): 8 checks, "
    "two-sided false-alarm probability 5.7e-7 each for a near-normal mean (5, not 3, for the heavy tails of "
    "losses quartic in Gaussian draws). Power, asserted: controls with the noise 10% off (Gaussian: label-noise "
    "injection x1.1, by linearity in sigma^2; additive: S x0.9) and batch size 1 instead of 2 (finite set) "
    f"must be rejected at |z| > {MC_Z:g}",
)
def moments_match_monte_carlo():
    """numerics.least_squares.moments (exact first and second moment recursions with their eta
    tangents, in the SVD / eigenbasis) against numerics.least_squares.montecarlo (the update rule
    run path by path in the original coordinates, pathwise derivatives), for each noise model.
    The instances put the whole excess loss in the noise (Gaussian, additive: start at the
    minimiser, so a 10% noise error is a 10% excess-loss error) or far from the optimum (finite set:
    the covariance of a one-sample gradient then has a large mean-gradient part)."""
    from l2l.numerics.least_squares.moments import additive_noise_expectation, finite_set_expectation, gaussian_expectation
    from l2l.numerics.least_squares.montecarlo import simulate_additive_noise, simulate_finite_set, simulate_gaussian
    from l2l.numerics.problems import LeastSquaresProblem

    zs, controls = {}, {}
    # (a) finite training set: minibatches of 2 with replacement
    rng = np.random.default_rng(11)
    X, ws = rng.normal(size=(6, 3)), rng.normal(size=3)
    Xv = rng.normal(size=(4, 3))
    p = LeastSquaresProblem(X, X @ ws + 0.5 * rng.normal(size=6), Xv, Xv @ ws + 0.5 * rng.normal(size=4))
    w0 = 3.0 * rng.normal(size=3)
    eta = 0.5 / float(np.max(np.sum(X**2, axis=1)))
    exact = finite_set_expectation(p, eta, 5, 2, w0)
    mc = simulate_finite_set(p, eta, 5, 2, n_paths=MC_PATHS, seed=20240611, w0=w0)
    for name in ("train_loss", "train_loss_grad", "valid_loss", "valid_loss_grad"):
        zs[f"finite set: {name}"] = float(getattr(mc, name).z(getattr(exact, "expected_" + name)))
    controls["finite set: batch size 1 instead of 2 (train loss)"] = float(mc.train_loss.z(finite_set_expectation(p, eta, 5, 1, w0).expected_train_loss))

    # (b) fresh Gaussian samples, starting at the teacher: the excess loss is all label noise
    rng = np.random.default_rng(5)
    A = rng.normal(size=(6, 6)) / math.sqrt(6)
    sig = np.eye(6) + 0.3 * (A @ A.T)
    teacher = rng.normal(size=6)
    exact = gaussian_expectation(sig, teacher, 1.0, 0.1, 10, 1, teacher)
    quiet = gaussian_expectation(sig, teacher, 0.0, 0.1, 10, 1, teacher)
    mc = simulate_gaussian(sig, teacher, 1.0, 0.1, 10, 1, n_paths=MC_PATHS, seed=20240612, w0=teacher)
    zs["Gaussian: loss"] = float(mc.loss.z(exact.expected_loss))
    zs["Gaussian: loss d/d eta"] = float(mc.loss_grad.z(exact.expected_loss_grad))
    # E[loss] = loss(sigma^2 = 0) + sigma^2/2 + (injected-noise part, linear in sigma^2)
    injected = exact.expected_loss - quiet.expected_loss - 0.5
    controls["Gaussian: label-noise injection x1.1"] = float(mc.loss.z(exact.expected_loss + 0.1 * injected))

    # (c) additive gradient noise, starting at the minimiser H^-1 b: the excess loss is all noise
    rng = np.random.default_rng(3)
    A, C = rng.normal(size=(6, 6)) / math.sqrt(6), rng.normal(size=(6, 6)) / math.sqrt(6)
    H, S, b = np.eye(6) + 0.3 * (A @ A.T), C @ C.T, rng.normal(size=6)
    m0 = np.linalg.solve(H, b)
    exact = additive_noise_expectation(H, b, S, 0.3, 10, mean0=m0)
    mc = simulate_additive_noise(H, b, S, 0.3, 10, n_paths=MC_PATHS, seed=20240613, mean0=m0)
    zs["additive: loss"] = float(mc.loss.z(exact.expected_loss))
    zs["additive: loss d/d eta"] = float(mc.loss_grad.z(exact.expected_loss_grad))
    controls["additive: noise covariance x0.9"] = float(mc.loss.z(additive_noise_expectation(H, b, 0.9 * S, 0.3, 10, mean0=m0).expected_loss))

    evidence("z-scores of the exact values (|z| <= 5)", {k: round(v, 3) for k, v in zs.items()})
    evidence("z-scores of the 10%-wrong controls (|z| > 5)", {k: round(v, 3) for k, v in controls.items()})
    bad = {k: v for k, v in zs.items() if not abs(v) <= MC_Z}
    if bad:
        refute("an exact expectation is not within 5 standard errors of the Monte Carlo mean", z=bad)
    weak = {k: v for k, v in controls.items() if not abs(v) > MC_Z}
    if weak:
        refute("the Monte Carlo check cannot reject a 10%-wrong control: it has no power", z=weak)


@claim(
    id="wang2021.sgd-analogue.tbv-beats-tbt",
    statement=r"\text{(analogue) with SGD (}B=1\text{), exact expected meta-objectives: TbV's } \eta^* \text{ generalises better than TbT's}",
    source=f"package analogue of {SOURCE}, Theorem 5, for SGD (the paper's Appendix D statements are not available)",
    kind="statistical",
    tag="analogue",
    tolerance="on every seed: E||w_t - w*||^2 at eta*_TbV below that at eta*_TbT and below 1, both from the "
    "exact SGD moment recursion (no Monte Carlo)",
)
def sgd_analogue():
    """Meta-objectives: the expected (over SGD's sampling, exactly) training loss (TbT, on all n
    samples) and validation loss (TbV, 50/50 split), averaged over m = 5 tasks, minimised on the
    grid logspace(-4, 0, 17) below the SGD stability edge; test error E||w_t - w*||^2 from the
    exact first and second moments, averaged over the same tasks' fresh copies (new seed)."""
    from l2l.numerics.least_squares.metaopt import sample_tasks
    from l2l.numerics.least_squares.moments import finite_set_expectation
    from l2l.numerics.problems import LeastSquaresProblem

    d, n, t, sigma = 20, 10, 40, 2.0
    grid = np.logspace(-4, 0, 17)
    wins = 0
    for seed in LS_SEEDS:
        tasks = sample_tasks(d=d, n_train=n // 2, n_valid=n - n // 2, m=5, sigma=sigma, seed=seed)
        tbt = np.zeros(grid.size)
        tbv = np.zeros(grid.size)
        for tk in tasks:
            p = tk.problem
            full = LeastSquaresProblem(np.vstack([p.X, p.X_valid]), np.concatenate([p.y, p.y_valid]))
            edge = 1.0 / np.max(np.sum(full.X**2, axis=1))
            g = grid * edge * 2  # eta in units of the SGD stability scale 1/max||x_j||^2
            tbt += np.asarray(finite_set_expectation(full, g, t).expected_train_loss)
            tbv += np.asarray(finite_set_expectation(p, g, t).expected_valid_loss)
        i_tbt, i_tbv = int(np.argmin(tbt)), int(np.argmin(tbv))

        def test_error(i: int) -> float:
            errs = []
            for tk in sample_tasks(d=d, n_train=n // 2, n_valid=n - n // 2, m=20, sigma=sigma, seed=1000 + seed):
                p = tk.problem
                full = LeastSquaresProblem(np.vstack([p.X, p.X_valid]), np.concatenate([p.y, p.y_valid]))
                eta = grid[i] * 2.0 / np.max(np.sum(full.X**2, axis=1))
                r = finite_set_expectation(full, eta, t)
                second = np.asarray(r.second_moment)
                errs.append(float(np.trace(second) - 2 * tk.w_star @ np.asarray(r.mean) + tk.w_star @ tk.w_star))
            return float(np.mean(errs))

        e_tbt, e_tbv = test_error(i_tbt), test_error(i_tbv)
        evidence(f"seed {seed}: expected test error at eta*_TbT, eta*_TbV", [e_tbt, e_tbv], why=f"grid points {grid[i_tbt]:.3g}, {grid[i_tbv]:.3g} x 2/max||x||^2")
        wins += e_tbv < e_tbt and e_tbv < 1.0
    evidence("fraction of seeds with TbV better", wins / len(LS_SEEDS))
    if wins < len(LS_SEEDS):
        refute("TbV does not beat TbT on every seed", wins=wins)


#: the shape of wang2021.sgd-analogue.finite-set-step-enumeration (one SymPy compile of the moment map, ~0.5 s)
ENUM_N, ENUM_D, ENUM_B = 3, 2, 2
_enum_small = st.fractions(min_value=-2, max_value=2, max_denominator=4)


@st.composite
def _enum_instances(draw):
    """Exact rationals: X (3 x 2), y, a distribution of w (1 or 2 equally likely points), eta in [0, 1]."""
    from fractions import Fraction

    X = [[draw(_enum_small) for _ in range(ENUM_D)] for _ in range(ENUM_N)]
    y = [draw(_enum_small) for _ in range(ENUM_N)]
    support = draw(st.integers(1, 2))
    ws = [[draw(_enum_small) for _ in range(ENUM_D)] for _ in range(support)]
    eta = draw(st.fractions(min_value=0, max_value=1, max_denominator=8))
    return X, y, [(Fraction(1, support), w) for w in ws], eta


@claim(
    id="wang2021.sgd-analogue.finite-set-step-enumeration",
    statement=r"\mathbb E[w'],\ \mathbb E[w'w'^\top] \text{ of one SGD step } w'=w-\tfrac\eta B\sum_{k}x_{J_k}(x_{J_k}^\top w-y_{J_k}),"
    r"\ J_k \text{ uniform with replacement, and } \mathbb E\,\tfrac1{2n}\|y-Xw\|^2 \text{ equal the moment map of the SymPy derivation}",
    source=f"package analogue of {SOURCE}, Section 2.1 (SGD on a finite training set): the moment map is derived here",
    kind="identity",
    tag="analogue",
    assumptions=r"$n=3$, $d=2$, $B=2$; rational $X$, $y$ in $[-2,2]$ (denominators $\le4$), $w$ one or two equally "
    r"likely rational points, $\eta\in[0,1]$ (denominator $\le8$)",
    tolerance="exact rational equality (Fractions on both sides; no rounding)",
    examples={"ci": 15, "dev": 60, "thorough": 300},
)
@given(inst=_enum_instances())
def finite_set_step_enumeration(inst):
    """theory.sgd_moments' finite-set recursion (lambdified exactly, theory.lambdify) against the
    expectation over the 3^2 equally likely minibatches and the points of w, enumerated here with the
    update rule written out; and the expected-loss map against the loss averaged over w."""
    import itertools
    from fractions import Fraction

    from l2l.theory import lambdify

    X, y, w_dist, eta = inst

    def moments(pts):
        m = [sum(p * w[a] for p, w in pts) for a in range(ENUM_D)]
        return m, [[sum(p * w[a] * w[b] for p, w in pts) for b in range(ENUM_D)] for a in range(ENUM_D)]

    after = []
    for p, w in w_dist:
        for idx in itertools.product(range(ENUM_N), repeat=ENUM_B):
            g = [Fraction(0)] * ENUM_D
            for j in idx:
                r = sum(X[j][a] * w[a] for a in range(ENUM_D)) - y[j]
                g = [g[a] + X[j][a] * r for a in range(ENUM_D)]
            after.append((p / ENUM_N**ENUM_B, [w[a] - eta * g[a] / ENUM_B for a in range(ENUM_D)]))
    m, M = moments(w_dist)
    got = lambdify.finite_set_step_callable(ENUM_D, ENUM_N, ENUM_B, modules="exact")(X, y, m, M, eta)
    want = moments(after)
    assert got[0] == want[0], f"E[w']: moment map {got[0]}, enumeration {want[0]}"
    assert got[1] == want[1], f"E[w' w'^T]: moment map {got[1]}, enumeration {want[1]}"
    zero = [Fraction(0)] * ENUM_D
    loss, _ = lambdify.finite_set_loss_callable(ENUM_D, ENUM_N, modules="exact")(X, y, m, M, zero, [zero] * ENUM_D)
    direct = sum(p * sum((y[j] - sum(X[j][a] * w[a] for a in range(ENUM_D))) ** 2 for j in range(ENUM_N)) for p, w in w_dist) / (2 * ENUM_N)
    assert loss == direct, f"expected loss: map {loss}, average over w {direct}"


# =============================================================================================
# Section 5.3: a learned optimizer, train-by-train vs train-by-validation (soft, registered in advance)


def _s53_size() -> str:
    """thorough: 5 seeds, 150 meta-steps, unrolls of 50, 8 pairs x 4 tasks; otherwise the ci size
    that the figures show: 3 seeds, 40 meta-steps, unrolls of 40, 4 pairs x 2 tasks."""
    from l2l.proofs.claim import current_profile

    return "full" if current_profile() == "thorough" else "ci"


S53_SOURCE = (f"{SOURCE}, Section 5.3 (the learned optimizer of Metz et al. 2019 meta-trained by train-by-train and "
              "train-by-validation: train-by-train overfits with few samples); a least-squares analogue registered before the run")
S53_SETUP = (r"least squares of Section 4: $d=20$, $\sigma=2$, $w^*$ on the sphere, $x\sim N(0,I_d)$, $w_0=0$, truncation "
             r"at $40\sigma$; the MLP optimizer (19-8-2, random hidden layer) with its last layer and a log step scale "
             r"meta-trained by antithetic ES (scale 0.1, Adam lr 0.1) on the mean training (TbT) or validation (TbV, "
             r"split $n/2+n/2$) loss over the unroll, both on the same task draws; test: a new task trained on all $n$ "
             r"samples, error $\|w_T-w^*\|^2$ averaged over 64 held-out tasks")


def _s53_evidence(data: dict) -> list[float]:
    gaps = [a - b for a, b in zip(data["tbt"], data["tbv"])]
    for seed, a, b, sa, sb in zip(data["seeds"], data["tbt"], data["tbv"], data["step_scale_tbt"], data["step_scale_tbv"]):
        evidence(f"n = {data['n']}, seed {seed}: test error TbT, TbV; learned log step scale TbT, TbV", [a, b, sa, sb])
    evidence(f"n = {data['n']}: test error at initialisation (w barely moves: about ||w*||^2 = 1)", float(np.mean(data["initial"])))
    evidence(f"n = {data['n']}: TbV's mean test error against the trivial output w = 0 (error 1)", float(np.mean(data["tbv"])))
    evidence(f"n = {data['n']}: GD with a constant step tuned by TbT, by TbV (step, test error)",
             [data["gd"]["tbt"]["lr"], data["gd"]["tbt"]["test_error"], data["gd"]["tbv"]["lr"], data["gd"]["tbv"]["test_error"]])
    return gaps


@claim(
    id="wang2021.s53.learned-optimizer-tbv-beats-tbt",
    shares="wichrowska2017.tbt-tbv-run",
    statement=r"n=d/2,\ \sigma=2:\ \mathbb E\|w_T-w^*\|^2 \text{ of the learned optimizer meta-trained by TbV} < "
    r"\text{ by TbT on}\ge4\text{ of 5 seeds (ci, dev: 3 of 3), mean gap} > 0",
    source=S53_SOURCE,
    kind="trend",
    tag="analogue",
    assumptions=S53_SETUP + r"; $n=10$",
    tolerance="strict inequalities, no margin (a soft test registered in advance); ci and dev run 3 seeds and need all 3",
)
def s53_tbv_beats_tbt():
    """Registered in advance as the analogue of the paper's finding that train-by-train overfits
    with few samples. GD with a constant step tuned either way is reported for reference (Theorem
    5's setting), as are the test error before meta-training and the learned step scales.

    Measured when the claim was added: it holds on 3 of 3 (ci) and 5 of 5 (full) seeds, by a wide
    margin, but not because train-by-validation learns much: its log step scale goes negative and
    the optimizer nearly stops, so its test error stays near that of the trivial output w = 0
    (1.02-1.03 at ci, slightly worse; 0.95-0.98 at full size), whereas GD with a TbV-tuned step
    reaches 0.91-0.92. Train-by-train raises the step scale and drives the training loss down, and
    its iterates drift in the 10-dimensional null space of the training data, which no training
    loss sees: test errors 7-11 (ci) and 7.5-98 (full), far above the ERM error of GD (3.4-3.6)."""
    from l2l.proofs.papers.wichrowska2017 import experiments as WX
    from l2l.proofs.report.figures import publish

    size = _s53_size()
    data = WX.tbt_tbv_run(size)
    if size == "ci":
        publish(WX.TBV_DATA, data)
    gaps = _s53_evidence(data)
    wins = sum(g > 0 for g in gaps)
    need = 4 if len(gaps) == 5 else len(gaps)
    evidence("seeds with TbV below TbT; mean gap TbT - TbV", [wins, float(np.mean(gaps))], expected=f">= {need} of {len(gaps)}; > 0")
    if wins < need or not np.mean(gaps) > 0:
        refute("train-by-validation does not beat train-by-train on enough seeds", wins=wins, gaps=gaps)


@claim(
    id="wang2021.s53.learned-optimizer-gap-shrinks-with-n",
    shares="wichrowska2017.tbt-tbv-run",
    statement=r"\text{the mean gap } \mathbb E\|w_T^{\rm TbT}-w^*\|^2-\mathbb E\|w_T^{\rm TbV}-w^*\|^2 "
    r"\text{ of the learned optimizer is smaller at } n=5d \text{ than at } n=d/2",
    source=f"{SOURCE}, Theorem 6 and Section 5.3 (with enough data train-by-train is fine); the control of "
    "wang2021.s53.learned-optimizer-tbv-beats-tbt, registered before the run",
    kind="trend",
    tag="analogue",
    assumptions=S53_SETUP + r"; $n=10$ against $n=100$ (TbV $50+50$), the same seeds",
    tolerance="strict inequality of the seed-averaged gaps, no margin (soft); gives the TbT-TbV claim teeth: the "
    "comparison is not one that train-by-train loses whatever the data",
)
def s53_gap_shrinks():
    """With n = 5d there is no null space for train-by-train's optimizer to drift in, and the ERM
    generalises (Theorem 6 for GD), so the advantage of train-by-validation must shrink. Only the
    ordering of the mean gaps is asserted; their values are evidence."""
    from l2l.proofs.papers.wichrowska2017 import experiments as WX
    from l2l.proofs.report.figures import publish

    size = _s53_size()
    small = WX.tbt_tbv_run(size)
    large = WX.tbt_tbv_run(size, WX.LS_N_LARGE)
    if size == "ci":
        publish(WX.TBV_DATA, small)
        publish(WX.TBV_LARGE_DATA, large)
    _s53_evidence(large)
    g_small = float(np.mean([a - b for a, b in zip(small["tbt"], small["tbv"])]))
    g_large = float(np.mean([a - b for a, b in zip(large["tbt"], large["tbv"])]))
    evidence(f"mean gap TbT - TbV at n = {small['n']} and at n = {large['n']}", [g_small, g_large], expected="the second smaller")
    if not g_large < g_small:
        refute("the TbT-TbV gap does not shrink with more data", gap_small=g_small, gap_large=g_large)
