"""The disk cache: where it lives, the hash of this package's source, claim results and
derivations' verifications.

Everything cached lives under :func:`cache_root` (``$XDG_CACHE_HOME/l2l-theory``, else
``~/.cache/l2l-theory``): the report's figures (``figures/``, :mod:`l2l.proofs.report.figures`),
the numbers claims publish for them (``data/``) and, here, claim results (``results/``) and
verifications of registered derivations (``derivations/``, :class:`DerivationCache`).
``L2L_NO_CACHE=1`` turns all of it off; ``L2L_NO_RESULT_CACHE=1`` the result cache only (the test
suite sets it, so no test reads a result cached by another run or by the user).

**Claim results.** A long ``thorough`` run resumes after an interruption: each result is written,
one small JSON file per claim, atomically (a temporary file and ``os.replace``) as soon as the
claim finishes, so killing the run loses at most the claims then running. A later run with the same
key reads the result instead of running the claim. The key (:func:`result_key`) is the SHA-256 of
everything a verdict depends on (DESIGN.md, "Verdicts are deterministic": the code, the claim, the
profile and the seed):

* the source of every ``.py`` file of the package (:func:`source_hash`) and its version;
* the claim's id and the source file of the module that defines it (a user's ``FILE.py``; other
  files that module imports are not covered: change the claim file, or run with ``--no-cache``);
* the versions of what computes the numbers (Python, NumPy, SciPy, SymPy, mpmath, Hypothesis) and
  the machine's architecture (its floating-point library);
* the profile and the seed.

Only verdicts that are a function of that key are stored: ``holds``, ``refuted`` and ``proved``.
``error`` (a timeout, a crash, an exit) is never cached, and neither is a claim whose module source
cannot be read. An unseeded ``dev`` or ``thorough`` run of a Hypothesis claim draws random examples;
its cached result is that draw (``--seed`` picks one, ``--no-cache`` draws afresh). A file that
cannot be read, parsed or does not match its key is ignored (the claim runs again and the file is
rewritten); the cache never changes a verdict or stops a run. A result read from the cache is the
same record as the run that wrote it (verdict, expectation, example count, counterexamples,
message, evidence, and ``seconds`` of that run), with ``cached=True``; only
``raw_counterexample`` (Python objects) is not kept.

>>> import tempfile
>>> from l2l import claim
>>> from l2l.proofs.runner import run_claims
>>> @claim(id="doc.cache", statement="-", source="doc", kind="identity")
... def trivially():
...     assert 1 + 1 == 2
>>> store = ResultCache(tempfile.mkdtemp())  # the CLI's default: ResultCache() under cache_root()
>>> [(r.verdict, r.cached) for r in run_claims([trivially], profile="ci", cache=store)]
[('holds', False)]
>>> [(r.verdict, r.cached) for r in run_claims([trivially], profile="ci", cache=store)]
[('holds', True)]
>>> from l2l.proofs.claim import REGISTRY; _ = REGISTRY.pop("doc.cache")
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .claim import Claim

__all__ = ["cache_root", "package_files", "source_hash", "ResultCache", "result_key", "CACHED_VERDICTS", "DerivationCache"]

#: Verdicts that depend on the key alone (an ``error`` may come from the machine: never stored).
CACHED_VERDICTS = ("holds", "refuted", "proved")
#: Bumped when the stored record changes; part of every key.
FORMAT = "l2l-result/1"
#: The same for a stored verification (:class:`DerivationCache`).
DERIVATION_FORMAT = "l2l-derivation/1"


def _off(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def cache_root() -> Path | None:
    """The cache folder, or ``None`` when ``L2L_NO_CACHE`` is set (to anything but 0 or empty)."""
    if _off("L2L_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "l2l-theory"


def package_files() -> list[tuple[str, Path, Path]]:
    """``(package, its folder, file)`` for every Python file of the installed package (l2l,
    l2l.theory, .numerics, .proofs), in a fixed order."""
    import importlib.util

    out = []
    for pkg in ("l2l", "l2l.theory", "l2l.numerics", "l2l.proofs"):
        spec = importlib.util.find_spec(pkg)
        for root in sorted(spec.submodule_search_locations or ()):
            out.extend((pkg, Path(root), path) for path in sorted(Path(root).rglob("*.py")))
    return out


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """A hash of every Python file of the installed package (:func:`package_files`)."""
    digest = hashlib.sha256()
    for pkg, root, path in package_files():
        digest.update(f"{pkg}/{path.relative_to(root).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[str, ...]:
    """The package's version and those of what computes the numbers, and the architecture."""
    import platform
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "absent"

    return (version("l2l-theory"), sys.version, *(f"{d}={version(d)}" for d in ("numpy", "scipy", "sympy", "mpmath", "hypothesis")),
            platform.machine())


def _module_source(c: Claim) -> bytes | None:
    """The bytes of the file that defines ``c`` (None when there is none to read)."""
    module = sys.modules.get(c.module)
    path = getattr(module, "__file__", None)
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def result_key(c: Claim, profile: str, seed: int | None) -> str | None:
    """The cache key of ``c``'s result under ``profile`` and ``seed`` (module docstring), or
    ``None`` when the claim's source cannot be read (then it is not cached)."""
    source = _module_source(c)
    if source is None:
        return None
    # the module's source, not its name: a claim file's module name differs from process to process
    parts = [FORMAT, source_hash(), *_versions(), c.id, hashlib.sha256(source).hexdigest(), profile, repr(seed)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class ResultCache:
    """Claim results on disk (module docstring). ``folder`` defaults to ``cache_root()/results``;
    with the cache turned off (``L2L_NO_CACHE`` or ``L2L_NO_RESULT_CACHE``) every lookup misses and
    nothing is written."""

    def __init__(self, folder: str | Path | None = None):
        if folder is None:
            root = None if _off("L2L_NO_RESULT_CACHE") else cache_root()
            folder = None if root is None else root / "results"
        self.folder = None if folder is None else Path(folder)

    def path(self, c: Claim, profile: str, seed: int | None) -> Path | None:
        if self.folder is None:
            return None
        key = result_key(c, profile, seed)
        return None if key is None else self.folder / f"{key}.json"

    def get(self, c: Claim, profile: str, seed: int | None) -> dict | None:
        """The stored record of ``c`` (the fields of ``ClaimResult.to_json`` with ``seconds``
        unrounded), or None: no file, or one that does not read back as this claim's record under
        this key (it is then recomputed and overwritten)."""
        path = self.path(c, profile, seed)
        if path is None:
            return None
        try:
            record = json.loads(path.read_bytes().decode("utf-8"))
        except (OSError, ValueError):
            return None
        return record if _valid(record, c, profile, seed, path.stem) else None

    def put(self, c: Claim, profile: str, seed: int | None, r: Any) -> bool:
        """Store the result ``r`` (a ``ClaimResult``) atomically if its verdict is cacheable; True
        when written."""
        if r.verdict not in CACHED_VERDICTS or getattr(r, "cached", False) or r.id != c.id:
            return False
        path = self.path(c, profile, seed)
        if path is None:
            return False
        record = {"format": FORMAT, "key": path.stem, **r.to_json(), "seconds": r.seconds, "profile": profile, "seed": seed}
        record.pop("cached", None)
        return _write_json(path, record)


def _write_json(path: Path, record: dict) -> bool:
    """Write ``record`` as JSON to ``path`` atomically (a temporary file, then ``os.replace``);
    False, and nothing written, when it is not JSON or the disk refuses (read-only, full)."""
    try:
        raw = json.dumps(record, allow_nan=False, sort_keys=True).encode("utf-8")
    except (TypeError, ValueError):  # not JSON: keep it out of the cache
        return False
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.replace(tmp, path)
        return True
    except OSError:  # a read-only or full disk: the run goes on uncached
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False


def _valid(record: Any, c: Claim, profile: str, seed: int | None, key: str) -> bool:
    """Whether ``record`` is a whole result of ``c`` under this key (else it is ignored)."""
    if not isinstance(record, dict):
        return False
    examples, seconds = record.get("examples"), record.get("seconds")
    return (
        record.get("format") == FORMAT and record.get("key") == key and record.get("id") == c.id
        and record.get("expect") == c.expect and record.get("verdict") in CACHED_VERDICTS
        and record.get("profile") == profile and record.get("seed") == seed
        and isinstance(examples, int) and not isinstance(examples, bool) and examples >= 0
        and isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0
        and isinstance(record.get("message"), str) and "counterexample" in record
        and isinstance(record.get("counterexamples"), list) and isinstance(record.get("evidence"), list)
    )


class DerivationCache:
    """Verifications of registered derivations on disk (``cache_root()/derivations``), the store of
    :func:`l2l.theory.store.verification_store` that ``l2l check``, ``l2l report`` and
    ``l2l derive`` use. A verification is a function of the code and of SymPy and its peers (its
    sampled steps draw from seeded generators), so the key is the SHA-256 of the package's source
    (:func:`source_hash`), the versions (as for claim results) and the derivation's name. Off with
    ``L2L_NO_CACHE`` or ``--no-cache``; a file that does not read back as a verification under its
    key is ignored and rewritten. Verifying every registered derivation takes about 15 s of CPU; a
    second report reads them in milliseconds.

    >>> import tempfile
    >>> from l2l.theory import registry, store as theory_store
    >>> store = DerivationCache(tempfile.mkdtemp())
    >>> with theory_store.verification_store(store):
    ...     v = registry.verified("quadratic.loss")
    >>> store.get("quadratic.loss") == v
    True
    """

    def __init__(self, folder: str | Path | None = None):
        if folder is None:
            root = cache_root()
            folder = None if root is None else root / "derivations"
        self.folder = None if folder is None else Path(folder)

    def _key(self, name: str) -> str:
        parts = [DERIVATION_FORMAT, source_hash(), *_versions(), name]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def get(self, name: str) -> Any:
        """The stored verification of ``name`` (a :class:`l2l.theory.derivation.Verification`), or None."""
        if self.folder is None:
            return None
        from l2l.theory.derivation import StepResult, Verification

        key = self._key(name)
        try:
            record = json.loads((self.folder / f"{key}.json").read_bytes().decode("utf-8"))
            if record["format"] != DERIVATION_FORMAT or record["key"] != key or record["name"] != name:
                return None
            steps = tuple(StepResult(int(r["number"]), str(r["status"]), str(r["detail"]), tuple(map(str, r["instances"])),
                                     None if r["inherited"] is None else str(r["inherited"]), str(r["inherited_from"]))
                          for r in record["results"])
        except (OSError, ValueError, TypeError, KeyError):  # absent or unreadable: verified again
            return None
        return Verification(name, steps)

    def put(self, name: str, v: Any) -> bool:
        """Store the verification ``v`` of ``name`` atomically; True when written."""
        if self.folder is None:
            return False
        key = self._key(name)
        results = [{"number": r.number, "status": r.status, "detail": r.detail, "instances": list(r.instances),
                    "inherited": r.inherited, "inherited_from": r.inherited_from} for r in v.results]
        return _write_json(self.folder / f"{key}.json", {"format": DERIVATION_FORMAT, "key": key, "name": name, "results": results})
