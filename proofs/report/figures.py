"""The report's figures: one style, two sizes, three output forms, drawn side by side and cached.

Each paper's figure function (``Paper.figures``, ``"module:function"``) draws matplotlib figures
and passes each through ``render(fig, name, title, caption)``, which saves it as PNG (Markdown),
inline SVG (HTML) and PDF (LaTeX) and returns a :class:`Figure`.

**Style.** :data:`STYLE` (an rc dict) is applied over matplotlib's defaults with
``matplotlib.style.context`` inside :func:`make_figures` only, so neither the user's
``matplotlibrc`` nor the report changes the other's state. Two printed sizes (:data:`SIZES`):
6.3 in wide (about LaTeX's text width) for two panels, 4.2 in for one, both 3 in high; text is
9.5 pt (ticks, legends) to 10.5 pt (titles) at that size, so at least 9 pt in print, in an HTML
column (the SVG is shown at its own size) and in Markdown (the 150 dpi PNG is shown larger).
Colours are Okabe & Ito's colour-blind-safe set, each paired with its own line style, so curves
also part in grayscale. Paper modules make their figures with :func:`subplots`, put log axes on
:func:`log_scale`, and put legends where they cover no curve (:func:`legend_below` for one legend
shared by the panels); :attr:`Figure.legend_covers` counts the lines a legend lies on.

**Speed.** A figure function made by :func:`figure_function` lists its figures as
:class:`FigureSpec` (compute the data, then draw it); :func:`make_figures` hands the specs of all
papers, most expensive first, to ``jobs`` forked worker processes (matplotlib is not thread-safe)
and keeps the papers' order in its answer. Numbers that claims compute anyway are *published* by
them (:func:`publish`, in the claims' worker processes) and read by the figures (:func:`shared`),
so ``l2l report`` does not compute them twice. Every figure is also cached on disk, keyed by a
hash of this package's source, the versions of Python, NumPy, SciPy and matplotlib, the style and
the figure's name: a report of unchanged code draws nothing. Both live under
``$XDG_CACHE_HOME/l2l-theory`` (else ``~/.cache/l2l-theory``); ``L2L_NO_CACHE=1`` turns both off.
Third-party papers' figures are never cached (they may depend on code outside the hash). Output
bytes are deterministic: the same code and inputs give the same PNG, SVG and PDF, whichever
worker drew them, drawn or read from the caches.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..cache import cache_root, source_hash

__all__ = [
    "Figure", "FigureSpec", "STYLE", "SIZES", "DPI", "COLORS", "LINESTYLES", "figure_size", "subplots", "legend_below", "log_scale",
    "render_figure", "save", "figure_function", "make_figures", "FigurePlan", "figure_failure", "cache_dir", "publish", "shared",
]

#: Okabe & Ito's colour-blind-safe palette (yellow left out: too light on white), each colour with
#: its own dash pattern so that the curves part in grayscale print too.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINESTYLES = ("-", "--", "-.", ":", (0, (6, 1.5, 1, 1.5, 1, 1.5)), (0, (1, 1)), (0, (8, 2.5)))
#: Printed sizes (inches): "wide" is LaTeX's text width (two panels), "single" one panel.
SIZES = {"wide": (6.3, 3.0), "single": (4.2, 3.0)}
#: PNG resolution: 945 x 450 px for a wide figure, sharp on screen without being heavy.
DPI = 150


def _style() -> dict:
    from cycler import cycler

    return {
        "figure.figsize": SIZES["single"],
        "figure.dpi": DPI,
        "figure.constrained_layout.h_pad": 0.03,
        "figure.constrained_layout.w_pad": 0.03,
        "savefig.dpi": DPI,
        "font.family": "DejaVu Sans",
        "font.size": 10.0,
        "axes.titlesize": 10.5,
        "axes.titley": 1.0,  # a fixed title position: matplotlib need not measure the axes at every draw
        "axes.labelsize": 10.0,
        "xtick.labelsize": 9.5,
        "ytick.labelsize": 9.5,
        "legend.fontsize": 9.5,
        "legend.title_fontsize": 9.5,
        "legend.framealpha": 0.9,
        "legend.edgecolor": "0.8",
        "legend.handlelength": 2.6,  # long enough to show a dash pattern
        "legend.borderaxespad": 0.4,
        "mathtext.fontset": "dejavusans",
        "axes.prop_cycle": cycler(color=list(COLORS), linestyle=list(LINESTYLES)),
        "axes.grid": True,
        "axes.grid.which": "major",
        "grid.alpha": 0.3,
        "grid.linewidth": 0.6,
        "lines.linewidth": 1.6,
        "lines.markersize": 4.5,
        "errorbar.capsize": 3.0,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.fonttype": "none",  # text as <text>: small, selectable, sized in pt
        "svg.hashsalt": "l2l-report",  # deterministic element ids
    }


#: The report's matplotlib style (rc parameters), applied over matplotlib's defaults.
STYLE: dict = _style()


@dataclass
class Figure:
    """One figure: a file stem, a title and caption, its PNG bytes (Markdown), SVG text (HTML) and
    PDF bytes (LaTeX). ``width_in`` x ``height_in`` is its printed size in inches (one of
    :data:`SIZES` for the built-in papers), ``font_pt`` the smallest font size, in points, of
    each kind of text in it (``"tick"``, ``"label"``, ``"title"``, ``"legend"``, ``"text"``) and
    ``legend_covers`` the number of lines that a legend lies on (0 for a good figure)."""

    name: str
    title: str
    caption: str
    png: bytes
    svg: str
    paper: str = ""  #: the key of the paper whose section shows it (set by make_figures)
    pdf: bytes = b""
    width_in: float = 0.0
    height_in: float = 0.0
    font_pt: dict = field(default_factory=dict)
    legend_covers: int = 0


def figure_size(kind: str = "wide") -> tuple[float, float]:
    """The printed size (inches) of a ``"wide"`` (two-panel, full text width) or ``"single"`` figure."""
    try:
        return SIZES[kind]
    except KeyError:
        raise ValueError(f"figure size: one of {', '.join(SIZES)} (got {kind!r})") from None


def subplots(ncols: int = 1, kind: str | None = None, **kwargs: Any) -> tuple[Any, Any]:
    """A new figure with ``ncols`` panels in a row, at the report's size (``"wide"`` for two or
    more panels, ``"single"`` for one, unless ``kind`` says), with constrained layout. Made without
    pyplot, so it needs no backend and is never shown; :func:`render_figure` saves it."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=figure_size(kind or ("wide" if ncols > 1 else "single")), layout="constrained")
    return fig, fig.subplots(1, ncols, **kwargs)


def legend_below(fig: Any, handles: Sequence[Any] | None = None, labels: Sequence[str] | None = None, ncol: int | None = None) -> Any:
    """One legend for all panels, outside the data, under the panels (constrained layout makes
    room for it). Without ``handles`` it takes the first panel's labelled artists."""
    if handles is None:
        handles, labels = fig.axes[0].get_legend_handles_labels()
    elif labels is None:
        labels = [h.get_label() for h in handles]
    return fig.legend(handles, labels, loc="outside lower center", ncol=ncol or len(handles), frameon=False)


def log_scale(ax: Any, axis: str = "y") -> None:
    """Put ``axis`` (``"x"``, ``"y"`` or ``"both"``) of ``ax`` on a log scale labelled with plain
    numbers from 0.001 to 10^4 (0.5, 2, 40) and powers of ten beyond, instead of 4 x 10^0."""
    for name in ("x", "y") if axis == "both" else (axis,):
        getattr(ax, f"set_{name}scale")("log")
        target = getattr(ax, f"{name}axis")
        target.set_major_formatter(_plain_log_formatter()(labelOnlyBase=False))
        target.set_minor_formatter(_plain_log_formatter()(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


_SUPERSCRIPTS = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


@functools.lru_cache(maxsize=1)
def _plain_log_formatter() -> type:
    import math

    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            if 1e-3 <= x < 1e4:
                return f"{x:g}"
            k = math.log10(x)  # a power of ten in Unicode superscripts: plain text, no mathtext to typeset
            return "10" + str(round(k)).translate(_SUPERSCRIPTS) if abs(k - round(k)) < 1e-9 else ""

    return PlainLogFormatter


def _clean_svg(svg: str) -> str:
    """Matplotlib's SVG made fit to inline in HTML5: no XML prolog, no DOCTYPE, no metadata, no
    namespace URLs (the HTML parser puts <svg> in the SVG namespace itself)."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href=", "href=")  # SVG 2 plain href: no xlink namespace needed
    return svg.strip()


def _legends(fig: Any) -> list:
    return list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]


def _font_sizes(fig: Any) -> dict:
    """The smallest font size (pt) of each kind of visible, non-empty text in a drawn figure:
    ``"tick"`` labels, axis ``"label"``, ``"title"``, ``"legend"`` and any other ``"text"``."""
    from matplotlib.text import Text

    kind_of: dict[int, str] = {}
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            kind_of.update({id(t): "tick" for t in axis.get_ticklabels(which="both")})
            kind_of[id(axis.label)] = "label"
        kind_of[id(ax.title)] = "title"
    for leg in _legends(fig):
        kind_of.update({id(t): "legend" for t in [*leg.get_texts(), leg.get_title()]})
    out: dict[str, float] = {}
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip():
            kind = kind_of.get(id(t), "text")
            out[kind] = min(out.get(kind, float("inf")), float(t.get_fontsize()))
    return dict(sorted(out.items()))


#: How each form is saved: no dates, software names or versions in the files, so that the bytes
#: depend on the figure alone.
SAVE_OPTIONS = {
    "png": dict(format="png", dpi=DPI, metadata={"Software": None}),
    "svg": dict(format="svg", metadata={"Date": None, "Creator": None}),
    "pdf": dict(format="pdf", metadata={"CreationDate": None, "Producer": None, "Creator": None}),
}


def save(fig: Any, form: str) -> bytes:
    """One form (``"png"``, ``"svg"``, ``"pdf"``) of a drawn figure, at its own size (no cropping:
    every figure of one size has the same pixels)."""
    buf = io.BytesIO()
    fig.savefig(buf, **SAVE_OPTIONS[form])
    return buf.getvalue()


def _freeze_layout(fig: Any) -> None:
    """Keep the layout of the last draw: the next saves draw once instead of twice (a figure with
    a layout engine is drawn once more to lay it out before every save)."""
    import matplotlib

    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)


def _legend_covers(fig: Any) -> int:
    """How many lines (curves, reference lines, error bars) a legend of a drawn figure lies on:
    a legend belongs where it covers no curve, or outside the panels."""
    import numpy as np
    from matplotlib.path import Path as MplPath
    from matplotlib.transforms import Bbox

    def crosses(xy: np.ndarray, box: Any) -> bool:
        ok = np.isfinite(xy).all(axis=1)
        for piece in np.split(xy, np.flatnonzero(~ok)):  # a NaN breaks a line
            piece = piece[np.isfinite(piece).all(axis=1)]
            if len(piece) == 1 and box.contains(*piece[0]):
                return True
            if len(piece) > 1 and MplPath(piece).intersects_bbox(box, filled=False):
                return True
        return False

    covered = 0
    for leg in _legends(fig):
        extent = leg.get_window_extent()
        for ax in fig.axes:
            box = Bbox.intersection(extent, ax.bbox)  # lines are clipped to their panel
            if box is None or box.width <= 2 or box.height <= 2:
                continue
            box = box.padded(-1.0)
            paths = [line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
                     for line in ax.lines if line.get_visible()]
            for coll in ax.collections:  # error bars
                paths += [coll.get_transform().transform(np.asarray(p.vertices, dtype=float)) for p in coll.get_paths()]
            covered += sum(crosses(xy, box) for xy in paths)
    return covered


def render_figure(fig: Any, name: str, title: str, caption: str) -> Figure:
    """Save a drawn matplotlib figure as PNG (:data:`DPI`), SVG and PDF, record its printed size
    and its font sizes, and close it. A figure without a layout engine (a plug-in's) gets
    constrained layout, so that no label is cut off."""
    if fig.get_layout_engine() is None:
        try:
            fig.set_layout_engine("constrained")
        except RuntimeError:  # a colorbar made for another layout: leave it as it is
            pass
    png = save(fig, "png")
    fonts, covers = _font_sizes(fig), _legend_covers(fig)  # the PNG drew it: tick labels and legends are placed
    _freeze_layout(fig)
    svg = save(fig, "svg").decode("utf-8")
    pdf = save(fig, "pdf")
    width, height = (float(v) for v in fig.get_size_inches())
    if "matplotlib.pyplot" in sys.modules:  # a figure made with pyplot (a plug-in's) is closed there
        sys.modules["matplotlib.pyplot"].close(fig)
    return Figure(name, title, caption, png, _clean_svg(svg), pdf=pdf, width_in=round(width, 4), height_in=round(height, 4),
                  font_pt=fonts, legend_covers=covers)


# =============================================================================================
# figure functions made of specs


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a paper: ``data()`` computes what it shows (deterministic; cache it when
    claims share it), ``draw(data, render)`` draws it and returns ``render(fig, name, title,
    caption)``. ``cost`` is its measured drawing time in seconds on one core, cold (computing
    included), used only to start the longest first."""

    name: str
    data: Callable[[], Any]
    draw: Callable[[Any, Callable[..., Any]], Any]
    cost: float = 1.0

    def __call__(self, render: Callable[..., Any]) -> Any:
        return self.draw(self.data(), render)


def figure_function(*specs: FigureSpec) -> Callable[[Callable[..., Any]], list]:
    """A paper's figure function ``figures(render) -> list`` drawing ``specs`` in order; it
    carries them as ``figures.specs`` so that :func:`make_figures` can draw them side by side."""

    def figures(render: Callable[..., Any]) -> list:
        return [spec(render) for spec in specs]

    figures.specs = specs  # type: ignore[attr-defined]
    return figures


def _figure_function(target: str) -> Callable[..., Any]:
    import importlib

    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


@dataclass(frozen=True)
class _Task:
    """The work of one worker call: one spec of a figure function, or the whole function."""

    paper: int  # index into the papers list
    target: str  # "module:function"
    spec: int | None  # index into its specs; None: call the function
    name: str
    cost: float


def _tasks(papers: Sequence[Any]) -> list[_Task]:
    tasks = []
    for i, paper in enumerate(papers):
        if not paper.figures:
            continue
        specs = getattr(_figure_function(paper.figures), "specs", None)
        if specs is None:
            tasks.append(_Task(i, paper.figures, None, paper.figures, 1.0))
        else:
            tasks += [_Task(i, paper.figures, k, s.name, s.cost) for k, s in enumerate(specs)]
    return tasks


def _styled(fn: Callable[[], Any]) -> Any:
    import matplotlib.style

    with matplotlib.style.context(["default", STYLE]):
        return fn()


def _draw(task: _Task) -> list[Figure]:
    """Run one task under the style (in a worker or in this process)."""
    if task.spec is None:
        return _styled(lambda: list(_figure_function(task.target)(render_figure)))
    spec = _figure_function(task.target).specs[task.spec]
    return _styled(lambda: [spec(render_figure)])


def _draw_in_worker(task: _Task) -> list[Figure]:
    import matplotlib

    from threadpoolctl import threadpool_limits

    matplotlib.use("Agg", force=True)  # this process only: a plug-in's pyplot figures need no display
    with threadpool_limits(limits=1):  # as for claims: workers share the cores, small products spin
        return _draw(task)


# =============================================================================================
# the disk cache


def cache_dir() -> Path | None:
    """Where figures are cached, or ``None`` when ``L2L_NO_CACHE`` is set (to anything but 0/empty)."""
    root = cache_root()
    return None if root is None else root / "figures"


def _environment_key() -> list[str]:
    """What computed numbers depend on besides their inputs: the package's source, Python, NumPy
    and SciPy, and the machine (a home folder shared by several hosts keeps one cache per host)."""
    import platform

    import numpy
    import scipy

    return [source_hash(), sys.version, numpy.__version__, scipy.__version__, platform.machine(), platform.node()]


def _cache_key(task: _Task) -> str | None:
    """The key of a task's figures, or None when they are not cached (a third-party paper)."""
    if not task.target.startswith("l2l."):
        return None
    import matplotlib

    parts = [*_environment_key(), matplotlib.__version__, repr(sorted((k, repr(v)) for k, v in STYLE.items())), str(DPI),
             task.target, str(task.spec), task.name]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _prune(folder: Path, keep: int = 100) -> None:
    """Forget all but the ``keep`` newest entries (every change of the code makes new keys)."""
    try:
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for path in files[: max(0, len(files) - keep)]:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _store(path: Path, raw: bytes) -> None:
    """Write ``raw`` to ``path`` atomically (a reader sees the old file or the new); a read-only or
    full disk only costs the next report its computing time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        return
    _prune(path.parent)


def _encode(figs: list[Figure]) -> bytes:
    rows = [{**f.__dict__, "png": base64.b64encode(f.png).decode(), "pdf": base64.b64encode(f.pdf).decode()} for f in figs]
    return json.dumps(rows, sort_keys=True).encode()


def _decode(raw: bytes) -> list[Figure]:
    rows = json.loads(raw.decode())
    return [Figure(**{**r, "png": base64.b64decode(r["png"]), "pdf": base64.b64decode(r["pdf"])}) for r in rows]


def _cache_read(folder: Path | None, key: str | None) -> list[Figure] | None:
    if folder is None or key is None:
        return None
    try:
        return _decode((folder / f"{key}.json").read_bytes())
    except (OSError, ValueError, TypeError, KeyError):  # absent, or unreadable: draw it again
        return None


def _cache_write(folder: Path | None, key: str | None, figs: list[Figure]) -> None:
    if folder is not None and key is not None:
        _store(folder / f"{key}.json", _encode(figs))


# =============================================================================================
# numbers shared by claims and figures


def _plain(obj: Any) -> Any:
    """``obj`` with NumPy arrays and scalars as lists and Python numbers, tuples as lists."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _data_path(name: str) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    parts = [*_environment_key(), name]
    return folder.parent / "data" / f"{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:32]}.json"


def publish(name: str, data: dict) -> dict:
    """Store the numbers ``data`` (a dict of numbers, strings, lists and arrays) that a figure
    shows, computed by a claim, under ``name`` for :func:`shared`; return them as
    :func:`shared` would (arrays as lists). Claims call it and never read the store back: a claim
    always computes. Off with ``L2L_NO_CACHE=1``."""
    raw = json.dumps(_plain(data), sort_keys=True).encode()
    path = _data_path(name)
    if path is not None and not path.exists():
        _store(path, raw)
    return json.loads(raw.decode())


def shared(name: str, compute: Callable[[], dict]) -> dict:
    """The numbers published under ``name`` by the same code (this package's source, NumPy, SciPy
    and Python unchanged), e.g. by the claims a report has just run in its worker processes;
    otherwise ``compute()``, published. Floats go through JSON exactly (``repr`` round trip), so
    the figure is the same bytes either way."""
    path = _data_path(name)
    if path is not None:
        try:
            return json.loads(path.read_bytes().decode())
        except (OSError, ValueError):
            pass
    return publish(name, compute())


# =============================================================================================


def _preload() -> None:
    """Import what every worker needs once, before forking."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_pdf  # noqa: F401
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import matplotlib.font_manager
    import matplotlib.style  # noqa: F401

    matplotlib.font_manager.findfont("DejaVu Sans")


class FigurePlan:
    """The figures of some papers, split into work for worker processes: :attr:`tasks` draws the
    figures not in the disk cache (most expensive first), :meth:`finish` takes what they drew, in
    the same order, writes it to the cache and returns every figure in paper order, each tagged
    with its paper's key. ``l2l report`` runs the tasks in the pool of its claims, so figures
    are drawn while the last claims run."""

    def __init__(self, papers: Sequence[Any], cache: bool = True):
        self._papers = list(papers)
        self._specs = _tasks(self._papers)
        self._folder = cache_dir() if cache else None
        self._keys = [_cache_key(t) for t in self._specs]
        self._done: dict[int, list[Figure]] = {}
        for k, key in enumerate(self._keys):
            hit = _cache_read(self._folder, key)
            if hit is not None:
                self._done[k] = hit
        self._todo = sorted((k for k in range(len(self._specs)) if k not in self._done), key=lambda k: -self._specs[k].cost)
        if self._todo:
            _preload()  # once, before the workers fork
        #: one zero-argument callable per figure task still to draw (a list of Figure each)
        self.tasks = [functools.partial(_draw_in_worker, self._specs[k]) for k in self._todo]
        #: the name of each task, for progress and failure messages
        self.names = [self._specs[k].name for k in self._todo]

    def finish(self, drawn: Sequence[list[Figure]]) -> list[Figure]:
        out: list[Figure] = []
        done = {**self._done, **dict(zip(self._todo, drawn))}
        for k, spec in enumerate(self._specs):
            if k in self._todo:
                _cache_write(self._folder, self._keys[k], done[k])
            for f in done[k]:
                f.paper = self._papers[spec.paper].key
                out.append(f)
        return out


def make_figures(papers: Sequence[Any], *, jobs: int | None = None, cache: bool = True) -> list[Figure]:
    """The figures of the given papers (:class:`l2l.proofs.papers.Paper`), in order, each tagged
    with its paper's key. ``jobs`` worker processes (default: the CPUs available) draw
    them, most expensive first; ``jobs=1`` draws them here. ``cache=False`` (or ``L2L_NO_CACHE=1``)
    neither reads nor writes the disk cache. The figures are the same bytes in every case."""
    from ..workers import default_jobs, run_tasks

    plan = FigurePlan(papers, cache)
    jobs = default_jobs() if jobs is None else jobs
    if jobs > 1 and len(plan.tasks) > 1:
        drawn = run_tasks(plan.tasks, jobs=min(jobs, len(plan.tasks)), failure=figure_failure(plan.names))
    else:
        drawn = [_draw(plan._specs[k]) for k in plan._todo]
    return plan.finish(drawn)


def figure_failure(names: Sequence[str]) -> Callable[[int, str, Any, int], Any]:
    """The ``failure`` of :func:`l2l.proofs.workers.run_tasks` for figure tasks: a figure that
    cannot be drawn stops the report with its name and reason."""

    def failure(i: int, kind: str, detail: Any, output: int) -> Any:
        raise RuntimeError(f"figure {names[i]!r} could not be drawn ({kind}: {detail})")

    return failure
