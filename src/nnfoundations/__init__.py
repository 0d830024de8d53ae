"""nnfoundations: the foundations of neural networks as software you can run and inspect.

Section 1 (the chain rule): :class:`Value`, :func:`explain`. Section 2 (the building blocks):
:func:`build_model`, :func:`train_one_step`, :func:`evaluate`. Section 3 (the loop):
:func:`fit` (and its :class:`Hook`), :class:`History`, :func:`diagnose`,
:func:`plot_history`, :func:`report`, :func:`dead_units`, :func:`updates_per_epoch`.

The package is in wings (see the README's "How the code is organised"): ``autodiff`` and
``diagnosis`` need neither torch nor numpy; ``training`` is the PyTorch side; ``app`` holds
the data readers, run directories and the CLI. Importing ``nnfoundations`` imports none of
them: each name below is loaded from its wing on first use (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    "Value": "nnfoundations.autodiff.engine",
    "Explanation": "nnfoundations.autodiff.explain",
    "explain": "nnfoundations.autodiff.explain",
    "check": "nnfoundations.autodiff.check",
    "draw_graph": "nnfoundations.app.graph_figure",
    "report": "nnfoundations.app.report",
    "Diagnosis": "nnfoundations.diagnosis.kinds",
    "diagnose": "nnfoundations.diagnosis.verdict",
    "diagnose_file": "nnfoundations.diagnosis.verdict",
    "read_runs": "nnfoundations.diagnosis.readers",
    "History": "nnfoundations.history",
    "StopKind": "nnfoundations.history",
    "Hook": "nnfoundations.training.hooks",
    "build_model": "nnfoundations.training.model",
    "count_parameters": "nnfoundations.training.model",
    "train_one_step": "nnfoundations.training.step",
    "evaluate": "nnfoundations.training.step",
    "fit": "nnfoundations.training.loop",
    "updates_per_epoch": "nnfoundations.training.batches",
    "StopDecision": "nnfoundations.training.stopping",
    "early_stopping": "nnfoundations.training.stopping",
    "DeadUnits": "nnfoundations.training.units",
    "dead_units": "nnfoundations.training.units",
    "plot_history": "nnfoundations.training.plots",
    "lr_find": "nnfoundations.training.lr_finder",
}
__all__ = [  # the keys of _EXPORTS, spelt out for linters and type checkers
    "DeadUnits", "Diagnosis", "Explanation", "History", "Hook", "StopDecision", "StopKind",
    "Value", "build_model",
    "check", "count_parameters", "dead_units", "diagnose", "diagnose_file", "draw_graph",
    "early_stopping",
    "evaluate", "explain", "fit", "lr_find", "plot_history", "read_runs", "report",
    "train_one_step",
    "updates_per_epoch",
]

if TYPE_CHECKING:
    from nnfoundations.app.graph_figure import draw_graph
    from nnfoundations.app.report import report
    from nnfoundations.autodiff.check import check
    from nnfoundations.autodiff.engine import Value
    from nnfoundations.autodiff.explain import Explanation, explain
    from nnfoundations.diagnosis.kinds import Diagnosis
    from nnfoundations.diagnosis.readers import read_runs
    from nnfoundations.diagnosis.verdict import diagnose, diagnose_file
    from nnfoundations.history import History, StopKind
    from nnfoundations.training.batches import updates_per_epoch
    from nnfoundations.training.hooks import Hook
    from nnfoundations.training.loop import fit
    from nnfoundations.training.lr_finder import lr_find
    from nnfoundations.training.model import build_model, count_parameters
    from nnfoundations.training.plots import plot_history
    from nnfoundations.training.step import evaluate, train_one_step
    from nnfoundations.training.stopping import StopDecision, early_stopping
    from nnfoundations.training.units import DeadUnits, dead_units


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nnfoundations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
