"""The instances the Wichrowska et al. (2017) claims and figures share: noise-free separable
quadratics with O(1) gradients, their gradient oracles (optionally with additive noise that does not
scale with the objective), the trajectory error, and the figure data (invariance against the
objective's scale; unroll-length tails); and the meta-training runs of claim C8 and of the
train-by-train vs train-by-validation experiment (catalogued with Wang et al. 2021), cached per
process and published for the figures."""

from __future__ import annotations

import functools

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


# =============================================================================================
# Meta-training (claim C8, and the train-by-train vs train-by-validation experiment of Wang et
# al. 2021 §5.3 with the per-parameter MLP of Metz et al. 2019). The figures always show the ci
# size, which the ci and dev profiles of the claims also run (one cached computation per process,
# published for the report's figures); the full size runs in the thorough profile and in
# benchmarks/metatrain.py.

META_FIGURE = "wichrowska2017-metatraining"
BASELINE_FIGURE = "wichrowska2017-learned-vs-tuned"
C8_DATA = "wichrowska2017.c8-run"
TBV_DATA = "wichrowska2017.tbt-tbv-run"
TBV_LARGE_DATA = "wichrowska2017.tbt-tbv-run-large-n"

#: C8 sizes: independent meta-training seeds, meta-steps, unroll length, antithetic pairs and tasks
#: per pair per meta-step, held-out tasks (the digest: 200 meta-steps, unrolls of 100).
C8_SIZES = {
    "ci": dict(seeds=5, meta_steps=50, unroll=50, pairs=4, tasks_per_pair=2, heldout=64),
    "full": dict(seeds=5, meta_steps=200, unroll=100, pairs=8, tasks_per_pair=4, heldout=64),
}
#: ES and meta-optimizer settings of C8: perturbation scale 0.1 on the O(1) biases, Adam with lr 0.05.
C8_SIGMA, C8_LR = 0.1, 0.05
#: Tasks on which RMSProp is tuned (the same family, their own seed) and the held-out tasks' seed.
TUNE_SEED, HELDOUT_SEED = 999_999, 1_000_000
TUNE_TASKS = 256
#: Least-squares tasks on which GD's constant step is tuned (fewer: each holds n x d numbers).
LS_TUNE_TASKS = 64

#: The least-squares experiment: d = 20, n = 10 = d/2, sigma = 2 (Wang et al. Theorem 5's regime),
#: TbV splits 5 + 5; the control n = 100 = 5d (TbV 50 + 50). Test tasks train on all n samples.
LS_D, LS_N, LS_SIGMA, LS_N_LARGE = 20, 10, 2.0, 100
TBV_SIZES = {
    "ci": dict(seeds=3, meta_steps=40, unroll=40, pairs=4, tasks_per_pair=2, heldout=64),
    "full": dict(seeds=5, meta_steps=150, unroll=50, pairs=8, tasks_per_pair=4, heldout=64),
}
#: The MLP learned optimizer: mlp_lopt weights seed 0, hidden (8,), the last layer and a log step
#: scale s (from 0: the code's step_mult 1e-3) meta-trained; ES scale 0.1, Adam with lr 0.1.
MLP_HIDDEN, MLP_SEED, MLP_S0, MLP_SIGMA, MLP_LR = (8,), 0, 0.0, 0.1, 0.1


def _plain(x):
    return np.asarray(x).tolist()


@functools.lru_cache(maxsize=None)
def c8_run(size: str = "ci", truncation: int | None = None) -> dict:
    """Meta-train the scalar biases of the zero-RNN hierarchical RNN on the 2-D bowl / quadratic
    ensemble by antithetic ES (log meta-objective), several seeds in lockstep, and tune RMSProp
    over its 7 learning rates, and SGD, momentum and Adam over theirs, on training tasks of the same
    family; everything measured on the same held-out tasks. ``truncation``: meta-train by truncated
    antithetic ES with windows of that many inner steps (``MetaTrainConfig.truncation``; the
    benchmark's variant, not a claim's)."""
    from l2l.numerics.learned import baselines as BL
    from l2l.numerics.learned.metatrain import MetaTrainConfig, hrnn_zero_adapter, metatrain
    from l2l.numerics.learned.tasks import bowl_quadratic_ensemble, task_rng

    z = C8_SIZES[size]
    seeds = list(range(z["seeds"]))
    T = z["unroll"]
    held = bowl_quadratic_ensemble(z["heldout"], task_rng(HELDOUT_SEED, 1))
    cfg = MetaTrainConfig(meta_steps=z["meta_steps"], pairs=z["pairs"], tasks_per_pair=z["tasks_per_pair"], unroll=T,
                          sigma=C8_SIGMA, lr=C8_LR, eval_every=max(1, z["meta_steps"] // 5), truncation=truncation)
    res = metatrain(hrnn_zero_adapter((2,)), lambda r, k, c: bowl_quadratic_ensemble(c, task_rng(seeds[r], 0, k)),
                    ["log"] * len(seeds), seeds, cfg, lambda r: held, ["log"] * len(seeds), HELDOUT_SEED)
    train = bowl_quadratic_ensemble(TUNE_TASKS, task_rng(TUNE_SEED, 0))
    tuned = BL.tune("rmsprop", train, T, "log")
    rms_grid = [float(np.mean(BL.evaluate("rmsprop", float(lr), held, T, "log"))) for lr in tuned.lrs]
    baselines = {}  # every method tuned on the training tasks, then measured on the held-out ones
    for method in BL.METHODS:
        tb = tuned if method == "rmsprop" else BL.tune(method, train, T, "log")
        grid = [float(np.mean(BL.evaluate(method, float(lr), held, T, "log"))) for lr in tb.lrs]
        baselines[method] = {"lrs": _plain(tb.lrs), "best_lr": tb.best_lr, "heldout_grid": grid, "heldout": grid[tb.best_index]}
    return {
        "size": size, "truncation": truncation, "seeds": seeds, "unroll": T, "sizes": z,
        "initial": _plain(res.heldout_initial.mean(axis=1)), "final": _plain(res.heldout_final.mean(axis=1)),
        "objective": _plain(res.objective), "es_variance": _plain(res.es_variance),
        "checkpoints": _plain(res.checkpoints), "heldout": _plain(res.heldout),
        "theta0": _plain(res.thetas[0, 0]), "theta": _plain(res.thetas[:, -1]),
        "rmsprop_lrs": _plain(tuned.lrs), "rmsprop_train": _plain(tuned.objective), "rmsprop_best_lr": tuned.best_lr,
        "rmsprop_heldout_grid": rms_grid, "rmsprop_heldout": rms_grid[tuned.best_index], "baselines": baselines,
    }


@functools.lru_cache(maxsize=None)
def c8_ascent_run(size: str = "ci") -> dict:
    """The negative control of C8: the same runs (seeds, tasks, directions) with the meta-optimizer
    stepping up the ES estimate instead of down; held-out log meta-objective before and after."""
    from l2l.numerics.learned.metatrain import MetaTrainConfig, hrnn_zero_adapter, metatrain
    from l2l.numerics.learned.tasks import bowl_quadratic_ensemble, task_rng

    z = C8_SIZES[size]
    seeds = list(range(z["seeds"]))
    held = bowl_quadratic_ensemble(z["heldout"], task_rng(HELDOUT_SEED, 1))
    cfg = MetaTrainConfig(meta_steps=z["meta_steps"], pairs=z["pairs"], tasks_per_pair=z["tasks_per_pair"], unroll=z["unroll"],
                          sigma=C8_SIGMA, lr=C8_LR, eval_every=z["meta_steps"], direction=-1.0)
    res = metatrain(hrnn_zero_adapter((2,)), lambda r, k, c: bowl_quadratic_ensemble(c, task_rng(seeds[r], 0, k)),
                    ["log"] * len(seeds), seeds, cfg, lambda r: held, ["log"] * len(seeds), HELDOUT_SEED)
    return {"seeds": seeds, "initial": _plain(res.heldout_initial.mean(axis=1)), "final": _plain(res.heldout_final.mean(axis=1)),
            "theta": _plain(res.thetas[:, -1])}


@functools.lru_cache(maxsize=None)
def tbt_tbv_run(size: str = "ci", n: int = LS_N) -> dict:
    """Meta-train the reduced MLP optimizer train-by-train (n training samples, mean training loss
    over the unroll) and train-by-validation (n/2 + n/2, mean validation loss) on the same draws,
    every seed in lockstep; held-out test error ||w_T - w*||^2 with all n samples training; GD
    with a constant step tuned by TbT and by TbV for reference."""
    from l2l.numerics.learned import baselines as BL
    from l2l.numerics.learned.metatrain import MetaTrainConfig, metatrain, mlp_adapter
    from l2l.numerics.learned.tasks import least_squares_tasks, task_rng

    z = TBV_SIZES[size]
    T, radius = z["unroll"], 40.0 * LS_SIGMA
    seeds = [s for s in range(z["seeds"]) for _ in ("tbt", "tbv")]
    objectives = ["tbt", "tbv"] * z["seeds"]
    held = least_squares_tasks(z["heldout"], LS_D, n, LS_SIGMA, task_rng(HELDOUT_SEED, 1))

    def sample(r, k, c):
        t = least_squares_tasks(c, LS_D, n, LS_SIGMA, task_rng(seeds[r], 0, k))
        return t if objectives[r] == "tbt" else t.view(n // 2)

    cfg = MetaTrainConfig(meta_steps=z["meta_steps"], pairs=z["pairs"], tasks_per_pair=z["tasks_per_pair"], unroll=T,
                          sigma=MLP_SIGMA, lr=MLP_LR, eval_every=max(1, z["meta_steps"] // 4), radius=radius)
    res = metatrain(mlp_adapter(MLP_SEED, MLP_HIDDEN, MLP_S0), sample, objectives, seeds, cfg, lambda r: held,
                    ["test_error"] * len(seeds), HELDOUT_SEED)
    train = least_squares_tasks(LS_TUNE_TASKS, LS_D, n, LS_SIGMA, task_rng(TUNE_SEED, 0))
    gd = {}
    for kind, tasks in (("tbt", train), ("tbv", train.view(n // 2))):
        tb = BL.tune("sgd", tasks, T, kind, radius=radius)
        gd[kind] = {"lr": tb.best_lr, "test_error": float(np.mean(BL.evaluate("sgd", tb.best_lr, held, T, "test_error", radius)))}
    final = res.heldout_final.mean(axis=1)
    return {
        "size": size, "n": n, "d": LS_D, "sigma": LS_SIGMA, "unroll": T, "sizes": z, "seeds": list(range(z["seeds"])),
        "tbt": _plain(final[0::2]), "tbv": _plain(final[1::2]), "initial": _plain(res.heldout_initial.mean(axis=1)[0::2]),
        "objective_tbt": _plain(res.objective[0::2]), "objective_tbv": _plain(res.objective[1::2]),
        "es_variance_tbt": _plain(res.es_variance[0::2]), "es_variance_tbv": _plain(res.es_variance[1::2]),
        "checkpoints": _plain(res.checkpoints), "heldout_tbt": _plain(res.heldout[0::2]), "heldout_tbv": _plain(res.heldout[1::2]),
        "step_scale_tbt": _plain(res.thetas[0::2, -1, 0]), "step_scale_tbv": _plain(res.thetas[1::2, -1, 0]),
        "gd": gd, "trivial": 1.0,
    }


def c8_figure_data() -> dict:
    from l2l.proofs.report.figures import shared

    return shared(C8_DATA, lambda: c8_run("ci"))


def tbt_tbv_figure_data() -> dict:
    from l2l.proofs.report.figures import shared

    return shared(TBV_DATA, lambda: tbt_tbv_run("ci"))


def tbt_tbv_large_figure_data() -> dict:
    from l2l.proofs.report.figures import shared

    return shared(TBV_LARGE_DATA, lambda: tbt_tbv_run("ci", LS_N_LARGE))


def metatraining_figure_data() -> dict:
    """Figure (i): the meta-training curves of the TbT / TbV runs and of C8."""
    return {"ls": tbt_tbv_figure_data(), "c8": c8_figure_data()}


def baselines_figure_data() -> dict:
    """Figure (ii): learned against tuned baselines on the held-out tasks."""
    return {"c8": c8_figure_data(), "ls": tbt_tbv_figure_data(), "ls_large": tbt_tbv_large_figure_data()}
