"""Every claim of the Metz et al. (2019) catalogue meets its expectation under the `ci` profile
(verdicts from the session's `l2l report` run; see ``catalogue_checks``), and the catalogue covers
the checkable claims A1-A8 of the paper's digest (A8: the step parameterisation of the per-parameter
MLP optimizer, ``numerics.learned.mlp_lopt``). The claims cite the paper, not the
digest, so the map from its items to claims lives here, in :data:`SPEC_ITEMS`."""

from __future__ import annotations

import pytest

from l2l.proofs.catalogue import load

from .catalogue_checks import check_verdict

CLAIMS = load("metz2019")

SPEC_ITEMS = {
    "A1": ["metz2019.a1.meta-loss-derivation", "metz2019.a1.closed-form-vs-finite-differences",
           "metz2019.a1.reference-values", "metz2019.a1.growth-rate", "metz2019.neg.growth-rate-ln-r"],
    "A2": ["metz2019.a2.explosion-without-divergence", "metz2019.a2.lyapunov-sign", "metz2019.a2.reference-values",
           "metz2019.finding.a2-reference-gradients-rounding"],
    "A3": ["metz2019.a3.smoothing-derivation", "metz2019.a3.smoothing-bound-derivation", "metz2019.a3.total-variation-falls",
           "metz2019.a3.derivative-bound", "metz2019.a3.es-bounded-at-every-horizon", "metz2019.neg.rp-variance-bounded-chaotic",
           "metz2019.finding.smoothed-total-variation"],
    "A4": ["metz2019.a4.quadratic-estimators-derivation", "metz2019.a4.exact-moments-vs-monte-carlo",
           "metz2019.a4.quadratic-monte-carlo", "metz2019.neg.pair-rp-exact-beyond-quadratic"],
    "A5": ["metz2019.a5.inverse-variance-derivation", "metz2019.a5.merge-never-worse", "metz2019.a5.covariance-weight-never-worse",
           "metz2019.a5.regime-switch", "metz2019.neg.inverse-variance-optimal-correlated"],
    "A6": ["metz2019.a6.tbptt-gradient-derivation", "metz2019.a6.tbptt-gradient-vs-loop", "metz2019.a6.fixed-points-monotone"],
    "A7": ["metz2019.a7.truncated-es-has-tbptt-bias", "metz2019.a7.full-unroll-es-unbiased", "metz2019.neg.truncated-es-unbiased"],
    "A8": ["metz2019.a8.loss-scale-invariance", "metz2019.finding.loss-scale-invariance-threshold",
           "metz2019.neg.loss-scale-invariance-tiny-gradients", "metz2019.a8.step-magnitude",
           "metz2019.a8.second-moment-normaliser", "metz2019.a8.parameter-rescale-invariance",
           "metz2019.neg.parameter-rescale-equivariance"],
}

NEGATIVE_CONTROLS = {
    "metz2019.neg.rp-variance-bounded-chaotic",  # RP variance bounded in T on the chaotic toy
    "metz2019.neg.truncated-es-unbiased",  # truncated ES unbiased for the full horizon
    "metz2019.neg.inverse-variance-optimal-correlated",  # inverse-variance weights optimal with c != 0
    "metz2019.neg.growth-rate-ln-r",
    "metz2019.neg.pair-rp-exact-beyond-quadratic",
    "metz2019.neg.loss-scale-invariance-tiny-gradients",  # loss-scale invariance with c RMS(g) <= 1e-3
    "metz2019.neg.parameter-rescale-equivariance",  # the step scales with the parameters
}


def test_catalogue_covers_a1_to_a8():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) == 38 and all(i.startswith("metz2019.") for i in ids)
    assert sorted(SPEC_ITEMS) == [f"A{k}" for k in range(1, 9)]
    mapped = [i for item in SPEC_ITEMS.values() for i in item]
    assert sorted(mapped) == sorted(ids), set(mapped) ^ set(ids)
    assert all(c.tag in ("paper", "code", "derived", "unconfirmed", "analogue") for c in CLAIMS)


def test_negative_controls_and_findings_expect_refuted():
    by_id = {c.id: c for c in CLAIMS}
    assert NEGATIVE_CONTROLS <= set(by_id)
    refuted = {c.id for c in CLAIMS if c.expect == "refuted"}
    assert refuted == {i for i in by_id if i.startswith(("metz2019.neg.", "metz2019.finding."))}
    assert sum(i.startswith("metz2019.finding.") for i in refuted) == 3


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_meets_expectation(c, main_job_report):
    check_verdict(c, main_job_report)
