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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import cast

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from nnfoundations._errors import InvalidValueError
from nnfoundations._signals import caught
from nnfoundations.history import History, LossKind, StopKind
from nnfoundations.training.backprop import MatrixBackprop, unsupported
from nnfoundations.training.batches import Batches, Data, TensorPair, val_tensors
from nnfoundations.training.checkpoint import Checkpoint, resume_fit
from nnfoundations.training.distributed import (
    GradientSync,
    broadcast_parameters,
    device_for_rank,
    rank_and_world,
)
from nnfoundations.training.hooks import FitState, Hook, StateDict, snapshot
from nnfoundations.training.inference import CHUNK_ROWS, model_device, model_dtype
from nnfoundations.training.optimizers import OptimizerSpec, make_optimizer
from nnfoundations.training.progress import Progress
from nnfoundations.training.settings import FitSettings
from nnfoundations.training.step import check_labels, evaluate, step
from nnfoundations.training.stopping import EarlyStopping
from nnfoundations.training.telemetry import Observe, Telemetry

#: One training step: ``(X_batch, y_batch, telemetry, first_epoch)`` to the detached loss and
#: the rows it is the mean over (the global batch's, in data-parallel training).
Stepper = Callable[[torch.Tensor, torch.Tensor, Telemetry | None, bool],
                   tuple[torch.Tensor, int]]


@dataclass
class _EpochResult:
    loss: float = math.nan
    seconds: float = 0.0
    bad_step: int | None = None  # 1-based step of the first non-finite loss
    bad_value: float = math.nan


@dataclass
class _Parts:
    """What the loop runs on, beside the state hooks see."""

    batches: Batches
    val_data: TensorPair | None
    loss_fn: nn.Module
    step: Stepper
    hooks: list[Hook]


def _train_epoch(state: FitState, parts: _Parts, stop_flag: dict[str, bool]) -> _EpochResult:
    """One pass of steps; the losses stay on the device until the end (one sync per epoch),
    except on the CPU, where looking at each loss costs nothing and stops a NaN at once."""
    result, losses, sizes = _EpochResult(), [], []
    start = time.perf_counter()
    look_each_step = model_device(state.model).type == "cpu"
    for X_batch, y_batch in parts.batches.epoch(state.generator):
        _call(parts.hooks, "on_step_start", state)
        loss, rows = parts.step(X_batch, y_batch, state.watch, state.epoch == 1)
        state.step += 1
        losses.append(loss)
        sizes.append(rows)
        _call(parts.hooks, "on_step_end", state, loss)
        if look_each_step and not math.isfinite(loss.item()):
            break
        if stop_flag["set"] and not state.stopping:
            state.stop(StopKind.INTERRUPTED, f"interrupted (Ctrl-C) in epoch {state.epoch} "
                       f"after step {state.step}; the epoch is not recorded")
        if state.stopping:
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
    hooks: Sequence[Hook] = (),
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
        hooks: :class:`~nnfoundations.training.hooks.Hook` objects of your own, called
            after the run's own stopping decision and before its progress line and
            checkpoint; one may end the run with ``state.stop(...)``.

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
    settings = FitSettings.check({"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                  "optimizer": optimizer, "patience": patience,
                                  "min_delta": min_delta, "restore_best": restore_best,
                                  "seed": seed, "engine": engine})
    return run_fit(model, train, val, settings, loss_fn=loss_fn, device=device,
                   progress=progress, checkpoint=checkpoint, resume=resume,
                   telemetry=telemetry, hooks=hooks)


def run_fit(model: nn.Module, train: Data, val: Data | None, settings: FitSettings, *,
            loss_fn: nn.Module | None = None, device: str | torch.device | None = None,
            progress: bool | None = None, checkpoint: str | Path | None = None,
            resume: str | Path | None = None, telemetry: bool = True,
            hooks: Sequence[Hook] = ()) -> History:
    """:func:`fit` with its settings already checked into a record (by the CLI under its
    flags' names, say, or by ``NNFClassifier`` under its parameters'): the same run."""
    rank, world = _place(model, device, train)
    adopt_seed = settings.seed is None  # a resumed run takes the saved run's seed
    settings, seed = _seeded(settings)
    generator = torch.Generator().manual_seed(seed)
    batches = Batches(train, settings.batch_size, model_device(model), model_dtype(model),
                      rank, world)
    val_data = val_tensors(val, model_dtype(model))
    opt = make_optimizer(settings.optimizer, model, settings.lr)
    loss_kind = LossKind.CROSS_ENTROPY if loss_fn is None or \
        isinstance(loss_fn, nn.CrossEntropyLoss) else LossKind.OTHER
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    step_fn, used = _stepper(settings.engine, model, batches, loss_fn, opt,
                             GradientSync(model.parameters()) if world > 1 else None)
    recorded = {**settings.to_dict(), "loss_fn": repr(loss_fn), "loss_kind": loss_kind.value,
                "engine": used, "processes": world, "n_train": batches.n,
                "n_val": None if val_data is None else len(val_data[0]),
                "n_outputs": _n_outputs(model), "device": str(model_device(model))}
    if loss_kind is LossKind.CROSS_ENTROPY and recorded["n_outputs"] is not None \
            and batches.y is not None and not batches.y.is_floating_point():
        check_labels(batches.y, recorded["n_outputs"])  # before any step, on any path
    state = FitState(model, opt, generator, settings, History(settings=recorded))
    if resume is not None:
        state.history, state.best = resume_fit(resume, model, opt, generator, recorded,
                                               adopt_seed)
    initial = snapshot(model) if settings.restore_best and state.best is None else None
    show = rank == 0 and (sys.stderr.isatty() if progress is None else bool(progress))
    chain = _hooks(state, hooks, telemetry, len(batches) if show else None,
                   checkpoint if rank == 0 else None)
    with caught() as stop_flag:  # Ctrl-C or SIGTERM: stop after the current step
        _train(state, _Parts(batches, val_data, loss_fn, step_fn, chain), stop_flag)
    return _finish(state, initial)


def _seeded(settings: FitSettings) -> tuple[FitSettings, int]:
    """The settings with a seed, and the seed: the one given (torch's RNG seeded with it
    too), or one drawn from torch's RNG (so that a user who seeded torch gets the same
    run)."""
    if settings.seed is not None:
        torch.manual_seed(settings.seed)
        return settings, settings.seed
    seed = int(torch.randint(2**31 - 1, ()).item())
    return replace(settings, seed=seed), seed


def _hooks(state: FitState, hooks: Sequence[Hook], telemetry: bool, progress_steps: int | None,
           checkpoint: str | Path | None) -> list[Hook]:
    """The run's hooks in their order: telemetry, the stopping decision, the user's, then
    progress and the checkpoint, which show and save what the others did."""
    return [*([Observe(state.model)] if telemetry else []),
            EarlyStopping(state.settings.patience, state.settings.min_delta), *hooks,
            *([Progress(progress_steps)] if progress_steps is not None else []),
            *([Checkpoint(checkpoint)] if checkpoint is not None else [])]


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


def _call(hooks: list[Hook], method: str, state: FitState, *args: torch.Tensor) -> None:
    for hook in hooks:
        getattr(hook, method)(state, *args)


def _train(state: FitState, parts: _Parts, stop_flag: dict[str, bool]) -> None:
    """Train from the first epoch not yet in the History until a stop or the last."""
    _call(parts.hooks, "on_fit_start", state)
    for epoch in range(len(state.history) + 1, state.settings.epochs + 1):
        state.epoch, state.step = epoch, 0
        _call(parts.hooks, "on_epoch_start", state)
        result = _train_epoch(state, parts, stop_flag)
        if _close_epoch(state, parts, result):
            _call(parts.hooks, "on_epoch_end", state)
        if state.stopping:
            break
    _call(parts.hooks, "on_fit_end", state)


def _finish(state: FitState, initial: StateDict | None) -> History:
    """Leave the model with the best weights (or, when the first epoch went non-finite, the
    initial ones) and return the History."""
    history = state.history
    if state.settings.restore_best and state.best is not None:
        state.model.load_state_dict(state.best)
    elif initial is not None and history.stop_kind is StopKind.NON_FINITE:
        state.model.load_state_dict(initial)  # a first epoch gone non-finite: no NaNs left
        history.stop_reason += "; no epoch finished, so the initial weights are restored"
    return history


def _n_outputs(model: nn.Module) -> int | None:
    """The width of the model's last Linear layer: the number of classes for a classifier."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def _close_epoch(state: FitState, parts: _Parts, result: _EpochResult) -> bool:
    """Evaluate and record the epoch; or, for an epoch that could not finish, say why.
    Returns whether the epoch was recorded."""
    if state.stopping:
        return False
    if result.bad_step is not None:
        state.stop(StopKind.NON_FINITE,
                   f"non-finite loss ({result.bad_value}) at epoch {state.epoch}, step "
                   f"{result.bad_step}: lower the learning rate or check the data for NaN/inf")
        return False
    start = time.perf_counter()
    val_loss, val_acc = (None, None) if parts.val_data is None else \
        evaluate(state.model, *parts.val_data, parts.loss_fn, batch_size=CHUNK_ROWS)
    state.history.append(epoch=state.epoch, train_loss=result.loss, val_loss=val_loss,
                         val_acc=val_acc, lr=float(state.optimizer.param_groups[0]["lr"]),
                         seconds=result.seconds + time.perf_counter() - start)
    return True
