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
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_request

    out = evaluate_request(_read_json(args.file))
    json.dump(out, sys.stdout, indent=None if args.compact else 1, allow_nan=False)
    sys.stdout.write("\n")
    return 0


def _build_parser() -> _Parser:
    parser = _Parser(prog="l2l", description="Verify the theory of learning-to-learn.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_eval = sub.add_parser("eval", help="evaluate one problem given as JSON (FILE or - for stdin)")
    p_eval.add_argument("file", metavar="FILE.json", help="input JSON file, or - for standard input")
    p_eval.add_argument("--compact", action="store_true", help="print the JSON on one line")
    p_eval.set_defaults(func=_cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from numerics.validation import ValidationError

    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
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
