"""Benchmark: ``l2l eval`` cold start for every model, side by side (issue 10).

Each model's example (``examples/*.json``) is evaluated in a fresh interpreter, ``--repeat`` times
(best and median of the wall times), next to two references on the same machine in the same run:

* ``python -c pass``: the interpreter alone (the floor any command pays);
* ``python -c "import numpy"``: the one library every evaluator needs (the hardware-and-library
  limit for an evaluator written on numpy);

and the ratio of each model to the quadratic model (the target: within 2x). ``backprop`` is the
quadratic model with plain reverse mode through t = 3000 unrolled steps in two dtypes: its extra
time is that computation, not start-up.

Run:  python benchmarks/cold_start.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["quadratic_gd", "backprop", "least_squares_gd", "least_squares_sgd", "nqm"]


def wall(cmd: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rows = [("python -c pass", wall([sys.executable, "-c", "pass"], args.repeat)),
            ("import numpy", wall([sys.executable, "-c", "import numpy"], args.repeat))]
    for m in MODELS:
        rows.append((f"l2l eval {m}", wall([sys.executable, "-m", "l2l.proofs.cli", "eval", f"examples/{m}.json"], args.repeat)))
    base = min(dict(rows)["l2l eval quadratic_gd"])
    print(f"{'command':<28} {'best s':>8} {'median s':>9} {'/ quadratic':>12}")
    for name, times in rows:
        print(f"{name:<28} {min(times):8.3f} {statistics.median(times):9.3f} {min(times) / base:12.2f}")


if __name__ == "__main__":
    main()
