"""The layout of theory: one expectation engine, one status ranking, a registry nothing imports back
(checked on the source, without importing it twice). The import direction itself (no numpy,
nothing from numerics or proofs, no cycles) is guarded for the whole package by
``tests/test_architecture.py``."""

from __future__ import annotations

import ast
import pathlib

import sympy

from l2l.theory import expectation, nqm, registry
from l2l.theory.derivation import STATUSES, status_strength

THEORY = pathlib.Path(expectation.__file__).resolve().parents[1]
MODELS = ("quadratic", "least_squares", "sgd_moments", "nqm")


def _imports(path: pathlib.Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_import_direction():
    for path in sorted(THEORY.rglob("*.py")):
        names = _imports(path)
        if path.stem != "registry":
            assert "l2l.theory.registry" not in names, f"{path} imports the registry back"
        if path.parent.name == "expectation":  # the engine imports no model
            assert not any(n.startswith(tuple(f"l2l.theory.{m}" for m in MODELS)) for n in names), path
    for model in MODELS:  # models import the engine, not the lambdify layer
        assert "l2l.theory.lambdify" not in _imports(THEORY / f"{model}.py")


def test_one_status_ranking():
    order = [s for s in STATUSES if s not in ("definition", "sampled", "symbolic-d<=N")]
    ranks = [status_strength(s) for s in order]
    assert ranks == sorted(ranks, reverse=True) and ranks[-1] == -1
    assert status_strength("symbolic-d<=3") == 2
    assert not hasattr(nqm, "_rank")


def test_registry_is_the_only_lookup():
    for model in MODELS:
        module = getattr(registry, model)
        assert not hasattr(module, "get") and isinstance(module.DERIVATIONS, dict)


def test_scalar_laws_share_the_engine():
    x, c = sympy.symbols("x c", real=True)
    X, s2 = sympy.symbols("X s2", positive=True)
    laws = (expectation.KnownMoments((x,), ((x, 0), (x**2, X))), expectation.CenteredNormal(c, s2))
    assert sympy.expand(expectation.expectation_of((x - c) ** 2 * 3, laws) - 3 * (X + s2)) == 0
    assert isinstance(nqm.moments(), expectation.ScalarMomentDerivation)
