r"""Inverse-variance merging of the RP and ES meta-gradient estimators (Metz et al. 2019).

Source: Metz, Maheswaranathan, Nixon, Freeman & Sohl-Dickstein (2019); the algebra is that of
``combine()`` in the authors' released ``es_grad_inv_var.py`` [code]; optimality and its caveats
are spec item A5 [derived].

As coded, per meta-parameter coordinate, from :math:`S` per-worker samples of each estimator:

.. math::  \bar g = \frac1S\sum_s g_s,\qquad
           \mathrm{var} = \frac1{S-1}\sum_s (g_s-\bar g)^2 + 10^{-8},\qquad
           w_{\text{es}} = \frac{1/\mathrm{var}_{\text{es}}}{1/\mathrm{var}_{\text{es}} + 1/\mathrm{var}_{\text{rp}}},\qquad
           g = w_{\text{es}}\,\bar g_{\text{es}} + (1-w_{\text{es}})\,\bar g_{\text{rp}} .

For two unbiased estimators with variances :math:`v_1, v_2` and covariance :math:`c`, the variance
of :math:`w g_1 + (1-w) g_2` is :math:`w^2v_1 + (1-w)^2v_2 + 2w(1-w)c`, minimised at
:math:`w^* = (v_2-c)/(v_1+v_2-2c)`; for :math:`c = 0` the minimum :math:`v_1v_2/(v_1+v_2)` is
:math:`\le\min(v_1,v_2)`. The inverse-variance rule is :math:`w^*` with :math:`c` ignored (the
released code shares noise between RP and ES, so :math:`c\ne0` in general), and weights estimated
from the samples they weight make the merge a ratio estimator with an :math:`O(1/S)` bias.

Example::

    >>> r = inverse_variance_merge([1.0, 3.0], [0.0, 10.0])   # var_rp = 2, var_es = 50 (+1e-8)
    >>> round(float(r.weight_es), 6), round(float(r.merged), 6)
    (0.038462, 2.115385)
    >>> optimal_weight(1.0, 3.0), merged_variance(0.75, 1.0, 3.0)
    (0.75, 0.75)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..results import result_type, returns
from ..validation import ValidationError, as_real, as_real_matrix, as_real_vector

__all__ = ["VARIANCE_FLOOR", "MergedEstimate", "inverse_variance_merge", "optimal_weight", "merged_variance"]

#: Added to every sample variance, as in the released code (it also keeps 1/var finite).
VARIANCE_FLOOR = 1e-8


@result_type
@dataclass(frozen=True)
class MergedEstimate:
    """Inverse-variance merge of RP and ES samples; every field has the coordinates' shape."""

    merged: np.ndarray  #: w_es mean_es + (1 - w_es) mean_rp
    weight_es: np.ndarray  #: (1/var_es) / (1/var_es + 1/var_rp)
    weight_rp: np.ndarray  #: 1 - weight_es (computed as (1/var_rp) / (1/var_es + 1/var_rp))
    mean_rp: np.ndarray  #: sample mean of the RP samples
    mean_es: np.ndarray  #: sample mean of the ES samples
    var_rp: np.ndarray  #: unbiased sample variance of the RP samples (divisor S - 1) + 1e-8
    var_es: np.ndarray  #: unbiased sample variance of the ES samples (divisor S - 1) + 1e-8
    samples: int  #: S


def _samples(field: str, value: Any) -> np.ndarray:
    try:
        two_d = np.ndim(value) == 2
    except (ValueError, TypeError):  # ragged: as_real_vector names the problem
        two_d = False
    arr = as_real_matrix(field, value) if two_d else as_real_vector(field, value)
    if arr.shape[0] < 2:
        raise ValidationError(field, "must hold at least 2 samples along its first axis")
    return arr


@returns(MergedEstimate)
def inverse_variance_merge(rp_samples: Any, es_samples: Any) -> MergedEstimate:
    r"""Merge per-sample RP and ES estimates per coordinate exactly as the released code does
    (module docstring). Samples run along the first axis (shape (S,) or (S, d)); both inputs must
    have the same shape.

    Source: Metz et al. (2019), ``combine()`` in ``es_grad_inv_var.py`` [code]; spec §5 and A5.
    Sample variances whose square-sum exceeds float64 are refused (ValidationError), never inf.

    >>> r = inverse_variance_merge([[1.0, 0.0], [1.0, 2.0]], [[0.0, 1.0], [2.0, 1.0]])
    >>> [f"{x:.3g}" for x in r.weight_es], r.merged.tolist()
    (['5e-09', '1'], [1.0, 1.0])
    """
    rp = _samples("rp_samples", rp_samples)
    es = _samples("es_samples", es_samples)
    if rp.shape != es.shape:
        raise ValidationError("es_samples", f"must have the shape of rp_samples {rp.shape} (got {es.shape})")
    s = rp.shape[0]
    stats = []
    for field, x in (("rp_samples", rp), ("es_samples", es)):
        mean = x.mean(axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            var = np.sum((x - mean) ** 2, axis=0) / (s - 1) + VARIANCE_FLOOR
        if not np.all(np.isfinite(var)):
            raise ValidationError(field, "their sample variance exceeds the float64 range")
        stats.append((mean, var))
    (m_rp, v_rp), (m_es, v_es) = stats
    # 1/var can underflow to 0 for one estimator only: var >= 1e-8 keeps the other's precision finite.
    p_rp, p_es = 1.0 / v_rp, 1.0 / v_es
    w_es = p_es / (p_es + p_rp)
    w_rp = p_rp / (p_es + p_rp)
    return MergedEstimate(merged=w_es * m_es + (1.0 - w_es) * m_rp, weight_es=w_es, weight_rp=w_rp,
                          mean_rp=m_rp, mean_es=m_es, var_rp=v_rp, var_es=v_es, samples=s)


def _variances(v1: Any, v2: Any, c: Any) -> tuple[float, float, float]:
    v1 = as_real("v1", v1, 0.0)
    v2 = as_real("v2", v2, 0.0)
    c = as_real("c", c)
    if c * c > v1 * v2 * (1 + 4 * np.finfo(float).eps):
        raise ValidationError("c", f"must satisfy c^2 <= v1 v2 (a covariance; got c = {c!r}, v1 v2 = {v1 * v2!r})")
    return v1, v2, c


def optimal_weight(v1: float, v2: float, c: float = 0.0) -> float:
    r"""The weight :math:`w^* = (v_2-c)/(v_1+v_2-2c)` on estimator 1 that minimises
    :math:`\mathrm{Var}(w g_1 + (1-w) g_2)` for variances :math:`v_1, v_2 \ge 0` and covariance
    :math:`c` (:math:`c^2\le v_1v_2`). Undefined (ValidationError) when :math:`v_1+v_2-2c = 0`,
    i.e. :math:`g_1-g_2` is constant and every weight gives the same variance.

    Source: spec item A5 [derived]; with c = 0 it is the inverse-variance weight of the released code.

    >>> optimal_weight(1.0, 1.0, 0.5), optimal_weight(1.0, 4.0, 1.0)
    (0.5, 1.0)
    """
    v1, v2, c = _variances(v1, v2, c)
    den = v1 + v2 - 2 * c
    if not den > 0:
        raise ValidationError("c", "v1 + v2 - 2c must be > 0 (otherwise every weight is optimal)")
    return (v2 - c) / den


def merged_variance(w: float, v1: float, v2: float, c: float = 0.0) -> float:
    r""":math:`\mathrm{Var}(w g_1 + (1-w) g_2) = w^2v_1 + (1-w)^2v_2 + 2w(1-w)c` (any real w).

    >>> merged_variance(0.5, 1.0, 1.0, -1.0)
    0.0
    """
    w = as_real("w", w)
    v1, v2, c = _variances(v1, v2, c)
    out = w * w * v1 + (1 - w) * (1 - w) * v2 + 2 * w * (1 - w) * c
    if not math.isfinite(out):
        raise ValidationError("w", "the merged variance exceeds the float64 range")
    return max(out, 0.0)  # >= 0 exactly when c^2 <= v1 v2; a negative value is rounding
