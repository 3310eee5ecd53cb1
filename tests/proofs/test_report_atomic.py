"""Issue 11, "Atomic report replacement": a reader of ``--out DIR`` always sees a complete report.

- A kill at every file-system step: a forked child writes a small report (Python API, fake claim
  result) and SIGKILLs itself just before its N-th file-system call, for N = 1, 2, ... until a run
  completes; after each kill DIR must hold a complete report (the old or the new one). Done for an
  existing DIR, a missing DIR, and the documented two-rename fallback (where the next run restores).
- A SIGKILL loop on the real CLI at instants spread over whole runs (and over the write phase).
- Concurrent runs into one DIR; leftovers of killed runs swept; the marker rule kept.

Correctness never depends on timing: only where the kills land varies.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from l2l.proofs import report

ENV = {"date": "2024-01-01", "commit": "abc", "profile": "ci", "seed": None, "precision": "float64",
       "platform": "test", "versions": {"l2l-theory": "0"}}
REQUIRED = (report.MARKER, "report.md", "report.html", "claims.json")


def fake_data(tag: str) -> report.ReportData:
    cid = f"atomic.{tag}"
    c = SimpleNamespace(id=cid, statement="x = 1", source="test", kind="identity", tag="theorem", expect="holds",
                        doc="", module="user_claims", assumptions="", tolerance="")
    r = SimpleNamespace(id=cid, verdict="holds", expect="holds", matches=True, examples=1, seconds=0.0,
                        counterexample=None, message="ok", evidence=[],
                        to_json=lambda: {"id": cid, "verdict": "holds", "expect": "holds"})
    return report.ReportData(env=ENV, claims=[(c, r)], derivations=[], figures=[])


def complete(out: Path) -> str:
    """The id in ``out``'s claims.json when ``out`` is a complete report (else an AssertionError)."""
    assert out.is_dir(), f"{out} is missing"
    missing = [name for name in REQUIRED if not (out / name).is_file()]
    assert not missing, f"{out} lacks {missing}"
    claims = json.loads((out / "claims.json").read_text(encoding="utf-8"))
    assert (out / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    return claims["claims"][0]["id"] if claims["claims"] else ""


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


# -- a kill before every file-system call ---------------------------------------------------------

_FS_CALLS = ("mkdir", "rename", "replace", "unlink", "rmdir", "chmod", "open", "close", "scandir")


def _write_killed_at(out: Path, n: int, tag: str, fallback: bool) -> int:
    """Fork a child that writes the report for ``tag`` into ``out`` and SIGKILLs itself just before
    its ``n``-th file-system call; the child's wait status as a signal number (0: it finished)."""
    data = fake_data(tag)
    report.render_html(data), report.render_markdown(data)  # warm up (imports, templates) before forking
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            import pathlib
            import shutil

            count = [0]

            def counted(f):
                def call(*args, **kwargs):
                    count[0] += 1
                    if count[0] == n:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return f(*args, **kwargs)
                return call

            for name in _FS_CALLS:
                setattr(os, name, counted(getattr(os, name)))
            shutil.rmtree = counted(shutil.rmtree)
            pathlib.Path.write_text = counted(pathlib.Path.write_text)
            pathlib.Path.write_bytes = counted(pathlib.Path.write_bytes)
            if fallback:
                def no_renameat2(src, dst, flags):
                    raise OSError(errno.ENOSYS, "renameat2 is not available")
                report.folder._renameat2 = counted(no_renameat2)
            else:
                report.folder._renameat2 = counted(report.folder._renameat2)
            report.write_report(data, out, ["md", "html"])
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status)
    assert os.WEXITSTATUS(status) == 0, f"the writer failed (exit {os.WEXITSTATUS(status)}) at step {n}"
    return 0


def _kill_every_step(out: Path, *, fallback: bool, existing: bool) -> int:
    """Kill a writer before its 1st, 2nd, ... file-system call until one completes; each attempt
    starts from the old report (``existing``) or from no DIR, plus whatever earlier kills left."""
    kills = 0
    for n in range(1, 500):
        if existing and (not out.exists() or complete(out) != "atomic.old"):
            report.write_report(fake_data("old"), out, ["md", "html"])
        elif not existing and out.exists():
            shutil.rmtree(out)
        sig = _write_killed_at(out, n, f"new{n}", fallback)
        if fallback:  # two renames: DIR may be missing until the next run's sweep restores it
            report.prepare_target(out)
        seen = complete(out) if existing or out.exists() else None
        assert seen in ("atomic.old", f"atomic.new{n}", None), f"killed at step {n}: {seen}"
        if sig == 0:
            assert seen == f"atomic.new{n}"
            break
        assert sig == signal.SIGKILL
        kills += 1
        report.prepare_target(out)  # the next run's sweep leaves the report as it was
        assert (complete(out) if out.exists() else None) == seen
    else:
        pytest.fail("the writer never completed")
    report.write_report(fake_data("final"), out, ["md", "html"])
    assert complete(out) == "atomic.final"
    assert leftovers(out) == [], "a normal run leaves no hidden folders"
    return kills


@pytest.mark.parametrize("existing", [True, False], ids=["replace", "create"])
def test_kill_at_every_step_never_loses_the_report(tmp_path, existing):
    kills = _kill_every_step(tmp_path / "rep", fallback=False, existing=existing)
    assert kills >= 15  # the loop really interrupted the writer at many points


def test_kill_at_every_step_with_the_two_rename_fallback(tmp_path):
    """Without renameat2 a kill between the two renames leaves no DIR; the next run restores it."""
    kills = _kill_every_step(tmp_path / "rep", fallback=True, existing=True)
    assert kills >= 15


# -- the real CLI, killed at instants spread over its runs --------------------------------------

#: A claim file of one trivial claim: a report of "your claims" draws no figures, so a run takes
#: about a second and the kill instants cover start-up, the claim, writing and the swap.
CLAIMS = """
from l2l import claim


@claim(id="atomic.trivial", statement="1 = 1", source="test", kind="identity")
def trivial():
    assert 1 == 1
"""


def _cli(tmp_path: Path) -> list[str]:
    path = tmp_path / "atomic_claims.py"
    path.write_text(CLAIMS)
    return [sys.executable, "-m", "l2l.proofs.cli", "report", "--claims", str(path), "--derivations", "none", "--out"]


#: Kills spread over whole runs, then over the write phase.
N_SPREAD, N_WRITE = 10, 8


def test_sigkill_loop_on_the_cli(tmp_path):
    CLI = _cli(tmp_path)
    out = tmp_path / "rep"
    env = {**os.environ, "L2L_PROFILE": "ci"}
    # a first complete run: the report every later kill must leave (or replace by a complete one),
    # and the length of a run, used only to spread the kill instants over it
    start = time.monotonic()
    first = subprocess.run([*CLI, str(out)], capture_output=True, text=True, env=env, timeout=600)
    whole = time.monotonic() - start
    assert first.returncode == 0, first.stderr[-2000:]
    complete(out)
    kills = []
    n_spread, n_write = N_SPREAD, N_WRITE
    for k in range(n_spread + n_write):
        proc = subprocess.Popen([*CLI, str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env=env)
        if k < n_spread:  # instants spread over the whole run
            delay = whole * (k + 0.5) / n_spread
        else:  # instants spread over the write phase: from the "[figures]" line to the end
            for line in proc.stderr:
                if line.startswith("[figures]"):
                    break
            delay = 0.015 * (k - n_spread)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        kills.append(proc.returncode == -signal.SIGKILL)
        complete(out)  # after every kill (or completion): a complete report
    # the first instants (a small fraction of a run) cannot miss: the loop really kills
    assert sum(kills) >= 1, kills
    print(f"{sum(kills)} of {len(kills)} runs killed")
    final = subprocess.run([*CLI, str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert final.returncode == 0, final.stderr[-2000:]
    complete(out)
    assert leftovers(out) == [], "the next normal run sweeps every leftover of the killed runs"


# -- concurrency --------------------------------------------------------------------------------

WRITER = """
import sys
sys.path.insert(0, {here!r})
from test_report_atomic import fake_data
from l2l.proofs import report
for i in range(int(sys.argv[2])):
    report.write_report(fake_data(sys.argv[3] + str(i)), sys.argv[1], ["md", "html"])
"""


def test_concurrent_writers_all_complete(tmp_path):
    out = tmp_path / "rep"
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(here=str(Path(__file__).parent)))
    procs = [subprocess.Popen([sys.executable, str(script), str(out), "15", f"w{j}-"], stderr=subprocess.PIPE,
                              text=True) for j in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert complete(out).startswith("atomic.w")
    assert leftovers(out) == []


def test_two_concurrent_cli_runs(tmp_path):
    CLI = _cli(tmp_path)
    out = tmp_path / "rep"
    env = {**os.environ, "L2L_PROFILE": "ci"}
    procs = [subprocess.Popen([*CLI, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    codes = sorted(code for _, _, code in results)
    assert codes in ([0, 0], [0, 2]), results
    for _, err, code in results:
        if code != 0:
            assert err.count("\n") == 1 and err.startswith("l2l: error:"), err
    complete(out)
    assert leftovers(out) == []


# -- leftovers and the marker rule ----------------------------------------------------------------


def test_stale_leftovers_are_swept_or_reported(tmp_path, capsys):
    out = tmp_path / "rep"
    report.write_report(fake_data("old"), out, ["md"])
    stale = tmp_path / ".rep.tmp-killed"
    stale.mkdir()
    (stale / report.MARKER).write_text("x")
    (stale / "report.md").write_text("half")
    empty = tmp_path / ".rep.tmp-empty"
    empty.mkdir()
    foreign = tmp_path / ".rep.old-notours"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    report.write_report(fake_data("new"), out, ["md", "html"])
    assert complete(out) == "atomic.new"
    assert leftovers(out) == [".rep.old-notours"] and (foreign / "notes.txt").read_text() == "keep me"
    assert f"left alone: {foreign}" in capsys.readouterr().err


def test_killed_fallback_swap_is_restored(tmp_path):
    """The fallback's kill window (DIR renamed away, build not yet in): the next run puts it back."""
    out = tmp_path / "rep"
    report.write_report(fake_data("old"), out, ["md", "html"])
    os.rename(out, tmp_path / ".rep.old-killed")
    report.prepare_target(out)
    assert complete(out) == "atomic.old" and leftovers(out) == []


def test_live_build_is_not_swept(tmp_path):
    """A folder another live run has locked is left to it."""
    out = tmp_path / "rep"
    live = tmp_path / ".rep.tmp-live"
    live.mkdir()
    (live / report.MARKER).write_text("x")
    fd = report.folder._flock(live, wait=False)
    try:
        report.write_report(fake_data("new"), out, ["md", "html"])
        assert live.is_dir()
    finally:
        os.close(fd)
    report.write_report(fake_data("again"), out, ["md", "html"])
    assert not live.exists()


def test_non_report_put_in_place_after_the_check_is_swapped_back(tmp_path, monkeypatch):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    build = tmp_path / ".rep.tmp-build"
    build.mkdir()
    (build / report.MARKER).write_text("x")
    monkeypatch.setattr(report.folder, "_check_target", lambda out: None)  # the check passed before the folder changed
    with pytest.raises(report.ReportError, match="not an l2l report"):
        report.folder._install(build, out)
    assert (out / "notes.txt").read_text() == "keep me" and (build / report.MARKER).is_file()


def test_out_must_name_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for bad in (".", ".."):
        with pytest.raises(report.ReportError, match="must name a folder"):
            report.write_report(fake_data("x"), bad, ["md"])
