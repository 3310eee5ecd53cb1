"""The report's figures: each paper's figure function draws matplotlib figures, rendered here to PNG
(for Markdown and LaTeX) and inline SVG (for HTML)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["Figure", "render_figure", "make_figures"]


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


def render_figure(fig: Any, name: str, title: str, caption: str) -> Figure:
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
        for f in paper.draw_figures(render_figure):
            f.paper = paper.key
            out.append(f)
    return out
