"""Problems as JSON and back: one registry of problem classes, keyed by the key set of their dict.

A problem class declares the keys of its ``to_dict()`` (``CODEC_KEYS``), implements
``to_dict()`` (JSON-ready: lists of floats, None) and the classmethod ``from_dict(obj)``, and is
registered next to its definition with ``@codec.register``. :func:`decode` turns a dict back into the
problem whose key set it matches exactly; anything else is None. Two classes with the same key set
cannot both be registered (a dict must name one class).

>>> from l2l.numerics import QuadraticProblem
>>> p = decode({"eigenvalues": [1.0, 4.0], "coefficients": [0.6, 0.8]})
>>> type(p).__name__, p.eigenvalues.tolist()
('QuadraticProblem', [1.0, 4.0])
>>> decode({"eigenvalues": [1.0]}) is None
True
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["register", "decode", "registered"]

_REGISTRY: dict[frozenset, type] = {}


def register(cls: type) -> type:
    """Class decorator: register ``cls`` under ``frozenset(cls.CODEC_KEYS)``."""
    keys = frozenset(getattr(cls, "CODEC_KEYS", ()))
    if not keys:
        raise TypeError(f"{cls.__name__}: a registered class needs CODEC_KEYS (the keys of its to_dict())")
    if not (callable(getattr(cls, "to_dict", None)) and callable(getattr(cls, "from_dict", None))):
        raise TypeError(f"{cls.__name__}: a registered class needs to_dict() and the classmethod from_dict(obj)")
    other = _REGISTRY.get(keys)
    if other is not None and other.__qualname__ != cls.__qualname__:
        raise ValueError(f"{cls.__name__}: key set {sorted(keys)} is already registered by {other.__name__}")
    _REGISTRY[keys] = cls
    return cls


def registered() -> dict[frozenset, type]:
    """A copy of the registry: key set -> class."""
    return dict(_REGISTRY)


def decode(obj: Any) -> Any:
    """The registered problem whose key set equals ``obj``'s keys, built by its ``from_dict``;
    None for anything else (a non-dict, or a dict no class claims). Classes register when their
    module is imported; ``import l2l.numerics`` imports every problem module."""
    if not isinstance(obj, Mapping):
        return None
    cls = _REGISTRY.get(frozenset(obj))
    return None if cls is None else cls.from_dict(obj)
