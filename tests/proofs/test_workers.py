"""The worker pool's groups (``run_tasks(groups=...)``): tasks of one group share a worker process,
so a cache they read is computed once; values and their order do not depend on the grouping."""

from __future__ import annotations

import os
import time

from l2l.proofs.workers import run_tasks


def _fail(i, kind, detail, out):
    return (kind, detail)


def test_a_group_runs_in_one_worker_and_values_keep_their_order():
    def pid(delay: float):
        def task():
            time.sleep(delay)
            return os.getpid()
        return task

    # 8 tasks, two groups interleaved with ungrouped ones; short sleeps so both workers are busy
    groups = ["a", None, "b", "a", None, "b", "a", "b"]
    pids = run_tasks([pid(0.05) for _ in groups], jobs=2, failure=_fail, groups=groups)
    assert len(pids) == 8
    assert len({pids[i] for i, g in enumerate(groups) if g == "a"}) == 1
    assert len({pids[i] for i, g in enumerate(groups) if g == "b"}) == 1
    assert len(set(pids)) == 2  # both workers were used


def test_a_cache_is_computed_once_per_group():
    calls = []

    def cached():
        if not calls:  # in the worker's copy of `calls`
            calls.append(1)
            time.sleep(0.2)  # long enough for the other worker to be free meanwhile
            return "computed"
        return "reused"

    out = run_tasks([cached] * 4, jobs=2, failure=_fail, groups=["g"] * 4)
    assert out == ["computed", "reused", "reused", "reused"]
    # the negative control: without a group, each of the two workers computes it
    out = run_tasks([cached] * 2, jobs=2, failure=_fail)
    assert out == ["computed", "computed"]


def test_a_dead_groups_worker_hands_the_rest_of_the_group_to_a_fresh_one():
    def die():
        os._exit(3)

    out = run_tasks([os.getpid, die, os.getpid], jobs=1, failure=_fail, groups=["g", "g", "g"])
    assert out[1][0] == "died"
    assert isinstance(out[0], int) and isinstance(out[2], int) and out[0] != out[2]


def test_known_values_are_not_run_and_done_comes_before_the_ordered_delivery():
    """``known`` values (a cache's) are delivered in their place without running; ``on_done`` sees
    each value as soon as it is there (so a result cache loses at most the running tasks when a run
    is killed), while ``on_result`` keeps the order of the tasks."""
    events = []

    def slow():
        time.sleep(0.5)
        return "slow"

    def never():
        raise AssertionError("a known value's task must not run")

    out = run_tasks([slow, lambda: "fast", never], jobs=2, failure=_fail, known={2: "cached"},
                    on_start=lambda i: events.append(("start", i)), on_done=lambda i, v: events.append(("done", i)),
                    on_result=lambda i, v: events.append(("result", i)))
    assert out == ["slow", "fast", "cached"]
    assert ("start", 2) not in events and ("done", 2) not in events
    assert events.index(("done", 1)) < events.index(("done", 0)) < events.index(("result", 0))
    assert [e for e in events if e[0] == "result"] == [("result", 0), ("result", 1), ("result", 2)]
