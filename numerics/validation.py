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

import math
import numbers
from typing import Any, Sequence

import numpy as np

__all__ = [
    "ValidationError",
    "as_tensor_shapes",
    "as_tensor_list",
    "oracle_gradients_finite",
    "as_instance",
    "as_real",
    "as_int",
    "as_choice",
    "as_nonnegative_real",
    "as_horizon",
    "as_number_list",
    "as_seeds",
    "as_step_sizes",
    "as_batch_size",
    "as_vector_of_length",
    "MAX_BATCH_SIZE",
    "as_real_array",
    "as_per_coordinate",
    "as_schedule",
    "as_psd_matrix",
    "check_entries",
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


#: Largest minibatch size accepted (every integer up to 2^53 is exact in float64).
MAX_BATCH_SIZE = 2**53


#: Relative asymmetry tolerated in a dense symmetric matrix: a few ulps of float64 per entry, as
#: produced by forming H = X^T X or U diag(lambda) U^T in floating point.
SYMMETRY_RTOL = 1e-12


class ValidationError(ValueError):
    """Raised for invalid input; the message starts with the offending field's name."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(_one_line(f"{field}: {message}"))


def _one_line(text: str) -> str:
    """``text`` with every non-printable character (newline, other controls, line separators)
    escaped as in a repr, so that a message is always one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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


def as_real_vector(
    field: str, value: Any, *, positive: bool = False, min_len: int = 1, length: int | None = None
) -> np.ndarray:
    """A finite 1-D float64 array with at least ``min_len`` entries (exactly ``length`` if given;
    all > 0 if ``positive``)."""
    arr = _float_array(field, value)
    if arr.ndim != 1:
        raise ValidationError(field, f"must be a 1-D list of numbers (got {arr.ndim}-D)")
    if arr.size < min_len:
        raise ValidationError(field, f"must have at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
    if length is not None and arr.size != length:
        raise ValidationError(field, f"must have length {length}, got {arr.size}")
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


# ---------------------------------------------------------------------------------------------
# scalars, choices and types


def _ndim(value: Any) -> int:
    """np.ndim, or 1 for input numpy cannot shape (the vector check then reports it)."""
    try:
        return int(np.ndim(value))
    except (ValueError, TypeError):
        return 1


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{')' if hi_open else ']'}"


def as_instance(value: Any, cls: type, field: str = "problem", article: str = "a") -> Any:
    """``value`` itself if it is a ``cls``, e.g. the problem object a function was given.

    >>> as_instance(3, str)
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: problem: must be a str (got int)
    """
    if not isinstance(value, cls):
        raise ValidationError(field, f"must be {article} {cls.__name__} (got {type(value).__name__})")
    return value


def as_real(
    field: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """One finite real number (a Python or numpy scalar, or a 0-d array; not a bool) in the
    interval from ``lo`` to ``hi`` (closed unless ``lo_open`` / ``hi_open``; None = unbounded).

    >>> as_real("eta", 0.5, 0.0, 1.0)
    0.5
    >>> as_real("eta", 2.0, 0.0, 1.0, hi_open=True)
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: eta: must be a finite real number in [0.0, 1.0) (got 2.0)
    """
    bounded = lo is not None or hi is not None
    rng = f" in {_interval(lo, hi, lo_open, hi_open)}" if bounded else ""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ValidationError(field, f"must be a single number (got shape {value.shape})")
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValidationError(field, f"must be a real number{rng} (got {type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValidationError(field, f"must be a finite real number{rng} (got {v!r})")
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and (v >= hi if hi_open else v > hi)):
        raise ValidationError(field, f"must be a finite real number{rng} (got {v!r})")
    return v


def as_int(field: str, value: Any, lo: int = 1, hi: int | None = None, *, integral_floats: bool = False) -> int:
    """One integer in [lo, hi] (hi None: no upper bound); never a bool. With ``integral_floats``,
    a float with an integer value (``3.0``) is accepted as that integer.

    >>> as_int("seed", 3.0, 0, integral_floats=True)
    3
    >>> as_int("n_paths", 1, 2, 10)
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: n_paths: must be an integer in [2, 10] (got 1)
    """
    rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
    if integral_floats and isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValidationError(field, f"must be an integer {rng} (got {value!r})")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        raise ValidationError(field, f"must be an integer {rng} (got {v})")
    return v


def as_choice(field: str, value: Any, allowed: tuple) -> Any:
    """``value`` if it is one of ``allowed`` (compared with ==, strings only match strings).

    >>> as_choice("kind", "tbv", ("tbt", "tbv"))
    'tbv'
    """
    if not any(type(value) is type(a) and value == a for a in allowed):
        raise ValidationError(field, f"must be one of {', '.join(map(repr, allowed))} (got {value!r})")
    return value


def as_nonnegative_real(field: str, value: Any) -> float:
    """A single step size or the like: a number (or a one-entry array) >= 0."""
    arr = as_nonnegative_reals(field, value)
    if arr.size != 1:
        raise ValidationError(field, f"must be a single number >= 0 (got shape {arr.shape})")
    return float(arr.reshape(-1)[0])


def as_horizon(field: str, value: Any, *, maximum: int = MAX_HORIZON) -> int:
    """One inner horizon: an integer in [1, maximum] (see :func:`as_horizons`)."""
    arr = as_horizons(field, value, maximum=maximum)
    if arr.ndim != 0:
        raise ValidationError(field, f"must be a single integer in [1, {maximum}] (got shape {arr.shape})")
    return int(arr)


# ---------------------------------------------------------------------------------------------
# arrays with ranges, per-coordinate values, schedules


def check_entries(
    field: str,
    arr: np.ndarray,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    absolute: bool = False,
) -> np.ndarray:
    """``arr`` itself if every entry (or, with ``absolute``, every ``|entry|``) lies between ``lo``
    and ``hi`` (closed unless ``lo_open`` / ``hi_open``; None = unbounded); names the first entry
    that does not.

    >>> check_entries("sigma2", np.array([1.0, -2.0]), 0.0)
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: sigma2: every entry must be >= 0.0 (entry 1 is -2.0)
    """
    x = np.abs(arr) if absolute else arr
    what = f"|{field}|" if absolute else field
    if lo is not None:
        bad = x <= lo if lo_open else x < lo
        if bad.any():
            i = int(np.argmax(bad))
            raise ValidationError(field, f"every entry must be {'>' if lo_open else '>='} {lo} (entry {i} is {float(arr[i])!r})")
    if hi is not None:
        bad = x >= hi if hi_open else x > hi
        if bad.any():
            i = int(np.argmax(bad))
            raise ValidationError(field, f"every entry must satisfy {what} {'<' if hi_open else '<='} {hi} (entry {i} is {float(arr[i])!r})")
    return arr


def as_real_array(field: str, value: Any) -> np.ndarray:
    """A finite float64 array of any shape (0-d for a number)."""
    if _ndim(value) == 0:
        return as_real_vector(field, np.atleast_1d(np.asarray(value, dtype=object) if value is None else value)).reshape(())
    return as_real_vector(field, value)


def as_per_coordinate(field: str, value: Any, d: int | None, *, nonneg: bool = False, positive: bool = False) -> np.ndarray:
    """A length-d float64 vector; a single number is repeated d times (d None: any length, a
    number becomes a length-1 vector). Entries >= 0 if ``nonneg``, > 0 if ``positive``.

    >>> as_per_coordinate("sigma2", 2.0, 3, nonneg=True).tolist()
    [2.0, 2.0, 2.0]
    """
    if _ndim(value) == 0:
        vec = as_real_vector(field, [value])
        if d is not None:
            vec = np.full(d, float(vec[0]))
    else:
        vec = as_real_vector(field, value)
        if d is not None and vec.size != d:
            raise ValidationError(field, f"must have length d = {d} (the length of h), or be a single number (got {vec.size})")
    if positive:
        check_entries(field, vec, 0, lo_open=True)
    if nonneg:
        check_entries(field, vec, 0)
    return vec


def as_schedule(field: str, value: Any, t: int, *, nonneg: bool, bound: float | None = None) -> np.ndarray:
    """A per-step schedule of length t: a number (repeated t times) or exactly t finite numbers;
    >= 0 if ``nonneg``; ``|entry| <= bound`` if given.

    >>> as_schedule("eta", 0.5, 3, nonneg=True).tolist()
    [0.5, 0.5, 0.5]
    >>> as_schedule("mu", [0.1, 0.2], 3, nonneg=False)
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: mu: must be a number or a schedule of length t = 3 (got length 2)
    """
    if _ndim(value) == 0:
        v = as_nonnegative_reals(field, value) if nonneg else as_real_vector(field, [value])
        arr = np.full(t, float(np.ravel(v)[0]))
    else:
        if t == 0 and np.size(value) == 0:
            return np.zeros(0)
        arr = as_real_vector(field, value)
        if arr.size != t:
            raise ValidationError(field, f"must be a number or a schedule of length t = {t} (got length {arr.size})")
        if nonneg:
            check_entries(field, arr, 0)
    if bound is not None and arr.size and float(np.max(np.abs(arr))) > bound:
        i = int(np.argmax(np.abs(arr) > bound))
        raise ValidationError(field, f"must satisfy |{field}| <= {bound:.3g} (entry {i} is {float(arr[i])!r})")
    return arr


def as_psd_matrix(field: str, value: Any, d: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A symmetric PSD matrix, as (eigenvalues, eigenvectors) -- or (entries, None) if given 1-D.

    A 1-D input is the diagonal (entries >= 0). A 2-D input must be symmetric to ``SYMMETRY_RTOL``
    relative; eigenvalues in [-d * eps * max|eig|, 0) are rounding noise of a singular PSD matrix
    and are set to 0; more negative ones are an error.
    """
    try:
        ndim = np.ndim(value)
    except Exception:  # ragged nested lists: let as_real_matrix report it
        ndim = 2
    if ndim == 1:
        lam = as_real_vector(field, value)
        if (lam < 0).any():
            i = int(np.argmax(lam < 0))
            raise ValidationError(field, f"every diagonal entry must be >= 0 (entry {i} is {float(lam[i])!r})")
        u = None
    else:
        m = as_symmetric_matrix(field, value)
        lam, u = np.linalg.eigh(0.5 * (m + m.T))
        tol = m.shape[0] * np.finfo(np.float64).eps * max(float(np.max(np.abs(lam))), 0.0)
        if lam[0] < -tol:
            raise ValidationError(field, f"must be positive semi-definite (smallest eigenvalue is {lam[0]:.6g})")
        lam = np.maximum(lam, 0.0)
    if d is not None and lam.size != d:
        raise ValidationError(field, f"must be {d} x {d} (or a length-{d} diagonal), got size {lam.size}")
    return lam, u


def as_number_list(field: str, value: Any) -> list:
    """A number or a non-empty 1-D list, as a Python list (entries checked by the caller)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ValidationError(field, f"must be a number or a 1-D list of numbers (got {type(value).__name__})")
    arr = np.asarray(value, dtype=object)
    if arr.ndim > 1 or arr.size == 0:
        raise ValidationError(field, f"must be a number or a non-empty 1-D list (got shape {arr.shape})")
    return arr.reshape(-1).tolist()


def as_batch_size(value: Any, field: str = "batch_size") -> int:
    """A minibatch size: an integer in [1, 2^53] (an integral float is accepted)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValidationError(field, "must be an integer >= 1 (got bool)")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if not isinstance(value, numbers.Integral) or not 1 <= int(value) <= MAX_BATCH_SIZE:
        raise ValidationError(field, f"must be an integer in [1, 2^53] (got {value!r})")
    return int(value)


def as_vector_of_length(field: str, value: Any, d: int, *, zero_if_none: bool = True) -> np.ndarray:
    """A finite float64 vector of length d; None is the zero vector if ``zero_if_none``."""
    if value is None and zero_if_none:
        return np.zeros(d)
    return as_real_vector(field, value, length=d)


def as_step_sizes(field: str, value: Any) -> tuple[np.ndarray, bool]:
    """Step sizes >= 0 as a 1-D array, and whether a single number was given."""
    e = as_nonnegative_reals(field, value)
    if e.ndim > 1:
        raise ValidationError(field, f"must be a number or a 1-D list of numbers (got shape {e.shape})")
    return e.reshape(-1), e.ndim == 0


def as_seeds(field: str, value: Any) -> tuple[int, ...]:
    """A non-empty sequence of integer seeds >= 0, as a tuple."""
    try:
        seq = tuple(value)
    except TypeError:
        raise ValidationError(field, "must be a non-empty sequence of integers >= 0") from None
    if not seq:
        raise ValidationError(field, "must be a non-empty sequence of integers >= 0")
    return tuple(as_int(field, s, 0) for s in seq)


def as_tensor_shapes(shapes: Any, max_tensors: int, max_parameters: int) -> tuple:
    """The shapes of an optimizer's tensors: a list of tuples of integers >= 1 (an int is a 1-D
    size, ``()`` a scalar), 1 to ``max_tensors`` of them holding at most ``max_parameters``
    entries in all (checked before anything is allocated)."""
    if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Sequence):
        raise ValidationError("shapes", "must be a list of tensor shapes (tuples of integers >= 1)")
    if not 1 <= len(shapes) <= max_tensors:
        raise ValidationError("shapes", f"must hold between 1 and {max_tensors} tensor shapes (got {len(shapes)})")
    out, total = [], 0
    for i, shp in enumerate(shapes):
        shp = (shp,) if isinstance(shp, (int, np.integer)) and not isinstance(shp, bool) else shp
        if isinstance(shp, (str, bytes)) or not isinstance(shp, Sequence) or len(shp) > 8:
            raise ValidationError("shapes", f"entry {i} must be a tuple of at most 8 integers >= 1 (got {shp!r})")
        dims = tuple(as_int(f"shapes[{i}]", d, 1, max_parameters) for d in shp)
        total += math.prod(dims)
        if total > max_parameters:
            raise ValidationError("shapes", f"the tensors must hold at most {max_parameters} parameters in all")
        out.append(dims)
    return tuple(out)


def as_tensor_list(field: str, value: Any, shapes: tuple) -> list[np.ndarray]:
    """A list of finite float64 arrays with exactly the given ``shapes`` (checked), flattened."""
    if isinstance(value, (str, bytes, np.ndarray)) or not isinstance(value, Sequence):
        raise ValidationError(field, f"must be a list of {len(shapes)} arrays, one per tensor")
    if len(value) != len(shapes):
        raise ValidationError(field, f"must hold {len(shapes)} arrays, one per tensor (got {len(value)})")
    out = []
    for i, (x, shp) in enumerate(zip(value, shapes)):
        try:
            got = np.shape(x)
        except ValueError:
            raise ValidationError(f"{field}[{i}]", "must be a rectangular array of numbers") from None
        if tuple(got) != shp:
            raise ValidationError(f"{field}[{i}]", f"must have shape {shp} (got {tuple(got)})")
        out.append(as_real_vector(f"{field}[{i}]", np.ravel(x)))
    return out


def oracle_gradients_finite(raw: Any, n_tensors: int) -> bool:
    """Whether a gradient oracle's answer ``raw`` (a list of ``n_tensors`` arrays of real numbers,
    else ValidationError naming ``problem_grad``) is finite everywhere."""
    if isinstance(raw, (str, bytes, np.ndarray)) or not isinstance(raw, Sequence) or len(raw) != n_tensors:
        raise ValidationError("problem_grad", f"must return a list of {n_tensors} arrays, one per tensor")
    try:
        return all(bool(np.all(np.isfinite(np.asarray(gi, dtype=np.float64)))) for gi in raw)
    except (TypeError, ValueError):
        raise ValidationError("problem_grad", "must return arrays of real numbers") from None
