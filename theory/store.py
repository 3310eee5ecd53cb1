"""Where verifications of registered derivations are kept between processes.

:func:`verification_store` installs, for a block, an object with ``get(name)`` and
``put(name, verification)`` (the CLI's disk cache, :class:`l2l.proofs.cache.DerivationCache`);
:func:`l2l.theory.derivation.verified` and the quotes of registered derivations read it before
verifying and write what they verify. This module imports nothing (no SymPy), so a command that
installs a store but never verifies a derivation, ``l2l check my_claims.py`` say, does not pay for
importing SymPy (about half of such a run's start-up, measured).

>>> class Memory(dict):
...     def put(self, name, v):
...         self[name] = v
>>> with verification_store(Memory()) as store:
...     keep("a.derivation", "its verification")
...     lookup("a.derivation")
'its verification'
>>> lookup("a.derivation") is None  # outside the block: no store
True
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

#: The store of the current :func:`verification_store` block, or None.
_STORE: Any = None
#: Names known to be in that store (read from it or written to it in this block).
_KNOWN: set[str] = set()


@contextlib.contextmanager
def verification_store(store: Any) -> Iterator[Any]:
    """Within the block, :func:`l2l.theory.derivation.verified` and the quotes of registered
    derivations read a verification from ``store`` before computing it, and put there what they
    compute. The store is responsible for keying on everything a verification depends on (the
    package's source and the versions of SymPy and its peers); a derivation built or changed by
    hand never reaches it. ``None`` turns the store off for the block."""
    global _STORE, _KNOWN
    previous = _STORE, _KNOWN
    _STORE, _KNOWN = store, set()
    try:
        yield store
    finally:
        _STORE, _KNOWN = previous


def current() -> Any:
    """The store of the current block, or None."""
    return _STORE


def lookup(name: str) -> Any:
    """The current store's verification of ``name``, or None (no store, or not stored)."""
    if _STORE is None:
        return None
    v = _STORE.get(name)
    if v is not None:
        _KNOWN.add(name)
    return v


def keep(name: str, v: Any) -> None:
    """Put the verification ``v`` of ``name`` in the current store, unless it is known to be there."""
    if _STORE is not None and name not in _KNOWN:
        _STORE.put(name, v)
        _KNOWN.add(name)
