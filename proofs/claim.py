r"""Claims: statements bound to checks, with verdicts and shrunk counterexamples.

A claim is a statement from a paper (or from you) bound to a check (``../shared/DESIGN.md``,
"Claims"). Write it like a Hypothesis test and decorate it with :func:`claim`::

    from hypothesis import given, strategies as st
    from l2l import claim, strategies as ps

    @claim(id="mylab.bound", statement=r"|G'(\eta)| \le 2L^2(L+\alpha)/(c_{\min}^2\alpha(L-\alpha))",
           source="my note, eq. (3)", kind="inequality")
    @given(problem=ps.quadratic_problems(max_dim=8), t=st.integers(1, 10_000))
    def bound(problem, t):
        ...  # assert the claim on this instance

The same file runs unchanged under ``l2l check FILE.py`` and ``pytest FILE.py`` (the ``l2l``
pytest plugin collects every claim, whatever its name, and fails the item when the verdict misses
the expectation).

Three shapes of check are accepted:

* a Hypothesis test (``@given``): ``holds`` when no counterexample turns up in the profile's number
  of examples, ``refuted`` with the shrunk failing example when an assertion fails;
* a plain function of no arguments (a deterministic check over a grid): ``holds`` or ``refuted``
  (raise :func:`refute` or ``AssertionError``; :func:`refute` attaches a witness);
* a function returning a :class:`theory.derivation.Derivation` (or its ``Verification``):
  ``proved`` when SymPy established every checked step for all symbol values, ``holds`` when some
  step was only checked at concrete instances (the message says which), ``refuted`` when a step
  failed.

Any other exception is an ``error`` verdict, as is a breach of the per-claim time budget.
Verdicts compare with ``expect``: ``proved`` and ``holds`` meet ``expect="holds"``; ``refuted``
meets ``expect="refuted"`` (a negative control: a deliberately false variant the checker must
refute, proving it has teeth).

Runs are reproducible: profile ``ci`` is derandomised, ``seed=N`` fixes Hypothesis' seed, and no
example database is consulted.
"""

from __future__ import annotations

import contextvars
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

__all__ = [
    "claim",
    "Claim",
    "ClaimResult",
    "REGISTRY",
    "KINDS",
    "VERDICTS",
    "PROFILES",
    "refute",
    "evidence",
    "ClaimRefuted",
    "run_claim",
    "to_jsonable",
    "ReplayData",
    "decode_counterexample",
    "current_profile",
]

KINDS = ("identity", "inequality", "asymptotic", "statistical", "trend")
VERDICTS = ("proved", "holds", "refuted", "error")
EXPECTATIONS = ("holds", "refuted")
TAGS = ("paper", "code", "derived", "unconfirmed", "analogue", "user")
PROFILES = ("ci", "dev", "thorough")

#: Examples per Hypothesis claim unless the claim says otherwise.
DEFAULT_EXAMPLES = {"ci": 20, "dev": 100, "thorough": 1000}
#: Seconds per claim unless the claim says otherwise; a breach is an ``error`` verdict.
DEFAULT_BUDGET = {"ci": 60.0, "dev": 300.0, "thorough": 3600.0}


class ClaimRefuted(AssertionError):
    """An assertion failure that carries a JSON-serialisable witness (raised by :func:`refute`)."""

    def __init__(self, message: str, witness: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.witness = dict(witness or {})


def refute(message: str, **witness: Any) -> None:
    """Fail the current claim with ``message`` and a witness (the counterexample of a grid check)."""
    raise ClaimRefuted(message, witness)


class _BudgetExceeded(BaseException):
    """Raised inside a claim when its time budget is spent (BaseException: Hypothesis must not
    treat it as a failure to shrink)."""


_EVIDENCE: contextvars.ContextVar[list | None] = contextvars.ContextVar("l2l_evidence", default=None)
_PROFILE: contextvars.ContextVar[str] = contextvars.ContextVar("l2l_profile", default="dev")


def current_profile() -> str:
    """The profile of the claim run in progress (``dev`` outside a run): lets a grid check scale its
    setting, e.g. to the paper's problem size under ``thorough``."""
    return _PROFILE.get()


def evidence(name: str, computed: Any, expected: Any = None, tolerance: Any = None, why: str | None = None) -> None:
    """Record a number and its certificate for the report: what was computed, what theory
    predicts, the tolerance and why. Outside a claim run this does nothing.

    >>> evidence("slope", -0.0852, expected=-0.0880, tolerance="5% relative", why="ln t term")
    """
    sink = _EVIDENCE.get()
    if sink is not None:
        sink.append(
            {
                "name": name,
                "computed": to_jsonable(computed),
                "expected": to_jsonable(expected),
                "tolerance": to_jsonable(tolerance),
                "why": why,
            }
        )


# -- JSON -------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Arrays as lists, problem objects as dicts, non-finite floats as strings; else ``repr``."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()] if value.ndim else to_jsonable(value.item())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, ReplayData):
        return [{"label": lab, "value": to_jsonable(v)} for lab, v in value.draws]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict())
    if hasattr(value, "_mpf_"):
        return str(value)
    return repr(value)


def decode_counterexample(obj: Any) -> Any:
    """Inverse of :func:`to_jsonable` for replaying a JSON counterexample: problem dicts become
    :class:`numerics.QuadraticProblem`, recorded ``data`` draws a :class:`ReplayData`, the strings
    'nan' / 'inf' / '-inf' floats again."""
    if isinstance(obj, Mapping):
        if set(obj) == {"eigenvalues", "coefficients"}:
            from l2l.numerics.problems import QuadraticProblem

            return QuadraticProblem(obj["eigenvalues"], obj["coefficients"])
        out = {}
        for k, v in obj.items():
            if k == "data" and isinstance(v, list) and all(isinstance(d, Mapping) and set(d) == {"label", "value"} for d in v):
                out[k] = ReplayData((d["label"], decode_counterexample(d["value"])) for d in v)
            else:
                out[k] = decode_counterexample(v)
        return out
    if isinstance(obj, list):
        return [decode_counterexample(v) for v in obj]
    if obj in ("nan", "inf", "-inf"):
        return float(obj)
    return obj


# -- data draws: record, then replay ------------------------------------------------------------


class _RecordingData:
    """Stands in for Hypothesis' ``data`` object and records every draw."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.draws: list[tuple[str | None, Any]] = []

    def draw(self, strategy: Any, label: Any = None) -> Any:
        value = self._inner.draw(strategy, label=label)
        self.draws.append((None if label is None else str(label), value))
        return value

    def __repr__(self) -> str:
        return f"data({self.draws!r})"


class ReplayData:
    """Replays recorded draws in order: re-run a counterexample that used ``st.data()``."""

    def __init__(self, draws: Iterable[tuple[str | None, Any]]):
        self.draws = list(draws)
        self._next = 0

    def draw(self, strategy: Any = None, label: Any = None) -> Any:
        if self._next >= len(self.draws):
            raise IndexError("the replayed example has no more draws")
        value = self.draws[self._next][1]
        self._next += 1
        return value

    def __repr__(self) -> str:
        return f"ReplayData({self.draws!r})"


# -- claims -----------------------------------------------------------------------------------


@dataclass(eq=False)
class Claim:
    """One checkable statement. Calling it runs the underlying check directly."""

    id: str
    statement: str
    source: str
    kind: str
    expect: str
    func: Callable
    tag: str = "paper"
    assumptions: str = ""
    tolerance: str = ""
    examples: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)
    module: str = ""
    qualname: str = ""

    @property
    def is_hypothesis(self) -> bool:
        return hasattr(self.func, "hypothesis") and hasattr(self.func.hypothesis, "inner_test")

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def replay(self, example: Mapping[str, Any]) -> Any:
        """Run the check once on ``example`` (a result's ``raw_counterexample``, or the decoded
        JSON one): raises exactly as the check does."""
        inner = self.func.hypothesis.inner_test if self.is_hypothesis else self.func
        kwargs = {k: (ReplayData(v.draws) if isinstance(v, ReplayData) else v) for k, v in example.items()}
        return inner(**kwargs)

    def n_examples(self, profile: str) -> int:
        return int(self.examples.get(profile, DEFAULT_EXAMPLES[profile]))

    def time_budget(self, profile: str) -> float:
        return float(self.budget.get(profile, DEFAULT_BUDGET[profile]))

    def describe(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "source": self.source,
            "expect": self.expect,
            "tag": self.tag,
            "statement": self.statement,
        }


REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    statement: str,
    source: str,
    kind: str,
    expect: str = "holds",
    *,
    tag: str | None = None,
    assumptions: str = "",
    tolerance: str = "",
    examples: Mapping[str, int] | None = None,
    budget: Mapping[str, float] | None = None,
) -> Callable[[Callable], Claim]:
    """Bind a statement to a check and register it (see the module docstring).

    ``kind``: identity | inequality | asymptotic | statistical | trend. ``expect``: holds (default)
    or refuted (negative controls). ``tag``: the confidence tag of ``papers/`` (paper, code,
    derived, unconfirmed; ``analogue`` for a package-made analogue of an unavailable statement;
    ``user`` by default for claims outside the catalogue). ``examples`` and ``budget`` override the
    per-profile number of Hypothesis examples and the time budget in seconds.
    """
    if not isinstance(id, str) or not id or any(ch.isspace() for ch in id):
        raise ValueError(f"claim id: must be a non-empty string without spaces (got {id!r})")
    if kind not in KINDS:
        raise ValueError(f"claim {id}: kind must be one of {', '.join(KINDS)} (got {kind!r})")
    if expect not in EXPECTATIONS:
        raise ValueError(f"claim {id}: expect must be 'holds' or 'refuted' (got {expect!r})")
    if tag is not None and tag not in TAGS:
        raise ValueError(f"claim {id}: tag must be one of {', '.join(TAGS)} (got {tag!r})")
    for name, table in (("examples", examples), ("budget", budget)):
        for key, val in (table or {}).items():
            if key not in PROFILES or not (isinstance(val, (int, float)) and val > 0):
                raise ValueError(f"claim {id}: {name} must map profiles {PROFILES} to positive numbers")

    def decorate(func: Callable) -> Claim:
        if isinstance(func, Claim):
            raise ValueError(f"claim {id}: already a claim ({func.id})")
        module = getattr(func, "__module__", "") or ""
        c = Claim(
            id=id,
            statement=statement,
            source=source,
            kind=kind,
            expect=expect,
            func=func,
            tag=tag or ("paper" if module.startswith("l2l.proofs.") else "user"),
            assumptions=assumptions,
            tolerance=tolerance,
            examples=dict(examples or {}),
            budget=dict(budget or {}),
            module=module,
            qualname=getattr(func, "__qualname__", ""),
        )
        old = REGISTRY.get(id)
        if old is not None and (old.module, old.qualname) != (c.module, c.qualname):
            raise ValueError(f"claim id {id!r} is already registered by {old.module}.{old.qualname}")
        REGISTRY[id] = c
        return c

    return decorate


# -- running ----------------------------------------------------------------------------------


@dataclass
class ClaimResult:
    """The verdict of one claim run; ``to_json`` gives the DESIGN.md record."""

    id: str
    verdict: str
    expect: str
    examples: int
    seconds: float
    counterexample: Any
    message: str
    evidence: list = field(default_factory=list)
    raw_counterexample: dict | None = field(default=None, repr=False)
    profile: str = "dev"
    seed: int | None = None

    @property
    def matches(self) -> bool:
        if self.verdict == "error":
            return False
        return ("holds" if self.verdict in ("proved", "holds") else "refuted") == self.expect

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "expect": self.expect,
            "examples": self.examples,
            "seconds": round(self.seconds, 3),
            "counterexample": self.counterexample,
            "message": self.message,
            "evidence": self.evidence,
        }


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, AssertionError):
        return first or "assertion failed"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _is_assertion_group(exc: BaseException) -> bool:
    inner = getattr(exc, "exceptions", None)
    return bool(inner) and all(isinstance(e, AssertionError) or _is_assertion_group(e) for e in inner)


#: Attributes that ``hypothesis.settings(...)`` and ``hypothesis.seed(...)`` set on a test function.
_HYPOTHESIS_ATTRS = (
    "_hypothesis_internal_use_settings",
    "_hypothesis_internal_settings_applied",
    "_hypothesis_internal_use_seed",
    "_hypothesis_internal_use_reproduce_failure",
)


class _Alarm:
    """Interrupt a claim that overruns its budget (SIGALRM in the main thread; otherwise the
    budget is checked between examples only)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = False

    def __enter__(self) -> "_Alarm":
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self._old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.active = True
        return self

    @staticmethod
    def _fire(signum: int, frame: Any) -> None:
        raise _BudgetExceeded()

    def __exit__(self, *exc: Any) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)


def run_claim(c: Claim, profile: str = "dev", seed: int | None = None, budget: float | None = None) -> ClaimResult:
    """Run one claim under ``profile`` and return its verdict (never raises for a failing check)."""
    if profile not in PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(PROFILES)} (got {profile!r})")
    limit = c.time_budget(profile) if budget is None else float(budget)
    profile_token = _PROFILE.set(profile)
    try:
        return _run(c, profile, seed, limit)
    finally:
        _PROFILE.reset(profile_token)


def _run(c: Claim, profile: str, seed: int | None, limit: float) -> ClaimResult:
    from hypothesis import HealthCheck, Verbosity, settings
    from hypothesis import seed as hyp_seed

    start = time.perf_counter()
    state: dict[str, Any] = {"calls": 0, "last_failure": None, "evidence": []}

    def elapsed() -> float:
        return time.perf_counter() - start

    def result(verdict: str, message: str, counterexample: Any = None, raw: dict | None = None) -> ClaimResult:
        return ClaimResult(
            id=c.id,
            verdict=verdict,
            expect=c.expect,
            examples=state["calls"],
            seconds=elapsed(),
            counterexample=counterexample,
            message=message,
            evidence=state["evidence"],
            raw_counterexample=raw,
            profile=profile,
            seed=seed,
        )

    def call(fn: Callable, kwargs: dict) -> Any:
        if elapsed() > limit:
            raise _BudgetExceeded()
        state["calls"] += 1
        sink: list = []
        token = _EVIDENCE.set(sink)
        try:
            out = fn(**kwargs)
            state["evidence"] = sink
            return out
        except BaseException:
            state["evidence"] = sink
            raise
        finally:
            _EVIDENCE.reset(token)

    budget_msg = lambda: f"time budget of {limit:g} s exceeded after {state['calls']} example(s)"  # noqa: E731

    if c.is_hypothesis:
        inner = c.func.hypothesis.inner_test

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kw = {k: (_RecordingData(v) if type(v).__name__ == "DataObject" else v) for k, v in kwargs.items()}
            try:
                return call(lambda **k: inner(*args, **k), kw)
            except Exception:
                state["last_failure"] = {
                    k: (ReplayData(v.draws) if isinstance(v, _RecordingData) else v) for k, v in kw.items()
                }
                raise

        test = c.func
        saved = {k: test.__dict__[k] for k in _HYPOTHESIS_ATTRS if k in test.__dict__}
        parent = saved.get("_hypothesis_internal_use_settings")  # the user's own @settings, if any
        test.__dict__.pop("_hypothesis_internal_settings_applied", None)  # so settings() may apply
        test.hypothesis.inner_test = wrapper
        try:
            conf = settings(
                parent,
                max_examples=c.n_examples(profile),
                deadline=None,
                database=None,
                derandomize=(seed is None and profile == "ci"),
                verbosity=Verbosity.quiet,
                print_blob=False,
                suppress_health_check=list(HealthCheck),
            )
            runner = conf(test)
            if seed is not None:
                runner = hyp_seed(seed)(runner)
            with _Alarm(limit + 5.0):
                runner()
        except _BudgetExceeded:
            return result("error", budget_msg())
        except AssertionError as exc:
            raw = state["last_failure"]
            witness = getattr(exc, "witness", None)
            ce = to_jsonable(raw) if raw is not None else None
            if witness:
                ce = {**(ce or {}), "witness": to_jsonable(witness)}
            return result("refuted", _message(exc), ce, raw)
        except BaseException as exc:  # noqa: BLE001 - every other outcome is a verdict
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raw = state["last_failure"]
            if _is_assertion_group(exc):
                return result("refuted", _message(exc.exceptions[0]), to_jsonable(raw), raw)  # type: ignore[attr-defined]
            return result("error", _message(exc), to_jsonable(raw) if raw else None, raw)
        finally:
            test.hypothesis.inner_test = inner
            for k in _HYPOTHESIS_ATTRS:  # settings/seed applied for this run only
                test.__dict__.pop(k, None)
            test.__dict__.update(saved)
        if elapsed() > limit:
            return result("error", budget_msg())
        if state["calls"] == 0:
            return result("error", "no example was run")
        return result("holds", f"no counterexample in {state['calls']} examples")

    # plain check or symbolic derivation
    try:
        with _Alarm(limit):
            out = call(c.func, {})
    except _BudgetExceeded:
        return result("error", budget_msg())
    except ClaimRefuted as exc:
        return result("refuted", _message(exc), to_jsonable(exc.witness) or None)
    except AssertionError as exc:
        return result("refuted", _message(exc), None)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001
        return result("error", _message(exc))
    try:
        with _Alarm(max(limit - elapsed(), 1e-3)):
            verification = _verification_of(out)
    except _BudgetExceeded:
        return result("error", budget_msg())
    if elapsed() > limit:
        return result("error", budget_msg())
    if verification is None:
        return result("holds", "the check passed")
    state["calls"] = sum(1 for r in verification.results if r.status != "definition")
    failed = [r for r in verification.results if r.status == "failed"]
    if failed:
        r = failed[0]
        return result(
            "refuted",
            f"step {r.number} of {verification.name} failed: {r.detail}",
            {"derivation": verification.name, "step": r.number, "detail": r.detail},
        )
    weak = [r for r in verification.results if r.status not in ("definition", "symbolic")]
    if weak:
        steps = ", ".join(f"{r.number} ({r.status})" for r in weak)
        return result("holds", f"{verification.name}: every step checks; not symbolically for all values: steps {steps}")
    return result("proved", f"{verification.name}: every step proved by SymPy for all symbol values")


def _verification_of(out: Any) -> Any:
    """The Verification behind a derivation-returning check, else None (no SymPy import)."""
    if out is None:
        return None
    if hasattr(out, "verify") and hasattr(out, "steps"):
        return out.verify()
    if hasattr(out, "results") and hasattr(out, "statuses"):
        return out
    return None
