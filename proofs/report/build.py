"""``l2l report``: run the claims, verify the derivations, draw the figures, write the folder."""

from __future__ import annotations

import functools

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .figures import FigurePlan, figure_failure
from .folder import ReportError, prepare_target, write_atomically
from .render import ReportData, derivation_row, render_html, render_latex, render_markdown
from .text import json_text

__all__ = ["FORMATS", "PRECISION", "build_report", "write_report"]

FORMATS = ("md", "html", "tex")
PRECISION = "float64 evaluators; mpmath references at 50-60 digits"
#: Hang guard of one derivation's check or figure (seconds; the slowest takes about 12 s of CPU).
SIDE_TASK_TIMEOUT = 900.0

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


def _write_files(data: ReportData, folder: Path, formats: Sequence[str]) -> None:
    if "md" in formats or "tex" in formats:
        figdir = folder / "figures"
        figdir.mkdir()
        for f in data.figures:  # PNG for Markdown; the vector PDF beside it for LaTeX
            (figdir / f"{f.name}.png").write_bytes(f.png)
            if "tex" in formats and f.pdf:
                (figdir / f"{f.name}.pdf").write_bytes(f.pdf)
        (folder / "report.md").write_text(render_markdown(data), encoding="utf-8")
    if "html" in formats:
        (folder / "report.html").write_text(render_html(data), encoding="utf-8")
    if "tex" in formats:
        (folder / "report.tex").write_text(render_latex(data), encoding="utf-8")
        _compile_pdf(folder)
    (folder / "environment.json").write_text(json_text(data.env) + "\n", encoding="utf-8")
    # the verdicts in the `l2l check --json` format (DESIGN.md), for scripts and tests
    claims_json = {"claims": [r.to_json() for _, r in data.claims], "environment": data.env}
    (folder / "claims.json").write_text(json.dumps(claims_json, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def write_report(data: ReportData, out: str | Path, formats: Sequence[str]) -> None:
    """Write the report's files in ``formats`` into the folder ``out``, atomically."""
    write_atomically(out, lambda folder: _write_files(data, folder, formats))


class _Deferred:
    """A registered derivation built on first use (``registry.get``): the report's workers verify
    and print the derivations, so this process needs one only for a worker that failed."""

    def __init__(self, name: str):
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        from l2l.theory import registry

        return getattr(registry.get(self.name), attr)


def _verify_and_print(name: str) -> tuple[Any, dict]:
    """A derivation task of the report's pool: its verification (cached in this worker for the
    claims that quote it) and what the report prints of it (:func:`render.derivation_row`)."""
    from l2l.theory import registry

    v = registry.verified(name)
    return v, derivation_row(registry.get(name), v)


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
    jobs: int = 1,
    cache: bool = False,
    scheduler: str | None = None,
    progress: bool = False,
) -> ReportData:
    """Run the selected claims, verify the derivations (all registered ones by default), draw the
    figures and write the report to ``out``. Raises :class:`ReportError` for an unusable target
    (checked before any work) and ``proofs.catalogue.CatalogueError`` for a bad selector.

    ``cache`` and ``scheduler`` are those of :func:`l2l.proofs.runner.run_claims`: results of
    unchanged claims are read from the result cache, and with a Dask scheduler the claims run
    there first, then the derivations and figures here. ``progress``: a bar of the claims on
    standard error when it is a terminal (:mod:`l2l.proofs.progress`)."""
    from ..cache import ResultCache
    from ..catalogue import select
    from ..environment import environment
    from ..progress import progress_bar
    from ..runner import cached_result, claim_failure, claim_task, run_claims, settle_imports, worker_group
    from ..workers import run_tasks

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ReportError(f"--format: a comma-separated subset of {','.join(FORMATS)} (got {','.join(formats)!r})")
    out = Path(out)
    prepare_target(out)
    claims = select(list(selectors))
    start = time.perf_counter()

    settle_imports()  # the same Hypothesis constants in every worker, whatever runs first
    if derivation_names is None:
        from l2l.theory import registry  # SymPy: imported only when the report has derivations

        derivation_names = registry.names()
    names = list(derivation_names)
    # built where they are verified (each worker its own, in parallel); here only if a worker failed
    derivations = [_Deferred(name) for name in names]
    from ..papers import papers as registered

    modules = {c.module for c in claims}
    plan = FigurePlan([p for p in registered() if p.claim_module() in modules])
    store = ResultCache() if cache else None
    bar = progress_bar(len(claims), [c.id for c in claims]) if progress else None
    if bar is not None:
        log = functools.partial(bar.write, file=sys.stderr)

    def claim_line(k: int, r: Any) -> None:
        flag = "" if r.matches else f"  MISSED: {r.verdict}, expected {r.expect}"
        log(f"[{k + 1}/{len(claims)}] {r.id} ({time.perf_counter() - start:.1f} s){' (cached)' if r.cached else ''}{flag}")
        if bar is not None and r.cached:
            bar.done(k, cached=True)

    remote = None
    if scheduler is not None:  # the claims on the Dask cluster first; derivations and figures here
        try:
            remote = run_claims(claims, profile=profile, seed=seed, timeout=timeout, on_result=claim_line, cache=cache,
                                scheduler=scheduler, on_start=bar.start if bar is not None else None,
                                on_done=(lambda k, r: bar.done(k)) if bar is not None else None)
        except BaseException:
            if bar is not None:
                bar.close()
            raise
    local = claims if remote is None else []
    # one pool for everything: the derivations' checks first (few and long), then the claims, then
    # the figures not in the cache (by then the claims have published the numbers they show);
    # `jobs` workers take the next task when free, so the cores stay busy to the end
    tasks = [functools.partial(_verify_and_print, name) for name in names] + [claim_task(c, profile, seed) for c in local] + plan.tasks
    n, m = len(derivations), len(local)
    known = {}  # claims whose result is in the cache: not run
    for k, c in enumerate(local):
        record = store.get(c, profile, seed) if store is not None else None
        if record is not None:
            known[n + k] = cached_result(record, profile, seed)
    guard = timeout if timeout is not None else SIDE_TASK_TIMEOUT
    limits = [guard] * n + [timeout if timeout is not None else c.hang_timeout(profile) for c in local] + [guard] * len(plan.tasks)
    draw_failure = figure_failure(plan.names)

    def failure(i: int, kind: str, detail: Any, output: int) -> Any:
        if i >= n + m:
            return draw_failure(i - n - m, kind, detail, output)
        if i >= n:
            return claim_failure(local[i - n], profile, seed, kind, detail, output)
        from l2l.theory.derivation import StepResult, Verification

        why = f"timeout after {detail:g} s" if kind == "timeout" else f"{kind}: {detail}"
        return Verification(names[i], tuple(StepResult(k + 1, "failed", f"the check did not finish ({why})")
                                             for k in range(len(derivations[i].steps)))), None

    def progress_line(k: int, value: Any) -> None:
        now = time.perf_counter() - start
        if k < n:
            log(f"[derivation {k + 1}/{n}] {names[k]} ({now:.1f} s)")
        elif k < n + m:
            claim_line(k - n, value)
        else:
            log(f"[figure {k - n - m + 1}/{len(plan.tasks)}] {plan.names[k - n - m]} ({now:.1f} s)")

    def started(i: int) -> None:
        if bar is not None and n <= i < n + m:
            bar.start(i - n)

    def done(i: int, value: Any) -> None:  # a claim's result is stored as soon as it is there
        if n <= i < n + m:
            if store is not None:
                store.put(local[i - n], profile, seed, value)
            if bar is not None:
                bar.done(i - n)

    # a claim that returns a derivation's verification shares "derivation:NAME": it runs in the worker
    # that verified NAME (with the other derivations of NAME's module, which it may quote), and reads
    # the verification from that process's cache
    groups = [worker_group(f"derivation:{name}") for name in names] + [worker_group(c.shares) for c in local] + [None] * len(plan.tasks)
    try:
        values = run_tasks(tasks, jobs=jobs, limits=limits, failure=failure, on_result=progress_line, groups=groups, known=known,
                           on_start=started, on_done=done)
    finally:
        if bar is not None:
            bar.close()
    rows = [row for _, row in values[:n]]
    derivations = list(zip(derivations, [v for v, _ in values[:n]]))
    results = list(zip(claims, values[n:n + m] if remote is None else remote))
    figures = plan.finish(values[n + m:])
    log = log if bar is None else (lambda msg: print(msg, file=sys.stderr, flush=True))
    log(f"[figures] {len(figures)} ({len(plan.tasks)} drawn, the others from the cache; {time.perf_counter() - start:.1f} s)")
    env = environment(precision=PRECISION, profile=profile, seed=seed,
                      packages=("l2l-theory", "numpy", "scipy", "sympy", "mpmath", "hypothesis", "matplotlib"))
    data = ReportData(env=env, claims=results, derivations=derivations, figures=figures, derivation_rows=rows)
    write_report(data, out, formats)
    log(f"report written to {out} ({time.perf_counter() - start:.1f} s)")
    return data
