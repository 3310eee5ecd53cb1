"""Benchmark: exact expected SGD loss (numerics.least_squares.moments) against Monte Carlo (numerics.least_squares.montecarlo).

Problem: d = 100, n = 50 training points, B = 1, t = 1000; X Gaussian, y = X w* + 0.5 noise with
w* ~ N(0, I/d); a validation set of 200 points; eta = 1 / max_j ||x_j||^2 (well inside the
one-sample stability region, where the expected loss still has a noise floor).

Measured:

* wall time of ``finite_set_expectation`` (expected training and validation losses and both
  eta-derivatives, exact), median of repeats;
* Monte Carlo: a pilot run gives the per-path standard deviation ``sd`` of the training loss at
  step t and the time per path-step; the number of paths for a standard error of 1e-6 relative is
  ``(sd / (1e-6 mean))^2`` and its time is extrapolated linearly; a feasible run (``--paths``) is
  then actually made and its achieved relative standard error and z-score against the exact value
  reported.

Run:  python benchmarks/sgd_moments.py [--quick] [--paths N] [--seed S]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from l2l.numerics import LeastSquaresProblem
from l2l.numerics.least_squares.moments import finite_set_expectation
from l2l.numerics.least_squares.montecarlo import simulate_finite_set


def make_problem(seed: int = 0, n: int = 50, d: int = 100, n_valid: int = 200) -> LeastSquaresProblem:
    rng = np.random.default_rng(seed)
    w_star = rng.normal(size=d) / np.sqrt(d)
    X = rng.normal(size=(n, d))
    y = X @ w_star + 0.5 * rng.normal(size=n)
    Xv = rng.normal(size=(n_valid, d))
    yv = Xv @ w_star + 0.5 * rng.normal(size=n_valid)
    return LeastSquaresProblem(X, y, Xv, yv)


def fmt_time(s: float) -> str:
    if s < 120:
        return f"{s:.3g} s"
    if s < 2 * 86400:
        return f"{s / 3600:.3g} h"
    if s < 2 * 365 * 86400:
        return f"{s / 86400:.3g} days"
    return f"{s / (365 * 86400):.3g} years"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller pilot and feasible runs")
    ap.add_argument("--paths", type=int, default=None, help="paths of the feasible Monte Carlo run")
    ap.add_argument("--seed", type=int, default=1, help="Monte Carlo seed")
    args = ap.parse_args()
    n, d, B, t = 50, 100, 1, 1000
    p = make_problem()
    eta = 1.0 / float(np.max(np.sum(p.X**2, axis=1)))
    pilot = 1000 if args.quick else 4096
    feasible = args.paths or (4096 if args.quick else 40960)

    finite_set_expectation(p, eta, 10, B)  # warm-up (imports, BLAS threads)
    times = []
    for _ in range(3 if args.quick else 7):
        t0 = time.perf_counter()
        ex = finite_set_expectation(p, eta, t, B)
        times.append(time.perf_counter() - t0)
    t_exact = statistics.median(times)
    etas = eta * np.linspace(0.25, 1.5, 10)
    t0 = time.perf_counter()
    finite_set_expectation(p, etas, t, B)
    t_exact10 = time.perf_counter() - t0

    print(f"d = {d}, n = {n}, B = {B}, t = {t}, eta = {eta:.4g} (1 / max_j ||x_j||^2), rank X = {ex.rank}")
    print(
        f"exact: E[train] = {ex.expected_train_loss:.10g}, d/deta = {ex.expected_train_loss_grad:.10g}; "
        f"E[valid] = {ex.expected_valid_loss:.10g}, d/deta = {ex.expected_valid_loss_grad:.10g}"
    )
    print(f"exact time: {t_exact:.3f} s (median of {len(times)}); 10 step sizes at once: {t_exact10:.3f} s")

    t0 = time.perf_counter()
    pl = simulate_finite_set(p, eta, t, B, pilot, seed=args.seed)
    t_pilot = time.perf_counter() - t0
    per_path_step = t_pilot / (pilot * t)
    sd = pl.train_loss.sd
    need = (sd / (1e-6 * pl.train_loss.mean)) ** 2
    t_need = need * t * per_path_step
    print(
        f"pilot MC: {pilot} paths in {t_pilot:.2f} s ({per_path_step * 1e9:.0f} ns per path-step, pathwise "
        f"derivatives included); per-path sd / mean of the training loss = {sd / pl.train_loss.mean:.3g}"
    )

    t0 = time.perf_counter()
    fe = simulate_finite_set(p, eta, t, B, feasible, seed=args.seed + 1)
    t_feas = time.perf_counter() - t0
    rel = fe.train_loss.stderr / fe.train_loss.mean
    print(
        f"feasible MC: {feasible} paths in {t_feas:.1f} s: E[train] = {fe.train_loss.mean:.6g} +- "
        f"{fe.train_loss.stderr:.2g} (relative stderr {rel:.2g}, z vs exact = {fe.train_loss.z(ex.expected_train_loss):+.2f}); "
        f"d/deta = {fe.train_loss_grad.mean:.6g} +- {fe.train_loss_grad.stderr:.2g} "
        f"(z = {fe.train_loss_grad.z(ex.expected_train_loss_grad):+.2f}); "
        f"E[valid] z = {fe.valid_loss.z(ex.expected_valid_loss):+.2f}, d/deta z = {fe.valid_loss_grad.z(ex.expected_valid_loss_grad):+.2f}"
    )
    print()
    print("| quantity | value |")
    print("|---|---|")
    print(f"| exact E[loss] + d/deta (train and valid), time | {t_exact:.3f} s |")
    print(f"| MC time per 10^3 paths (t = {t}) | {1e3 * t * per_path_step:.2f} s |")
    print(f"| MC achieved: {feasible} paths | {t_feas:.1f} s, relative stderr {rel:.2g} |")
    print(f"| MC paths needed for relative stderr 1e-6 | {need:.3g} |")
    print(f"| MC time needed for relative stderr 1e-6 (extrapolated) | {fmt_time(t_need)} |")
    print(f"| ratio MC(1e-6) / exact | {t_need / t_exact:.3g} |")


if __name__ == "__main__":
    main()
