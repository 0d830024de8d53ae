"""The settings of one ``fit()`` run, checked once, before any work, into a frozen record."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn as nn

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.history import LossKind
from nnfoundations.training.names import ENGINES
from nnfoundations.training.optimizers import OptimizerSpec, optimizer_name

#: How ``fit`` computes gradients: the matrix path where it applies, autograd, or either.


@dataclass(frozen=True)
class FitSettings:
    """What a run was asked to do, as plain data; ``History.settings`` starts from it.

    Attributes:
        epochs: the last epoch to train.
        batch_size: examples per mini-batch.
        lr: the learning rate of an optimizer given by name.
        optimizer: the optimizer's name, or the repr of one given as an object.
        loss_fn: the repr of the loss.
        loss_kind: what the diagnosis needs to know of the loss (its chance level).
        patience: epochs without improvement before an early stop; None never stops.
        min_delta: the least decrease of the monitored loss that counts as improvement.
        restore_best: end with the best epoch's weights.
        seed: the seed of the shuffling and of torch's global RNG.
        engine: how gradients are computed: ``auto``, ``autograd`` or ``matrix``.
    """

    epochs: int
    batch_size: int
    lr: float
    optimizer: str
    loss_fn: str
    loss_kind: LossKind
    patience: int | None
    min_delta: float
    restore_best: bool
    seed: int
    engine: str

    @classmethod
    def check(cls, *, epochs: object, batch_size: object, lr: object,
              optimizer: OptimizerSpec, loss_fn: nn.Module | None, patience: object,
              min_delta: object, restore_best: object, seed: object,
              engine: object = "auto") -> FitSettings:
        """Check each setting, naming a bad one and what is allowed; draw a seed for None."""
        if _checks.real_number("min_delta", min_delta) < 0:
            raise InvalidValueError(f"min_delta must be >= 0, got {min_delta!r}")
        if engine not in ENGINES:
            raise InvalidValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
        return cls(
            epochs=_checks.positive_int("epochs", epochs),
            batch_size=_checks.positive_int("batch_size", batch_size),
            lr=_checks.positive_number("lr", lr),
            optimizer=optimizer_name(optimizer) if isinstance(optimizer, str) else
            repr(optimizer),
            loss_fn=repr(loss_fn) if loss_fn is not None else "CrossEntropyLoss()",
            loss_kind=LossKind.CROSS_ENTROPY if loss_fn is None
            or isinstance(loss_fn, nn.CrossEntropyLoss) else LossKind.OTHER,
            patience=None if patience is None else _checks.positive_int("patience", patience),
            min_delta=float(min_delta),  # type: ignore[arg-type]
            restore_best=bool(restore_best),
            seed=_checks.seed("seed", seed) if seed is not None else
            int(torch.randint(2**31 - 1, ()).item()),
            engine=str(engine),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``History.settings``."""
        return {**asdict(self), "loss_kind": self.loss_kind.value}
