"""l2l: verify the theory of learning-to-learn.

The repository's folders ``theory/``, ``numerics/`` and ``proofs/`` install as the subpackages
:mod:`l2l.theory` (SymPy derivations), :mod:`l2l.numerics` (stable evaluators, simulators,
references) and :mod:`l2l.proofs` (claims, runner, catalogue, report, CLI). The user-facing API of
a claim file sits here (DESIGN.md, "Claims")::

    from l2l import claim, evidence, refute, strategies as ps

Everything loads lazily, so ``import l2l.numerics`` (and ``l2l eval``) never pays for Hypothesis,
SymPy or the catalogue.

>>> import l2l
>>> l2l.claim.__module__
'l2l.proofs.claim'
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["claim", "evidence", "refute", "strategies"]


def __getattr__(name: str) -> Any:
    if name in ("claim", "evidence", "refute"):
        return getattr(importlib.import_module("l2l.proofs.claim"), name)
    if name == "strategies":
        return importlib.import_module("l2l.proofs.strategies")
    raise AttributeError(f"module 'l2l' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
