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
import re
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
    assert keys[:4] == ["wang2021", "wu2018", "zhang2019", "metz2019"]
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


# --- citations (issue 12, point 4): the report cites papers, never a file beside the repository ---

#: Marks of a reference to the specification files beside the repository (``papers/wu2018.md §4``,
#: "§11 item 19"): the reader of a report has neither the files nor their numbering.
SPEC_REFERENCE = re.compile(r"papers/|\.md\b|§|\bitems? \d")
#: Words that mark a source honestly citing no paper item (the package's own work).
OWN_WORK = ("negative control", "derived here", "package analogue", "conjecture")


def _catalogue():
    return [(p, c) for p in papers.papers() for c in p.load_claims()]


def test_claim_sources_cite_their_paper_not_a_spec_file():
    bad = []
    for paper, c in _catalogue():
        for field in ("source", "doc", "statement", "assumptions", "tolerance"):
            text = getattr(c, field, "") or ""
            if SPEC_REFERENCE.search(text):
                bad.append(f"{c.id} {field}: {text!r}")
        if paper.short not in c.source and not any(w in c.source for w in OWN_WORK):
            bad.append(f"{c.id} source cites neither {paper.short!r} nor one of {OWN_WORK}: {c.source!r}")
    assert not bad, f"{len(bad)} bad citations:\n" + "\n".join(bad)


def test_derivation_texts_cite_no_spec_file():
    """Everything a derivation shows in a report: title, source, assumptions, step justifications."""
    from l2l.theory import registry

    bad = []
    for n in registry.names():
        d = registry.get(n)
        for text in (d.title, d.source, *d.assumptions, *(s.justification for s in d.steps)):
            if SPEC_REFERENCE.search(text):
                bad.append(f"{n}: {text!r}")
    assert not bad, f"{len(bad)} bad derivation texts:\n" + "\n".join(bad)


def test_builtin_papers_carry_full_references():
    for p in papers.papers()[:4]:
        assert p.authors and p.paper_title and p.year and p.venue and p.arxiv, p.key
        assert p.reference.startswith(p.authors + ". " + p.paper_title)
        assert f"arXiv:{p.arxiv}" in p.reference and str(p.year) in p.reference
    assert [p.short for p in papers.papers()[:4]] == ["Wang et al. (2021)", "Wu et al. (2018)", "Zhang et al. (2019)",
                                                       "Metz et al. (2019)"]


@pytest.mark.parametrize("authors, year, short", [
    ("Ada Lovelace", 1843, "Lovelace (1843)"),
    ("Yuhuai Wu, Roger Grosse", 2018, "Wu & Grosse (2018)"),
    ("Xiang Wang, Shuai Yuan, Rong Ge", 2021, "Wang et al. (2021)"),
    ("Guodong Zhang, Lala Li, Zachary Nado, James Martens, Sushant Sachdeva, George E. Dahl, "
     "Christopher J. Shallue, Roger Grosse", 2019, "Zhang et al. (2019)"),
    ("Laurens van\u00a0der\u00a0Maaten, Geoffrey Hinton", 2008, "van\u00a0der\u00a0Maaten & Hinton (2008)"),
    ("Ada Lovelace", None, "Lovelace"),
    ("", 2026, "Toy & Co., 2026"),  # a plug-in without authors keeps its citation
])
def test_short_citation_by_number_of_authors(authors, year, short):
    p = papers.Paper("toy", "Toy & Co. (2026): a toy paper", "Toy & Co., 2026", authors=authors, year=year)
    assert p.short == short


def test_reference_leaves_out_what_is_missing_and_keeps_a_question_mark():
    p = papers.Paper("x", "X", "X", authors="A B, C D", paper_title="Why? A Study", year=2000, venue="V", arxiv="1.2")
    assert p.reference == "A B, C D. Why? A Study. V, 2000. arXiv:1.2."
    q = papers.Paper("x", "X", "X", authors="A B", paper_title="Which Sizes?", year=2000)
    assert q.reference == "A B. Which Sizes? 2000."


def test_the_registry_keeps_a_plugins_bibliographic_fields(tmp_path, monkeypatch):
    """``_load`` fills in ``claims`` and ``module`` without dropping the fields added later."""
    (tmp_path / "cited_l2l_paper.py").write_text(
        "from l2l.proofs.papers import Paper\n"
        "PAPER = Paper(key='cited', title='Cited', citation='C', authors='Ada Lovelace', year=1843,"
        " paper_title='Notes', venue='Taylor', arxiv='0000.00000')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    p = papers._load("cited_l2l_paper")
    assert (p.module, p.claims, p.short) == ("cited_l2l_paper", "cited_l2l_paper", "Lovelace (1843)")
    assert p.reference == "Ada Lovelace. Notes. Taylor, 1843. arXiv:0000.00000."


def test_claims_quoting_a_derivation_share_its_worker():
    """A claim whose check reads a registered derivation's verification declares
    ``shares="derivation:NAME"`` for that derivation (one of them, if it reads several), so the
    report runs it in the worker that verified NAME (a mismatch verifies the derivation a second
    time: 2.4 s for ``jastrzebski2020.b1.with-replacement-derivation``)."""
    import inspect

    from l2l.proofs.catalogue import select
    from l2l.theory.registry import names

    registered = set(names())
    quoting = 0
    for c in select([]):
        source = inspect.getsource(inspect.unwrap(c.func))
        used = set(re.findall(r"""(?:_derivation|verified)\(\s*["']([^"']+)["']""", source)) & registered
        if used:
            quoting += 1
            assert c.shares in {f"derivation:{name}" for name in used}, (c.id, c.shares, used)
        elif c.shares.startswith("derivation:"):
            raise AssertionError(f"{c.id} shares {c.shares} but reads no derivation")
    assert quoting >= 20  # the catalogue's derivation claims (the test would be vacuous without them)
