"""FitSettings (checked once, frozen, recorded with the loss's kind) and the inference helpers."""

import dataclasses

import pytest
import torch
import torch.nn as nn

from nnfoundations import build_model, fit
from nnfoundations.training.inference import CHUNK_ROWS, chunks, inference, predict_proba
from nnfoundations.training.settings import FitSettings

GOOD = {"epochs": 2, "batch_size": 8, "lr": 0.1, "optimizer": "SGD", "patience": None,
        "min_delta": 0.0, "restore_best": True, "seed": 3}


def test_settings_are_checked_once_into_a_frozen_record():
    settings = FitSettings.check(GOOD)
    assert settings.optimizer == "sgd" and settings.to_dict()["seed"] == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.epochs = 5  # type: ignore[misc]


@pytest.mark.parametrize(("change", "match"), [
    ({"epochs": 0}, r"epochs must be a positive int, got 0"),
    ({"lr": float("nan")}, r"lr must be finite"),
    ({"optimizer": "rmsprop"}, r"optimizer must be one of \['adam', 'adamw', 'sgd'\]"),
    ({"optimizer": 3}, r"optimizer must be a name"),
    ({"restore_best": "yes"}, r"restore_best must be True or False"),
    ({"patience": True}, r"patience must be a positive int"),
    ({"min_delta": -1}, r"min_delta must be >= 0"),
    ({"seed": -2}, r"seed must be a non-negative int below 2\*\*32, got -2"),
])
def test_a_bad_setting_is_named(change, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FitSettings.check({**GOOD, **change})


def test_a_bad_setting_is_named_as_the_user_typed_it():
    with pytest.raises(ValueError, match=r"^--lr must be > 0, got -1$"):
        FitSettings.check({"lr": -1}, names={"lr": "--lr"})
    with pytest.raises(TypeError, match=r"unknown settings \['learning_rate'\]"):
        FitSettings.check({"learning_rate": 0.1})


@pytest.mark.parametrize(("loss_fn", "kind"), [
    (nn.CrossEntropyLoss(label_smoothing=0.1), "cross_entropy"),
    (nn.MultiMarginLoss(), "other"),
])
def test_the_history_records_the_kind_of_loss(loss_fn, kind):
    X, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    history = fit(build_model(3, [4], 2), (X, y), epochs=1, loss_fn=loss_fn, seed=0,
                  progress=False)
    assert history.settings["loss_kind"] == kind


def test_inference_restores_the_mode_even_when_the_forward_pass_fails():
    model = build_model(3, [4], 2, dropout_rate=0.5)
    with pytest.raises(RuntimeError), inference(model):
        assert not model.training and not torch.is_grad_enabled()
        model(torch.zeros(1, 5))  # the wrong width
    assert model.training and torch.is_grad_enabled()


def test_chunks_cover_every_row_once_in_order():
    X, y = torch.arange(10).view(10, 1), torch.arange(10)
    parts = list(chunks(torch.device("cpu"), X, y, rows=4))
    assert [len(b) for _, b in parts] == [4, 4, 2]
    assert torch.equal(torch.cat([b for _, b in parts]), y) and CHUNK_ROWS == 4096


def test_probabilities_in_chunks_equal_one_pass():
    model, X = build_model(5, [7], 3), torch.randn(CHUNK_ROWS + 5, 5)
    proba = predict_proba(model, X)
    assert torch.allclose(proba, torch.softmax(model(X), dim=-1).detach(), atol=1e-6)
    assert torch.allclose(proba.sum(1), torch.ones(len(X)))
