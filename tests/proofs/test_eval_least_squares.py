"""`l2l eval` for least_squares_gd and least_squares_sgd against independent references.

GD: a 50-digit mpmath unroll of the raw (X, y) with forward-mode d/d eta
(numerics.least_squares.reference: no eigen-decomposition, no closed form).
Tolerance 1e-10 relative (the issue's contract) on the losses, and 1e-10 of the Cauchy-Schwarz
scale ||r|| ||X dw/deta|| / n on the derivatives (they are inner products that may cancel).
The reference runs at 150 digits: on a consistent system the training loss can fall 85 orders of
magnitude in 50 steps, and the unroll must resolve the residual y - X w_t (half that many digits)
on top of the 10 asked for.

Conditioning: the closed form needs the eigenvalues lambda_i = sigma_i^2 / n of X^T X / n, which
any float64 method gets only to 2 eps sigma_max / sigma_i relative; a_i^(2t) = (1 - eta lambda_i)^(2t)
then moves by 2t eta lambda_i / |a_i| times that. The tolerance adds 16 eps times this condition
number (largest over i) to the 1e-10: it is below 1e-10 except near eta = 1/lambda_i, where the
true value itself is not determined by float64 inputs.
"""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from l2l.numerics import LeastSquaresProblem
from l2l.numerics.least_squares.reference import reference
from l2l.proofs.cli import main

EPS = float(np.finfo(np.float64).eps)


def _eval(request: dict) -> dict:
    import contextlib

    buf = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(json.dumps(request))
    try:
        with contextlib.redirect_stdout(buf):
            code = main(["eval", "-"])
    finally:
        sys.stdin = old
    assert code == 0
    return json.loads(buf.getvalue())


@st.composite
def small_least_squares(draw):
    n = draw(st.integers(1, 6))
    d = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.normal(size=n)
    Xv = rng.normal(size=(3, d))
    yv = rng.normal(size=3)
    return LeastSquaresProblem(X, y, Xv, yv)


@given(problem=small_least_squares(), t=st.integers(1, 50), frac=st.floats(0.0, 1.0), with_w0=st.booleans())
def test_gd_eval_matches_mpmath_unroll(problem, t, frac, with_w0):
    lam_max = float(np.linalg.eigvalsh(problem.hessian).max())
    eta = frac * 2.0 / max(lam_max, 1e-12)  # stable range: losses stay O(1) to O(10^k)
    w0 = np.linspace(-1, 1, problem.d) if with_w0 else None
    req = {"model": "least_squares_gd", "X": problem.X.tolist(), "y": problem.y.tolist(), "X_valid": problem.X_valid.tolist(),
           "y_valid": problem.y_valid.tolist(), "eta": eta, "t": t}
    if with_w0:
        req["w0"] = w0.tolist()
    r = _eval(req)["results"][0]
    ref = reference(problem, eta, t, w0=w0, dps=150)
    assert r["status"] == "ok"
    sv = np.linalg.svd(problem.X, compute_uv=False)
    sv = sv[sv > sv[0] * 1e-12] if sv.size and sv[0] > 0 else sv[:0]
    lam = sv**2 / problem.n
    a = np.abs(1 - eta * lam)
    cond = float(np.max(4 * t * eta * lam * (sv[0] / sv) / np.maximum(a, 1e-300))) if lam.size else 0.0
    rel = 1e-10 + 16 * EPS * cond
    w_norm = float(sum(abs(x) ** 2 for x in ref.w) ** 0.5)
    valid_scale = (np.linalg.norm(problem.y_valid) + np.linalg.norm(problem.X_valid, 2) * w_norm) ** 2 / (2 * problem.n_valid)
    for name, scale in (
        ("train_loss", 0.0),
        ("valid_loss", valid_scale),
        ("train_loss_grad", float(ref.train_grad_scale)),
        ("valid_loss_grad", float(ref.valid_grad_scale)),
    ):
        want = float(getattr(ref, name))
        tol = 1e-10 * (abs(want) + scale) + 16 * EPS * cond * (abs(want) + scale)
        assert abs(r[name] - want) <= tol + 1e-300, (name, r[name], want, rel)


def test_gd_eval_overflow_is_null_with_status():
    out = _eval({"model": "least_squares_gd", "X": [[1.0, 0.0], [0.0, 2.0]], "y": [1.0, 1.0], "eta": 10.0, "t": 5000})
    r = out["results"][0]
    assert r["status"] == "overflow" and r["train_loss"] is None and r["valid_loss"] is None


def test_sgd_eval_fields_and_large_batch_limit():
    """B -> infinity: minibatch SGD becomes full-batch GD (the expectation of a deterministic run)."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    base = {"X": X.tolist(), "y": y.tolist(), "eta": [0.05, 0.1], "t": [1, 20]}
    sgd = _eval({"model": "least_squares_sgd", **base, "batch_size": 10**9})["results"]
    gd = _eval({"model": "least_squares_gd", **base})["results"]
    for a, b in zip(sgd, gd):
        assert set(a) == {"eta", "t", "expected_train_loss", "expected_train_loss_grad", "expected_valid_loss", "expected_valid_loss_grad", "status"}
        # the minibatch noise term is O(1/B) = 1e-9 of the loss scale
        assert a["expected_train_loss"] == pytest.approx(b["train_loss"], rel=1e-8)
        assert a["expected_train_loss_grad"] == pytest.approx(b["train_loss_grad"], rel=1e-7, abs=1e-9)
        assert a["expected_valid_loss"] is None


@pytest.mark.parametrize(
    "req,message",
    [
        ({"model": "least_squares_gd", "X": [[1.0]], "y": [1.0, 2.0], "eta": 0.1, "t": 1}, "y: must have one entry per row of X"),
        ({"model": "least_squares_gd", "X": [[1.0]], "y": [1.0], "X_valid": [[1.0]], "eta": 0.1, "t": 1}, "y_valid: give X_valid and y_valid together"),
        ({"model": "least_squares_gd", "X": [[1.0]], "y": [1.0], "w0": [1.0, 2.0], "eta": 0.1, "t": 1}, "w0: must have length 1"),
        ({"model": "least_squares_gd", "X": [[1.0]], "y": [1.0], "eta": 0.1, "t": 1, "batch_size": 2}, "batch_size: unknown key"),
        ({"model": "least_squares_sgd", "X": [[1.0]], "y": [1.0], "eta": 0.1, "t": 1, "batch_size": 0}, "batch_size: must be an integer in [1, "),
        ({"model": "least_squares_sgd", "X": [[1.0, True]], "y": [1.0], "eta": 0.1, "t": 1}, "X: must contain only numbers"),
    ],
)
def test_bad_least_squares_input(req, message, capsys):
    old = sys.stdin
    sys.stdin = io.StringIO(json.dumps(req))
    try:
        code = main(["eval", "-"])
    finally:
        sys.stdin = old
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


@given(
    n=st.integers(1, 4),
    d=st.integers(1, 4),
    batch=st.integers(1, 3),
    t=st.integers(1, 30),
    frac=st.floats(0.05, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_sgd_eval_matches_exact_theory_recursion(n, d, batch, t, frac, seed):
    """least_squares_sgd through `l2l eval` against the moment recursion that SymPy derived from the
    update rule (theory.sgd_moments, itself checked against enumeration of all minibatch sequences),
    iterated in exact rational arithmetic from the float64 inputs (no rounding at all).

    Tolerance 1e-9 (the issue's contract): relative on the losses (sums of nonnegative terms for
    training; the validation loss is compared relative to its value plus the Cauchy-Schwarz size of
    its cross term), and on the derivatives relative to |value| + t x loss scale (the derivative of a
    product of t factors is a sum of t terms of the loss's size that may cancel).
    """
    from fractions import Fraction

    from l2l.theory.lambdify import finite_set_loss_callable, finite_set_tangent_callable

    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    Xv, yv = rng.normal(size=(2, d)), rng.normal(size=2)
    # stable range of SGD with batch 1 is set by max ||x_j||^2
    eta = float(frac / np.max(np.sum(X**2, axis=1)))
    out = _eval({"model": "least_squares_sgd", "X": X.tolist(), "y": y.tolist(), "X_valid": Xv.tolist(), "y_valid": yv.tolist(),
                 "eta": eta, "t": t, "batch_size": batch})["results"][0]
    F = lambda a: [[Fraction(float(v)) for v in row] for row in a]  # noqa: E731
    Xf, Xvf = F(X), F(Xv)
    yf, yvf = [Fraction(float(v)) for v in y], [Fraction(float(v)) for v in yv]
    step = finite_set_tangent_callable(d, n, batch, modules="exact")
    m = [Fraction(0)] * d
    M = [[Fraction(0)] * d for _ in range(d)]
    dm = [Fraction(0)] * d
    dM = [[Fraction(0)] * d for _ in range(d)]
    e = Fraction(eta)
    for _ in range(t):
        m, M, dm, dM = step(Xf, yf, m, M, dm, dM, e)
    train, dtrain = finite_set_loss_callable(d, n, modules="exact")(Xf, yf, m, M, dm, dM)
    valid, dvalid = finite_set_loss_callable(d, 2, modules="exact")(Xvf, yvf, m, M, dm, dM)
    assert out["status"] == "ok"
    assert abs(out["expected_train_loss"] - float(train)) <= 1e-9 * abs(float(train)) + 1e-300
    vscale = abs(float(valid)) + float(sum(v * v for v in yvf)) / 4 + float(sum(M[i][i] for i in range(d))) * float(np.sum(Xv**2)) / 4
    assert abs(out["expected_valid_loss"] - float(valid)) <= 1e-9 * vscale
    for got, want, scale in ((out["expected_train_loss_grad"], dtrain, float(train)), (out["expected_valid_loss_grad"], dvalid, vscale)):
        assert abs(got - float(want)) <= 1e-9 * (abs(float(want)) + t * scale / max(eta, 1e-300) * eta + t * scale), (got, float(want))
