"""What every framework's callback does with the figures of an epoch, framework-free: keep
the run's history, the best epoch's weights where asked, and the live diagnosis's alarms,
warned of once; say whether to stop; at the end hand back the best weights and write the
report."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnfoundations.app.report import report
from nnfoundations.diagnosis.watch import Alarm, Watch
from nnfoundations.history import History


class DiagnosisWarning(UserWarning):
    """What the live diagnosis found turned bad in a run."""


class LiveDiagnosis:
    """The state a framework's ``Diagnose`` callback keeps between epochs.

    Args:
        stop: ask the framework to stop at the first alarm.
        restore_best: keep the weights of the epoch with the lowest validation loss, to be
            put back at the end.
        report: write the run's report (``nnf report``'s page) here at the end.
        classes: the number of classes of a cross-entropy loss, which sets its chance level
            (``log classes``); where None, the diagnosis reads it from the curves.
    """

    def __init__(self, stop: bool = False, restore_best: bool = False,
                 report: str | Path | None = None, classes: int | None = None) -> None:
        self.stop, self.restore_best, self.report = stop, restore_best, report
        self.history = History(settings={} if classes is None else {"n_outputs": classes})
        self.watch = Watch()
        self.alarms: list[Alarm] = []
        self.best_weights: Any = None

    def epoch(self, train_loss: float | None, val_loss: float | None,
              val_acc: float | None = None, weights: Callable[[], Any] | None = None) -> bool:
        """Record an epoch (or an evaluation); warn of new alarms. Returns whether to stop.
        ``weights`` copies the model's weights, called when the epoch is the best so far."""
        self.history.append(epoch=len(self.history) + 1, lr=math.nan, seconds=0.0,
                            train_loss=math.nan if train_loss is None else float(train_loss),
                            val_loss=None if val_loss is None else float(val_loss),
                            val_acc=None if val_acc is None else float(val_acc))
        monitored = self.history.monitored
        if self.restore_best and weights is not None and monitored[-1] <= min(monitored):
            self.best_weights = weights()
        return bool(self.observe(self.history)) and self.stop

    def observe(self, history: History) -> list[Alarm]:
        """Diagnose ``history`` as it stands and warn of the alarms it raises for the first
        time; returns them."""
        fresh = self.watch.update(history)
        for alarm in fresh:
            warnings.warn(f"epoch {len(history)}: {alarm}", DiagnosisWarning, stacklevel=4)
        self.alarms += fresh
        return fresh

    def end(self, history: History | None = None) -> Any:
        """Write the report of ``history`` (by default the one kept here) where asked; the
        best weights to put back (None: none kept)."""
        history = self.history if history is None else history
        if self.report is not None and len(history):
            report(history, self.report)
        return self.best_weights if self.restore_best else None
