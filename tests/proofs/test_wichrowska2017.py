"""Every claim of the Wichrowska et al. (2017) catalogue meets its expectation under the `ci`
profile (verdicts from the session's `l2l report` run; see ``catalogue_checks``), and the catalogue
covers the checkable claims C1-C7 of the paper's digest (C8, meta-training, is not catalogued yet).
The claims cite the paper, not the digest, so the map from its items to claims lives here."""

from __future__ import annotations

import pytest

from l2l.proofs.catalogue import load

from .catalogue_checks import check_verdict

CLAIMS = load("wichrowska2017")

SPEC_ITEMS = {
    "C1": ["wichrowska2017.c1.gradient-scale-invariance", "wichrowska2017.neg.invariance-at-tiny-gradients",
           "wichrowska2017.neg.invariance-with-additive-noise", "wichrowska2017.neg.parameter-rescaling-invariance"],
    "C2": ["wichrowska2017.c2.first-step-features", "wichrowska2017.finding.first-step-features-threshold"],
    "C3": ["wichrowska2017.c3.timescale-derivation", "wichrowska2017.c3.initial-timescales"],
    "C4": ["wichrowska2017.c4.log-lr-shift-one-step", "wichrowska2017.neg.log-lr-shift-two-steps"],
    "C5": ["wichrowska2017.c5.unit-rms-direction"],
    "C6": ["wichrowska2017.c6.sampler-statistics", "wichrowska2017.finding.unroll-lengths-heavy-tailed"],
    "C7": ["wichrowska2017.c7.log-meta-objective-derivation", "wichrowska2017.c7.meta-objective-properties",
           "wichrowska2017.finding.meta-objective-equal-credit"],
}

#: The issue's required negative controls (parameter rescaling, additive noise, two-step shift) and the boundary.
NEGATIVE_CONTROLS = {
    "wichrowska2017.neg.parameter-rescaling-invariance",
    "wichrowska2017.neg.invariance-with-additive-noise",
    "wichrowska2017.neg.log-lr-shift-two-steps",
    "wichrowska2017.neg.invariance-at-tiny-gradients",
}


def test_catalogue_covers_c1_to_c7():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) == 16 and all(i.startswith("wichrowska2017.") for i in ids)
    assert sorted(SPEC_ITEMS) == [f"C{k}" for k in range(1, 8)]
    mapped = [i for item in SPEC_ITEMS.values() for i in item]
    assert sorted(mapped) == sorted(ids), set(mapped) ^ set(ids)


def test_negative_controls_and_findings_expect_refuted():
    by_id = {c.id: c for c in CLAIMS}
    assert NEGATIVE_CONTROLS <= set(by_id)
    refuted = {c.id for c in CLAIMS if c.expect == "refuted"}
    assert refuted == {i for i in by_id if i.startswith(("wichrowska2017.neg.", "wichrowska2017.finding."))}


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_meets_expectation(c, main_job_report):
    check_verdict(c, main_job_report)
