"""What ``nnf train`` is asked to do, as plain data: no torch, so that the CLI can show its
defaults in ``--help`` without loading a model library."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainConfig:
    """Everything ``nnf train`` needs; the defaults reach >= 97% test accuracy on digits."""

    data: str = "digits"
    label: str | None = None
    labels: str | None = None
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    patience: int | None = 15
    seed: int = 0
    device: str = "auto"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    out: str | None = None
    quiet: bool = False
