"""``l2l eval`` with ``model: break_even`` (issue 15; Jastrzebski et al. 2020, Eq. 1): fields and
ordering, agreement with exact enumeration of every minibatch in rational arithmetic (written here,
sharing nothing with the closed form), the example's output, and bad input (exit 2, one line naming
the field)."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from l2l.proofs.cli import main
from l2l.proofs.evaluate import evaluate_request

ROOT = Path(__file__).resolve().parents[2]
BASE = {"model": "break_even", "h": [0.5, 1.0, 1.5, 2.0, 5.0], "eta": 0.5, "batch_size": 2}
FIELDS = {"eta", "batch_size", "lambda", "s2", "mean_square_factor", "eta_crit", "stable", "status"}


def run(request, capsys) -> tuple[int, dict | None, str]:
    text = request if isinstance(request, str) else json.dumps(request)
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        code = main(["eval", "-"])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def enumerated_factor(h: list[Fraction], eta: Fraction, S: int, sampling: str) -> Fraction:
    """E[(1 - eta h_B)^2] over every minibatch, each weighted exactly: the C(N, S) index sets
    (without replacement) or the N^S index sequences (with replacement), h_B their mean."""
    n = len(h)
    batches = itertools.combinations(range(n), S) if sampling == "without_replacement" else itertools.product(range(n), repeat=S)
    total, count = Fraction(0), 0
    for b in batches:
        hb = sum((h[i] for i in b), Fraction(0)) / S
        total += (1 - eta * hb) ** 2
        count += 1
    return total / count


def enumerated_crit(h: list[Fraction], S: int, sampling: str) -> Fraction | None:
    """The largest eta >= 0 with factor <= 1 (None: the factor is identically 1). The factor is the
    quadratic 1 + b eta + c eta^2 (c = E h_B^2 >= 0); b and c come from exact enumerations at
    eta = 0, 1, 2."""
    f0, f1, f2 = (enumerated_factor(h, Fraction(e), S, sampling) for e in (0, 1, 2))
    c = (f2 - 2 * f1 + f0) / 2
    b = f1 - f0 - c
    if c == 0:
        return None
    return max(Fraction(0), -b / c)


@st.composite
def instances(draw):
    n = draw(st.integers(2, 7))
    h = [Fraction(draw(st.integers(-20, 400)), 100) for _ in range(n)]
    eta = Fraction(draw(st.integers(0, 300)), 100)
    S = draw(st.integers(1, min(n, 4)))
    sampling = draw(st.sampled_from(["without_replacement", "with_replacement"]))
    return h, eta, S, sampling


@settings(max_examples=60, deadline=None)
@given(inst=instances())
def test_agrees_with_rational_enumeration(inst):
    """Every field against exact enumeration: the factor and eta_crit to 1e-12 relative (float64
    closed form from inputs exact in binary to ~1e-16: the tolerance leaves 1e4 ulps for the mean,
    the variance and the products), lambda and s2 likewise, stable exactly unless the exact factor is
    within 1e-12 of 1."""
    h, eta, S, sampling = inst
    out = evaluate_request({"model": "break_even", "h": [float(x) for x in h], "eta": float(eta), "batch_size": S,
                            "sampling": sampling})
    r = out["results"][0]
    exact = enumerated_factor([Fraction(float(x)) for x in h], Fraction(float(eta)), S, sampling)
    assert abs(Fraction(r["mean_square_factor"]) - exact) <= Fraction(1, 10**12) * max(exact, Fraction(1, 10**300))
    hf = [Fraction(float(x)) for x in h]
    lam = sum(hf, Fraction(0)) / len(hf)
    s2 = sum(((x - lam) ** 2 for x in hf), Fraction(0)) / len(hf)
    assert abs(Fraction(r["lambda"]) - lam) <= Fraction(1, 10**12) * abs(lam) + Fraction(1, 10**300)
    assert abs(Fraction(r["s2"]) - s2) <= Fraction(1, 10**12) * s2 + Fraction(1, 10**300)
    crit = enumerated_crit(hf, S, sampling)
    if crit is None:
        assert r["eta_crit"] is None
    else:
        assert abs(Fraction(r["eta_crit"]) - crit) <= Fraction(1, 10**12) * crit
    if abs(exact - 1) > Fraction(1, 10**12):
        assert r["stable"] == (exact <= 1)


def test_fields_order_and_sampling(capsys):
    code, out, err = run(dict(BASE, eta=[0.1, 0.5], batch_size=[1, 2, 5]), capsys)
    assert code == 0 and err == ""
    assert [(r["eta"], r["batch_size"]) for r in out["results"]] == [(e, s) for e in (0.1, 0.5) for s in (1, 2, 5)]
    assert all(set(r) == FIELDS and r["status"] == "ok" for r in out["results"])
    assert out["sampling"] == "without_replacement" and out["n"] == 5
    full = [r for r in out["results"] if r["batch_size"] == 5]
    assert all(r["eta_crit"] == pytest.approx(2 / r["lambda"], rel=1e-15) for r in full)  # S = N: eta lambda <= 2
    _, wr, _ = run(dict(BASE, batch_size=5, sampling="with_replacement"), capsys)
    assert wr["results"][0]["mean_square_factor"] > full[1]["mean_square_factor"]  # 1/S > c(S) = 0 at S = N


def test_example_output():
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", "examples/break_even.json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    h = [Fraction(x) for x in json.loads((ROOT / "examples/break_even.json").read_text())["h"]]
    for r in out["results"]:
        exact = enumerated_factor(h, Fraction(r["eta"]), r["batch_size"], out["sampling"])
        assert abs(Fraction(r["mean_square_factor"]) - exact) <= Fraction(1, 10**12) * exact


@pytest.mark.parametrize("patch, field, text", [
    ({"h": [1.0]}, "h", "at least 2"),
    ({"h": [1.0, float("nan")]}, "h", ""),
    ({"h": "big"}, "h", "list"),
    ({"h": None}, "h", "per-example curvatures"),
    ({"batch_size": 6}, "batch_size", "1 <= S <= N = 5"),
    ({"batch_size": 0}, "batch_size", "1 <= S <= N = 5"),
    ({"batch_size": [1, 2.5]}, "batch_size[1]", "1 <= S <= N = 5"),
    ({"batch_size": True}, "batch_size", "boolean"),
    ({"eta": -0.1}, "eta", ">= 0"),
    ({"eta": []}, "eta", "empty"),
    ({"sampling": "bootstrap"}, "sampling", "without_replacement, with_replacement"),
    ({"sampling": 3}, "sampling", "number"),
    ({"t": 10}, "t", "unknown key"),
    ({"eta": list(range(101)), "batch_size": [1] * 100}, "eta", "pairs exceeds the limit"),
])
def test_bad_input_names_the_field(capsys, patch, field, text):
    req = dict(BASE, **patch)
    code, _, err = run(req, capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"l2l: error: {field}") and text in err, err


def test_missing_key_subprocess_exit_code(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({k: v for k, v in BASE.items() if k != "batch_size"}))
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("l2l: error: batch_size: is required") and "Traceback" not in proc.stderr
