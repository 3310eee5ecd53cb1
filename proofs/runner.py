"""Running claims: verdicts that depend on the code, the claim, the profile and the seed only.

:func:`run_claims` runs claims in order and returns one :class:`ClaimResult` each; it never raises
for a failing check. A failed assertion is ``refuted`` with the shrunk counterexample (every one
of them when Hypothesis finds several distinct failures), a derivation's failed step is ``refuted``
naming the step, anything else ``error``.

**Deterministic.** A claim's work is bounded by counts: the profile's (or the claim's) number of
Hypothesis examples, and the grid points and iterations the claim declares. Nothing stops on time:
Hypothesis runs without deadline and health checks, without the explain phase, with its
five-minute shrinking limit lifted (shrinking is bounded by Hypothesis' count of shrinks), and
without its ten-second limit on the search for further bugs after the first (bounded by its call
counts). ``ci`` is
derandomised; ``seed=N`` fixes Hypothesis' seed. So the verdict, the example count and the
counterexample are the same on a loaded machine and an idle one.

Each claim runs with one BLAS thread, so its floating-point results do not depend on the number
of cores either.

**Isolated.** Claims run in worker processes forked from the caller (:mod:`l2l.proofs.workers`,
after the claim modules are loaded, so a worker starts in microseconds and caches warm up across
the claims it runs; ``jobs`` workers run side by side). The worker's standard output and error go to a pipe the caller drains and discards, so
claim output never reaches ``--json`` on stdout; the worker ignores SIGINT (a real Ctrl-C is the
caller's: it stops the worker and raises ``KeyboardInterrupt``). Whatever a claim does --
``sys.exit``, ``os._exit``, a segfault, raising ``KeyboardInterrupt``, swallowing signals, leaving
threads, printing gigabytes, a witness whose ``repr`` raises -- it becomes an ``error`` verdict for
that claim with a one-line reason, and a fresh worker runs the remaining claims.

**Hang guard.** The only clock: a claim that has not answered after its timeout (``timeout=``, or
:meth:`Claim.hang_timeout`, generous by default) is stopped (SIGKILL) and reported as ``error``
with the message ``timeout after N s``. That names the limit; it is not a verdict about the
mathematics.

>>> from l2l import claim
>>> @claim(id="doc.exit", statement="-", source="doc", kind="identity")
... def leaves():
...     raise SystemExit(0)
>>> r = run_claim(leaves, profile="ci")
>>> r.verdict, r.message
('error', 'the claim raised SystemExit(0)')
>>> _ = REGISTRY.pop("doc.exit")
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import context
from .claim import PROFILES, REGISTRY, Claim, ClaimRefuted  # noqa: F401  (REGISTRY: the docstring example)
from .cache import ResultCache, package_files
from .codec import RecordingData, ReplayData, to_jsonable
from .workers import InOrder, WorkerPool, run_tasks

__all__ = ["ClaimResult", "run_claim", "run_claims", "run_claim_group", "evaluate_claim", "claim_task", "claim_failure",
           "settle_imports", "cached_result"]


@dataclass
class ClaimResult:
    """The verdict of one claim run; ``to_json`` gives the DESIGN.md record.

    ``counterexample`` is the first (JSON) counterexample, ``counterexamples`` every distinct one
    (several when Hypothesis found several distinct failures); ``raw_counterexample`` holds the
    first as the Python objects the check received (for :meth:`Claim.replay`)."""

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
    counterexamples: list = field(default_factory=list)
    #: read from the result cache (:mod:`l2l.proofs.cache`) instead of run; ``seconds`` is then
    #: the time of the run that wrote it
    cached: bool = False

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
            "counterexamples": self.counterexamples,
            "message": self.message,
            "evidence": self.evidence,
            "cached": self.cached,
        }


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""


def _message(exc: BaseException) -> str:
    try:
        first = _first_line(str(exc))
    except Exception:  # noqa: BLE001 - an exception whose str() raises
        first = f"<{type(exc).__name__} whose message cannot be shown>"
    if isinstance(exc, AssertionError):
        return first or "assertion failed"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside a (nested) exception group, or ``[exc]``."""
    inner = getattr(exc, "exceptions", None)
    if not inner:
        return [exc]
    return [leaf for e in inner for leaf in _leaves(e)]


#: Attributes that ``hypothesis.settings(...)`` and ``hypothesis.seed(...)`` set on a test function.
_HYPOTHESIS_ATTRS = (
    "_hypothesis_internal_use_settings",
    "_hypothesis_internal_settings_applied",
    "_hypothesis_internal_use_seed",
    "_hypothesis_internal_use_reproduce_failure",
)
#: Attribute under which the runner stores, on the exception a check raised, the arguments it got.
_EXAMPLE_ATTR = "_l2l_example"


def _counterexample(exc: BaseException, raw: dict | None) -> Any:
    ce = to_jsonable(raw) if raw is not None else None
    witness = getattr(exc, "witness", None)
    if witness:
        ce = {**(ce or {}), "witness": to_jsonable(witness)}
    return ce


def evaluate_claim(c: Claim, profile: str = "dev", seed: int | None = None) -> ClaimResult:
    """Run one claim in this process (no isolation, no hang guard): :func:`run_claims` calls it in
    its worker. Exceptions that are not the check's failures (``SystemExit``, ``KeyboardInterrupt``)
    propagate."""
    if profile not in PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(PROFILES)} (got {profile!r})")
    from threadpoolctl import threadpool_limits

    token = context.PROFILE.set(profile)
    try:
        # one BLAS thread: a claim's floating-point results then do not depend on the machine's
        # core count (a threaded GEMM sums in a different order), and small products do not spin
        # idle threads (5x the CPU time of one thread in the MLP analogue, measured)
        with threadpool_limits(limits=1):
            return _evaluate(c, profile, seed)
    finally:
        context.PROFILE.reset(token)


def _evaluate(c: Claim, profile: str, seed: int | None) -> ClaimResult:
    start = time.perf_counter()
    state: dict[str, Any] = {"calls": 0, "last_failure": None, "evidence": []}

    def result(verdict: str, message: str, counterexample: Any = None, raw: dict | None = None,
               all_ces: list | None = None) -> ClaimResult:
        return ClaimResult(
            id=c.id, verdict=verdict, expect=c.expect, examples=state["calls"],
            seconds=time.perf_counter() - start, counterexample=counterexample, message=message,
            evidence=state["evidence"], raw_counterexample=raw, profile=profile, seed=seed,
            counterexamples=all_ces if all_ces is not None else ([] if counterexample is None else [counterexample]),
        )

    def call(fn: Callable, kwargs: dict) -> Any:
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

    if c.is_hypothesis:
        return _evaluate_hypothesis(c, profile, seed, state, call, result)

    # a plain check or a symbolic derivation
    try:
        out = call(c.func, {})
    except ClaimRefuted as exc:
        return result("refuted", _message(exc), to_jsonable(exc.witness) or None)
    except AssertionError as exc:
        return result("refuted", _message(exc), None)
    except Exception as exc:  # noqa: BLE001
        return result("error", _message(exc))
    verification = _verification_of(out)
    if verification is None:
        return result("holds", "the check passed")
    state["calls"] = sum(1 for r in verification.results if r.status != "definition")
    failed = [r for r in verification.results if r.status == "failed"]
    if failed:
        r = failed[0]
        if r.detail.startswith("quote cycle"):  # an authoring error, not a counterexample
            return result("error", f"step {r.number} of {verification.name}: {r.detail}")
        return result(
            "refuted",
            f"step {r.number} of {verification.name} failed: {r.detail}",
            {"derivation": verification.name, "step": r.number, "detail": r.detail},
        )
    # a verdict is not stronger than what it quotes: the effective status of each step (its own
    # check and, for a quote, the quoted derivation's, transitively); definitions and declared
    # hypotheses do not weaken it, an unchecked premise ("assumed") does
    effective = [(r, getattr(r, "effective", r.status)) for r in verification.results]
    broken = [r for r, e in effective if e == "failed"]
    if broken:
        r = broken[0]
        return result("error", f"step {r.number} of {verification.name} quotes a failed step: {r.inherited_from}")
    weak = [(r, e) for r, e in effective if e not in ("definition", "hypothesis", "quoted", "symbolic")]
    if weak:
        steps = ", ".join(
            f"step {r.number} inherits {e} from {r.inherited_from}" if getattr(r, "inherited", None) else f"step {r.number} ({e})"
            for r, e in weak
        )
        return result("holds", f"{verification.name}: every step checks; not proved for all values: {steps}")
    return result("proved", f"{verification.name}: every step proved by SymPy for all symbol values, and every quoted result")


class _StoppedMonotonic:
    """The ``time`` module as Hypothesis' engine sees it while a claim runs: all of it but
    ``monotonic``, which stands still. The engine reads that clock for one decision only: once a
    first bug is found it keeps generating, to find further distinct bugs, until its call counts
    say stop *or the first bug is more than 10 s old*. On a slow machine the second rule cut that
    search short and changed example counts and the counterexamples found (measured: all 15
    refuted Hypothesis claims of the catalogue under a clock running 1000x fast); with the clock
    stopped only the counts decide. ``tests/proofs/test_determinism.py`` runs the catalogue under
    such a clock."""

    def __init__(self, real: Any):
        self._real = real

    @staticmethod
    def monotonic() -> float:
        return 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _evaluate_hypothesis(c: Claim, profile: str, seed: int | None, state: dict, call: Callable, result: Callable) -> ClaimResult:
    from hypothesis import HealthCheck, Phase, Verbosity, settings
    from hypothesis import seed as hyp_seed
    from hypothesis.internal.conjecture import engine

    inner = c.func.hypothesis.inner_test

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kw = {k: (RecordingData(v) if type(v).__name__ == "DataObject" else v) for k, v in kwargs.items()}
        try:
            return call(lambda **k: inner(*args, **k), kw)
        except Exception as exc:
            example = {k: (ReplayData(v.draws) if isinstance(v, RecordingData) else v) for k, v in kw.items()}
            state["last_failure"], state["last_exc"] = example, exc
            try:
                setattr(exc, _EXAMPLE_ATTR, example)
            except Exception:  # noqa: BLE001 - an exception type without a __dict__
                pass
            raise

    test = c.func
    saved = {k: test.__dict__[k] for k in _HYPOTHESIS_ATTRS if k in test.__dict__}
    parent = saved.get("_hypothesis_internal_use_settings")  # the user's own @settings, if any
    test.__dict__.pop("_hypothesis_internal_settings_applied", None)  # so settings() may apply
    test.hypothesis.inner_test = wrapper
    shrink_seconds, engine_time = engine.MAX_SHRINKING_SECONDS, engine.time
    engine.MAX_SHRINKING_SECONDS = float("inf")  # shrinking bounded by its count (MAX_SHRINKS), not by time
    engine.time = _StoppedMonotonic(engine_time)  # the search for more bugs bounded by its counts, not by time
    try:
        conf = settings(
            parent,
            max_examples=c.n_examples(profile),
            deadline=None,
            database=None,
            derandomize=(seed is None and profile == "ci"),
            verbosity=Verbosity.quiet,
            print_blob=False,
            report_multiple_bugs=True,
            phases=[p for p in Phase if p.name != "explain"],
            suppress_health_check=list(HealthCheck),
        )
        runner = conf(test)
        if seed is not None:
            runner = hyp_seed(seed)(runner)
        runner()
    except Exception as exc:  # noqa: BLE001 - every failure of the check is a verdict
        leaves = _leaves(exc)
        if len(leaves) == 1 and not hasattr(leaves[0], _EXAMPLE_ATTR) and state.get("last_exc") is not None:
            # raised by Hypothesis after the check failed (e.g. while printing an argument whose
            # repr raises): the verdict is the check's failure on its last failing example
            leaves = [state["last_exc"]]
        examples = [getattr(e, _EXAMPLE_ATTR, None) for e in leaves]
        if len(leaves) == 1 and examples[0] is None:
            examples = [state["last_failure"]]
        ces = [_counterexample(e, raw) for e, raw in zip(leaves, examples)]
        failing = [k for k, e in enumerate(leaves) if isinstance(e, AssertionError)]
        first = failing[0] if failing else 0
        message = _message(leaves[first])
        if len(leaves) > 1:
            message += f" (and {len(leaves) - 1} more distinct failure{'s' if len(leaves) > 2 else ''}: " + "; ".join(
                _message(e) for k, e in enumerate(leaves) if k != first) + ")"
        verdict = "refuted" if failing else "error"
        return result(verdict, message, ces[first], examples[first], ces)
    finally:
        engine.MAX_SHRINKING_SECONDS, engine.time = shrink_seconds, engine_time
        test.hypothesis.inner_test = inner
        for k in _HYPOTHESIS_ATTRS:  # settings/seed applied for this run only
            test.__dict__.pop(k, None)
        test.__dict__.update(saved)
    if state["calls"] == 0:
        return result("error", "no example was run")
    return result("holds", f"no counterexample in {state['calls']} examples")


def _verification_of(out: Any) -> Any:
    """The Verification behind a derivation-returning check, else None (no SymPy import)."""
    if out is None:
        return None
    if hasattr(out, "verify") and hasattr(out, "steps"):
        return out.verify()
    if hasattr(out, "results") and hasattr(out, "statuses"):
        return out
    return None


# -- isolation ----------------------------------------------------------------------------------


def run_claim(c: Claim, profile: str = "dev", seed: int | None = None, timeout: float | None = None,
              isolate: bool = True) -> ClaimResult:
    """Run one claim (see :func:`run_claims`)."""
    return run_claims([c], profile=profile, seed=seed, timeout=timeout, isolate=isolate)[0]


def run_claims(claims: Sequence[Claim], profile: str = "dev", seed: int | None = None, timeout: float | None = None,
               isolate: bool = True, on_result: Callable[[int, ClaimResult], None] | None = None,
               jobs: int = 1, *, cache: bool | ResultCache = False, scheduler: str | None = None,
               on_start: Callable[[int], None] | None = None,
               on_done: Callable[[int, ClaimResult], None] | None = None,
               pool: WorkerPool | None = None) -> list[ClaimResult]:
    """Run ``claims`` under ``profile`` and ``seed``; ``timeout`` (seconds) overrides every claim's
    hang guard. ``jobs`` workers run claims side by side (each takes the next claim when it is
    free); the results, and the calls ``on_result(index, result)``, come in the order of
    ``claims`` whatever the order they finish in, and each verdict is the same for any ``jobs``
    (a claim's work is bounded by counts). With ``isolate=False`` (or where :func:`os.fork` is
    missing) the claims run in this process, one after another, without the hang guard.

    ``scheduler="tcp://host:port"`` runs them on that Dask scheduler instead of local workers
    (:mod:`l2l.proofs.distributed`; ``jobs`` is then unused): claims that share a cached computation
    (``shares``) go to one Dask task, in order; each task finds its claims on the worker
    (:func:`l2l.proofs.catalogue.find`: the catalogue, the claim file, or the module by name), runs
    them in a forked worker with the hang guard, and checks that the worker runs the same package
    source (else each of its claims is an ``error`` saying so). The verdicts, example counts and
    counterexamples are those of a local run; ``raw_counterexample`` comes back when it can be
    unpickled here. A bad address or a scheduler without workers raises
    :class:`l2l.proofs.distributed.SchedulerError` before any claim runs.

    ``cache=True`` (or a :class:`l2l.proofs.cache.ResultCache`) reads each claim's result from
    the result cache when it is there (``cached=True``) and stores each new ``holds``, ``refuted``
    or ``proved`` result as soon as the claim finishes. Off by default here (code patched in this
    process is not in the cache key); ``l2l check`` and ``l2l report`` turn it on.
    ``on_start(index)`` and ``on_done(index, result)`` are called when a claim starts running and
    when its result is there (any order; cached results are neither started nor done).
    ``pool`` keeps the forked workers warm for the next call (:class:`l2l.proofs.workers.WorkerPool`;
    :func:`run_claim_group` uses one per Dask worker); a claim then travels to a worker as its
    :func:`l2l.proofs.catalogue.origin`."""
    if profile not in PROFILES:
        raise ValueError(f"profile: must be one of {', '.join(PROFILES)} (got {profile!r})")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout: must be a positive number of seconds (got {timeout!r})")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs: must be a positive integer (got {jobs!r})")
    if scheduler is not None and not (isinstance(scheduler, str) and scheduler.strip()):
        raise ValueError(f"scheduler: must be the address of a Dask scheduler, e.g. tcp://127.0.0.1:8786 (got {scheduler!r})")
    store = cache if isinstance(cache, ResultCache) else (ResultCache() if cache else None)
    known: dict[int, ClaimResult] = {}
    if store is not None:
        for i, c in enumerate(claims):
            record = store.get(c, profile, seed)
            if record is not None:
                known[i] = cached_result(record, profile, seed)
    if len(known) < len(claims):
        settle_imports()

    def done(i: int, r: ClaimResult) -> None:
        if store is not None:
            store.put(claims[i], profile, seed, r)
        if on_done is not None:
            on_done(i, r)

    limits = [timeout if timeout is not None else c.hang_timeout(profile) for c in claims]
    if scheduler is not None:
        return _run_on_scheduler(scheduler, claims, profile, seed, timeout, limits, known, on_result, on_start, done)
    if not isolate or not hasattr(os, "fork"):
        order = InOrder(on_result)
        for i, c in enumerate(claims):
            if i in known:
                order.add(i, known[i])
                continue
            if on_start is not None:
                on_start(i)
            r = evaluate_claim(c, profile, seed)
            done(i, r)
            order.add(i, r)
        return order.results
    if pool is None:
        tasks = [claim_task(c, profile, seed) for c in claims]
    else:
        from .catalogue import origin

        tasks = [functools.partial(_found_claim_task, origin(c), profile, seed) for c in claims]
    return run_tasks(tasks, jobs=jobs, on_result=on_result, pool=pool,
                     groups=[worker_group(c.shares) for c in claims], limits=limits, known=known,
                     on_start=on_start, on_done=done,
                     failure=lambda i, kind, detail, output: claim_failure(claims[i], profile, seed, kind, detail, output))


def cached_result(record: dict, profile: str, seed: int | None) -> ClaimResult:
    """A result read back from the cache (:meth:`ResultCache.get` validated the record)."""
    return ClaimResult(id=record["id"], verdict=record["verdict"], expect=record["expect"], examples=record["examples"],
                       seconds=float(record["seconds"]), counterexample=record["counterexample"], message=record["message"],
                       evidence=record["evidence"], raw_counterexample=None, profile=profile, seed=seed,
                       counterexamples=record["counterexamples"], cached=True)


# -- a Dask scheduler -----------------------------------------------------------------------------


def _run_on_scheduler(address: str, claims: Sequence[Claim], profile: str, seed: int | None, timeout: float | None,
                      limits: list[float], known: dict[int, ClaimResult], on_result: Callable | None,
                      on_start: Callable[[int], None] | None, done: Callable[[int, ClaimResult], None]) -> list[ClaimResult]:
    """``run_claims(scheduler=...)``: one Dask task per ``shares`` group (its claims in order) and
    one per other claim, each running :func:`run_claim_group` on a worker."""
    from .cache import source_hash
    from .catalogue import origin
    from .distributed import run_on_scheduler

    tasks: list[list[int]] = []
    by_group: dict[str, list[int]] = {}
    for i, c in enumerate(claims):
        if i in known:
            continue
        group = worker_group(c.shares)
        if group is None:
            tasks.append([i])
        elif group in by_group:
            by_group[group].append(i)
        else:
            by_group[group] = [i]
            tasks.append(by_group[group])
    calls = [functools.partial(run_claim_group, [origin(claims[i]) for i in task], profile, seed, timeout, source_hash())
             for task in tasks]
    order = InOrder(on_result)
    for i in sorted(known):
        order.add(i, known[i])

    def task_done(k: int, value: Any) -> None:
        for i, r in zip(tasks[k], _group_results(tasks[k], value)):
            done(i, r)
            order.add(i, r)

    def failure(k: int, kind: str, detail: Any) -> Any:
        return [claim_failure(claims[i], profile, seed, kind, detail, 0) if kind == "timeout" else
                _error(claims[i], profile, seed, f"the Dask task of this claim failed ({kind}: {detail})") for i in tasks[k]]

    def _group_results(indices: list[int], value: Any) -> list[ClaimResult]:
        if isinstance(value, list) and len(value) == len(indices) and all(isinstance(v, tuple) for v in value):
            return [_unpack(claims[i], v, profile, seed) for i, v in zip(indices, value)]
        if isinstance(value, list) and len(value) == len(indices) and all(isinstance(v, ClaimResult) for v in value):
            return value  # failure() above
        return [_error(claims[i], profile, seed, "the Dask task returned no result for this claim") for i in indices]

    task_start = (lambda k: [on_start(i) for i in tasks[k]]) if on_start is not None else None
    run_on_scheduler(address, calls, limits=[sum(limits[i] for i in task) for task in tasks], failure=failure,
                     on_done=task_done, on_start=task_start)
    return order.results


def _error(c: Claim, profile: str, seed: int | None, message: str) -> ClaimResult:
    return ClaimResult(id=c.id, verdict="error", expect=c.expect, examples=0, seconds=0.0, counterexample=None,
                       message=message, profile=profile, seed=seed)


def _unpack(c: Claim, value: tuple, profile: str, seed: int | None) -> ClaimResult:
    """A result sent back by :func:`run_claim_group`: ``(result, pickled raw counterexample)``;
    the raw counterexample is kept when its classes can be loaded here."""
    r, raw = value
    if r.verdict == "error" and r.id == c.id:
        r.expect = c.expect  # a claim the worker could not find: its expectation is known here
    if raw is not None:
        try:
            r.raw_counterexample = pickle.loads(raw)
        except Exception:  # noqa: BLE001 - e.g. a class of a claim file loaded under another name
            r.raw_counterexample = None
    return r


#: The forked workers of this process's Dask tasks, kept warm from one task to the next.
_DASK_POOL = WorkerPool()


def _found_claim_task(where: tuple, profile: str, seed: int | None) -> ClaimResult:
    """:func:`claim_task` of the claim at ``where`` (a :func:`l2l.proofs.catalogue.origin`), run in
    a pooled worker: the claim's verdict, or an ``error`` when it cannot be found there."""
    from .catalogue import CatalogueError, find

    try:
        c = find(*where)
    except CatalogueError as exc:
        return ClaimResult(id=where[0], verdict="error", expect="holds", examples=0, seconds=0.0, counterexample=None,
                           message=f"cannot load the claim in the worker: {exc}", profile=profile, seed=seed)
    return claim_task(c, profile, seed)()


def run_claim_group(origins: Sequence[tuple], profile: str, seed: int | None, timeout: float | None,
                    caller_source: str | None = None) -> list[tuple[ClaimResult, bytes | None]]:
    """Run claims given by :func:`l2l.proofs.catalogue.origin` in this process's forked worker (the
    task of ``run_claims(scheduler=...)`` on a Dask worker): found here by
    :func:`l2l.proofs.catalogue.find`, run in order by :func:`run_claims` with ``jobs=1`` (so a
    ``shares`` group computes its shared data once, with isolation and the hang guard), in a worker
    kept from this process's earlier tasks so that its caches are warm as in a local run. Each value
    is ``(result without raw_counterexample, that raw counterexample pickled or None)``, so the
    result always unpickles at the caller. A worker whose package source differs from
    ``caller_source`` answers ``error`` for each claim (its verdicts would not be the caller's)."""
    from .cache import source_hash
    from .catalogue import CatalogueError, find

    out: list = [None] * len(origins)
    if caller_source is not None and source_hash() != caller_source:
        message = "the Dask worker runs another version of the l2l source than the caller (its verdicts would differ): reinstall it"
        return [(ClaimResult(id=o[0], verdict="error", expect="holds", examples=0, seconds=0.0, counterexample=None,
                             message=message, profile=profile, seed=seed), None) for o in origins]
    found: list[tuple[int, Claim]] = []
    for k, o in enumerate(origins):
        try:
            found.append((k, find(*o)))
        except CatalogueError as exc:
            out[k] = (ClaimResult(id=o[0], verdict="error", expect="holds", examples=0, seconds=0.0, counterexample=None,
                                  message=f"cannot load the claim on the Dask worker: {exc}", profile=profile, seed=seed), None)
    results = run_claims([c for _, c in found], profile=profile, seed=seed, timeout=timeout, jobs=1, pool=_DASK_POOL)
    for (k, c), r in zip(found, results):
        raw = None
        if r.raw_counterexample is not None:
            try:
                raw = pickle.dumps(r.raw_counterexample)
            except Exception:  # noqa: BLE001
                raw = None
        r.raw_counterexample = None
        out[k] = (r, raw)
    return out


def settle_imports() -> None:
    """Give Hypothesis, once and before claims run, the constants of every module of the package,
    as if all of them were loaded.

    Hypothesis mixes numeric literals of the *currently imported* local modules into generation (the
    "local constants" of ``hypothesis.internal.conjecture.providers``), refreshed whenever the number
    of loaded modules changes. A claim's examples would then depend on which modules the claims run
    before it in the same worker happened to import: with several workers taking claims as they
    come, the order is not fixed, and example counts differed (seen: 16 vs 15 for
    ``wu2018.neg.momentum-risk-equals-sgd-at-same-alpha``). Adding the constants of every package
    module first makes that set a function of the code alone, the same in every worker and for any
    ``jobs``; modules imported later add nothing new. The constants are read from the source files
    (Hypothesis's own parser and its on-disk cache of it), not by importing the modules: the same set
    as importing all of them (the modules the runner imported for this purpose until now: every
    module but ``__main__`` and the pytest plug-in), for a fraction of the time (a one-claim
    ``l2l check`` started in 1.7 s, most of it imports). Where Hypothesis's internals differ from
    those this reads, every module is imported instead, as before."""
    import importlib
    import pkgutil
    import types

    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants, constants_from_module, is_local_module_file
    except ImportError:
        providers = None
    if providers is not None and all(hasattr(providers, a) for a in ("_get_local_constants", "_local_constants", "CONSTANTS_CACHE")):
        found = Constants()
        for pkg, _, path in package_files():
            if path.name == "__main__.py" or (pkg == "l2l.proofs" and path.name == "pytest_plugin.py"):
                continue
            if is_local_module_file(str(path)):
                stand_in = types.ModuleType(path.stem)
                stand_in.__file__ = str(path)
                found |= constants_from_module(stand_in)
        before = len(providers._local_constants)
        providers._local_constants |= found
        if len(providers._local_constants) > before:
            providers.CONSTANTS_CACHE.cache.clear()
        providers._get_local_constants()  # and those of the local modules loaded now (a claim file)
        return
    for top in ("l2l.theory", "l2l.numerics", "l2l.proofs"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, top + "."):
            if info.name.endswith("__main__") or info.name == "l2l.proofs.pytest_plugin":
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - an optional module (a missing extra) stays unloaded
                pass
    if providers is not None and hasattr(providers, "_get_local_constants"):
        providers._get_local_constants()


def worker_group(shares: str) -> str | None:
    """The worker group of a claim's ``shares`` (None: any worker). The derivations of one theory
    module quote one another (``Quote``, verified transitively), so everything that reads a
    derivation of module M (``"derivation:M.name"``) runs in the worker of ``"derivation:M"``,
    where each is verified once; other ``shares`` names are groups of their own."""
    if not shares:
        return None
    if shares.startswith("derivation:"):
        return "derivation:" + shares[len("derivation:"):].split(".", 1)[0]
    return shares


def claim_task(c: Claim, profile: str, seed: int | None) -> Callable[[], ClaimResult]:
    """A task for :func:`l2l.proofs.workers.run_tasks`: ``c``'s verdict, whatever the claim raises
    (``SystemExit``, ``KeyboardInterrupt``: an error verdict), as a result that can be pickled."""

    def task() -> ClaimResult:
        try:
            r = evaluate_claim(c, profile, seed)
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt raised by the claim
            r = ClaimResult(id=c.id, verdict="error", expect=c.expect, examples=0, seconds=0.0,
                            counterexample=None, message=f"the claim raised {_raised(exc)}", profile=profile, seed=seed)
        return _picklable(r)

    return task


def _picklable(r: ClaimResult) -> ClaimResult:
    try:
        pickle.dumps(r)
        return r
    except Exception:  # noqa: BLE001 - objects the check received that cannot be pickled: keep the JSON only
        r.raw_counterexample = None
    try:
        pickle.dumps(r)
        return r
    except Exception as exc:  # noqa: BLE001
        return ClaimResult(id=r.id, verdict="error", expect=r.expect, examples=r.examples, seconds=r.seconds,
                           counterexample=None, profile=r.profile, seed=r.seed,
                           message=f"the claim's result cannot be sent back: {_message(exc)}")


def claim_failure(c: Claim, profile: str, seed: int | None, kind: str, detail: Any, output: int) -> ClaimResult:
    """The ``error`` verdict of a claim whose task failed (:func:`l2l.proofs.workers.run_tasks`)."""
    if kind == "timeout":
        message = f"timeout after {detail:g} s: the claim did not finish (the hang guard; not a verdict about the mathematics)"
    elif kind == "raised":
        message = f"the claim's result could not be sent back: {detail}"
    elif detail is not None and os.WIFSIGNALED(detail):
        sig = os.WTERMSIG(detail)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        message = f"the claim's process was killed by signal {sig} ({name}) before its verdict"
    else:
        code = os.WEXITSTATUS(detail) if detail is not None and os.WIFEXITED(detail) else "?"
        message = f"the claim's process exited (code {code}, e.g. os._exit) before its verdict"
    if output:
        message += f"; it printed {output} bytes"
    return ClaimResult(id=c.id, verdict="error", expect=c.expect, examples=0, seconds=0.0, counterexample=None,
                       message=message, profile=profile, seed=seed)


def _raised(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}({', '.join(repr(a) for a in exc.args)})"
    except Exception:  # noqa: BLE001
        return type(exc).__name__
