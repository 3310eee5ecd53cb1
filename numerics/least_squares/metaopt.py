r"""Meta-optimisation on least-squares tasks: train-by-train vs train-by-validation.

Wang, Yuan, Wu & Ge (2021) Section 4 (``../shared/papers/wang2021.md`` §2.3, §4, §5 items
10-13, §6.2, §7 items 11-15). Everything here evaluates GD in closed form through
:mod:`numerics.least_squares.closed_form`; only the truncation rule needs the whole trajectory, and
its first crossing is found exactly from the closed-form norms ||w_tau||, tau = 0..t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, NamedTuple

import numpy as np

from ..problems import LeastSquaresProblem
from ..quadratic.metaopt import MAX_META_STEPS
from ..validation import ValidationError, as_choice, as_horizon, as_int, as_nonnegative_reals, as_real, as_real_vector
from . import closed_form

__all__ = [
    "TRUNCATION_FACTOR",
    "MAX_TASK_HORIZON",
    "DEFAULT_ETA_GRID",
    "Task",
    "sample_tasks",
    "MetaObjective",
    "meta_objective",
    "tbt_objective",
    "tbv_objective",
    "MetaMinimum",
    "minimise_meta_objective",
    "TaskMetaTrajectory",
    "meta_gd_tasks",
    "test_error",
    "test_errors",
    "expected_test_error",
    "eta_tbt_limit",
    "erm_error_underdetermined",
    "erm_error_overdetermined",
    "EarlyStopping",
    "early_stopping_optimum",
    "TbtVsTbv",
    "tbt_vs_tbv",
]

#: The truncation radius is TRUNCATION_FACTOR * sigma (Wang et al. 2021 §4; spec §2.3) [paper].
TRUNCATION_FACTOR = 40.0
#: Largest horizon accepted by the task meta-objectives: the truncation rule needs ||w_tau|| at
#: every tau <= t for step sizes that can diverge, O(t x rank) each (about 1 s per such step
#: size and task at t = 10^5, rank 100; convergent step sizes are cleared by a bound at once).
MAX_TASK_HORIZON = 10**6
#: The released code's step-size grid, ``logspace(-6, 0, 25)`` (spec §6.2) [code].
DEFAULT_ETA_GRID = np.logspace(-6, 0, 25)
_KINDS = ("tbt", "tbv")
_TRAIN_ON = ("train", "all")


@dataclass(frozen=True, eq=False)
class Task:
    r"""One least-squares task of Wang et al. (2021) §4 (spec §2.3) [paper].

    ``problem`` holds the n_train training samples (and the n_valid validation samples as
    ``X_valid``, ``y_valid`` when n_valid > 0); ``w_star`` is the task's ground truth (unit norm),
    ``sigma`` the noise level and ``u`` the unit vector the iterate is frozen at when truncated
    (radius :data:`TRUNCATION_FACTOR` * sigma). GD always starts at w0 = 0.

    The spectra are computed once and cached (pure functions of the frozen task).
    """

    problem: LeastSquaresProblem
    w_star: np.ndarray
    sigma: float
    u: np.ndarray

    @property
    def radius(self) -> float:
        return TRUNCATION_FACTOR * self.sigma

    @cached_property
    def spectrum(self) -> "closed_form.LeastSquaresSpectrum":
        """Closed-form data of GD on the training samples (validation kept for the TbV loss)."""
        return closed_form.spectrum(self.problem)

    @cached_property
    def merged(self) -> "Task":
        """The same task with every sample (training and validation) used for training."""
        p = self.problem
        if not p.has_validation:
            return self
        merged = LeastSquaresProblem(np.vstack([p.X, p.X_valid]), np.concatenate([p.y, p.y_valid]))
        return Task(merged, self.w_star, self.sigma, self.u)

    @cached_property
    def frozen_losses(self) -> tuple[float, float | None]:
        """(training loss, validation loss) at the frozen iterate radius * u."""
        p = self.problem
        w = self.radius * self.u
        r = p.y - p.X @ w
        tl = float(r @ r) / (2 * p.n)
        vl = None
        if p.has_validation:
            rv = p.y_valid - p.X_valid @ w
            vl = float(rv @ rv) / (2 * p.n_valid)
        return tl, vl


def sample_tasks(d: int, n_train: int, n_valid: int, m: int, sigma: float, seed: int) -> list[Task]:
    r"""m independent tasks from the distribution of Wang et al. (2021) §4 (spec §2.3) [paper].

    Each task: :math:`w^*` uniform on the unit sphere of :math:`\mathbb R^d`; rows
    :math:`x\sim\mathcal N(0, I_d)`; :math:`y = \langle w^*, x\rangle + \xi`,
    :math:`\xi\sim\mathcal N(0,\sigma^2)`; n_train training and n_valid (>= 0) validation samples.
    The truncation direction u is drawn uniformly on the sphere per task, once, from the same
    seeded generator ([code]: the released code draws a random unit vector; drawing it once per
    task makes the meta-objective a deterministic function of eta, which grid search and
    refinement need). Draw order per task, from ``numpy.random.default_rng(seed)``: w*, X, xi,
    X_valid, xi_valid, u. The paper assumes sigma >= 1; any sigma > 0 is accepted here.

    >>> tasks = sample_tasks(d=5, n_train=3, n_valid=2, m=4, sigma=1.0, seed=0)
    >>> len(tasks), tasks[0].problem.X.shape, tasks[0].problem.X_valid.shape, tasks[0].radius
    (4, (3, 5), (2, 5), 40.0)
    >>> round(float(np.linalg.norm(tasks[0].w_star)), 12), round(float(np.linalg.norm(tasks[0].u)), 12)
    (1.0, 1.0)
    """
    d = as_int("d", d, 1)
    n_train = as_int("n_train", n_train, 1)
    n_valid = as_int("n_valid", n_valid, 0)
    m = as_int("m", m, 1)
    sigma = as_real("sigma", sigma, 0.0, lo_open=True)
    seed = as_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(m):
        w = rng.standard_normal(d)
        w /= np.linalg.norm(w)
        x = rng.standard_normal((n_train, d))
        y = x @ w + sigma * rng.standard_normal(n_train)
        xv = yv = None
        if n_valid > 0:
            xv = rng.standard_normal((n_valid, d))
            yv = xv @ w + sigma * rng.standard_normal(n_valid)
        u = rng.standard_normal(d)
        u /= np.linalg.norm(u)
        w.setflags(write=False)
        u.setflags(write=False)
        tasks.append(Task(LeastSquaresProblem(x, y, xv, yv), w, sigma, u))
    return tasks


def _tasks(tasks: Any, need_valid: bool = False) -> list[Task]:
    if isinstance(tasks, Task):
        tasks = [tasks]
    try:
        tasks = list(tasks)
    except TypeError:
        raise ValidationError("tasks", f"must be a list of Task (got {type(tasks).__name__})") from None
    if not tasks:
        raise ValidationError("tasks", "must not be empty")
    for i, tk in enumerate(tasks):
        if not isinstance(tk, Task):
            raise ValidationError("tasks", f"entry {i} must be a Task (got {type(tk).__name__})")
        if need_valid and not tk.problem.has_validation:
            raise ValidationError("tasks", f"entry {i} has no validation set (TbV needs n_valid > 0)")
    return tasks


def _truncated(task: Task, sp: "closed_form.LeastSquaresSpectrum", eta: np.ndarray, t: int) -> np.ndarray:
    """Whether ||w_tau|| >= radius for some tau <= t (closed-form norms, every tau checked)."""
    return closed_form.first_crossing(sp, eta, t, task.radius) >= 0


@dataclass(frozen=True)
class MetaObjective:
    """A meta-objective on a grid of step sizes: ``value`` (mean meta-loss over the tasks),
    ``grad`` (its d/d eta, with frozen tasks contributing 0: the objective is piecewise smooth,
    and not differentiable where a task's first crossing changes) and ``truncated`` (fraction of
    tasks frozen at each eta)."""

    eta: np.ndarray
    value: np.ndarray
    grad: np.ndarray
    truncated: np.ndarray


def meta_objective(tasks: Any, eta: Any, t: Any, kind: str = "tbt", train_on: str = "train") -> MetaObjective:
    r"""The empirical meta-objective with truncation, vectorised over ``eta`` (any shape, >= 0).

    ``kind="tbt"``: Eq. (1), :math:`\hat F_{\rm TbT}(\eta) = \frac1m\sum_k \frac1{2n}\|y_k -
    X_kw_{t,\eta}^{(k)}\|^2` (training loss of the samples GD ran on). ``kind="tbv"``: Eq. (2),
    the mean validation loss :math:`\frac1{2n_2}\|y'_k - X'_kw_{t,\eta}^{(k)}\|^2` [paper §2.3].
    ``train_on="all"`` trains on training + validation samples (TbT only: TbV needs held-out data).
    Truncation [paper]: if :math:`\|w_\tau\|\ge40\sigma` for some :math:`\tau\le t`, the task's
    iterate is :math:`40\sigma u` (``Task.u``). Whether that happens is decided exactly from the
    closed-form norms at every :math:`\tau\le t` (:func:`numerics.least_squares.first_crossing`),
    so t is limited to :data:`MAX_TASK_HORIZON`; the losses of untruncated tasks come from
    :func:`numerics.least_squares.gd`.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=2, sigma=1.0, seed=1)
    >>> mo = meta_objective(tasks, [0.0, 1e3], 5, kind="tbv")
    >>> mo.truncated.tolist()                        # eta = 1e3 diverges at the first step
    [0.0, 1.0]
    >>> bool(mo.value[1] > 100 * mo.value[0]), mo.grad[1].item()
    (True, 0.0)
    """
    kind = as_choice("kind", kind, _KINDS)
    train_on = as_choice("train_on", train_on, _TRAIN_ON)
    if kind == "tbv" and train_on == "all":
        raise ValidationError("train_on", "must be 'train' for kind='tbv' (validation samples must be held out)")
    tasks = _tasks(tasks, need_valid=(kind == "tbv"))
    eta = as_nonnegative_reals("eta", eta)
    t = as_horizon("t", t, maximum=MAX_TASK_HORIZON)
    shape = eta.shape
    flat = eta.reshape(-1)
    value = np.zeros(flat.size)
    grad = np.zeros(flat.size)
    trunc = np.zeros(flat.size)
    for tk in tasks:
        task = tk.merged if train_on == "all" else tk
        sp = task.spectrum
        cut = _truncated(task, sp, flat, t)
        ok = ~cut
        frozen_train, frozen_valid = task.frozen_losses
        v = np.full(flat.size, frozen_train if kind == "tbt" else frozen_valid)
        g = np.zeros(flat.size)
        if ok.any():
            res = closed_form.gd(sp, flat[ok], t)
            v[ok] = res.train_loss if kind == "tbt" else res.valid_loss
            g[ok] = res.train_loss_grad if kind == "tbt" else res.valid_loss_grad
        value += v
        grad += g
        trunc += cut
    m = len(tasks)
    return MetaObjective(eta.copy(), (value / m).reshape(shape), (grad / m).reshape(shape), (trunc / m).reshape(shape))


def tbt_objective(tasks: Any, eta: Any, t: Any, train_on: str = "train") -> np.ndarray:
    r"""Train-by-train :math:`\hat F_{\rm TbT}(\eta)` (Eq. (1), with truncation); see :func:`meta_objective`.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=0, m=2, sigma=1.0, seed=1)
    >>> f = tbt_objective(tasks, [0.0, 0.5], 40)
    >>> bool(f[1] < 1e-6 * f[0])                     # n < d: the training loss is driven to ~0
    True
    """
    return meta_objective(tasks, eta, t, kind="tbt", train_on=train_on).value


def tbv_objective(tasks: Any, eta: Any, t: Any) -> np.ndarray:
    r"""Train-by-validation :math:`\hat F_{\rm TbV}(\eta)` (Eq. (2), with truncation); see :func:`meta_objective`.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=2, sigma=1.0, seed=1)
    >>> f0 = np.mean([tk.problem.y_valid @ tk.problem.y_valid / 6 for tk in tasks])   # w_t = 0
    >>> bool(abs(tbv_objective(tasks, [0.0], 40)[0] - f0) < 1e-15)
    True
    """
    return meta_objective(tasks, eta, t, kind="tbv").value


@dataclass(frozen=True)
class MetaMinimum:
    """Result of :func:`minimise_meta_objective`: ``eta`` (refined, or the grid point),
    ``value`` there, the best grid point ``grid_eta`` / ``grid_value``, and the whole ``grid`` and
    ``grid_values``."""

    eta: float
    value: float
    grid_eta: float
    grid_value: float
    grid: np.ndarray
    grid_values: np.ndarray
    refined: bool


def minimise_meta_objective(
    objective: Callable[..., np.ndarray],
    tasks: Any,
    t: Any,
    grid: Any = None,
    refine: bool = True,
) -> MetaMinimum:
    r"""eta* = argmin of ``objective(tasks, eta_array, t)`` by grid search, then bounded Brent.

    Grid search over ``grid`` (default :data:`DEFAULT_ETA_GRID`, ``logspace(-6, 0, 25)``, as the
    released code [code]); with ``refine``, :func:`scipy.optimize.minimize_scalar` (bounded,
    on ln eta, tolerance 1e-7 in ln eta) between the best grid point's neighbours (the best point
    itself at the ends of the grid: nothing outside the grid is searched). The refined point is
    kept only if it is no worse than the best grid point, so the result never loses to the grid.
    Brent assumes a unimodal objective inside the bracket; truncation can make the objective jump
    there, which at worst returns the grid point.

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=3, sigma=1.0, seed=2)
    >>> res = minimise_meta_objective(tbv_objective, tasks, 20)
    >>> bool(res.value <= res.grid_value), bool(res.grid[0] <= res.eta <= res.grid[-1])
    (True, True)
    """
    from scipy.optimize import minimize_scalar  # lazily: importing scipy.optimize costs ~0.4 s
    if not callable(objective):
        raise ValidationError("objective", f"must be callable (got {type(objective).__name__})")
    if not isinstance(refine, (bool, np.bool_)):
        raise ValidationError("refine", f"must be True or False (got {type(refine).__name__})")
    grid = DEFAULT_ETA_GRID if grid is None else grid
    g = as_nonnegative_reals("grid", grid).reshape(-1)
    g = np.unique(g)
    values = np.asarray(objective(tasks, g, t), dtype=np.float64).reshape(-1)
    if values.shape != g.shape:
        raise ValidationError("objective", f"must return one value per grid point ({g.size}), got {values.size}")
    if np.isnan(values).any():
        raise ValidationError("objective", "returned NaN on the grid")
    k = int(np.argmin(values))
    best_eta, best_val = float(g[k]), float(values[k])
    eta, val, refined = best_eta, best_val, False
    if refine and g.size > 1 and best_eta > 0:
        lo = float(g[k - 1]) if k > 0 else best_eta
        hi = float(g[k + 1]) if k + 1 < g.size else best_eta
        lo = lo if lo > 0 else best_eta  # ln eta needs eta > 0
        if hi > lo:
            res = minimize_scalar(
                lambda le: float(np.asarray(objective(tasks, np.array([math.exp(le)]), t)).reshape(-1)[0]),
                bounds=(math.log(lo), math.log(hi)),
                method="bounded",
                options={"xatol": 1e-7},
            )
            cand = math.exp(float(res.x))
            cval = float(np.asarray(objective(tasks, np.array([cand]), t)).reshape(-1)[0])
            if cval <= best_val:
                eta, val, refined = cand, cval, True
    return MetaMinimum(eta, val, best_eta, best_val, g, values, refined)


@dataclass(frozen=True)
class TaskMetaTrajectory:
    """Meta-GD on a least-squares meta-objective (:func:`meta_gd_tasks`): ``etas[k]`` after k
    steps, ``grads[k-1]`` the derivative used (of ln F when ``log``), ``truncated[k-1]`` the
    fraction of frozen tasks at ``etas[k-1]``."""

    kind: str
    t: int
    c: float
    log: bool
    etas: np.ndarray
    grads: np.ndarray
    truncated: np.ndarray


def meta_gd_tasks(
    tasks: Any,
    eta0: Any,
    t: Any,
    steps: Any,
    kind: str = "tbv",
    c: Any = 1e-3,
    log: bool = True,
    train_on: str = "train",
) -> TaskMetaTrajectory:
    r"""Meta-GD :math:`\eta_{k+1} = \max(0, \eta_k - (c/\sqrt k)\,D(\eta_k))` on a task meta-objective.

    D is :math:`\hat F'/\hat F` (the derivative of :math:`\ln\hat F`, as Theorem 4's log objective;
    ``log=True``) or :math:`\hat F'` (``log=False``), with :math:`\hat F` from
    :func:`meta_objective`. It is the exact derivative wherever no task's truncation status changes
    (the objective is differentiable there); frozen tasks contribute 0. For TbT with n < d,
    :math:`\hat F` is a mean of Section-3 quadratics and its naive derivative vanishes or explodes
    with t, hence the log default. This is the paper's Theorem 4 scheme transplanted to the
    least-squares objectives [derived]; the paper's experiment for §4 uses grid search (§6.2).

    >>> tasks = sample_tasks(d=6, n_train=3, n_valid=3, m=2, sigma=1.0, seed=1)
    >>> tr = meta_gd_tasks(tasks, 0.01, 10, 50, kind="tbv", c=1e-3)
    >>> tr.etas.shape, bool(np.all(tr.etas >= 0)), bool(np.all(tr.truncated == 0))
    ((51,), True, True)
    """
    kind = as_choice("kind", kind, _KINDS)
    tasks = _tasks(tasks, need_valid=(kind == "tbv"))
    eta = as_real("eta0", eta0, 0.0)
    t = as_horizon("t", t, maximum=MAX_TASK_HORIZON)
    steps = as_horizon("steps", steps, maximum=MAX_META_STEPS)
    c = as_real("c", c, 0.0, lo_open=True)
    if not isinstance(log, (bool, np.bool_)):
        raise ValidationError("log", f"must be True or False (got {type(log).__name__})")
    etas = np.empty(steps + 1)
    grads = np.empty(steps)
    trunc = np.empty(steps)
    etas[0] = eta
    for k in range(1, steps + 1):
        mo = meta_objective(tasks, eta, t, kind=kind, train_on=train_on)
        f, g = float(mo.value), float(mo.grad)
        d = g / f if log else g
        if not math.isfinite(d):
            raise ValidationError("eta0", f"meta-gradient is not finite at eta = {eta!r} (F = {f!r}, F' = {g!r})")
        grads[k - 1] = d
        trunc[k - 1] = float(mo.truncated)
        eta = max(0.0, eta - c / math.sqrt(k) * d)
        etas[k] = eta
    return TaskMetaTrajectory(kind, t, c, bool(log), etas, grads, trunc)


def test_error(w_star: Any, w: Any) -> np.ndarray:
    r"""||w - w*||^2 (over the last axis of w): the error bounded in Theorems 5 and 6 [paper].

    >>> test_error([1.0, 0.0], [[0.0, 0.0], [1.0, 1.0]]).tolist()
    [1.0, 1.0]
    """
    ws = as_real_vector("w_star", w_star)
    w = np.asarray(w, dtype=np.float64)
    if w.shape[-1:] != ws.shape:
        raise ValidationError("w", f"last axis must have length {ws.size} like w_star (got shape {w.shape})")
    diff = w - ws
    return np.sum(diff * diff, axis=-1)


test_error.__test__ = False  # not a pytest test despite the name


def test_errors(tasks_test: Any, eta: Any, t: Any, train_on: str = "all") -> np.ndarray:
    r"""||w_{t,eta} - w*||^2 per test task: shape ``(len(tasks_test),) + eta.shape``.

    Each test task runs GD (with the truncation rule) on all its samples (``train_on="all"``,
    training + validation, as the released code [code; spec §6.2, §8]) or on its training
    samples only (``"train"``).
    """
    train_on = as_choice("train_on", train_on, _TRAIN_ON)
    tasks = _tasks(tasks_test)
    eta = as_nonnegative_reals("eta", eta)
    t = as_horizon("t", t, maximum=MAX_TASK_HORIZON)
    flat = eta.reshape(-1)
    out = np.empty((len(tasks), flat.size))
    for j, tk in enumerate(tasks):
        task = tk.merged if train_on == "all" else tk
        sp = task.spectrum
        cut = _truncated(task, sp, flat, t)
        err = np.full(flat.size, float(test_error(task.w_star, task.radius * task.u)))
        if (~cut).any():
            err[~cut] = test_error(task.w_star, closed_form.iterate(sp, flat[~cut], t))
        out[j] = err
    return out.reshape((len(tasks),) + eta.shape)


test_errors.__test__ = False


def expected_test_error(tasks_test: Any, eta: Any, t: Any, train_on: str = "all") -> np.ndarray:
    r"""Monte Carlo estimate of :math:`\mathbb E\|w_{t,\eta} - w^*\|^2` over new tasks: the mean of
    :func:`test_errors` over ``tasks_test`` (shape of ``eta``). Test tasks train on all their
    samples by default, as the released code (spec §8: the paper does not say).

    >>> tasks = sample_tasks(d=4, n_train=2, n_valid=2, m=3, sigma=1.0, seed=0)
    >>> expected_test_error(tasks, [0.0], 10).round(12).tolist()    # w_0 = 0: ||w*||^2 = 1
    [1.0]
    """
    return np.mean(test_errors(tasks_test, eta, t, train_on=train_on), axis=0)


def eta_tbt_limit(problem: Any) -> float:
    r"""2 / (lambda_max + lambda_min^+) of H = X^T X / n: the t -> infinity limit of the TbT
    minimiser when n < d (spec §5 item 11 [derived]; Theorem 4 remark with H restricted to its
    range). Accepts a :class:`Task` (its training samples) or a LeastSquaresProblem.

    >>> eta_tbt_limit(LeastSquaresProblem([[1.0, 0.0], [0.0, 3.0]], [1.0, 1.0]))   # H = diag(1/2, 9/2)
    0.4
    """
    if isinstance(problem, Task):
        problem = problem.problem
    sp = closed_form.spectrum(problem)
    if sp.rank == 0:
        raise ValidationError("problem", "X is zero: H has no positive eigenvalue")
    return 2.0 / (sp.lam_max + sp.lam_min_positive)


def erm_error_underdetermined(n: int, d: int, sigma: float) -> float:
    r""":math:`\mathbb E\|X^+y - w^*\|^2 = (1 - n/d)\|w^*\|^2 + \sigma^2 n/(d-n-1)` for n < d - 1,
    Gaussian design, :math:`\|w^*\| = 1` (spec §5 item 12 [derived]; inverse-Wishart mean).

    >>> round(erm_error_underdetermined(100, 200, 1.0), 6)            # about 1/2 + sigma^2
    1.510101
    """
    n = as_int("n", n, 1)
    d = as_int("d", d, 1)
    sigma = as_real("sigma", sigma, 0.0)
    if not d > n + 1:
        raise ValidationError("d", f"must exceed n + 1 = {n + 1} (the inverse-Wishart mean is finite only then), got {d}")
    return (1.0 - n / d) + sigma**2 * n / (d - n - 1)


def erm_error_overdetermined(n: int, d: int, sigma: float) -> float:
    r""":math:`\mathbb E\|w_{\rm ERM} - w^*\|^2 = \sigma^2 d/(n-d-1)` for n > d + 1, Gaussian design
    (spec §5 item 12 [derived]); it is :math:`(1+o(1))\,d\sigma^2/n`.

    >>> round(erm_error_overdetermined(2000, 50, 1.0), 6)
    0.025654
    """
    n = as_int("n", n, 1)
    d = as_int("d", d, 1)
    sigma = as_real("sigma", sigma, 0.0)
    if not n > d + 1:
        raise ValidationError("n", f"must exceed d + 1 = {d + 1} (the inverse-Wishart mean is finite only then), got {n}")
    return sigma**2 * d / (n - d - 1)


class EarlyStopping(NamedTuple):
    """s* (the best multiple of b = X^T y / n_1 in the small-step regime) and its error 1 - s*."""

    s_star: float
    error: float


def early_stopping_optimum(d: int, n1: int, sigma: float) -> EarlyStopping:
    r"""Early-stopping prediction for TbV (spec §5 item 13 [derived]).

    When :math:`\eta t\lambda_{\max}\ll 1`, :math:`w_t\approx\eta t\,b` with
    :math:`b = X^\top y/n_1`, and with :math:`\mathbb E[\hat H^2] = (1+(d+1)/n_1)I`,
    :math:`\|w^*\| = 1`: :math:`\mathbb E\|sb - w^*\|^2 = 1 - 2s + s^2(1 + (d+1)/n_1 +
    \sigma^2 d/n_1)`, minimised at :math:`s^* = 1/(1 + (d+1)/n_1 + \sigma^2 d/n_1)` with error
    :math:`1 - s^*`; the matching step size is :math:`\eta\approx s^*/t`.

    >>> es = early_stopping_optimum(200, 50, 1.0)
    >>> round(es.s_star, 6), round(es.error, 6)
    (0.110865, 0.889135)
    """
    d = as_int("d", d, 1)
    n1 = as_int("n1", n1, 1)
    sigma = as_real("sigma", sigma, 0.0)
    s = 1.0 / (1.0 + (d + 1) / n1 + sigma**2 * d / n1)
    return EarlyStopping(s, 1.0 - s)


@dataclass(frozen=True)
class TbtVsTbv:
    """One run of the §7 item 13/14 comparison (:func:`tbt_vs_tbv`)."""

    d: int
    n: int
    n1: int
    sigma: float
    t: int
    m: int
    m_test: int
    tbt: MetaMinimum
    tbv: MetaMinimum
    error_tbt: float  #: mean ||w - w*||^2 over the test tasks at eta_TbT
    error_tbv: float
    error_tbt_se: float  #: its standard error over the test tasks
    error_tbv_se: float
    errors_tbt: tuple = ()  #: ||w - w*||^2 on each test task at eta_TbT
    errors_tbv: tuple = ()  #: the same at eta_TbV

    def test_rmse(self, which: str) -> np.ndarray:
        r"""Population test RMSE per test task, :math:`\sqrt{\|w_t - w^*\|^2 + \sigma^2}`.

        For a fresh test point :math:`x\sim\mathcal N(0, I_d)`, :math:`y = \langle w^*, x\rangle + \xi`,
        :math:`\xi\sim\mathcal N(0,\sigma^2)` independent of the trained ``w``, the expected squared
        residual is :math:`\mathbb E(\langle w - w^*, x\rangle - \xi)^2 = \|w - w^*\|^2 + \sigma^2`:
        the RMSE on an infinitely large fresh test set (the paper's Figures 3-4 use 500 fresh points).
        ``which`` is ``"tbt"`` or ``"tbv"``.
        """
        errs = {"tbt": self.errors_tbt, "tbv": self.errors_tbv}.get(which)
        if errs is None:
            raise ValidationError("which", f"must be 'tbt' or 'tbv', got {which!r}")
        return np.sqrt(np.asarray(errs, dtype=float) + self.sigma**2)


def tbt_vs_tbv(
    d: int,
    n: int,
    sigma: float,
    t: int,
    m: int,
    m_test: int,
    seed: int,
    n1: int | None = None,
    grid: Any = None,
    refine: bool = True,
) -> TbtVsTbv:
    r"""Tune eta by TbT(n) and by TbV(n1, n - n1) on the same m tasks, test both on m_test new tasks.

    The setting of spec §6.2 / §7 items 13-14 [code]: each training task has n samples; TbT
    trains and evaluates on all n (:func:`tbt_objective` with ``train_on="all"``), TbV trains on
    the first n1 (default n // 2, the 50/50 split) and validates on the rest. eta* is chosen by
    :func:`minimise_meta_objective` (grid, then refinement if ``refine``), and test tasks train on
    all n samples. Training and test tasks come from independent seeds derived from ``seed``.

    >>> r = tbt_vs_tbv(d=20, n=10, sigma=2.0, t=40, m=5, m_test=20, seed=0, refine=False)
    >>> bool(r.tbt.eta > 30 * r.tbv.eta), bool(r.error_tbt > r.error_tbv)
    (True, True)
    """
    n = as_int("n", n, 2)
    n1 = n // 2 if n1 is None else as_int("n1", n1, 1)
    if not n1 < n:
        raise ValidationError("n1", f"must be < n = {n} (TbV needs validation samples), got {n1}")
    seed = as_int("seed", seed, 0)
    s_train, s_test = (int(v) for v in np.random.SeedSequence(seed).generate_state(2))
    tasks = sample_tasks(d, n1, n - n1, m, sigma, s_train)
    tests = sample_tasks(d, n1, n - n1, m_test, sigma, s_test)
    tbt = minimise_meta_objective(lambda ts, e, tt: tbt_objective(ts, e, tt, train_on="all"), tasks, t, grid, refine)
    tbv = minimise_meta_objective(tbv_objective, tasks, t, grid, refine)
    errs = test_errors(tests, [tbt.eta, tbv.eta], t, train_on="all")
    mean = errs.mean(axis=0)
    se = errs.std(axis=0, ddof=1) / math.sqrt(errs.shape[0]) if errs.shape[0] > 1 else np.full(2, np.nan)
    return TbtVsTbv(d, n, n1, float(sigma), int(t), m, m_test, tbt, tbv, float(mean[0]), float(mean[1]), float(se[0]), float(se[1]),
                    tuple(float(e) for e in errs[:, 0]), tuple(float(e) for e in errs[:, 1]))
