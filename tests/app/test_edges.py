"""The edges a new user and a hostile input hit: closed pipes, NaN first epochs, output paths
checked before the work, run names that never collide, warnings kept out of error lines."""

import json
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nnfoundations import build_model, fit
from nnfoundations._files import atomic_write_text
from nnfoundations.app.cli import main
from nnfoundations.history import StopKind

QUICK = ["--epochs", "2", "--hidden", "8", "--quiet"]


def cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_closed_stdout_ends_quietly():
    child = subprocess.Popen([sys.executable, "-m", "nnfoundations", "explain", "cost"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before the first line is written
    _, err = child.communicate(timeout=60)
    assert child.returncode == 141 and err == b""


def test_a_nan_first_epoch_leaves_the_initial_weights(digits):
    torch.manual_seed(0)
    model = build_model(64, [16], 10)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    history = fit(model, (digits.X_train, digits.y_train), epochs=3, lr=1e30,
                  optimizer="sgd", seed=0, progress=False)
    assert history.stop_kind is StopKind.NON_FINITE and len(history) == 0
    assert all(torch.equal(start[k], v) for k, v in model.state_dict().items())
    assert history.stop_reason.endswith("no epoch finished, so the initial weights are restored")


@pytest.mark.parametrize("value", ["none", "None"])
def test_patience_none_turns_early_stopping_off(capsys, tmp_path, value):
    assert cli(capsys, "train", *QUICK, "--patience", value, "--out", tmp_path / "r")[0] == 0
    assert '"patience": null' in (tmp_path / "r" / "history.json").read_text()


def test_a_bad_patience_and_seed_are_one_line_errors(capsys, tmp_path):
    with pytest.raises(SystemExit) as usage:
        main(["train", *QUICK, "--patience", "soon", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert usage.value.code == 2 and "expected a number of epochs or 'none'" in err
    status, _, err = cli(capsys, "train", *QUICK, "--seed", "-1", "--out", tmp_path / "r")
    assert status == 2 and "seed must be a non-negative int" in err
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_debug_works_after_the_command_too(capsys):
    with pytest.raises(ValueError, match=r"--wrt 'q' is not a node"):
        main(["explain", "warmup", "--wrt", "q", "--debug"])
    with pytest.raises(ValueError, match=r"--wrt 'q' is not a node"):
        main(["--debug", "explain", "warmup", "--wrt", "q"])


@pytest.fixture()
def history_file(tmp_path, capsys):
    assert cli(capsys, "train", *QUICK, "--out", tmp_path / "run")[0] == 0
    return tmp_path / "run" / "history.json"


def test_plot_writes_the_format_its_name_asks_for(capsys, history_file, tmp_path):
    assert cli(capsys, "plot", history_file, "-o", tmp_path / "c.jpg")[0] == 0
    assert (tmp_path / "c.jpg").read_bytes()[:2] == b"\xff\xd8"  # JPEG, not PNG bytes
    assert cli(capsys, "plot", history_file, "-o", tmp_path / "c.svg")[0] == 0
    assert b"<svg" in (tmp_path / "c.svg").read_bytes()[:500]


@pytest.mark.parametrize(("target", "message"), [
    ("c.gif", "cannot write a gif image; name it .png, .pdf, .svg, .jpg, .jpeg"),
    ("missing/c.png", "the folder"),
    (".", "is a directory"),
])
def test_plot_refuses_a_destination_it_cannot_write(capsys, history_file, tmp_path, target,
                                                    message):
    status, _, err = cli(capsys, "plot", history_file, "-o", tmp_path / target)
    assert status == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "missing").exists() and not (tmp_path / "c.gif").exists()


def test_output_paths_are_checked_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "nowhere")
    for out, message in ((blocker / "run", "is not a folder"), (dangling, "already exists")):
        status, _, err = cli(capsys, "train", "--epochs", "100", "--out", out)
        assert status == 2 and message in err and err.count("\n") == 1  # no epoch line
    status, _, err = cli(capsys, "predict", tmp_path / "no-run", "--data", "digits", "--out",
                         tmp_path / "missing" / "p.csv")
    assert status == 2 and "the folder" in err  # refused before the run is even read


def test_warnings_follow_a_success_and_never_join_an_error(capsys, monkeypatch):
    import nnfoundations.autodiff.queries as queries

    def noisy(*args, **kwargs):
        warnings.warn("something was cast\nwith detail", UserWarning, stacklevel=1)
        return "the answer"

    monkeypatch.setattr(queries, "explain_query", noisy)
    status, out, err = cli(capsys, "explain", "warmup")
    assert status == 0 and out == "the answer\n"
    assert err == "nnf: warning: something was cast\n"

    def failing(*args, **kwargs):
        warnings.warn("a warning", UserWarning, stacklevel=1)
        raise ValueError("x") from None

    monkeypatch.setattr(queries, "explain_query", failing)
    status, _, err = cli(capsys, "explain", "warmup")
    assert status == 1 and err.count("\n") == 1 and "warning" not in err


@pytest.fixture()
def umask():
    def set_mask(mask):
        os.umask(mask)
    previous = os.umask(0o022)
    yield set_mask
    os.umask(previous)


def test_new_files_and_run_directories_respect_the_umask(tmp_path, umask, capsys):
    umask(0o022)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    umask(0o077)
    atomic_write_text(tmp_path / "b.txt", "x")
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    umask(0o022)
    assert cli(capsys, "train", *QUICK, "--out", tmp_path / "run")[0] == 0
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "run" / "history.json").stat().st_mode) == 0o644


def test_a_replaced_file_keeps_its_mode_and_a_link_is_written_through(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_what_is_not_a_regular_file_is_never_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    for path, message in ((fifo, "not a regular file"), (tmp_path, "is a directory"),
                          (dangling, "a link to nothing")):
        with pytest.raises(ValueError, match=message):
            atomic_write_text(path, "x")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and not (tmp_path / "nowhere").exists()


def test_a_character_device_is_written_in_place(tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    except PermissionError:
        pytest.skip("mknod needs root")
    atomic_write_text(node, "discarded")
    assert stat.S_ISCHR(node.stat().st_mode)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_float_idx_images_with_nan_are_refused(capsys, tmp_path):
    images = np.zeros((4, 2, 2), dtype=">f4")
    images[2, 1, 0] = np.nan
    (tmp_path / "x-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 0x0D, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
        + images.tobytes())
    (tmp_path / "x-labels-idx1-ubyte").write_bytes(
        bytes([0, 0, 0x08, 1]) + (4).to_bytes(4, "big") + bytes([0, 1, 0, 1]))
    status, _, err = cli(capsys, "train", *QUICK, "--data", tmp_path / "x-images-idx3-ubyte",
                         "--out", tmp_path / "run")
    assert status == 2 and "image 2, pixel 2: nan is not a finite number" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda s: s["state_dict"]["0.weight"].fill_(float("nan")), "non-finite weights"),
    (lambda s: s["standardizer"]["std"].__setitem__(0, 0.0), "standard deviation"),
])
def test_a_model_that_can_only_answer_nan_is_refused_at_load(capsys, tmp_path, spoil, message):
    assert cli(capsys, "train", *QUICK, "--out", tmp_path / "run")[0] == 0
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    spoil(state)
    torch.save(state, tmp_path / "run" / "model.pt")
    status, out, err = cli(capsys, "evaluate", tmp_path / "run", "--data", "digits")
    assert status == 2 and message in err and out == ""


def write_rows(path, header, rows):
    path.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    return path


def test_labels_are_kept_exactly(tmp_path):
    from nnfoundations.app.formats import read_data

    big = write_rows(tmp_path / "big.csv", ["a", "label"], [[1, "1e19"], [2, "2e19"], [3, "1e19"]])
    assert sorted(set(read_data(str(big)).y.tolist())) == ["1e19", "2e19"]  # not merged
    whole = write_rows(tmp_path / "whole.csv", ["a", "label"], [[1, "3"], [2, "4.0"]])
    assert read_data(str(whole)).y.tolist() == [3, 4]
    np.savez(tmp_path / "f.npz", X=np.zeros((3, 2)), y=np.array([0.5, 1.5, 0.5]))
    assert read_data(str(tmp_path / "f.npz")).y.tolist() == [0.5, 1.5, 0.5]


@pytest.mark.parametrize(("rows", "message"), [
    ([[1, "0"], [2, ""], [3, "1"]], "line 3: the label is empty"),
    ([[1, "0"], [2, "nan"], [3, "1"]], "line 3: the label is nan"),
])
def test_empty_and_nan_labels_are_refused_with_their_row(capsys, tmp_path, rows, message):
    data = write_rows(tmp_path / "d.csv", ["a", "label"], rows)
    status, _, err = cli(capsys, "train", *QUICK, "--data", data, "--out", tmp_path / "r")
    assert status == 2 and message in err


def test_nan_labels_in_an_npz_are_refused(tmp_path):
    from nnfoundations.app.formats import read_data

    np.savez(tmp_path / "n.npz", X=np.zeros((3, 2)), y=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"y\[1\]: the label is nan"):
        read_data(str(tmp_path / "n.npz"))


def test_columns_are_matched_by_name_and_labels_are_left_out(capsys, tmp_path):
    from nnfoundations.app.runs import predict_run

    iris = (Path(__file__).resolve().parents[2] / "examples" / "iris.csv").read_text()
    rows = [line.split(",") for line in iris.splitlines()]
    write_rows(tmp_path / "iris.csv", rows[0], rows[1:])
    assert cli(capsys, "train", *QUICK, "--data", tmp_path / "iris.csv", "--label", "species",
               "--out", tmp_path / "run")[0] == 0
    order = [4, 2, 0, 3, 1]  # the label first, the features shuffled
    write_rows(tmp_path / "shuffled.csv", [rows[0][j] for j in order],
               [[r[j] for j in order] for r in rows[1:]])
    same, _, _ = predict_run(tmp_path / "run", str(tmp_path / "iris.csv"))
    shuffled, _, _ = predict_run(tmp_path / "run", str(tmp_path / "shuffled.csv"))
    assert same == shuffled
    status, _, err = cli(capsys, "evaluate", tmp_path / "run", "--data", tmp_path / "shuffled.csv")
    assert status == 0, err
    renamed = write_rows(tmp_path / "renamed.csv", ["a", "b", "c", "d", "species"], rows[1:])
    status, _, err = cli(capsys, "predict", tmp_path / "run", "--data", renamed)
    assert status == 2 and "lacks the model's columns ['sepal_length'" in err


def test_a_repeated_column_name_is_refused(capsys, tmp_path):
    data = write_rows(tmp_path / "d.csv", ["a", "a", "label"], [[1, 2, 0], [3, 4, 1]])
    status, _, err = cli(capsys, "train", *QUICK, "--data", data, "--out", tmp_path / "r")
    assert status == 2 and "the column name(s) ['a'] appear more than once" in err


def test_the_label_column_is_shown_and_a_continuous_guess_refused(capsys, tmp_path):
    rows = [[k % 3, k * 0.37, (k * 7) % 11 + 0.5] for k in range(40)]  # class first, UCI-style
    data = write_rows(tmp_path / "uci.csv", ["class", "x", "y"], rows)
    status, _, err = cli(capsys, "train", "--epochs", "1", "--data", data, "--out",
                         tmp_path / "r1")
    assert status == 2 and "the label was taken to be the column 'y'" in err
    assert "name the label column with --label" in err and not (tmp_path / "r1").exists()
    status, _, err = cli(capsys, "train", "--epochs", "1", "--data", data, "--label", "class",
                         "--out", tmp_path / "r2")
    assert status == 0
    assert err.splitlines()[0] == f"nnf: data {data}: 40 rows, 2 features, label column " \
        "'class' (3 classes)"


def test_evaluate_without_data_scores_the_runs_own_test_rows(capsys, tmp_path):
    iris = Path(__file__).resolve().parents[2] / "examples" / "iris.csv"
    data = tmp_path / "iris.csv"
    data.write_text(iris.read_text())
    run_dir = tmp_path / "run"
    assert cli(capsys, "train", *QUICK, "--data", data, "--label", "species", "--out",
               run_dir)[0] == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    status, out, err = cli(capsys, "evaluate", run_dir)
    assert status == 0 and err == ""
    assert f"accuracy {metrics['test_accuracy']:.4f}" in out and "(23 examples)" in out
    status, out, err = cli(capsys, "evaluate", run_dir, "--data", data)
    assert status == 0 and "(150 examples)" in out
    assert err.startswith("nnf: warning:") and "the data the run was trained on" in err
    data.write_text(iris.read_text().replace("5.1,3.5", "5.2,3.5", 1))
    status, _, err = cli(capsys, "evaluate", run_dir)
    assert status == 2 and "has changed since the run was trained" in err
    (run_dir / "split.json").unlink()
    status, _, err = cli(capsys, "evaluate", run_dir)
    assert status == 2 and "has no split.json" in err


def test_predict_reads_new_data_without_the_label_column(capsys, tmp_path):
    rows = [[k % 2, k * 0.1, (k * 3) % 5] for k in range(40)]
    data = tmp_path / "train.csv"
    data.write_text("label,a,b\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    fresh = tmp_path / "new.csv"
    fresh.write_text("a,b\n" + "".join(f"{r[1]},{r[2]}\n" for r in rows[:5]))
    assert cli(capsys, "train", *QUICK, "--data", data, "--out", tmp_path / "r")[0] == 0
    status, out, err = cli(capsys, "predict", tmp_path / "r", "--data", fresh)
    assert status == 0, err
    assert len(out.strip().splitlines()) >= 5


def test_a_semicolon_csv_reads_like_a_comma_one(capsys, tmp_path):
    rows = [[k % 2, k * 0.1, (k * 3) % 5] for k in range(30)]
    data = tmp_path / "semi.csv"
    data.write_text("label;a;b\n" + "".join(";".join(map(str, r)) + "\n" for r in rows))
    assert cli(capsys, "train", *QUICK, "--data", data, "--out", tmp_path / "r")[0] == 0


def limited(argv, memory=3 * 2**30):
    """``nnf ARGV`` in a child process whose address space is bounded: a regression fails
    this test instead of exhausting the machine."""
    import resource

    def bound():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "nnfoundations", *map(str, argv)],
                          capture_output=True, text=True, preexec_fn=bound, timeout=120,
                          check=False)


@pytest.mark.parametrize("argv", [
    ["train", "--hidden", "100000000", "--epochs", "1"],
    ["explain", "w" + "**1" * 3000, "--at", "w=1"],
    ["explain", "0+" + "-" * 10000 + "w", "--at", "w=1"],
    ["explain", "+".join(["w"] * 3000), "--at", "w=1"],
])
@pytest.mark.slow
def test_resource_bounds_are_one_line_errors(argv, tmp_path):
    done = limited([*argv, "--out", tmp_path / "r"] if argv[0] == "train" else argv)
    assert done.returncode == 2, done.stderr[-300:]
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("nnf: error:")


def test_files_whose_headers_claim_more_than_they_hold_are_refused(capsys, tmp_path):
    import gzip
    import io
    import zipfile

    claim = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in (10**6, 100, 100))
    (tmp_path / "bomb-images-idx3-ubyte.gz").write_bytes(gzip.compress(claim + bytes(1000)))
    (tmp_path / "plain-images-idx3-ubyte").write_bytes(claim + bytes(1000))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10**6, 10**6)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("X.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + bytes(64))
    for name in ("bomb-images-idx3-ubyte.gz", "plain-images-idx3-ubyte", "huge.npz"):
        status, _, err = cli(capsys, "train", *QUICK, "--data", tmp_path / name, "--out",
                             tmp_path / "r")
        assert status == 2 and ("more than a" in err or "claims" in err), (name, err)


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"records": [{"epoch": Infinity, "train_loss": 1, "val_loss": 1, "val_acc": 1, '
     '"lr": 1, "seconds": 0}]}', "epoch = inf, not a whole number"),
    ('{"records": [], "settings": true}', "'settings' must be an object"),
])
def test_hostile_histories_are_refused(capsys, tmp_path, text, message):
    (tmp_path / "h.json").write_text(text)
    status, _, err = cli(capsys, "plot", tmp_path / "h.json", "-o", tmp_path / "c.png")
    assert status == 2 and message in err
    status, _, err = cli(capsys, "diagnose", tmp_path / "h.json")  # its own words, one line
    assert status == 2 and err.startswith("nnf: error: ") and err.count("\n") == 1


def test_a_file_too_small_to_split_is_one_line_and_leaves_nothing(capsys, tmp_path):
    (tmp_path / "two.csv").write_text("x,label\n1,0\n2,1\n")
    status, _, err = cli(capsys, "train", *QUICK, "--data", tmp_path / "two.csv", "--out",
                         tmp_path / "r")
    assert status == 2 and "2 example(s) are too few to split" in err
    assert not (tmp_path / "r").exists()


def test_an_id_column_can_be_dropped_and_unknown_columns_are_refused(capsys, tmp_path):
    rows = [[1000 + k, k % 2, k * 0.1, (k * 3) % 5] for k in range(40)]
    data = write_rows(tmp_path / "ids.csv", ["id", "label", "a", "b"], rows)
    assert cli(capsys, "train", *QUICK, "--data", data, "--drop", "id", "--out",
               tmp_path / "r")[0] == 0
    state = torch.load(tmp_path / "r" / "model.pt", weights_only=True)
    assert state["feature_names"] == ["a", "b"]
    status, _, err = cli(capsys, "predict", tmp_path / "r", "--data", data)
    assert status == 2 and "has columns the model was not trained on: ['id']" in err
    status, out, _ = cli(capsys, "predict", tmp_path / "r", "--data", data, "--drop", "id")
    assert status == 0 and out.count("\n") == 41
    status, _, err = cli(capsys, "train", *QUICK, "--data", data, "--drop", "idx", "--out",
                         tmp_path / "r2")
    assert status == 2 and "--drop names columns it does not have: ['idx']" in err


class Payload:
    """Any object a pickle builds by running code."""


def test_a_checkpoint_with_objects_gets_no_advice_to_load_it_unsafely(capsys, tmp_path):
    assert cli(capsys, "train", *QUICK, "--out", tmp_path / "r")[0] == 0
    torch.save({"format": "nnfoundations-model-1", "x": Payload()}, tmp_path / "r" / "model.pt")
    status, _, err = cli(capsys, "evaluate", tmp_path / "r")
    assert status == 2 and "holds objects beyond plain data" in err
    assert "weights_only" not in err and err.count("\n") == 1


def test_complex_features_are_refused_not_silently_cut(tmp_path):
    from nnfoundations.app.formats import read_data

    np.savez(tmp_path / "c.npz", X=np.ones((4, 2)) * 1j, y=np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"X must be a real array"):
        read_data(str(tmp_path / "c.npz"))


def test_a_zero_validation_loss_is_diagnosed_and_plotted(capsys, tmp_path):
    records = [{"epoch": e, "train_loss": 1.0 / e if e < 4 else 0.0, "val_loss":
                1.0 / e if e < 4 else 0.0, "val_acc": 1.0, "lr": 0.1, "seconds": 0.0}
               for e in range(1, 9)]
    (tmp_path / "h.json").write_text(json.dumps({"version": 2, "records": records,
                                                 "settings": {"n_outputs": 2}}))
    status, out, _ = cli(capsys, "diagnose", tmp_path / "h.json")
    assert status == 0 and "verdict: good fit" in out
    assert cli(capsys, "plot", tmp_path / "h.json", "-o", tmp_path / "c.png")[0] == 0


def test_a_folder_without_write_permission_is_refused_before_work(capsys, tmp_path,
                                                                   monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path)
                        else real(p, mode))  # root may write anywhere; pretend not
    status, _, err = cli(capsys, "train", "--out", tmp_path / "run")
    assert status == 2 and "no permission to write in" in err and err.count("\n") == 1


def test_ctrl_c_while_the_cli_imports_is_one_line(capsys, monkeypatch):
    import builtins

    from nnfoundations.__main__ import run

    real = builtins.__import__

    def interrupted(name, *args, **kwargs):
        if name == "nnfoundations.app.cli":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert run() == 130 and capsys.readouterr().err == "nnf: interrupted\n"


@pytest.mark.slow
def test_out_to_stdout_writes_into_the_redirect(tmp_path):
    run_dir = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(run_dir)]) == 0
    target = tmp_path / "p.csv"
    with target.open("w") as redirected:
        done = subprocess.run([sys.executable, "-m", "nnfoundations", "predict", str(run_dir),
                               "--data", "digits", "--out", "/dev/stdout"], stdout=redirected,
                              stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 0 and target.read_text().startswith("prediction\n")
    assert len(target.read_text().splitlines()) == 1798


