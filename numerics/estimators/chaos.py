r"""Exploding meta-gradients without divergence: GD on a double well (Metz et al. 2019).

Source: Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (2019), the "exploding norm (for
long truncations)" of the abstract; spec items A2 (exploding meta-gradient, [derived]) and A3
(smoothing tames roughness, [derived]).

Toy. :math:`f(w) = \tfrac14(w^2-1)^2`, GD :math:`w_{t+1} = w_t - \alpha(w_t^3 - w_t)` from
:math:`w_0`, meta-loss :math:`L_T(\alpha) = \frac1T\sum_{t=1}^T f(w_t)`. Forward mode carries
:math:`v_t = dw_t/d\alpha`:

.. math::  v_{t+1} = \big(1-\alpha(3w_t^2-1)\big)\,v_t - (w_t^3 - w_t),\qquad
           \frac{dL_T}{d\alpha} = \frac1T\sum_{t=1}^T (w_t^3-w_t)\,v_t .

The Lyapunov exponent of the orbit, :math:`\frac1n\sum_t\ln|1-\alpha(3w_t^2-1)|`, is the growth
rate of :math:`|v_t|`: where it is positive the exact gradient grows like :math:`e^{\lambda T}`
while :math:`L_T` stays bounded.

Range. The tangent and the gradient accumulator are carried with a shared per-alpha log scale
(rescaled whenever they exceed 1e100), so :math:`\ln|dL_T/d\alpha|` is exact in float64 at any
T; the gradient itself is returned where it fits in float64 and otherwise *masked* with status
``"overflow"`` (never inf or NaN). An orbit that leaves the float64 range (divergence, large alpha)
is masked likewise, with its loss.

Example (spec A2 reference at alpha = 1.5: |dL/d alpha| ~ 3.9 at T = 10 and 2.7e43 at T = 200)::

    >>> r = double_well(1.5, 10)
    >>> round(float(abs(r.grad[0])), 2), r.status.tolist()
    (3.94, ['ok'])
    >>> round(lyapunov(1.5), 2)
    0.49
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_int, as_real, as_real_array

__all__ = [
    "MAX_WORK",
    "DoubleWell",
    "double_well",
    "lyapunov",
    "total_variation",
    "SmoothedDoubleWell",
    "smoothed_double_well",
    "EstimatorSamples",
    "double_well_estimator_samples",
]

#: Largest number of inner steps x alphas evaluated in one call (time and memory).
MAX_WORK = 10**9

_RESCALE = 1e100
_LOG_MAX = math.log(np.finfo(np.float64).max)


@result_type
@dataclass(frozen=True)
class DoubleWell:
    """Meta-loss and forward-mode meta-gradient of GD on the double well, per alpha."""

    alpha: np.ndarray  #: step sizes (1-D)
    T: int  #: horizon
    meta_loss: np.ma.MaskedArray  #: L_T (masked where the orbit left the float64 range)
    grad: np.ma.MaskedArray  #: dL_T/d alpha (masked where it exceeds float64: status 'overflow')
    grad_log_abs: np.ma.MaskedArray  #: ln|dL_T/d alpha| (-inf where it is 0; masked only where the orbit diverged)
    grad_sign: np.ndarray  #: sign of dL_T/d alpha in {-1, 0, 1} (0 also where the orbit diverged)
    status: np.ndarray  #: per alpha: 'ok', or 'overflow' (gradient or orbit beyond float64)


def _alphas(alpha: Any) -> np.ndarray:
    a = as_real_array("alpha", alpha)
    return a.reshape(-1)


def _run(alpha: np.ndarray, T: int, w0: float, with_grad: bool = True) -> tuple:
    """The forward-mode unroll on checked inputs: (loss sum / T, ln|acc|, sign, diverged)."""
    n = alpha.size
    w = np.full(n, w0)
    v = np.zeros(n)  # tangent dw/d alpha, in units of exp(scale)
    acc = np.zeros(n)  # sum (w^3 - w) v, same units
    scale = np.zeros(n)
    loss = np.zeros(n)
    bad = np.zeros(n, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for _ in range(T):
            g = w**3 - w
            jac = 1.0 - alpha * (3.0 * w * w - 1.0)
            w = w - alpha * g
            if with_grad:
                v = jac * v - g * np.exp(-scale)
                gn = w**3 - w  # f'(w_{t}) at the new iterate
                acc = acc + gn * v
                big = (np.abs(v) > _RESCALE) | (np.abs(acc) > _RESCALE)
                if big.any():
                    m = np.maximum(np.abs(v[big]), np.abs(acc[big]))
                    v[big] /= m
                    acc[big] /= m
                    scale[big] += np.log(m)
            loss = loss + 0.25 * (w * w - 1.0) ** 2
            bad |= ~(np.isfinite(w) & np.isfinite(loss) & np.isfinite(v) & np.isfinite(acc))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_abs = np.log(np.abs(acc)) + scale - math.log(T)
    sign = np.where(bad, 0, np.sign(acc)).astype(np.int8)
    return loss / T, log_abs, sign, bad


def _check_work(n: int, T: int, samples: int = 1) -> None:
    if n * T * samples > MAX_WORK:
        raise ValidationError("T", f"alphas x T x samples = {n * T * samples} exceeds the limit {MAX_WORK}")


@returns(DoubleWell)
def double_well(alpha: Any, T: int, w0: float = 0.5) -> DoubleWell:
    r"""Meta-loss :math:`L_T` and forward-mode :math:`dL_T/d\alpha` of GD on
    :math:`f(w)=\frac14(w^2-1)^2`, for every alpha of a number or 1-D array (module docstring).

    Assumptions: alphas finite, T in [1, MAX_WORK / len(alpha)], w0 finite. Source: Metz et al.
    (2019); spec item A2 [derived] (|dL/d alpha| ~ 3.9, 1.5e9, 4.5e21, 2.7e43 at alpha = 1.5 for
    T = 10, 50, 100, 200; reproduced as 3.94, 1.50e9, 4.52e21, 2.73e43).

    >>> r = double_well([0.5, 1.5], 200)
    >>> r.status.tolist(), [f"{x:.2g}" for x in np.abs(r.grad)]
    (['ok', 'ok'], ['0.0015', '2.7e+43'])
    """
    a = _alphas(alpha)
    T = as_int("T", T, 1)
    w0 = as_real("w0", w0)
    _check_work(a.size, T)
    loss, log_abs, sign, bad = _run(a, T, w0)
    over = bad | (log_abs > _LOG_MAX)
    with np.errstate(over="ignore", invalid="ignore"):
        grad = np.where(over, 0.0, sign * np.exp(np.where(over, 0.0, log_abs)))
    return DoubleWell(
        alpha=a,
        T=T,
        meta_loss=np.ma.masked_array(np.where(bad, 0.0, loss), mask=bad),
        grad=np.ma.masked_array(grad, mask=over),
        grad_log_abs=np.ma.masked_array(np.where(bad, 0.0, log_abs), mask=bad),
        grad_sign=sign,
        status=np.where(over, "overflow", "ok"),
    )


def lyapunov(alpha: float, steps: int = 20000, w0: float = 0.5) -> float:
    r"""Empirical Lyapunov exponent :math:`\frac1n\sum_{t=0}^{n-1}\ln|1-\alpha(3w_t^2-1)|` along
    the GD orbit from ``w0`` (``steps`` = n, transient included). Independent of
    :func:`double_well` (a plain scalar loop). -inf if the orbit hits a point where the Jacobian is
    0; a ValidationError if the orbit leaves the float64 range.

    Source: spec §3.2 / A2 [derived]: ~ -0.06, 0.34, 0.49, 0.15 at alpha = 1.3, 1.4, 1.5, 1.55
    (reproduced as -0.0585, 0.3463, 0.4939, 0.1454).

    >>> [round(lyapunov(a), 3) for a in (1.3, 1.4, 1.5, 1.55)]
    [-0.059, 0.346, 0.494, 0.145]
    """
    alpha = as_real("alpha", alpha)
    steps = as_int("steps", steps, 1, MAX_WORK)
    w = as_real("w0", w0)
    total = 0.0
    for _ in range(steps):
        jac = 1.0 - alpha * (3.0 * w * w - 1.0)
        if jac == 0.0:
            return -math.inf
        total += math.log(abs(jac))
        try:
            w = w - alpha * (w * w * w - w)
        except OverflowError:
            w = math.inf
        if not math.isfinite(w) or abs(w) > 1e100:
            raise ValidationError("alpha", f"the orbit from w0 diverges at alpha = {alpha!r} (no Lyapunov exponent)")
    return total / steps


def total_variation(values: Any) -> float:
    r"""Total variation :math:`\sum_k|v_{k+1}-v_k|` of a sequence of finite values.

    >>> total_variation([0.0, 1.0, 0.5])
    1.5
    """
    v = as_real_array("values", values).reshape(-1)
    return float(np.sum(np.abs(np.diff(v))))


@result_type
@dataclass(frozen=True)
class SmoothedDoubleWell:
    """Monte Carlo estimate of the Gaussian-smoothed double-well meta-loss on a grid of alphas."""

    alpha: np.ndarray  #: grid of alphas
    T: int  #: horizon
    sigma: float  #: perturbation scale
    samples: int  #: Monte Carlo samples per grid point
    seed: int  #: seed of numpy's default_rng drawing the eps_s
    common_noise: bool  #: True: the same eps_s at every grid point; False: fresh draws per point
    smoothed: np.ndarray  #: mean_s L_T(alpha + sigma eps_s)
    std_error: np.ndarray  #: sample standard deviation / sqrt(samples), per point


@returns(SmoothedDoubleWell)
def smoothed_double_well(alphas: Any, T: int, sigma: float, samples: int, seed: int, w0: float = 0.5,
                         common_noise: bool = True) -> SmoothedDoubleWell:
    r""":math:`\tilde L(\alpha) = \mathbb E_\varepsilon[L_T(\alpha+\sigma\varepsilon)]` by Monte
    Carlo: ``samples`` draws :math:`\varepsilon_s\sim\mathcal N(0,1)` from
    ``numpy.random.default_rng(seed)``; with ``common_noise`` (the default) the *same* draws at
    every grid point (common random numbers, so the estimate is itself a smooth function of alpha),
    otherwise fresh draws per grid point (row by row), whose Monte Carlo noise adds to the total
    variation.

    Source: Metz et al. (2019), the variational meta-objective; spec item A3 [derived] (TV 2.15 raw
    vs 0.44 smoothed at T = 50, 301 points on [1.3, 1.59], sigma = 0.01, 64 samples).
    Perturbed alphas whose orbit leaves the float64 range are refused (ValidationError).

    >>> g = np.linspace(1.3, 1.59, 301)
    >>> s = smoothed_double_well(g, 50, 0.01, 64, seed=0)
    >>> total_variation(s.smoothed) < total_variation(double_well(g, 50).meta_loss)
    True
    """
    a = _alphas(alphas)
    T = as_int("T", T, 1)
    sigma = as_real("sigma", sigma, 0.0, None)
    samples = as_int("samples", samples, 1)
    seed = as_int("seed", seed, 0)
    w0 = as_real("w0", w0)
    _check_work(a.size, T, samples)
    if not isinstance(common_noise, (bool, np.bool_)):
        raise ValidationError("common_noise", f"must be True or False (got {common_noise!r})")
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(samples)[None, :] if common_noise else rng.standard_normal((a.size, samples))
    pert = (a[:, None] + sigma * eps).reshape(-1)
    loss, _, _, bad = _run(pert, T, w0, with_grad=False)
    if bad.any():
        raise ValidationError("alphas", f"the orbit diverges at the perturbed alpha = {float(pert[np.argmax(bad)])!r}")
    loss = loss.reshape(a.size, samples)
    se = loss.std(axis=1, ddof=1) / math.sqrt(samples) if samples > 1 else np.zeros(a.size)
    return SmoothedDoubleWell(alpha=a, T=T, sigma=sigma, samples=samples, seed=seed, common_noise=bool(common_noise),
                              smoothed=loss.mean(axis=1), std_error=se)


@result_type
@dataclass(frozen=True)
class EstimatorSamples:
    """Per-sample RP and antithetic ES meta-gradient estimates on the double well at one alpha."""

    alpha: float  #: the unperturbed alpha
    T: int  #: horizon
    sigma: float  #: perturbation scale
    seed: int  #: seed of numpy's default_rng drawing eps
    eps: np.ndarray  #: the draws eps_s ~ N(0, 1)
    rp: np.ndarray  #: (dL/d alpha(alpha + sigma eps) + dL/d alpha(alpha - sigma eps)) / 2 (zeros where status is not ok)
    es: np.ndarray  #: (L(alpha + sigma eps) - L(alpha - sigma eps)) eps / (2 sigma)
    status: str  #: 'ok', or 'overflow' when some RP sample exceeds float64 (rp then unusable)


@returns(EstimatorSamples)
def double_well_estimator_samples(alpha: float, T: int, sigma: float, samples: int, seed: int,
                                  w0: float = 0.5) -> EstimatorSamples:
    r"""Per-sample pair-averaged reparameterisation (RP) and antithetic ES estimates of
    :math:`d\tilde L/d\alpha` on the double well (the inputs of the inverse-variance merge), both
    with the same :math:`\varepsilon_s` (the released code shares the noise between them).

    Source: Metz et al. (2019); spec §5 regime switch [derived] (S = 4096, sigma = 0.01,
    alpha = 0.5 vs 1.45). The RP samples use :func:`double_well`'s forward mode.

    >>> s = double_well_estimator_samples(1.45, 10, 0.01, 256, seed=0)
    >>> s.status, bool(s.rp.var(ddof=1) > s.es.var(ddof=1))
    ('ok', True)
    """
    alpha = as_real("alpha", alpha)
    T = as_int("T", T, 1)
    sigma = as_real("sigma", sigma, 0.0, None, lo_open=True)
    samples = as_int("samples", samples, 2)
    seed = as_int("seed", seed, 0)
    eps = np.random.default_rng(seed).standard_normal(samples)
    plus = double_well(alpha + sigma * eps, T, w0)
    minus = double_well(alpha - sigma * eps, T, w0)
    if np.ma.getmaskarray(plus.meta_loss).any() or np.ma.getmaskarray(minus.meta_loss).any():
        raise ValidationError("alpha", f"the orbit diverges for some perturbed alpha near {alpha!r}")
    over = bool((plus.status != "ok").any() or (minus.status != "ok").any())
    rp = np.zeros(samples)
    if not over:
        rp = 0.5 * (plus.grad.filled(0.0) + minus.grad.filled(0.0))
        if not np.all(np.isfinite(rp * rp)):  # its variance would overflow
            over, rp = True, np.zeros(samples)
    es = (plus.meta_loss.filled(0.0) - minus.meta_loss.filled(0.0)) * eps / (2 * sigma)
    return EstimatorSamples(alpha=alpha, T=T, sigma=sigma, seed=seed, eps=eps, rp=rp, es=es,
                            status="overflow" if over else "ok")
