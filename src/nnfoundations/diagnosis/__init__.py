"""Reading a run's curves into a verdict (the seed's 3.2), from our runs or any framework's
logs. Standard library only: no torch, numpy or matplotlib."""

from nnfoundations.diagnosis.curves import Curves
from nnfoundations.diagnosis.readers import Columns, read_runs
from nnfoundations.diagnosis.rules import VERDICTS, Diagnosis, Finding, diagnose, diagnose_file

__all__ = ["VERDICTS", "Columns", "Curves", "Diagnosis", "Finding", "diagnose",
           "diagnose_file", "read_runs"]
