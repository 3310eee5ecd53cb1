r"""Monte Carlo of the smoothed meta-loss and its RP / ES estimators, by unrolling GD step by step.

The independent implementation (DESIGN.md, "Independence") that the exact moments of
:mod:`.smoothing` are checked against: it shares no code with :mod:`.meta_loss` or
:mod:`.smoothing` (only input validation, the problem object and result presentation). No closed
form and no quadrature: it draws :math:`\varepsilon_s\sim\mathcal N(0,1)` (seeded
``numpy.random.default_rng``), runs GD on :math:`f(w)=\tfrac12\sum_i\lambda_i w_i^2` from
:math:`w_0=c` with step :math:`\eta\pm\sigma\varepsilon_s` by an explicit loop over
:math:`t=1..T` (vectorised over samples), accumulating :math:`f(w_t)` and, by forward mode, the
tangent :math:`\dot w_t = dw_t/d\eta` (:math:`\dot w_{t+1}=(1-\eta\lambda)\dot w_t-\lambda w_t`), so
:math:`L_T=\frac1T\sum_t f(w_t)` and :math:`L_T'=\frac1T\sum_t\sum_i\lambda_i w_{t,i}\dot w_{t,i}`.

Per sample it forms (Metz et al. 2019, §4, claim A4): the loss :math:`L_T(\eta+\sigma\varepsilon)`,
the RP sample :math:`L_T'(\eta+\sigma\varepsilon)`, the pair-averaged RP sample
:math:`\tfrac12[L_T'(\eta+\sigma\varepsilon)+L_T'(\eta-\sigma\varepsilon)]` and the antithetic ES
pair :math:`(L_T(\eta+\sigma\varepsilon)-L_T(\eta-\sigma\varepsilon))\,\varepsilon/(2\sigma)`,
and returns for each the sample mean and variance (divisor S - 1) with their standard errors:
:math:`s/\sqrt S` for the mean and :math:`\sqrt{(m_4 - s^4 (S-3)/(S-1))/S}` for the variance
(:math:`m_4` the sample fourth central moment). A sample that overflows float64 makes ``status``
"overflow" and the affected statistics ``None``.

Deliberately independent of the closed form: do not merge with :mod:`.meta_loss`.

Example (T = 1 on a 1-D quadratic; exact values 0.13, -0.5, variances 0.01 (RP) and 0.5 (ES),
standard errors about 0.0004, 0.0007, 0.0001 and 0.013)::

    >>> from l2l.numerics import QuadraticProblem
    >>> mc = simulate_moments(QuadraticProblem([1.0], [1.0]), 0.5, 1, 0.1, n_samples=20000, seed=1)
    >>> round(mc.loss.mean, 3), round(mc.rp.mean, 3), round(mc.rp.variance, 3), round(mc.es.variance, 2)
    (0.131, -0.501, 0.01, 0.49)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..problems import QuadraticProblem
from ..results import result_type, returns
from ..validation import ValidationError, as_instance, as_int, as_real

__all__ = ["SampleMoments", "MonteCarloMoments", "simulate_moments", "MC_MAX_WORK"]

#: Largest n_samples x T x dim (multiply-adds of the unrolled loop, two runs per sample).
MC_MAX_WORK = 10**10


@dataclass(frozen=True)
class SampleMoments:
    """Sample mean and variance of one estimator over ``n`` independent samples, with standard errors."""

    mean: float
    mean_stderr: float
    variance: float
    variance_stderr: float
    n: int

    def z_mean(self, exact: float) -> float:
        """(mean - exact) / mean_stderr."""
        return _z(self.mean - exact, self.mean_stderr)

    def z_variance(self, exact: float) -> float:
        """(variance - exact) / variance_stderr."""
        return _z(self.variance - exact, self.variance_stderr)


def _z(diff: float, se: float) -> float:
    if se > 0:
        return diff / se
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def _moments(x: np.ndarray) -> SampleMoments | None:
    if not np.all(np.isfinite(x)):
        return None
    n = x.size
    m = float(np.mean(x))
    dev = x - m
    var = float(np.sum(dev * dev) / (n - 1))
    m4 = float(np.mean(dev**4))
    var_se = math.sqrt(max(m4 - var * var * (n - 3) / (n - 1), 0.0) / n)
    return SampleMoments(mean=m, mean_stderr=math.sqrt(var / n), variance=var, variance_stderr=var_se, n=n)


@result_type
@dataclass(frozen=True)
class MonteCarloMoments:
    """Monte Carlo moments of the smoothed meta-loss's samples and estimators (None after an overflow)."""

    eta: float  #: step size
    T: int  #: unroll length
    sigma: float  #: smoothing scale
    loss: SampleMoments | None  #: samples L_T(eta + sigma eps)
    rp: SampleMoments | None  #: samples L_T'(eta + sigma eps) (one RP sample each)
    rp_pair: SampleMoments | None  #: samples (L_T'(eta + sigma eps) + L_T'(eta - sigma eps)) / 2
    es: SampleMoments | None  #: samples (L_T(eta + sigma eps) - L_T(eta - sigma eps)) eps / (2 sigma)
    n_samples: int  #: number of eps draws S
    seed: int  #: seed of numpy.random.default_rng
    status: str  #: "ok", or "overflow" when some sample overflowed float64


@returns(MonteCarloMoments)
def simulate_moments(problem: QuadraticProblem, eta: Any, T: Any, sigma: Any, *, n_samples: int = 10000, seed: int = 0) -> MonteCarloMoments:
    """Draw ``n_samples`` eps ~ N(0, 1) and unroll GD at eta + sigma eps and eta - sigma eps for
    ``T`` steps (see the module docstring). Work: 2 n_samples x T x dim, at most :data:`MC_MAX_WORK`."""
    problem = as_instance(problem, QuadraticProblem)
    eta = as_real("eta", eta)
    T = as_int("T", T, 1, 10**9, integral_floats=True)
    sigma = as_real("sigma", sigma, 0.0, lo_open=True)
    n_samples = as_int("n_samples", n_samples, 2, 10**8)
    seed = as_int("seed", seed, 0)
    work = n_samples * T * problem.dim
    if work > MC_MAX_WORK:
        raise ValidationError("n_samples", f"n_samples x T x dim = {work} exceeds the limit of {MC_MAX_WORK:.0e}")
    eps = np.random.default_rng(seed).standard_normal(n_samples)
    steps = np.concatenate([eta + sigma * eps, eta - sigma * eps])[:, None]  # (2S, 1)
    lam = problem.eigenvalues[None, :]
    w = np.repeat(problem.coefficients[None, :], 2 * n_samples, axis=0)  # (2S, d)
    dw = np.zeros_like(w)
    loss = np.zeros(2 * n_samples)
    dloss = np.zeros(2 * n_samples)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(T):
            g = lam * w  # gradient of f at w_t
            dw = dw - steps * (lam * dw) - g  # d/d eta of w_{t+1} = w_t - eta lam w_t
            w = w - steps * g
            loss += 0.5 * np.sum(lam * w * w, axis=1)
            dloss += np.sum(lam * w * dw, axis=1)
        loss /= T
        dloss /= T
        lp, lm = loss[:n_samples], loss[n_samples:]
        gp, gm = dloss[:n_samples], dloss[n_samples:]
        es = (lp - lm) * eps / (2.0 * sigma)
        pair = 0.5 * (gp + gm)
    stats = {"loss": _moments(lp), "rp": _moments(gp), "rp_pair": _moments(pair), "es": _moments(es)}
    status = "ok" if all(v is not None for v in stats.values()) else "overflow"
    return MonteCarloMoments(eta=eta, T=T, sigma=sigma, n_samples=n_samples, seed=seed, status=status, **stats)
