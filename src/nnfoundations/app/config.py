"""What ``nnf train`` is asked to do, as plain data: no torch, so that the CLI can show its
defaults in ``--help`` without loading a model library."""

from __future__ import annotations

from dataclasses import dataclass, field

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.training.names import ENGINES, OPTIMIZER_NAMES


@dataclass
class TrainConfig:
    """Everything ``nnf train`` needs; the defaults reach >= 97% test accuracy on digits."""

    data: str = "digits"
    label: str | None = None
    labels: str | None = None
    drop: list[str] = field(default_factory=list)
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    engine: str = "auto"
    patience: int | None = 15
    seed: int = 0
    device: str = "auto"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    out: str | None = None
    quiet: bool = False

    def check(self) -> None:
        """Refuse a bad setting before any work, naming the flag a user typed."""
        _checks.positive_int("--epochs", self.epochs)
        _checks.positive_int("--batch-size", self.batch_size)
        _checks.positive_number("--lr", self.lr)
        _checks.fraction("--dropout", self.dropout)
        for k, h in enumerate(self.hidden):
            _checks.positive_int(f"--hidden (size {k + 1})", h)
        if self.patience is not None:
            _checks.positive_int("--patience", self.patience)
        _checks.seed("--seed", self.seed)
        if self.optimizer.lower() not in OPTIMIZER_NAMES:
            raise InvalidValueError(f"--optimizer must be one of {list(OPTIMIZER_NAMES)}, got "
                                    f"{self.optimizer!r}")
        if self.engine not in ENGINES:
            raise InvalidValueError(f"--engine must be one of {list(ENGINES)}, got "
                                    f"{self.engine!r}")
        val = _checks.fraction("--val-fraction", self.val_fraction, low_open=True)
        test = _checks.fraction("--test-fraction", self.test_fraction)
        if val + test >= 1:
            raise InvalidValueError(f"--val-fraction + --test-fraction must be < 1, got "
                                    f"{val} + {test}")
