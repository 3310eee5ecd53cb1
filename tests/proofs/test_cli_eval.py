"""`l2l eval` for quadratic_gd, per DESIGN.md: fields, ordering, nulls, errors, exit codes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from l2l.numerics.quadratic.reference import quadratic_reference
from l2l.proofs import strategies as ps
from l2l.proofs.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(request, capsys) -> tuple[int, dict | None, str]:
    import io

    text = request if isinstance(request, str) else json.dumps(request)
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        code = main(["eval", "-"])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_eta_varies_slowest_and_fields(capsys):
    req = {"model": "quadratic_gd", "eigenvalues": [1.0, 3.0], "coefficients": [0.6, 0.8], "eta": [0.1, 0.5], "t": [1, 10, 1000]}
    code, out, err = run(req, capsys)
    assert code == 0 and err == ""
    pairs = [(r["eta"], r["t"]) for r in out["results"]]
    assert pairs == [(0.1, 1), (0.1, 10), (0.1, 1000), (0.5, 1), (0.5, 10), (0.5, 1000)]
    keys = {"eta", "t", "log_loss", "log_objective", "log_objective_grad", "naive_grad_sign", "naive_grad_log_abs"}
    assert all(set(r) == keys for r in out["results"])
    assert "backprop" not in out["results"][0]
    env = out["environment"]
    assert {"python", "l2l-theory", "numpy"} <= set(env["versions"]) and env["precision"].startswith("float64")


@given(problem=ps.quadratic_problems(max_dim=5, max_kappa=1e8), data=st.data(), t=ps.horizons(10**9))
def test_eval_agrees_with_60_digit_reference(problem, data, t):
    """The Done-when contract, through the JSON interface (tolerances as in test_stable)."""
    import contextlib
    import io

    eta = data.draw(ps.step_sizes(problem), label="eta")
    req = {"model": "quadratic_gd", "eigenvalues": problem.eigenvalues.tolist(), "coefficients": problem.coefficients.tolist(), "eta": eta, "t": t}
    buf = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(json.dumps(req))
    try:
        with contextlib.redirect_stdout(buf):
            assert main(["eval", "-"]) == 0
    finally:
        sys.stdin = old
    r = json.loads(buf.getvalue())["results"][0]
    ref = quadratic_reference(problem.eigenvalues, problem.coefficients, eta, t, dps=60)
    if ref.log_loss is None:
        assert r["log_loss"] is None and r["log_objective_grad"] is None and r["naive_grad_sign"] == 0
        return
    ctx = ref.ctx
    factors = [abs(1 - ctx.mpf(eta) * ctx.mpf(float(x))) for x in problem.eigenvalues]
    growth = 1e-15 * t * max(float(abs(ctx.log(a))) for a in factors if a != 0)
    assert abs(r["log_loss"] - float(ref.log_loss)) <= 1e-12 * abs(float(ref.log_loss)) + growth
    assert abs(r["log_objective"] - float(ref.log_objective)) <= 1e-12 * abs(float(ref.log_objective)) + growth / t
    terms = float(ref.grad_abs_terms)
    gr = float(ref.log_objective_grad)
    assert abs(r["log_objective_grad"] - gr) <= 1e-10 * (abs(gr) + terms) + growth * terms


def test_zero_loss_gives_nulls(capsys):
    req = {"model": "quadratic_gd", "eigenvalues": [2.0, 3.0], "coefficients": [1.0, 0.0], "eta": 0.5, "t": 3}
    code, out, _ = run(req, capsys)
    r = out["results"][0]
    assert code == 0
    assert r["log_loss"] is None and r["log_objective"] is None and r["log_objective_grad"] is None
    assert r["naive_grad_sign"] == 0 and r["naive_grad_log_abs"] is None


def test_hessian_form_matches_eigen_form(capsys):
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    lam, c = np.array([0.1, 0.5, 1.0, 2.0]), np.array([0.5, 0.5, -0.5, 0.5])
    h = (q * lam) @ q.T
    h = 0.5 * (h + h.T)
    base = {"model": "quadratic_gd", "eta": [0.3, 0.9], "t": [5, 50]}
    _, a, _ = run({**base, "eigenvalues": lam.tolist(), "coefficients": c.tolist()}, capsys)
    _, b, _ = run({**base, "hessian": h.tolist(), "w0": (q @ c).tolist()}, capsys)
    for ra, rb in zip(a["results"], b["results"]):
        # eigh round trip: eigenvalues move by ~ d eps L, ln f by 2t eta that / min|a_i| (< 1e-11 here)
        assert math.isclose(ra["log_loss"], rb["log_loss"], rel_tol=1e-11, abs_tol=1e-11)
        assert math.isclose(ra["log_objective_grad"], rb["log_objective_grad"], rel_tol=1e-9, abs_tol=1e-11)


BAD = [
    ('{"model": "quadratic_gd"', "invalid JSON"),
    ("[1, 2]", "input: must be a JSON object"),
    ('{"eta": 1}', "model: is required"),
    ('{"model": "cubic"}', "model: must be one of"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": 1}', "t: is required"),
    ('{"model": "quadratic_gd", "eigenvalues": [1, 2], "coefficients": [1], "eta": 1, "t": 1}', "coefficients: must have the same length"),
    ('{"model": "quadratic_gd", "eigenvalues": [], "coefficients": [], "eta": 1, "t": 1}', "eigenvalues: must not be empty"),
    ('{"model": "quadratic_gd", "eigenvalues": [0], "coefficients": [1], "eta": 1, "t": 1}', "eigenvalues: every entry must be > 0"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": -1, "t": 1}', "eta: must be >= 0"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": [], "t": 1}', "eta: must not be an empty list"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": "0.1", "t": 1}', "eta: must be a number or a list"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": true, "t": 1}', "eta: must be a number or a list of numbers (got a boolean)"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": 1, "t": 0}', "t: must be an integer in [1, "),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": 1, "t": 2.5}', "t: must be an integer"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": Infinity, "t": 1}', "non-finite number Infinity"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": 1, "t": 1, "T": 1}', "T: unknown key"),
    ('{"model": "quadratic_gd", "hessian": [[1, 0], [0, 1]], "w0": [1], "eta": 1, "t": 1}', "w0: must have length 2"),
    ('{"model": "quadratic_gd", "hessian": [[1, 2], [0, 1]], "w0": [1, 1], "eta": 1, "t": 1}', "hessian: must be symmetric"),
    ('{"model": "quadratic_gd", "hessian": [[1, 0], [0, 1]], "w0": [1, 1], "eigenvalues": [1, 1], "eta": 1, "t": 1}', "give either"),
    ('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": 1, "t": 1, "backprop": ["float16"]}', "backprop: unknown dtype"),
    ('{"model": "quadratic_gd", "eigenvalues": [1, 2], "coefficients": [1, 1], "eta": 1, "t": 100000000, "backprop": ["float64"]}', "backprop: t x dim"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_input_one_line_exit_2(text, message, capsys):
    code, _, err = run(text, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("l2l: error: ")
    assert message in err
    assert "Traceback" not in err


def test_subprocess_exit_code_and_no_sympy(tmp_path):
    """The installed entry point: exit 2 with one line, and the eval path never imports SymPy."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": "quadratic_gd", "eigenvalues": [1], "coefficients": [1], "eta": -1, "t": 1}')
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["l2l: error: eta: must be >= 0 (got -1.0)"]
    code = (
        "import sys; from l2l.proofs.cli import main; "
        f"rc = main(['eval', {str(ROOT / 'examples' / 'quadratic_gd.json')!r}]); "
        "assert 'sympy' not in sys.modules, 'sympy imported'; sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["results"]) == 6  # 3 step sizes x 2 horizons


def test_backprop_statuses_and_values_through_eval(capsys):
    """Done-when of issue 2: float64 overflows at eta = 3/L, t = 3000; f(w_t) underflows for a
    small step size at t = 2 x 10^5 on an ill-conditioned H; where the status is ok, the value
    matches the 60-digit reference (float64: (t + 1)(d + 2) eps-type forward error, here < 1e-10
    relative at t <= 3000 with kappa = 100; float32 likewise with eps = 1.2e-7, < 1e-2)."""
    lam = [0.01, 0.3, 1.0]
    c = [0.6, 0.0, 0.8]
    req = {"model": "quadratic_gd", "eigenvalues": lam, "coefficients": c, "eta": [0.5, 3.0], "t": [100, 3000], "backprop": ["float64", "float32"]}
    code, out, err = run(req, capsys)
    assert code == 0, err
    res = {(r["eta"], r["t"]): r for r in out["results"]}
    assert res[(3.0, 3000)]["backprop"]["float64"] == {"log_objective_grad": None, "status": "overflow"}
    assert res[(3.0, 100)]["backprop"]["float32"]["status"] == "overflow"
    for (eta, t), r in res.items():
        ref = float(quadratic_reference(lam, c, eta, t, dps=60).log_objective_grad)
        for dt, rtol in (("float64", 1e-10), ("float32", 1e-2)):
            b = r["backprop"][dt]
            if b["status"] == "ok":
                assert b["log_objective_grad"] == pytest.approx(ref, rel=rtol, abs=rtol)
            else:
                assert b["log_objective_grad"] is None
    # kappa = 100 and a small step eta = 0.25/L: the slowest direction decays like
    # (1 - 0.0025)^(2t) = e^(-1000) = 1e-435 at t = 2e5, below float64's range: f(w_t) = 0.
    req = {"model": "quadratic_gd", "eigenvalues": [0.01, 1.0], "coefficients": [0.6, 0.8], "eta": 0.25, "t": 200000, "backprop": ["float64"]}
    code, out, err = run(req, capsys)
    r = out["results"][0]
    assert r["backprop"]["float64"] == {"log_objective_grad": None, "status": "underflow"}
    # ... while the closed form is finite and right
    ref = quadratic_reference([0.01, 1.0], [0.6, 0.8], 0.25, 200000, dps=60)
    assert r["log_objective_grad"] == pytest.approx(float(ref.log_objective_grad), rel=1e-12)
    assert r["log_loss"] == pytest.approx(float(ref.log_loss), rel=1e-12)


@pytest.mark.parametrize("example", ["quadratic_gd", "backprop", "nqm", "least_squares_gd", "least_squares_sgd"])
def test_table_format_shows_every_result_and_field(example, capsys):
    """``--format table``: one row per result of the JSON form, one column per field, the values
    of the JSON form (numbers to 14 significant digits), and the precision line."""
    path = str(Path(__file__).resolve().parents[2] / "examples" / f"{example}.json")
    assert main(["eval", path, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert main(["eval", path, "--format", "table"]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.split("\n\n")[1].splitlines() if line.startswith("| ")]  # the first table
    assert len(rows) == 1 + len(out["results"])
    header = [h.strip() for h in rows[0].strip("|").split("|")]
    assert header[: len(out["results"][0])] == list(out["results"][0])
    first = [c.strip() for c in rows[1].strip("|").split(" | ")]
    for key, cell in zip(header, first):
        value = out["results"][0].get(key)
        if isinstance(value, float):
            assert math.isclose(float(cell), value, rel_tol=1e-13), (key, cell, value)
    assert out["environment"]["precision"] in text
    for number, r in enumerate(out["results"], 1):  # long lists in full, one entry per row
        for key, value in r.items():
            if isinstance(value, list) and len(value) > 4:
                block = text.split(f"\nresult {number}\n", 1)[1]
                assert all(f"| {i} |" in block for i in range(len(value)))


def test_default_format_is_json_in_a_pipe(tmp_path):
    """Not a terminal (a pipe): JSON, as scripts expect (DESIGN.md)."""
    path = Path(__file__).resolve().parents[2] / "examples" / "nqm.json"
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["model"] == "nqm"
