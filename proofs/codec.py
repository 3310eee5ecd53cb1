"""Counterexamples as JSON and back: :func:`to_jsonable` encodes what a claim received, and
:func:`decode_counterexample` turns a JSON counterexample into arguments that replay it.

Problem objects encode through their own ``to_dict`` and decode through the codec registered next
to their class (:mod:`l2l.numerics.codec`, keyed by the dict's key set), so every problem type that
a strategy generates replays; draws from Hypothesis' ``data`` object are recorded in order
(:class:`ReplayData`).

>>> decode_counterexample(to_jsonable({"t": 3, "x": float("inf")}))
{'t': 3, 'x': inf}
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["to_jsonable", "decode_counterexample", "ReplayData", "RecordingData"]


# -- JSON -------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Arrays as lists, problem objects as dicts, non-finite floats as strings; else ``repr``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()] if value.ndim else to_jsonable(value.item())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, ReplayData):
        return [{"label": lab, "value": to_jsonable(v)} for lab, v in value.draws]
    try:
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_jsonable(to_dict())
        if hasattr(value, "_mpf_"):
            return str(value)
        return repr(value)
    except Exception:  # noqa: BLE001 - a witness whose repr (or to_dict) raises still gets a verdict
        return f"<{type(value).__name__} that cannot be shown>"


def decode_counterexample(obj: Any) -> Any:
    """Inverse of :func:`to_jsonable` for replaying a JSON counterexample: a dict whose keys are
    exactly those of a registered problem class becomes that problem (:func:`l2l.numerics.codec.decode`),
    recorded ``data`` draws a :class:`ReplayData`, the strings 'nan' / 'inf' / '-inf' floats again."""
    if isinstance(obj, Mapping):
        from l2l.numerics import codec

        problem = codec.decode(obj)
        if problem is not None:
            return problem
        out = {}
        for k, v in obj.items():
            if k == "data" and isinstance(v, list) and all(isinstance(d, Mapping) and set(d) == {"label", "value"} for d in v):
                out[k] = ReplayData((d["label"], decode_counterexample(d["value"])) for d in v)
            else:
                out[k] = decode_counterexample(v)
        return out
    if isinstance(obj, list):
        return [decode_counterexample(v) for v in obj]
    if obj in ("nan", "inf", "-inf"):
        return float(obj)
    return obj


# -- data draws: record, then replay ------------------------------------------------------------


class RecordingData:
    """Stands in for Hypothesis' ``data`` object and records every draw."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.draws: list[tuple[str | None, Any]] = []

    def draw(self, strategy: Any, label: Any = None) -> Any:
        value = self._inner.draw(strategy, label=label)
        self.draws.append((None if label is None else str(label), value))
        return value

    def __repr__(self) -> str:
        return f"data({self.draws!r})"


class ReplayData:
    """Replays recorded draws in order: re-run a counterexample that used ``st.data()``."""

    def __init__(self, draws: Iterable[tuple[str | None, Any]]):
        self.draws = list(draws)
        self._next = 0

    def draw(self, strategy: Any = None, label: Any = None) -> Any:
        if self._next >= len(self.draws):
            raise IndexError("the replayed example has no more draws")
        value = self.draws[self._next][1]
        self._next += 1
        return value

    def __repr__(self) -> str:
        return f"ReplayData({self.draws!r})"


