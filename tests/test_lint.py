"""The linter runs with the suite (issue 10, "Guards"): ``ruff check`` over the repository with the
configuration in ``pyproject.toml`` (pyflakes' undefined and unused names, pycodestyle's error
classes). ruff is in the ``test`` extra that the README's test command installs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "No module named ruff" not in proc.stderr, "ruff is missing: pip install -e '.[test]'"
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
