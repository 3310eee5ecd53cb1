r"""``l2l report``: run claims, verify every derivation, and write Markdown, HTML (and LaTeX) with figures.

Output (``../shared/DESIGN.md``, "Command line"): a folder holding ``report.md`` (with PNG figures
in ``figures/``), ``report.html`` (one self-contained file: MathML, inline SVG, no network) and,
on request, ``report.tex``. Every report folder carries the marker file :data:`MARKER`, and a
folder without it is never overwritten.

Safety (issue 11):

- HTML: claim strings reach report.html only escaped, or as MathML rebuilt from a whitelist of
  presentation elements and attributes (:mod:`.mathml`: no ``href``, no event handlers, no
  ``style``/``class``, no foreign elements; anything else falls back to escaped ``<code>``), and the
  page's Content-Security-Policy (``default-src 'none'``) forbids scripts and fetches outright.
- TeX: claim LaTeX holding file, shell or definition primitives (``\input``, ``\write``, ``\catcode``,
  ``\def``, ``^^``...) is refused: shown as escaped verbatim text with a note, never typeset (the rule
  is stated in :mod:`.latex`).
- Replacement: the new folder is built beside the target and swapped in with one atomic rename, so
  a reader sees the complete old or the complete new report even if the run is killed at any
  instant or runs concurrently with another; leftovers of killed runs are swept by the next run
  (:mod:`.folder`, with the fallback where ``renameat2`` is missing).

Exit status: 1 when a claim's verdict misses its expectation, else 0 (derivation results are
reported, not part of the exit status).

Modules: :mod:`.build` (``build_report``: run, verify, draw, write) · :mod:`.render` (Markdown,
HTML, LaTeX from the templates) · :mod:`.mathml` · :mod:`.latex` · :mod:`.figures` ·
:mod:`.folder` (the marker rule and the atomic swap) · :mod:`.text`.
"""

from .build import FORMATS, PRECISION, build_report, write_report
from .figures import Figure, make_figures
from .folder import MARKER, ReportError, prepare_target
from .latex import tex_refusal
from .mathml import latex_to_mathml, step_mathml, text_with_math
from .render import ReportData, render_html, render_latex, render_markdown

__all__ = [
    "MARKER", "FORMATS", "PRECISION", "ReportError", "Figure", "ReportData", "build_report", "write_report",
    "make_figures", "prepare_target", "render_markdown", "render_html", "render_latex", "latex_to_mathml",
    "text_with_math", "step_mathml", "tex_refusal",
]
