"""nnfoundations: the foundations of neural networks as software you can run and inspect.

Section 1 (the chain rule): :class:`Value`, :func:`explain`. Section 2 (the building blocks):
:func:`build_model`, :func:`train_one_step`, :func:`evaluate`. Section 3 (the loop):
:func:`fit`, :class:`History`, :func:`diagnose`, :func:`plot_history`, :func:`dead_units`,
:func:`updates_per_epoch`.
"""

from nnfoundations.diagnose import Diagnosis, diagnose
from nnfoundations.engine import Value
from nnfoundations.explain import Explanation, explain
from nnfoundations.history import History
from nnfoundations.loop import fit, updates_per_epoch
from nnfoundations.model import build_model, count_parameters
from nnfoundations.plots import plot_history
from nnfoundations.step import evaluate, train_one_step
from nnfoundations.stopping import StopDecision, early_stopping
from nnfoundations.units import DeadUnits, dead_units

__all__ = [
    "DeadUnits", "Diagnosis", "Explanation", "History", "StopDecision", "Value", "build_model",
    "count_parameters", "dead_units", "diagnose", "early_stopping", "evaluate", "explain", "fit",
    "plot_history", "train_one_step", "updates_per_epoch",
]
__version__ = "0.1.0"
