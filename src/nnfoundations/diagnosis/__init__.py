"""Reading a run's curves into a verdict (the seed's 3.2). Needs no torch."""

from nnfoundations.diagnosis.curves import VERDICTS, Diagnosis, diagnose

__all__ = ["VERDICTS", "Diagnosis", "diagnose"]
