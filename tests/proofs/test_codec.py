"""Counterexamples of every problem type decode and replay (issue 10, item 6).

For each public strategy that generates problems, a claim that is false on every example is run;
its JSON counterexample (after a round trip through ``json``) decodes to a problem of the same
class with the same fields, and replaying the claim on it fails the same way. The codec is the
one registered next to each problem class (:mod:`l2l.numerics.codec`), so a new problem type
without a codec fails here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given

from l2l import claim, strategies as ps
from l2l.proofs.claim import REGISTRY
from l2l.proofs.codec import decode_counterexample, to_jsonable
from l2l.proofs.runner import run_claim

STRATEGIES = {
    "quadratic": ps.quadratic_problems(max_dim=3),
    "least-squares": ps.least_squares_problems(max_n=3, max_d=2, validation=True),
    "least-squares-train-only": ps.least_squares_problems(max_n=3, max_d=2, validation=False),
    "nqm": ps.nqm_problems(max_dim=3),
}


def _fields(problem) -> dict:
    return {k: (None if v is None else np.asarray(v).tolist()) for k, v in problem.to_dict().items()}


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_a_counterexample_decodes_and_replays(kind):
    cid = f"test.codec.{kind}"
    REGISTRY.pop(cid, None)

    @claim(id=cid, statement="false", source="test", kind="identity")
    @given(problem=STRATEGIES[kind])
    def always_false(problem):
        assert problem is None, f"a {type(problem).__name__}"

    try:
        r = run_claim(always_false, profile="ci")
        assert r.verdict == "refuted", r.message
        wire = json.loads(json.dumps(r.counterexample))
        decoded = decode_counterexample(wire)
        original = r.raw_counterexample["problem"]
        assert type(decoded["problem"]) is type(original)
        assert _fields(decoded["problem"]) == _fields(original)
        assert to_jsonable(decoded) == wire
        with pytest.raises(AssertionError, match=type(original).__name__):
            always_false.replay(decoded)
    finally:
        REGISTRY.pop(cid, None)


def test_an_unknown_dict_stays_a_dict():
    obj = {"eigenvalues": [1.0], "coefficients": [1.0], "extra": 1}
    assert decode_counterexample(obj) == obj
