r"""Eq. 1 of Jastrzebski et al. (2020) by sampling: Monte Carlo estimates of
:math:`\mathbb E[(1-\eta h_B)^2]` and :math:`\mathbb E\log|1-\eta h_B|` over random minibatches.

The independent statistical check (DESIGN.md, "Independence") of :mod:`.stability`: no moments,
no finite-population factor, no enumeration. It draws ``draws`` minibatches B of S indices from a
seeded ``numpy.random.default_rng(seed)``: without replacement, the S first positions of a
uniformly random permutation of the N indices (the argsort of N uniforms, one row per draw), so
every S-subset is equally likely; with replacement, S independent uniform indices. Each sample is
:math:`(1-\eta h_B)^2` (or :math:`\log|1-\eta h_B|`) with :math:`h_B` the plain float64 mean of
the drawn :math:`h_i`; the estimate is the sample mean with standard error :math:`s/\sqrt{n}`
(:math:`s` the sample standard deviation, divisor n - 1). Draws are made in blocks of
:data:`BLOCK_VALUES` // N rows, so the estimate is a deterministic function of
(h, eta, S, draws, seed, sampling).

Status, never NaN (every ``|h_i|`` is at most :data:`MAX_MAGNITUDE`): ``"overflow"`` when a sample exceeds float64 (mean and stderr ``inf``),
``"zero_batch"`` when some drawn batch gives :math:`1-\eta h_B=0` in float64 (the log-rate mean is
then ``-inf`` and its stderr ``inf``).

Deliberately independent of the closed form: do not merge with :mod:`.stability`.

Example (N = 5, S = 2, eta = 0.5: the exact factor is 0.234375 and the exact rate -0.902221)::

    >>> mc = simulate_mean_square_factor([0.5, 1.0, 1.5, 2.0, 5.0], 0.5, 2, draws=20000, seed=1)
    >>> round(mc.mean, 3), round(mc.stderr, 4), mc.status
    (0.235, 0.0011, 'ok')
    >>> round(simulate_log_rate([0.5, 1.0, 1.5, 2.0, 5.0], 0.5, 2, draws=20000, seed=1).mean, 2)
    -0.9
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_choice, as_int, as_nonnegative_real, as_real_vector, check_entries

__all__ = ["BLOCK_VALUES", "MC_MAX_WORK", "MAX_MAGNITUDE", "SampleMean", "simulate_mean_square_factor", "simulate_log_rate"]

#: Uniforms (or indices) drawn per block: bounds the memory of one block to a few tens of MB.
BLOCK_VALUES = 2**21

#: Largest |h_i| accepted: batch means stay finite, so a sample is never inf * 0 (NaN); an eta large
#: enough to overflow (1 - eta h_B)^2 gives the status "overflow".
MAX_MAGNITUDE = 1e100

#: Largest draws x N (without replacement) or draws x S (with): random numbers drawn in one call.
MC_MAX_WORK = 2 * 10**8


@result_type
@dataclass(frozen=True)
class SampleMean:
    """A Monte Carlo estimate of an expectation over minibatches: sample mean and its standard error."""

    quantity: str  #: "mean_square_factor" (samples (1 - eta h_B)^2) or "log_rate" (samples log|1 - eta h_B|)
    eta: float  #: step size
    S: int  #: minibatch size
    mean: float  #: sample mean (inf / -inf with a non-'ok' status)
    stderr: float  #: standard error s / sqrt(draws) (inf with a non-'ok' status)
    draws: int  #: number of minibatches drawn
    seed: int  #: seed of numpy.random.default_rng
    sampling: str  #: "without_replacement" or "with_replacement"
    status: str  #: "ok", "overflow" (a sample beyond float64) or "zero_batch" (some 1 - eta h_B == 0)

    def z(self, exact: float) -> float:
        """(mean - exact) / stderr (0 when both the difference and the stderr are 0)."""
        diff = self.mean - exact
        if self.stderr > 0:
            return diff / self.stderr
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def _batch_means(h: Any, eta: Any, S: Any, draws: Any, seed: Any, sampling: Any) -> tuple:
    hv = check_entries("h", as_real_vector("h", h), hi=MAX_MAGNITUDE, absolute=True)
    n = hv.size
    eta = as_nonnegative_real("eta", eta)
    S = as_int("S", S, 1, n, integral_floats=True)
    draws = as_int("draws", draws, 2, 10**9)
    seed = as_int("seed", seed, 0)
    sampling = as_choice("sampling", sampling, ("without_replacement", "with_replacement"))
    width = n if sampling == "without_replacement" else S
    if draws * width > MC_MAX_WORK:
        raise ValidationError("draws", f"draws x {'N' if width == n else 'S'} = {draws * width} exceeds the limit of {MC_MAX_WORK:.0e}")
    rng = np.random.default_rng(seed)
    block = max(1, BLOCK_VALUES // width)
    means = np.empty(draws)
    for start in range(0, draws, block):
        m = min(block, draws - start)
        if sampling == "without_replacement":
            idx = np.argsort(rng.random((m, n)), axis=1)[:, :S]
        else:
            idx = rng.integers(0, n, size=(m, S))
        means[start : start + m] = hv[idx].mean(axis=1)
    return means, eta, S, draws, seed, sampling


def _estimate(quantity: str, samples: np.ndarray, eta: float, S: int, draws: int, seed: int, sampling: str) -> SampleMean:
    status = "ok"
    if np.isneginf(samples).any():
        status, mean, se = "zero_batch", -math.inf, math.inf
    elif not np.isfinite(samples).all():
        status, mean, se = "overflow", math.inf, math.inf
    else:
        mean = float(np.mean(samples))
        dev = samples - mean
        with np.errstate(over="ignore"):
            var = float(np.sum(dev * dev)) / (draws - 1)
        if not math.isfinite(var):
            status, mean, se = "overflow", math.inf, math.inf
        else:
            se = math.sqrt(var / draws)
    return SampleMean(quantity=quantity, eta=eta, S=S, mean=mean, stderr=se, draws=draws, seed=seed, sampling=sampling, status=status)


@returns(SampleMean)
def simulate_mean_square_factor(h: Any, eta: Any, S: Any, draws: int = 100_000, seed: int = 0, sampling: str = "without_replacement") -> SampleMean:
    r"""Monte Carlo estimate of :math:`\mathbb E[(1-\eta h_B)^2]` from ``draws`` random minibatches
    (module docstring); compare with the exact value by :meth:`SampleMean.z`.

    Assumptions: finite ``h``, a single ``eta >= 0``, integer :math:`1\le S\le N`, ``draws >= 2``,
    draws x N (or x S with replacement) at most :data:`MC_MAX_WORK`. Source: Jastrzebski et al.
    (2020), Eq. 1 (the left-hand side, sampled); item B1 of the paper's digest.

    >>> simulate_mean_square_factor([1.0, 3.0], 0.5, 2, draws=10).mean  # S = N: always h_B = 2
    0.0
    """
    means, eta, S, draws, seed, sampling = _batch_means(h, eta, S, draws, seed, sampling)
    with np.errstate(over="ignore", invalid="ignore"):
        samples = (1.0 - eta * means) ** 2
    return _estimate("mean_square_factor", samples, eta, S, draws, seed, sampling)


@returns(SampleMean)
def simulate_log_rate(h: Any, eta: Any, S: Any, draws: int = 100_000, seed: int = 0, sampling: str = "without_replacement") -> SampleMean:
    r"""Monte Carlo estimate of the almost-sure growth rate :math:`\mathbb E\log|1-\eta h_B|`
    (module docstring); status ``"zero_batch"`` (mean ``-inf``) if a drawn batch gives exactly 0.

    Assumptions as in :func:`simulate_mean_square_factor`. Source: Jastrzebski et al. (2020),
    Eq. 1 and its model; item B3 of the paper's digest [derived].

    >>> r = simulate_log_rate([1.0, 3.0], 1.0, 1, draws=100, seed=0)
    >>> r.status, r.mean
    ('zero_batch', -inf)
    """
    means, eta, S, draws, seed, sampling = _batch_means(h, eta, S, draws, seed, sampling)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        samples = np.log(np.abs(1.0 - eta * means))
    return _estimate("log_rate", samples, eta, S, draws, seed, sampling)
