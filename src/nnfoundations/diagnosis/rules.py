"""Reading a run's curves (the seed's 3.2): a verdict earned by evidence, with a confidence.

The curves are read robustly: a running median gives each curve's trend, and the spread of
the values around it (their median absolute deviation) is the noise that a change must
exceed to count. Losses are compared with a *yardstick*: chance level (``log K`` for
cross-entropy over K classes) when it is known, else the curve's own start; a loss that can
be zero or negative is shifted so that ratios still mean something. Each verdict needs its
own positive evidence, tried in this order:

1. **diverged**: a loss became non-finite and stayed so, the training loss blew up far
   above where it started, or it ends far above chance level.
2. **unstable**: noise, oscillation or spikes dominate the trend, training collapsed back
   to its starting level and stayed there, or a loss (the training loss alone will do)
   climbed back well above its minimum while the model fitted its training data no better.
3. **overfitting**: the validation loss rose well above its minimum, above the noise and for
   a while, as the training loss went on falling; or it stays high while the training loss
   is far below it; or, with the training loss far below it, it turned up at all (the gap
   widens).
4. **not_converged**: the monitored loss is still falling clearly at the end.
5. **underfitting**: the loss levelled off high (against chance, or barely below its start)
   with the training loss as high: the model does not fit even the training data.
6. **good_fit**: the loss fell far, levelled off and stayed there.

When none has its full evidence, the nearer of good fit and underfitting is given with a
confidence below one half, and the reasons say so. ``stop_epoch`` is the epoch to keep: the
lowest monitored loss (numbered as the log numbers its epochs).
"""

from __future__ import annotations

import html
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any

from nnfoundations import _checks
from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations.diagnosis.curves import Curves, finite
from nnfoundations.history import History, StopKind

if TYPE_CHECKING:
    from nnfoundations.diagnosis.readers import Columns

VERDICTS = ("good_fit", "overfitting", "underfitting", "not_converged", "diverged", "unstable")

#: Diverged when the training loss's trend ends this many times above where it started.
BLOW_UP = 1.5
#: Diverged when the loss ends this many times above chance level: worse than a uniform
#: guess, confidently wrong.
ABOVE_CHANCE = 1.5
#: Unstable when the noise around the trend exceeds this share of all the trend's movement.
NOISE_DOMINATES = 0.5
#: ... and this share of the loss's own level (a flat curve with tiny wiggles is not noise).
NOISE_LEVEL = 0.05
#: A spike: a value this many noise widths off its trend (and a quarter of the movement).
SPIKE_WIDTHS = 6.0
#: Overfitting needs the validation trend this far above its minimum, relative to it ...
OVERFIT_RISE = 0.10
#: ... this many noise widths above it, and for this many epochs at least.
RISE_WIDTHS = 3.0
OVERFIT_EPOCHS_PAST = 3
#: Where the training loss is under half the validation loss and this share of the
#: yardstick below it (the training set is being memorised), a validation trend risen this
#: far above its minimum (and the noise) is enough: the gap widens.
WIDE_GAP = 0.1
GAP_RISE = 0.03
#: Still falling when, at the pace of the last epochs, three times as many epochs again
#: would take this share off the loss (training on to 4x the epochs still pays) ...
STILL_FALLING = 0.25
#: (a fifth of it while the loss is still high) and those last epochs made this share of the
#: curve's own fall so far (a plateau learnt nearly everything early) ...
RECENT_SHARE_OF_GAIN = 0.10
#: ... unless the pace alone would take this share off the loss in as many epochs again
#: while the training loss is still close to it: both curves falling that fast together have
#: not levelled off, however much they fell before (a training loss far below instead says
#: the rest of the fall would be memorising).
FAST_FALL = 0.5
#: ... and only when what that pace would take off is at least this share of the yardstick:
#: a loss already near zero, however fast it still falls in relative terms, has little to gain.
MATERIAL_GAIN = 0.01
#: High when the final loss is above this fraction of the yardstick: a model that learnt its
#: task sits far below chance.
HIGH_LOSS = 0.3
#: Without a known chance level, the loss must end below this fraction of its start to have
#: learnt much, and above it to be high.
FELL_FAR = 0.5
#: Close when the training loss is within this share of the validation loss.
CLOSE_GAP = 0.25
#: A validation accuracy (or F1, Dice, ...) at least this high means the task is learnt,
#: whatever the loss's scale.
GOOD_SCORE = 0.9
#: What to do about overfitting that early stopping alone does not cure.
OVERFIT_FIX = "regularise (dropout, weight decay), get more data, or use a smaller model"


@dataclass
class Finding:
    """A named symptom (``dying_relu``, ``lr_too_high``, ...), its evidence and a fix."""

    name: str
    evidence: str
    fix: str


@dataclass
class Diagnosis:
    """A verdict on a run's curves, with the figures that led to it.

    Attributes:
        verdict: one of :data:`VERDICTS`.
        confidence: how strong the evidence is, in (0, 1].
        best_epoch: the epoch of the lowest monitored loss (None if there is none).
        stop_epoch: the epoch to keep (None when no epoch is worth keeping).
        reasons: sentences, each with its figures.
        findings: symptoms seen, each with its evidence and a fix.
        columns: where the series came from (format and column names).
        run: which run of the file ("" for the only one).
    """

    verdict: str
    confidence: float
    best_epoch: int | float | None
    stop_epoch: int | float | None
    reasons: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    run: str = ""

    def __str__(self) -> str:
        lines = [f"verdict: {self.verdict.replace('_', ' ')} (confidence {self.confidence:.2f})"]
        if self.best_epoch is not None:
            lines.append(f"best epoch: {self.best_epoch}")
        stop = "none (no epoch is worth keeping)" if self.stop_epoch is None else \
            f"epoch {self.stop_epoch}" + (" (and keep training)"
                                           if self.verdict == "not_converged" else "")
        lines.append(f"keep: {stop}")
        lines += [f"- {r}" for r in self.reasons]
        lines += [f"finding {f.name}: {f.evidence}; {f.fix}" for f in self.findings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``--json``."""
        return asdict(self)

    def _repr_html_(self) -> str:
        """A short summary for Jupyter: the verdict, the epoch to keep, the reasons."""
        lines = [html.escape(line) for line in str(self).splitlines()]
        head, rest = lines[0], lines[1:]
        items = "".join(f"<li>{line.lstrip('- ')}</li>" for line in rest)
        return f"<p><b>{head}</b></p><ul>{items}</ul>"


def diagnose(run: History | Curves | str | PathLike[str], *,
             classes: int | None = None) -> Diagnosis:
    """Diagnose a run from its train and validation loss curves.

    Args:
        run: a :class:`History` (from :func:`fit` or ``History.from_json``), the
            :class:`Curves` of any log, or the path of a log holding one run (any format
            :func:`~nnfoundations.diagnosis.readers.read_runs` reads).
        classes: the number of classes, when the run does not say: its chance level is
            ``log classes`` (cross-entropy).

    Returns:
        A :class:`Diagnosis`; see the module's docstring for the rules.

    Example:
        >>> h = History(settings={"n_outputs": 10})
        >>> for e, (t, v) in enumerate([(2.0, 2.1), (1.0, 1.2), (0.5, 0.8), (0.2, 0.9),
        ...                             (0.1, 1.1), (0.05, 1.3), (0.03, 1.4)], 1):
        ...     h.append(epoch=e, train_loss=t, val_loss=v, val_acc=None, lr=0.1, seconds=0)
        >>> d = diagnose(h); d.verdict, d.stop_epoch
        ('overfitting', 3)
    """
    from nnfoundations.diagnosis.findings import findings
    from nnfoundations.diagnosis.readers import read_runs

    if isinstance(run, str | PathLike):
        runs = read_runs(run)
        if len(runs) > 1:
            raise InvalidValueError(f"{run} holds {len(runs)} runs; diagnose each with "
                                    "diagnose_file (nnf diagnose), or pick one with --run")
        run = runs[0]
    if isinstance(run, History):
        run = Curves.from_history(run)
    if not isinstance(run, Curves):
        raise InvalidTypeError(f"diagnose needs a History, Curves or a log's path, got "
                               f"{type(run).__name__}")
    if classes is not None:
        run.classes = _checks.positive_int("classes", classes)
    if not len(run) and run.stop_kind != StopKind.NON_FINITE:
        raise InvalidValueError("the run has no epochs to diagnose")
    evidence = _Evidence(run)
    diagnosis = evidence.verdict()
    diagnosis.columns, diagnosis.run = dict(run.columns), run.name
    diagnosis.findings = findings(run, evidence.facts, diagnosis.verdict)
    return diagnosis


def diagnose_file(path: str | PathLike[str], *, run: int | None = None,
                  classes: int | None = None, columns: Columns | None = None) -> list[Diagnosis]:
    """Diagnose every run a log holds (or only run number ``run``, 1-based).

    Raises:
        InvalidValueError: the log cannot be read, or has no run ``run``.
    """
    from nnfoundations.diagnosis.readers import Columns, read_runs

    runs = read_runs(path, columns or Columns())
    if run is not None:
        if not 1 <= _checks.positive_int("run", run) <= len(runs):
            raise InvalidValueError(f"run {run} is not in {path}: it holds {len(runs)} "
                                    f"run{'s' if len(runs) > 1 else ''}")
        runs = [runs[run - 1]]
    return [diagnose(r, classes=classes) for r in runs]


def running_median(values: Sequence[float], window: int) -> list[float]:
    """Each value's median over a centred window (shrunk at the ends): a trend that a
    single spike does not move.

    Example:
        >>> running_median([1.0, 9.0, 1.0, 1.0, 1.0], 3)
        [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    half = window // 2
    out = []
    for k in range(len(values)):
        reach = min(half, k, len(values) - 1 - k)
        out.append(statistics.median(values[k - reach : k + reach + 1]) if reach else values[k])
    if len(values) > 2 and half:  # the ends: the median of the end and its two neighbours
        out[0] = statistics.median(values[:3])
        out[-1] = statistics.median(values[-3:])
    return out


def _window(n: int) -> int:
    return 1 if n < 5 else 3 if n < 16 else 5 if n < 48 else 2 * (n // 24) + 1


@dataclass
class _Series:
    """One curve, cleaned: its finite values, their positions, trend, noise and scale."""

    raw: list[float]
    at: list[int]  # positions in the run of each value
    trend: list[float] = field(init=False)
    noise: float = field(init=False)

    def __post_init__(self) -> None:
        self.trend = running_median(self.raw, _window(len(self.raw)))
        self.noise = _noise(self.raw)

    @property
    def signal(self) -> float:
        """How far the curve moves between its thirds (medians): its readable trend."""
        k = max(1, len(self.raw) // 3)
        parts = [statistics.median(p) for p in (self.raw[:k], self.raw[k:-k] or self.raw,
                                                self.raw[-k:])]
        return max(parts) - min(parts)

    @property
    def movement(self) -> float:
        return max(self.trend) - min(self.trend)

    @property
    def low(self) -> int:
        """Index of the trend's minimum (the first, when it is flat)."""
        return min(range(len(self.trend)), key=self.trend.__getitem__)

    @property
    def best(self) -> int:
        """Index of the lowest value itself: the epoch to keep."""
        return min(range(len(self.raw)), key=self.raw.__getitem__)

    def stays_above(self, low: int, margin: float) -> bool:
        """Whether the last three epochs' trend all stay ``margin`` above the trend at
        ``low``: a rise that persists, not one spike."""
        return all(x > self.trend[low] + margin for x in self.trend[-3:])


class _Evidence:
    """The figures of one run's curves, and the rules over them."""

    def __init__(self, run: Curves) -> None:
        self.run = run
        self.facts: dict[str, Any] = {}
        mon = run.val if run.has_val else run.train
        self.name = "validation loss" if run.has_val else "training loss"
        self.bad_tail, self.glitches = _non_finite(mon), _glitches(mon)
        keep = _finite_at(mon)
        self.shift = _shift(finite(run.train), finite(run.val))
        self.mon = _Series([v + self.shift for v in _at(mon, keep)], keep)
        both = sorted(set(keep) & set(_finite_at(run.train)))
        self.train = _Series([v + self.shift for v in _at(run.train, both)], both) \
            if run.has_val and both else self.mon
        self.chance = math.log(run.classes) + self.shift if run.classes else None
        self.chance_text = f"chance level log({run.classes}) = {math.log(run.classes):.3f}" \
            if run.classes else ""
        first = max(self.mon.trend[0], self.mon.raw[0]) if self.mon.raw else math.nan
        # the start, or chance level when the run starts there (or below): where learning starts
        self.yardstick = self.chance if self.chance and first <= 1.05 * self.chance else first
        # above zero even where shifting a loss of 1e16 rounds the start to 0
        self.yardstick = max(self.yardstick, sys.float_info.min)
        self.yardstick_text = self.chance_text if self.yardstick == self.chance else \
            f"its first epochs' level {first - self.shift:.4g}"
        self.quality = _score(run)
        level = statistics.median(self.mon.trend) if self.mon.raw else 0.0
        self.facts.update(noise=self.mon.noise, glitches=len(self.glitches),
                          noise_share=self.mon.noise / level if level > 0 else math.inf)

    # -- the verdict ------------------------------------------------------------------

    def verdict(self) -> Diagnosis:
        rules: tuple[Callable[[], Diagnosis | None], ...] = (
            self._diverged, self._overfitting, self._unstable, self._wide_gap,
            self._gap_widens, self._not_converged, self._underfitting, self._good_fit)
        for rule in rules:
            found = rule()
            if found is not None:
                return found
        return self._nearest()

    def _diagnosis(self, verdict: str, confidence: float, *reasons: str,
                   keep: bool = True) -> Diagnosis:
        best = self._label(self.mon.at[self.mon.best]) if self.mon.raw else None
        notes = [f"{len(self.glitches)} isolated non-finite value(s) (epochs "
                 f"{', '.join(str(self._label(k)) for k in self.glitches[:5])}) were left out"] \
            if self.glitches else []
        return Diagnosis(verdict, round(min(max(confidence, 0.05), 0.99), 2), best,
                         best if keep else None, [*reasons, *notes])

    def _label(self, position: int) -> int | float:
        return self.run.epoch_label(position)

    def _value(self, series: _Series, k: int) -> float:
        return series.trend[k] - self.shift

    # -- 1. diverged ----------------------------------------------------------------

    def _diverged(self) -> Diagnosis | None:
        if self.run.stop_kind == StopKind.NON_FINITE or self.bad_tail is not None \
                or not self.mon.raw:
            where = "" if self.bad_tail is None else f" from epoch {self._label(self.bad_tail)}"
            self.facts["blow_up"] = True
            return self._diagnosis(
                "diverged", 0.95, f"the loss became non-finite (NaN or inf){where} and training "
                "did not recover", "lower the learning rate (by 10x), or check the data for "
                "NaN/inf", keep=bool(self.mon.raw))
        t = self.train
        if len(t.raw) >= 2 and t.trend[-1] > BLOW_UP * t.trend[0] and \
                t.trend[-1] > 2 * min(t.trend):
            self.facts["blow_up"] = True
            return self._diagnosis(
                "diverged", 0.9, f"the training loss grew from {self._value(t, 0):.4g} to "
                f"{self._value(t, -1):.4g} (its trend), more than {BLOW_UP}x where it "
                "started: the steps overshoot", "lower the learning rate (by 10x)")
        if self.chance and self.mon.trend[-1] > ABOVE_CHANCE * self.chance:
            self.facts["blow_up"] = True
            return self._diagnosis(
                "diverged", 0.85, f"the {self.name} ends at {self._value(self.mon, -1):.4g}, "
                f"more than {ABOVE_CHANCE}x {self.chance_text}: worse than guessing, and it "
                "did not come back down", "lower the learning rate (by 10x), or check the "
                "labels", keep=False)
        return None

    # -- 2. unstable ----------------------------------------------------------------

    def _unstable(self) -> Diagnosis | None:
        m = self.mon
        if len(m.raw) < 6:
            return None
        level = statistics.median(m.trend)
        spikes = _spikes(m)
        self.facts["spikes"] = len(spikes)
        if m.noise > NOISE_DOMINATES * m.signal and m.noise > NOISE_LEVEL * level:
            self.facts["oscillation"] = True
            return self._diagnosis(
                "unstable", min(0.9, 0.5 + 0.2 * m.noise / (NOISE_DOMINATES * m.signal + 1e-12)),
                f"the {self.name} swings by {m.noise:.3g} from epoch to epoch (noise), more than "
                f"{NOISE_DOMINATES:.0%} of what its trend moves ({m.signal:.3g}): no trend can "
                "be read", "lower the learning rate, use a larger batch, or average more")
        if len(spikes) >= max(3, len(m.raw) // 5):
            self.facts["oscillation"] = True
            return self._diagnosis(
                "unstable", 0.7, f"{len(spikes)} spikes in the {self.name} (epochs "
                f"{', '.join(str(self._label(m.at[k])) for k in spikes[:6])}), each over "
                f"{SPIKE_WIDTHS:.0f} noise widths off its trend", "lower the learning rate or "
                "clip the gradients")
        return self._collapsed() or self._degrading()

    def _collapsed(self) -> Diagnosis | None:
        """At a high level at the end, after having been clearly elsewhere, and either dead
        flat there (still less than the curve moved from epoch to epoch before) or back at
        chance level after having learnt, with the training loss no lower: the network
        stopped responding. A loss stuck from the start, or one that descended smoothly to a
        high plateau, is underfitting."""
        m = self.mon
        late = m.raw[-max(3, len(m.raw) // 4):]
        level = statistics.fmean(late)
        earlier = m.raw[: len(m.raw) - len(late)]
        if len(m.raw) < 6 or not self._high() or not earlier or \
                max(abs(v - level) for v in earlier) < 0.2 * level or \
                (self.train is not m and self._fits_train(len(earlier))):
            return None  # a network whose training loss still falls has not stopped
        story = self._collapse(earlier, late, level)
        if story is None:
            return None
        self.facts["collapse"] = True
        return self._diagnosis("unstable", 0.75, f"{story}: training collapsed",
                               "lower the learning rate; look for dying ReLUs")

    def _collapse(self, earlier: list[float], late: list[float], level: float) -> str | None:
        """How the monitored loss collapsed to ``level`` over the ``late`` epochs, or None."""
        m = self.mon
        then = f"then went to {level - self.shift:.4g} and stayed there for the last " \
            f"{len(late)} epochs"

        def was(k: int) -> str:
            return f"the {self.name} was {earlier[k] - self.shift:.4g} at epoch " \
                f"{self._label(m.at[k])}, {then}"
        if max(late) - min(late) <= min(0.01 * level, _noise(earlier)):
            return was(max(range(len(earlier)), key=lambda i: abs(earlier[i] - level))) + \
                ", not moving by 1%"
        if self.chance is None or abs(level - self.chance) >= 0.02 * self.chance:
            return None
        k = min(range(len(earlier)), key=earlier.__getitem__)
        if earlier[k] < 0.9 * self.chance:
            return f"{was(k)}, at {self.chance_text}"
        best = self._learnt_at(m.at[len(earlier)])
        return None if best is None else f"the validation accuracy reached {best[1]:.3g} at " \
            f"epoch {self._label(best[0])}; the {self.name} {then}, at {self.chance_text}, " \
            "and the accuracy is back at chance"

    def _learnt_at(self, position: int) -> tuple[int, float] | None:
        """Where the validation accuracy before ``position`` was highest and what it was, if
        that is twice chance (1 / classes) while from there on it is at chance: the model had
        learnt, then lost it."""
        acc = _fractions(self.run.acc)
        after = [a for a in acc[position:] if a is not None]
        known = [k for k, a in enumerate(acc[:position]) if a is not None]
        if not (known and after and self.run.classes):
            return None
        k = max(known, key=lambda i: acc[i] or 0.0)
        chance = 1 / self.run.classes
        best = acc[k] or 0.0
        return (k, best) if best >= 2 * chance and statistics.fmean(after) < 1.5 * chance \
            else None

    def _degrading(self) -> Diagnosis | None:
        """A loss rose well above its minimum, persistently, and the model does not fit the
        training data better meanwhile: not overfitting, the training itself got worse. The
        training loss alone can show it where the validation loss is too noisy to; a rise of
        a memorised training loss near zero must also be 2% of its fall to count."""
        m, t = self.mon, self.train
        rose = _rose(m)
        if rose is not None and (t is m or not self._fits_train(m.low)):
            return self._degraded(m, self.name, rose)
        rose = _rose(t, 0.02 * (self.yardstick - t.trend[t.low])) if t is not m else None
        return self._degraded(t, "training loss", rose) if rose is not None else None

    def _degraded(self, s: _Series, name: str, needed: float) -> Diagnosis:
        self.facts["oscillation"] = True
        return self._diagnosis(
            "unstable", 0.65, f"the {name} rose from {self._value(s, s.low):.4g} (its trend at "
            f"epoch {self._label(s.at[s.low])}) to {self._value(s, -1):.4g}, above the "
            f"{needed:.3g} that counts, while the model fitted the training data no better: "
            "training degrades", "lower the learning rate")

    # -- 3. overfitting -------------------------------------------------------------

    def _overfitting(self) -> Diagnosis | None:
        if not self.run.has_val or self.train is self.mon:
            return None
        v, t, low = self.mon, self.train, self.mon.low
        past = len(v.raw) - 1 - low
        end = statistics.fmean(v.raw[-3:])
        rise = end - v.trend[low]
        needed = max(OVERFIT_RISE * v.trend[low], RISE_WIDTHS * v.noise,
                     0.02 * (self.yardstick - v.trend[low]))
        train_fell = self._fits_train(low)
        persistent = v.stays_above(low, needed / 2)
        if rise > needed and past >= max(OVERFIT_EPOCHS_PAST, len(v.raw) // 10) and \
                train_fell and persistent:
            strength = min(rise / needed, 4.0)
            best = v.best
            return self._diagnosis(
                "overfitting", 0.55 + 0.1 * strength,
                f"the validation loss was lowest at epoch {self._label(v.at[best])} "
                f"({v.raw[best] - self.shift:.4g}); its trend then rose from "
                f"{self._value(v, low):.4g} to {end - self.shift:.4g} (mean of the last 3 "
                f"epochs) over {past} epochs: +{rise:.3g}, above the {needed:.3g} that counts "
                f"(max of {OVERFIT_RISE:.0%}, {RISE_WIDTHS:.0f} noise widths)",
                f"meanwhile the training loss kept falling, to {self._value(t, -1):.4g}",
                f"keep epoch {self._label(v.at[best])} (early stopping with restore_best does "
                "it), or regularise: dropout, weight decay, more data, a smaller model")
        return None

    def _fits_train(self, low: int) -> bool:
        """Whether the model fits the training data better and better after position
        ``low``: the training loss's trend fell by more than three noise widths and 2% of its
        level, or it sits far below the validation loss (the training set is memorised)."""
        t = self.train
        at = t.trend[min(low, len(t.trend) - 1)]
        return at - t.trend[-1] > max(3 * t.noise, 0.02 * at) or \
            t.trend[-1] < 0.5 * self.mon.trend[-1]

    def _memorising(self) -> bool:
        """Whether the training loss ends under half the validation loss, which has stopped
        falling: the model fits its training set better than the task."""
        return self.run.has_val and self.train is not self.mon and \
            self.train.trend[-1] < 0.5 * self.mon.trend[-1] and not self._still_falling(self.mon)

    def _wide_gap(self) -> Diagnosis | None:
        v, t = self.mon, self.train
        if not (self._high() and self._memorising()):
            return None
        return self._diagnosis(
            "overfitting", 0.6, f"the validation loss levelled off at {self._value(v, -1):.4g}, "
            f"high against {self.yardstick_text}, while the training loss is down to "
            f"{self._value(t, -1):.4g}, under half of it: the model learns the training set, "
            "not the task", OVERFIT_FIX)

    def _gap_widens(self) -> Diagnosis | None:
        v, t, low = self.mon, self.train, self.mon.low
        if not self._memorising() or v.trend[-1] - t.trend[-1] <= WIDE_GAP * self.yardstick:
            return None
        needed = _rose(v, share=GAP_RISE, past=max(OVERFIT_EPOCHS_PAST, len(v.raw) // 10))
        if needed is None:
            return None
        rise = v.trend[-1] - v.trend[low]
        return self._diagnosis(
            "overfitting", 0.55, f"the validation loss turned up: its trend rose from "
            f"{self._value(v, low):.4g} (epoch {self._label(v.at[low])}) to "
            f"{self._value(v, -1):.4g}, +{rise:.3g}, above the {needed:.3g} that counts "
            f"({GAP_RISE:.0%}, {RISE_WIDTHS:.0f} noise widths)", f"meanwhile the training loss "
            f"is down to {self._value(t, -1):.4g}, under half of it and more than "
            f"{WIDE_GAP:.0%} of {self.yardstick_text} below it: the gap widens as the model "
            f"memorises the training set; keep epoch {self._label(v.at[v.best])}", OVERFIT_FIX)

    # -- 4. not converged -----------------------------------------------------------

    def _still_falling(self, s: _Series) -> float | None:
        """The per-epoch fall of the trend over the last epochs, if it is clearly falling."""
        n = len(s.trend)
        k = min(max(3, n // 5), n - 1)
        if k < 1:
            return None
        start, end = s.trend[-k - 1], s.trend[-1]
        rate = (start - end) / start / k if start > 0 else 0.0
        clear = start - end > 2 * min(s.noise, _noise(s.raw[-max(6, n // 3):])) and (
            start - end > RECENT_SHARE_OF_GAIN * (s.trend[0] - end)
            or (rate * n > FAST_FALL and self._close()))
        near_end = n - 1 - s.low <= max(2, k // 2)
        material = min(rate * 3 * n, 1.0) * end > MATERIAL_GAIN * self.yardstick
        # a loss still high that falls clearly has not levelled off even when it falls slowly
        enough = STILL_FALLING / 5 if self._high() else STILL_FALLING
        return rate if rate * 3 * n > enough and clear and near_end and material else None

    def _not_converged(self) -> Diagnosis | None:
        rate = self._still_falling(self.mon)
        if rate is None:
            return None
        k = min(max(3, len(self.mon.trend) // 5), len(self.mon.trend) - 1)
        self.facts["fall_rate"] = rate
        return self._diagnosis(
            "not_converged", min(0.95, 0.5 + 0.3 * rate * 3 * len(self.mon.trend)),
            f"the {self.name} is still falling: {rate:.1%} per epoch over the last {k} epochs "
            f"(its trend from {self._value(self.mon, -k - 1):.4g} to "
            f"{self._value(self.mon, -1):.4g}): at that pace {3 * len(self.mon.trend)} more "
            f"epochs would take {min(rate * 3 * len(self.mon.trend), 1):.0%} off it",
            "train for more epochs (or raise the learning rate)")

    # -- 5. underfitting and 6. good fit ---------------------------------------------

    def _high(self) -> bool:
        final = self.mon.trend[-1]
        if self.chance:
            return final > HIGH_LOSS * self.chance
        return final > FELL_FAR * self.yardstick and not (self.quality or 0.0) >= GOOD_SCORE

    def _close(self) -> bool:
        return self.train.trend[-1] >= (1 - CLOSE_GAP) * self.mon.trend[-1]

    def _underfitting(self) -> Diagnosis | None:
        if not (self._high() and self._close()):
            return None
        m = self.mon
        k = min(max(3, len(m.trend) // 5), len(m.trend) - 1)
        fell = m.trend[0] - m.trend[-1]
        share = (m.trend[-k - 1] - m.trend[-1]) / fell if fell > 0 and k >= 1 else 0.0
        recent = f"; its last {k} epochs brought {share:.0%} of its fall" if share > 0 else ""
        return self._diagnosis(
            "underfitting", 0.8 if self.chance else 0.55 if self.quality is not None else 0.45,
            f"the {self.name} levelled off at {self._value(m, -1):.4g}, "
            f"{m.trend[-1] / self.yardstick:.0%} of {self.yardstick_text}: high{recent}",
            f"the training loss is as high ({self._value(self.train, -1):.4g}): even the "
            "training data is not fitted", "use a larger model (wider or deeper layers), less "
            "regularisation, or a better learning rate")

    def _good_fit(self) -> Diagnosis | None:
        v, low = self.mon, self.mon.low
        if self._high() or self.run.has_val and v.trend[-1] - v.trend[low] > \
                max(OVERFIT_RISE * v.trend[low], RISE_WIDTHS * v.noise):
            return None
        ratio = v.trend[-1] / self.yardstick
        best = v.best
        return self._diagnosis(
            "good_fit", min(0.95, 0.6 + 0.3 * (1 - ratio / HIGH_LOSS)) if self.chance else 0.6,
            f"the {self.name} fell to {v.raw[best] - self.shift:.4g} (epoch "
            f"{self._label(v.at[best])}) and levelled off: its trend ends at "
            f"{self._value(v, -1):.4g}, {ratio:.0%} of {self.yardstick_text}",
            "the validation loss stayed near its minimum" if self.run.has_val else
            "without validation data overfitting cannot be seen: pass val")

    def _nearest(self) -> Diagnosis:
        ratio = self.mon.trend[-1] / self.yardstick
        verdict = "underfitting" if self._high() else "good_fit"
        return self._diagnosis(
            verdict, 0.35, f"weak evidence: the {self.name} ends at {ratio:.0%} of "
            f"{self.yardstick_text}, and neither a good fit nor underfitting is clear (the "
            "training and validation losses differ without a rise)")


def _rose(s: _Series, floor: float = 0.0, share: float = OVERFIT_RISE,
          past: int = OVERFIT_EPOCHS_PAST) -> float | None:
    """What a rise of the trend above its minimum needs to count (the largest of ``share``
    of the minimum, ``RISE_WIDTHS`` noise widths and ``floor``), if the trend ends above
    that, stayed above half of it over its last three epochs and the minimum is ``past``
    epochs back or more; else None."""
    low = s.low
    needed = max(share * s.trend[low], RISE_WIDTHS * s.noise, floor)
    if len(s.raw) - 1 - low < past or s.trend[-1] - s.trend[low] <= needed or \
            not s.stays_above(low, needed / 2):
        return None
    return needed


def _noise(values: Sequence[float]) -> float:
    """The epoch-to-epoch noise, as one value's standard deviation: the robust spread (MAD)
    of the second differences, which a steady slope or a gentle bend leaves near zero
    (white noise gives them six times its variance)."""
    second = [a - 2 * b + c for a, b, c in zip(values, values[1:], values[2:], strict=False)]
    if len(second) < 2:
        return 0.0
    centre = statistics.median(second)
    return 1.4826 * statistics.median(abs(d - centre) for d in second) / math.sqrt(6)


def _spikes(m: _Series) -> list[int]:
    """Isolated values far off the trend (its neighbours are not), after the first epochs,
    where learning is fastest: a spike, not a change of level."""
    far = [abs(v - t) > SPIKE_WIDTHS * max(m.noise, 1e-12) and
           abs(v - t) > 0.25 * max(m.movement, 1e-12) for v, t in zip(m.raw, m.trend,
                                                                       strict=True)]
    return [k for k in range(2, len(far)) if far[k] and not far[k - 1]
            and not (k + 1 < len(far) and far[k + 1])]


def _score(run: Curves) -> float | None:
    """The last validation accuracy (or F1, Dice ...) as a fraction, when the log has one
    that reads as one: values in [0, 1], or percentages."""
    values = [a for a in _fractions(run.acc) if a is not None]
    return statistics.median(values[-3:]) if values else None


def _fractions(acc: Sequence[float | None]) -> list[float | None]:
    """The accuracies as fractions (non-finite ones as None), when they read as fractions
    or percentages; else an empty list."""
    values = [a if a is not None and math.isfinite(a) else None for a in acc]
    known = [a for a in values if a is not None]
    if not known or min(known) < 0 or max(known) > 100:
        return []
    return values if max(known) <= 1 else [None if a is None else a / 100 for a in values]


def _finite_at(values: Sequence[float | None]) -> list[int]:
    return [k for k, v in enumerate(values) if v is not None and math.isfinite(v)]


def _at(values: Sequence[float | None], positions: list[int]) -> list[float]:
    return [v for v in (values[k] for k in positions) if v is not None]


def _non_finite(values: Sequence[float | None]) -> int | None:
    """Position of the first non-finite value after which no finite one comes."""
    tail = None
    for k, v in enumerate(values):
        if v is None:
            continue
        if math.isfinite(v):
            tail = None
        elif tail is None:
            tail = k
    return tail


def _glitches(values: Sequence[float | None]) -> list[int]:
    """Positions of non-finite values that finite ones follow (training went on)."""
    tail = _non_finite(values)
    return [k for k, v in enumerate(values) if v is not None and not math.isfinite(v)
            and (tail is None or k < tail)]


def _shift(*curves: list[float]) -> float:
    """What to add so that ratios mean something: nothing for losses that stay at zero or
    above (a perfect fit reaches zero) and each start above it; otherwise (a likelihood-style
    loss that goes negative, or one that starts at zero) their range."""
    values = [v for c in curves for v in c]
    if not values or (min(values) >= 0 and all(c[0] > 0 for c in curves if c)):
        return 0.0
    span = max(values) - min(values)
    return -min(values) + (span if span > 0 else 1.0)
