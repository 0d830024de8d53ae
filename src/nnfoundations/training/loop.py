"""The training loop (the assignment's section 3 and Part 2): epochs of shuffled mini-batches.

Each epoch runs one :func:`~nnfoundations.training.step.step` per mini-batch (the step that
``train_one_step`` wraps) and then :func:`~nnfoundations.training.step.evaluate` on the
validation data. For ``(X, y)`` tensors the batches are gathered along one permutation per
epoch (:mod:`~nnfoundations.training.batches`; a memory-mapped array is read row by row as
batches need it), and the losses stay on the device until the epoch ends; any other
``Dataset`` goes through a ``DataLoader``.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

import torch
import torch.nn as nn
from torch.utils.data import Dataset
from tqdm import tqdm

from nnfoundations._errors import InvalidValueError
from nnfoundations._signals import caught
from nnfoundations.history import History, LossKind, StopKind
from nnfoundations.training.backprop import MatrixBackprop, unsupported
from nnfoundations.training.batches import Batches, Data, TensorPair, val_tensors
from nnfoundations.training.checkpoint import StateDict, resume_fit, save_fit
from nnfoundations.training.distributed import (
    GradientSync,
    broadcast_parameters,
    device_for_rank,
    rank_and_world,
)
from nnfoundations.training.inference import CHUNK_ROWS, model_device, model_dtype
from nnfoundations.training.optimizers import OptimizerSpec, make_optimizer
from nnfoundations.training.settings import FitSettings
from nnfoundations.training.step import check_labels, evaluate, step
from nnfoundations.training.stopping import StopDecision, early_stopping
from nnfoundations.training.telemetry import Telemetry

#: One training step: ``(X_batch, y_batch, telemetry, first_epoch)`` to the detached loss and
#: the rows it is the mean over (the global batch's, in data-parallel training).
Stepper = Callable[[torch.Tensor, torch.Tensor, Telemetry | None, bool],
                   tuple[torch.Tensor, int]]


@dataclass
class _EpochResult:
    loss: float = math.nan
    seconds: float = 0.0
    steps: int = 0
    bad_step: int | None = None  # 1-based step of the first non-finite loss
    bad_value: float = math.nan
    interrupted: bool = False


def _train_epoch(step_fn: Stepper, device: torch.device, batches: Iterable[TensorPair],
                 stop_flag: dict[str, bool], telemetry: Telemetry | None,
                 first_epoch: bool) -> _EpochResult:
    """One pass of steps; the losses stay on the device until the end (one sync per epoch),
    except on the CPU, where looking at each loss costs nothing and stops a NaN at once.
    ``telemetry`` observes the first step."""
    result, losses, sizes = _EpochResult(), [], []
    start = time.perf_counter()
    look_each_step = device.type == "cpu"
    for X_batch, y_batch in batches:
        watch = telemetry if result.steps == 0 else None
        loss, rows = step_fn(X_batch, y_batch, watch, first_epoch)
        losses.append(loss)
        sizes.append(rows)
        result.steps += 1
        if look_each_step and not math.isfinite(loss.item()):
            break
        if stop_flag["set"]:
            result.interrupted = True
            break
    values = torch.stack(losses).double().tolist() if losses else []
    for k, value in enumerate(values):
        if not math.isfinite(value):
            result.bad_step, result.bad_value = k + 1, value
            return result
    result.loss = sum(v * s for v, s in zip(values, sizes, strict=True)) / max(sum(sizes), 1)
    result.seconds = time.perf_counter() - start
    return result


def fit(
    model: nn.Module,
    train: Data,
    val: Data | None = None,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: OptimizerSpec = "adam",
    loss_fn: nn.Module | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    seed: int | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    telemetry: bool = True,
    engine: str = "auto",
) -> History:
    """Train ``model`` by mini-batch gradient descent and return its :class:`History`.

    Each epoch shuffles the training data, takes one step per mini-batch, then evaluates on
    ``val``. Early stopping and ``best_epoch`` follow the validation loss (the training loss
    without ``val``). **By default the model ends with the best epoch's weights**
    (``restore_best=True``), kept in memory. A non-finite loss stops training with the epoch
    and step named; Ctrl-C stops after the current step; both restore the best weights and
    say why in ``history.stop_reason``. Inside an initialised ``torch.distributed`` group
    (``torchrun``) it trains data-parallel (:mod:`~nnfoundations.training.distributed`):
    ``batch_size`` per process, one gradient all-reduce per step, rank 0 alone checkpoints.

    Args:
        model: the network; it is moved to ``device`` when one is given.
        train: an ``(X, y)`` pair of tensors or NumPy arrays (fast path; float features are
            cast once to the model's dtype, integer labels to int64), or any torch
            ``Dataset``.
        val: validation data, as ``train``; None for none.
        epochs: the last epoch to train (a resumed run continues up to it).
        batch_size: examples per mini-batch (the last one may be smaller).
        lr: learning rate, for an optimizer given by name.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, an Optimizer, or a callable taking the
            parameters and returning one.
        loss_fn: the loss; default ``nn.CrossEntropyLoss()``.
        patience: stop after this many epochs without improvement; None never stops early.
        min_delta: the least decrease of the loss that counts as improvement (absolute).
        restore_best: leave the model with the best epoch's weights (default True).
        seed: seeds the shuffling and torch's global RNG (dropout) for a reproducible run;
            None draws one, recorded in ``history.settings["seed"]``. The model's initial
            weights were drawn when it was built: seed torch before building it too.
        device: ``"cpu"``, ``"cuda"``, ...; default: where the model's parameters are.
        progress: a bar and one line per epoch on stderr; None shows them on a terminal only.
        checkpoint: save weights, optimizer, History and RNG states here after every epoch,
            atomically.
        resume: a checkpoint to continue from, exactly where it was saved.
        telemetry: record per-epoch gradient norms, update sizes, dead ReLU shares and the
            inputs' scale in ``history.telemetry``, from one observed step per epoch.
        engine: how the gradients are computed. ``"matrix"``: backpropagation by hand at
            matrix scale (:mod:`~nnfoundations.training.backprop`), for ``(X, y)`` data, a
            model ``build_model`` makes, cross-entropy and Adam, AdamW or SGD;
            ``"autograd"``: ``loss.backward()``, for anything; ``"auto"`` (default): the
            matrix path where it applies, else autograd. ``history.settings["engine"]``
            records which ran.

    Returns:
        The run's :class:`History`.

    Example:
        >>> from nnfoundations import build_model
        >>> X, y = torch.randn(200, 4), torch.randint(0, 3, (200,))
        >>> history = fit(build_model(4, [16], 3), (X[:150], y[:150]), (X[150:], y[150:]),
        ...               epochs=5, seed=0, progress=False)
        >>> len(history), history.stop_reason
        (5, 'completed')
    """
    settings = FitSettings.check(epochs=epochs, batch_size=batch_size, lr=lr,
                                 optimizer=optimizer, loss_fn=loss_fn, patience=patience,
                                 min_delta=min_delta, restore_best=restore_best, seed=seed,
                                 engine=engine)
    rank, world = _place(model, device, train)
    if seed is not None:
        torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(settings.seed)
    batches = Batches(train, settings.batch_size, model_device(model), model_dtype(model),
                      rank, world)
    val_data = val_tensors(val, model_dtype(model))
    opt = make_optimizer(optimizer, model, settings.lr)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    sync = GradientSync(model.parameters()) if world > 1 else None
    step_fn, used = _stepper(settings.engine, model, batches, loss_fn, opt, sync)
    recorded = {**settings.to_dict(), "engine": used, "processes": world, "n_train": batches.n,
                "n_val": None if val_data is None else len(val_data[0]),
                "n_outputs": _n_outputs(model), "device": str(model_device(model))}
    if settings.loss_kind is LossKind.CROSS_ENTROPY and recorded["n_outputs"] is not None \
            and batches.y is not None and not batches.y.is_floating_point():
        check_labels(batches.y, recorded["n_outputs"])  # before any step, on any path
    run = _Run(model, batches, val_data, loss_fn, opt, step_fn, generator, settings,
               History(settings=recorded), None,
               rank == 0 and (sys.stderr.isatty() if progress is None else bool(progress)),
               checkpoint if rank == 0 else None, Telemetry(model) if telemetry else None)
    if resume is not None:
        run.history, run.best = resume_fit(resume, model, opt, generator, recorded,
                                           adopt_seed=seed is None)
    initial = _snapshot(model) if settings.restore_best and run.best is None else None
    with caught() as stop_flag:  # Ctrl-C or SIGTERM: stop after the current step
        run.train(stop_flag)
    return run.finish(initial)


def _place(model: nn.Module, device: str | torch.device | None, train: Data) -> tuple[int, int]:
    """Put the model on its device and, in a process group, give every rank rank 0's
    weights. Returns the rank and the number of processes."""
    rank, world = rank_and_world()
    if device is not None or world > 1:
        model.to(device or device_for_rank() or model_device(model))
    if world > 1:
        if isinstance(train, Dataset):
            raise InvalidValueError("data-parallel training takes (X, y) tensors or arrays, "
                                    "not a Dataset")
        broadcast_parameters(model.parameters())
    return rank, world


def _stepper(engine: str, model: nn.Module, batches: Batches, loss_fn: nn.Module,
             optimizer: torch.optim.Optimizer, sync: GradientSync | None) -> tuple[Stepper, str]:
    """The training step for ``engine``, and the name of the engine that it is."""
    reason = "the data is a Dataset, not (X, y) tensors" if batches.y is None else \
        "the labels are not class indices" if batches.y.is_floating_point() else \
        unsupported(model, loss_fn, optimizer)
    if engine == "matrix" and reason is not None:
        raise InvalidValueError(f"engine='matrix' cannot train this run: {reason}; use "
                                "engine='autograd' or 'auto'")
    matrix = engine != "autograd" and reason is None
    run = MatrixBackprop(cast(nn.Sequential, model), optimizer, batches.batch_size).step \
        if matrix else partial(_autograd_step, model, loss_fn, optimizer)

    def one_step(X: torch.Tensor, y: torch.Tensor, telemetry: Telemetry | None,
                 first_epoch: bool) -> tuple[torch.Tensor, int]:
        loss = run(X, y, telemetry, first_epoch, sync)
        return loss, sync.rows if sync is not None else len(X)
    return one_step, "matrix" if matrix else "autograd"


def _autograd_step(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                   X: torch.Tensor, y: torch.Tensor, telemetry: Telemetry | None,
                   first_epoch: bool, sync: GradientSync | None) -> torch.Tensor:
    return step(model, X, y, loss_fn, optimizer, telemetry, first_epoch, sync)


def _snapshot(model: nn.Module) -> StateDict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class _Run:
    """One run's parts and its state between epochs: the History and the best weights."""

    model: nn.Module
    batches: Batches
    val_data: TensorPair | None
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    step: Stepper
    generator: torch.Generator
    settings: FitSettings
    history: History
    best: StateDict | None
    show: bool
    checkpoint: str | Path | None
    telemetry: Telemetry | None

    def finish(self, initial: StateDict | None) -> History:
        """Leave the model with the best weights (or, when the first epoch went non-finite,
        the initial ones) and return the History."""
        if self.settings.restore_best and self.best is not None:
            self.model.load_state_dict(self.best)
        elif initial is not None and self.history.stop_kind is StopKind.NON_FINITE:
            self.model.load_state_dict(initial)  # a first epoch gone non-finite: no NaNs left
            self.history.stop_reason += ("; no epoch finished, so the initial weights are "
                                         "restored")
        return self.history

    def train(self, stop_flag: dict[str, bool]) -> None:
        """Train from the first epoch not yet in the History until a stop or the last."""
        for epoch in range(len(self.history) + 1, self.settings.epochs + 1):
            if self._epoch(epoch, stop_flag).stop:
                break

    def _epoch(self, epoch: int, stop_flag: dict[str, bool]) -> StopDecision:
        batches = _progress_bar(self.batches.epoch(self.generator), len(self.batches), epoch,
                                self.show, self.settings.epochs)
        result = _train_epoch(self.step, model_device(self.model), batches, stop_flag,
                              self.telemetry, first_epoch=epoch == 1)
        decision = _close_epoch(epoch, result, self.model, self.val_data, self.loss_fn,
                                self.optimizer, self.history, self.settings)
        # an epoch that blew up keeps what its first step saw: the findings read its norms
        blew_up = self.history.stop_kind is StopKind.NON_FINITE and bool(self.telemetry
                                                                          and self.telemetry.record)
        if self.telemetry is not None and (len(self.history) == epoch or blew_up):
            self.history.telemetry.append(self.telemetry.record)
        if decision.improved:
            self.best = _snapshot(self.model)
        if len(self.history) == epoch:  # the epoch completed
            if self.show:
                tqdm.write(_summary(self.history, decision), file=sys.stderr)
            if self.checkpoint is not None:
                save_fit(self.checkpoint, self.model, self.optimizer, self.generator,
                         self.history, self.best)
        return decision


def _n_outputs(model: nn.Module) -> int | None:
    """The width of the model's last Linear layer: the number of classes for a classifier."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def _close_epoch(epoch: int, result: _EpochResult, model: nn.Module,
                 val_data: TensorPair | None, loss_fn: nn.Module,
                 optimizer: torch.optim.Optimizer, history: History,
                 settings: FitSettings) -> StopDecision:
    """Evaluate, record the epoch and decide; or record why the epoch could not finish."""
    if result.interrupted:
        return _stopped(history, StopKind.INTERRUPTED,
                        f"interrupted (Ctrl-C) in epoch {epoch} after step {result.steps}; "
                        "the epoch is not recorded")
    if result.bad_step is not None:
        return _stopped(history, StopKind.NON_FINITE,
                        f"non-finite loss ({result.bad_value}) at epoch {epoch}, step "
                        f"{result.bad_step}: lower the learning rate or check the data for "
                        "NaN/inf")
    start = time.perf_counter()
    val_loss, val_acc = (None, None) if val_data is None else \
        evaluate(model, *val_data, loss_fn, batch_size=CHUNK_ROWS)
    history.append(epoch=epoch, train_loss=result.loss, val_loss=val_loss, val_acc=val_acc,
                   lr=float(optimizer.param_groups[0]["lr"]),
                   seconds=result.seconds + time.perf_counter() - start)
    decision = early_stopping(history.monitored, settings.patience, settings.min_delta)
    history.best_epoch = decision.best_epoch
    if decision.kind is not None:
        history.stop_kind, history.stop_reason = decision.kind, decision.reason
    return decision


def _stopped(history: History, kind: StopKind, reason: str) -> StopDecision:
    history.stop_kind, history.stop_reason = kind, reason
    return StopDecision(True, history.best_epoch, False, reason, kind)


def _progress_bar(batches: Iterator[TensorPair], total: int, epoch: int, show: bool,
                  epochs: int) -> Iterable[TensorPair]:
    if not (show and (sys.stderr.isatty() or "ipykernel" in sys.modules)):
        return batches  # a bar only where someone watches: a terminal or a notebook
    with warnings.catch_warnings():  # without ipywidgets it says so, then draws text: fine
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm as auto_tqdm
    return auto_tqdm(batches, total=total, desc=f"epoch {epoch}/{epochs}", leave=False,
                     file=sys.stderr, unit="batch")


def _summary(history: History, decision: StopDecision) -> str:
    r = history.records[-1]
    val = "" if r["val_loss"] is None else f"  val {r['val_loss']:.4f}  acc {r['val_acc']:.3f}"
    mark = "  * best" if decision.improved else ""
    return (f"epoch {r['epoch']:>3}/{history.settings['epochs']}  train {r['train_loss']:.4f}"
            f"{val}  {r['seconds']:.2f}s{mark}")
