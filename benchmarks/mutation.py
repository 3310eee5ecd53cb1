"""Mutation harness: how many small, deliberate bugs does the claim catalogue catch? (issue 13)

A claim counts as evidence only if it would fail were the code or the mathematics wrong. Each
mutant of :mod:`benchmarks.mutants` is one named change (``old`` -> ``new``, ``old`` occurring
exactly once in its file). For each mutant the harness

1. copies the package sources to a temporary folder laid out as the installed package
   (``l2l/__init__.py``, ``theory/`` -> ``l2l/theory``, ``numerics/`` -> ``l2l/numerics``,
   ``proofs/`` -> ``l2l/proofs``, as setup.py maps them; the tests are copied beside it), applies
   the substitution there -- the working tree is never edited -- and
2. runs, in subprocesses that import that copy (checked for every mutant and every stage: the
   copy's ``l2l/__init__.py`` records each process that imports it, and the wrapper asserts that
   ``l2l``, ``l2l.theory``, ``l2l.numerics`` and ``l2l.proofs`` come from the copy; the editable
   install's finder is removed from ``sys.meta_path``), in order and stopping at the first stage
   that kills it:

   * the ``ci`` claims most likely to notice (the prefixes mapped to the mutated file),
   * the rest of the ``ci`` catalogue,
   * the unit-test files mapped to the mutated file (``pytest -x`` under ``L2L_PROFILE=ci``).

A mutant is *killed* when a claim's verdict differs from its ``expect`` (``l2l check`` exits 1) or
a test fails; *survived* when nothing noticed; *broken* when it could not be applied (its ``old``
no longer occurs exactly once) or the import guard failed. Mutants declared ``equivalent`` are run
and listed but count neither way. Score = killed / (killed + survived).

Run::

    python benchmarks/mutation.py                      # every mutant, --jobs = CPUs available
    python benchmarks/mutation.py --only issue13.greedy-eta-power --jobs 1
    python benchmarks/mutation.py --resume benchmarks/mutation-results.jsonl
    python benchmarks/mutation.py --list

Results are appended, one JSON line per mutant, to ``benchmarks/mutation-results.jsonl`` (git
ignored); ``--resume FILE`` skips the mutants already in FILE with the same hash (mutant definition
+ package and test sources).
"""

from __future__ import annotations

import argparse
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
TEST_TIMEOUT = 600  # the unit-test stage
GUARD_EXIT = 97

#: mutated file (prefix) -> (claim prefixes checked first, unit-test files run last)
TARGETS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("numerics/quadratic/", ("wang2021.thm3", "wang2021.thm4", "wang2021.eta-star", "wang2021.cor1", "wang2021.fig1",
                             "wang2021.neg"),
     ("tests/numerics/test_stable.py", "tests/numerics/test_unroll.py", "tests/numerics/test_metaopt.py",
      "tests/numerics/test_growth.py", "tests/proofs/test_wang2021.py")),
    ("numerics/least_squares/", ("wang2021.ls", "wang2021.thm5", "wang2021.thm6", "wang2021.sgd-analogue"),
     ("tests/numerics/test_least_squares.py", "tests/numerics/test_moments.py", "tests/numerics/test_montecarlo.py",
      "tests/numerics/test_metaopt_tasks.py", "tests/proofs/test_eval_least_squares.py")),
    ("numerics/nqm/zhang.py", ("wu2018.zhang", "wu2018.finding.sgd-plateau", "wu2018.finding.momentum-equals",
                               "wu2018.neg.perfect-scaling", "wu2018.neg.momentum-risk"),
     ("tests/numerics/test_zhang.py",)),
    ("numerics/nqm/", ("wu2018.dynamics", "wu2018.adjoint", "wu2018.greedy", "wu2018.bias", "wu2018.bellman",
                       "wu2018.deterministic-control", "wu2018.look-ahead", "wu2018.momentum", "wu2018.neg.greedy",
                       "wu2018.neg.velocity", "wu2018.properties", "wu2018.offline-family", "wu2018.neg.best-decay",
                       "wu2018.finding"),
     ("tests/numerics/test_nqm.py", "tests/numerics/test_nqm_reference.py", "tests/proofs/test_eval_nqm.py",
      "tests/proofs/test_wu2018.py")),
    ("numerics/toys/", ("wu2018.offline-family.mlp-analogue",), ("tests/numerics/test_mlp.py",)),
    ("theory/quadratic.py", ("wang2021.thm3", "wang2021.thm4"), ("tests/theory/test_quadratic.py",)),
    ("theory/least_squares.py", ("wang2021.ls", "wang2021.thm5", "wang2021.thm6"),
     ("tests/theory/test_least_squares.py",)),
    ("theory/sgd_moments.py", ("wang2021.sgd-analogue", "wang2021.thm5", "wang2021.thm6"),
     ("tests/theory/test_sgd_moments.py",)),
    ("theory/nqm.py", ("wu2018.dynamics", "wu2018.greedy", "wu2018.zhang", "wu2018.adjoint"),
     ("tests/theory/test_nqm.py",)),
    ("theory/", ("wang2021.thm3", "wang2021.thm4", "wang2021.ls", "wu2018.dynamics"),
     ("tests/theory/test_derivation.py",)),
    ("proofs/strategies.py", ("wang2021.thm3", "wang2021.thm4", "wu2018.properties", "wu2018.greedy"),
     ("tests/proofs/test_papers.py",)),
)


#: ci claims that took more than 4 s each in a baseline ``l2l check --profile ci --jobs 1`` (2 cores,
#: December 2026; 150 of the catalogue's 170 s): each stage runs its other claims first, these after,
#: so that a mutant killed by a cheap claim does not pay for them.
SLOW_CLAIMS = frozenset({
    "wu2018.offline-family.mlp-analogue", "wang2021.thm4.meta-gd-converges", "wu2018.momentum.short-horizon-bias",
    "wu2018.look-ahead.reduces-but-keeps-bias", "wang2021.cor1.backprop-fails-at-predicted-horizon",
    "wu2018.offline-family.best-decay-falls-with-horizon", "wang2021.fig1.meta-gd-paper-setting",
    "wang2021.thm5.tbt-error-grows-with-sigma", "wu2018.zhang.critical-batch-size", "wu2018.bias.greedy-worse-at-T",
})


def _under(claim_id: str, prefixes: tuple[str, ...]) -> bool:
    return any(claim_id == p or claim_id.startswith(p + ".") or claim_id.startswith(p + "-") for p in prefixes)


def targets(mutant: Mutant) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(claim prefixes, test files) for a mutant: its own, else the first TARGETS row matching its file."""
    for prefix, claims, tests in TARGETS:
        if mutant.file.startswith(prefix):
            return (mutant.claims or claims), (mutant.tests or tests)
    return mutant.claims, mutant.tests


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
else:
    import pytest
    code = pytest.main(sys.argv[1:])
    for name, mod in list(sys.modules.items()):
        if name.startswith("l2l") and getattr(mod, "__file__", None):
            if not os.path.realpath(mod.__file__).startswith(root + os.sep):
                print(f"MUTATION-GUARD: {name} imported from {mod.__file__}", file=sys.stderr)
                sys.exit(%d)
    sys.exit(int(code))
''' % (GUARD_EXIT, GUARD_EXIT)


class GuardError(RuntimeError):
    """The subprocess did not import the mutated copy: its result would be dishonest."""


class StageTimeout(RuntimeError):
    """A stage's subprocess ran past its time limit: the mutant is reported as broken (counted
    neither way) rather than guessed killed or survived."""


def _run(copy: Path, what: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    trace = copy / f"trace-{what}-{time.monotonic_ns()}.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONPATH=str(copy), L2L_MUTATION_TRACE=str(trace), L2L_PROFILE="ci", PYTHONHASHSEED="0",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
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
    """The claims among ``ids`` (ids or prefixes) whose verdict misses its expectation; [] if none."""
    proc = _run(copy, "check", ["check", "--json", "--profile", "ci", "--jobs", "1", "--timeout",
                                str(CLAIM_TIMEOUT), *ids], timeout)
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        if proc.returncode == 0:
            return []
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return [f"l2l check crashed (exit {proc.returncode}): {tail[:200]}"]
    if proc.returncode == 0:  # l2l check exits 1 exactly when a verdict misses its expectation
        return []
    missed = [f"{r['id']} ({r['verdict']}, expect {r['expect']})" for r in out.get("claims", []) if not _matches(r)]
    return missed or [f"l2l check exit {proc.returncode}"]


def _matches(r: dict) -> bool:
    """The runner's rule (ClaimResult.matches): proved/holds match ``holds``, refuted matches
    ``refuted``, an error matches nothing."""
    if "matches" in r:
        return bool(r["matches"])
    if r["verdict"] == "error":
        return False
    return ("holds" if r["verdict"] in ("proved", "holds") else "refuted") == r["expect"]


def run_tests(copy: Path, files: list[str], timeout: float = TEST_TIMEOUT) -> list[str]:
    """The failing tests among ``files`` (stops at the first, ``-x``); [] if they all pass."""
    files = [f for f in files if (copy / f).exists()]
    if not files:
        return []
    proc = _run(copy, "pytest", ["-x", "-q", "-p", "no:cacheprovider", *files], timeout)
    if proc.returncode in (0, 5):  # 5: nothing collected
        return []
    failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in proc.stdout.splitlines()
              if ln.startswith(("FAILED ", "ERROR "))]
    return failed or [f"pytest exit {proc.returncode}: {(proc.stdout.strip().splitlines() or ['?'])[-1][:200]}"]


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


def run_mutant(mutant: Mutant, sources: str, workdir: Path | None = None, *,
               only_claims: list[str] | None = None, base: Path | None = None) -> Result:
    """Apply ``mutant`` in a temporary copy and run the stages (claims mapped to the file, the rest
    of the ``ci`` catalogue, the mapped unit tests), stopping at the first that kills it.
    ``only_claims``: run just these claims, one batch (the fast test uses it)."""
    t0 = time.perf_counter()
    res = Result(mutant.name, mutant.file, "broken", hash=mutant_hash(mutant, sources),
                 equivalent=mutant.equivalent, why=mutant.why)
    claims, tests = targets(mutant)
    with tempfile.TemporaryDirectory(prefix="l2l-mutant-", dir=workdir) as tmp:
        try:
            copy = make_copy(Path(tmp) / "src", mutant, base)
        except ValueError as exc:
            res.detail = str(exc)
            res.seconds = round(time.perf_counter() - t0, 1)
            return res
        try:
            every = catalogue_ids()
            mine = [i for i in every if _under(i, tuple(claims))]
            rest = [i for i in every if i not in mine]
            stages = []
            for stage, ids in (("claims", mine), ("catalogue", rest)):
                fast = [i for i in ids if i not in SLOW_CLAIMS]
                slow = [i for i in ids if i in SLOW_CLAIMS]
                stages += [(stage, fast), (stage + " (slow)", slow)]
            full = only_claims is None
            if not full:
                stages = [("claims", list(only_claims))]
            for stage, ids in stages:
                killers = run_check(copy, ids) if ids else []
                if killers:
                    res.status, res.killed_by, res.stage = "killed", killers, stage
                    break
            else:
                killers = run_tests(copy, list(tests)) if full else []
                if killers:
                    res.status, res.killed_by, res.stage = "killed", killers, "tests"
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

    out_path = Path(args.results or args.resume or DEFAULT_RESULTS)
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
        catalogue_ids(base)

        def one(m: Mutant) -> dict:
            r = asdict(run_mutant(m, sources, base=base))
            with lock:
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
    print(f"\nwall time {time.perf_counter() - t0:.0f} s for {len(todo)} mutants on --jobs {args.jobs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
