"""The scale-free features of a run's curves: what the fitted verdict reads.

One frozen record per run. Losses are compared with a *yardstick*, the monitored loss's
start (its first trend value, or its first value when that is higher), so a feature means
the same for a loss of 2.3 and one of 0.002; a loss that can be zero or negative is shifted
first so that ratios still mean something. Where a series is missing (no training loss, no
accuracy, no class count), its features read :data:`MISSING`, below every real value, and the
model learns what that absence means. Every other feature is clipped to ``[-CLIP, CLIP]``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields

from nnfoundations.diagnosis.curves import Curves
from nnfoundations.diagnosis.stats import Series, slope

MISSING = -999.0
CLIP = 100.0
#: A value this many noise widths (and a quarter of the movement) off the trend: a spike.
SPIKE_WIDTHS = 6.0
TINY = 1e-12
#: Losses this large or larger read as non-finite.
HUGE = 1e100


@dataclass(frozen=True)
class Features:
    """The features of one run (the model's inputs, in this order), each scale-free.

    Attributes:
        log_points: log10 of the number of points the monitored loss has.
        nonfinite_share: the share of the monitored loss's points that are NaN or infinite.
        nonfinite_tail: 1 when the log ends on non-finite losses (training never recovered).
        end: where the monitored loss ends (mean of its last 3 points) over the yardstick.
        low: its trend's minimum over the yardstick.
        best: its lowest value over the yardstick.
        peak: its trend's maximum over the yardstick (above 1: it rose above its start).
        since_low: the share of the run after the trend's minimum.
        since_low_points: log10(1 + points after the trend's minimum).
        rise: the end above the minimum, over the yardstick less the minimum.
        rise_noise: the end above the minimum, in noise widths.
        rise_low: the end above the minimum, over the minimum.
        slope_third: the slope over the last third, times the points, over the end.
        slope_tenth: the slope over the last tenth (3 points at least), likewise.
        slope_noise: the fall over the last third, in noise widths (negative: falling).
        fall_last_third: the share of the trend's fall (first third to last, medians) made
            in the last third (MISSING where it did not fall): how much it is slowing.
        fall_third_yard: the trend's fall from its middle third to its last, over the
            yardstick.
        ahead: what the loss would still lose over three times its length again, at the
            pace of its thirds (each third's fall a constant share of the one before), over
            its end (at most 1: all of it).
        ahead_yard: the same over the yardstick.
        noise_level: the noise over the trend's median.
        noise_signal: the noise over what the trend moves between its thirds.
        spikes: the share of points that are spikes.
        log_end: log10 of the monitored loss's end as logged (MISSING where shifted).
        log_start: log10 of its start as logged (MISSING where shifted).
        has_train: 1 when there is a training loss beside the monitored loss.
        train_end: the training loss's end over the yardstick.
        train_over_val: the training loss's end over the validation loss's.
        gap_change: the validation-minus-training gap at the end less at the validation
            minimum, over the yardstick.
        train_slope: the training loss's slope over its last third, times the points, over
            its end.
        train_climb: the training trend's end above its minimum over its fall to it.
        train_growth: log10 of the training trend's end over its start.
        train_ahead: what the training loss would still lose (as ``ahead``), over its end.
        train_log_end: log10 of the training loss's end as logged (MISSING where shifted):
            near zero, the training set is memorised.
        train_slope_noise: the training loss's fall over its last third, in noise widths.
        train_fall_last_third: as ``fall_last_third``, for the training loss.
        train_low_over_val: the training trend's minimum over the monitored trend's.
        has_acc: 1 when the log has a validation accuracy (or F1, ...) read as a fraction.
        acc_end: the accuracy's last value (median of the last 3).
        acc_best: its highest value.
        acc_first: its first value.
        acc_drop: its highest value less its end.
        acc_gain_third: its last third's median less its middle third's (still rising?).
        acc_gain: its last third's median less its first third's.
        chance_known: how the class count K is known: 1 given (our runs, ``--classes``),
            0.5 read off an accuracy that starts near 1/K, 0 not known.
        end_over_chance: the monitored loss's end over chance level ``log K``.
        acc_over_chance: the accuracy's end times K (1: at chance).
    """

    log_points: float
    nonfinite_share: float
    nonfinite_tail: float
    end: float
    low: float
    best: float
    peak: float
    since_low: float
    since_low_points: float
    rise: float
    rise_noise: float
    rise_low: float
    slope_third: float
    slope_tenth: float
    slope_noise: float
    fall_last_third: float
    fall_third_yard: float
    ahead: float
    ahead_yard: float
    noise_level: float
    noise_signal: float
    spikes: float
    log_end: float
    log_start: float
    has_train: float
    train_end: float
    train_over_val: float
    gap_change: float
    train_slope: float
    train_climb: float
    train_growth: float
    train_ahead: float
    train_log_end: float
    train_slope_noise: float
    train_fall_last_third: float
    train_low_over_val: float
    has_acc: float
    acc_end: float
    acc_best: float
    acc_first: float
    acc_drop: float
    acc_gain_third: float
    acc_gain: float
    chance_known: float
    end_over_chance: float
    acc_over_chance: float

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The features' names, in the model's order."""
        return tuple(f.name for f in fields(cls))

    def vector(self) -> tuple[float, ...]:
        """The features in the model's order."""
        return astuple(self)


@dataclass(frozen=True)
class Reading:
    """A run's curves as the diagnosis reads them: the cleaned series, their figures in
    the log's own units, and the features.

    Attributes:
        monitored: the validation loss (the training loss where there is none), shifted.
        train: the training loss at the positions it shares with ``monitored`` (or None).
        shift: what was added to the losses (0 for losses that stay positive).
        yardstick: the monitored loss's start, shifted: what the features divide by.
        acc: the validation accuracy as fractions (None where not known).
        best: the position in the run of the lowest monitored loss (the best epoch).
        features: the :class:`Features`.
    """

    monitored: Series
    train: Series | None
    shift: float
    yardstick: float
    acc: list[float]
    best: int
    features: Features

    def value(self, x: float) -> float:
        """A shifted loss back in the log's own units."""
        return x - self.shift


def read(run: Curves) -> Reading | None:
    """The :class:`Reading` of ``run``; None when its monitored loss has no finite value."""
    mon = run.val if run.has_val else run.train
    keep = [k for k, v in enumerate(mon) if usable(v)]
    if not keep:
        return None
    shift = _shift(*([v for v in c if v is not None and usable(v)] for c in (run.train, run.val)))
    best = min(keep, key=lambda k: _at(mon, k))
    m = _series([_at(mon, k) + shift for k in keep], keep)
    both = [k for k in keep if _finite(run.train, k)] if run.has_val else []
    t = _series([_at(run.train, k) + shift for k in both], both) if len(both) >= 2 else None
    yardstick = max(m.trend[0], m.raw[0], TINY)
    acc = fractions(run.acc)
    return Reading(m, t, shift, yardstick, acc, best,
                   _features(run, m, t, shift, yardstick, acc))


#: Longer curves are read as this many bins (each the mean of its points, placed at its
#: last one): a diagnosis stays linear and fast, and no corpus run (1,200 points at most)
#: is binned, so the features mean what they meant when fitted.
MAX_POINTS = 2000


def _series(values: list[float], at: list[int]) -> Series:
    if len(values) <= MAX_POINTS:
        return Series(values, at)
    size = -(-len(values) // MAX_POINTS)
    bins = range(0, len(values), size)
    return Series([statistics.fmean(values[i:i + size]) for i in bins],
                  [at[min(i + size, len(at)) - 1] for i in bins])


def _features(run: Curves, m: Series, t: Series | None, shift: float, y: float,
              acc: list[float]) -> Features:
    n, low = len(m), m.low
    rise = m.end - m.trend[low]
    third = m.tail(1 / 3)
    noise = max(m.noise, TINY * y)
    level = max(statistics.median(m.trend), TINY)
    bad = [v is not None and not usable(v) for v in (run.val if run.has_val else run.train)]
    classes, known = chance_classes(run.classes, acc)
    chance = math.log(classes) if classes else None
    values = dict(
        log_points=math.log10(n), nonfinite_share=sum(bad) / max(len(bad), 1),
        nonfinite_tail=float(bool(bad) and bad[-1]), end=m.end / y, low=m.trend[low] / y,
        best=m.raw[m.best] / y, peak=max(m.trend) / y, since_low=(n - 1 - low) / n,
        since_low_points=math.log10(n - low), rise=rise / max(y - m.trend[low], TINY * y),
        rise_noise=rise / noise, rise_low=rise / max(m.trend[low], TINY * y),
        slope_third=slope(third) * n / max(m.end, TINY * y),
        slope_tenth=slope(m.tail(0.1)) * n / max(m.end, TINY * y),
        slope_noise=slope(third) * len(third) / noise, **_fall(m, y),
        ahead=_ahead(m) / max(m.end, TINY * y),
        ahead_yard=_ahead(m) / y, noise_level=m.noise / level,
        noise_signal=m.noise / max(m.signal, TINY * y),
        spikes=len(m.spikes(SPIKE_WIDTHS)) / n,
        log_end=_log(m.end) if shift == 0 else MISSING,
        log_start=_log(m.raw[0]) if shift == 0 else MISSING,
        **_train_features(m, t, y, shift), **_acc_features(acc, classes),
        chance_known=known,
        end_over_chance=(m.end - shift) / chance if chance else MISSING)
    return Features(**{k: v if v == MISSING else max(-CLIP, min(CLIP, v))
                       for k, v in values.items()})


def _thirds(values: Sequence[float]) -> tuple[float, float, float]:
    """The medians of a curve's first, middle and last thirds."""
    k = max(1, len(values) // 3)
    first, middle, last = values[:k], values[k:-k] or values, values[-k:]
    return statistics.median(first), statistics.median(middle), statistics.median(last)


def _fall(m: Series, y: float) -> dict[str, float]:
    first, middle, last = _thirds(m.trend)
    share = (middle - last) / (first - last) if first > last else MISSING
    return {"fall_last_third": share, "fall_third_yard": (middle - last) / y}


def _train_features(m: Series, t: Series | None, y: float, shift: float) -> dict[str, float]:
    names = ("train_end", "train_over_val", "gap_change", "train_slope", "train_climb",
             "train_growth", "train_ahead", "train_log_end", "train_slope_noise",
             "train_fall_last_third", "train_low_over_val")
    if t is None:
        return {"has_train": 0.0, **dict.fromkeys(names, MISSING)}
    low = min(m.low, len(t) - 1)
    gap_end, gap_low = m.end - t.end, m.trend[m.low] - t.trend[low]
    tlow = t.low
    fell = t.trend[0] - t.trend[tlow]
    return {"has_train": 1.0, "train_end": t.end / y,
            "train_over_val": t.end / max(m.end, TINY * y), "gap_change": (gap_end - gap_low) / y,
            "train_slope": slope(t.tail(1 / 3)) * len(t) / max(t.end, TINY * y),
            "train_climb": (t.trend[-1] - t.trend[tlow]) / max(fell, TINY * y),
            "train_growth": math.log10(max(t.trend[-1], TINY) / max(t.trend[0], TINY)),
            "train_ahead": _ahead(t) / max(t.end, TINY * y),
            "train_log_end": _log(t.end) if shift == 0 else MISSING,
            "train_slope_noise": slope(t.tail(1 / 3)) * len(t.tail(1 / 3)) /
            max(t.noise, TINY * y),
            "train_fall_last_third": _fall(t, y)["fall_last_third"],
            "train_low_over_val": t.trend[tlow] / max(m.trend[m.low], TINY * y)}


#: "Three times its length again": the oracle's runs train on to 4x their visible epochs.
AHEAD_THIRDS = 9


def _ahead(s: Series) -> float:
    """What the curve would still lose over ``AHEAD_THIRDS`` more thirds of its length if
    each third's fall stayed the share of the previous third's fall that the last one was
    (a geometric series; a fall that did not slow goes on unchanged), and never more than
    the curve's end itself: a loss bounded below by zero cannot lose more than it has. 0
    when the last third did not fall, or the curve is too short to have thirds."""
    k = len(s) // 3
    if k < 2:
        return 0.0
    parts = [statistics.median(s.trend[i * k:(i + 1) * k]) for i in range(2)]
    parts.append(statistics.median(s.trend[-k:]))
    before, last = parts[0] - parts[1], parts[1] - parts[2]
    if last <= 0:
        return 0.0
    ratio = min(last / before, 1.0) if before > 0 else 1.0
    if ratio >= 1.0:
        return min(last * AHEAD_THIRDS, s.end)
    return min(last * ratio * (1 - ratio ** AHEAD_THIRDS) / (1 - ratio), s.end)


def _acc_features(acc: list[float], classes: int | None) -> dict[str, float]:
    names = ("acc_end", "acc_best", "acc_first", "acc_drop", "acc_gain_third", "acc_gain",
             "acc_over_chance")
    if not acc:
        return {"has_acc": 0.0, **dict.fromkeys(names, MISSING)}
    end = statistics.median(acc[-3:])
    first, middle, last = _thirds(acc)
    return {"has_acc": 1.0, "acc_end": end, "acc_best": max(acc), "acc_first": acc[0],
            "acc_drop": max(acc) - end, "acc_gain_third": last - middle, "acc_gain": last - first,
            "acc_over_chance": end * classes if classes and classes > 1 else MISSING}


def chance_classes(classes: int | None, acc: list[float]) -> tuple[int | None, float]:
    """The class count K, and how it is known (see ``Features.chance_known``): given, or
    read off the first accuracy, which a network that has learnt nothing logs near 1/K
    (trusted from 1/2 down to 1/1000)."""
    if classes and classes > 1:
        return classes, 1.0
    if acc and 0.001 <= acc[0] <= 0.55:
        return max(2, round(1 / acc[0])), 0.5
    return None, 0.0


def fractions(acc: Sequence[float | None]) -> list[float]:
    """The finite accuracies as fractions, when they read as fractions or percentages (all
    in [0, 1], or in [0, 100] with one above 1); else an empty list.

    Example:
        >>> fractions([None, 50.0, 75.0])
        [0.5, 0.75]
    """
    known = [a for a in acc if a is not None and math.isfinite(a)]
    if not known or min(known) < 0 or max(known) > 100:
        return []
    return known if max(known) <= 1 else [a / 100 for a in known]


def _log(x: float) -> float:
    return math.log10(max(x, TINY))


def _at(values: Sequence[float | None], k: int) -> float:
    v = values[k]
    assert v is not None  # the callers keep finite positions only
    return v


def _finite(values: Sequence[float | None], k: int) -> bool:
    return usable(values[k] if k < len(values) else None)


def usable(v: float | None) -> bool:
    """Whether a logged loss can be read: finite, and under :data:`HUGE` in size (a loss of
    1e308 is a blow-up, and arithmetic on it overflows to inf)."""
    return v is not None and -HUGE < v < HUGE  # NaN fails both comparisons


def _shift(*curves: list[float]) -> float:
    """What to add so that ratios mean something: nothing for losses that stay at zero or
    above (a perfect fit reaches zero) and each start above it; otherwise (a likelihood-style
    loss that goes negative, or one that starts at zero) their range."""
    values = [v for c in curves for v in c]
    if not values or (min(values) >= 0 and all(c[0] > 0 for c in curves if c)):
        return 0.0
    span = max(values) - min(values)
    return -min(values) + (span if span > 0 else 1.0)
