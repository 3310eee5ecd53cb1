"""Forked worker processes with a hang guard: the engine under :func:`l2l.proofs.runner.run_claims`
and the report's side tasks (derivations, figures).

:func:`run_tasks` runs zero-argument callables in ``jobs`` worker processes forked from the caller
(after everything the tasks need is imported, so a worker starts in microseconds and shares the
caller's memory). A free worker takes the next task; the values, and the calls ``on_result(index,
value)``, come back in the order of ``tasks`` whatever the order they finish in. A task's value
travels back pickled; its standard output and error go to a pipe the caller drains and discards.
A task that raises, kills its process, exits it, or does not answer within its limit (seconds: the
only clock, a hang guard that names the limit) gets ``failure(index, kind, detail, output_bytes)``
as its value (``kind``: "raised" with the exception's one-line text, "died" with the wait status,
or "timeout" with the limit), and a fresh worker runs the remaining tasks. Workers ignore SIGINT
(a real Ctrl-C is the caller's: it stops the workers) and die with the caller (Linux).

>>> run_tasks([lambda: 1 + 1, lambda: 1 / 0], jobs=2, failure=lambda i, kind, detail, out: (kind, detail))
[2, ('raised', 'ZeroDivisionError: division by zero')]
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import warnings
from typing import Any, Callable, Hashable, Mapping, Sequence

__all__ = ["run_tasks", "default_jobs", "InOrder", "WorkerPool"]

_HEADER = struct.Struct(">Q")
_TASK = struct.Struct(">IQ")  # task index, length of the pickled task that follows (0: the worker's own task list)
_NO_LIMIT = 10.0 * 365 * 86400


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_tasks(tasks: Sequence[Callable[[], Any]], *, jobs: int = 1, limits: Sequence[float] | None = None,
              failure: Callable[[int, str, Any, int], Any], on_result: Callable[[int, Any], None] | None = None,
              groups: Sequence[Hashable | None] | None = None, known: Mapping[int, Any] | None = None,
              on_start: Callable[[int], None] | None = None, on_done: Callable[[int, Any], None] | None = None,
              pool: WorkerPool | None = None) -> list:
    """Run ``tasks`` in ``jobs`` forked workers (module docstring); ``limits[i]`` seconds is task
    ``i``'s hang guard (default: none). Tasks with the same non-None ``groups[i]`` run in the same
    worker (the first free one takes the group; its later tasks wait for that worker, unless it
    died), so what they cache in common is computed once; the values do not depend on it.

    ``known[i]`` is task ``i``'s value already (say, read from a cache): it is not run, and is
    delivered in its place in the order. ``on_start(i)`` is called when a worker starts task ``i``
    and ``on_done(i, value)`` as soon as its value (or failure) is there, before the in-order
    delivery to ``on_result``: a caller that stores values there loses at most the running tasks
    when the run is killed.

    With a :class:`WorkerPool`, the run first takes the pool's idle workers (forked by an earlier
    run, so their caches are warm) and leaves its idle workers there at the end instead of stopping
    them; a task goes to a worker forked by another run as a pickle, so the tasks must then be
    picklable (say, a ``functools.partial`` of a module-level function)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs: must be a positive integer (got {jobs!r})")
    limits = list(limits) if limits is not None else [_NO_LIMIT] * len(tasks)
    known = dict(known or {})
    order = InOrder(on_result)
    results, finish = order.results, order.add

    def done(i: int, value: Any) -> None:
        if on_done is not None:
            on_done(i, value)
        finish(i, value)

    if not hasattr(os, "fork"):  # no isolation and no hang guard where processes cannot fork
        for i, task in enumerate(tasks):
            if i in known:
                finish(i, known[i])
                continue
            if on_start is not None:
                on_start(i)
            try:
                value = task()
            except Exception as exc:  # noqa: BLE001
                value = failure(i, "raised", _one_line(exc), 0)
            done(i, value)
        return results

    groups = list(groups) if groups is not None else [None] * len(tasks)
    for i in sorted(known):
        finish(i, known[i])
    waiting = [i for i in range(len(tasks)) if i not in known]
    busy: dict[_Worker, tuple[int, float]] = {}  # worker -> (task index, deadline)
    idle: list[_Worker] = []
    owner: dict[Hashable, _Worker] = {}  # group -> the worker that runs its tasks

    def next_task() -> tuple[int, _Worker | None] | None:
        """The first waiting task a free slot may take, and the worker (None: a new one)."""
        for k, i in enumerate(waiting):
            bound = owner.get(groups[i]) if groups[i] is not None else None
            if bound is not None:
                if bound in idle:
                    return k, bound
                continue  # its group's worker is busy: the task waits for it
            if idle:
                return k, idle[-1]
            return (k, None) if len(busy) < jobs else None
        return None

    try:
        while True:
            while len(busy) < jobs and (pick := next_task()) is not None:  # give every free slot a task
                k, worker = pick
                i = waiting.pop(k)
                if worker is None:
                    worker = (pool.take() if pool is not None else None) or _Worker(tasks)
                else:
                    idle.remove(worker)
                if groups[i] is not None:
                    owner.setdefault(groups[i], worker)
                worker.start(i, tasks)
                busy[worker] = (i, time.monotonic() + limits[i])
                if on_start is not None:
                    on_start(i)
            if not busy:
                break
            for worker, (kind, payload) in _receive_any(busy).items():
                i, _ = busy.pop(worker)
                if kind == "value":
                    done(i, payload)
                    idle.append(worker)
                    continue
                if kind != "raised":  # died or hung: a fresh worker runs the next task
                    worker.stop()
                    for g in [g for g, w in owner.items() if w is worker]:
                        del owner[g]  # its caches died with it
                else:
                    idle.append(worker)
                detail = limits[i] if kind == "timeout" else payload
                done(i, failure(i, kind, detail, worker.output_bytes))
    finally:
        for worker in busy:
            worker.stop()
        for worker in idle:
            if pool is None:
                worker.stop()
            else:
                pool.give(worker)
    return results


class WorkerPool:
    """Idle forked workers kept between runs of :func:`run_tasks` (``pool=``), so a process that
    runs many small batches (a Dask worker running one catalogue group per task) keeps its workers'
    caches warm, as one long local run does. A worker is reused only while the process that forked
    it has the same modules loaded as then (a claim file loaded since would be missing in it, and
    the set of loaded modules is part of what Hypothesis generates from); otherwise it is stopped
    and the run forks a fresh one. Thread-safe: concurrent runs take different workers.

    >>> pool = WorkerPool()
    >>> first = run_tasks([os.getpid], pool=pool, failure=lambda *a: None)
    >>> run_tasks([os.getpid], pool=pool, failure=lambda *a: None) == first  # the same process
    True
    >>> pool.close()
    """

    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def take(self) -> _Worker | None:
        """An idle worker forked under the modules loaded now (stale ones are stopped), or None."""
        with self._lock:
            loaded = set(sys.modules)
            stale = [w for w in self._idle if w.modules != loaded]
            self._idle = [w for w in self._idle if w.modules == loaded]
            worker = self._idle.pop() if self._idle else None
        for w in stale:
            w.stop()
        return worker

    def give(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        """Stop every idle worker."""
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.stop()


class InOrder:
    """Values that arrive in any order, delivered in index order: :meth:`add` ``(i, value)``
    calls ``on_result(j, value_j)`` for every ``j`` whose predecessors have all arrived, and
    :attr:`results` holds the values delivered so far.

    >>> seen = []
    >>> order = InOrder(lambda i, v: seen.append(v))
    >>> order.add(1, "b"); order.add(0, "a"); seen
    ['a', 'b']
    """

    def __init__(self, on_result: Callable[[int, Any], None] | None = None):
        self.results: list = []
        self._arrived: dict[int, Any] = {}
        self._on_result = on_result

    def add(self, i: int, value: Any) -> None:
        self._arrived[i] = value
        while len(self.results) in self._arrived:
            self.results.append(self._arrived.pop(len(self.results)))
            if self._on_result is not None:
                self._on_result(len(self.results) - 1, self.results[-1])


def _receive_any(busy: dict) -> dict:
    """Wait until at least one busy worker has an answer (a result, its death, or its deadline) and
    return ``{worker: (kind, payload)}`` for each that has one."""
    while True:
        now = time.monotonic()
        out = {}
        for worker, (_, deadline) in busy.items():
            answer = worker.poll()
            if answer is None and now >= deadline:
                answer = ("timeout", None)
            if answer is not None:
                out[worker] = answer
        if out:
            return out
        left = min(deadline for _, deadline in busy.values()) - now
        fds = [fd for worker in busy for fd in worker.fds()]
        ready, _, _ = select.select(fds, [], [], max(left, 0.0))
        for worker in busy:
            worker.read(ready)


class _Worker:
    """A forked process that runs the claims it is given one at a time: the caller writes a claim's
    index on the task pipe, the worker sends its result back (a length-prefixed pickle on a pipe);
    its stdout and stderr go to a third pipe that is drained."""

    def __init__(self, tasks: Sequence[Callable[[], Any]]):
        self.output_bytes = 0
        self.modules = frozenset(sys.modules)  # what the worker has loaded (WorkerPool.take)
        self._own = tasks
        self._buffer = b""
        self._status: int | None = None
        self._eof = False
        tasks_r, tasks_w = os.pipe()
        results_r, results_w = os.pipe()
        output_r, output_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        # SIGINT is blocked across the fork: a Ctrl-C then reaches the caller only once this object
        # knows its worker (and can stop it), and the worker ignores it from its first instruction
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        with warnings.catch_warnings():  # "fork() with threads": the child only runs claims and _exits
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            _die_with_parent()
            for fd in (tasks_w, results_r, output_r):
                os.close(fd)
            _worker_main(tasks, tasks_r, results_w, output_w)  # never returns
        for fd in (tasks_r, results_w, output_w):
            os.close(fd)
        self.pid, self._tasks, self._results, self._output = pid, tasks_w, results_r, output_r
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending Ctrl-C is raised here
        except BaseException:
            self.stop()
            raise

    def start(self, index: int, tasks: Sequence[Callable[[], Any]]) -> None:
        """Ask the worker to run ``tasks[index]``: by its index when the worker was forked with
        ``tasks``, else as a pickle (a worker that already died answers "died")."""
        payload = b"" if tasks is self._own else pickle.dumps(tasks[index])
        data = _TASK.pack(index, len(payload)) + payload
        try:
            while data:
                data = data[os.write(self._tasks, data):]
        except OSError:
            pass

    def fds(self) -> list[int]:
        return [fd for fd in (self._results, self._output) if fd >= 0]

    def read(self, ready: Sequence[int]) -> None:
        """Read what ``select`` found ready: claim output is counted and dropped, results buffered."""
        if self._output >= 0 and self._output in ready:
            chunk = os.read(self._output, 1 << 16)
            if chunk:
                self.output_bytes += len(chunk)  # claim output: counted, never shown on stdout
            else:
                os.close(self._output)
                self._output = -1
        if self._results >= 0 and self._results in ready:
            chunk = os.read(self._results, 1 << 16)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    def poll(self) -> tuple[str, Any] | None:
        """``("result", ClaimResult)`` once a whole result has arrived, ``("died", wait status)``
        when the worker ended without one, else ``None``."""
        if len(self._buffer) >= _HEADER.size:
            (n,) = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) >= _HEADER.size + n:
                payload = self._buffer[_HEADER.size:_HEADER.size + n]
                self._buffer = self._buffer[_HEADER.size + n:]
                return pickle.loads(payload)
        if self._eof:
            return "died", self._wait()
        return None

    def _wait(self) -> int | None:
        if self._status is None:
            try:
                _, self._status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self._status = None
        return self._status

    def stop(self) -> None:
        """End the worker (SIGKILL if it still runs) and close the pipes."""
        if self._status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait()
        for fd in (self._tasks, self._results, self._output):
            if fd >= 0:
                os.close(fd)
        self._tasks = self._results = self._output = -1


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when the process that forked it dies (even by SIGKILL), so a
    claim that ignores signals never outlives the run. Elsewhere nothing happens."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(tasks: Sequence[Callable[[], Any]], tasks_fd: int, results_fd: int, output_fd: int) -> None:
    code = 0
    try:
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the worker
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        while True:
            raw = _read_exactly(tasks_fd, _TASK.size)
            if raw is None:  # the caller closed the task pipe: no more tasks
                break
            index, size = _TASK.unpack(raw)
            sent = _read_exactly(tasks_fd, size) if size else b""
            if sent is None:
                break
            try:
                message: tuple = ("value", (pickle.loads(sent) if size else tasks[index])())
                payload = pickle.dumps(message)
            except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, unpicklable values
                payload = pickle.dumps(("raised", _one_line(exc)))
            _send(results_fd, payload)
    except BaseException:  # noqa: BLE001 - the caller reports the missing value
        code = 70
    finally:
        os._exit(code)  # no atexit handlers, no waiting for threads the tasks left behind


def _read_exactly(fd: int, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _one_line(exc: BaseException) -> str:
    try:
        text = str(exc).strip().splitlines()
    except Exception:  # noqa: BLE001 - an exception whose str() raises
        text = []
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _send(fd: int, payload: bytes) -> None:
    data = _HEADER.pack(len(payload)) + payload
    while data:
        data = data[os.write(fd, data):]
