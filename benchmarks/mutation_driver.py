"""What :mod:`mutation` runs inside a copy of the package (never imported by the package itself).

``benchmarks/mutation.py`` starts this file through its import-guard wrapper, in a subprocess whose
``l2l`` is the (mutated or pristine) copy. Three modes:

``map-claims OUT ID...``
    Under coverage (started by the wrapper before ``l2l`` was imported), run each claim in this
    process with profile ``ci``, the coverage context switched to ``claim:ID``; every cache of the
    package is cleared before each claim, so a claim is charged for all the code its verdict
    depends on, not only for what an earlier claim left uncomputed. Writes ``{"seconds": {ID: s},
    "failed": [ID...]}`` to OUT (the coverage data goes to the wrapper's data file).
``map-tests OUT PYTEST-ARGS...``
    Under coverage, run pytest with the context switched to ``test:NODEID`` around each test
    (leaving out the tests on the ``main_job_report`` fixture: the report runs in a subprocess);
    writes ``{"seconds": {NODEID: s}, "failed": [NODEID...]}`` to OUT.
``claims OUT ID...``
    Run the claims one after another, each in a forked worker with the runner's hang guard,
    stopping at the first whose verdict misses its expectation; writes ``{"missed": [...],
    "ran": n}`` to OUT.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
import time

COV = globals().get("COV")  # set by the wrapper in the map modes


def _clear_caches() -> None:
    """Empty every ``functools`` cache of the package (lru_cache / cache on module functions)."""
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper) and getattr(obj, "__module__", "").startswith("l2l"):
            obj.cache_clear()


def _claims(ids: list[str]) -> list:
    from l2l.proofs.catalogue import load_all

    by_id = {c.id: c for c in load_all()}
    return [by_id[i] for i in ids]


def map_claims(out: str, ids: list[str]) -> None:
    from l2l.proofs.runner import run_claims, settle_imports

    settle_imports()
    seconds, failed = {}, []
    for c in _claims(ids):
        _clear_caches()
        COV.switch_context(f"claim:{c.id}")
        t0 = time.perf_counter()
        r = run_claims([c], profile="ci", isolate=False)[0]
        seconds[c.id] = round(time.perf_counter() - t0, 3)
        COV.switch_context("")
        if not r.matches:
            failed.append(c.id)
    COV.stop()
    COV.save()
    with open(out, "w") as f:
        json.dump({"seconds": seconds, "failed": failed}, f)


def map_tests(out: str, args: list[str]) -> int:
    import pytest

    seconds: dict[str, float] = {}
    failed: list[str] = []

    class Contexts:
        def pytest_collection_modifyitems(self, config, items):
            # Tests on the session fixture ``main_job_report`` run the whole report in a subprocess:
            # invisible to coverage, and they repeat the claims the map already has.
            keep = [i for i in items if "main_job_report" not in getattr(i, "fixturenames", ())]
            config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep

        def pytest_runtest_logreport(self, report):
            if report.failed and report.nodeid not in failed:
                failed.append(report.nodeid)

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_protocol(self, item, nextitem):
            COV.switch_context(f"test:{item.nodeid}")
            t0 = time.perf_counter()
            yield
            seconds[item.nodeid] = round(time.perf_counter() - t0, 3)
            COV.switch_context("")

    code = pytest.main(args, plugins=[Contexts()])
    COV.stop()
    COV.save()
    with open(out, "w") as f:
        json.dump({"seconds": seconds, "failed": failed, "exit": int(code)}, f)
    return int(code)


def claims(out: str, ids: list[str], timeout: float) -> None:
    from l2l.proofs.runner import run_claims

    missed, ran = [], 0
    for c in _claims(ids):
        r = run_claims([c], profile="ci", timeout=timeout)[0]
        ran += 1
        if not r.matches:
            missed.append(f"{r.id} ({r.verdict}, expect {r.expect})")
            break
    with open(out, "w") as f:
        json.dump({"missed": missed, "ran": ran}, f)


if __name__ == "__main__":
    mode, out, *rest = sys.argv[1:]
    if mode == "map-claims":
        map_claims(out, rest)
    elif mode == "map-tests":
        map_tests(out, rest)
    elif mode == "claims":
        claims(out, rest[1:], float(rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
