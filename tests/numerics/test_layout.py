"""The numerics layout keeps two promises visible in its imports:

* independence (DESIGN.md): within a model, the simulation (Monte Carlo / unrolled loop) and the
  mpmath reference import nothing of numerics but validation, the problem objects, the codec, the
  Monte Carlo result container and ``results`` (presentation only: help, repr) -- never the closed form they check;
* cold start: ``import l2l.numerics`` and the ``l2l eval`` models load neither SciPy's optimisers
  nor SymPy (SciPy is imported inside the functions that need it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

NUMERICS = Path(__file__).resolve().parents[2] / "numerics"
SHARED = {"validation", "problems", "codec", "estimate", "results"}
INDEPENDENT = [
    "quadratic/unroll.py",
    "quadratic/reference.py",
    "least_squares/simulation.py",
    "least_squares/reference.py",
    "least_squares/montecarlo.py",
    "nqm/montecarlo.py",
    "nqm/reference.py",
    "nqm/zhang.py",
    "estimators/montecarlo.py",
    "break_even/enumeration.py",
    "break_even/montecarlo.py",
    "learned/reference.py",
]


def _numerics_imports(path: Path) -> set[str]:
    """numerics modules imported by ``path`` (relative imports resolved to 'sub.module' names)."""
    pkg = path.parent.relative_to(NUMERICS).parts
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg)[: len(pkg) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("l2l.numerics"):
                mod = node.module[len("l2l.numerics") :].lstrip(".")
            else:
                continue
            for a in node.names:
                out.add(f"{mod}.{a.name}".strip(".") if not mod or (NUMERICS / mod.replace(".", "/") / "__init__.py").exists() else mod)
    return out


@pytest.mark.parametrize("rel", INDEPENDENT)
def test_simulations_and_references_share_only_validation(rel):
    imported = _numerics_imports(NUMERICS / rel)
    assert imported <= SHARED, f"{rel} imports {sorted(imported - SHARED)}"


def test_no_private_copies_of_validators():
    """Input checks live in numerics/validation.py: no module defines the old private copies."""
    names = {"_int", "_real", "_schedule", "_problem", "_count", "_seed", "_horizon", "_per_coordinate",
             "_vec_range", "_nonneg", "_positive", "_integer", "_choice", "_batch", "_psd", "_vector",
             "_real_array", "_scalar_eta", "_t", "_dps", "_num", "_vec", "_steps", "_etas", "_as_list"}
    found = []
    for path in NUMERICS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found.append(f"{path.relative_to(NUMERICS)}:{node.lineno} {node.name}")
    assert not found


def test_cold_start_loads_no_scipy_optimize_and_no_sympy():
    code = (
        "import sys, l2l.numerics, l2l.numerics.nqm, l2l.numerics.quadratic.stable, "
        "l2l.numerics.least_squares.closed_form, l2l.numerics.least_squares.moments\n"
        "print(sorted(m for m in sys.modules if m.startswith(('scipy', 'sympy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
