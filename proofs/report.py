r"""``l2l report``: run claims, verify every derivation, and write Markdown, HTML (and LaTeX) with figures.

Output (``../shared/DESIGN.md``, "Command line"): a folder holding ``report.md`` (with PNG figures
in ``figures/``), ``report.html`` (one self-contained file: MathML, inline SVG, no network) and,
on request, ``report.tex``. Every report folder carries the marker file :data:`MARKER`, and a
folder without it is never overwritten.

Safety (issue 11):

- HTML: claim strings reach report.html only escaped, or as MathML rebuilt from a whitelist of
  presentation elements and attributes ("math conversion" below: no ``href``, no event handlers, no
  ``style``/``class``, no foreign elements; anything else falls back to escaped ``<code>``), and the
  page's Content-Security-Policy (``default-src 'none'``) forbids scripts and fetches outright.
- TeX: claim LaTeX holding file, shell or definition primitives (``\input``, ``\write``, ``\catcode``,
  ``\def``, ``^^``...) is refused: shown as escaped verbatim text with a note, never typeset (the rule
  is stated above :func:`tex_refusal`).
- Replacement: the new folder is built beside the target and swapped in with one atomic rename, so
  a reader sees the complete old or the complete new report even if the run is killed at any
  instant or runs concurrently with another; leftovers of killed runs are swept by the next run
  ("atomic replacement" below, with the fallback where ``renameat2`` is missing).

Exit status: 1 when a claim's verdict misses its expectation, else 0 (derivation results are
reported, not part of the exit status).
"""

from __future__ import annotations

import contextlib
import errno
import html
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["MARKER", "FORMATS", "ReportError", "Figure", "build_report", "make_figures", "write_report"]

#: Marker file written into every report folder: only folders holding it may be overwritten.
MARKER = ".l2l-report"
FORMATS = ("md", "html", "tex")
PRECISION = "float64 evaluators; mpmath references at 50-60 digits"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


class ReportError(Exception):
    """A target folder or option the report cannot use (the CLI prints it in one line, exit 2)."""


# -- figures ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One figure: a file stem, a caption, its PNG bytes (for Markdown) and SVG text (for HTML)."""

    name: str
    title: str
    caption: str
    png: bytes
    svg: str
    paper: str = ""  #: the key of the paper whose section shows it (set by make_figures)


def _clean_svg(svg: str) -> str:
    """Matplotlib's SVG made fit to inline in HTML5: no XML prolog, no DOCTYPE, no metadata, no
    namespace URLs (the HTML parser puts <svg> in the SVG namespace itself)."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href=", "href=")  # SVG 2 plain href: no xlink namespace needed
    return svg.strip()


def _render(fig: Any, name: str, title: str, caption: str) -> Figure:
    import matplotlib.pyplot as plt

    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    svg = io.StringIO()
    fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return Figure(name, title, caption, png.getvalue(), _clean_svg(svg.getvalue()))


def make_figures(papers: Sequence[Any]) -> list[Figure]:
    """The figures of the given papers (:class:`l2l.proofs.papers.Paper`), in order, drawn with
    matplotlib's Agg backend; each figure is tagged with its paper's key."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "l2l-report", "font.size": 9})
    out: list[Figure] = []
    for paper in papers:
        for f in paper.draw_figures(_render):
            f.paper = paper.key
            out.append(f)
    return out


# -- math conversion: MathML built from a whitelist ---------------------------------------------
#
# Claim statements, assumptions and justifications are outside strings: they reach the page only as
# MathML rebuilt here from a whitelist. The converters (latex2mathml for LaTeX, SymPy's presentation
# printer for derivation steps) give an element tree; each element must be a MathML presentation
# element of :data:`_MATHML_ELEMENTS` (any other element, e.g. a foreign ``<svg>`` or ``<script>``,
# makes the whole formula fall back to escaped ``<code>``), each attribute must be one of
# :data:`_MATHML_ATTRIBUTES` with a plain value (``href``, ``style``, ``class``, ``id``, ``xlink:*``,
# ``on*`` and anything else are dropped), and every text node is escaped on output. Nothing from
# the converter's string output is ever copied into the page.

_MATHML_NS = "http://www.w3.org/1998/Math/MathML"
#: MathML presentation elements allowed in the report (no ``annotation-xml``, ``maction``, ``mglyph``).
_MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mstyle mtable mtr mtd "
    "mlabeledtr munder mover munderover mpadded mphantom menclose mfenced merror mmultiscripts "
    "mprescripts none semantics annotation".split()
)
#: Presentation attributes allowed on them; values must match :data:`_SAFE_VALUE`.
_MATHML_ATTRIBUTES = frozenset(
    "display mathvariant mathsize mathcolor mathbackground displaystyle scriptlevel dir fence separator "
    "stretchy symmetric largeop movablelimits accent accentunder form lspace rspace minsize maxsize "
    "linethickness bevelled numalign denomalign width height depth voffset notation open close "
    "separators columnalign rowalign columnspacing rowspacing columnlines rowlines columnwidth frame "
    "framespacing equalrows equalcolumns rowspan columnspan align encoding linebreak lquote rquote".split()
)
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 .,#%+\-]{0,64}")


class _Unsafe(Exception):
    """A formula holding something outside the whitelist (it is then shown as escaped source)."""


def _node_tag(tag: str) -> str:
    if tag.startswith("{"):  # namespaced (ElementTree): only the MathML namespace is accepted
        ns, _, local = tag[1:].partition("}")
        if ns != _MATHML_NS:
            raise _Unsafe(tag)
        tag = local
    if tag not in _MATHML_ELEMENTS:
        raise _Unsafe(tag)
    return tag


def _attrs(items: Any) -> str:
    out = []
    for key, value in items:
        if key in _MATHML_ATTRIBUTES and _SAFE_VALUE.fullmatch(str(value)):
            out.append(f' {key}="{html.escape(str(value), quote=True)}"')
    return "".join(out)


def _text(raw: str | None) -> str:
    """A converter's text node, escaped. Both converters put character references into text
    verbatim (``&#x3B1;``, ``&InvisibleTimes;``) next to the user's raw text: decode, then escape."""
    return html.escape(html.unescape(raw), quote=False) if raw else ""


def _from_etree(el: Any) -> str:
    tag = _node_tag(el.tag)
    inner = _text(el.text) + "".join(_from_etree(child) + _text(child.tail) for child in el)
    return f"<{tag}{_attrs(el.attrib.items())}>{inner}</{tag}>"


def _from_minidom(node: Any) -> str:
    if node.nodeType == node.TEXT_NODE:
        return _text(node.data)
    if node.nodeType != node.ELEMENT_NODE:
        raise _Unsafe(f"node type {node.nodeType}")
    tag = _node_tag(node.tagName)
    inner = "".join(_from_minidom(child) for child in node.childNodes)
    return f"<{tag}{_attrs(node.attributes.items())}>{inner}</{tag}>"


def _code(text: str, cls: str = "tex") -> str:
    return f'<code class="{cls}">{html.escape(text)}</code>'


def latex_to_mathml(tex: str) -> str:
    """A LaTeX claim statement as inline MathML (``latex2mathml``'s element tree, rebuilt from the
    whitelist), else an escaped ``<code>``."""
    try:
        from latex2mathml import converter

        if hasattr(converter, "convert_to_element"):
            root = converter.convert_to_element(tex)
        else:  # an older latex2mathml: parse its string (text with markup in it fails to parse)
            import xml.etree.ElementTree as ET

            root = ET.fromstring(converter.convert(tex))
        if _node_tag(root.tag) != "math":
            raise _Unsafe(root.tag)
        return _from_etree(root)
    except Exception:  # noqa: BLE001 - missing package, unsupported LaTeX or unsafe markup: show the source
        return _code(tex)


_INLINE_MATH = re.compile(r"\$([^$]+)\$")


def text_with_math(text: str) -> str:
    """Prose with ``$...$`` segments (justifications, assumptions) as escaped HTML with inline
    MathML for each segment; text without ``$`` is only escaped."""
    parts = []
    pos = 0
    for m in _INLINE_MATH.finditer(text):
        parts.append(html.escape(text[pos : m.start()]))
        parts.append(latex_to_mathml(m.group(1)))
        pos = m.end()
    parts.append(html.escape(text[pos:]))
    return "".join(parts)


_MATHML_REL = {"=": "=", "<=": "&#x02264;", ">=": "&#x02265;", "<": "&lt;", ">": "&gt;"}


def sympy_mathml(expr: Any) -> str:
    """A SymPy expression as presentation MathML (SymPy's printer's element tree, rebuilt from the
    whitelist). Raises on anything the whitelist refuses."""
    from sympy.printing.mathml import MathMLPresentationPrinter

    return _from_minidom(MathMLPresentationPrinter()._print(expr))


def step_mathml(step: Any) -> str:
    """One derivation step ``lhs rel rhs`` as presentation MathML."""
    try:
        lhs = sympy_mathml(step.lhs)
        rhs = sympy_mathml(step.rhs)
    except Exception:  # noqa: BLE001
        return _code(step.text(), "step")
    return f'<math display="block"><mrow>{lhs}<mo>{_MATHML_REL[step.rel]}</mo>{rhs}</mrow></math>'


# -- building ---------------------------------------------------------------------------------


@dataclass
class ReportData:
    env: dict
    claims: list  # of (Claim, ClaimResult)
    derivations: list  # of (Derivation, Verification)
    figures: list[Figure] = field(default_factory=list)

    @property
    def missed(self) -> list:
        return [r for _, r in self.claims if not r.matches]


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cell(value: Any) -> str:
    """A value for a Markdown table cell: JSON for structures, no pipes or newlines."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _plain(value: Any) -> str:
    """A value for an HTML table cell: JSON for structures, text as is (autoescaped by jinja)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, allow_nan=False, default=str)


def _md_math(tex: str) -> str:
    r"""A claim's LaTeX for ``$...$`` in report.md: ``<`` and ``>`` become ``\lt`` and ``\gt`` (the
    same symbols in MathJax and KaTeX), so a Markdown viewer that renders raw HTML finds no tag in
    it; newlines become spaces."""
    return tex.replace("<", r"\lt ").replace(">", r"\gt ").replace("\n", " ")


def _jinja_env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["anchor"] = _anchor
    env.filters["cell"] = _cell
    env.filters["plain"] = _plain
    env.filters["tojson_pretty"] = _json
    env.filters["mathtext"] = text_with_math
    env.filters["mdmath"] = _md_math
    return env


def _claim_rows(data: ReportData) -> list[dict]:
    rows = []
    for c, r in data.claims:
        rows.append(
            {
                "id": c.id,
                "anchor": "claim-" + _anchor(c.id),
                "statement": c.statement,
                "statement_mathml": latex_to_mathml(c.statement),
                "source": c.source,
                "kind": c.kind,
                "tag": c.tag,
                "expect": c.expect,
                "verdict": r.verdict,
                "matches": r.matches,
                "examples": r.examples,
                "seconds": f"{r.seconds:.2f}",
                # every distinct counterexample when Hypothesis found several, else the one
                "counterexample": None if r.counterexample is None
                else _json(r.counterexamples if len(r.counterexamples) > 1 else r.counterexample),
                "message": r.message,
                "evidence": r.evidence,
                "doc": c.doc,
                "paper": _paper_title(c.module),
                "assumptions": getattr(c, "assumptions", "") or "",
                "tolerance": getattr(c, "tolerance", "") or "",
            }
        )
    return rows


def _paper_title(module: str) -> str:
    """The report section of a claim's module: its paper's title, else "Your claims"."""
    from .papers import paper_of

    paper = paper_of(module)
    return paper.title if paper is not None else "Your claims"


def _figure_section(f: Figure) -> str:
    from .papers import get

    return get(f.paper).title


def _derivation_rows(data: ReportData) -> list[dict]:
    rows = []
    for d, v in data.derivations:
        steps = []
        for n, (s, res) in enumerate(zip(d.steps, v.results), start=1):
            steps.append(
                {
                    "number": n,
                    "mathml": step_mathml(s),
                    "justification": s.justification,
                    "justification_html": text_with_math(s.justification),
                    "status": res.status,
                    "detail": res.detail,
                }
            )
        rows.append(
            {
                "name": d.name,
                "anchor": "derivation-" + _anchor(d.name),
                "title": d.title,
                "source": d.source,
                "assumptions": [text_with_math(a) if "$" in a else latex_to_mathml(a) for a in d.assumptions],
                "ok": v.ok,
                "steps": steps,
                "markdown": d.to_markdown(v),
                "latex": d.to_latex(),
            }
        )
    return rows


def _context(data: ReportData) -> dict:
    claims = _claim_rows(data)
    return {
        "env": data.env,
        "env_json": _json(data.env),
        "claims": claims,
        "n_missed": sum(not c["matches"] for c in claims),
        "derivations": _derivation_rows(data),
        "n_failed_derivations": sum(not v.ok for _, v in data.derivations),
        "figures": data.figures,
        "figure_papers": {f.name: _figure_section(f) for f in data.figures},
    }


def render_markdown(data: ReportData) -> str:
    return _jinja_env().get_template("report.md.j2").render(**_context(data))


def render_html(data: ReportData) -> str:
    text = _jinja_env().get_template("report.html.j2").render(**_context(data))
    # offline guarantee: nothing in the page may point at the network
    return re.sub(r"https?://", "", text)


_TEX_ESC = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "$": r"\$", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}"}
#: Non-ASCII characters that appear in messages and sources, as pdflatex-safe LaTeX.
_TEX_UNICODE = {"σ": r"\ensuremath{\sigma}", "η": r"\ensuremath{\eta}", "ρ": r"\ensuremath{\rho}",
                "κ": r"\ensuremath{\kappa}", "λ": r"\ensuremath{\lambda}", "α": r"\ensuremath{\alpha}",
                "β": r"\ensuremath{\beta}", "μ": r"\ensuremath{\mu}", "τ": r"\ensuremath{\tau}",
                "ε": r"\ensuremath{\varepsilon}", "θ": r"\ensuremath{\theta}", "≤": r"\ensuremath{\le}",
                "≥": r"\ensuremath{\ge}", "≈": r"\ensuremath{\approx}", "≠": r"\ensuremath{\ne}",
                "×": r"\ensuremath{\times}", "→": r"\ensuremath{\to}", "∞": r"\ensuremath{\infty}",
                "±": r"\ensuremath{\pm}", "²": r"\ensuremath{^2}", "√": r"\ensuremath{\surd}",
                "·": r"\ensuremath{\cdot}", "−": "-", "–": "--", "—": "---", "…": r"\dots{}", "§": r"\S{}",
                "’": "'", "“": "``", "”": "''"}


def _tex_char(ch: str) -> str:
    """One non-ASCII character for pdflatex, in text or math mode; unknown ones as their code point."""
    return _TEX_UNICODE.get(ch, f"[U+{ord(ch):04X}]")


def _tex_text(s: Any) -> str:
    """Plain text for LaTeX: special characters escaped, known non-ASCII symbols mapped, any other
    non-ASCII character shown as its code point (pdflatex has no glyph for it)."""
    return "".join(_TEX_ESC.get(ch) or (_tex_char(ch) if ord(ch) > 126 else ch) for ch in str(s))


def _tex_ascii(s: Any) -> str:
    """LaTeX source (statements, derivations) made pdflatex-safe: only non-ASCII characters mapped."""
    return "".join(_tex_char(ch) if ord(ch) > 126 else ch for ch in str(s))


# -- TeX from claim strings: the refusal rule ------------------------------------------------------
#
# Claim statements, the ``$...$`` math of assumptions and the derivations' LaTeX are copied into
# report.tex as LaTeX source. pdflatex runs such source with full access to files (``\input``,
# ``\openin``, ``\write``...) and can redefine anything, so each of these strings passes
# :func:`tex_refusal` first. A string is refused, and then shown as escaped verbatim text with a note
# saying why instead of being typeset, when it holds
#
# - a control word named in :data:`_TEX_REFUSED_NAMES`, or whose name contains one of
#   :data:`_TEX_REFUSED_PARTS` (``input``, ``include``, ``open``, ``write``, ``read``, ``code`` as in
#   ``\catcode``, ``def``, ``csname``, ``command``, ``package``, ``class``, ``makeat``, ``file``,
#   ``pdf``...), or containing ``@``;
# - ``\begin``/``\end`` not followed by ``{name}`` for a math environment of :data:`_TEX_ENVIRONMENTS`;
# - ``^^`` (TeX's character-code escape), an unescaped ``%``, or a control character.
#
# Everything else from outside (ids, sources, messages, evidence, witnesses, prose around ``$...$``)
# is escaped character by character (:func:`_tex_text`) and never runs as TeX.

_TEX_REFUSED_NAMES = frozenset(
    "let futurelet glet special shipout immediate font stop dump batchmode nonstopmode scrollmode "
    "errorstopmode message errmessage typeout url href nolinkurl directlua latelua luaexec luadirect "
    "scantokens expandafter noexpand aftergroup afterassignment uppercase lowercase string detokenize "
    "unexpanded global outer long protected input endinput".split()
)
_TEX_REFUSED_PARTS = (
    "input", "include", "open", "close", "write", "read", "code", "def", "csname", "command", "environment",
    "package", "class", "makeat", "file", "pdf", "xetex", "luatex", "explsyntax", "every", "output", "hyper",
    "shell", "verbatim", "listing", "newtoks", "toks", "jobname",
)
_TEX_ENVIRONMENTS = frozenset(
    "align* aligned alignat* alignedat array cases dcases rcases matrix pmatrix bmatrix Bmatrix vmatrix "
    "Vmatrix smallmatrix split gather* gathered subarray".split()
)
_TEX_ENV_ARG = re.compile(r"[ \t]*\{([A-Za-z*]+)\}")


def tex_refusal(src: str) -> str | None:
    """Why the claim LaTeX ``src`` may not be typeset in report.tex (see the rule above), or None."""
    src = str(src)
    if "^^" in src:
        return "^^ (a character-code escape)"
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "\\":
            m = re.match(r"[A-Za-z@]+", src[i + 1 :])
            if m is None:  # a control symbol such as \, \{ \\ \%: inert
                i += 2
                continue
            name = m.group(0)
            low = name.lower()
            if name in ("begin", "end"):
                env = _TEX_ENV_ARG.match(src, i + 1 + len(name))
                if env is None or env.group(1) not in _TEX_ENVIRONMENTS:
                    return f"\\{name} of an environment other than a math one"
            elif "@" in name or low in _TEX_REFUSED_NAMES or any(part in low for part in _TEX_REFUSED_PARTS):
                return f"\\{name}"
            i += 1 + len(name)
        elif ch == "%":
            return "an unescaped %"
        elif ord(ch) < 32 and ch not in "\n\t":
            return f"control character U+{ord(ch):04X}"
        else:
            i += 1
    return None


def _tex_refused(src: Any, reason: str) -> str:
    """Refused claim LaTeX: a note saying why, then the source as escaped verbatim text."""
    return (
        rf"\textit{{[not typeset: it uses {_tex_text(reason)}, which report.tex refuses in claim text]}} "
        rf"\texttt{{{_tex_text(src)}}}"
    )


def _tex_display(s: Any) -> str:
    """A claim statement as display math, or refused (verbatim with a note)."""
    reason = tex_refusal(s)
    if reason is not None:
        return r"\par\noindent " + _tex_refused(s, reason) + r"\par"
    return rf"\[ {_tex_ascii(s)} \]"


def _tex_block(s: Any) -> str:
    """A derivation's LaTeX (an ``align*`` block), or refused (verbatim with a note)."""
    reason = tex_refusal(s)
    return _tex_ascii(s) if reason is None else r"\par\noindent " + _tex_refused(s, reason) + r"\par"


def _tex_mathtext(s: Any) -> str:
    """Prose with ``$...$`` math for LaTeX: text escaped, math kept (non-ASCII mapped in both);
    refused as a whole when a math segment is (see the rule above)."""
    parts = str(s).split("$")
    if len(parts) % 2 == 0:  # an unmatched dollar: all text
        return _tex_text(s)
    for k in range(1, len(parts), 2):
        reason = tex_refusal(parts[k])
        if reason is not None:
            return _tex_refused(s, reason)
    return "".join(_tex_ascii(f"${p}$") if k % 2 else _tex_text(p) for k, p in enumerate(parts))


def _tex_cell(value: Any) -> str:
    """A table cell: JSON for structures (as for Markdown), escaped, breakable at commas."""
    return _tex_text(_cell(value)).replace(",", r",\allowbreak{}")


def _latex_env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        block_start_string=r"\BLOCK{", block_end_string="}",
        variable_start_string=r"\VAR{", variable_end_string="}",
        comment_start_string="%%#", comment_end_string="#%%",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["tex"] = _tex_text
    env.filters["texcell"] = _tex_cell
    env.filters["ascii"] = _tex_ascii
    env.filters["mathtext"] = _tex_mathtext
    env.filters["texdisplay"] = _tex_display
    env.filters["texblock"] = _tex_block
    return env


def render_latex(data: ReportData) -> str:
    """A standalone LaTeX document (``templates/report.tex.j2``): header, table of contents, every
    claim with its statement, verdict and evidence table, every derivation with its steps and
    their check status, and the figures (``figures/NAME.png`` beside the .tex)."""
    return _latex_env().get_template("report.tex.j2").render(**_context(data))


def _check_target(out: Path) -> None:
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise ReportError(f"--out: {out} exists and is not a directory")
        if not (out / MARKER).is_file() and any(out.iterdir()):
            raise ReportError(
                f"--out: {out} exists and is not an l2l report (no {MARKER} marker); refusing to overwrite it"
            )
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ReportError(f"--out: parent folder {parent} does not exist")


def _compile_pdf(folder: Path) -> None:
    """report.tex -> report.pdf with pdflatex when one is installed; otherwise say so and skip."""
    engine = shutil.which("pdflatex")
    if engine is None:
        print("[tex] no TeX engine (pdflatex) installed: report.pdf skipped, report.tex written", file=sys.stderr)
        return
    import subprocess

    for _ in range(2):  # twice, for the table of contents
        proc = subprocess.run(
            [engine, "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
            cwd=folder, capture_output=True, text=True, timeout=300, check=False,
        )
        if proc.returncode != 0:
            print(f"[tex] pdflatex failed (exit {proc.returncode}): report.pdf skipped", file=sys.stderr)
            return
    for aux in ("report.aux", "report.log", "report.out", "report.toc"):
        (folder / aux).unlink(missing_ok=True)


# -- atomic replacement of the report folder ------------------------------------------------------
#
# A reader of ``--out DIR`` sees the complete old report or the complete new one, never neither,
# whatever instant the writer is killed at, and concurrent runs into one DIR each complete.
#
# - The new report is built in ``.DIR.tmp-XXXX`` beside DIR. Its marker is written first, and the
#   folder is ``flock``-ed by the building process for as long as it lives (the kernel drops the
#   lock when the process dies, SIGKILL included), so a leftover can be told from a live build.
# - It is swapped in with one ``renameat2(RENAME_EXCHANGE)`` (Linux 3.15+, via libc): DIR then holds
#   the new report, ``.DIR.tmp-XXXX`` the old one, which is deleted with its marker last. When DIR
#   does not exist, ``renameat2(RENAME_NOREPLACE)`` moves the build there (and if another run created
#   DIR meanwhile, the exchange is used instead). If what the exchange displaced turns out to be no
#   report (no marker, not empty: something replaced DIR after the check), it is swapped back.
# - The short steps that look at or rename these folders (creating a build, sweeping leftovers, the
#   check and the swap) run under an ``flock`` of the parent folder, so concurrent runs take turns
#   there; each completes, and DIR holds the report of the run that swapped last.
# - Each run first sweeps leftovers of DIR's killed runs: an unlocked ``.DIR.tmp-*``/``.DIR.old-*``
#   folder holding the marker (or empty) is deleted; any other is left alone and named on stderr.
# - Fallback where renameat2 is missing or the file system refuses it (not Linux, some network and
#   FUSE file systems: ENOSYS, EINVAL, ENOTSUP): two renames, DIR -> ``.DIR.old-XXXX`` then build ->
#   DIR. A kill between them leaves no DIR for a moment; the next run's sweep then renames the old
#   report back to DIR before doing anything else. Without ``flock`` (EOPNOTSUPP, no fcntl module)
#   leftovers are only reported, never deleted.

_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {getattr(errno, name) for name in ("ENOSYS", "EINVAL", "ENOTSUP", "EOPNOTSUPP") if hasattr(errno, name)}
_renameat2_fn: Any = None


def _renameat2(src: Path, dst: Path, flags: int) -> None:
    """``renameat2(2)`` through libc; OSError(ENOSYS) where libc has no such function."""
    global _renameat2_fn
    if _renameat2_fn is None:
        import ctypes

        try:
            fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2")
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
        except Exception:  # noqa: BLE001 - no such libc function, or no libc to load (not POSIX)
            fn = False
        _renameat2_fn = fn
    if not _renameat2_fn:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    import ctypes

    at_fdcwd = -100
    if _renameat2_fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _flock(path: Path, *, wait: bool) -> int | None:
    """An exclusive ``flock`` on a folder: its fd while held; None when another process holds it
    (only with ``wait=False``). Raises OSError(ENOTSUP) where locks are unsupported."""
    try:
        import fcntl
    except ImportError:
        raise OSError(errno.ENOTSUP, "no fcntl module") from None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
    return fd


class _ParentLock:
    """The parent folder's ``flock`` around a short step (a no-op where locks are unsupported)."""

    def __init__(self, parent: Path) -> None:
        self.parent = parent
        self.fd: int | None = None

    def __enter__(self) -> "_ParentLock":
        try:
            self.fd = _flock(self.parent, wait=True)
        except OSError:
            self.fd = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _is_report_or_empty(path: Path) -> bool:
    try:
        return (path / MARKER).is_file() or not any(path.iterdir())
    except OSError:
        return False


def _remove_folder(path: Path) -> None:
    """Delete a report folder, its marker last (a kill midway leaves a folder the sweep still knows)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name == MARKER:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path / MARKER)
    with contextlib.suppress(OSError):  # not empty: something else wrote there; the next sweep reports it
        os.rmdir(path)


def _leftovers(out: Path) -> list[Path]:
    prefixes = (f".{out.name}.tmp-", f".{out.name}.old-")
    try:
        return sorted(p for p in out.parent.iterdir() if p.name.startswith(prefixes))
    except OSError:
        return []


def _sweep(out: Path) -> list[tuple[Path, int]]:
    """Under the parent lock: take the leftovers of killed runs into DIR (restoring an old report
    when DIR is missing); returns them with their lock fds, for :func:`_remove_folder`."""
    taken = []
    for path in _leftovers(out):
        if path.is_symlink() or not path.is_dir():
            print(f"l2l: left alone: {path} (not a folder l2l report made)", file=sys.stderr)
            continue
        try:
            fd = _flock(path, wait=False)
        except OSError:
            print(f"l2l: left alone: {path} (cannot tell whether a run still uses it)", file=sys.stderr)
            continue
        if fd is None:  # a live run's build
            continue
        if not _is_report_or_empty(path):
            os.close(fd)
            print(f"l2l: left alone: {path} (no {MARKER} marker)", file=sys.stderr)
            continue
        if not os.path.lexists(out) and (path / MARKER).is_file() and path.name.startswith(f".{out.name}.old-"):
            os.rename(path, out)  # a killed fallback swap: the old report goes back first
            os.close(fd)
            continue
        taken.append((path, fd))
    return taken


def _install(tmp: Path, out: Path) -> Path | None:
    """Under the parent lock: put the finished build ``tmp`` at ``out`` atomically. Returns the
    path that now holds the replaced report (to delete), or None."""
    for _ in range(8):  # each retry follows a change made by another process; a few suffice
        _check_target(out)
        if not os.path.lexists(out):
            try:
                _renameat2(tmp, out, _RENAME_NOREPLACE)
                return None
            except FileExistsError:
                continue  # created meanwhile: check it, then exchange
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
                try:
                    os.rename(tmp, out)  # fallback: fails unless out is absent or an empty folder
                except OSError as exc2:
                    if exc2.errno in (errno.EEXIST, errno.ENOTEMPTY):
                        continue
                    raise
                return None
        try:
            _renameat2(tmp, out, _RENAME_EXCHANGE)
        except FileNotFoundError:
            continue  # out vanished meanwhile
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            os.rename(out, old)  # fallback: two renames (see above)
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old, out)
                raise
            return old
        if not _is_report_or_empty(tmp):  # something not ours was put at out after the check
            _renameat2(tmp, out, _RENAME_EXCHANGE)
            raise ReportError(f"--out: {out} was replaced by a folder that is not an l2l report; left it alone")
        return tmp
    raise ReportError(f"--out: {out} keeps changing under another process; report not written")


def _target(out: str | Path) -> Path:
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise ReportError(f"--out: {str(out)!r} must name a folder (e.g. report)")
    return out.parent.resolve() / out.name


def _write_files(data: ReportData, folder: Path, formats: Sequence[str]) -> None:
    if "md" in formats or "tex" in formats:
        figdir = folder / "figures"
        figdir.mkdir()
        for f in data.figures:
            (figdir / f"{f.name}.png").write_bytes(f.png)
        (folder / "report.md").write_text(render_markdown(data), encoding="utf-8")
    if "html" in formats:
        (folder / "report.html").write_text(render_html(data), encoding="utf-8")
    if "tex" in formats:
        (folder / "report.tex").write_text(render_latex(data), encoding="utf-8")
        _compile_pdf(folder)
    (folder / "environment.json").write_text(_json(data.env) + "\n", encoding="utf-8")
    # the verdicts in the `l2l check --json` format (DESIGN.md), for scripts and tests
    claims_json = {"claims": [r.to_json() for _, r in data.claims], "environment": data.env}
    (folder / "claims.json").write_text(json.dumps(claims_json, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def prepare_target(out: str | Path) -> Path:
    """Check ``out`` (see :func:`_check_target`) and sweep the leftovers of killed runs into it
    (restoring the old report if a killed run left none). Returns the absolute target path."""
    out = _target(out)
    _check_target(out)
    with _ParentLock(out.parent):
        taken = _sweep(out)
    for path, fd in taken:
        _remove_folder(path)
        os.close(fd)
    return out


def write_report(data: ReportData, out: str | Path, formats: Sequence[str]) -> None:
    """Write the report into ``out`` atomically (see "atomic replacement" above): build it in a
    locked temporary folder beside ``out``, then swap it in with one rename."""
    out = prepare_target(out)
    build_lock = old_lock = None
    with _ParentLock(out.parent):
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        with contextlib.suppress(OSError):
            build_lock = _flock(tmp, wait=False)
        (tmp / MARKER).write_text("l2l report folder: `l2l report` may overwrite it\n", encoding="utf-8")
    replaced: Path | None = tmp  # what to delete at the end: the build until it is swapped in
    try:
        _write_files(data, tmp, formats)
        os.chmod(tmp, 0o755)
        with _ParentLock(out.parent):
            if os.path.isdir(out) and not os.path.islink(out):
                with contextlib.suppress(OSError):  # the report being replaced: once swapped out, ours to delete
                    old_lock = _flock(out, wait=False)
            replaced = _install(tmp, out)
            if build_lock is not None:  # the build is DIR now: free for the next run to lock and replace
                os.close(build_lock)
                build_lock = None
    finally:
        if replaced is not None:
            _remove_folder(replaced)
        for fd in (build_lock, old_lock):
            if fd is not None:
                os.close(fd)


def build_report(
    out: str | Path = "report",
    *,
    profile: str = "ci",
    seed: int | None = None,
    selectors: Sequence[str] = (),
    formats: Sequence[str] = ("md", "html"),
    derivation_names: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> ReportData:
    """Run the selected claims, verify the derivations (all registered ones by default), draw the
    figures and write the report to ``out``. Raises :class:`ReportError` for an unusable target
    (checked before any work) and ``proofs.catalogue.CatalogueError`` for a bad selector."""
    from l2l.theory import registry

    from .catalogue import select
    from .runner import run_claims
    from .environment import environment

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ReportError(f"--format: a comma-separated subset of {','.join(FORMATS)} (got {','.join(formats)!r})")
    out = Path(out)
    prepare_target(out)
    claims = select(list(selectors))
    start = time.perf_counter()

    def progress(k: int, r: Any) -> None:
        flag = "" if r.matches else f"  MISSED: {r.verdict}, expected {r.expect}"
        log(f"[{k + 1}/{len(claims)}] {r.id} ({time.perf_counter() - start:.1f} s){flag}")

    results = list(zip(claims, run_claims(claims, profile=profile, seed=seed, timeout=timeout, on_result=progress)))
    names = list(registry.names() if derivation_names is None else derivation_names)
    derivations = []
    for k, name in enumerate(names, 1):
        d = registry.get(name)
        derivations.append((d, d.verify()))
        log(f"[derivation {k}/{len(names)}] {name} ({time.perf_counter() - start:.1f} s)")
    from .papers import papers as registered

    modules = {c.module for c, _ in results}
    papers = [p for p in registered() if p.claim_module() in modules]
    figures = make_figures(papers) if formats else []
    log(f"[figures] {len(figures)} drawn ({time.perf_counter() - start:.1f} s)")
    env = environment(precision=PRECISION, profile=profile, seed=seed,
                      packages=("l2l-theory", "numpy", "scipy", "sympy", "mpmath", "hypothesis", "matplotlib"))
    data = ReportData(env=env, claims=results, derivations=derivations, figures=figures)
    write_report(data, out, formats)
    log(f"report written to {out} ({time.perf_counter() - start:.1f} s)")
    return data
