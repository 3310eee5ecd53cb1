"""Deterministic verdicts (issue 11): a verdict depends only on the code, the claim, the profile and
the seed, never on how busy the machine is. The whole catalogue is checked again under ``ci`` while
two processes spin on the CPU (this machine has two cores), and every claim's verdict, example count
and counterexamples must equal those of the README main job's run (same profile and seed, run
without the extra load). Under the old 60 s wall-clock budget a loaded run turned verdicts into
``error`` and changed example counts; now no clock decides anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOG = "while True: pass"


def _key(c: dict) -> tuple:
    return c["verdict"], c["examples"], json.dumps(c["counterexample"], sort_keys=True), json.dumps(c["counterexamples"], sort_keys=True)


def test_verdicts_under_cpu_load_equal_the_unloaded_run(main_job_report):
    _, proc, idle = main_job_report
    assert idle, proc.stderr[-2000:]
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(2)]
    try:
        loaded = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", "--profile", "ci", "--json"],
                                cwd=ROOT, capture_output=True, text=True, timeout=3600)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    busy = {c["id"]: c for c in json.loads(loaded.stdout)["claims"]}
    assert set(busy) == set(idle)
    differ = [cid for cid in idle if _key(idle[cid]) != _key(busy[cid])]
    assert differ == [], [(cid, _key(idle[cid]), _key(busy[cid])) for cid in differ[:5]]


def test_a_claims_examples_do_not_depend_on_what_ran_before_it():
    """Hypothesis mixes constants of the imported local modules into generation; the runner loads
    every module first (``settle_imports``), so a claim run alone and after other claims (which
    import other modules) draws the same examples. Without it this claim drew 15 examples after
    ``wang2021.thm3`` and ``wu2018.zhang`` and 16 alone (measured)."""
    cid = "wu2018.neg.momentum-risk-equals-sgd-at-same-alpha"

    def examples(*before: str) -> int:
        proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", *before, cid, "--jobs", "1", "--json"],
                              cwd=ROOT, capture_output=True, text=True, timeout=900)
        return next(c["examples"] for c in json.loads(proc.stdout)["claims"] if c["id"] == cid)

    assert examples() == examples("wang2021.thm3", "wu2018.zhang")
