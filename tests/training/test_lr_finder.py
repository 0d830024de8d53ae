"""The learning-rate finder: a sweep that leaves no trace, a suggestion an early spike does not
fool, and nnf lr-find."""

import math

import pytest
import torch

from nnfoundations import build_model
from nnfoundations.app.cli import main
from nnfoundations.training.lr_finder import lr_find, suggest


def test_the_sweep_restores_the_model_and_suggests_a_sane_rate(digits):
    torch.manual_seed(0)
    model = build_model(64, [64], 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    found = lr_find(model, (digits.X_train, digits.y_train), steps=80)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())
    assert 1e-4 <= found.suggestion <= 1e-1
    assert len(found.lrs) < 80  # it stopped once the loss diverged
    assert found.lrs == sorted(found.lrs) and found.lrs[0] == pytest.approx(1e-7)


def test_an_early_spike_does_not_become_the_suggestion():
    lrs = [10 ** (-7 + k * 0.08) for k in range(100)]
    losses = [2.3] * 100
    losses[1:4] = [9.0, 0.2, 9.0]  # a fresh model's first steps jump around
    for k in range(40, 70):
        losses[k] = 2.3 - 0.06 * (k - 40)
    losses[70:] = [0.5 + 0.5 * k for k in range(30)]
    suggestion, _ = suggest(lrs, losses)
    assert lrs[40] <= suggestion <= lrs[70]


def test_a_sweep_that_learns_nothing_says_so():
    lrs = [10 ** (-7 + k * 0.1) for k in range(30)]
    suggestion, reason = suggest(lrs, [1.0] * 30)
    assert suggestion == pytest.approx(lrs[0] / 10) and "no clear valley" in reason
    assert suggest(lrs[:5], [1.0] * 5) == (None, "the sweep stopped after 5 steps: too few to read")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"start_lr": 1.0, "end_lr": 0.1}, r"end_lr must be > start_lr"),
    ({"steps": 3}, r"steps must be at least 10"),
    ({"start_lr": -1.0}, r"start_lr must be > 0"),
])
def test_bad_sweeps_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_find(build_model(2, [2], 2), (torch.zeros(8, 2), torch.zeros(8, dtype=torch.long)),
                **kwargs)


def test_nnf_lr_find_prints_a_suggestion_and_writes_its_plot(capsys, tmp_path):
    plot = tmp_path / "lr.png"
    assert main(["lr-find", "--hidden", "32", "--steps", "60", "-o", str(plot)]) == 0
    out = capsys.readouterr().out
    value = float(out.split("suggested learning rate:")[1].split()[0])
    assert math.isfinite(value) and plot.stat().st_size > 10_000
