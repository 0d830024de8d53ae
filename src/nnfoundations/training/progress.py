"""The progress hook: a bar per epoch where someone watches (a terminal or a notebook), and
one line per epoch on stderr."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import torch
from tqdm import tqdm

from nnfoundations.history import History
from nnfoundations.training.hooks import FitState, Hook


class Progress(Hook):
    """Shows the run on stderr: a bar over each epoch's steps, then the epoch's line."""

    def __init__(self, steps_per_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.bar: Any = None

    def on_epoch_start(self, state: FitState) -> None:
        """Open the epoch's bar, where someone watches."""
        if sys.stderr.isatty() or "ipykernel" in sys.modules:
            with warnings.catch_warnings():  # without ipywidgets it says so, then draws text
                warnings.simplefilter("ignore")
                from tqdm.auto import tqdm as auto_tqdm
            self.bar = auto_tqdm(total=self.steps_per_epoch, file=sys.stderr, leave=False,
                                 desc=f"epoch {state.epoch}/{state.settings.epochs}",
                                 unit="batch")

    def on_step_end(self, state: FitState, loss: torch.Tensor) -> None:
        """Move the bar on."""
        if self.bar is not None:
            self.bar.update(1)

    def on_epoch_end(self, state: FitState) -> None:
        """Close the bar; write the epoch's line."""
        self._close()
        tqdm.write(summary(state.history), file=sys.stderr)

    def on_fit_end(self, state: FitState) -> None:
        """Close the bar of an epoch cut short."""
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def summary(history: History) -> str:
    """The newest epoch's line: its losses, accuracy, time, and whether it is the best."""
    r = history.records[-1]
    val = "" if r["val_loss"] is None else f"  val {r['val_loss']:.4f}  acc {r['val_acc']:.3f}"
    mark = "  * best" if history.best_epoch == r["epoch"] else ""
    return (f"epoch {r['epoch']:>3}/{history.settings['epochs']}  train {r['train_loss']:.4f}"
            f"{val}  {r['seconds']:.2f}s{mark}")
