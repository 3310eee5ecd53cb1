r"""The uv-model: a two-parameter linear network, a scaled-down analogue of the break-even point
(Jastrzebski et al. (2020), Conjecture 1; items B4 and B3 of the paper's digest, [derived]).

Model. Data :math:`x_1..x_N` (N = 64), targets equal to the inputs, prediction :math:`uvx_i`:

.. math::  \ell(u,v)=\frac1N\sum_i\tfrac12(uvx_i-x_i)^2=\tfrac12\,m_2\,(uv-1)^2,\qquad m_2=\frac1N\sum_ix_i^2 .

The default data are ``x = default_rng(seed).standard_normal(64)`` divided by
:math:`\sqrt{m_2}` (with :math:`m_2` summed by :func:`math.fsum`), so that :math:`m_2=1` up to
rounding: the normalised ``mean(x**2)`` differs from 1 by at most a few ulps (by 0, 1.1e-16 or 2.2e-16
for seeds 0-9, depending on how it is summed); float64 cannot make it exactly 1 in general.
Per example, :math:`g_i=x_i^2(uv-1)\,(v,u)` and

.. math::  H_i=x_i^2\begin{pmatrix}v^2&2uv-1\\2uv-1&u^2\end{pmatrix},\qquad H=\frac1N\sum_iH_i=m_2\begin{pmatrix}v^2&2uv-1\\2uv-1&u^2\end{pmatrix}.

On the minimum manifold :math:`uv=1` the eigenvalues are 0 and :math:`m_2(u^2+v^2)\ge2m_2`. The top
Hessian eigenvalue :math:`\lambda_H^1` is the largest (algebraic) eigenvalue of the exact 2 x 2
``H`` (``numpy.linalg.eigvalsh``); the per-example curvatures along its eigenvector :math:`e`
are :math:`h_i=e^\top H_ie=x_i^2\lambda_H^1/m_2`, the input of Eq. 1 (:mod:`.stability`).

Training (:func:`run_uv`). Full-batch GD :math:`\theta'=\theta-\eta\nabla\ell`; its gradient is
:math:`m_2(uv-1)(v,u)`, so with :math:`m_2=1` the GD trajectory does **not depend on x** (only on
:math:`m_2`, i.e. on x at the rounding level). SGD: at every step a minibatch B of S distinct
indices (``Generator.choice(N, S, replace=False)``, independent across steps) and
:math:`\theta'=\theta-\eta\,\overline{x^2}_B(uv-1)(v,u)`: all per-example gradients are parallel,
so SGD is GD with a random step multiplier :math:`\overline{x^2}_B`. With the default data, the
batches come from the same generator after the draw of x; with a given x, from a fresh
``default_rng(seed)``.

Status, never NaN: ``"diverged"`` as soon as :math:`|uv|>` :data:`DIVERGENCE_BOUND` = 1e6 (loss
above 5e11, twelve orders of magnitude above the initial 0.32) or :math:`u^2+v^2>` 1e12 (a bound
on the curvature), and the run stops there (a stopping rule, not a proof of divergence);
otherwise ``"converged"`` when :math:`|uv-1|\le` :data:`CONVERGENCE_TOL` = 1e-8 at the last step
(eight orders below the initial 0.8, eight above the rounding floor of about 2e-16), else
``"not_converged"``.

Example (GD, eta = 0.45: :math:`\lambda_H^1` settles below :math:`2/\eta=4.44` after a transient
above it)::

    >>> r = run_uv(0.45)
    >>> r.status, round(r.final_lambda, 3), round(r.running_max, 2), round(2 / 0.45, 2)
    ('converged', 3.446, 5.32, 4.44)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_int, as_real, as_real_vector
from .stability import alpha_star

__all__ = [
    "N_EXAMPLES",
    "UV_INIT",
    "DIVERGENCE_BOUND",
    "CONVERGENCE_TOL",
    "MAX_UV_STEPS",
    "MAX_UV_EXAMPLES",
    "MAX_ABS_INPUT",
    "ALPHA_FLOOR",
    "uv_data",
    "uv_loss",
    "uv_gradients",
    "uv_gradient",
    "uv_hessian",
    "uv_example_hessians",
    "TopCurvatures",
    "uv_top_curvatures",
    "UVRun",
    "run_uv",
]

#: Number of examples of the default data set.
N_EXAMPLES = 64
#: Default initial point (u, v).
UV_INIT = (0.1, 2.0)
#: A run stops as "diverged" once |u v| exceeds this (the loss is then above 5e11).
DIVERGENCE_BOUND = 1e6
#: ... or once u^2 + v^2 exceeds this (then lambda_H^1 <= m2 (u^2 + v^2 + |2uv - 1|) stays finite).
_NORM_BOUND = 1e12
#: A run that did not diverge is "converged" when |u v - 1| <= this at its last step.
CONVERGENCE_TOL = 1e-8
#: alpha* is not computed (masked) where |u v - 1| <= this: the loss there is within about four
#: orders of magnitude of its rounding noise (|uv - 1| ~ 2e-16), and alpha* would measure the noise.
ALPHA_FLOOR = 1e-12
#: Largest number of steps of one run.
MAX_UV_STEPS = 10**6
#: Largest data set accepted.
MAX_UV_EXAMPLES = 10**5
#: Largest |x_i| accepted: one step from inside the bounded region then stays far inside float64.
MAX_ABS_INPUT = 1e6


def uv_data(seed: int = 0, n: int = N_EXAMPLES) -> np.ndarray:
    """The default inputs: ``default_rng(seed).standard_normal(n)`` scaled so that mean(x^2) = 1 up
    to rounding (module docstring).

    >>> x = uv_data(0)
    >>> x.shape, abs(float(np.mean(x**2)) - 1.0) < 1e-15
    ((64,), True)
    """
    seed = as_int("seed", seed, 0)
    n = as_int("n", n, 1, MAX_UV_EXAMPLES)
    return _normalised(np.random.default_rng(seed).standard_normal(n))


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / math.sqrt(math.fsum((x * x).tolist()) / x.size)


def _inputs(x: Any) -> np.ndarray:
    arr = as_real_vector("x", x)
    if arr.size > MAX_UV_EXAMPLES:
        raise ValidationError("x", f"must have at most {MAX_UV_EXAMPLES} entries (got {arr.size})")
    if float(np.max(np.abs(arr))) > MAX_ABS_INPUT:
        raise ValidationError("x", f"every |x_i| must be <= {MAX_ABS_INPUT:g} (got {float(np.max(np.abs(arr)))!r})")
    if not (arr != 0).any():
        raise ValidationError("x", "must not be all zero (the loss would be identically 0)")
    return arr


def _point(theta: Any) -> tuple[float, float]:
    u, v = as_real_vector("theta", theta, length=2).tolist()
    return u, v


def _second_moment(x: np.ndarray) -> float:
    return math.fsum((x * x).tolist()) / x.size


def uv_loss(theta: Any, x: Any) -> float:
    r""":math:`\ell(u,v)=\frac1N\sum_i\tfrac12(uvx_i-x_i)^2` at ``theta = (u, v)``, from its definition.

    >>> round(uv_loss([0.1, 2.0], uv_data(0)), 12)  # 1/2 (0.2 - 1)^2 mean(x^2)
    0.32
    """
    u, v = _point(theta)
    xs = _inputs(x)
    return 0.5 * math.fsum(((u * v * xs - xs) ** 2).tolist()) / xs.size


def uv_gradients(theta: Any, x: Any) -> np.ndarray:
    r"""Per-example gradients :math:`g_i=x_i^2(uv-1)(v,u)`, an (N, 2) array.

    >>> uv_gradients([1.0, 2.0], [1.0, 2.0]).tolist()
    [[2.0, 1.0], [8.0, 4.0]]
    """
    u, v = _point(theta)
    xs = _inputs(x)
    return (xs * xs * (u * v - 1.0))[:, None] * np.array([v, u])[None, :]


def uv_gradient(theta: Any, x: Any) -> np.ndarray:
    r"""The full-batch gradient :math:`m_2(uv-1)(v,u)` (closed form; equals the mean of
    :func:`uv_gradients` up to rounding).

    >>> uv_gradient([1.0, 2.0], [1.0, 2.0]).tolist()
    [5.0, 2.5]
    """
    u, v = _point(theta)
    m2 = _second_moment(_inputs(x))
    return m2 * (u * v - 1.0) * np.array([v, u])


def _unit_hessian(u: float, v: float) -> np.ndarray:
    b = 2.0 * u * v - 1.0
    return np.array([[v * v, b], [b, u * u]])


def uv_hessian(theta: Any, x: Any) -> np.ndarray:
    r"""The exact full-batch Hessian :math:`m_2\begin{pmatrix}v^2&2uv-1\\2uv-1&u^2\end{pmatrix}`.

    >>> uv_hessian([1.0, 1.0], [1.0, -1.0]).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    u, v = _point(theta)
    return _second_moment(_inputs(x)) * _unit_hessian(u, v)


def uv_example_hessians(theta: Any, x: Any) -> np.ndarray:
    r"""Per-example Hessians :math:`H_i=x_i^2\begin{pmatrix}v^2&2uv-1\\2uv-1&u^2\end{pmatrix}`, (N, 2, 2).

    >>> uv_example_hessians([1.0, 1.0], [2.0]).tolist()
    [[[4.0, 4.0], [4.0, 4.0]]]
    """
    u, v = _point(theta)
    xs = _inputs(x)
    return (xs * xs)[:, None, None] * _unit_hessian(u, v)[None, :, :]


@result_type
@dataclass(frozen=True)
class TopCurvatures:
    """The top Hessian eigenpair of the uv-model and the per-example curvatures along it."""

    lambda_top: float  #: lambda_H^1, the largest eigenvalue of the full-batch Hessian
    direction: np.ndarray  #: its unit eigenvector e (2,)
    h: np.ndarray  #: per-example curvatures h_i = e^T H_i e (N,), with mean(h) = lambda_top up to rounding


@returns(TopCurvatures)
def uv_top_curvatures(theta: Any, x: Any) -> TopCurvatures:
    r"""The top eigenpair of the exact 2 x 2 Hessian (``numpy.linalg.eigh``) and the per-example
    curvatures :math:`h_i=e^\top H_ie` along it, which :mod:`.stability` takes as input (Eq. 1).

    >>> t = uv_top_curvatures([1.0, 1.0], [1.0, -1.0])
    >>> round(t.lambda_top, 12), t.h.round(12).tolist()
    (2.0, [2.0, 2.0])
    """
    hess = uv_hessian(theta, x)
    values, vectors = np.linalg.eigh(hess)
    e = vectors[:, -1]
    h = np.einsum("j,njk,k->n", e, uv_example_hessians(theta, x), e)
    return TopCurvatures(lambda_top=float(values[-1]), direction=e, h=h)


@result_type
@dataclass(frozen=True)
class UVRun:
    """One GD or SGD run on the uv-model (module docstring)."""

    eta: float  #: step size
    steps: int  #: steps requested
    batch_size: int | None  #: minibatch size S (None: full-batch GD)
    seed: int  #: seed of the data (default x) and of the minibatches
    x: np.ndarray  #: the inputs used (N,)
    theta: np.ndarray  #: iterates (u_t, v_t), t = 0..steps_done, shape (steps_done + 1, 2)
    lambda_top: np.ndarray  #: lambda_H^1 at every iterate, shape (steps_done + 1,)
    final_lambda: float  #: lambda_H^1 at the last iterate
    running_max: float  #: max of lambda_top over the run (transient peaks included)
    final_loss: float  #: full-batch loss at the last iterate
    final_h: np.ndarray  #: per-example curvatures along the top direction at the last iterate (N,)
    steps_done: int  #: steps taken (fewer than steps only when diverged)
    status: str  #: "converged", "not_converged" or "diverged" (module docstring)
    alpha: np.ma.MaskedArray | None  #: alpha* of each step t -> t+1 (masked where none in (0, alpha_max] or |u_t v_t - 1| <= ALPHA_FLOOR); None unless asked


@returns(UVRun)
def run_uv(
    eta: Any,
    steps: int = 3000,
    batch_size: int | None = None,
    seed: int = 0,
    init: Any = UV_INIT,
    x: Any = None,
    record_alpha: bool = False,
    alpha_max: float = 100.0,
    alpha_grid: int = 2000,
) -> UVRun:
    r"""Train the uv-model by full-batch GD (``batch_size=None``) or SGD with minibatches of
    ``batch_size`` distinct indices, and record :math:`\lambda_H^1` along the way (module docstring).

    With ``record_alpha``, :math:`\alpha^*` of every step (:func:`.stability.alpha_star` on the
    full-batch loss :math:`\tfrac12m_2(uv-1)^2`, ratio 1.2, scan of ``alpha_grid`` points on
    :math:`(0,\alpha_{\max}]`, bisection to 1e-12 relative), masked where there is none and where
    :math:`|u_tv_t-1|\le` :data:`ALPHA_FLOOR` (converged to the rounding floor).

    Assumptions: :math:`0<\eta\le100`, 1 <= steps <= :data:`MAX_UV_STEPS`, :math:`1\le S\le N`,
    finite ``init``. Source: item B4 of the paper's digest [derived] (a scaled-down analogue of Jastrzebski et al.
    (2020), Sec. 3 and Conjecture 1: after break-even, :math:`\lambda_H^1\le2/\eta`) and B3 (SGD,
    S = 2, eta = 0.4).

    >>> r = run_uv(0.1, steps=3000)
    >>> r.status, round(r.final_lambda, 3), r.lambda_top.shape
    ('converged', 4.428, (3001,))
    >>> r = run_uv(0.4, batch_size=2, seed=0)
    >>> r.status, r.final_h.shape
    ('converged', (64,))
    """
    eta = as_real("eta", eta, 0.0, 100.0, lo_open=True)
    steps = as_int("steps", steps, 1, MAX_UV_STEPS)
    seed = as_int("seed", seed, 0)
    u, v = as_real_vector("init", init, length=2).tolist()
    if u * u + v * v > _NORM_BOUND:
        raise ValidationError("init", f"must satisfy u^2 + v^2 <= {_NORM_BOUND:g} (got ({u!r}, {v!r}))")
    if x is None:
        rng = np.random.default_rng(seed)
        xs = _normalised(rng.standard_normal(N_EXAMPLES))
    else:
        xs = _inputs(x)
        rng = np.random.default_rng(seed)
    n = xs.size
    S = None if batch_size is None else as_int("batch_size", batch_size, 1, n)
    x2 = xs * xs
    m2 = _second_moment(xs)
    theta = np.empty((steps + 1, 2))
    theta[0] = u, v
    status = ""
    done = steps
    for t in range(steps):
        w = m2 if S is None else float(np.mean(x2[rng.choice(n, size=S, replace=False)]))
        r = u * v - 1.0
        u, v = u - eta * w * r * v, v - eta * w * r * u
        theta[t + 1] = u, v
        if not (abs(u * v) <= DIVERGENCE_BOUND and u * u + v * v <= _NORM_BOUND):
            status, done = "diverged", t + 1
            break
    theta = theta[: done + 1]
    uu, vv = theta[:, 0], theta[:, 1]
    b = 2.0 * uu * vv - 1.0
    hess = m2 * np.stack([np.stack([vv * vv, b], axis=-1), np.stack([b, uu * uu], axis=-1)], axis=-2)
    lam = np.linalg.eigvalsh(hess)[:, -1]
    if not status:
        status = "converged" if abs(u * v - 1.0) <= CONVERGENCE_TOL else "not_converged"
    alpha = None
    if record_alpha:
        line_loss = lambda th: 0.5 * m2 * (th[:, 0] * th[:, 1] - 1.0) ** 2
        values = np.zeros(done)
        mask = np.zeros(done, dtype=bool)
        with np.errstate(over="ignore"):
            for t in range(done):
                floor = abs(theta[t, 0] * theta[t, 1] - 1.0) <= ALPHA_FLOOR
                a = None if floor else alpha_star(
                    line_loss, theta[t], theta[t + 1], ratio=1.2, alpha_max=alpha_max, grid=alpha_grid, vectorized=True)
                if a is None:
                    mask[t] = True
                else:
                    values[t] = a
        alpha = np.ma.masked_array(values, mask=mask)
    top = uv_top_curvatures(theta[-1], xs)
    return UVRun(
        eta=eta,
        steps=steps,
        batch_size=S,
        seed=seed,
        x=xs,
        theta=theta,
        lambda_top=lam,
        final_lambda=float(lam[-1]),
        running_max=float(np.max(lam)),
        final_loss=uv_loss(theta[-1], xs),
        final_h=top.h,
        steps_done=done,
        status=status,
        alpha=alpha,
    )
