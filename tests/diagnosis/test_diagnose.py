"""diagnose(): real training runs built to land in each verdict, and the rules' boundaries."""

import pytest
import torch

from nnfoundations import History, build_model, diagnose, fit
from nnfoundations.diagnosis.curves import HIGH_LOSS, OVERFIT_MIN_RISE, OVERFIT_RISE, STILL_FALLING
from nnfoundations.history import StopKind


def run(digits, hidden, n_train=None, dropout=0.0, **kwargs):
    torch.manual_seed(0)
    model = build_model(64, hidden, 10, dropout)
    n = n_train or len(digits.y_train)
    return fit(model, (digits.X_train[:n], digits.y_train[:n]), (digits.X_val, digits.y_val),
               seed=0, progress=False, **kwargs)


def test_a_one_unit_bottleneck_underfits(digits):
    d = diagnose(run(digits, [1], epochs=40, lr=1e-2))
    assert d.verdict == "underfitting"
    assert "of chance level log(10) = 2.303" in d.reasons[0]


def test_a_large_model_on_a_small_training_set_overfits(digits):
    history = run(digits, [256, 256], n_train=60, epochs=100, batch_size=16, lr=3e-3)
    d = diagnose(history)
    assert d.verdict == "overfitting"
    assert d.stop_epoch == d.best_epoch == history.val_loss.index(min(history.val_loss)) + 1
    assert d.stop_epoch < 20


def test_a_sensible_model_stopped_by_patience_is_a_good_fit(digits):
    history = run(digits, [128, 64], dropout=0.2, epochs=200, patience=5)
    assert history.stop_reason.startswith("early stop")
    assert history.val_loss[-1] > min(history.val_loss)  # the last epochs rose a little
    d = diagnose(history)
    assert d.verdict == "good_fit" and d.stop_epoch == history.best_epoch


def test_a_run_cut_short_has_not_converged(digits):
    d = diagnose(run(digits, [128, 64], epochs=3, lr=1e-4))
    assert d.verdict == "not_converged" and d.stop_epoch is None
    assert "still falling" in d.reasons[0]


def test_an_exploding_learning_rate_diverges(digits):
    d = diagnose(run(digits, [128, 64], epochs=5, lr=10.0, optimizer="sgd"))
    assert d.verdict == "diverged" and "non-finite" in d.reasons[0]


def curves(train, val, n_outputs=10):
    h = History(settings={"n_outputs": n_outputs, "loss_fn": "CrossEntropyLoss()"})
    for e, (t, v) in enumerate(zip(train, val, strict=True), 1):
        h.append(epoch=e, train_loss=t, val_loss=v, val_acc=0.5, lr=0.1, seconds=0.1)
    return h


def test_a_growing_training_loss_diverges():
    d = diagnose(curves([1.0, 1.2, 1.6, 2.0], [1.0, 1.2, 1.6, 2.0]))
    assert d.verdict == "diverged" and "grew from 1.0000" in d.reasons[0]


def test_the_overfitting_boundary():
    base = [2.0, 1.0, 0.7, 0.5]
    train = base + [0.4, 0.3, 0.2, 0.1]
    below = base + [0.5 * (1 + OVERFIT_RISE * 0.9)] * 4
    above = base + [0.5 * (1 + OVERFIT_RISE * 1.1)] * 4
    assert diagnose(curves(train, below)).verdict == "good_fit"
    assert diagnose(curves(train, above)).verdict == "overfitting"


def test_a_small_rise_near_a_tiny_minimum_is_noise_not_overfitting():
    train = [1.0, 0.3, 0.1, 0.05, 0.03, 0.02, 0.015, 0.01]
    val = [1.0, 0.3, 0.1, 0.05, 0.04, 0.046, 0.047, 0.046]  # +15%, but only 0.006
    assert OVERFIT_MIN_RISE * 2.302585 > 0.006
    assert diagnose(curves(train, val)).verdict == "good_fit"


def test_the_still_falling_boundary():
    slow = [0.5 * (1 - STILL_FALLING * 0.9) ** k for k in range(10)]
    fast = [0.5 * (1 - STILL_FALLING * 1.5) ** k for k in range(10)]
    assert diagnose(curves(slow, slow)).verdict != "not_converged"
    assert diagnose(curves(fast, fast)).verdict == "not_converged"


def test_the_high_loss_boundary():
    chance = 2.302585
    flat_high = [chance * HIGH_LOSS * 1.1] * 6
    flat_low = [chance * HIGH_LOSS * 0.9] * 6
    assert diagnose(curves(flat_high, flat_high)).verdict == "underfitting"
    assert diagnose(curves(flat_low, flat_low)).verdict == "good_fit"


def test_no_epochs_and_wrong_type():
    with pytest.raises(ValueError, match=r"no epochs to diagnose"):
        diagnose(History())
    with pytest.raises(TypeError, match=r"diagnose needs a History, got list"):
        diagnose([1.0, 2.0])


def kind_curves(kind):
    h = History(settings={"n_outputs": 10, "loss_kind": kind})
    for e, (t, v) in enumerate([(2.0, 2.0), (1.0, 1.1), (0.5, 0.6)] + [(0.44, 0.55)] * 6, 1):
        h.append(epoch=e, train_loss=t, val_loss=v, val_acc=None, lr=0.1, seconds=0)
    return h


def test_the_chance_level_follows_the_recorded_loss_kind():
    assert "of chance level log(10) = 2.303" in str(diagnose(kind_curves("cross_entropy")))
    assert "of the first epoch's loss 2.000" in str(diagnose(kind_curves("other")))


def test_a_non_finite_stop_is_read_from_the_stop_kind_not_the_sentence():
    h = kind_curves("cross_entropy")
    h.stop_kind, h.stop_reason = StopKind.NON_FINITE, "any words at all"
    assert diagnose(h).verdict == "diverged"
