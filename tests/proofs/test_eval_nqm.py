"""``l2l eval`` with ``model: nqm`` (DESIGN.md) against independent high-precision references.

The evaluator iterates the 3x3 raw-moment recursion in long double (``numerics.nqm``, 64-bit
significand, with ``1 - eta h`` from the exact product); the reference (``numerics.nqm.reference``)
propagates the 2x2 mean/covariance of (w, v) in mpmath at 40 digits from the update rule.
Agreement is required to 1e-12 relative for SGD and heavy ball, constant and scheduled, plus the
a-priori forward error bound 16 (t + 1) eps_ext x (the recursion on absolute values), which only
matters where heavy ball's deterministic part cancels by more than ~1e6 (see
``_cancellation_allowance``): there no fixed-precision method keeps 12 digits of the tiny result.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from l2l.numerics.nqm.reference import greedy_eta_reference, nqm_reference, to_float
from l2l.numerics.validation import ValidationError
from l2l.proofs.evaluate import evaluate_request

ROOT = Path(__file__).resolve().parents[2]
fl = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)  # noqa: E731


@st.composite
def nqm_requests(draw):
    d = draw(st.integers(1, 4))
    t = draw(st.integers(0, 60))
    h = draw(st.lists(fl(0.01, 2.0), min_size=d, max_size=d))
    req = {
        "model": "nqm",
        "h": h,
        "sigma2": draw(st.lists(fl(0.0, 2.0), min_size=d, max_size=d)),
        "mean0": draw(st.lists(fl(-2.0, 2.0), min_size=d, max_size=d)),
        "var0": draw(st.lists(fl(0.0, 1.0), min_size=d, max_size=d)),
        "t": t,
    }
    hmax = max(h)
    special = [1.0 / x for x in h] + [2.0 / x for x in h if 2.0 / x <= 1.9 / hmax]
    if draw(st.booleans()):  # eta h_i = 1 (or 2) up to rounding: 1 - eta h cancels (exact product needed)
        req["eta"] = draw(st.sampled_from([x for x in special if x * hmax <= 1.9] or [0.5 / hmax]))
    elif draw(st.booleans()) and t > 0:  # a schedule
        req["eta"] = [x / hmax for x in draw(st.lists(fl(0.0, 1.9), min_size=t, max_size=t))]
    else:
        req["eta"] = draw(fl(0.0, 1.9)) / hmax
    kind = draw(st.sampled_from(["sgd", "constant", "schedule"]))
    if kind == "constant":
        req["mu"] = draw(fl(0.0, 0.95))
    elif kind == "schedule" and t > 0:
        req["mu"] = draw(st.lists(fl(0.0, 0.95), min_size=t, max_size=t))
    return req


def _cancellation_allowance(req) -> np.ndarray:
    """16 (t + 1) eps_ext x the loss of the same recursion run on absolute values (|M|, noise): the
    a-priori forward error bound of the long-double recursion. It only matters where heavy ball's
    deterministic part cancels by more than ~1e6 (sigma2 ~ 0: the loss falls from 1e-3 to 1e-11
    in 12 steps in the thorough profile's counterexample); SGD has no cancellation at all (every
    term is >= 0 once 1 - eta h is exact), so there the bound is 1e-12 relative."""
    t = req["t"]
    h, s2 = np.array(req["h"]), np.array(req["sigma2"])
    etas = np.broadcast_to(np.asarray(req["eta"], dtype=float), (t,))
    mus = np.broadcast_to(np.asarray(req.get("mu", 0.0), dtype=float), (t,))
    X = np.array(req["mean0"]) ** 2 + np.array(req["var0"])
    W, Y = np.zeros_like(X), np.zeros_like(X)
    out = [0.5 * float(h @ (X + s2))]
    for e, m in zip(etas, mus):
        a = e * h
        b = np.abs(1 - a)
        n = a * a * s2
        X, W, Y = (b * b * X + m * m * W + 2 * abs(m) * b * Y + n,
                   a * a * X + m * m * W + 2 * abs(m) * a * Y + n,
                   a * b * X + m * m * W + abs(m * (1 - 2 * a)) * Y + n)
        out.append(0.5 * float(h @ (X + s2)))
    return 16 * (t + 1) * float(np.finfo(np.longdouble).eps) * np.array(out)


@given(req=nqm_requests())
def test_eval_nqm_matches_mpmath_reference(req):
    out = evaluate_request(req)
    (res,) = out["results"]
    assert res["status"] == "ok" and len(res["expected_loss"]) == req["t"] + 1
    args = (req["h"], req["sigma2"], req["mean0"], req["var0"], req["eta"], req["t"], req.get("mu", 0.0))
    full = nqm_reference(*args, dps=40)
    ref = to_float(full.curve)
    got = np.array(res["expected_loss"])
    # + the float64 output format: below the smallest normal number (2.2e-308) values are subnormal
    bound = 1e-12 * np.abs(ref) + _cancellation_allowance(req) + np.finfo(float).tiny
    assert np.all(np.abs(got - ref) <= bound), (np.max(np.abs(got / ref - 1)), np.max(np.abs(got - ref) / bound))
    try:
        g = float(greedy_eta_reference(*args, dps=40).eta)
    except ValidationError:  # no excess loss and no noise left: every step size is one-step optimal
        assert res["greedy_eta"] is None
        return
    # greedy eta = sum h^2 X / sum h^3 (X + sigma2): a ratio of sums of positive terms, 1e-12 as above
    assert res["greedy_eta"] == pytest.approx(g, rel=1e-12), (res["greedy_eta"], g)


def test_eval_nqm_at_eta_one_over_h():
    """eta = fl(1/h): 1 - eta h is ~4e-17, so E w_1^2 = (1 - eta h)^2 Var w_0 ~ 1.6e-33; computing
    1 - fl(eta h) would lose it entirely (thorough-profile counterexample, fixed by the exact product)."""
    req = {"model": "nqm", "h": [1.2424414208250434], "sigma2": [0.0], "mean0": [0.0], "var0": [1.0],
           "eta": 0.8048669202737542, "t": 3}
    (res,) = evaluate_request(req)["results"]
    ref = to_float(nqm_reference(req["h"], req["sigma2"], req["mean0"], req["var0"], req["eta"], 3, dps=60).curve)
    assert ref[1] < 1e-30
    np.testing.assert_allclose(res["expected_loss"], ref, rtol=1e-12, atol=0)


def test_eval_nqm_greedy_below_float64_range():
    """eta = fl(2/3), h = 1.5: E w_10^2 = (1 - eta h)^20 ~ 1e-320 is below float64's normal range,
    but the greedy step (here 1/h: one coordinate, no noise) is still defined and exact, because the
    final state is kept in long double (thorough-profile counterexample: null was returned)."""
    req = {"model": "nqm", "h": [1.5], "sigma2": [0.0], "mean0": [0.0], "var0": [1.0], "eta": 0.6666666666666666, "t": 10}
    (res,) = evaluate_request(req)["results"]
    assert res["greedy_eta"] == pytest.approx(1 / 1.5, rel=1e-15)


def test_eval_nqm_by_hand():
    """h = 1, sigma2 = 1, eta = mu = 1/2, w_0 = 1: w_1 = (1 - c_0)/2, w_2 = -(c_0 + c_1)/2, so
    E[loss] = 1, 3/4, 3/4 (irreducible 1/2 included) and the greedy step at w_2 is
    E w^2 / (E w^2 + sigma^2) = (1/2)/(3/2) = 1/3."""
    out = evaluate_request({"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": 0.5, "mu": 0.5, "t": 2})
    (res,) = out["results"]
    assert res["expected_loss"] == [1.0, 0.75, 0.75]
    assert res["greedy_eta"] == pytest.approx(1 / 3, rel=1e-15)


def test_eval_nqm_overflow_is_null_not_nan():
    out = evaluate_request({"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": 3.0, "t": 800})
    (res,) = out["results"]
    assert res["status"] == "overflow" and res["greedy_eta"] is None
    losses = res["expected_loss"]
    assert losses[0] == 1.0 and losses[-1] is None
    assert all(v is None or math.isfinite(v) for v in losses)
    # |1 - eta h| = 2: E w_t^2 >= 4^t, beyond float64 (1.8e308 ~ 4^512) from t ~ 512 on
    first_null = losses.index(None)
    assert 500 <= first_null <= 520, first_null


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"t": [3]}, "t"),
        ({"t": -1}, "t"),
        ({"eta": [0.1, 0.2]}, "eta"),
        ({"eta": -0.1}, "eta"),
        ({"mu": "0.5"}, "mu"),
        ({"sigma2": [-1.0]}, "sigma2"),
        ({"h": [0.0]}, "h"),
        ({"mean0": [1.0, 2.0]}, "mean0"),
        ({"var0": [-1.0]}, "var0"),
        ({"beta": 0.9}, "beta"),
    ],
)
def test_eval_nqm_bad_input_names_the_field(patch, field):
    req = {"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": 0.5, "t": 3}
    req.update(patch)
    with pytest.raises(ValidationError) as exc:
        evaluate_request(req)
    assert exc.value.field == field, str(exc.value)


def test_eval_nqm_cli_example_and_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", "examples/nqm.json"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"] == "nqm" and len(out["results"][0]["expected_loss"]) == 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": [0.1], "t": 3}))
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "eta" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# the "curve" option and the closed-form jump (constant eta and mu; numerics.nqm.jump)


@given(req=nqm_requests(), curve=st.one_of(st.just("final"), st.integers(1, 70)))
def test_eval_nqm_curve_option_matches_reference(req, curve):
    """"final" and a stride k report the steps 0, k, 2k, ..., t of the full curve: the jump for
    a constant eta and mu, the recursion for a schedule; both against the 40-digit reference."""
    req["curve"] = curve
    (res,) = evaluate_request(req)["results"]
    t = req["t"]
    steps = [t] if curve == "final" else sorted(set(range(0, t + 1, curve)) | {t})
    assert res["status"] == "ok" and res["steps"] == steps and len(res["expected_loss"]) == len(steps)
    args = (req["h"], req["sigma2"], req["mean0"], req["var0"], req["eta"], t, req.get("mu", 0.0))
    ref = to_float(nqm_reference(*args, dps=40).curve)[steps]
    got = np.array(res["expected_loss"])
    # as in test_eval_nqm_matches_mpmath_reference: both paths work in long double, within
    # (t + 1) eps_ext x the recursion on absolute values (the jump's squaring error is of the same
    # order, tests/numerics/test_nqm_jump.py), 1e-12 relative where nothing cancels
    bound = 1e-12 * np.abs(ref) + _cancellation_allowance(req)[steps] + np.finfo(float).tiny
    assert np.all(np.abs(got - ref) <= bound), np.max(np.abs(got - ref) / bound)


def test_eval_nqm_default_curve_unchanged():
    """No "curve": the full curve 0..t and no "steps" field, exactly as before the option existed;
    "full" is the same request."""
    req = {"model": "nqm", "h": [1.0, 0.01], "sigma2": [1.0, 100.0], "mean0": [1.0, 1.0], "eta": 0.5, "mu": 0.5, "t": 40}
    out = evaluate_request(req)
    (res,) = out["results"]
    assert "steps" not in res and len(res["expected_loss"]) == 41
    assert "exact moment recursion" in out["environment"]["precision"]
    assert evaluate_request({**req, "curve": "full"})["results"] == out["results"]


@pytest.mark.parametrize("mu", [0.0, 0.9])
def test_eval_nqm_final_at_t_1e9(mu):
    """t = 10^9 with a constant eta and mu: O(d) work, against a 60-digit mpmath power of the
    one-step map (tests/numerics/test_nqm_jump.py); the environment names the method."""
    from tests.numerics.test_nqm_jump import mp_power_excess

    h, s2, m0 = [1.0, 1e-3, 1e-6], [1.0, 2.0, 0.5], [1.0, -1.0, 3.0]
    req = {"model": "nqm", "h": h, "sigma2": s2, "mean0": m0, "eta": 0.5, "mu": mu, "t": 10**9, "curve": "final"}
    out = evaluate_request(req)
    (res,) = out["results"]
    assert res["steps"] == [10**9] and res["status"] == "ok"
    assert "closed-form jump" in out["environment"]["precision"]
    want = float(mp_power_excess(h, s2, [x * x for x in m0], 0.5, mu, 10**9) + sum(0.5 * a * b for a, b in zip(h, s2)))
    # slowest coordinate: 1 - rho = eta h / (1 - mu) >= 5e-7, so the squaring error is
    # <= 8 eps_ext / 5e-7 = 2e-12 (module docstring of numerics.nqm.jump); SGD: 2 ulp
    assert res["expected_loss"][0] == pytest.approx(want, rel=2e-12)


def test_eval_nqm_final_overflow_is_a_status():
    out = evaluate_request({"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": 3.0, "t": 10**9, "curve": "final"})
    (res,) = out["results"]
    assert res["status"] == "overflow" and res["expected_loss"] == [None] and res["greedy_eta"] is None
    out = evaluate_request({"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": 3.0, "t": 800, "curve": 100})
    (res,) = out["results"]
    assert res["status"] == "overflow" and res["steps"] == list(range(0, 801, 100))
    # |1 - eta h| = 2: beyond float64 from t ~ 512 on (as for the full curve)
    assert all(v is not None for v in res["expected_loss"][:6]) and res["expected_loss"][6:] == [None] * 3


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"curve": "last"}, 'curve: must be "full", "final" or an integer stride in [1, 1e+18], got \'last\''),
        ({"curve": 0}, "curve: must be"),
        ({"curve": -3}, "curve: must be"),
        ({"curve": 2.5}, "curve: must be"),
        ({"curve": True}, "curve: must be \"full\", \"final\" or an integer stride in [1, 1e+18], got boolean"),
        ({"curve": [1]}, "curve: must be \"full\", \"final\" or an integer stride in [1, 1e+18], got list"),
        ({"curve": None}, 'curve: must be "full", "final" or an integer stride >= 1 (got null)'),
        # limits, checked before any work
        ({"t": 10**9}, "t: must be one integer in [0, 9999999]"),  # "full": the recursion's limit
        ({"t": 10**18 + 1, "curve": "final"}, "t: must be one integer in [0, 9999999]"),
        ({"t": 10**9 + 1, "mu": 0.5, "curve": "final"}, "t: must be one integer in [0, 9999999]"),  # momentum: 10^9
        ({"t": 10**9, "curve": 10}, "curve: t / stride + 1 = 100000001 curve points exceeds the limit of 1e+07"),
        ({"t": 10**9, "curve": "final", "eta": [0.1, 0.2]}, "t: must be one integer in [0, 9999999]"),  # a schedule
    ],
)
def test_eval_nqm_curve_bad_input_and_limits(patch, message):
    req = {"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": 0.5, "t": 3}
    req.update(patch)
    with pytest.raises(ValidationError) as exc:
        evaluate_request(req)
    assert exc.value.field == message.split(":")[0] and message in str(exc.value), str(exc.value)
    assert "\n" not in str(exc.value)


def test_eval_nqm_curve_points_times_d_limit():
    """points x d is capped like t x d (each point is O(d) work): 10^6 + 1 points x 1001 > 10^9."""
    d = 1001
    req = {"model": "nqm", "h": [1.0] * d, "sigma2": [1.0] * d, "mean0": [1.0] * d, "eta": 0.5, "t": 10**9, "curve": 1000}
    with pytest.raises(ValidationError, match="curve points x d = 1000001 x 1001"):
        evaluate_request(req)


def test_eval_nqm_momentum_horizon_limit_message():
    """With momentum the jump stops at t = 10^9 (its error grows like t x 1e-20); the message says
    both horizons."""
    req = {"model": "nqm", "h": [1.0], "sigma2": [1.0], "mean0": [1.0], "eta": 0.5, "mu": 0.5, "t": 10**9 + 1, "curve": "final"}
    with pytest.raises(ValidationError, match=r"up to 1e\+18 for mu = 0 and 1e\+09 for mu != 0\), got 1000000001"):
        evaluate_request(req)
    assert evaluate_request({**req, "t": 10**9})["results"][0]["status"] == "ok"
    assert evaluate_request({**req, "mu": 0.0, "t": 10**18})["results"][0]["status"] == "ok"
