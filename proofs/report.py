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
    paper: str = "wang2021"  #: the catalogue paper whose section shows it


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


def make_figures(papers: Sequence[str] = ("wang2021", "wu2018")) -> list[Figure]:
    """The figures of the given catalogue papers (matplotlib, Agg backend): deterministic
    instances, no randomness. ``wang2021``: below; ``wu2018``: :mod:`proofs.nqm_figures`."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "l2l-report", "font.size": 9})
    out: list[Figure] = []
    if "wang2021" in papers:
        out += _wang2021_figures()
    if "wu2018" in papers:
        from .nqm_figures import nqm_figures

        out += [f for f in nqm_figures(_render)]
        for f in out:
            if f.name.startswith("nqm-"):
                f.paper = "wu2018"
    return out


def _wang2021_figures() -> list[Figure]:
    """Wang et al. (2021): meta-gradients against t, eta*(t), meta-GD, backprop, TbT vs TbV."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    from l2l.numerics import metaopt, stable
    from l2l.numerics.problems import QuadraticProblem

    from .strategies import make_gaussian_quadratic

    out: list[Figure] = []

    # (1) naive vs log meta-gradient against t
    problem = make_gaussian_quadratic(0, 20)
    scale = 2.0 / (problem.L + problem.alpha)
    ts = np.unique(np.round(np.geomspace(1, 2000, 60)).astype(np.int64))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for factor in (0.5, 1.0, 1.3):
        ev = stable.evaluate(problem, factor * scale, ts)
        log10_naive = np.asarray(ev.naive_grad_log_abs, dtype=float) / np.log(10.0)
        label = rf"$\eta = {factor:g} \times 2/(L+\alpha)$"
        ax1.plot(ts, log10_naive, label=label)
        ax2.plot(ts, np.abs(np.asarray(ev.log_objective_grad, dtype=float)), label=label)
    ax1.set_xlabel("t")
    ax1.set_ylabel(r"$\log_{10} |\,\mathrm{d} f(w_t)/\mathrm{d}\eta\,|$")
    ax1.set_title("naive meta-gradient")
    ax2.set_xlabel("t")
    ax2.set_ylabel(r"$|G'(\eta)|$")
    ax2.set_title(r"log meta-gradient $G = \frac{1}{t}\ln f(w_t)$")
    ax2.set_yscale("log")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    fig.tight_layout()
    out.append(
        _render(
            fig,
            "meta-gradients",
            "Naive and log meta-gradients against the horizon",
            "Gaussian quadratic make_gaussian_quadratic(0, 20). Left: log10 |d f(w_t)/d eta| is a straight line in t "
            "(exponential vanishing below and explosion above the stable range); right: |G'(eta)| stays bounded "
            "(Wang et al. 2021, Theorem 4(ii)). Evaluated with numerics.stable.evaluate.",
        )
    )

    # (2) eta*(t) (L + alpha)/2 against t: Wang et al. Figure 2
    ts2 = np.unique(np.round(np.geomspace(1, 5000, 40)).astype(np.int64))
    ratio = np.array([metaopt.eta_star(problem, int(t)) for t in ts2]) * (problem.L + problem.alpha) / 2.0
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(ts2, ratio, marker=".")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel(r"$\eta^*(t)\,(L+\alpha)/2$")
    ax.set_title(r"optimal step size against the horizon")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(
        _render(
            fig,
            "eta-star",
            "Optimal step size against the horizon (Wang et al. 2021, Figure 2)",
            "eta*(t) (L + alpha)/2 for make_gaussian_quadratic(0, 20), computed by numerics.metaopt.eta_star; "
            "it tends to 1 as t grows.",
        )
    )

    # (3) meta-GD trajectory on the released code's instance: Wang et al. Figure 1
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 20))
    w0 = rng.normal(size=20)
    inst = QuadraticProblem.from_matrix(x.T @ x, w0)
    steps = 1000
    traj = metaopt.meta_gd(inst, 0.1, 80, steps, c=0.01)
    target = metaopt.eta_star(inst, 80)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(np.arange(traj.etas.size), traj.etas, label=r"meta-GD $\eta_k$")
    ax.axhline(target, color="grey", lw=0.8, ls="--", label=r"$\eta^*(80)$")
    ax.set_xlabel("meta-step k")
    ax.set_ylabel(r"$\eta_k$")
    ax.set_title("meta-GD on the log meta-objective, t = 80")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.append(
        _render(
            fig,
            "meta-gd",
            "Meta-GD trajectory (Wang et al. 2021, Figure 1)",
            f"numerics.metaopt.meta_gd with t = 80, eta0 = 0.1, c = 0.01, {steps} meta-steps, on the released code's "
            "instance (rng = default_rng(1); X 20x20 Gaussian; H = X^T X; w0 Gaussian).",
        )
    )

    # (4) backprop's relative error against t, float32 and float64 (Corollary 1)
    from l2l.numerics.unroll import backprop

    eta_bp = 1.23 * scale
    tb = np.unique(np.round(np.geomspace(1, 3000, 40)).astype(np.int64))
    h, w0p = problem.dense()
    exact = np.asarray(stable.evaluate(problem, eta_bp, tb).log_objective_grad, dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for dtype in ("float32", "float64"):
        run = backprop(h, w0p, eta_bp, tb, dtype=dtype)
        ok = run.status[0] == "ok"
        err = np.full(tb.size, np.nan)
        err[ok] = np.abs(run.log_objective_grad[0][ok] - exact[ok]) / np.abs(exact[ok])
        ax1.plot(tb, np.maximum(err, 1e-17), marker=".", label=f"{dtype} (no value from t = {int(tb[~ok][0]) if (~ok).any() else '-'} on)")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("t")
    ax1.set_ylabel("relative error of backprop's G'")
    ax1.set_title(r"backprop at $\eta = 1.23 \times 2/(L+\alpha)$")
    ax1.legend(fontsize=7)
    ax1.grid(alpha=0.3)
    # (5) the growth of backprop's intermediates
    tr = backprop(h, w0p, eta_bp, 400, dtype="float64", record=True).traces[0, 0]
    ax2.plot(tr.steps, tr.w_log10_max, label=r"$\max|w_\tau|$")
    ax2.plot(tr.steps, tr.adjoint_log10_max, label=r"$\max|\bar w_\tau|$ (adjoint)")
    ax2.plot(tr.steps, tr.loss_log10_abs, label=r"$f(w_\tau)$")
    ax2.set_xlabel(r"step $\tau$")
    ax2.set_ylabel("log10 magnitude")
    ax2.set_title("backprop's intermediates (float64, t = 400)")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    out.append(
        _render(
            fig,
            "backprop",
            "Plain backpropagation through the unrolled loop (Wang et al. 2021, Corollary 1)",
            "Left: relative error of the log meta-gradient computed by reverse mode through the unrolled GD "
            "(numerics.unroll.backprop), against the stable closed form, on make_gaussian_quadratic(0, 20); the "
            "curves stop where the dtype overflows. Right: log10 magnitudes of the iterates, adjoints and loss grow "
            "linearly in the step (rho^(+-tau)), although G' itself is bounded.",
        )
    )

    # (6) train-by-train versus train-by-validation: Wang et al. Figures 3 and 4 (small setting)
    sigmas = [0.5, 1.0, 2.0, 4.0]
    by_sigma = [metaopt.tbt_vs_tbv(d=40, n=20, sigma=sg, t=40, m=10, m_test=50, seed=0) for sg in sigmas]
    ns = [10, 20, 40, 80, 160]
    by_n = [metaopt.tbt_vs_tbv(d=40, n=n, sigma=1.0, t=40, m=10, m_test=50, seed=0) for n in ns]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, xs, runs, xlabel in ((ax1, sigmas, by_sigma, r"noise $\sigma$ (n = 20)"), (ax2, ns, by_n, r"samples n ($\sigma$ = 1)")):
        for which, marker, label in (("tbt", "o", "train-by-train"), ("tbv", "s", "train-by-validation (50/50)")):
            rmse = [r.test_rmse(which) for r in runs]
            mean = np.array([v.mean() for v in rmse])
            lo = mean - np.array([v.min() for v in rmse])
            hi = np.array([v.max() for v in rmse]) - mean
            ax.errorbar(xs, mean, yerr=[lo, hi], marker=marker, capsize=3, label=label)
        ax.set_xscale("log" if ax is ax2 else "linear")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(r"test RMSE $\sqrt{\|w_t - w^*\|^2 + \sigma^2}$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax1.set_title("against the noise (cf. Figure 3)")
    ax2.set_title("against the sample size (cf. Figure 4)")
    fig.tight_layout()
    out.append(
        _render(
            fig,
            "tbt-vs-tbv",
            "Train-by-train versus train-by-validation (Wang et al. 2021, Figures 3 and 4, small setting)",
            "d = 40, t = 40, m = 10 training tasks, 50 test tasks trained on all n samples (numerics.metaopt.tbt_vs_tbv); "
            "eta chosen by grid search and refinement on each meta-objective. Population test RMSE "
            "sqrt(||w_t - w*||^2 + sigma^2) (the RMSE on an unlimited fresh test set): mean over the test tasks, bars "
            "from the smallest to the largest task, as the paper's mean and range; "
            "the paper's setting is d = 1000 (see the Theorem 5 claims under the thorough profile). The peak of "
            "train-by-train at n = d = 40 is the interpolation threshold, where the ERM error "
            "sigma^2 d/(n - d - 1) diverges.",
        )
    )
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
    from .catalogue import PAPER_TITLES

    return PAPER_TITLES.get(module.rsplit(".", 1)[-1], "Your claims")


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
        "figure_papers": {f.name: _paper_title(f"l2l.proofs.{f.paper}") for f in data.figures},
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
    from .claim import run_claim
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
    from .catalogue import PAPERS

    papers = [p for p in PAPERS if any(c.module == f"l2l.proofs.{p}" for c, _ in results)]
    figures = make_figures(papers) if formats else []
    log(f"[figures] {len(figures)} drawn ({time.perf_counter() - start:.1f} s)")
    env = environment(precision=PRECISION, profile=profile, seed=seed,
                      packages=("l2l-theory", "numpy", "scipy", "sympy", "mpmath", "hypothesis", "matplotlib"))
    data = ReportData(env=env, claims=results, derivations=derivations, figures=figures)
    write_report(data, out, formats)
    log(f"report written to {out} ({time.perf_counter() - start:.1f} s)")
    return data
