"""The catalogue: the claims of every registered paper (:mod:`l2l.proofs.papers`), and user files.

>>> [c.id for c in load("wang2021")][:1]
['wang2021.thm3.closed-form']
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from . import papers as registry
from .claim import REGISTRY, Claim

__all__ = ["load", "load_all", "load_file", "select", "origin", "find", "CatalogueError"]


#: The module name of a claim file loaded by :func:`load_file` starts with this.
_USER_PREFIX = "l2l_user_claims_"


class CatalogueError(Exception):
    """A claim file or selector that cannot be loaded (the CLI reports it in one line, exit 2)."""


def load(paper: str) -> list[Claim]:
    """The claims of one registered paper, in definition order."""
    try:
        return registry.get(paper).load_claims()
    except registry.PaperError as exc:
        raise CatalogueError(str(exc)) from None


def load_all() -> list[Claim]:
    """Every catalogued claim, paper by paper in report order."""
    out: list[Claim] = []
    try:
        for paper in registry.papers():
            out.extend(paper.load_claims())
    except registry.PaperError as exc:
        raise CatalogueError(str(exc)) from None
    return out


def load_file(path: str) -> list[Claim]:
    """Import a user's claim file and return the claims it defines."""
    p = Path(path)
    if not p.is_file():
        raise CatalogueError(f"{path}: no such file")
    name = f"{_USER_PREFIX}{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise CatalogueError(f"{path}: cannot be imported as a Python file")
    load_all()  # the catalogue first: a file that reuses a catalogue id then fails to load (one line)
    _probe_import(path, spec)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with contextlib.redirect_stdout(sys.stderr):  # output at import never reaches --json on stdout
            spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - any import failure (SystemExit too) is a load error
        sys.modules.pop(name, None)
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CatalogueError(f"cannot load {path}: {type(exc).__name__}: {first}".rstrip(": ")) from None
    claims = [v for v in vars(module).values() if isinstance(v, Claim)]
    if not claims:
        raise CatalogueError(f"{path}: defines no claim (decorate a check with l2l.claim)")
    return claims


def _probe_import(path: str, spec: Any) -> None:
    """Import the file once in a forked process first, so that a file which ends the process at
    import (``os._exit``, a crash) is a load error in one line instead of the end of the run."""
    if not hasattr(os, "fork"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(done_r)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        except BaseException:  # noqa: BLE001 - an exception is reported by the real import below
            pass
        finally:
            os.write(done_w, b"1")  # the import returned (or raised): the process was not ended
            os._exit(0)
    os.close(done_w)
    with os.fdopen(done_r, "rb") as fh:
        returned = fh.read() == b"1"
    _, status = os.waitpid(pid, 0)
    if not returned:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.WEXITSTATUS(status)}"
        raise CatalogueError(f"cannot load {path}: importing it ended the process ({how})")


def select(selectors: list[str]) -> list[Claim]:
    """Claims named by ids, id prefixes (``wang2021``, ``wang2021.thm4``) or ``.py`` files; all
    catalogued claims when ``selectors`` is empty."""
    if not selectors:
        return load_all()
    out: list[Claim] = []
    catalogue: list[Claim] | None = None
    for sel in selectors:
        if sel.endswith(".py"):
            out.extend(load_file(sel))
            continue
        if catalogue is None:
            catalogue = load_all()
        hit = [c for c in catalogue if c.id == sel or c.id.startswith(sel + ".") or c.id.startswith(sel + "-")]
        if not hit:
            raise CatalogueError(f"no claim id or prefix matches {sel!r} (see `l2l list`)")
        out.extend(hit)
    seen: set[str] = set()
    unique = [c for c in out if not (c.id in seen or seen.add(c.id))]
    # paper by paper in report order (each paper's claims contiguous), user files last
    order = {p.claim_module(): k for k, p in enumerate(registry.papers())}
    return sorted(unique, key=lambda c: order.get(c.module, len(order)))


def origin(c: Claim) -> tuple[str, str, str | None, str | None]:
    """Where ``c`` comes from, for another process to :func:`find` it: ``(id, module, path,
    digest)``, with the claim file's path and the SHA-256 of its bytes when ``c`` was loaded from a
    ``FILE.py`` (else None: the catalogue, or a module imported by name)."""
    if not c.module.startswith(_USER_PREFIX):
        return c.id, c.module, None, None
    path = getattr(sys.modules.get(c.module), "__file__", None)
    if not path:
        return c.id, c.module, None, None
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        digest = None
    return c.id, c.module, str(Path(path).resolve()), digest


_FILES: dict[tuple[str, str | None], list[Claim]] = {}  # claim files this process has loaded for find()


def find(claim_id: str, module: str, path: str | None = None, digest: str | None = None) -> Claim:
    """The claim that :func:`origin` described, in this process (say, a Dask worker): read again from
    the claim file ``path`` when it has one (which must still have the bytes ``digest``; loaded once
    per process), else from the catalogue, else by importing ``module``. Raises
    :class:`CatalogueError` when it cannot be found or the file changed."""
    if path is not None:
        try:
            now = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError as exc:
            raise CatalogueError(f"{path}: cannot be read here ({exc.strerror or exc})") from None
        if digest is not None and now != digest:
            raise CatalogueError(f"{path}: its content here differs from the caller's (a changed file, or another machine)")
        if (path, now) not in _FILES:
            _FILES[(path, now)] = load_file(path)
        hit = [c for c in _FILES[(path, now)] if c.id == claim_id]
        if not hit:
            raise CatalogueError(f"{path}: defines no claim {claim_id!r}")
        return hit[0]
    c = REGISTRY.get(claim_id)
    if c is None or c.module != module:
        load_all()
        c = REGISTRY.get(claim_id)
    if c is None or c.module != module:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is reported in one line
            raise CatalogueError(f"claim {claim_id}: its module {module} cannot be imported here ({type(exc).__name__}: {exc})") from None
        c = REGISTRY.get(claim_id)
    if c is None or c.module != module:
        raise CatalogueError(f"claim {claim_id}: not defined by {module} here")
    return c
