"""The batch-size experiment of the assignment's 3.1.2: the same model, data and seed trained at
several batch sizes, compared per epoch and per update."""

from __future__ import annotations

import copy
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch.nn as nn

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations._format import fmt
from nnfoundations.diagnosis.verdict import diagnose
from nnfoundations.history import History
from nnfoundations.training.batches import Data, updates_per_epoch
from nnfoundations.training.loop import fit


@dataclass
class BatchRun:
    """One batch size's run and what the table shows of it."""

    batch_size: int
    updates_per_epoch: int
    seconds_per_epoch: float
    best_val_loss: float | None
    best_val_acc: float | None
    best_epoch: int | None
    updates_to_best: int | None
    verdict: str
    history: History


def compare_batch_sizes(model: nn.Module, train: Data, val: Data,
                        batch_sizes: Sequence[int], *, epochs: int, seed: int = 0,
                        **fit_options: Any) -> list[BatchRun]:
    """Train a copy of ``model`` (the same initial weights) at each batch size, with the
    same data, seed and options, and gather the table's figures.

    Args:
        model: the network; it is not trained itself (each run trains a copy).
        train, val: the data, as for :func:`~nnfoundations.training.loop.fit`.
        batch_sizes: the batch sizes to compare, each a positive int, none repeated.
        epochs: epochs per run (early stopping applies if ``patience`` is given).
        seed: the seed of every run.
        **fit_options: any other option of ``fit`` (lr, optimizer, patience, ...).

    Returns:
        One :class:`BatchRun` per batch size, in the order given.
    """
    sizes = [_checks.positive_int("batch_size", b) for b in batch_sizes]
    if not sizes or len(set(sizes)) != len(sizes):
        raise InvalidValueError(f"batch sizes must be one or more distinct positive ints, "
                                f"got {list(batch_sizes)}")
    runs = []
    for size in sizes:
        twin = copy.deepcopy(model)
        history = fit(twin, train, val, epochs=epochs, batch_size=size, seed=seed,
                      **{"progress": False, **fit_options})
        runs.append(_row(size, history))
    return runs


def _row(size: int, history: History) -> BatchRun:
    per = updates_per_epoch(history.settings["n_train"], size)
    best = history.best_epoch
    record = history.records[best - 1] if best else None
    return BatchRun(size, per, statistics.median(history.seconds) if len(history) else 0.0,
                    record["val_loss"] if record else None,
                    record["val_acc"] if record else None, best,
                    best * per if best else None,
                    diagnose(history).verdict if len(history) else "no_epochs", history)


def comparison_table(runs: Sequence[BatchRun]) -> str:
    """The comparison as a text table, one row per batch size."""
    # one word a column, so that the header splits like the rows
    head = (f"{'batch':>6} {'updates/epoch':>13} {'s/epoch':>8} {'best_val_loss':>13} "
            f"{'val_acc':>7} {'at_epoch':>8} {'updates':>8}  verdict")
    rows = [f"{r.batch_size:>6} {r.updates_per_epoch:>13} {r.seconds_per_epoch:>8.3f} "
            f"{_cell(r.best_val_loss):>13} {_cell(r.best_val_acc):>7} "
            f"{_cell(r.best_epoch):>8} {_cell(r.updates_to_best):>8}  "
            f"{r.verdict}" for r in runs]
    return "\n".join([head, *rows])


def _cell(value: float | int | None) -> str:
    return "-" if value is None else fmt(round(value, 4) if isinstance(value, float) else value)

