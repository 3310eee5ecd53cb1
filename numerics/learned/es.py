r"""Antithetic evolution strategies (ES) for a flat meta-parameter vector, and the meta-optimizer.

**Estimator.** For a meta-loss :math:`L(\theta)` and P standard normal directions :math:`e_p`,

.. math::

    \hat g=\frac1P\sum_{p=1}^P \hat g_p,\qquad
    \hat g_p=\frac{L(\theta+\sigma e_p)-L(\theta-\sigma e_p)}{2\sigma}\,e_p,

an unbiased estimate of the gradient of the Gaussian-smoothed objective
:math:`\mathbb E_e L(\theta+\sigma e)` (Metz et al. 2019 §4; for a quadratic :math:`L` that
gradient is the true one, the smoothing adds only a constant). **Common random numbers:** the
``+`` and ``-`` member of a pair see the same task and the same inner noise; the caller's loss
receives the pair index of each member for that purpose. The work is fixed by the number of pairs
(never by time). Returned with the estimate: the per-pair sample variance
:math:`s^2_j=\frac1{P-1}\sum_p(\hat g_{p,j}-\hat g_j)^2` per coordinate, so the estimator's own
variance is :math:`s^2_j/P`; :attr:`ESEstimate.total_variance` sums it over coordinates (the
"estimator variance" plotted over meta-training).

**Meta-optimizer** (:class:`MetaOptimizer`), vectorised over independent runs (a leading axis):

- ``"adam"`` (Kingma & Ba; beta1 0.9, beta2 0.999, eps 1e-8, bias-corrected): the choice of this
  package's experiments, because Adam's step is about ``lr`` per coordinate whatever the scale of
  the ES estimate, and the bias correction makes the first steps full-sized;
- ``"rmsprop"`` (decay 0.9, eps 1e-8, no momentum), the meta-optimizer of the released code of
  Metz et al. (2019) (learning rate 1e-2, decay 0.9) and of Wichrowska et al. (2017) (decay 0.9).

Before the update, non-finite gradient entries become 0 and the rest are clipped elementwise to
``[-clip, clip]`` (both papers' code: 1e4), as in Wichrowska et al.'s ``metaopt.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_choice, as_int, as_real

__all__ = [
    "MAX_PAIRS",
    "ESEstimate",
    "antithetic_directions",
    "combine",
    "es_gradient",
    "clip_gradient",
    "MetaOptimizer",
]

#: Largest number of antithetic pairs of one estimate.
MAX_PAIRS = 100_000


@result_type
@dataclass(frozen=True)
class ESEstimate:
    """One antithetic ES estimate (or a batch of them, with a leading axis R)."""

    gradient: np.ndarray  #: (..., k) the estimate mean_p g_p
    pair_variance: np.ndarray  #: (..., k) the sample variance of the per-pair estimates g_p (ddof 1)
    total_variance: np.ndarray  #: (...) sum_j pair_variance_j / P: the variance of the estimate, summed over coordinates
    smoothed_loss: np.ndarray  #: (...) mean_p (L+ + L-)/2: an estimate of the smoothed objective at theta
    pairs: int  #: P


def antithetic_directions(shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """Standard normal directions of ``shape`` (..., P, k) from ``rng``."""
    if not isinstance(rng, np.random.Generator):
        raise ValidationError("rng", "must be a numpy.random.Generator")
    return rng.standard_normal(shape)


@returns(ESEstimate)
def combine(directions: Any, loss_plus: Any, loss_minus: Any, sigma: float) -> ESEstimate:
    r"""The estimate from directions (..., P, k) and the losses (..., P) of the ``+`` and ``-``
    members (module docstring). P >= 2 (the variance needs two pairs). Non-finite losses are an
    error here: the caller decides what a diverged member costs.

    >>> e = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> r = combine(e, np.array([3.0, 1.0]), np.array([1.0, 1.0]), 0.5)
    >>> r.gradient.tolist(), r.pair_variance.tolist()
    ([1.0, 0.0], [2.0, 0.0])
    """
    e = np.asarray(directions, dtype=np.float64)
    lp = np.asarray(loss_plus, dtype=np.float64)
    lm = np.asarray(loss_minus, dtype=np.float64)
    sigma = as_real("sigma", sigma, 0.0, lo_open=True)
    if e.ndim < 2 or lp.shape != e.shape[:-1] or lm.shape != lp.shape:
        raise ValidationError("loss_plus", f"directions (..., P, k) need losses (..., P) (got {e.shape}, {lp.shape}, {lm.shape})")
    P = e.shape[-2]
    if P < 2 or P > MAX_PAIRS:
        raise ValidationError("directions", f"must hold between 2 and {MAX_PAIRS} pairs (got {P})")
    if not (np.all(np.isfinite(lp)) and np.all(np.isfinite(lm)) and np.all(np.isfinite(e))):
        raise ValidationError("loss_plus", "the losses and directions must be finite")
    per_pair = ((lp - lm) / (2.0 * sigma))[..., None] * e
    g = per_pair.mean(axis=-2)
    var = per_pair.var(axis=-2, ddof=1)
    return ESEstimate(g, var, var.sum(axis=-1) / P, 0.5 * (lp + lm).mean(axis=-1), int(P))


@returns(ESEstimate)
def es_gradient(loss: Callable[[np.ndarray, np.ndarray], np.ndarray], theta: Any, sigma: float, pairs: int,
                rng: np.random.Generator) -> ESEstimate:
    """The antithetic estimate at ``theta`` (k,) with ``pairs`` directions drawn from ``rng``.
    ``loss(thetas, pair)`` receives the 2P perturbed vectors (2P, k), the ``+`` members first, and
    the pair index (2P,) of each (member i and P + i share pair i: give them the same task and
    inner noise), and returns their 2P losses.

    >>> r = es_gradient(lambda th, p: np.sum(th ** 2, axis=1), np.array([1.0, -2.0]), 0.1, 4000, np.random.default_rng(0))
    >>> np.round(r.gradient).tolist(), bool(np.all(np.abs(r.gradient - [2.0, -4.0]) < 5 * np.sqrt(r.pair_variance / r.pairs)))
    ([2.0, -4.0], True)
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1 or theta.size < 1 or not np.all(np.isfinite(theta)):
        raise ValidationError("theta", "must be a finite 1-D vector")
    sigma = as_real("sigma", sigma, 0.0, lo_open=True)
    pairs = as_int("pairs", pairs, 2, MAX_PAIRS)
    if not callable(loss):
        raise ValidationError("loss", "must be a callable (thetas, pair) -> losses")
    e = antithetic_directions((pairs, theta.size), rng)
    thetas = np.concatenate([theta + sigma * e, theta - sigma * e])
    out = np.asarray(loss(thetas, np.concatenate([np.arange(pairs), np.arange(pairs)])), dtype=np.float64)
    if out.shape != (2 * pairs,):
        raise ValidationError("loss", f"must return {2 * pairs} losses (got shape {out.shape})")
    return combine(e, out[:pairs], out[pairs:], sigma)


def clip_gradient(g: Any, clip: float) -> np.ndarray:
    """Non-finite entries to 0, the rest clipped to [-clip, clip] (module docstring).

    >>> clip_gradient(np.array([np.nan, 3.0, -5.0]), 4.0).tolist()
    [0.0, 3.0, -4.0]
    """
    g = np.asarray(g, dtype=np.float64)
    clip = as_real("clip", clip, 0.0, lo_open=True)
    return np.clip(np.where(np.isfinite(g), g, 0.0), -clip, clip)


@dataclass
class MetaOptimizer:
    """Adam or RMSProp on meta-parameters of shape (..., k) (module docstring); mutable state,
    one instance per meta-training loop. ``update(theta, grad)`` returns the new theta."""

    kind: str = "adam"
    lr: float = 0.05
    clip: float = 1e4
    decay: float = 0.9  #: RMSProp's decay
    beta1: float = 0.9  #: Adam's first-moment decay
    beta2: float = 0.999  #: Adam's second-moment decay
    eps: float = 1e-8

    def __post_init__(self) -> None:
        self.kind = as_choice("kind", self.kind, ("adam", "rmsprop"))
        self.lr = as_real("lr", self.lr, 0.0, 100.0, lo_open=True)
        self.clip = as_real("clip", self.clip, 0.0, lo_open=True)
        for name in ("decay", "beta1", "beta2"):
            setattr(self, name, as_real(name, getattr(self, name), 0.0, 1.0, hi_open=True))
        self.eps = as_real("eps", self.eps, 0.0, lo_open=True)
        self._m: np.ndarray | None = None
        self._v: np.ndarray | None = None
        self._t = 0

    def update(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """One descent step on ``theta`` with the (clipped) gradient estimate ``grad``.

        >>> opt = MetaOptimizer("adam", lr=0.1)
        >>> np.round(opt.update(np.array([1.0, 1.0]), np.array([5.0, -1e-3])), 4).tolist()
        [0.9, 1.1]
        """
        theta = np.asarray(theta, dtype=np.float64)
        g = clip_gradient(grad, self.clip)
        if g.shape != theta.shape:
            raise ValidationError("grad", f"must have the shape of theta {theta.shape} (got {g.shape})")
        if self._v is None:
            self._m, self._v = np.zeros_like(g), np.zeros_like(g)
        self._t += 1
        if self.kind == "rmsprop":
            self._v = self.decay * self._v + (1.0 - self.decay) * g * g
            return theta - self.lr * g / (np.sqrt(self._v) + self.eps)
        self._m = self.beta1 * self._m + (1.0 - self.beta1) * g
        self._v = self.beta2 * self._v + (1.0 - self.beta2) * g * g
        mh = self._m / (1.0 - self.beta1**self._t)
        vh = self._v / (1.0 - self.beta2**self._t)
        return theta - self.lr * mh / (np.sqrt(vh) + self.eps)

