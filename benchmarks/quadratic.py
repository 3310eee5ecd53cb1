"""Benchmark: the stable closed form against float64 unrolled backpropagation (issue 2, item 7).

For a d = 1000 quadratic and 200 step sizes spread over [0, 3/L] (so both the vanishing side
eta < 2/L and the exploding side eta > 2/L are covered), at t in {10^2, 10^3, 10^4}:

* wall time of ``numerics.quadratic.stable.evaluate`` (all 200 step sizes at once) and of
  ``numerics.quadratic.unroll.backprop`` in float64 (vectorised over the step sizes, one matmul per step);
* their ratio;
* max relative error of each against the 60-digit mpmath reference, over every step size where
  backprop's status is ``ok`` (``--subsample N`` checks only N evenly spaced ones), plus the
  backward-stable error |G' - ref| / (|ref| + sum|terms|) of the stable form;
* the fraction of step sizes where backprop gave no finite value (status != ok).

Run:  python benchmarks/quadratic.py [--quick]   (``--quick``: d = 200, t up to 10^3)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from l2l.numerics import QuadraticProblem
from l2l.numerics.quadratic.reference import quadratic_reference
from l2l.numerics.quadratic.stable import evaluate
from l2l.numerics.quadratic.unroll import backprop


def make_problem(d: int, seed: int = 0) -> QuadraticProblem:
    """H = U diag(lambda) U^T with lambda log-uniform in [1e-2, 1] (kappa = 100) and a random
    orthogonal U; w0 uniform on the unit sphere."""
    rng = np.random.default_rng(seed)
    lam = np.exp(rng.uniform(np.log(1e-2), 0.0, d))
    lam[0], lam[1] = 1.0, 1e-2
    c = rng.normal(size=d)
    c /= np.linalg.norm(c)
    u, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return QuadraticProblem(lam, c, u)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="d = 200, t in {10^2, 10^3}")
    ap.add_argument("--subsample", type=int, default=0, help="check only N step sizes against mpmath (0: all)")
    args = ap.parse_args()
    d = 200 if args.quick else 1000
    horizons = [100, 1000] if args.quick else [100, 1000, 10000]
    p = make_problem(d)
    h, w0 = p.dense()
    etas = np.linspace(0.0, 3.0 / p.L, 201)[1:]  # 200 step sizes in (0, 3/L]
    sub = np.arange(etas.size) if args.subsample <= 0 else np.linspace(0, etas.size - 1, args.subsample).astype(int)

    print(f"d = {d}, kappa = {p.kappa:.0f}, 200 step sizes in (0, 3/L], eta* region around 2/(L+alpha) = {2 / (p.L + p.alpha):.4f}")
    header = (
        "| t | stable (s) | backprop f64 (s) | ratio | stable max rel err | stable max bwd err "
        "| backprop max rel err (ok) | backprop not ok |"
    )
    print(header)
    print("|" + "---|" * 8)
    for t in horizons:
        t0 = time.perf_counter()
        ev = evaluate(p, etas, t)
        t_stable = time.perf_counter() - t0
        t0 = time.perf_counter()
        bp = backprop(h, w0, etas, [t], dtype="float64", max_cost=None)
        t_bp = time.perf_counter() - t0
        rel_s = bwd_s = rel_b = 0.0
        for i in sub:
            ref = quadratic_reference(p.eigenvalues, p.coefficients, float(etas[i]), t, dps=60)
            gr = float(ref.log_objective_grad)
            g = float(ev.log_objective_grad[i])
            rel_s = max(rel_s, abs(g - gr) / abs(gr))
            bwd_s = max(bwd_s, abs(g - gr) / (abs(gr) + float(ref.grad_abs_terms)))
            if bp.status[i, 0] == "ok":
                rel_b = max(rel_b, abs(float(bp.log_objective_grad[i, 0]) - gr) / abs(gr))
        not_ok = float(np.mean(bp.status[:, 0] != "ok"))
        print(
            f"| {t} | {t_stable:.4f} | {t_bp:.2f} | {t_bp / t_stable:.0f}x | {rel_s:.1e} | {bwd_s:.1e} "
            f"| {rel_b:.1e} | {not_ok:.0%} |",
            flush=True,
        )
    eval_end_to_end(p, etas)


def eval_end_to_end(p: QuadraticProblem, etas: np.ndarray) -> None:
    """`l2l eval` as a user runs it (a new process: start-up, JSON in and out) at t = 10^9."""
    import json
    import subprocess
    import sys
    import tempfile

    req = {"model": "quadratic_gd", "eigenvalues": p.eigenvalues.tolist(), "coefficients": p.coefficients.tolist(), "eta": etas.tolist(), "t": 10**9}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(req, fh)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", fh.name], capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        assert proc.returncode == 0, proc.stderr
    n = len(json.loads(proc.stdout)["results"])
    print(f"\n`l2l eval`, d = {p.dim}, {n} step sizes, t = 10^9, new process each time: median {np.median(times):.2f} s, max {max(times):.2f} s (5 runs)")


if __name__ == "__main__":
    main()
