"""The ``slow`` marker (pyproject.toml): the ``ci`` profile skips marked tests unless
``L2L_RUN_SLOW=1``; ``dev`` and ``thorough`` run them (``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from .conftest import pytest_collection_modifyitems


class _Item:
    def __init__(self, slow: bool):
        self.keywords = {"slow": True} if slow else {}
        self.markers: list = []

    def add_marker(self, marker) -> None:
        self.markers.append(marker)


@pytest.mark.parametrize("profile, run_slow, skipped", [
    ("ci", None, True), ("ci", "1", False), ("dev", None, False), ("thorough", None, False),
])
def test_ci_skips_slow_tests_only(monkeypatch, profile, run_slow, skipped):
    monkeypatch.setenv("L2L_PROFILE", profile)
    if run_slow is None:
        monkeypatch.delenv("L2L_RUN_SLOW", raising=False)
    else:
        monkeypatch.setenv("L2L_RUN_SLOW", run_slow)
    slow, quick = _Item(True), _Item(False)
    pytest_collection_modifyitems(None, [slow, quick])
    assert bool(slow.markers) == skipped and quick.markers == []
    if skipped:
        assert slow.markers[0].mark.name == "skip" and "L2L_RUN_SLOW=1" in slow.markers[0].mark.kwargs["reason"]
