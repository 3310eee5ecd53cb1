r"""The per-parameter MLP learned optimizer of Metz et al. (2019, §6), in the form of
``learned_optimization``'s ``MLPLOpt`` ("LOLv2"), in numpy float64 with random (not meta-trained)
weights.

Source: Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (2019), "Understanding and
correcting pathologies in the training of learned optimizers"; the released port
``learned_optimization/learned_optimizers/mlp_lopt.py`` (its docstring: "the same model") with
``learned_optimizers/common.py`` (``vec_rolling_mom``). Every statement below is [code] unless
tagged otherwise.

One step on tensors :math:`w^{(i)}` with gradients :math:`g^{(i)}`, at step count :math:`t`
(0 before the first step):

.. math::

    m_j\leftarrow\beta_j\,m_j+(1-\beta_j)\,g,\qquad
    \beta\in\{0.1,\,0.5,\,0.9,\,0.99,\,0.999,\,0.9999\}\quad\text{(momenta first, then features)},

    z=[\,g,\ w,\ m_1..m_6\,]\in\mathbb R^{n\times8},\qquad
    \hat z_{:,c}=z_{:,c}\Big/\sqrt{10^{-5}+\tfrac1n\textstyle\sum_{\text{tensor}}z_{:,c}^2}
    \quad\text{(each column, over the tensor's entries)},

    \text{features}=[\,\hat z,\ \tanh(t/\tau_k-1)_{k=1..11}\,]\in\mathbb R^{n\times19},\qquad
    \tau\in\{1,3,10,30,100,300,10^3,3\cdot10^3,10^4,3\cdot10^4,10^5\},

    (d,\ \mu)=\mathrm{MLP}(\text{features})\quad(19\to32\to32\to2,\ \text{ReLU, no final activation}),

    \Delta w=\beta_1\,d\,\exp(\beta_2\,\mu),\qquad w\leftarrow w-\Delta w,\qquad
    \beta_1=\texttt{step\_mult}=10^{-3},\ \beta_2=\texttt{exp\_mult}=10^{-3}.

The MLP acts on each parameter's 19 features independently, with weights shared by all parameters
of all tensors; the time features are appended after the normalisation (they are constant across
the tensor and not normalised).

Choices (where the code's form had to be translated, or is silent):

- [code] The momenta are updated with this step's gradient **before** the features are formed
  (``next_rolling_features`` feeds ``_update_tensor``); the time feature uses the iteration count
  **before** the step (``opt_state.iteration``), so the first step sees :math:`t=0`, i.e. every time
  feature is :math:`\tanh(-1)`.
- [code] The normaliser is ``x * rsqrt(eps + mean(x^2))`` with ``eps = 1e-5`` **inside** the square
  root, the mean over every axis of the tensor (all but the feature axis), one scale per feature
  column; :math:`g` and :math:`w` are normalised too. A scalar parameter is a tensor of one entry
  (the code's ``expand_dims``), so its columns normalise to :math:`z/\sqrt{10^{-5}+z^2}`.
- [code] The update is ``direction * exp(magnitude * exp_mult) * step_mult``, evaluated in that
  order, and ``new_p = p - step``; :attr:`MLPStepInfo.update` holds that step exactly.
- [derived] Float64 throughout (the code runs in float32, iteration count int32 cast to float32).
- [derived] Initialisation: Haiku's ``hk.Linear`` default, which ``hk.nets.MLP`` uses: weights from
  a normal truncated at two standard deviations, :math:`W=\sigma z`, :math:`z\sim N(0,1)` restricted
  to :math:`[-2,2]`, :math:`\sigma=\texttt{scale}/\sqrt{\text{fan\_in}}`; biases 0. The draws come
  from ``numpy.random.default_rng(seed)`` layer by layer (rejection: out-of-range draws are redrawn),
  so the values differ from the JAX ones for the same seed; only the distribution is the code's.
- [code] The paper's original release (``fast_rolling_mlp.py``) has other inputs (momenta at five
  decays, RMS terms, momentum over RMS) and one hidden layer by default; this module follows the
  ``learned_optimization`` port only, as its docstring calls it "the same model".
- [derived] The input width is fixed at 19; the hidden widths are a parameter of
  :func:`init_weights` (default the code's two layers of 32).
- [derived] The MLP runs once on all tensors' features stacked (shared weights make this the same
  as one call per tensor, to rounding of the row-wise matrix products).

Invariance [derived] (Metz digest §6): every gradient-derived column is divided by its own RMS,
so :math:`\ell\to c\ell` leaves the step unchanged up to a relative
:math:`\approx\tfrac12\,10^{-5}/\mathrm{mean}(z_c^2)`; the parameter column is normalised too, so
rescaling the parameters, :math:`w\to aw`, leaves the features (and hence :math:`\Delta w`)
unchanged, whereas a parameter-space-equivariant optimizer would scale its step by :math:`a`.

Example (first step: every momentum equals :math:`(1-\beta_j)g`, so a normalised momentum column
equals the normalised gradient column while :math:`(1-\beta_j)^2\mathrm{mean}(g^2)\gg10^{-5}`, as for
:math:`\beta=0.1`; for :math:`\beta=0.9999` the epsilon dominates and the column is
:math:`\approx10^{-4}g/\sqrt{10^{-5}}`)::

    >>> w = init_weights(0)
    >>> s = init_state([(3,)])
    >>> p, s1, info = step(w, s, [np.ones(3)], [np.array([1.0, -2.0, 0.5])])
    >>> np.round(info.features[0][:, [0, 2, 7]], 4).tolist()
    [[0.7559, 0.7559, 0.0316], [-1.5119, -1.5119, -0.0632], [0.378, 0.378, 0.0158]]
    >>> np.round(info.features[0][0, 8:11], 4).tolist(), s1.step_count
    ([-0.7616, -0.7616, -0.7616], 1)
    >>> bool(np.array_equal(np.ones(3) - info.update[0], p[0]))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_instance, as_int, as_real, as_real_vector, as_tensor_list, as_tensor_shapes, oracle_gradients_finite

__all__ = [
    "DECAYS",
    "TIMESCALES",
    "NORM_EPS",
    "NUM_FEATURES",
    "NUM_OUTPUTS",
    "MAX_TENSORS",
    "MAX_PARAMETERS",
    "MAX_HIDDEN",
    "MAX_LAYERS",
    "MAX_RUN_STEPS",
    "MAX_RUN_WORK",
    "MLPWeights",
    "MLPState",
    "MLPStepInfo",
    "MLPRun",
    "init_weights",
    "num_weights",
    "flatten",
    "unflatten",
    "init_state",
    "features",
    "step",
    "run",
]

#: Momentum decays of the rolling features (code: ``decays`` in ``MLPLOpt.opt_fn``).
DECAYS = (0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)
#: Timescales of the tanh step embedding (code: ``_tanh_embedding``).
TIMESCALES = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5)
#: Epsilon of the second-moment normaliser (code: ``_second_moment_normalizer(..., eps=1e-5)``).
NORM_EPS = 1e-5
#: Normalised per-parameter columns: g, w and the six momenta.
NUM_NORMALISED = 2 + len(DECAYS)
#: MLP inputs per parameter (code: "There are 19 features used as input").
NUM_FEATURES = NUM_NORMALISED + len(TIMESCALES)
#: MLP outputs per parameter: direction and log-magnitude.
NUM_OUTPUTS = 2
#: Largest number of tensors of one problem.
MAX_TENSORS = 1000
#: Largest total number of parameters of one problem (each costs about 0.3 kB during a step).
MAX_PARAMETERS = 10**6
#: Largest hidden-layer width.
MAX_HIDDEN = 1024
#: Largest number of hidden layers.
MAX_LAYERS = 8
#: Largest number of steps of :func:`run`.
MAX_RUN_STEPS = 10**5
#: Largest steps x parameters of :func:`run` (its trajectory array holds that many float64).
MAX_RUN_WORK = 10**7
#: Largest |step_mult| and |exp_mult| accepted by :func:`step`.
MAX_MULT = 1e3


# ---------------------------------------------------------------------------------------------
# weights


@result_type
@dataclass(frozen=True)
class MLPWeights:
    """The MLP's weights: ``layers[k] = (W_k, b_k)``, ``W_k`` of shape (inputs, outputs); the first
    layer takes the 19 features, the last gives (direction, magnitude). Validated on construction
    (shapes chain, finite float64); build with :func:`init_weights` or :func:`unflatten`."""

    layers: tuple  #: ((W0, b0), (W1, b1), (W2, b2)); 19 -> 32 -> 32 -> 2 by default

    def __post_init__(self) -> None:
        layers = self.layers
        if isinstance(layers, (str, bytes, np.ndarray)) or not isinstance(layers, Sequence):
            raise ValidationError("layers", "must be a tuple of (W, b) pairs")
        if not 1 <= len(layers) <= MAX_LAYERS + 1:
            raise ValidationError("layers", f"must hold between 1 and {MAX_LAYERS + 1} (W, b) pairs (got {len(layers)})")
        out = []
        n_in = NUM_FEATURES
        for k, pair in enumerate(layers):
            if isinstance(pair, (str, bytes, np.ndarray)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValidationError(f"layers[{k}]", "must be a pair (W, b)")
            W = np.array(pair[0], dtype=np.float64) if _is_numeric(pair[0]) else None
            b = np.array(pair[1], dtype=np.float64) if _is_numeric(pair[1]) else None
            if W is None or W.ndim != 2 or W.shape[0] != n_in or not 1 <= W.shape[1] <= MAX_HIDDEN:
                raise ValidationError(f"layers[{k}]", f"W must be a ({n_in}, outputs) matrix with 1 <= outputs <= {MAX_HIDDEN}")
            if b is None or b.shape != (W.shape[1],):
                raise ValidationError(f"layers[{k}]", f"b must be a vector of length {W.shape[1]}")
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
                raise ValidationError(f"layers[{k}]", "every weight must be finite")
            W.setflags(write=False)
            b.setflags(write=False)
            out.append((W, b))
            n_in = W.shape[1]
        if n_in != NUM_OUTPUTS:
            raise ValidationError("layers", f"the last layer must have {NUM_OUTPUTS} outputs (got {n_in})")
        object.__setattr__(self, "layers", tuple(out))


def _is_numeric(x: Any) -> bool:
    try:
        return np.asarray(x).dtype.kind in "iuf"
    except (TypeError, ValueError):
        return False


def _truncated_normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """N(0, 1) restricted to [-2, 2] by redrawing the out-of-range entries (deterministic in rng)."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return z


def init_weights(seed: int = 0, hidden: tuple = (32, 32), scale: float = 1.0) -> MLPWeights:
    r"""Random weights at Haiku's default ``hk.Linear`` initialisation (module docstring): layer k's
    matrix is ``scale / sqrt(fan_in)`` times a standard normal truncated to [-2, 2], its bias 0;
    drawn from ``default_rng(seed)`` layer by layer. ``hidden``: the hidden widths (code default two
    layers of 32; 1 to 8 layers of 1 to 1024 units); ``scale`` in [0, 100].

    >>> w = init_weights(0)
    >>> [W.shape for W, b in w.layers], num_weights(w)
    ([(19, 32), (32, 32), (32, 2)], 1762)
    >>> bool(np.abs(w.layers[0][0]).max() <= 2 / math.sqrt(19)), float(np.abs(w.layers[2][1]).max())
    (True, 0.0)
    """
    seed = as_int("seed", seed, 0)
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise ValidationError("hidden", f"must be a tuple of 0 to {MAX_LAYERS} layer widths")
    if len(hidden) > MAX_LAYERS:
        raise ValidationError("hidden", f"must hold at most {MAX_LAYERS} layer widths (got {len(hidden)})")
    widths = [as_int(f"hidden[{k}]", h, 1, MAX_HIDDEN) for k, h in enumerate(hidden)]
    scale = as_real("scale", scale, 0.0, 100.0)
    rng = np.random.default_rng(seed)
    dims = [NUM_FEATURES, *widths, NUM_OUTPUTS]
    layers = []
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        W = scale / math.sqrt(n_in) * _truncated_normal(rng, (n_in, n_out))
        layers.append((W, np.zeros(n_out)))
    return MLPWeights(tuple(layers))


def num_weights(weights: MLPWeights) -> int:
    """The number of scalar weights (matrices and biases).

    >>> num_weights(init_weights(0, hidden=(4,)))
    90
    """
    weights = as_instance(weights, MLPWeights, "weights", "an")
    return sum(W.size + b.size for W, b in weights.layers)


def flatten(weights: MLPWeights) -> np.ndarray:
    """All weights as one 1-D float64 vector: layer by layer, ``W`` (row-major) then ``b``.

    >>> w = init_weights(1)
    >>> v = flatten(w)
    >>> v.shape, bool(np.array_equal(flatten(unflatten(v, w)), v))
    ((1762,), True)
    """
    weights = as_instance(weights, MLPWeights, "weights", "an")
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in weights.layers])


def unflatten(vector: Any, like: MLPWeights) -> MLPWeights:
    """The weights with the layer shapes of ``like`` read from ``vector`` (inverse of :func:`flatten`);
    ``vector`` must be finite and hold exactly ``num_weights(like)`` numbers."""
    like = as_instance(like, MLPWeights, "like", "an")
    v = as_real_vector("vector", vector, length=num_weights(like))
    layers, at = [], 0
    for W, b in like.layers:
        nW = W.size
        layers.append((v[at : at + nW].reshape(W.shape).copy(), v[at + nW : at + nW + b.size].copy()))
        at += nW + b.size
    return MLPWeights(tuple(layers))


# ---------------------------------------------------------------------------------------------
# state


@result_type
@dataclass(frozen=True)
class MLPState:
    """The optimizer's state for one problem: the momenta of every tensor (flattened over its
    entries) and the step count."""

    shapes: tuple  #: the tensors' shapes
    momenta: tuple  #: (n, 6) per tensor: m_j for the decays 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999
    step_count: int  #: steps taken (the time features of the next step use it)


def init_state(shapes: Any) -> MLPState:
    """The initial state for tensors of the given ``shapes`` (a list of tuples; an int is a 1-D
    size; ``()`` a scalar): zero momenta, step count 0.

    >>> s = init_state([(2, 3), 4, ()])
    >>> s.shapes, [m.shape for m in s.momenta], s.step_count
    (((2, 3), (4,), ()), [(6, 6), (4, 6), (1, 6)], 0)
    """
    shapes = as_tensor_shapes(shapes, MAX_TENSORS, MAX_PARAMETERS)
    return MLPState(shapes, tuple(np.zeros((math.prod(s), len(DECAYS))) for s in shapes), 0)


# ---------------------------------------------------------------------------------------------
# one step


@result_type
@dataclass(frozen=True)
class MLPStepInfo:
    """What one :func:`step` computed, one entry per tensor."""

    features: tuple  #: (n, 19) the MLP inputs: normalised [g, w, m_1..m_6], then the 11 time features
    direction: tuple  #: d, the MLP's first output, tensor-shaped
    magnitude: tuple  #: mu, the MLP's second output (log-magnitude), tensor-shaped
    update: tuple  #: d exp(exp_mult mu) step_mult, tensor-shaped (w_new = w - update)


def _checked_state(state: Any) -> MLPState:
    """``state`` if its momenta match its shapes (a hand-built state could disagree)."""
    s = as_instance(state, MLPState, "state", "an")
    shapes = as_tensor_shapes(s.shapes, MAX_TENSORS, MAX_PARAMETERS)
    if isinstance(s.momenta, (str, bytes, np.ndarray)) or not isinstance(s.momenta, Sequence) or len(s.momenta) != len(shapes):
        raise ValidationError("state", f"momenta must hold {len(shapes)} arrays, one per tensor")
    for i, (m, shp) in enumerate(zip(s.momenta, shapes)):
        if np.shape(m) != (math.prod(shp), len(DECAYS)):
            raise ValidationError("state", f"momenta[{i}] must have shape {(math.prod(shp), len(DECAYS))} (got {np.shape(m)})")
    as_int("state.step_count", s.step_count, 0)
    return s


def _time_features(t: int) -> np.ndarray:
    return np.tanh(t / np.asarray(TIMESCALES) - 1.0)


def _features(g: np.ndarray, w: np.ndarray, m: np.ndarray, t: int) -> np.ndarray:
    """(n, 19): the normalised columns [g, w, m] and the time features (m already updated)."""
    z = np.concatenate([g[:, None], w[:, None], m], axis=1)
    z = z / np.sqrt(NORM_EPS + np.mean(z * z, axis=0, keepdims=True))
    return np.concatenate([z, np.broadcast_to(_time_features(t), (g.size, len(TIMESCALES)))], axis=1)


def _mlp(layers: tuple, x: np.ndarray) -> np.ndarray:
    for W, b in layers[:-1]:
        x = np.maximum(x @ W + b, 0.0)
    W, b = layers[-1]
    return x @ W + b


def features(state: MLPState, params: Sequence, grads: Sequence) -> list[np.ndarray]:
    """The (n, 19) MLP inputs of each tensor at the next :func:`step` (the momenta updated with
    ``grads`` first), without running the MLP.

    >>> f = features(init_state([2]), [np.array([3.0, 4.0])], [np.array([0.0, 1.0])])
    >>> np.round(f[0][:, :2], 4).tolist()
    [[0.0, 0.8485], [1.4142, 1.1314]]
    """
    s = _checked_state(state)
    ws = as_tensor_list("params", params, s.shapes)
    gs = as_tensor_list("grads", grads, s.shapes)
    beta = np.asarray(DECAYS)
    return [_features(g, w, beta * m + (1.0 - beta) * g[:, None], s.step_count) for g, w, m in zip(gs, ws, s.momenta)]


@returns(MLPStepInfo)
def step(weights: MLPWeights, state: MLPState, params: Sequence, grads: Sequence, *, step_mult: float = 1e-3,
         exp_mult: float = 1e-3) -> tuple[list[np.ndarray], MLPState, MLPStepInfo]:
    """One optimizer step (module docstring): ``(new_params, new_state, info)``. Pure: nothing given
    is modified. ``params`` and ``grads`` are lists of arrays with the state's shapes;
    ``step_mult`` and ``exp_mult`` (the code's beta_1, beta_2; both 1e-3) lie in [-1000, 1000].
    All tensors go through the MLP in one stacked matrix product.

    >>> w = init_weights(2)
    >>> s = init_state([(2,), (3,)])
    >>> new, s1, info = step(w, s, [np.ones(2), np.ones(3)], [np.ones(2), -np.ones(3)])
    >>> [bool(np.array_equal(np.ones(n) - u, p)) for n, u, p in zip((2, 3), info.update, new)]
    [True, True]
    >>> u = info.direction[1] * np.exp(info.magnitude[1] * 1e-3) * 1e-3
    >>> bool(np.array_equal(u, info.update[1]))
    True
    """
    w = as_instance(weights, MLPWeights, "weights", "an")
    s = _checked_state(state)
    step_mult = as_real("step_mult", step_mult, -MAX_MULT, MAX_MULT)
    exp_mult = as_real("exp_mult", exp_mult, -MAX_MULT, MAX_MULT)
    ws = as_tensor_list("params", params, s.shapes)
    gs = as_tensor_list("grads", grads, s.shapes)
    beta = np.asarray(DECAYS)
    momenta = [beta * m + (1.0 - beta) * g[:, None] for g, m in zip(gs, s.momenta)]
    feats = [_features(g, p, m, s.step_count) for g, p, m in zip(gs, ws, momenta)]
    out = _mlp(w.layers, np.concatenate(feats, axis=0))
    d_all, mu_all = out[:, 0], out[:, 1]
    upd_all = d_all * np.exp(mu_all * exp_mult) * step_mult
    new_params, dirs, mags, upds = [], [], [], []
    at = 0
    for p, shp in zip(ws, s.shapes):
        n = p.size
        sl = slice(at, at + n)
        at += n
        new_params.append((p - upd_all[sl]).reshape(shp))
        dirs.append(d_all[sl].reshape(shp))
        mags.append(mu_all[sl].reshape(shp))
        upds.append(upd_all[sl].reshape(shp))
    new_state = MLPState(s.shapes, tuple(momenta), s.step_count + 1)
    return new_params, new_state, MLPStepInfo(tuple(feats), tuple(dirs), tuple(mags), tuple(upds))


# ---------------------------------------------------------------------------------------------
# trajectories


@result_type
@dataclass(frozen=True)
class MLPRun:
    """A trajectory of :func:`run` (P = total number of parameters, tensors flattened and
    concatenated in order)."""

    params: np.ndarray  #: (steps_done + 1, P) the iterates w_0 .. w_t
    final_params: list  #: the last iterate, one array per tensor
    final_state: MLPState  #: the optimizer state after the last step
    steps_done: int  #: steps taken (fewer than asked only when a gradient was not finite)
    status: str  #: "ok", or "nonfinite_gradient" when the run stopped at a gradient with a NaN or inf


@returns(MLPRun)
def run(weights: MLPWeights, problem_grad: Callable[[list], Sequence], params0: Sequence, steps: int,
        **step_kwargs: Any) -> MLPRun:
    """Run the optimizer for ``steps`` steps from ``params0`` (a list of arrays) on the gradient
    oracle ``problem_grad(params) -> grads``, from :func:`init_state`; ``step_kwargs``
    (``step_mult``, ``exp_mult``) go to :func:`step`. A non-finite gradient stops the run with
    ``status = "nonfinite_gradient"`` (no step is taken with it).

    >>> r = run(init_weights(0), lambda p: [2.0 * p[0]], [np.ones(3)], steps=5)
    >>> r.params.shape, r.status, r.final_state.step_count
    ((6, 3), 'ok', 5)
    """
    w = as_instance(weights, MLPWeights, "weights", "an")
    if not callable(problem_grad):
        raise ValidationError("problem_grad", "must be a callable params -> grads")
    unknown = set(step_kwargs) - {"step_mult", "exp_mult"}
    if unknown:
        raise ValidationError("step_kwargs", f"only step_mult and exp_mult are allowed (got {sorted(unknown)})")
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
    state = init_state(shapes)
    theta = [a.reshape(s) for a, s in zip(as_tensor_list("params0", params0, shapes), shapes)]
    traj = np.empty((steps + 1, total))
    traj[0] = np.concatenate([p.ravel() for p in theta])
    status, done = "ok", 0
    for t in range(steps):
        raw = problem_grad([p.copy() for p in theta])
        if not oracle_gradients_finite(raw, len(shapes)):
            status = "nonfinite_gradient"
            break
        theta, state, _ = step(w, state, theta, raw, **step_kwargs)
        traj[t + 1] = np.concatenate([p.ravel() for p in theta])
        done = t + 1
    return MLPRun(traj[: done + 1], theta, state, done, status)
