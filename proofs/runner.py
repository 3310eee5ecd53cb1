"""Running a claim: its verdict, example count, counterexample and evidence (:class:`ClaimResult`).

:func:`run_claim` runs one claim under a profile (``ci`` derandomised; ``seed`` fixes Hypothesis'
seed) and never raises for a failing check: a failed assertion is ``refuted`` with the shrunk
counterexample, a derivation's failed step is ``refuted`` naming the step, anything else ``error``.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import context
from .claim import PROFILES, Claim, ClaimRefuted
from .codec import RecordingData, ReplayData, to_jsonable

__all__ = ["ClaimResult", "run_claim"]


class _BudgetExceeded(BaseException):
    """Raised inside a claim when its time budget is spent (BaseException: Hypothesis must not
    treat it as a failure to shrink)."""


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
    profile_token = context.PROFILE.set(profile)
    try:
        return _run(c, profile, seed, limit)
    finally:
        context.PROFILE.reset(profile_token)


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
        token = context.EVIDENCE.set(sink)
        try:
            out = fn(**kwargs)
            state["evidence"] = sink
            return out
        except BaseException:
            state["evidence"] = sink
            raise
        finally:
            context.EVIDENCE.reset(token)

    budget_msg = lambda: f"time budget of {limit:g} s exceeded after {state['calls']} example(s)"  # noqa: E731

    if c.is_hypothesis:
        inner = c.func.hypothesis.inner_test

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kw = {k: (RecordingData(v) if type(v).__name__ == "DataObject" else v) for k, v in kwargs.items()}
            try:
                return call(lambda **k: inner(*args, **k), kw)
            except Exception:
                state["last_failure"] = {
                    k: (ReplayData(v.draws) if isinstance(v, RecordingData) else v) for k, v in kw.items()
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
