"""diagnose(): real training runs built to land in each verdict, clear engineered curves,
what it says when it cannot tell, chance without --classes, and the edges. Tests assert
kinds and figures, never the words."""

import dataclasses
import math
import random

import pytest
import torch

from nnfoundations import History, build_model, diagnose, fit
from nnfoundations.app.cli import main
from nnfoundations.app.formats import load_digits
from nnfoundations.diagnosis import Curves, Evidence, Reason, Verdict, verdict
from nnfoundations.diagnosis.features import read
from nnfoundations.diagnosis.model import Prediction, shipped
from nnfoundations.diagnosis.stats import running_median
from nnfoundations.history import StopKind


def run(digits, hidden, n_train=None, dropout=0.0, **kwargs):
    torch.manual_seed(0)
    model = build_model(64, hidden, 10, dropout)
    n = n_train or len(digits.y_train)
    return fit(model, (digits.X_train[:n], digits.y_train[:n]), (digits.X_val, digits.y_val),
               seed=0, progress=False, **kwargs)


def test_a_one_unit_bottleneck_underfits(digits):
    d = diagnose(run(digits, [1], epochs=40, lr=1e-2))
    assert d.verdict == Verdict.UNDERFITTING


def test_a_large_model_on_a_small_training_set_overfits(digits):
    history = run(digits, [256, 256], n_train=100, epochs=60, batch_size=16, lr=1e-2)
    d = diagnose(history)
    assert d.verdict == Verdict.OVERFITTING
    assert d.stop_epoch == d.best_epoch == history.val_loss.index(min(history.val_loss)) + 1
    assert d.stop_epoch < 20


def test_a_sensible_model_stopped_by_patience_is_a_good_fit(digits):
    history = run(digits, [128, 64], dropout=0.2, epochs=200, patience=5)
    assert history.stop_kind is StopKind.EARLY_STOP
    d = diagnose(history)
    assert d.verdict == Verdict.GOOD_FIT and d.stop_epoch == history.best_epoch


def test_sgd_on_digits_is_still_falling(digits):
    history = run(digits, [256, 128], dropout=0.2, epochs=40, optimizer="sgd")
    d = diagnose(history)
    assert d.verdict == Verdict.NOT_CONVERGED and d.stop_epoch == 40  # keep the last
    assert history.val_acc[-1] > 2 * history.val_acc[0]


def test_sgd_at_1e6_on_digits_scaled_to_one_without_standardising_diverges():
    X, y = load_digits()
    X, y = torch.from_numpy(X / 16).float(), torch.from_numpy(y)
    torch.manual_seed(0)
    history = fit(build_model(64, [64], 10), (X[:1400], y[:1400]), (X[1400:], y[1400:]),
                  epochs=20, lr=1e6, optimizer="sgd", seed=0, progress=False)
    assert diagnose(history).verdict == Verdict.DIVERGED


def test_nnf_train_at_lr_1e6_is_diverged(capsys, tmp_path):
    assert main(["train", "--epochs", "5", "--lr", "1e6", "--quiet", "--out",
                 str(tmp_path / "run")]) == 0
    assert "verdict: diverged" in capsys.readouterr().out


def curves(train, val, classes=None, acc=None):
    return Curves(epochs=list(range(1, len(val or train) + 1)), train=list(train),
                  val=list(val), acc=list(acc) if acc else [], classes=classes)


def noisy(values, scale, seed=0):
    rng = random.Random(seed)
    return [v + rng.gauss(0, scale) for v in values]


def decay(start, end, n, rate=0.3):
    return [end + (start - end) * math.exp(-rate * k) for k in range(n)]


FALL = decay(2.3, 0.1, 40)
CLEAR = {
    Verdict.GOOD_FIT: curves(noisy(decay(2.3, 0.08, 40), 0.003), noisy(FALL, 0.005),
                             acc=[0.97] * 40),
    Verdict.OVERFITTING: curves(decay(2.3, 0.01, 40),
                                noisy(FALL[:12] + [FALL[11] + 0.03 * k for k in range(28)],
                                      0.01)),
    Verdict.UNDERFITTING: curves(decay(2.3, 1.6, 40), noisy(decay(2.3, 1.65, 40), 0.005),
                                 acc=[0.3] * 40),
    Verdict.NOT_CONVERGED: curves(decay(2.3, 0.1, 15, rate=0.05), decay(2.3, 0.15, 15,
                                                                         rate=0.05)),
    Verdict.DIVERGED: curves([2.3, 1.5, 1.2, 3.0, 9.0, 40.0, 80.0, 120.0],
                             [2.3, 1.6, 1.3, 3.5, 10.0, 45.0, 90.0, 130.0]),
}


@pytest.mark.parametrize("verdict", list(CLEAR), ids=str)
def test_clear_curves_land_in_their_verdict(verdict):
    d = diagnose(CLEAR[verdict])
    assert d.verdict == verdict, str(d)
    assert d.confidence == pytest.approx(max(d.probabilities.values()), abs=0.006)
    assert d.probabilities[verdict] == max(d.probabilities.values())


def test_the_reasons_are_the_evidence_that_raised_the_verdict_most():
    d = diagnose(CLEAR[Verdict.OVERFITTING])
    weights = [r.weight for r in d.reasons]
    assert d.reasons and all(w > 0 for w in weights) and weights == sorted(weights, reverse=True)
    assert all(isinstance(r.kind, Evidence) for r in d.reasons)
    assert {Evidence.RISE, Evidence.SLOPE, Evidence.GAP, Evidence.TRAINING} & \
        {r.kind for r in d.reasons}


def test_a_rise_reason_carries_the_log_s_own_figures():
    val = [2.0, 1.0, 0.5, 0.4, 0.45, 0.6, 0.8, 1.0, 1.2, 1.4]
    d = diagnose(curves([2.0, 0.9, 0.4, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.01], val))
    rise = next((r for r in d.reasons if r.kind == Evidence.RISE), None)
    if rise is not None:
        assert rise.figures["low_epoch"] in (3, 4, 5) and rise.figures["end"] == \
            pytest.approx(sum(val[-3:]) / 3)
    assert d.verdict == Verdict.OVERFITTING and d.stop_epoch == 4


# -- when it cannot tell --------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2])
def test_fewer_than_three_epochs_are_too_few_to_read(n):
    d = diagnose(curves([2.3, 1.9][:n], [2.3, 2.0][:n]))
    assert d.verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert d.reasons[0].kind == Evidence.TOO_SHORT and d.reasons[0].figures["points"] == n


def test_an_even_split_between_verdicts_is_insufficient_evidence():
    run = CLEAR[Verdict.GOOD_FIT]
    reading = read(run)
    probs = {"good_fit": 0.45, "not_converged": 0.40, "underfitting": 0.15}
    split = Prediction(probs, {v: {} for v in probs})
    model = dataclasses.replace(shipped(), abstain_below=dict.fromkeys(shipped().classes, 0.5))
    d = verdict._answer(run, reading, split, 40, model)
    assert d.verdict == Verdict.INSUFFICIENT_EVIDENCE and d.confidence == 0.45
    assert d.reasons[0].kind == Evidence.SPLIT
    assert (d.reasons[0].figures["first"], d.reasons[0].figures["second"]) == \
        ("good_fit", "not_converged")
    assert str(d).startswith("verdict: insufficient evidence (best guess good fit, 45%)")


def test_no_validation_curve_is_insufficient_evidence():
    d = diagnose(curves(decay(2.3, 0.1, 30), []))
    assert d.verdict == Verdict.INSUFFICIENT_EVIDENCE
    assert d.reasons[0].kind == Evidence.MISSING and "validation" in d.reasons[0].figures["series"]


# -- chance and divergence without --classes ------------------------------------------

def test_a_run_saturating_far_above_chance_with_chance_accuracy_diverged_without_classes():
    """Keras SGD at a learning rate of 3: the loss jumps to 14.5 and stays, accuracy 0.10."""
    train = [2.5, 14.2, 14.5, 14.5, 14.6, 14.5, 14.5, 14.4, 14.5, 14.5]
    val = [8.0, 14.5, 14.5, 14.5, 14.5, 14.5, 14.5, 14.5, 14.5, 14.5]
    d = diagnose(curves(train, val, acc=[0.1] * 10))
    assert d.verdict == Verdict.DIVERGED, str(d)


def test_accuracy_well_above_chance_while_training_falls_is_never_diverged():
    """The validation loss rises above 1.5x chance, the accuracy stays at twice chance and
    the training loss falls to 0.09: a model that memorises, not one that blew up."""
    n = 40
    train = decay(2.3, 0.09, n, rate=0.2)
    val = decay(2.3, 1.6, 10, rate=0.4) + [1.6 + 0.1 * k for k in range(n - 10)]
    d = diagnose(curves(train, val, acc=[0.1] + [0.2] * (n - 1)))
    assert d.verdict != Verdict.DIVERGED, str(d)


# -- edges ---------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    [0.0] * 8,  # a perfect fit from the start
    [0.5, 0.1, 0.0, 0.0, 0.0, 0.0],  # reaching zero
    [-1.0, -2.0, -2.5, -2.7, -2.8, -2.8, -2.8],  # a likelihood-style loss
    [0.7] * 10,  # constant
    [1.0],  # one epoch
])
def test_zero_negative_constant_and_short_curves_get_a_verdict(values):
    d = diagnose(curves(values, values))
    assert d.verdict in Verdict and 0 < d.confidence <= 1


def test_a_nan_tail_diverges_and_an_isolated_nan_is_left_out():
    tail = curves(FALL[:15] + [math.nan] * 5, FALL[:15] + [math.nan] * 5)
    d = diagnose(tail)
    assert d.verdict == Verdict.DIVERGED and d.stop_epoch == 15  # the last finite epoch
    assert d.reasons[0].kind == Evidence.NON_FINITE and d.reasons[0].figures["first"] == 16
    glitch = FALL.copy()
    glitch[10] = math.nan
    d = diagnose(curves(FALL, glitch))
    assert d.verdict not in (Verdict.DIVERGED, Verdict.INSUFFICIENT_EVIDENCE)


def test_a_run_with_no_finite_loss_at_all_diverged():
    d = diagnose(curves([math.nan] * 3, [math.inf] * 3))
    assert d.verdict == Verdict.DIVERGED and d.reasons[0].kind == Evidence.NON_FINITE


def test_a_non_finite_stop_is_read_from_the_stop_kind_not_the_sentence():
    h = History(settings={"n_outputs": 10})
    h.stop_kind, h.stop_reason = StopKind.NON_FINITE, "any words at all"
    assert diagnose(h).verdict == Verdict.DIVERGED


def test_classes_given_by_the_caller_are_checked():
    flat = [2.2] * 8
    assert diagnose(curves(flat, flat), classes=10).verdict in Verdict
    with pytest.raises(ValueError, match=r"classes must be a positive int"):
        diagnose(curves(flat, flat), classes=0)


def test_the_json_form_has_every_field_and_each_reason_its_kind_and_figures():
    d = diagnose(curves(decay(2.3, 0.05, 30), decay(2.3, 0.1, 30))).to_dict()
    assert {"verdict", "confidence", "best_epoch", "stop_epoch", "reasons", "findings",
            "columns", "run", "probabilities"} <= set(d)
    assert all({"kind", "figures", "weight", "text"} <= set(r) for r in d["reasons"])
    assert sum(d["probabilities"].values()) == pytest.approx(1, abs=1e-3)


def test_a_reason_renders_from_its_figures():
    reason = Reason(Evidence.TOO_SHORT, {"points": 2, "needed": 4})
    assert "2" in str(reason) and "4" in str(reason)


def test_running_median_reads_through_one_spike():
    assert running_median([1.0, 1.0, 9.0, 1.0, 1.0], 3) == [1.0] * 5


def test_no_epochs_and_wrong_type():
    with pytest.raises(ValueError, match=r"no epochs to diagnose"):
        diagnose(History())
    with pytest.raises(TypeError, match=r"expected a History, Curves or a log's path, got list"):
        diagnose([1.0, 2.0])
