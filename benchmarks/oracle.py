"""What a corpus run's user sees, and the oracle's verdict on it from what they do not see.

The log a user sees is the run's first ``visible`` epochs, logged the run's way (per epoch;
every k steps beside the mean training loss since the last evaluation; the last batch's
loss; the validation loss only) and cut where early stopping would have stopped it.

The oracle reads the hidden test set's loss ``T`` at every evaluation point up to 4x the
visible epochs (smoothed over 3 points), the loss ``B`` of the best constant prediction and
the test loss ``R`` of a reference model (the best of a small sweep on the same data).
Margins are shares of ``B``, so a wiggle of a loss near zero never counts. In this order:

- **diverged**: a loss became non-finite in the visible epochs; or the held-out loss ends
  above 1.5 B with the training loss above B and never below B however long it trains on:
  worse than guessing, and it stays so.
- **unstable**: the training loss climbed back, persistently (its 5-point running median),
  by a third of what it had fallen and 10% of B.
- **overfitting**: the held-out loss rose past its best by 10% of it and 3% of B, its best at
  least 3 points before the end, while the training loss fell meanwhile.
- **unstable**, too: the held-out loss jumps from point to point (its median absolute step
  over the second half of the visible epochs) by more than 5% of B and a quarter of what it
  fell: the weights do not settle.
- **not_converged**: training on (to 4x the epochs) lowers the held-out loss by 10% of where
  it ends and 3% of B.
- **underfitting**: the reference model's test loss beats the best the run reaches in 4x its
  epochs by 15% of the way from B to it and 3% of B, and the run's own training loss ends
  above that test loss: it does not fit even its training data as well as the reference
  generalises (a run that memorised its training set is not underfitting).
- **good_fit**: none of the above.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Any

#: Margins, as shares of the constant predictor's loss B (see the module's docstring).
DIVERGED_B, RISE_REL, RISE_B, GAIN_REL, GAIN_B = 1.5, 0.10, 0.03, 0.10, 0.03
CLIMB_SHARE, CLIMB_B, JUMP_B, JUMP_SHARE, UNDERFIT_SHARE = 1 / 3, 0.10, 0.05, 0.25, 0.15
#: A share of the classification runs whose log says its class count (our own runs do).
CLASSES_KNOWN = 0.3


@dataclass
class Visible:
    """The log a run's user sees."""

    epochs: list[float]
    train: list[float | None]
    val: list[float | None]
    acc: list[float | None]
    classes: int | None


@dataclass
class Label:
    """The oracle's reading of a run."""

    verdict: str
    best: int  # the visible point where the hidden test loss is lowest
    more_helps: bool  # training on lowers the held-out loss by the margin
    test: list[float]  # the hidden test loss at each point (4x)
    constant: float
    n_visible: int


def visible(record: dict[str, Any]) -> Visible:
    """The run's log as its user sees it."""
    s, c = record["series"], record["config"]
    n = sum(1 for e in s["epoch"] if e <= c["visible"] + 1e-9)
    n = _early_stop(s["val"][:n], c["patience"]) if c["patience"] else n
    style = c["style"]
    train = None if style == "val_only" else s["last" if style == "step_last" else "train"][:n]
    classification = record["data"]["classes"] > 0
    acc = s["acc"][:n] if classification and c["acc_column"] else [None] * n
    known = classification and random.Random(f"classes-{record['id']}").random() < CLASSES_KNOWN
    return Visible(list(s["epoch"][:n]), list(train) if train else [None] * n,
                   list(s["val"][:n]), list(acc), record["data"]["classes"] if known else None)


def _early_stop(val: list[float], patience: int) -> int:
    """How many points a log stopped by early stopping (on the validation loss) holds."""
    best, wait = math.inf, 0
    for k, v in enumerate(val):
        if v is not None and v < best:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                return k + 1
    return len(val)


def _median3(values: list[float]) -> list[float]:
    out = list(values)
    for k in range(1, len(values) - 1):
        out[k] = statistics.median(values[k - 1:k + 2])
    return out


def _running(values: list[float], half: int) -> list[float]:
    return [statistics.median(values[max(0, k - half):k + half + 1]) for k in range(len(values))]


def label(record: dict[str, Any]) -> Label:
    """The oracle's verdict on ``record`` (a corpus line)."""
    s = record["series"]
    seen = visible(record)
    n = len(seen.epochs)
    B, R = record["constant"], record["reference"]
    raw = s["test"]
    finite_all = all(v is not None and math.isfinite(v) for v in raw)
    T = _median3([v if v is not None and math.isfinite(v) else math.inf for v in raw])
    Tv = T[:n]
    best = min(range(n), key=Tv.__getitem__)
    future = min(T[n:], default=math.inf)
    more = future < Tv[-1] - max(GAIN_REL * Tv[-1], GAIN_B * B)

    def done(verdict: str) -> Label:
        return Label(verdict, best, more, raw, B, n)
    mean_train = s["train"][:n]
    if not all(v is not None and math.isfinite(v) for v in (*mean_train, *s["val"][:n])):
        return done("diverged")
    trained = [v for v in s["train"] if v is not None and math.isfinite(v)]
    if Tv[-1] > DIVERGED_B * B and mean_train[-1] > B and (not finite_all or min(trained) > B):
        return done("diverged")
    if _climbed(mean_train, B):
        return done("unstable")
    rise = Tv[-1] - Tv[best]
    if n - 1 - best >= 3 and rise > max(RISE_REL * Tv[best], RISE_B * B) and \
            _running(mean_train, 1)[-1] < _running(mean_train, 1)[best]:
        return done("overfitting")
    if _jumps(raw[:n], B):
        return done("unstable")
    if more:
        return done("not_converged")
    reach = min(T)
    if R < B and reach - R > max(UNDERFIT_SHARE * (B - R), RISE_B * B) and \
            _running(mean_train, 1)[-1] > R:
        return done("underfitting")
    return done("good_fit")


def _climbed(train: list[float], B: float) -> bool:
    """Whether the training loss's running median climbed back above its minimum so far by
    a third of its fall and 10% of B, and stayed there to the end."""
    smooth = _running(train, 2)
    low = min(range(len(smooth)), key=smooth.__getitem__)
    fell = smooth[0] - smooth[low]
    return low < len(smooth) - 1 and smooth[-1] - smooth[low] > max(CLIMB_SHARE * fell,
                                                                     CLIMB_B * B)


def _jumps(Tv: list[float], B: float) -> bool:
    """Whether the held-out loss jumps from point to point over the second half of the
    visible epochs by 5% of B and a quarter of its fall (its median step)."""
    half = Tv[len(Tv) // 2:]
    if len(half) < 3:
        return False
    step = statistics.median(abs(a - b) for a, b in zip(half, half[1:], strict=False))
    fell = max(Tv[0] - min(Tv), 0.0)
    return step > max(JUMP_B * B, JUMP_SHARE * fell)
