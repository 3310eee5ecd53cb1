"""l2l.proofs: claims, the runner, public Hypothesis strategies, the papers, reports and the CLI.

``from l2l import claim, strategies`` is the user-facing API (DESIGN.md, "Claims"). Heavy
submodules (Hypothesis strategies, catalogues) load lazily so that ``l2l eval`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .claim import claim, evidence, refute

__all__ = ["claim", "evidence", "refute", "strategies"]


def __getattr__(name: str) -> Any:
    if name in ("strategies", "catalogue", "papers"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'l2l.proofs' has no attribute {name!r}")
