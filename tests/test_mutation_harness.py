"""The mutation harness of ``benchmarks/mutation.py`` (issue 13): the mutant list does not rot, the
coverage map selects what executes a mutated statement, and the harness kills a known-bad mutant
while the unmutated copy passes the same claim (its negative control). About 20 s: two copies of
the sources and two one-claim runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import mutation  # noqa: E402
from mutants import MUTANTS  # noqa: E402

ISSUE13 = ("issue13.stable-gprime-0.95", "issue13.greedy-eta-power", "issue13.schedule-maxiter-15",
           "issue13.greedy-sum-weight", "issue13.shared-noise-1.1")
CHEAP = "theory.quadratic.naive-grad-sign"  # F'(eta) with the wrong sign
CHEAP_CLAIM = "wang2021.thm3.closed-form"  # symbolic: derived F' against the closed form (< 1 s)


def test_at_least_40_mutants_with_unique_names():
    names = [m.name for m in MUTANTS]
    assert len(names) >= 40
    assert len(set(names)) == len(names)


def test_the_issue_mutants_exist():
    names = {m.name for m in MUTANTS}
    assert set(ISSUE13) <= names


@pytest.mark.parametrize("m", MUTANTS, ids=lambda m: m.name)
def test_every_mutant_still_applies(m):
    """``old`` occurs exactly once in its file (a refactor that breaks a mutant shows here)."""
    assert mutation.verify(m) is None, mutation.verify(m)
    assert m.why


def test_statement_lines_cover_whole_statements_and_compound_headers_only():
    text = "def f(x):\n    y = (x +\n         1)\n    if y > 0:\n        return y\n    return -y\n"
    assert mutation.statement_lines(text, "1)") == [2, 3]  # the whole multi-line assignment
    assert mutation.statement_lines(text, "if y > 0:") == [4]  # the header, not the body
    assert mutation.statement_lines(text, "return -y") == [6]


def test_candidates_are_what_executes_the_lines_cheapest_first_or_everything_at_import():
    cmap = mutation.CoverageMap(
        claims={"a": 3.0, "b": 1.0, "c": 2.0}, tests={"t::x": 0.5, "t::y": 0.1},
        contexts=["", "claim:a", "claim:b", "test:t::x", "claim:gone"],
        lines={"numerics/m.py": {"10": [1, 2, 3, 4], "11": [0], "12": []}})
    assert cmap.candidates("numerics/m.py", [10]) == (["b", "a"], ["t::x"], False)  # "gone": not in the map
    assert cmap.candidates("numerics/m.py", [12]) == ([], [], False)  # executed by nothing: cannot be killed
    assert cmap.candidates("numerics/m.py", [10, 11]) == (["b", "c", "a"], ["t::y", "t::x"], True)
    assert cmap.candidates("numerics/other.py", [1]) == ([], [], False)


def test_harness_kills_a_cheap_mutant_and_not_the_unmutated_copy(tmp_path):
    m = next(x for x in MUTANTS if x.name == CHEAP)
    res = mutation.run_mutant(m, "test", tmp_path, only_claims=[CHEAP_CLAIM])
    assert res.status == "killed", res
    assert any(k.startswith(CHEAP_CLAIM) for k in res.killed_by), res.killed_by
    # negative control: the same claim on a copy without the substitution
    copy = mutation.make_copy(tmp_path / "pristine", None)
    assert mutation.run_check(copy, [CHEAP_CLAIM]) == []
