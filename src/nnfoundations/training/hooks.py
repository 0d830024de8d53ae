"""The seam of ``fit``'s loop: hooks, small objects called at fixed points of a run.

Everything a run does besides its steps and its evaluation is a hook: the best-epoch and
early-stopping decision, telemetry, the progress bar, checkpoints, the learning-rate sweep
of ``lr_find``, and any hook a user passes (``fit(..., hooks=[...])``). They run in a fixed
order, the run's own first and the user's after the stopping decision, so that a hook sees
the epoch's best weights and a checkpoint sees what every other hook did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from nnfoundations.history import History, StopKind
from nnfoundations.training.settings import FitSettings

if TYPE_CHECKING:  # the telemetry hook lives beside Telemetry and imports this module
    from nnfoundations.training.telemetry import Telemetry

StateDict = dict[str, torch.Tensor]


def snapshot(model: nn.Module) -> StateDict:
    """A copy of the model's weights, detached from it."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class FitState:
    """What a hook sees of a run, and the two things it may change: the stop and the
    observer of the coming step.

    Attributes:
        model: the network being trained.
        optimizer: its optimizer.
        generator: the shuffling's random generator.
        settings: the run's checked settings.
        history: the epochs so far (the current one is appended before ``on_epoch_end``).
        epoch: the 1-based epoch under way.
        step: the steps taken so far in this epoch.
        best: the best epoch's weights, kept when ``restore_best``; None before any.
        watch: the telemetry that observes the coming step (set by the telemetry hook).
        stopping: True once a stop was asked for; the loop ends after the current step.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    settings: FitSettings
    history: History
    epoch: int = 0
    step: int = 0
    best: StateDict | None = None
    watch: Telemetry | None = None
    stopping: bool = False

    def stop(self, kind: StopKind, reason: str) -> None:
        """End the run after the current step (an epoch cut short is not recorded), saying
        why in the History."""
        self.history.stop_kind, self.history.stop_reason = kind, reason
        self.stopping = True


class Hook:
    """One concern of a run; each method is called by the loop and does nothing here.

    Subclass it and override what you need: a hook may read the state, keep its own, and
    end the run with :meth:`FitState.stop` (``StopKind.REQUESTED`` for a decision of its
    own).

    Example:
        >>> class StopAtHalf(Hook):
        ...     def on_epoch_end(self, state):
        ...         if state.history.val_acc[-1] > 0.5:
        ...             state.stop(StopKind.REQUESTED, "half right: enough for a demo")
    """

    def on_fit_start(self, state: FitState) -> None:
        """Before the first epoch (of this call: a resumed run's history is already in)."""

    def on_epoch_start(self, state: FitState) -> None:
        """Before an epoch's first step."""

    def on_step_start(self, state: FitState) -> None:
        """Before a step (``state.step`` steps of this epoch are done)."""

    def on_step_end(self, state: FitState, loss: torch.Tensor) -> None:
        """After a step, with its loss (a detached 0-d tensor on the model's device: read
        it with ``.item()`` only where the cost of a device sync is welcome)."""

    def on_epoch_end(self, state: FitState) -> None:
        """After an epoch completed and was recorded (``state.history.records[-1]``)."""

    def on_fit_end(self, state: FitState) -> None:
        """After the last epoch, however the run ended, before the best weights are put
        back."""
