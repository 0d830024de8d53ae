"""fit(): batch semantics, early stopping, restoring, faults, resume, reproducibility."""

import math
import os
import signal

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from nnfoundations import build_model, fit, train_one_step, updates_per_epoch
from nnfoundations.history import StopKind
from nnfoundations.training.batches import Batches
from nnfoundations.training.optimizers import make_optimizer
from nnfoundations.training.step import evaluate

pytestmark = pytest.mark.usefixtures("engine")  # every test here runs on both engines


def plain_sgd(params):
    return torch.optim.SGD(params, lr=0.05, foreach=False)


def small(digits, n=300):
    return (digits.X_train[:n], digits.y_train[:n]), (digits.X_val, digits.y_val)


def without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history.records]


def test_updates_per_epoch_gives_the_seed_numbers():
    assert updates_per_epoch(1024, 64) == 16
    assert 10 * updates_per_epoch(1024, 64) == 160
    assert updates_per_epoch(1024, 1024) == 1
    assert updates_per_epoch(100, 32) == 4 and updates_per_epoch(100, 32, drop_last=True) == 3


def test_batches_equal_dataloaders_from_the_same_generator():
    X, y = torch.randn(1303, 3), torch.arange(1303)  # a last partial batch
    ours = Batches((X, y), 10, torch.device("cpu"))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    loader = DataLoader(TensorDataset(X, y), batch_size=10, shuffle=True, generator=g2)
    for _ in range(3):  # epochs
        mine = [(xa.clone(), ya.clone()) for xa, ya in ours.epoch(g1)]  # reused buffers
        theirs = list(loader)
        assert len(mine) == len(theirs) == updates_per_epoch(1303, 10) == 131
        for (xa, ya), (xb, yb) in zip(mine, theirs, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_fit_equals_the_textbook_loop(digits):
    train, val = small(digits)
    torch.manual_seed(0)
    ours = build_model(64, [16], 10)
    textbook = build_model(64, [16], 10)
    textbook.load_state_dict(ours.state_dict())
    fit(ours, train, val, epochs=2, batch_size=32, optimizer=plain_sgd, seed=5, progress=False)
    loader = DataLoader(TensorDataset(*train), batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(5))
    opt = plain_sgd(textbook.parameters())
    for _ in range(2):
        for X_batch, y_batch in loader:
            train_one_step(textbook, X_batch, y_batch, nn.CrossEntropyLoss(), opt)
    for a, b in zip(ours.parameters(), textbook.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_dataset_path_equals_tensor_path(digits):
    train, val = small(digits)
    torch.manual_seed(0)
    a, b = build_model(64, [16], 10), build_model(64, [16], 10)
    b.load_state_dict(a.state_dict())
    ha = fit(a, train, val, epochs=2, optimizer=plain_sgd, seed=3, progress=False)
    hb = fit(b, TensorDataset(*train), TensorDataset(*val), epochs=2, optimizer=plain_sgd,
             seed=3, progress=False)
    assert ha.train_loss == pytest.approx(hb.train_loss, rel=1e-6)
    assert ha.val_loss == pytest.approx(hb.val_loss, rel=1e-6)


def test_train_loss_is_the_mean_over_the_epochs_samples(digits):
    train, _ = small(digits, 70)  # batches of 64 and 6
    torch.manual_seed(0)
    model = build_model(64, [8], 10)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    history = fit(model, train, epochs=1, optimizer=plain_sgd, seed=1, progress=False)
    model.load_state_dict(start)
    opt = plain_sgd(model.parameters())
    g = torch.Generator().manual_seed(1)
    losses = [(train_one_step(model, xb, yb, nn.CrossEntropyLoss(), opt), len(yb))
              for xb, yb in DataLoader(TensorDataset(*train), 64, shuffle=True, generator=g)]
    assert history.train_loss[0] == pytest.approx(sum(v * n for v, n in losses) / 70, rel=1e-5)


def test_same_seed_gives_identical_history(digits):
    train, val = small(digits)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model(64, [32], 10, dropout_rate=0.3)
        runs.append(fit(model, train, val, epochs=3, seed=11, progress=False))
    assert without_seconds(runs[0]) == without_seconds(runs[1])


def test_early_stopping_restores_the_best_weights(digits):
    train, val = small(digits, 100)
    torch.manual_seed(0)
    model = build_model(64, [256, 256], 10)
    history = fit(model, train, val, epochs=60, batch_size=16, lr=3e-3, patience=4, seed=0,
                  progress=False)
    assert len(history) < 60 and history.stop_reason.startswith("early stop")
    assert history.stop_kind is StopKind.EARLY_STOP
    assert len(history) - history.best_epoch == 4
    loss, _ = evaluate(model, *val, nn.CrossEntropyLoss())
    assert loss == pytest.approx(history.val_loss[history.best_epoch - 1], rel=1e-6)
    assert loss == min(history.val_loss)


def test_restore_best_false_keeps_the_last_weights(digits):
    train, val = small(digits, 100)
    torch.manual_seed(0)
    model = build_model(64, [256, 256], 10)
    history = fit(model, train, val, epochs=30, batch_size=16, lr=3e-3, patience=4, seed=0,
                  restore_best=False, progress=False)
    loss, _ = evaluate(model, *val, nn.CrossEntropyLoss())
    assert loss == pytest.approx(history.val_loss[-1], rel=1e-6)


def test_nan_in_the_data_stops_at_once_with_epoch_and_step(digits):
    train, val = small(digits)
    X = train[0].clone()
    X[250] = float("nan")
    history = fit(build_model(64, [16], 10), (X, train[1]), val, epochs=5, batch_size=300,
                  seed=0, progress=False)
    assert len(history) == 0 and history.best_epoch is None
    assert history.stop_reason.startswith("non-finite loss (nan) at epoch 1, step 1")
    assert history.stop_kind is StopKind.NON_FINITE


def nan_from_then_on(X, k):
    return X * float("nan") if k >= 0 else X


def signal_once(signum):
    def send(X, k):
        if k == 0:
            os.kill(os.getpid(), signum)
        return X
    return send


def test_nan_loss_later_stops_and_restores_the_best_weights(digits, on_step):
    train, val = small(digits)  # 5 steps an epoch
    on_step(12, nan_from_then_on)  # step 2 of epoch 3
    torch.manual_seed(0)
    model = build_model(64, [16], 10)
    history = fit(model, train, val, epochs=5, seed=0, progress=False)
    assert len(history) == 2 and history.best_epoch == 2
    assert history.stop_reason.startswith("non-finite loss (nan) at epoch 3, step 2")
    assert history.stop_kind is StopKind.NON_FINITE
    loss, _ = evaluate(model, *val, nn.CrossEntropyLoss())
    assert loss == pytest.approx(history.val_loss[1], rel=1e-6)


def test_exploding_learning_rate_stops_on_a_non_finite_loss(digits):
    train, val = small(digits)
    history = fit(build_model(64, [64], 10), train, val, epochs=3, lr=1e4, optimizer="sgd",
                  seed=0, progress=False)
    assert history.stop_reason.startswith("non-finite") and history.stop_kind is StopKind.NON_FINITE


def test_ctrl_c_stops_after_the_step_and_resume_equals_an_uninterrupted_run(digits, tmp_path,
                                                                            on_step):
    train, val = small(digits)  # 300 examples, batch 64: 5 steps per epoch
    torch.manual_seed(0)
    start = build_model(64, [32], 10, dropout_rate=0.2).state_dict()

    def model():
        m = build_model(64, [32], 10, dropout_rate=0.2)
        m.load_state_dict(start)
        return m

    whole = fit(model(), train, val, epochs=5, seed=4, progress=False)
    before = signal.getsignal(signal.SIGINT)  # ignored where the suite runs in the background
    on_step(13, signal_once(signal.SIGINT))  # 5 steps an epoch: step 3 of epoch 3
    ckpt = tmp_path / "run.pt"
    cut = fit(model(), train, val, epochs=5, seed=4, checkpoint=ckpt, progress=False)
    assert cut.stop_kind is StopKind.INTERRUPTED and len(cut) == 2
    assert "after step 3" in cut.stop_reason
    assert signal.getsignal(signal.SIGINT) is before
    resumed = fit(model(), train, val, epochs=5, seed=4, checkpoint=ckpt, resume=ckpt,
                  progress=False)
    assert without_seconds(resumed) == without_seconds(whole)
    assert resumed.best_epoch == whole.best_epoch and resumed.stop_kind is StopKind.COMPLETED


def test_resume_refuses_other_settings(digits, tmp_path):
    train, val = small(digits)
    ckpt = tmp_path / "run.pt"
    fit(build_model(64, [8], 10), train, val, epochs=1, seed=1, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match=r"settings differ from the saved run: batch_size 64 -> "):
        fit(build_model(64, [8], 10), train, val, epochs=2, seed=1, batch_size=32, resume=ckpt)
    with pytest.raises(ValueError, match=r"does not fit this model"):
        fit(build_model(64, [9], 10), train, val, epochs=2, seed=1, resume=ckpt)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"is not a readable checkpoint"):
        fit(build_model(64, [8], 10), train, val, epochs=2, resume=tmp_path / "bad.pt")


def test_checkpoint_is_written_atomically_and_loads_weights_only(digits, tmp_path):
    train, val = small(digits)
    ckpt = tmp_path / "run.pt"
    fit(build_model(64, [8], 10), train, val, epochs=2, seed=1, checkpoint=ckpt, progress=False)
    state = torch.load(ckpt, weights_only=True)
    assert state["history"]["records"][-1]["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # no temporary file left


def test_optimizer_by_name_callable_or_instance():
    model = build_model(4, [4], 2)
    for name in ("adam", "adamw", "sgd", "Adam"):
        assert isinstance(make_optimizer(name, model, 0.1), torch.optim.Optimizer)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    assert make_optimizer(sgd, model, 0.1) is sgd
    assert isinstance(make_optimizer(plain_sgd, model, 0.1), torch.optim.SGD)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, r"epochs must be a positive int, got 0"),
        ({"batch_size": -1}, ValueError, r"batch_size must be a positive int, got -1"),
        ({"lr": 0.0}, ValueError, r"lr must be > 0, got 0.0"),
        ({"optimizer": "rmsprop"}, ValueError,
         r"optimizer must be one of \['adam', 'adamw', 'sgd'\], got 'rmsprop'"),
        ({"optimizer": 3}, TypeError, r"optimizer must be a name"),
        ({"patience": 0}, ValueError, r"patience must be a positive int, got 0"),
        ({"min_delta": -0.1}, ValueError, r"min_delta must be >= 0"),
        ({"seed": -1}, ValueError, r"seed must be a non-negative int"),
    ],
)
def test_bad_settings_fail_before_training(kwargs, error, match):
    X, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(error, match=match):
        fit(build_model(4, [4], 2), (X, y), **{"epochs": 1, **kwargs})


@pytest.mark.parametrize(
    ("train", "error", "match"),
    [
        ((torch.randn(8, 4), torch.zeros(7, dtype=torch.long)), ValueError,
         r"train: X and y differ in length: 8 examples but 7 labels"),
        ((torch.randn(0, 4), torch.zeros(0, dtype=torch.long)), ValueError, r"train is empty"),
        ([[1.0]], TypeError, r"train must be an \(X, y\) pair of tensors"),
        ("data.csv", TypeError, r"train must be an \(X, y\) pair of tensors or NumPy arrays"),
    ],
)
def test_bad_training_data(train, error, match):
    with pytest.raises(error, match=match):
        fit(build_model(4, [4], 2), train, epochs=1)


def test_progress_lines_on_request(digits, capsys):
    train, val = small(digits)
    fit(build_model(64, [8], 10), train, val, epochs=2, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "epoch   1/2  train" in err and "epoch   2/2" in err and "val" in err
    fit(build_model(64, [8], 10), train, val, epochs=2, seed=0, progress=False)
    assert capsys.readouterr().err == ""


def test_resume_without_a_seed_takes_the_saved_runs(digits, tmp_path):
    train, val = small(digits)
    ckpt = tmp_path / "run.pt"
    torch.manual_seed(0)
    start = build_model(64, [8], 10).state_dict()
    whole_model, cut_model, resumed_model = (build_model(64, [8], 10) for _ in range(3))
    for m in (whole_model, cut_model, resumed_model):
        m.load_state_dict(start)
    whole = fit(whole_model, train, val, epochs=3, seed=8, progress=False)
    fit(cut_model, train, val, epochs=2, seed=8, checkpoint=ckpt, progress=False)
    resumed = fit(resumed_model, train, val, epochs=3, resume=ckpt, progress=False)
    assert resumed.settings["seed"] == 8
    assert without_seconds(resumed) == without_seconds(whole)


def test_numpy_arrays_and_float64_tensors_train_a_float32_model(digits):
    X, y = digits.X_train[:200], digits.y_train[:200]
    Xv, yv = digits.X_val, digits.y_val
    for train, val in (((X.double().numpy(), y.int().numpy()), (Xv.numpy(), yv.numpy())),
                       ((X.double(), y), (Xv.double(), yv))):
        torch.manual_seed(0)
        history = fit(build_model(64, [16], 10), train, val, epochs=2, seed=0, progress=False)
        assert len(history) == 2 and all(math.isfinite(v) for v in history.val_loss)
    with pytest.raises(TypeError, match=r"pair of tensors or NumPy arrays"):
        fit(build_model(64, [16], 10), ([[0.0] * 64], [0]), epochs=1, progress=False)


def test_sigterm_stops_after_the_step_like_ctrl_c(digits, on_step):
    train, val = small(digits)
    before = signal.getsignal(signal.SIGTERM)
    on_step(7, signal_once(signal.SIGTERM))  # step 2 of epoch 2
    history = fit(build_model(64, [16], 10), train, val, epochs=5, seed=0, progress=False)
    assert history.stop_kind is StopKind.INTERRUPTED and len(history) == 1
    assert signal.getsignal(signal.SIGTERM) is before
