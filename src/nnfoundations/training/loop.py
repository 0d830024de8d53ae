"""The training loop (the seed's section 3 and Part 2): epochs of shuffled mini-batches.

Each epoch runs one :func:`~nnfoundations.training.step.step` per mini-batch (the step that
``train_one_step`` wraps) and then :func:`~nnfoundations.training.step.evaluate` on the validation
data. For ``(X, y)`` tensors the batches are contiguous slices of a few large gathers
along one permutation per epoch, with no per-sample indexing or collation, and the losses
stay on the device until the epoch ends; any other ``Dataset`` goes through a
``DataLoader``.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from nnfoundations import _checks
from nnfoundations.history import History
from nnfoundations.training.checkpoint import atomic_save, safe_load
from nnfoundations.training.step import evaluate, model_device, step
from nnfoundations.training.stopping import StopDecision, early_stopping

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
}
#: Validation runs in chunks of this many examples (bounded memory, same mean loss).
EVAL_BATCH = 4096
CHECKPOINT_FORMAT = "nnfoundations-fit-1"
#: Batches gathered together from the permuted data (bounded memory, few large gathers).
GATHER_BATCHES = 64
TensorPair = tuple[torch.Tensor, torch.Tensor]


def updates_per_epoch(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Gradient updates (calls of ``train_one_step``) in one epoch over ``n`` examples.

    Example:
        >>> updates_per_epoch(1024, 64), 10 * updates_per_epoch(1024, 64)
        (16, 160)
    """
    n = _checks.positive_int("n", n)
    batch_size = _checks.positive_int("batch_size", batch_size)
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def make_optimizer(
    optimizer: str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer],
    model: nn.Module,
    lr: float,
) -> torch.optim.Optimizer:
    """Return an optimizer for ``model``: a name (``adam``, ``adamw``, ``sgd``) gets torch's
    fused kernel where this torch has one for the device (else foreach); a callable is called
    with the parameters; an instance is used as it is."""
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        cls = OPTIMIZERS.get(optimizer.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {list(OPTIMIZERS)}")
        for fast in ({"fused": True}, {"foreach": True}, {}):
            try:
                return cls(model.parameters(), lr=lr, **fast)
            except (RuntimeError, TypeError, ValueError):
                continue
    if callable(optimizer):
        made = optimizer(model.parameters())
        if isinstance(made, torch.optim.Optimizer):
            return made
    raise TypeError(f"optimizer must be a name {list(OPTIMIZERS)}, an Optimizer, or a callable "
                    f"returning one; got {optimizer!r}")


class _Batches:
    """The training data's mini-batches, epoch by epoch, exactly as
    ``DataLoader(shuffle=True, drop_last=False)`` draws them from the same generator."""

    def __init__(self, train: TensorPair | Dataset, batch_size: int,
                 device: torch.device) -> None:
        self.batch_size = batch_size
        if isinstance(train, tuple | list):
            X, y = _tensor_pair(train, "train")
            self.X, self.y, self.dataset = X.to(device), y.to(device), None
            self.n = len(X)
        elif isinstance(train, Dataset):
            self.dataset, self.n = train, len(train)  # type: ignore[arg-type]
            if self.n == 0:
                raise ValueError("train is empty: fit needs at least one example")
        else:
            raise TypeError(f"train must be an (X, y) pair of tensors or a torch Dataset, "
                            f"got {type(train).__name__}")

    def __len__(self) -> int:
        return updates_per_epoch(self.n, self.batch_size)

    def epoch(self, generator: torch.Generator) -> Iterator[TensorPair]:
        if self.dataset is not None:
            yield from DataLoader(self.dataset, self.batch_size, shuffle=True, generator=generator)
            return
        # Draw from the generator exactly as DataLoader does, so that both give the same
        # batches: a base seed, the permutation, and one more permutation that its sampler
        # draws as it runs out.
        torch.empty((), dtype=torch.int64).random_(generator=generator)
        order = torch.randperm(self.n, generator=generator).to(self.X.device)
        torch.randperm(self.n, generator=generator)
        # Gather GATHER_BATCHES batches' rows at once and slice them: as fast as permuting
        # all the data once (a gather per batch was 2-4% slower here), without a second copy
        # of the data in memory.
        chunk = self.batch_size * GATHER_BATCHES
        for start in range(0, self.n, chunk):
            rows = order[start : start + chunk]
            X, y = self.X[rows], self.y[rows]
            for s in range(0, len(rows), self.batch_size):
                yield X[s : s + self.batch_size], y[s : s + self.batch_size]


def _tensor_pair(data: Any, name: str) -> TensorPair:
    if len(data) != 2 or not all(isinstance(t, torch.Tensor) for t in data):
        raise TypeError(f"{name} must be an (X, y) pair of tensors")
    X, y = data
    if len(X) == 0:
        raise ValueError(f"{name} is empty: it needs at least one example")
    if len(X) != len(y):
        raise ValueError(f"{name}: X and y differ in length: {len(X)} examples but "
                         f"{len(y)} labels")
    return X, y


def _val_tensors(val: TensorPair | Dataset | None) -> TensorPair | None:
    if val is None:
        return None
    if isinstance(val, Dataset):
        if len(val) == 0:  # type: ignore[arg-type]
            raise ValueError("val is empty: it needs at least one example")
        return next(iter(DataLoader(val, batch_size=len(val))))  # type: ignore[arg-type]
    return _tensor_pair(val, "val")


@dataclass
class _EpochResult:
    loss: float = math.nan
    seconds: float = 0.0
    steps: int = 0
    bad_step: int | None = None  # 1-based step of the first non-finite loss
    bad_value: float = math.nan
    interrupted: bool = False


def _train_epoch(model: nn.Module, batches: Iterable[TensorPair], loss_fn: nn.Module,
                 optimizer: torch.optim.Optimizer, stop_flag: dict[str, bool]) -> _EpochResult:
    """One pass of steps; the losses stay on the device until the end (one sync per epoch),
    except on the CPU, where looking at each loss costs nothing and stops a NaN at once."""
    result, losses, sizes = _EpochResult(), [], []
    start = time.perf_counter()
    look_each_step = model_device(model).type == "cpu"
    for X_batch, y_batch in batches:
        loss = step(model, X_batch, y_batch, loss_fn, optimizer)
        losses.append(loss)
        sizes.append(len(y_batch))
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


@contextmanager
def _ctrl_c_stops_after_the_step() -> Iterator[dict[str, bool]]:
    """While training, Ctrl-C sets a flag that the loop reads after each step."""
    flag = {"set": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: object) -> None:
        flag["set"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def fit(
    model: nn.Module,
    train: TensorPair | Dataset,
    val: TensorPair | Dataset | None = None,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] = "adam",
    loss_fn: nn.Module | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    seed: int | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
) -> History:
    """Train ``model`` by mini-batch gradient descent and return its :class:`History`.

    Each epoch shuffles the training data, takes one step per mini-batch, then evaluates on
    ``val``. Early stopping and ``best_epoch`` follow the validation loss (the training loss
    without ``val``). **By default the model ends with the best epoch's weights**
    (``restore_best=True``), kept in memory. A non-finite loss stops training with the epoch
    and step named; Ctrl-C stops after the current step; both restore the best weights and
    say why in ``history.stop_reason``.

    Args:
        model: the network; it is moved to ``device`` when one is given.
        train: an ``(X, y)`` pair of tensors (fast path) or any torch ``Dataset``.
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
        seed: seeds the shuffling and torch's global RNG (dropout, init) for a reproducible
            run; None draws one, recorded in ``history.settings["seed"]``.
        device: ``"cpu"``, ``"cuda"``, ...; default: where the model's parameters are.
        progress: a bar and one line per epoch on stderr; None shows them on a terminal only.
        checkpoint: save weights, optimizer, History and RNG states here after every epoch,
            atomically.
        resume: a checkpoint to continue from, exactly where it was saved.

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
    settings = _settings(epochs, batch_size, lr, optimizer, loss_fn, patience, min_delta,
                         restore_best, seed)
    if device is not None:
        model.to(device)
    if seed is not None:
        torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(settings["seed"])
    batches = _Batches(train, settings["batch_size"], model_device(model))
    val_data = _val_tensors(val)
    opt = make_optimizer(optimizer, model, settings["lr"])
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    settings.update(n_train=batches.n, n_val=None if val_data is None else len(val_data[0]),
                    n_outputs=_n_outputs(model), device=str(model_device(model)))
    history, best = History(settings=settings), None
    if resume is not None:
        history, best = _resume(Path(resume), model, opt, generator, settings,
                                adopt_seed=seed is None)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    with _ctrl_c_stops_after_the_step() as stop_flag:
        for epoch in range(len(history) + 1, settings["epochs"] + 1):
            batches_now = _progress_bar(batches.epoch(generator), len(batches), epoch, show,
                                        settings["epochs"])
            result = _train_epoch(model, batches_now, loss_fn, opt, stop_flag)
            decision = _close_epoch(epoch, result, model, val_data, loss_fn, opt, history)
            if decision.improved:
                best = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if len(history) == epoch:  # the epoch completed
                if show:
                    tqdm.write(_summary(history, decision), file=sys.stderr)
                if checkpoint is not None:
                    _save(Path(checkpoint), model, opt, generator, history, best)
            if decision.stop:
                break
    if restore_best and best is not None:
        model.load_state_dict(best)
    return history


def _n_outputs(model: nn.Module) -> int | None:
    """The width of the model's last Linear layer: the number of classes for a classifier."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def _settings(epochs: int, batch_size: int, lr: float, optimizer: object,
              loss_fn: nn.Module | None, patience: int | None, min_delta: float,
              restore_best: bool, seed: int | None) -> dict[str, Any]:
    """Check every setting before any work, and return them as plain data."""
    if patience is not None:
        _checks.positive_int("patience", patience)
    if _checks.real_number("min_delta", min_delta) < 0:
        raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
    if isinstance(optimizer, str) and optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {list(OPTIMIZERS)}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return {
        "epochs": _checks.positive_int("epochs", epochs),
        "batch_size": _checks.positive_int("batch_size", batch_size),
        "lr": _checks.positive_number("lr", lr),
        "optimizer": optimizer.lower() if isinstance(optimizer, str) else repr(optimizer),
        "loss_fn": repr(loss_fn) if loss_fn is not None else "CrossEntropyLoss()",
        "patience": patience, "min_delta": float(min_delta), "restore_best": bool(restore_best),
        "seed": seed if seed is not None else int(torch.randint(2**31 - 1, ()).item()),
    }


def _close_epoch(epoch: int, result: _EpochResult, model: nn.Module,
                 val_data: TensorPair | None, loss_fn: nn.Module,
                 optimizer: torch.optim.Optimizer, history: History) -> StopDecision:
    """Evaluate, record the epoch and decide; or record why the epoch could not finish."""
    if result.interrupted or result.bad_step is not None:
        history.interrupted = result.interrupted
        history.stop_reason = (
            f"interrupted (Ctrl-C) in epoch {epoch} after step {result.steps}; the epoch "
            "is not recorded" if result.interrupted else
            f"non-finite loss ({result.bad_value}) at epoch {epoch}, step {result.bad_step}: "
            "lower the learning rate or check the data for NaN/inf")
        return StopDecision(True, history.best_epoch, False, history.stop_reason)
    start = time.perf_counter()
    val_loss, val_acc = (None, None) if val_data is None else \
        evaluate(model, *val_data, loss_fn, batch_size=EVAL_BATCH)
    history.append(epoch=epoch, train_loss=result.loss, val_loss=val_loss, val_acc=val_acc,
                   lr=float(optimizer.param_groups[0]["lr"]),
                   seconds=result.seconds + time.perf_counter() - start)
    decision = early_stopping(getattr(history, history.monitor),
                              history.settings["patience"], history.settings["min_delta"])
    history.best_epoch = decision.best_epoch
    if decision.stop:
        history.stop_reason = decision.reason
    return decision


def _progress_bar(batches: Iterator[TensorPair], total: int, epoch: int, show: bool,
                  epochs: int) -> Iterable[TensorPair]:
    if not (show and sys.stderr.isatty()):
        return batches
    return tqdm(batches, total=total, desc=f"epoch {epoch}/{epochs}", leave=False,
                file=sys.stderr, unit="batch")


def _summary(history: History, decision: StopDecision) -> str:
    r = history.records[-1]
    val = "" if r["val_loss"] is None else f"  val {r['val_loss']:.4f}  acc {r['val_acc']:.3f}"
    mark = "  * best" if decision.improved else ""
    return (f"epoch {r['epoch']:>3}/{history.settings['epochs']}  train {r['train_loss']:.4f}"
            f"{val}  {r['seconds']:.2f}s{mark}")


def _save(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
          generator: torch.Generator, history: History, best: dict | None) -> None:
    state = {
        "format": CHECKPOINT_FORMAT, "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "history": history.to_dict(),
        "shuffle_rng": generator.get_state(), "torch_rng": torch.get_rng_state(),
        "best": best or {},
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    atomic_save(state, path)


def _resume(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
            generator: torch.Generator, settings: dict[str, Any],
            adopt_seed: bool) -> tuple[History, dict | None]:
    """Restore a :func:`_save` checkpoint into the run; the settings must match (but for the
    seed, which the saved run's replaces when ``adopt_seed``)."""
    state = safe_load(path)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a fit() checkpoint (format {state.get('format')!r})")
    history = History.from_dict(state["history"])
    free = ("epochs", "device", "seed") if adopt_seed else ("epochs", "device")
    changed = sorted(k for k in settings if k not in free
                     and history.settings.get(k) != settings[k])
    if changed:
        raise ValueError(f"cannot resume {path}: settings differ from the saved run: "
                         + ", ".join(f"{k} {history.settings.get(k)!r} -> {settings[k]!r}"
                                     for k in changed))
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise ValueError(f"{path} does not fit this model: {str(err).splitlines()[0]}") from None
    generator.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    history.settings["epochs"] = settings["epochs"]
    return history, state["best"] or None
