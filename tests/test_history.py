"""History: plain data, an exact JSON round trip, a format version, and version-1 files."""

import json

import pytest

from nnfoundations import diagnose
from nnfoundations.diagnosis import VERDICTS
from nnfoundations.history import FORMAT_VERSION, History, StopKind


def make_history():
    h = History(settings={"epochs": 3, "lr": 0.001, "seed": 1}, best_epoch=2)
    for e, (tl, vl) in enumerate([(0.9, 1.0), (0.5, 0.6), (0.3, 0.65)], 1):
        h.append(epoch=e, train_loss=tl, val_loss=vl, val_acc=0.1 * e, lr=1e-3,
                 seconds=0.123456789 * e)
    return h


def test_columns_as_typed_properties():
    h = make_history()
    assert h.val_loss == [1.0, 0.6, 0.65] and h.epoch == [1, 2, 3] and len(h) == 3
    assert h.monitor == "val_loss" and h.monitored == [1.0, 0.6, 0.65]
    with pytest.raises(AttributeError, match=r"has no attribute 'val_los'"):
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
        ('{"records": [], "settings": true}', r"'settings' must be an object"),
        ('{"records": [], "settings": "0"}', r"'settings' must be an object"),
        ('{"records": [], "telemetry": {}}', r"'telemetry' must be a list of objects"),
        ('{"records": [], "telemetry": [{"grad_norm": true}]}',
         r"telemetry 0 has grad_norm = True, not a map from layers to numbers"),
        ('{"records": [], "telemetry": [{}, {"dead_relu": {"0": 0.1, "1": "x"}}]}',
         r"telemetry 1 has dead_relu\['1'\] = 'x', not a number"),
        ('{"records": [], "telemetry": [{"input_std": [1]}]}',
         r"telemetry 0 has input_std = \[1\], not a number"),
    ],
)
def test_bad_json_is_refused(tmp_path, content, match):
    (tmp_path / "h.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        History.from_json(tmp_path / "h.json")


def test_append_needs_every_column():
    with pytest.raises(TypeError, match=r"missing 4 required keyword-only arguments"):
        History().append(epoch=1, train_loss=0.5)


def test_the_file_says_its_version_and_the_stop_kind(tmp_path):
    h = make_history()
    h.stop_kind, h.stop_reason = StopKind.EARLY_STOP, "early stop: no improvement ..."
    h.to_json(tmp_path / "h.json")
    data = json.loads((tmp_path / "h.json").read_text())
    assert data["version"] == FORMAT_VERSION == 2 and data["stop_kind"] == "early_stop"
    assert History.from_json(tmp_path / "h.json").stop_kind is StopKind.EARLY_STOP


def version_1(records, **fields):
    """A history.json as the first version wrote it: an interrupted flag, no stop kind."""
    return {"records": [{"epoch": e, "train_loss": t, "val_loss": v, "val_acc": 0.5, "lr": 0.1,
                         "seconds": 0.0} for e, (t, v) in enumerate(records, 1)],
            "settings": {"epochs": 10, "patience": 2}, "stop_reason": "completed",
            "interrupted": False, "best_epoch": None, **fields}


@pytest.mark.parametrize(
    ("fields", "records", "kind"),
    [
        ({}, [(1.0, 1.0)] * 10, StopKind.COMPLETED),
        ({"interrupted": True, "stop_reason": "interrupted (Ctrl-C) in epoch 3 ..."},
         [(1.0, 1.0)] * 2, StopKind.INTERRUPTED),
        ({"stop_reason": "early stop: ...", "best_epoch": 2}, [(1.0, 1.0), (0.5, 0.5),
                                                               (0.6, 0.6), (0.7, 0.7)],
         StopKind.EARLY_STOP),
        ({"stop_reason": "non-finite loss (nan) at epoch 3, step 4: ...", "best_epoch": 2},
         [(1.0, 1.0), (0.5, 0.5)], StopKind.NON_FINITE),  # the bad epoch was not recorded
        ({"stop_reason": "non-finite monitored loss (nan) at epoch 2", "best_epoch": 1},
         [(1.0, 1.0), (0.5, float("nan"))], StopKind.NON_FINITE),
    ],
)
def test_version_1_files_still_load_with_their_stop_kind(fields, records, kind):
    h = History.from_dict(version_1(records, **fields))
    assert h.stop_kind is kind and len(h) == len(records)


def test_an_unknown_version_or_stop_kind_is_refused():
    with pytest.raises(ValueError, match=r"format version 7 is not one this nnfoundations reads"):
        History.from_dict({"version": 7, "records": []})
    with pytest.raises(ValueError, match=r"stop_kind 'bored' is not one of"):
        History.from_dict({"version": 2, "records": [], "stop_kind": "bored"})




def test_telemetry_from_a_file_is_read_as_far_as_it_goes(tmp_path):
    # null maps, and epochs that name other layers than the first: findings, not a crash
    h = make_history()
    h.settings["n_outputs"] = 10
    h.telemetry = [{"grad_norm": {"0": 1.0, "2": 1.0}, "dead_relu": None},
                   {"grad_norm": {"2": 1e5, "4": 1.0}, "dead_relu": None}]
    h.to_json(tmp_path / "h.json")
    d = diagnose(History.from_json(tmp_path / "h.json"))
    assert d.verdict in VERDICTS
    assert [f.name for f in d.findings if f.name == "exploding_gradients"] == [
        "exploding_gradients"]  # layer 2 grew 1e5 times
