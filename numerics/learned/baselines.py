r"""Hand-designed baselines for the learned optimizers, tuned over a learning-rate grid on training
tasks and evaluated on held-out tasks, vectorised over tasks and learning rates.

Methods (gradient :math:`g_t` of the task's training loss; every state starts at 0; full-batch on
the deterministic tasks of :mod:`.tasks`):

- ``"sgd"``: :math:`x\leftarrow x-\eta g` (full-batch GD on these tasks);
- ``"momentum"``: heavy ball :math:`v\leftarrow\mu v-\eta g,\ x\leftarrow x+v`, :math:`\mu=0.9`;
- ``"rmsprop"``: :math:`s\leftarrow\rho s+(1-\rho)g^2,\ x\leftarrow x-\eta g/(\sqrt s+\epsilon)`,
  :math:`\rho=0.9`, :math:`\epsilon=10^{-8}` (as TensorFlow's RMSProp without momentum, the
  baseline of Wichrowska et al. 2017, save TF's eps inside the root);
- ``"adam"``: :math:`\beta_1=0.9,\ \beta_2=0.999,\ \epsilon=10^{-8}`, bias-corrected.

Grids: :data:`RMSPROP_GRID`, the 7 learning rates of claim C8 of the Wichrowska et al. digest
(``logspace(-3, 0, 7)``: the digest fixes the count, not the values; this range brackets the
optimum on the 2-D ensemble), and :data:`DEFAULT_GRID` (``logspace(-4, 1, 11)``) otherwise.
Tuning picks the grid point with the lowest mean objective over the training tasks (ties: the
first); :func:`tune` returns every grid value so the reader sees how flat the optimum is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_choice, as_int, as_real, as_real_vector
from .tasks import OBJECTIVES, unroll_objective

__all__ = ["METHODS", "RMSPROP_GRID", "DEFAULT_GRID", "BaselineRun", "run", "TunedBaseline", "tune", "evaluate"]

METHODS = ("sgd", "momentum", "rmsprop", "adam")
#: The 7 RMSProp learning rates of claim C8 (module docstring).
RMSPROP_GRID = np.logspace(-3, 0, 7)
#: The default grid of the other methods.
DEFAULT_GRID = np.logspace(-4, 1, 11)
_METRICS = OBJECTIVES + ("test_error", "final_loss")


@result_type
@dataclass(frozen=True)
class BaselineRun:
    """``method`` at each learning rate on each task."""

    method: str
    lrs: np.ndarray  #: (L,)
    train_losses: np.ndarray  #: (L, B, T + 1)
    valid_losses: np.ndarray | None  #: (L, B, T + 1) or None
    final: np.ndarray  #: (L, B, D) the last iterates


@returns(BaselineRun)
def run(method: str, lrs: Any, tasks: Any, T: int, radius: float | None = None, *, mu: float = 0.9, decay: float = 0.9,
        beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> BaselineRun:
    """``method`` (module docstring) for T steps at every learning rate of ``lrs`` on every task of
    ``tasks`` from its x0, all at once. ``radius``: the truncation of Wang et al. (2021) (once
    ||x|| >= radius, or a step is not finite, the iterate stays where it was), as in
    :func:`.metatrain.unroll`.

    >>> from l2l.numerics.learned.tasks import bowl_quadratic_ensemble, task_rng
    >>> r = run("sgd", [0.1], bowl_quadratic_ensemble(3, task_rng(0)), 50)
    >>> r.train_losses.shape, bool(np.all(r.train_losses[0, :, -1] <= r.train_losses[0, :, 0]))
    ((1, 3, 51), True)
    """
    method = as_choice("method", method, METHODS)
    lr = as_real_vector("lrs", np.atleast_1d(np.asarray(lrs, dtype=np.float64)), positive=True)
    T = as_int("T", T, 1, 10**5)
    for name, val in (("mu", mu), ("decay", decay), ("beta1", beta1), ("beta2", beta2)):
        as_real(name, val, 0.0, 1.0, hi_open=True)
    L, B = lr.size, tasks.size
    big = tasks.take(np.tile(np.arange(B), L))
    eta = np.repeat(lr, B)[:, None]
    x = big.x0.copy()
    a = np.zeros_like(x)  # velocity / mean square / first moment
    c = np.zeros_like(x)  # Adam's second moment
    train = np.empty((L * B, T + 1))
    valid = np.empty((L * B, T + 1)) if big.has_validation else None
    frozen = np.zeros(L * B, dtype=bool)
    train[:, 0] = big.loss(x)
    if valid is not None:
        valid[:, 0] = big.valid_loss(x)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            g = big.grad(x)
            if method == "sgd":
                xn = x - eta * g
            elif method == "momentum":
                a = mu * a - eta * g
                xn = x + a
            elif method == "rmsprop":
                a = decay * a + (1.0 - decay) * g * g
                xn = x - eta * g / (np.sqrt(a) + eps)
            else:
                a = beta1 * a + (1.0 - beta1) * g
                c = beta2 * c + (1.0 - beta2) * g * g
                xn = x - eta * (a / (1.0 - beta1**t)) / (np.sqrt(c / (1.0 - beta2**t)) + eps)
            bad = ~np.all(np.isfinite(xn), axis=1)
            if radius is not None:
                bad |= np.linalg.norm(np.where(np.isfinite(xn), xn, 0.0), axis=1) >= radius
            frozen |= bad
            x = np.where(frozen[:, None], x, xn)
            train[:, t] = big.loss(x)
            if valid is not None:
                valid[:, t] = big.valid_loss(x)
    shape = (L, B, T + 1)
    return BaselineRun(method, lr, train.reshape(shape), None if valid is None else valid.reshape(shape),
                       x.reshape(L, B, -1))


def _metric(metric: str, r: BaselineRun, tasks: Any) -> np.ndarray:
    """(L, B) the metric of every run."""
    L, B = r.train_losses.shape[:2]
    if metric == "test_error":
        return np.stack([tasks.test_error(r.final[i]) for i in range(L)])
    if metric == "final_loss":
        return r.train_losses[:, :, -1]
    tr = r.train_losses.reshape(L * B, -1)
    va = None if r.valid_losses is None else r.valid_losses.reshape(L * B, -1)
    return unroll_objective(metric, tr, va).reshape(L, B)


@result_type
@dataclass(frozen=True)
class TunedBaseline:
    """A method tuned over a learning-rate grid."""

    method: str
    lrs: np.ndarray  #: (L,) the grid
    objective: np.ndarray  #: (L,) the mean training-task objective at each grid point
    best_lr: float  #: the grid point with the lowest objective (first on ties)
    best_index: int


@returns(TunedBaseline)
def tune(method: str, tasks: Any, T: int, objective: str = "log", lrs: Any = None, radius: float | None = None) -> TunedBaseline:
    """Tune ``method`` on ``tasks`` by the mean ``objective`` (module docstring); ``lrs`` defaults
    to :data:`RMSPROP_GRID` for RMSProp and :data:`DEFAULT_GRID` otherwise. Non-finite objectives
    count as +inf."""
    objective = as_choice("objective", objective, _METRICS)
    method = as_choice("method", method, METHODS)
    grid = (RMSPROP_GRID if method == "rmsprop" else DEFAULT_GRID) if lrs is None else lrs
    r = run(method, grid, tasks, T, radius)
    vals = np.mean(_metric(objective, r, tasks), axis=1)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    i = int(np.argmin(vals))
    return TunedBaseline(method, r.lrs, vals, float(r.lrs[i]), i)


def evaluate(method: str, lr: float, tasks: Any, T: int, metric: str = "log", radius: float | None = None) -> np.ndarray:
    """(B,) ``metric`` of ``method`` at learning rate ``lr`` on every task of ``tasks``."""
    metric = as_choice("metric", metric, _METRICS)
    lr = as_real("lr", lr, 0.0, lo_open=True)
    if not hasattr(tasks, "take"):
        raise ValidationError("tasks", "must be a task batch of numerics.learned.tasks")
    return _metric(metric, run(method, [lr], tasks, T, radius), tasks)[0]
