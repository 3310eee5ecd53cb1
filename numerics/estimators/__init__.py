"""Gradient estimators of meta-objectives (Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein
2019): exact values and moments on quadratics, and their independent simulations.

Modules:

- :mod:`.meta_loss`: the averaged meta-loss L_T(eta) = (1/T) sum_t f(w_t) of GD on a quadratic and
  dL_T/d eta, closed form in log space, any T up to 10^9 (claim A1).
- :mod:`.smoothing`: exact moments of the Gaussian-smoothed meta-loss and of the RP and antithetic
  ES estimators by Gauss-Hermite quadrature (claim A4).
- :mod:`.montecarlo`: the same moments by sampling and unrolling GD step by step (independent).
- :mod:`.truncation`: truncated backpropagation (TBPTT) gradients and their fixed points (claim A6).
- :mod:`.chaos`: the chaotic double-well toy: exploding meta-gradients without divergence (A2, A3).
- :mod:`.merge`: inverse-variance merging of ES and RP estimates (A5).

Imports here are numpy-only (SciPy is imported inside the functions that need it).
"""

from .meta_loss import MetaLoss, log_meta_loss, meta_loss
from .montecarlo import MonteCarloMoments, SampleMoments, simulate_moments
from .smoothing import MAX_EXACT_T, MAX_EXACT_WORK, SmoothedMoments, hermite_rule, smoothed_moments
from .truncation import full_minimiser, tbptt_fixed_point, tbptt_grad, truncated_es_fixed_point, truncated_es_grad

__all__ = [
    "MetaLoss",
    "meta_loss",
    "log_meta_loss",
    "SmoothedMoments",
    "smoothed_moments",
    "hermite_rule",
    "MAX_EXACT_T",
    "MAX_EXACT_WORK",
    "MonteCarloMoments",
    "SampleMoments",
    "simulate_moments",
    "tbptt_grad",
    "tbptt_fixed_point",
    "full_minimiser",
    "truncated_es_grad",
    "truncated_es_fixed_point",
]
