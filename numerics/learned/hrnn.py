r"""The hierarchical RNN optimizer of Wichrowska et al. (2017): its feature and update pipeline, in
numpy, with random (not meta-trained) weights.

Source: Wichrowska, Maheswaranathan, Hoffman, Gómez Colmenarejo, Denil, de Freitas &
Sohl-Dickstein (2017), "Learned Optimizers that Scale and Generalize", released code
(hierarchical_rnn.py, rnn_cells.py, utils.py), with the defaults of its metarun.py: 4 gradient
scales, log mean squares, relative learning rate against the problem-wide mean, gradient products,
gradient shortcut, learnable decays, dynamic output scale; attention off. Hidden sizes 10 / 20 / 20
(parameter / tensor / global), as in the code's ``HRNN_CELL_SIZES`` ([code]; a third-party
summary gives 20 -> 30 for the tensor level, [unconfirmed]). Float64 throughout (the code runs in
float32).

One step, per tensor with flattened gradient :math:`g` (all operations per coordinate):

.. math::

    \beta_{k+1}=\sqrt{\beta_k}\ (k=0,1,2),\qquad m_k\leftarrow(1-\beta_k)\,g+\beta_k\,m_k,

    v_k\leftarrow(1-\beta_s)(m_k^2+10^{-12})+\beta_s\,v_k\quad(\beta_s:=0\ \text{while every } v_k \text{ of the tensor is } 0),

    x_k=\operatorname{asinh}\big(m_k/\sqrt{v_k+10^{-16}}\big),\qquad
    r_k=\log(v_k+10^{-16})-\tfrac14\textstyle\sum_j\log(v_j+10^{-16}),

    \text{features}=[x_0..x_3,\ x_0x_1,\,x_1x_2,\,x_2x_3,\ r_0..r_3,\ \eta_i-\bar\eta]\ (12),
    \quad \bar\eta=\text{mean of every log learning rate of the problem}.

The parameter GRU (hidden 10, weights shared by all coordinates) consumes the features, its gates
and candidate biased by an affine map of the tensor state plus one of the global state; then, from
the **new** parameter state :math:`h`:

.. math::

    d=h\,w_{\rm upd}+x\,w_{\rm sc},\quad d\leftarrow d/\sqrt{\mathrm{mean}_{\rm tensor}(d^2)+10^{-16}},

    \Delta\eta=h\,w_{\rm lr}+b_{\rm lr},\quad \eta_{\rm step}=\mathrm{clip}(\eta+\Delta\eta,-33,33),\quad
    \eta\leftarrow\sigma(\ell_m)\,\eta+(1-\sigma(\ell_m))\,\eta_{\rm step},

    \theta\leftarrow\theta-\exp(\eta_{\rm step}+o)\,d,\qquad
    \beta_0^{\rm next}=\sigma(h\,w_{\rm inp}+b_{\rm inp}),\quad\beta_s^{\rm next}=\sigma(h\,w_{\rm scl}+b_{\rm scl}).

The tensor GRU (hidden 20) consumes the tensor mean of [new parameter state, features] (22
numbers), biased by an affine map of the global state; the global GRU (hidden 20, no bias input)
consumes the mean of the new tensor states, after every tensor has been updated.

Ordering choices (where the paper's digest is open; all taken from the released code):

- The parameter RNN consumes the features **before** the readouts: direction, learning-rate change
  and decays are read out of the new state.
- The decays :math:`\beta_0,\beta_s` used at step :math:`t` are the readouts of step
  :math:`t-1`, stored in the state; before the first step they are 0 (the code's zero-initialised
  ``inp_decay`` / ``scl_decay`` slots). So on step 1, :math:`m_k=g` and :math:`v_k=g^2+10^{-12}`
  (the "decay forced to 0 on the first step" of the code's ``new_mean_squared``, which tests
  whether the whole previous :math:`v_k` of the tensor is 0).
- The relative learning rate uses the stored log learning rates before this step's update, and
  the problem-wide mean is taken once per step, before any tensor is processed.
- The global RNN input: the mean over **all** tensors' new states, as the digest describes. (The
  released code passes only the last tensor's state, ``[layer_state]`` after its loop; that looks
  like an accident and is not copied.)
- Initial log learning rates: per coordinate :math:`U(\log(10^{-6})/2,\log(10^{-2})/2)` plus one
  offset from the same range shared by the coordinates of a tensor (the code draws one offset per
  variable), clipped to [-33, 33].
- Weight initialisation (code flags): GRU matrices and the bias affines :math:`N(0,(s/\sqrt{\rm
  fan\_in})^2)` with :math:`s=0.5`, GRU gate biases 2.2, candidate and affine biases 0; readouts
  :math:`w_{\rm upd},w_{\rm scl},w_{\rm inp}` :math:`N(0,(s/\sqrt{10})^2)`; :math:`w_{\rm lr}=0`
  (``zero_init_lr_weights``); shortcut :math:`N(1/4,(0.1/\sqrt4)^2)`; :math:`b_{\rm inp}=2.2`,
  :math:`b_{\rm scl}=3.2`, :math:`b_{\rm lr}=0`, :math:`\ell_m=3.2`, :math:`o=-1`; initial RNN
  states :math:`U(-1,1)`.

Assumptions: gradients are finite; nothing here is meta-trained (C1-C5 of the digest are properties
of the architecture and hold for any weights).

Example (first step on one tensor: every scaled gradient is :math:`\pm\operatorname{asinh}(1)`)::

    >>> w = init_weights(0)
    >>> s = init_state(w, [(3,)], seed=1)
    >>> p, s2, info = step(w, s, [np.zeros(3)], [np.array([1.0, -2.0, 0.5])])
    >>> np.round(info.scaled_grads[0][:, 0], 6).tolist()
    [0.881374, -0.881374, 0.881374]
    >>> round(float(np.sqrt(np.mean(info.direction[0] ** 2))), 12), s2.step_count
    (1.0, 1)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_instance, as_int, as_real, as_real_vector, as_tensor_list, as_tensor_shapes, oracle_gradients_finite

__all__ = [
    "PARAM_HIDDEN",
    "TENSOR_HIDDEN",
    "GLOBAL_HIDDEN",
    "NUM_SCALES",
    "NUM_FEATURES",
    "MAX_LOG_LR",
    "MAX_TENSORS",
    "MAX_PARAMETERS",
    "MAX_RUN_STEPS",
    "MAX_RUN_WORK",
    "GRUWeights",
    "Affine",
    "HRNNWeights",
    "HRNNState",
    "HRNNStepInfo",
    "HRNNRun",
    "init_weights",
    "init_state",
    "step",
    "shift_log_lrs",
    "run",
    "timescale",
]

#: Hidden size of the per-parameter GRU (code and paper).
PARAM_HIDDEN = 10
#: Hidden size of the per-tensor GRU (code: ``HRNN_CELL_SIZES = [10, 20, 20]``).
TENSOR_HIDDEN = 20
#: Hidden size of the global GRU.
GLOBAL_HIDDEN = 20
#: Number of gradient timescales (momentum accumulators) per parameter.
NUM_SCALES = 4
#: Per-parameter features: 4 scaled gradients, 3 products, 4 relative log mean squares, 1 relative lr.
NUM_FEATURES = 3 * NUM_SCALES
#: Forward clip of the step's log learning rate (the code's ``max_log_lr`` and its lower bound -33).
MAX_LOG_LR = 33.0
#: Largest number of tensors of one problem.
MAX_TENSORS = 1000
#: Largest total number of parameters of one problem (each costs about 0.5 kB of state).
MAX_PARAMETERS = 10**6
#: Largest number of steps of :func:`run`.
MAX_RUN_STEPS = 10**5
#: Largest steps x parameters of :func:`run` (its trajectory array holds that many float64).
MAX_RUN_WORK = 10**7
#: Epsilon added to m_k^2 in the mean square (code: ``new_mean_squared``).
MS_EPS = 1e-12
#: Epsilon under the square roots and logs (code: ``rms_scaling``, log means squared, direction).
SQRT_EPS = 1e-16
#: Largest |delta| of :func:`shift_log_lrs`: beyond it every step's log learning rate is clipped.
MAX_SHIFT = 2 * MAX_LOG_LR

_LOG_LR_LO = math.log(1e-6) / 2.0
_LOG_LR_HI = math.log(1e-2) / 2.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) without overflow for any finite z (tanh form: accurate to ~1 ulp absolute)."""
    return 0.5 + 0.5 * np.tanh(0.5 * np.asarray(z, dtype=np.float64))


def timescale(beta: Any) -> np.ndarray:
    r"""The averaging timescale :math:`\tau(\beta)=1/(1-\beta)` of a decay :math:`\beta\in[0,1)`.

    [derived] :math:`\tau(\sqrt\beta)/\tau(\beta)=1+\sqrt\beta`, since
    :math:`1-\beta=(1-\sqrt\beta)(1+\sqrt\beta)`.

    >>> b = 1 / (1 + math.exp(-2.2))
    >>> np.round(timescale([b, b ** 0.5, b ** 0.25, b ** 0.125]), 2).tolist()
    [10.03, 19.54, 38.57, 76.63]
    """
    try:
        flat = np.ravel(beta)
    except ValueError:
        raise ValidationError("beta", "must be a number or a rectangular array of numbers") from None
    b = as_real_vector("beta", flat)
    if ((b < 0) | (b >= 1)).any():
        i = int(np.argmax((b < 0) | (b >= 1)))
        raise ValidationError("beta", f"every entry must lie in [0, 1) (entry {i} is {float(b[i])!r})")
    return 1.0 / (1.0 - b)


# ---------------------------------------------------------------------------------------------
# weights


@result_type
@dataclass(frozen=True)
class GRUWeights:
    """One BiasGRUCell (code: rnn_cells.py): ``r, u = sigmoid([x, h] W_g + b_g + (bias_r, bias_u))``,
    ``c = tanh([x, r h] W_c + b_c + bias_c)``, ``h' = u h + (1 - u) c``."""

    gate_matrix: np.ndarray  #: (inputs + hidden, 2 hidden): reset then update gate
    gate_bias: np.ndarray  #: (2 hidden,), initialised at 2.2
    candidate_matrix: np.ndarray  #: (inputs + hidden, hidden)
    candidate_bias: np.ndarray  #: (hidden,), initialised at 0

    def __call__(self, x: np.ndarray, h: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        n = h.shape[-1]
        extra = np.zeros(3 * n) if bias is None else bias
        gates = np.concatenate([x, h], axis=-1) @ self.gate_matrix + self.gate_bias
        r = _sigmoid(gates[..., :n] + extra[..., :n])
        u = _sigmoid(gates[..., n:] + extra[..., n : 2 * n])
        c = np.tanh(np.concatenate([x, r * h], axis=-1) @ self.candidate_matrix + self.candidate_bias + extra[..., 2 * n :])
        return u * h + (1.0 - u) * c


@result_type
@dataclass(frozen=True)
class Affine:
    """``y = x M + b`` (code: ``utils.affine``; M drawn N(0, (0.5 / sqrt(fan_in))^2), b = 0)."""

    matrix: np.ndarray  #: (inputs, outputs)
    bias: np.ndarray  #: (outputs,)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.matrix + self.bias


@result_type
@dataclass(frozen=True)
class HRNNWeights:
    """All weights of the hierarchical RNN optimizer (module docstring). Build with
    :func:`init_weights`; change single values with :func:`dataclasses.replace`."""

    param_rnn: GRUWeights  #: parameter-level GRU: 12 features -> hidden 10
    tensor_rnn: GRUWeights  #: tensor-level GRU: 22 inputs (mean of [h, features]) -> hidden 20
    global_rnn: GRUWeights  #: global GRU: 20 inputs (mean tensor state) -> hidden 20
    param_bias_from_tensor: Affine  #: tensor state (20) -> additive gate/candidate bias (30) of the parameter GRU
    param_bias_from_global: Affine  #: global state (20) -> additive bias (30) of the parameter GRU
    tensor_bias_from_global: Affine  #: global state (20) -> additive bias (60) of the tensor GRU
    w_upd: np.ndarray  #: (10,) direction readout
    w_shortcut: np.ndarray  #: (4,) gradient shortcut: affine map of the scaled gradients x_k, mean 1/4
    w_inp: np.ndarray  #: (10,) input-decay readout
    w_scl: np.ndarray  #: (10,) scale-decay readout
    w_lr: np.ndarray  #: (10,) log-learning-rate-change readout (code default: zeros)
    b_inp: float  #: input-decay bias (2.2: beta_0 = sigmoid(2.2) = 0.9002)
    b_scl: float  #: scale-decay bias (3.2: beta_s = 0.9608)
    b_lr: float  #: log-learning-rate-change bias (0)
    lr_momentum_logit: float  #: l_m (3.2: the stored log lr keeps sigmoid(3.2) = 96% of its value)
    offset: float  #: o, the step-size offset (-1): step = exp(eta_step + o) d
    init_param_state: np.ndarray  #: (10,) learned initial parameter-RNN state, U(-1, 1)
    init_tensor_state: np.ndarray  #: (20,) learned initial tensor-RNN state
    init_global_state: np.ndarray  #: (20,) learned initial global-RNN state
    seed: int  #: the seed the weights were drawn from


def _gru(rng: np.random.Generator, n_in: int, n_hidden: int, scale: float, zero: bool) -> GRUWeights:
    fan = n_in + n_hidden
    sd = scale / math.sqrt(fan)
    gm = rng.normal(0.0, sd, (fan, 2 * n_hidden))
    cm = rng.normal(0.0, sd, (fan, n_hidden))
    if zero:
        gm, cm = np.zeros_like(gm), np.zeros_like(cm)
    return GRUWeights(gm, np.full(2 * n_hidden, 2.2), cm, np.zeros(n_hidden))


def _affine(rng: np.random.Generator, n_in: int, n_out: int, scale: float, zero: bool) -> Affine:
    m = rng.normal(0.0, scale / math.sqrt(n_in), (n_in, n_out))
    return Affine(np.zeros_like(m) if zero else m, np.zeros(n_out))


def init_weights(seed: int = 0, scale: float = 0.5, *, zero_rnn: bool = False, zero_lr_weights: bool = True) -> HRNNWeights:
    r"""Random weights at the code's initialisation (module docstring), drawn from ``default_rng(seed)``.

    - ``scale``: the code's three initialisation scales (``biasgrucell_scale``,
      ``hrnn_rnn_readout_scale``, ``hrnn_affine_scale``; all 0.5): the standard deviation of every
      GRU, bias-affine and readout weight is ``scale / sqrt(fan_in)``. Allowed: [0, 10].
    - ``zero_rnn``: every GRU matrix, bias affine and readout weight is 0 and the shortcut weights
      are exactly 1/4 (their mean): only the scalar biases b_inp, b_scl, b_lr, l_m and o matter, and
      the direction is the mean of the scaled gradients x_k, normalised.
    - ``zero_lr_weights``: w_lr = 0 (the code's default ``zero_init_lr_weights``); False draws it
      like the other readouts.

    The draws happen in a fixed order (GRUs, affines, readouts, shortcut, initial states), so a seed
    gives the same weights whatever the flags (zeroing replaces values after drawing).

    >>> w = init_weights(0, zero_rnn=True)
    >>> float(np.abs(w.param_rnn.gate_matrix).max()), w.w_shortcut.tolist(), w.b_inp, w.offset
    (0.0, [0.25, 0.25, 0.25, 0.25], 2.2, -1.0)
    """
    seed = as_int("seed", seed, 0)
    scale = as_real("scale", scale, 0.0, 10.0)
    rng = np.random.default_rng(seed)
    z = bool(zero_rnn)
    param_rnn = _gru(rng, NUM_FEATURES, PARAM_HIDDEN, scale, z)
    tensor_rnn = _gru(rng, PARAM_HIDDEN + NUM_FEATURES, TENSOR_HIDDEN, scale, z)
    global_rnn = _gru(rng, TENSOR_HIDDEN, GLOBAL_HIDDEN, scale, z)
    a_pt = _affine(rng, TENSOR_HIDDEN, 3 * PARAM_HIDDEN, scale, z)
    a_pg = _affine(rng, GLOBAL_HIDDEN, 3 * PARAM_HIDDEN, scale, z)
    a_tg = _affine(rng, GLOBAL_HIDDEN, 3 * TENSOR_HIDDEN, scale, z)
    sd = scale / math.sqrt(PARAM_HIDDEN)
    readouts = {name: rng.normal(0.0, sd, PARAM_HIDDEN) for name in ("w_upd", "w_scl", "w_inp", "w_lr")}
    shortcut = rng.normal(1.0 / NUM_SCALES, 0.1 / math.sqrt(NUM_SCALES), NUM_SCALES)
    inits = [rng.uniform(-1.0, 1.0, n) for n in (PARAM_HIDDEN, TENSOR_HIDDEN, GLOBAL_HIDDEN)]
    if z:
        readouts = {k: np.zeros(PARAM_HIDDEN) for k in readouts}
        shortcut = np.full(NUM_SCALES, 1.0 / NUM_SCALES)
    if zero_lr_weights:
        readouts["w_lr"] = np.zeros(PARAM_HIDDEN)
    return HRNNWeights(
        param_rnn, tensor_rnn, global_rnn, a_pt, a_pg, a_tg,
        readouts["w_upd"], shortcut, readouts["w_inp"], readouts["w_scl"], readouts["w_lr"],
        b_inp=2.2, b_scl=3.2, b_lr=0.0, lr_momentum_logit=3.2, offset=-1.0,
        init_param_state=inits[0], init_tensor_state=inits[1], init_global_state=inits[2], seed=seed,
    )


# ---------------------------------------------------------------------------------------------
# state


@result_type
@dataclass(frozen=True)
class HRNNState:
    """The optimizer's state for one problem (one entry per tensor in each tuple; arrays flattened
    over the tensor's coordinates, n = its number of entries)."""

    shapes: tuple  #: the tensors' shapes
    param_rnn: tuple  #: (n, 10) parameter-RNN states
    tensor_rnn: tuple  #: (20,) tensor-RNN states
    global_rnn: np.ndarray  #: (20,) global-RNN state
    m: tuple  #: (n, 4) momentum accumulators m_k
    v: tuple  #: (n, 4) running mean squares v_k
    log_lr: tuple  #: (n,) stored log learning rates eta
    input_decay: tuple  #: (n,) beta_0 to use at the next step (0 before the first step)
    scale_decay: tuple  #: (n,) beta_s to use at the next step (0 before the first step)
    step_count: int  #: number of steps taken


def init_state(weights: HRNNWeights, shapes: Any, seed: int = 0) -> HRNNState:
    r"""The initial state for tensors of the given ``shapes`` (a list of tuples; an int is a 1-D size).

    RNN states start at the weights' learned initial vectors (drawn from the weights' seed);
    accumulators, mean squares and decays at 0; the log learning rates of tensor i are
    :math:`u_{ij}+a_i`, :math:`u_{ij},a_i\sim U(\log(10^{-6})/2,\log(10^{-2})/2)` from
    ``default_rng(seed)`` (tensor by tensor: the n coordinates, then the offset), so they lie in
    :math:`[\log10^{-6},\log10^{-2}]=[-13.8,-4.6]`.

    >>> s = init_state(init_weights(0), [(2, 3), 4], seed=0)
    >>> s.shapes, s.param_rnn[0].shape, bool(np.all((s.log_lr[1] > -13.82) & (s.log_lr[1] < -4.6)))
    (((2, 3), (4,)), (6, 10), True)
    """
    weights = as_instance(weights, HRNNWeights, "weights", "an")
    shapes = as_tensor_shapes(shapes, MAX_TENSORS, MAX_PARAMETERS)
    seed = as_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    sizes = [math.prod(s) for s in shapes]
    log_lr = []
    for n in sizes:
        u = rng.uniform(_LOG_LR_LO, _LOG_LR_HI, n)
        a = rng.uniform(_LOG_LR_LO, _LOG_LR_HI)
        log_lr.append(np.clip(u + a, -MAX_LOG_LR, MAX_LOG_LR))
    return HRNNState(
        shapes=shapes,
        param_rnn=tuple(np.tile(weights.init_param_state, (n, 1)) for n in sizes),
        tensor_rnn=tuple(weights.init_tensor_state.copy() for _ in sizes),
        global_rnn=weights.init_global_state.copy(),
        m=tuple(np.zeros((n, NUM_SCALES)) for n in sizes),
        v=tuple(np.zeros((n, NUM_SCALES)) for n in sizes),
        log_lr=tuple(log_lr),
        input_decay=tuple(np.zeros(n) for n in sizes),
        scale_decay=tuple(np.zeros(n) for n in sizes),
        step_count=0,
    )


def shift_log_lrs(state: HRNNState, delta: float) -> HRNNState:
    r"""``state`` with every stored log learning rate shifted by ``delta`` (|delta| <= 66).

    [derived] The relative-learning-rate feature is unchanged, so (without clipping at +-33) the
    next step is the original one times :math:`e^\delta`, in the same direction (claim C4).

    >>> s = init_state(init_weights(0), [3], seed=0)
    >>> bool(np.allclose(shift_log_lrs(s, 2.0).log_lr[0] - s.log_lr[0], 2.0, rtol=0, atol=1e-14))
    True
    """
    state = as_instance(state, HRNNState, "state", "an")
    delta = as_real("delta", delta, -MAX_SHIFT, MAX_SHIFT)
    return dataclasses.replace(state, log_lr=tuple(e + delta for e in state.log_lr))


# ---------------------------------------------------------------------------------------------
# one step


@result_type
@dataclass(frozen=True)
class HRNNStepInfo:
    """What one :func:`step` computed, one entry per tensor (flattened arrays but ``direction`` and
    ``update``, which have the tensor's shape)."""

    scaled_grads: tuple  #: (n, 4) the features x_k = asinh(m_k / sqrt(v_k + 1e-16))
    features: tuple  #: (n, 12) the parameter RNN's input [x_k, x_k x_(k+1), relative log v_k, relative lr]
    direction: tuple  #: d after the unit-RMS normalisation, tensor-shaped
    eta_step: tuple  #: (n,) the step's log learning rate clip(eta + Delta eta, -33, 33)
    update: tuple  #: exp(eta_step + o) d, tensor-shaped (theta_new = theta - update)
    input_decays: tuple  #: (n, 4) the decays beta_0..beta_3 used at this step
    scale_decay: tuple  #: (n, 4) the decay beta_s used at this step for each scale (0 on the first step)
    next_input_decay: tuple  #: (n,) beta_0 read out of the new parameter state (used next step)
    next_scale_decay: tuple  #: (n,) beta_s read out of the new parameter state (used next step)
    mean_log_lr: float  #: problem-wide mean of the stored log learning rates before the step


@returns(HRNNStepInfo)
def step(weights: HRNNWeights, state: HRNNState, params: Sequence, grads: Sequence) -> tuple[list[np.ndarray], HRNNState, HRNNStepInfo]:
    """One optimizer step (module docstring): ``(new_params, new_state, info)``. Pure: nothing
    given is modified. ``params`` and ``grads`` are lists of arrays with the state's shapes.

    >>> w = init_weights(3)
    >>> s = init_state(w, [(2,), (3,)], seed=0)
    >>> new, s1, info = step(w, s, [np.ones(2), np.ones(3)], [np.ones(2), -np.ones(3)])
    >>> [bool(np.allclose(np.ones(n) - u, p, rtol=0, atol=0)) for n, u, p in zip((2, 3), info.update, new)]
    [True, True]
    """
    w = as_instance(weights, HRNNWeights, "weights", "an")
    s = as_instance(state, HRNNState, "state", "an")
    theta = as_tensor_list("params", params, s.shapes)
    gs = as_tensor_list("grads", grads, s.shapes)
    total = sum(e.size for e in s.log_lr)
    mean_lr = float(math.fsum(float(np.sum(e)) for e in s.log_lr) / total)
    lrm = float(_sigmoid(w.lr_momentum_logit))
    g_state = s.global_rnn
    bias_global_p = w.param_bias_from_global(g_state)
    bias_global_t = w.tensor_bias_from_global(g_state)
    out: dict[str, list] = {k: [] for k in ("theta", "h", "s", "m", "v", "eta", "b0", "bs", "x", "F", "d", "es", "upd", "B", "BS")}
    for i, shp in enumerate(s.shapes):
        g = gs[i]
        b0 = s.input_decay[i]
        betas = np.empty((g.size, NUM_SCALES))
        betas[:, 0] = b0
        for k in range(1, NUM_SCALES):
            betas[:, k] = np.sqrt(betas[:, k - 1])
        m = (1.0 - betas) * g[:, None] + betas * s.m[i]
        first = np.all(s.v[i] == 0.0, axis=0)  # per scale: the tensor's whole previous v_k is 0
        bs = np.where(first[None, :], 0.0, s.scale_decay[i][:, None])
        v = (1.0 - bs) * (m * m + MS_EPS) + bs * s.v[i]
        x = np.arcsinh(m / np.sqrt(v + SQRT_EPS))
        logv = np.log(v + SQRT_EPS)
        rel = logv - np.mean(logv, axis=1, keepdims=True)
        feats = np.concatenate([x, x[:, :-1] * x[:, 1:], rel, (s.log_lr[i] - mean_lr)[:, None]], axis=1)
        bias_p = w.param_bias_from_tensor(s.tensor_rnn[i]) + bias_global_p
        h = w.param_rnn(feats, s.param_rnn[i], bias_p)
        layer_in = np.mean(np.concatenate([h, feats], axis=1), axis=0)
        t_state = w.tensor_rnn(layer_in, s.tensor_rnn[i], bias_global_t)
        d = h @ w.w_upd + x @ w.w_shortcut
        d = d / math.sqrt(float(np.mean(d * d)) + SQRT_EPS)
        next_bs = _sigmoid(h @ w.w_scl + w.b_scl)
        next_b0 = _sigmoid(h @ w.w_inp + w.b_inp)
        eta = s.log_lr[i]
        eta_step = np.clip(eta + (h @ w.w_lr + w.b_lr), -MAX_LOG_LR, MAX_LOG_LR)
        eta_new = lrm * eta + (1.0 - lrm) * eta_step
        upd = np.exp(eta_step + w.offset) * d
        for key, val in (("theta", (theta[i] - upd).reshape(shp)), ("h", h), ("s", t_state), ("m", m), ("v", v),
                         ("eta", eta_new), ("b0", next_b0), ("bs", next_bs), ("x", x), ("F", feats),
                         ("d", d.reshape(shp)), ("es", eta_step), ("upd", upd.reshape(shp)), ("B", betas),
                         ("BS", np.broadcast_to(bs, (g.size, NUM_SCALES)).copy())):
            out[key].append(val)
    new_global = w.global_rnn(np.mean(np.stack(out["s"]), axis=0), g_state)
    new_state = HRNNState(
        shapes=s.shapes, param_rnn=tuple(out["h"]), tensor_rnn=tuple(out["s"]), global_rnn=new_global,
        m=tuple(out["m"]), v=tuple(out["v"]), log_lr=tuple(out["eta"]), input_decay=tuple(out["b0"]),
        scale_decay=tuple(out["bs"]), step_count=s.step_count + 1,
    )
    info = HRNNStepInfo(
        scaled_grads=tuple(out["x"]), features=tuple(out["F"]), direction=tuple(out["d"]), eta_step=tuple(out["es"]),
        update=tuple(out["upd"]), input_decays=tuple(out["B"]), scale_decay=tuple(out["BS"]),
        next_input_decay=tuple(out["b0"]), next_scale_decay=tuple(out["bs"]), mean_log_lr=mean_lr,
    )
    return out["theta"], new_state, info


# ---------------------------------------------------------------------------------------------
# trajectories


@result_type
@dataclass(frozen=True)
class HRNNRun:
    """A trajectory of :func:`run` (P = total number of parameters, tensors flattened and
    concatenated in order)."""

    params: np.ndarray  #: (steps_done + 1, P) the iterates theta_0 .. theta_t
    eta_step: np.ndarray  #: (steps_done, P) each step's log learning rate
    final_params: list  #: the last iterate, one array per tensor
    final_state: HRNNState  #: the optimizer state after the last step
    steps_done: int  #: steps taken (fewer than asked only when a gradient was not finite)
    status: str  #: "ok", or "nonfinite_gradient" when the run stopped at a gradient with a NaN or inf


@returns(HRNNRun)
def run(weights: HRNNWeights, problem_grad: Callable[[list], Sequence], params0: Sequence, steps: int, seed: int = 0) -> HRNNRun:
    """Run the optimizer for ``steps`` steps from ``params0`` (a list of arrays) on the gradient
    oracle ``problem_grad(params) -> grads`` (lists of arrays of the same shapes), with the state
    :func:`init_state` (``weights``, the shapes of ``params0``, ``seed``). A non-finite gradient stops
    the run with ``status = "nonfinite_gradient"`` (no step is taken with it).

    >>> w = init_weights(0)
    >>> r = run(w, lambda p: [2.0 * p[0]], [np.ones(3)], steps=5, seed=0)
    >>> r.params.shape, r.status, bool(np.all(r.params[-1] < 1.0))
    ((6, 3), 'ok', True)
    """
    w = as_instance(weights, HRNNWeights, "weights", "an")
    if not callable(problem_grad):
        raise ValidationError("problem_grad", "must be a callable params -> grads")
    if isinstance(params0, (str, bytes, np.ndarray)) or not isinstance(params0, Sequence):
        raise ValidationError("params0", "must be a list of arrays, one per tensor")
    try:
        shapes = as_tensor_shapes([np.shape(p) for p in params0], MAX_TENSORS, MAX_PARAMETERS)
    except ValueError:
        raise ValidationError("params0", "every tensor must be a rectangular array of numbers") from None
    steps = as_int("steps", steps, 0, MAX_RUN_STEPS)
    total = sum(math.prod(s) for s in shapes)
    if steps * total > MAX_RUN_WORK:
        raise ValidationError("steps", f"steps x parameters must be at most {MAX_RUN_WORK} (got {steps} x {total})")
    state = init_state(w, shapes, seed)
    theta = [a.reshape(s) for a, s in zip(as_tensor_list("params0", params0, shapes), shapes)]
    traj = np.empty((steps + 1, total))
    etas = np.empty((steps, total))
    traj[0] = np.concatenate([p.ravel() for p in theta])
    status, done = "ok", 0
    for t in range(steps):
        raw = problem_grad([p.copy() for p in theta])
        if not oracle_gradients_finite(raw, len(shapes)):
            status = "nonfinite_gradient"
            break
        theta, state, info = step(w, state, theta, raw)
        traj[t + 1] = np.concatenate([p.ravel() for p in theta])
        etas[t] = np.concatenate(info.eta_step)
        done = t + 1
    return HRNNRun(traj[: done + 1], etas[:done], theta, state, done, status)
