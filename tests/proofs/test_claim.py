"""The claims engine: verdicts, counterexamples that still fail alone, seeds, budgets, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sympy
from hypothesis import given, strategies as st

from l2l.proofs.catalogue import CatalogueError, load_file
from l2l.proofs.claim import REGISTRY, claim, refute
from l2l.proofs.codec import ReplayData, decode_counterexample
from l2l.proofs.runner import run_claim, run_claims
from l2l.proofs.cli import main

ROOT = Path(__file__).resolve().parents[2]
HOLDS = ROOT / "examples" / "claims" / "log_gradient_bound.py"
REFUTED = ROOT / "examples" / "claims" / "naive_gradient_bound.py"


def _l2l(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l2l.proofs.cli", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture()
def scratch_ids():
    """Remove the claims a test registers, so tests do not leak into the registry."""
    before = set(REGISTRY)
    yield
    for key in set(REGISTRY) - before:  # the package's own claims stay (the runner may have loaded them)
        if not REGISTRY[key].module.startswith("l2l."):
            del REGISTRY[key]


# -- verdicts ---------------------------------------------------------------------------------


def test_true_claim_holds_and_false_claim_is_refuted_with_shrunk_example(scratch_ids):
    @claim(id="t.true", statement="x^2 >= 0", source="test", kind="inequality")
    @given(x=st.floats(-1e3, 1e3))
    def true(x):
        assert x * x >= 0

    @claim(id="t.false", statement="x < 10", source="test", kind="inequality")
    @given(x=st.integers(0, 1000))
    def false(x):
        assert x < 10, f"x = {x}"

    r = run_claim(true, profile="ci")
    assert (r.verdict, r.matches) == ("holds", True) and r.examples == 20 and r.counterexample is None
    r = run_claim(false, profile="ci")
    assert r.verdict == "refuted" and not r.matches
    assert r.counterexample == {"x": 10}  # shrunk to the boundary
    assert r.message == "x = 10"
    with pytest.raises(AssertionError):
        false.replay(r.raw_counterexample)  # still fails when re-run alone
    with pytest.raises(AssertionError):
        false.replay(decode_counterexample(json.loads(json.dumps(r.counterexample))))


def test_counterexample_with_data_draws_and_problem_replays_from_json(scratch_ids):
    from l2l.proofs import strategies as ps

    @claim(id="t.draws", statement="eta < 1/L", source="test", kind="inequality")
    @given(problem=ps.quadratic_problems(max_dim=3), data=st.data())
    def draws(problem, data):
        eta = data.draw(ps.step_sizes(problem), label="eta")
        assert eta * problem.L < 1.5, f"eta L = {eta * problem.L}"

    r = run_claim(draws, profile="ci")
    assert r.verdict == "refuted"
    ce = json.loads(json.dumps(r.counterexample))  # JSON round trip
    assert set(ce) == {"problem", "data"} and set(ce["problem"]) == {"eigenvalues", "coefficients"}
    assert ce["data"][0]["label"] == "eta"
    decoded = decode_counterexample(ce)
    assert isinstance(decoded["data"], ReplayData)
    with pytest.raises(AssertionError):
        draws.replay(decoded)


def test_other_exceptions_are_errors_not_refutations(scratch_ids):
    @claim(id="t.error", statement="-", source="test", kind="identity")
    @given(x=st.integers(0, 10))
    def boom(x):
        raise ValueError("bad thing")

    @claim(id="t.plain-error", statement="-", source="test", kind="identity")
    def plain():
        return 1 / 0

    r = run_claim(boom, profile="ci")
    assert r.verdict == "error" and r.message.startswith("ValueError: bad thing") and not r.matches
    r = run_claim(plain, profile="ci")
    assert r.verdict == "error" and r.message.startswith("ZeroDivisionError")


def test_plain_checks_and_refute_witness(scratch_ids):
    @claim(id="t.grid", statement="grid", source="test", kind="trend", expect="refuted")
    def grid():
        for n in range(100):
            if n * n > 50:
                refute("n^2 exceeds 50", n=n, square=n * n)

    r = run_claim(grid, profile="ci")
    assert r.verdict == "refuted" and r.matches and r.counterexample == {"n": 8, "square": 64}


def test_symbolic_claims_prove_or_refute(scratch_ids):
    from l2l.theory.derivation import Definition, Derivation, FromPrevious, Step

    x = sympy.Symbol("x", positive=True)
    g = sympy.Function("g")(x)

    def make(rhs):
        return Derivation(
            "t.deriv",
            "d/dx x^3",
            [Step(g, "=", x**3, "definition", Definition()), Step(sympy.Derivative(g, x), "=", rhs, "differentiate", FromPrevious.differentiate(x))],
            source="test",
        )

    @claim(id="t.proved", statement="d/dx x^3 = 3x^2", source="test", kind="identity")
    def right():
        return make(3 * x**2)

    @claim(id="t.wrong", statement="d/dx x^3 = 2x^2", source="test", kind="identity", expect="refuted")
    def wrong():
        return make(2 * x**2)

    r = run_claim(right, profile="ci")
    assert r.verdict == "proved" and r.matches
    r = run_claim(wrong, profile="ci")
    assert r.verdict == "refuted" and r.matches and r.counterexample["step"] == 2


def test_seed_makes_runs_reproducible_and_does_not_stick(scratch_ids):
    seen: list[list[int]] = []

    @claim(id="t.seeded", statement="-", source="test", kind="identity", examples={"dev": 10})
    @given(x=st.integers(0, 10**9))
    def seeded(x):
        seen[-1].append(x)

    for s in (5, 5, 6):
        seen.append([])
        r = run_claim(seeded, profile="dev", seed=s, isolate=False)  # in-process: `seen` is observed here
        assert r.verdict == "holds", r.message
    assert seen[0] == seen[1] and seen[0] != seen[2]
    assert seeded.func._hypothesis_internal_use_seed is None  # the seed applied to that run only


def test_slow_claims_run_every_example_and_only_hangs_are_stopped(scratch_ids):
    """No time budget: a claim slower than any old budget still runs all its examples and gets its
    verdict; only the hang guard stops a claim, as an error naming the limit, and the next claim
    still runs in a fresh worker."""
    import time

    @claim(id="t.slow", statement="-", source="test", kind="identity", examples={"ci": 6})
    @given(x=st.integers(0, 10))
    def slow(x):
        time.sleep(0.2)

    @claim(id="t.stuck", statement="-", source="test", kind="identity", timeout={"ci": 1})
    def stuck():
        time.sleep(60.0)

    @claim(id="t.after", statement="-", source="test", kind="identity")
    def after():
        pass

    r = run_claim(slow, profile="ci")
    assert r.verdict == "holds" and r.examples == 6, r
    results = run_claims([stuck, after], profile="ci")
    assert results[0].verdict == "error" and results[0].message.startswith("timeout after 1 s"), results[0]
    assert results[1].verdict == "holds"
    r = run_claim(stuck, profile="ci", timeout=2)
    assert r.verdict == "error" and r.message.startswith("timeout after 2 s")


def test_claim_decorator_validates_its_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        claim(id="t.x", statement="-", source="-", kind="theorem")
    with pytest.raises(ValueError, match="expect must be"):
        claim(id="t.x", statement="-", source="-", kind="identity", expect="true")
    with pytest.raises(ValueError, match="id"):
        claim(id="has space", statement="-", source="-", kind="identity")


# -- claim files through both runners ----------------------------------------------------------


def test_user_files_through_l2l_check():
    ok = _l2l("check", str(HOLDS), "--profile", "ci", "--json")
    assert ok.returncode == 0, ok.stderr
    assert [c["verdict"] for c in json.loads(ok.stdout)["claims"]] == ["holds"]
    bad = _l2l("check", str(REFUTED), "--profile", "ci", "--json")
    assert bad.returncode == 1
    out = json.loads(bad.stdout)
    (c,) = out["claims"]
    assert c["verdict"] == "refuted" and c["counterexample"]["problem"]["eigenvalues"]
    assert {"examples", "seconds", "message", "expect", "id"} <= set(c)
    assert out["environment"]["profile"] == "ci" and "hypothesis" in out["environment"]["versions"]
    # the counterexample still fails when re-run alone, from its JSON
    (claim_obj,) = load_file(str(REFUTED))
    with pytest.raises(AssertionError):
        claim_obj.replay(decode_counterexample(c["counterexample"]))


@pytest.mark.parametrize("path,code", [(HOLDS, 0), (REFUTED, 1)])
def test_user_files_through_pytest(path, code):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "L2L_PROFILE": "ci"},
    )
    assert proc.returncode == code, proc.stdout[-2000:]
    assert ("1 passed" if code == 0 else "1 failed") in proc.stdout


def test_unloadable_file_is_exit_2_one_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    proc = _l2l("check", str(broken))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"l2l: error: cannot load {broken}: ModuleNotFoundError: No module named 'no_such_module_here'"]
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    proc = _l2l("check", str(empty))
    assert proc.returncode == 2 and "defines no claim" in proc.stderr
    proc = _l2l("check", "nosuch.prefix")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    proc = _l2l("check", "--profile", "fast")
    assert proc.returncode == 2 and "--profile: must be one of ci, dev, thorough" in proc.stderr
    proc = _l2l("check", "--seed", "-1")
    assert proc.returncode == 2 and "--seed" in proc.stderr


def test_error_claim_file(tmp_path):
    f = tmp_path / "err.py"
    f.write_text(
        textwrap.dedent(
            """
            from hypothesis import given, strategies as st
            from l2l import claim

            @claim(id="tmp.error", statement="-", source="-", kind="identity")
            @given(x=st.integers(0, 3))
            def err(x):
                raise RuntimeError("not an assertion")
            """
        )
    )
    proc = _l2l("check", str(f), "--json", "--profile", "ci")
    assert proc.returncode == 1
    (c,) = json.loads(proc.stdout)["claims"]
    assert c["verdict"] == "error" and "RuntimeError" in c["message"]
    assert "Traceback" not in proc.stdout + proc.stderr


def test_list_json_catalogue():
    proc = _l2l("list", "--json")
    assert proc.returncode == 0
    claims = json.loads(proc.stdout)["claims"]
    assert len(claims) >= 15
    assert sum(c["expect"] == "refuted" for c in claims) >= 3
    assert all({"id", "kind", "source", "expect"} <= set(c) for c in claims)
    assert len({c["id"] for c in claims}) == len(claims)


def test_derive_prints_and_rejects():
    proc = _l2l("derive", "quadratic.log-gradient", "--format", "latex")
    assert proc.returncode == 0 and "\\begin{align" in proc.stdout
    proc = _l2l("derive", "quadratic.nope")
    assert proc.returncode == 2 and proc.stderr.startswith("l2l: error: no derivation name or prefix matches")
    assert proc.stderr.count("\n") == 1


def test_derive_takes_prefixes_and_lists(capsys):
    from l2l.theory import registry

    assert main(["derive", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in registry.names()) and f"{len(registry.names())} derivations" in out
    assert main(["derive", "quadratic.iterate", "quadratic.loss"]) == 0
    out = capsys.readouterr().out
    assert out.count("quadratic.iterate") >= 1 and out.count("quadratic.loss") >= 1
    under = registry.select(["quadratic"])
    assert len(under) > 2 and all(n.startswith("quadratic.") for n in under)
    assert registry.select(["quadratic", "quadratic.loss"]) == under  # each name once, in order


def test_list_takes_prefixes(capsys):
    assert main(["list", "wang2021.thm4", "--json"]) == 0
    ids = [c["id"] for c in json.loads(capsys.readouterr().out)["claims"]]
    assert ids and all(i.startswith("wang2021.thm4.") for i in ids)
    assert main(["list", "wang2021.nothing-here"]) == 2
    assert "no claim id or prefix matches" in capsys.readouterr().err


def test_check_and_report_share_the_default_profile():
    from l2l.proofs.cli import _build_parser

    parser = _build_parser()
    assert parser.parse_args(["check"]).profile == parser.parse_args(["report"]).profile == "ci"


def test_help_texts_carry_an_example(capsys):
    for command in ("eval", "list", "check", "report", "derive"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert f"l2l {command} " in capsys.readouterr().out.split("examples:")[1]


def test_jobs_do_not_change_verdicts():
    """Two workers run the claims side by side; results come back in input order, each verdict
    (and example count) as with one worker, including an error and a hang stopped by the guard."""

    @claim(id="t.jobs.holds", statement="-", source="test", kind="inequality", examples={"ci": 7})
    @given(x=st.floats(0, 1))
    def holds(x):
        assert x <= 1

    @claim(id="t.jobs.refuted", statement="-", source="test", kind="inequality")
    @given(x=st.floats(0, 1))
    def refuted(x):
        assert x < 0.5

    @claim(id="t.jobs.exit", statement="-", source="test", kind="identity")
    def leaves():
        os._exit(3)

    @claim(id="t.jobs.stuck", statement="-", source="test", kind="identity", timeout={"ci": 2})
    def stuck():
        time.sleep(60.0)

    claims = [stuck, holds, leaves, refuted, holds]
    try:
        one = run_claims(claims, profile="ci", jobs=1)
        seen = []
        two = run_claims(claims, profile="ci", jobs=2, on_result=lambda k, r: seen.append(k))
    finally:
        for c in ("t.jobs.holds", "t.jobs.refuted", "t.jobs.exit", "t.jobs.stuck"):
            REGISTRY.pop(c, None)
    assert seen == list(range(len(claims)))
    key = [(r.id, r.verdict, r.examples, r.message.split(";")[0]) for r in one]
    assert key == [(r.id, r.verdict, r.examples, r.message.split(";")[0]) for r in two]
    assert [r.verdict for r in two] == ["error", "holds", "error", "refuted", "holds"]
    with pytest.raises(ValueError, match="jobs"):
        run_claims(claims, jobs=0)


def test_catalogue_selectors(capsys):
    with pytest.raises(CatalogueError):
        from l2l.proofs.catalogue import select

        select(["wang2021.nothing-here"])
    assert main(["list"]) == 0
    assert "negative controls" in capsys.readouterr().out


def test_pytest_on_a_claim_file_is_reproducible_and_names_its_seed(tmp_path):
    """``pytest FILE`` on a claim file: seed 0 by default (the same counterexample every run),
    printed with the command that repeats it; ``--hypothesis-seed=N`` is honoured."""

    def run(*extra: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REFUTED), *extra],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1, proc.stdout[-2000:]
        return proc.stdout

    first, second = run(), run()
    assert "Hypothesis seed 0" in first and "repeat with --hypothesis-seed=0" in first
    ce = [line for line in first.splitlines() if line.startswith("counterexample")]
    assert ce and ce == [line for line in second.splitlines() if line.startswith("counterexample")]
    assert "repeat with --hypothesis-seed=7" in run("--hypothesis-seed=7")
