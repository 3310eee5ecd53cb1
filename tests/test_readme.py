"""The README's commands and examples, run so they never drift from the code."""

from __future__ import annotations

import doctest
import html
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, flags=re.S)]


def test_exactly_two_setup_commands_and_ci_runs_the_test_one():
    section = README.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    blocks = [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]
    assert len(blocks) == 2 and all("\n" not in b for b in blocks)
    main_cmd, test_cmd = blocks
    uv = "python -m pip install uv && python -m uv pip install -e "  # uv installs what pip would, about 8x faster
    assert main_cmd.startswith(uv + ". && l2l ")
    assert test_cmd.startswith(uv + '".[test]" && ')
    ci = (ROOT / ".ci" / "run").read_text()
    # .ci/run performs the same install and runs the same pytest invocation
    assert "-m pip install uv\n" in ci and '-m uv pip install -e ".[test]"\n' in ci
    env, _, pytest_part = test_cmd.split(" && ", 2)[2].partition(" ")
    assert env == "L2L_PROFILE=ci" and f"export {env}" in ci
    assert pytest_part.startswith("python -m pytest") and "-m pytest -q" in ci
    ci_pytest = next(line for line in ci.splitlines() if "-m pytest" in line).split()
    assert all(arg in ci_pytest for arg in pytest_part.split()[3:]), (pytest_part, ci_pytest)  # -q -n auto --dist worksteal


def test_main_job_command_runs(main_job_report):
    """The README's main job (`l2l report`), written to a temporary folder instead of ./report
    (the session fixture ``main_job_report`` in tests/conftest.py runs it once)."""
    main_cmd = _bash_blocks()[0]
    args = shlex.split(main_cmd.split(" && ")[-1])
    assert args == ["l2l", "report"]
    out, proc, _ = main_job_report
    assert proc.returncode == 0, proc.stderr[-2000:]
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    # every catalogued claim and every registered derivation is in the report, all as expected
    from l2l.proofs.catalogue import load_all
    from l2l.theory import registry

    claims = load_all()
    m = re.search(r"^(\d+) claims, (\d+) as expected, 0 not;", proc.stdout, re.M)
    assert m and int(m.group(1)) == int(m.group(2)) == len(claims), proc.stdout
    for c in claims:
        assert c.id in md and c.id in page, c.id
    for name in registry.names():
        assert name in md and name in page, name
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / path).is_file(), path
    # each catalogue paper has its section, with its figures (issue 6: the NQM section)
    from l2l.proofs.papers import papers

    for title in (p.title for p in papers()):
        assert f"### {title}" in md and f'<h3 class="paper">{html.escape(title)}</h3>' in page, title
    for name in ("nqm-greedy-vs-optimal", "nqm-curvature", "nqm-look-ahead", "nqm-batch-size"):
        assert (out / "figures" / f"{name}.png").is_file() and f'id="figure-{name}"' in page, name


def test_readme_figure_exists():
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README):
        assert (ROOT / path).is_file(), path


def _tables(marker: str):
    for m in re.finditer(rf"<!-- {marker}: (\S+) -->\n((?:\|.*\n)+)", README):
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in m.group(2).strip().splitlines()]
        yield m.group(1), rows[0], rows[2:]


def _eval(path: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", path], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_readme_eval_table_matches_l2l_eval():
    tables = list(_tables("readme-eval"))
    assert tables, "README lost its eval example"
    for path, header, rows in tables:
        results = _eval(path)["results"]
        assert len(rows) == len(results)
        for row, res in zip(rows, results):
            for name, cell in zip(header, row):
                want = res[name]
                got = float(cell)
                # printed with 14 significant digits: 1e-13 relative covers the rounding
                assert got == pytest.approx(want, rel=1e-13, abs=1e-300), (path, name, cell, want)


def test_readme_backprop_table_matches_l2l_eval():
    tables = list(_tables("readme-backprop"))
    assert tables, "README lost its backprop example"
    for path, header, rows in tables:
        results = _eval(path)["results"]
        assert len(rows) == len(results)
        for row, res in zip(rows, results):
            cells = dict(zip(header, row))
            assert float(cells["eta"]) == res["eta"] and int(cells["t"]) == res["t"]
            assert float(cells["closed form G'"]) == pytest.approx(res["log_objective_grad"], rel=1e-13)
            for dt in ("float32", "float64"):
                b = res["backprop"][dt]
                if b["status"] == "ok":
                    value, status = cells[dt].split(" ", 1)
                    assert status == "(ok)" and float(value) == pytest.approx(b["log_objective_grad"], rel=1e-6)
                else:
                    assert cells[dt] == b["status"]


def test_readme_python_examples():
    blocks = re.findall(r"```pycon\n(.*?)```", README, flags=re.S)
    assert blocks
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, {}, f"README[{i}]", "README.md", 0)
        runner.run(test)
    assert runner.failures == 0


def test_readme_claim_files_are_the_example_files():
    blocks = re.findall(r"<!-- readme-file: (\S+) -->\n```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 2
    for path, text in blocks:
        assert (ROOT / path).read_text(encoding="utf-8") == text, path


def test_readme_table_output_is_what_l2l_eval_prints():
    """The README's ``--format table`` output, verbatim (the table form prints the numbers of the
    JSON form to 14 digits: tests/proofs/test_cli_eval.py), and the command shown above it."""
    blocks = re.findall(r"<!-- readme-table: (\S+) -->\n```\n(.*?)```", README, flags=re.S)
    assert blocks, "README lost its table example"
    for path, text in blocks:
        assert f"l2l eval {path} --format table" in README
        proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", "eval", path, "--format", "table"], cwd=ROOT,
                              capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout == text, proc.stdout


def test_readme_quick_commands_run():
    """Every ``l2l list``, ``l2l derive`` and ``l2l eval`` line of the README's bash blocks runs and
    exits 0 (``check`` and ``report`` are run by the tests of the catalogue and the main job)."""
    lines = [line.strip() for block in _bash_blocks() for line in block.splitlines()]
    quick = [line for line in lines if line.split()[:2] in (["l2l", "list"], ["l2l", "derive"], ["l2l", "eval"])]
    assert {"l2l list wang2021.thm4", "l2l derive quadratic", "l2l eval examples/nqm.json --format table"} <= set(quick)
    for line in quick:
        args = shlex.split(line)[1:]
        proc = subprocess.run([sys.executable, "-m", "l2l.proofs.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0 and proc.stdout.strip(), (line, proc.stderr[-500:])
