"""The live diagnosis as a Keras callback (Keras 3, any backend): add
``Diagnose(stop=True, restore_best=True)`` to ``model.fit(..., callbacks=[...])``. Importing
this module imports Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from nnfoundations.integrations.live import LiveDiagnosis


class Diagnose(keras.callbacks.Callback):
    """Diagnose the run after every epoch from ``loss``, ``val_loss`` and
    ``val_accuracy``; warn once of what turned bad; with ``stop``, stop training; with
    ``restore_best``, end with the weights of the epoch of the lowest validation loss; with
    ``report``, write the run's page at the end. ``classes`` (the chance level's) defaults
    to the width of the model's output.

    Example:
        >>> model.fit(X, y, validation_split=0.2, epochs=200,  # doctest: +SKIP
        ...           callbacks=[Diagnose(stop=True, restore_best=True)])
    """

    def __init__(self, stop: bool = False, restore_best: bool = False,
                 report: str | Path | None = None, classes: int | None = None) -> None:
        super().__init__()
        self.options, self.classes = (stop, restore_best, report), classes
        self.live = LiveDiagnosis(*self.options, classes)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        width = self.model.outputs[0].shape[-1] if self.model.outputs else None
        self.live = LiveDiagnosis(*self.options, self.classes or width)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        accuracy = logs.get("val_accuracy", logs.get("val_acc"))
        if self.live.epoch(logs.get("loss"), logs.get("val_loss"), accuracy,
                           self.model.get_weights):
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        best = self.live.end()
        if best is not None:
            self.model.set_weights(best)
