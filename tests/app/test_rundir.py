"""The run directory: the files a run writes, with their format's version, written by one
atomic writer (a signal waits until the run landed, names never collide, only our own dead
runs' folders are swept), and read back."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from nnfoundations.app import rundir, runs
from nnfoundations.app.config import TrainConfig


def test_a_run_writes_its_files_with_the_formats_version_and_loads_back(tmp_path):
    result = runs.train_run(TrainConfig(hidden=[8], epochs=2, quiet=True,
                                        out=str(tmp_path / "r")))
    assert sorted(p.name for p in result.path.iterdir()) == sorted(rundir.FILES)
    settings = json.loads((result.path / "settings.json").read_text())
    assert settings["format"] == rundir.RUN_FORMAT and settings["fit"]["epochs"] == 2
    loaded = rundir.load_run(result.path)
    assert loaded.classes == list(range(10)) and len(loaded.feature_names) == 64
    assert rundir.saved_split(result.path)["sha256"] == rundir.fingerprint("digits")


def test_two_default_runs_in_the_same_second_both_land(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20261201-000000")
    config = TrainConfig(hidden=[8], epochs=1, quiet=True)
    first = runs.train_run(config).path
    second = runs.train_run(config).path
    assert first.name == "20261201-000000" and second.name == "20261201-000000-2"
    assert (first / "model.pt").is_file() and (second / "model.pt").is_file()


def test_a_signal_while_the_run_is_written_waits_until_it_landed(tmp_path, monkeypatch):
    draw = rundir.plot_history

    def interrupted_plot(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C, mid-write
        return draw(*args, **kwargs)

    monkeypatch.setattr(rundir, "plot_history", interrupted_plot)
    with pytest.raises(KeyboardInterrupt):
        runs.train_run(TrainConfig(hidden=[8], epochs=1, quiet=True, out=str(tmp_path / "r")))
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "curves.png", "history.json", "metrics.json", "model.pt", "report.html", "settings.json",
        "split.json"]
    assert not list(tmp_path.glob(".*.tmp"))


def _partial(folder, name, host, pid):
    folder = folder / name
    folder.mkdir()
    (folder / rundir.TMP_MARKER).write_text(json.dumps({"host": host, "pid": pid}))
    return folder


def test_only_our_marked_folders_of_dead_runs_on_this_host_are_swept(tmp_path):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    here = socket.gethostname()
    stale = _partial(tmp_path, ".old.abc123.tmp", here, dead)
    busy = _partial(tmp_path, ".busy.def456.tmp", here, os.getpid())
    elsewhere = _partial(tmp_path, ".far.ghi789.tmp", here + "-other-host", dead)
    precious = tmp_path / f".precious.{dead}.data.tmp"  # a user's, named like our old ones
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    runs.train_run(TrainConfig(hidden=[8], epochs=1, quiet=True, out=str(tmp_path / "r")))
    assert not stale.exists()
    assert busy.exists() and elsewhere.exists()
    assert (precious / "thesis.txt").read_text() == "keep me"
    assert not (tmp_path / "r" / rundir.TMP_MARKER).exists()


def test_a_legal_long_out_name_is_written(tmp_path):
    out = tmp_path / ("r" * 240)
    assert runs.train_run(TrainConfig(hidden=[8], epochs=1, quiet=True, out=str(out))).path \
        == out


def test_a_second_default_run_in_the_same_second_after_the_first_landed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20261201-000001")
    config = TrainConfig(hidden=[8], epochs=1, quiet=True)
    assert runs.train_run(config).path.name == "20261201-000001"
    assert runs.train_run(config).path.name == "20261201-000001-2"
