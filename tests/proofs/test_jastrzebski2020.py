"""Every claim of the Jastrzębski et al. (2020) catalogue meets its expectation under the `ci`
profile (verdicts from the session's `l2l report` run; see ``catalogue_checks``), and the catalogue
covers the checkable claims B1-B7 of the paper's digest. The claims cite the paper, not the digest,
so the map from its items to claims lives here, in :data:`SPEC_ITEMS`."""

from __future__ import annotations

import pytest

from l2l.proofs.catalogue import load

from .catalogue_checks import check_verdict

CLAIMS = load("jastrzebski2020")

SPEC_ITEMS = {
    "B1": ["jastrzebski2020.b1.eq1-derivation", "jastrzebski2020.b1.with-replacement-derivation",
           "jastrzebski2020.b1.closed-form-vs-enumeration", "jastrzebski2020.b1.monte-carlo", "jastrzebski2020.b1.full-batch",
           "jastrzebski2020.neg.eq1-with-replacement-factor"],
    "B2": ["jastrzebski2020.b2.critical-step-derivation", "jastrzebski2020.b2.curvature-derivation",
           "jastrzebski2020.b2.critical-step-is-the-boundary", "jastrzebski2020.b2.earlier-break-even",
           "jastrzebski2020.b2.break-even-curvature-monotone"],
    "B3": ["jastrzebski2020.b3.mean-square-is-not-almost-sure", "jastrzebski2020.b3.sgd-steps-are-minibatch-gradients",
           "jastrzebski2020.finding.b3-reference-values",
           "jastrzebski2020.neg.mean-square-instability-implies-divergence"],
    "B4": ["jastrzebski2020.b4.uv-final-curvature-capped", "jastrzebski2020.b4.uv-reference-values",
           "jastrzebski2020.neg.running-max-below-2-over-eta"],
    "B5": ["jastrzebski2020.b5.lanczos-vs-dense", "jastrzebski2020.b5.power-finite-difference", "jastrzebski2020.b5.gram-trick",
           "jastrzebski2020.neg.k-has-n-minus-d-eigenvalues"],
    "B6": ["jastrzebski2020.finding.mlp-max-lambda-k-falls-with-eta"],
    "B7": ["jastrzebski2020.b7.alpha-star-derivation", "jastrzebski2020.b7.alpha-star-on-a-quadratic",
           "jastrzebski2020.neg.alpha-star-two"],
}

NEGATIVE_CONTROLS = {
    "jastrzebski2020.neg.eq1-with-replacement-factor",  # Eq. 1 with the replacement factor 1/S
    "jastrzebski2020.neg.running-max-below-2-over-eta",  # the catapult overshoot refutes it
    "jastrzebski2020.neg.mean-square-instability-implies-divergence",
    "jastrzebski2020.neg.k-has-n-minus-d-eigenvalues",
    "jastrzebski2020.neg.alpha-star-two",
}


def test_catalogue_covers_b1_to_b7():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) == 26 and all(i.startswith("jastrzebski2020.") for i in ids)
    assert sorted(SPEC_ITEMS) == [f"B{k}" for k in range(1, 8)]
    mapped = [i for item in SPEC_ITEMS.values() for i in item]
    assert sorted(mapped) == sorted(ids), set(mapped) ^ set(ids)
    assert all(c.tag in ("paper", "code", "derived", "unconfirmed", "analogue") for c in CLAIMS)


def test_negative_controls_and_findings_expect_refuted():
    by_id = {c.id: c for c in CLAIMS}
    assert NEGATIVE_CONTROLS <= set(by_id)
    refuted = {c.id for c in CLAIMS if c.expect == "refuted"}
    assert refuted == {i for i in by_id if i.startswith(("jastrzebski2020.neg.", "jastrzebski2020.finding."))}
    assert sum(i.startswith("jastrzebski2020.finding.") for i in refuted) == 2


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_meets_expectation(c, main_job_report):
    check_verdict(c, main_job_report)
