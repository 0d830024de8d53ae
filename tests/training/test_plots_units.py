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
