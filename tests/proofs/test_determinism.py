"""Deterministic verdicts (issues 11 and 17): a verdict depends only on the code, the claim, the
profile and the seed, never on how busy the machine is nor on the number of workers.

How busy the machine is reaches a claim only through the clocks it reads. So every
Hypothesis-driven claim of the catalogue (the ones whose example counts and shrinking a clock could
cut short: 91 of the 195 claims today) is checked again under ``ci`` in ONE worker whose clocks
(``time.monotonic``, ``perf_counter``, ``time`` and their ``_ns`` forms) run 1000 times fast: a
machine 1000 times slower as far as any time limit can tell, far beyond what CPU hogs could
make of a 2-core machine, and at no CPU cost. Every verdict, example count and counterexample must
equal those of the README main job's run (same profile and seed, two workers, real clocks). The
other claims are grids bounded by counts with no Hypothesis phase a clock could end; the main job's
run checks them.

Teeth, measured: under the old 60 s wall-clock budget a loaded run turned verdicts into ``error``
and changed example counts; and Hypothesis' own rule "stop looking for further bugs 10 s after the
first" changed the example counts of all 15 refuted Hypothesis claims under this clock until the
runner stopped the clock that rule reads (``l2l.proofs.runner._StoppedMonotonic``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: ``l2l`` with every clock of ``time`` running 1000x fast in each forked claim worker (the caller
#: keeps the real clock, so its hang guard is not fooled into stopping claims).
FAST_CLOCK = """
import os, sys, time

def fast():
    with open(os.environ["L2L_FAST_CLOCK_MARKS"], "a") as marks:  # one line per worker given the fast clock
        marks.write(f"{os.getpid()}\\n")
    for name in ("monotonic", "perf_counter", "time", "monotonic_ns", "perf_counter_ns", "time_ns"):
        real = getattr(time, name)
        start = real()
        setattr(time, name, (lambda real, start, cast: lambda: cast(start + 1000 * (real() - start)))(real, start, type(start)))

os.register_at_fork(after_in_child=fast)
from l2l.proofs.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _key(c: dict) -> tuple:
    return c["verdict"], c["examples"], json.dumps(c["counterexample"], sort_keys=True), json.dumps(c["counterexamples"], sort_keys=True)


def test_the_fast_clock_runs_fast_in_the_claim_workers_only(tmp_path, monkeypatch):
    monkeypatch.setenv("L2L_FAST_CLOCK_MARKS", str(tmp_path / "marks"))
    code = FAST_CLOCK.replace("from l2l.proofs.cli import main\nsys.exit(main(sys.argv[1:]))", """
t0 = time.monotonic()
r, w = os.pipe()
if os.fork() == 0:
    a = time.perf_counter(); time.sleep(0.05); os.write(w, repr(time.perf_counter() - a).encode()); os._exit(0)
os.wait()
child = float(os.read(r, 100))
print(child, time.monotonic() - t0)
""")
    child, parent = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert child >= 1000 * 0.05 * 0.99 and parent < 10, (child, parent)


def test_verdicts_under_a_1000x_fast_clock_equal_the_main_jobs(main_job_report, tmp_path, monkeypatch):
    _, proc, idle = main_job_report
    assert idle, proc.stderr[-2000:]
    from l2l.proofs.catalogue import load_all

    ids = [c.id for c in load_all() if c.is_hypothesis]
    assert len(ids) >= 80  # the subset is about half of the catalogue's claims, not a token few
    marks = tmp_path / "marks"
    monkeypatch.setenv("L2L_FAST_CLOCK_MARKS", str(marks))
    slow = subprocess.run([sys.executable, "-c", FAST_CLOCK, "check", *ids, "--profile", "ci", "--jobs", "1", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=3600)
    assert slow.returncode == 0, slow.stderr[-2000:]
    busy = {c["id"]: c for c in json.loads(slow.stdout)["claims"]}
    assert set(busy) == set(ids) and set(ids) <= set(idle)
    # the fast clock reached the claim workers of this run (a count, not a timing: each forked worker
    # that got it wrote one line; --jobs 1 needs at least one, more after a worker died)
    assert marks.is_file() and len(marks.read_text().split()) >= 1
    idle = {cid: idle[cid] for cid in ids}
    differ = [cid for cid in idle if _key(idle[cid]) != _key(busy[cid])]
    assert differ == [], [(cid, _key(idle[cid]), _key(busy[cid])) for cid in differ[:5]]


def test_a_claims_examples_do_not_depend_on_what_ran_before_it():
    """Hypothesis mixes constants of the imported local modules into generation; the runner adds
    every module's constants first (``settle_imports``), so a claim run alone and after other claims (which
    import other modules) draws the same examples. Without it this claim drew 15 examples after
    ``wang2021.thm3`` and ``wu2018.zhang`` and 16 alone (measured)."""
    cid = "wu2018.neg.momentum-risk-equals-sgd-at-same-alpha"

    def examples(*before: str) -> int:
        proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", *before, cid, "--jobs", "1", "--json"],
                              cwd=ROOT, capture_output=True, text=True, timeout=900)
        return next(c["examples"] for c in json.loads(proc.stdout)["claims"] if c["id"] == cid)

    assert examples() == examples("wang2021.thm3", "wu2018.zhang")


#: Every module of the package imported (what ``settle_imports`` did until it read the constants
#: from the files instead), then the constants Hypothesis mixes into generation.
_IMPORT_ALL = """
import importlib, pkgutil
for top in ("l2l.theory", "l2l.numerics", "l2l.proofs"):
    for info in pkgutil.walk_packages(importlib.import_module(top).__path__, top + "."):
        if not (info.name.endswith("__main__") or info.name == "l2l.proofs.pytest_plugin"):
            importlib.import_module(info.name)
from hypothesis.internal.conjecture.providers import _get_local_constants
print(sorted(map(repr, _get_local_constants())))
"""
_SETTLED = """
from l2l.proofs.runner import settle_imports
settle_imports()
from hypothesis.internal.conjecture.providers import _get_local_constants
print(sorted(map(repr, _get_local_constants())))
"""


def test_settled_constants_are_those_of_every_module_imported():
    """``settle_imports`` reads the constants from the source files without importing the modules;
    the set must be the one Hypothesis collects with every module imported (else example streams
    would change with the set of modules a run happens to load). 2668 constants today."""
    got = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True).stdout
           for code in (_IMPORT_ALL, _SETTLED)]
    assert got[0] == got[1] and got[0].count(",") > 1000
