"""The live diagnosis as a Lightning callback: add ``Diagnose(stop=True, restore_best=True)``
to ``Trainer(callbacks=[...])``. It reads the epoch's logged ``train_loss`` and ``val_loss``
(and ``val_acc``; other names with ``train_key=`` ...). Importing this module imports
``lightning.pytorch``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from nnfoundations.integrations.live import LiveDiagnosis


class Diagnose(pl.Callback):
    """Diagnose the run after every training epoch (its validation done); warn once of
    what turned bad; with ``stop``, stop training; with ``restore_best``, end with the
    weights of the epoch of the lowest validation loss; with ``report``, write the page.
    ``classes`` sets a cross-entropy's chance level (``log classes``).

    Example:
        >>> trainer = pl.Trainer(max_epochs=200,  # doctest: +SKIP
        ...                      callbacks=[Diagnose(stop=True, restore_best=True)])
    """

    def __init__(self, stop: bool = False, restore_best: bool = False,
                 report: str | Path | None = None, classes: int | None = None,
                 train_key: str = "train_loss", val_key: str = "val_loss",
                 acc_key: str = "val_acc") -> None:
        self.live = LiveDiagnosis(stop, restore_best, report, classes)
        self.keys = (train_key, val_key, acc_key)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        train, val, acc = (_number(trainer.callback_metrics.get(k)) for k in self.keys)
        if self.live.epoch(train, val, acc, lambda: copy.deepcopy(pl_module.state_dict())):
            trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        best = self.live.end()
        if best is not None:
            pl_module.load_state_dict(best)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
