"""The instances the Wichrowska et al. (2017) claims and figures share: noise-free separable
quadratics with O(1) gradients, their gradient oracles (optionally with additive noise that does not
scale with the objective), the trajectory error, and the figure data (invariance against the
objective's scale; unroll-length tails)."""

from __future__ import annotations

import numpy as np

SCALE_FIGURE = "wichrowska2017-invariance"
#: The fixed instance of the boundary claim and the figure: 3 tensors, weights seed 1, state seed 3.
SHAPES = ((3,), (2, 4), (5,))


def quadratic(seed: int, shapes) -> tuple[list, list, list]:
    """A noise-free separable quadratic 1/2 sum lambda (theta - theta*)^2, lambda in [0.5, 2],
    |theta_0 - theta*| in [0.5, 2]: every initial gradient is O(1) (0.25 <= |g| <= 4)."""
    rng = np.random.default_rng(seed)
    lam = [rng.uniform(0.5, 2.0, s) for s in shapes]
    star = [rng.standard_normal(s) for s in shapes]
    p0 = [x + rng.choice([-1.0, 1.0], s) * rng.uniform(0.5, 2.0, s) for x, s in zip(star, shapes)]
    return lam, star, p0


def gradient(lam, star, c=1.0, noise=0.0, noise_seed=0):
    """The gradient of c f, plus additive N(0, noise^2) noise that does not scale with c."""
    rng = np.random.default_rng(noise_seed)
    return lambda p: [c * lm * (x - s) + noise * rng.standard_normal(np.shape(x)) for lm, x, s in zip(lam, p, star)]


def displacement_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |b - a| over a trajectory, relative to a's largest displacement from theta_0."""
    return float(np.max(np.abs(b - a)) / np.max(np.abs(a - a[0])))


def invariance_table() -> dict:
    """The 20-step trajectory error of c f against f on the fixed instance, c = 10^-7 .. 10^2, and
    the survival function of the unroll lengths (the code's sampler and the product reading, 5e4
    draws, seed 0) against the exponential of the same mean."""
    from l2l.numerics.learned import init_weights, run, unroll_lengths

    lam, star, p0 = quadratic(0, SHAPES)
    w = init_weights(1, zero_lr_weights=False)
    base = run(w, gradient(lam, star), p0, 20, seed=3)
    cs = np.logspace(-7, 2, 37)
    errors = [displacement_error(base.params, run(w, gradient(lam, star, float(c)), p0, 20, seed=3).params) for c in cs]
    ratios = np.linspace(0, 8, 33)
    tails = {}
    for mode in ("code", "product"):
        x = unroll_lengths(50_000, seed=0, mode=mode).astype(float)
        tails[mode] = [float(np.mean(x > r * x.mean())) for r in ratios]
    return {"c": cs.tolist(), "error": errors, "ratio": ratios.tolist(), "tails": tails,
            "exponential": np.exp(-ratios).tolist()}


def invariance_figure_data() -> dict:
    from l2l.proofs.report.figures import shared

    return shared(SCALE_FIGURE, invariance_table)
