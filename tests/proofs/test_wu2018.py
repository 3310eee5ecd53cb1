"""Every claim of the noisy-quadratic-model spec (papers/wu2018.md: the papers ``wu2018``, Wu et al.
2018, and ``zhang2019``, Zhang et al. 2019) meets its expectation under the `ci` profile (verdicts
from the session's `l2l report` run; see ``catalogue_checks``), and the two papers together cover
the spec's checkable claims (§11 items 1-20)."""

from __future__ import annotations

import re

import pytest

from l2l.proofs.catalogue import load

from .catalogue_checks import check_verdict

CLAIMS = load("wu2018") + load("zhang2019")


def test_catalogue_covers_spec_items():
    assert len(CLAIMS) >= 30
    assert len(load("zhang2019")) >= 10 and all(c.id.startswith("wu2018.") for c in CLAIMS)  # ids kept
    assert sum(c.id.startswith("wu2018.neg.") for c in CLAIMS) >= 5
    assert all(c.expect == "refuted" for c in CLAIMS if c.id.startswith(("wu2018.neg.", "wu2018.finding.")))
    items = set()
    for c in CLAIMS:
        for m in re.finditer(r"§11 items? ([\d, and-]+)", c.source):
            items |= {int(x) for x in re.findall(r"\d+", m.group(1))}
    missing = set(range(1, 21)) - items
    assert not missing, f"spec §11 items without a claim: {sorted(missing)}"


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_meets_expectation(c, main_job_report):
    check_verdict(c, main_job_report)
