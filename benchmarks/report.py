"""Benchmark: ``l2l report`` (the main job), side by side in one run (issue 12: <= 80 s idle on 2 cores).

Runs the report with the default profile into a temporary folder, as a user would, with an empty
figure cache of its own (``XDG_CACHE_HOME`` in the same folder: every run is cold), and prints:

* wall time with ``--jobs N`` (default: the CPUs available) and, unless ``--quick``, with
  ``--jobs 1`` (the obvious alternative: one claim after another);
* the CPU time the run used (user + system, all processes) and the hardware limit it implies on
  this machine: CPU time / cores, the wall time of a perfectly parallel run;
* what dominates: the slowest claims (from ``claims.json``) and the phases (from the progress log:
  the pool of derivations and claims, the figures, the writing).

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
import time
from pathlib import Path


def run(jobs: int, fmt: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
        env.pop("L2L_NO_CACHE", None)
        proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "report", "--out", str(out), "--jobs", str(jobs),
                               "--format", fmt], capture_output=True, text=True, check=False, env=env)
        wall = time.perf_counter() - start
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
    return {"jobs": jobs, "wall": wall, "cpu": cpu, "claims": claims, "marks": marks}


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
    print(f"{'run':<12} {'wall s':>8} {'CPU s':>8} {'CPU/cores s':>12} {'wall / limit':>13}")
    for r in runs:
        limit = r["cpu"] / cores
        print(f"--jobs {r['jobs']:<5} {r['wall']:8.1f} {r['cpu']:8.1f} {limit:12.1f} {r['wall'] / limit:13.2f}")
    if len(runs) > 1:
        print(f"--jobs {args.jobs} is {runs[1]['wall'] / best['wall']:.2f}x faster than --jobs 1")
    print("phases (s since start, --jobs %d): %s" % (best["jobs"], ", ".join(f"{k} {v:.1f}" for k, v in best["marks"].items())))
    slow = sorted(best["claims"], key=lambda c: -c["seconds"])[:6]
    print("slowest claims (s): " + ", ".join(f"{c['id']} {c['seconds']:.1f}" for c in slow))
    print(f"claims: {len(best['claims'])}, their seconds summed {sum(c['seconds'] for c in best['claims']):.1f}")


if __name__ == "__main__":
    main()
