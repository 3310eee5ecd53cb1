"""Rendering a report's data (claims with verdicts, derivations, figures) as Markdown, self-contained
HTML and standalone LaTeX from the jinja2 templates in ``proofs/templates/``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .figures import Figure
from .latex import tex_ascii, tex_block, tex_cell, tex_display, tex_mathtext, tex_text
from .mathml import latex_to_mathml, step_mathml, text_with_math
from .text import cell, json_text

__all__ = ["ReportData", "render_markdown", "render_html", "render_latex"]

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

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




def _plain(value: Any) -> str:
    """A value for an HTML table cell: JSON for structures, text as is (autoescaped by jinja)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)




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
    env.filters["cell"] = cell
    env.filters["plain"] = _plain
    env.filters["tojson_pretty"] = json_text
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
                else json_text(r.counterexamples if len(r.counterexamples) > 1 else r.counterexample),
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
    from ..papers import paper_of

    paper = paper_of(module)
    return paper.title if paper is not None else "Your claims"


def _figure_section(f: Figure) -> str:
    from ..papers import get

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
        "env_json": json_text(data.env),
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
    env.filters["tex"] = tex_text
    env.filters["texcell"] = tex_cell
    env.filters["ascii"] = tex_ascii
    env.filters["mathtext"] = tex_mathtext
    env.filters["texdisplay"] = tex_display
    env.filters["texblock"] = tex_block
    return env


def render_latex(data: ReportData) -> str:
    """A standalone LaTeX document (``templates/report.tex.j2``): header, table of contents, every
    claim with its statement, verdict and evidence table, every derivation with its steps and
    their check status, and the figures (``figures/NAME.png`` beside the .tex)."""
    return _latex_env().get_template("report.tex.j2").render(**_context(data))
