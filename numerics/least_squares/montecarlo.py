r"""Monte Carlo simulation of SGD, path by path, with explicit seeds.

This is the *process* implementation of ``../shared/DESIGN.md`` ("Independence") for the
expectations of :mod:`numerics.least_squares.moments`: it runs the update rule itself on many independent sample
paths, in the original coordinates (no SVD, no eigenbasis, no moment algebra), and reports sample
means with standard errors. The tests compare :mod:`numerics.least_squares.moments` against it with z-scores.

Processes (same definitions as :mod:`numerics.least_squares.moments`; Wang et al. 2021 §2.1 SGD):

* :func:`simulate_finite_set`: ``w' = w - eta (1/B) sum_k x_{j_k} (x_{j_k}^T w - y_{j_k})`` with
  indices ``j_k`` drawn uniformly with replacement (``rng.integers``) from a
  :class:`LeastSquaresProblem`; per path, the training and validation losses of ``w_t``.
* :func:`simulate_gaussian`: fresh ``x ~ N(0, Sigma)``, ``y = <w*, x> + xi``, ``xi ~ N(0, sigma2)``
  each step; per path, the population loss ``1/2 ((w_t - w*)^T Sigma (w_t - w*) + sigma2)`` (the
  exact conditional expectation over a fresh test pair given ``w_t``).
* :func:`simulate_additive_noise`: ``g = H w - b + eps``, ``eps ~ N(0, S)``; heavy ball
  ``v' = mu v - eta g``, ``w' = w + v'``; ``w_0 ~ N(mean0, cov0)``; per path
  ``1/2 w_t^T H w_t - b^T w_t + loss_offset``.

Derivatives are *pathwise* (reparameterised): the random draws do not depend on ``eta``, so for
each path the tangent ``wdot = dw/d eta`` is propagated exactly (``wdot' = wdot - g - eta gdot``
with ``gdot`` the gradient's derivative through ``w``) and ``d loss(w_t) / d eta`` is averaged;
its mean is an unbiased estimate of ``d E[loss] / d eta`` (the loss is a polynomial in ``eta`` on
each path, so differentiation and expectation commute). For a schedule the derivative is along a
common shift of every step size, as in :mod:`numerics.least_squares.moments`.

Vectorisation and reproducibility: paths are stacked along the first axis of a ``(paths, d)``
array (rows, so that gathering each path's sampled row of ``X`` is contiguous) and all step
together; paths are processed in chunks of :data:`CHUNK_PATHS`, chunk ``i`` drawing from
``numpy.random.default_rng(SeedSequence(seed).spawn(...)[i])``, so a result is a function of
``(seed, n_paths)`` and the inputs alone (given numpy's bit generator). Means and variances are
combined across chunks with Chan's pairwise update (no cancellation from sums of squares). Only
input *validation* helpers are shared with :mod:`numerics.least_squares.moments`; a covariance is factored here
by its own SVD, not by the eigen-decomposition the moment code uses.

Example (two orthogonal samples; the exact E[loss] after one step at eta = 1 is 1/4)::

    >>> from l2l.numerics import LeastSquaresProblem
    >>> p = LeastSquaresProblem([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0])
    >>> mc = simulate_finite_set(p, 1.0, 1, batch_size=1, n_paths=2000, seed=7)
    >>> mc.train_loss.mean, mc.train_loss.stderr, mc.n_paths, mc.seed   # every path has loss 1/4
    (0.25, 0.0, 2000, 7)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..estimate import MCEstimate
from ..problems import LeastSquaresProblem
from ..validation import ValidationError, as_batch_size, as_horizon, as_int, as_nonnegative_real, as_nonnegative_reals, as_psd_matrix, as_real_array, as_schedule, as_vector_of_length

__all__ = [
    "MCEstimate",
    "FiniteSetSimulation",
    "Simulation",
    "simulate_finite_set",
    "simulate_gaussian",
    "simulate_additive_noise",
    "CHUNK_PATHS",
    "MAX_SIM_COST",
]

#: Paths simulated together (memory per chunk: a few arrays of CHUNK_PATHS x d float64).
CHUNK_PATHS = 1024
#: Largest accepted n_paths x t x (per-path-step work) (~10^10 is a minute or so).
MAX_SIM_COST = 10**11
MAX_SIM_STEPS = 10**7


@dataclass(frozen=True)
class FiniteSetSimulation:
    """Monte Carlo estimates for SGD on a finite training set (validation fields None without one)."""

    train_loss: MCEstimate
    train_loss_grad: MCEstimate
    valid_loss: MCEstimate | None
    valid_loss_grad: MCEstimate | None
    n_paths: int
    seed: int


@dataclass(frozen=True)
class Simulation:
    """Monte Carlo estimates of the loss and its pathwise eta-derivative."""

    loss: MCEstimate
    loss_grad: MCEstimate
    n_paths: int
    seed: int


# ---------------------------------------------------------------------------------------------
# helpers


def _check_cost(n_paths: int, t: int, per: float) -> None:
    cost = float(n_paths) * t * per
    if cost > MAX_SIM_COST:
        raise ValidationError(
            "n_paths", f"n_paths x t x per-step work = {cost:.3g} exceeds MAX_SIM_COST = {MAX_SIM_COST:.0e}"
        )


class _Stats:
    """Running mean and sum of squared deviations, merged chunk by chunk (Chan et al.)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: Any = 0.0
        self.m2: Any = 0.0

    def add(self, x: np.ndarray) -> None:  # x: (paths,) or (paths, steps)
        nb = x.shape[0]
        mb = x.mean(axis=0)
        m2b = ((x - mb) ** 2).sum(axis=0)
        if self.n == 0:
            self.n, self.mean, self.m2 = nb, mb, m2b
            return
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta * delta * (self.n * nb / n)
        self.n = n

    def estimate(self, seed: int) -> MCEstimate:
        var = self.m2 / (self.n - 1) if self.n > 1 else np.zeros_like(np.asarray(self.mean, dtype=float))
        se = np.sqrt(var / self.n)
        mean = self.mean
        if np.ndim(mean) == 0:
            mean, se = float(mean), float(se)
        return MCEstimate(mean=mean, stderr=se, n_paths=self.n, seed=seed)


def _chunks(n_paths: int, seed: int):
    k = -(-n_paths // CHUNK_PATHS)
    children = np.random.SeedSequence(seed).spawn(k)
    for i in range(k):
        yield min(CHUNK_PATHS, n_paths - i * CHUNK_PATHS), np.random.default_rng(children[i])


# ---------------------------------------------------------------------------------------------
# finite training set


def simulate_finite_set(
    problem: LeastSquaresProblem,
    eta: Any,
    t: Any,
    batch_size: Any,
    n_paths: Any,
    seed: Any,
    w0: Any = None,
    *,
    curve: bool = False,
) -> FiniteSetSimulation:
    """Simulate ``n_paths`` SGD paths of ``t`` steps (minibatches with replacement) from ``w0``.

    Returns sample means and standard errors of the training / validation loss of ``w_t`` and of
    their pathwise eta-derivatives (with ``curve=True``: of every step 0..t). Cost
    ``O(n_paths t (B d + n d [if curve]))``; about 0.1-0.3 microseconds per path-step and
    coordinate.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(5, 3)); p = LeastSquaresProblem(X, X @ [1.0, 0.0, -1.0] + 0.1)
    >>> a = simulate_finite_set(p, 0.1, 20, 2, 1000, seed=3)
    >>> b = simulate_finite_set(p, 0.1, 20, 2, 1000, seed=3)
    >>> a == b                                   # a fixed seed reproduces the run exactly
    True
    """
    if not isinstance(problem, LeastSquaresProblem):
        raise ValidationError("problem", f"must be a LeastSquaresProblem (got {type(problem).__name__})")
    eta = as_nonnegative_real("eta", eta)
    t = as_horizon("t", t, maximum=MAX_SIM_STEPS)
    B = as_batch_size(batch_size)
    n_paths = as_int("n_paths", n_paths, 2, 10**12)
    seed = as_int("seed", seed, 0, 2**63 - 1)
    X, y = problem.X, problem.y
    n, d = X.shape
    w0 = as_vector_of_length("w0", w0, d)
    _check_cost(n_paths, t, B * d + (n + problem.n_valid) * d * (1 if curve else 0))
    has_valid = problem.has_validation
    Xv, yv = problem.X_valid, problem.y_valid

    def losses(W, Wd, A, b):  # per-path loss (1/2m)||A w - b||^2 and its derivative
        R = W @ A.T - b  # (paths, m)
        return 0.5 * np.mean(R * R, axis=1), np.mean(R * (Wd @ A.T), axis=1)

    stats = {k: _Stats() for k in ("tr", "dtr", "va", "dva")}
    for m, rng in _chunks(n_paths, seed):
        W = np.tile(w0, (m, 1))
        Wd = np.zeros((m, d))
        rec = {k: [] for k in stats} if curve else None

        def record():
            f, g = losses(W, Wd, X, y)
            out = {"tr": f, "dtr": g}
            if has_valid:
                out["va"], out["dva"] = losses(W, Wd, Xv, yv)
            return out

        if curve:
            for k_, v_ in record().items():
                rec[k_].append(v_)
        for _ in range(t):
            idx = rng.integers(0, n, size=(B, m))
            # w' = w - eta g, wdot' = wdot - g - eta gdot with g = (1/B) sum_k x_k r_k and
            # gdot = (1/B) sum_k x_k (x_k^T wdot): both updates are sums of x_k times a scalar.
            coef = []
            for k in range(B):
                xs = X[idx[k]]  # (paths, d): sample k of each path's minibatch
                res = np.einsum("pd,pd->p", xs, W) - y[idx[k]]
                resd = np.einsum("pd,pd->p", xs, Wd)
                coef.append((xs, res, resd))
            for xs, res, resd in coef:
                Wd -= xs * ((res + eta * resd) / B)[:, None]
                W -= xs * ((eta / B) * res)[:, None]
            if curve:
                for k_, v_ in record().items():
                    rec[k_].append(v_)
        final = {k_: np.stack(v_, axis=1) for k_, v_ in rec.items() if v_} if curve else record()
        for k_, v_ in final.items():
            stats[k_].add(v_)
    est = {k_: (s.estimate(seed) if s.n else None) for k_, s in stats.items()}
    return FiniteSetSimulation(
        train_loss=est["tr"],
        train_loss_grad=est["dtr"],
        valid_loss=est["va"],
        valid_loss_grad=est["dva"],
        n_paths=n_paths,
        seed=seed,
    )


def _factor(A: Any, lam: np.ndarray, U: np.ndarray | None) -> np.ndarray:
    """L with L L^T = A for a validated PSD ``A`` (its diagonal ``lam`` if ``U`` is None).

    Deliberately *not* the eigen-decomposition that validation (and numerics.least_squares.moments) used: the
    factor comes from an SVD of the matrix itself, A = Q diag(s) Q^T for symmetric PSD A.
    """
    if U is None:
        return np.diag(np.sqrt(lam))
    A = np.asarray(A, dtype=np.float64)
    Q, s, _ = np.linalg.svd(0.5 * (A + A.T))
    return Q * np.sqrt(s)


# ---------------------------------------------------------------------------------------------
# fresh Gaussian samples


def _add_chunk(st_f: "_Stats", st_g: "_Stats", fs: list, gs: list, curve: bool, loss, W, Wd) -> None:
    """Add one chunk of paths to the running statistics: its whole loss curve when ``curve``,
    else the loss and its pathwise derivative at the final step."""
    if curve:
        st_f.add(np.stack(fs, axis=1))
        st_g.add(np.stack(gs, axis=1))
    else:
        f, g = loss(W, Wd)
        st_f.add(f)
        st_g.add(g)


def simulate_gaussian(
    Sigma: Any,
    w_star: Any,
    sigma2: Any,
    eta: Any,
    t: Any,
    batch_size: Any,
    n_paths: Any,
    seed: Any,
    w0: Any = None,
    *,
    curve: bool = False,
) -> Simulation:
    """Simulate SGD on fresh pairs ``x ~ N(0, Sigma)``, ``y = <w*, x> + xi`` (batch ``B`` per step).

    ``x`` is drawn as ``L z`` with ``L = U diag(sqrt(lambda))`` from ``eigh(Sigma)`` (so a singular
    PSD Sigma is fine). Returns the population loss of ``w_t`` (mean over paths) and its pathwise
    eta-derivative ``(w_t - w*)^T Sigma wdot_t``.

    >>> s = simulate_gaussian([1.0], [1.0], 0.0, 0.5, 2, 1, 20000, seed=1)
    >>> abs(s.loss.z(0.5 * 0.75 ** 2)) < 5           # exact value 0.28125 (numerics.least_squares.moments)
    True
    """
    lam, U = as_psd_matrix("Sigma", Sigma)
    d = lam.size
    ws = as_vector_of_length("w_star", w_star, d, zero_if_none=False)
    s2 = as_nonnegative_reals("sigma2", sigma2)
    if s2.ndim != 0:
        raise ValidationError("sigma2", "must be a single number >= 0")
    sig = math.sqrt(float(s2))
    eta = as_nonnegative_real("eta", eta)
    t = as_horizon("t", t, maximum=MAX_SIM_STEPS)
    B = as_batch_size(batch_size)
    n_paths = as_int("n_paths", n_paths, 2, 10**12)
    seed = as_int("seed", seed, 0, 2**63 - 1)
    w0 = as_vector_of_length("w0", w0, d)
    _check_cost(n_paths, t, B * d * (d + 2))
    L = _factor(Sigma, lam, U)  # x = L z
    Sig = L @ L.T

    def loss(W, Wd):
        Ev = W - ws
        SE = Ev @ Sig
        return 0.5 * (np.einsum("pd,pd->p", SE, Ev) + sig * sig), np.einsum("pd,pd->p", SE, Wd)

    st_f, st_g = _Stats(), _Stats()
    for m, rng in _chunks(n_paths, seed):
        W = np.tile(w0, (m, 1))
        Wd = np.zeros((m, d))
        fs, gs = [], []
        if curve:
            f, g = loss(W, Wd)
            fs.append(f), gs.append(g)
        for _ in range(t):
            coef = []
            for _k in range(B):
                xs = rng.standard_normal((m, d)) @ L.T
                xi = rng.standard_normal(m) * sig
                res = np.einsum("pd,pd->p", xs, W) - (xs @ ws + xi)
                resd = np.einsum("pd,pd->p", xs, Wd)
                coef.append((xs, res, resd))
            for xs, res, resd in coef:
                Wd -= xs * ((res + eta * resd) / B)[:, None]
                W -= xs * ((eta / B) * res)[:, None]
            if curve:
                f, g = loss(W, Wd)
                fs.append(f), gs.append(g)
        _add_chunk(st_f, st_g, fs, gs, curve, loss, W, Wd)
    return Simulation(loss=st_f.estimate(seed), loss_grad=st_g.estimate(seed), n_paths=n_paths, seed=seed)


# ---------------------------------------------------------------------------------------------
# additive noise


def simulate_additive_noise(
    H: Any,
    b: Any,
    S: Any,
    eta: Any,
    t: Any,
    n_paths: Any,
    seed: Any,
    *,
    mu: Any = 0.0,
    mean0: Any = None,
    cov0: Any = None,
    loss_offset: Any = 0.0,
    curve: bool = False,
) -> Simulation:
    """Simulate heavy-ball SGD with gradient ``H w - b + eps``, ``eps ~ N(0, S)`` fresh each step.

    ``eta``, ``mu``: numbers or schedules of length ``t``; ``w_0 ~ N(mean0, cov0)``, ``v_0 = 0``.
    Per path the loss is ``1/2 w^T H w - b^T w + loss_offset``; its pathwise derivative is along a
    common shift of every step size (``vdot' = mu vdot - g - eta H wdot``, ``wdot' = wdot + vdot'``).

    >>> s = simulate_additive_noise([1.0], [0.0], [1.0], 0.5, 2, 20000, seed=2)
    >>> abs(s.loss.z(0.5 * 0.3125)) < 5              # exact 1/2 Var[w_2] = 0.15625
    True
    """
    h_lam, h_U = as_psd_matrix("H", H)
    d = h_lam.size
    Hm = np.diag(h_lam) if h_U is None else (h_U * h_lam) @ h_U.T
    bb = as_vector_of_length("b", b, d, zero_if_none=False)
    s_lam, s_U = as_psd_matrix("S", S, d)
    t = as_horizon("t", t, maximum=MAX_SIM_STEPS)
    etas = as_schedule("eta", eta, t, nonneg=True)
    mus = as_schedule("mu", mu, t, nonneg=False)
    n_paths = as_int("n_paths", n_paths, 2, 10**12)
    seed = as_int("seed", seed, 0, 2**63 - 1)
    m0 = as_vector_of_length("mean0", mean0, d)
    if cov0 is None:
        C0 = None
    else:
        c_lam, c_U = as_psd_matrix("cov0", cov0, d)
        C0 = _factor(cov0, c_lam, c_U)
    off = as_real_array("loss_offset", loss_offset)
    if off.ndim != 0:
        raise ValidationError("loss_offset", "must be a single finite number")
    off = float(off)
    _check_cost(n_paths, t, d * (d + 4))
    Ls = _factor(S, s_lam, s_U)

    def loss(W, Wd):
        HW = W @ Hm
        return (0.5 * np.einsum("pd,pd->p", HW, W) - W @ bb + off, np.einsum("pd,pd->p", HW, Wd) - Wd @ bb)

    st_f, st_g = _Stats(), _Stats()
    for m, rng in _chunks(n_paths, seed):
        W = np.tile(m0, (m, 1))
        if C0 is not None:
            W = W + rng.standard_normal((m, d)) @ C0.T
        V = np.zeros((m, d))
        Wd = np.zeros((m, d))
        Vd = np.zeros((m, d))
        fs, gs = [], []
        if curve:
            f, g = loss(W, Wd)
            fs.append(f), gs.append(g)
        for tau in range(t):
            e, mu_ = etas[tau], mus[tau]
            eps = rng.standard_normal((m, d)) @ Ls.T
            G = W @ Hm - bb + eps
            Gd = Wd @ Hm
            Vd = mu_ * Vd - G - e * Gd
            V = mu_ * V - e * G
            Wd = Wd + Vd
            W = W + V
            if curve:
                f, g = loss(W, Wd)
                fs.append(f), gs.append(g)
        _add_chunk(st_f, st_g, fs, gs, curve, loss, W, Wd)
    return Simulation(loss=st_f.estimate(seed), loss_grad=st_g.estimate(seed), n_paths=n_paths, seed=seed)
