"""Issue 12: the report as a person sees it, in a browser window and on paper.

One report (a few claims of two papers, among them a negative control and a finding, every
registered derivation, those papers' figures) is built once for the session through the real CLI
(``REPORT_CLAIMS`` in tests/conftest.py, shared with tests/proofs/test_report.py).
Then:

- **HTML, in headless Chromium** (driven by Playwright against the system ``chromium``; the page's
  CSP forbids scripts, so every measurement is made from the driver's side): at 1000 and 1400 px
  the page is no wider than the window; no text a reader sees holds a raw LaTeX command or an
  internal symbol name; every internal link lands on an element; every figure has a size on screen.
- **PDF, with pdflatex**: no overfull line wider than 10 pt; no minus sign ends a line without its
  number; the "Figures" heading shares its page with a figure.

Each check is a function that returns what it found wrong, and negative controls feed it a page or
a document with the defect planted (a 3000 px wide element, a ``\\xi`` text node, an internal name,
a broken anchor, a 300-character unbreakable line, a minus sign at a line's end), so that a check
that went blind would fail here. The browser tests skip only where Chromium is not installed, the
PDF ones only where pdflatex (or, for the checks that read the PDF's text, poppler's pdftotext) is
not; under CI (``CI=true``, where ``.ci/run`` installs Chromium and TeX) a missing Chromium or pdflatex
fails them instead, so that a failed install shows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFLATEX = shutil.which("pdflatex")
PDFTOTEXT = shutil.which("pdftotext")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
WIDTHS = (1000, 1400)
#: Symbol names internal to the package's notation: a reader must never see them.
INTERNAL_NAMES = ("matexpect", "matavg", "scalaravg", "scalarexpect", "rowt", "mattangent")
RAW_COMMAND = re.compile(r"\\([A-Za-z]+|[%&_#${}])")  # a command, or an escaped special such as 10\%
INTERNAL = re.compile(r"(?<![A-Za-z])(" + "|".join(INTERNAL_NAMES) + r")(?![A-Za-z])")
OVERFULL = re.compile(r"Overfull \\hbox \(([0-9.]+)pt too wide\)")
TOLERATED_OVERFULL_PT = 10.0


def _require(tool: str | None, what: str) -> None:
    """Skip without ``tool``; under CI, where it is installed on purpose, fail instead."""
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is not installed, but CI installs it (.ci/run)")
        pytest.skip(f"{what} is not installed here")


@pytest.fixture(scope="module")
def built(subset_report) -> Path:
    out, proc = subset_report
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


# -- the checks (each returns what it found wrong; empty means fine) --------------------------------

#: Text nodes a reader sees, with the tag of their parent; <code>/<pre> (JSON, LaTeX source shown
#: on purpose), <style> and <title> are left out. Evaluated by the driver (not subject to the CSP).
_TEXT_NODES_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!n.nodeValue.trim() || (p && p.closest('code, pre, style, script, title'))) continue;
    out.push([p ? p.tagName.toLowerCase() : '', n.nodeValue]);
  }
  return out;
}"""

_LINKS_JS = """() => Array.from(document.querySelectorAll('a[href^="#"]'))
  .map(a => a.getAttribute('href'))
  .filter(h => !document.getElementById(decodeURIComponent(h.slice(1))))"""

_FIGURES_JS = """() => Array.from(document.querySelectorAll('figure svg, figure img')).map(el => {
  const r = el.getBoundingClientRect();
  return [el.closest('figure').id, r.width, r.height];
})"""


def overflow(page, width: int) -> list[str]:
    """The page is no wider than a ``width`` px window: its scroll width, and the widest elements."""
    page.set_viewport_size({"width": width, "height": 900})
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll <= width:
        return []
    culprits = page.evaluate("""(w) => Array.from(document.querySelectorAll('body *'))
        .filter(el => el.getBoundingClientRect().right > w + 1)
        .slice(0, 5).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                             + ' ' + Math.round(el.getBoundingClientRect().right))""", width)
    return [f"scrollWidth {scroll} > {width}: {culprits}"]


def raw_text(page) -> list[str]:
    """Visible text holding a raw LaTeX command (``\\xi``) or an internal symbol name."""
    bad = []
    for parent, text in page.evaluate(_TEXT_NODES_JS):
        if RAW_COMMAND.search(text) or INTERNAL.search(text):
            bad.append(f"<{parent}> {text.strip()[:80]!r}")
    return bad


def broken_links(page) -> list[str]:
    return page.evaluate(_LINKS_JS)


def empty_figures(page) -> list[str]:
    found = page.evaluate(_FIGURES_JS)
    if not found:
        return ["no figure on the page"]
    return [f"{fid}: {w:.0f} x {h:.0f} px" for fid, w, h in found if not (w > 0 and h > 0)]


def overfull_boxes(log: str) -> list[float]:
    """The overfull lines of a pdflatex log wider than :data:`TOLERATED_OVERFULL_PT`."""
    return [w for w in map(float, OVERFULL.findall(log)) if w > TOLERATED_OVERFULL_PT]


#: A line's end that is a sign left without its number: a minus after the start of the line, an
#: opening bracket, ``=``, a comma or a colon (``eta = -``, ``[-``), or in an exponent (``1e-``). A
#: binary minus after an operand (``2 t -`` / ``1``) may end a line, as in TeX's own math breaks.
_SIGN_AT_END = re.compile(r"(?:^|[=(\[,:;]\s*|\d[eE])[-\u2212]$")


def stranded_minus(text: str) -> list[str]:
    """Lines of a PDF's text that end in a minus sign whose number starts the next line."""
    lines = text.splitlines()
    return [f"{a.strip()[-40:]!r} / {b.strip()[:20]!r}" for a, b in zip(lines, lines[1:])
            if _SIGN_AT_END.search(a.rstrip()) and re.match(r"\s*\d", b)]


def stranded_heading(text: str, heading: str = "Figures") -> list[str]:
    """The page holding the section heading ``heading`` must show a figure too."""
    for k, page in enumerate(text.split("\f"), 1):
        if re.search(rf"^\s*\d+\s+{heading}\s*$", page, re.M):
            return [] if re.search(r"Figure \d+:", page) else [f"page {k}: '{heading}' without a figure"]
    return [f"no '{heading}' heading"]


# -- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    _require(CHROMIUM, "headless Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, path: Path, width: int = WIDTHS[0]):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(path.resolve().as_uri())
    return page


@pytest.fixture(scope="module")
def report_page(built, browser):
    """The report, loaded once for the read-only checks (a load lays out every derivation's
    MathML: about 3 s of the browser's time)."""
    page = _open(browser, built / "report.html")
    yield page
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_page_fits_the_window(built, report_page, width):
    assert overflow(report_page, width) == []
    shot = built / f"view-{width}.png"
    report_page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 20_000  # a blank page is a few kB


def test_no_raw_latex_or_internal_names(report_page):
    assert raw_text(report_page) == []


def test_internal_links_resolve(report_page):
    assert report_page.evaluate("document.querySelectorAll('a[href^=\"#\"]').length") > 10
    assert broken_links(report_page) == []


def test_figures_have_a_size(report_page):
    assert empty_figures(report_page) == []


def test_badges_tell_refuted_as_expected_from_holds(report_page):
    """A negative control that is refuted does not wear the colour of a claim that holds, and
    says in words that it was expected."""
    colour = report_page.evaluate("""(ids) => ids.map(id => {
        const b = document.querySelector('#' + id + ' h4 .badge');
        const s = getComputedStyle(b);
        return [b.textContent, s.backgroundColor, s.color];
    })""", ["claim-wu2018-zhang-sgd-risk", "claim-wu2018-neg-perfect-scaling-at-every-batch-size",
            "claim-wu2018-finding-sgd-plateau-from-1024"])
    proved, refuted, finding = colour
    assert proved[0] == "proved"
    assert refuted[0] == "refuted as expected: negative control"
    assert finding[0] == "refuted as expected: finding"
    assert refuted[1:] != proved[1:], "a refuted negative control must not look like a claim that holds"
    assert report_page.locator("#legend .badge").count() == 5


def test_browser_checks_catch_planted_defects(built, browser, tmp_path):
    """Negative controls: each check fails on a copy of the page with its defect planted."""
    html = (built / "report.html").read_text(encoding="utf-8")
    # the report cut to its head (its styles), its first table and its first figure, so that each
    # page loads in a fraction of the full report's time; the checks see the report's own CSS
    body = html.index("<body>") + len("<body>")
    figure = re.search(r"<figure .*?</figure>", html, re.S)
    assert figure is not None
    html = html[:body] + html[body:html.index("</table>", body) + len("</table>")] + figure.group(0) + "</body></html>"
    plants = {
        "none": "",  # the cut page itself: every check passes on it
        "wide": '<div style="width:3000px">wide</div>',
        "latex": r"<p>\xi</p>",
        "internal": "<p>matexpect(w, w)</p>",
        "math-internal": "<math><mi>mattangent</mi></math>",
        "link": '<a href="#no-such-anchor">dangling</a>',
    }
    found = {}
    for name, snippet in plants.items():
        path = tmp_path / f"{name}.html"
        path.write_text(html.replace("<h1>", snippet + "<h1>", 1), encoding="utf-8")
        page = _open(browser, path)
        try:
            found[name] = {"overflow": overflow(page, WIDTHS[0]), "raw": raw_text(page), "links": broken_links(page),
                           "figures": empty_figures(page)}
        finally:
            page.close()
    assert found["none"] == {"overflow": [], "raw": [], "links": [], "figures": []}
    assert found["wide"]["overflow"] and not found["wide"]["raw"]
    assert any("\\xi" in t for t in found["latex"]["raw"])
    assert any("matexpect" in t for t in found["internal"]["raw"])
    assert any("mattangent" in t for t in found["math-internal"]["raw"])
    assert found["link"]["links"] == ["#no-such-anchor"]
    # and a figure drawn at zero size is reported
    path = tmp_path / "figure.html"
    path.write_text(re.sub(r"<figure ", '<figure style="display:none" ', html, count=1), encoding="utf-8")
    page = _open(browser, path)
    try:
        assert empty_figures(page)
    finally:
        page.close()


# -- paper ----------------------------------------------------------------------------------------


def _pdflatex(folder: Path) -> tuple[str, str | None]:
    """Compile ``report.tex`` in ``folder`` (twice: the contents change the page breaks); return
    the log and the PDF's text (``pdftotext -layout``; None without pdftotext)."""
    for _ in range(2):
        proc = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=folder,
                              capture_output=True, text=True, timeout=300)
    log = (folder / "report.log").read_text(encoding="latin-1")
    assert proc.returncode == 0, log[-3000:]
    if PDFTOTEXT is None:
        return log, None
    text = subprocess.run([PDFTOTEXT, "-layout", str(folder / "report.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    return log, text


@pytest.fixture(scope="module")
def compiled(built, tmp_path_factory) -> tuple[str, str | None]:
    _require(PDFLATEX, "pdflatex")
    folder = tmp_path_factory.mktemp("pdf")
    shutil.copytree(built, folder, dirs_exist_ok=True)
    return _pdflatex(folder)


def _pdf_text(compiled) -> str:
    if compiled[1] is None:
        pytest.skip("pdftotext (poppler-utils) is not installed here")
    return compiled[1]


def test_pdf_has_no_overfull_lines(compiled):
    log, _ = compiled
    assert overfull_boxes(log) == []


def test_pdf_keeps_minus_signs_with_numbers(compiled):
    assert stranded_minus(_pdf_text(compiled)) == []


def test_pdf_figures_heading_is_not_stranded(compiled):
    assert stranded_heading(_pdf_text(compiled)) == []


def test_pdf_checks_catch_planted_defects(built, tmp_path):
    """Negative controls: a 300-character line no break can cut is counted as overfull, a minus
    sign forced to the end of a line is seen, and a heading with no figure after it is flagged."""
    _require(PDFLATEX, "pdflatex")
    tex = (built / "report.tex").read_text(encoding="utf-8")
    plant = ("\\clearpage\n\\noindent " + "x" * 300 + "\\par\n"
             "\\noindent Planted: the value is eta = \\mbox{}-\\newline 0.5 in this line.\\par\n\\end{document}")
    shutil.copytree(built, tmp_path / "r")
    (tmp_path / "r" / "report.tex").write_text(tex.replace("\\end{document}", plant), encoding="utf-8")
    log, text = _pdflatex(tmp_path / "r")
    assert overfull_boxes(log), "a 300-character unbreakable line must be counted"
    if text is not None:
        assert stranded_minus(text), "a minus sign at a line's end must be seen"
    assert stranded_heading("1 Claims\n2 Figures\nno figure here\f") == ["page 1: 'Figures' without a figure"]
