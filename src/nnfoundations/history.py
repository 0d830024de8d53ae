"""History: one record of plain floats per epoch, the run's settings, and how the run ended.

It sits below the training and the diagnosis, which both read it, and needs no torch: a
``history.json`` can be diagnosed and plotted in a process that has never imported torch.
"""

from __future__ import annotations

import html
import json
import math
import reprlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations._files import atomic_write_text

#: The columns of each epoch's record.
COLUMNS = ("epoch", "train_loss", "val_loss", "val_acc", "lr", "seconds")
#: The version written into ``history.json``; files without one are version 1 and still load.
FORMAT_VERSION = 2


class StopKind(StrEnum):
    """Why a run ended, as data; ``History.stop_reason`` says it as a sentence."""

    COMPLETED = "completed"
    EARLY_STOP = "early_stop"
    NON_FINITE = "non_finite"
    INTERRUPTED = "interrupted"
    REQUESTED = "requested"  # a hook of the loop decided (``FitState.stop``)


class LossKind(StrEnum):
    """What the diagnosis needs to know of a run's loss: whether ``log K`` is its chance level.

    A new kind of loss with a known chance level gets a member here and a line in the
    diagnosis's ``chance_level``.
    """

    CROSS_ENTROPY = "cross_entropy"
    OTHER = "other"


class EpochRecord(TypedDict):
    """One epoch's figures (``val_loss`` and ``val_acc`` are None without validation data)."""

    epoch: int
    train_loss: float
    val_loss: float | None
    val_acc: float | None
    lr: float
    seconds: float


@dataclass
class History:
    """What happened in a run, as plain data: JSON on disk, floats in memory.

    Attributes:
        records: one :class:`EpochRecord` per epoch.
        settings: the run's settings (epochs, batch size, optimizer, seed, loss kind, ...).
        stop_kind: why training ended, a :class:`StopKind`.
        stop_reason: the same as a sentence, with the figures.
        best_epoch: the epoch whose weights were kept (best monitored loss), or None.
        telemetry: per-epoch figures beyond the losses (gradient norms, update ratios, dead
            units), plain numbers keyed by name, for the diagnosis's findings.

    Example:
        >>> h = History(); h.append(epoch=1, train_loss=0.5, val_loss=0.6, val_acc=0.8,
        ...                         lr=1e-3, seconds=0.1)
        >>> h.val_loss, h.stop_kind
        ([0.6], <StopKind.COMPLETED: 'completed'>)
    """

    records: list[EpochRecord] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    stop_kind: StopKind = StopKind.COMPLETED
    stop_reason: str = "completed"
    best_epoch: int | None = None
    telemetry: list[dict[str, Any]] = field(default_factory=list)

    def append(self, *, epoch: int, train_loss: float, val_loss: float | None,
               val_acc: float | None, lr: float, seconds: float) -> None:
        """Add one epoch's record."""
        self.records.append(EpochRecord(epoch=epoch, train_loss=train_loss, val_loss=val_loss,
                                        val_acc=val_acc, lr=lr, seconds=seconds))

    def __len__(self) -> int:
        return len(self.records)

    def _repr_html_(self) -> str:
        """A table of the epochs, for Jupyter; the best epoch in bold."""
        def cell(value: object) -> str:
            return "" if value is None else html.escape(
                f"{value:.4g}" if isinstance(value, float) else str(value))
        columns = ("epoch", "train_loss", "val_loss", "val_acc", "lr", "seconds")
        rows = "".join(
            "<tr>" + "".join(f"<td><b>{cell(v)}</b></td>" if r["epoch"] == self.best_epoch
                             else f"<td>{cell(v)}</td>" for v in (
                                 r["epoch"], r["train_loss"], r["val_loss"], r["val_acc"],
                                 r["lr"], r["seconds"])) + "</tr>"
            for r in self.records)
        head = "".join(f"<th>{c}</th>" for c in columns)
        return (f"<p>{len(self)} epochs; {html.escape(self.stop_reason)}; best epoch "
                f"{cell(self.best_epoch)}</p><table><tr>{head}</tr>{rows}</table>")

    @property
    def epoch(self) -> list[int]:
        """The epoch numbers, 1-based."""
        return [r["epoch"] for r in self.records]

    @property
    def train_loss(self) -> list[float]:
        """The mean training loss of each epoch."""
        return [r["train_loss"] for r in self.records]

    @property
    def val_loss(self) -> list[float | None]:
        """The validation loss of each epoch (None without validation data)."""
        return [r["val_loss"] for r in self.records]

    @property
    def val_acc(self) -> list[float | None]:
        """The validation accuracy of each epoch (None without validation data)."""
        return [r["val_acc"] for r in self.records]

    @property
    def lr(self) -> list[float]:
        """The learning rate of each epoch."""
        return [r["lr"] for r in self.records]

    @property
    def seconds(self) -> list[float]:
        """The wall time of each epoch, training and validation."""
        return [r["seconds"] for r in self.records]

    @property
    def monitor(self) -> str:
        """The loss column early stopping and ``best_epoch`` follow: validation if present."""
        return "val_loss" if self.records and self.records[0]["val_loss"] is not None \
            else "train_loss"

    @property
    def monitored(self) -> list[float]:
        """The monitored loss of each epoch (see :attr:`monitor`)."""
        if self.monitor == "train_loss":
            return self.train_loss
        return [math.nan if v is None else v for v in self.val_loss]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON or a ``weights_only`` checkpoint."""
        return {"version": FORMAT_VERSION, "records": [dict(r) for r in self.records],
                "settings": dict(self.settings), "stop_kind": self.stop_kind.value,
                "stop_reason": self.stop_reason, "best_epoch": self.best_epoch,
                "telemetry": [dict(t) for t in self.telemetry]}

    @classmethod
    def from_dict(cls, data: object) -> History:
        """Inverse of :meth:`to_dict`; also reads version 1 (no ``version`` key)."""
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise InvalidValueError("not a History: expected an object with a 'records' list")
        version = data.get("version", 1)
        if version not in (1, FORMAT_VERSION):
            raise InvalidValueError(f"History format version {version!r} is not one this "
                                    f"nnfoundations reads (1 or {FORMAT_VERSION}); upgrade it")
        settings = data.get("settings") or {}
        if not isinstance(settings, dict):
            raise InvalidValueError("not a History: 'settings' must be an object")
        history = cls(settings=dict(settings),
                      stop_reason=str(data.get("stop_reason", "completed")),
                      best_epoch=_best_epoch(data.get("best_epoch")))
        for k, record in enumerate(data["records"]):
            if not isinstance(record, dict) or set(record) != set(COLUMNS):
                raise InvalidValueError(f"not a History: record {k} needs the keys {COLUMNS}")
            history.records.append(_record(record, k))
        history.stop_kind = _stop_kind(data, history) if version == 1 else \
            _known_stop_kind(data.get("stop_kind", StopKind.COMPLETED.value))
        history.telemetry = _telemetry(data.get("telemetry", []))
        return history

    def to_json(self, path: str | Path) -> None:
        """Write the History as JSON, atomically (no half-written file on failure)."""
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1, allow_nan=True))

    @classmethod
    def from_json(cls, path: str | Path) -> History:
        """Read a History written by :meth:`to_json`; the round trip is exact."""
        if not Path(path).is_file():
            raise InvalidValueError(f"no such file: {path}")
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:  # ValueError: ints of 5,000 digits
            raise InvalidValueError(f"{path} is not valid JSON: {str(err).split(';')[0]}") from None
        except RecursionError:
            raise InvalidValueError(f"{path} is nested too deeply to be a History") from None
        return cls.from_dict(data)


def _record(record: dict[str, object], k: int) -> EpochRecord:
    epoch = _number(record["epoch"], "epoch", k)
    if not (math.isfinite(epoch) and epoch.is_integer()):
        raise InvalidValueError(f"not a History: record {k} has epoch = {epoch!r}, not a whole "
                                "number")
    return EpochRecord(
        epoch=int(epoch),
        train_loss=_number(record["train_loss"], "train_loss", k),
        val_loss=_optional(record["val_loss"], "val_loss", k),
        val_acc=_optional(record["val_acc"], "val_acc", k),
        lr=_number(record["lr"], "lr", k), seconds=_number(record["seconds"], "seconds", k))


def _number(value: object, column: str, k: int) -> float:
    if not _checks.is_real(value):
        raise InvalidValueError(f"not a History: record {k} has {column} = {value!r}, "
                                "not a number")
    return float(value)


def _optional(value: object, column: str, k: int) -> float | None:
    return None if value is None else _number(value, column, k)


#: The telemetry that the findings read: maps from layers to numbers, and single numbers.
_LAYER_MAPS = ("grad_norm", "update_ratio", "dead_relu")
_FIGURES = ("input_mean", "input_std", "input_max_abs")


def _telemetry(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise InvalidValueError("not a History: 'telemetry' must be a list of objects")
    for k, t in enumerate(value):
        for key in _LAYER_MAPS:
            layers = t.get(key)
            if layers is not None and not isinstance(layers, dict):
                raise InvalidValueError(f"not a History: telemetry {k} has {key} = "
                                        f"{reprlib.repr(layers)}, not a map from layers to "
                                        "numbers")
            bad = next(((n, v) for n, v in (layers or {}).items() if not _checks.is_real(v)), None)
            if bad is not None:
                raise InvalidValueError(f"not a History: telemetry {k} has {key}[{bad[0]!r}] "
                                        f"= {reprlib.repr(bad[1])}, not a number")
        for key in _FIGURES:
            if t.get(key) is not None and not _checks.is_real(t[key]):
                raise InvalidValueError(f"not a History: telemetry {k} has {key} = "
                                        f"{reprlib.repr(t[key])}, not a number")
    return [dict(t) for t in value]


def _best_epoch(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError(f"not a History: best_epoch = {value!r}, not an int")
    return value


def _known_stop_kind(value: object) -> StopKind:
    kinds = [k.value for k in StopKind]
    if value not in kinds:
        raise InvalidValueError(f"not a History: stop_kind {value!r} is not one of {kinds}")
    return StopKind(str(value))


def _stop_kind(data: dict[str, Any], history: History) -> StopKind:
    """The stop kind of a version-1 file, from its figures: it had an ``interrupted`` flag,
    and told an early stop from a non-finite loss only in its sentence."""
    if data.get("interrupted"):
        return StopKind.INTERRUPTED
    if history.stop_reason == StopKind.COMPLETED.value:  # version 1's token for a full run
        return StopKind.COMPLETED
    if not all(math.isfinite(v) for v in history.monitored + history.train_loss):
        return StopKind.NON_FINITE
    patience, best = history.settings.get("patience"), history.best_epoch
    if patience is not None and best is not None and len(history) - best >= patience:
        return StopKind.EARLY_STOP
    return StopKind.NON_FINITE  # version 1 recorded no epoch for a non-finite training loss
