r"""The small-MLP sanity run for the break-even conjectures (Jastrzebski et al. (2020), Sections 3-4;
the scaled-down analogue of claim B6).

**Task.** A tanh MLP 10-H-4 (H = ``hidden``, 32 by default) for 4-class softmax cross-entropy,

.. math:: a = xW_1 + b_1,\quad h=\tanh a,\quad z = hW_2+b_2,\quad
          \ell(x, y) = -z_y + \log\textstyle\sum_c e^{z_c},\qquad L(\theta)=\frac1N\sum_i\ell(x_i,y_i),

with the parameters as one flat vector :math:`\theta=(W_1, b_1, W_2, b_2)` (row-major; with H = 32:
320 + 32 + 128 + 4 = 484 entries). Data (the paper's setting is "512 synthetic Gaussian points"; the
labels are this module's choice): N = 512 inputs :math:`x_i\sim\mathcal N(0,I_{10})` and labels
:math:`y_i=\arg\max_c z^{\text{teacher}}_c(x_i)` of a fixed random *teacher* network of the same
shape (LeCun-normal weights :math:`\mathcal N(0, 1/\text{fan-in})`, zero biases; random biases of
order 1 were tried first and rejected because they let one class take ~all labels), both drawn from
``data_seed`` (default 0): the data set is the same for every training seed, and its classes are
roughly balanced (180, 99, 145, 88 at the defaults). The student starts at LeCun-normal
weights (:math:`\mathcal N(0,1/\text{fan-in})`) and zero biases drawn from the training ``seed``.

**Derivatives, written by hand.** :meth:`MLPProblem.grad` is backpropagation;
:meth:`MLPProblem.per_example_grads` is the same backward pass kept per example (an N x D array, its
mean is the gradient); :meth:`MLPProblem.hvp` is the *exact* Hessian-vector product by Pearlmutter's
R-operator (forward-mode differentiation of the backward pass along v), with the softmax Jacobian
:math:`Rp = p\odot(Rz-\langle p,Rz\rangle)` and :math:`R(1-h^2)=-2h\odot Rh`. Its only error is
rounding; the tests compare it with finite differences of the gradient and check the symmetry of the
Hessian it builds.

**Training and measurements** (:func:`train`). Plain SGD, :math:`\theta\leftarrow\theta-\eta\,
\nabla L_B(\theta)`, minibatches of ``batch_size`` drawn *without replacement* within each epoch (a
fresh seeded permutation per epoch; a last partial batch is kept). Every ``record_every`` steps (and
at steps 0 and the last) it records on the full training set:

- the loss :math:`L(\theta)`;
- :math:`\lambda_H^1` by Lanczos (:func:`.curvature.top_hessian_eigenvalue`) with exact HVPs;
- :math:`\lambda_K^1`, :math:`\mathrm{Tr}K` and :math:`\mathrm{Tr}K/\lambda_K^1` by Lanczos on the
  smaller Gram side, matrix-free (:func:`.curvature.top_covariance_eigenvalue`; the dense
  :func:`.curvature.gram_spectrum` gives the same top eigenvalue at ~10x the cost per record), from
  the *per-example* gradients of all N training examples,
  so :math:`\hat K` is exactly the K of Section 2 (no sampling noise). The paper uses minibatch-mean
  gradients of size 128 on 5% of a large training set, which estimates K/128: a constant rescale,
  so the ratio is comparable and :math:`\lambda_K^1` differs by that scale.

It returns the records and their maxima along the trajectory (Conjectures 1-2 speak of maxima).
Divergence is a status: when the loss or the parameters stop being finite, or the loss exceeds
:data:`DIVERGENCE_LOSS`, training stops, ``status`` is "diverged" and the records end at the last
finite state (no NaN is ever recorded).

Cost (measured on one core): the records dominate (each is a Lanczos call of about 30 exact HVPs
on all 512 examples and a 512 x 512 ``eigvalsh``, ~35 ms, against ~0.1 ms per SGD step); with the
default ``record_every = 4`` a 10-epoch run with N = 512, S = 32 (160 steps, 41 records) takes about
1.5-1.8 s, so the 3 step sizes x 5 seeds of the catalogue take about 25 s.

Source: Jastrzebski et al. (2020), Sections 2-4 (definitions of K and H, Conjectures 1-2, the
measurement procedure).

Example (output as run)::

    >>> p = make_problem()
    >>> p.dim, p.n_train, np.bincount(p.y, minlength=4).tolist()
    (484, 512, [180, 99, 145, 88])
    >>> run = train(0.1, 1, seed=0)
    >>> run.status, run.steps.tolist()
    ('ok', [0, 4, 8, 12, 16])
    >>> round(run.max_lambda_H, 4), round(run.max_lambda_K, 4), round(run.max_trace_ratio, 3)
    (0.6969, 0.6637, 12.186)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_instance, as_int, as_real, as_real_matrix
from .curvature import top_covariance_eigenvalue, top_hessian_eigenvalue

__all__ = [
    "N_IN",
    "N_CLASSES",
    "DEFAULT_HIDDEN",
    "DEFAULT_N_TRAIN",
    "DIVERGENCE_LOSS",
    "MAX_HIDDEN",
    "MAX_N_TRAIN",
    "MAX_EPOCHS",
    "MAX_DENSE_DIM",
    "MLPProblem",
    "make_problem",
    "init_params",
    "BreakEvenRun",
    "train",
]

N_IN = 10
N_CLASSES = 4
DEFAULT_HIDDEN = 32
DEFAULT_N_TRAIN = 512
#: A loss above this counts as divergence (the initial loss is about log 4 = 1.39).
DIVERGENCE_LOSS = 1e6
#: Largest hidden width accepted (D = 15 H + 4 parameters).
MAX_HIDDEN = 1024
#: Largest training set accepted (the per-example gradients are N x D, the Gram matrix N x N).
MAX_N_TRAIN = 4096
#: Largest number of epochs accepted.
MAX_EPOCHS = 10**4
#: Largest dimension for :meth:`MLPProblem.hessian_dense` (D products and a D x D array).
MAX_DENSE_DIM = 4000
#: Lanczos tolerance along the trajectory: eigenvalue error <= 1e-8 relative (Bauer-Fike), far below
#: the differences between step sizes that the run is about.
TRAIN_LANCZOS_TOL = 1e-8


def _dim(hidden: int) -> int:
    return N_IN * hidden + hidden + hidden * N_CLASSES + N_CLASSES


@dataclass(frozen=True)
class MLPProblem:
    """The classification task: inputs ``X`` (N x 10), labels ``y`` (N,), hidden width ``hidden``.

    Methods take the flat parameter vector ``theta`` (length :attr:`dim`) and keep no state.
    """

    X: np.ndarray
    y: np.ndarray
    hidden: int = DEFAULT_HIDDEN

    def __post_init__(self):
        hidden = as_int("hidden", self.hidden, 1, MAX_HIDDEN)
        shape = np.shape(self.X) if isinstance(self.X, np.ndarray) else None
        if shape is not None and len(shape) == 2 and shape[0] > MAX_N_TRAIN:  # refuse before any work
            raise ValidationError("X", f"must have at most {MAX_N_TRAIN} rows (got {shape[0]})")
        X = as_real_matrix("X", self.X)
        if X.shape[1] != N_IN or X.shape[0] > MAX_N_TRAIN:
            raise ValidationError("X", f"must be an N x {N_IN} array with 1 <= N <= {MAX_N_TRAIN} (got shape {X.shape})")
        y = np.asarray(self.y)
        if y.shape != (X.shape[0],) or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= N_CLASSES:
            raise ValidationError("y", f"must be N = {X.shape[0]} integer labels in [0, {N_CLASSES - 1}]")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y.astype(np.int64))
        object.__setattr__(self, "hidden", hidden)

    @property
    def dim(self) -> int:
        """Number of parameters D = 10 H + H + 4 H + 4."""
        return _dim(self.hidden)

    @property
    def n_train(self) -> int:
        """Number of training examples N."""
        return int(self.X.shape[0])

    # ------------------------------------------------------------------ parameters

    def unpack(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(W1 (10, H), b1 (H,), W2 (H, 4), b2 (4,))`` as views of the flat vector ``theta``."""
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.dim,):
            raise ValidationError("theta", f"must be a vector of length {self.dim} (got shape {theta.shape})")
        H = self.hidden
        i1 = N_IN * H
        i2 = i1 + H
        i3 = i2 + H * N_CLASSES
        return theta[:i1].reshape(N_IN, H), theta[i1:i2], theta[i2:i3].reshape(H, N_CLASSES), theta[i3:]

    def _rows(self, idx: Any) -> tuple[np.ndarray, np.ndarray]:
        if idx is None:
            return self.X, self.y
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= self.n_train:
            raise ValidationError("idx", f"must be a non-empty 1-D array of example indices in [0, {self.n_train - 1}]")
        return self.X[idx], self.y[idx]

    @staticmethod
    def _forward(params, X: np.ndarray, y: np.ndarray):
        W1, b1, W2, b2 = params
        h = np.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        z = z - z.max(axis=1, keepdims=True)  # log-sum-exp shift (a constant per row: exact identity)
        ez = np.exp(z)
        s = ez.sum(axis=1, keepdims=True)
        p = ez / s
        losses = np.log(s[:, 0]) - z[np.arange(z.shape[0]), y]
        return h, p, losses

    # ------------------------------------------------------------------ loss and derivatives

    def loss(self, theta: Any, idx: Any = None) -> float:
        """Mean cross-entropy over the training set (or over the examples ``idx``)."""
        X, y = self._rows(idx)
        with np.errstate(all="ignore"):
            return float(np.mean(self._forward(self.unpack(theta), X, y)[2]))

    def grad(self, theta: Any, idx: Any = None) -> np.ndarray:
        r"""Gradient of the mean loss by backpropagation: :math:`\delta_z=(p-Y)/m`,
        :math:`g_{W_2}=h^\top\delta_z`, :math:`g_{b_2}=\sum\delta_z`,
        :math:`\delta_a=(\delta_zW_2^\top)\odot(1-h^2)`, :math:`g_{W_1}=X^\top\delta_a`, :math:`g_{b_1}=\sum\delta_a`."""
        X, y = self._rows(idx)
        W1, b1, W2, b2 = params = self.unpack(theta)
        with np.errstate(all="ignore"):
            h, p, _ = self._forward(params, X, y)
            dz = p.copy()
            dz[np.arange(X.shape[0]), y] -= 1.0
            dz /= X.shape[0]
            da = (dz @ W2.T) * (1.0 - h * h)
            return np.concatenate([(X.T @ da).ravel(), da.sum(axis=0), (h.T @ dz).ravel(), dz.sum(axis=0)])

    def per_example_grads(self, theta: Any, idx: Any = None) -> np.ndarray:
        r"""The M x D matrix whose row i is :math:`\nabla\ell(x_i,y_i;\theta)` (all N examples, or those
        in ``idx``): the backward pass of :meth:`grad` without the average, vectorised over examples
        with outer products. Its row mean equals :meth:`grad` on the same examples."""
        X, y = self._rows(idx)
        W1, b1, W2, b2 = params = self.unpack(theta)
        m, H = X.shape[0], self.hidden
        with np.errstate(all="ignore"):
            h, p, _ = self._forward(params, X, y)
            dz = p.copy()
            dz[np.arange(m), y] -= 1.0
            da = (dz @ W2.T) * (1.0 - h * h)
            out = np.empty((m, self.dim))
            i1 = N_IN * H
            i2 = i1 + H
            i3 = i2 + H * N_CLASSES
            out[:, :i1].reshape(m, N_IN, H)[...] = X[:, :, None] * da[:, None, :]
            out[:, i1:i2] = da
            out[:, i2:i3].reshape(m, H, N_CLASSES)[...] = h[:, :, None] * dz[:, None, :]
            out[:, i3:] = dz
        return out

    def hvp_operator(self, theta: Any, idx: Any = None):
        """``v -> H v`` at ``theta`` (exact, see :meth:`hvp`), with the forward pass done once."""
        X, y = self._rows(idx)
        W1, b1, W2, b2 = params = self.unpack(theta)
        m = X.shape[0]
        h, p, _ = self._forward(params, X, y)
        dz = p.copy()
        dz[np.arange(m), y] -= 1.0
        dz /= m
        dh = dz @ W2.T
        gate = 1.0 - h * h
        D = self.dim

        def hvp(v: np.ndarray) -> np.ndarray:
            v = np.asarray(v, dtype=np.float64)
            if v.shape != (D,):
                raise ValidationError("v", f"must be a vector of length {D} (got shape {v.shape})")
            V1, c1, V2, c2 = self.unpack(v)
            # R-operator: forward pass along v ...
            Rh = gate * (X @ V1 + c1)
            Rz = Rh @ W2 + h @ V2 + c2
            Rdz = p * (Rz - np.sum(p * Rz, axis=1, keepdims=True)) / m  # softmax Jacobian times Rz
            # ... and the backward pass differentiated along v.
            Rda = (Rdz @ W2.T + dz @ V2.T) * gate - 2.0 * dh * h * Rh
            return np.concatenate([(X.T @ Rda).ravel(), Rda.sum(axis=0), (Rh.T @ dz + h.T @ Rdz).ravel(), Rdz.sum(axis=0)])

        return hvp

    def hvp(self, theta: Any, v: Any, idx: Any = None) -> np.ndarray:
        r"""The exact Hessian-vector product :math:`\nabla^2L(\theta)\,v` by Pearlmutter's R-operator:

        :math:`Rh=(1-h^2)\odot(XV_1+c_1)`, :math:`Rz=Rh\,W_2+hV_2+c_2`,
        :math:`R\delta_z=p\odot(Rz-\langle p,Rz\rangle)/m`,
        :math:`R\delta_a=(R\delta_zW_2^\top+\delta_zV_2^\top)\odot(1-h^2)-2\,(\delta_zW_2^\top)\odot h\odot Rh`,
        then :math:`Hv=(X^\top R\delta_a,\ \sum R\delta_a,\ Rh^\top\delta_z+h^\top R\delta_z,\ \sum R\delta_z)`
        for :math:`v=(V_1,c_1,V_2,c_2)`. About twice the cost of a gradient."""
        return self.hvp_operator(theta, idx)(np.asarray(v, dtype=np.float64))

    def hessian_dense(self, theta: Any, idx: Any = None) -> np.ndarray:
        """The D x D Hessian, column j = :meth:`hvp` of the j-th unit vector (for tests; D <= :data:`MAX_DENSE_DIM`).
        Not symmetrised, so its symmetry is a check on the R-operator."""
        if self.dim > MAX_DENSE_DIM:
            raise ValidationError("hidden", f"hessian_dense needs D <= {MAX_DENSE_DIM} (got D = {self.dim})")
        hvp = self.hvp_operator(theta, idx)
        eye = np.eye(self.dim)
        return np.stack([hvp(eye[j]) for j in range(self.dim)], axis=1)


def make_problem(*, hidden: Any = DEFAULT_HIDDEN, n_train: Any = DEFAULT_N_TRAIN, data_seed: Any = 0) -> MLPProblem:
    """The synthetic task of the module docstring: Gaussian inputs, labels of a random teacher 10-H-4."""
    hidden = as_int("hidden", hidden, 1, MAX_HIDDEN)
    n_train = as_int("n_train", n_train, 1, MAX_N_TRAIN)
    data_seed = as_int("data_seed", data_seed, 0)
    teacher_ss, data_ss = np.random.SeedSequence(data_seed).spawn(2)
    rt = np.random.default_rng(teacher_ss)
    tW1 = rt.standard_normal((N_IN, hidden)) / np.sqrt(N_IN)
    tW2 = rt.standard_normal((hidden, N_CLASSES)) / np.sqrt(hidden)
    X = np.random.default_rng(data_ss).standard_normal((n_train, N_IN))
    y = np.argmax(np.tanh(X @ tW1) @ tW2, axis=1)
    return MLPProblem(X, y, hidden)


def init_params(problem: MLPProblem, seed: Any = 0) -> np.ndarray:
    """LeCun-normal student weights (N(0, 1/fan-in)), zero biases, as one flat vector."""
    problem = as_instance(problem, MLPProblem)
    seed = as_int("seed", seed, 0)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    H = problem.hidden
    W1 = rng.standard_normal((N_IN, H)) / np.sqrt(N_IN)
    W2 = rng.standard_normal((H, N_CLASSES)) / np.sqrt(H)
    return np.concatenate([W1.ravel(), np.zeros(H), W2.ravel(), np.zeros(N_CLASSES)])


@result_type
@dataclass(frozen=True)
class BreakEvenRun:
    """One SGD run of the small MLP with curvature recorded along the trajectory."""

    eta: float  #: SGD step size
    epochs: int  #: epochs asked for
    batch_size: int  #: minibatch size S (without replacement within an epoch)
    seed: int  #: training seed (student initialisation and minibatch order)
    record_every: int  #: steps between records
    steps: np.ndarray  #: SGD steps at which the records were taken (0 = initialisation)
    loss: np.ndarray  #: full training loss at each record
    lambda_H: np.ndarray  #: lambda_H^1 at each record (Lanczos, exact HVPs, full training set)
    lambda_K: np.ndarray  #: lambda_K^1 at each record (per-example gradients of all N examples)
    trace_K: np.ndarray  #: Tr K at each record
    trace_ratio: np.ndarray  #: Tr K / lambda_K^1 at each record (0 if K vanished numerically)
    max_lambda_H: float  #: max of lambda_H over the records
    max_lambda_K: float  #: max of lambda_K over the records
    max_trace_K: float  #: max of trace_K over the records
    max_trace_ratio: float  #: max of trace_ratio over the records
    final_loss: float  #: loss at the last record
    lanczos_converged: bool  #: every Lanczos call converged
    n_hvp: int  #: Hessian-vector products used in all
    status: str  #: "ok", or "diverged" (training stopped; the records end at the last finite state)
    diverged_at_step: int | None  #: step at which divergence was detected (parameters checked every step, the loss at records; None if ok)


@returns(BreakEvenRun)
def train(
    eta: Any,
    epochs: Any,
    *,
    batch_size: Any = 32,
    seed: Any = 0,
    record_every: Any = 4,
    problem: MLPProblem | None = None,
) -> BreakEvenRun:
    r"""SGD on the small MLP (``problem``, default :func:`make_problem`) for ``epochs`` epochs with step
    ``eta`` and minibatch size ``batch_size``, recording loss, :math:`\lambda_H^1`,
    :math:`\lambda_K^1`, :math:`\mathrm{Tr}K` and :math:`\mathrm{Tr}K/\lambda_K^1` every
    ``record_every`` steps, at step 0 and at the last step (see the module docstring).
    Deterministic in its arguments: ``seed`` spawns the initialisation and the epoch permutations,
    and each Lanczos call starts from ``default_rng(0)``.
    Source: Jastrzebski et al. (2020), Sections 3-4 (Conjectures 1-2 and their measurement).
    """
    eta = as_real("eta", eta, 0.0, 1e6, lo_open=True)
    epochs = as_int("epochs", epochs, 1, MAX_EPOCHS)
    problem = make_problem() if problem is None else as_instance(problem, MLPProblem, "problem", "an")
    batch_size = as_int("batch_size", batch_size, 1, problem.n_train)
    seed = as_int("seed", seed, 0)
    record_every = as_int("record_every", record_every, 1)
    n = problem.n_train
    per_epoch = -(-n // batch_size)
    total = epochs * per_epoch
    theta = init_params(problem, seed)
    batch_rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])

    rec: dict[str, list] = {k: [] for k in ("steps", "loss", "lambda_H", "lambda_K", "trace_K", "trace_ratio")}
    state = {"n_hvp": 0, "converged": True}

    def record(step: int, loss: float) -> None:
        top = top_hessian_eigenvalue(problem.hvp_operator(theta), problem.dim, tol=TRAIN_LANCZOS_TOL, seed=0)
        lam_k, tr_k = top_covariance_eigenvalue(problem.per_example_grads(theta), tol=TRAIN_LANCZOS_TOL)
        state["n_hvp"] += top.n_hvp
        state["converged"] &= top.converged
        rec["steps"].append(step)
        rec["loss"].append(loss)
        rec["lambda_H"].append(top.eigenvalue)
        rec["lambda_K"].append(lam_k)
        rec["trace_K"].append(tr_k)
        rec["trace_ratio"].append(tr_k / lam_k if lam_k > 0 else 0.0)

    def finite(loss: float, th: np.ndarray) -> bool:
        return bool(np.isfinite(loss) and loss <= DIVERGENCE_LOSS and np.all(np.isfinite(th)))

    record(0, problem.loss(theta))
    step, diverged_at = 0, None
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            perm = batch_rng.permutation(n)
            for start in range(0, n, batch_size):
                new = theta - eta * problem.grad(theta, perm[start:start + batch_size])
                step += 1
                at_record = step % record_every == 0 or step == total
                if not np.all(np.isfinite(new)):
                    diverged_at = step
                    break
                loss = problem.loss(new) if at_record else None
                if loss is not None and not finite(loss, new):
                    diverged_at = step
                    break
                theta = new
                if at_record:
                    record(step, loss)
            if diverged_at is not None:
                break
    arrays = {k: np.asarray(v, dtype=np.int64 if k == "steps" else np.float64) for k, v in rec.items()}
    return BreakEvenRun(
        eta=eta,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        record_every=record_every,
        max_lambda_H=float(arrays["lambda_H"].max()),
        max_lambda_K=float(arrays["lambda_K"].max()),
        max_trace_K=float(arrays["trace_K"].max()),
        max_trace_ratio=float(arrays["trace_ratio"].max()),
        final_loss=float(arrays["loss"][-1]),
        lanczos_converged=bool(state["converged"]),
        n_hvp=int(state["n_hvp"]),
        status="ok" if diverged_at is None else "diverged",
        diverged_at_step=diverged_at,
        **arrays,
    )
