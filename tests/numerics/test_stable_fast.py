"""The fast path of numerics.quadratic.stable (issue 17) against its log-space path.

``evaluate`` computes most rows by ``_fast`` (ln|1 - eta lambda_i| in one pass with Dekker's product
of the values, then the weights w_i = exp(rel_i) and ratios r_i = lambda_i / a_i in linear space)
and hands the rows it declines to ``_log_space`` (the earlier implementation, unchanged). These
tests hold the two to each other:

* bit for bit where they share the arithmetic: ln f, (1/t) ln f, ``max_abs_log_factor`` (both
  rest on the same ln|a_i|, the same dominant index and the same row sum of exp(rel_i)), the flag
  f = 0, and, for d = 1, ln|a| itself against :func:`log_abs_one_minus` at the branch edges
  eta*lambda in {1/2, 1, 3/2, 2, 3} +- a few ulps;
* within a rounding bound elsewhere (G', G'', ln|d f/d eta|, the certificate sum|terms|): both are
  sums of terms each of which carries the relative error eps x (size of the exponent it was
  formed from), so they differ by at most that, see ``_tolerance``;
* results do not depend on how rows and columns are blocked, and extra memory stays at a few
  arrays of length d (tracemalloc, a bound from array sizes, not from time).

Speed is measured in ``benchmarks/evaluate.py``, not here.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from l2l.numerics import QuadraticProblem
from l2l.numerics.quadratic import stable
from l2l.numerics.quadratic.stable import evaluate, log_abs_one_minus, log_objective_grad
from l2l.proofs import strategies as ps

EPS = np.finfo(np.float64).eps
FIELDS = (
    "log_loss", "log_objective", "grad", "hess", "naive_grad_sign", "naive_grad_log_abs",
    "loss_is_zero", "grad_abs_terms", "max_abs_log_factor",
)
SHARED = ("log_loss", "log_objective", "loss_is_zero", "max_abs_log_factor")  # same arithmetic in both paths


def _edges(lam: np.ndarray) -> np.ndarray:
    """Step sizes at the fast path's branch edges eta*lambda_i in {1/2, 1, 3/2, 2, 3}, moved by
    0, +1, -1 and +2 ulps, and 0."""
    out = [0.0]
    for li in lam:
        for k in (0.5, 1.0, 1.5, 2.0, 3.0):
            eta = k / li
            up = np.nextafter(eta, np.inf)
            out += [eta, np.nextafter(eta, 0.0), up, np.nextafter(up, np.inf)]
    return np.array(out)


def _tolerance(fast: dict, i: int, lam: np.ndarray, eta: float, t: float) -> dict:
    """Bounds on |fast - log space| per field, from how each is formed.

    Each term q_i |r_i| of sum q r is exp of an exponent of size X <= 746 + ln d + max_i |ln|r_i||
    (weights below e^-746 are 0 in both paths), formed with relative error ~ eps X in the log-space
    path and ~ 4 eps in the fast path, and d terms are summed (error <= d eps of the sum of |terms|):
    so both are within K = 4 (800 + d + max|ln|r||) eps of the sum of |terms|, for G' (scale
    |G'| + sum|terms|) and for the certificate sum|terms|. G'' = 4t V - 2 S2 (V = sum q (r - rbar)^2,
    S2 = sum q r^2): K relative to 4t V + 2 S2 <= (4t + 2) S2 <= (4t + 2) max|r| sum q|r|, plus the
    second-order effect of the error of rbar on V (the first order vanishes: sum q (r - rbar) = 0).
    ln|d f/d eta| errs by the relative error of S1 = sum q r: K sum|terms| / |G'|."""
    d = lam.size
    la, _ = log_abs_one_minus(np.full(d, eta), lam)  # ln|a_i| with eta lambda_i exact (a_i may be ~1e-17)
    lr = (np.log(lam) - la)[np.isfinite(la)]  # ln|r_i| over a_i != 0
    K = 4.0 * (800.0 + d + float(np.max(np.abs(lr), initial=0.0))) * EPS
    rmax = float(np.exp(np.max(lr, initial=-np.inf)))
    terms = float(fast["grad_abs_terms"][i])
    g = abs(float(fast["grad"][i]))
    return {
        "grad": K * (g + terms),
        "grad_abs_terms": K * terms,
        "hess": K * (4 * t + 2) * rmax * terms + 4 * t * (K * terms) ** 2,
        "naive_grad_log_abs": K * terms / g if g > 0 else np.inf,
    }


def _compare(problem: QuadraticProblem, etas: np.ndarray, t: int) -> int:
    """Fast path against the log-space path on every row the fast path keeps; returns their number."""
    terms = stable._Terms(problem)
    tf = np.full(etas.size, float(t))
    fast, slow = stable._fast(terms, etas, tf, True)
    keep = np.flatnonzero(~slow)
    if keep.size == 0:
        return 0
    ref = stable._log_space(terms, etas[keep], tf[keep], True)
    for name in SHARED:
        assert np.array_equal(fast[name][keep], ref[name]), name
    for j, i in enumerate(keep):
        tol = _tolerance(fast, i, terms.lam, float(etas[i]), float(t))
        for name, bound in tol.items():
            a, b = float(fast[name][i]), float(ref[name][j])
            assert abs(a - b) <= bound, (name, float(etas[i]), t, a, b, bound)
        if abs(float(fast["naive_grad_log_abs"][i]) - float(ref["naive_grad_log_abs"][j])) < 0.5:
            # a sign can only differ where the sum is within its rounding of 0 (then ln|S1| differs a lot)
            assert fast["naive_grad_sign"][i] == ref["naive_grad_sign"][j]
    return keep.size


@given(problem=ps.quadratic_problems(max_dim=8, max_kappa=1e12), t=ps.horizons(max_t=10**9), data=st.data())
def test_fast_path_agrees_with_log_space_path(problem, t, data):
    """Branch edges of every eigenvalue, the problem's special points and random step sizes."""
    extra = data.draw(st.lists(ps.step_sizes(problem, max_factor=4.0), min_size=1, max_size=5), label="etas")
    etas = np.concatenate([_edges(problem.eigenvalues), extra])
    _compare(problem, etas, t)


@pytest.mark.parametrize("t", [1, 2, 1000, 10**9])
def test_fast_path_is_used_and_agrees_on_a_spread_problem(t):
    """Most rows take the fast path on an ordinary problem (otherwise the test above proves little)."""
    rng = np.random.default_rng(3)
    lam = np.exp(rng.uniform(np.log(1e-6), 0.0, 40))
    problem = QuadraticProblem(lam, rng.normal(size=40))
    etas = np.concatenate([np.linspace(0.0, 3.0 / problem.L, 61), _edges(lam[:5])])
    assert _compare(problem, etas, t) >= 0.9 * etas.size


@pytest.mark.parametrize(
    "p",
    [0.0, 1e-300, 0.3, 0.5, 0.5 + 2**-53, 1 - 2**-53, 1.0, 1 + 2**-52, 1.5, 1.5 + 2**-52, 2 - 2**-52, 2.0, 2 + 2**-51, 3.0, 3 + 2**-51, 7.0, 1e250],
)
def test_fast_log_abs_is_log_abs_one_minus_bit_for_bit(p):
    """d = 1: max_abs_log_factor is |ln|1 - eta lambda|| and ln f = ln(c^2 lambda) + 2t ln|a| + ln 1/2,
    so both expose the fast path's ln|a| to a bit-for-bit comparison with :func:`log_abs_one_minus`
    (Dekker's product on frexp mantissas) at and around every branch edge."""
    fast_rows = 0
    for lam in (1.0, 3.0, 0.7, 1e-30, 1e30):
        eta = p / lam
        problem = QuadraticProblem([lam], [0.5])
        fast, slow = stable._fast(stable._Terms(problem), np.array([eta]), np.array([7.0]), True)
        if slow[0]:  # declined (f = 0 at eta lam = 1, or |r| out of range): test_declined_rows_...
            continue
        fast_rows += 1
        la, _ = log_abs_one_minus(np.array(eta), np.array(lam))
        assert fast["max_abs_log_factor"][0] == abs(float(la)), (eta, lam)
        want = (2.0 * np.log(0.5) + np.log(lam)) + 14.0 * float(la)
        assert fast["log_loss"][0] == want + np.log(0.5), (eta, lam)
    assert fast_rows >= {1.0: 1, 1e250: 0}.get(p, 3)  # eta lam = 1e250: |r| = 1/eta < 2^-450, declined


@pytest.mark.parametrize("t", [1, 10**6])
def test_blocking_changes_no_bit(monkeypatch, t):
    """A row's results do not depend on the other rows or on the block size: one step size at a time,
    all at once, and with blocks of 64 entries (so d = 150 is split into column chunks, with a short
    last chunk) give the same bits where the arithmetic is the same, and the log-space path's ln f
    bit for bit in every case (the row sum of the weights is always one sum over the whole row; at
    t = 1 many weights are of order 1, so another summation order would show in the last bits)."""
    rng = np.random.default_rng(5)
    lam = np.exp(rng.uniform(np.log(1e-4), 0.0, 150))
    problem = QuadraticProblem(lam, rng.normal(size=150))
    etas = np.concatenate([np.linspace(0.0, 3.0, 37), 1.0 / lam[:5], 2.0 / lam[:3]])
    together = evaluate(problem, etas, t)
    for i in (0, 5, 36, 40):
        alone = evaluate(problem, etas[i], t)
        for name in ("log_loss", "log_objective_grad", "log_objective_hess", "naive_grad_log_abs", "grad_abs_terms"):
            assert np.array_equal(getattr(alone, name), getattr(together, name)[i], equal_nan=True), name
    assert np.array_equal(log_objective_grad(problem, etas, t), together.log_objective_grad, equal_nan=True)
    monkeypatch.setattr(stable, "BLOCK", 64)
    small = evaluate(problem, etas, t)
    assert np.array_equal(small.log_loss, together.log_loss)
    assert np.array_equal(small.max_abs_log_factor, together.max_abs_log_factor)
    # column-chunked sums of S1, S2, V: a different summation tree, same accuracy (d eps of the terms)
    tol = 4 * 150 * EPS
    assert np.all(np.abs(small.log_objective_grad - together.log_objective_grad) <= tol * together.grad_abs_terms)
    assert _compare(problem, etas, t) > 0.8 * etas.size  # chunked fast path against the log-space path


def test_declined_rows_are_the_log_space_path():
    """Rows outside the fast path's ranges (eta lambda beyond 2^1000, below 2^-1020, a ratio lambda/|a|
    below 2^-200, an exact zero at t = 1, f = 0) are computed by the log-space path: the same bits
    as calling it, and flagged by ``_fast``."""
    cases = [
        (QuadraticProblem([1e10, 1.0], [0.6, 0.8]), [1e300, 1e-315], 5),  # eta lam > 2^1000; eta lam < 2^-1020
        (QuadraticProblem([1e-140], [1.0]), [0.5], 10),  # |r_m| ~ 1e-140 < 2^-450
        (QuadraticProblem([1.0], [1.0]), [1e300], 10),  # |r_m| ~ 1/eta = 1e-300 < 2^-450
        (QuadraticProblem([1e-120, 1e10], [0.6, 0.8]), [1e-10], 10),  # max|r| ~ 3e26 > 2^400 |r_m| (a_2 ~ 4e-17)
        (QuadraticProblem([2.0, 3.0], [0.6, 0.8]), [0.5], 1),  # a_1 = 0 at t = 1 (Z term)
        (QuadraticProblem([2.0, 3.0], [1.0, 0.0]), [0.5], 4),  # f(w_t) = 0
    ]
    for problem, etas, t in cases:
        etas = np.array(etas, float)
        terms = stable._Terms(problem)
        tf = np.full(etas.size, float(t))
        _, slow = stable._fast(terms, etas, tf, True)
        assert slow.all(), (problem, etas)
        got = stable._fields(terms, etas, tf, True)
        want = stable._log_space(terms, etas, tf, True)
        for name in FIELDS:
            assert np.array_equal(got[name], want[name], equal_nan=True), name
    # and the ordinary neighbours of those rows are not declined
    for problem, etas, t in [
        (QuadraticProblem([2.0, 3.0], [0.6, 0.8]), [0.5, 0.1], [2.0, 1.0]),  # a_1 = 0 at t = 2; no zero at t = 1
        (QuadraticProblem([1e-60, 1e10], [0.6, 0.8]), [1e-10], [10.0]),  # max|r| / |r_m| ~ 3e86 < 2^400
        (QuadraticProblem([1e-130], [1.0]), [0.5], [10.0]),  # |r_m| ~ 1e-130 >= 2^-450
        (QuadraticProblem([1.0], [1.0]), [1e100], [10.0]),  # |r_m| ~ 1e-100
    ]:
        _, slow = stable._fast(stable._Terms(problem), np.array(etas), np.array(t), True)
        assert not slow.any(), (problem, etas)


def test_extra_memory_is_a_few_arrays_of_length_d():
    """At d = 2^18 and one step size, the peak of numpy allocations during ``evaluate`` is at most
    three float64 arrays of length d (ln(c^2 lambda), ln|a| then the weights, a then the ratios), the
    mask c != 0 (d bytes), and the work blocks (4 float64 + 2 float64 split halves + 3 bool arrays of
    ``BLOCK`` entries), plus 64 KiB for small objects; the log-space path alone would need more than
    20 arrays of length d (and earlier versions did)."""
    d = 2**18
    rng = np.random.default_rng(11)
    problem = QuadraticProblem(np.exp(rng.uniform(-5.0, 0.0, d)), rng.normal(size=d))
    evaluate(problem, 1.5, 10**9)  # warm-up: import-time and first-call allocations are not the function's
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        ev = evaluate(problem, 1.5, 10**9)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    chunk = stable.BLOCK
    bound = 3 * 8 * d + d + (6 * 8 + 3) * chunk + 64 * 1024
    assert peak <= bound, (peak, bound)
    assert not ev.loss_is_zero and np.isfinite(ev.log_objective_grad)


@given(data=st.data(), n=st.integers(1, 40), d=st.integers(1, 40), shift=st.sampled_from([0, 0, 6, -8, 300, -700]))
@settings(max_examples=60)
def test_log_abs_grid_is_log_abs_one_minus_bit_for_bit(data, n, d, shift):
    """``log_abs_grid`` (the least-squares closed form's ln|1 - eta lambda 2^shift| on a step size x
    eigenvalue grid) gives the numbers of :func:`log_abs_one_minus`, with blocks of 16 entries (so
    rows are blocked and columns chunked), at branch edges, out-of-range step sizes included."""
    lam = np.array(data.draw(st.lists(st.floats(1e-30, 1e30), min_size=d, max_size=d), label="lam"))
    special = st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 1e300, 1e-300])
    def at_edge(z: tuple) -> float:  # k / (lambda 2^shift), moved by one ulp up or down, or not; inf -> 0 below
        with np.errstate(over="ignore"):
            eta = np.float64(z[0]) / z[1] * 2.0**-shift
        return float(np.nextafter(eta, np.inf if z[2] > 0 else 0.0)) if z[2] else float(eta)

    edge = st.tuples(special, st.sampled_from(list(lam)), st.integers(-2, 2)).map(at_edge)
    eta = np.array(data.draw(st.lists(st.one_of(edge, st.floats(0.0, 1e10)), min_size=n, max_size=n), label="eta"))
    eta = np.where(np.isfinite(eta), eta, 0.0)
    want = log_abs_one_minus(eta[:, None], lam[None, :], shift)
    saved = stable.BLOCK
    try:
        stable.BLOCK = 16
        got = stable.log_abs_grid(eta, lam, shift)
    finally:
        stable.BLOCK = saved
    assert np.array_equal(got[0], want[0], equal_nan=True) and np.array_equal(got[1], want[1])
