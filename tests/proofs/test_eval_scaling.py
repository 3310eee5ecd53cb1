"""`l2l eval` least_squares_gd and least_squares_sgd at any data scale (issue 11, "Least squares at
any scale"), against independent mpmath references in a local context (never the global mp.dps):

- GD: numerics.least_squares.reference, the plain unroll of the raw (X, y) with its forward-mode
  d/d eta (no eigen-decomposition, no rescaling);
- SGD: exact enumeration, here, of every sequence of minibatch indices (drawn with replacement),
  each path unrolled in mpmath with its tangent and averaged with equal weight.

The data X and X_valid are scaled by 2^k, k in [-990, 490] (entries from ~1e-298 to ~1e147; y,
y_valid and w0 are of order 1, so w_ERM is up to 2^990 and H up to 2^980). The step size is
c / lambda_max(H) for c in [0, 1.9] where that is a float64 number (k >= -511), else c 2^1000 /
lambda_max(H~) (H~ the unscaled H): then eta lambda_max is tiny and the true d/d eta may be below
the float64 range. mpmath's exponent range is unbounded, so the references never over/underflow.

Tolerance, per field: |got - ref| <= RTOL x scale + 2^-1070. The scale of a derivative is the
Cauchy-Schwarz bound E[||r|| ||X dw/deta||] / n (an inner product that may cancel); that of a loss
is |ref| + eta x that bound, since a relative error e in each eta lambda_i moves the loss by at most
e eta ||r|| ||X dw/deta|| / n. RTOL = 2^-34 = 2^-52 (float64 eps) x 2^4 (the SVD's backward error,
a few eps x (n + d) <= 5) x 2^14 (the conditioning of a_i^t in the inputs, 2 t eta lambda_i / |a_i|
<= 6 x 1.9 x 2^10 with the strategy's |a_i| >= 2^-10 and sigma_min >= 2^-10 sigma_max). The
rescaling itself is exact (powers of 2), so the bound does not depend on k. The absolute 2^-1070
(16 units of the smallest subnormal) is the rounding of a result in or below the subnormal range.
The largest error / scale seen is printed by `test_measured_error` (run with -s).
"""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from l2l.numerics import LeastSquaresProblem
from l2l.numerics.least_squares.reference import reference
from l2l.proofs.evaluate import evaluate_request

RTOL = 2.0**-34
ATOL = 2.0**-1070
FMAX = float(np.finfo(np.float64).max)
_MEASURED: list[float] = []


@st.composite
def scaled_problems(draw):
    n = draw(st.integers(1, 3), label="n")
    d = draw(st.integers(1, 2), label="d")
    # entries 0 or of magnitude in [1/8, 1]: the scale of the data is set by k alone
    entry = st.one_of(st.just(0.0), st.floats(0.125, 1.0), st.floats(-1.0, -0.125))
    X0 = np.array([[draw(entry) for _ in range(d)] for _ in range(n)])
    # y, y_valid, w0 likewise 0 or of order 1 (a target of 1e-308 beside one of 1 would test the
    # subnormal floor of float64, not the scaling)
    value = st.one_of(st.just(0.0), st.floats(0.125, 2.0), st.floats(-2.0, -0.125))
    y = [draw(value) for _ in range(n)]
    Xv0 = np.array([[draw(entry) for _ in range(d)]])
    yv = [draw(value)]
    w0 = [draw(value) for _ in range(d)] if draw(st.booleans(), label="w0") else None
    k = draw(st.integers(-990, 490), label="k")
    c = draw(st.floats(0.0, 1.9), label="c")
    t = draw(st.integers(1, 3), label="t")
    batch = draw(st.integers(1, 2), label="batch_size")
    sv = np.linalg.svd(X0, compute_uv=False)
    # conditioning (see the module docstring): nonzero singular values within 2^10 of the largest,
    # and every |a_i| = |1 - eta lambda_i| >= 2^-10 (near eta = 1 / lambda_i the value is not
    # determined by float64 inputs, for any method)
    assume(all(s_ == 0 or s_ >= 2.0**-10 * sv[0] for s_ in sv))
    lams = sv * sv / n
    lam0 = float(lams.max())
    assume(lam0 == 0.0 or all(abs(1.0 - c * li / lam0) >= 2.0**-10 for li in lams))
    if lam0 == 0.0:
        eta = c
    else:
        eta = float(np.ldexp(c / lam0, min(-2 * k, 1000)))
    req = {"X": np.ldexp(X0, k).tolist(), "y": y, "X_valid": np.ldexp(Xv0, k).tolist(), "y_valid": yv, "eta": eta, "t": t}
    if w0 is not None:
        req["w0"] = w0
    return req, batch


def _sgd_reference(req: dict, B: int, dps: int = 60) -> list:
    """E[train loss], E[d/deta], E[CS scale], then the same on the validation set: exact enumeration."""
    ctx = mpmath.MPContext()
    ctx.dps = dps
    X = [[ctx.mpf(v) for v in row] for row in req["X"]]
    y = [ctx.mpf(v) for v in req["y"]]
    Xv = [[ctx.mpf(v) for v in row] for row in req["X_valid"]]
    yv = [ctx.mpf(v) for v in req["y_valid"]]
    n, d = len(X), len(X[0])
    e = ctx.mpf(req["eta"])
    w_init = [ctx.mpf(v) for v in req.get("w0", [0.0] * d)]

    def lg(A, b, w, wd):
        r = [ctx.fsum(A[j][k] * w[k] for k in range(d)) - b[j] for j in range(len(A))]
        rd = [ctx.fsum(A[j][k] * wd[k] for k in range(d)) for j in range(len(A))]
        m = len(A)
        scale = ctx.sqrt(ctx.fsum(x * x for x in r)) * ctx.sqrt(ctx.fsum(x * x for x in rd)) / m
        return [ctx.fsum(x * x for x in r) / (2 * m), ctx.fsum(a * b for a, b in zip(r, rd)) / m, scale]

    acc = [ctx.mpf(0)] * 6
    seqs = list(itertools.product(range(n), repeat=B * req["t"]))
    for seq in seqs:
        w, wd = list(w_init), [ctx.mpf(0)] * d
        for s in range(req["t"]):
            g, gd = [ctx.mpf(0)] * d, [ctx.mpf(0)] * d
            for j in seq[s * B:(s + 1) * B]:
                r = ctx.fsum(X[j][k] * w[k] for k in range(d)) - y[j]
                rd = ctx.fsum(X[j][k] * wd[k] for k in range(d))
                for k in range(d):
                    g[k] += X[j][k] * r / B
                    gd[k] += X[j][k] * rd / B
            w, wd = [w[k] - e * g[k] for k in range(d)], [wd[k] - g[k] - e * gd[k] for k in range(d)]
        for i, v in enumerate(lg(X, y, w, wd) + lg(Xv, yv, w, wd)):
            acc[i] += v
    return [v / len(seqs) for v in acc]


def _floors(req: dict) -> dict:
    """Absolute rounding floors of the derivatives where the gradient X^T r vanishes in exact
    arithmetic (the Cauchy-Schwarz scale is then 0) but its float64 evaluation leaves
    |X^T r| ~ 4 eps ||X|| ||r||: train d/d eta ~ t lambda (4 eps ||r||)^2 / n <= t ||X||_F^2
    (2^-50 ||r||)^2 / n^2; validation d/d eta ~ t ||r_v|| ||X_v||_F ||X||_F 2^-50 ||r|| / (n n_v),
    with the residuals at w0 (|a| <= 1 here, so they do not grow)."""
    ctx = mpmath.MPContext()
    ctx.dps = 30
    X, Xv = ctx.matrix(req["X"]), ctx.matrix(req["X_valid"])
    w0 = ctx.matrix(req.get("w0", [0.0] * X.cols))
    r, rv = ctx.norm(X * w0 - ctx.matrix(req["y"])), ctx.norm(Xv * w0 - ctx.matrix(req["y_valid"]))
    fx, fv = ctx.mnorm(X, "f"), ctx.mnorm(Xv, "f")
    t, n, nv = req["t"], X.rows, Xv.rows
    return {"train": t * fx**2 * (ctx.ldexp(r, -50)) ** 2 / n**2, "valid": t * rv * fv * fx * ctx.ldexp(r, -50) / (n * nv)}


def _check(got: dict, status: str, refs: list, floors: dict | None = None) -> None:
    """refs: (name, reference value, scale) triples (mpf); floors: absolute floors by field kind."""
    floors = floors or {}
    over = False
    for name, ref, scale in refs:
        if abs(ref) > FMAX:
            over = True
            assert got[name] is None, (name, got[name], ref)
            continue
        assert got[name] is not None, (name, ref, got)
        err = abs(mpmath.mpf(got[name]) - ref)
        floor = floors.get("valid" if "valid" in name else "train", 0) if name.endswith("_grad") else 0
        assert err <= RTOL * scale + floor + ATOL, (name, got[name], mpmath.nstr(ref, 20), mpmath.nstr(scale, 5))
        if scale > 2.0**-1000:
            _MEASURED.append(float(err / scale))
    assert status == ("overflow" if over else "ok")


@given(case=scaled_problems())
def test_gd_eval_at_any_scale_matches_mpmath(case):
    req, _ = case
    out = evaluate_request({"model": "least_squares_gd", **req})["results"][0]
    p = LeastSquaresProblem(req["X"], req["y"], req["X_valid"], req["y_valid"])
    ref = reference(p, req["eta"], req["t"], w0=req.get("w0"), dps=60)
    _check(out, out["status"], [
        ("train_loss", ref.train_loss, abs(ref.train_loss) + req["eta"] * ref.train_grad_scale),
        ("train_loss_grad", ref.train_loss_grad, ref.train_grad_scale),
        ("valid_loss", ref.valid_loss, abs(ref.valid_loss) + req["eta"] * ref.valid_grad_scale),
        ("valid_loss_grad", ref.valid_loss_grad, ref.valid_grad_scale),
    ], _floors(req))


@given(case=scaled_problems())
def test_sgd_eval_at_any_scale_matches_exact_enumeration(case):
    req, B = case
    out = evaluate_request({"model": "least_squares_sgd", "batch_size": B, **req})["results"][0]
    tl, tg, ts, vl, vg, vs = _sgd_reference(req, B)
    _check(out, out["status"], [
        ("expected_train_loss", tl, abs(tl) + req["eta"] * ts),
        ("expected_train_loss_grad", tg, ts),
        ("expected_valid_loss", vl, abs(vl) + req["eta"] * vs),
        ("expected_valid_loss_grad", vg, vs),
    ], _floors(req))


@given(case=scaled_problems())
def test_gd_and_sgd_agree_at_eta_zero(case):
    """At eta = 0 both models sit at w0 and d/d eta E[loss] = -t ||grad at w0||^2-type terms are the
    same (the minibatch noise enters at order eta^2): equal to rounding, at any scale, any batch size.
    (B = n without replacement is not the SGD model, so no other agreement is asserted.)"""
    req, B = case
    req = {**req, "eta": 0.0}
    gd = evaluate_request({"model": "least_squares_gd", **req})["results"][0]
    sgd = evaluate_request({"model": "least_squares_sgd", "batch_size": B, **req})["results"][0]
    # scales of the derivatives at eta = 0, inner products <r, X dw/deta> / n that may cancel to 0
    # (dw/deta = -t grad(w0)): ||r|| ||X||_F ||dw/deta|| / n, the size of the rounding error of
    # forming X dw/deta in float64 (in mpmath, so that nothing over/underflows)
    ctx = mpmath.MPContext()
    ctx.dps = 30
    X = ctx.matrix(req["X"])
    w0 = ctx.matrix(req.get("w0", [0.0] * X.cols))
    r = X * w0 - ctx.matrix(req["y"])
    dw = -req["t"] * (X.T * r) / X.rows
    Xv = ctx.matrix(req["X_valid"])
    rv = Xv * w0 - ctx.matrix(req["y_valid"])
    scale = {"train_loss_grad": ctx.norm(r) * ctx.mnorm(X, "f") * ctx.norm(dw) / X.rows,
             "valid_loss_grad": ctx.norm(rv) * ctx.mnorm(Xv, "f") * ctx.norm(dw) / Xv.rows}
    fl = _floors(req)
    for a, b in [("train_loss", "expected_train_loss"), ("valid_loss", "expected_valid_loss"),
                 ("train_loss_grad", "expected_train_loss_grad"), ("valid_loss_grad", "expected_valid_loss_grad")]:
        # both are float64 evaluations of the same number (different formulas): a few eps of the
        # larger, plus the subnormal rounding
        if gd[a] is None or sgd[b] is None:  # beyond float64 (|value| > 1.8e308): both must say so
            assert gd[a] is None and sgd[b] is None and gd["status"] == sgd["status"] == "overflow", (a, gd, sgd)
            continue
        floor = 2 * float(fl["valid" if "valid" in a else "train"]) if a in scale else 0.0  # either side
        tol = 64 * 2.0**-52 * (float(scale[a]) if a in scale else max(abs(gd[a]), abs(sgd[b]))) + floor + ATOL
        assert abs(gd[a] - sgd[b]) <= tol, (a, gd[a], sgd[b])


@pytest.mark.parametrize("tiny", [1e-20, 1e-300, 5e-324])
def test_issue_reproducers_tiny_data(tiny):
    """The issue's reproducer: X entries of 1e-20 (SGD printed 4.67e-42 with status ok) and 5e-324
    (both models printed null/"overflow"); the validation set [[1, 1]], y_valid 2 is unscaled, so
    w_t barely moves and the validation loss is (2 - tiny)^2 / 2 ~ 2."""
    base = {"X": [[tiny, 0], [0, tiny], [tiny, tiny]], "y": [1, 2, 3], "X_valid": [[1, 1]], "y_valid": [2], "eta": 0.1, "t": 2}
    sgd = evaluate_request({"model": "least_squares_sgd", **base})["results"][0]
    gd = evaluate_request({"model": "least_squares_gd", **base})["results"][0]
    B = 1
    tl, tg, ts, vl, vg, vs = _sgd_reference(base, B)
    _check(sgd, sgd["status"], [("expected_train_loss", tl, abs(tl)), ("expected_train_loss_grad", tg, ts),
                                ("expected_valid_loss", vl, abs(vl)), ("expected_valid_loss_grad", vg, vs)])
    ref = reference(LeastSquaresProblem(base["X"], base["y"], base["X_valid"], base["y_valid"]), 0.1, 2, dps=60)
    _check(gd, gd["status"], [("train_loss", ref.train_loss, abs(ref.train_loss)),
                              ("train_loss_grad", ref.train_loss_grad, ref.train_grad_scale),
                              ("valid_loss", ref.valid_loss, abs(ref.valid_loss)),
                              ("valid_loss_grad", ref.valid_loss_grad, ref.valid_grad_scale)])
    assert sgd["expected_valid_loss"] == pytest.approx(2.0, rel=1e-15)


def test_measured_error():
    """Reports the largest error seen above (relative to each field's scale); run with -s."""
    if _MEASURED:
        print(f"\nmax error / scale over {len(_MEASURED)} checked values: {max(_MEASURED):.3g}")
