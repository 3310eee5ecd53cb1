r"""Meta-training learned optimizers by antithetic ES on batched task families.

The loop (:func:`metatrain`) is generic over a small :class:`Adapter`: a flat meta-parameter
vector :math:`\theta` (k numbers), ``init(thetas, x0, noise) -> state`` and
``step(thetas, state, x, g) -> (x, state)``, all over a leading batch axis with **one meta-parameter
vector per batch member**. Each meta-step of each of R independent runs (replicas, e.g. seeds or
train-by-train against train-by-validation) draws P antithetic directions and P x M tasks, and
unrolls all :math:`R\cdot P\cdot2\cdot M` members in lockstep for T inner steps (numpy over the
batch axis); the ``+`` and ``-`` member of a pair share the M tasks and the inner noise (common
random numbers). The loss of a member is its meta-objective (:func:`..tasks.unroll_objective`:
``"log"``, ``"tbt"``, ``"tbv"``), averaged over its M tasks. Work is bounded by counts
(meta-steps, pairs, tasks, inner steps), never by time.

**Truncated antithetic ES** (``MetaTrainConfig.truncation`` = K; Metz et al. 2019 §2 and §4, the
partial unrolls of Wichrowska et al. §7). Each run keeps an inner *episode* of T = ``unroll`` steps
on M tasks ``sample(r, episode, M)`` (fresh states with noise from ``task_rng(seed, 3, episode)``):
the iterate, the adapter state, the inner step t and the losses :math:`f_0` at the episode's start.
A meta-step unrolls one window of :math:`W=\min(K,T-t)` steps: all 2P members of a run start from
copies of the episode's state (:func:`take_state`) on its M tasks, with :math:`\theta\pm\sigma
e_p`; a member's loss is its objective over the window (``"log"``: one partial unroll of the
released code, :math:`\frac1{W+1}\sum\log(F_j/(f_0+10^{-6})+10^{-6})`,
:math:`F=(f_t,f_t,f_{t+1},..,f_{t+W-1})`, against the episode's :math:`f_0`; ``"tbt"``/``"tbv"``:
the mean loss over steps t+1..t+W). After the ES estimate the episode advances by the window with
this meta-step's **unperturbed** :math:`\theta` (before its update); at t = T a new episode starts.
A meta-step then costs W instead of T inner steps per member. **The estimate is biased**: it is an
unbiased estimate of the gradient of the smoothed *window* objective from a start state produced
by the unperturbed :math:`\theta`, which ignores the effect of :math:`\theta` on the later windows
through the state it carries over; short windows pull :math:`\theta` towards the greedy, short-horizon
optimum (the truncation bias of TBPTT, which truncated ES shares: claims A6/A7 of the Metz et al.
digest). With K = T every window is a whole episode from a fresh state (but the P pairs share
their M tasks and inner noise, unlike untruncated meta-steps, which draw P x M tasks). The
``"log"`` window objective counts :math:`f_t` twice and drops :math:`f_{t+W}` (as the code's
partial unrolls): a window of one step (K = 1, or a last window of length 1) sees nothing of
:math:`\theta` and gives a zero estimate. The held-out evaluations always unroll the full T steps.

**Adapter (a): the hierarchical RNN with every RNN weight at 0** (:func:`hrnn_zero_adapter`;
:math:`\theta=(b_{\rm inp},b_{\rm scl},b_{\rm lr},o,\ell_m)`, the scalar biases of claim C8 of the
Wichrowska et al. digest). With ``init_weights(seed, zero_rnn=True)`` every GRU matrix, bias affine
and readout weight :math:`w_{\rm upd},w_{\rm inp},w_{\rm scl},w_{\rm lr}` is 0 and the shortcut is
:math:`(\tfrac14,\tfrac14,\tfrac14,\tfrac14)`. Then every readout of the parameter-RNN state
:math:`h` is :math:`h\cdot0=0`, so :math:`h`, the tensor and global RNN states, and with them every
feature that only enters the RNNs (the gradient products, the relative log mean squares and the
**relative learning rate**) have no effect on the update. What is left, per coordinate:

.. math::

    \beta_0=\begin{cases}0&\text{step 1}\\ \sigma(b_{\rm inp})&\text{later}\end{cases},\
    \beta_{k+1}=\sqrt{\beta_k},\quad m_k\leftarrow(1-\beta_k)g+\beta_km_k,\quad
    \beta_s=\begin{cases}0&\text{step 1}\\ \sigma(b_{\rm scl})&\text{later}\end{cases},

    v_k\leftarrow(1-\beta_s)(m_k^2+10^{-12})+\beta_sv_k,\quad x_k=\operatorname{asinh}\big(m_k/\sqrt{v_k+10^{-16}}\big),\quad
    d=\tfrac14\textstyle\sum_kx_k,\ d\leftarrow d/\sqrt{\mathrm{mean}_{\rm tensor}d^2+10^{-16}},

    \eta_{\rm step}=\mathrm{clip}(\eta+b_{\rm lr},\pm33),\quad \eta\leftarrow\sigma(\ell_m)\eta+(1-\sigma(\ell_m))\eta_{\rm step},\quad
    x\leftarrow x-e^{\eta_{\rm step}+o}\,d,

exactly :func:`..hrnn.step` (the decays used at step t are those read out at step t-1, 0 before the
first step, which also forces :math:`\beta_s=0` there; tests/numerics/test_learned_metatrain.py
checks equality to 1e-12 on random cases including the first step). The initial log learning
rates follow :func:`..hrnn.init_state`'s distribution, :math:`u_j+a`,
:math:`u_j,a\sim U(\log(10^{-6})/2,\log(10^{-2})/2)` per tensor, but from the loop's noise stream
(the member's uniform draws), not from a per-member seed. It costs about 0.1 ms per inner step for
the whole batch instead of 0.3 ms per problem.

**Adapter (b): the per-parameter MLP of Metz et al. (2019)** (:func:`mlp_adapter`), exactly
:func:`..mlp_lopt.step` on one tensor (the problem's d parameters), with a reduced meta-parameter
vector: :math:`\theta=(s,\ W_{\rm last},\ b_{\rm last})`, the last layer (hidden x 2 + 2 numbers)
and a log step scale :math:`s`, ``step_mult`` :math:`=10^{-3}e^{s}`; the hidden layers stay at
their random initialisation. ES over the ~1760 weights of the 19-32-32-2 network is hopeless at a
budget of a few hundred pairs in all; the last layer already sets how the fixed random features map
to a direction and a magnitude, and :math:`s` (a scalar meta-trained first, as it were, since its
ES signal dominates) sets the overall step. The equality to ``mlp_lopt.step`` (with
``step_mult = 1e-3 e^s``) is tested.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_choice, as_int, as_real
from . import hrnn, mlp_lopt
from .es import MetaOptimizer, combine
from .meta_objective import META_EPS
from .tasks import OBJECTIVES, task_rng, unroll_objective

__all__ = [
    "HRNN_THETA_NAMES",
    "MAX_MEMBERS",
    "Adapter",
    "hrnn_zero_theta",
    "hrnn_zero_weights",
    "HRNNZeroState",
    "hrnn_zero_state",
    "hrnn_zero_step",
    "hrnn_zero_adapter",
    "MLPAdapterState",
    "mlp_theta",
    "mlp_step",
    "mlp_adapter",
    "Unroll",
    "take_state",
    "unroll",
    "evaluate",
    "MetaTrainConfig",
    "MetaTrainResult",
    "metatrain",
]

#: The meta-parameters of adapter (a), in this order (fields of :class:`..hrnn.HRNNWeights`).
HRNN_THETA_NAMES = ("b_inp", "b_scl", "b_lr", "offset", "lr_momentum_logit")
#: Largest number of members unrolled together (R x P x 2 x M).
MAX_MEMBERS = 200_000
_LOG_LR_LO = math.log(1e-6) / 2.0
_LOG_LR_HI = math.log(1e-2) / 2.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """As hrnn's (the same formula, so the fast path rounds like the reference)."""
    return 0.5 + 0.5 * np.tanh(0.5 * np.asarray(z, dtype=np.float64))


def _tensor_mean(x: np.ndarray, sizes: tuple) -> np.ndarray:
    """Mean over each tensor's coordinates (axis 1 of x, split by ``sizes``), broadcast back."""
    if len(sizes) == 1:
        return np.mean(x, axis=1, keepdims=True)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    sums = np.add.reduceat(x, starts, axis=1) / np.asarray(sizes, dtype=np.float64).reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.repeat(sums, sizes, axis=1)


@dataclass(frozen=True)
class Adapter:
    """A learned optimizer as the loop sees it (module docstring). ``init(thetas (B, k), x0 (B, D),
    noise (B, noise_dim) uniform in [0, 1)) -> state``; ``step(thetas, state, x, g) -> (x_new,
    state)``."""

    name: str
    theta0: np.ndarray  #: (k,) the meta-parameters at initialisation
    names: tuple  #: a name per meta-parameter (or per block)
    noise_dim: Callable[[int], int]  #: uniform numbers per member for a problem of dimension D
    init: Callable[..., Any]
    step: Callable[..., tuple]


# =============================================================================================
# (a) the hierarchical RNN with zero RNN weights


def hrnn_zero_theta(weights: hrnn.HRNNWeights) -> np.ndarray:
    """(5,) the scalar biases of ``weights`` in the order :data:`HRNN_THETA_NAMES`."""
    return np.array([float(getattr(weights, n)) for n in HRNN_THETA_NAMES])


def hrnn_zero_weights(theta: Any, seed: int = 0) -> hrnn.HRNNWeights:
    """``init_weights(seed, zero_rnn=True)`` with the scalar biases ``theta`` (5,)."""
    th = np.asarray(theta, dtype=np.float64)
    if th.shape != (5,) or not np.all(np.isfinite(th)):
        raise ValidationError("theta", "must be 5 finite numbers (b_inp, b_scl, b_lr, offset, lr_momentum_logit)")
    return dataclasses.replace(hrnn.init_weights(seed, zero_rnn=True), **{n: float(v) for n, v in zip(HRNN_THETA_NAMES, th)})


@result_type
@dataclass(frozen=True)
class HRNNZeroState:
    """The state of adapter (a) for B problems of P coordinates (tensors concatenated)."""

    m: np.ndarray  #: (B, P, 4) momentum accumulators
    v: np.ndarray  #: (B, P, 4) running mean squares
    log_lr: np.ndarray  #: (B, P) stored log learning rates
    input_decay: np.ndarray  #: (B,) beta_0 for the next step (0 before the first)
    scale_decay: np.ndarray  #: (B,) beta_s for the next step (0 before the first)
    sizes: tuple  #: the tensor sizes (sum P)
    step_count: int


def hrnn_zero_state(log_lr: Any, sizes: Sequence[int]) -> HRNNZeroState:
    """The initial state with the given log learning rates (B, P)."""
    lr = np.asarray(log_lr, dtype=np.float64)
    sizes = tuple(int(s) for s in sizes)
    if lr.ndim != 2 or sum(sizes) != lr.shape[1] or min(sizes) < 1:
        raise ValidationError("log_lr", f"must be (B, P) with P = sum(sizes) = {sum(sizes)}")
    B, P = lr.shape
    z = np.zeros((B, P, hrnn.NUM_SCALES))
    return HRNNZeroState(z, z.copy(), lr.copy(), np.zeros(B), np.zeros(B), sizes, 0)


def hrnn_zero_step(thetas: np.ndarray, state: HRNNZeroState, x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, HRNNZeroState, np.ndarray]:
    """One step of adapter (a) (module docstring) for B problems at once: ``(x_new, state,
    update)``, thetas (B, 5), x and g (B, P)."""
    b_inp, b_scl, b_lr, off, lm = (thetas[:, i] for i in range(5))
    s = state
    betas = np.empty(s.m.shape)
    betas[:, :, 0] = s.input_decay[:, None]
    for k in range(1, hrnn.NUM_SCALES):
        betas[:, :, k] = np.sqrt(betas[:, :, k - 1])
    m = (1.0 - betas) * g[:, :, None] + betas * s.m
    bs = s.scale_decay[:, None, None]
    v = (1.0 - bs) * (m * m + hrnn.MS_EPS) + bs * s.v
    xk = np.arcsinh(m / np.sqrt(v + hrnn.SQRT_EPS))
    d = xk @ np.full(hrnn.NUM_SCALES, 0.25)
    d = d / np.sqrt(_tensor_mean(d * d, s.sizes) + hrnn.SQRT_EPS)
    eta = s.log_lr
    eta_step = np.clip(eta + b_lr[:, None], -hrnn.MAX_LOG_LR, hrnn.MAX_LOG_LR)
    lrm = _sigmoid(lm)[:, None]
    eta_new = lrm * eta + (1.0 - lrm) * eta_step
    upd = np.exp(eta_step + off[:, None]) * d
    new = HRNNZeroState(m, v, eta_new, _sigmoid(b_inp), _sigmoid(b_scl), s.sizes, s.step_count + 1)
    return x - upd, new, upd


def hrnn_zero_adapter(sizes: Sequence[int] = (2,), seed: int = 0) -> Adapter:
    """Adapter (a) for problems whose coordinates form tensors of ``sizes`` (module docstring);
    theta0 = the biases of ``init_weights(seed, zero_rnn=True)`` (2.2, 3.2, 0, -1, 3.2)."""
    sizes = tuple(as_int("sizes", s, 1) for s in sizes)
    n_t = len(sizes)

    def init(thetas, x0, noise):
        u = _LOG_LR_LO + (_LOG_LR_HI - _LOG_LR_LO) * noise
        a = np.repeat(u[:, sum(sizes):], sizes, axis=1)
        lr = np.clip(u[:, : sum(sizes)] + a, -hrnn.MAX_LOG_LR, hrnn.MAX_LOG_LR)
        return hrnn_zero_state(lr, sizes)

    def step(thetas, state, x, g):
        xn, st, _ = hrnn_zero_step(thetas, state, x, g)
        return xn, st

    return Adapter("hrnn-zero-rnn", hrnn_zero_theta(hrnn.init_weights(seed, zero_rnn=True)), HRNN_THETA_NAMES,
                   lambda D: D + n_t, init, step)


# =============================================================================================
# (b) the per-parameter MLP, last layer and step scale meta-trained


@result_type
@dataclass(frozen=True)
class MLPAdapterState:
    """The state of adapter (b) for B problems of P parameters (one tensor each)."""

    momenta: np.ndarray  #: (B, P, 6)
    step_count: int


def mlp_theta(weights: mlp_lopt.MLPWeights, log_step_scale: float = 0.0) -> np.ndarray:
    """(1 + 2 hidden + 2,) = (s, W_last row-major, b_last) of ``weights``."""
    W, b = weights.layers[-1]
    return np.concatenate([[float(log_step_scale)], W.ravel(), b])


def mlp_step(weights: mlp_lopt.MLPWeights, thetas: np.ndarray, state: MLPAdapterState, x: np.ndarray, g: np.ndarray, *,
             exp_mult: float = 1e-3) -> tuple[np.ndarray, MLPAdapterState, np.ndarray]:
    """One step of adapter (b) for B one-tensor problems: ``(x_new, state, update)``; the hidden
    layers are those of ``weights``, the last layer and s come from thetas (B, k)."""
    beta = np.asarray(mlp_lopt.DECAYS)
    m = beta * state.momenta + (1.0 - beta) * g[:, :, None]
    z = np.concatenate([g[:, :, None], x[:, :, None], m], axis=2)
    z = z / np.sqrt(mlp_lopt.NORM_EPS + np.mean(z * z, axis=1, keepdims=True))
    tf = np.tanh(state.step_count / np.asarray(mlp_lopt.TIMESCALES) - 1.0)
    nz = z.shape[2]
    # the first layer split into the normalised columns and the time features (the same for every
    # parameter of a step): equal to the stacked product up to rounding
    (W0, b0), rest = weights.layers[0], weights.layers[1:-1]
    h = np.maximum(z @ W0[:nz] + (tf @ W0[nz:] + b0), 0.0)
    for W, b in rest:
        h = np.maximum(h @ W + b, 0.0)
    H = h.shape[2]
    B = thetas.shape[0]
    W_last = thetas[:, 1 : 1 + 2 * H].reshape(B, H, 2)
    b_last = thetas[:, 1 + 2 * H : 3 + 2 * H]
    out = h @ W_last + b_last[:, None, :]
    step_mult = 1e-3 * np.exp(thetas[:, :1])
    upd = out[:, :, 0] * np.exp(out[:, :, 1] * exp_mult) * step_mult
    return x - upd, MLPAdapterState(m, state.step_count + 1), upd


def mlp_adapter(seed: int = 0, hidden: tuple = (32, 32), log_step_scale: float = 0.0) -> Adapter:
    """Adapter (b) (module docstring): ``mlp_lopt.init_weights(seed, hidden)``, theta0 = (s0, its
    last layer)."""
    w = mlp_lopt.init_weights(seed, hidden=hidden)
    s0 = as_real("log_step_scale", log_step_scale, -20.0, 20.0)

    def init(thetas, x0, noise):
        return MLPAdapterState(np.zeros(x0.shape + (len(mlp_lopt.DECAYS),)), 0)

    def step(thetas, state, x, g):
        xn, st, _ = mlp_step(w, thetas, state, x, g)
        return xn, st

    H = w.layers[-1][0].shape[0]
    return Adapter(f"mlp-last-layer-{'x'.join(map(str, hidden))}", mlp_theta(w, s0),
                   ("log_step_scale",) + (f"W_last[{H}x2]",) * (2 * H) + ("b_last[2]",) * 2,
                   lambda D: 0, init, step)


# =============================================================================================
# unrolls


@result_type
@dataclass(frozen=True)
class Unroll:
    """B unrolls of T steps."""

    train_losses: np.ndarray  #: (B, T + 1) training loss at x_0..x_T
    valid_losses: np.ndarray | None  #: (B, T + 1) validation loss, or None without validation sets
    final: np.ndarray  #: (B, D) x_T
    frozen: np.ndarray  #: (B,) bool: the unroll was frozen (norm >= radius, or a non-finite step)
    state: Any = None  #: the adapter state after the last step (with ``final``, a ``start`` to continue from)


def take_state(state: Any, idx: Any) -> Any:
    """An adapter state (a dataclass such as :class:`HRNNZeroState` or :class:`MLPAdapterState`)
    with every numpy-array field indexed by ``idx`` along its leading (batch) axis; the other fields
    (tensor sizes, the shared step count) are kept. ``idx`` may repeat members (replication)."""
    idx = np.asarray(idx)
    kw = {}
    for f in dataclasses.fields(state):
        v = getattr(state, f.name)
        kw[f.name] = v[idx] if isinstance(v, np.ndarray) else v
    return type(state)(**kw)


@returns(Unroll)
def unroll(adapter: Adapter, thetas: np.ndarray, tasks: Any, noise: np.ndarray | None, T: int, radius: float | None = None,
           start: tuple | None = None) -> Unroll:
    """Unroll ``adapter`` with one meta-parameter vector per task (thetas (B, k)) for T steps on
    ``tasks`` (B tasks of :mod:`.tasks`) from their x0. ``noise``: (B, noise_dim) uniform numbers
    for the adapter's initial state (None: zeros). Truncation (Wang et al. 2021 §2.3 [paper]): once
    ||x|| >= ``radius`` (or a step is not finite) the iterate stays where it was last finite (the
    paper freezes it at radius times a random unit vector; freezing in place keeps the loss large
    and the unroll deterministic).

    ``start``: ``(x, state)`` or ``(x, state, frozen)``, continue from the iterate x (B, D) and
    adapter state (B members, e.g. ``final`` and ``state`` of an earlier :class:`Unroll`, or
    :func:`take_state` of one) instead of x0 and a fresh state (``noise`` is then unused); members
    flagged ``frozen`` stay frozen. Unrolling T1 steps and then T2 from the returned
    ``(final, state, frozen)`` gives bit for bit the iterates and losses of one unroll of T1 + T2."""
    T = as_int("T", T, 1, 10**5)
    B, D = tasks.size, tasks.dim
    thetas = np.asarray(thetas, dtype=np.float64)
    if thetas.shape != (B, adapter.theta0.size):
        raise ValidationError("thetas", f"must be ({B}, {adapter.theta0.size}) (got {thetas.shape})")
    frozen = np.zeros(B, dtype=bool)
    if start is None:
        if noise is None:
            noise = np.zeros((B, adapter.noise_dim(D)))
        x = tasks.x0.copy()
        state = adapter.init(thetas, x, noise)
    else:
        if not isinstance(start, tuple) or len(start) not in (2, 3):
            raise ValidationError("start", "must be (x, state) or (x, state, frozen)")
        x = np.array(start[0], dtype=np.float64)
        state = start[1]
        if x.shape != (B, D):
            raise ValidationError("start", f"x must be ({B}, {D}) (got {x.shape})")
        if len(start) == 3:
            fz = np.asarray(start[2], dtype=bool)
            if fz.shape != (B,):
                raise ValidationError("start", f"frozen must be ({B},) (got {fz.shape})")
            frozen = fz.copy()
    train = np.empty((B, T + 1))
    valid = np.empty((B, T + 1)) if tasks.has_validation else None
    with np.errstate(over="ignore", invalid="ignore"):
        loss, vloss, g = tasks.evaluate(x)
        train[:, 0] = loss
        if valid is not None:
            valid[:, 0] = vloss
        for t in range(T):
            xn, state = adapter.step(thetas, state, x, g)
            bad = ~np.all(np.isfinite(xn), axis=1)
            if radius is not None:
                bad |= np.einsum("bd,bd->b", xn, xn) >= radius * radius
            if bad.any():
                frozen |= bad
                x = np.where(frozen[:, None], x, xn)
            elif frozen.any():
                x = np.where(frozen[:, None], x, xn)
            else:
                x = xn
            loss, vloss, g = tasks.evaluate(x)
            train[:, t + 1] = loss
            if valid is not None:
                valid[:, t + 1] = vloss
    return Unroll(train, valid, x, frozen, state)


def _metric(kind: str, run: Unroll, tasks: Any) -> np.ndarray:
    if kind == "test_error":
        return tasks.test_error(run.final)
    if kind == "final_loss":
        return run.train_losses[:, -1]
    return unroll_objective(kind, run.train_losses, run.valid_losses)


def evaluate(adapter: Adapter, thetas: Any, tasks: Any, T: int, metric: str = "log", noise_seed: int = 0,
             radius: float | None = None) -> np.ndarray:
    """(R, B) ``metric`` of each meta-parameter vector thetas (R, k) on every task of ``tasks`` (B):
    an objective of :data:`..tasks.OBJECTIVES`, ``"test_error"`` (||x_T - w*||^2) or
    ``"final_loss"``. The inner noise comes from ``task_rng(noise_seed, 2)``, the same for every
    theta (common random numbers across the R vectors)."""
    metric = as_choice("metric", metric, OBJECTIVES + ("test_error", "final_loss"))
    th = np.atleast_2d(np.asarray(thetas, dtype=np.float64))
    R, B = th.shape[0], tasks.size
    noise = task_rng(noise_seed, 2).random((B, adapter.noise_dim(tasks.dim)))
    idx = np.tile(np.arange(B), R)
    big = tasks.take(idx)
    run = unroll(adapter, np.repeat(th, B, axis=0), big, np.tile(noise, (R, 1)), T, radius)
    return _metric(metric, run, big).reshape(R, B)


# =============================================================================================
# the loop


@dataclass(frozen=True)
class MetaTrainConfig:
    """Sizes and settings of :func:`metatrain` (all counts)."""

    meta_steps: int = 200
    pairs: int = 8  #: P antithetic pairs per meta-step and run
    tasks_per_pair: int = 4  #: M tasks shared by the + and - member of a pair
    unroll: int = 100  #: T inner steps
    sigma: float = 0.1  #: ES perturbation scale
    optimizer: str = "adam"
    lr: float = 0.05
    clip: float = 1e4
    eval_every: int = 20  #: held-out evaluation every so many meta-steps (and at 0 and the end)
    radius: float | None = None  #: truncation radius of the unrolls (None: none)
    direction: float = 1.0  #: +1 descends the meta-objective; -1 ascends it (negative controls only)
    truncation: int | None = None  #: K: truncated ES, windows of K steps of episodes of ``unroll`` (biased; module docstring); None: full unrolls

    def __post_init__(self) -> None:
        as_int("meta_steps", self.meta_steps, 1, 100_000)
        as_int("pairs", self.pairs, 2, 100_000)
        as_int("tasks_per_pair", self.tasks_per_pair, 1, 100_000)
        as_int("unroll", self.unroll, 1, 100_000)
        as_real("sigma", self.sigma, 0.0, lo_open=True)
        as_choice("optimizer", self.optimizer, ("adam", "rmsprop"))
        as_int("eval_every", self.eval_every, 1)
        if self.direction not in (1.0, -1.0):
            raise ValidationError("direction", f"must be 1 (descent) or -1 (ascent, a negative control) (got {self.direction!r})")
        if self.truncation is not None:
            as_int("truncation", self.truncation, 1, as_int("unroll", self.unroll, 1, 100_000))


@result_type
@dataclass(frozen=True)
class MetaTrainResult:
    """R meta-training runs in lockstep."""

    thetas: np.ndarray  #: (R, K + 1, k) the meta-parameters before each meta-step and at the end
    objective: np.ndarray  #: (R, K) the antithetic mean (L+ + L-)/2 over the pairs: the smoothed objective on the draws (truncated: on the window)
    es_variance: np.ndarray  #: (R, K) the ES estimate's variance, summed over coordinates
    grad_norm: np.ndarray  #: (R, K) the norm of the (unclipped) ES estimate
    checkpoints: np.ndarray  #: (C,) the meta-steps of the held-out evaluations
    heldout: np.ndarray  #: (R, C) the mean held-out metric at each checkpoint
    heldout_final: np.ndarray  #: (R, B_held) the held-out metric per task after the last meta-step
    heldout_initial: np.ndarray  #: (R, B_held) the held-out metric per task at theta0


@returns(MetaTrainResult)
def metatrain(adapter: Adapter, sample: Callable[[int, int, int], Any], objectives: Sequence[str], seeds: Sequence[int],
              config: MetaTrainConfig, heldout: Callable[[int], Any], heldout_metric: Sequence[str],
              heldout_seed: int = 10**6) -> MetaTrainResult:
    r"""Meta-train R = len(seeds) runs of ``adapter`` from its theta0, in lockstep (module docstring).

    - ``sample(r, meta_step, count)``: the ``count`` training tasks of run r at that meta-step
      (draw them from ``task_rng(seeds[r], 0, meta_step)``; runs with the same seed may share
      them, e.g. TbT and TbV views of one draw);
    - ``objectives[r]``: run r's meta-objective (``"log"``, ``"tbt"``, ``"tbv"``);
    - ``heldout(r)``: run r's fixed held-out tasks, and ``heldout_metric[r]`` what is measured on
      them (an objective, ``"test_error"`` or ``"final_loss"``), with inner noise from
      ``heldout_seed``.

    Per meta-step and run: P directions from ``task_rng(seeds[r], 1, meta_step)``, inner noise from
    ``task_rng(seeds[r], 3, meta_step)``; a diverged member (non-finite objective) costs the largest
    finite loss of the meta-step (and is reported through the variance).

    With ``config.truncation`` = K (module docstring), ``sample(r, episode, M)`` is called once per
    inner episode of T steps (``episode`` counts episodes, not meta-steps) and the inner noise of an
    episode comes from ``task_rng(seeds[r], 3, episode)``; the directions are drawn as above.
    """
    cfg = config
    R = len(seeds)
    if R < 1 or len(objectives) != R or len(heldout_metric) != R:
        raise ValidationError("seeds", "need one objective and one held-out metric per seed (run)")
    for o in objectives:
        as_choice("objectives", o, OBJECTIVES)
    P, M, T, k = cfg.pairs, cfg.tasks_per_pair, cfg.unroll, adapter.theta0.size
    if R * P * 2 * M > MAX_MEMBERS:
        raise ValidationError("pairs", f"runs x pairs x 2 x tasks_per_pair must be at most {MAX_MEMBERS}")
    opt = MetaOptimizer(cfg.optimizer, cfg.lr, cfg.clip)
    theta = np.tile(adapter.theta0, (R, 1))
    held = [heldout(r) for r in range(R)]
    checkpoints = sorted(set(range(0, cfg.meta_steps, cfg.eval_every)) | {cfg.meta_steps})

    sizes = [h.size for h in held]
    held_all = _concat(held)
    held_noise = np.concatenate([task_rng(heldout_seed, 2).random((n, adapter.noise_dim(held_all.dim))) for n in sizes])
    bounds = np.concatenate([[0], np.cumsum(sizes)])

    def held_eval(th: np.ndarray) -> list[np.ndarray]:
        """Every run's theta on its own held-out tasks, in one batch (as :func:`evaluate`)."""
        run = unroll(adapter, np.repeat(th, sizes, axis=0), held_all, held_noise, T, cfg.radius)
        out = []
        for r in range(R):
            sl = slice(bounds[r], bounds[r + 1])
            part = Unroll(run.train_losses[sl], None if run.valid_losses is None else run.valid_losses[sl], run.final[sl], run.frozen[sl])
            out.append(_metric(heldout_metric[r], part, held[r]))
        return out

    thetas, obj, var, gn, held_curve = [theta.copy()], [], [], [], []
    first = held_eval(theta)
    last = first
    K = cfg.truncation
    # truncated ES: the inner episode of every run, R x M members ordered (r, m), all at inner step t_in
    episode, t_in = 0, 0
    ep_tasks = ep_x = ep_state = ep_frozen = ep_f0 = None
    # member (r, sign, p, m) of a meta-step starts from episode member (r, m)
    rep_idx = np.broadcast_to(np.arange(R)[:, None, None, None] * M + np.arange(M), (R, 2, P, M)).reshape(-1)
    for step in range(cfg.meta_steps):
        if step in checkpoints:
            last = first if step == 0 else held_eval(theta)
            held_curve.append([float(np.mean(h)) for h in last])
        e = np.stack([task_rng(int(s), 1, step).standard_normal((P, k)) for s in seeds])  # (R, P, k)
        # members ordered (r, sign, p, m)
        th_m = theta[:, None, None, None, :] + cfg.sigma * np.array([1.0, -1.0])[None, :, None, None, None] * e[:, None, :, None, :]
        th_m = np.broadcast_to(th_m, (R, 2, P, M, k)).reshape(-1, k)
        L = np.empty(R * 2 * P * M)
        per = 2 * P * M
        if K is None:
            batches = [sample(r, step, P * M) for r in range(R)]
            D = batches[0].dim
            noise = np.stack([task_rng(int(s), 3, step).random((P, M, adapter.noise_dim(D))) for s in seeds])  # (R, P, M, nd)
            tasks = _concat([b.take(np.tile(np.arange(P * M), 2)) for b in batches])
            nz = np.broadcast_to(noise[:, None], (R, 2, P, M, noise.shape[-1])).reshape(R * 2 * P * M, -1)
            run = unroll(adapter, th_m, tasks, nz, T, cfg.radius)
            f0 = None
        else:
            if t_in == 0:  # a new episode: M fresh tasks per run, fresh adapter states
                ep_tasks = _concat([sample(r, episode, M) for r in range(R)])
                nd = adapter.noise_dim(ep_tasks.dim)
                ep_noise = np.concatenate([task_rng(int(s), 3, episode).random((M, nd)) for s in seeds])  # (R M, nd)
                ep_x = ep_tasks.x0.copy()
                ep_state = adapter.init(np.repeat(theta, M, axis=0), ep_x, ep_noise)
                ep_frozen = np.zeros(R * M, dtype=bool)
                ep_f0 = ep_tasks.evaluate(ep_x)[0]
            W = min(K, T - t_in)
            run = unroll(adapter, th_m, ep_tasks.take(rep_idx), None, W, cfg.radius,
                         start=(ep_x[rep_idx], take_state(ep_state, rep_idx), ep_frozen[rep_idx]))
            f0 = ep_f0[rep_idx]
            # advance the episode by the window with this meta-step's unperturbed theta
            adv = unroll(adapter, np.repeat(theta, M, axis=0), ep_tasks, None, W, cfg.radius, start=(ep_x, ep_state, ep_frozen))
            ep_x, ep_state, ep_frozen = adv.final, adv.state, adv.frozen
            t_in += W
            if t_in == T:
                episode, t_in = episode + 1, 0
        for r in range(R):
            sl = slice(r * per, (r + 1) * per)
            tr = run.train_losses[sl]
            va = None if run.valid_losses is None else run.valid_losses[sl]
            L[sl] = unroll_objective(objectives[r], tr, va) if f0 is None else _window_objective(objectives[r], tr, va, f0[sl])
        L = L.reshape(R, 2, P, M)
        finite = np.isfinite(L)
        if not finite.all():
            L = np.where(finite, L, np.max(L[finite]) if finite.any() else 0.0)
        L = L.mean(axis=3)
        est = combine(e, L[:, 0], L[:, 1], cfg.sigma)
        obj.append(est.smoothed_loss)
        var.append(est.total_variance)
        gn.append(np.linalg.norm(est.gradient, axis=1))
        theta = opt.update(theta, cfg.direction * est.gradient)
        thetas.append(theta.copy())
    last = held_eval(theta)
    held_curve.append([float(np.mean(h)) for h in last])
    return MetaTrainResult(np.stack(thetas, axis=1), np.stack(obj, axis=1), np.stack(var, axis=1), np.stack(gn, axis=1),
                           np.asarray(checkpoints), np.asarray(held_curve).T, np.stack(last), np.stack(first))


def _window_objective(kind: str, train: np.ndarray, valid: np.ndarray | None, f0: np.ndarray) -> np.ndarray:
    """The meta-objective of a window (losses f_t..f_{t+W} of each row) of an episode whose losses
    start at ``f0`` (B,): ``"log"`` as :func:`..meta_objective.log_meta_objective` of one partial
    unroll (terms f_t, f_t, f_{t+1}, .., f_{t+W-1} over f0; :func:`..tasks.unroll_objective`'s
    formula, equal to it bit for bit when f0 = f_t); ``"tbt"``/``"tbv"`` the mean over steps
    t+1..t+W."""
    if kind != "log":
        return unroll_objective(kind, train, valid)
    used = np.concatenate([train[:, :1], train[:, :-1]], axis=1)
    return np.mean(np.log(used / (f0[:, None] + META_EPS) + META_EPS), axis=1)


def _concat(batches: list) -> Any:
    """One task batch of several of the same type (arrays concatenated along the batch axis)."""
    first = batches[0]
    if len(batches) == 1:
        return first
    kw = {}
    for f in dataclasses.fields(first):
        vals = [getattr(b, f.name) for b in batches]
        kw[f.name] = np.concatenate(vals) if isinstance(vals[0], np.ndarray) else vals[0]
    return type(first)(**kw)
