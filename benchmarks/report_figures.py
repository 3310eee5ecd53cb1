"""Benchmark: the figure phase of ``l2l report``, per figure and end to end (issue 12).

Per figure (one fresh interpreter, one process, nothing cached or shared): the time to compute its
data, to draw it, and to save each of PNG, SVG and PDF, in wall and CPU seconds (CPU time is the
figure to trust on a loaded machine).

End to end (``make_figures`` over every paper, a fresh interpreter each, ``--repeat`` times), in
the situations a report meets:

* ``cold``: an empty cache folder (new code, or ``L2L_NO_CACHE=1``): every figure computes its
  data, with ``jobs`` = 1 and 2 worker processes;
* ``after claims``: the claims that share numbers with figures have just published them (what
  ``l2l report`` sees after running the catalogue) but no figure is cached;
* ``warm``: every figure cached (a second report of unchanged code).

Run:  python benchmarks/report_figures.py [--repeat 3] [--skip-per-figure]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PER_FIGURE = r"""
import json, resource, sys, time
def clocks():
    return time.perf_counter(), time.process_time()
t0 = clocks()
from l2l.proofs.papers import papers
from l2l.proofs.report import figures as F
import matplotlib.style
rows = [{"figure": "(imports)", "data": [clocks()[0] - t0[0], clocks()[1] - t0[1]]}]
for paper in papers():
    fn = F._figure_function(paper.figures) if paper.figures else None
    for spec in getattr(fn, "specs", ()):
        row = {"figure": spec.name}
        a = clocks(); data = spec.data(); b = clocks()
        row["data"] = [b[0] - a[0], b[1] - a[1]]
        def render(fig, name, title, caption, row=row, start=b):
            c = clocks()
            row["draw"] = [c[0] - start[0], c[1] - start[1]]
            for form in ("png", "svg", "pdf"):  # as render_figure does
                d = clocks(); F.save(fig, form); e = clocks()
                row[form] = [e[0] - d[0], e[1] - d[1]]
                if form == "png":
                    F._freeze_layout(fig)
        with matplotlib.style.context(["default", F.STYLE]):
            spec.draw(data, render)
        rows.append(row)
print(json.dumps(rows))
"""

PHASE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from l2l.proofs.papers import papers
from l2l.proofs.report.figures import make_figures
ps = papers()
t1 = time.perf_counter()
figs = make_figures(ps, jobs=int(sys.argv[1]))
t2 = time.perf_counter()
cpu = sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
print(json.dumps({"imports": t1 - t0, "figures": t2 - t1, "cpu": cpu, "n": len(figs)}))
"""

#: What the claims compute and publish for the figures (the catalogue's claims call these).
CLAIMS = r"""
from l2l.proofs.papers.wu2018 import experiments as wu
from l2l.proofs.papers.zhang2019 import experiments as zhang
for setting in wu.FIGURE_SETTINGS:
    wu.schedules(*setting)
wu.look_ahead_runs()
zhang.batch_table()
"""


def python(code: str, *args: str, cache: Path) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    env.pop("L2L_NO_CACHE", None)
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def per_figure() -> None:
    with tempfile.TemporaryDirectory() as cache:
        rows = json.loads(python(PER_FIGURE, cache=Path(cache)))
    cols = ("data", "draw", "png", "svg", "pdf")
    print("per figure, one process, nothing cached (seconds, wall / cpu)")
    print(f"{'figure':<24}" + "".join(f"{c:>14}" for c in cols) + f"{'total':>14}")
    total = [0.0, 0.0]
    for row in rows:
        cells, sums = [], [0.0, 0.0]
        for c in cols:
            if c in row:
                cells.append(f"{row[c][0]:6.2f}/{row[c][1]:5.2f}")
                sums = [sums[0] + row[c][0], sums[1] + row[c][1]]
            else:
                cells.append(f"{'':>12}")
        total = [total[0] + sums[0], total[1] + sums[1]]
        print(f"{row['figure']:<24}" + "".join(f"{x:>14}" for x in cells) + f"{sums[0]:8.2f}/{sums[1]:5.2f}")
    print(f"{'all':<24}" + " " * 14 * len(cols) + f"{total[0]:8.2f}/{total[1]:5.2f}\n")


def phase(repeat: int) -> None:
    print(f"make_figures(every paper), fresh interpreter, best / median of {repeat} (seconds)")
    print(f"{'situation':<28}{'jobs':>5}{'best':>8}{'median':>8}{'cpu':>8}")
    for label, jobs, prepare in (("cold", 1, None), ("cold", 2, None), ("after claims", 2, "claims"), ("warm", 2, "warm")):
        walls, cpus = [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                cache = Path(tmp)
                if prepare == "claims":
                    python(CLAIMS, cache=cache)
                elif prepare == "warm":
                    python(PHASE, "2", cache=cache)
                out = json.loads(python(PHASE, str(jobs), cache=cache))
                walls.append(out["figures"])
                cpus.append(out["cpu"])
        print(f"{label:<28}{jobs:>5}{min(walls):8.2f}{statistics.median(walls):8.2f}{statistics.median(cpus):8.2f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n(load average at the end: {load:.2f} on {os.cpu_count()} CPUs; wall times need an idle machine)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-per-figure", action="store_true")
    args = ap.parse_args()
    start = time.perf_counter()
    if not args.skip_per_figure:
        per_figure()
    phase(args.repeat)
    print(f"benchmark took {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
