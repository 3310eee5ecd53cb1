"""Benchmark: the catalogue on 1 and 2 local workers and on a 2-worker Dask ``LocalCluster`` (issue 17).

Runs ``l2l check CATALOGUES --profile P --seed S --no-cache --json`` three ways, one after another on
this machine:

- ``--jobs 1`` (the baseline),
- ``--jobs 2``,
- ``--scheduler ADDRESS`` of a ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)``
  started here (its start-up is not timed; its workers are fresh, so their first claims import
  and settle the package as a local run does),

and prints wall time, CPU time (the whole process tree: the CLI, its workers, the cluster's
processes and their forked claim workers) and the speed-up against ``--jobs 1``, then checks that
every claim has the same verdict, example count, counterexamples and message in all three runs.

Run:  python benchmarks/parallel.py [--profile thorough] [--seed 1] [wang2021 wu2018]
(``thorough`` on wang2021 and wu2018 takes about 35 min in all on 2 cores; ``--profile ci`` about 2.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import psutil

FIELDS = ("verdict", "expect", "examples", "counterexample", "counterexamples", "message")


def tree_cpu() -> float:
    """CPU seconds of this process's descendants, live (their own time) and reaped (their
    children's time as the kernel credited it to their parents)."""
    me = psutil.Process()
    total = me.cpu_times().children_user + me.cpu_times().children_system
    for p in me.children(recursive=True):
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def run(args: list[str]) -> tuple[float, float, dict]:
    cpu0, t0 = tree_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", *args], capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, tree_cpu() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"l2l check {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    claims = {c["id"]: {k: c.get(k) for k in FIELDS} for c in json.loads(proc.stdout)["claims"]}
    return wall, cpu, claims


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalogues", nargs="*", default=["wang2021", "wu2018"])
    ap.add_argument("--profile", default="thorough", choices=("ci", "dev", "thorough"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    from distributed import LocalCluster

    common = [*a.catalogues, "--profile", a.profile, "--seed", str(a.seed), "--no-cache", "--json"]
    rows = []
    for label, extra in (("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"])):
        rows.append((label, *run([*common, *extra])))
        print(f"{label}: {rows[-1][1]:.0f} s wall", file=sys.stderr, flush=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rows.append(("Dask LocalCluster, 2 workers", *run([*common, "--scheduler", cluster.scheduler_address])))
    base = rows[0][1]
    print(f"l2l check {' '.join(a.catalogues)} --profile {a.profile} --seed {a.seed} --no-cache "
          f"({len(rows[0][3])} claims, {os.cpu_count()} CPUs)\n")
    print("| run | wall | CPU | speed-up vs --jobs 1 |\n|---|---|---|---|")
    for label, wall, cpu, _ in rows:
        print(f"| {label} | {wall:.0f} s | {cpu:.0f} s | {base / wall:.2f}x |")
    ref = rows[0][3]
    for label, _, _, claims in rows[1:]:
        differ = sorted(cid for cid in ref if claims.get(cid) != ref[cid])
        missing = sorted(set(ref) ^ set(claims))
        print(f"\n{label}: {'identical results for every claim' if not differ and not missing else 'DIFFERENT'}"
              + (f"; differ: {differ[:10]}" if differ else "") + (f"; missing: {missing[:10]}" if missing else ""))
    misses = sorted(cid for cid, c in ref.items()
                    if c["verdict"] not in (("refuted",) if c["expect"] == "refuted" else ("holds", "proved")))
    print(f"\nverdicts: {json.dumps({v: sum(c['verdict'] == v for c in ref.values()) for v in ('proved', 'holds', 'refuted', 'error')})}"
          f"; missing their expectation: {misses or 'none'}")


if __name__ == "__main__":
    main()
