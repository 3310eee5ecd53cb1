"""numerics.toys.mlp: the tiny-MLP offline schedule experiment (wu2018.md §8.2, §11 item 14) [derived].

Measured while writing these tests (OMP_NUM_THREADS=1): the batched grid and the loop over the
single-configuration trainer agree to <= 1e-14 relative for T <= 100 and <= 1e-13 at T = 300 on
stable configurations (eta0 <= 0.1, not near divergence); near-divergent configurations (loss
~1e4) are chaotic and differ by up to 8% at T = 300, so they are excluded from the equality test.
"""

from __future__ import annotations

import numpy as np
import pytest

from l2l.numerics.toys.mlp import (
    N_HIDDEN,
    N_IN,
    best_schedule,
    evaluate_at,
    grid_losses,
    grid_losses_horizons,
    inverse_time_schedule,
    loss_and_gradient,
    make_problem,
    train_inverse_time,
)
from l2l.numerics.validation import ValidationError


def _flat(params):
    return np.concatenate([np.ravel(p) for p in params])


def _unflat(x):
    i = N_IN * N_HIDDEN
    return (x[:i].reshape(N_IN, N_HIDDEN), x[i : i + N_HIDDEN], x[i + N_HIDDEN : i + 2 * N_HIDDEN], float(x[-1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backprop_matches_central_differences(seed):
    X, y, params, _ = make_problem(seed, n_train=16)
    rng = np.random.default_rng(100 + seed)
    # Perturb away from the zero-bias initialisation so every gradient block is exercised.
    x0 = _flat(params) + 0.3 * rng.standard_normal(_flat(params).size)
    _, grads = loss_and_gradient(_unflat(x0), X, y)
    g = _flat(grads)
    h = 1e-5
    fd = np.empty_like(x0)
    for k in range(x0.size):
        xp, xm = x0.copy(), x0.copy()
        xp[k] += h
        xm[k] -= h
        fd[k] = (loss_and_gradient(_unflat(xp), X, y)[0] - loss_and_gradient(_unflat(xm), X, y)[0]) / (2 * h)
    # Central differences: truncation ~ h^2 |f'''| / 6 ~ 1e-10 (third derivatives are O(1) here),
    # rounding ~ eps |f| / h ~ 1e-16 * 1 / 1e-5 = 1e-11. So 1e-8 absolute (gradients are O(0.1-1))
    # leaves a margin of ~100x (measured max error 8.4e-11 over seeds 0-2) and still catches any
    # wrong factor or sign.
    assert np.max(np.abs(g - fd)) < 1e-8
    assert np.max(np.abs(g)) > 1e-2  # not vacuous


def test_grid_equals_loop_over_single_runs():
    eta0s, betas = [0.001, 0.01, 0.1], [0.0, 0.5, 10.0]
    for seed in (0, 1):
        g = grid_losses(eta0s, betas, 60, seed=seed)
        loop = np.array([[train_inverse_time(e, b, 60, seed=seed) for b in betas] for e in eta0s])
        assert np.all(np.isfinite(loop))
        # Not bitwise: BLAS GEMM on the (20, G*32) block vs (20, 32) and einsum vs matmul sum in
        # different orders (1-ulp differences per step). On these stable configurations the
        # measured gap is <= 1e-14 relative, so 1e-12 has a 100x margin.
        np.testing.assert_allclose(g, loop, rtol=1e-12, atol=0)


def test_horizons_are_checkpoints_of_one_run():
    eta0s, betas = [0.003, 0.03], [0.0, 3.0]
    multi = grid_losses_horizons(eta0s, betas, [10, 40], seed=2)
    np.testing.assert_array_equal(multi[0], grid_losses(eta0s, betas, 10, seed=2))
    np.testing.assert_array_equal(multi[1], grid_losses(eta0s, betas, 40, seed=2))


def test_deterministic_for_fixed_seed_and_seeds_differ():
    a = train_inverse_time(0.02, 1.0, 40, seed=5)
    assert a == train_inverse_time(0.02, 1.0, 40, seed=5)
    assert a != train_inverse_time(0.02, 1.0, 40, seed=6)
    g = grid_losses([0.01, 0.05], [0.0, 2.0], 40, seed=5)
    np.testing.assert_array_equal(g, grid_losses([0.01, 0.05], [0.0, 2.0], 40, seed=5))


def test_divergence_gives_inf_not_nan():
    assert train_inverse_time(50.0, 0.0, 30, seed=0) == np.inf
    g = grid_losses([0.01, 50.0, 1e3], [0.0, 1.0], 30, seed=0)
    assert not np.isnan(g).any()
    assert np.all(np.isfinite(g[0])) and np.all(g[1:] == np.inf)
    # the diverging configurations do not disturb the finite ones (configurations are independent)
    np.testing.assert_array_equal(g[0], grid_losses([0.01], [0.0, 1.0], 30, seed=0)[0])


def test_schedule_formula():
    s = inverse_time_schedule(0.5, 2.0, 4, tau=2.0)
    np.testing.assert_allclose(s, 0.5 / (1 + np.arange(4) / 2.0) ** 2, rtol=1e-15)
    np.testing.assert_array_equal(inverse_time_schedule(0.3, 0.0, 5), np.full(5, 0.3))


def test_best_schedule_and_evaluate_at_consistent():
    eta0s, betas = [0.005, 0.02], [0.0, 5.0]
    e, b, loss = best_schedule(30, seeds=(0, 1), eta0_grid=eta0s, beta_grid=betas)
    assert e in eta0s and b in betas
    mean = np.mean([grid_losses(eta0s, betas, 30, seed=s) for s in (0, 1)], axis=0)
    assert loss == pytest.approx(mean.min(), rel=0, abs=0)
    assert evaluate_at(e, b, 30, seeds=(0, 1)) == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: train_inverse_time(0.0, 1.0, 10), "eta0"),
        (lambda: train_inverse_time(0.1, -1.0, 10), "beta"),
        (lambda: train_inverse_time(0.1, 1.0, 0), "T"),
        (lambda: train_inverse_time(0.1, 1.0, 10, tau=0.0), "tau"),
        (lambda: train_inverse_time(0.1, 1.0, 10, momentum=1.0), "momentum"),
        (lambda: train_inverse_time(0.1, 1.0, 10, seed=-1), "seed"),
        (lambda: train_inverse_time(0.1, 1.0, 10, batch_size=0), "batch_size"),
        (lambda: train_inverse_time(0.1, 1.0, 10, noise_std=float("nan")), "noise_std"),
        (lambda: grid_losses([0.1, -0.1], [1.0], 10), "eta0_grid"),
        (lambda: grid_losses([0.1], [1.0, -2.0], 10), "beta_grid"),
        (lambda: grid_losses_horizons([0.1], [1.0], [5, 0]), "horizons"),
        (lambda: best_schedule(10, seeds=()), "seeds"),
        (lambda: evaluate_at(0.1, 1.0, 10, seeds=[0, 1.5]), "seeds"),
    ],
)
def test_validation_errors_name_the_field(call, field):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
