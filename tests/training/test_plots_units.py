"""plot_history writes a readable PNG; dead_units finds units that never fire."""

import matplotlib.image
import pytest
import torch

from nnfoundations import History, build_model, dead_units, plot_history


def test_plot_history_writes_a_png(tmp_path):
    h = History(settings={"n_outputs": 10})
    for e in range(1, 11):
        h.append(epoch=e, train_loss=2 / e, val_loss=2 / e + 0.05 * e, val_acc=0.1 * e,
                 lr=0.1, seconds=0.1)
    path = plot_history(h, tmp_path / "curves.png")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]


def test_plot_history_without_epochs():
    with pytest.raises(ValueError, match=r"no epochs to plot"):
        plot_history(History(), "never.png")


def test_dead_units_counts_the_units_built_to_be_dead():
    torch.manual_seed(0)
    model = build_model(4, [6, 5], 2)
    with torch.no_grad():
        model[0].weight[[0, 2]] = 0.0
        model[0].bias[[0, 2]] = -1.0  # units 0 and 2 of the first layer output 0 always
    X = torch.randn(200, 4)
    first, second = dead_units(model, X)
    assert (first.layer, first.units, first.dead, first.indices) == ("1", 6, 2, (0, 2))
    assert first.fraction == pytest.approx(2 / 6)
    assert second.units == 5 and second.dead == sum(
        1 for k in range(5) if (torch.relu(model[:3](X))[:, k] == 0).all())


def test_dead_units_restores_mode_and_checks_input():
    model = build_model(4, [6], 2, dropout_rate=0.5)
    model.train()
    dead_units(model, torch.randn(10, 4), batch_size=3)
    assert model.training
    with pytest.raises(ValueError, match=r"X must be a non-empty tensor"):
        dead_units(model, torch.randn(0, 4))


def keras_log(path, runs=1):
    body = "".join(f"{e},{1 / (e + 1):.4f},{0.4 + e / 20:.3f},{1.2 / (e + 1) + e / 50:.4f}\n"
                   for e in range(12))
    path.write_text("epoch,loss,val_accuracy,val_loss\n" + body * runs, encoding="utf-8")
    return path


def test_any_log_plots_like_our_own_history(tmp_path):
    log = keras_log(tmp_path / "training.log")
    fig = plot_history(log)  # the path of another framework's log
    loss, metric = fig.axes
    assert [line.get_label() for line in loss.lines][:2] == ["train loss", "validation loss"]
    assert metric.get_ylabel() == "val_accuracy" and fig._suptitle.get_text().startswith(
        "Diagnosis: ")
    assert plot_history(str(log), tmp_path / "c.svg").read_text().startswith("<?xml")


def test_a_log_of_several_runs_plots_the_one_picked(tmp_path, capsys):
    from nnfoundations.app.cli import main
    log = keras_log(tmp_path / "training.log", runs=2)
    with pytest.raises(ValueError, match=r"holds 2 runs: pick one with --run"):
        plot_history(log)
    assert len(plot_history(log, run=2).axes[0].lines[0].get_xdata()) == 12
    assert main(["plot", str(log), "-o", str(tmp_path / "c.png")]) == 2
    assert "pick one with --run" in capsys.readouterr().err
    assert main(["plot", str(log), "--run", "1", "-o", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_nnf_plot_reads_a_run_directory_and_named_columns(tmp_path):
    from nnfoundations.app.cli import main
    h = History(settings={"n_outputs": 3})
    for e in range(1, 6):
        h.append(epoch=e, train_loss=1 / e, val_loss=1.1 / e, val_acc=0.5, lr=0.1, seconds=0)
    (tmp_path / "run").mkdir()
    h.to_json(tmp_path / "run" / "history.json")
    assert main(["plot", str(tmp_path / "run"), "-o", str(tmp_path / "a.png")]) == 0
    log = tmp_path / "odd.csv"
    log.write_text("step,fit,held\n" + "".join(f"{e},{1 / e},{1.2 / e}\n" for e in range(1, 9)))
    assert main(["plot", str(log), "--epoch-col", "step", "--train-col", "fit", "--val-col",
                 "held", "-o", str(tmp_path / "b.png")]) == 0
