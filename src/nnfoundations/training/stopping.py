"""Early stopping as a pure decision over the monitored losses, taken one epoch at a time
(:func:`decide`), and the hook that takes it in ``fit``'s loop."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nnfoundations._format import fmt
from nnfoundations.history import StopKind
from nnfoundations.training.hooks import FitState, Hook, snapshot


@dataclass(frozen=True)
class StopDecision:
    """What to do after the newest epoch; also all that the next decision needs.

    Attributes:
        stop: True when training should end now.
        best_epoch: the 1-based epoch of the best loss so far (None before any).
        improved: True when the newest epoch is the new best.
        reason: a sentence with the figures behind the decision.
        kind: why training stops (early stop or a non-finite loss); None while it goes on.
        best_loss: the best loss so far (inf before any).
    """

    stop: bool
    best_epoch: int | None
    improved: bool
    reason: str
    kind: StopKind | None = None
    best_loss: float = math.inf


#: The decision before any epoch.
NO_EPOCH = StopDecision(False, None, False, "no epoch yet")


def decide(previous: StopDecision, loss: float, epoch: int, patience: int | None = None,
           min_delta: float = 0.0) -> StopDecision:
    """The decision after ``epoch``, from the one before it and the epoch's monitored loss.

    An epoch improves when its loss is below the best so far by more than ``min_delta``
    (an absolute amount, in the loss's units). Training stops once ``patience`` epochs in a
    row have not improved, or at once when a loss is not finite.

    Example:
        >>> d = decide(NO_EPOCH, 1.0, 1, patience=1)
        >>> decide(d, 1.2, 2, patience=1).reason
        'early stop: no improvement for 1 epochs since the best loss 1.0000 at epoch 1'
    """
    if not math.isfinite(loss):
        return StopDecision(True, previous.best_epoch, False,
                            f"non-finite monitored loss ({loss}) at epoch {epoch}",
                            StopKind.NON_FINITE, previous.best_loss)
    improved = previous.best_epoch is None or loss < previous.best_loss - min_delta
    best, best_loss = (epoch, loss) if improved else (previous.best_epoch, previous.best_loss)
    assert best is not None  # an improvement sets it; without one, a previous best exists
    wait = epoch - best
    if patience is not None and wait >= patience:
        by = f" by more than {fmt(min_delta)}" if min_delta else ""
        return StopDecision(True, best, False, f"early stop: no improvement{by} for {wait} "
                            f"epochs since the best loss {best_loss:.4f} at epoch {best}",
                            StopKind.EARLY_STOP, best_loss)
    return StopDecision(False, best, improved, f"best loss {best_loss:.4f} at epoch {best}",
                        None, best_loss)


def early_stopping(
    losses: Sequence[float], patience: int | None = None, min_delta: float = 0.0
) -> StopDecision:
    """Decide whether to stop, from the monitored loss of each epoch so far: :func:`decide`
    over them in turn, up to the first non-finite one.

    Args:
        losses: the monitored loss of epochs 1, 2, ... (usually the validation loss).
        patience: epochs without improvement before stopping; None never stops.
        min_delta: the least decrease that counts as an improvement, >= 0.

    Returns:
        A :class:`StopDecision`.

    Example:
        >>> early_stopping([1.0, 0.8, 0.81, 0.82], patience=2).stop
        True
    """
    decision = NO_EPOCH
    for epoch, loss in enumerate(losses, 1):
        decision = decide(decision, loss, epoch, patience, min_delta)
        if decision.kind is StopKind.NON_FINITE:
            break
    return decision


class EarlyStopping(Hook):
    """The best epoch (``history.best_epoch``), a copy of its weights, and the early stop,
    decided after each epoch from the monitored loss (``history.monitored``)."""

    def __init__(self, patience: int | None, min_delta: float) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.decision = NO_EPOCH

    def on_fit_start(self, state: FitState) -> None:
        """Take up a resumed run's decision from its epochs so far."""
        self.decision = early_stopping(state.history.monitored, self.patience, self.min_delta)

    def on_epoch_end(self, state: FitState) -> None:
        """Decide after the newest epoch; keep its weights when it is the best."""
        history = state.history
        self.decision = decide(self.decision, history.monitored[-1], len(history),
                               self.patience, self.min_delta)
        history.best_epoch = self.decision.best_epoch
        if self.decision.improved:
            state.best = snapshot(state.model)
        if self.decision.kind is not None:
            state.stop(self.decision.kind, self.decision.reason)
