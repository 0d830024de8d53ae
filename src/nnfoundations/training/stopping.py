"""Early stopping as a pure decision over the monitored losses so far."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nnfoundations._format import fmt
from nnfoundations.history import StopKind


@dataclass(frozen=True)
class StopDecision:
    """What to do after the newest epoch.

    Attributes:
        stop: True when training should end now.
        best_epoch: the 1-based epoch of the best loss so far (None before any).
        improved: True when the newest epoch is the new best.
        reason: a sentence with the figures behind the decision.
        kind: why training stops (early stop or a non-finite loss); None while it goes on.
    """

    stop: bool
    best_epoch: int | None
    improved: bool
    reason: str
    kind: StopKind | None = None


def early_stopping(
    losses: Sequence[float], patience: int | None = None, min_delta: float = 0.0
) -> StopDecision:
    """Decide whether to stop, from the monitored loss of each epoch so far.

    An epoch improves when its loss is below the best so far by more than ``min_delta``
    (an absolute amount, in the loss's units). Training stops once ``patience`` epochs in a
    row have not improved, or at once when a loss is not finite.

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
    best: int | None = None
    for k, value in enumerate(losses):
        if not math.isfinite(value):
            return StopDecision(True, None if best is None else best + 1, False,
                                f"non-finite monitored loss ({value}) at epoch {k + 1}",
                                StopKind.NON_FINITE)
        if best is None or value < losses[best] - min_delta:
            best = k
    if best is None:
        return StopDecision(False, None, False, "no epoch yet")
    wait = len(losses) - 1 - best
    by = f" by more than {fmt(min_delta)}" if min_delta else ""
    if patience is not None and wait >= patience:
        return StopDecision(True, best + 1, False,
                            f"early stop: no improvement{by} for {wait} epochs since the best "
                            f"loss {losses[best]:.4f} at epoch {best + 1}", StopKind.EARLY_STOP)
    return StopDecision(False, best + 1, wait == 0,
                        f"best loss {losses[best]:.4f} at epoch {best + 1}")
