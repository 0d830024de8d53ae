"""One run's curves as plain series, whatever wrote them: what the diagnosis reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnfoundations.history import History, LossKind, StopKind


@dataclass
class Curves:
    """The per-epoch series of one run, and what is known about it.

    Attributes:
        epochs: each epoch's number, as the log numbers it (0-based, 1-based, resumed at 183).
        train: the training loss of each epoch (None where the log has none).
        val: the validation loss of each epoch (None where the log has none).
        acc: a validation metric where higher is better (accuracy, F1, ...), as logged.
        columns: which column (or tag, or key) each series came from, and the format.
        classes: the number of classes when known (its chance level is ``log classes``).
        stop_kind: how the run ended, when the log says (our own runs).
        telemetry: per-epoch figures recorded by ``fit()`` (gradient norms, ...), if any.
        name: which run of the file this is (``"run 2 of 4"``), or "".
        lr: the learning rate the run was given, when the log says (our own runs).
        not_a_loss: what the monitored series is, where its name says it is not a loss a
            model fits (a GAN's adversarial term), else "".
    """

    epochs: list[float]
    train: list[float | None]
    val: list[float | None]
    acc: list[float | None] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    classes: int | None = None
    stop_kind: StopKind | None = None
    telemetry: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""
    lr: float | None = None
    not_a_loss: str = ""

    def __post_init__(self) -> None:
        self.acc = self.acc or [None] * len(self.epochs)

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def has_val(self) -> bool:
        """Whether the run has a validation loss at all."""
        return any(v is not None for v in self.val)

    @classmethod
    def from_history(cls, history: History) -> Curves:
        """The curves of one of our own runs (its settings give the chance level)."""
        settings = history.settings
        outputs = settings.get("n_outputs")
        kind = settings.get("loss_kind", LossKind.CROSS_ENTROPY)
        classes = outputs if kind == LossKind.CROSS_ENTROPY and isinstance(outputs, int) \
            and outputs > 1 else None
        return cls(epochs=[float(e) for e in history.epoch], train=list(history.train_loss),
                   val=list(history.val_loss), acc=list(history.val_acc),
                   columns={"format": "nnfoundations history", "epoch": "epoch",
                            "train": "train_loss", "val": "val_loss", "acc": "val_acc"},
                   classes=classes, stop_kind=history.stop_kind,
                   telemetry=list(history.telemetry),
                   lr=lr if isinstance(lr := settings.get("lr"), float) else None)

    def epoch_label(self, index: int) -> int | float:
        """Epoch ``index`` (0-based position) as the log numbers it."""
        e = self.epochs[index]
        return int(e) if float(e).is_integer() else e

