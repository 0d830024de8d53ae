"""The early-stopping decision: a pure function of the monitored losses."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnfoundations.history import StopKind
from nnfoundations.training.stopping import early_stopping


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
    assert decision.stop and decision.best_epoch == 2 and decision.kind is StopKind.NON_FINITE


def test_an_early_stop_says_its_kind_and_going_on_has_none():
    assert early_stopping([1.0, 1.0, 1.0], 2).kind is StopKind.EARLY_STOP
    assert early_stopping([1.0, 0.9], 2).kind is None


@given(st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=40),
       st.one_of(st.none(), st.integers(1, 10)))
def test_the_epoch_by_epoch_decision_agrees_with_a_scan_of_the_whole_history(losses, patience):
    best = losses.index(min(losses)) + 1  # the first of the lowest: equal is not better
    decision = early_stopping(losses, patience)
    assert decision.best_epoch == best and decision.best_loss == losses[best - 1]
    assert decision.stop == (patience is not None and len(losses) - best >= patience)
    assert decision.improved == (best == len(losses))
