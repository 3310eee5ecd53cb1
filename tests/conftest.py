"""Hypothesis profiles (DESIGN.md, "Quality rules").

- ``dev`` (default): a moderate number of random examples.
- ``ci``: derandomised and small, so CI is reproducible and fits its time budget.
- ``thorough``: many examples, for a long local run.

Chosen by the environment variable ``L2L_PROFILE`` or pytest's ``--hypothesis-profile``.
``deadline=None`` everywhere: run times of numerical checks vary with the machine, not with bugs.
"""

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=40, **_common)
settings.register_profile("ci", max_examples=15, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=500, **_common)
settings.load_profile(os.environ.get("L2L_PROFILE", "dev"))

# No test reads a claim result cached by the user's runs or by another test: `l2l check` and
# `l2l report` (run in-process or as subprocesses, which inherit this) use the result cache by
# default, and a test that patches code in-process is not in its key. The tests of the cache itself
# (tests/proofs/test_cache.py) turn it on with their own XDG_CACHE_HOME.
os.environ["L2L_NO_RESULT_CACHE"] = "1"


import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


ROOT = Path(__file__).resolve().parent.parent


# -- the README's main job, once per session ---------------------------------------------------
# It is the longest single piece of the suite (the whole catalogue, every derivation, the figures;
# about 70 s on two cores), so it starts in the background as soon as collection shows a test that
# needs it, and the tests that read it wait for it. Under pytest-xdist every worker collects; the
# first to create the shared folder starts the run and the others wait for the same files.
_SHARED = "L2L_TESTS_SHARED_DIR"
_MAIN_JOB: dict = {}


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and _SHARED not in os.environ:  # the controller (or the only process)
        os.environ[_SHARED] = tempfile.mkdtemp(prefix="l2l-tests-")  # xdist workers inherit it
        config._l2l_shared_dir = os.environ[_SHARED]


def pytest_unconfigure(config: pytest.Config) -> None:
    proc = _MAIN_JOB.get("proc")
    if proc is not None and proc.poll() is None:  # the session ended without it (-x, Ctrl-C): stop the whole run
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    shared = getattr(config, "_l2l_shared_dir", None)
    if shared is not None:
        shutil.rmtree(shared, ignore_errors=True)
        os.environ.pop(_SHARED, None)


def _main_job_dir() -> Path:
    return Path(os.environ[_SHARED]) / "main-job"


def _start_main_job(config: pytest.Config | None = None) -> None:
    if config is not None and config.option.collectonly:
        return
    folder = _main_job_dir()
    try:
        folder.mkdir()
    except FileExistsError:  # another worker started it
        return
    # rc is written last, through a rename, so a waiting test never reads a half-written code
    script = ('import subprocess, sys, os; p = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1] + "/stdout", "w"), '
              'stderr=open(sys.argv[1] + "/stderr", "w")); open(sys.argv[1] + "/rc.tmp", "w").write(str(p.returncode)); '
              'os.replace(sys.argv[1] + "/rc.tmp", sys.argv[1] + "/rc")')
    _MAIN_JOB["proc"] = subprocess.Popen([sys.executable, "-c", script, str(folder), sys.executable, "-m", "l2l.proofs.cli",
                                          "report", "--out", str(folder / "report")], cwd=ROOT, start_new_session=True)


@pytest.hookimpl(trylast=True)  # after -k / -m / --deselect have removed what will not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the main job early (above) and apply the ``slow`` marker (registered in pyproject.toml):
    the ``ci`` profile skips those tests unless ``L2L_RUN_SLOW=1``; ``dev`` and ``thorough`` run them."""
    if any("main_job_report" in getattr(item, "fixturenames", ()) for item in items):
        _start_main_job(config)
    if os.environ.get("L2L_PROFILE", "dev") != "ci" or os.environ.get("L2L_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: skipped under the ci profile (set L2L_RUN_SLOW=1 to run it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def main_job_report():
    """The README's main job, ``l2l report`` (profile ci, the whole catalogue, every derivation),
    run ONCE per test session (in every xdist worker the same run) into a temporary folder. Returns
    ``(folder, completed process, verdicts by claim id from claims.json)``. The README test checks
    the run and its files; the catalogue tests (``tests/proofs/test_wang2021.py``, ...) read each
    claim's verdict from it instead of running the catalogue a second time."""
    _start_main_job()  # a no-op when collection started it
    folder = _main_job_dir()
    rc = folder / "rc"
    for _ in range(36000):  # the hang guard only: 3600 s; the run itself is bounded by counts
        if rc.is_file():
            break
        time.sleep(0.1)
    else:
        pytest.fail("the main job (l2l report) did not finish within 3600 s")
    out = folder / "report"
    proc = subprocess.CompletedProcess(["l2l", "report", "--out", str(out)], int(rc.read_text()),
                                       (folder / "stdout").read_text(encoding="utf-8"), (folder / "stderr").read_text(encoding="utf-8"))
    verdicts = {}
    path = out / "claims.json"
    if path.is_file():
        verdicts = {c["id"]: c for c in json.loads(path.read_text(encoding="utf-8"))["claims"]}
    return out, proc, verdicts
