"""Parallel and distributed runs (issue 17): a claim's verdict, example count and counterexamples do
not depend on where it runs: one local worker, two, or a Dask cluster of two worker processes
(``run_claims(scheduler=...)``, ``l2l check --scheduler``). The claims are fast catalogue claims
under ``ci``: negative controls with shrunk counterexamples (Hypothesis and grid checks), claims
that prove derivations, and two ``shares`` groups (``derivation:quadratic``,
``derivation:least_squares``) whose claims must run in one Dask task, in order.

One ``LocalCluster`` serves the module (it takes a few seconds to start).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from l2l.proofs import cli, distributed
from l2l.proofs.catalogue import load_file, select
from l2l.proofs.runner import run_claims

ROOT = Path(__file__).resolve().parents[2]

FAST = [
    "wang2021.neg.naive-gradient-below-tL2",  # refuted: a shrunk quadratic problem
    "wang2021.neg.rate-is-ln-rho",
    "wu2018.neg.greedy-ignores-noise",
    "wu2018.neg.momentum-risk-equals-sgd-at-same-alpha",
    "wu2018.neg.velocity-noise-free",  # refuted by a grid check's witness
    "wang2021.thm3.closed-form",  # shares derivation:quadratic ...
    "wang2021.thm4.log-gradient-closed-form",
    "wang2021.thm4.rho-normalised-form",
    "wang2021.ls.tbt-is-section3-quadratic",  # ... and derivation:least_squares
    "wang2021.ls.validation-identity",
    "wang2021.thm3.upper-bound",
    "wu2018.zhang.sgd-closed-form-vs-recursion",
]


def _key(r) -> tuple:
    return (r.id, r.verdict, r.examples, json.dumps(r.counterexample, sort_keys=True),
            json.dumps(r.counterexamples, sort_keys=True), r.message)


@pytest.fixture(scope="module")
def cluster():
    dask_distributed = pytest.importorskip("distributed")
    with dask_distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def fast_claims():
    by_id = {c.id: c for c in select(FAST)}  # a selector is also a prefix: keep the exact ids
    claims = [by_id[cid] for cid in FAST]
    assert sum(c.expect == "refuted" for c in claims) == 5 and sum(bool(c.shares) for c in claims) == 5
    return claims


@pytest.fixture(scope="module")
def one_worker(fast_claims):
    return run_claims(fast_claims, profile="ci", jobs=1)


def test_the_fixture_claims_have_teeth(one_worker):
    """The negative controls are refuted with non-trivial counterexamples; the rest hold or are proved."""
    by_id = {r.id: r for r in one_worker}
    assert all(r.matches for r in one_worker), [(r.id, r.verdict, r.message) for r in one_worker if not r.matches]
    for cid in FAST[:5]:
        assert by_id[cid].verdict == "refuted" and by_id[cid].counterexample, by_id[cid]
    assert by_id["wang2021.thm3.closed-form"].verdict == "proved"


def test_two_local_workers_give_the_same_results(fast_claims, one_worker):
    order = []
    two = run_claims(fast_claims, profile="ci", jobs=2, on_result=lambda k, r: order.append(k))
    assert order == list(range(len(fast_claims)))
    assert [_key(r) for r in two] == [_key(r) for r in one_worker]


def test_a_dask_cluster_gives_the_same_results_in_order(cluster, fast_claims, one_worker, monkeypatch):
    """The same results, delivered in claim order; claims of one ``shares`` group go to one Dask
    task, in claim order, so the shared computation is done once (the calls sent show it)."""
    sent = []
    real = distributed.run_on_scheduler

    def spy(address, calls, **kw):
        sent.extend([o[0] for o in call.args[0]] for call in calls)
        return real(address, calls, **kw)

    monkeypatch.setattr(distributed, "run_on_scheduler", spy)
    order, started, done = [], set(), set()
    remote = run_claims(fast_claims, profile="ci", scheduler=cluster, on_result=lambda k, r: order.append(k),
                        on_start=started.add, on_done=lambda k, r: done.add(k))
    assert order == list(range(len(fast_claims)))
    assert started == done == set(range(len(fast_claims)))
    assert [_key(r) for r in remote] == [_key(r) for r in one_worker]
    assert ["wang2021.thm3.closed-form", "wang2021.thm4.log-gradient-closed-form", "wang2021.thm4.rho-normalised-form"] in sent
    assert ["wang2021.ls.tbt-is-section3-quadratic", "wang2021.ls.validation-identity"] in sent
    assert len(sent) == len(FAST) - 3  # the two groups are two tasks; every other claim its own
    # the raw counterexample (Python objects, for Claim.replay) comes back too
    assert remote[0].raw_counterexample is not None
    with pytest.raises(AssertionError):
        fast_claims[0].replay(remote[0].raw_counterexample)


def test_a_claim_file_runs_on_the_cluster_with_isolation(cluster, tmp_path):
    """A claim from a FILE.py is found again on the worker (same path, same bytes); a claim that
    kills its process is an error for itself only, and the hang guard still stops a stuck claim."""
    path = tmp_path / "remote_claims.py"
    path.write_text(textwrap.dedent('''
        import os, time
        from hypothesis import given, strategies as st
        from l2l import claim

        @claim(id="remote.false", statement="-", source="test", kind="inequality", expect="refuted")
        @given(x=st.integers(0, 1000))
        def false(x):
            assert x < 317

        @claim(id="remote.exit", statement="-", source="test", kind="identity")
        def leaves():
            os._exit(3)

        @claim(id="remote.stuck", statement="-", source="test", kind="identity", timeout={"ci": 2})
        def stuck():
            time.sleep(60)
    '''))
    claims = load_file(str(path))
    here = run_claims(claims, profile="ci", jobs=1)
    there = run_claims(claims, profile="ci", scheduler=cluster)
    assert [_key(r) for r in there] == [_key(r) for r in here]
    assert there[0].verdict == "refuted" and there[0].counterexample == {"x": 317}
    assert there[1].verdict == "error" and "exited (code 3" in there[1].message
    assert there[2].verdict == "error" and there[2].message.startswith("timeout after 2 s")


def test_the_cli_runs_on_a_scheduler(cluster, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", FAST[4], "--profile", "ci", "--json",
                           "--scheduler", cluster, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (c,) = json.loads(proc.stdout)["claims"]
    assert (c["id"], c["verdict"], c["cached"]) == (FAST[4], "refuted", False)


def _one_line_exit_2(code: int, err: str, fragment: str) -> None:
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err


def test_scheduler_without_dask_is_one_line_and_exit_2(capsys, monkeypatch):
    """Dask made unimportable (``sys.modules['distributed'] = None``): the extra is named."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    code = cli.main(["check", "wang2021.thm3.rate", "--scheduler", "tcp://127.0.0.1:8786"])
    out, err = capsys.readouterr()
    _one_line_exit_2(code, err, "--scheduler needs the optional extra: pip install 'l2l-theory[dask]'")
    assert out == ""


def test_a_bad_scheduler_address_leaves_nothing_behind_at_exit():
    """As a process: stderr is one line even at interpreter exit (a half-made Dask ``Client`` would
    print an ignored exception from its ``__del__``)."""
    pytest.importorskip("distributed")
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", "wang2021.thm3.rate", "--scheduler", "nonsense"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    _one_line_exit_2(proc.returncode, proc.stderr, "--scheduler: 'nonsense' cannot be reached")
    assert proc.stdout == ""


@pytest.mark.parametrize("address, fragment", [
    ("nonsense", "'nonsense' cannot be reached"),  # no port
    ("tcp://127.0.0.1:1", "'tcp://127.0.0.1:1' cannot be reached within 2 s"),  # nothing listens there
    ("tcp://a b", "--scheduler: must be a Dask scheduler address"),
])
def test_a_bad_scheduler_address_is_one_line_and_exit_2(address, fragment, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 2.0)  # the CLI's wait is 10 s
    code = cli.main(["check", "wang2021.thm3.rate", "--scheduler", address])
    out, err = capsys.readouterr()
    _one_line_exit_2(code, err, fragment)
    assert out == ""


def test_the_progress_bar_is_on_a_terminal_only_and_never_on_stdout():
    """stderr a pseudo-terminal: a bar (claims done, running, left) there, stdout exactly the JSON.
    (stderr a pipe: no bar; the ``--progress`` lines of tests/proofs/test_isolation.py.)"""
    import fcntl
    import pty
    import struct
    import termios

    ids = ["wang2021.thm3.rate", "wu2018.neg.velocity-noise-free"]
    args = [sys.executable, "-m", "l2l.proofs.cli", "check", *ids, "--profile", "ci", "--json", "--jobs", "1"]
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal's size (a new pty has 0 x 0)
    chunks: list[bytes] = []

    def drain() -> None:  # read the terminal while the run writes to it (a full pty would block it)
        while True:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # EIO: every writer closed it
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=follower, text=True, timeout=300,
                              env={k: v for k, v in os.environ.items() if not k.startswith("TQDM_")})
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    assert proc.returncode == 0
    assert [c["id"] for c in json.loads(proc.stdout)["claims"]] == ids
    text = b"".join(chunks).decode(errors="replace")
    assert "2/2 done" in text and "running" in text and "left" in text, text[-500:]


def test_a_worker_with_other_code_or_without_the_claim_answers_error(fast_claims):
    """The Dask task (run here, in-process) refuses to run claims when its package source differs
    from the caller's, and names a claim it cannot find; neither raises."""
    from l2l.proofs.cache import source_hash
    from l2l.proofs.catalogue import origin
    from l2l.proofs.runner import run_claim_group

    spec = origin(fast_claims[4])
    ((r, raw),) = run_claim_group([spec], "ci", None, None, caller_source="another source")
    assert r.verdict == "error" and "another version of the l2l source" in r.message and raw is None
    missing = ("no.such.claim", *spec[1:])
    (bad, (good, _)) = run_claim_group([missing, spec], "ci", None, None, caller_source=source_hash())
    assert bad[0].verdict == "error" and "cannot load the claim on the Dask worker" in bad[0].message
    assert (good.id, good.verdict) == (spec[0], "refuted")


def test_a_dask_worker_keeps_its_forked_worker_warm_between_tasks(tmp_path, monkeypatch):
    """``run_claim_group`` (one Dask task) runs its claims in a forked worker it keeps for the
    process's next task, as a local run keeps its workers across claims; a worker forked before a
    module was loaded is not reused (Hypothesis draws from the loaded modules), nor is one that
    died: the next task forks a fresh one. Run in-process here, as a Dask worker runs it."""
    from l2l.proofs.catalogue import origin
    from l2l.proofs.runner import run_claim_group

    pids = tmp_path / "pids"
    monkeypatch.setenv("L2L_TEST_PID_FILE", str(pids))
    path = tmp_path / "pid_claims.py"
    path.write_text(textwrap.dedent('''
        import os
        from l2l import claim

        def _record():
            with open(os.environ["L2L_TEST_PID_FILE"], "a") as f:
                f.write(f"{os.getpid()}\\n")

        @claim(id="pool.pid.a", statement="records the pid of the process it runs in", source="test", kind="identity")
        def a():
            _record()

        @claim(id="pool.pid.b", statement="records the pid of the process it runs in", source="test", kind="identity")
        def b():
            _record()

        @claim(id="pool.pid.exit", statement="records its pid, then ends its process", source="test", kind="identity")
        def leaves():
            _record()
            os._exit(3)
        '''))
    a, b, leaves = (origin(c) for c in load_file(str(path)))

    def run(*specs):
        return [r.verdict for r, _ in run_claim_group(list(specs), "ci", None, None)]

    assert run(a) == ["holds"] and run(b) == ["holds"] and run(a, b) == ["holds", "holds"]
    seen = pids.read_text().split()
    assert len(seen) == 4 and len(set(seen)) == 1 and seen[0] != str(os.getpid())  # one warm worker, not this process
    assert run(leaves) == ["error"] and run(a) == ["holds"]
    seen = pids.read_text().split()
    assert seen[4] == seen[0] and seen[5] != seen[0]  # the worker that died is replaced
    sys.modules["l2l_test_pool_new_module"] = type(sys)("l2l_test_pool_new_module")  # a module loaded since the fork
    try:
        assert run(b) == ["holds"]
    finally:
        del sys.modules["l2l_test_pool_new_module"]
    assert pids.read_text().split()[6] != seen[5]
