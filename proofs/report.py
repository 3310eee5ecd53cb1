"""``l2l report``: run claims, verify every derivation, and write Markdown, HTML (and LaTeX) with figures.

Output (``../shared/DESIGN.md``, "Command line"): a folder holding ``report.md`` (with PNG figures
in ``figures/``), ``report.html`` (one self-contained file: MathML, inline SVG, no network) and,
on request, ``report.tex``. The folder is built beside the target and moved into place at the
end; every report folder carries the marker file :data:`MARKER`, and a folder without it is never
overwritten.

Exit status: 1 when a claim's verdict misses its expectation, else 0 (derivation results are
reported, not part of the exit status).
"""

from __future__ import annotations

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


# -- math conversion --------------------------------------------------------------------------

_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


def latex_to_mathml(tex: str) -> str:
    """A LaTeX claim statement as inline MathML (``latex2mathml``), else an escaped ``<code>``."""
    try:
        from latex2mathml.converter import convert

        return _XMLNS.sub("", convert(tex))
    except Exception:  # noqa: BLE001 - missing package or unsupported LaTeX: show the source
        return f'<code class="tex">{html.escape(tex)}</code>'


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


def step_mathml(step: Any) -> str:
    """One derivation step ``lhs rel rhs`` as presentation MathML (SymPy's printer)."""
    from sympy import mathml

    try:
        lhs = mathml(step.lhs, printer="presentation")
        rhs = mathml(step.rhs, printer="presentation")
    except Exception:  # noqa: BLE001
        return f"<code>{html.escape(step.text())}</code>"
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
                "counterexample": None if r.counterexample is None else _json(r.counterexample),
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


def _tex_mathtext(s: Any) -> str:
    """Prose with ``$...$`` math for LaTeX: text escaped, math kept (non-ASCII mapped in both)."""
    parts = str(s).split("$")
    if len(parts) % 2 == 0:  # an unmatched dollar: all text
        return _tex_text(s)
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


def write_report(data: ReportData, out: Path, formats: Sequence[str]) -> None:
    """Write the report atomically: build in a temporary folder beside ``out``, then swap it in."""
    out = Path(out)
    _check_target(out)
    parent = out.resolve().parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        (tmp / MARKER).write_text("l2l report folder: `l2l report` may overwrite it\n", encoding="utf-8")
        if "md" in formats or "tex" in formats:
            figdir = tmp / "figures"
            figdir.mkdir()
            for f in data.figures:
                (figdir / f"{f.name}.png").write_bytes(f.png)
            (tmp / "report.md").write_text(render_markdown(data), encoding="utf-8")
        if "html" in formats:
            (tmp / "report.html").write_text(render_html(data), encoding="utf-8")
        if "tex" in formats:
            (tmp / "report.tex").write_text(render_latex(data), encoding="utf-8")
            _compile_pdf(tmp)
        (tmp / "environment.json").write_text(_json(data.env) + "\n", encoding="utf-8")
        # the verdicts in the `l2l check --json` format (DESIGN.md), for scripts and tests
        claims_json = {"claims": [r.to_json() for _, r in data.claims], "environment": data.env}
        (tmp / "claims.json").write_text(json.dumps(claims_json, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        _check_target(out)  # re-check: something may have appeared while we worked
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            old.rmdir()
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def build_report(
    out: str | Path = "report",
    *,
    profile: str = "ci",
    seed: int | None = None,
    selectors: Sequence[str] = (),
    formats: Sequence[str] = ("md", "html"),
    derivation_names: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> ReportData:
    """Run the selected claims, verify the derivations (all registered ones by default), draw the
    figures and write the report to ``out``. Raises :class:`ReportError` for an unusable target
    (checked before any work) and ``proofs.catalogue.CatalogueError`` for a bad selector."""
    from l2l.theory import registry

    from .catalogue import select
    from .runner import run_claim
    from .environment import environment

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ReportError(f"--format: a comma-separated subset of {','.join(FORMATS)} (got {','.join(formats)!r})")
    out = Path(out)
    _check_target(out)
    claims = select(list(selectors))
    start = time.perf_counter()
    results = []
    for k, c in enumerate(claims, 1):
        r = run_claim(c, profile=profile, seed=seed)
        results.append((c, r))
        flag = "" if r.matches else f"  MISSED: {r.verdict}, expected {r.expect}"
        log(f"[{k}/{len(claims)}] {c.id} ({time.perf_counter() - start:.1f} s){flag}")
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
