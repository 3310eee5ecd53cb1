r"""Task families for meta-training learned optimizers, drawn in batches from a seed.

Every family is a batch of B deterministic tasks with the same parameter dimension D, evaluated
for all tasks at once (numpy over the leading batch axis), so that a whole population of
evolution-strategies members unrolls in lockstep. Held-out tasks are the same family drawn from
other seeds (:func:`task_rng` keeps the streams apart).

**Quadratics** (:class:`QuadraticTasks`): :math:`f_b(x)=\tfrac12\|A_bx-y_b\|^2`, gradient
:math:`A_b^\top(A_bx-y_b)`, from :math:`x_{0,b}`. :func:`bowl_quadratic_ensemble` is the "2-D
bowl / quadratic ensemble" of claim C8 of the Wichrowska et al. (2017) digest, from the released
code's problem set (``problem_sets.py``) [code], clean versions only:

- with probability 1/2 a **2-D bowl** :math:`\tfrac12\|\sqrt{\mathrm{diag}(\kappa,1)}\,R(\phi)\,x\|^2`,
  :math:`\kappa` uniform on {0.1, 1, 5} and every bowl rotated by :math:`\phi\sim U(0,\pi)` (the code
  has one rotated :math:`\kappa=5` case; rotating all of them is this package's choice);
- otherwise a **random 2-D quadratic** :math:`\tfrac12\|Wx-y\|^2`, :math:`W` 2 x 2 with entries
  :math:`N(0,1/2)`, :math:`y\sim N(0,I)` (the code's quadratics are Gaussian and 20-100
  dimensional; 2-D here so that the whole ensemble shares one shape);
- :math:`x_0\sim N(0,I_2)` for both.

**Least squares** (:class:`LeastSquaresTasks`): Wang et al. (2021) §4 [paper]: :math:`w^*` uniform
on the unit sphere of :math:`\mathbb R^d`, rows :math:`x\sim N(0,I_d)`, :math:`y=\langle
w^*,x\rangle+\sigma\xi`, :math:`w_0=0`. The n samples of a task carry two 0/1 weight vectors, a
training and a validation mask, so train-by-train (all n samples train) and train-by-validation
(the first :math:`n_1` train, the other :math:`n_2=n-n_1` validate) are two views of the same draw
and batch together: training loss :math:`\frac1{2n_{\rm tr}}\sum_i \mathrm{tr}_i(y_i-\langle
w,x_i\rangle)^2`, validation loss likewise. The test error is the exact :math:`\|w-w^*\|^2`
(the expected test loss on a fresh sample is :math:`\tfrac12(\|w-w^*\|^2+\sigma^2)`).

**Objectives over an unroll** (:func:`unroll_objective`), from the losses
:math:`f_0..f_T` along an unroll of T steps:

- ``"log"``: the released code's log meta-objective of Wichrowska et al. (as
  :func:`..meta_objective.log_meta_objective`, one partial unroll from the start):
  :math:`\frac1{T+1}\sum\log(F_j/(f_0+10^{-6})+10^{-6})`, :math:`F=(f_0,f_0,f_1,..,f_{T-1})`;
- ``"tbt"``: the mean training loss over steps 1..T; ``"tbv"``: the mean validation loss over
  steps 1..T (Wang et al. §6.3 [code]: the average inner loss over the unroll, not logged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type
from ..validation import ValidationError, as_choice, as_int, as_real
from .meta_objective import META_EPS

__all__ = [
    "OBJECTIVES",
    "MAX_TASKS",
    "task_rng",
    "QuadraticTasks",
    "LeastSquaresTasks",
    "bowl_quadratic_ensemble",
    "least_squares_tasks",
    "unroll_objective",
]

#: Meta-objectives over an unroll (module docstring).
OBJECTIVES = ("log", "tbt", "tbv")
#: Largest batch of tasks drawn at once.
MAX_TASKS = 10**6
#: The bowls' condition numbers (code: ``problem_sets.py``).
BOWL_KAPPAS = (0.1, 1.0, 5.0)


def task_rng(*key: int) -> np.random.Generator:
    """``numpy.random.default_rng(key)``: one independent stream per tuple of non-negative ints
    (NumPy's SeedSequence hashes the whole tuple), e.g. (seed, 0, meta_step) for training draws and
    (seed, 1) for held-out draws."""
    return np.random.default_rng([as_int("key", k, 0) for k in key])


def _index(idx: Any, size: int) -> np.ndarray:
    i = np.asarray(idx)
    if i.ndim != 1 or i.dtype.kind not in "iu" or (i.size and (i.min() < 0 or i.max() >= size)):
        raise ValidationError("idx", f"must be a 1-D array of task indices in [0, {size - 1}]")
    return i


@result_type
@dataclass(frozen=True, eq=False)
class QuadraticTasks:
    r"""B quadratic tasks :math:`f_b(x)=\tfrac12\|A_bx-y_b\|^2` from :math:`x_{0,b}` (module docstring)."""

    A: np.ndarray  #: (B, r, D)
    y: np.ndarray  #: (B, r)
    x0: np.ndarray  #: (B, D) the initial iterates
    kind: np.ndarray  #: (B,) 0 for a bowl, 1 for a random quadratic (bookkeeping only)

    def __post_init__(self) -> None:
        if self.A.ndim != 3 or self.y.shape != self.A.shape[:2] or self.x0.shape != (self.A.shape[0], self.A.shape[2]):
            raise ValidationError("A", "must be (B, r, D) with y (B, r) and x0 (B, D)")

    @property
    def size(self) -> int:
        return int(self.A.shape[0])

    @property
    def dim(self) -> int:
        return int(self.A.shape[2])

    @property
    def has_validation(self) -> bool:
        return False

    def residual(self, x: np.ndarray) -> np.ndarray:
        return (self.A @ x[:, :, None])[:, :, 0] - self.y

    def loss(self, x: np.ndarray) -> np.ndarray:
        """(B,) the losses at x (B, D)."""
        r = self.residual(x)
        return 0.5 * np.einsum("br,br->b", r, r)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """(B, D) the gradients at x (B, D)."""
        return (self.residual(x)[:, None, :] @ self.A)[:, 0, :]

    def valid_loss(self, x: np.ndarray) -> None:
        return None

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, None, np.ndarray]:
        """(loss, None, grad) at x from one residual."""
        r = self.residual(x)
        return 0.5 * np.einsum("br,br->b", r, r), None, (r[:, None, :] @ self.A)[:, 0, :]

    def take(self, idx: Any) -> "QuadraticTasks":
        """The tasks ``idx`` (an index array; repeats allowed), in that order."""
        i = _index(idx, self.size)
        return QuadraticTasks(self.A[i], self.y[i], self.x0[i], self.kind[i])


def bowl_quadratic_ensemble(count: int, rng: np.random.Generator) -> QuadraticTasks:
    """``count`` tasks of the 2-D bowl / quadratic ensemble (module docstring), from ``rng``. Draw
    order: the family choices, then per task in order: the bowl's kappa index and angle, or W and
    y; then all x0.

    >>> t = bowl_quadratic_ensemble(4, task_rng(0))
    >>> t.A.shape, t.loss(np.zeros((4, 2))).shape, bool(np.all(t.loss(t.x0) >= 0))
    ((4, 2, 2), (4,), True)
    """
    count = as_int("count", count, 1, MAX_TASKS)
    if not isinstance(rng, np.random.Generator):
        raise ValidationError("rng", "must be a numpy.random.Generator")
    kind = (rng.random(count) >= 0.5).astype(np.int64)
    A = np.empty((count, 2, 2))
    y = np.zeros((count, 2))
    for b in range(count):
        if kind[b] == 0:
            kappa = BOWL_KAPPAS[int(rng.integers(len(BOWL_KAPPAS)))]
            phi = rng.uniform(0.0, math.pi)
            c, s = math.cos(phi), math.sin(phi)
            A[b] = np.diag([math.sqrt(kappa), 1.0]) @ np.array([[c, -s], [s, c]])
        else:
            A[b] = rng.normal(0.0, math.sqrt(0.5), (2, 2))
            y[b] = rng.standard_normal(2)
    x0 = rng.standard_normal((count, 2))
    return QuadraticTasks(A, y, x0, kind)


@result_type
@dataclass(frozen=True, eq=False)
class LeastSquaresTasks:
    r"""B least-squares tasks of Wang et al. (2021) §4 with training and validation masks over
    their n samples (module docstring); :math:`w_0=0`."""

    X: np.ndarray  #: (B, n, d)
    y: np.ndarray  #: (B, n)
    w_star: np.ndarray  #: (B, d) the ground truths (unit norm)
    train_mask: np.ndarray  #: (B, n) 1 for a training sample, else 0
    valid_mask: np.ndarray  #: (B, n) 1 for a validation sample, else 0 (all 0: no validation set)
    sigma: float  #: the label-noise level

    def __post_init__(self) -> None:
        B, n, d = self.X.shape
        for name in ("y", "train_mask", "valid_mask"):
            if getattr(self, name).shape != (B, n):
                raise ValidationError(name, f"must have shape {(B, n)}")
        if self.w_star.shape != (B, d):
            raise ValidationError("w_star", f"must have shape {(B, d)}")
        if np.any(self.train_mask.sum(axis=1) < 1):
            raise ValidationError("train_mask", "every task needs at least one training sample")

    @property
    def size(self) -> int:
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        return int(self.X.shape[2])

    @property
    def x0(self) -> np.ndarray:
        return np.zeros((self.size, self.dim))

    @property
    def has_validation(self) -> bool:
        """True when some task has validation samples (a batch may mix TbT and TbV views)."""
        return bool(np.any(self.valid_mask.sum(axis=1) >= 1))

    def _sq(self, x: np.ndarray) -> np.ndarray:
        return (self.X @ x[:, :, None])[:, :, 0] - self.y

    def loss(self, x: np.ndarray) -> np.ndarray:
        """(B,) the training losses (1/2n_tr) sum_train (y - <w, x>)^2."""
        r = self._sq(x)
        return 0.5 * np.einsum("bn,bn->b", self.train_mask, r * r) / self.train_mask.sum(axis=1)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """(B, d) the gradients of the training losses."""
        r = self._sq(x) * self.train_mask / self.train_mask.sum(axis=1)[:, None]
        return (r[:, None, :] @ self.X)[:, 0, :]

    def valid_loss(self, x: np.ndarray) -> np.ndarray | None:
        """(B,) the validation losses (NaN for a task without validation samples), or None when no
        task has any."""
        if not self.has_validation:
            return None
        r = self._sq(x)
        nv = self.valid_mask.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(nv > 0, 0.5 * np.einsum("bn,bn->b", self.valid_mask, r * r) / nv, np.nan)

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """(training loss, validation loss or None, gradient) at x from one residual."""
        r = self._sq(x)
        r2 = r * r
        ntr = self.train_mask.sum(axis=1)
        loss = 0.5 * np.einsum("bn,bn->b", self.train_mask, r2) / ntr
        grad = ((r * self.train_mask / ntr[:, None])[:, None, :] @ self.X)[:, 0, :]
        valid = None
        if self.has_validation:
            nv = self.valid_mask.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                valid = np.where(nv > 0, 0.5 * np.einsum("bn,bn->b", self.valid_mask, r2) / nv, np.nan)
        return loss, valid, grad

    def test_error(self, x: np.ndarray) -> np.ndarray:
        """(B,) the exact ||w - w*||^2."""
        e = x - self.w_star
        return np.einsum("bd,bd->b", e, e)

    def take(self, idx: Any) -> "LeastSquaresTasks":
        i = _index(idx, self.size)
        return LeastSquaresTasks(self.X[i], self.y[i], self.w_star[i], self.train_mask[i], self.valid_mask[i], self.sigma)

    def view(self, n_train: int | None = None) -> "LeastSquaresTasks":
        """The same samples with the first ``n_train`` training and the rest validating (TbV), or,
        with None, every sample training and no validation set (TbT, and test-time training)."""
        n = self.X.shape[1]
        tr = np.ones_like(self.y)
        va = np.zeros_like(self.y)
        if n_train is not None:
            n_train = as_int("n_train", n_train, 1, n - 1)
            tr[:, n_train:] = 0.0
            va[:, n_train:] = 1.0
        return LeastSquaresTasks(self.X, self.y, self.w_star, tr, va, self.sigma)


def least_squares_tasks(count: int, d: int, n: int, sigma: float, rng: np.random.Generator) -> LeastSquaresTasks:
    """``count`` tasks of Wang et al. (2021) §4 with n samples each, all training (use
    :meth:`LeastSquaresTasks.view` for a TbV split). Draw order: all w*, then all X, then all noise.

    >>> t = least_squares_tasks(3, d=4, n=2, sigma=1.0, rng=task_rng(0))
    >>> t.X.shape, np.round(np.linalg.norm(t.w_star, axis=1), 12).tolist(), t.view(1).has_validation
    ((3, 2, 4), [1.0, 1.0, 1.0], True)
    """
    count = as_int("count", count, 1, MAX_TASKS)
    d = as_int("d", d, 1, 10_000)
    n = as_int("n", n, 1, 100_000)
    sigma = as_real("sigma", sigma, 0.0)
    if count * n * d > 10**8:
        raise ValidationError("count", f"count x n x d must be at most 1e8 (got {count * n * d})")
    if not isinstance(rng, np.random.Generator):
        raise ValidationError("rng", "must be a numpy.random.Generator")
    w = rng.standard_normal((count, d))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    X = rng.standard_normal((count, n, d))
    y = np.einsum("bnd,bd->bn", X, w) + sigma * rng.standard_normal((count, n))
    return LeastSquaresTasks(X, y, w, np.ones((count, n)), np.zeros((count, n)), float(sigma))


def unroll_objective(kind: str, train_losses: np.ndarray, valid_losses: np.ndarray | None = None) -> np.ndarray:
    """The meta-objective (module docstring) of each row of ``train_losses`` (B, T+1), the losses
    f_0..f_T along an unroll (``valid_losses`` likewise, needed for ``"tbv"``).

    >>> round(float(unroll_objective("log", np.array([[1.0, 0.5, 0.25, 0.125]]))[0]), 4)
    -0.5199
    >>> unroll_objective("tbt", np.array([[4.0, 2.0, 1.0]])).tolist()
    [1.5]
    """
    kind = as_choice("kind", kind, OBJECTIVES)
    f = np.asarray(train_losses, dtype=np.float64)
    if f.ndim != 2 or f.shape[1] < 2:
        raise ValidationError("train_losses", "must be a (B, T + 1) array with T >= 1")
    if kind == "log":
        f0 = f[:, :1]
        used = np.concatenate([f0, f[:, :-1]], axis=1)
        return np.mean(np.log(used / (f0 + META_EPS) + META_EPS), axis=1)
    if kind == "tbt":
        return np.mean(f[:, 1:], axis=1)
    if valid_losses is None:
        raise ValidationError("valid_losses", "the tbv objective needs the validation losses")
    v = np.asarray(valid_losses, dtype=np.float64)
    if v.shape != f.shape:
        raise ValidationError("valid_losses", f"must have the shape of train_losses {f.shape}")
    return np.mean(v[:, 1:], axis=1)
