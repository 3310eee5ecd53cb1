"""Benchmark: ``l2l report`` (the main job), side by side in one run (issue 12: <= 80 s idle on 2 cores).

Runs the report with the default profile into a temporary folder, as a user would, with an empty
figure cache of its own (``XDG_CACHE_HOME`` in the same folder: every run is cold), and prints:

* wall time with ``--jobs N`` (default: the CPUs available) and, unless ``--quick``, with
  ``--jobs 1`` (the obvious alternative: one claim after another);
* the CPU time the run used (user + system, all processes) and the hardware limit it implies on
  this machine: CPU time / cores, the wall time of a perfectly parallel run;
* what dominates: the slowest claims (from ``claims.json``) and the phases (from the progress log:
  the pool of derivations and claims, the figures, the writing);
* peak memory (issue 17: <= 600 MB), sampled every 20 ms from ``/proc``: the peak over time of the
  summed proportional set size (PSS: pages shared by the forked workers counted once, split
  between them) of the report's process tree, and the largest single process's resident set.

Run:  python benchmarks/report.py [--quick] [--jobs N] [--format md,html]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(x) for x in f.read().split()]
        except OSError:  # the process ended meanwhile
            pass
    return out


def _rss_pss_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class TreeMemory:
    """Samples a process tree's memory every ``interval`` seconds in a thread, until ``stop()``:
    ``peak_pss_mb`` (the peak of the summed PSS) and ``peak_rss_mb`` (the largest single RSS)."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.pid, self.interval = pid, interval
        self.peak_pss_mb = self.peak_rss_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            mem = [_rss_pss_kb(p) for p in _tree(self.pid)]
            self.peak_pss_mb = max(self.peak_pss_mb, sum(m[1] for m in mem) / 1024)
            self.peak_rss_mb = max([self.peak_rss_mb] + [m[0] / 1024 for m in mem])
            time.sleep(self.interval)

    def stop(self) -> "TreeMemory":
        self._done.set()
        self._thread.join()
        return self


def run(jobs: int, fmt: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        env.pop("L2L_NO_CACHE", None)
        popen = subprocess.Popen([sys.executable, "-m", "l2l.proofs.cli", "report", "--out", str(out), "--jobs", str(jobs),
                                  "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        memory = TreeMemory(popen.pid)
        stdout, stderr = popen.communicate()
        wall = time.perf_counter() - start
        memory.stop()
        proc = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"l2l report failed: {proc.stderr.strip().splitlines()[-1:]}")
        claims = json.loads((out / "claims.json").read_text())["claims"]
    marks = {}
    for line in proc.stderr.splitlines():
        m = re.search(r"([\d.]+) s\)$", line)
        if m and line.startswith("[figures]"):
            marks["pool done (derivations, claims, figures)"] = float(m.group(1))
        elif m and line.startswith("report written"):
            marks["written"] = float(m.group(1))
    return {"jobs": jobs, "wall": wall, "cpu": cpu, "claims": claims, "marks": marks, "pss": memory.peak_pss_mb,
            "rss": memory.peak_rss_mb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the --jobs 1 run")
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--format", default="md,html")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    runs = [run(args.jobs, args.format)] + ([] if args.quick else [run(1, args.format)])
    best = runs[0]
    print(f"l2l report, profile ci, format {args.format}, {cores} cores available")
    print(f"{'run':<12} {'wall s':>8} {'CPU s':>8} {'CPU/cores s':>12} {'wall / limit':>13} {'peak PSS MB':>12} {'max RSS MB':>11}")
    for r in runs:
        limit = r["cpu"] / cores
        print(f"--jobs {r['jobs']:<5} {r['wall']:8.1f} {r['cpu']:8.1f} {limit:12.1f} {r['wall'] / limit:13.2f} {r['pss']:12.0f} {r['rss']:11.0f}")
    if len(runs) > 1:
        print(f"--jobs {args.jobs} is {runs[1]['wall'] / best['wall']:.2f}x faster than --jobs 1")
    print("phases (s since start, --jobs %d): %s" % (best["jobs"], ", ".join(f"{k} {v:.1f}" for k, v in best["marks"].items())))
    slow = sorted(best["claims"], key=lambda c: -c["seconds"])[:6]
    print("slowest claims (s): " + ", ".join(f"{c['id']} {c['seconds']:.1f}" for c in slow))
    print(f"claims: {len(best['claims'])}, their seconds summed {sum(c['seconds'] for c in best['claims']):.1f}")


if __name__ == "__main__":
    main()
