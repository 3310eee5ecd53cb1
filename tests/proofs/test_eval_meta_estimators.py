"""``l2l eval`` with ``model: meta_estimators`` (issue 14; Metz et al. 2019): fields and ordering,
agreement with the numerics it wraps, the example's output, and bad input (exit 2, one line naming
the field)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from l2l.numerics import QuadraticProblem
from l2l.numerics.estimators import MAX_EXACT_T, meta_loss, smoothed_moments
from l2l.proofs.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASE = {"model": "meta_estimators", "eigenvalues": [1.0, 0.01], "coefficients": [1.0, 1.0], "eta": 0.5, "T": 10, "sigma": 0.01}
FIELDS = {"eta", "T", "meta_loss", "meta_loss_grad", "smoothed_meta_loss", "smoothed_meta_loss_grad", "rp_variance", "es_variance", "status"}


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


def test_fields_order_and_values(capsys):
    req = dict(BASE, eta=[0.5, 1.0], T=[1, 10, 100])
    code, out, err = run(req, capsys)
    assert code == 0 and err == ""
    assert [(r["eta"], r["T"]) for r in out["results"]] == [(0.5, 1), (0.5, 10), (0.5, 100), (1.0, 1), (1.0, 10), (1.0, 100)]
    assert all(set(r) == FIELDS for r in out["results"])
    p = QuadraticProblem([1.0, 0.01], [1.0, 1.0])
    for r in out["results"]:
        ml, sm = meta_loss(p, r["eta"], r["T"]), smoothed_moments(p, r["eta"], r["T"], 0.01)
        assert (r["meta_loss"], r["meta_loss_grad"]) == (ml.meta_loss, ml.meta_loss_grad)
        assert (r["smoothed_meta_loss"], r["rp_variance"], r["es_variance"]) == (sm.smoothed_meta_loss, sm.rp_variance, sm.es_variance)
        assert r["status"] == "ok"
    assert out["model"] == "meta_estimators" and out["sigma"] == 0.01 and "Gauss-Hermite" in out["environment"]["precision"]


def test_dense_form_equals_eigen_form(capsys):
    _, a, _ = run(dict(BASE, eigenvalues=[1.0, 0.25], coefficients=[0.6, 0.8]), capsys)
    dense = {k: v for k, v in BASE.items() if k not in ("eigenvalues", "coefficients")}
    _, b, _ = run(dict(dense, hessian=[[0.25, 0.0], [0.0, 1.0]], w0=[0.8, 0.6]), capsys)
    for key in ("meta_loss", "smoothed_meta_loss", "es_variance"):
        assert b["results"][0][key] == pytest.approx(a["results"][0][key], rel=1e-13)


def test_truncation_fields(capsys):
    code, out, err = run(dict(BASE, T=[10, 20], truncation=5), capsys)
    assert code == 0, err
    assert out["truncation"] == 5
    for r in out["results"]:
        assert set(r) == FIELDS | {"tbptt_grad", "tbptt_fixed_point"}
        assert isinstance(r["tbptt_grad"], float)


def test_overflow_is_a_status_and_null(capsys):
    """eta = 0.5 with sigma = 0.5 at T = 1000: eta + sigma eps leaves the stable range often enough
    that the exact smoothed loss exceeds float64; the plain meta-loss is still finite."""
    code, out, _ = run(dict(BASE, eigenvalues=[1.0], coefficients=[1.0], T=1000, sigma=0.5), capsys)
    r = out["results"][0]
    assert code == 0 and r["status"] == "overflow"
    assert r["smoothed_meta_loss"] is None and r["meta_loss"] is not None


def test_example_output():
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", "examples/meta_estimators.json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout)["results"]
    # claim A1's values at T = 10 (spec §3.2: |dL/d alpha| = 0.0889 at alpha = 0.5, 10.7 at 2.05)
    assert f"{first['meta_loss_grad']:.3g}" == "-0.0889" and f"{second['meta_loss_grad']:.3g}" == "10.7"
    assert round(first["smoothed_meta_loss"], 9) == 0.016687414
    assert round(first["es_variance"], 9) == 0.01588685
    assert first["status"] == second["status"] == "ok"


@pytest.mark.parametrize("patch, field, text", [
    ({"T": MAX_EXACT_T + 1}, "T", f"[1, {MAX_EXACT_T}]"),
    ({"T": 0}, "T", "[1,"),
    ({"T": [10, 2.5]}, "T", "integer"),
    ({"sigma": 0}, "sigma", "(0.0, inf"),
    ({"sigma": "big"}, "sigma", "> 0"),
    ({"sigma": None}, "sigma", "> 0"),
    ({"eta": -0.1}, "eta", ">= 0"),
    ({"eta": []}, "eta", "empty"),
    ({"truncation": 11}, "truncation", "1 <= K <= T"),
    ({"truncation": 0}, "truncation", "1 <= K <= T"),
    ({"truncation": True}, "truncation", "1 <= K <= T"),
    ({"t": 10}, "t", "unknown key"),
    ({"eigenvalues": [1.0]}, "coefficients", "same length"),
    ({"hessian": [[1.0]]}, "hessian", "not both"),
    ({"eta": list(range(101)), "T": list(range(1, 101))}, "eta", "pairs exceeds the limit"),
    ({"eigenvalues": [1.0] * 20, "coefficients": [1.0] * 20, "T": 1000}, "T", "exceeds the limit"),
])
def test_bad_input_names_the_field(capsys, patch, field, text):
    req = dict(BASE, **patch)
    code, _, err = run(req, capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"l2l: error: {field}: ") and text in err, err


def test_missing_sigma_and_subprocess_exit_code(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({k: v for k, v in BASE.items() if k != "sigma"}))
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.startswith("l2l: error: sigma: is required")
    assert "Traceback" not in proc.stderr


def test_readme_limits_row_states_the_constants():
    """The README's limits table names this model's limits with the values the code enforces."""
    from l2l.numerics.estimators.smoothing import MAX_EXACT_WORK

    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `meta_estimators`"))
    assert f"| {MAX_EXACT_T}; 10^{len(str(MAX_EXACT_WORK)) - 1} |" in row and MAX_EXACT_WORK == 10 ** (len(str(MAX_EXACT_WORK)) - 1)
