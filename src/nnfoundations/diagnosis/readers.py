"""Reading a run's curves from any framework's log, into :class:`Curves`.

Formats: our run directory or ``history.json``; Keras ``CSVLogger`` files and JSON dumps of
``History.history``; Lightning ``CSVLogger`` ``metrics.csv`` (step, epoch and validation rows
interleaved with empty cells); Hugging Face ``trainer_state.json``; TensorBoard event files
(with the optional ``tensorboard`` package); any CSV, with the columns named by the caller
where the names are not the usual ones.

Per epoch, a training loss is the mean of the epoch's values (one value for an epoch-level
column, the mean of the step rows otherwise) and a validation loss or metric is the last
value. A file whose epoch number goes back holds several appended runs: each is read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

from nnfoundations import _checks
from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations._files import csv_delimiter
from nnfoundations.diagnosis.curves import Curves
from nnfoundations.history import History

#: The usual names of each series, most specific first, as normalised by :func:`_keys`.
TRAIN_NAMES = ("train_loss_epoch", "train_loss", "training_loss", "loss_epoch", "loss",
               "train_loss_step", "loss_step")
VAL_NAMES = ("val_loss_epoch", "val_loss", "valid_loss", "validation_loss", "eval_loss",
             "dev_loss", "val_loss_step")
EPOCH_NAMES = ("epoch", "epochs")
#: The epoch column of a log without one: each row is an epoch, numbered by its position.
ROW_INDEX = "(row index)"
#: The longest header line read: a log names a few dozen columns at most.
MAX_HEADER = 100_000
#: A validation metric where higher is better: these words, after a validation prefix.
VAL_PREFIXES = ("val_", "valid_", "validation_", "eval_", "dev_")
METRIC_WORDS = ("acc", "f1", "dice", "jaccard", "iou", "auc", "precision", "recall")


@dataclass(frozen=True)
class Columns:
    """The caller's names for the columns, where a log does not use the usual ones."""

    epoch: str | None = None
    train: str | None = None
    val: str | None = None
    acc: str | None = None


Row = dict[str, float | None]


def read_runs(path: str | PathLike[str], columns: Columns = Columns()) -> list[Curves]:
    """Every run a log file (or a run directory) holds, as :class:`Curves`.

    Raises:
        InvalidValueError: no such file, a format it cannot read, or no training or
            validation loss in it; the message says which columns it found.
    """
    path = Path(path)
    if path.is_dir():
        named = _log_in(path)
        if named is None:
            return _tensorboard_runs(path, columns)
        path = named
    if not path.is_file():
        raise InvalidValueError(f"no such file: {path}")
    if "tfevents" in path.name:
        return _events_runs(_scalars(path, path.parent.name, own=True), columns,
                            f"TensorBoard events {path.name}")
    text = _text(path)
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
        return _read_json(path, text, columns)
    rows = _text_log_rows(text)
    if rows:
        return _runs(rows, columns, f"text log {path.name}")
    return _runs(_csv_rows(path, text), columns, f"CSV {path.name}")


def read_run(source: History | Curves | str | PathLike[str], *, run: int | None = None,
             columns: Columns = Columns()) -> Curves:
    """One run's curves, from a History, Curves, or a log's path (a run directory, or any
    file :func:`read_runs` reads); ``run`` (1-based) picks one of a log holding several.

    Raises:
        InvalidValueError: the log cannot be read, holds several runs and ``run`` is not
            given, or has no run ``run``.
        InvalidTypeError: ``source`` is none of these.
    """
    if isinstance(source, Curves):
        return source
    if isinstance(source, History):
        return Curves.from_history(source)
    if not isinstance(source, str | PathLike):
        raise InvalidTypeError(f"expected a History, Curves or a log's path, got "
                               f"{type(source).__name__}")
    runs = read_runs(source, columns)
    if run is None and len(runs) > 1:
        raise InvalidValueError(f"{source} holds {len(runs)} runs: pick one with --run (run= "
                                f"in Python), 1 to {len(runs)}")
    index = 1 if run is None else _checks.positive_int("run", run)
    if index > len(runs):
        raise InvalidValueError(f"run {index} is not in {source}: it holds {len(runs)} "
                                f"run{'s' if len(runs) > 1 else ''}")
    return runs[index - 1]


def _log_in(folder: Path) -> Path | None:
    """The log a folder names by its own files; None where only TensorBoard's may be."""
    for name in ("history.json", "metrics.csv", "trainer_state.json"):
        if (folder / name).is_file():
            return folder / name
    return None


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidValueError(f"{path} is not a text log (not UTF-8)") from None


def _read_json(path: Path, text: str, columns: Columns) -> list[Curves]:
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidValueError(f"{path} is not valid JSON: nested too deeply") from None
    except ValueError as err:  # ints of 5,000 digits too
        raise InvalidValueError(f"{path} is not valid JSON: {str(err).split(';')[0]}") from None
    if isinstance(data, dict) and "records" in data:
        curves = Curves.from_history(History.from_dict(data))
        return [curves]
    if isinstance(data, dict) and isinstance(data.get("log_history"), list):
        return [_hugging_face(path, data["log_history"], columns)]
    series = _series_lists(data) if isinstance(data, dict) else {}
    if series:
        rows = [{k: _number(v[i]) if i < len(v) else None for k, v in series.items()}
                for i in range(max(len(v) for v in series.values()))]
        models = _model_prefixes(list(series))
        if len(models) > 1 and columns == Columns():
            found = _prefixed_runs(rows, models, f"Keras History JSON {path.name}")
        else:
            found = _runs(rows, columns, f"Keras History JSON {path.name}", index_base=0)
        others = [k for k in data if k not in series]
        for curves in found if others else ():
            curves.columns["other keys"] = f"{len(others)} not read as series " \
                f"({', '.join(others[:5])}{', ...' if len(others) > 5 else ''})"
        return found
    raise InvalidValueError(f"{path} is JSON but not a log this reads: expected our History, "
                            "a Hugging Face trainer_state.json or a Keras History.history dump")


def _series_lists(data: dict[str, Any]) -> dict[str, list[Any]]:
    """A history dump's series: its lists of numbers (a Keras ``History.history`` holds
    only these; a hand-written dump may add settings beside them, a timestamp or the class
    names, which are not series)."""
    return {k: v for k, v in data.items() if isinstance(v, list) and v and all(
        x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in v)}


def _model_prefixes(keys: list[str]) -> list[str]:
    """The prefixes of several models' histories in one dump (``reg_loss`` and
    ``reg_val_loss`` beside ``cls_loss`` and ``cls_val_loss``): each with a loss and a
    validation loss of its own."""
    found = []
    for key in keys:
        prefix = key.removesuffix("loss")
        if key.endswith("_loss") and not _is_val(key) and prefix and any(
                k in keys for k in (f"{prefix}val_loss", f"val_{prefix}loss")):
            found.append(prefix)
    return found


def _prefixed_runs(rows: list[Row], models: list[str], source: str) -> list[Curves]:
    """One run per model, its columns named without its prefix."""
    found = []
    for prefix in models:
        own = [{k.removeprefix(prefix).replace(f"val_{prefix}", "val_"): v
                for k, v in row.items() if prefix in k} for row in rows]
        for curves in _runs(own, Columns(), f"{source}, model {prefix.rstrip('_')}"):
            curves.name = ", ".join(x for x in (prefix.rstrip("_"), curves.name) if x)
            found.append(curves)
    return found


def _csv_rows(path: Path, text: str) -> list[Row]:
    lines = text.splitlines()
    if not lines:
        raise InvalidValueError(f"{path} is empty")
    if len(lines[0]) > MAX_HEADER:
        raise InvalidValueError(f"{path}: its first line is {len(lines[0]):,} characters long; "
                                f"a log's header is under {MAX_HEADER:,}")
    reader = csv.reader(io.StringIO(text), delimiter=csv_delimiter(lines[0]))
    try:
        header = [h.strip() for h in next(reader)]
        if len(header) < 2:
            raise InvalidValueError(f"{path} has a single column {header[:1]}: not a log of "
                                    "losses")
        return [{name: _number(cell) for name, cell in zip(header, cells, strict=False)}
                for cells in reader if cells]
    except csv.Error as err:
        raise InvalidValueError(f"{path} is not a readable CSV: {err}") from None


_EPOCH = re.compile(r"\bepoch\b\s*[\[(:#]?\s*(\d+(?:\.\d+)?)(?:\s*/\s*\d+)?", re.I)
_PAIR = re.compile(r"([A-Za-z][A-Za-z_ /-]*?)\s*[=:]\s*([-+]?(?:\d+\.?\d*|\.\d+)"
                   r"(?:[eE][-+]?\d+)?|nan|inf)(%?)", re.I)


def _text_log_rows(text: str) -> list[Row]:
    """A text log with one epoch a line (``Epoch [3/30] TrainLoss=1.86 ValAcc=60.9%``,
    ``INFO:Epoch 1: Train Loss=0.0717, Val Loss=0.0766``): each line that names an epoch and
    ``name=number`` (or ``name: number``) pairs is a row; names in camel case or with spaces
    become ``train_loss``; a percentage becomes a fraction. Empty where the text is not such
    a log (a CSV has no such pairs)."""
    rows: list[Row] = []
    for line in text.splitlines():
        epoch = _EPOCH.search(line)
        if epoch is None:
            continue
        pairs = {_snake(name): float(value) / (100 if percent else 1)
                 for name, value, percent in _PAIR.findall(line[epoch.end():])}
        pairs.pop("epoch", None)
        if pairs:
            rows.append({"epoch": float(epoch.group(1)), **pairs})
    return rows


def _snake(name: str) -> str:
    """``TrainLoss``, ``Train Loss``, ``train-loss``: ``train_loss``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[\s-]+", "_", spaced).lower()


def _number(cell: object) -> float | None:
    """A cell as a float: empty is None, ``nan``/``inf`` are kept, other text is None."""
    if cell is None or isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return float(cell)
    text = str(cell).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _norm(name: str) -> str:
    """A column's name in lower case, with ``_`` for spaces and dashes."""
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _keys(name: str) -> set[str]:
    """The names a column answers to: lower case, ``_`` for spaces; for ``a/b`` also ``b``,
    ``a_b`` and ``b_a`` (``finetuning/val_loss`` is ``val_loss``; TensorBoard's ``loss/train``
    and ``train/loss`` are ``train_loss``); each also without Keras' ``epoch_`` (its
    TensorBoard callback writes ``epoch_loss``)."""
    norm = _norm(name)
    parts = [p for p in norm.split("/") if p]
    keys = {norm}
    if len(parts) > 1:
        keys |= {parts[-1], "_".join(parts), "_".join(reversed(parts))}
    return keys | {k.replace("epoch_", "") for k in keys}


def _is_val(name: str) -> bool:
    """A validation series (``val_loss``, ``eval/loss``, ``loss/valid``), never a training one."""
    return any(k.startswith(VAL_PREFIXES) for k in _keys(name))


def _find(names: Iterable[str], wanted: tuple[str, ...],
          counts: Mapping[str, int] | None = None) -> str | None:
    """The column answering to the first of ``wanted`` that any does; of several, the one
    with the most values (a summary scalar of one point loses to the curve)."""
    names = list(names)
    for target in wanted:
        hits = [name for name in names if target in _keys(name)]
        if hits:
            return max(hits, key=lambda n: (counts or {}).get(n, 0))
    return None


def _metric(names: Iterable[str], taken: set[str]) -> str | None:
    candidates = [n for n in names if n not in taken and "loss" not in n.lower()
                  and any(k.startswith(VAL_PREFIXES) for k in _keys(n))
                  and not any(k.endswith("_step") for k in _keys(n))]
    for word in METRIC_WORDS:
        for name in candidates:
            if word in name.lower():
                return name
    return None


def _resolve(names: list[str], columns: Columns,
             counts: Mapping[str, int]) -> dict[str, str | None]:
    """Which column holds each series: the caller's name, else the usual ones."""
    for given in (columns.epoch, columns.train, columns.val, columns.acc):
        if given is not None and given not in names:
            raise InvalidValueError(f"no column {given!r} in the log; its columns are {names}")
    epoch = columns.epoch or _find(names, EPOCH_NAMES) or ("" if "" in names else None)
    train = columns.train or _find([n for n in names if not _is_val(n)], TRAIN_NAMES, counts)
    val = columns.val or _find([n for n in names if n != train], VAL_NAMES, counts)
    if (train is None or val is None) and not (columns.train or columns.val or
                                                _parts(names, "train")):  # parts: summed
        train, val = _by_stem(names, counts, train or val) or (train, val)
    acc = columns.acc or _metric(names, {n for n in (epoch, train, val) if n})
    return {"epoch": epoch, "train": train, "val": val, "acc": acc}


def _stem(name: str) -> str:
    """A loss's name without its split and its level: ``train_cross_entropy_epoch`` and
    ``val_cross_entropy`` are both ``cross_entropy``; ``loss_G`` and ``val_loss_G``,
    ``loss_g``."""
    key = _norm(name).replace("/", "_")
    for prefix in ("train_", "training_", *VAL_PREFIXES):
        key = key.removeprefix(prefix)
    for suffix in ("_epoch", "_step"):
        key = key.removesuffix(suffix)
    return key


def _by_stem(names: list[str], counts: Mapping[str, int],
             found: str | None) -> tuple[str, str] | None:
    """A training and a validation loss of one stem (a loss under another name), the pair
    with the most points, holding ``found`` where one of the two is already found."""
    lossy = [n for n in names if "loss" in n.lower() or "entropy" in n.lower()]
    pairs = [(t, v) for v in lossy if _is_val(v) for t in lossy
             if not _is_val(t) and _stem(t) == _stem(v) and found in (None, t, v)]
    return max(pairs, key=lambda p: counts.get(p[0], 0) + counts.get(p[1], 0)) \
        if pairs else None


def _runs(rows: list[Row], columns: Columns, source: str,
          index_base: int = 0) -> list[Curves]:
    names, used = _columns_of(rows, columns)
    if used["train"] is None and used["val"] is None and _parts(names, "train"):
        rows = _summed(rows, names)  # YOLO's box, cls and dfl losses, and their val/ twins
        source += " (train/loss and val/loss: the sums of their parts)"
        names, used = _columns_of(rows, columns)
    if used["train"] is None and used["val"] is None:
        raise InvalidValueError(f"{source}: no training or validation loss among the columns "
                                f"{names}; name them with --train-col/--val-col")
    if used["epoch"] is None:  # one row per epoch, numbered by position
        rows = [{**row, ROW_INDEX: float(k + index_base)} for k, row in enumerate(rows)]
        used = {**used, "epoch": ROW_INDEX}
    epoch_col = used["epoch"]
    assert epoch_col is not None
    numbered = [r for r in rows if r.get(epoch_col) is not None]
    bad = next((r[epoch_col] for r in numbered if not math.isfinite(r[epoch_col] or 0.0)), None)
    if bad is not None:
        raise InvalidValueError(f"{source}: an epoch number is {bad}; epoch numbers must be "
                                "finite (name another column with --epoch-col)")
    blocks = _split_runs(numbered, epoch_col)
    shown = {k: "(unnamed index)" if v == "" else v or "-" for k, v in used.items()}
    shown |= _guessed(names, used, columns)
    found = []
    for k, block in enumerate(blocks, 1):
        curves = _per_epoch(block, epoch_col, used)
        if len(curves):
            curves.columns = {"format": source, **shown, "rows": str(len(block)),
                              **curves.columns}
            curves.not_a_loss = _not_a_loss(used["val"] or used["train"])
            curves.name = f"run {k} of {len(blocks)}" if len(blocks) > 1 else ""
            found.append(curves)
    if not found:
        raise InvalidValueError(f"{source}: no epoch has a loss in {used['train']!r} or "
                                f"{used['val']!r}")
    return found


#: A GAN's adversarial terms: a generator's or discriminator's loss, ``loss_G``, ``d_loss``.
_ADVERSARIAL = re.compile(r"(?:^|_)(?:loss_?[gd]|[gd]_?loss|adv(?:ersarial)?|disc(?:riminator)?"
                          r"|gen(?:erator)?)(?:_|$)")


#: A score, where higher is better: a metric's word (accuracy, F1, ...) or one of these,
#: as a whole part of the name and with no "loss" in it.
_SCORE = re.compile(r"(?:^|_)(?:" + "|".join((*METRIC_WORDS, "accuracy", "bleu", "rouge\\w*",
                                               "reward", "score", "map", "r2", "psnr", "ssim"))
                    + r")(?:_|$)")


def _not_a_loss(name: str | None) -> str:
    """What the monitored column is where its name says it is not a fitted loss: a GAN's
    adversarial term, or a score (named with ``--val-col``, say)."""
    key = _norm(name or "").replace("/", "_")
    if _ADVERSARIAL.search(key):
        return f"{name} looks like a GAN's adversarial term"
    if "loss" not in key and _SCORE.search(key):
        return f"{name} looks like a score, where higher is better"
    return ""


def _guessed(names: list[str], used: Mapping[str, str | None],
             columns: Columns) -> dict[str, str]:
    """Where another column could have been a series too, which ones, and how to choose."""
    notes = {}
    for key, wanted, given in (("train", TRAIN_NAMES, columns.train),
                               ("val", VAL_NAMES, columns.val)):
        pool = [n for n in names if _is_val(n) == (key == "val")]
        others = [n for n in pool if n != used[key] and any(w in _keys(n) for w in wanted)]
        if given is None and used[key] is not None and others:
            notes[f"other {key} columns"] = f"{', '.join(others[:5])} (--{key}-col)"
    return notes


def _columns_of(rows: list[Row], columns: Columns) -> tuple[list[str],
                                                           dict[str, str | None]]:
    names = list(dict.fromkeys(k for row in rows for k in row))
    counts = Counter(k for row in rows for k, v in row.items() if v is not None)
    return names, _resolve(names, columns, counts)


def _parts(names: list[str], split: str) -> list[str]:
    """A loss logged in parts (``train/box_loss``, ``train/cls_loss``, ...): two or more."""
    parts = [n for n in names if n.lower().startswith(f"{split}/") and
             n.lower().endswith("_loss")]
    return parts if len(parts) > 1 else []


def _summed(rows: list[Row], names: list[str]) -> list[Row]:
    """Each split's parts summed into one loss column named after them."""
    sums = {f"{split}/loss": parts for split in ("train", "val")
            if (parts := _parts(names, split))}
    return [{**row, **{name: math.fsum(row[p] or 0.0 for p in parts)
                       if all(row.get(p) is not None for p in parts) else None
                       for name, parts in sums.items()}} for row in rows]


def _split_runs(rows: list[Row], epoch_col: str) -> list[list[Row]]:
    """Cut where the epoch number goes back: a run appended after another."""
    blocks: list[list[Row]] = []
    last = -math.inf
    for row in rows:
        epoch = row[epoch_col]
        assert epoch is not None
        if epoch < last or not blocks:
            blocks.append([])
        blocks[-1].append(row)
        last = epoch
    return blocks


def _per_epoch(rows: list[Row], epoch_col: str, used: Mapping[str, str | None]) -> Curves:
    groups: dict[float, list[Row]] = {}
    for row in rows:
        epoch = row[epoch_col]
        assert epoch is not None
        groups.setdefault(epoch, []).append(row)
    both = used["train"] is not None and used["val"] is not None
    evaluated = sum(1 for g in groups.values() if _values(g, used["val"]))
    if both and sum(1 for g in groups.values() if not _values(g, used["val"])) >= evaluated:
        return _by_evaluation(groups, used)  # training logged more often, by step
    epochs, train, val, acc = [], [], [], []
    for epoch, group in groups.items():
        t = _mean(_values(group, used["train"]))
        v = _last(_values(group, used["val"]))
        if (both and (t is None or v is None)) or (t is None and v is None):
            continue  # an epoch without the losses the others have
        epochs.append(epoch)
        train.append(t)
        val.append(v)
        acc.append(_last(_values(group, used["acc"])))
    curves = Curves(epochs, train, val, acc)
    per = sorted(len(_values(g, used["train"])) for g in groups.values())
    if per and per[len(per) // 2] > 1:
        curves.columns["averaged"] = f"{per[len(per) // 2]} training values an epoch (median)"
    if len(groups) > len(epochs):
        curves.columns["left out"] = f"{len(groups) - len(epochs)} of {len(groups)} epochs " \
                                     "without both losses"
    return curves


def _by_evaluation(groups: Mapping[float, list[Row]], used: Mapping[str, str | None]) -> Curves:
    """A training loss logged by step apart from the evaluations: each evaluation is a
    point, its training loss the mean of the values logged since the evaluation before."""
    epochs: list[float] = []
    train: list[float | None] = []
    val: list[float | None] = []
    acc: list[float | None] = []
    pending: list[float] = []
    for epoch, group in groups.items():
        pending += _values(group, used["train"])
        v = _last(_values(group, used["val"]))
        if v is not None and pending:
            epochs.append(epoch)
            train.append(_mean(pending))
            val.append(v)
            acc.append(_last(_values(group, used["acc"])))
            pending = []
    curves = Curves(epochs, train, val, acc)
    curves.columns["train"] = f"{used['train']} (mean of the values since the last evaluation)"
    return curves


def _values(group: list[Row], column: str | None) -> list[float]:
    if column is None:
        return []
    return [v for v in (row.get(column) for row in group) if v is not None]


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _last(values: list[float]) -> float | None:
    return values[-1] if values else None


def _hugging_face(path: Path, log: list[Any], columns: Columns) -> Curves:
    """``log_history``: training entries (``loss``) between evaluations (``eval_loss``);
    each evaluation is an epoch, its training loss the mean of the entries since the last."""
    rows: list[Row] = []
    pending: list[float] = []
    for entry in log:
        if not isinstance(entry, dict):
            continue
        if _number(entry.get("loss")) is not None:
            pending.append(float(entry["loss"]))
        if _number(entry.get("eval_loss")) is not None:
            rows.append({"epoch": _number(entry.get("epoch")), "step": _number(entry.get("step")),
                         "train_loss": _mean(pending),
                         **{k: _number(v) for k, v in entry.items() if k.startswith("eval_")}})
            pending = []
    if not rows:  # no evaluation: the training entries alone
        rows = [{"epoch": _number(e.get("epoch")), "step": _number(e.get("step")),
                 "train_loss": _number(e.get("loss"))}
                for e in log if isinstance(e, dict) and _number(e.get("loss")) is not None]
    # one Trainer, one run: where the epoch field goes back (a streaming data set restarts
    # it) while the global step goes on, the step numbers the evaluations
    by_step = columns.epoch is None and not _ascending([r["epoch"] for r in rows]) and \
        _ascending([r["step"] for r in rows])
    curves = _runs(rows, replace(columns, epoch="step") if by_step else columns,
                   f"Hugging Face trainer_state {path.name}")[0]
    if curves.columns.get("train") == "train_loss":
        curves.columns["train"] = "loss (mean of the entries since the last evaluation)"
    if by_step:
        curves.columns["epoch"] = "step (the epoch field goes back)"
    return curves


def _ascending(values: Sequence[float | None]) -> bool:
    """Whether every value is known and none is below the one before."""
    return all(v is not None for v in values) and all(
        a <= b for a, b in zip(values, values[1:], strict=False))  # type: ignore[operator]


def _scalars(path: Path, prefix: str = "", own: bool = False,
             ) -> dict[str, list[tuple[int, float]]]:
    """Each scalar tag of a TensorBoard event file and its (step, value) points; ``prefix``
    names the part of a run its folder holds (Keras' ``validation``, ``add_scalars``'
    ``loss_val``), or the run's ``own`` folder."""
    loader = _event_accumulator()
    acc = loader(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    return {_tag(prefix, tag, own): [(e.step, float(e.value)) for e in acc.Scalars(tag)]
            for tag in acc.Tags().get("scalars", [])}


def _tag(prefix: str, tag: str, own: bool = False) -> str:
    """``loss/val`` for the tag ``loss`` in ``add_scalars``' folder ``loss_val``; ``train/
    epoch_loss`` for Keras' ``epoch_loss`` in ``train``; the tag alone without a prefix, or
    for a run's ``own`` folder unless its name is ``add_scalars``' (one part named alone)."""
    stem = tag.replace("/", "_") + "_"
    if prefix.startswith(stem):
        return f"{tag}/{prefix[len(stem):]}"
    return tag if own or not prefix else f"{prefix}/{tag}"


def _step_rows(scalars: Mapping[str, list[tuple[int, float]]]) -> list[Row]:
    """One row per step (TensorBoard's epoch or global step), every tag's value on it."""
    rows: dict[int, Row] = {}
    for tag, points in scalars.items():
        for step, value in points:
            rows.setdefault(step, {"step": float(step)})[tag] = value
    return [rows[step] for step in sorted(rows)]


def _events_runs(scalars: Mapping[str, list[tuple[int, float]]], columns: Columns,
                 source: str) -> list[Curves]:
    """The runs of TensorBoard scalars, by the epoch where the run logs one as a scalar
    (Lightning does, at every step: a step without it, a learning-rate monitor's, starts no
    run), else by the step."""
    if columns.epoch is None and _find(scalars, EPOCH_NAMES) is None:
        columns = replace(columns, epoch="step")
    return _runs(_step_rows(scalars), columns, source)


#: Folders that hold one part of a run, as Keras' TensorBoard callback writes them.
_PART_FOLDERS = ("train", "training", "validation", "val", "valid", "eval")


def _tensorboard_runs(folder: Path, columns: Columns) -> list[Curves]:
    """Every run under a TensorBoard logdir: a folder of event files, with its parts
    (Keras' ``train``/``validation``, ``add_scalars``' sub-folders) joined into it; each
    run named by its folder where there are several."""
    events = sorted(folder.rglob("events.out.tfevents.*"))
    if not events:
        raise InvalidValueError(f"{folder} holds no log: looked for history.json, "
                                "metrics.csv, trainer_state.json and TensorBoard event files")
    with_events = {e.parent for e in events}
    runs: dict[Path, dict[str, list[tuple[int, float]]]] = {}
    for event in events:
        here = event.parent
        part = here != folder and (here.name.lower() in _PART_FOLDERS
                                   or here.parent in with_events)
        home = here.parent if part else here
        runs.setdefault(home, {}).update(_scalars(event, here.name, own=not part))
    found: list[Curves] = []
    errors: list[InvalidValueError] = []
    for home, scalars in runs.items():
        try:
            curves = _events_runs(scalars, columns, "TensorBoard events")
        except InvalidValueError as err:
            errors.append(err)
            continue
        name = "" if len(runs) == 1 else home.name if home == folder else \
            str(home.relative_to(folder))
        for c in curves:
            c.name = ", ".join(x for x in (name, c.name) if x)
        found += curves
    if not found:
        raise errors[0]
    return found


def _event_accumulator() -> Callable[..., Any]:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise InvalidValueError("reading TensorBoard event files needs the tensorboard "
                                "package: pip install 'nnfoundations[tensorboard]'") from None
    return EventAccumulator
