"""Rendering a report's data (claims with verdicts, derivations, figures) as Markdown, self-contained
HTML and standalone LaTeX from the jinja2 templates in ``proofs/templates/``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .figures import Figure
from .latex import tex_ascii, tex_block, tex_cell, tex_display, tex_equation, tex_mathtext, tex_text, tex_wrap
from .mathml import latex_to_mathml, layout_math, step_mathml, text_with_math
from .text import cell, json_text

__all__ = ["ReportData", "OUTCOMES", "outcome", "derivation_row", "render_markdown", "render_html", "render_latex"]

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# -- building ---------------------------------------------------------------------------------


@dataclass
class ReportData:
    env: dict
    claims: list  # of (Claim, ClaimResult)
    derivations: list  # of (Derivation, Verification)
    figures: list[Figure] = field(default_factory=list)
    #: :func:`derivation_row` of each derivation, printed by the worker that verified it (None: print here)
    derivation_rows: list | None = None

    @property
    def missed(self) -> list:
        return [r for _, r in self.claims if not r.matches]


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


#: How a claim came out, as the report's badges and legend say it: (badge text, meaning). A
#: ``refuted`` verdict that meets ``expect="refuted"`` is not a success of the paper's statement but
#: of the checker (a negative control, or a finding against the paper), so it never wears the colour
#: of ``holds``/``proved``; a verdict that misses its expectation is ``missed`` whatever it is.
OUTCOMES = {
    "proved": ("proved", "SymPy established the claim for every value of its symbols."),
    "holds": ("holds", "No counterexample in the examples run (the count is given with each claim)."),
    "refuted-expected": (
        "refuted as expected",
        "A negative control (a deliberately false variant of a true claim) or a finding (a paper's "
        "statement that fails at a stated setting): the checker found the counterexample it was meant to find. "
        "Not a failure of the report.",
    ),
    "missed": ("missed", "The verdict does not match the claim's expectation: a claim expected to hold was "
                         "refuted, or a negative control was not refuted; l2l report then exits 1."),
    "error": ("error", "The check could not reach a verdict (an exception or a timeout); the message says why."),
}


_REFUTATION_NOTES = {
    "negative control": "A negative control: a deliberately false variant of a true claim, which the checker "
                        "must refute to show it has teeth. It did; this is not a failure.",
    "finding": "A finding: a statement of the paper that fails at the stated setting, so the checker must "
               "refute it. It did; this is not a failure of the report.",
}


def outcome(verdict: str, expect: str, matches: bool) -> str:
    """The key of :data:`OUTCOMES` for a claim result."""
    if verdict == "error":
        return "error"
    if not matches:
        return "missed"
    return "refuted-expected" if verdict == "refuted" else verdict if verdict in OUTCOMES else "holds"


def _refutation_kind(claim: Any) -> str:
    """What a claim expected to be refuted is: a finding (``*.finding.*``) or a negative control."""
    return "finding" if ".finding." in claim.id or getattr(claim, "tag", "") == "finding" else "negative control"


def _badge(key: str, claim: Any, result: Any) -> str:
    if key == "refuted-expected":
        return f"refuted as expected: {_refutation_kind(claim)}"
    if key == "missed":
        return f"missed: {result.verdict}, expected {result.expect}"
    if key == "error" and result.expect == "refuted":
        return "error (expected refuted)"
    return OUTCOMES[key][0]




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
        key = outcome(r.verdict, r.expect, r.matches)
        paper = _paper_of(c.module)
        rows.append(
            {
                "id": c.id,
                "outcome": key,
                "badge": _badge(key, c, r),
                "outcome_note": _REFUTATION_NOTES[_refutation_kind(c)] if key == "refuted-expected"
                else OUTCOMES[key][1],
                "paper_anchor": "ref-" + _anchor(paper.key) if paper is not None else "",
                "anchor": "claim-" + _anchor(c.id),
                "statement": c.statement,
                "statement_mathml": layout_math(latex_to_mathml(c.statement).replace(
                    '<math display="inline">', '<math display="block">', 1), _STATEMENT_BUDGET_EM),
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


def _paper_of(module: str) -> Any:
    from ..papers import paper_of

    try:
        return paper_of(module)
    except Exception:  # noqa: BLE001 - a broken plug-in: the claim goes under "Your claims"
        return None


def _paper_title(module: str) -> str:
    """The report section of a claim's module: its paper's title, else "Your claims"."""
    paper = _paper_of(module)
    return paper.title if paper is not None else "Your claims"


#: Row budgets (em) of displayed math in HTML: a step (1 em = the body's 16 px) and a claim
#: statement (set at 1.1 em). Estimates run up to 35 % under the rendered width, so the budgets
#: leave that margin in the 900 px column a 1000 px window gives.
_STEP_BUDGET_EM = 40.0
_STATEMENT_BUDGET_EM = 36.0


def _step_latex(step: Any) -> str | None:
    """A step's LaTeX (``Step.latex``), or None when it has none (then its text is shown)."""
    try:
        return str(step.latex())
    except Exception:  # noqa: BLE001
        return None


def _step_text(step: Any) -> str:
    try:
        return str(step.text())
    except Exception:  # noqa: BLE001
        return ""


def _references(data: ReportData) -> list[dict]:
    """The papers whose claims or figures the report shows, in the papers' order."""
    from ..papers import papers

    modules = {c.module for c, _ in data.claims}
    keys = {getattr(f, "paper", "") for f in data.figures}
    out = []
    try:
        registered = papers()
    except Exception:  # noqa: BLE001 - a broken plug-in: no references rather than no report
        registered = ()
    for p in registered:
        if p.claim_module() in modules or p.key in keys:
            out.append({"key": p.key, "anchor": "ref-" + _anchor(p.key), "short": getattr(p, "short", p.citation),
                        "reference": getattr(p, "reference", p.citation), "title": p.title})
    return out


def _figure_section(f: Figure) -> str:
    from ..papers import get

    return get(f.paper).title


#: The printed text width (pt) the figures are drawn for: a figure this wide fills the HTML column.
_TEXT_WIDTH_PT = 453.6


def _figure_width(f: Figure) -> int:
    """The share (percent) of the HTML column a figure takes: its printed width over the text
    width, so that its lettering has one size in every figure."""
    m = re.match(r'<svg[^>]*?\swidth="([0-9.]+)pt"', f.svg or "")
    return 100 if m is None else max(30, min(100, round(100 * float(m.group(1)) / _TEXT_WIDTH_PT)))


def derivation_row(d: Any, v: Any) -> dict:
    """What the templates show of one derivation ``d`` with its verification ``v``: plain strings,
    lists and flags (picklable), so that ``l2l report``'s worker that verified ``d`` also prints it
    (SymPy's LaTeX, MathML and text printers are the slow part of writing a report)."""
    steps = []
    for n, (s, res) in enumerate(zip(d.steps, v.results), start=1):
        steps.append(
            {
                "number": n,
                "anchor": f"derivation-{_anchor(d.name)}-step-{n}",
                "mathml": layout_math(step_mathml(s), _STEP_BUDGET_EM),
                "latex": _step_latex(s),
                "text": _step_text(s),
                "justification": s.justification,
                "justification_html": text_with_math(s.justification),
                "status": res.status,
                "status_class": "failed" if res.status == "failed" else "ok",
                "detail": res.detail,
                # the status the step inherits through a quote when weaker than its own ("" else)
                "inherited": res.inherited_text() if getattr(res, "inherited", None) else "",
            }
        )
    return {
        "name": d.name,
        "anchor": "derivation-" + _anchor(d.name),
        "title": d.title,
        "source": d.source,
        "assumptions": [text_with_math(a) if "$" in a else latex_to_mathml(a) for a in d.assumptions],
        # for report.tex: prose with $...$ as it is, a bare formula put in $...$
        "assumptions_tex": [a if "$" in a else f"${a}$" for a in d.assumptions],
        "ok": v.ok,
        "steps": steps,
        "markdown": d.to_markdown(v),
        "latex": d.to_latex(),
    }


def _derivation_rows(data: ReportData) -> list[dict]:
    """Every derivation's row: the one printed in a worker where ``data.derivation_rows`` has it
    (None where that worker failed), else printed here."""
    given = data.derivation_rows or [None] * len(data.derivations)
    return [row if row is not None else derivation_row(d, v) for (d, v), row in zip(data.derivations, given)]


def _context(data: ReportData) -> dict:
    """The templates' variables, built once per report (the three formats share them)."""
    cached = data.__dict__.get("_context")
    if cached is None:
        cached = data.__dict__["_context"] = _build_context(data)
    return cached


def _build_context(data: ReportData) -> dict:
    claims = _claim_rows(data)
    references = _references(data)
    return {
        "env": data.env,
        "env_json": json_text(data.env),
        "claims": claims,
        "n_missed": sum(not c["matches"] for c in claims),
        "derivations": _derivation_rows(data),
        "n_failed_derivations": sum(not v.ok for _, v in data.derivations),
        "figures": data.figures,
        "figure_papers": {f.name: _figure_section(f) for f in data.figures},
        "figure_pdf": {f.name: bool(getattr(f, "pdf", None)) for f in data.figures},
        "figure_width": {f.name: _figure_width(f) for f in data.figures},
        "outcomes": OUTCOMES,
        "outcome_counts": {k: sum(c["outcome"] == k for c in claims) for k in OUTCOMES},
        "references": references,
        "reference_widest": max((r["short"] for r in references), key=len, default="M"),
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
    env.filters["texeq"] = tex_equation
    env.filters["texwrap"] = tex_wrap
    return env


def render_latex(data: ReportData) -> str:
    """A standalone LaTeX document (``templates/report.tex.j2``): header, table of contents, every
    claim with its statement, verdict and evidence table, every derivation with its steps and
    their check status, the figures (``figures/NAME.pdf`` when the figure has PDF bytes, else
    ``figures/NAME.png``, beside the .tex) and the references."""
    return _latex_env().get_template("report.tex.j2").render(**_context(data))
