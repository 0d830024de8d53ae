"""The diagnosis while a run goes on: after each epoch (or evaluation) the history so far is
diagnosed, and what turned bad is said once, with its evidence and the epoch it started.
Framework-free: ``fit``'s hook (:class:`~nnfoundations.integrations.fit.Diagnose`) and any
framework's callback feed it the history they keep."""

from __future__ import annotations

from dataclasses import dataclass, field

from nnfoundations.diagnosis.curves import Curves
from nnfoundations.diagnosis.kinds import Diagnosis, FindingKind, Verdict, render
from nnfoundations.diagnosis.verdict import diagnose
from nnfoundations.history import History

#: The verdicts that call for action while training.
ALARMING = (Verdict.OVERFITTING, Verdict.DIVERGED, Verdict.UNSTABLE)
#: The findings that do too: a broken signal path. The others (a learning rate too high or
#: too low, unscaled inputs) are advice, which the end of the run gives; a learning rate
#: that is far too high shows as a diverged or unstable run, which alarms.
ALARMING_FINDINGS = (FindingKind.EXPLODING_GRADIENTS, FindingKind.VANISHING_GRADIENTS,
                     FindingKind.DYING_RELU)


@dataclass(frozen=True)
class Alarm:
    """Something that turned bad, said once.

    Attributes:
        kind: the verdict (overfitting, diverged, unstable) or the finding's name.
        epoch: the epoch it started: the best epoch for a turned validation loss, else the
            epoch it was first seen.
        evidence: the figures behind it, in plain words.
    """

    kind: str
    epoch: int | float
    evidence: str

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} since epoch {self.epoch}: {self.evidence}"


@dataclass
class Watch:
    """Diagnoses a run as it grows; :meth:`update` returns what it has not said before.

    Example:
        >>> h, watch = History(), Watch()
        >>> for e in range(1, 41):
        ...     h.append(epoch=e, train_loss=1 / e, val_loss=0.5 + (e - 10) ** 2 / 200,
        ...              val_acc=0.8, lr=0.1, seconds=0)
        ...     alarms = watch.update(h)
        >>> [a.kind for a in watch.said]
        ['overfitting']
    """

    said: list[Alarm] = field(default_factory=list)
    last: Diagnosis | None = None

    def update(self, run: History | Curves) -> list[Alarm]:
        """Diagnose ``run`` as it stands; the alarms it raises for the first time."""
        self.last = diagnosis = diagnose(run)
        if diagnosis.verdict == Verdict.INSUFFICIENT_EVIDENCE:
            return []  # too little to go on yet: the verdict's own fitted minimum
        epoch = len(run)
        new = []
        if diagnosis.verdict in ALARMING:
            start = diagnosis.best_epoch if diagnosis.verdict == Verdict.OVERFITTING and \
                diagnosis.best_epoch is not None else epoch
            why = "; ".join(render(r) for r in diagnosis.reasons[:2])
            new.append(Alarm(str(diagnosis.verdict), start, why))
        new += [Alarm(f.name, epoch, f"{f.evidence}; {f.fix}") for f in diagnosis.findings
                if f.kind in ALARMING_FINDINGS]
        known = {a.kind for a in self.said}
        fresh = [a for a in new if a.kind not in known]
        self.said += fresh
        return fresh
