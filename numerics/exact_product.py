r"""Dekker's error-free product: :math:`xy = (p + e)\,2^k` exactly, in float64.

Shared arithmetic, not a model: the quadratic closed form (:mod:`numerics.quadratic.stable`, for
:math:`\ln|1-\eta\lambda|`) and the NQM recursion (:mod:`numerics.nqm.dynamics`, for
:math:`1-\eta h`) both take :math:`\eta\lambda` exactly where :math:`1-\eta\lambda` may cancel.

Splitting each mantissa with Veltkamp's constant :math:`2^{27}+1` gives halves whose products are
exact, so :math:`e = xy - p` is computed without rounding; working on the mantissas (``frexp``)
keeps every intermediate in range whatever the exponents.

>>> p, e, k = two_product_scaled(np.array([0.1]), np.array([10.0]))
>>> float(p[0]) * 2.0 ** int(k[0]), float(e[0]) != 0.0       # 0.1 x 10 is not exactly 1 in float64
(1.0, True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["two_product_scaled", "split_mantissa", "veltkamp_split"]

_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp splitting constant for float64


def veltkamp_split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Veltkamp's halves ``(xh, xl)`` of ``x``: x = xh + xl exactly, each with at most 26 significant
    bits, so products of halves are exact (|x| below about 2^996, where ``2^27 x`` stays finite)."""
    cx = _SPLIT * x
    xh = cx - (cx - x)
    return xh, x - xh


def split_mantissa(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(my, ey, yh, yl)``: y = my 2^ey with my in [0.5, 1), and Veltkamp's halves my = yh + yl;
    what :func:`two_product_scaled` computes of ``y``, for a caller that multiplies one ``y`` by
    many ``x``."""
    my, ey = np.frexp(y)
    cy = _SPLIT * my
    yh = cy - (cy - my)
    return my, ey, yh, my - yh


def two_product_scaled(x: np.ndarray, y: np.ndarray, y_split: tuple | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x*y = (p + e) * 2**k exactly, with p = fl(mx*my), |e| <= ulp(p)/2, mantissas in [0.5, 1).
    ``y_split``: :func:`split_mantissa` of ``y``, computed once (the same numbers either way)."""
    mx, ex = np.frexp(x)
    my, ey, yh, yl = split_mantissa(y) if y_split is None else y_split
    p = mx * my
    cx = _SPLIT * mx
    xh = cx - (cx - mx)
    xl = mx - xh
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    return p, e, (ex + ey).astype(np.int64)
