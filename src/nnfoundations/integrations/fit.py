"""The live diagnosis as a hook of ``fit``: each epoch the history so far is diagnosed; what
turns bad (overfitting, divergence, instability, a finding) is warned of once, with its
evidence and the epoch it started; it may stop the run, and may write the report at the
end."""

from __future__ import annotations

from pathlib import Path

from nnfoundations.diagnosis.watch import Alarm
from nnfoundations.history import StopKind
from nnfoundations.integrations.live import DiagnosisWarning, LiveDiagnosis
from nnfoundations.training.hooks import FitState, Hook

__all__ = ["Diagnose", "DiagnosisWarning"]


class Diagnose(Hook):
    """Diagnose the run after every epoch, and warn once of what turned bad.

    Args:
        stop: end the run at the first alarm (``fit`` then restores the best epoch's
            weights, as it does by default).
        report: write the run's report (``nnf report``'s page) here at the end.
        every: diagnose every this many epochs (1: each one).

    Example:
        >>> hook = Diagnose(stop=True)  # fit(model, train, val, epochs=..., hooks=[hook])
        >>> hook.alarms
        []
    """

    def __init__(self, stop: bool = False, report: str | Path | None = None,
                 every: int = 1) -> None:
        self.live, self.every = LiveDiagnosis(stop, report=report), every

    @property
    def alarms(self) -> list[Alarm]:
        """What it warned of, in order."""
        return self.live.alarms

    def on_epoch_end(self, state: FitState) -> None:
        """Diagnose the history so far; warn of the new alarms, and stop if asked to."""
        fresh = [] if state.epoch % self.every else self.live.observe(state.history)
        if fresh and self.live.stop:
            state.stop(StopKind.REQUESTED, f"the live diagnosis stopped the run: {fresh[0]}")

    def on_fit_end(self, state: FitState) -> None:
        """Write the report, where asked."""
        self.live.end(state.history)
