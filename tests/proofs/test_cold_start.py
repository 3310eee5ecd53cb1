"""``l2l eval`` starts cheaply for every model (issue 10): it never imports SymPy, matplotlib,
Hypothesis, jinja2 or SciPy's optimisers. Checked by what the process imported, not by timing it
(verdicts and tests never depend on the machine's speed; ``benchmarks/cold_start.py`` measures
the times). The same holds for loading the package and its pytest plugin, which is active in every
project where l2l-theory is installed and must stay inert there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Modules a cold ``l2l eval`` must not load (the heavy ones; numpy and mpmath are its job).
HEAVY = ("sympy", "matplotlib", "hypothesis", "jinja2", "scipy.optimize", "l2l.theory", "l2l.proofs.claim")
EXAMPLES = ["quadratic_gd.json", "backprop.json", "least_squares_gd.json", "least_squares_sgd.json", "nqm.json", "meta_estimators.json"]

PROBE = """
import io, json, sys
from contextlib import redirect_stdout
from l2l.proofs.cli import main
buf = io.StringIO()
with redirect_stdout(buf):
    code = main(sys.argv[1:])
heavy = sorted({m for m in sys.modules for h in HEAVY if m == h or m.startswith(h + ".")})
print(json.dumps({"code": code, "heavy": heavy, "out": buf.getvalue()}))
"""


def _probe(args: list[str]) -> dict:
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("example", EXAMPLES)
def test_eval_loads_nothing_heavy(example):
    r = _probe(["eval", f"examples/{example}"])
    assert r["code"] == 0 and json.loads(r["out"])["results"], r
    assert r["heavy"] == [], f"l2l eval examples/{example} imported {r['heavy']}"



def test_checking_a_claim_file_that_verifies_nothing_never_imports_sympy(tmp_path):
    """``l2l check my_claims.py`` and a report of it install the derivation store
    (``l2l.theory.store``) but verify no derivation, so SymPy, about half of such a run's start-up,
    is never imported. Teeth: importing the store from ``theory.derivation`` again (as before)
    fails this test."""
    path = tmp_path / "numeric_claims.py"
    path.write_text("from l2l import claim\n\n\n@claim(id='mylab.trivial', statement='1 = 1', source='test', kind='identity')\n"
                    "def trivial():\n    assert 1 == 1\n")
    for args in (["check", str(path), "--jobs", "1"],
                 ["report", "--claims", str(path), "--derivations", "none", "--out", str(tmp_path / "rep")]):
        r = _probe(args)
        assert r["code"] == 0, r
        sympy = [m for m in r["heavy"] if m == "sympy" or m.startswith(("sympy.", "l2l.theory.derivation"))]
        assert sympy == [], f"l2l {args[0]} of a claim file imported {sympy[:3]}"

def test_the_package_and_its_plugin_import_nothing_heavy():
    """Importing ``l2l``, ``l2l.proofs``, ``l2l.numerics`` and the pytest plugin loads numpy (the
    problems are numpy arrays) and nothing heavier."""
    code = ("import json, sys, l2l, l2l.proofs, l2l.numerics, l2l.proofs.pytest_plugin\n"
            "print(json.dumps(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert "numpy" in loaded  # the probe sees what it should
    heavy = [m for m in loaded if m.split(".")[0] in ("scipy", "sympy", "hypothesis", "matplotlib", "jinja2")
             or m.startswith(("l2l.proofs.claim", "l2l.theory"))]
    assert heavy == [], heavy


def test_the_plugin_is_inert_in_a_project_without_l2l(tmp_path):
    """A project that never imports l2l: its test passes, its collection is unchanged, and the
    plugin loaded nothing of the package beyond itself."""
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_plain():\n"
        "    loaded = [m for m in sys.modules if m.startswith(('l2l.proofs.claim', 'l2l.numerics', 'l2l.theory', 'sympy'))]\n"
        "    assert loaded == [], loaded\n"
    )
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "1 passed" in proc.stdout
    plugins = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                             cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "test_plain.py::test_plain" in plugins.stdout and "1 test collected" in plugins.stdout, plugins.stdout
