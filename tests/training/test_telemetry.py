"""Telemetry: what one observed step per epoch records, checked against direct computation."""

import copy

import pytest
import torch
import torch.nn as nn

from nnfoundations import build_model, fit
from nnfoundations.training.step import step
from nnfoundations.training.telemetry import Telemetry


def test_an_observed_step_records_norms_updates_and_firing():
    torch.manual_seed(0)
    model = build_model(5, [6, 4], 3)
    twin = copy.deepcopy(model)
    X, y = torch.randn(16, 5) * 3, torch.randint(0, 3, (16,))
    telemetry = Telemetry(model)
    step(model, X, y, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
         telemetry, first_epoch=True)
    record = telemetry.record
    nn.CrossEntropyLoss()(twin(X), y).backward()
    for name in ("0", "2", "4"):
        layer = twin.get_submodule(name)
        expected = torch.cat([layer.weight.grad.flatten(), layer.bias.grad]).norm().item()
        assert record["grad_norm"][name] == pytest.approx(expected, rel=1e-6)
        update = 0.1 * layer.weight.grad.norm() / layer.weight.norm()
        assert record["update_ratio"][name] == pytest.approx(update.item(), rel=1e-5)
    hidden = twin[1](twin[0](X))
    assert record["dead_relu"]["1"] == pytest.approx(1 - (hidden > 0).any(0).double().mean())
    assert record["input_std"] == pytest.approx(X.double().std().item())
    assert record["input_max_abs"] == pytest.approx(X.abs().max().item())


@pytest.mark.usefixtures("engine")
def test_fit_records_one_entry_per_epoch_and_can_be_switched_off(digits):
    train, val = (digits.X_train[:200], digits.y_train[:200]), (digits.X_val, digits.y_val)
    history = fit(build_model(64, [16], 10), train, val, epochs=3, seed=0, progress=False)
    assert len(history.telemetry) == 3 and "input_std" in history.telemetry[0]
    assert "input_std" not in history.telemetry[1]
    assert set(history.telemetry[2]["grad_norm"]) == {"0", "2"}
    quiet = fit(build_model(64, [16], 10), train, val, epochs=2, seed=0, progress=False,
                telemetry=False)
    assert quiet.telemetry == []


@pytest.mark.usefixtures("engine")
def test_telemetry_changes_nothing_of_the_training(digits):
    train = (digits.X_train[:300], digits.y_train[:300])
    runs = []
    for watch in (True, False):
        torch.manual_seed(0)
        model = build_model(64, [32], 10, dropout_rate=0.2)
        history = fit(model, train, epochs=2, seed=1, progress=False, telemetry=watch)
        runs.append((history.train_loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))
