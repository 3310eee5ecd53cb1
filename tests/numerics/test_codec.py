"""Counterexample codecs (numerics.codec): every registered problem class round-trips through its
JSON dict, key sets are distinct, and a dict no class claims decodes to None."""

from __future__ import annotations

import json

import numpy as np
import pytest

from l2l.numerics import LeastSquaresProblem, QuadraticProblem, codec
from l2l.numerics.nqm import NQMProblem, State

EXAMPLES = [
    QuadraticProblem([1.0, 4.0, 0.5], [0.6, 0.8, -0.1]),
    LeastSquaresProblem([[1.0, 0.5], [0.2, 2.0], [0.3, -0.1]], [1.0, 1.0, 0.5]),
    LeastSquaresProblem([[1.0, 0.5], [0.2, 2.0]], [1.0, -1.0], X_valid=[[1.0, 0.0]], y_valid=[0.3]),
    NQMProblem([2.0, 1.0], [0.5, 1.0], [1.0, 0.0], [0.0, 3.0]),
    NQMProblem.stand_in(5, kappa=0.5),
    State([1.0, 2.0], [0.5, 0.0], [-0.25, 0.0]),
]


def _fields(obj) -> dict:
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("problem", EXAMPLES, ids=lambda p: type(p).__name__)
def test_round_trip_through_json(problem):
    d = problem.to_dict()
    assert set(d) == set(type(problem).CODEC_KEYS)
    back = codec.decode(json.loads(json.dumps(d)))
    assert type(back) is type(problem)
    for name, value in _fields(problem).items():
        assert _equal(getattr(back, name), value), name


def test_every_registered_class_has_an_example():
    assert set(codec.registered().values()) == {type(p) for p in EXAMPLES}


def test_key_sets_are_distinct_and_a_duplicate_is_refused():
    keys = list(codec.registered())
    assert len(keys) == len(set(keys))

    class Impostor:
        CODEC_KEYS = ("eigenvalues", "coefficients")

        def to_dict(self):
            return {}

        @classmethod
        def from_dict(cls, obj):
            return cls()

    with pytest.raises(ValueError, match="already registered by QuadraticProblem"):
        codec.register(Impostor)
    assert codec.registered()[frozenset(Impostor.CODEC_KEYS)] is QuadraticProblem


def test_quadratic_dict_is_unchanged():
    """Existing JSON counterexamples ({"eigenvalues", "coefficients"}) keep decoding."""
    assert QuadraticProblem([1.0, 4.0], [0.6, 0.8]).to_dict() == {"eigenvalues": [1.0, 4.0], "coefficients": [0.6, 0.8]}
    p = codec.decode({"eigenvalues": [1.0, 4.0], "coefficients": [0.6, 0.8]})
    assert isinstance(p, QuadraticProblem) and p.eigenvalues.tolist() == [1.0, 4.0]


@pytest.mark.parametrize("obj", [{}, {"eigenvalues": [1.0]}, {"eigenvalues": [1.0], "coefficients": [1.0], "x": 1},
                                 {"t": 3}, [1.0, 2.0], "eigenvalues", None, 3.0])
def test_unknown_input_decodes_to_none(obj):
    assert codec.decode(obj) is None
