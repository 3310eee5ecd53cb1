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

__all__ = ["two_product_scaled"]

_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp splitting constant for float64


def two_product_scaled(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x*y = (p + e) * 2**k exactly, with p = fl(mx*my), |e| <= ulp(p)/2, mantissas in [0.5, 1)."""
    mx, ex = np.frexp(x)
    my, ey = np.frexp(y)
    p = mx * my
    cx = _SPLIT * mx
    xh = cx - (cx - mx)
    xl = mx - xh
    cy = _SPLIT * my
    yh = cy - (cy - my)
    yl = my - yh
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    return p, e, (ex + ey).astype(np.int64)
