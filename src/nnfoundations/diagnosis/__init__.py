"""Reading a run's curves into a verdict (the assignment's 3.2), from our runs or any
framework's logs. Standard library only when it runs: no torch, numpy or scikit-learn."""

from nnfoundations.diagnosis.curves import Curves
from nnfoundations.diagnosis.features import Features
from nnfoundations.diagnosis.kinds import (
    Diagnosis,
    Evidence,
    Finding,
    FindingKind,
    Reason,
    Verdict,
)
from nnfoundations.diagnosis.readers import Columns, read_runs
from nnfoundations.diagnosis.verdict import VERDICTS, diagnose, diagnose_file

__all__ = ["VERDICTS", "Columns", "Curves", "Diagnosis", "Evidence", "Features", "Finding",
           "FindingKind", "Reason", "Verdict", "diagnose", "diagnose_file", "read_runs"]
