"""Isolation (issue 11): nothing a claim does changes another claim's verdict or the runner's exit
code. Each file in ``tests/proofs/isolation/`` carries one misbehaving claim ``iso.bad`` and the
false claim ``iso.false``; ``l2l check FILE --json`` must print valid JSON on stdout with
``iso.bad`` an ``error`` (one line naming what happened) and ``iso.false`` still ``refuted``, and
exit 1. Every run is bounded by the subprocess timeout (a hang would fail the test, not stall it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parent / "isolation"
ENV = {**os.environ, "PYTHONPATH": str(FILES)}


def _check(name: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", str(FILES / name), "--profile", "ci", "--json", *extra],
                          capture_output=True, text=True, env=ENV, timeout=300)


@pytest.mark.parametrize("name, reason", [
    ("exit_plain.py", "the claim raised SystemExit(0)"),
    ("exit_given.py", "the claim raised SystemExit(0)"),
    ("os_exit.py", "exited (code 0, e.g. os._exit) before its verdict"),
    ("segfault.py", "killed by signal 11 (SIGSEGV)"),
    ("keyboard_interrupt.py", "the claim raised KeyboardInterrupt()"),
    ("swallowed_signals.py", "timeout after 1 s"),
    ("leftover_thread.py", None),  # the thread dies with the worker: the claim itself holds
    ("huge_output.py", None),
])
def test_a_misbehaving_claim_is_an_error_for_itself_only(name, reason):
    proc = _check(name)
    out = json.loads(proc.stdout)  # stdout is exactly the JSON, whatever the claim printed
    verdicts = {c["id"]: c for c in out["claims"]}
    assert verdicts["iso.false"]["verdict"] == "refuted" and verdicts["iso.false"]["counterexample"] is None
    bad = verdicts["iso.bad"]
    if reason is None:
        assert bad["verdict"] == "holds", bad
    else:
        assert bad["verdict"] == "error" and reason in bad["message"], bad
        assert "\n" not in bad["message"]
    assert proc.returncode == 1, proc.stderr  # iso.false is refuted but expected to hold


@pytest.mark.parametrize("name, reason", [
    ("os_exit.py", "exited (code 0, e.g. os._exit) before its verdict"),
    ("segfault.py", "killed by signal 11 (SIGSEGV)"),
    ("swallowed_signals.py", "timeout after 1 s"),
])
def test_two_workers_keep_every_verdict(name, reason):
    """With ``--jobs 2`` the claims run side by side: the same verdicts, in the same order."""
    one, two = _check(name, "--jobs", "1"), _check(name, "--jobs", "2")
    assert one.returncode == two.returncode == 1
    key = [(c["id"], c["verdict"], c["message"]) for c in json.loads(one.stdout)["claims"]]
    assert key == [(c["id"], c["verdict"], c["message"]) for c in json.loads(two.stdout)["claims"]]
    assert any(reason in m for _, _, m in key)


def test_a_witness_whose_repr_raises_keeps_every_verdict():
    proc = _check("bad_repr.py")
    verdicts = {c["id"]: c for c in json.loads(proc.stdout)["claims"]}
    bad = verdicts["iso.bad"]
    assert bad["verdict"] == "refuted" and bad["counterexample"]["witness"]["witness"] == "<Opaque that cannot be shown>", bad
    assert verdicts["iso.false"]["verdict"] == "refuted" and proc.returncode == 1


@pytest.mark.parametrize("name, message", [
    ("exit_at_import.py", "cannot load"),
    ("os_exit_at_import.py", "importing it ended the process (exit code 0)"),
    ("catalogue_id.py", "'wang2021.thm3.closed-form' is already registered by l2l.proofs.papers.wang2021.claims"),
])
def test_a_file_that_cannot_load_is_one_line_and_exit_2(name, message):
    proc = _check(name)
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr


def test_every_distinct_failure_is_shown():
    """Hypothesis finds two distinct bugs (odd x, shrunk to 1; even x, shrunk to 2): the verdict is
    refuted with both counterexamples, in JSON and in the text output."""
    proc = _check("two_failures.py")
    [c] = json.loads(proc.stdout)["claims"]
    assert c["verdict"] == "refuted" and proc.returncode == 1
    assert sorted(ce["x"] for ce in c["counterexamples"]) == [1, 2], c
    assert "1 more distinct failure" in c["message"] and "odd" in c["message"] and "even" in c["message"]
    text = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "check", str(FILES / "two_failures.py"), "--profile", "ci"],
                          capture_output=True, text=True, env=ENV, timeout=300).stdout
    assert 'counterexample: {"x": 1}' in text and 'counterexample: {"x": 2}' in text, text


def _foreground_sigint() -> None:
    """Start the runner with SIGINT as a terminal's foreground job has it (default action, not
    blocked): a test suite started in the background of a non-interactive shell inherits SIGINT
    ignored, and a process that starts with SIGINT ignored rightly keeps ignoring it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_a_real_ctrl_c_stops_the_run_with_130(tmp_path):
    """Ctrl-C (SIGINT to the process group) while a claim that ignores signals runs: the runner stops
    its worker and exits 130. The SIGINT is sent once the worker is running (polled in /proc, bounded)."""
    claim_file = tmp_path / "ctrl_c_check_claims.py"
    claim_file.write_text((FILES / "swallowed_signals.py").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "l2l.proofs.cli", "check", str(claim_file),
                             "--profile", "ci", "--progress", "--timeout", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True,
                            preexec_fn=_foreground_sigint)
    try:
        assert proc.stderr.readline().startswith("[1/2]")  # the run has started
        for _ in range(300):  # until the worker runs the claim (bounded: 30 s)
            if len(_processes_running(claim_file.name)) >= 2:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            alive = {pid: Path(f"/proc/{pid}/stat").read_text()[:120] for pid in _processes_running(claim_file.name)}
            raise AssertionError(f"no exit 300 s after SIGINT; processes still running: {alive}") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _processes_running(claim_file.name):
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130 and "interrupted" in err, err


def _processes_running(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                state = (entry / "stat").read_text().split(") ", 1)[1][0]
            except OSError:
                continue
            if marker in cmdline and state != "Z":
                pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
def test_a_worker_never_outlives_a_killed_run(tmp_path):
    """SIGKILL of the runner (no chance to stop its worker) still ends the worker, even one whose
    claim ignores every signal it can: the worker dies with its parent (PR_SET_PDEATHSIG)."""
    claim_file = tmp_path / "orphan_check_claims.py"
    claim_file.write_text((FILES / "swallowed_signals.py").read_text())
    proc = subprocess.Popen([sys.executable, "-m", "l2l.proofs.cli", "check", str(claim_file), "--profile", "ci",
                             "--progress", "--timeout", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, start_new_session=True)
    try:
        assert proc.stderr.readline().startswith("[1/2]")
        for _ in range(200):  # until the worker is there (bounded: 20 s)
            if len(_processes_running(claim_file.name)) >= 2:
                break
            time.sleep(0.1)
        assert len(_processes_running(claim_file.name)) >= 2, "the worker never started"
        proc.kill()
        proc.wait(timeout=60)
        for _ in range(100):  # bounded: 10 s
            if not _processes_running(claim_file.name):
                break
            time.sleep(0.1)
        assert _processes_running(claim_file.name) == []
    finally:
        for pid in _processes_running(claim_file.name):
            os.kill(pid, signal.SIGKILL)
