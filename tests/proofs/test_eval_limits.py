"""`l2l eval` input limits and bad input (issue 11, "Bounded input"): every refusal is exit 2 with
exactly one line on stderr that names the field, no traceback, and no partial output on stdout.

Nothing here asserts on wall time (DESIGN.md): `/dev/zero` and an endless pipe are refused because
at most MAX_INPUT_BYTES + 1 bytes are read, which the exit code and message show.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l2l.proofs.cli import main
from l2l.proofs.evaluate import MAX_INPUT_BYTES, MAX_INTEGER_DIGITS, MAX_NESTING, MAX_PAIRS, NQM_MAX_T

ROOT = Path(__file__).resolve().parents[2]
Q = '"model": "quadratic_gd", "eigenvalues": [1, 2], "coefficients": [1, 1]'
LS = '"model": "least_squares_sgd", "X": [[1, 0], [0, 1]], "y": [1, 2]'


def run_bytes(data: bytes, capsys) -> tuple[int, str, str]:
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    try:
        code = main(["eval", "-"])
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


BAD = [
    # (input, expected fragment of the one-line message)
    (b'{"model": "nqm"\xff}', "input: must be UTF-8 JSON"),
    (("{" + Q + ', "eta": 0.1, "t": 1, "eigenvalues": [3]}').encode(), "eigenvalues: duplicate key"),
    (('{"model": "quadratic_gd", "eigenvalues": [1, NaN], "coefficients": [1, 1], "eta": 0.1, "t": 1}').encode(),
     "eigenvalues[1]: non-finite number NaN is not allowed"),
    (("{" + Q + ', "eta": [0.1, -Infinity], "t": 1}').encode(), "eta[1]: non-finite number -Infinity is not allowed"),
    (("{" + Q + ', "eta": Infinity, "t": 1}').encode(), "eta: non-finite number Infinity is not allowed"),
    (("{" + Q + ', "eta": 1e999, "t": 1}').encode(), "eta: number 1e999 is beyond the float64 range"),
    (("{" + Q + ', "eta": 0.1, "t": ' + "9" * 5000 + "}").encode(), f"t: integer with 5000 digits exceeds the limit of {MAX_INTEGER_DIGITS}"),
    (("{" + Q + ', "eta": 0.1, "t": 1, "backprop": null}').encode(), "backprop: must be a list of dtype names (got null)"),
    (("{" + LS + ', "eta": 0.1, "t": 1, "batch_size": null}').encode(), "batch_size: must be an integer in [1, 1000000000] (got null)"),
    (("{" + LS + ', "eta": 0.1, "t": 1, "batch_size": [2, 3]}').encode(), "batch_size: must be an integer in [1, 1000000000] (got list)"),
    (("{" + LS + ', "eta": 0.1, "t": 1, "w0": null}').encode(), "w0: must be a list of numbers (got null)"),
    (("{" + LS + ', "eta": 0.1, "t": 1, "X_valid": null, "y_valid": [1]}').encode(), "X_valid: must be a list of lists of numbers (got null)"),
    (("{" + LS + ', "eta": 0.1, "t": 1, "y": [1, null]}').encode(), "y: duplicate key"),
    (('{"model": "least_squares_gd", "X": [[1, 0], [0, 1]], "y": [1, null], "eta": 0.1, "t": 1}').encode(), "y: must contain only numbers (got null)"),
    (('{"model": "quadratic_gd", "eigenvalues": ' + "[" * 10**5 + "]" * 10**5 + "}").encode(), "nested deeper than the limit"),
    (('{"model": "quadratic_gd", "eigenvalues": ' + "[" * 40 + "]" * 40 + "}").encode(), "eigenvalues[0][0]"),
    (("{" + Q + ', "eta": 0.1, "t": 1, "a\\nb\\u0007\\u2028c": 1}').encode(), "'a\\nb\\x07\\u2028c': unknown key"),
    (('{"model": "nqm", "h": [1], "sigma2": [1], "mean0": [1], "eta": 0.1, "t": 10000000}').encode(), f"t: must be one integer in [0, {NQM_MAX_T}]"),
    (('{"model": "nqm", "h": [1], "sigma2": [1], "mean0": [1], "var0": null, "eta": 0.1, "t": 3}').encode(), "var0: must be a list of numbers >= 0 (got null)"),
    (('{"model": "nqm", "h": ' + json.dumps([1.0] * 200) + ', "sigma2": 1, "mean0": 1, "eta": 0.1, "t": 9000000}').encode(),
     "t: t x d = 9000000 x 200 = 1800000000 exceeds the limit of 1e+09"),
    (("{" + Q + ', "eta": ' + json.dumps([0.001] * 200) + ', "t": ' + json.dumps(list(range(1, 101))) + "}").encode(),
     f"eta: 200 step sizes x 100 horizons = 20000 (eta, t) pairs exceeds the limit of {MAX_PAIRS}"),
    (("{" + Q + ', "eta": [0.1, 0.2], "t": 200000, "backprop": ["float64"]}').encode().replace(b"[1, 2]", json.dumps([1.0] * 100).encode())
     .replace(b'"coefficients": [1, 1]', b'"coefficients": ' + json.dumps([1.0] * 100).encode()),
     "backprop: t x dim = 200000 x 100 = 20000000"),
    (("{" + Q + ', "eta": ' + json.dumps([0.1] * 30) + ', "t": 1000, "backprop": ["float64"]}').encode().replace(b"[1, 2]", json.dumps([1.0] * 300).encode())
     .replace(b'"coefficients": [1, 1]', b'"coefficients": ' + json.dumps([1.0] * 300).encode()),
     "backprop: len(eta) x t x dim^2 = 30 x 1000 x 300^2 = 2700000000 exceeds the limit of 2e+09"),
    (("{" + LS + ', "eta": [0.1, 0.2], "t": 9000000}').encode(), "t: len(eta) x (max t + 1) = 2 x 9000001 exceeds the limit"),
    (('{"model": "least_squares_sgd", "X": ' + json.dumps([[1.0] * 100] * 100) + ', "y": ' + json.dumps([1.0] * 100) + ', "eta": 0.001, "t": 3000}').encode(),
     "t: len(eta) x max t x n x min(n, d)^2 = 1 x 3000 x 100 x 100^2 = 3000000000 exceeds the limit of 2e+09"),
]


@pytest.mark.parametrize("data,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_input_names_the_field_in_one_line(data, message, capsys):
    code, out, err = run_bytes(data, capsys)
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("l2l: error: "), err
    assert message in err, err
    assert "Traceback" not in err


def test_a_million_step_sizes_are_refused_by_the_pairs_limit(capsys):
    data = ("{" + Q + ', "eta": [' + ", ".join(["0.001"] * 10**6) + '], "t": 1}').encode()
    code, out, err = run_bytes(data, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"eta: 1000000 step sizes x 1 horizons = 1000000 (eta, t) pairs exceeds the limit of {MAX_PAIRS}" in err


def test_oversized_input_is_refused(capsys):
    code, out, err = run_bytes(b" " * (MAX_INPUT_BYTES + 1), capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"input: is larger than the limit of {MAX_INPUT_BYTES} bytes" in err
    # exactly at the limit it is read and parsed (here: whitespace only, so invalid JSON)
    code, out, err = run_bytes(b" " * MAX_INPUT_BYTES, capsys)
    assert code == 2 and "invalid JSON" in err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_by_the_size_cap():
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", "/dev/zero"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "input: is larger than the limit" in proc.stderr


def test_endless_stdin_is_refused_by_the_size_cap():
    """A generator that never stops writing: l2l reads MAX_INPUT_BYTES + 1 bytes and exits 2."""
    gen = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: sys.stdout.write('[1,' * 4096)"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", "-"], cwd=ROOT, stdin=gen.stdout,
                              capture_output=True, text=True, timeout=120)
    finally:
        gen.stdout.close()
        gen.kill()
        gen.wait()
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "input: is larger than the limit" in proc.stderr


def test_values_beyond_float64_are_null_never_a_crash(capsys):
    """eigenvalue 1e308, eta 0: d/d eta (1/t) ln f = -2 lambda / (1 - eta lambda) = -2e308 is beyond
    float64: printed as null, the rest of the output complete (it used to print 181 bytes of JSON
    and then `internal error: ValueError`)."""
    code, out, err = run_bytes(("{" + '"model": "quadratic_gd", "eigenvalues": [1e308], "coefficients": [1]'
                                + ', "eta": 0, "t": 1}').encode(), capsys)
    assert code == 0 and err == ""
    r = json.loads(out)["results"][0]
    assert r["log_objective_grad"] is None
    assert r["naive_grad_sign"] == -1
    assert r["log_loss"] == pytest.approx(float(__import__("numpy").log(0.5e308)), rel=1e-15)


def test_nesting_limit_leaves_room_for_every_model():
    assert MAX_NESTING >= 3
