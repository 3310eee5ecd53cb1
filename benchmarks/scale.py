"""Benchmark: fast at every scale (issue 17), every table in one run, each beside its alternative.

1. ``numerics.quadratic.stable.evaluate`` (and the least-squares closed form ``gd``) against a
   bare-numpy evaluation of the same fields, at d = 10^3 x 200 step sizes and at d = 10^6, with
   peak extra memory as a multiple of the input arrays (``benchmarks/evaluate.py``; goal <= 2x
   bare numpy, <= 10x the inputs).
2. The NQM with a constant step size and momentum: the closed-form jump against the step
   recursion and a plain numpy loop, d = 10^3, t = 10^3, 10^6, 10^9 (``benchmarks/nqm_jump.py``;
   goal: time independent of t).
3. Exact expected SGD loss on least squares against Monte Carlo at a 1e-3 relative standard error,
   d = 100, n = 50, t = 1000 (``benchmarks/sgd_moments.py``; goal >= 1000x).
4. ``l2l report``: wall and CPU time and peak memory of the process tree
   (``benchmarks/report.py``; goal <= 600 MB).

JAX columns appear when ``import jax`` works (it is not installed here). The machine's two cores
may be shared, so every table measures the package and its alternative interleaved and prints
ratios; CPU time is printed beside wall time where the tables have it.

Run:  python benchmarks/scale.py [--quick]   (``--quick``: small sizes, no report; under a minute)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate  # noqa: E402
import nqm_jump  # noqa: E402
import report  # noqa: E402
import sgd_moments  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and no report run")
    args = ap.parse_args(argv)
    print("## 1. evaluate and the least-squares closed form vs bare numpy\n")
    print(evaluate.table(args.quick))
    print("\n## 2. NQM, constant eta and mu: closed-form jump vs the step recursion\n")
    print(nqm_jump.table(args.quick))
    print("\n## 3. exact SGD moments vs Monte Carlo at a 1e-3 relative standard error\n")
    print(sgd_moments.table(args.quick))
    if args.quick:
        return
    print("\n## 4. l2l report: time and peak memory (profile ci, empty figure cache)\n")
    r = report.run(len(os.sched_getaffinity(0)), "md,html")
    print(f"wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s; peak summed PSS of the process tree {r['pss']:.0f} MB, "
          f"largest single process {r['rss']:.0f} MB (goal <= 600 MB)")


if __name__ == "__main__":
    main()
