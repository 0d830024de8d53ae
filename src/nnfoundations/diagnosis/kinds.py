"""The diagnosis as data: verdicts, findings and reasons are kinds with figures, rendered to
words only at the edge (:func:`render`)."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

Figure = float | int | str | None


class Verdict(StrEnum):
    """What a run's curves say (a string: ``Verdict.GOOD_FIT == "good_fit"``)."""

    GOOD_FIT = "good_fit"
    OVERFITTING = "overfitting"
    UNDERFITTING = "underfitting"
    NOT_CONVERGED = "not_converged"
    DIVERGED = "diverged"
    UNSTABLE = "unstable"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"


class FindingKind(StrEnum):
    """A named symptom behind a verdict."""

    DYING_RELU = "dying_relu"
    VANISHING_GRADIENTS = "vanishing_gradients"
    EXPLODING_GRADIENTS = "exploding_gradients"
    LR_TOO_HIGH = "lr_too_high"
    LR_TOO_LOW = "lr_too_low"
    UNSCALED_INPUTS = "unscaled_inputs"


class Evidence(StrEnum):
    """What a reason is about; each groups the features of one aspect of the curves."""

    LENGTH = "length"
    NON_FINITE = "non_finite"
    LEVEL = "level"
    RISE = "rise"
    SLOPE = "slope"
    NOISE = "noise"
    SPIKES = "spikes"
    GAP = "gap"
    TRAINING = "training"
    ACCURACY = "accuracy"
    CHANCE = "chance"
    MISSING = "missing"  # insufficient evidence: a series the log lacks
    TOO_SHORT = "too_short"  # insufficient evidence: too few points
    SPLIT = "split"  # insufficient evidence: no verdict is likely enough
    NOT_A_LOSS = "not_a_loss"  # insufficient evidence: the series is not a fitted loss


@dataclass(frozen=True)
class Reason:
    """One piece of evidence and its figures (in the log's own units and epochs).

    Attributes:
        kind: what it is about.
        figures: the numbers (and names) it rests on.
        weight: how much it moved the verdict (the fitted model's share of its score; 0 for
            reasons that are not the model's).
    """

    kind: Evidence
    figures: dict[str, Figure] = field(default_factory=dict)
    weight: float = 0.0

    def __str__(self) -> str:
        return render(self)


@dataclass(frozen=True)
class Finding:
    """A named symptom, its evidence and a fix."""

    kind: FindingKind
    evidence: str
    fix: str

    @property
    def name(self) -> str:
        """The kind's name (``"dying_relu"``)."""
        return self.kind.value


@dataclass
class Diagnosis:
    """A verdict on a run's curves, with the evidence that led to it.

    Attributes:
        verdict: a :class:`Verdict`.
        confidence: the calibrated probability that the verdict is right (for
            ``insufficient_evidence`` after a split, its best guess's probability; 1 where
            the log lacks what a verdict needs).
        best_epoch: the epoch of the lowest monitored loss (None if there is none).
        stop_epoch: the epoch to keep (None when no epoch is worth keeping).
        reasons: the evidence, most decisive first.
        findings: symptoms seen, each with its evidence and a fix.
        columns: where the series came from (format and column names).
        run: which run of the file ("" for the only one).
        probabilities: each verdict's calibrated probability, where the model was asked.
    """

    verdict: Verdict
    confidence: float
    best_epoch: int | float | None
    stop_epoch: int | float | None
    reasons: list[Reason] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    run: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        guess = next((r.figures["first"] for r in self.reasons if r.kind == Evidence.SPLIT),
                     None)
        how = f"best guess {str(guess).replace('_', ' ')}, {self.confidence:.0%}" if guess \
            else f"confidence {self.confidence:.2f}"
        lines = [f"verdict: {self.verdict.replace('_', ' ')} ({how})"]
        if self.best_epoch is not None:
            lines.append(f"best epoch: {_epoch(self.best_epoch)}")
        stop = "none (no epoch is worth keeping)" if self.stop_epoch is None else \
            f"epoch {_epoch(self.stop_epoch)}" + (" (and keep training)"
                                           if self.verdict == Verdict.NOT_CONVERGED else "")
        lines.append(f"keep: {stop}")
        lines += [f"- {render(r)}" for r in self.reasons]
        lines += [f"finding {f.name}: {f.evidence}; {f.fix}" for f in self.findings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``--json``: each reason with its kind, figures and words."""
        data = asdict(self)
        data["reasons"] = [{"kind": r.kind.value, "figures": r.figures,
                            "weight": round(r.weight, 4), "text": render(r)}
                           for r in self.reasons]
        data["findings"] = [{"name": f.name, "evidence": f.evidence, "fix": f.fix}
                            for f in self.findings]
        return data

    def _repr_html_(self) -> str:
        """A short summary for Jupyter: the verdict, the epoch to keep, the reasons."""
        lines = [html.escape(line) for line in str(self).splitlines()]
        head, rest = lines[0], lines[1:]
        items = "".join(f"<li>{line.lstrip('- ')}</li>" for line in rest)
        return f"<p><b>{head}</b></p><ul>{items}</ul>"


def render(reason: Reason) -> str:
    """A reason in plain words, with its figures."""
    f = reason.figures
    return _RENDER[reason.kind](f)


def _g(x: Figure) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _level(f: dict[str, Figure]) -> str:
    return f"the {f['curve']} went from {_g(f['start'])} to {_g(f['end'])} at the end " \
        f"({_pct(f['ratio'])} of its start)"


def _rise(f: dict[str, Figure]) -> str:
    since, change = f["since"], f["change"]
    if not isinstance(since, int) or since < 3 or not isinstance(change, float) or change <= 0:
        return f"the {f['curve']} is lowest at its last epochs ({_g(f['low'])}, epoch " \
            f"{f['low_epoch']}): it has not turned up"
    return f"the {f['curve']} was lowest at epoch {f['low_epoch']} ({_g(f['low'])}) and ends " \
        f"at {_g(f['end'])} {f['since']} epochs later ({_signed(f['change'])})"


def _slope(f: dict[str, Figure]) -> str:
    change = f["change"]
    assert isinstance(change, float)
    how = "still falling" if change < 0 else "rising" if change > 0 else "flat"
    return f"over its last {f['points']} epochs the {f['curve']} is {how}: from " \
        f"{_g(f['from'])} to {_g(f['to'])} ({_signed(change)})"


def _noise(f: dict[str, Figure]) -> str:
    return f"the {f['curve']} swings by about {_g(f['noise'])} from epoch to epoch, against a " \
        f"trend that moves {_g(f['signal'])}"


def _spikes(f: dict[str, Figure]) -> str:
    if not f["count"]:
        return f"the {f['curve']} has no spikes"
    return f"the {f['curve']} has {f['count']} spike(s), at epoch(s) {f['epochs']}"


def _gap(f: dict[str, Figure]) -> str:
    if f["train_end"] is None:
        return "the log has no training loss beside the validation loss"
    return f"the training loss ends at {_g(f['train_end'])}, {_pct(f['ratio'])} of the " \
        f"validation loss ({_g(f['val_end'])})"


def _training(f: dict[str, Figure]) -> str:
    if f["start"] is None:
        return "the log has no training loss to follow"
    return f"the training loss went from {_g(f['start'])} to {_g(f['low'])} (its lowest, " \
        f"epoch {f['low_epoch']}) and ends at {_g(f['end'])}"


def _accuracy(f: dict[str, Figure]) -> str:
    if f["end"] is None:
        return "the log has no validation accuracy"
    return f"the validation accuracy went from {_g(f['first'])} to {_g(f['best'])} at best " \
        f"and ends at {_g(f['end'])}"


def _chance(f: dict[str, Figure]) -> str:
    if f["classes"] is None:
        return "the number of classes is not known (pass --classes for chance level)"
    return f"the {f['curve']} ends at {_g(f['end'])} against chance level log({f['classes']})" \
        f" = {_g(f['chance'])}"


def _non_finite(f: dict[str, Figure]) -> str:
    if not f["count"]:
        return "every loss is finite"
    return f"{f['count']} loss value(s) are NaN or infinite, the first at epoch {f['first']}" + \
        (", and training never recovered" if f["tail"] else "")


def _epoch(epoch: float) -> str:
    """An epoch as a person reads it: a fractional one (an evaluation between epochs, as the
    log numbers it) to two decimals."""
    return str(epoch) if float(epoch).is_integer() else f"{epoch:.2f}"


def _pct(x: Figure) -> str:
    return f"{x:.0%}" if isinstance(x, float) else str(x)


def _signed(x: Figure) -> str:
    return f"{x:+.1%}" if isinstance(x, float) else str(x)


_RENDER = {
    Evidence.LENGTH: lambda f: f"the log has {f['points']} epochs",
    Evidence.NON_FINITE: _non_finite,
    Evidence.LEVEL: _level,
    Evidence.RISE: _rise,
    Evidence.SLOPE: _slope,
    Evidence.NOISE: _noise,
    Evidence.SPIKES: _spikes,
    Evidence.GAP: _gap,
    Evidence.TRAINING: _training,
    Evidence.ACCURACY: _accuracy,
    Evidence.CHANCE: _chance,
    Evidence.MISSING: lambda f: f"the log has no {f['series']}: {f['consequence']}",
    Evidence.NOT_A_LOSS: lambda f: f"{f['what']}, not a loss a model fits: it need not "
    "fall and level off as one does, so no verdict reads it",
    Evidence.TOO_SHORT: lambda f: f"only {f['points']} epoch(s): fewer than the "
    f"{f['needed']} needed to read a trend",
    Evidence.SPLIT: lambda f: f"no verdict is likely enough: {f['first']} "
    f"{_pct(f['p_first'])}, {f['second']} {_pct(f['p_second'])} (below {_pct(f['needed'])} "
    "it says it cannot tell)",
}
