"""The ``l2l eval`` JSON contract (``../shared/DESIGN.md``, "l2l eval input and output").

Input is one JSON object with a ``model`` key; ``eta`` and ``t`` may each be a number or a list, and
the output holds one entry of ``results`` per (eta, t) pair, eta varying slowest. Every problem is
validated here, at the boundary: unknown keys, wrong types, non-finite numbers, empty arrays or
mismatched shapes raise :class:`numerics.ValidationError` naming the field, which the CLI turns into
one line on stderr and exit code 2.

Example::

    >>> out = evaluate_request({"model": "quadratic_gd", "eigenvalues": [1.0, 3.0],
    ...                         "coefficients": [0.6, 0.8], "eta": 0.5, "t": 1000000000})
    >>> r = out["results"][0]
    >>> round(r["log_objective"], 9), round(r["log_objective_grad"], 9), r["naive_grad_sign"]
    (-1.386294361, 9.473684211, 1)

Only numpy is imported on this path (no SymPy), so a 1000-dimensional request with 200 step sizes
at t = 10^9 is answered in a fraction of a second.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from l2l.numerics.problems import QuadraticProblem
from l2l.numerics.validation import ValidationError, as_horizons, as_nonnegative_reals

__all__ = [
    "evaluate_request",
    "parse_request",
    "MODELS",
    "BACKPROP_MAX_COST",
    "BACKPROP_DTYPES",
    "MAX_INPUT_BYTES",
    "MAX_NESTING",
    "MAX_INTEGER_DIGITS",
    "MAX_ENTRIES",
    "MAX_PAIRS",
    "MAX_GRID_WORK",
    "MAX_WORK",
    "NQM_MAX_T",
    "NQM_MAX_WORK",
    "NQM_MAX_T_CONSTANT",
    "NQM_MAX_CURVE_POINTS",
    "NQM_MAX_T_MOMENTUM",
]

# ---------------------------------------------------------------------------------------------
# Limits (README, "l2l eval" > "Limits"). Every one is checked before any work and refused with one
# line naming the field and the limit, so a request's time and memory are bounded by its size class.

#: Bytes of JSON read from FILE or stdin; at most this + 1 bytes are ever read (``/dev/zero`` or an
#: endless pipe is refused after reading 16 MiB, in about 10 ms). 16 MiB holds ~10^6 numbers.
MAX_INPUT_BYTES = 16 * 2**20
#: Depth of nested JSON arrays / objects (a request needs 3: object, matrix, row).
MAX_NESTING = 32
#: Digits of one integer literal (float64 ends at 309 digits; Python's int() refuses > 4300).
MAX_INTEGER_DIGITS = 400
#: Numbers in one array (``X``: n x d, ``hessian``: d x d, ``eigenvalues``, ``eta``, ...): 8 MB as
#: float64, and an SVD / eigh of at most a 1000 x 1000 matrix.
MAX_ENTRIES = 10**6
#: (eta, t) pairs, len(eta) x len(t): one result object each (~250 bytes of output).
MAX_PAIRS = 10**4
#: Closed forms (quadratic_gd, least_squares_gd): pairs x d x (1 + n_valid) float64 operations per
#: broadcast array; 10^8 is ~1 GB-second of numpy work.
MAX_GRID_WORK = 10**8
#: Recursive / unrolled paths, counted in multiply-adds: backprop len(eta) x t x d^2 (dense
#: matrix-vector products), least_squares_sgd len(eta) x t x n x min(n, d)^2 (the moment
#: recursion). 2 x 10^9 is a few seconds on one core.
MAX_WORK = 2 * 10**9
#: Largest t x dim for one (eta, t) pair of a ``backprop`` request. Reverse mode stores t iterates
#: of length dim (8 bytes each in float64), so 10^7 means at most 80 MB per step size.
BACKPROP_MAX_COST = 10**7
BACKPROP_DTYPES = ("float32", "float64")
#: ``l2l eval`` nqm: the largest horizon (the full curve holds t + 1 <= 10^7 points) and the largest
#: t x d (work of the exact recursion, O(d) per step).
NQM_MAX_T = 10**7 - 1
NQM_MAX_WORK = 10**9
#: nqm with a constant ``eta`` and ``mu`` and ``curve`` "final" or a stride (the closed-form jump,
#: ``numerics.nqm.jump``: O(d) work per curve point whatever t): the largest t, and the largest
#: number of curve points (``points x d`` is capped by NQM_MAX_WORK as well).
NQM_MAX_T_CONSTANT = 10**18
NQM_MAX_CURVE_POINTS = 10**7
#: The largest t of the jump with a momentum mu != 0 (its rounding error grows like t x 1e-20).
NQM_MAX_T_MOMENTUM = 10**9


# ---------------------------------------------------------------------------------------------
# reading the JSON: every problem names its field


class _Bad:
    """A JSON literal refused after parsing, where its key path is known (NaN, 1e999, huge ints)."""

    def __init__(self, message: str):
        self.message = message


class _Pairs(list):
    """An object's (key, value) pairs as parsed, turned into a dict where duplicates can be named."""


def _show(s: str) -> str:
    """A key or a name as one printable line: itself if printable, else its repr (escaped)."""
    return s if s and s.isprintable() else repr(s)


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (dict, _Pairs)):
        return "object"
    if isinstance(v, list):
        return "list"
    return type(v).__name__


def _parse_constant(name: str) -> _Bad:
    return _Bad(f"non-finite number {name} is not allowed")


def _parse_float(text: str) -> Any:
    x = float(text)
    if math.isfinite(x):
        return x
    return _Bad(f"number {text[:40]}{'...' if len(text) > 40 else ''} is beyond the float64 range")


def _parse_int(text: str) -> Any:
    digits = len(text) - (text[0] == "-")
    if digits > MAX_INTEGER_DIGITS:
        return _Bad(f"integer with {digits} digits exceeds the limit of {MAX_INTEGER_DIGITS} digits")
    v = int(text)
    if abs(v) <= 2**63 - 1:
        return v
    x = float(v) if digits <= 309 else math.inf
    return x if math.isfinite(x) else _Bad(f"integer with {digits} digits is beyond the float64 range")


def _is_number(v: Any) -> bool:
    return type(v) is float or type(v) is int


def _clean(value: Any, path: str, depth: int, count: list) -> Any:
    """Turn parsed pairs into dicts, refusing duplicates, refused literals, nesting deeper than
    MAX_NESTING and arrays of more than MAX_ENTRIES numbers, naming the key path."""
    if isinstance(value, _Bad):
        raise ValidationError(path or "input", value.message)
    if isinstance(value, (_Pairs, list)) and depth >= MAX_NESTING:
        shown = path if len(path) <= 60 else path[:60] + "..."
        raise ValidationError(shown or "input", f"JSON nested deeper than the limit of {MAX_NESTING} levels")
    if isinstance(value, _Pairs):
        out: dict = {}
        for k, v in value:
            sub = _show(k) if not path else f"{path}.{_show(k)}"
            if k in out:
                raise ValidationError(sub, "duplicate key")
            out[k] = _clean(v, sub, depth + 1, [0] if not path else count)
        return out
    if isinstance(value, list):
        count[0] += len(value)
        if count[0] > MAX_ENTRIES:
            raise ValidationError(path or "input", f"more than {MAX_ENTRIES} entries (the limit for one array)")
        if all(map(_is_number, value)):  # the common case, fast
            return value
        return [_clean(v, f"{path}[{i}]", depth + 1, count) for i, v in enumerate(value)]
    return value


def parse_request(raw: bytes, source: str = "input") -> Any:
    """Parse the bytes of an ``l2l eval`` request (at most :data:`MAX_INPUT_BYTES` + 1 of them, as
    read by the CLI), refusing with a :class:`ValidationError` that names the field: non-UTF-8
    input, invalid JSON, NaN / Infinity / out-of-range literals, integers over
    :data:`MAX_INTEGER_DIGITS` digits, duplicate keys, nesting over :data:`MAX_NESTING` levels and
    arrays over :data:`MAX_ENTRIES` numbers.

    >>> parse_request(b'{"eta": [0.1, NaN], "t": 1}')
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: eta[1]: non-finite number NaN is not allowed
    >>> parse_request(b'{"eta": 0.1, "eta": 0.2}')
    Traceback (most recent call last):
    ...
    l2l.numerics.validation.ValidationError: eta: duplicate key
    """
    import json

    if len(raw) > MAX_INPUT_BYTES:
        raise ValidationError("input", f"is larger than the limit of {MAX_INPUT_BYTES} bytes (16 MiB)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError("input", f"must be UTF-8 JSON (byte 0x{raw[exc.start]:02x} at offset {exc.start} is not UTF-8)") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_constant=_parse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except json.JSONDecodeError as exc:
        raise ValidationError(_show(source), f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ValidationError("input", f"JSON nested deeper than the limit of {MAX_NESTING} levels") from None
    return _clean(value, "", 0, [0])


def _environment(precision: str) -> dict:
    from .environment import environment

    return environment(precision=precision, packages=("l2l-theory", "numpy"))


def _number_or_list(field: str, value: Any) -> list:
    if isinstance(value, bool):
        raise ValidationError(field, "must be a number or a list of numbers (got a boolean)")
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        if not value:
            raise ValidationError(field, "must not be an empty list")
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValidationError(field, f"must contain only numbers (got {_json_type(v)})")
        return value
    raise ValidationError(field, f"must be a number or a list of numbers (got {_json_type(value)})")


def _check_pairs(etas: list, ts: list) -> None:
    """At most MAX_PAIRS (eta, t) pairs (checked on the raw lists, before any conversion)."""
    pairs = len(etas) * len(ts)
    if pairs > MAX_PAIRS:
        raise ValidationError(
            "eta", f"{len(etas)} step sizes x {len(ts)} horizons = {pairs} (eta, t) pairs exceeds the limit of {MAX_PAIRS}"
        )


def _check_work(field: str, what: str, work: int, limit: int, advice: str) -> None:
    if work > limit:
        raise ValidationError(field, f"{what} = {work} exceeds the limit of {limit:.0e}; {advice}")


def _numeric_array(field: str, value: Any, depth: int) -> Any:
    """Check a JSON list nested ``depth`` deep holds only numbers (no booleans, strings, nulls)."""
    if not isinstance(value, list):
        raise ValidationError(field, f"must be a {'list' if depth == 1 else 'list of lists'} of numbers")
    if not value:
        raise ValidationError(field, "must not be empty")
    for v in value:
        if depth > 1:
            _numeric_array(field, v, depth - 1)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValidationError(field, f"must contain only numbers (got {_json_type(v)})")
    return value


def _check_keys(request: dict, allowed: set, required: set) -> None:
    unknown = sorted(set(request) - allowed)
    if unknown:
        raise ValidationError(_show(unknown[0]), f"unknown key for model {request['model']!r} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(request))
    if missing:
        raise ValidationError(missing[0], f"is required for model {request['model']!r}")


def _finite(x: float) -> float | None:
    """A finite float, or None (null) for a value beyond float64's range."""
    x = float(x)
    return x if math.isfinite(x) else None


def _quadratic_problem(request: dict) -> QuadraticProblem:
    """The quadratic of a request: ``eigenvalues`` + ``coefficients``, or ``hessian`` + ``w0``."""
    eig_form = "eigenvalues" in request or "coefficients" in request
    dense_form = "hessian" in request or "w0" in request
    if eig_form and dense_form:
        raise ValidationError("hessian", "give either eigenvalues + coefficients or hessian + w0, not both")
    if eig_form:
        for key in ("eigenvalues", "coefficients"):
            if key not in request:
                raise ValidationError(key, "is required with the eigenvalues + coefficients form")
        problem = QuadraticProblem(
            _numeric_array("eigenvalues", request["eigenvalues"], 1),
            _numeric_array("coefficients", request["coefficients"], 1),
        )
    elif dense_form:
        for key in ("hessian", "w0"):
            if key not in request:
                raise ValidationError(key, "is required with the hessian + w0 form")
        problem = QuadraticProblem.from_matrix(
            _numeric_array("hessian", request["hessian"], 2), _numeric_array("w0", request["w0"], 1)
        )
    else:
        raise ValidationError("eigenvalues", "give eigenvalues + coefficients, or hessian + w0")
    return problem


def _quadratic_gd(request: dict) -> dict:
    from l2l.numerics.quadratic.stable import evaluate

    allowed = {"model", "eigenvalues", "coefficients", "hessian", "w0", "eta", "t", "backprop"}
    _check_keys(request, allowed, {"eta", "t"})
    eta_list, t_list = _number_or_list("eta", request["eta"]), _number_or_list("t", request["t"])
    _check_pairs(eta_list, t_list)
    problem = _quadratic_problem(request)

    etas = as_nonnegative_reals("eta", eta_list)
    ts = as_horizons("t", t_list)
    _check_work("eta", f"(eta, t) pairs x dim = {etas.size * ts.size} x {problem.dim}", etas.size * ts.size * problem.dim,
                MAX_GRID_WORK, "use fewer step sizes or horizons")

    dtypes: list[str] = []
    if "backprop" in request:
        bp = request["backprop"]
        if not isinstance(bp, list) or not all(isinstance(x, str) for x in bp):
            raise ValidationError("backprop", f"must be a list of dtype names from {list(BACKPROP_DTYPES)}")
        for x in bp:
            if x not in BACKPROP_DTYPES:
                raise ValidationError("backprop", f"unknown dtype {x!r} (allowed: {', '.join(BACKPROP_DTYPES)})")
        dtypes = list(dict.fromkeys(bp))
        if dtypes:
            cost = int(ts.max()) * problem.dim
            if cost > BACKPROP_MAX_COST:
                raise ValidationError(
                    "backprop",
                    f"t x dim = {int(ts.max())} x {problem.dim} = {cost} exceeds the limit "
                    f"{BACKPROP_MAX_COST} for unrolled backpropagation; drop 'backprop' or reduce t",
                )
            _check_work("backprop", f"len(eta) x t x dim^2 = {etas.size} x {int(ts.max())} x {problem.dim}^2",
                        etas.size * int(ts.max()) * problem.dim**2, MAX_WORK, "drop 'backprop', or use fewer step sizes or a smaller t")

    ev = evaluate(problem, etas[:, None], ts[None, :])
    backprop = {}
    if dtypes:
        from l2l.numerics.quadratic.unroll import backprop as run_backprop

        h, w0 = request_h_w0(request, problem)
        for dt in dtypes:
            backprop[dt] = run_backprop(h, w0, etas, [int(x) for x in ts], dtype=dt)

    results = []
    for i, eta in enumerate(etas):
        for j, t in enumerate(ts):
            zero = bool(ev.loss_is_zero[i, j])
            nla = float(ev.naive_grad_log_abs[i, j])
            entry = {
                "eta": float(eta),
                "t": int(t),
                "log_loss": None if zero else _finite(ev.log_loss[i, j]),
                "log_objective": None if zero else _finite(ev.log_objective[i, j]),
                "log_objective_grad": None if zero else _finite(ev.log_objective_grad[i, j]),
                "naive_grad_sign": int(ev.naive_grad_sign[i, j]),
                "naive_grad_log_abs": _finite(nla),
            }
            if dtypes:
                entry["backprop"] = {}
                for dt in dtypes:
                    res = backprop[dt]
                    status = str(res.status[i, j])
                    value = float(res.log_objective_grad[i, j])
                    entry["backprop"][dt] = {
                        "log_objective_grad": value if status == "ok" and math.isfinite(value) else None,
                        "status": status,
                    }
            results.append(entry)
    return {
        "model": "quadratic_gd",
        "dim": problem.dim,
        "results": results,
        "environment": _environment("float64, log-space closed form (numerics.quadratic.stable)"),
    }


def request_h_w0(request: dict, problem: QuadraticProblem) -> tuple[np.ndarray, np.ndarray]:
    """The dense (H, w0) that backprop unrolls: the user's own matrix when one was given."""
    if "hessian" in request:
        return np.asarray(request["hessian"], dtype=np.float64), np.asarray(request["w0"], dtype=np.float64)
    return problem.dense()


def _least_squares_input(request: dict, extra: set[str]) -> tuple:
    """Shared parsing of the least-squares models: (problem, w0 or None, etas, ts)."""
    from l2l.numerics.problems import LeastSquaresProblem

    allowed = {"model", "X", "y", "X_valid", "y_valid", "w0", "eta", "t"} | extra
    _check_keys(request, allowed, {"X", "y", "eta", "t"})
    eta_list, t_list = _number_or_list("eta", request["eta"]), _number_or_list("t", request["t"])
    _check_pairs(eta_list, t_list)
    problem = LeastSquaresProblem(
        _numeric_array("X", request["X"], 2),
        _numeric_array("y", request["y"], 1),
        _numeric_array("X_valid", request["X_valid"], 2) if "X_valid" in request else None,
        _numeric_array("y_valid", request["y_valid"], 1) if "y_valid" in request else None,
    )
    w0 = None
    if "w0" in request:
        from l2l.numerics.validation import as_real_vector

        w0 = as_real_vector("w0", _numeric_array("w0", request["w0"], 1))
        if w0.size != problem.d:
            raise ValidationError("w0", f"must have length {problem.d} (the number of columns of X), got {w0.size}")
    etas = as_nonnegative_reals("eta", eta_list)
    ts = as_horizons("t", t_list)
    return problem, w0, etas, ts


def _value(x: Any) -> float | None:
    """A finite float, or None (null) for a value beyond float64's range (status says overflow)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _least_squares_entry(eta: float, t: int, prefix: str, train: tuple, valid: tuple | None) -> dict:
    """One result of a least-squares model: ``{prefix}train_loss``, ``{prefix}train_loss_grad`` and
    the validation pair (null without a validation set); ``status`` says "overflow" when a value
    is beyond float64's range (printed null)."""
    values = list(train) + (list(valid) if valid is not None else [])
    return {
        "eta": float(eta),
        "t": int(t),
        f"{prefix}train_loss": _value(train[0]),
        f"{prefix}train_loss_grad": _value(train[1]),
        f"{prefix}valid_loss": None if valid is None else _value(valid[0]),
        f"{prefix}valid_loss_grad": None if valid is None else _value(valid[1]),
        "status": "ok" if all(math.isfinite(float(v)) for v in values) else "overflow",
    }


def _least_squares_gd(request: dict) -> dict:
    from l2l.numerics.least_squares.closed_form import gd

    problem, w0, etas, ts = _least_squares_input(request, set())
    nv = problem.n_valid if problem.has_validation else 0
    _check_work("eta", f"(eta, t) pairs x d x (1 + n_valid) = {etas.size * ts.size} x {problem.d} x {1 + nv}",
                etas.size * ts.size * problem.d * (1 + nv), MAX_GRID_WORK, "use fewer step sizes or horizons")
    res = gd(problem, etas[:, None], ts[None, :], w0=w0)
    valid = res.valid_loss is not None
    results = [
        _least_squares_entry(
            eta, t, "",
            (res.train_loss[i, j], res.train_loss_grad[i, j]),
            (res.valid_loss[i, j], res.valid_loss_grad[i, j]) if valid else None,
        )
        for i, eta in enumerate(etas)
        for j, t in enumerate(ts)
    ]
    return {
        "model": "least_squares_gd",
        "results": results,
        "environment": _environment("float64 closed form in the eigenbasis of X^T X / n (numerics.least_squares)"),
    }


def _least_squares_sgd(request: dict) -> dict:
    from l2l.numerics.least_squares.moments import MAX_CURVE_POINTS, MAX_MOMENT_STEPS, finite_set_expectation

    problem, w0, etas, ts = _least_squares_input(request, {"batch_size"})
    batch = request.get("batch_size", 1)
    if isinstance(batch, float) and batch.is_integer():
        batch = int(batch)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10**9:
        shown = repr(batch) if isinstance(batch, (int, float)) and not isinstance(batch, bool) else _json_type(batch)
        raise ValidationError("batch_size", f"must be an integer in [1, {10**9}] (got {shown})")
    t_max = int(ts.max())
    if t_max > MAX_MOMENT_STEPS:
        raise ValidationError("t", f"must be <= {MAX_MOMENT_STEPS} for model 'least_squares_sgd' (got {t_max})")
    if etas.size * (t_max + 1) > MAX_CURVE_POINTS:
        raise ValidationError("t", f"len(eta) x (max t + 1) = {etas.size} x {t_max + 1} exceeds the limit of {MAX_CURVE_POINTS:.0e}")
    n, d = problem.n, problem.d
    _check_work("t", f"len(eta) x max t x n x min(n, d)^2 = {etas.size} x {t_max} x {n} x {min(n, d)}^2",
                etas.size * t_max * n * min(n, d) ** 2, MAX_WORK, "use fewer step sizes or a smaller t")
    res = finite_set_expectation(problem, etas, t_max, batch_size=batch, w0=w0, curve=True)
    results = [
        _least_squares_entry(
            eta, t, "expected_",
            (res.train_curve[i, t], res.train_grad_curve[i, t]),
            (res.valid_curve[i, t], res.valid_grad_curve[i, t]) if problem.has_validation else None,
        )
        for i, eta in enumerate(etas)
        for t in ts
    ]
    return {
        "model": "least_squares_sgd",
        "batch_size": batch,
        "results": results,
        "environment": _environment("float64 exact moment recursion (numerics.least_squares.moments), no Monte Carlo"),
    }


def _nqm_schedule(field: str, value: Any, t: int, default: float | None) -> Any:
    """A number or a list of length t (the per-step schedule) for ``eta`` / ``mu``."""
    if value is None:
        return default
    if isinstance(value, list):
        _numeric_array(field, value, 1)
        if len(value) != t:
            raise ValidationError(field, f"as a schedule must have length t = {t} (one value per step), got {len(value)}")
        return np.asarray(value, dtype=float)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"must be a number or a list of t numbers (got {_json_type(value)})")
    return float(value)


def _nqm_curve(value: Any, t: int) -> int | None:
    """``curve``: "full" (every step; the default), "final" (step t only) or an integer stride k
    (steps 0, k, 2k, ... and t). Returned as the stride: 1 for "full", None for "final"."""
    if value is None or value == "full":
        return 1
    if value == "final":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= NQM_MAX_T_CONSTANT:
        shown = repr(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else _json_type(value)
        raise ValidationError("curve", f'must be "full", "final" or an integer stride in [1, {NQM_MAX_T_CONSTANT:.0e}], got {shown}')
    return value


def _nqm(request: dict) -> dict:
    from l2l.numerics import nqm

    _check_keys(request, {"model", "h", "sigma2", "mean0", "var0", "eta", "mu", "t", "curve"}, {"h", "sigma2", "mean0", "eta", "t"})
    t = request["t"]
    if isinstance(t, float) and t.is_integer():
        t = int(t)
    constant = not isinstance(request["eta"], list) and not isinstance(request.get("mu"), list)
    full = request.get("curve", "full") == "full"
    # the closed-form jump (constant eta and mu, a curve other than "full") takes any t up to
    # NQM_MAX_T_CONSTANT; the step recursion, t <= NQM_MAX_T and t x d <= NQM_MAX_WORK
    momentum = request.get("mu", 0.0) != 0.0
    t_max = (NQM_MAX_T_MOMENTUM if momentum else NQM_MAX_T_CONSTANT) if constant and not full else NQM_MAX_T
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= t_max:
        shown = repr(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else _json_type(t)
        raise ValidationError("t", f"must be one integer in [0, {NQM_MAX_T}] for model 'nqm' (the schedule's length; "
                                   f"the curve holds t + 1 points; with a constant eta and mu and curve \"final\" or a "
                                   f"stride, up to {NQM_MAX_T_CONSTANT:.0e} for mu = 0 and {NQM_MAX_T_MOMENTUM:.0e} "
                                   f"for mu != 0), got {shown}")
    stride = _nqm_curve(request.get("curve"), t)
    jump = constant and not full
    h = _numeric_array("h", request["h"], 1)
    d = len(h)
    n_points = 1 if stride is None else t // stride + 1 + (t % stride != 0)
    if n_points > NQM_MAX_CURVE_POINTS:
        raise ValidationError("curve", f"t / stride + 1 = {n_points} curve points exceeds the limit of {NQM_MAX_CURVE_POINTS:.0e}")
    if jump and n_points * d > NQM_MAX_WORK:
        raise ValidationError("curve", f"curve points x d = {n_points} x {d} = {n_points * d} exceeds the limit of {NQM_MAX_WORK:.0e}")
    if not jump and t * d > NQM_MAX_WORK:
        raise ValidationError("t", f"t x d = {t} x {d} = {t * d} exceeds the limit of {NQM_MAX_WORK:.0e}")
    steps = None if stride == 1 else nqm.jump_steps(t, stride)
    var0 = request.get("var0")
    problem = nqm.NQMProblem(
        h,
        _numeric_array("sigma2", request["sigma2"], 1),
        _numeric_array("mean0", request["mean0"], 1),
        np.zeros(d) if var0 is None else _numeric_array("var0", var0, 1),
    )
    eta = _nqm_schedule("eta", request["eta"], t, None)
    mu = _nqm_schedule("mu", request.get("mu"), t, 0.0)
    ext = f"{np.finfo(np.longdouble).bits // 8 * 8}-bit long double (eps {float(np.finfo(np.longdouble).eps):.1e})"
    if jump:
        res = nqm.run_constant(problem, eta, t, mu=mu, stride=stride)
        losses = [float(v) for v in res.loss]
        state = res.state
        how = ("closed form X_t = r^t X_0 + n (1 - r^t)/(1 - r) of constant-step SGD, O(d)" if res.method == "sgd closed form"
               else "the one-step affine moment map (2x2 mean map and noise input) raised to the power t by repeated squaring, O(d log t)")
        method = f"closed-form jump (numerics.nqm.jump.run_constant): {how}, in {ext}; results in float64; no Monte Carlo"
    else:
        traj = nqm.run(problem, eta, t, mu=mu, curve=stride is not None, precision="extended")
        losses = [float(v) for v in (traj.loss[steps] if stride not in (None, 1) else traj.loss)]
        state = traj.state
        method = f"exact moment recursion of (E w^2, E v^2, E w v) in {ext}, results in float64 (numerics.nqm); no Monte Carlo"
    overflow = not all(math.isfinite(v) for v in losses) or not bool(np.isfinite(state.X).all())
    # null when undefined: 0/0 when no excess loss and no noise are left (every step size is then
    # one-step optimal), or after an overflow
    defined = not overflow and bool((state.X > 0).any() or (problem.sigma2 > 0).any())
    greedy = float(nqm.greedy_eta(problem, state)) if defined else None
    result = {
        "t": t,
        "eta": request["eta"],
        "mu": request.get("mu", 0.0),
        "expected_loss": [v if math.isfinite(v) else None for v in losses],
        "greedy_eta": greedy,
        "status": "overflow" if overflow else "ok",
    }
    if stride != 1:  # additive: which steps expected_loss holds ("full": 0..t, as before)
        result["steps"] = [int(s) for s in steps]
    return {"model": "nqm", "results": [result], "environment": _environment(method)}


def _meta_estimators(request: dict) -> dict:
    """Metz et al. (2019) on a quadratic: the averaged meta-loss L_T, its derivative, the exact
    Gaussian-smoothed meta-loss and the RP / ES estimator variances (``numerics.estimators``), and
    with ``truncation`` K the TBPTT gradient and fixed point."""
    from l2l.numerics.estimators.meta_loss import meta_loss, worst_status
    from l2l.numerics.estimators.smoothing import MAX_EXACT_T, MAX_EXACT_WORK, smoothed_moments
    from l2l.numerics.validation import as_real

    allowed = {"model", "eigenvalues", "coefficients", "hessian", "w0", "eta", "T", "sigma", "truncation"}
    _check_keys(request, allowed, {"eta", "T", "sigma"})
    eta_list, t_list = _number_or_list("eta", request["eta"]), _number_or_list("T", request["T"])
    pairs = len(eta_list) * len(t_list)
    if pairs > MAX_PAIRS:
        raise ValidationError("eta", f"{len(eta_list)} step sizes x {len(t_list)} unroll lengths = {pairs} (eta, T) pairs "
                                     f"exceeds the limit of {MAX_PAIRS}")
    problem = _quadratic_problem(request)
    etas = as_nonnegative_reals("eta", eta_list)
    ts = as_horizons("T", t_list, maximum=MAX_EXACT_T)
    sigma = request["sigma"]
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise ValidationError("sigma", f"must be a number > 0 (got {_json_type(sigma)})")
    sigma = as_real("sigma", sigma, 0.0, lo_open=True)
    d = int(np.count_nonzero(problem.coefficients))
    per_t = sum(int(t) * int(t) + 3 * int(t) + 1 for t in ts)
    _check_work("T", f"len(eta) x sum over T of (T^2 + 3T + 1) x dim = {etas.size} x {per_t} x {d}", etas.size * per_t * d,
                MAX_EXACT_WORK, "use fewer step sizes or smaller unroll lengths")
    K = None
    if "truncation" in request:
        K = request["truncation"]
        if isinstance(K, float) and K.is_integer():
            K = int(K)
        t_min = int(ts.min())
        if isinstance(K, bool) or not isinstance(K, int) or not 1 <= K <= t_min:
            shown = repr(K) if isinstance(K, (int, float)) and not isinstance(K, bool) else _json_type(K)
            raise ValidationError("truncation", f"must be an integer K with 1 <= K <= T (here T = {t_min}, the smallest), got {shown}")
        try:
            from l2l.numerics.estimators.truncation import tbptt_fixed_point, tbptt_grad
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("l2l.numerics.estimators"):
                raise
            raise ValidationError("truncation", "not available yet") from None
        fixed = {int(t): tbptt_fixed_point(problem, int(t), K) for t in dict.fromkeys(ts.tolist())}

    results = []
    for eta in etas:
        for t in ts:
            t = int(t)
            ml = meta_loss(problem, float(eta), t)
            sm = smoothed_moments(problem, float(eta), t, sigma)
            entry = {
                "eta": float(eta),
                "T": t,
                "meta_loss": ml.meta_loss,
                "meta_loss_grad": ml.meta_loss_grad,
                "smoothed_meta_loss": sm.smoothed_meta_loss,
                "smoothed_meta_loss_grad": sm.smoothed_meta_loss_grad,
                "rp_variance": sm.rp_variance,
                "es_variance": sm.es_variance,
            }
            statuses = [ml.status, sm.status]
            if K is not None:
                g = _finite(tbptt_grad(problem, float(eta), t, K))
                statuses.append("ok" if g is not None else "overflow")
                fp = fixed[t]
                entry["tbptt_grad"] = g
                entry["tbptt_fixed_point"] = None if fp is None else _finite(fp)
            entry["status"] = worst_status(statuses)
            results.append(entry)
    out = {"model": "meta_estimators", "dim": problem.dim, "sigma": sigma}
    if K is not None:
        out["truncation"] = K
    out["results"] = results
    out["environment"] = _environment("float64 log-space closed form; exact moments by Gauss-Hermite (2T + 1 nodes) and "
                                      "Gauss-Legendre (T nodes) quadrature in log space (numerics.estimators); no Monte Carlo")
    return out


BREAK_EVEN_SAMPLING = ("without_replacement", "with_replacement")


def _break_even(request: dict) -> dict:
    """Jastrzebski et al. (2020), Eq. 1: the mean-square stability factor E[(1 - eta h_B)^2] of SGD
    along the top Hessian direction for per-example curvatures ``h`` and minibatches of ``S``
    indices, its critical step size and the verdict (``numerics.break_even.stability``)."""
    from l2l.numerics.break_even.stability import critical_step, curvature_moments, mean_square_factor
    from l2l.numerics.validation import as_real_vector

    _check_keys(request, {"model", "h", "eta", "batch_size", "sampling"}, {"h", "eta", "batch_size"})
    eta_list = _number_or_list("eta", request["eta"])
    s_list = _number_or_list("batch_size", request["batch_size"])
    pairs = len(eta_list) * len(s_list)
    if pairs > MAX_PAIRS:
        raise ValidationError("eta", f"{len(eta_list)} step sizes x {len(s_list)} batch sizes = {pairs} (eta, S) pairs "
                                     f"exceeds the limit of {MAX_PAIRS}")
    _numeric_array("h", request["h"], 1)
    h = as_real_vector("h", request["h"], min_len=2)
    n = int(h.size)
    etas = as_nonnegative_reals("eta", eta_list)
    sizes = []
    for i, S in enumerate(s_list):
        if isinstance(S, float) and S.is_integer():
            S = int(S)
        if not isinstance(S, int) or not 1 <= S <= n:
            field = "batch_size" if len(s_list) == 1 and not isinstance(request["batch_size"], list) else f"batch_size[{i}]"
            raise ValidationError(field, f"must be an integer S with 1 <= S <= N = {n} (the length of h), got {S!r}")
        sizes.append(S)
    sampling = request.get("sampling", "without_replacement")
    if not isinstance(sampling, str) or sampling not in BREAK_EVEN_SAMPLING:
        shown = repr(sampling) if isinstance(sampling, str) else _json_type(sampling)
        raise ValidationError("sampling", f"must be one of {', '.join(BREAK_EVEN_SAMPLING)} (got {shown})")

    lam, s2 = curvature_moments(h)
    results = []
    for eta in etas:
        for S in sizes:
            factor = float(mean_square_factor(h, float(eta), S, sampling=sampling))
            crit = float(critical_step(h, S, sampling=sampling))
            results.append({
                "eta": float(eta),
                "batch_size": S,
                "lambda": float(lam),
                "s2": float(s2),
                "mean_square_factor": _finite(factor),
                "eta_crit": _finite(crit),
                "stable": bool(factor <= 1.0),
                "status": "ok" if math.isfinite(factor) else "overflow",
            })
    out = {"model": "break_even", "n": n, "sampling": sampling, "results": results}
    out["environment"] = _environment("float64 closed form (1 - eta lambda)^2 + eta^2 s2 c(S), lambda and s2 by exactly "
                                      "rounded sums (numerics.break_even); no Monte Carlo")
    return out


MODELS: dict[str, Callable[[dict], dict] | None] = {
    "quadratic_gd": _quadratic_gd,
    "least_squares_gd": _least_squares_gd,
    "least_squares_sgd": _least_squares_sgd,
    "nqm": _nqm,
    "meta_estimators": _meta_estimators,
    "break_even": _break_even,
}


#: What each key holds, for the message about a null.
_FIELD_KINDS = {
    "eigenvalues": "a list of numbers > 0",
    "coefficients": "a list of numbers",
    "hessian": "a list of lists of numbers",
    "w0": "a list of numbers",
    "eta": "a number >= 0 or a list of them",
    "t": "an integer >= 1 or a list of them",
    "backprop": "a list of dtype names",
    "X": "a list of lists of numbers",
    "y": "a list of numbers",
    "X_valid": "a list of lists of numbers",
    "y_valid": "a list of numbers",
    "batch_size": f"an integer in [1, {10**9}]",
    "h": "a list of numbers > 0",
    "sigma2": "a list of numbers >= 0",
    "mean0": "a list of numbers",
    "var0": "a list of numbers >= 0",
    "mu": "a number or a list of t numbers",
    "T": "an integer >= 1 or a list of them",
    "sigma": "a number > 0",
    "truncation": "an integer K with 1 <= K <= T",
}


_NQM_KINDS = {"t": f"one integer in [0, {NQM_MAX_T}]", "eta": "a number >= 0 or a list of t numbers",
              "curve": '"full", "final" or an integer stride >= 1'}
_MODEL_KINDS = {
    "nqm": _NQM_KINDS,
    "break_even": {"h": "a list of at least 2 numbers (per-example curvatures)",
                   "batch_size": "an integer S in [1, N] or a list of them",
                   "sampling": "one of " + ", ".join(BREAK_EVEN_SAMPLING)},
}


def evaluate_request(request: Any) -> dict:
    """Evaluate one ``l2l eval`` request (an already-parsed JSON object) and return the output."""
    if not isinstance(request, dict):
        raise ValidationError("input", f"must be a JSON object (got {_json_type(request)})")
    if "model" not in request:
        raise ValidationError("model", f"is required (one of: {', '.join(MODELS)})")
    model = request["model"]
    if not isinstance(model, str) or model not in MODELS:
        raise ValidationError("model", f"must be one of {', '.join(MODELS)} (got {model!r})")
    handler = MODELS[model]
    for key, value in request.items():  # null is never "use the default"
        if value is None:
            kind = _MODEL_KINDS.get(model, {}).get(key) or _FIELD_KINDS.get(key)
            if kind is None:
                break  # an unknown key: the model's own check names it
            raise ValidationError(key, f"must be {kind} (got null); omit the key to use its default")
    if handler is None:
        available = ", ".join(k for k, v in MODELS.items() if v is not None)
        raise ValidationError("model", f"{model!r} is not implemented yet in this version (available: {available})")
    return handler(request)
