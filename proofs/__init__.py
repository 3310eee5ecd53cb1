"""l2l.proofs: claims, the runner, public Hypothesis strategies, the papers, reports and the CLI.

The user-facing API is ``from l2l import claim, evidence, refute, strategies`` (DESIGN.md, "Claims");
``l2l.proofs.claim`` is the module that defines it. Everything here
loads lazily, so that ``l2l eval`` and the pytest plugin (in projects that do not use l2l) stay
cheap: importing this package imports no numpy, Hypothesis or SymPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name in ("strategies", "catalogue", "papers"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'l2l.proofs' has no attribute {name!r}")
