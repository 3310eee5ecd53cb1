"""Benchmark: exact expected SGD loss (numerics.least_squares.moments) against Monte Carlo.

Problem (issue 17, item 3): d = 100, n = 50 training points, B = 1, t = 1000; X Gaussian,
y = X w* + 0.5 noise with w* ~ N(0, I/d); a validation set of 200 points; eta = 1 / max_j ||x_j||^2
(inside the one-sample stability region, where the expected loss has a noise floor); w0 = 0.

Rows of the table:

* **exact**: ``finite_set_expectation`` -- E[training loss], E[validation loss] and both
  d/d eta, exact up to rounding -- median of repeats after a warm-up; and the same with
  ``grad=False`` (values only, no eta-tangent).
* Each MC row is compared like for like: MC rows that estimate the loss only against the exact
  values-only run, MC rows with derivatives against the full exact run.
* **MC, loss only**: the strong baseline, written here for speed: paths are the rows of a
  (paths, d) float64 matrix, all minibatch indices of a chunk drawn in one call, one gather
  (``np.take``) of the sampled rows per step and in-place updates; it estimates E[training loss
  at t] only (chunk of 256 paths: the fastest of 64..2048 measured on this machine).
* **MC, loss + d/d eta**: the same with the pathwise (reparameterised) derivative carried along,
  the like-for-like comparison with the exact row, which also returns the derivative.
* **MC, package**: ``numerics.least_squares.montecarlo.simulate_finite_set`` (training and
  validation losses and both derivatives, chunks of 1024 paths), for reference.
* **MC, JAX**: ``jax.lax.scan`` over steps, ``vmap`` over paths, float64, jit-compiled (loss only),
  when ``import jax`` works.

Each MC row comes from a pilot run: its per-path standard deviation sd of the training loss at t
and its time per path-step; the paths needed for a relative standard error eps are
(sd / (eps mean))^2 and their time is extrapolated linearly in paths. One feasible loss-only run
is also made and its achieved relative standard error and z-score against the exact value
reported. Exact and MC runs are interleaved (the host is shared: medians of interleaved
repeats), wall and CPU time are both shown, and ratios use the medians. BLAS is limited to one
thread for every row (the per-step products are small; on a shared host more threads only spin).

Run:  python benchmarks/sgd_moments.py [--quick] [--paths N] [--seed S]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import ThreadpoolController

from l2l.numerics import LeastSquaresProblem
from l2l.numerics.least_squares.moments import finite_set_expectation
from l2l.numerics.least_squares.montecarlo import simulate_finite_set

N_TRAIN, DIM, BATCH, HORIZON = 50, 100, 1, 1000
TARGETS = (1e-3, 1e-6)  # relative standard errors of E[training loss at t]


def make_problem(seed: int = 0, n: int = N_TRAIN, d: int = DIM, n_valid: int = 200) -> LeastSquaresProblem:
    rng = np.random.default_rng(seed)
    w_star = rng.normal(size=d) / np.sqrt(d)
    X = rng.normal(size=(n, d))
    y = X @ w_star + 0.5 * rng.normal(size=n)
    Xv = rng.normal(size=(n_valid, d))
    yv = Xv @ w_star + 0.5 * rng.normal(size=n_valid)
    return LeastSquaresProblem(X, y, Xv, yv)


def mc_numpy(problem: LeastSquaresProblem, eta: float, t: int, B: int, n_paths: int, seed: int, *, grad: bool = False, chunk: int = 256):
    """Training loss of w_t (and its pathwise d/d eta if ``grad``) on each of ``n_paths`` SGD paths
    from w0 = 0; minibatches of B indices drawn with replacement. Returns (losses, derivatives or None)."""
    X, y = problem.X, problem.y
    n, d = X.shape
    rng = np.random.default_rng(seed)
    f = np.empty(n_paths)
    g = np.empty(n_paths) if grad else None
    for start in range(0, n_paths, chunk):
        m = min(chunk, n_paths - start)
        idx_all = rng.integers(0, n, size=(t, B, m))
        W = np.zeros((m, d))
        Wd = np.zeros((m, d)) if grad else None
        xs = np.empty((B, m, d))
        upd = np.empty((m, d))
        res = np.empty((B, m))
        resd = np.empty((B, m))
        for step in range(t):
            idx = idx_all[step]
            np.take(X, idx, axis=0, out=xs)
            np.einsum("bpd,pd->bp", xs, W, out=res)
            res -= y[idx]
            if grad:  # wdot' = wdot - (1/B) sum_k x_k (r_k + eta x_k^T wdot)
                np.einsum("bpd,pd->bp", xs, Wd, out=resd)
                resd *= eta
                resd += res
                resd /= B
                for b in range(B):
                    np.multiply(xs[b], resd[b][:, None], out=upd)
                    Wd -= upd
            res *= eta / B
            for b in range(B):
                np.multiply(xs[b], res[b][:, None], out=upd)
                W -= upd
        R = W @ X.T - y
        f[start : start + m] = 0.5 * np.mean(R * R, axis=1)
        if grad:
            g[start : start + m] = np.mean(R * (Wd @ X.T), axis=1)
    return f, g


def mc_jax_factory(problem: LeastSquaresProblem, eta: float, t: int, B: int):
    """A jitted JAX Monte Carlo (loss only) ``run(n_paths, seed) -> losses``, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except Exception:  # noqa: BLE001 - any import failure means "not installed / unusable"
        return None
    jax.config.update("jax_enable_x64", True)
    X = jnp.asarray(problem.X, dtype=jnp.float64)
    y = jnp.asarray(problem.y, dtype=jnp.float64)
    n, d = problem.X.shape

    def one_path(key):
        def step(w, k):
            idx = jax.random.randint(k, (B,), 0, n)
            xs = X[idx]
            return w - (eta / B) * xs.T @ (xs @ w - y[idx]), None

        w, _ = jax.lax.scan(step, jnp.zeros(d, dtype=jnp.float64), jax.random.split(key, t))
        r = X @ w - y
        return 0.5 * jnp.mean(r * r)

    batched = jax.jit(jax.vmap(one_path))

    def run(n_paths: int, seed: int) -> np.ndarray:
        keys = jax.random.split(jax.random.PRNGKey(seed), n_paths)
        return np.asarray(batched(keys).block_until_ready())

    return run


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def _fmt_time(s: float) -> str:
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


def measure(quick: bool, paths: int | None = None, seed: int = 1) -> dict:
    """Every number of the table (see the module docstring)."""
    p = make_problem()
    t, B = HORIZON, BATCH
    eta = 1.0 / float(np.max(np.sum(p.X**2, axis=1)))
    pilot = 512 if quick else 4096  # paths per MC pilot, in rounds interleaved with exact runs
    rounds = 3 if quick else 8
    feasible = paths or (2048 if quick else 32768)
    res: dict = {"eta": eta, "t": t, "B": B}
    jax_run = mc_jax_factory(p, eta, t, B)
    ctl = ThreadpoolController()
    with ctl.limit(limits=1, user_api="blas"):
        finite_set_expectation(p, eta, 10, B)  # warm-up (imports, buffers)
        mc_numpy(p, eta, 5, B, 8, seed)
        if jax_run is not None:
            jax_run(8, seed)  # compile once (compile time excluded)
        finite_set_expectation(p, eta, 10, B, grad=False)
        ex_times: list = []
        ex0_times: list = []
        mc = {name: {"t": [], "f": []} for name in ("loss", "grad", "package", "jax")}
        chunk = pilot // rounds
        for i in range(rounds):
            w, c, ex = _timed(lambda: finite_set_expectation(p, eta, t, B))
            ex_times.append((w, c))
            w, c, ex0 = _timed(lambda: finite_set_expectation(p, eta, t, B, grad=False))
            ex0_times.append((w, c))
            w, c, (f, _) = _timed(lambda: mc_numpy(p, eta, t, B, chunk, seed + 10 * i))
            mc["loss"]["t"].append((w / (chunk * t), c / (chunk * t)))
            mc["loss"]["f"].append(f)
            w, c, (f, _) = _timed(lambda: mc_numpy(p, eta, t, B, chunk, seed + 10 * i + 1, grad=True))
            mc["grad"]["t"].append((w / (chunk * t), c / (chunk * t)))
            mc["grad"]["f"].append(f)
            if i < max(1, rounds // 4):  # the package simulator is slower: a smaller pilot
                w, c, _ = _timed(lambda: simulate_finite_set(p, eta, t, B, chunk, seed=seed + 10 * i + 2))
                mc["package"]["t"].append((w / (chunk * t), c / (chunk * t)))
            if jax_run is not None:
                w, c, f = _timed(lambda: jax_run(chunk, seed + 10 * i + 3))
                mc["jax"]["t"].append((w / (chunk * t), c / (chunk * t)))
                mc["jax"]["f"].append(f)
        w, c, (ff, _) = _timed(lambda: mc_numpy(p, eta, t, B, feasible, seed + 1000))
    res["exact"] = ex
    res["exact_wall"] = statistics.median(x[0] for x in ex_times)
    res["exact_cpu"] = statistics.median(x[1] for x in ex_times)
    res["exact_repeats"] = len(ex_times)
    res["exact0_wall"] = statistics.median(x[0] for x in ex0_times)
    res["exact0_cpu"] = statistics.median(x[1] for x in ex0_times)
    res["exact0_agrees"] = abs(ex0.expected_train_loss / ex.expected_train_loss - 1)
    # one sd/mean for every MC row: all estimate the same E[training loss at t] (pooled pilots)
    pooled = np.concatenate(mc["loss"]["f"] + mc["grad"]["f"] + mc["jax"]["f"])
    res["cv"] = float(np.std(pooled, ddof=1) / np.mean(pooled))
    res["pilot_paths"] = pooled.size
    for name, v in mc.items():
        if v["t"]:
            res[f"mc_{name}"] = (statistics.median(x[0] for x in v["t"]), statistics.median(x[1] for x in v["t"]))
    mean, se = float(np.mean(ff)), float(np.std(ff, ddof=1) / np.sqrt(ff.size))
    res["feasible"] = {"paths": feasible, "wall": w, "cpu": c, "rel_se": se / mean, "z": (mean - ex.expected_train_loss) / se}
    res["jax"] = jax_run is not None
    return res


def table(quick: bool, paths: int | None = None, seed: int = 1) -> str:
    """The benchmark as one markdown table (plus a few lines of context below it)."""
    r = measure(quick, paths, seed)
    ex, t = r["exact"], r["t"]
    need = {eps: (r["cv"] / eps) ** 2 for eps in TARGETS}
    lines = [
        "| method | returns | time (wall / CPU) | MC paths for rel. SE 1e-3 | time for 1e-3 (wall / CPU) | "
        "compared with | ratio MC / exact at 1e-3 (wall / CPU) | time for 1e-6 (CPU) | ratio at 1e-6 (CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| exact (`finite_set_expectation`) | E[train], E[valid], both d/deta | "
        f"{_fmt_time(r['exact_wall'])} / {_fmt_time(r['exact_cpu'])} (median of {r['exact_repeats']}) | - | - | - | 1 | - | - |",
        f"| exact, `grad=False` | E[train], E[valid] | "
        f"{_fmt_time(r['exact0_wall'])} / {_fmt_time(r['exact0_cpu'])} (median of {r['exact_repeats']}) | - | - | - | 1 | - | - |",
    ]
    rows = [
        ("loss", "MC numpy, loss only (strong baseline)", "E[train]", "0"),
        ("grad", "MC numpy, loss + pathwise d/deta", "E[train], d/deta", ""),
        ("package", "MC package (`simulate_finite_set`)", "E[train], E[valid], both d/deta", ""),
        ("jax", "MC JAX (jit, vmap, float64)", "E[train]", "0"),
    ]
    for key, name, what, which in rows:
        ew, ec = r[f"exact{which}_wall"], r[f"exact{which}_cpu"]
        versus = "exact, `grad=False`" if which else "exact"
        if f"mc_{key}" not in r:
            lines.append(f"| {name} | {what} | not installed | - | - | {versus} | - | - | - |")
            continue
        pw, pc = r[f"mc_{key}"]
        tw, tc = need[1e-3] * t * pw, need[1e-3] * t * pc
        t6 = need[1e-6] * t * pc
        lines.append(
            f"| {name} | {what} | {pw * 1e9:.0f} / {pc * 1e9:.0f} ns per path-step | {need[1e-3]:.3g} | "
            f"{_fmt_time(tw)} / {_fmt_time(tc)} | {versus} | **{tw / ew:.0f} / {tc / ec:.0f}** | "
            f"{_fmt_time(t6)} | {t6 / ec:.3g} |"
        )
    fz = r["feasible"]
    lines += [
        "",
        f"d = {DIM}, n = {N_TRAIN}, B = {r['B']}, t = {t}, eta = {r['eta']:.4g} (1 / max_j ||x_j||^2), rank X = {ex.rank}; "
        f"exact E[train] = {ex.expected_train_loss:.10g} (d/deta {ex.expected_train_loss_grad:.6g}), "
        f"E[valid] = {ex.expected_valid_loss:.10g} (d/deta {ex.expected_valid_loss_grad:.6g}); "
        f"grad=False gives E[train] to {r['exact0_agrees']:.1g} relative.",
        f"Per-path sd / mean of the training loss at t: {r['cv']:.3g} (pooled pilots, {r['pilot_paths']} paths); "
        f"paths needed = (sd / (eps mean))^2.",
        f"Feasible MC run (loss only): {fz['paths']} paths in {_fmt_time(fz['wall'])} wall / {_fmt_time(fz['cpu'])} CPU, "
        f"relative SE {fz['rel_se']:.2g}, z vs exact = {fz['z']:+.2f}.",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small pilots and feasible run (< 15 s)")
    ap.add_argument("--paths", type=int, default=None, help="paths of the feasible Monte Carlo run")
    ap.add_argument("--seed", type=int, default=1, help="Monte Carlo seed")
    args = ap.parse_args(argv)
    print(table(args.quick, args.paths, args.seed))


if __name__ == "__main__":
    main()
