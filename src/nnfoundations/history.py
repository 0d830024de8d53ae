"""History: one record of plain floats per epoch, the run's settings, and how the run ended."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nnfoundations._files import atomic_write_text

#: The columns of each epoch's record.
COLUMNS = ("epoch", "train_loss", "val_loss", "val_acc", "lr", "seconds")


@dataclass
class History:
    """What happened in a run, as plain data: JSON on disk, floats in memory.

    Attributes:
        records: one dict per epoch with the keys in :data:`COLUMNS` (``val_loss`` and
            ``val_acc`` are None without validation data).
        settings: the run's settings (epochs, batch size, optimizer, seed, ...).
        stop_reason: why training ended: ``"completed"``, early stopping, a non-finite loss
            or an interruption, with the figures.
        interrupted: True when Ctrl-C ended the run.
        best_epoch: the epoch whose weights were kept (best monitored loss), or None.

    Example:
        >>> h = History(); h.append(epoch=1, train_loss=0.5, val_loss=0.6, val_acc=0.8,
        ...                         lr=1e-3, seconds=0.1)
        >>> h.val_loss
        [0.6]
    """

    records: list[dict[str, float | None]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    stop_reason: str = "completed"
    interrupted: bool = False
    best_epoch: int | None = None

    def append(self, **record: float | None) -> None:
        """Add one epoch's record; its keys must be exactly :data:`COLUMNS`."""
        if set(record) != set(COLUMNS):
            raise ValueError(f"a record needs the keys {COLUMNS}, got {tuple(record)}")
        self.records.append({k: record[k] for k in COLUMNS})

    def __getattr__(self, name: str) -> list[float | None]:
        if name in COLUMNS:
            return [r[name] for r in self.records]
        raise AttributeError(f"History has no attribute {name!r}; columns are {COLUMNS}")

    def __len__(self) -> int:
        return len(self.records)

    @property
    def monitor(self) -> str:
        """The loss column early stopping and ``best_epoch`` follow: validation if present."""
        return "val_loss" if self.records and self.records[0]["val_loss"] is not None \
            else "train_loss"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON or a ``weights_only`` checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`; refuses data that is not a History."""
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise ValueError("not a History: expected an object with a 'records' list")
        history = cls(settings=dict(data.get("settings", {})),
                      stop_reason=str(data.get("stop_reason", "completed")),
                      interrupted=bool(data.get("interrupted", False)),
                      best_epoch=data.get("best_epoch"))
        for k, record in enumerate(data["records"]):
            if not isinstance(record, dict) or set(record) != set(COLUMNS):
                raise ValueError(f"not a History: record {k} needs the keys {COLUMNS}")
            history.append(**{c: _number(record[c], c, k) for c in COLUMNS})
        return history

    def to_json(self, path: str | Path) -> None:
        """Write the History as JSON, atomically (no half-written file on failure)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1, allow_nan=True))

    @classmethod
    def from_json(cls, path: str | Path) -> History:
        """Read a History written by :meth:`to_json`; the round trip is exact."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        return cls.from_dict(data)


def _number(value: object, column: str, k: int) -> float | None:
    if value is None and column in ("val_loss", "val_acc"):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a History: record {k} has {column} = {value!r}, not a number")
    return int(value) if column == "epoch" else float(value)
