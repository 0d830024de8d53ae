"""The batch-size experiment: the same start, seed and data at each batch size."""

import pytest
import torch

from nnfoundations import build_model, fit
from nnfoundations.app.cli import main
from nnfoundations.training.compare import compare_batch_sizes, comparison_table
from nnfoundations.training.plots import plot_comparison


@pytest.fixture
def setup(digits):
    torch.manual_seed(0)
    return (build_model(64, [16], 10), (digits.X_train[:400], digits.y_train[:400]),
            (digits.X_val, digits.y_val))


def test_each_run_starts_from_the_same_weights_and_seed(setup):
    model, train, val = setup
    start = {k: v.clone() for k, v in model.state_dict().items()}
    runs = compare_batch_sizes(model, train, val, [32, 200], epochs=3, seed=4)
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())  # untouched
    twin = build_model(64, [16], 10)
    twin.load_state_dict(start)
    alone = fit(twin, train, val, epochs=3, batch_size=200, seed=4, progress=False)
    assert runs[1].history.val_loss == alone.val_loss
    r = runs[0]
    assert (r.batch_size, r.updates_per_epoch) == (32, 13)
    assert r.updates_to_best == r.best_epoch * 13 and r.best_val_loss == min(r.history.val_loss)
    table = comparison_table(runs).splitlines()
    assert table[0].split()[:2] == ["batch", "updates/epoch"] and table[2].split()[0] == "200"
    assert all(len(row.split()) == len(table[0].split()) for row in table)  # columns split
    fig = plot_comparison(runs)
    assert [ax.get_title() for ax in fig.axes] == ["Against epochs", "Against updates"]


def test_repeated_or_bad_batch_sizes_are_refused(setup):
    model, train, val = setup
    with pytest.raises(ValueError, match="distinct positive ints, got \\[8, 8\\]"):
        compare_batch_sizes(model, train, val, [8, 8], epochs=1)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        compare_batch_sizes(model, train, val, [0], epochs=1)


def test_nnf_compare_prints_the_table_and_writes_the_figure(tmp_path, capsys):
    out = tmp_path / "cmp.png"
    assert main(["compare", "--batch-size", "16", "256", "--hidden", "16", "--epochs", "2",
                 "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[1].split()[:2] == ["16", "79"] and out.stat().st_size > 0
    assert main(["compare", "--batch-size", "16", "-o", str(tmp_path / "x.txt")]) == 2
