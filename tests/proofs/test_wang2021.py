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


def _by_id():
    return {c.id: c for c in CLAIMS}


def test_theorem4_size_of_log_gradient_is_checked():
    """Issue 13 point 2: a claim checks the size of G' (not only its sign) against the mpmath reference."""
    c = _by_id()["wang2021.thm4.log-gradient-matches-reference"]
    assert c.expect == "holds" and "G'_ref" in c.tolerance


def test_fig1_is_a_statement_over_seeds_and_records_the_budget_finding():
    from l2l.proofs.papers.wang2021 import claims

    assert len(claims.FIG1_SEEDS["ci"]) >= 5 and 1 in claims.FIG1_SEEDS["ci"]
    assert claims.FIG1_PAPER_COUNTS == {(80, 0.1): 68, (300, 0.1): 195, (1000, 1.0): 1244}
    assert _by_id()["wang2021.finding.fig1-budget-from-above"].expect == "refuted"


def test_theorem5_claims_name_their_vacuous_runs():
    for cid in ("wang2021.thm5.tbv-beats-tbt", "wang2021.thm5.tbt-error-grows-with-sigma"):
        assert "non-vacuous" in _by_id()[cid].tolerance


def test_section_5_3_learned_optimizer_claims_are_soft_with_a_control():
    by_id = _by_id()
    main = by_id["wang2021.s53.learned-optimizer-tbv-beats-tbt"]
    control = by_id["wang2021.s53.learned-optimizer-gap-shrinks-with-n"]
    for c in (main, control):
        assert c.kind == "trend" and c.tag == "analogue" and c.expect == "holds"
        assert "registered before the run" in c.source and "spec" not in c.source.lower()
        assert c.shares == "wichrowska2017.tbt-tbv-run"
