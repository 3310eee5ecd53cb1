"""Papers are plug-ins (issue 10): a paper is found through the registry of
:mod:`l2l.proofs.papers` alone, so a third party's paper (a module defining ``PAPER`` and declared
in the entry-point group ``l2l.papers``) appears in ``l2l list``, ``l2l check PREFIX`` and its own
section of ``l2l report`` without any file of this package changing.

The toy plug-in is written into a temporary folder as a module plus a ``.dist-info`` folder holding
its entry point, exactly what ``pip install`` of a distribution would leave; ``PYTHONPATH`` makes
it visible to the subprocess only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from l2l.proofs import papers

TOY = '''
"""A toy paper shipped by a third party."""
from l2l import claim
from l2l.proofs.papers import Paper

PAPER = Paper(key="toy", title="Toy & Co. (2026): a toy paper", citation="Toy & Co., 2026", order=5,
              figures="toy_l2l_paper:figures")


@claim(id="toy.square-nonnegative", statement=r"x^2 \\ge 0", source="Toy & Co. (2026), Lemma 1", kind="inequality")
def square_nonnegative():
    assert all(x * x >= 0 for x in range(-5, 6))


def figures(render):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    return [render(fig, "toy-line", "A line through the origin", "y = x")]
'''


def _install_toy(folder: Path, module: str = "toy_l2l_paper", source: str = TOY) -> dict:
    (folder / f"{module}.py").write_text(source, encoding="utf-8")
    info = folder / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[l2l.papers]\ntoy = {module}\n")
    return {**os.environ, "PYTHONPATH": str(folder)}


def _l2l(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l2l.proofs.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_builtin_papers_in_report_order():
    keys = [p.key for p in papers.papers()]
    assert keys[:3] == ["wang2021", "wu2018", "zhang2019"]
    for p in papers.papers():
        claims = p.load_claims()
        assert claims and all(c.tag != "user" for c in claims), p.key
        assert papers.paper_of(p.claim_module()) is p


def test_a_toy_plugin_appears_in_list_check_and_report(tmp_path):
    env = _install_toy(tmp_path)
    listed = _l2l(["list", "--json"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    ids = [c["id"] for c in json.loads(listed.stdout)["claims"]]
    assert "toy.square-nonnegative" in ids and "wang2021.thm3.closed-form" in ids

    checked = _l2l(["check", "toy", "--profile", "ci", "--json"], env, tmp_path)
    assert checked.returncode == 0, checked.stderr
    [result] = json.loads(checked.stdout)["claims"]
    assert (result["id"], result["verdict"]) == ("toy.square-nonnegative", "holds")

    out = tmp_path / "report"
    rep = _l2l(["report", "--claims", "toy", "--derivations", "none", "--out", str(out)], env, tmp_path)
    assert rep.returncode == 0, rep.stderr
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert md.count("### Toy & Co. (2026): a toy paper") == 2  # its claims section and its figures section
    assert "toy.square-nonnegative" in md and "toy.square-nonnegative" in page
    assert (out / "figures" / "toy-line.png").is_file() and 'id="figure-toy-line"' in page
    assert "Wang, Yuan" not in md  # only the selected paper's section and figures


@pytest.mark.parametrize("source, message", [
    ("raise ImportError('no such thing')\n", "cannot import it: ImportError: no such thing"),
    ("PAPER = 'not a Paper'\n", "defines no PAPER"),
])
def test_a_broken_plugin_is_one_line_and_exit_2(tmp_path, source, message):
    env = _install_toy(tmp_path, "broken_l2l_paper", source)
    proc = _l2l(["list"], env, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
