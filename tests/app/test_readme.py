"""The README runs as written: every command of its tour, and its Python example."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnfoundations.app.cli import main

ROOT = Path(__file__).resolve().parents[2]


def tour() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## A tour of `nnf`", 1)[1].split("```console", 1)[1].split("```", 1)[0]
    return [line[2:].split("  #")[0].strip() for line in block.splitlines()
            if line.startswith("$ nnf ")]


def test_the_tour_has_its_commands():
    assert len(tour()) >= 8 and all(c.startswith("nnf ") for c in tour())


@pytest.mark.slow
def test_every_tour_command_runs_as_written(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for command in tour():
        argv = shlex.split(command)[1:]
        target = None
        if ">" in argv:
            target = Path(argv[argv.index(">") + 1])
            argv = argv[: argv.index(">")]
        status = main(argv)
        out, err = capsys.readouterr()
        assert status == 0, (command, err)
        if target is not None:
            target.write_text(out)
    assert Path("preds.csv").read_text().startswith("prediction,p_setosa")
    assert Path("lr.png").is_file() and Path("curves.png").is_file()


@pytest.mark.parametrize("name", ["iris.csv", "lightning_metrics.csv"])
def test_the_example_files_are_small(name):
    assert (ROOT / "examples" / name).stat().st_size < 10_000


@pytest.mark.slow
def test_the_python_api_example_runs(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = text.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "example.py").write_text(code)
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]  # a seeded clean run: a good fit, or its best guess
    assert first.startswith("verdict: good fit") or "best guess good fit" in first, first
    assert "suggested learning rate" in done.stdout
    assert "95% reached at epoch" in done.stdout  # the user's hook ended its run
    assert "cross-validated accuracy 0.9" in done.stdout
    assert (tmp_path / "curves.png").is_file()


@pytest.mark.slow
def test_the_graded_example_is_what_nnf_grade_prints(monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Grading the assignment", 1)[1].split("```text", 1)[1]
    shown = [line for line in block.split("```", 1)[0].splitlines()[1:]
             if line not in ("", "...") and not line.startswith("$ ")]
    monkeypatch.chdir(ROOT)
    assert main(["grade", "examples/grading"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert shown and all(line in printed for line in shown), set(shown) - set(printed)
