"""What every JSON verdict and report records: versions, seed, profile, precision, date, commit."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["environment"]

_PACKAGES = ("l2l-theory", "numpy", "scipy", "sympy", "mpmath", "hypothesis")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment(*, precision: str, profile: str | None = None, seed: int | None = None, packages=_PACKAGES) -> dict:
    """A JSON-serialisable record of the run's context."""
    env = {
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in packages}},
        "platform": platform.platform(),
        "precision": precision,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
    }
    if profile is not None:
        env["profile"] = profile
        env["seed"] = seed
    return env
