"""Reading a run's curves into a verdict (the assignment's 3.2), fitted rather than written.

The verdict comes from a tree ensemble (:mod:`~nnfoundations.diagnosis.model`) fitted to
thousands of generated runs whose labels come from what their logs do not show: a hidden
test set, the same run trained on to 4x its epochs, and a reference model on the same data
(``benchmarks/oracle.py`` defines each verdict). Its confidence is calibrated: of the runs
it gives 0.9, about nine in ten are right on the corpus's held-out parts. Where the evidence
is too thin it says so instead of guessing (``insufficient_evidence``): no validation loss,
fewer points than the calibrate part showed can be read, or no verdict likely enough. The
reasons are the features that moved the verdict most, with their figures.

Two verdicts stand by definition rather than by fit: a run whose monitored loss has no
finite value at all diverged; a run without a validation loss cannot show overfitting,
so the diagnosis does not pretend to judge it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from os import PathLike
from typing import TYPE_CHECKING

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.diagnosis.curves import Curves
from nnfoundations.diagnosis.features import (
    SPIKE_WIDTHS,
    Reading,
    chance_classes,
    read,
    usable,
)
from nnfoundations.diagnosis.findings import findings
from nnfoundations.diagnosis.kinds import Diagnosis, Evidence, Reason, Verdict
from nnfoundations.diagnosis.model import Model, Prediction, shipped
from nnfoundations.history import History, StopKind

if TYPE_CHECKING:
    from nnfoundations.diagnosis.readers import Columns

VERDICTS = tuple(v.value for v in Verdict)
#: The reasons shown: the evidence that moved the verdict most, at most this many.
MAX_REASONS = 3
#: Which aspect of the curves each feature is about.
EVIDENCE = {
    Evidence.LENGTH: ("log_points",),
    Evidence.NON_FINITE: ("nonfinite_share", "nonfinite_tail"),
    Evidence.LEVEL: ("end", "low", "best", "peak", "log_end", "log_start"),
    Evidence.RISE: ("since_low", "since_low_points", "rise", "rise_noise", "rise_low"),
    Evidence.SLOPE: ("slope_third", "slope_tenth", "slope_noise", "fall_last_third",
                     "fall_third_yard", "ahead", "ahead_yard"),
    Evidence.NOISE: ("noise_level", "noise_signal"),
    Evidence.SPIKES: ("spikes",),
    Evidence.GAP: ("has_train", "train_end", "train_over_val", "gap_change",
                   "train_low_over_val"),
    Evidence.TRAINING: ("train_slope", "train_climb", "train_growth", "train_ahead",
                        "train_log_end", "train_slope_noise", "train_fall_last_third"),
    Evidence.ACCURACY: ("has_acc", "acc_end", "acc_best", "acc_first", "acc_drop",
                        "acc_gain_third", "acc_gain"),
    Evidence.CHANCE: ("chance_known", "end_over_chance", "acc_over_chance"),
}


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
        A :class:`Diagnosis`; see the module's docstring.

    Example:
        >>> h = History(settings={"n_outputs": 10})
        >>> for e, (t, v) in enumerate([(2.0, 2.1), (1.0, 1.2), (0.5, 0.8), (0.2, 0.9),
        ...                             (0.1, 1.1), (0.05, 1.3), (0.03, 1.4), (0.02, 1.5),
        ...                             (0.015, 1.6), (0.01, 1.7)], 1):
        ...     h.append(epoch=e, train_loss=t, val_loss=v, val_acc=None, lr=0.1, seconds=0)
        >>> d = diagnose(h); d.verdict, d.stop_epoch
        (<Verdict.OVERFITTING: 'overfitting'>, 3)
    """
    from nnfoundations.diagnosis.readers import read_run

    run = read_run(run)
    if classes is not None:
        run.classes = _checks.positive_int("classes", classes)
    if not len(run) and run.stop_kind != StopKind.NON_FINITE:
        raise InvalidValueError("the run has no epochs to diagnose")
    reading = read(run)
    diagnosis = _verdict(run, reading)
    diagnosis.columns, diagnosis.run = dict(run.columns), run.name
    diagnosis.findings = findings(run, reading, diagnosis.verdict)
    return diagnosis


def diagnose_file(path: str | PathLike[str], *, run: int | None = None,
                  classes: int | None = None, columns: Columns | None = None) -> list[Diagnosis]:
    """Diagnose every run a log holds (or only run number ``run``, 1-based).

    Raises:
        InvalidValueError: the log cannot be read, or has no run ``run``.
    """
    from nnfoundations.diagnosis.readers import Columns, read_run, read_runs

    if run is not None:
        return [diagnose(read_run(path, run=run, columns=columns or Columns()),
                         classes=classes)]
    return [diagnose(r, classes=classes) for r in read_runs(path, columns or Columns())]


def _verdict(run: Curves, reading: Reading | None) -> Diagnosis:
    """The verdict: by definition where the curves leave no choice, else the model's."""
    if reading is None:  # no finite monitored loss at all
        bad = Reason(Evidence.NON_FINITE, {"count": len(run), "first": run.epoch_label(0)
                                           if len(run) else None, "tail": True})
        return Diagnosis(Verdict.DIVERGED, 0.99, None, None, [bad])
    best = run.epoch_label(reading.best)
    model = shipped()
    if not run.has_val:
        return Diagnosis(Verdict.INSUFFICIENT_EVIDENCE, 1.0, best, best, [Reason(
            Evidence.MISSING, {"series": "validation loss", "consequence": "overfitting and "
                               "the epoch to keep cannot be seen; pass validation data"})])
    if run.not_a_loss:
        return Diagnosis(Verdict.INSUFFICIENT_EVIDENCE, 1.0, best, best, [Reason(
            Evidence.NOT_A_LOSS, {"what": run.not_a_loss})])
    if len(reading.monitored) < model.min_points:
        return Diagnosis(Verdict.INSUFFICIENT_EVIDENCE, 1.0, best, best, [Reason(
            Evidence.TOO_SHORT, {"points": len(reading.monitored),
                                 "needed": model.min_points})])
    definite = _definite(run, reading, best)
    if definite is not None:
        return definite
    prediction = model.predict(reading.features)
    if _learnt(run, reading):  # a run that learnt is never "diverged": the next verdict
        probs = {k: v for k, v in prediction.probabilities.items() if k != Verdict.DIVERGED}
        total = sum(probs.values())
        prediction = Prediction({k: v / total for k, v in probs.items()},
                                prediction.contributions)
    return _answer(run, reading, prediction, best, model)


def _definite(run: Curves, r: Reading, best: int | float) -> Diagnosis | None:
    """Diverged by the oracle's own definition, with no model asked: the loss ended on
    non-finite values (training never recovered), or it ends far above chance level (1.5x
    ``log K``) with the training loss above chance and the accuracy still at chance (under
    1.5/K): worse than guessing, and not learning."""
    f = r.features
    if f.nonfinite_tail:
        return Diagnosis(Verdict.DIVERGED, 0.99, best, best,
                         [Reason(Evidence.NON_FINITE, _non_finite(run, r, ""))])
    classes, _ = chance_classes(run.classes, r.acc)
    if not (classes and r.acc):
        return None
    chance = math.log(classes)
    train_high = r.train is None or r.value(r.train.end) > chance
    m = r.monitored
    if r.value(m.end) > 1.5 * chance and train_high and \
            statistics.median(r.acc[-3:]) < 1.5 / classes:
        curve = "validation loss" if run.has_val else "training loss"
        return Diagnosis(Verdict.DIVERGED, 0.99, best, None, [
            Reason(Evidence.CHANCE, {**_chance(run, r, curve), "classes": classes,
                                     "chance": chance}),
            Reason(Evidence.ACCURACY, _accuracy(run, r, curve))])
    return None


def _learnt(run: Curves, r: Reading) -> bool:
    """Whether the accuracy ends at twice chance or more while the training loss fell: the
    model learnt something, so whatever happened, it did not diverge."""
    classes, _ = chance_classes(run.classes, r.acc)
    if not classes or not r.acc or r.train is None:
        return False
    return statistics.median(r.acc[-3:]) >= 2 / classes and r.train.end < r.train.raw[0]


def _answer(run: Curves, reading: Reading, prediction: Prediction, best: int | float,
            model: Model) -> Diagnosis:
    """The most probable verdict with its calibrated probability, or insufficient evidence
    where that is under the verdict's threshold."""
    probs = prediction.probabilities
    ranked = sorted(probs, key=probs.__getitem__, reverse=True)
    verdict, confidence = Verdict(ranked[0]), probs[ranked[0]]
    needed = model.abstain_below[verdict]
    reasons = _reasons(run, reading, prediction.contributions[verdict])
    rounded = {k: round(v, 4) for k, v in probs.items()}
    if confidence < needed:
        split = Reason(Evidence.SPLIT, {"first": ranked[0], "p_first": confidence,
                                        "second": ranked[1], "p_second": probs[ranked[1]],
                                        "needed": needed})
        return Diagnosis(Verdict.INSUFFICIENT_EVIDENCE, round(confidence, 2), best, best,
                         [split, *reasons], probabilities=rounded)
    keep = None if verdict == Verdict.DIVERGED and reading.features.nonfinite_tail else best
    return Diagnosis(verdict, round(confidence, 2), best, keep, reasons, probabilities=rounded)


def _reasons(run: Curves, reading: Reading, shares: dict[str, float]) -> list[Reason]:
    """The evidence that raised the verdict's score most, each with its figures."""
    weight: dict[Evidence, float] = defaultdict(float)
    for kind, names in EVIDENCE.items():
        weight[kind] = sum(shares.get(name, 0.0) for name in names)
    top = sorted((k for k in weight if weight[k] > 0), key=weight.__getitem__, reverse=True)
    return [Reason(k, _figures(k, run, reading), round(weight[k], 4)) for k in top[:MAX_REASONS]]


Figures = dict[str, float | int | str | None]


def _figures(kind: Evidence, run: Curves, r: Reading) -> Figures:
    """The figures a reason of ``kind`` shows, in the log's own units and epochs."""
    return _FIGURES[kind](run, r, "validation loss" if run.has_val else "training loss")


def _length(run: Curves, r: Reading, curve: str) -> Figures:
    return {"points": len(r.monitored)}


def _non_finite(run: Curves, r: Reading, curve: str) -> Figures:
    bad = [k for k, v in enumerate(run.val if run.has_val else run.train)
           if v is not None and not usable(v)]
    return {"count": len(bad), "first": run.epoch_label(bad[0]) if bad else None,
            "tail": bool(r.features.nonfinite_tail)}


def _level(run: Curves, r: Reading, curve: str) -> Figures:
    m = r.monitored
    return {"curve": curve, "start": r.value(r.yardstick), "end": r.value(m.end),
            "ratio": m.end / r.yardstick}


def _rise(run: Curves, r: Reading, curve: str) -> Figures:
    m, best = r.monitored, r.monitored.best  # the best epoch itself, as the report names it
    return {"curve": curve, "low": r.value(m.raw[best]), "low_epoch": run.epoch_label(m.at[best]),
            "end": r.value(m.end), "since": len(m) - 1 - best,
            "change": (m.end - m.raw[best]) / max(abs(m.raw[best]), 1e-300)}


def _slope(run: Curves, r: Reading, curve: str) -> Figures:
    third = r.monitored.tail(1 / 3)
    return {"curve": curve, "points": len(third), "from": r.value(third[0]),
            "to": r.value(third[-1]), "change": (third[-1] - third[0]) / max(abs(third[0]),
                                                                            1e-300)}


def _noise(run: Curves, r: Reading, curve: str) -> Figures:
    return {"curve": curve, "noise": r.monitored.noise, "signal": r.monitored.signal}


def _spikes(run: Curves, r: Reading, curve: str) -> Figures:
    spikes = r.monitored.spikes(SPIKE_WIDTHS)
    return {"curve": curve, "count": len(spikes),
            "epochs": ", ".join(str(run.epoch_label(r.monitored.at[k])) for k in spikes[:6])}


def _gap(run: Curves, r: Reading, curve: str) -> Figures:
    t, m = r.train, r.monitored
    return {"train_end": r.value(t.end) if t else None, "val_end": r.value(m.end),
            "ratio": t.end / m.end if t and m.end else None}


def _training(run: Curves, r: Reading, curve: str) -> Figures:
    t = r.train
    if t is None:
        return {"start": None}
    return {"start": r.value(t.raw[0]), "low": r.value(t.trend[t.low]),
            "low_epoch": run.epoch_label(t.at[t.low]), "end": r.value(t.end)}


def _accuracy(run: Curves, r: Reading, curve: str) -> Figures:
    return {"first": r.acc[0], "best": max(r.acc), "end": r.acc[-1]} if r.acc else {"end": None}


def _chance(run: Curves, r: Reading, curve: str) -> Figures:
    chance = math.log(run.classes) if run.classes and run.classes > 1 else None
    return {"curve": curve, "classes": run.classes if chance else None, "chance": chance,
            "end": r.value(r.monitored.end)}


_FIGURES = {Evidence.LENGTH: _length, Evidence.NON_FINITE: _non_finite, Evidence.LEVEL: _level,
            Evidence.RISE: _rise, Evidence.SLOPE: _slope, Evidence.NOISE: _noise,
            Evidence.SPIKES: _spikes, Evidence.GAP: _gap, Evidence.TRAINING: _training,
            Evidence.ACCURACY: _accuracy, Evidence.CHANCE: _chance}
