"""Every docstring example in the package runs (issue 10, "Guards"): one test per module, imported
by its installed name (``l2l.numerics.stable``, never a second copy as ``numerics.stable``), with
the ``doctest`` flags the examples are written for. A module without examples passes trivially and
is counted in :func:`test_the_examples_are_many`, so a change that silently drops them shows.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from .test_architecture import ROOT, modules

MODULES = sorted(m for m in modules(ROOT) if not m.endswith("pytest_plugin"))
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _examples(name: str) -> list:
    return [t for t in doctest.DocTestFinder(exclude_empty=True).find(importlib.import_module(name)) if t.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _examples(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples failed"


def test_the_examples_are_many():
    """The package's docstrings carry examples (STYLE.md: each with its printed output)."""
    total = sum(len(t.examples) for name in MODULES for t in _examples(name))
    with_examples = sum(bool(_examples(name)) for name in MODULES)
    assert total >= 100 and with_examples >= len(MODULES) // 3, (total, with_examples, len(MODULES))
