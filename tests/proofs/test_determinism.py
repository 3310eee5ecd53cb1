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
