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

A second table does the same for ``numerics.least_squares.closed_form.gd`` (issue 17, item 1): full-batch
GD on least squares, the training loss and its d/d eta, and with a validation set (n_valid = 20) the
validation loss and its d/d eta, at t = 10^9, on a ``LeastSquaresSpectrum`` built directly (lambda as
above, s = sqrt(n lambda), n = d, z ~ N(0, 1), ||r||^2 = 0.3, B ~ N(0, 1/d), no SVD): d = 1000 with 200
step sizes in (0, 3/L] (with and without the validation set) and d = 10^6 with eta = 1.9/L. Its
bare-numpy baseline (``bare_numpy_gd``) forms a = 1 - eta lambda, ln|a|, a^k = sign^k exp(k ln|a|), and
each sum by a max-shifted sum of exponentials (no exact products, no linear-space shortcut); its
reference (``_gd_reference``) sums the closed form in mpmath at 50 digits from the spectrum's fields
(written here, no code of the package), over all components at d = 1000 (20 of the step sizes, plus
1e-8/L and (2 - 1e-8)/L, where the values at t = 10^9 are representable rather than 0 or inf) and
over the components within e^-1000 of each sum's largest term at d = 10^6 (1.9/L and (2 - 1e-8)/L). Peak memory is a multiple of the
spectrum's float64 input arrays (s, lambda, z, and B, r_v0 with a validation set).

Run:  python benchmarks/evaluate.py [--quick] [--repeats N]
(``--quick``: d = 200 with 50 step sizes and d = 10^5, 5 reference step sizes; under 10 s.)
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc
from typing import Callable

import mpmath
import numpy as np

from l2l.numerics import LeastSquaresProblem, QuadraticProblem
from l2l.numerics.least_squares import closed_form
from l2l.numerics.quadratic import stable
from l2l.numerics.quadratic.reference import quadratic_reference

T = 10**9
#: (d of the small problem, its number of step sizes, step sizes checked against mpmath, d of the large
#: problem) for a full run and for ``--quick`` (True)
SIZES = {False: (1000, 200, 20, 10**6), True: (200, 50, 5, 10**5)}


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


# ---------------------------------------------------------------------------------------------
# least squares: closed_form.gd


def make_ls_spectrum(d: int, n_valid: int = 0, seed: int = 0) -> closed_form.LeastSquaresSpectrum:
    """A rank-d LeastSquaresSpectrum built from its fields (no SVD; module docstring). The problem's
    X and X_valid are placeholders fixing n = d and n_valid; ``gd`` on a spectrum reads only s, lam,
    z, resid2, B and rv0."""
    rng = np.random.default_rng(seed)
    lam = np.sort(np.exp(rng.uniform(np.log(1e-2), 0.0, d)))[::-1].copy()
    lam[0], lam[-1] = 1.0, 1e-2
    s = np.sqrt(lam * d)
    kw, B, rv0 = {}, None, None
    if n_valid:
        kw = dict(X_valid=np.zeros((n_valid, 1)), y_valid=np.zeros(n_valid))
        B, rv0 = rng.normal(size=(n_valid, d)) / math.sqrt(d), rng.normal(size=n_valid)
    problem = LeastSquaresProblem(np.zeros((d, 1)), np.zeros(d), **kw)
    return closed_form.LeastSquaresSpectrum(problem, np.zeros(1), s, s * s / d, np.empty((0, d)), rng.normal(size=d), 0.3,
                                            np.zeros(d), 0.0, B, rv0)


def bare_numpy_gd(sp: closed_form.LeastSquaresSpectrum, eta: np.ndarray, t: int) -> dict:
    """The fields of ``gd`` in plain float64: a^k = sign^k exp(k ln|a|), each sum max-shifted."""
    n = sp.problem.n
    eta = np.asarray(eta, np.float64).reshape(-1, 1)
    lam, z, s = sp.lam, sp.z, sp.s
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        a = 1.0 - eta * lam
        la, sa = np.log(np.abs(a)), np.sign(a)
        x = np.log(z * z) + (2.0 * t) * la  # train: (||r||^2 + sum z^2 a^2t) / 2n
        m = np.maximum(np.max(x, axis=1), math.log(sp.resid2))
        train = np.exp(m) * (np.exp(x - m[:, None]).sum(1) + sp.resid2 * np.exp(-m)) / (2 * n)
        x = np.log(lam * z * z) + (2.0 * t - 1.0) * la  # d/d eta: -(t/n) sum lam z^2 a^(2t-1)
        m = np.max(x, axis=1)
        grad = -(t / n) * np.exp(m) * (sa * np.exp(x - m[:, None])).sum(1)
        out = {"train_loss": train, "train_loss_grad": grad}
        if sp.B is not None:  # r_v = rv0 + sum_i (1 - a_i^t) e_i B_:i, scaled by e^-M
            nv = sp.B.shape[0]
            x = t * la
            M = np.maximum(np.max(x, axis=1), 0.0)[:, None]
            q = (np.exp(-M) - sa ** (t % 2) * np.exp(x - M)) * (z / s)
            rv = np.exp(-M) * sp.rv0 + q @ sp.B.T
            out["valid_loss"] = np.exp(2 * M[:, 0]) * (rv * rv).sum(1) / (2 * nv)
            x = (t - 1.0) * la  # h_i = t (s_i z_i / n) a_i^(t-1)
            Mh = np.max(x, axis=1)[:, None]
            h = (t * s * z / n) * sa ** ((t - 1) % 2) * np.exp(x - Mh)
            out["valid_loss_grad"] = np.exp(M[:, 0] + Mh[:, 0]) * (rv * (h @ sp.B.T)).sum(1) / nv
    return out


def _gd_reference(sp: closed_form.LeastSquaresSpectrum, eta: float, t: int, subset: bool) -> dict:
    """The fields of ``gd`` at one step size by the closed form summed in mpmath (50 digits) from the
    spectrum's fields; ``subset``: each sum over the components within e^-1000 of its largest term
    (chosen with a float estimate of ln|term|)."""
    ctx = mpmath.MPContext()
    ctx.dps = 50
    n = sp.problem.n
    with np.errstate(divide="ignore"):
        la = np.log(np.abs(1.0 - eta * sp.lam))

    def comps(est: np.ndarray) -> np.ndarray:
        return np.flatnonzero(est >= np.max(est) - 1000.0) if subset else np.arange(est.size)

    e = ctx.mpf(eta)

    def a(i):
        return 1 - e * ctx.mpf(float(sp.lam[i]))

    z2 = lambda i: ctx.mpf(float(sp.z[i])) ** 2  # noqa: E731
    idx = comps(np.log(sp.z**2) + 2 * t * la)
    train = (ctx.mpf(sp.resid2) + ctx.fsum(z2(i) * a(i) ** (2 * t) for i in idx)) / (2 * n)
    idx = comps(np.log(sp.lam * sp.z**2) + (2 * t - 1) * la)
    grad = -t * ctx.fsum(ctx.mpf(float(sp.lam[i])) * z2(i) * a(i) ** (2 * t - 1) for i in idx) / n
    out = {"train_loss": train, "train_loss_grad": grad}
    if sp.B is not None:
        nv = sp.B.shape[0]
        q = [(1 - a(i) ** t) * ctx.mpf(float(sp.z[i])) / ctx.mpf(float(sp.s[i])) for i in range(sp.lam.size)]
        h = [t * ctx.mpf(float(sp.s[i])) * ctx.mpf(float(sp.z[i])) / n * a(i) ** (t - 1) for i in range(sp.lam.size)]
        rv = [ctx.mpf(float(r0)) + ctx.fdot(q, [ctx.mpf(float(b)) for b in row]) for r0, row in zip(sp.rv0, sp.B)]
        bh = [ctx.fdot(h, [ctx.mpf(float(b)) for b in row]) for row in sp.B]
        out["valid_loss"] = ctx.fsum(x**2 for x in rv) / (2 * nv)
        out["valid_loss_grad"] = ctx.fdot(rv, bh) / nv
    return out


def _rel_err(x: float, ref) -> float:
    """|x - ref| / |ref|; beyond the float64 range, 0 for the right infinity and inf otherwise."""
    if abs(ref) > mpmath.mpf("1.7976931348623157e308"):
        return 0.0 if x == math.copysign(math.inf, ref) else math.inf
    if abs(ref) < mpmath.mpf(2.0**-1074) / 2:  # rounds to 0 in float64: exact if 0 (either sign)
        return 0.0 if x == 0 else math.inf
    if not math.isfinite(x):
        return math.inf
    return float(abs(ref.context.mpf(x) - ref) / abs(ref))  # in mpmath: ref may be below 1e-308


def _gd_row(label: str, sp: closed_form.LeastSquaresSpectrum, etas: np.ndarray, repeats: int, n_ref: int, subset: bool) -> str:
    fns = {
        "pkg": lambda: closed_form.gd(sp, etas, T),
        "bare": lambda: bare_numpy_gd(sp, etas, T),
    }
    times = _timed(fns, repeats)
    peak = _peak_extra(fns["pkg"])
    inputs = sp.s.nbytes + sp.lam.nbytes + sp.z.nbytes + (sp.B.nbytes + sp.rv0.nbytes if sp.B is not None else 0)
    # at t = 10^9 most values under- or overflow; two step sizes where they are representable join
    # the subsample: (2 - 1e-8)/L (|a_1| = 1 - 1e-8) and, over all components only, 1e-8/L
    idx = np.unique(np.linspace(0, etas.size - 1, min(n_ref, etas.size)).astype(int))
    L = sp.lam_max
    ref_etas = np.concatenate([etas[idx], [(2.0 - 1e-8) / L] + ([] if subset else [1e-8 / L])])
    g = closed_form.gd(sp, ref_etas, T)
    bare = bare_numpy_gd(sp, ref_etas, T)
    refs = [(i, _gd_reference(sp, float(e), T, subset)) for i, e in enumerate(ref_etas)]
    names = ["train_loss", "train_loss_grad"] + (["valid_loss", "valid_loss_grad"] if sp.B is not None else [])

    def err(name: str, values: np.ndarray) -> float:
        return max(_rel_err(float(values[i]), ref[name]) for i, ref in refs)

    cells = " | ".join(f"{err(k, getattr(g, k)):.1e} / {err(k, bare[k]):.1e}" for k in names)
    if len(names) == 2:
        cells += " | - | -"
    wp, cp = times["pkg"]
    wb, cb = times["bare"]
    ref_kind = (f"mpmath 50 digits, all {sp.rank} components, {len(refs)} step sizes (2 of them at the edges)" if not subset else
                f"mpmath 50 digits over the components within e^-1000 of each sum's largest term ({len(refs)} step sizes: 1.9/L, (2 - 1e-8)/L)")
    return (f"| {label} | {1e3 * wp:.1f} | {1e3 * wb:.1f} | {wp / wb:.2f} | {1e3 * cp:.1f} / {1e3 * cb:.1f} | {cp / cb:.2f} "
            f"| {peak / inputs:.2f}x ({peak / 2**20:.0f} MiB) | {cells} | {ref_kind} |")


def gd_table(quick: bool = False, repeats: int = 7) -> str:
    """The markdown table of ``closed_form.gd`` (a header line and one line per size)."""
    d_small, n_eta, n_ref, d_big = SIZES[quick]
    sp_small, sp_valid = make_ls_spectrum(d_small), make_ls_spectrum(d_small, n_valid=20)
    etas = np.linspace(0.0, 3.0 / sp_small.lam_max, n_eta + 1)[1:]
    sp_big = make_ls_spectrum(d_big, seed=1)
    lines = [
        f"closed_form.gd (least squares), t = 10^9; times in ms (median of {repeats}, package and bare numpy "
        "interleaved); errors: max relative error against the reference (package / bare numpy)",
        "",
        "| size | package wall | bare numpy wall | ratio | CPU package / bare | CPU ratio "
        "| package peak extra memory (x input bytes) | train loss | train loss grad | valid loss | valid loss grad "
        "| reference |",
        "|" + "---|" * 12,
        _gd_row(f"d = {d_small}, {n_eta} step sizes in (0, 3/L]", sp_small, etas, repeats, n_ref, False),
        _gd_row(f"d = {d_small}, {n_eta} step sizes, n_valid = 20", sp_valid, etas, repeats, n_ref, False),
        _gd_row(f"d = {d_big:.0e}, eta = 1.9/L".replace("e+0", "e"), sp_big, np.array([1.9 / sp_big.lam_max]), repeats, 1, True),
    ]
    return "\n".join(lines)


def table(quick: bool = False, repeats: int = 7) -> str:
    """The markdown tables: evaluate (a header line and one line per size), then :func:`gd_table`."""
    jax_f = _jax_version()
    d_small, n_eta, n_ref, d_big = SIZES[quick]
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
        "",
        gd_table(quick, repeats),
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
