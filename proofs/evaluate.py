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

__all__ = ["evaluate_request", "MODELS", "BACKPROP_MAX_COST", "BACKPROP_DTYPES"]

#: Largest t x dim accepted for one (eta, t) pair of a ``backprop`` request. Reverse mode stores
#: t iterates of length dim (8 bytes each in float64) and does about 2 t matrix-vector products, so
#: 10^7 means at most 80 MB and a few seconds per step size; larger requests are refused.
BACKPROP_MAX_COST = 10**7
BACKPROP_DTYPES = ("float32", "float64")


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
                raise ValidationError(field, f"must contain only numbers (got {type(v).__name__})")
        return value
    raise ValidationError(field, f"must be a number or a list of numbers (got {type(value).__name__})")


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
            raise ValidationError(field, f"must contain only numbers (got {type(v).__name__})")
    return value


def _check_keys(request: dict, allowed: set, required: set) -> None:
    unknown = sorted(set(request) - allowed)
    if unknown:
        raise ValidationError(unknown[0], f"unknown key for model {request['model']!r} (allowed: {', '.join(sorted(allowed))})")
    missing = sorted(required - set(request))
    if missing:
        raise ValidationError(missing[0], f"is required for model {request['model']!r}")


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _quadratic_gd(request: dict) -> dict:
    from l2l.numerics.quadratic.stable import evaluate

    allowed = {"model", "eigenvalues", "coefficients", "hessian", "w0", "eta", "t", "backprop"}
    _check_keys(request, allowed, {"eta", "t"})
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

    etas = as_nonnegative_reals("eta", _number_or_list("eta", request["eta"]))
    ts = as_horizons("t", _number_or_list("t", request["t"]))

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
                "log_loss": None if zero else float(ev.log_loss[i, j]),
                "log_objective": None if zero else float(ev.log_objective[i, j]),
                "log_objective_grad": None if zero else float(ev.log_objective_grad[i, j]),
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
    etas = as_nonnegative_reals("eta", _number_or_list("eta", request["eta"]))
    ts = as_horizons("t", _number_or_list("t", request["t"]))
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
    from l2l.numerics.least_squares.moments import finite_set_expectation
    from l2l.numerics.validation import as_horizons as _as_int

    problem, w0, etas, ts = _least_squares_input(request, {"batch_size"})
    batch = int(_as_int("batch_size", request.get("batch_size", 1), maximum=10**9).reshape(-1)[0])
    res = finite_set_expectation(problem, etas, int(ts.max()), batch_size=batch, w0=w0, curve=True)
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


#: ``l2l eval`` nqm: the largest horizon and the largest t x d (work of the exact recursion).
NQM_MAX_T = 10**7
NQM_MAX_WORK = 10**9


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
        raise ValidationError(field, f"must be a number or a list of t numbers (got {type(value).__name__})")
    return float(value)


def _nqm(request: dict) -> dict:
    from l2l.numerics import nqm

    _check_keys(request, {"model", "h", "sigma2", "mean0", "var0", "eta", "mu", "t"}, {"h", "sigma2", "mean0", "eta", "t"})
    t = request["t"]
    if isinstance(t, float) and t.is_integer():
        t = int(t)
    if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= NQM_MAX_T:
        raise ValidationError("t", f"must be one integer in [0, {NQM_MAX_T}] for model 'nqm' (the schedule's length), got {t!r}")
    h = _numeric_array("h", request["h"], 1)
    var0 = request.get("var0")
    problem = nqm.NQMProblem(
        h,
        _numeric_array("sigma2", request["sigma2"], 1),
        _numeric_array("mean0", request["mean0"], 1),
        np.zeros(len(h)) if var0 is None else _numeric_array("var0", var0, 1),
    )
    if t * problem.d > NQM_MAX_WORK:
        raise ValidationError("t", f"t x d = {t * problem.d} exceeds {NQM_MAX_WORK:.0e} (the limit of this command)")
    eta = _nqm_schedule("eta", request["eta"], t, None)
    mu = _nqm_schedule("mu", request.get("mu"), t, 0.0)
    traj = nqm.run(problem, eta, t, mu=mu, curve=True, precision="extended")
    losses = [float(v) for v in traj.loss]
    overflow = not all(math.isfinite(v) for v in losses)
    # null when undefined: 0/0 when no excess loss and no noise are left (every step size is then
    # one-step optimal), or after an overflow
    defined = not overflow and bool((traj.state.X > 0).any() or (problem.sigma2 > 0).any())
    greedy = float(nqm.greedy_eta(problem, traj.state)) if defined else None
    return {
        "model": "nqm",
        "results": [
            {
                "t": t,
                "eta": request["eta"],
                "mu": request.get("mu", 0.0),
                "expected_loss": [v if math.isfinite(v) else None for v in losses],
                "greedy_eta": greedy,
                "status": "overflow" if overflow else "ok",
            }
        ],
        "environment": _environment(f"exact moment recursion of (E w^2, E v^2, E w v) in {np.finfo(np.longdouble).bits // 8 * 8}-bit "
                                    f"long double (eps {float(np.finfo(np.longdouble).eps):.1e}), results in float64 (numerics.nqm); no Monte Carlo"),
    }


MODELS: dict[str, Callable[[dict], dict] | None] = {
    "quadratic_gd": _quadratic_gd,
    "least_squares_gd": _least_squares_gd,
    "least_squares_sgd": _least_squares_sgd,
    "nqm": _nqm,
}


def evaluate_request(request: Any) -> dict:
    """Evaluate one ``l2l eval`` request (an already-parsed JSON object) and return the output."""
    if not isinstance(request, dict):
        raise ValidationError("input", f"must be a JSON object (got {type(request).__name__})")
    if "model" not in request:
        raise ValidationError("model", f"is required (one of: {', '.join(MODELS)})")
    model = request["model"]
    if not isinstance(model, str) or model not in MODELS:
        raise ValidationError("model", f"must be one of {', '.join(MODELS)} (got {model!r})")
    handler = MODELS[model]
    if handler is None:
        available = ", ".join(k for k, v in MODELS.items() if v is not None)
        raise ValidationError("model", f"{model!r} is not implemented yet in this version (available: {available})")
    return handler(request)
