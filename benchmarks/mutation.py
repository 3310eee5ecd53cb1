"""Mutation harness: how many small, deliberate bugs does the claim catalogue catch? (issue 13)

A claim counts as evidence only if it would fail were the code or the mathematics wrong. Each
mutant of :mod:`benchmarks.mutants` is one named change (``old`` -> ``new``, ``old`` occurring
exactly once in its file). The harness

1. copies the package sources once to a temporary folder laid out as the installed package
   (``l2l/__init__.py``, ``theory/`` -> ``l2l/theory``, ``numerics/`` -> ``l2l/numerics``,
   ``proofs/`` -> ``l2l/proofs``, as setup.py maps them; the tests are copied beside it) and there
   builds a **coverage map** (``coverage.py`` dynamic contexts): which lines each ``ci`` claim and
   each unit test of :data:`TEST_FILES` executes, and how long each takes. It is cached by a hash
   of the sources in ``benchmarks/mutation-coverage.json`` (git ignored).
2. For each mutant: applies the substitution in a fresh copy (the working tree is never edited)
   and runs, in subprocesses that import that copy (checked for every mutant and every stage: the
   copy's ``l2l/__init__.py`` records each process that imports it, and the wrapper asserts that
   ``l2l``, ``l2l.theory``, ``l2l.numerics`` and ``l2l.proofs`` come from the copy; the editable
   install's finder is removed from ``sys.meta_path``), stopping at the first that kills it:

   * the ``ci`` claims that execute the mutated statement, cheapest first, one after another
     (each in a forked worker with the runner's hang guard), stopping at the first whose verdict
     misses its expectation;
   * the unit tests that execute it (``pytest -x`` under ``L2L_PROFILE=ci``).

   A statement executed at import time (module level, a default argument, or code called while
   importing) may change anything: then every claim and every mapped test is a candidate. A
   claim or test that never executes the mutated statement cannot notice it, so skipping it loses
   no kill; this is what brings a full run within 30 minutes on 2 cores.

A mutant is *killed* when a claim's verdict differs from its ``expect`` or a test fails;
*survived* when nothing noticed (the table says whether anything executed the statement at all);
*broken* when it could not be applied (its ``old`` no longer occurs exactly once), the import guard
failed or a stage timed out. Mutants declared ``equivalent`` are run and listed but count neither
way. Score = killed / (killed + survived).

Run::

    python benchmarks/mutation.py                      # every mutant, --jobs = CPUs available
    python benchmarks/mutation.py --only issue13.greedy-eta-power --jobs 1
    python benchmarks/mutation.py --resume benchmarks/mutation-results.jsonl
    python benchmarks/mutation.py --list
    python benchmarks/mutation.py --only quadratic.stable --claims wang2021.thm4.log-gradient-matches-reference

Results are appended, one JSON line per mutant, to ``benchmarks/mutation-results.jsonl`` (git
ignored); ``--resume FILE`` skips the mutants already in FILE with the same hash (mutant definition
+ package and test sources). Needs ``coverage`` (in the ``test`` extra).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

from mutants import MUTANTS, Mutant  # noqa: E402

#: setup.py's package_dir: repository folder -> folder inside the importable copy
FOLDERS = ("theory", "numerics", "proofs")
DEFAULT_RESULTS = ROOT / "benchmarks" / "mutation-results.jsonl"
CLAIM_TIMEOUT = 300  # l2l check --timeout: per claim (a mutant that hangs a claim errors it)
STAGE_TIMEOUT = 1500  # one subprocess (a batch of claims or of tests)
TEST_TIMEOUT = 1500  # the unit-test stage
GUARD_EXIT = 97

#: The unit tests the coverage map covers (and a mutant's test stage draws from): the tests of the
#: numerics, the theory and the paper catalogues; not the report, view and CLI tests, which
#: re-run claims the map already has.
TEST_FILES: tuple[str, ...] = (
    "tests/numerics", "tests/theory", "tests/proofs/test_wang2021.py", "tests/proofs/test_wu2018.py",
    "tests/proofs/test_papers.py", "tests/proofs/test_eval_least_squares.py", "tests/proofs/test_eval_nqm.py",
    "tests/proofs/test_strategies.py",
)
COVERAGE_CACHE = ROOT / "benchmarks" / "mutation-coverage.json"


# ---------------------------------------------------------------------------------------------
# sources, hashes, the mutated copy


def _source_files() -> list[Path]:
    files = [ROOT / "l2l" / "__init__.py"]
    for top in (*FOLDERS, "tests"):
        files += [p for p in sorted((ROOT / top).rglob("*")) if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix in (".py", ".j2", ".json", ".txt", ".md", ".tex")]
    return files


def source_hash() -> str:
    h = hashlib.sha256()
    for p in _source_files():
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def mutant_hash(mutant: Mutant, sources: str) -> str:
    return hashlib.sha256((json.dumps(asdict(mutant), sort_keys=True) + sources).encode()).hexdigest()[:16]


def verify(mutant: Mutant) -> str | None:
    """None if ``old`` occurs exactly once in the file and differs from ``new``; else why not."""
    path = ROOT / mutant.file
    if not path.is_file():
        return f"{mutant.file} does not exist"
    n = path.read_text().count(mutant.old)
    if n != 1:
        return f"`old` occurs {n} times in {mutant.file} (must be exactly once)"
    if mutant.old == mutant.new:
        return "`new` equals `old`"
    return None


_TRACE_HOOK = '''

# --- added by benchmarks/mutation.py: record every process that imports this (mutated) copy
import os as _mutation_os  # noqa: E402

if _mutation_os.environ.get("L2L_MUTATION_TRACE"):
    with open(_mutation_os.environ["L2L_MUTATION_TRACE"], "a") as _mutation_f:
        _mutation_f.write(f"{_mutation_os.getpid()} {__file__}\\n")
'''


def _copy_path(file: str) -> str:
    """Where a repository file sits in the copy (setup.py's package_dir: numerics/x -> l2l/numerics/x)."""
    top = file.split("/", 1)[0]
    return f"l2l/{file}" if top in FOLDERS else file


def make_copy(dest: Path, mutant: Mutant | None, base: Path | None = None) -> Path:
    """Lay the package out as an importable ``l2l/`` under ``dest`` (plus ``tests/`` and the
    top-level files the tests read), with the mutant's substitution applied (none if ``None``).
    ``base``: a pristine copy made earlier by this function (a snapshot of the sources taken once
    per run, so that every mutant sees the same sources while others edit the working tree)."""
    if base is not None:
        shutil.copytree(base, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "trace-*"))
    else:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
        pkg = dest / "l2l"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text((ROOT / "l2l" / "__init__.py").read_text() + _TRACE_HOOK)
        for f in FOLDERS:
            shutil.copytree(ROOT / f, pkg / f, ignore=ignore)
        shutil.copytree(ROOT / "tests", dest / "tests", ignore=ignore)
        for f in FOLDERS:  # the repository's paths too (tests that read the sources by path, like test_layout)
            (dest / f).symlink_to(Path("l2l") / f)
        for name in ("pyproject.toml", "setup.py", "README.md", "docs", "examples", "benchmarks"):
            if (ROOT / name).exists():
                (dest / name).symlink_to(ROOT / name)
    if mutant is not None:
        target = dest / _copy_path(mutant.file)
        text = target.read_text()
        n = text.count(mutant.old)
        if n != 1 or mutant.old == mutant.new:
            raise ValueError(f"`old` occurs {n} times in {mutant.file} (must be exactly once, and differ from `new`)")
        target.write_text(text.replace(mutant.old, mutant.new, 1))
    return dest


_WRAPPER = r'''
import os, runpy, sys
root = os.path.realpath(sys.argv[1]); what = sys.argv[2]; del sys.argv[1:3]
COV = None
if os.environ.get("L2L_MUTATION_COVERAGE"):  # the map modes: measure from before l2l is imported
    import coverage
    COV = coverage.Coverage(data_file=os.environ["L2L_MUTATION_COVERAGE"], source=[os.path.join(root, "l2l")],
                            config_file=False)
    COV.start()
sys.meta_path[:] = [f for f in sys.meta_path
                    if "editable" not in (getattr(f, "__name__", "") or type(f).__name__).lower()]
sys.path.insert(0, root)
import l2l, l2l.theory, l2l.numerics, l2l.proofs
for m in (l2l, l2l.theory, l2l.numerics, l2l.proofs):
    if not os.path.realpath(m.__file__).startswith(root + os.sep):
        print(f"MUTATION-GUARD: {m.__name__} imported from {m.__file__}, not from {root}", file=sys.stderr)
        sys.exit(%d)
print(f"MUTATION-GUARD-OK {l2l.numerics.__file__}", file=sys.stderr)
if what == "check":
    sys.argv[0] = "l2l"
    runpy.run_module("l2l.proofs.cli", run_name="__main__", alter_sys=True)
code = 0
if what == "pytest":
    import pytest
    code = int(pytest.main(sys.argv[1:]))
elif what == "driver":
    driver = os.path.join(root, "benchmarks", "mutation_driver.py")
    sys.argv[0] = driver
    runpy.run_path(driver, init_globals={"COV": COV}, run_name="__main__")
for name, mod in list(sys.modules.items()):
    if name.startswith("l2l") and getattr(mod, "__file__", None):
        if not os.path.realpath(mod.__file__).startswith(root + os.sep):
            print(f"MUTATION-GUARD: {name} imported from {mod.__file__}", file=sys.stderr)
            sys.exit(%d)
sys.exit(code)
''' % (GUARD_EXIT, GUARD_EXIT)


class GuardError(RuntimeError):
    """The subprocess did not import the mutated copy: its result would be dishonest."""


class StageTimeout(RuntimeError):
    """A stage's subprocess ran past its time limit: the mutant is reported as broken (counted
    neither way) rather than guessed killed or survived."""


def _run(copy: Path, what: str, args: list[str], timeout: float, coverage_file: Path | None = None
         ) -> subprocess.CompletedProcess:
    trace = copy / f"trace-{what}-{time.monotonic_ns()}.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "L2L_MUTATION_COVERAGE")}
    env.update(PYTHONPATH=str(copy), L2L_MUTATION_TRACE=str(trace), L2L_PROFILE="ci", PYTHONHASHSEED="0",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    if coverage_file is not None:
        env["L2L_MUTATION_COVERAGE"] = str(coverage_file)
    try:
        proc = subprocess.run([sys.executable, "-c", _WRAPPER, str(copy), what, *args], cwd=copy, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StageTimeout(f"{what} {' '.join(args[:6])}... timed out after {timeout:.0f} s") from None
    if proc.returncode == GUARD_EXIT or "MUTATION-GUARD-OK" not in proc.stderr:
        raise GuardError((proc.stderr or "")[-2000:])
    lines = trace.read_text().split("\n") if trace.exists() else []
    imported = [ln.split(" ", 1)[1] for ln in lines if ln.strip()]
    real = os.path.realpath(copy) + os.sep
    if not imported or any(not os.path.realpath(p).startswith(real) for p in imported):
        raise GuardError(f"trace of l2l imports: {imported[:5]}")
    return proc


def run_check(copy: Path, ids: list[str], timeout: float = STAGE_TIMEOUT) -> list[str]:
    """Run the claims ``ids`` (exact ids) in order, each in a forked worker with the hang guard,
    stopping at the first whose verdict misses its expectation: ``[that claim]``, or [] if none."""
    out = copy / f"claims-{time.monotonic_ns()}.json"
    proc = _run(copy, "driver", ["claims", str(out), str(CLAIM_TIMEOUT), *ids], timeout)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return [f"the claim driver crashed (exit {proc.returncode}): {tail[:200]}"]
    return json.loads(out.read_text())["missed"]


def run_tests(copy: Path, nodes: list[str], timeout: float = TEST_TIMEOUT) -> list[str]:
    """The first failing test among ``nodes`` (pytest node ids or files; ``-x``); [] if all pass."""
    if not nodes:
        return []
    proc = _run(copy, "pytest", ["-x", "-q", "-p", "no:cacheprovider", *nodes], timeout)
    if proc.returncode in (0, 5):  # 5: nothing collected
        return []
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in proc.stdout.splitlines()
              if ln.startswith(("FAILED ", "ERROR "))]
    return failed or [f"pytest exit {proc.returncode}: {(proc.stdout.strip().splitlines() or ['?'])[-1][:200]}"]


# ---------------------------------------------------------------------------------------------
# the coverage map: which claim and which test executes which line


@dataclass
class CoverageMap:
    """From one baseline run on the pristine copy: seconds per claim and per test (those that
    pass there; a claim or test that fails on the pristine sources is left out, as it would
    "kill" every mutant), and for each repository file, line -> the contexts that executed it
    (``claim:ID``, ``test:NODEID``, or ``""``: at import time)."""

    claims: dict[str, float]
    tests: dict[str, float]
    contexts: list[str]
    lines: dict[str, dict[str, list[int]]]  # file -> line -> indices into contexts
    excluded: list[str] = field(default_factory=list)

    def candidates(self, file: str, lines: list[int]) -> tuple[list[str], list[str], bool]:
        """(claims, tests) executing any of ``lines`` of ``file``, cheapest first, and whether one
        of the lines runs at import time (then every claim and test is a candidate)."""
        hit: set[str] = set()
        by_line = self.lines.get(file, {})
        for ln in lines:
            hit.update(self.contexts[i] for i in by_line.get(str(ln), ()))
        at_import = "" in hit
        claims = list(self.claims) if at_import else [c[6:] for c in hit if c.startswith("claim:") and c[6:] in self.claims]
        tests = list(self.tests) if at_import else [c[5:] for c in hit if c.startswith("test:") and c[5:] in self.tests]
        return (sorted(claims, key=lambda i: (self.claims[i], i)), sorted(tests, key=lambda i: (self.tests[i], i)),
                at_import)


def statement_lines(text: str, old: str) -> list[int]:
    """The lines of the statements that ``old`` (occurring once in ``text``) touches: a simple
    statement whole, a compound statement's header only (coverage may record any line of a
    multi-line statement, so all of them count)."""
    i = text.index(old)
    first = text.count("\n", 0, i) + 1
    last = first + old.rstrip("\n").count("\n")
    stmts = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.stmt)]
    out: set[int] = set()
    for ln in range(first, last + 1):
        around = [n for n in stmts if n.lineno <= ln <= n.end_lineno]
        if not around:
            out.add(ln)
            continue
        node = min(around, key=lambda n: n.end_lineno - n.lineno)
        body = getattr(node, "body", None)
        header = isinstance(body, list) and body and ln < body[0].lineno
        out.update(range(node.lineno, (body[0].lineno - 1 if header else node.end_lineno) + 1))
    return sorted(out)


def _chunks(items: list, n: int) -> list[list]:
    return [items[k::n] for k in range(n) if items[k::n]]


def _test_files(base: Path) -> list[str]:
    files = []
    for f in TEST_FILES:
        path = base / f
        files += sorted(str(q.relative_to(base)) for q in path.rglob("test_*.py")) if path.is_dir() else [f]
    return [f for f in files if (base / f).exists()]


def build_coverage_map(base: Path, jobs: int, log=print) -> CoverageMap:
    """Run every ``ci`` claim and every test of :data:`TEST_FILES` on the pristine copy ``base``
    under coverage (``jobs`` subprocesses side by side) and merge what they executed."""
    from coverage import CoverageData

    ids = catalogue_ids(base)
    files = _test_files(base)
    tasks = [("map-claims", part) for part in _chunks(ids, 2 * jobs)]
    tasks += [("map-tests", part) for part in _chunks(sorted(files, key=lambda f: -(base / f).stat().st_size), 3 * jobs)]
    with tempfile.TemporaryDirectory(prefix="l2l-coverage-") as tmp:
        def one(k: int) -> tuple[dict, Path]:
            mode, part = tasks[k]
            out, data = Path(tmp) / f"out-{k}.json", Path(tmp) / f"cov-{k}"
            args = part if mode == "map-claims" else ["-q", "-p", "no:cacheprovider", *part]
            proc = _run(base, "driver", [mode, str(out), *args], STAGE_TIMEOUT, coverage_file=data)
            if not out.exists():
                raise RuntimeError(f"coverage map {mode} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            log(f"  coverage map: {mode} part {k + 1}/{len(tasks)} done")
            return json.loads(out.read_text()), data

        with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            parts = list(pool.map(one, range(len(tasks))))
        cmap = CoverageMap({}, {}, [""], {})
        index = {"": 0}
        real = os.path.realpath(base) + os.sep
        for (mode, _), (out, data) in zip(tasks, parts):
            (cmap.claims if mode == "map-claims" else cmap.tests).update(out["seconds"])
            cmap.excluded += out.get("failed", [])
            cd = CoverageData(basename=str(data))
            cd.read()
            for measured in cd.measured_files():
                rel = os.path.relpath(os.path.realpath(measured), real)
                top, _, rest = rel.partition("/")
                if top != "l2l":
                    continue
                file = rest if rest.split("/", 1)[0] in FOLDERS else rel
                by_line = cmap.lines.setdefault(file, {})
                for ln, ctxs in cd.contexts_by_lineno(measured).items():
                    slot = by_line.setdefault(str(ln), [])
                    for c in ctxs:
                        slot.append(index.setdefault(c, len(index)))
        cmap.contexts = list(index)
        for name in cmap.excluded:
            cmap.claims.pop(name, None)
            cmap.tests.pop(name, None)
        for by_line in cmap.lines.values():
            for ln in by_line:
                by_line[ln] = sorted(set(by_line[ln]))
    return cmap


def coverage_map(base: Path, sources: str, jobs: int, log=print) -> CoverageMap:
    """The cached map if its source hash matches, else a new one (written to the cache)."""
    if COVERAGE_CACHE.exists():
        cached = json.loads(COVERAGE_CACHE.read_text())
        if cached.get("hash") == sources:
            log(f"coverage map: from {COVERAGE_CACHE.name}")
            return CoverageMap(**cached["map"])
    t0 = time.perf_counter()
    log(f"coverage map: running the ci claims and {len(_test_files(base))} test files under coverage")
    cmap = build_coverage_map(base, jobs, log)
    COVERAGE_CACHE.write_text(json.dumps({"hash": sources, "map": asdict(cmap)}))
    log(f"coverage map: {len(cmap.claims)} claims, {len(cmap.tests)} tests, {time.perf_counter() - t0:.0f} s"
        + (f"; left out (fail on the pristine copy): {', '.join(cmap.excluded)}" if cmap.excluded else ""))
    return cmap


# ---------------------------------------------------------------------------------------------
# one mutant


@dataclass
class Result:
    name: str
    file: str
    status: str  # killed | survived | broken
    killed_by: list[str] = field(default_factory=list)
    stage: str = ""
    seconds: float = 0.0
    hash: str = ""
    equivalent: str = ""
    why: str = ""
    detail: str = ""


_CATALOGUE: list[str] = []


def catalogue_ids(base: Path | None = None) -> list[str]:
    """Every catalogued claim id (``l2l list --json``) of the pristine copy ``base`` (default: the
    working tree), listed once per run."""
    if not _CATALOGUE:
        if base is not None:
            proc = _run(base, "check", ["list", "--json"], 300)
        else:
            proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "list", "--json"], cwd=ROOT,
                                  capture_output=True, text=True, check=True)
        _CATALOGUE.extend(c["id"] for c in json.loads(proc.stdout)["claims"])
    return list(_CATALOGUE)


def run_mutant(mutant: Mutant, sources: str, workdir: Path | None = None, *, cmap: CoverageMap | None = None,
               only_claims: list[str] | None = None, base: Path | None = None) -> Result:
    """Apply ``mutant`` in a temporary copy and run the claims, then the tests, that execute the
    mutated statement (``cmap``), stopping at the first that notices.
    ``only_claims``: run just these claims (the fast test uses it; no map needed)."""
    t0 = time.perf_counter()
    res = Result(mutant.name, mutant.file, "broken", hash=mutant_hash(mutant, sources),
                 equivalent=mutant.equivalent, why=mutant.why)
    with tempfile.TemporaryDirectory(prefix="l2l-mutant-", dir=workdir) as tmp:
        try:
            copy = make_copy(Path(tmp) / "src", mutant, base)
        except ValueError as exc:
            res.detail = str(exc)
            res.seconds = round(time.perf_counter() - t0, 1)
            return res
        if only_claims is not None:
            claims, tests = list(only_claims), []
        else:
            lines = statement_lines((ROOT / mutant.file).read_text() if base is None
                                    else (base / _copy_path(mutant.file)).read_text(), mutant.old)
            claims, tests, at_import = cmap.candidates(mutant.file, lines)
            # the mutant's own targets (code the map does not see, e.g. what runs in a CLI subprocess)
            claims += [c for c in mutant.claims if c not in claims]
            tests += [t for t in mutant.tests if t not in tests]
            span = f"{lines[0]}" if len(lines) == 1 else f"{lines[0]}-{lines[-1]}"
            res.detail = (f"line {span}: executed by {len(claims)} claims, {len(tests)} tests"
                          + (" (at import time: all are candidates)" if at_import else ""))
        try:
            for stage, run, items in (("claims", run_check, claims), ("tests", run_tests, tests)):
                killers = run(copy, items) if items else []
                if killers:
                    res.status, res.killed_by, res.stage = "killed", killers, stage
                    break
            else:
                res.status = "survived"
        except GuardError as exc:
            res.status, res.detail = "broken", f"import guard: {exc}"
        except StageTimeout as exc:
            res.status, res.detail = "broken", str(exc)
    res.seconds = round(time.perf_counter() - t0, 1)
    return res


# ---------------------------------------------------------------------------------------------
# the command


def _load(path: Path) -> dict[str, dict]:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["name"]] = r
    return done


def score(results: list[dict]) -> tuple[int, int, float]:
    counted = [r for r in results if not r.get("equivalent")]
    killed = sum(r["status"] == "killed" for r in counted)
    survived = sum(r["status"] == "survived" for r in counted)
    return killed, survived, (killed / (killed + survived) if killed + survived else float("nan"))


def table(results: list[dict]) -> str:
    by_name = {m.name: m for m in MUTANTS}
    w = max([len(r["name"]) for r in results] + [6])
    lines = [f"{'mutant':<{w}}  {'status':<8}  {'seconds':>7}  killed by"]
    for r in results:
        eq = " (equivalent)" if r.get("equivalent") else ""
        kb = ", ".join(r["killed_by"][:3]) + (f" (+{len(r['killed_by']) - 3})" if len(r["killed_by"]) > 3 else "")
        stage = f"[{r['stage']}] " if r.get("stage") else ""
        lines.append(f"{r['name']:<{w}}  {r['status'] + eq:<8}  {r['seconds']:>7.1f}  {stage}{kb or r.get('detail', '')}")
    k, s, sc = score(results)
    lines.append("")
    lines.append(f"score = killed / (killed + survived) = {k} / {k + s} = {sc:.1%}"
                 f"  ({sum(r['status'] == 'broken' for r in results)} broken,"
                 f" {sum(bool(r.get('equivalent')) for r in results)} declared equivalent)")
    by_claims = sum(r["status"] == "killed" and not r.get("equivalent") and r.get("stage") != "tests" for r in results)
    lines.append(f"claims' teeth = killed by a ci claim / (killed + survived) = {by_claims} / {k + s}"
                 f" = {by_claims / (k + s) if k + s else float('nan'):.1%}  (the rest only by unit tests)")
    surv = [r for r in results if r["status"] == "survived"]
    if surv:
        lines.append("survivors:")
        for r in surv:
            m = by_name.get(r["name"])
            eq = f"  [equivalent: {r['equivalent']}]" if r.get("equivalent") else ""
            lines.append(f"  {r['name']} ({r['file']}): {m.why if m else r.get('why', '')}{eq}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                    else os.cpu_count() or 1, help="mutants run side by side (default: CPUs available)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="only these mutants (names or name prefixes)")
    ap.add_argument("--resume", metavar="FILE", help="skip mutants already in FILE with the same hash")
    ap.add_argument("--results", metavar="FILE", default=None, help=f"append results here (default {DEFAULT_RESULTS})")
    ap.add_argument("--claims", nargs="+", metavar="ID", help="run only these claims on each mutant (exact ids; no "
                    "coverage map, no tests): does a new claim kill the mutants it is meant for?")
    ap.add_argument("--list", action="store_true", help="list the mutants (and whether each still applies)")
    ap.add_argument("--report", nargs="+", metavar="FILE", help="print the table of earlier results (JSON lines; "
                    "the last line of a mutant wins) without running anything")
    args = ap.parse_args(argv)
    if args.report:
        merged: dict[str, dict] = {}
        for path in args.report:
            merged.update(_load(Path(path)))
        order = [m.name for m in MUTANTS]
        rows = [merged[n] for n in order if n in merged] + [r for n, r in merged.items() if n not in order]
        print(table(rows))
        missing = [n for n in order if n not in merged]
        if missing:
            print(f"not run ({len(missing)}): {', '.join(missing)}")
        return 0

    mutants = list(MUTANTS)
    if args.only:
        mutants = [m for m in mutants if any(m.name == o or m.name.startswith(o) for o in args.only)]
        if not mutants:
            ap.error(f"no mutant matches {args.only}")
    if args.list:
        for m in mutants:
            problem = verify(m)
            print(f"{m.name:<50} {m.file:<40} {'BROKEN: ' + problem if problem else 'ok'}")
        print(f"{len(mutants)} mutants")
        return 0

    # a --claims run is partial evidence: it is written only where --results says
    out_path = Path(args.results or args.resume or DEFAULT_RESULTS) if not args.claims or args.results else None
    sources = source_hash()
    done = _load(Path(args.resume)) if args.resume else {}
    results: dict[str, dict] = {}
    todo = []
    for m in mutants:
        r = done.get(m.name)
        if r and r.get("hash") == mutant_hash(m, sources) and r["status"] != "broken":
            results[m.name] = r
        else:
            todo.append(m)
    print(f"{len(mutants)} mutants, {len(todo)} to run ({len(results)} resumed), --jobs {args.jobs}", flush=True)
    lock = threading.Lock()
    t0 = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="l2l-mutation-base-") as snap:
        base = make_copy(Path(snap) / "src", None)  # the sources, once: others may edit the tree meanwhile
        known = set(catalogue_ids(base))
        unknown = [c for c in args.claims or () if c not in known]
        if unknown:  # a typo must not crash the driver on every mutant and count as a kill
            ap.error(f"--claims: no catalogued claim {', '.join(unknown)} (exact ids, space-separated; see `l2l list`)")
        cmap = None
        if todo and not args.claims:
            cmap = coverage_map(base, sources, args.jobs, log=lambda msg: print(msg, flush=True))
        t1 = time.perf_counter()

        def one(m: Mutant) -> dict:
            r = asdict(run_mutant(m, sources, base=base, cmap=cmap, only_claims=args.claims))
            with lock:
                if out_path is not None:
                    with out_path.open("a") as f:
                        f.write(json.dumps(r) + "\n")
                print(f"[{time.perf_counter() - t0:6.0f} s] {r['name']}: {r['status']} ({r['seconds']:.0f} s) "
                      f"{', '.join(r['killed_by'][:2]) or r['detail']}", flush=True)
            return r

        with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for r in pool.map(one, todo):
                results[r["name"]] = r
    ordered = [results[m.name] for m in mutants if m.name in results]
    print()
    print(table(ordered))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s on --jobs {args.jobs}: the coverage map {t1 - t0:.0f} s, "
          f"{len(todo)} mutants {time.perf_counter() - t1:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
