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


# -- shared runs of the CLI, once per session ----------------------------------------------------
# The README's main job is the longest single piece of the suite (the whole catalogue, every
# derivation, the figures; about 2 min on two cores), so it starts in the background as soon as
# collection shows a test that needs it, and the tests that read it wait for it. The report tests
# share one smaller report likewise. Under pytest-xdist every worker collects; the first to create
# a run's folder starts it and the others wait for the same files.
_SHARED = "L2L_TESTS_SHARED_DIR"
_RUNS: dict[str, subprocess.Popen] = {}
#: The claims of the report the report tests share (tests/proofs/test_report.py and
#: test_report_view.py): Theorem 3 of Wang et al. (proofs and sampled claims), and claims of
#: another paper with one figure: a proof, a sampled claim, a negative control and a finding (both
#: expected to be refuted).
REPORT_CLAIMS = ("wang2021.thm3", "wu2018.zhang.sgd-risk", "wu2018.zhang.momentum-equals-sgd-at-small-step",
                 "wu2018.neg.perfect-scaling-at-every-batch-size", "wu2018.finding.sgd-plateau-from-1024")
_COMMANDS = {
    "main-job": ["report"],
    "report-subset": ["report", "--format", "md,html,tex", *[a for c in REPORT_CLAIMS for a in ("--claims", c)]],
}


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and _SHARED not in os.environ:  # the controller (or the only process)
        os.environ[_SHARED] = tempfile.mkdtemp(prefix="l2l-tests-")  # xdist workers inherit it
        config._l2l_shared_dir = os.environ[_SHARED]
        # One disk cache for the session (figures, the numbers they show), not the user's: every
        # session draws afresh as CI does, and tests read the figures the main job drew
        # (tests/proofs/test_figures.py). Tests of the caches set their own XDG_CACHE_HOME.
        os.environ["XDG_CACHE_HOME"] = str(Path(os.environ[_SHARED]) / "cache")
        _compile_package()


def _compile_package() -> None:
    """Byte-code for the session's processes. The session starts about 250 Python processes (the
    xdist workers, CLI runs, claim files under pytest, the shared reports). Where
    ``PYTHONDONTWRITEBYTECODE`` is set (as on this project's hosts) none of them would write what it
    compiles: each CLI run would compile the package afresh (about 0.4 s of CPU), and each pytest
    process would redo pytest's assertion rewriting of its plug-ins (Hypothesis, this package: about
    7 s of CPU; 11.5 s against 4.5 s for ``pytest --collect-only``). So the package is compiled
    here, once, and the session's processes are started without that variable: they write byte-code
    as Python does by default (``__pycache__`` folders, which git ignores). Files already compiled
    and unchanged are skipped."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the xdist workers and every subprocess inherit this
    for folder in ("theory", "numerics", "proofs"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def pytest_unconfigure(config: pytest.Config) -> None:
    for proc in _RUNS.values():
        if proc.poll() is None:  # the session ended without it (-x, Ctrl-C): stop the whole run
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    shared = getattr(config, "_l2l_shared_dir", None)
    if shared is not None:
        shutil.rmtree(shared, ignore_errors=True)
        os.environ.pop(_SHARED, None)


def _start(name: str, config: pytest.Config | None = None) -> None:
    """Start ``l2l <_COMMANDS[name]> --out FOLDER/report`` in the background unless another
    process of the session did."""
    if config is not None and config.option.collectonly:
        return
    folder = Path(os.environ[_SHARED]) / name
    try:
        folder.mkdir()
    except FileExistsError:  # another worker started it
        return
    # rc is written last, through a rename, so a waiting test never reads a half-written code
    script = ('import subprocess, sys, os; p = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1] + "/stdout", "w"), '
              'stderr=open(sys.argv[1] + "/stderr", "w")); open(sys.argv[1] + "/rc.tmp", "w").write(str(p.returncode)); '
              'os.replace(sys.argv[1] + "/rc.tmp", sys.argv[1] + "/rc")')
    _RUNS[name] = subprocess.Popen([sys.executable, "-c", script, str(folder), sys.executable, "-m", "l2l.proofs.cli",
                                    *_COMMANDS[name], "--out", str(folder / "report")], cwd=ROOT, start_new_session=True)


def _finished(name: str) -> tuple[Path, subprocess.CompletedProcess]:
    """Start the run ``name`` if no process of the session did, wait for it (the hang guard only:
    3600 s; the run itself is bounded by counts) and return ``(its report folder, the run)``."""
    _start(name)
    folder = Path(os.environ[_SHARED]) / name
    rc = folder / "rc"
    for _ in range(36000):
        if rc.is_file():
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"l2l {' '.join(_COMMANDS[name])} did not finish within 3600 s")
    out = folder / "report"
    return out, subprocess.CompletedProcess(["l2l", *_COMMANDS[name], "--out", str(out)], int(rc.read_text()),
                                            (folder / "stdout").read_text(encoding="utf-8"),
                                            (folder / "stderr").read_text(encoding="utf-8"))


@pytest.hookimpl(trylast=True)  # after -k / -m / --deselect have removed what will not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the main job early (above) and apply the ``slow`` marker (registered in pyproject.toml):
    the ``ci`` profile skips those tests unless ``L2L_RUN_SLOW=1``; ``dev`` and ``thorough`` run them."""
    if any("main_job_report" in getattr(item, "fixturenames", ()) for item in items):
        _start("main-job", config)
    if os.environ.get("L2L_PROFILE", "dev") != "ci" or os.environ.get("L2L_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: skipped under the ci profile (set L2L_RUN_SLOW=1 to run it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _shared_verifications():
    """Verifications of registered derivations shared by the session's processes through the
    session's disk cache (``l2l.proofs.cache.DerivationCache``), as the CLI shares them between runs:
    each derivation is checked once per session (by the main job, which starts first, or by the
    first test process to need it) instead of once per process, about 20 s of CPU. Tests that build
    or change a derivation by hand call its own ``verify`` and never reach the store; the tests of
    the store set their own."""
    from l2l.proofs.cache import DerivationCache
    from l2l.theory.store import verification_store

    with verification_store(DerivationCache()):
        yield


@pytest.fixture(scope="session")
def main_job_report():
    """The README's main job, ``l2l report`` (profile ci, the whole catalogue, every derivation),
    run ONCE per test session (in every xdist worker the same run) into a temporary folder. Returns
    ``(folder, completed process, verdicts by claim id from claims.json)``. The README test checks
    the run and its files; the catalogue tests (``tests/proofs/test_wang2021.py``, ...) read each
    claim's verdict from it instead of running the catalogue a second time."""
    out, proc = _finished("main-job")
    verdicts = {}
    path = out / "claims.json"
    if path.is_file():
        verdicts = {c["id"]: c for c in json.loads(path.read_text(encoding="utf-8"))["claims"]}
    return out, proc, verdicts


@pytest.fixture(scope="session")
def subset_report() -> tuple[Path, subprocess.CompletedProcess]:
    """``l2l report --format md,html,tex`` of :data:`REPORT_CLAIMS` (every registered derivation,
    the figures of those claims' papers), run ONCE per session for the report tests. Returns
    ``(report folder, completed process)``."""
    return _finished("report-subset")
