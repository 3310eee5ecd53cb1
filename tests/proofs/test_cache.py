"""The result cache (issue 17, :mod:`l2l.proofs.cache`): a killed run resumes without re-running the
claims it finished; a hit is the same record as the run that wrote it; the key covers the package
source, the claim's source, the versions, the profile and the seed; ``error`` results are never
stored; a damaged file is ignored and rewritten; the test suite never reads a user's cache.

The claims live in small files under ``tmp_path``, so a test can change their source; the ones that
count their runs append to a log file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from l2l.proofs import cache as cache_module
from l2l.proofs import cli
from l2l.proofs.cache import ResultCache
from l2l.proofs.catalogue import load_file
from l2l.proofs.claim import REGISTRY
from l2l.proofs.runner import run_claims

ROOT = Path(__file__).resolve().parents[2]

CLAIMS = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from hypothesis import given, strategies as st
    from l2l import claim, refute


    def ran(name):
        with open(os.environ["CACHE_TEST_LOG"], "a") as fh:
            fh.write(name + "\\n")


    @claim(id="ct.plain", statement="-", source="test", kind="identity")
    def plain():
        ran("plain")


    @claim(id="ct.false", statement="-", source="test", kind="inequality", expect="refuted")
    @given(x=st.integers(0, 1000), y=st.floats(0, 1))
    def false(x, y):
        ran("false")
        assert x < 317 or y > 0.5


    @claim(id="ct.grid", statement="-", source="test", kind="inequality", expect="refuted")
    def grid():
        ran("grid")
        refute("the grid point 7 breaks it", n=7, value=0.1 + 0.2)


    @claim(id="ct.wait", statement="-", source="test", kind="identity")
    def wait():
        ran("wait")
        for _ in range(1200):  # until the test releases it (bounded: 120 s)
            if os.path.exists(os.environ["CACHE_TEST_RELEASE"]):
                return
            time.sleep(0.1)


    @claim(id="ct.last", statement="-", source="test", kind="identity")
    def last():
        ran("last")
''')


def _record(r) -> dict:
    out = r.to_json()
    out.pop("cached")
    return out


@pytest.fixture
def claim_file(tmp_path, monkeypatch):
    path = tmp_path / "cache_claims.py"
    path.write_text(CLAIMS)
    log, release = tmp_path / "ran.log", tmp_path / "release"
    monkeypatch.setenv("CACHE_TEST_LOG", str(log))
    monkeypatch.setenv("CACHE_TEST_RELEASE", str(release))
    release.touch()  # ct.wait returns at once unless a test removes it
    yield path, log, release
    _forget("ct.")


def _forget(prefix: str) -> None:
    """Unregister the claims a test loaded (the next test loads its own file with the same ids)."""
    for cid in [cid for cid in REGISTRY if cid.startswith(prefix)]:
        del REGISTRY[cid]


def _runs(log: Path) -> dict:
    lines = log.read_text().split() if log.exists() else []
    return {name: lines.count(name) for name in set(lines)}


def test_a_killed_run_resumes_from_the_cache(claim_file, tmp_path):
    """``l2l check FILE`` is killed (SIGKILL) while ``ct.wait`` runs, after the three claims before it
    were written to the cache (polled, not slept for); the re-run reads those three (``cached``, their
    checks not run again) and runs the other two; every record equals an uncached run's."""
    path, log, release = claim_file
    release.unlink()
    env = {k: v for k, v in os.environ.items() if k not in ("L2L_NO_RESULT_CACHE", "L2L_NO_CACHE")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    results = tmp_path / "xdg" / "l2l-theory" / "results"
    args = [sys.executable, "-m", "l2l.proofs.cli", "check", str(path), "--profile", "ci", "--json", "--jobs", "1"]
    first = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        for _ in range(1200):  # bounded: 120 s
            if len(list(results.glob("*.json"))) >= 3 and _runs(log).get("wait"):
                break
            assert first.poll() is None, first.communicate()
            time.sleep(0.1)
        assert len(list(results.glob("*.json"))) == 3 and _runs(log).get("wait") == 1
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
    before = _runs(log)
    assert before["plain"] == before["grid"] == 1 and before["false"] > 1 and "last" not in before
    assert not list(results.glob(".tmp-*"))  # only whole files: written atomically

    release.touch()
    second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    claims = json.loads(second.stdout)["claims"]
    assert [(c["id"], c["cached"]) for c in claims] == [
        ("ct.plain", True), ("ct.false", True), ("ct.grid", True), ("ct.wait", False), ("ct.last", False)]
    after = _runs(log)
    assert after == {**before, "wait": 2, "last": 1}  # the cached claims did not run again

    fresh = run_claims(load_file(str(path)), profile="ci", jobs=1)  # no cache
    for c, r in zip(claims, fresh):
        c.pop("cached")
        assert c == {**_record(r), "seconds": c["seconds"]}
    assert claims[1]["counterexample"] == {"x": 317, "y": 0.0} and claims[2]["counterexample"] == {"n": 7, "value": 0.30000000000000004}


def test_a_hit_is_the_record_of_the_run_that_wrote_it(claim_file, tmp_path):
    path, log, _ = claim_file
    store = ResultCache(tmp_path / "results")
    claims = load_file(str(path))
    first = run_claims(claims, profile="ci", cache=store)
    again = run_claims(claims, profile="ci", cache=store)
    assert [r.cached for r in first] == [False] * 5 and [r.cached for r in again] == [True] * 5
    assert [_record(r) for r in again] == [_record(r) for r in first]
    assert [r.seconds for r in again] == [r.seconds for r in first]  # the original run's time
    assert _runs(log)["plain"] == 1
    assert all(r.raw_counterexample is None for r in again) and first[1].raw_counterexample is not None


def test_the_key_covers_profile_seed_claim_source_package_and_versions(claim_file, tmp_path, monkeypatch):
    path, _, _ = claim_file
    store = ResultCache(tmp_path / "results")
    (plain, *_) = claims = load_file(str(path))
    run_claims(claims, profile="ci", seed=5, cache=store)
    assert store.get(plain, "ci", 5) is not None
    assert store.get(plain, "dev", 5) is None  # another profile
    assert store.get(plain, "ci", 6) is None and store.get(plain, "ci", None) is None  # another seed
    # in the key itself (not only in the record, which is checked too): three files
    assert len({store.path(plain, "ci", 5), store.path(plain, "dev", 5), store.path(plain, "ci", None)}) == 3
    assert run_claims([plain], profile="ci", seed=6, cache=store)[0].cached is False

    with monkeypatch.context() as m:  # the package's source changed
        m.setattr(cache_module, "source_hash", lambda: "another source")
        assert store.get(plain, "ci", 5) is None and not store.path(plain, "ci", 5).exists()
    with monkeypatch.context() as m:  # another NumPy, Python, Hypothesis, ...
        m.setattr(cache_module, "_versions", lambda: ("another", "set", "of versions"))
        assert store.get(plain, "ci", 5) is None and not store.path(plain, "ci", 5).exists()
    assert store.get(plain, "ci", 5) is not None

    path.write_text(CLAIMS.replace('ran("plain")', 'ran("plain")  # edited'))  # the claim's own source changed
    (edited, *_) = load_file(str(path))
    assert store.get(edited, "ci", 5) is None
    assert run_claims([edited], profile="ci", seed=5, cache=store)[0].cached is False


def test_errors_are_never_cached(tmp_path):
    path = tmp_path / "error_claims.py"
    path.write_text(textwrap.dedent('''
        import time
        from l2l import claim

        @claim(id="ce.raises", statement="-", source="test", kind="identity")
        def raises():
            raise ValueError("a bug, not a verdict")

        @claim(id="ce.stuck", statement="-", source="test", kind="identity", timeout={"ci": 1})
        def stuck():
            time.sleep(60)
    '''))
    store = ResultCache(tmp_path / "results")
    claims = load_file(str(path))
    try:
        first = run_claims(claims, profile="ci", cache=store)
        assert [r.verdict for r in first] == ["error", "error"] and first[1].message.startswith("timeout after 1 s")
        assert not (tmp_path / "results").exists() or not list((tmp_path / "results").iterdir())
        assert [r.cached for r in run_claims(claims[:1], profile="ci", cache=store)] == [False]
    finally:
        _forget("ce.")


@pytest.mark.parametrize("damage", [
    b"", b"{not json", b"\xff\xfe", b"[]", b'{"format": "l2l-result/1"}',
    "verdict-error", "another-id", "examples-string",
])
def test_a_damaged_cache_file_is_ignored_and_rewritten(claim_file, tmp_path, damage):
    path, log, _ = claim_file
    store = ResultCache(tmp_path / "results")
    (plain, *_) = load_file(str(path))
    run_claims([plain], profile="ci", cache=store)
    file = store.path(plain, "ci", None)
    if isinstance(damage, bytes):
        file.write_bytes(damage)
    else:
        record = json.loads(file.read_text())
        field, value = {"verdict-error": ("verdict", "error"), "another-id": ("id", "ct.other"),
                        "examples-string": ("examples", "7")}[damage]
        file.write_text(json.dumps({**record, field: value}))
    (r,) = run_claims([plain], profile="ci", cache=store)
    assert (r.verdict, r.cached) == ("holds", False) and _runs(log)["plain"] == 2  # recomputed
    assert store.get(plain, "ci", None) is not None  # and the file rewritten whole


def test_the_switches_and_the_test_suite_guard(tmp_path, monkeypatch, capsys):
    """``L2L_NO_CACHE`` and ``L2L_NO_RESULT_CACHE`` turn it off; tests/conftest.py sets the latter, so
    ``l2l check`` run in-process here writes (and reads) nothing under XDG_CACHE_HOME."""
    assert os.environ.get("L2L_NO_RESULT_CACHE") == "1"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ResultCache().folder is None
    assert cli.main(["check", "wu2018.neg.velocity-noise-free", "--json", "--jobs", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["claims"][0]["cached"] is False
    assert not (tmp_path / "l2l-theory" / "results").exists()
    monkeypatch.delenv("L2L_NO_RESULT_CACHE")
    assert ResultCache().folder == tmp_path / "l2l-theory" / "results"
    monkeypatch.setenv("L2L_NO_CACHE", "1")
    assert ResultCache().folder is None and cache_module.cache_root() is None


# -- verifications of derivations (DerivationCache) ------------------------------------------------


@pytest.fixture
def fresh_verifications(monkeypatch):
    """No verification of this process (theory.derivation's per-process cache emptied for the test)."""
    from l2l.theory import derivation

    monkeypatch.setattr(derivation, "_QUOTED_CACHE", {})
    return derivation


def test_a_stored_verification_is_read_instead_of_checked(fresh_verifications, tmp_path, monkeypatch):
    """The second verification under a store comes from the disk, step for step the same; what it
    quotes is stored too (least_squares.train-loss quotes least_squares.iterate)."""
    from l2l.theory import registry, store as theory_store
    from l2l.theory.derivation import Derivation

    derivation = fresh_verifications
    store = cache_module.DerivationCache(tmp_path)
    outer = theory_store.current()  # the test session's own store (tests/conftest.py)
    with theory_store.verification_store(store):
        first = registry.verified("least_squares.train-loss")
    assert len(list(tmp_path.glob("*.json"))) > 1  # the derivation and what it quotes
    monkeypatch.setattr(derivation, "_QUOTED_CACHE", {})
    monkeypatch.setattr(Derivation, "verify", lambda self, **kw: pytest.fail(f"{self.name} checked again"))
    with theory_store.verification_store(store):
        assert registry.verified("least_squares.train-loss") == first
    assert theory_store.current() is outer  # only within the block


def test_a_failed_step_survives_the_round_trip(tmp_path):
    """A stored verification keeps every field: a failed step stays failed, an inherited status stays."""
    from l2l.theory.derivation import StepResult, Verification

    v = Verification("quadratic.loss", (StepResult(1, "failed", "planted: sides differ", ("eta=1/2",)),
                                        StepResult(2, "symbolic", "ok", (), "sampled", "x step 3")))
    store = cache_module.DerivationCache(tmp_path)
    assert store.put("quadratic.loss", v)
    back = store.get("quadratic.loss")
    assert back == v and not back.ok and back.status == v.status


def test_the_derivation_key_covers_the_package_source_and_versions(fresh_verifications, tmp_path, monkeypatch):
    from l2l.theory.derivation import StepResult, Verification

    store = cache_module.DerivationCache(tmp_path)
    v = Verification("quadratic.loss", (StepResult(1, "symbolic", "ok"),))
    store.put("quadratic.loss", v)
    assert store.get("quadratic.loss") == v and store.get("quadratic.iterate") is None
    monkeypatch.setattr(cache_module, "source_hash", lambda: "another source")
    assert store.get("quadratic.loss") is None
    monkeypatch.undo()
    monkeypatch.setattr(cache_module, "_versions", lambda: ("another sympy",))
    assert store.get("quadratic.loss") is None


@pytest.mark.parametrize("damage", [b"", b"{", b'{"format": "l2l-derivation/1"}', b"[]"])
def test_a_damaged_verification_file_is_ignored(tmp_path, damage):
    from l2l.theory.derivation import StepResult, Verification

    store = cache_module.DerivationCache(tmp_path)
    store.put("quadratic.loss", Verification("quadratic.loss", (StepResult(1, "symbolic", "ok"),)))
    (path,) = tmp_path.glob("*.json")
    path.write_bytes(damage)
    assert store.get("quadratic.loss") is None


def test_derive_and_report_use_the_store_unless_told_not_to(fresh_verifications, tmp_path, monkeypatch, capsys):
    """``l2l derive`` fills the store and a second run reads it; ``--no-cache`` and ``L2L_NO_CACHE``
    check again (a planted verify that fails shows whether it ran)."""
    from l2l.theory.derivation import Derivation

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("L2L_NO_CACHE", raising=False)
    assert cli.main(["derive", "quadratic.loss"]) == 0
    assert list((tmp_path / "l2l-theory" / "derivations").glob("*.json"))
    real = Derivation.verify
    calls = []
    monkeypatch.setattr(Derivation, "verify", lambda self, **kw: calls.append(self.name) or real(self, **kw))
    for argv, env, checked in ((["derive", "quadratic.loss"], None, False),
                               (["derive", "quadratic.loss", "--no-cache"], None, True),
                               (["derive", "quadratic.loss"], "1", True)):
        fresh_verifications._QUOTED_CACHE.clear()
        calls.clear()
        if env:
            monkeypatch.setenv("L2L_NO_CACHE", env)
        assert cli.main(argv) == 0
        assert ("quadratic.loss" in calls) is checked, (argv, env, calls)
    capsys.readouterr()
