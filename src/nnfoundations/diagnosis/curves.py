"""Reading train and validation loss curves (the seed's 3.2): a verdict with its figures.

The rules, in the order they are tried; each boundary is a named constant below:

1. **diverged**: a loss became NaN/inf, or the training loss ended far above where it began.
2. **overfitting**: the validation loss rose well above its minimum, and stayed there for
   some epochs, while the training loss went on falling: the model learns the training set,
   not the task.
3. **not_converged**: the monitored loss is still falling fast over the last epochs, and
   its best epoch is one of the last few: train longer.
4. **underfitting**: the losses are high against chance level, close to each other and flat:
   the model (or its training) cannot fit even the training data.
5. **good_fit**: otherwise: both curves fell and levelled off, close together.

``stop_epoch`` is where a user should have stopped: the epoch of the lowest validation loss
(None while it is still falling).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations.history import History, LossKind, StopKind

VERDICTS = ("underfitting", "overfitting", "good_fit", "not_converged", "diverged")

#: Diverged when the last training loss exceeds the first epoch's by this factor: training
#: that works lowers the loss, and a loss that grew this much means the steps overshoot.
DIVERGE_FACTOR = 1.5
#: Overfitting needs the validation loss (mean of the last 3 epochs) this far above its
#: minimum, relative to it: smaller rises are the noise of a curve that has levelled off,
#: such as the few epochs a patient early stop waits for.
OVERFIT_RISE = 0.10
#: ... and by at least this fraction of chance level in absolute terms: near a tiny minimum
#: (0.04 on digits) a 10% rise is epoch-to-epoch noise of a model that fits well.
OVERFIT_MIN_RISE = 0.01
#: ... and at least this many epochs past the minimum, so one noisy epoch is not a trend.
OVERFIT_EPOCHS_PAST = 3
#: Still improving when the monitored loss fell by more than this fraction per epoch on
#: average over the last epochs: at 1% a further 20 epochs would still gain about 18%.
STILL_FALLING = 0.01
#: High when the final loss is above this fraction of chance level (the loss of a uniform
#: guess, log K for K classes): a model that learnt its task sits far below chance.
HIGH_LOSS = 0.3
#: Close when the generalisation gap (validation − training loss) is below this fraction of
#: the validation loss: both curves are equally bad, so more capacity, not data, is missing.
CLOSE_GAP = 0.25
#: The last epochs looked at for trends: this share of the run, at least 3.
RECENT_SHARE = 0.2


@dataclass
class Diagnosis:
    """A verdict on a run's curves, with the figures that led to it.

    Attributes:
        verdict: one of :data:`VERDICTS`.
        best_epoch: the epoch of the lowest monitored loss (None if there is none).
        stop_epoch: where the user should have stopped (None: keep training).
        reasons: sentences, each with its figures.
    """

    verdict: str
    best_epoch: int | None
    stop_epoch: int | None
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"verdict: {self.verdict.replace('_', ' ')}"]
        if self.best_epoch is not None:
            lines.append(f"best epoch: {self.best_epoch}")
        stop = f"epoch {self.stop_epoch}" if self.stop_epoch is not None else \
            "keep training" if self.verdict == "not_converged" else "none (no good epoch)"
        lines.append(f"suggested stop: {stop}")
        return "\n".join(lines + [f"- {r}" for r in self.reasons])


def diagnose(history: History) -> Diagnosis:
    """Diagnose a run from its train and validation loss curves.

    Args:
        history: the run's :class:`History` (from :func:`fit` or ``History.from_json``).

    Returns:
        A :class:`Diagnosis`; see the module's docstring for the rules.

    Example:
        >>> h = History()
        >>> for e, (t, v) in enumerate([(2.0, 2.1), (1.0, 1.2), (0.5, 0.8), (0.2, 0.9),
        ...                             (0.1, 1.1), (0.05, 1.3)], 1):
        ...     h.append(epoch=e, train_loss=t, val_loss=v, val_acc=None, lr=0.1, seconds=0)
        >>> d = diagnose(h); d.verdict, d.stop_epoch
        ('overfitting', 3)
    """
    if not isinstance(history, History):
        raise InvalidTypeError(f"diagnose needs a History, got {type(history).__name__}")
    if history.stop_kind == StopKind.NON_FINITE or not all(_finite(history)):
        return _diverged(history, f"training stopped on a non-finite loss: "
                                  f"{history.stop_reason}")
    if not history.records:
        raise InvalidValueError("the History has no epochs to diagnose")
    train = history.train_loss
    if train[-1] > DIVERGE_FACTOR * train[0]:
        return _diverged(history, f"the training loss grew from {train[0]:.4f} (epoch 1) to "
                                  f"{train[-1]:.4f} (epoch {len(train)}), more than "
                                  f"{DIVERGE_FACTOR}x: the steps overshoot")
    return _Curves(history).verdict()


def _finite(history: History) -> list[bool]:
    return [math.isfinite(v) for v in history.train_loss + history.val_loss if v is not None]


def _diverged(history: History, reason: str) -> Diagnosis:
    return Diagnosis("diverged", history.best_epoch, history.best_epoch,
                     [reason, "lower the learning rate (by 10x), or check the data"])


def _chance_level(history: History) -> tuple[float, str]:
    """The loss of a uniform guess (log K) for cross-entropy over K classes, else the first
    epoch's training loss, which is where a run starts from: the yardstick of "high"."""
    outputs = history.settings.get("n_outputs")
    kind = history.settings.get("loss_kind", LossKind.CROSS_ENTROPY)
    if kind == LossKind.CROSS_ENTROPY and isinstance(outputs, int) and outputs > 1:
        return math.log(outputs), f"chance level log({outputs}) = {math.log(outputs):.3f}"
    first = history.train_loss[0]
    return first, f"the first epoch's loss {first:.3f}"


class _Curves:
    """The figures of one run's curves, and the rules over them."""

    def __init__(self, history: History) -> None:
        self.train = history.train_loss
        self.has_val = history.monitor == "val_loss"
        self.loss = history.monitored
        self.name = "validation loss" if self.has_val else "training loss"
        self.best = min(range(len(self.loss)), key=self.loss.__getitem__)
        self.recent = max(3, round(RECENT_SHARE * len(self.loss)))
        self.chance, self.chance_text = _chance_level(history)

    def verdict(self) -> Diagnosis:
        """The first rule that recognises the curves, else a good fit."""
        for rule in (self._overfitting, self._not_converged, self._underfitting):
            found = rule()
            if found is not None:
                return found
        return self._good_fit()

    def _diagnosis(self, verdict: str, stop: int | None, *reasons: str) -> Diagnosis:
        return Diagnosis(verdict, self.best + 1, stop, list(reasons))

    def _overfitting(self) -> Diagnosis | None:
        if not self.has_val:
            return None
        low, end = self.loss[self.best], sum(self.loss[-3:]) / len(self.loss[-3:])
        past = len(self.loss) - 1 - self.best
        rise = (end - low) / low if low > 0 else 0.0
        if rise < OVERFIT_RISE or end - low < OVERFIT_MIN_RISE * self.chance \
                or past < OVERFIT_EPOCHS_PAST or self.train[-1] >= self.train[self.best]:
            return None
        return self._diagnosis(
            "overfitting", self.best + 1,
            f"the validation loss fell to {low:.4f} at epoch {self.best + 1}, then rose "
            f"{rise:.0%} (mean of the last 3 epochs {end:.4f}) over {past} epochs, more than "
            f"the {OVERFIT_RISE:.0%} that counts as a rise (and {end - low:.4f} above it, over "
            f"{OVERFIT_MIN_RISE:.0%} of {self.chance_text})",
            f"meanwhile the training loss kept falling, from {self.train[self.best]:.4f} to "
            f"{self.train[-1]:.4f}: the gap grew from {low - self.train[self.best]:.4f} to "
            f"{self.loss[-1] - self.train[-1]:.4f}",
            f"stop at epoch {self.best + 1} (early stopping with restore_best does it), or "
            "regularise: dropout, more data, a smaller model")

    def _fall_rate(self) -> float:
        k = min(self.recent, len(self.loss) - 1)
        if k < 1 or self.loss[-k - 1] <= 0:
            return 0.0
        return (self.loss[-k - 1] - self.loss[-1]) / self.loss[-k - 1] / k

    def _not_converged(self) -> Diagnosis | None:
        rate = self._fall_rate()
        recent_best = len(self.loss) - 1 - self.best < OVERFIT_EPOCHS_PAST
        if rate <= STILL_FALLING or not recent_best:
            return None
        k = min(self.recent, len(self.loss) - 1)
        return self._diagnosis(
            "not_converged", None,
            f"the {self.name} is still falling: {rate:.1%} per epoch over the last {k} epochs "
            f"(from {self.loss[-k - 1]:.4f} to {self.loss[-1]:.4f}), above the "
            f"{STILL_FALLING:.0%} that counts as flat",
            "train for more epochs (or raise the learning rate)")

    def _underfitting(self) -> Diagnosis | None:
        final = self.loss[-1]
        gap = final - self.train[-1]
        if final <= HIGH_LOSS * self.chance or (self.has_val and abs(gap) > CLOSE_GAP * final):
            return None
        return self._diagnosis(
            "underfitting", self.best + 1,
            f"the final {self.name} {final:.4f} is {final / self.chance:.0%} of "
            f"{self.chance_text}, above the {HIGH_LOSS:.0%} that counts as high",
            f"training loss {self.train[-1]:.4f} is close (gap {gap:+.4f}) and the curve is "
            f"flat (changing {-self._fall_rate():+.1%} per epoch lately): even the training "
            "data is not fitted",
            "use a larger model (wider or deeper layers), less regularisation, or a better "
            "learning rate")

    def _good_fit(self) -> Diagnosis:
        final, gap = self.loss[-1], self.loss[-1] - self.train[-1]
        reasons = [
            f"the {self.name} fell to {self.loss[self.best]:.4f} at epoch {self.best + 1} and "
            f"levelled off: it ends at {final:.4f}, {final / self.loss[self.best] - 1:+.0%} from "
            f"its minimum",
            f"it is {final / self.chance:.0%} of {self.chance_text}",
        ]
        if self.has_val:
            reasons.append(f"the gap to the training loss ({self.train[-1]:.4f}) is "
                           f"{gap:+.4f} and has not grown into a rise of the validation loss")
        else:
            reasons.append("without validation data overfitting cannot be seen: pass val")
        return self._diagnosis("good_fit", self.best + 1, *reasons)
