"""The live diagnosis as a Hugging Face ``TrainerCallback``: add
``Diagnose(stop=True, restore_best=True)`` to ``Trainer(callbacks=[...])`` with an evaluation
strategy. Each evaluation is one point of the curves: its ``eval_loss`` (and
``eval_accuracy`` where ``compute_metrics`` gives one), beside the mean of the training
losses logged since the evaluation before. Importing this module imports ``transformers``."""

from __future__ import annotations

import copy
import statistics
from pathlib import Path
from typing import Any

import transformers

from nnfoundations.integrations.live import LiveDiagnosis


class Diagnose(transformers.TrainerCallback):
    """Diagnose the run after every evaluation; warn once of what turned bad; with
    ``stop``, stop training; with ``restore_best``, end with the weights of the evaluation
    of the lowest loss; with ``report``, write the page.

    Example:
        >>> Trainer(model, args, callbacks=[Diagnose(stop=True)])  # doctest: +SKIP
    """

    def __init__(self, stop: bool = False, restore_best: bool = False,
                 report: str | Path | None = None) -> None:
        self.options = (stop, restore_best, report)
        self.live = LiveDiagnosis(*self.options)
        self.seen = 0  # entries of the log history already read

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        labels = getattr(getattr(kwargs.get("model"), "config", None), "num_labels", None)
        self.live = LiveDiagnosis(*self.options, classes=labels)  # the chance level's
        self.seen = 0

    def on_evaluate(self, args: Any, state: Any, control: Any,
                    metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        metrics = metrics or {}
        new, self.seen = state.log_history[self.seen:], len(state.log_history)
        losses = [e["loss"] for e in new if "loss" in e]
        model = kwargs.get("model")
        copy_weights = None if model is None else (lambda: copy.deepcopy(model.state_dict()))
        if self.live.epoch(statistics.fmean(losses) if losses else None,
                           metrics.get("eval_loss"), metrics.get("eval_accuracy"),
                           copy_weights):
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        best, model = self.live.end(), kwargs.get("model")
        if best is not None and model is not None:
            model.load_state_dict(best)
