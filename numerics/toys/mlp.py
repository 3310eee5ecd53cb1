r"""Offline schedule-family experiment on a tiny numpy MLP (short-horizon bias, Wu et al. 2018).

Source: ``../shared/papers/wu2018.md`` §8.2 (Wu et al.'s offline experiment: tune an inverse-time
decay schedule of SGD with momentum 0.9 for several horizons T) and §11 item 14 (the cheap
analogue: tau = 500, T in {50, 500, 5000}, a 20-32-1 tanh MLP, batch 8, momentum 0.9, 3 seeds).
Everything here is [derived]; the **data set is this package's choice** (the spec names none).

Schedule and optimiser
----------------------
Step ``t = 0, 1, ..., T-1`` uses the inverse-time learning rate

.. math::  \eta_t = \eta_0\,(1 + t/\tau)^{-\beta} = \eta_0 \exp(-\beta\,\mathrm{log1p}(t/\tau)),

and heavy-ball momentum in the package's convention (as in :mod:`numerics.nqm`)

.. math::  v' = \mu v - \eta_t g,\qquad w' = w + v',\qquad v_0 = 0,\quad \mu = 0.9,

applied to every parameter, where ``g`` is the minibatch gradient. The schedule does not depend on
T, so the losses at several horizons are checkpoints of one run (:func:`grid_losses_horizons`).

Data set (this package's choice, not the paper's)
-------------------------------------------------
Per seed ``s`` a :class:`numpy.random.SeedSequence` (s) spawns four independent streams
(teacher, data, student initialisation, minibatches):

- teacher: a fixed random 20-32-1 tanh net, ``W1 ~ N(0, 1/20)`` (20x32), ``w2 ~ N(0, 1/32)`` (32),
  zero biases;
- training set: ``n_train = 512`` inputs ``x ~ N(0, I_20)``, drawn once per seed, with targets
  ``y = teacher(x) + 0.1 * N(0, 1)``;
- student: same architecture, LeCun initialisation ``W1 ~ N(0, 1/20)``, ``w2 ~ N(0, 1/32)``, zero
  biases (``b1`` of length 32 and a scalar ``b2``; 705 parameters in all);
- minibatches: ``batch_size = 8`` indices drawn uniformly *with replacement* from the training set,
  one ``Generator.integers`` call per step (so the batches of a short run are a prefix of those of
  a long run).

The objective is the full training-set loss after T steps,
:math:`L = \frac{1}{2n}\sum_{k=1}^{n} (f(x_k) - y_k)^2`; the minibatch gradient is that of the
same expression averaged over the batch. Backpropagation is hand-written
(:func:`loss_and_gradient`), with :math:`\partial\tanh(z)/\partial z = 1 - \tanh^2 z`.

Common random numbers: every configuration of one seed starts from the same student and sees the
same minibatch sequence, so configurations differ *only* by their schedule.

Divergence: a configuration whose parameters become non-finite, or whose loss is non-finite or
above :data:`DIVERGENCE_LOSS`, gets ``+inf`` (never NaN). Non-finite parameters are absorbing
(``inf + x`` and ``NaN + x`` are never finite), so the batched code drops such a configuration
from the batch as soon as it sees it (every :data:`_CHECK_EVERY` steps and at each checkpoint) and
reports ``inf`` from then on, which is what the single run gives; the survivors train on.

Example (output as run)::

    >>> from l2l.numerics.toys.mlp import train_inverse_time, grid_losses
    >>> round(train_inverse_time(0.01, 1.0, 50, seed=0), 6)
    0.025974
    >>> grid_losses([0.01, 10.0], [0.0, 1.0], 50, seed=0).round(6)
    array([[0.025934, 0.025974],
           [     inf,      inf]])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..validation import ValidationError, as_horizons, as_int, as_real, as_real_vector, as_seeds, check_entries

__all__ = [
    "N_IN",
    "N_HIDDEN",
    "DIVERGENCE_LOSS",
    "MAX_STEPS",
    "DEFAULT_ETA0_GRID",
    "DEFAULT_BETA_GRID",
    "make_problem",
    "init_params",
    "loss_and_gradient",
    "inverse_time_schedule",
    "train_inverse_time",
    "grid_losses",
    "grid_losses_horizons",
    "sweep",
    "best_schedule",
    "evaluate_at",
]

N_IN = 20
N_HIDDEN = 32
#: A final training loss above this counts as divergence (the initial loss is O(0.1-1)).
DIVERGENCE_LOSS = 1e6
#: Largest number of steps accepted (keeps a mistyped horizon from running for hours).
MAX_STEPS = 10**6
#: How often (in steps) the batched run looks for non-finite configurations to drop.
_CHECK_EVERY = 64

#: 10 log-spaced initial learning rates in [1e-3, 1].
DEFAULT_ETA0_GRID = np.logspace(-3.0, 0.0, 10)
#: beta = 0 (constant rate) and 10 log-spaced decay exponents in [0.01, 100].
DEFAULT_BETA_GRID = np.concatenate([[0.0], np.logspace(-2.0, 2.0, 10)])


# ----------------------------------------------------------------------------- validation helpers


def _common(tau, momentum, n_train, batch_size, noise_std):
    return dict(
        tau=as_real("tau", tau, 0.0, lo_open=True),
        momentum=as_real("momentum", momentum, 0.0, 1.0, hi_open=True),
        n_train=as_int("n_train", n_train, 1, 10**7, integral_floats=True),
        batch_size=as_int("batch_size", batch_size, 1, 10**6, integral_floats=True),
        noise_std=as_real("noise_std", noise_std, 0.0),
    )


# ----------------------------------------------------------------------------- problem and model


def make_problem(seed: int = 0, *, n_train: int = 512, noise_std: float = 0.1):
    """The seed's training set, student initialisation and minibatch generator.

    Returns ``(X, y, params0, batch_rng)`` with ``X`` of shape (n_train, 20), ``y`` (n_train,),
    ``params0 = (W1, b1, w2, b2)`` (see the module docstring for the distributions) and a
    :class:`numpy.random.Generator` for the minibatch indices.
    """
    seed = as_int("seed", seed, 0)
    n_train = as_int("n_train", n_train, 1, 10**7, integral_floats=True)
    noise_std = as_real("noise_std", noise_std, 0.0)
    teacher_ss, data_ss, init_ss, batch_ss = np.random.SeedSequence(seed).spawn(4)
    rt = np.random.default_rng(teacher_ss)
    tW1 = rt.standard_normal((N_IN, N_HIDDEN)) / np.sqrt(N_IN)
    tw2 = rt.standard_normal(N_HIDDEN) / np.sqrt(N_HIDDEN)
    rd = np.random.default_rng(data_ss)
    X = rd.standard_normal((n_train, N_IN))
    y = np.tanh(X @ tW1) @ tw2 + noise_std * rd.standard_normal(n_train)
    return X, y, init_params(np.random.default_rng(init_ss)), np.random.default_rng(batch_ss)


def init_params(rng: np.random.Generator):
    """LeCun-normal student ``(W1 (20,32), b1 (32,), w2 (32,), b2 float)``, zero biases."""
    W1 = rng.standard_normal((N_IN, N_HIDDEN)) / np.sqrt(N_IN)
    w2 = rng.standard_normal(N_HIDDEN) / np.sqrt(N_HIDDEN)
    return W1, np.zeros(N_HIDDEN), w2, 0.0


def loss_and_gradient(params, X: np.ndarray, y: np.ndarray):
    r"""Loss :math:`\frac{1}{2m}\sum_k (f(x_k)-y_k)^2` of ``f(x) = tanh(x W1 + b1) . w2 + b2`` and its
    gradient ``(gW1, gb1, gw2, gb2)`` by hand-written backpropagation:
    ``e = (f - y)/m``, ``gw2 = H^T e``, ``gb2 = sum e``, ``D = (e w2^T) * (1 - H^2)``,
    ``gW1 = X^T D``, ``gb1 = sum_k D_k``.
    """
    W1, b1, w2, b2 = params
    H = np.tanh(X @ W1 + b1)
    r = H @ w2 + b2 - y
    e = r / X.shape[0]
    D = np.outer(e, w2) * (1.0 - H * H)
    return 0.5 * float(r @ r) / X.shape[0], (X.T @ D, D.sum(axis=0), H.T @ e, float(e.sum()))


def inverse_time_schedule(eta0: float, beta: float, T: int, tau: float = 500.0) -> np.ndarray:
    r"""``eta_t = eta0 * exp(-beta * log1p(t / tau))`` for ``t = 0..T-1`` (float64, shape (T,))."""
    eta0 = as_real("eta0", eta0, 0.0, lo_open=True)
    beta = as_real("beta", beta, 0.0)
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    tau = as_real("tau", tau, 0.0, lo_open=True)
    return _inverse_time_rates(eta0, beta, T, tau)


def _inverse_time_rates(eta0: float, beta: float, T: int, tau: float) -> np.ndarray:
    # One code path for both the single and the batched run, so the rates are bitwise equal.
    return eta0 * np.exp(-beta * np.log1p(np.arange(T, dtype=np.float64) / tau))


def _final_loss(loss: float, params) -> float:
    finite = all(np.all(np.isfinite(p)) for p in params)
    if not finite or not np.isfinite(loss) or loss > DIVERGENCE_LOSS:
        return float("inf")
    return float(loss)


# ----------------------------------------------------------------------------- single configuration


def train_inverse_time(
    eta0: float,
    beta: float,
    T: int,
    *,
    tau: float = 500.0,
    seed: int = 0,
    momentum: float = 0.9,
    n_train: int = 512,
    batch_size: int = 8,
    noise_std: float = 0.1,
) -> float:
    """Full training-set loss after ``T`` momentum-SGD steps with ``eta_t = eta0/(1+t/tau)^beta``.

    One configuration, plain (unbatched) numpy; ``+inf`` on divergence. The reference
    implementation that :func:`grid_losses` is tested against.
    """
    eta0 = as_real("eta0", eta0, 0.0, lo_open=True)
    beta = as_real("beta", beta, 0.0)
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    c = _common(tau, momentum, n_train, batch_size, noise_std)
    X, y, params, brng = make_problem(as_int("seed", seed, 0), n_train=c["n_train"], noise_std=c["noise_std"])
    params = list(params)
    vel = [np.zeros_like(p) if isinstance(p, np.ndarray) else 0.0 for p in params]
    etas = _inverse_time_rates(eta0, beta, T, c["tau"])
    mu = c["momentum"]
    with np.errstate(all="ignore"):
        for t in range(T):
            idx = brng.integers(0, c["n_train"], size=c["batch_size"])
            _, grads = loss_and_gradient(params, X[idx], y[idx])
            for k in range(4):
                vel[k] = mu * vel[k] - etas[t] * grads[k]
                params[k] = params[k] + vel[k]
        loss, _ = loss_and_gradient(params, X, y)
    return _final_loss(loss, params)


# ----------------------------------------------------------------------------- batched grid


def grid_losses_horizons(
    eta0_grid: Sequence[float],
    beta_grid: Sequence[float],
    horizons: Sequence[int],
    *,
    tau: float = 500.0,
    seed: int = 0,
    momentum: float = 0.9,
    n_train: int = 512,
    batch_size: int = 8,
    noise_std: float = 0.1,
) -> np.ndarray:
    """Final training losses of every ``(eta0, beta)`` pair at every horizon, one seed.

    Returns shape ``(len(horizons), len(eta0_grid), len(beta_grid))``. All ``G`` configurations
    are trained simultaneously in one batched computation over ``max(horizons)`` steps, with the
    losses read at the checkpoints. Layout: the first-layer weights of all configurations are one
    ``(20, G*32)`` matrix (so the forward and backward passes are single GEMMs with the shared
    minibatch), ``w2`` is ``(G, 32)``, ``b1`` ``(G*32,)``, ``b2`` ``(G,)``; diverged configurations
    leave the batch, so G shrinks as they do.
    """
    eta0s = as_real_vector("eta0_grid", eta0_grid, positive=True)
    betas = check_entries("beta_grid", as_real_vector("beta_grid", beta_grid), 0.0)
    hs = as_horizons("horizons", horizons, maximum=MAX_STEPS)
    if hs.ndim != 1:
        raise ValidationError("horizons", f"must be a 1-D list of integers (got {hs.ndim}-D)")
    c = _common(tau, momentum, n_train, batch_size, noise_std)
    X, y, (W1, b1, w2, b2), brng = make_problem(as_int("seed", seed, 0), n_train=c["n_train"], noise_std=c["noise_std"])

    E, Bt = np.meshgrid(eta0s, betas, indexing="ij")
    e_flat, b_flat = E.ravel(), Bt.ravel()
    G, Hd, B, mu = e_flat.size, N_HIDDEN, c["batch_size"], c["momentum"]
    Tmax = int(hs.max())
    # Rates per configuration through the same code path as train_inverse_time (bitwise equal).
    S = np.stack([_inverse_time_rates(float(e), float(b), Tmax, c["tau"]) for e, b in zip(e_flat, b_flat)], axis=1)

    W1g = np.tile(W1, (1, G))  # (20, G*32): column block g is configuration g
    b1g = np.tile(b1, G)
    w2g = np.tile(w2, (G, 1))
    b2g = np.full(G, float(b2))
    V1, vb1, v2, vb2 = np.zeros_like(W1g), np.zeros_like(b1g), np.zeros_like(w2g), np.zeros_like(b2g)
    live = np.arange(G)  # the configurations still trained; a diverged one is dropped (its loss is inf)
    checkpoints = {int(h): i for i, h in enumerate(hs)}
    out = np.full((hs.size, G), np.inf)

    def drop_nonfinite():
        nonlocal W1g, b1g, w2g, b2g, V1, vb1, v2, vb2, S, live
        g = live.size
        keep = (
            np.isfinite(W1g.reshape(N_IN, g, Hd)).all(axis=(0, 2))
            & np.isfinite(b1g.reshape(g, Hd)).all(axis=1)
            & np.isfinite(w2g).all(axis=1)
            & np.isfinite(b2g)
        )
        if keep.all():
            return
        k = int(keep.sum())
        W1g, V1 = (a.reshape(N_IN, g, Hd)[:, keep, :].reshape(N_IN, k * Hd) for a in (W1g, V1))
        b1g, vb1 = (a.reshape(g, Hd)[keep].reshape(k * Hd) for a in (b1g, vb1))
        w2g, v2, b2g, vb2 = (a[keep] for a in (w2g, v2, b2g, vb2))
        S, live = S[:, keep], live[keep]

    def full_loss():
        g = live.size
        Hf = np.tanh(X @ W1g + b1g).reshape(X.shape[0], g, Hd)
        r = np.einsum("kgh,gh->kg", Hf, w2g) + b2g - y[:, None]
        L = 0.5 * np.einsum("kg,kg->g", r, r) / X.shape[0]
        return np.where(~np.isfinite(L) | (L > DIVERGENCE_LOSS), np.inf, L)

    with np.errstate(all="ignore"):
        for t in range(Tmax):
            idx = brng.integers(0, c["n_train"], size=B)
            Xb, yb = X[idx], y[idx]
            g = live.size
            Hb = np.tanh(Xb @ W1g + b1g)  # (B, g*32)
            H3 = Hb.reshape(B, g, Hd)
            e = (np.einsum("bgh,gh->bg", H3, w2g) + b2g - yb[:, None]) / B  # (B, g)
            gw2 = np.einsum("bg,bgh->gh", e, H3)
            gb2 = e.sum(axis=0)
            D = (e[:, :, None] * w2g[None, :, :] * (1.0 - H3 * H3)).reshape(B, g * Hd)
            gW1 = Xb.T @ D
            gb1 = D.sum(axis=0)
            eta = S[t]
            eta_h = eta[:, None]
            V1 *= mu
            V1.reshape(N_IN, g, Hd)[...] -= eta_h[None] * gW1.reshape(N_IN, g, Hd)
            vb1 *= mu
            vb1.reshape(g, Hd)[...] -= eta_h * gb1.reshape(g, Hd)
            v2 *= mu
            v2 -= eta_h * gw2
            vb2 *= mu
            vb2 -= eta * gb2
            W1g += V1
            b1g += vb1
            w2g += v2
            b2g += vb2
            step = t + 1
            if step % _CHECK_EVERY == 0 or step in checkpoints:
                drop_nonfinite()
            if step in checkpoints:
                out[checkpoints[step], live] = full_loss()
    return out.reshape(hs.size, eta0s.size, betas.size)


def grid_losses(
    eta0_grid: Sequence[float],
    beta_grid: Sequence[float],
    T: int,
    *,
    tau: float = 500.0,
    seed: int = 0,
    momentum: float = 0.9,
    n_train: int = 512,
    batch_size: int = 8,
    noise_std: float = 0.1,
) -> np.ndarray:
    """Array ``(len(eta0_grid), len(beta_grid))`` of :func:`train_inverse_time` values, batched.

    Equal to the loop over :func:`train_inverse_time` up to floating-point summation order
    (tested to 1e-12 relative for short runs); ``inf`` marks divergence.
    """
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    return grid_losses_horizons(
        eta0_grid, beta_grid, [T], tau=tau, seed=seed, momentum=momentum,
        n_train=n_train, batch_size=batch_size, noise_std=noise_std,
    )[0]


# ----------------------------------------------------------------------------- tuning


def sweep(
    horizons: Sequence[int],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    eta0_grid: Sequence[float] = DEFAULT_ETA0_GRID,
    beta_grid: Sequence[float] = DEFAULT_BETA_GRID,
    tau: float = 500.0,
) -> np.ndarray:
    """Seed-averaged final training loss, shape ``(len(horizons), len(eta0_grid), len(beta_grid))``.

    One batched run per seed covers all horizons. A configuration that diverges for any seed
    averages to ``inf``.
    """
    seeds = as_seeds("seeds", seeds)
    per_seed = [grid_losses_horizons(eta0_grid, beta_grid, horizons, tau=tau, seed=s) for s in seeds]
    return np.mean(per_seed, axis=0)


def _argmin(mean: np.ndarray, eta0_grid, beta_grid) -> tuple[float, float, float]:
    i, j = np.unravel_index(int(np.argmin(mean)), mean.shape)  # ties: first in row-major order
    return float(np.asarray(eta0_grid, float)[i]), float(np.asarray(beta_grid, float)[j]), float(mean[i, j])


def best_schedule(
    T: int,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    eta0_grid: Sequence[float] = DEFAULT_ETA0_GRID,
    beta_grid: Sequence[float] = DEFAULT_BETA_GRID,
    tau: float = 500.0,
) -> tuple[float, float, float]:
    """``(eta0, beta, mean loss)`` minimising the seed-averaged training loss after ``T`` steps over
    the grid (ties broken by the first grid point in (eta0, beta) row-major order)."""
    T = as_int("T", T, 1, MAX_STEPS, integral_floats=True)
    mean = sweep([T], seeds=seeds, eta0_grid=eta0_grid, beta_grid=beta_grid, tau=tau)[0]
    return _argmin(mean, eta0_grid, beta_grid)


def evaluate_at(
    eta0: float, beta: float, T: int, seeds: Sequence[int] = (0, 1, 2), tau: float = 500.0
) -> float:
    """Seed-averaged training loss after ``T`` steps of the fixed schedule ``(eta0, beta)``."""
    seeds = as_seeds("seeds", seeds)
    return float(np.mean([train_inverse_time(eta0, beta, T, tau=tau, seed=s) for s in seeds]))
