"""Guards on the architecture (DESIGN.md, "Layout"; issue 10): the import direction
``proofs -> numerics -> theory``, no import cycles, and no module reaching into another module's
private names (an independent Monte Carlo simulation or mpmath reference that imported a private
helper of the closed form it checks would no longer be independent).

:func:`violations` reads the source with :mod:`ast` (every ``import``, at module level or inside a
function, except under ``if TYPE_CHECKING``); the tests run it on the package and on small trees
that break each rule, so a guard that could not fail would show.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Repository folder -> installed package (setup.py).
FOLDERS = {"l2l": "l2l", "theory": "l2l.theory", "numerics": "l2l.numerics", "proofs": "l2l.proofs"}
#: What each layer must not import (prefixes of absolute module names).
FORBIDDEN = {
    "l2l.theory": ("numpy", "scipy", "matplotlib", "hypothesis", "l2l.numerics", "l2l.proofs"),
    "l2l.numerics": ("l2l.proofs", "hypothesis"),
}


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package tree under ``root``, by its installed dotted name."""
    out = {}
    for folder, package in FOLDERS.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")) if base.is_dir() else []:
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """(module imported, name imported from it or None, line) for every import of ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    skip: set[int] = set()
    for node in ast.walk(tree):  # imports under `if TYPE_CHECKING:` do not run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for b in node.body for n in ast.walk(b)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out += [(module, a.name, node.lineno) for a in node.names]
    return out


def violations(root: Path) -> list[str]:
    """Every breach of the three rules in the tree under ``root``, one line each."""
    mods = modules(root)
    found: list[str] = []
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        where = f"{path.relative_to(root)}"
        for module, imported, line in _imports(name, path):
            target = f"{module}.{imported}" if imported and f"{module}.{imported}" in mods else module
            for layer, banned in FORBIDDEN.items():
                if (name == layer or name.startswith(layer + ".")) and any(
                    target == b or target.startswith(b + ".") for b in banned
                ):
                    found.append(f"upward import: {where}:{line} ({name}) imports {target}")
            if target in mods and target != name:
                graph[name].add(target)
                if imported and imported.startswith("_") and not imported.startswith("__") and target == module:
                    found.append(f"private import: {where}:{line} ({name}) imports {imported} from {module}")
    # cycles: depth-first search over the import graph
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                found.append("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def test_the_package_keeps_its_layers():
    assert violations(ROOT) == []


def test_every_folder_is_a_package():
    for folder in FOLDERS:
        for sub in [ROOT / folder, *[p for p in (ROOT / folder).rglob("*") if p.is_dir() and any(p.glob("*.py"))]]:
            if sub.name not in ("__pycache__", "templates"):
                assert (sub / "__init__.py").is_file(), f"{sub.relative_to(ROOT)} has modules but no __init__.py"


@pytest.mark.parametrize("files, expected", [
    ({"theory/bad.py": "import numpy as np\n"}, "upward import: theory/bad.py:1 (l2l.theory.bad) imports numpy"),
    ({"theory/bad.py": "def f():\n    from l2l.numerics import stable\n"}, "(l2l.theory.bad) imports l2l.numerics"),
    ({"theory/bad.py": "from ..proofs import claim\n"}, "(l2l.theory.bad) imports l2l.proofs"),
    ({"numerics/bad.py": "from l2l.proofs.claim import claim\n"}, "(l2l.numerics.bad) imports l2l.proofs.claim"),
    ({"numerics/a.py": "from . import b\n", "numerics/b.py": "from .a import f\n"},
     "import cycle: l2l.numerics.a -> l2l.numerics.b -> l2l.numerics.a"),
    ({"numerics/mc.py": "from .closed import _helper\n", "numerics/closed.py": "def _helper(): pass\n"},
     "private import: numerics/mc.py:1 (l2l.numerics.mc) imports _helper from l2l.numerics.closed"),
])
def test_the_guard_catches_each_breach(tmp_path, files, expected):
    """Negative controls: a small tree that breaks one rule is reported, naming the breach."""
    for folder in FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    found = violations(tmp_path)
    assert any(expected in v for v in found), found


def test_the_guard_accepts_the_allowed_direction(tmp_path):
    for folder in FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "proofs/a.py").write_text("import numpy\nfrom l2l.numerics import b\nfrom l2l.theory import c\n")
    (tmp_path / "numerics/b.py").write_text("import numpy\nimport scipy\nfrom l2l.theory import c\n")
    (tmp_path / "theory/c.py").write_text("import sympy\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import numpy\n")
    assert violations(tmp_path) == []
