"""Runs on disk: train into a run directory, and load it back to evaluate or predict.

A run directory holds ``model.pt`` (weights, architecture, standardisation, classes and
feature names: plain data, loadable with ``weights_only=True``), ``history.json``,
``curves.png``, ``metrics.json``, ``settings.json`` and ``split.json`` (the data's path and
SHA-256 and the held-out test rows, which ``nnf evaluate RUN`` scores). It is written into a
temporary
directory beside its final place and renamed at the end: a failed run leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from sklearn.preprocessing import StandardScaler

from nnfoundations._errors import InvalidValueError, first_line
from nnfoundations._files import current_umask, new_directory
from nnfoundations._signals import caught
from nnfoundations.app.config import TrainConfig
from nnfoundations.app.formats import Table, load_digits, read_data
from nnfoundations.app.preprocess import (
    Split,
    encode_labels,
    index_labels,
    scaler_from_dict,
    scaler_to_dict,
    split_data,
    standardise,
)
from nnfoundations.diagnosis import Diagnosis, diagnose
from nnfoundations.history import History
from nnfoundations.training.checkpoint import atomic_save, safe_load
from nnfoundations.training.compare import compare_batch_sizes, comparison_table
from nnfoundations.training.distributed import device_for_rank, init_from_env, leave
from nnfoundations.training.inference import per_class_accuracy, predict_proba
from nnfoundations.training.loop import run_fit
from nnfoundations.training.lr_finder import LRFind, lr_find
from nnfoundations.training.model import build_model
from nnfoundations.training.plots import (
    check_image_path,
    plot_comparison,
    plot_history,
    plot_lr_find,
)
from nnfoundations.training.settings import FitSettings
from nnfoundations.training.step import evaluate

MODEL_FORMAT = "nnfoundations-model-1"
#: The end of a run's temporary folder's name: ``.<run, shortened>.<random>.tmp``.
TMP_SUFFIX = ".tmp"
#: The file that marks a temporary folder as one of ours, naming its host and process: the
#: sweep removes nothing without it.
TMP_MARKER = ".nnf-partial-run"


@dataclass
class RunResult:
    """What a training run produced."""

    path: Path | None  # None on a data-parallel rank other than 0, which writes nothing
    history: History
    diagnosis: Diagnosis
    metrics: dict[str, Any]


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when there is a GPU, else the CPU; ``cuda`` without one is refused."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InvalidValueError(f"unknown device {device!r}; choose auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidValueError(f"device {device!r} asked for, but no CUDA GPU is available; "
                                "use --device cpu or auto")
    return torch.device(device)


def train_run(cfg: TrainConfig, announce: Callable[[str], object] | None = None) -> RunResult:
    """Load the data, split, standardise, train with :func:`fit`, test, diagnose, and write
    the run directory (``cfg.out``, default ``runs/<timestamp>``). ``announce`` is told what
    was read (rows, features, the label column and its classes) before training starts.

    Under ``torchrun`` (or ``nnf train --nproc N``) every process trains its shard and
    rank 0 alone announces and writes; the others return a result without a path."""
    settings = cfg.check()
    rank, world = init_from_env()
    try:
        result = _train(cfg, settings, announce, rank)
    except BaseException:
        leave(wait=False)
        raise
    leave()
    return result


def _train(cfg: TrainConfig, settings: FitSettings, announce: Callable[[str], object] | None,
           rank: int) -> RunResult:
    device = device_for_rank() or resolve_device(cfg.device)
    out = new_directory(cfg.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S"),
                        taken_ok=cfg.out is None)  # a default name moves aside if taken
    table, split, classes, architecture, model = _prepare(cfg)
    if announce is not None and rank == 0:
        announce(f"data {cfg.data}: {table.describe()}")
    history = run_fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val),
                      settings, device=device, progress=not cfg.quiet)
    diagnosis = diagnose(history)
    metrics = _test_metrics(model, split.X_test, split.y_test, classes, history, diagnosis)
    model_state = _model_state(model, architecture, split.standardizer, classes,
                               table.feature_names)
    split_record = {"data": cfg.data if cfg.data == "digits" else str(Path(cfg.data).resolve()),
                    "sha256": _fingerprint(cfg.data), "label": table.label_column or cfg.label,
                    "labels": cfg.labels,
                    "test_index": split.test_index.tolist()}
    if rank != 0:
        return RunResult(None, history, diagnosis, metrics)
    written = _write_run(out, model_state, history, diagnosis, metrics,
                         {"settings": asdict(cfg), "split": split_record},
                         unique=cfg.out is None)
    return RunResult(written, history, diagnosis, metrics)


def lr_find_run(cfg: TrainConfig, plot: str | Path, *, start_lr: float = 1e-7,
                end_lr: float = 10.0, steps: int = 100) -> LRFind:
    """The learning-rate sweep of ``nnf lr-find``: the model and training part ``nnf train``
    would use, swept, and plotted to ``plot``."""
    split, model = _prepare_for_plot(cfg, plot)
    found = lr_find(model, (split.X_train, split.y_train), start_lr=start_lr, end_lr=end_lr,
                    steps=steps, batch_size=cfg.batch_size, optimizer=cfg.optimizer,
                    seed=cfg.seed)
    plot_lr_find(found, plot)
    return found


def compare_run(cfg: TrainConfig, batch_sizes: list[int], plot: str | Path) -> str:
    """The batch-size experiment of ``nnf compare``: the model and split ``nnf train`` would
    use, trained at each batch size from the same weights; the table, and the figure in
    ``plot``."""
    split, model = _prepare_for_plot(cfg, plot)
    runs = compare_batch_sizes(model, (split.X_train, split.y_train),
                               (split.X_val, split.y_val), batch_sizes, epochs=cfg.epochs,
                               seed=cfg.seed, lr=cfg.lr, optimizer=cfg.optimizer,
                               engine=cfg.engine)
    plot_comparison(runs, plot)
    return comparison_table(runs)


def _prepare_for_plot(cfg: TrainConfig, plot: str | Path) -> tuple[Split, nn.Module]:
    """The checks, split and model (on its device) of a command that ends in a plot; the
    plot's destination is checked before any work."""
    cfg.check()
    device = resolve_device(cfg.device)
    check_image_path(plot)
    _, split, _, _, model = _prepare(cfg)
    return split, model.to(device)


def _prepare(cfg: TrainConfig) -> tuple[Table, Split, list, dict[str, Any], nn.Module]:
    """Read and split the data, and build the (seeded) model for it."""
    table = read_data(cfg.data, label=cfg.label, labels=cfg.labels, drop=cfg.drop)
    y, classes = encode_labels(table.labels())
    if len(classes) < 2:
        raise InvalidValueError(
            f"{cfg.data} has a single class ({classes[0]!r}); a classifier needs "
            "at least two")
    split = split_data(table.X, y, val_fraction=cfg.val_fraction,
                       test_fraction=cfg.test_fraction, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    architecture: dict[str, Any] = {
        "input_size": split.n_features, "hidden_sizes": list(cfg.hidden),
        "output_size": len(classes), "dropout_rate": cfg.dropout}
    return table, split, classes, architecture, build_model(**architecture)


def _test_metrics(model: nn.Module, X: torch.Tensor, y: torch.Tensor, classes: list,
                  history: History, diagnosis: Diagnosis) -> dict[str, Any]:
    metrics: dict[str, Any] = {"best_epoch": history.best_epoch, "epochs_run": len(history),
                               "stop_reason": history.stop_reason,
                               "verdict": diagnosis.verdict, "test_loss": None,
                               "test_accuracy": None}
    if len(X) and all(torch.isfinite(p).all() for p in model.parameters()):
        metrics["test_loss"], metrics["test_accuracy"] = evaluate(model, X, y,
                                                                  nn.CrossEntropyLoss())
        metrics["per_class"] = _per_class(model, X, y, classes)
    return metrics


def _per_class(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
               classes: list) -> list[dict[str, Any]]:
    return [{"class": c, "count": n, "accuracy": acc}
            for c, (n, acc) in zip(classes, per_class_accuracy(model, X, y, len(classes)),
                                   strict=True)]


def _model_state(model: nn.Module, architecture: dict, standardizer: StandardScaler,
                 classes: list, feature_names: list[str]) -> dict[str, Any]:
    return {"format": MODEL_FORMAT,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "architecture": architecture, "standardizer": scaler_to_dict(standardizer),
            "classes": classes, "feature_names": feature_names}


def _write_run(out: Path, model_state: dict, history: History, diagnosis: Diagnosis,
               metrics: dict, records: dict, unique: bool) -> Path:
    """Write the run into a temporary folder and rename it to ``out`` (when ``unique``, to
    the first free ``out-2``, ``out-3`` ...: two runs started in the same second both
    land)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep_dead_runs(out.parent)
    with caught() as stop:  # a signal now waits until the run is written
        written = _write_files(out, model_state, history, diagnosis, metrics, records, unique)
    if stop["set"]:
        raise KeyboardInterrupt  # after the run landed
    return written


def _write_files(out: Path, model_state: dict, history: History, diagnosis: Diagnosis,
                 metrics: dict, records: dict, unique: bool) -> Path:
    # a short name: the final one may be as long as the filesystem allows
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name[:32]}.", suffix=TMP_SUFFIX))
    try:
        (tmp / TMP_MARKER).write_text(json.dumps({"host": socket.gethostname(),
                                                  "pid": os.getpid()}), encoding="utf-8")
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private
        atomic_save(model_state, tmp / "model.pt")
        history.to_json(tmp / "history.json")
        if history.records:
            plot_history(history, tmp / "curves.png", diagnosis)
        for name, data in (("metrics.json", metrics), ("split.json", records["split"]),
                           ("settings.json", {**records["settings"], "fit": history.settings})):
            (tmp / name).write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
        (tmp / TMP_MARKER).unlink()
        return _rename_free(tmp, out, unique)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _sweep_dead_runs(folder: Path) -> None:
    """Remove the temporary folders that runs killed while writing left: only a folder
    that holds our marker, written on this host by a process that is gone (a process of
    another host sharing the filesystem cannot be asked)."""
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        owner = _owner(tmp)
        if owner is not None and owner[0] == socket.gethostname() and not _alive(owner[1]):
            shutil.rmtree(tmp, ignore_errors=True)


def _owner(tmp: Path) -> tuple[str, int] | None:
    """The host and process named by a temporary folder's marker; None when it is not one
    of ours (no marker, a link, or a marker that does not read as ours)."""
    marker = tmp / TMP_MARKER
    if tmp.is_symlink() or not tmp.is_dir() or marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8")[:1000])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("host"), str) or \
            type(data.get("pid")) is not int or data["pid"] <= 0:
        return None
    return data["host"], data["pid"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, alive
    return True


def _rename_free(tmp: Path, out: Path, unique: bool) -> Path:
    for k in range(1, 1000 if unique else 2):
        target = out if k == 1 else out.with_name(f"{out.name}-{k}")
        try:
            tmp.rename(target)  # fails when the target exists and is not empty
            return target
        except OSError:
            if not unique or not target.exists():
                raise
    raise InvalidValueError(f"no free run directory name beside {out}")


@dataclass
class LoadedRun:
    """A trained model read back from a run directory, with what it needs to be applied."""

    model: nn.Module
    standardizer: StandardScaler
    classes: list
    feature_names: list[str]

    def features(self, table: Table) -> torch.Tensor:
        """The table's features, in the model's column order, standardised."""
        width = len(self.feature_names)
        position = {name: j for j, name in enumerate(table.feature_names)}
        if all(name in position for name in self.feature_names):
            X = table.X[:, [position[name] for name in self.feature_names]]
        elif table.X.shape[1] == width:
            X = table.X
        else:
            raise InvalidValueError(f"the data has {table.X.shape[1]} features but the model takes "
                                    f"{width}")
        return torch.from_numpy(standardise(self.standardizer, X))


def load_run(run_dir: str | Path) -> LoadedRun:
    """Read ``model.pt`` of a run directory (data only: ``weights_only=True``)."""
    path = Path(run_dir) / "model.pt"
    if not Path(run_dir).is_dir():
        raise InvalidValueError(f"no such run directory: {run_dir}")
    state = safe_load(path)
    if state.get("format") != MODEL_FORMAT:
        raise InvalidValueError(f"{path} is not a model saved by nnf train")
    try:
        model = build_model(**state["architecture"])
        model.load_state_dict(state["state_dict"])
        standardizer = scaler_from_dict(state["standardizer"])
        classes, names = list(state["classes"]), list(state["feature_names"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        first = first_line(err)
        raise InvalidValueError(f"{path} does not match its architecture or is damaged ({first})") \
            from None
    if len(standardizer.mean_) != len(names) or len(classes) != \
            state["architecture"]["output_size"]:
        raise InvalidValueError(f"{path} is inconsistent: its preprocessing does not fit its model")
    _usable(path, model, standardizer)
    return LoadedRun(model, standardizer, classes, names)


def _usable(path: Path, model: nn.Module, standardizer: StandardScaler) -> None:
    """Refuse a model that can only answer NaN: non-finite weights or scaling."""
    bad = [name for name, p in model.state_dict().items() if not torch.isfinite(p).all()]
    if bad:
        raise InvalidValueError(f"{path} holds non-finite weights (in {', '.join(bad[:3])}); "
                                "the run diverged: train it again")
    stats = np.concatenate([standardizer.mean_, standardizer.scale_])
    if not np.isfinite(stats).all() or (standardizer.scale_ <= 0).any():
        raise InvalidValueError(f"{path} holds a standardisation with a non-finite mean or a "
                                "standard deviation that is not positive")


def evaluate_run(run_dir: str | Path, data: str | None = None, label: str | None = None,
                 labels: str | None = None, drop: list[str] | None = None) -> dict[str, Any]:
    """Loss, accuracy and per-class accuracy of a saved model on labelled data; without
    ``data``, on the run's own held-out test rows (refused if the data file has changed).
    Scoring the very data the run was trained on warns that the scores are optimistic."""
    run = load_run(run_dir)
    saved = _saved_split(Path(run_dir), required=data is None)
    source = data or saved["data"]
    table = read_data(source, label=label or saved.get("label"),
                      labels=labels if data else saved["labels"], features=run.feature_names,
                      drop=drop)
    if data is None:
        if _fingerprint(source) != saved["sha256"]:
            raise InvalidValueError(f"{source} has changed since the run was trained; give the "
                                    "data to score with --data")
        table = table.rows(_test_rows(Path(run_dir) / "split.json", saved["test_index"],
                                      len(table.X)))
    elif _fingerprint(data) == saved.get("sha256"):
        warnings.warn(f"{data} is the data the run was trained on: its training rows are scored "
                      "too, so the scores are optimistic (leave out --data to score the run's "
                      "held-out test rows)", UserWarning, stacklevel=2)
    X, y = run.features(table), torch.from_numpy(index_labels(table.labels(), run.classes))
    loss, accuracy = evaluate(run.model, X, y, nn.CrossEntropyLoss())
    return {"loss": loss, "accuracy": accuracy, "n": len(y),
            "per_class": _per_class(run.model, X, y, run.classes)}


def _fingerprint(source: str) -> str:
    """A SHA-256 of the data's contents (the bundled digits: of its arrays; a folder: of its
    .npy files), read in blocks."""
    digest = hashlib.sha256()
    if source == "digits":
        X, y = load_digits()
        digest.update(X.tobytes() + y.tobytes())
        return digest.hexdigest()
    path = Path(source)
    for file in sorted(path.glob("*.npy")) if path.is_dir() else [path]:
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):  # noqa: B023 (used at once)
                digest.update(block)
    return digest.hexdigest()


def _saved_split(run_dir: Path, required: bool = False) -> dict[str, Any]:
    """The run's ``split.json`` (empty for a run of an older nnf, unless ``required``)."""
    path = run_dir / "split.json"
    if not path.is_file():
        if not required:
            return {}
        raise InvalidValueError(f"{run_dir} has no split.json (a run of an older nnf): give "
                                "the data to score with --data")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidValueError(f"{path} is damaged: not JSON ({err})") from None
    if not isinstance(saved, dict):
        raise InvalidValueError(f"{path} is damaged: it holds a {type(saved).__name__}, not an "
                                "object")
    for key, kinds in _SPLIT_KEYS.items():
        if key in saved and not isinstance(saved[key], kinds):
            raise InvalidValueError(f"{path} is damaged: {key!r} is {str(saved[key])[:40]!r}")
    missing = [k for k in _SPLIT_KEYS if k not in saved]
    if missing and required:
        raise InvalidValueError(f"{path} is damaged: it lacks {missing}; give the data to "
                                "score with --data")
    return saved


#: What a split.json holds, and the types each value may have.
_SPLIT_KEYS: dict[str, type | tuple[type, ...]] = {
    "data": str, "sha256": str, "label": (str, type(None)), "labels": (str, type(None)),
    "test_index": list}


def _test_rows(path: Path, index: list[Any], n: int) -> np.ndarray:
    """The saved test rows, checked: whole numbers within the data's ``n`` rows."""
    if not index or not all(type(i) is int and 0 <= i < n for i in index):
        bad = next((i for i in index if not (type(i) is int and 0 <= i < n)), "none")
        raise InvalidValueError(f"{path} is damaged: a test index must be a row number from 0 "
                                f"to {n - 1}, got {str(bad)[:40]!r}")
    return np.asarray(index, dtype=np.int64)


def predict_run(run_dir: str | Path, data: str, label: str | None = None,
                drop: list[str] | None = None) -> tuple[list, np.ndarray, list]:
    """Predicted labels (the original ones) and class probabilities for each row of data;
    a label column (the one the run was trained with, or ``label``) is left out.

    Returns:
        The predicted labels, the probabilities (n, classes), and the classes.
    """
    run = load_run(run_dir)
    table = read_data(data, label=label or _saved_split(Path(run_dir)).get("label"),
                      need_labels=False, features=run.feature_names, drop=drop)
    proba = predict_proba(run.model, run.features(table)).numpy()
    return [run.classes[i] for i in proba.argmax(axis=1)], proba, run.classes
