"""Running tasks on a Dask distributed scheduler (the optional extra ``l2l-theory[dask]``).

:func:`run_on_scheduler` is the Dask counterpart of :func:`l2l.proofs.workers.run_tasks`: it sends
picklable zero-argument callables (``functools.partial`` of a module-level function, so a worker
imports the function by name) to the scheduler at ``address`` and returns their values in the order
of ``calls``; ``on_done(k, value)`` is called as each arrives, ``on_start(k)`` when the scheduler
reports the task running. :func:`l2l.proofs.runner.run_claims` uses it with ``scheduler=ADDRESS``
(``l2l check --scheduler``): each task there resolves its claims on the worker by id and runs them
through the forked-worker machinery, so isolation and the per-claim hang guard hold on the worker
as they do locally, and the verdicts are the same (DESIGN.md, "Verdicts are deterministic").

Every wait is bounded: the connection and the wait for a first worker by ``connect_timeout``
seconds (a bad address is a :class:`SchedulerError` in one line), the whole run by the sum of the
tasks' ``limits`` (the worst case of one worker running every task in turn; a hang guard against a
scheduler that lost its workers). A task that raised on the worker, or whose worker died (Dask's
``KilledWorker``), or that the guard stopped, gets ``failure(k, kind, detail)`` as its value
(``kind``: "raised", "died" or "timeout").

Dask is imported only here and only when a scheduler is used; without it :func:`require` raises
:class:`SchedulerError` with the install command.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

__all__ = ["run_on_scheduler", "require", "SchedulerError", "INSTALL", "CONNECT_TIMEOUT"]

INSTALL = "pip install 'l2l-theory[dask]'"
#: Seconds to connect to the scheduler and to wait for its first worker.
CONNECT_TIMEOUT = 10.0
#: Seconds between two looks at what the scheduler is running (only with ``on_start``).
_POLL = 1.0


class SchedulerError(Exception):
    """The scheduler cannot be used (Dask missing, a bad address, no worker): one line."""


def require() -> None:
    """Raise :class:`SchedulerError` unless ``dask.distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise SchedulerError(f"--scheduler needs the optional extra: {INSTALL}") from None


def _probe(address: str, timeout: float) -> None:
    """Open and close one connection to the scheduler (raises when it cannot be reached), so a bad
    address fails here, in one line, and not inside a half-made ``Client``."""
    import asyncio

    from distributed.comm import connect

    async def probe() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    asyncio.run(probe())


def _connect(address: str, timeout: float) -> Any:
    require()
    from distributed import Client

    quiet = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [log.level for log in quiet]
    for log in quiet:  # a failed connection is reported in one line, not logged with tracebacks
        log.setLevel(logging.CRITICAL)
    client = None
    try:
        _probe(address, timeout)
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
        client.wait_for_workers(1, timeout=timeout)
        return client
    except Exception as exc:  # noqa: BLE001 - every way of not connecting is one line
        if client is not None:
            _close(client)
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        what = "has no worker" if client is not None else "cannot be reached"
        raise SchedulerError(f"--scheduler: {address!r} {what} within {timeout:g} s ({reason})") from None
    finally:
        for log, level in zip(quiet, levels):
            log.setLevel(level)


def _close(client: Any) -> None:
    try:
        client.close(timeout=CONNECT_TIMEOUT)
    except Exception:  # noqa: BLE001 - a scheduler already gone
        pass


def run_on_scheduler(address: str, calls: Sequence[Callable[[], Any]], *, limits: Sequence[float],
                     failure: Callable[[int, str, Any], Any], on_done: Callable[[int, Any], None] | None = None,
                     on_start: Callable[[int], None] | None = None, connect_timeout: float | None = None) -> list:
    """Run ``calls`` on the Dask scheduler at ``address`` (module docstring); the values in order.
    ``connect_timeout`` defaults to :data:`CONNECT_TIMEOUT`."""
    client = _connect(address, CONNECT_TIMEOUT if connect_timeout is None else connect_timeout)
    try:
        return _run(client, calls, limits, failure, on_done, on_start)
    finally:
        _close(client)


def _run(client: Any, calls: Sequence[Callable[[], Any]], limits: Sequence[float], failure: Callable[[int, str, Any], Any],
         on_done: Callable[[int, Any], None] | None, on_start: Callable[[int], None] | None) -> list:
    values: list = [None] * len(calls)
    # pure=False: every run computes afresh (never a result the scheduler kept from another run);
    # the tasks are submitted in order, and Dask starts them about in that order
    futures = [client.submit(call, pure=False, retries=0) for call in calls]
    index = {f.key: k for k, f in enumerate(futures)}
    started: set[int] = set()
    guard = sum(limits) + 60.0
    deadline = time.monotonic() + guard
    waiting = list(range(len(futures)))
    next_look = 0.0
    while waiting:
        ready = [k for k in waiting if futures[k].done()]
        if not ready:
            if time.monotonic() > deadline:  # the hang guard: the scheduler lost its workers, say
                for k in waiting:
                    futures[k].cancel()
                    values[k] = failure(k, "timeout", guard)
                    if on_done is not None:
                        on_done(k, values[k])
                break
            if on_start is not None and time.monotonic() >= next_look:
                _report_started(client, index, started, on_start)
                next_look = time.monotonic() + _POLL
            time.sleep(0.05)
            continue
        for k in ready:
            waiting.remove(k)
            if on_start is not None and k not in started:
                started.add(k)
                on_start(k)
            values[k] = _value(futures[k], k, failure)
            if on_done is not None:
                on_done(k, values[k])
    return values


def _report_started(client: Any, index: dict, started: set, on_start: Callable[[int], None]) -> None:
    """Call ``on_start`` for the tasks the scheduler now runs."""
    try:
        running = client.processing()
    except Exception:  # noqa: BLE001 - progress only: a failed look changes nothing
        return
    for keys in running.values():
        for key in keys:
            k = index.get(key)
            if k is not None and k not in started:
                started.add(k)
                on_start(k)


def _value(future: Any, k: int, failure: Callable[[int, str, Any], Any]) -> Any:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - the task's failure is its value
        kind = "died" if type(exc).__name__ == "KilledWorker" else "raised"
        text = " ".join(str(exc).split())[:300]
        return failure(k, kind, f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
