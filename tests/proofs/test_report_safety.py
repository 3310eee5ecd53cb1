"""Issue 11, "Safe HTML and TeX": claim strings cannot inject script into report.html or commands
into report.tex.

The reports here are built through the Python API from tiny fake claim results (no claim runs), so
the checks are fast; the HTML is checked by parsing it, and again in headless Chromium when one is
installed (with and without the page's Content-Security-Policy, against positive controls that
show the detection would see a script run).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
import sympy

from l2l.proofs import report

# Each payload, if it ran, would set the page title to XSSRAN; the source never contains that word.
EFFECT = "document.title='XSS'+'RAN'"
STATEMENTS = {
    "xss.text-close-math": r"\text{</math><script>" + EFFECT + r"</script>}",
    "xss.mbox-svg": r"\mbox{<svg/onload=" + EFFECT + r">}",
    "xss.href": r"\href{javascript:" + EFFECT + r"}{x}",
    "xss.style-url": r"\style{background:url(javascript:" + EFFECT + r")}{x} + \class{evil}{y}",
    "xss.img-in-text": r"\text{<img src=x onerror=" + EFFECT + r">}",
    "xss.entity": r"\text{&lt;script&gt;" + EFFECT + r"&lt;/script&gt;}",
    "xss.unparsable": r"\frac{<script>" + EFFECT + r"</script>",
}
ASSUMPTIONS = r"$\text{<img src=x onerror=" + EFFECT + r">}$ and <b onmouseover=" + EFFECT + r">raw</b>"

TEX_PAYLOADS = {
    "tex.input": r"\input{secret.txt}",
    "tex.include": r"x + \include{secret}",
    "tex.openin": r"\openin5=secret.txt",
    "tex.write18": r"\immediate\write18{touch pwned}",
    "tex.catcode": r"\catcode`\^=7 x",
    "tex.def": r"\def\x{\input{secret.txt}}\x",
    "tex.csname": r"\csname input\endcsname{secret.txt}",
    "tex.caret": r"^^5cinput{secret.txt}",
    "tex.newcommand": r"\newcommand\x{1}\renewcommand\y{2}\let\z=\x",
    "tex.usepackage": r"\usepackage{shellesc}\documentclass{article}\makeatletter",
    "tex.filecontents": r"\begin{filecontents*}{pwned.tex}x\end{filecontents*}",
    "tex.special": r"\special{x}\edef\a{}\gdef\b{}\xdef\c{}\read16 to \d \openout3=x",
}
#: Control words that must never come from a claim string (the template's own preamble has some).
FORBIDDEN = {"input", "include", "openin", "openout", "write", "read", "immediate", "catcode", "def", "edef",
             "gdef", "xdef", "let", "newcommand", "renewcommand", "csname", "endcsname", "special", "usepackage",
             "documentclass", "makeatletter"}

#: MathML presentation elements and attributes a report may hold inside <math> (an independent list).
MATH_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
             "msqrt", "mroot", "mstyle", "mtable", "mtr", "mtd", "munder", "mover", "munderover", "mpadded",
             "mphantom", "menclose", "semantics", "annotation", "mfenced", "none", "mprescripts",
             "mmultiscripts", "mlabeledtr", "merror"}
MATH_ATTRS = {"display", "mathvariant", "displaystyle", "scriptlevel", "stretchy", "fence", "form", "width",
              "minsize", "maxsize", "accent", "columnalign", "notation", "mathcolor", "separator", "lspace",
              "rspace", "linethickness", "rowspacing", "columnspacing", "movablelimits", "largeop",
              "symmetric", "mathsize", "mathbackground", "height", "depth", "voffset", "open", "close",
              "separators", "accentunder", "rowalign", "columnlines", "rowlines", "frame", "align"}


def fake_claim(cid: str, statement: str, assumptions: str = "") -> tuple:
    c = SimpleNamespace(id=cid, statement=statement, source="test <source>", kind="identity", tag="theorem",
                        expect="holds", doc="", module="user_claims", assumptions=assumptions, tolerance="")
    r = SimpleNamespace(id=cid, verdict="holds", expect="holds", matches=True, examples=1, seconds=0.0,
                        counterexample=None, message="<i>message</i>", evidence=[],
                        to_json=lambda: {"id": cid, "verdict": "holds", "expect": "holds"})
    return c, r


def fake_derivation() -> tuple:
    """A derivation whose step symbols, justification and assumptions carry payloads."""
    evil = sympy.Symbol("</math><script>" + EFFECT + "</script>")
    step = SimpleNamespace(lhs=evil + 1, rhs=sympy.Symbol("x") ** 2, rel="=",
                           justification=r"by $\text{<svg onload=" + EFFECT + r">}$ and \input{secret.txt}",
                           text=lambda: "evil + 1 = x**2", latex=lambda: r"x + 1 = \input{secret.txt}")
    d = SimpleNamespace(
        name="evil.derivation", title="<b>title</b>", source="src", steps=[step],
        assumptions=[r"\text{<img src=x onerror=" + EFFECT + r">}", r"$\href{javascript:" + EFFECT + r"}{x}$"],
        to_markdown=lambda v: "### evil.derivation",
        to_latex=lambda: r"\begin{align*} x &= y && \text{(1) \input{secret.txt}} \end{align*}",
    )
    v = SimpleNamespace(ok=True, results=[SimpleNamespace(status="verified", detail="<i>detail</i>")])
    return d, v


ENV = {"date": "2024-01-01", "commit": "abc", "profile": "ci", "seed": None, "precision": "float64",
       "platform": "test", "versions": {"l2l-theory": "0"}}


def payload_data() -> report.ReportData:
    claims = [fake_claim(cid, s) for cid, s in STATEMENTS.items()]
    claims.append(fake_claim("xss.assumptions", "x = 1", ASSUMPTIONS))
    claims += [fake_claim(cid, s, assumptions=f"when ${s}$") for cid, s in TEX_PAYLOADS.items()]
    claims.append(fake_claim("ok.plain", r"\frac{a}{b} \le \eta^{2}_{t} \quad \text{for } t \ge 1"))
    return report.ReportData(env=ENV, claims=claims, derivations=[fake_derivation()], figures=[])


class Audit(HTMLParser):
    """Every start tag with its attributes, and the elements met inside <math>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.math_depth = 0
        self.in_math: list[tuple[str, list]] = []
        self.text_in_math: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag == "math":
            self.math_depth += 1
        if self.math_depth:
            self.in_math.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if self.math_depth:
            self.in_math.append((tag, attrs))

    def handle_endtag(self, tag):
        if tag == "math":
            self.math_depth -= 1

    def handle_data(self, data):
        if self.math_depth:
            self.text_in_math.append(data)


def audit(page: str) -> Audit:
    a = Audit()
    a.feed(page)
    a.close()
    return a


def test_html_has_no_executable_markup():
    page = report.render_html(payload_data())
    a = audit(page)
    names = [t for t, _ in a.tags]
    assert "script" not in names and "img" not in names and "iframe" not in names and "object" not in names
    assert "svg" not in names  # no figures in this report: any <svg> came from a payload
    for tag, attrs in a.tags:
        for key, value in attrs:
            assert not key.startswith("on"), (tag, key, value)
            if key in ("href", "xlink:href", "src", "action", "formaction"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), (tag, key)
    assert a.math_depth == 0, "unbalanced <math>"
    assert a.in_math, "statements should still be MathML"
    for tag, attrs in a.in_math:
        assert tag in MATH_TAGS, tag
        assert {k for k, _ in attrs} <= MATH_ATTRS, (tag, attrs)
    # the payloads are shown as text, not dropped
    text = "".join(a.text_in_math)
    assert "</math><script>" in text and "<svg/onload=" in text and "<img" in text


def test_payloads_render_as_text():
    assert report.latex_to_mathml(STATEMENTS["xss.text-close-math"]) == (
        '<math display="inline"><mrow><mtext>&lt;/math&gt;&lt;script&gt;document.title=\'XSS\'+\'RAN\''
        "&lt;/script&gt;</mtext></mrow></math>"
    )
    assert "href" not in report.latex_to_mathml(STATEMENTS["xss.href"])
    styled = report.latex_to_mathml(STATEMENTS["xss.style-url"])
    assert "style" not in styled and "class" not in styled and "url(" not in styled
    assert "<script" not in report.latex_to_mathml(STATEMENTS["xss.unparsable"])
    html_text = report.text_with_math(ASSUMPTIONS)
    assert "<b" not in html_text and "<img" not in html_text and "&lt;b onmouseover" in html_text
    # ordinary math keeps its structure (the look of the report is unchanged)
    ok = report.latex_to_mathml(r"\frac{a}{b} \le \eta^{2}_{t}")
    assert "<mfrac>" in ok and "<msubsup>" in ok and "≤" in ok


def test_foreign_elements_fall_back_to_escaped_code(monkeypatch):
    """A converter that emits a foreign element (here forced) gives escaped source, not markup."""
    import xml.etree.ElementTree as ET

    from latex2mathml import converter

    def evil(tex, *a, **k):
        return ET.fromstring('<math><mrow><svg onload="x"><script>bad()</script></svg></mrow></math>')

    monkeypatch.setattr(converter, "convert_to_element", evil)
    out = report.latex_to_mathml(r"x")
    assert out == '<code class="tex">x</code>'


def test_step_mathml_escapes_symbol_names():
    d, _ = fake_derivation()
    out = report.step_mathml(d.steps[0])
    assert "<script" not in out and "&lt;script&gt;" in out and out.startswith('<math display="block">')
    assert {t for t, _ in audit(out).in_math} <= MATH_TAGS


def test_csp_meta_forbids_scripts():
    page = report.render_html(payload_data())
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert m is not None and page.index(m.group(0)) < page.index("<body>")
    policy = dict(part.strip().split(" ", 1) for part in m.group(1).split(";"))
    assert policy["default-src"] == "'none'" and "script-src" not in policy


# -- TeX ----------------------------------------------------------------------------------------


def _section(tex: str, cid: str) -> str:
    start = tex.index(rf"\subsubsection{{\texorpdfstring{{{report.latex.tex_text(cid)}}}")
    end = tex.find(r"\subsubsection", start + 1)
    return tex[start : end if end != -1 else len(tex)]


def _control_words(tex: str) -> set[str]:
    """Control words as TeX reads them: ``\\textbackslash{}input`` is one word then letters."""
    return set(re.findall(r"\\([A-Za-z@]+)", re.sub(r"\\\\", " ", tex)))


def test_tex_payloads_are_not_commands():
    tex = report.render_latex(payload_data())
    for cid, payload in TEX_PAYLOADS.items():
        chunk = _section(tex, cid)
        assert not (_control_words(chunk) & FORBIDDEN), (cid, _control_words(chunk) & FORBIDDEN)
        assert "^^" not in chunk and "filecontents" not in _control_words(chunk)
        assert "not typeset" in chunk, cid  # the refusal is said, not silent
        # statement and assumptions both refused: the payload is shown as escaped verbatim text
        assert chunk.count(r"\texttt{") >= 2, cid
    derivation = tex[tex.index(r"\section{Derivations}") :]
    assert not (_control_words(derivation) & FORBIDDEN)
    # ordinary statements are still typeset as math
    assert r"\[ \frac{a}{b} \le \eta^{2}_{t} \quad \text{for } t \ge 1 \]" in _section(tex, "ok.plain")


@pytest.mark.parametrize("src", [
    r"\input{x}", r"\include{x}", r"\openin1=x", r"\openout1=x", r"\write18{x}", r"\read16 to\x", r"\immediate",
    r"\catcode`\{=1", r"\def\a{}", r"\edef\a{}", r"\gdef\a{}", r"\xdef\a{}", r"\let\a\b", r"\newcommand\a{}",
    r"\renewcommand\a{}", r"\csname a\endcsname", r"\special{x}", r"\usepackage{x}", r"\documentclass{x}",
    r"\makeatletter", r"^^5cinput", r"\begin{filecontents}{x}", "\\begin%\n{filecontents}", r"\@input",
    r"\lstinputlisting{x}", r"\verbatiminput{x}", r"\IfFileExists{x}{}{}", r"\pdffiledump{x}", r"\directlua{x}",
    r"\ExplSyntaxOn", r"\everymath{x}", r"\output{x}", "a % comment", "\x00",
])
def test_tex_refusal_rule(src):
    assert report.tex_refusal(src) is not None


def test_tex_refusal_keeps_catalogue_math():
    from l2l.proofs.catalogue import select
    from l2l.theory import registry

    for c in select([]):
        assert report.tex_refusal(c.statement) is None, c.id
        for seg in re.findall(r"\$([^$]+)\$", getattr(c, "assumptions", "") or ""):
            assert report.tex_refusal(seg) is None, c.id
    for name in registry.names():
        assert report.tex_refusal(registry.get(name).to_latex()) is None, name


@pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdftotext") is None,
                    reason="pdflatex and pdftotext are not both installed")
def test_tex_input_does_not_include_the_file(tmp_path):
    out = tmp_path / "rep"
    report.write_report(payload_data(), out, ["md", "tex"])
    (out / "secret.txt").write_text("TOPSECRET")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"], cwd=out,
                   capture_output=True, timeout=300, check=True)
    text = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], capture_output=True, text=True).stdout
    assert "TOPSECRET" not in text and "not typeset" in text
    assert not (out / "pwned").exists() and not (out / "pwned.tex").exists()


# -- headless Chromium ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(args: list[str], page: Path, profile: Path) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
           "--disable-background-networking", "--disable-component-update", f"--user-data-dir={profile}",
           "--proxy-server=127.0.0.1:9", "--virtual-time-budget=2000", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _title_after_load(page: Path, profile: Path) -> str:
    dom = _chromium(["--dump-dom"], page, profile).stdout
    m = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert m is not None, dom[:500]
    return m.group(1)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed here")
def test_no_payload_runs_in_chromium(tmp_path):
    page = report.render_html(payload_data())
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', page).group(0)
    no_csp = page.replace(csp, "")
    files = {}
    for name, text in {
        "report": page,
        "report-without-csp": no_csp,  # the markup itself must be inert, CSP or not
        "control-raw-script": no_csp.replace("<body>", f"<body><script>{EFFECT}</script>"),
        "control-csp-blocks": page.replace("<body>", f"<body><script>{EFFECT}</script>"),
    }.items():
        files[name] = tmp_path / f"{name}.html"
        files[name].write_text(text, encoding="utf-8")
    titles = {name: _title_after_load(path, tmp_path / f"profile-{name}") for name, path in files.items()}
    assert titles["control-raw-script"] == "XSSRAN", titles  # the detector sees a script that runs
    assert titles["control-csp-blocks"] == "l2l report", titles  # the CSP alone stops it
    assert titles["report"] == "l2l report" and titles["report-without-csp"] == "l2l report", titles


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed here")
def test_csp_does_not_change_the_rendering(tmp_path, monkeypatch):
    """The page with its CSP and without it give the same pixels: inline styles and inline SVG
    figures still apply under the policy."""
    figure = report.Figure("fig", "A figure", "caption", b"",
                           '<svg width="200" height="100" viewBox="0 0 200 100"><style>.r{fill:#c33}</style>'
                           '<rect class="r" x="10" y="10" width="180" height="80"/>'
                           '<text x="20" y="60" style="font-size:20px">svg text</text></svg>')
    data = payload_data()
    data.figures = [figure]
    monkeypatch.setattr(report.render, "_figure_section", lambda f: "Figures")
    page = report.render_html(data)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', page).group(0)
    shots = {}
    for name, text in {"with": page, "without": page.replace(csp, "")}.items():
        path = tmp_path / f"{name}.html"
        path.write_text(text, encoding="utf-8")
        shot = tmp_path / f"{name}.png"
        _chromium([f"--screenshot={shot}", "--window-size=1000,4000", "--hide-scrollbars"], path,
                  tmp_path / f"profile-{name}")
        assert shot.is_file() and shot.stat().st_size > 10_000, name
        shots[name] = shot.read_bytes()
    assert shots["with"] == shots["without"]
