"""The use cases: train into a run directory (:mod:`~nnfoundations.app.rundir`), sweep
the learning rate, compare batch sizes, and evaluate or predict with a run read back."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from nnfoundations._errors import InvalidValueError
from nnfoundations._files import new_directory
from nnfoundations.app.config import TrainConfig
from nnfoundations.app.formats import Table, read_data
from nnfoundations.app.preprocess import (
    Split,
    encode_labels,
    index_labels,
    split_data,
)
from nnfoundations.app.rundir import (
    fingerprint,
    held_out_rows,
    load_run,
    model_state,
    saved_split,
    write_run,
)
from nnfoundations.diagnosis import Diagnosis, diagnose
from nnfoundations.history import History
from nnfoundations.training.compare import compare_batch_sizes, comparison_table
from nnfoundations.training.distributed import device_for_rank, init_from_env, leave
from nnfoundations.training.inference import confusion, per_class_accuracy, predict_proba
from nnfoundations.training.loop import run_fit
from nnfoundations.training.lr_finder import LRFind, lr_find
from nnfoundations.training.model import build_model
from nnfoundations.training.plots import (
    check_image_path,
    plot_comparison,
    plot_lr_find,
)
from nnfoundations.training.settings import FitSettings
from nnfoundations.training.step import evaluate


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
    state = model_state(model, architecture, split.standardizer, classes, table.feature_names)
    split_record = {"data": cfg.data if cfg.data == "digits" else str(Path(cfg.data).resolve()),
                    "sha256": fingerprint(cfg.data), "label": table.label_column or cfg.label,
                    "labels": cfg.labels,
                    "test_index": split.test_index.tolist()}
    if rank != 0:
        return RunResult(None, history, diagnosis, metrics)
    written = write_run(out, state, history, diagnosis, metrics,
                        {"settings": asdict(cfg), "split": split_record}, unique=cfg.out is None)
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
        metrics["confusion"] = confusion(model, X, y, len(classes))
        metrics["per_class"] = _per_class(metrics["confusion"], classes)
    return metrics


def _per_class(matrix: list[list[int]], classes: list) -> list[dict[str, Any]]:
    return [{"class": c, "count": n, "accuracy": acc}
            for c, (n, acc) in zip(classes, per_class_accuracy(matrix), strict=True)]


def evaluate_run(run_dir: str | Path, data: str | None = None, label: str | None = None,
                 labels: str | None = None, drop: list[str] | None = None) -> dict[str, Any]:
    """Loss, accuracy and per-class accuracy of a saved model on labelled data; without
    ``data``, on the run's own held-out test rows (refused if the data file has changed).
    Scoring the very data the run was trained on warns that the scores are optimistic."""
    run = load_run(run_dir)
    saved = saved_split(Path(run_dir), required=data is None)
    source = data or saved["data"]
    table = read_data(source, label=label or saved.get("label"),
                      labels=labels if data else saved["labels"], features=run.feature_names,
                      drop=drop)
    if data is None:
        if fingerprint(source) != saved["sha256"]:
            raise InvalidValueError(f"{source} has changed since the run was trained; give the "
                                    "data to score with --data")
        table = table.rows(held_out_rows(Path(run_dir) / "split.json", saved["test_index"],
                                      len(table.X)))
    elif fingerprint(data) == saved.get("sha256"):
        warnings.warn(f"{data} is the data the run was trained on: its training rows are scored "
                      "too, so the scores are optimistic (leave out --data to score the run's "
                      "held-out test rows)", UserWarning, stacklevel=2)
    X, y = run.features(table), torch.from_numpy(index_labels(table.labels(), run.classes))
    loss, accuracy = evaluate(run.model, X, y, nn.CrossEntropyLoss())
    return {"loss": loss, "accuracy": accuracy, "n": len(y),
            "per_class": _per_class(confusion(run.model, X, y, len(run.classes)), run.classes)}


def predict_run(run_dir: str | Path, data: str, label: str | None = None,
                drop: list[str] | None = None) -> tuple[list, np.ndarray, list]:
    """Predicted labels (the original ones) and class probabilities for each row of data;
    a label column (the one the run was trained with, or ``label``) is left out.

    Returns:
        The predicted labels, the probabilities (n, classes), and the classes.
    """
    run = load_run(run_dir)
    table = read_data(data, label=label or saved_split(Path(run_dir)).get("label"),
                      need_labels=False, features=run.feature_names, drop=drop)
    proba = predict_proba(run.model, run.features(table)).numpy()
    return [run.classes[i] for i in proba.argmax(axis=1)], proba, run.classes
