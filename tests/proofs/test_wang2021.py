"""Every claim of the Wang et al. (2021) catalogue meets its expectation under the `ci` profile.

This is the same run as `l2l check wang2021 --profile ci` (one test per claim, so a miss names the
claim); negative controls must be refuted with a counterexample attached.
"""

from __future__ import annotations

import pytest

from proofs.catalogue import load
from proofs.claim import run_claim

CLAIMS = load("wang2021")


def test_catalogue_size():
    assert len(CLAIMS) >= 15
    assert sum(c.expect == "refuted" for c in CLAIMS) >= 3
    assert all(c.statement and c.source and c.kind for c in CLAIMS)


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_meets_expectation(c):
    r = run_claim(c, profile="ci")
    assert r.matches, f"{c.id}: verdict {r.verdict}, expected {c.expect}: {r.message} {r.counterexample}"
    if r.verdict == "refuted":
        assert r.counterexample is not None
