"""Benchmark: the noisy quadratic model (numerics.nqm), speed and the spec's reference numbers.

Spec ``wu2018.md`` §7 (all numbers on the STAND-IN h_i = 1/i, sigma2_i = kappa / h_i,
E w_0^2 = 1; not the paper's instance). Tables:

1. **Exact expected loss**, d = 10^4, t = 10^4 (constant and per-step schedules, SGD and heavy
   ball) and 10^5-step schedules: wall and CPU time of ``run`` against (a) the general
   ``numerics.least_squares.moments.additive_noise_expectation`` on the same diagonal problem (it also carries
   the eta-tangent), (b) a plain-Python loop over coordinates and steps (timed on 100
   coordinates, extrapolated linearly in d) and (c) Monte Carlo: a vectorised simulation of the
   update rule; a pilot run (8 paths, 200 steps) gives the time per path-step; the estimator of
   the excess loss 1/2 sum h_i w_i^2 has the exact per-path standard deviation
   sqrt(2 sum (h_i X_i / 2)^2) (w_i ~ N(0, X_i) independent), which gives the number of paths
   for a standard error of 1e-3 x excess, and its time is extrapolated.
2. **Optimal schedule**, d = 1000, T = 250: time to solution and loss reached by
   ``optimal_schedule`` (L-BFGS-B + adjoint gradient) against L-BFGS-B with scipy's
   finite-difference gradient (T + 1 loss evaluations per gradient; run on T = 250 for SGD at
   kappa = 1 and on T = 50 for the others, where T = 250 would take tens of minutes). JAX
   autodiff is compared only if ``import jax`` works (it is not installed here: skipped).
3. **Adjoint** at T = 10^5, d = 10^4 (checkpointing), and the receding-horizon schedule.
4. **Reference tables** of spec §7: greedy / T-optimal / best fixed, step-size ranges, first
   crossing, curvature split, momentum, receding horizon, inverse-time decay.

Times are on this machine; other jobs may share its two cores, so CPU time is printed beside wall
time. Run with ``OMP_NUM_THREADS=1``.

Run:  python benchmarks/nqm.py [--quick]   (``--quick``: skips the T = 10^5 adjoint, the
finite-difference baselines and the T = 20000 inverse-time row)
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time

import numpy as np
from scipy.optimize import minimize

from l2l.numerics.least_squares.moments import additive_noise_expectation
from l2l.numerics.nqm import (
    NQMProblem,
    best_constant_eta,
    greedy_schedule,
    inverse_time,
    optimal_schedule,
    receding_horizon_schedule,
    run,
    tune_inverse_time,
)

CAP = 1.999  # eta_max = 1.999 / h_max (h_max = 1 on the stand-in)


def timed(f, *args, **kw):
    t0, c0 = time.perf_counter(), time.process_time()
    out = f(*args, **kw)
    return out, time.perf_counter() - t0, time.process_time() - c0


def fmt_time(s: float) -> str:
    if s < 120:
        return f"{s:.3g} s"
    if s < 2 * 86400:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:.3g} days"


# ---------------------------------------------------------------------------------------------
# 1. exact expected loss


def python_loop(h, s2, x0, etas, mus) -> float:
    """Plain Python: per coordinate, per step, the three raw-moment recursions."""
    total = 0.0
    for i in range(len(h)):
        X, W, Y = x0[i], 0.0, 0.0
        hi, qi = h[i], h[i] * h[i] * s2[i]
        for e, u in zip(etas, mus):
            a = e * hi
            b = 1.0 - a
            m = u * u * W + e * e * qi
            X, W, Y = b * b * X + 2 * u * b * Y + m, a * a * X - 2 * u * a * Y + m, -a * b * X + u * (1 - 2 * a) * Y + m
        total += 0.5 * hi * X
    return total


def monte_carlo(p: NQMProblem, etas, mus, n_paths: int, seed: int = 0):
    """Vectorised simulation of v' = mu v - eta h (w - c), w' = w + v': (mean, sd) of the loss at t
    (used here for its time per path-step)."""
    rng = np.random.default_rng(seed)
    h, sd = p.h, np.sqrt(p.sigma2)
    w = p.mean0 + np.sqrt(p.var0) * rng.standard_normal((n_paths, p.d))
    v = np.zeros_like(w)
    for e, u in zip(etas, mus):
        c = sd * rng.standard_normal(w.shape)
        v = u * v - e * h * (w - c)
        w = w + v
    c = sd * rng.standard_normal(w.shape)
    loss = 0.5 * ((w - c) ** 2) @ h
    return float(loss.mean()), float(loss.std(ddof=1))


def table_run(quick: bool) -> None:
    d, t = 10**4, 10**4
    p = NQMProblem.stand_in(d)
    print(f"\n## 1. Exact expected loss: stand-in d = {d}, kappa = 1\n")
    print("| case | t | run(): wall (cpu) | moments.additive_noise_expectation | ratio | plain Python (extrapolated) | ratio | Monte Carlo, s.e. 1e-3 x excess (extrapolated) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    sched = inverse_time(1.0, 1000.0, 1.0, t)
    cases = [
        ("SGD, eta = 0.5", 0.5, 0.0),
        ("momentum, eta = 0.05, mu = 0.9", 0.05, 0.9),
        ("SGD, eta_t = 1/(1 + t/1000)", sched, 0.0),
        ("momentum, same eta_t, mu_t = 0.9 t/T", sched, np.linspace(0, 0.9, t)),
    ]
    for name, eta, mu in cases:
        tr, w, c = timed(run, p, eta, t, mu)
        ref, w_ref, _ = timed(additive_noise_expectation, p.h, np.zeros(d), p.h**2 * p.sigma2, eta, t, mu=mu,
                              mean0=p.mean0, cov0=p.var0, loss_offset=p.irreducible)
        agree = abs((ref.expected_loss - p.irreducible) - tr.final_excess) / tr.final_excess
        et = np.broadcast_to(np.asarray(eta, float), (t,))
        mt = np.broadcast_to(np.asarray(mu, float), (t,))
        sub = 100
        _, w_py, _ = timed(python_loop, p.h[:sub].tolist(), p.sigma2[:sub].tolist(), p.X0[:sub].tolist(), et.tolist(), mt.tolist())
        w_py *= d / sub
        pilot_paths, pilot_t = 8, 200
        (_, _), w_pilot, _ = timed(monte_carlo, p, et[:pilot_t], mt[:pilot_t], pilot_paths)
        per_path_step = w_pilot / (pilot_paths * pilot_t)
        # the MC estimator of the excess 1/2 sum h w_i^2: w_i ~ N(0, X_i) independent (mean0 = 0), so its
        # per-path sd is exactly sqrt(2 sum (h_i X_i / 2)^2)
        mc_sd = math.sqrt(2 * float((0.5 * p.h * tr.state.X) @ (0.5 * p.h * tr.state.X)))
        n_mc = (mc_sd / (1e-3 * tr.final_excess)) ** 2
        w_mc = n_mc * t * per_path_step
        print(f"| {name} | {t} | {w:.3g} s ({c:.3g} s) | {w_ref:.3g} s (excess rel. diff {agree:.1e}) | {w_ref / w:.0f}x "
              f"| {fmt_time(w_py)} | {w_py / w:.0f}x | {fmt_time(w_mc)} ({n_mc:.2g} paths) | {w_mc / w:.0e}x |", flush=True)
    t5 = 10**5
    s5 = inverse_time(1.0, 1000.0, 1.0, t5)
    for name, mu in (("SGD, 10^5-step schedule", 0.0), ("momentum, 10^5-step schedules", np.linspace(0, 0.9, t5))):
        _, w, c = timed(run, p, s5, t5, mu)
        print(f"| {name} | {t5} | {w:.3g} s ({c:.3g} s) | - | - | - | - | - | - |", flush=True)


# ---------------------------------------------------------------------------------------------
# 2. optimal schedule


def fd_lbfgs(p: NQMProblem, T: int, momentum: bool, x0: np.ndarray, maxiter: int):
    """Baseline: the same parameterisation and bounds, scipy's 2-point finite-difference gradient."""
    irr = p.irreducible
    lo, hi = math.log(CAP * 1e-12), math.log(CAP)

    def f(x):
        et = np.exp(x[:T])
        mu = np.concatenate(([0.0], np.tanh(x[T:]))) if momentum else 0.0
        return run(p, et, T, mu, curve=False).final_loss

    bounds = [(lo, hi)] * T + ([(0.0, math.atanh(0.999))] * (T - 1) if momentum else [])
    res = minimize(f, x0, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter, "ftol": 0.0, "gtol": 1e-9})
    return res.fun - irr, res


def table_optimal(quick: bool) -> None:
    print("\n## 2. Optimal schedule (L-BFGS-B, adjoint gradient), stand-in d = 1000, eta_max = 1.999\n")
    print("| problem | T | adjoint: wall (cpu) | evaluations | excess reached | grad_inf | FD-gradient L-BFGS-B: wall | work | excess reached | time ratio (same T) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = [(1.0, False, 250, 250), (0.01, False, 250, 50), (0.01, True, 250, 50), (1.0, True, 250, 50)]
    for kappa, mom, T, T_fd in rows:
        p = NQMProblem.stand_in(1000, kappa=kappa)
        s, w, c = timed(optimal_schedule, p, T, eta_max=CAP, momentum=mom)
        name = f"kappa = {kappa}, {'momentum' if mom else 'SGD'}"
        fd = "skipped (--quick)"
        if not quick:
            if T_fd != T:  # the adjoint on the same smaller instance, for a like-for-like ratio
                s_small, w_small, _ = timed(optimal_schedule, p, T_fd, eta_max=CAP, momentum=mom)
            else:
                s_small, w_small = s, w
            e0, _ = best_constant_eta(p, T_fd, eta_max=CAP)
            x0 = np.full(T_fd, math.log(e0))
            if mom:
                x0 = np.concatenate((x0, np.zeros(T_fd - 1)))
            (exc_fd, res), w_fd, _ = timed(fd_lbfgs, p, T_fd, mom, x0, maxiter=400)
            fd = (f"T = {T_fd}: {w_fd:.3g} s | {res.nit} iterations, {res.nfev} loss evaluations | {exc_fd:.6f} "
                  f"(adjoint on T = {T_fd}: {w_small:.3g} s, {s_small.final_excess:.6f}) | {w_fd / w_small:.0f}x")
        print(f"| {name} | {T} | {w:.3g} s ({c:.3g} s) | {s.info['evaluations']} | {s.final_excess:.6f} | {s.info['grad_inf']:.1e} | {fd} |", flush=True)
    try:
        import jax  # noqa: F401
        print("\nJAX is importable, but a JAX baseline is not implemented here.")
    except ImportError:
        print("\nJAX autodiff baseline: skipped (`import jax` fails: not installed on this machine).")


# ---------------------------------------------------------------------------------------------
# 3. adjoint at scale, receding horizon


_ADJOINT_AT_SCALE = """
import time
import numpy as np
from l2l.numerics.nqm import NQMProblem, inverse_time, run, schedule_gradient
p = NQMProblem.stand_in(10**4)
T = 10**5
et = inverse_time(1.0, 100.0, 1.0, T)
mu = {mu}
t0, c0 = time.perf_counter(), time.process_time()
L, g, gm = schedule_gradient(p, et, mu)
w, c = time.perf_counter() - t0, time.process_time() - c0
ref = run(p, et, T, 0.0 if mu is None else mu, curve=False).final_loss
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]  # this process's peak RSS
print(w, c, abs(L - ref) / ref, float(hwm[0].split()[1]) / 1024 if hwm else float("nan"))
"""


def table_scale(quick: bool) -> None:
    print("\n## 3. Adjoint at scale and receding horizon\n")
    print("| what | wall (cpu) | check |")
    print("|---|---|---|")
    if not quick:
        for name, mu in (("SGD", "None"), ("momentum", "np.linspace(0, 0.9, T)")):
            out = subprocess.run([sys.executable, "-c", _ADJOINT_AT_SCALE.format(mu=mu)], capture_output=True, text=True, check=True)
            w, c, rel, rss = (float(v) for v in out.stdout.split())
            print(f"| schedule_gradient, {name}, d = 10^4, T = 10^5 (checkpointed; own process) | {w:.3g} s ({c:.3g} s) "
                  f"| loss equals run() to {rel:.1e}; peak RSS of the process {rss:.0f} MB |", flush=True)
    p = NQMProblem.stand_in(1000)
    for k in (1, 300):
        s, w, c = timed(receding_horizon_schedule, p, 1000, k, eta_max=CAP)
        print(f"| receding horizon k = {k}, d = 1000, T = 1000 | {w:.3g} s ({c:.3g} s) | final excess {s.final_excess:.3f} |", flush=True)


# ---------------------------------------------------------------------------------------------
# 4. reference tables


def first_cross(opt, greedy) -> int | None:
    hit = np.nonzero(opt.loss < greedy.loss)[0]
    hit = hit[hit > 0]
    return int(hit[0]) if hit.size else None


def table_reference(quick: bool) -> None:
    print("\n## 4. Reference numbers (spec §7; excess loss; ours / spec)\n")
    print("| setting | greedy @T | T-optimal @T | best fixed @T (eta) | greedy eta t=0 -> T-1 | optimal eta t=0 -> T-1 | first t optimal < greedy |")
    print("|---|---|---|---|---|---|---|")
    spec = {
        ("1000", 250, "kappa=1"): ("1.461", "0.956", "1.192 (0.246)", "0.578 -> 0.036", "0.995 -> 0.045", "107"),
        ("1000", 250, "kappa=0.01"): ("0.484", "0.138", "0.200 (1.68)", "1.349 -> 0.296", "2.0 (cap) -> 0.295", "241"),
        ("1000", 250, "sigma2=1"): ("1.350", "0.207", "0.772 (0.558)", "0.684 -> 0.040", "2.0 (cap) -> 0.041", "205"),
        ("1000", 1000, "kappa=1"): ("1.110", "0.455", "-", "0.578 -> 0.017", "0.998 -> 0.019", "-"),
        ("100", 100, "kappa=1"): ("0.668", "0.434", "0.581", "0.576 -> 0.053", "0.978 -> 0.058", "42"),
        ("100", 100, "kappa=0.01"): ("0.078", "0.0135", "0.035", "1.342 -> 0.267", "1.999 -> 0.160", "74"),
        ("20", 50, "kappa=1"): ("0.282", "0.208", "0.289", "0.571 -> 0.063", "0.925 -> 0.064", "21"),
    }
    keep = {}
    for (n, T, noise), ref in spec.items():
        n_ = int(n)
        if noise == "sigma2=1":
            i = np.arange(1, n_ + 1, dtype=float)
            p = NQMProblem(1.0 / i, np.ones(n_), np.zeros(n_), np.ones(n_))
        else:
            p = NQMProblem.stand_in(n_, kappa=float(noise.split("=")[1]))
        g = greedy_schedule(p, T)
        o = optimal_schedule(p, T, eta_max=CAP)
        e_fix, L_fix = best_constant_eta(p, T, eta_max=CAP)
        keep[(n, T, noise)] = (p, g, o)
        cells = [
            f"{g.final_excess:.4f} / {ref[0]}",
            f"{o.final_excess:.4f} / {ref[1]}",
            f"{L_fix - p.irreducible:.4f} ({e_fix:.3f}) / {ref[2]}",
            f"{g.etas[0]:.3f} -> {g.etas[-1]:.3f} / {ref[3]}",
            f"{o.etas[0]:.3f} -> {o.etas[-1]:.3f} / {ref[4]}",
            f"{first_cross(o, g)} / {ref[5]}",
        ]
        print(f"| n={n}, T={T}, {noise} | " + " | ".join(cells) + " |", flush=True)

    p, g, o = keep[("1000", 250, "kappa=1")]
    hi, lo = p.h >= 0.1, p.h < 0.01
    ge, oe = 0.5 * p.h * g_state(p, g), 0.5 * p.h * g_state(p, o)
    print(f"\nCurvature split (n=1000, T=250, kappa=1), greedy vs optimal: high (h >= 0.1) {ge[hi].sum():.3f} vs "
          f"{oe[hi].sum():.3f} (spec 0.034 vs 0.069); low (h < 0.01) {ge[lo].sum():.3f} vs {oe[lo].sum():.3f} (spec 1.011 vs 0.701)")

    print("\n| momentum (n=1000, T=250) | greedy (eta, mu) | optimal (eta_t, mu_t) | spec | optimal mu range (t >= 1) | max eta/(1-mu) | time |")
    print("|---|---|---|---|---|---|---|")
    for kappa, ref in ((1.0, "1.451 / 0.956"), (0.01, "0.411 / 0.030")):
        p = NQMProblem.stand_in(1000, kappa=kappa)
        gm = greedy_schedule(p, 250, momentum=True, eta_max=CAP)
        om, w, _ = timed(optimal_schedule, p, 250, eta_max=CAP, momentum=True)
        mus = om.mus[1:]
        print(f"| kappa = {kappa} | {gm.final_excess:.4f} (mu {gm.mus.min():.2f}..{gm.mus.max():.2f}) | {om.final_excess:.4f} | {ref} "
              f"| {mus.min():.3f}..{mus.max():.3f} (median {np.median(mus):.3f}) | {np.max(om.etas / (1 - om.mus)):.1f} | {w:.3g} s |", flush=True)

    print("\n| receding horizon k (n=1000, kappa=1, T=1000) | excess @T | spec | eta at t=100 | spec |")
    print("|---|---|---|---|---|")
    p = NQMProblem.stand_in(1000)
    spec_rh = {1: ("1.110", "0.058"), 3: ("1.101", "-"), 10: ("1.069", "0.068"), 30: ("0.990", "-"), 100: ("0.833", "0.156"), 300: ("0.706", "0.186")}
    for k, (ref, ref_e) in spec_rh.items():
        s = receding_horizon_schedule(p, 1000, k, eta_max=CAP)
        print(f"| {k} | {s.final_excess:.4f} | {ref} | {s.etas[100]:.3f} | {ref_e} |", flush=True)
    o = keep[("1000", 1000, "kappa=1")][2]
    print(f"| T-optimal | {o.final_excess:.4f} | 0.455 | {o.etas[100]:.3f} | - |")

    print("\n| inverse-time decay (tau = 5000, n=1000, kappa=1) T | best beta | spec | best eta0 | excess @T | excess of that schedule @20000 | spec | time |")
    print("|---|---|---|---|---|---|---|---|")
    eg = np.exp(np.linspace(math.log(1e-3), math.log(1.9), 12))
    bg = np.concatenate(([0.0], np.logspace(-2, 2, 13)))
    spec_it = {100: ("100", "1.114"), 1000: ("20.2", "0.406"), 5000: ("6.06", "0.103"), 20000: ("2.72", "0.0417")}
    for T, (rb, rl) in spec_it.items():
        if quick and T == 20000:
            print("| 20000 | skipped (--quick) | 2.72 | | | | 0.0417 | |")
            continue
        (e0, b, L), w, _ = timed(tune_inverse_time, p, T, tau=5000.0, eta0_grid=eg, beta_grid=bg)
        L20 = run(p, inverse_time(e0, 5000.0, b, 20000), 20000, curve=False).final_excess
        print(f"| {T} | {b:.3g} | {rb} | {e0:.3f} | {L - p.irreducible:.4f} | {L20:.4f} | {rl} | {w:.3g} s |", flush=True)
    print("\nGrid: 12 log-spaced eta0 in [1e-3, 1.9] x beta in {0} U 13 log-spaced in [0.01, 100], then L-BFGS-B polish inside the grid box.")


def g_state(p: NQMProblem, s) -> np.ndarray:
    return run(p, s.etas, s.etas.size, s.mus, curve=False).state.X


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the slowest rows")
    args = ap.parse_args()
    table_run(args.quick)
    table_optimal(args.quick)
    table_scale(args.quick)
    table_reference(args.quick)


if __name__ == "__main__":
    main()
