"""What ``nnf train`` is asked to do, as plain data: no torch, so that the CLI can show its
defaults in ``--help`` without loading a model library. The training settings' defaults and
checks are the ones declared in :mod:`nnfoundations.training.settings` (the main job's)."""

from __future__ import annotations

from dataclasses import dataclass, field

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.training.settings import SETTINGS, FitSettings

#: ``nnf train``'s default of each setting.
MAIN_JOB = {name: s.main_job for name, s in SETTINGS.items()}


def flag(name: str) -> str:
    """The command-line flag of the setting ``name``: ``batch_size`` is ``--batch-size``."""
    return "--" + name.replace("_", "-")


@dataclass
class TrainConfig:
    """Everything ``nnf train`` needs; the defaults reach >= 97% test accuracy on digits."""

    data: str = "digits"
    label: str | None = None
    labels: str | None = None
    drop: list[str] = field(default_factory=list)
    hidden: list[int] = field(default_factory=lambda: list(MAIN_JOB["hidden"]))
    dropout: float = MAIN_JOB["dropout"]
    epochs: int = MAIN_JOB["epochs"]
    batch_size: int = MAIN_JOB["batch_size"]
    lr: float = MAIN_JOB["lr"]
    optimizer: str = MAIN_JOB["optimizer"]
    engine: str = MAIN_JOB["engine"]
    patience: int | None = MAIN_JOB["patience"]
    seed: int = MAIN_JOB["seed"]
    device: str = "auto"
    val_fraction: float = MAIN_JOB["val_fraction"]
    test_fraction: float = 0.15
    out: str | None = None
    quiet: bool = False

    def check(self) -> FitSettings:
        """Check each setting once, before any work, naming the flag a user typed; return
        the training settings as the record ``fit`` runs on."""
        for name in ("hidden", "dropout"):
            SETTINGS[name].check(flag(name), getattr(self, name))
        val = SETTINGS["val_fraction"].check("--val-fraction", self.val_fraction)
        test = _checks.fraction("--test-fraction", self.test_fraction)
        if val + test >= 1:
            raise InvalidValueError(f"--val-fraction + --test-fraction must be < 1, got "
                                    f"{val} + {test}")
        names = ("epochs", "batch_size", "lr", "optimizer", "engine", "patience", "seed")
        return FitSettings.check({k: getattr(self, k) for k in names},
                                 {k: flag(k) for k in names})
