"""History (plain data, exact JSON round trip) and the early-stopping decision."""

import json

import pytest

from nnfoundations import History, early_stopping


def make_history():
    h = History(settings={"epochs": 3, "lr": 0.001, "seed": 1}, best_epoch=2)
    for e, (tl, vl) in enumerate([(0.9, 1.0), (0.5, 0.6), (0.3, 0.65)], 1):
        h.append(epoch=e, train_loss=tl, val_loss=vl, val_acc=0.1 * e, lr=1e-3,
                 seconds=0.123456789 * e)
    return h


def test_columns_as_attributes():
    h = make_history()
    assert h.val_loss == [1.0, 0.6, 0.65] and h.epoch == [1, 2, 3] and len(h) == 3
    with pytest.raises(AttributeError, match=r"History has no attribute 'val_los'"):
        _ = h.val_los


def test_json_round_trip_is_exact(tmp_path):
    h = make_history()
    h.records[0]["train_loss"] = 0.1 + 0.2  # a float with a long repr
    h.to_json(tmp_path / "h.json")
    back = History.from_json(tmp_path / "h.json")
    assert back == h
    assert json.loads((tmp_path / "h.json").read_text())["best_epoch"] == 2


def test_without_validation_the_columns_are_none(tmp_path):
    h = History()
    h.append(epoch=1, train_loss=0.5, val_loss=None, val_acc=None, lr=0.1, seconds=0.0)
    h.to_json(tmp_path / "h.json")
    assert History.from_json(tmp_path / "h.json") == h and h.monitor == "train_loss"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", r"is not valid JSON"),
        ("[1, 2]", r"not a History: expected an object with a 'records' list"),
        ('{"records": [{"epoch": 1}]}', r"record 0 needs the keys"),
        ('{"records": [{"epoch": 1, "train_loss": "x", "val_loss": 1, "val_acc": 1, "lr": 1, '
         '"seconds": 1}]}', r"record 0 has train_loss = 'x', not a number"),
    ],
)
def test_bad_json_is_refused(tmp_path, content, match):
    (tmp_path / "h.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        History.from_json(tmp_path / "h.json")


def test_append_needs_every_column():
    with pytest.raises(ValueError, match=r"a record needs the keys"):
        History().append(epoch=1, train_loss=0.5)


@pytest.mark.parametrize(
    ("losses", "patience", "min_delta", "stop", "best"),
    [
        ([1.0, 0.9, 0.95, 0.96], 3, 0.0, False, 2),  # two epochs without improvement
        ([1.0, 0.9, 0.95, 0.96, 0.97], 3, 0.0, True, 2),  # the third one stops
        ([1.0, 0.9, 0.95, 0.96, 0.89], 3, 0.0, False, 5),  # improvement resets the wait
        ([1.0, 0.9, 0.89, 0.885], 2, 0.02, True, 2),  # gains under min_delta do not count
        ([1.0, 0.9, 0.8], None, 0.0, False, 3),  # no patience: never stops
        ([1.0, 1.0, 1.0], 2, 0.0, True, 1),  # equal is not better
    ],
)
def test_early_stopping_on_hand_written_losses(losses, patience, min_delta, stop, best):
    decision = early_stopping(losses, patience, min_delta)
    assert (decision.stop, decision.best_epoch) == (stop, best)
    assert decision.improved == (best == len(losses))


def test_early_stopping_stops_at_the_exact_epoch():
    losses = [1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6]
    stops = [e for e in range(1, len(losses) + 1) if early_stopping(losses[:e], 3).stop]
    assert stops[0] == 6
    assert "for 3 epochs since the best loss 0.7000 at epoch 3" in early_stopping(
        losses[:6], 3).reason


def test_non_finite_loss_stops_at_once():
    decision = early_stopping([1.0, 0.5, float("nan")], patience=10)
    assert decision.stop and decision.best_epoch == 2 and "non-finite" in decision.reason
