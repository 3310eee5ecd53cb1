"""Benchmark: ``numerics.quadratic.stable.evaluate`` against the bare-numpy lower bound (issue 17, item 1).

Two sizes, both at t = 10^9 (where f(w_t) and d f/d eta are far outside the float64 range):

* d = 1000 eigenvalues (log-uniform in [1e-2, 1]), 200 step sizes spread over (0, 3/L];
* d = 10^6 eigenvalues (same law), one step size eta = 1.9/L.

Per size, in one run: wall time of the package's ``evaluate`` and of the bare-numpy version (median
of ``--repeats`` calls after one warm-up, the two interleaved so that a busy machine slows both
alike), their ratio, the CPU time of each (``time.process_time``, median), a JAX jitted version of
the bare formula if ``import jax`` works, the peak extra memory of one package call (tracemalloc,
which sees numpy's allocations) as a multiple of the input arrays' bytes (eigenvalues +
coefficients), and the max relative error of G' = d/d eta (1/t) ln f and of G'' against a 50-digit
mpmath reference:

* d = 1000: ``numerics.quadratic.reference.quadratic_reference`` (all components, dps = 50) at 20
  evenly spaced step sizes;
* d = 10^6: the full 50-digit sum does not finish in 20 s, so the same reference is taken over the
  components whose term c^2 lambda a^(2t) is within e^-1000 of the largest (selected with a float
  estimate of ln of each term, accurate to far better than the margin); every other term is below
  e^-1000 of the largest, so the d - k left out change the sums by < 10^6 e^-1000 relative.

The bare-numpy baseline (``bare_numpy``) is what a competent person writes in ten lines: a = 1 -
eta lambda, ln|a|, the max-shifted log-sum-exp of ln(c^2 lambda a^(2t)), and from the same weights
the same output fields as ``evaluate``: ln f, (1/t) ln f, G', G'' (as 4t (E r^2 - (E r)^2) - 2 E r^2),
and the sign and ln|.| of d f/d eta; no exact products, no variance form.

Run:  python benchmarks/evaluate.py [--quick] [--repeats N]
(``--quick``: d = 200 with 50 step sizes and d = 10^5, 5 reference step sizes; under 10 s.)
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc
from typing import Callable

import numpy as np

from l2l.numerics import QuadraticProblem
from l2l.numerics.quadratic import stable
from l2l.numerics.quadratic.reference import quadratic_reference

T = 10**9


def make_problem(d: int, seed: int = 0) -> QuadraticProblem:
    """lambda log-uniform in [1e-2, 1] (kappa = 100, lambda_1 = 1 and lambda_2 = 1e-2 exactly),
    c uniform on the unit sphere, in the eigenbasis (no d x d matrix)."""
    rng = np.random.default_rng(seed)
    lam = np.exp(rng.uniform(np.log(1e-2), 0.0, d))
    lam[0], lam[1] = 1.0, 1e-2
    c = rng.normal(size=d)
    c /= np.linalg.norm(c)
    return QuadraticProblem(lam, c)


def bare_numpy(lam: np.ndarray, c: np.ndarray, eta: np.ndarray, t: float) -> dict:
    """The same fields as ``evaluate`` by a max-shifted log-sum-exp in plain float64."""
    eta = np.asarray(eta, np.float64).reshape(-1, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        a = 1.0 - eta * lam  # (n, d)
        x = np.log(c * c * lam) + (2.0 * t) * np.log(np.abs(a))  # ln(c^2 lam a^2t)
        m = np.max(x, axis=1, keepdims=True)
        w = np.exp(x - m)  # weights relative to the largest term
        r = lam / a  # -d ln|a| / d eta
        s0, s1, s2 = w.sum(1), (w * r).sum(1), (w * r * r).sum(1)
        log_loss = m[:, 0] + np.log(s0) + math.log(0.5)
        e1, e2 = s1 / s0, s2 / s0
        return {
            "log_loss": log_loss,
            "log_objective": log_loss / t,
            "grad": -2.0 * e1,
            "hess": 4.0 * t * (e2 - e1 * e1) - 2.0 * e2,
            "naive_grad_sign": -np.sign(s1),
            "naive_grad_log_abs": math.log(t) + m[:, 0] + np.log(np.abs(s1)),
        }


def _jax_version() -> Callable | None:
    """The bare formula under ``jax.jit`` in float64, or None without jax."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    @jax.jit
    def f(lam, c, eta, t):
        a = 1.0 - eta[:, None] * lam
        x = jnp.log(c * c * lam) + (2.0 * t) * jnp.log(jnp.abs(a))
        m = jnp.max(x, axis=1, keepdims=True)
        w = jnp.exp(x - m)
        r = lam / a
        s0, s1, s2 = w.sum(1), (w * r).sum(1), (w * r * r).sum(1)
        log_loss = m[:, 0] + jnp.log(s0) + math.log(0.5)
        e1, e2 = s1 / s0, s2 / s0
        return (log_loss, log_loss / t, -2.0 * e1, 4.0 * t * (e2 - e1 * e1) - 2.0 * e2, -jnp.sign(s1), jnp.log(t) + m[:, 0] + jnp.log(jnp.abs(s1)))

    return lambda lam, c, eta, t: [x.block_until_ready() for x in f(lam, c, eta, float(t))]


def _timed(fns: dict, repeats: int) -> dict:
    """Median wall and CPU seconds of each function, after one warm-up each, interleaved (the order
    alternates between repeats)."""
    for f in fns.values():
        f()
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    names = list(fns)
    for i in range(repeats):
        for k in names if i % 2 == 0 else names[::-1]:
            c0, t0 = time.process_time(), time.perf_counter()
            fns[k]()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: (float(np.median(wall[k])), float(np.median(cpu[k]))) for k in fns}


def _peak_extra(f: Callable) -> int:
    """Peak bytes allocated (tracemalloc) during one call of f, beyond what was allocated before."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        f()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def _reference_points(problem: QuadraticProblem, etas: np.ndarray, idx: np.ndarray, subset: bool) -> list:
    """(i, G', G'') from 50-digit mpmath at etas[idx]; ``subset``: over the components within
    e^-1000 of the largest term (module docstring)."""
    lam, c = problem.eigenvalues, problem.coefficients
    out = []
    for i in idx:
        eta = float(etas[i])
        keep = slice(None)
        if subset:
            with np.errstate(divide="ignore"):
                x = np.log(c * c * lam) + 2.0 * T * np.log(np.abs(1.0 - eta * lam))
            keep = np.flatnonzero(x >= np.max(x) - 1000.0)
        ref = quadratic_reference(lam[keep], c[keep], eta, T, dps=50)
        out.append((int(i), float(ref.log_objective_grad), float(ref.log_objective_hess)))
    return out


def _row(label: str, problem: QuadraticProblem, etas: np.ndarray, repeats: int, n_ref: int, subset: bool, jax_f) -> str:
    lam, c = problem.eigenvalues, problem.coefficients
    fns = {
        "pkg": lambda: stable.evaluate(problem, etas, T),
        "bare": lambda: bare_numpy(lam, c, etas, float(T)),
    }
    times = _timed(fns, repeats)
    jax_cell = "not installed"
    if jax_f is not None:
        jl, jc, je = (np.asarray(x) for x in (lam, c, etas))
        jax_cell = f"{1e3 * _timed({'jax': lambda: jax_f(jl, jc, je, T)}, repeats)['jax'][0]:.1f}"
    peak = _peak_extra(fns["pkg"])
    inputs = lam.nbytes + c.nbytes
    ev = stable.evaluate(problem, etas, T)
    bare = bare_numpy(lam, c, etas, float(T))
    idx = np.unique(np.linspace(0, etas.size - 1, min(n_ref, etas.size)).astype(int))
    refs = _reference_points(problem, etas, idx, subset)

    def err(values: np.ndarray, j: int) -> float:  # j = 0: G', 1: G''
        e = [abs(float(values[i]) - ref[j]) / abs(ref[j]) for i, *ref in refs]
        return max(x if math.isfinite(x) else math.inf for x in e)

    def cell(a: float, b: float) -> str:
        return f"{a:.1e} / {b:.1e}"

    wp, cp = times["pkg"]
    wb, cb = times["bare"]
    ref_kind = f"mpmath 50 digits, all {problem.dim} components, {len(refs)} step sizes" if not subset else (
        f"mpmath 50 digits over the components within e^-1000 of the largest term ({len(refs)} step size)")
    return (
        f"| {label} | {1e3 * wp:.1f} | {1e3 * wb:.1f} | {wp / wb:.2f} | {1e3 * cp:.1f} / {1e3 * cb:.1f} | {cp / cb:.2f} "
        f"| {jax_cell} | {peak / inputs:.2f}x ({peak / 2**20:.0f} MiB) "
        f"| {cell(err(ev.log_objective_grad, 0), err(bare['grad'], 0))} "
        f"| {cell(err(ev.log_objective_hess, 1), err(bare['hess'], 1))} | {ref_kind} |"
    )


def table(quick: bool = False, repeats: int = 7) -> str:
    """The markdown table (a header line and one line per size)."""
    jax_f = _jax_version()
    sizes = [(200, 50, 5, 10**5)] if quick else [(1000, 200, 20, 10**6)]
    d_small, n_eta, n_ref, d_big = sizes[0]
    p_small = make_problem(d_small)
    etas = np.linspace(0.0, 3.0 / p_small.L, n_eta + 1)[1:]
    p_big = make_problem(d_big, seed=1)
    lines = [
        f"t = 10^9; times in ms (median of {repeats}, after one warm-up, package and bare numpy interleaved); "
        "errors: max relative error against the reference in the last column (package / bare numpy)",
        "",
        "| size | package wall | bare numpy wall | ratio | CPU package / bare | CPU ratio | JAX jit wall "
        "| package peak extra memory (x input bytes) | G' max rel err | G'' max rel err | reference |",
        "|" + "---|" * 11,
        _row(f"d = {d_small}, {n_eta} step sizes in (0, 3/L]", p_small, etas, repeats, n_ref, False, jax_f),
        _row(f"d = {d_big:.0e}, eta = 1.9/L".replace("e+0", "e"), p_big, np.array([1.9 / p_big.L]), repeats, 1, True, jax_f),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="d = 200 (50 step sizes) and d = 10^5; under 10 s")
    ap.add_argument("--repeats", type=int, default=7, help="timed calls per function (median; default 7)")
    args = ap.parse_args(argv)
    print(table(args.quick, max(1, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
