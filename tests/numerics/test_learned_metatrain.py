"""Meta-training learned optimizers (:mod:`l2l.numerics.learned.metatrain`, ``.es``, ``.tasks``,
``.baselines``).

Exact: the batched fast path of the zero-RNN hierarchical RNN against ``hrnn.step`` and the batched
MLP adapter against ``mlp_lopt.step`` (independent implementations: per-tensor loops with the full
RNN machinery vs. the reduced formula over a batch axis), to 1e-12 relative to the step, first step
included; the batched objectives against ``log_meta_objective``. Statistical: the antithetic ES
estimate on a quadratic, whose Gaussian-smoothed gradient equals the true gradient, within 5
standard errors (fixed seeds). Behavioural: the baselines on a trivial task; the loop on a tiny
problem; validation errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from l2l.numerics.learned import baselines as BL
from l2l.numerics.learned import hrnn, mlp_lopt
from l2l.numerics.learned.es import MetaOptimizer, clip_gradient, combine, es_gradient
from l2l.numerics.learned.meta_objective import log_meta_objective
from l2l.numerics.learned.metatrain import (
    HRNN_THETA_NAMES,
    MetaTrainConfig,
    MLPAdapterState,
    evaluate,
    hrnn_zero_adapter,
    hrnn_zero_state,
    hrnn_zero_step,
    hrnn_zero_theta,
    hrnn_zero_weights,
    metatrain,
    mlp_adapter,
    mlp_step,
    mlp_theta,
    take_state,
    unroll,
)
from l2l.numerics.learned.tasks import (
    QuadraticTasks,
    bowl_quadratic_ensemble,
    least_squares_tasks,
    task_rng,
    unroll_objective,
)
from l2l.numerics.validation import ValidationError


def _split(x, sizes):
    return np.split(x, np.cumsum(sizes)[:-1])


@pytest.mark.parametrize("case", range(25))
def test_zero_rnn_fast_path_equals_hrnn_step(case):
    """8 steps from the initial state (the first step has beta_0 = beta_s = 0), random biases, 1-3
    tensors, gradients over five decades: the iterates and stored log lrs agree to 1e-12 of the step
    (float64 rounding of the same operations in another order)."""
    rng = np.random.default_rng(case)
    sizes = tuple(int(s) for s in rng.integers(1, 6, rng.integers(1, 4)))
    theta = np.array([2.2, 3.2, 0.0, -1.0, 3.2]) + rng.normal(0.0, 1.5, 5)
    w = hrnn_zero_weights(theta, seed=case)
    s = hrnn.init_state(w, [(n,) for n in sizes], seed=case)
    fs = hrnn_zero_state(np.concatenate(s.log_lr)[None], sizes)
    x = rng.standard_normal(sum(sizes))
    for _ in range(8):
        g = rng.standard_normal(x.size) * 10.0 ** rng.uniform(-3, 2)
        new, s, info = hrnn.step(w, s, _split(x, sizes), _split(g, sizes))
        xf, fs, upd = hrnn_zero_step(theta[None], fs, x[None], g[None])
        ref, ref_upd = np.concatenate(new), np.concatenate(info.update)
        scale = np.max(np.abs(ref_upd))
        assert np.max(np.abs(upd[0] - ref_upd)) <= 1e-12 * scale
        assert np.max(np.abs(xf[0] - ref)) <= 1e-12 * max(scale, np.max(np.abs(ref)) * 1e-4)
        assert np.allclose(fs.log_lr[0], np.concatenate(s.log_lr), rtol=0, atol=1e-12)
        x = ref


def test_zero_rnn_theta_round_trip_and_batch_independence():
    w = hrnn.init_weights(0, zero_rnn=True)
    th = hrnn_zero_theta(w)
    assert th.tolist() == [2.2, 3.2, 0.0, -1.0, 3.2] and len(HRNN_THETA_NAMES) == 5
    assert hrnn_zero_theta(hrnn_zero_weights(th + 1.0)).tolist() == (th + 1.0).tolist()
    # batch members do not interact: member 1 alone gives the same step as inside a batch of 3
    rng = np.random.default_rng(1)
    thetas = th + rng.normal(0, 1, (3, 5))
    lr = rng.uniform(-10, -5, (3, 4))
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    xa, _, _ = hrnn_zero_step(thetas, hrnn_zero_state(lr, (4,)), x, g)
    xb, _, _ = hrnn_zero_step(thetas[1:2], hrnn_zero_state(lr[1:2], (4,)), x[1:2], g[1:2])
    assert np.array_equal(xa[1], xb[0])


@pytest.mark.parametrize("case", range(8))
def test_mlp_adapter_equals_mlp_lopt_step(case):
    rng = np.random.default_rng(100 + case)
    hidden = ((32, 32), (8,), (4, 3))[case % 3]
    w = mlp_lopt.init_weights(case, hidden=hidden)
    s = float(rng.normal(0, 2))
    th = mlp_theta(w, s)
    n = int(rng.integers(1, 9))
    st = mlp_lopt.init_state([(n,)])
    fs = MLPAdapterState(np.zeros((1, n, 6)), 0)
    x = rng.standard_normal(n)
    for _ in range(5):
        g = rng.standard_normal(n) * 10.0 ** rng.uniform(-2, 2)
        new, st, info = mlp_lopt.step(w, st, [x], [g], step_mult=1e-3 * math.exp(s))
        _, fs, upd = mlp_step(w, th[None], fs, x[None], g[None])
        assert np.max(np.abs(upd[0] - info.update[0])) <= 1e-12 * np.max(np.abs(info.update[0]))
        x = new[0]


def test_log_objective_matches_log_meta_objective():
    rng = np.random.default_rng(0)
    f = 10.0 ** rng.uniform(-8, 1, (4, 12))
    got = unroll_objective("log", f)
    want = [log_meta_objective(row, row[0]).value for row in f]
    assert np.allclose(got, want, rtol=0, atol=1e-13)
    assert unroll_objective("tbv", f, 2 * f).tolist() == (2 * f[:, 1:].mean(axis=1)).tolist()


def test_es_unbiased_on_a_quadratic():
    """L(theta) = 1/2 theta^T H theta + b^T theta: E[g_p] = H theta + b exactly (the smoothing of a
    quadratic adds a constant). 4000 pairs: the mean is within 5 standard errors per coordinate."""
    rng = np.random.default_rng(3)
    k = 4
    A = rng.standard_normal((k, k))
    H, b = A @ A.T + np.eye(k), rng.standard_normal(k)
    theta = rng.standard_normal(k)
    loss = lambda th, pair: 0.5 * np.einsum("pi,ij,pj->p", th, H, th) + th @ b  # noqa: E731
    est = es_gradient(loss, theta, 0.3, 4000, np.random.default_rng(7))
    se = np.sqrt(est.pair_variance / est.pairs)
    assert np.all(np.abs(est.gradient - (H @ theta + b)) <= 5 * se), (est.gradient, H @ theta + b, se)
    assert est.total_variance == pytest.approx(float(np.sum(est.pair_variance)) / 4000)


def test_es_common_random_numbers_cancel_shared_noise():
    """A loss with additive noise indexed by the pair: the pair difference cancels it exactly."""
    noise = np.random.default_rng(0).standard_normal(50) * 100
    loss = lambda th, pair: th[:, 0] + noise[pair]  # noqa: E731
    est = es_gradient(loss, np.array([0.0]), 0.1, 50, np.random.default_rng(1))
    e = np.random.default_rng(1).standard_normal((50, 1))
    assert np.allclose(est.gradient, np.mean(e * e), rtol=0, atol=1e-12)


def test_meta_optimizers_and_clipping():
    assert clip_gradient([np.inf, -np.nan, 2.0, -3e5], 1e4).tolist() == [0.0, 0.0, 2.0, -1e4]
    for kind in ("adam", "rmsprop"):
        opt, th = MetaOptimizer(kind, lr=0.05), np.array([3.0, -2.0])
        for _ in range(400):
            th = opt.update(th, 2 * th)
        assert np.all(np.abs(th) < 0.2), (kind, th)
    with pytest.raises(ValidationError, match="kind"):
        MetaOptimizer("sgd")


def test_baselines_on_a_trivial_task():
    """f(x) = 1/2 ||x||^2 from x0 = 1: GD at lr 1 lands on 0 in one step; every method tuned on the
    log objective reaches a small loss; the tuned lr is a grid point."""
    t = QuadraticTasks(np.tile(np.eye(2), (3, 1, 1)), np.zeros((3, 2)), np.ones((3, 2)), np.zeros(3, dtype=np.int64))
    r = BL.run("sgd", [1.0, 0.5], t, 3)
    assert np.all(r.train_losses[0, :, 1:] == 0) and np.allclose(r.train_losses[1, :, 1], 0.25)
    for m in BL.METHODS:
        tb = BL.tune(m, t, 50, "log")
        assert tb.best_lr in tb.lrs and tb.objective.shape == tb.lrs.shape
        assert np.all(BL.evaluate(m, tb.best_lr, t, 50, "final_loss") < 1e-2), m  # from 1
    assert BL.RMSPROP_GRID.size == 7


def test_least_squares_views_and_truncation():
    t = least_squares_tasks(5, d=6, n=4, sigma=2.0, rng=task_rng(0))
    v = t.view(2)
    w = np.random.default_rng(1).standard_normal((5, 6))
    loss, valid, g = v.evaluate(w)
    assert np.allclose(loss, v.loss(w)) and np.allclose(valid, v.valid_loss(w)) and np.allclose(g, v.grad(w))
    # expected test loss identity: the validation loss of many fresh samples approaches 1/2(err + sigma^2)
    big = least_squares_tasks(1, d=6, n=40000, sigma=2.0, rng=task_rng(5)).view(1)
    x = np.zeros((1, 6))
    assert big.valid_loss(x)[0] == pytest.approx(0.5 * (big.test_error(x)[0] + 4.0), rel=0.03)
    r = BL.run("sgd", [100.0], t, 20, radius=80.0)  # diverges: frozen below the radius, finite
    assert np.all(np.isfinite(r.train_losses)) and np.all(np.linalg.norm(r.final[0], axis=1) < 80.0)


def test_unroll_and_metatrain_tiny():
    ad = hrnn_zero_adapter((2,))
    tasks = bowl_quadratic_ensemble(6, task_rng(0))
    run = unroll(ad, np.tile(ad.theta0, (6, 1)), tasks, None, 10)
    assert run.train_losses.shape == (6, 11) and run.valid_losses is None
    cfg = MetaTrainConfig(meta_steps=6, pairs=2, tasks_per_pair=2, unroll=10, eval_every=3)
    seeds = [0, 1]
    res = metatrain(ad, lambda r, k, c: bowl_quadratic_ensemble(c, task_rng(seeds[r], 0, k)), ["log", "log"], seeds, cfg,
                    lambda r: tasks, ["log", "log"])
    assert res.thetas.shape == (2, 7, 5) and res.objective.shape == (2, 6) and res.es_variance.shape == (2, 6)
    assert res.checkpoints.tolist() == [0, 3, 6] and res.heldout.shape == (2, 3)
    assert np.allclose(res.heldout[:, -1], evaluate(ad, res.thetas[:, -1], tasks, 10, "log", 10**6).mean(axis=1))
    # the same seed gives the same run (counts, not time)
    again = metatrain(ad, lambda r, k, c: bowl_quadratic_ensemble(c, task_rng(1, 0, k)), ["log"], [1], cfg,
                      lambda r: tasks, ["log"])
    assert np.array_equal(again.thetas[0], res.thetas[1])
    m = mlp_adapter(0, (4,))
    ls = least_squares_tasks(3, 5, 3, 1.0, task_rng(2))
    assert evaluate(m, m.theta0, ls, 5, "test_error").shape == (1, 3)


def test_validation_errors():
    with pytest.raises(ValidationError, match="sigma"):
        combine(np.ones((3, 2)), np.ones(3), np.ones(3), 0.0)
    with pytest.raises(ValidationError, match="directions"):
        combine(np.ones((1, 2)), np.ones(1), np.ones(1), 0.1)
    with pytest.raises(ValidationError, match="loss_plus"):
        combine(np.ones((3, 2)), np.array([1.0, np.nan, 1.0]), np.ones(3), 0.1)
    with pytest.raises(ValidationError, match="pairs"):
        es_gradient(lambda th, p: th[:, 0], np.zeros(1), 0.1, 1, np.random.default_rng(0))
    with pytest.raises(ValidationError, match="kind"):
        unroll_objective("naive", np.ones((1, 3)))
    with pytest.raises(ValidationError, match="valid_losses"):
        unroll_objective("tbv", np.ones((1, 3)))
    with pytest.raises(ValidationError, match="theta"):
        hrnn_zero_weights([1.0, 2.0])
    with pytest.raises(ValidationError, match="pairs"):
        MetaTrainConfig(pairs=1)
    with pytest.raises(ValidationError, match="n_train"):
        least_squares_tasks(2, 3, 4, 1.0, task_rng(0)).view(4)
    with pytest.raises(ValidationError, match="method"):
        BL.run("lbfgs", [0.1], bowl_quadratic_ensemble(2, task_rng(0)), 3)
    ad = hrnn_zero_adapter((2,))
    with pytest.raises(ValidationError, match="thetas"):
        unroll(ad, np.zeros((2, 4)), bowl_quadratic_ensemble(2, task_rng(0)), None, 3)
    with pytest.raises(ValidationError, match="seeds"):
        metatrain(ad, lambda r, k, c: None, ["log"], [0, 1], MetaTrainConfig(), lambda r: None, ["log"])


# ---- truncated antithetic ES (MetaTrainConfig.truncation) ------------------------------------


def _state_equal(a, b):
    for f in type(a).__dataclass_fields__:
        va, vb = getattr(a, f), getattr(b, f)
        if isinstance(va, np.ndarray):
            if not np.array_equal(va, vb):
                return False
        elif va != vb:
            return False
    return True


@pytest.mark.parametrize("which", ["hrnn", "mlp"])
def test_unroll_continues_bit_for_bit_and_replicated_windows(which):
    """One unroll of T steps equals T1 steps and then T - T1 from the returned (final, state,
    frozen), bit for bit (losses, iterates, adapter state), for both adapters; and a window from a
    replicated state (take_state) equals the continuation of the member it copies."""
    T, T1 = 12, 5
    if which == "hrnn":
        ad, tasks = hrnn_zero_adapter((2,)), bowl_quadratic_ensemble(4, task_rng(3))
    else:
        ad, tasks = mlp_adapter(0, (8,)), least_squares_tasks(4, 6, 5, 1.0, task_rng(3)).view(3)
    rng = np.random.default_rng(5)
    th = ad.theta0 + 0.3 * rng.standard_normal((4, ad.theta0.size))
    noise = rng.random((4, ad.noise_dim(tasks.dim)))
    full = unroll(ad, th, tasks, noise, T)
    a = unroll(ad, th, tasks, noise, T1)
    b = unroll(ad, th, tasks, None, T - T1, start=(a.final, a.state, a.frozen))
    assert np.array_equal(np.concatenate([a.train_losses, b.train_losses[:, 1:]], axis=1), full.train_losses)
    if which == "mlp":
        assert np.array_equal(np.concatenate([a.valid_losses, b.valid_losses[:, 1:]], axis=1), full.valid_losses)
    assert np.array_equal(b.final, full.final) and _state_equal(b.state, full.state)
    assert full.state.step_count == T
    # replicate members (2, 2, 0) of the state after T1 steps, each with its own theta and task
    idx = np.array([2, 2, 0])
    c = unroll(ad, th[idx], tasks.take(idx), None, T - T1, start=(a.final[idx], take_state(a.state, idx)))
    assert np.array_equal(c.train_losses, b.train_losses[idx]) and np.array_equal(c.final, b.final[idx])
    assert _state_equal(c.state, take_state(b.state, idx))


def test_unroll_keeps_frozen_members_frozen():
    ad, tasks = hrnn_zero_adapter((2,)), bowl_quadratic_ensemble(3, task_rng(0))
    th = np.tile(ad.theta0, (3, 1))
    a = unroll(ad, th, tasks, None, 2)
    b = unroll(ad, th, tasks, None, 4, start=(a.final, a.state, np.array([False, True, False])))
    assert b.frozen.tolist() == [False, True, False]
    assert np.all(b.train_losses[1] == a.train_losses[1, -1]) and np.array_equal(b.final[1], a.final[1])
    with pytest.raises(ValidationError, match="start"):
        unroll(ad, th, tasks, None, 2, start=(a.final[:2], a.state))


def test_truncation_equal_to_unroll_is_the_untruncated_loop_on_shared_tasks():
    """K = T with a sampler that gives c copies of one task (so that the P pairs' shared M tasks
    are the untruncated loop's P x M) and an adapter without inner noise: every meta-step is one
    whole episode, and the two loops agree bit for bit (thetas, objectives, variances)."""
    ad = mlp_adapter(0, (4,))
    base = {k: least_squares_tasks(2, 5, 6, 1.0, task_rng(s, 0, k)) for s in (0, 1) for k in range(4)}

    def sample(r, k, c):
        return base[k].view(3 + r).take(np.full(c, r))  # run 0: TbV split 3 + 3; run 1: 4 + 2

    held = least_squares_tasks(3, 5, 6, 1.0, task_rng(9)).view(3)
    out = []
    for trunc in (None, 7):
        cfg = MetaTrainConfig(meta_steps=4, pairs=3, tasks_per_pair=2, unroll=7, sigma=0.1, lr=0.1, eval_every=2, truncation=trunc)
        out.append(metatrain(ad, sample, ["log", "tbv"], [0, 1], cfg, lambda r: held, ["test_error", "tbt"]))
    a, b = out
    assert np.array_equal(a.thetas, b.thetas) and np.array_equal(a.objective, b.objective)
    assert np.array_equal(a.es_variance, b.es_variance) and np.array_equal(a.heldout, b.heldout)
    assert not np.array_equal(a.thetas[:, 0], a.thetas[:, -1])


def test_truncated_loop_wiring():
    """Two meta-steps of the truncated loop (T = 8, K = 5: windows of 5 and 3) rebuilt by hand from
    unroll, take_state, combine and the meta-optimizer: the second window starts where the
    unperturbed theta of the first meta-step (before its update) left the episode, and is scored
    against the episode's f0; the third meta-step opens episode 1."""
    ad = hrnn_zero_adapter((2,))
    calls = []

    def sample(r, k, c):
        calls.append((r, k, c))
        return bowl_quadratic_ensemble(c, task_rng(7, 0, k))

    held = bowl_quadratic_ensemble(4, task_rng(11))
    cfg = MetaTrainConfig(meta_steps=3, pairs=2, tasks_per_pair=3, unroll=8, sigma=0.1, lr=0.05, eval_every=10, truncation=5)
    res = metatrain(ad, sample, ["log"], [7], cfg, lambda r: held, ["log"])
    assert calls == [(0, 0, 3), (0, 1, 3)]
    P, M = 2, 3
    tasks = bowl_quadratic_ensemble(M, task_rng(7, 0, 0))
    noise = task_rng(7, 3, 0).random((M, ad.noise_dim(2)))
    opt = MetaOptimizer("adam", 0.05, 1e4)
    theta = ad.theta0[None].copy()
    f0 = tasks.evaluate(tasks.x0)[0]
    x, st = tasks.x0, ad.init(None, tasks.x0, noise)
    for step, W in ((0, 5), (1, 3)):
        e = task_rng(7, 1, step).standard_normal((P, ad.theta0.size))
        idx = np.tile(np.arange(M), 2 * P)
        th_m = np.concatenate([np.repeat(theta + s * 0.1 * e, M, axis=0) for s in (1.0, -1.0)])
        run = unroll(ad, th_m, tasks.take(idx), None, W, start=(x[idx], take_state(st, idx)))
        used = np.concatenate([run.train_losses[:, :1], run.train_losses[:, :-1]], axis=1)
        L = np.mean(np.log(used / (f0[idx, None] + 1e-6) + 1e-6), axis=1).reshape(2, P, M).mean(axis=2)
        if step == 0:  # the first window is an ordinary unroll from the episode's start
            assert np.array_equal(L.ravel(), unroll_objective("log", run.train_losses).reshape(2, P, M).mean(axis=2).ravel())
        est = combine(e[None], L[None, 0], L[None, 1], 0.1)
        assert np.allclose(res.objective[0, step], est.smoothed_loss[0], rtol=1e-13, atol=0)
        adv = unroll(ad, np.repeat(theta, M, axis=0), tasks, None, W, start=(x, st))
        x, st = adv.final, adv.state
        theta = opt.update(theta, est.gradient)
        assert np.allclose(res.thetas[0, step + 1], theta[0], rtol=1e-13, atol=1e-15)


def test_truncated_metatraining_lowers_heldout_log_objective_c8_family():
    """C8's family (zero-RNN hierarchical RNN biases, bowl / quadratic ensemble, log objective):
    truncated ES with windows of K = T/5 on a tiny budget (25 meta-steps, 4 pairs x 2 tasks,
    episodes of 50) still lowers the held-out log objective (of full unrolls of 50) on every seed."""
    ad = hrnn_zero_adapter((2,))
    seeds = [0, 1, 2]
    held = bowl_quadratic_ensemble(32, task_rng(10**6, 1))
    cfg = MetaTrainConfig(meta_steps=25, pairs=4, tasks_per_pair=2, unroll=50, sigma=0.1, lr=0.05, eval_every=5, truncation=10)
    res = metatrain(ad, lambda r, k, c: bowl_quadratic_ensemble(c, task_rng(seeds[r], 0, k)), ["log"] * 3, seeds, cfg,
                    lambda r: held, ["log"] * 3)
    before, after = res.heldout_initial.mean(axis=1), res.heldout_final.mean(axis=1)
    assert np.all(after < before - 0.03), (before, after)


def test_truncation_validation():
    assert MetaTrainConfig().truncation is None
    assert MetaTrainConfig(unroll=10, truncation=10).truncation == 10
    assert MetaTrainConfig(unroll=10, truncation=1).truncation == 1
    for bad in (0, 11, -1, 2.5, True, "3"):
        with pytest.raises(ValidationError, match="truncation"):
            MetaTrainConfig(unroll=10, truncation=bad)
