"""The learning-rate finder: an exponential sweep of the learning rate over a few hundred
steps (Smith's range test, as fastai's ``lr_find`` and Lightning's ``Tuner.lr_find`` run it),
with a suggestion that an early spike does not fool, and the model left as it was."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.diagnosis.stats import running_median
from nnfoundations.history import StopKind
from nnfoundations.training.batches import Data
from nnfoundations.training.hooks import FitState, Hook
from nnfoundations.training.loop import fit
from nnfoundations.training.optimizers import OptimizerSpec

#: The sweep stops once the smoothed loss exceeds its best by this factor: it diverged.
DIVERGED = 4.0
#: Weight of the past in the running average that decides when the sweep has diverged.
SMOOTHING = 0.9
#: Steps in the centred running median the suggestion reads: no lag, and a single spike
#: does not move it.
WINDOW = 5
#: The first steps left out of the suggestion: a fresh model's loss jumps there.
SKIP_START = 0.1


@dataclass
class LRFind:
    """A learning-rate sweep and its suggestion.

    Attributes:
        lrs: the learning rate of each step.
        losses: each step's training loss.
        smoothed: the smoothed losses the suggestion reads.
        suggestion: the suggested learning rate (None when the sweep learnt nothing).
        reason: how the suggestion was found, with its figures.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    reason: str

    def __str__(self) -> str:
        best = "none" if self.suggestion is None else f"{self.suggestion:.3g}"
        return f"suggested learning rate: {best}\n- {self.reason}"


def lr_find(model: nn.Module, train: Data, *, start_lr: float = 1e-7, end_lr: float = 10.0,
            steps: int = 100, batch_size: int = 64, optimizer: OptimizerSpec = "adam",
            loss_fn: nn.Module | None = None, seed: int = 0) -> LRFind:
    """Sweep the learning rate from ``start_lr`` to ``end_lr`` over ``steps`` steps.

    The sweep runs on ``fit``'s own loop (the same batches, steps and engine), as a hook
    that sets each step's rate. The model's weights and torch's RNG state are restored
    afterwards: the sweep leaves no trace. It stops early once the loss diverges.

    Example:
        >>> from nnfoundations import build_model
        >>> X, y = torch.randn(256, 4), torch.randint(0, 3, (256,))
        >>> found = lr_find(build_model(4, [16], 3), (X, y), steps=30)
        >>> len(found.lrs) <= 30
        True
    """
    start_lr = _checks.positive_number("start_lr", start_lr)
    if _checks.positive_number("end_lr", end_lr) <= start_lr:
        raise InvalidValueError(f"end_lr must be > start_lr, got {end_lr!r} <= {start_lr!r}")
    steps = _checks.positive_int("steps", steps)
    if steps < 10:
        raise InvalidValueError(f"steps must be at least 10 for a sweep, got {steps}")
    saved, rng = copy.deepcopy(model.state_dict()), torch.get_rng_state()
    sweep = _Sweep(start_lr, end_lr, steps)
    try:  # a step is an epoch at most: the sweep's own stop comes first
        fit(model, train, epochs=steps, batch_size=batch_size, lr=start_lr,
            optimizer=optimizer, loss_fn=loss_fn, restore_best=False, seed=seed,
            progress=False, telemetry=False, hooks=[sweep])
    finally:
        model.load_state_dict(saved)
        torch.set_rng_state(rng)
    lrs, losses = sweep.lrs[: len(sweep.losses)], sweep.losses
    finite = losses[: len(smooth(losses))]
    suggestion, reason = suggest(lrs, finite)
    return LRFind(lrs, losses, running_median(finite, WINDOW), suggestion, reason)


class _Sweep(Hook):
    """The sweep as a hook of ``fit``'s loop: it sets each step's learning rate, keeps each
    step's loss, and ends the run after ``steps`` steps or once the loss diverged."""

    def __init__(self, start_lr: float, end_lr: float, steps: int) -> None:
        self.start_lr, self.end_lr, self.steps = start_lr, end_lr, steps
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.best = math.inf

    def on_step_start(self, state: FitState) -> None:
        lr = self.start_lr * (self.end_lr / self.start_lr) ** (len(self.lrs) / (self.steps - 1))
        for group in state.optimizer.param_groups:
            group["lr"] = lr
        self.lrs.append(lr)

    def on_step_end(self, state: FitState, loss: torch.Tensor) -> None:
        self.losses.append(loss.item())
        finite = math.isfinite(self.losses[-1])
        current = smooth(self.losses)[-1] if finite else math.inf
        if not finite or len(self.losses) == self.steps or (len(self.losses) > 6 and
                                                            current > DIVERGED * self.best):
            state.stop(StopKind.REQUESTED, "the sweep ended")
        self.best = min(self.best, current)


def smooth(losses: list[float]) -> list[float]:
    """The bias-corrected exponential moving average of the losses, up to the first
    non-finite one: what the sweep watches to stop.

    Example:
        >>> [round(v, 3) for v in smooth([1.0, 1.0, 4.0])]
        [1.0, 1.0, 2.107]
    """
    out, average = [], 0.0
    for k, loss in enumerate(losses, 1):
        if not math.isfinite(loss):
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        out.append(average / (1 - SMOOTHING**k))
    return out


def suggest(lrs: list[float], losses: list[float]) -> tuple[float | None, str]:
    """The learning rate where the loss's running median falls fastest (against log lr),
    between the first steps (left out: a spike there is not a valley) and the lowest loss.

    Example:
        >>> lrs = [10 ** (-6 + k / 10) for k in range(60)]
        >>> falls = [2.0 - 0.002 * k * k for k in range(30)]  # faster and faster
        >>> losses = [2.0] * 20 + falls + [0.3 + k for k in range(10)]
        >>> round(math.log10(suggest(lrs, losses)[0]), 1)
        -1.4
    """
    if len(losses) < 10:
        return None, f"the sweep stopped after {len(losses)} steps: too few to read"
    smoothed = running_median(losses, WINDOW)
    low = min(range(len(smoothed)), key=smoothed.__getitem__)
    start = max(1, int(SKIP_START * len(smoothed)))
    if low - start < 3 or smoothed[low] >= smoothed[start]:
        return lrs[low] / 10, (f"no clear valley: a tenth of the learning rate of the lowest "
                               f"loss ({lrs[low]:.3g})")
    logs = [math.log(lr) for lr in lrs]
    slopes = {k: (smoothed[k + 2] - smoothed[k - 2]) / (logs[k + 2] - logs[k - 2])
              for k in range(max(start, 2), min(low, len(smoothed) - 2))}
    if not slopes:
        return lrs[low] / 10, f"a tenth of the learning rate of the lowest loss ({lrs[low]:.3g})"
    steepest = min(slopes, key=slopes.__getitem__)
    return lrs[steepest], (f"the loss falls fastest at {lrs[steepest]:.3g} (steps {start} to "
                           f"{low} read; the lowest loss {smoothed[low]:.4g} at "
                           f"{lrs[low]:.3g})")
