"""Every claim of the Wang et al. (2021) catalogue meets its expectation under the `ci` profile
(verdicts from the session's `l2l report` run; see ``catalogue_checks``)."""

from __future__ import annotations

import pytest

from l2l.proofs.catalogue import load

from .catalogue_checks import check_verdict

CLAIMS = load("wang2021")


def test_catalogue_size():
    assert len(CLAIMS) >= 15
    assert sum(c.expect == "refuted" for c in CLAIMS) >= 3
    assert all(c.statement and c.source and c.kind for c in CLAIMS)


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_meets_expectation(c, main_job_report):
    check_verdict(c, main_job_report)
