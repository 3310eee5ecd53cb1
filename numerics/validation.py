"""Input validation at the API boundary.

Every public constructor and evaluator in :mod:`numerics` checks its inputs with these helpers, so
that bad input fails early with a message that names the field and the allowed range, e.g.::

    >>> from l2l.numerics.validation import as_real_vector
    >>> as_real_vector("eigenvalues", [1.0, -2.0], positive=True)
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: eigenvalues: every entry must be > 0 (entry 1 is -2.0)

Nothing is clipped or silently replaced: a value outside its range is an error.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "ValidationError",
    "as_real_vector",
    "as_real_matrix",
    "as_nonnegative_reals",
    "as_horizons",
    "MAX_HORIZON",
    "SYMMETRY_RTOL",
    "as_symmetric_matrix",
]

#: Largest inner horizon ``t`` accepted anywhere. The stable evaluators are specified and tested up
#: to t = 10^9; beyond that the unavoidable error eps * 2t * |ln|1 - eta lambda|| dominates.
MAX_HORIZON = 10**12


#: Relative asymmetry tolerated in a dense symmetric matrix: a few ulps of float64 per entry, as
#: produced by forming H = X^T X or U diag(lambda) U^T in floating point.
SYMMETRY_RTOL = 1e-12


class ValidationError(ValueError):
    """Raised for invalid input; the message starts with the offending field's name."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def _float_array(field: str, value: Any) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise ValidationError(field, f"must be numeric (got {type(value).__name__})")
    if isinstance(value, (bool, np.bool_)):
        raise ValidationError(field, "must be numeric (got bool)")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise ValidationError(field, f"must be a rectangular array of numbers ({exc})") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        if arr.dtype.kind == "b":
            raise ValidationError(field, "must be numeric (got booleans)")
        raise ValidationError(field, "must contain only real numbers")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = idx[0] if len(idx) == 1 else idx
        raise ValidationError(field, f"every entry must be finite (entry {where} is {float(arr[idx])})")
    return arr


def as_real_vector(field: str, value: Any, *, positive: bool = False, min_len: int = 1) -> np.ndarray:
    """A finite 1-D float64 array with at least ``min_len`` entries (all > 0 if ``positive``)."""
    arr = _float_array(field, value)
    if arr.ndim != 1:
        raise ValidationError(field, f"must be a 1-D list of numbers (got {arr.ndim}-D)")
    if arr.size < min_len:
        raise ValidationError(field, f"must have at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
    if positive and (arr <= 0).any():
        i = int(np.argmax(arr <= 0))
        raise ValidationError(field, f"every entry must be > 0 (entry {i} is {float(arr[i])!r})")
    return arr


def as_real_matrix(field: str, value: Any, *, square: bool = False) -> np.ndarray:
    """A finite 2-D float64 array (square if asked)."""
    arr = _float_array(field, value)
    if arr.ndim != 2 or arr.size == 0:
        raise ValidationError(field, f"must be a non-empty 2-D array (got shape {arr.shape})")
    if square and arr.shape[0] != arr.shape[1]:
        raise ValidationError(field, f"must be square (got shape {arr.shape})")
    return arr


def as_nonnegative_reals(field: str, value: Any) -> np.ndarray:
    """Step sizes and the like: a finite float64 array (any shape) of values >= 0."""
    arr = _float_array(field, value)
    if arr.size == 0:
        raise ValidationError(field, "must not be empty")
    if (arr < 0).any():
        bad = arr[arr < 0].flat[0]
        raise ValidationError(field, f"must be >= 0 (got {float(bad)!r})")
    return arr


def as_horizons(field: str, value: Any, *, maximum: int = MAX_HORIZON) -> np.ndarray:
    """Inner horizons: an int64 array (any shape) of integers in [1, maximum]."""
    if isinstance(value, (bool, np.bool_)):
        raise ValidationError(field, "must be an integer (got bool)")
    if isinstance(value, numbers.Integral):
        arr = np.asarray(int(value), dtype=object)
    else:
        arr = np.asarray(value, dtype=object)
    if arr.size == 0:
        raise ValidationError(field, "must not be empty")
    out = np.empty(arr.shape, dtype=np.int64)
    for idx, v in np.ndenumerate(arr):
        if isinstance(v, (bool, np.bool_)):
            raise ValidationError(field, "must be an integer (got bool)")
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        if not isinstance(v, numbers.Integral):
            raise ValidationError(field, f"must be an integer in [1, {maximum}] (got {v!r})")
        if not 1 <= int(v) <= maximum:
            raise ValidationError(field, f"must be an integer in [1, {maximum}] (got {int(v)})")
        out[idx] = int(v)
    return out


def as_symmetric_matrix(field: str, value: Any) -> np.ndarray:
    """A finite square float64 matrix, symmetric up to :data:`SYMMETRY_RTOL` x max |entry|."""
    m = as_real_matrix(field, value, square=True)
    scale = float(np.max(np.abs(m)))
    asym = float(np.max(np.abs(m - m.T)))
    if asym > SYMMETRY_RTOL * scale:
        raise ValidationError(field, f"must be symmetric (max |A - A^T| = {asym:.3g} > {SYMMETRY_RTOL} x max |A|)")
    return m
