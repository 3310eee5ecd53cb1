"""The ``l2l`` command line (``../shared/DESIGN.md``, "Command line": a stable contract).

Exit codes: 0 success (every verdict matches its expectation), 1 a verdict missed its expectation,
2 a usage, input or load error — reported as one line on stderr, never a traceback.

Subcommands import their machinery lazily: ``l2l eval`` loads numpy only.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """A problem with the command line or its input: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse would print usage too)
        raise UsageError(message)


def _reject_constant(name: str) -> float:
    raise UsageError(f"input: non-finite number {name} is not allowed in JSON input")


def _read_json(path: str) -> object:
    """Read at most MAX_INPUT_BYTES + 1 bytes (so /dev/zero or an endless pipe is refused at once)
    and parse them with :func:`l2l.proofs.evaluate.parse_request` (which names the bad field)."""
    from .evaluate import MAX_INPUT_BYTES, parse_request

    cap = MAX_INPUT_BYTES + 1
    try:
        if path == "-":
            buf = getattr(sys.stdin, "buffer", None)
            if buf is not None:
                raw = buf.read(cap)
            else:  # a text stream (tests replace sys.stdin with io.StringIO)
                raw = sys.stdin.read(cap).encode("utf-8", "surrogateescape")
        else:
            with open(path, "rb") as fh:
                raw = fh.read(cap)
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    return parse_request(raw, "input" if path == "-" else path)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_request

    out = evaluate_request(_read_json(args.file))
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    # the whole output is built before any of it is written: an error never leaves partial output
    if fmt == "table":
        from .tables import results_table

        precision = out.get("environment", {}).get("precision", "")
        n = len(out["results"])
        text = f"model {out['model']}: {n} result{'' if n == 1 else 's'}\n\n{results_table(out)}\n\n{precision}"
    else:
        text = json.dumps(out, indent=None if args.compact else 1, allow_nan=False)
    sys.stdout.write(text + "\n")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from .catalogue import CatalogueError, select

    try:
        claims = select(args.prefixes)
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        json.dump({"claims": [c.describe() for c in claims]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    width = max(len(c.id) for c in claims)
    for c in claims:
        print(f"{c.id:<{width}}  {c.kind:<10}  expect {c.expect:<7}  [{c.tag}]  {c.source}")
    print(f"{len(claims)} claims ({sum(c.expect == 'refuted' for c in claims)} negative controls)")
    return 0


def _scheduler(args: argparse.Namespace) -> None:
    """Fail fast (exit 2) when ``--scheduler`` is given without Dask installed."""
    if getattr(args, "scheduler", None) is not None:
        from .distributed import SchedulerError, require

        try:
            require()
        except SchedulerError as exc:
            raise UsageError(str(exc)) from None


def _cmd_check(args: argparse.Namespace) -> int:
    from .catalogue import CatalogueError, select
    from .distributed import SchedulerError
    from .environment import environment
    from .progress import progress_bar
    from .runner import run_claims

    _scheduler(args)
    try:
        claims = select(args.targets)
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    width = max(len(c.id) for c in claims)
    bar = progress_bar(len(claims), [c.id for c in claims])
    lines = args.progress and bar is None  # one line per claim on stderr where no bar can be drawn

    def echo(text: str) -> None:
        if bar is not None and sys.stdout.isatty():
            bar.write(text, sys.stdout)
        else:
            print(text, flush=True)

    def show(k: int, r) -> None:
        if bar is not None and r.cached:
            bar.done(k, cached=True)
        if lines and k + 1 < len(claims):
            print(f"[{k + 2}/{len(claims)}] {claims[k + 1].id} ...", file=sys.stderr, flush=True)
        if args.json:
            return
        mark = "ok  " if r.matches else "MISS"
        echo(f"{mark} {r.verdict:<8} {r.id:<{width}}  {r.examples:>5} ex  {r.seconds:7.2f} s" + ("  (cached)" if r.cached else ""))
        if r.verdict in ("refuted", "error") or not r.matches:
            echo(f"       expect {r.expect}: {r.message}")
            for ce in r.counterexamples or ([r.counterexample] if r.counterexample is not None else []):
                echo("       counterexample: " + json.dumps(ce)[:2000])

    if lines:
        print(f"[1/{len(claims)}] {claims[0].id} ...", file=sys.stderr, flush=True)
    # with several jobs a result is shown once every claim before it is done (the order of `claims`)
    try:
        results = run_claims(claims, profile=args.profile, seed=args.seed, timeout=args.timeout, on_result=show,
                             jobs=args.jobs, cache=not args.no_cache, scheduler=args.scheduler,
                             on_start=bar.start if bar is not None else None,
                             on_done=(lambda k, r: bar.done(k)) if bar is not None else None)
    except SchedulerError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    missed = [r for r in results if not r.matches]
    if args.json:
        out = {
            "claims": [r.to_json() for r in results],
            "environment": environment(
                precision="float64 evaluators; mpmath references at 50-60 digits", profile=args.profile, seed=args.seed
            ),
        }
        json.dump(out, sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    else:
        total = sum(r.seconds for r in results)
        hits = sum(r.cached for r in results)
        print(
            f"{len(results)} claims, {len(results) - len(missed)} as expected, {len(missed)} not "
            f"(profile {args.profile}, seed {args.seed}, {total:.1f} s"
            + (f"; {hits} from the result cache, --no-cache to run them again" if hits else "") + ")"
        )
    return 1 if missed else 0


def _derivation_names(prefixes: Sequence[str], option: str) -> tuple[str, ...]:
    from l2l.theory import registry

    try:
        return registry.select(prefixes)
    except KeyError as exc:
        raise UsageError(f"{option}{exc.args[0]}") from None


def _cmd_derive(args: argparse.Namespace) -> int:
    from l2l.theory import registry

    names = _derivation_names(args.names, "")
    if args.list:
        width = max(len(n) for n in names)
        for n in names:
            print(f"{n:<{width}}  {registry.get(n).title}")
        print(f"{len(names)} derivations")
        return 0
    ok = True
    for k, name in enumerate(names):
        derivation = registry.get(name)
        verification = registry.verified(name)
        ok = ok and verification.ok
        if k:
            print()
        if args.format == "latex":
            print(derivation.to_latex())
        elif args.format == "markdown":
            print(derivation.to_markdown(verification))
        else:
            print(derivation.to_text(verification))
    return 0 if ok else 1


def _cmd_report(args: argparse.Namespace) -> int:
    from .catalogue import CatalogueError
    from .report import ReportError, build_report

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    names = None
    if "none" in args.derivations:
        names = []
    elif args.derivations:
        names = list(_derivation_names(args.derivations, "--derivations: "))
    from .distributed import SchedulerError

    _scheduler(args)
    try:
        data = build_report(
            args.out, profile=args.profile, seed=args.seed, selectors=args.claims, formats=formats,
            derivation_names=names, timeout=args.timeout, jobs=args.jobs, cache=not args.no_cache,
            scheduler=args.scheduler, progress=True,
        )
    except (ReportError, CatalogueError, SchedulerError) as exc:
        raise UsageError(str(exc)) from None
    missed = data.missed
    for r in missed:
        print(f"MISS {r.id}: verdict {r.verdict}, expected {r.expect}: {r.message}", file=sys.stderr)
    print(
        f"{len(data.claims)} claims, {len(data.claims) - len(missed)} as expected, {len(missed)} not; "
        f"{len(data.derivations)} derivations, {sum(not v.ok for _, v in data.derivations)} with failed steps; "
        f"report in {args.out}"
    )
    return 1 if missed else 0


def _profile(value: str) -> str:
    if value not in ("ci", "dev", "thorough"):
        raise UsageError(f"--profile: must be one of ci, dev, thorough (got {value!r})")
    return value


def _seed(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--seed: must be an integer in [0, 2^32) (got {value!r})") from None
    if not 0 <= n < 2**32:
        raise UsageError(f"--seed: must be an integer in [0, 2^32) (got {n})")
    return n


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise UsageError(f"--jobs: must be an integer in [1, 256] (got {value!r})")
    return n


def _timeout(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if not 1 <= x <= 86400:
        raise UsageError(f"--timeout: must be a number of seconds in [1, 86400] (got {value!r})")
    return x


def _address(value: str) -> str:
    if not value.strip() or any(ch.isspace() for ch in value) or len(value) > 512:
        raise UsageError(f"--scheduler: must be a Dask scheduler address such as tcp://127.0.0.1:8786 (got {value!r})")
    return value


_EXAMPLES = {
    "eval": """examples:
  l2l eval examples/quadratic_gd.json                 # a table on a terminal, JSON in a pipe
  l2l eval examples/nqm.json --format table
  echo '{"model": "quadratic_gd", ...}' | l2l eval - --format json""",
    "list": """examples:
  l2l list                       # every catalogued claim
  l2l list wang2021.thm4 --json  # the claims under a prefix, as JSON""",
    "check": """examples:
  l2l check wang2021.thm4                     # the claims under a prefix (profile ci)
  l2l check wu2018 --profile thorough --jobs 2
  l2l check wang2021 --profile thorough --scheduler tcp://127.0.0.1:8786   # on a Dask cluster
  l2l check examples/claims/naive_gradient_bound.py --json""",
    "report": """examples:
  l2l report                                   # everything, into ./report
  l2l report --claims wang2021.thm3 --derivations quadratic --format md,html,tex""",
    "derive": """examples:
  l2l derive --list                     # every derivation with its title
  l2l derive quadratic                  # all derivations under a prefix, checked
  l2l derive quadratic.log-gradient --format latex""",
}


def _build_parser() -> _Parser:
    parser = _Parser(prog="l2l", description="Verify the theory of learning-to-learn.",
                     epilog="Run `l2l COMMAND --help` for a command's options and examples.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str) -> _Parser:
        return sub.add_parser(name, help=help_text, description=help_text, epilog=_EXAMPLES[name],
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    def run_options(p: _Parser) -> None:
        p.add_argument("--profile", type=_profile, default="ci", help="ci | dev | thorough (default ci: reproducible)")
        p.add_argument("--seed", type=_seed, default=None, help="Hypothesis seed for a reproducible run")
        p.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                       help="claims run side by side in N worker processes (default: the CPUs available); "
                            "verdicts do not depend on it")
        p.add_argument("--timeout", type=_timeout, default=None, metavar="SECONDS",
                       help="hang guard per claim (default: the claim's, 900 s under ci); a claim stopped by it is an error")
        p.add_argument("--scheduler", type=_address, default=None, metavar="ADDRESS",
                       help="run the claims on this Dask scheduler (e.g. tcp://127.0.0.1:8786; needs the extra "
                            "l2l-theory[dask]); verdicts do not depend on it")
        p.add_argument("--no-cache", action="store_true",
                       help="run every claim and check every derivation (default: reuse results of unchanged claims "
                            "and verifications of this exact package source from $XDG_CACHE_HOME/l2l-theory/results "
                            "and .../derivations; L2L_NO_CACHE=1 also turns them off)")

    p_eval = command("eval", "evaluate one problem given as JSON (FILE or - for stdin)")
    p_eval.add_argument("file", metavar="FILE.json", help="input JSON file, or - for standard input")
    p_eval.add_argument("--format", choices=("table", "json"), default=None,
                        help="table (for people) or json (complete; DESIGN.md); default: table on a terminal, else json")
    p_eval.add_argument("--compact", action="store_true", help="print the JSON on one line")
    p_eval.set_defaults(func=_cmd_eval)

    p_list = command("list", "list catalogued claims (all, or those under the given ids or prefixes)")
    p_list.add_argument("prefixes", nargs="*", metavar="ID-or-prefix | FILE.py")
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_list.set_defaults(func=_cmd_list)

    p_check = command("check", "check claims: catalogue ids, id prefixes or claim files (default: all)")
    p_check.add_argument("targets", nargs="*", metavar="ID-or-prefix | FILE.py")
    run_options(p_check)
    p_check.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    p_check.add_argument("--progress", action="store_true",
                         help="report each claim on stderr as it starts (on a terminal a progress bar is shown anyway)")
    p_check.set_defaults(func=_cmd_check)

    p_report = command("report", "run claims, verify derivations, write Markdown/HTML/LaTeX with figures")
    p_report.add_argument("--out", default="report", metavar="DIR", help="output folder (default: report)")
    run_options(p_report)
    p_report.add_argument(
        "--claims", action="append", default=[], metavar="ID-or-prefix | FILE.py",
        help="claims to run (repeatable; default: the whole catalogue)",
    )
    p_report.add_argument(
        "--derivations", action="append", default=[], metavar="NAME-or-prefix | none",
        help="derivations to verify and show (repeatable, e.g. quadratic or nqm.greedy-sgd; default: all)",
    )
    p_report.add_argument("--format", default="md,html", help="comma-separated subset of md,html,tex (default md,html)")
    p_report.set_defaults(func=_cmd_report)

    p_derive = command("derive", "print derivations (names or prefixes) with their machine-check status")
    p_derive.add_argument("names", nargs="*", metavar="NAME-or-prefix",
                          help="e.g. quadratic or quadratic.log-gradient (default: all; see --list)")
    p_derive.add_argument("--list", action="store_true", help="list the derivation names and titles (no checking)")
    p_derive.add_argument("--format", choices=("latex", "markdown", "text"), default="text")
    p_derive.add_argument("--no-cache", action="store_true",
                          help="check every derivation again (default: reuse verifications of this exact package "
                               "source from $XDG_CACHE_HOME/l2l-theory/derivations; L2L_NO_CACHE=1 also turns it off)")
    p_derive.set_defaults(func=_cmd_derive)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from l2l.numerics.validation import ValidationError

    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "jobs", 0) is None:
            from .workers import default_jobs

            args.jobs = default_jobs()
        if getattr(args, "no_cache", None) is None:  # eval, list: no derivation is verified
            return int(args.func(args))
        from l2l.theory.store import verification_store  # no SymPy: a run that verifies nothing never imports it

        from .cache import DerivationCache

        with verification_store(None if args.no_cache else DerivationCache()):
            return int(args.func(args))
    except (UsageError, ValidationError) as exc:
        print(f"l2l: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `l2l eval x.json | head`: the reader went away, not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("l2l: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, never a traceback dump
        print(f"l2l: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
