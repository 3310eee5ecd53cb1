"""Benchmark: exact moments of the smoothed meta-loss and of the RP / ES estimators
(numerics.estimators.smoothing) against Monte Carlo (numerics.estimators.montecarlo) at equal
accuracy, side by side in one run (issue 14, item 5).

Problem: GD on a d = 8 quadratic (eigenvalues log-spaced in [0.01, 1], coefficients 1/sqrt(d)),
eta = 1.0, sigma = 0.01, unroll lengths T = 10, 100, 1000.

For each T it prints:

* the exact computation's wall time (median of repeats): the smoothed gradient and both estimator
  variances, all at once;
* the **hardware limit** of that computation on this machine: one float64 ``exp`` and one ``log``
  per closed-form evaluation ((T^2 + 3T + 1) x dim: 2T + 1 Hermite nodes, and T Gauss-Legendre
  nodes inside each for the ES integrand) as one bare numpy call, the least any method evaluating
  the closed form at those nodes must spend;
* Monte Carlo: a pilot run gives the per-sample standard deviation of the RP estimate of the
  smoothed gradient and the time per sample; the samples for a relative standard error of 1e-3 and
  of 1e-6 are ``(sd / (r |mean|))^2``, their time extrapolated linearly (a sample costs the same
  whatever the count), and the ratio to the exact time;
* when JAX is installed, a straightforward jitted JAX RP estimator of the same unroll (vmapped
  over samples, ``lax.scan`` over steps, ``jax.grad``) timed per sample after compilation and
  extrapolated the same way; otherwise one line says it was skipped.

Run:  python benchmarks/estimators.py [--quick] [--pilot N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from l2l.numerics import QuadraticProblem
from l2l.numerics.estimators import simulate_moments, smoothed_moments

ETA, SIGMA = 1.0, 0.01


def problem(d: int = 8) -> QuadraticProblem:
    return QuadraticProblem(np.geomspace(0.01, 1.0, d), np.full(d, 1.0 / np.sqrt(d)))


def fmt(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.3g} us"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    if s < 120:
        return f"{s:.3g} s"
    if s < 2 * 86400:
        return f"{s / 3600:.3g} h"
    if s < 2 * 365 * 86400:
        return f"{s / 86400:.3g} days"
    return f"{s / (365 * 86400):.3g} years"


def median_time(f, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def jax_rp(p: QuadraticProblem, T: int, n: int):
    """A jitted JAX RP estimator (per-sample d L_T / d eta at eta + sigma eps), or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    lam, c = jnp.asarray(p.eigenvalues), jnp.asarray(p.coefficients)

    def meta_loss(eta):
        def step(w, _):
            w = w - eta * lam * w
            return w, 0.5 * jnp.sum(lam * w * w)
        _, losses = jax.lax.scan(step, c, None, length=T)
        return jnp.mean(losses)

    grads = jax.jit(jax.vmap(jax.grad(meta_loss)))
    eps = jax.random.normal(jax.random.PRNGKey(0), (n,))
    return lambda: grads(ETA + SIGMA * eps).block_until_ready()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 10 and 100 only, fewer repeats")
    ap.add_argument("--pilot", type=int, default=20000, help="Monte Carlo pilot samples (default 20000)")
    args = ap.parse_args()
    p = problem()
    horizons = (10, 100) if args.quick else (10, 100, 1000)
    repeats = 3 if args.quick else 5
    print(f"d = {p.dim}, eta = {ETA}, sigma = {SIGMA}; exact = Gauss-Hermite (2T + 1 nodes), "
          f"Monte Carlo = RP estimate of the smoothed gradient, pilot {args.pilot} samples")
    print(f"{'T':>5} {'exact':>9} {'hw limit':>9} {'exact/limit':>11} {'MC 1e-3':>11} {'MC/exact':>9} "
          f"{'MC 1e-6':>11} {'MC/exact':>9} {'JAX 1e-3':>11}")
    jax_seen = True
    for T in horizons:
        exact = smoothed_moments(p, ETA, T, SIGMA)
        t_exact = median_time(lambda: smoothed_moments(p, ETA, T, SIGMA), repeats)
        n = (T * T + 3 * T + 1) * p.dim  # closed-form evaluations (smoothing's work count: ES nests T nodes)
        x = np.random.default_rng(0).uniform(0.5, 2.0, n)
        t_limit = median_time(lambda: np.log(np.exp(x)), repeats)
        pilot = min(args.pilot, max(100, 10**8 // (T * p.dim)))
        t0 = time.perf_counter()
        mc = simulate_moments(p, ETA, T, SIGMA, n_samples=pilot, seed=1)
        per_sample = (time.perf_counter() - t0) / pilot
        sd = float(np.sqrt(mc.rp.variance))
        mean = abs(float(exact.smoothed_meta_loss_grad))
        need = {r: (sd / (r * mean)) ** 2 for r in (1e-3, 1e-6)}
        z = (mc.rp.mean - exact.smoothed_meta_loss_grad) / mc.rp.mean_stderr
        cols = [f"{T:>5}", f"{fmt(t_exact):>9}", f"{fmt(t_limit):>9}", f"{t_exact / t_limit:>11.1f}"]
        for r in (1e-3, 1e-6):
            t_mc = need[r] * per_sample
            cols += [f"{fmt(t_mc):>11}", f"{t_mc / t_exact:>9.3g}"]
        jx = jax_rp(p, T, 4096)
        if jx is None:
            jax_seen = False
            cols.append(f"{'-':>11}")
        else:
            jx()  # compile
            t_j = median_time(jx, repeats) / 4096
            cols.append(f"{fmt(need[1e-3] * t_j):>11}")
        print(" ".join(cols) + f"   (pilot z = {z:+.2f}, RP sd/|mean| = {sd / mean:.3g})")
    if not jax_seen:
        print("JAX is not installed: the JAX column is skipped (pip install jax to fill it).")


if __name__ == "__main__":
    main()
