"""Reading logs: every framework's format, the real logs of shared/, and what is refused."""

import csv
import json
import math
import sys
from pathlib import Path

import pytest

from nnfoundations.app.cli import main
from nnfoundations.diagnosis import Columns, diagnose, diagnose_file, read_runs

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-logs"
RAW = sorted((REAL / "raw").glob("*")) if REAL.is_dir() else []


def reduced(run_id):
    with (REAL / "epochs" / f"{run_id}.csv").open() as f:
        rows = list(csv.DictReader(f))
    number = lambda s: float(s) if s else None  # noqa: E731
    return [(number(r["epoch"]), number(r["train_loss"]), number(r["val_loss"])) for r in rows]


def same(a, b):
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


@pytest.mark.skipif(not RAW, reason="shared/data/real-logs is not beside the project")
@pytest.mark.parametrize("raw", RAW, ids=lambda p: p.name[:3])
def test_each_real_log_gives_the_losses_of_its_reduction(raw):
    want = reduced(raw.name[:3])
    for run in read_runs(raw):
        got = list(zip(run.epochs, run.train, run.val, strict=True))
        if len(got) == len(want) and all(g[0] == w[0] and same(g[1], w[1]) and same(g[2], w[2])
                                         for g, w in zip(got, want, strict=True)):
            return
    pytest.fail(f"no run of {raw.name} matches epochs/{raw.name[:3]}.csv")


@pytest.mark.slow
@pytest.mark.skipif(not RAW, reason="shared/data/real-logs is not beside the project")
def test_nnf_diagnose_json_works_on_every_real_log(capsys):
    for raw in RAW:
        assert main(["diagnose", str(raw), "--json"]) == 0, raw.name
        out = json.loads(capsys.readouterr().out)
        for d in out if isinstance(out, list) else [out]:
            assert d["verdict"] and 0 < d["confidence"] <= 1 and d["columns"]["format"]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_keras_csv_logger_with_spaces_and_percent(tmp_path):
    log = write(tmp_path / "training.log", "epoch, loss, accuracy, val_loss, val_accuracy\n"
                + "".join(f"{e}, {1 / (e + 1):.4f}, {50 + e}, {1.2 / (e + 1):.4f}, {40 + e}\n"
                          for e in range(8)))
    [run] = read_runs(log)
    assert run.columns["train"] == "loss" and run.columns["val"] == "val_loss"
    assert run.columns["acc"] == "val_accuracy" and run.epochs[0] == 0
    assert run.val[2] == pytest.approx(0.4)


def test_a_keras_history_json_dump(tmp_path):
    log = write(tmp_path / "history.json", json.dumps(
        {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.5], "val_accuracy": [0.5, 0.7, 0.8]}))
    [run] = read_runs(log)
    assert run.train == [1.0, 0.6, 0.4] and run.acc == [0.5, 0.7, 0.8] and run.epochs == [0, 1, 2]


def test_a_hand_written_history_dump_with_settings_beside_its_series(tmp_path):
    log = write(tmp_path / "training_history.json", json.dumps(
        {"timestamp": "2026-04-18", "img_size": 224, "classes": ["a", "b", "c"],
         "phase_starts": [0, 2], "train_loss": [1.0, 0.6, 0.4, 0.35],
         "val_loss": [1.1, 0.7, 0.5, 0.45], "val_acc": [50.0, 70.0, 80.0, 81.0]}))
    [run] = read_runs(log)
    assert (run.columns["train"], run.columns["val"], run.columns["acc"]) == \
        ("train_loss", "val_loss", "val_acc")
    assert len(run) == 4 and run.val[-1] == 0.45
    assert run.columns["other keys"].startswith("3 not read as series (timestamp")


def test_nan_and_infinity_in_a_json_history_are_read_as_such(tmp_path):
    log = write(tmp_path / "history.json",
                '{"loss": [1.0, NaN, 0.5, 0.4], "val_loss": [1.1, 0.9, Infinity, 0.5]}')
    [run] = read_runs(log)
    assert math.isnan(run.train[1]) and run.val[2] == math.inf and len(run) == 4
    assert diagnose(run).best_epoch == 3  # the non-finite points are never the best


def test_a_trainer_state_whose_epoch_field_goes_back_is_one_run_numbered_by_step(tmp_path):
    log = []
    for k in range(12):  # a streaming data set: the epoch field restarts, the step goes on
        log += [{"loss": falling(k) * 1.1, "epoch": (k % 4) / 4, "step": 10 * k + 5},
                {"eval_loss": falling(k), "epoch": (k % 4) / 4, "step": 10 * k + 10}]
    [run] = read_runs(write(tmp_path / "trainer_state.json", json.dumps({"log_history": log})))
    assert len(run) == 12 and run.epochs == [10 * k + 10 for k in range(12)]
    assert run.columns["epoch"].startswith("step")


def test_a_lightning_metrics_csv_averages_step_losses(tmp_path):
    rows = ["epoch,step,train_loss,val_loss,val_acc"]
    for e in range(3):
        rows += [f"{e},{10 * e + 1},{1.0 - 0.1 * e},,", f"{e},{10 * e + 2},{0.8 - 0.1 * e},,",
                 f"{e},{10 * e + 2},,{0.9 - 0.1 * e},0.{5 + e}"]
    [run] = read_runs(write(tmp_path / "metrics.csv", "\n".join(rows) + "\n"))
    assert run.train == pytest.approx([0.9, 0.8, 0.7]) and run.val == pytest.approx([0.9, 0.8, 0.7])
    assert run.acc == [0.5, 0.6, 0.7]


def test_hugging_face_trainer_state(tmp_path):
    log = [{"epoch": 0.5, "loss": 1.0, "step": 5}, {"epoch": 1.0, "loss": 0.8, "step": 10},
           {"epoch": 1.0, "eval_loss": 0.85, "eval_accuracy": 0.6, "step": 10},
           {"epoch": 2.0, "loss": 0.5, "step": 20},
           {"epoch": 2.0, "eval_loss": 0.6, "eval_accuracy": 0.7, "step": 20},
           {"epoch": 2.0, "train_loss": 0.7, "train_runtime": 12.0, "step": 20}]
    [run] = read_runs(write(tmp_path / "trainer_state.json", json.dumps({"log_history": log})))
    assert run.epochs == [1.0, 2.0] and run.train == pytest.approx([0.9, 0.5])
    assert run.val == [0.85, 0.6] and run.acc == [0.6, 0.7]


def test_a_tensorboard_event_file(tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as writer:
        for e in range(6):
            writer.add_scalar("Loss/train", 2.0 / (e + 1), e)
            writer.add_scalar("Loss/val", 2.2 / (e + 1), e)
            writer.add_scalar("Accuracy/val", 0.5 + 0.05 * e, e)
    [run] = read_runs(tmp_path)  # the folder: its event file is found
    assert run.columns["train"] == "Loss/train" and run.columns["val"] == "Loss/val"
    assert run.train[2] == pytest.approx(2.0 / 3) and run.acc[5] == pytest.approx(0.75)


def test_any_csv_with_named_columns(tmp_path):
    log = write(tmp_path / "log.csv", "it;fit;check\n" + "".join(
        f"{e};{1 / (e + 1)};{1.1 / (e + 1)}\n" for e in range(5)))
    with pytest.raises(ValueError, match=r"no training or validation loss among the columns"):
        read_runs(log)
    [run] = read_runs(log, Columns(epoch="it", train="fit", val="check"))
    assert run.epochs == [0, 1, 2, 3, 4] and run.val[0] == 1.1
    with pytest.raises(ValueError, match=r"no column 'nope' in the log"):
        read_runs(log, Columns(train="nope"))


def test_appended_runs_are_each_diagnosed_or_picked(tmp_path, capsys):
    body = "".join(f"{e},{1 / (e + 1)},{1.1 / (e + 1)}\n" for e in range(6))
    log = write(tmp_path / "log.csv", "epoch,loss,val_loss\n" + body + body)
    assert len(diagnose_file(log)) == 2 and len(diagnose_file(log, run=2)) == 1
    with pytest.raises(ValueError, match=r"holds 2 runs"):
        diagnose(log)
    with pytest.raises(ValueError, match=r"run 3 is not in"):
        diagnose_file(log, run=3)
    assert main(["diagnose", str(log)]) == 0
    out = capsys.readouterr().out
    assert "run 1 of 2: columns:" in out and "run 2 of 2: columns:" in out


def test_our_run_directory_and_history(tmp_path, capsys):
    h = {"version": 2, "records": [{"epoch": e, "train_loss": 2 / e, "val_loss": 2.1 / e,
                                    "val_acc": 0.5, "lr": 0.1, "seconds": 0.0}
                                   for e in range(1, 8)], "settings": {"n_outputs": 10}}
    write(tmp_path / "history.json", json.dumps(h))
    [run] = read_runs(tmp_path)
    assert run.classes == 10 and run.columns["format"] == "nnfoundations history"
    assert main(["diagnose", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["columns"]["train"] == "train_loss"


@pytest.mark.parametrize(("content", "match"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00", r"not a text log"),
    (b'{"hello": 1}', r"is JSON but not a log this reads"),
    (b"{not json", r"not valid JSON"),
    (b"", r"is empty"),
    (b"loss\n1\n2\n", r"has a single column"),
])
def test_what_is_not_a_log_is_refused_in_one_line(tmp_path, capsys, content, match):
    path = tmp_path / "log"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_runs(path)
    assert main(["diagnose", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_folder_without_a_log_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"holds no log"):
        read_runs(tmp_path)


def test_the_cli_takes_column_names_and_the_number_of_classes(tmp_path, capsys):
    log = write(tmp_path / "log.csv", "it,fit,check\n" + "".join(
        f"{e},2.2,2.25\n" for e in range(8)))
    argv = ["diagnose", str(log), "--epoch-col", "it", "--train-col", "fit",
            "--val-col", "check", "--json"]
    assert main(argv) == 0
    unknown = json.loads(capsys.readouterr().out)
    assert main([*argv, "--classes", "10"]) == 0
    known = json.loads(capsys.readouterr().out)
    assert unknown["columns"]["train"] == "fit" and known["columns"]["val"] == "check"
    assert known["probabilities"] != unknown["probabilities"]  # the class count was read


def test_without_tensorboard_an_event_file_gets_a_clear_message(tmp_path, monkeypatch):
    event = write(tmp_path / "events.out.tfevents.1.host", "")
    monkeypatch.setitem(sys.modules, "tensorboard.backend.event_processing.event_accumulator",
                        None)  # as if the extra were not installed
    with pytest.raises(ValueError, match=r"pip install 'nnfoundations\[tensorboard\]'"):
        read_runs(event)


def tensorboard_writer(folder):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(str(folder))


def falling(e, scale=1.0):
    return scale * 2.0 / (e + 1)


@pytest.mark.parametrize(("train", "val"), [("train/loss", "eval/loss"),
                                           ("loss/train", "loss/val"),
                                           ("Loss/train", "Loss/validation"),
                                           ("train/loss", "validation/loss")])
def test_slash_tags_as_the_hugging_face_callback_writes_them(tmp_path, train, val):
    with tensorboard_writer(tmp_path) as writer:
        for e in range(8):
            writer.add_scalar(train, falling(e), e)
            writer.add_scalar(val, falling(e, 1.1), e)
        writer.add_scalar("train/train_loss", 0.7, 8)  # the Trainer's one-point summary
    [run] = read_runs(tmp_path)
    assert (run.columns["train"], run.columns["val"]) == (train, val)
    assert len(run) == 8


def test_a_step_loss_is_never_mistaken_for_the_validation_loss(tmp_path):
    log = write(tmp_path / "metrics.csv", "epoch,train/loss_step,val/loss\n" + "".join(
        f"{e},{falling(e)},{falling(e, 1.2)}\n" for e in range(6)))
    [run] = read_runs(log)
    assert (run.columns["train"], run.columns["val"]) == ("train/loss_step", "val/loss")
    log = write(tmp_path / "slashes.csv", "epoch,train/loss_epoch,val/loss\n" + "".join(
        f"{e},{falling(e)},{falling(e, 1.2)}\n" for e in range(6)))
    assert read_runs(log)[0].columns["val"] == "val/loss"


def test_a_keras_logdir_joins_its_train_and_validation_folders(tmp_path):
    for part, scale in (("train", 1.0), ("validation", 1.3)):
        with tensorboard_writer(tmp_path / part) as writer:
            for e in range(7):
                writer.add_scalar("epoch_loss", falling(e, scale), e)
                writer.add_scalar("epoch_accuracy", 0.5 + e / 20, e)
    [run] = read_runs(tmp_path)
    assert (run.columns["train"], run.columns["val"]) == ("train/epoch_loss",
                                                          "validation/epoch_loss")
    assert run.columns["acc"] == "validation/epoch_accuracy" and len(run) == 7
    assert run.val[0] == pytest.approx(2.6)


def test_add_scalars_folders_are_one_run(tmp_path):
    with tensorboard_writer(tmp_path) as writer:
        for e in range(6):
            writer.add_scalars("loss", {"train": falling(e), "val": falling(e, 1.2)}, e)
    [run] = read_runs(tmp_path)
    assert (run.columns["train"], run.columns["val"]) == ("loss/train", "loss/val")
    assert run.val[1] == pytest.approx(1.2)
    [part] = read_runs(tmp_path / "loss_val")  # one part alone: a validation loss, no more
    assert (part.columns["train"], part.columns["val"]) == ("-", "loss/val")


def test_a_logdir_of_several_runs_diagnoses_each_by_its_folder(tmp_path, capsys):
    for version in (0, 1):
        with tensorboard_writer(tmp_path / f"version_{version}") as writer:
            for e in range(6 + version):
                writer.add_scalar("train_loss", falling(e), e)
                writer.add_scalar("val_loss", falling(e, 1.1), e)
    runs = read_runs(tmp_path)
    assert [r.name for r in runs] == ["version_0", "version_1"]
    assert [len(r) for r in runs] == [6, 7]
    assert main(["diagnose", str(tmp_path)]) == 0
    assert "version_1: columns:" in capsys.readouterr().out


@pytest.mark.parametrize("line, train, val, acc", [
    ("INFO:Epoch {e}: Train Loss={t:.4f}, Val Loss={v:.4f}", "train_loss", "val_loss", "-"),
    ("Epoch [{e:03d}/30] TrainLoss={t:.4f} TrainAcc=48.54% | ValLoss={v:.4f} ValAcc=60.94%",
     "train_loss", "val_loss", "val_acc"),
    ("2024-05-01 10:00:0{e} epoch: {e}, loss: {t:.4f}, val_loss: {v:.4f}, lr: 1e-3",
     "loss", "val_loss", "-"),
])
def test_a_text_log_of_one_epoch_a_line(tmp_path, line, train, val, acc):
    lines = ["starting", *(line.format(e=e, t=falling(e), v=falling(e, 1.2))
                           for e in range(1, 9)), "done"]
    [run] = read_runs(write(tmp_path / "train.log", "\n".join(lines) + "\n"))
    assert (run.columns["train"], run.columns["val"], run.columns["acc"]) == (train, val, acc)
    assert len(run) == 8 and run.val[0] == pytest.approx(1.2, abs=1e-4)
    assert run.columns["format"] == "text log train.log"
    if acc != "-":
        assert run.acc[0] == pytest.approx(0.6094)  # a percentage read as a fraction


def test_yolo_results_sum_the_parts_of_each_loss(tmp_path):
    names = ["epoch", "train/box_loss", "train/cls_loss", "train/dfl_loss",
             "metrics/mAP50(B)", "val/box_loss", "val/cls_loss", "val/dfl_loss", "lr/pg0"]
    rows = [[e, falling(e), 2 * falling(e), 0.5, 0.3 + e / 100, falling(e, 1.1), 2.0, 0.6,
             0.01] for e in range(1, 11)]
    text = "".join(",".join(f"{str(c):>20}" for c in row) + "\n" for row in [names, *rows])
    [run] = read_runs(write(tmp_path / "results.csv", text))
    assert (run.columns["train"], run.columns["val"]) == ("train/loss", "val/loss")
    assert "sums of their parts" in run.columns["format"] and len(run) == 10
    assert run.train[0] == pytest.approx(1.0 + 2.0 + 0.5)


@pytest.mark.parametrize("train, val", [("train_cross_entropy_epoch", "val_cross_entropy"),
                                        ("loss_G", "val_loss_G"), ("train_loss", "dev_loss")])
def test_losses_under_other_names_pair_by_their_stem(tmp_path, train, val):
    log = write(tmp_path / "metrics.csv", f"epoch,{train},{val},other\n" + "".join(
        f"{e},{falling(e)},{falling(e, 1.2)},7\n" for e in range(6)))
    [run] = read_runs(log)
    assert (run.columns["train"], run.columns["val"]) == (train, val)


def test_lightning_events_by_step_are_grouped_by_their_epoch_scalar(tmp_path):
    with tensorboard_writer(tmp_path) as writer:
        step = 0
        for epoch in range(5):
            for _ in range(4):
                writer.add_scalar("lr-SGD", 0.1, step)  # a learning-rate monitor: no epoch
                writer.add_scalar("train_loss_step", falling(epoch), step)
                writer.add_scalar("epoch", epoch, step)
                step += 1
            writer.add_scalar("val_loss", falling(epoch, 1.2), step - 1)
    [run] = read_runs(tmp_path)
    assert run.epochs == [0, 1, 2, 3, 4] and run.columns["epoch"] == "epoch"
    assert run.train[1] == pytest.approx(1.0) and "left out" not in run.columns


def test_a_step_level_training_loss_is_averaged_between_evaluations(tmp_path):
    with tensorboard_writer(tmp_path) as writer:
        for step in range(10, 310, 10):
            writer.add_scalar("train/loss", 3.0 / step ** 0.5, step)
            if step % 50 == 0:
                writer.add_scalar("eval/loss", 3.3 / step ** 0.5, step)
    [run] = read_runs(tmp_path)
    assert run.epochs == [50, 100, 150, 200, 250, 300] and run.columns["epoch"] == "step"
    assert run.train[0] == pytest.approx(sum(3.0 / s ** 0.5 for s in range(10, 60, 10)) / 5)
    assert "mean of the values since the last evaluation" in run.columns["train"]


def test_epochs_without_both_losses_are_said_to_be_left_out(tmp_path):
    log = write(tmp_path / "log.csv", "epoch,loss,val_loss\n" + "".join(
        f"{e},{falling(e)},{falling(e, 1.2) if e != 3 else ''}\n" for e in range(8)))
    [run] = read_runs(log)
    assert len(run) == 7 and run.columns["left out"] == "1 of 8 epochs without both losses"


def test_a_fractional_epoch_is_shown_to_two_decimals(tmp_path):
    log = write(tmp_path / "log.csv", "epoch,loss,val_loss\n" + "".join(
        f"{e * 0.930232558},{falling(e)},{falling(e, 1.2)}\n" for e in range(1, 9)))
    d = diagnose(log)
    assert d.best_epoch == 8 * 0.930232558  # as the log numbers it, for code to find
    assert "best epoch: 7.44\n" in str(d)


def test_a_history_dump_of_two_models_is_two_runs(tmp_path):
    data = {f"{m}_{k}": [falling(e, s) for e in range(6)]
            for m in ("reg", "cls") for k, s in (("loss", 1.0), ("val_loss", 1.2))}
    data["cls_val_accuracy"] = [0.5 + e / 20 for e in range(6)]
    runs = read_runs(write(tmp_path / "history.json", json.dumps(data)))
    assert [r.name for r in runs] == ["reg", "cls"]
    assert (runs[1].columns["train"], runs[1].columns["val"], runs[1].columns["acc"]) == (
        "loss", "val_loss", "val_accuracy")


def test_the_columns_say_what_was_read_and_what_else_could_have_been(tmp_path):
    rows = "".join("".join(f"{e},{s},{falling(e)},,\n" for s in range(3)) +
                   f"{e},,,{falling(e, 1.2)},{falling(e)}\n" for e in range(5))
    log = write(tmp_path / "metrics.csv", "epoch,step,train_loss_step,val_loss,loss\n" + rows)
    [run] = read_runs(log)
    assert run.columns["train"] == "loss" and run.columns["rows"] == "20"
    assert run.columns["other train columns"] == "train_loss_step (--train-col)"
    [run] = read_runs(log, Columns(train="train_loss_step"))
    assert run.columns["averaged"] == "3 training values an epoch (median)"
    assert "other train columns" not in run.columns


@pytest.mark.parametrize(("column", "what"), [("val_f1", "score"), ("val/accuracy", "score"),
                                             ("eval_bleu", "score"), ("val_reward", "score")])
def test_a_score_named_as_the_validation_curve_is_said_to_be_one(tmp_path, column, what):
    from nnfoundations.diagnosis import Evidence, Verdict
    log = write(tmp_path / "scores.csv", f"epoch,loss,{column}\n" + "".join(
        f"{e},{1 / (e + 1)},{0.5 + e / 40}\n" for e in range(12)))
    [run] = read_runs(log, Columns(val=column))
    assert run.not_a_loss == f"{column} looks like a {what}, where higher is better"
    d = diagnose(run)
    assert d.verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert [r.kind for r in d.reasons] == [Evidence.NOT_A_LOSS]


def test_a_loss_named_like_a_metric_is_still_a_loss(tmp_path):
    log = write(tmp_path / "l.csv", "epoch,train_loss,val_map_loss\n" + "".join(
        f"{e},{1 / (e + 1)},{1.1 / (e + 1)}\n" for e in range(6)))
    assert read_runs(log, Columns(val="val_map_loss"))[0].not_a_loss == ""


def test_a_gans_adversarial_terms_are_named_and_get_no_verdict(tmp_path):
    from nnfoundations.diagnosis import Evidence, Verdict
    log = write(tmp_path / "gan.csv", "epoch,loss_G,loss_D,val_loss_G\n" + "".join(
        f"{e},{1 + e / 10},{0.7},{1.1 + e / 8}\n" for e in range(12)))
    [run] = read_runs(log)
    assert run.not_a_loss == "val_loss_G looks like a GAN's adversarial term"
    d = diagnose(log)
    assert d.verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert [r.kind for r in d.reasons] == [Evidence.NOT_A_LOSS]
    assert "not a loss a model fits" in str(d)
    assert not read_runs(write(tmp_path / "plain.csv", "epoch,loss,val_loss\n1,1,1\n"))[
        0].not_a_loss
