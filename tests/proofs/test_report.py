"""``l2l report``: contents, offline HTML, figures, atomic and guarded output, exit status.

One end-to-end run of the real CLI (a subprocess, every registered derivation; the session's shared
report, tests/conftest.py) is shared by the content tests; the overwrite and exit-status tests run ``proofs.cli.main`` in-process with the
derivation list cut to one, to stay within the ci time budget.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from l2l.proofs import cli, report
from l2l.proofs.catalogue import select

SELECTOR = "wang2021.thm3"  # one of the selectors of the shared report (REPORT_CLAIMS in tests/conftest.py)


@pytest.fixture(scope="module")
def full_report(subset_report) -> tuple[Path, subprocess.CompletedProcess]:
    """The session's shared report of ``REPORT_CLAIMS`` (tests/conftest.py), which include
    ``SELECTOR``'s claims."""
    return subset_report


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify one derivation only (the full list is covered by ``full_report``)."""
    from l2l.theory import registry

    monkeypatch.setattr(registry, "names", lambda: ("quadratic.loss",))


def test_exit_zero_and_progress(full_report):
    out, proc = full_report
    assert proc.returncode == 0, proc.stderr
    n = len(json.loads((out / "claims.json").read_text(encoding="utf-8"))["claims"])
    assert n > len(select([SELECTOR]))  # SELECTOR's claims and others
    assert re.search(rf"^\[{n}/{n}\] \S+ \(\d+\.\d s\)$", proc.stderr, re.M), proc.stderr
    assert (out / report.MARKER).is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".report.")], "temporary folder left behind"


def test_every_claim_in_md_and_html(full_report):
    out, _ = full_report
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for c in select([SELECTOR]):
        assert c.id in md and c.id in page, c.id
    from l2l.theory import registry

    for name in registry.names():
        assert name in md and name in page, name
    assert "**Commit:**" in md and "**Profile:** ci" in md


def test_markdown_figures_exist(full_report):
    out, _ = full_report
    md = (out / "report.md").read_text(encoding="utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(refs) >= 3
    for ref in refs:
        path = out / ref
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", ref


def test_html_self_contained(full_report):
    out, _ = full_report
    page = (out / "report.html").read_text(encoding="utf-8")

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: dict[str, int] = {}
            self.links: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.tags[tag] = self.tags.get(tag, 0) + 1
            self.links += [v or "" for k, v in attrs if k in ("src", "href")]

    p = Collect()
    p.feed(page)
    p.close()
    assert p.tags.get("math", 0) >= len(select([SELECTOR])), "claim statements and steps should be MathML"
    assert p.tags.get("svg", 0) >= 3, "figures should be inline SVG"
    assert "img" not in p.tags and "script" not in p.tags and "link" not in p.tags
    assert all(link.startswith("#") for link in p.links), [link for link in p.links if not link.startswith("#")][:5]
    assert not re.search(r"https?://", page)
    assert 'class="badge b-proved"' in page or 'class="badge b-holds"' in page


def test_latex_written(full_report):
    out, _ = full_report
    tex = (out / "report.tex").read_text(encoding="utf-8")
    assert tex.lstrip("%").split("\n", 1)[1].startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    for c in select([SELECTOR]):
        assert report.latex.tex_text(c.id) in tex, c.id
    names = re.findall(r"\\includegraphics\[[^]]*\]\{([^}]+)\}", tex)
    pngs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "report.md").read_text(encoding="utf-8"))
    assert len(names) == len(pngs) >= 6 and all((out / n).is_file() for n in names), names  # wang2021's 5, zhang2019's
    assert r"\begin{longtable}" in tex and "evidence" in tex
    # pdflatex cannot typeset these: every non-ASCII character must have been mapped
    assert all(ord(ch) < 127 for ch in tex if ch not in "\n\t"), sorted({ch for ch in tex if ord(ch) >= 127})


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX engine (pdflatex) installed")
def test_latex_compiles(full_report):
    """With pdflatex present, ``l2l report --format ...,tex`` also writes report.pdf (it compiled)."""
    out, proc = full_report
    pdf = out / "report.pdf"
    assert pdf.is_file(), proc.stderr[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not (out / "report.log").exists() and not (out / "report.aux").exists()


def test_tex_text_escapes_and_maps_unicode():
    assert report.latex.tex_text("a_b & 50% σ ≤ 2 ✓") == r"a\_b \& 50\% \ensuremath{\sigma}~\ensuremath{\le}~2 [U+2713]"
    # a signed number is one box (no line break after its sign); a spaced relation is tied
    assert report.latex.tex_text("eta = -0.5, 1e-05") == r"eta~=~\mbox{-0.5}, \mbox{1e-05}"


def test_refuses_non_report_folder(tmp_path, capsys):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    code = cli.main(["report", "--out", str(target), "--claims", SELECTOR])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "not an l2l report" in err
    assert (target / "notes.txt").read_text() == "keep me"


def test_refuses_file_and_bad_format(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert cli.main(["report", "--out", str(f)]) == 2
    assert cli.main(["report", "--out", str(tmp_path / "r"), "--format", "pdf"]) == 2
    assert cli.main(["report", "--out", str(tmp_path / "r"), "--claims", "no-such-claim"]) == 2
    assert cli.main(["report", "--out", str(tmp_path / "r"), "--derivations", "no-such-derivation"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 4 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "l2l: error: --derivations: no derivation name or prefix matches 'no-such-derivation' (see `l2l derive --list`)"
    )


def test_overwrites_previous_report(tmp_path, small, capsys):
    target = tmp_path / "rep"
    assert cli.main(["report", "--out", str(target), "--claims", "wang2021.thm3.upper-bound"]) == 0
    (target / "stale.txt").write_text("from the previous report")
    assert cli.main(["report", "--out", str(target), "--claims", "wang2021.thm3.lower-bound", "--format", "md"]) == 0
    assert (target / report.MARKER).is_file()
    assert not (target / "stale.txt").exists()
    assert not (target / "report.html").exists()
    md = (target / "report.md").read_text(encoding="utf-8")
    assert "wang2021.thm3.lower-bound" in md and "wang2021.thm3.upper-bound" not in md
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"], "temporary folders left behind"


USER_CLAIM = '''
from l2l import claim

@claim(id="user.report.false", statement=r"1 + 1 = 3", source="test", kind="identity")
def false_claim():
    assert 1 + 1 == 3, "arithmetic says otherwise"
'''


def test_missed_expectation_exits_one(tmp_path, small, monkeypatch, capsys):
    path = tmp_path / "user_claims.py"
    path.write_text(USER_CLAIM)
    target = tmp_path / "rep"
    assert cli.main(["report", "--out", str(target), "--claims", str(path), "--format", "md,html"]) == 1
    md = (target / "report.md").read_text(encoding="utf-8")
    page = (target / "report.html").read_text(encoding="utf-8")
    assert "user.report.false" in md and "arithmetic says otherwise" in md
    assert 'class="badge b-missed"' in page and "missed: refuted, expected holds" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium is not installed here")
def test_html_renders_offline_in_headless_chromium(full_report, tmp_path):
    """Render the shared report's HTML in headless Chromium with networking disabled and check the
    screenshot is a real page (not blank): math and inline SVG need no network."""
    out, proc = full_report
    assert proc.returncode == 0, proc.stderr[-2000:]
    shot = tmp_path / "shot.png"
    cmd = [
        shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9", "--window-size=1200,3000",
        f"--screenshot={shot}", (out / "report.html").as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 20_000  # a blank page is a few kB
