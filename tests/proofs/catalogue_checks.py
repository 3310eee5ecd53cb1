"""Shared body of the per-paper catalogue tests: each claim meets its expectation under ``ci``.

The verdicts come from the README main job (``l2l report``, profile ci) that the session fixture
``main_job_report`` runs once: the same run as ``l2l check PAPER --profile ci``, one test per claim
so a miss names the claim. Negative controls must be refuted with a counterexample attached.
"""

from __future__ import annotations


def check_verdict(c, main_job_report) -> None:
    _, proc, verdicts = main_job_report
    assert c.id in verdicts, f"{c.id} missing from the report's claims.json\n{proc.stderr[-2000:]}"
    r = verdicts[c.id]
    matches = r["verdict"] in (("proved", "holds") if c.expect == "holds" else ("refuted",))
    assert matches, f"{c.id}: verdict {r['verdict']}, expected {c.expect}: {r['message']} {r['counterexample']}"
    if r["verdict"] == "refuted":
        assert r["counterexample"] is not None, f"{c.id}: refuted without a counterexample"
