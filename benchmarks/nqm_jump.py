"""Benchmark: the NQM's expected loss at step t for a constant eta and mu, jump vs step recursion.

One markdown table. Problem: the spec's stand-in (``wu2018.md`` §2: h_i = 1/i, sigma2_i = 1/h_i,
E w_0^2 = 1), d = 1000; SGD (eta = 0.5, mu = 0) and heavy ball (eta = 0.5, mu = 0.9). Columns:

* **jump**: ``numerics.nqm.jump.run_constant`` (the closed form for SGD, repeated squaring of the
  one-step affine map for heavy ball; long double), median of repeats, final value only;
* **run**: the step recursion ``numerics.nqm.run(..., precision="extended")`` that ``l2l eval``
  used before (O(t d)): measured at t = 10^3 and 10^4, at 10^6 if the 10^4 time predicts under
  30 s, otherwise extrapolated linearly from 10^4 (marked "extrapolated");
* **numpy loop**: a bare vectorised float64 loop of the 3x3 moment recursion (no exact product, no
  overflow guard), timed at 10^3 and extrapolated linearly;
* **JAX**: only if ``import jax`` works;
* **max rel. diff**: jump (``stride=1``, every step) against run, over the excess-loss curve 0..t,
  at t = 10^3 and 10^4.

Times are wall-clock on this machine (other jobs may share its two cores).

Run:  python benchmarks/nqm_jump.py [--quick]   (``--quick``: 3 repeats, run measured at 10^3
only, the 10^4 accuracy row skipped; under 10 s)
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from l2l.numerics.nqm import NQMProblem, run
from l2l.numerics.nqm.jump import run_constant

D = 1000
HORIZONS = (10**3, 10**4, 10**6, 10**9)
SETTINGS = (("SGD", 0.5, 0.0), ("heavy ball", 0.5, 0.9))


def _median_time(f, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def numpy_loop(h, s2, X0, eta, mu, t):
    """The 3x3 raw-moment recursion as a plain float64 numpy loop (the baseline)."""
    a = eta * h
    b = 1.0 - a
    n = a * a * s2
    X, W, Y = X0.copy(), np.zeros_like(X0), np.zeros_like(X0)
    for _ in range(t):
        m = mu * mu * W + n
        X, W, Y = b * b * X + 2.0 * mu * b * Y + m, a * a * X - 2.0 * mu * a * Y + m, -a * b * X + mu * (1.0 - 2.0 * a) * Y + m
    return 0.5 * float(h @ X)


def _jax_status() -> str:
    try:
        import jax  # noqa: F401
    except ImportError:
        return "not installed"
    return "installed, not timed"


def _fmt_s(x: float) -> str:
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def table(quick: bool) -> str:
    """The markdown table (``quick``: fewer repeats, no t = 10^4 measurement)."""
    p = NQMProblem.stand_in(D)
    repeats = 3 if quick else 7
    jax = _jax_status()
    rows = ["| method | t | jump (median) | run, extended (O(t d)) | numpy loop, float64 | JAX | run / jump | "
            "max rel. diff jump vs run (curve 0..t) |",
            "|---|---:|---:|---:|---:|---|---:|---:|"]
    for name, eta, mu in SETTINGS:
        run_t = {}
        t_run = (10**3,) if quick else (10**3, 10**4)
        for t in t_run:
            run_t[t] = _median_time(lambda: run(p, eta, t, mu=mu, curve=False, precision="extended"), 1 if t > 10**3 else repeats)
        base_t, base = max(run_t), run_t[max(run_t)]
        if not quick and base * 10**6 / base_t < 30:
            run_t[10**6] = _median_time(lambda: run(p, eta, 10**6, mu=mu, curve=False, precision="extended"), 1)
        np_1e3 = _median_time(lambda: numpy_loop(p.h, p.sigma2, p.X0, eta, mu, 10**3), repeats)
        for t in HORIZONS:
            if quick and t == 10**4:
                continue
            tj = _median_time(lambda: run_constant(p, eta, t, mu=mu), repeats)
            if t in run_t:
                tr, r_note = run_t[t], _fmt_s(run_t[t])
            else:
                tr = base * t / base_t
                r_note = f"{_fmt_s(tr)} (extrapolated from 10^{int(np.log10(base_t))})"
            tn = np_1e3 * t / 10**3
            n_note = _fmt_s(tn) + ("" if t == 10**3 else " (extrapolated)")
            if t in (10**3, 10**4) and not (quick and t == 10**4):
                c = run_constant(p, eta, t, mu=mu, stride=1).excess
                ref = run(p, eta, t, mu=mu, precision="extended").excess
                acc = f"{float(np.max(np.abs(c / ref - 1))):.1e}"
            else:
                acc = "—"
            rows.append(f"| {name} (eta {eta}, mu {mu}) | 10^{int(np.log10(t))} | {_fmt_s(tj)} | {r_note} | {n_note} | {jax} | "
                        f"{tr / tj:.3g}x | {acc} |")
    return "\n".join(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 repeats, no 10^4 rows (under 10 s)")
    args = ap.parse_args(argv)
    print(table(args.quick))


if __name__ == "__main__":
    main()
