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


import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ``slow`` marker (registered in pyproject.toml): the ``ci`` profile skips those tests unless
    ``L2L_RUN_SLOW=1``; ``dev`` and ``thorough`` run them."""
    if os.environ.get("L2L_PROFILE", "dev") != "ci" or os.environ.get("L2L_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: skipped under the ci profile (set L2L_RUN_SLOW=1 to run it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def main_job_report(tmp_path_factory: pytest.TempPathFactory):
    """The README's main job, ``l2l report`` (profile ci, the whole catalogue, every derivation),
    run ONCE per test session into a temporary folder. Returns ``(folder, completed process,
    verdicts by claim id from claims.json)``. The README test checks the run and its files; the
    catalogue tests (``tests/proofs/test_wang2021.py``, ``test_wu2018.py``) read each claim's
    verdict from it instead of running the catalogue a second time."""
    out = tmp_path_factory.mktemp("main-job") / "report"
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "report", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True)
    verdicts = {}
    path = out / "claims.json"
    if path.is_file():
        verdicts = {c["id"]: c for c in json.loads(path.read_text(encoding="utf-8"))["claims"]}
    return out, proc, verdicts
