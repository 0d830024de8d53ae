"""Checkpoints: written atomically, read as data only (``weights_only=True``), and the
format of a ``fit()`` checkpoint, which resumes a run exactly where it was saved."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from nnfoundations._errors import InvalidValueError, first_line
from nnfoundations._files import atomic_write
from nnfoundations.history import History
from nnfoundations.training.hooks import FitState, Hook, StateDict

FIT_FORMAT = "nnfoundations-fit-1"


def atomic_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` through a temporary file and a rename: a crash leaves the old file."""
    atomic_write(path, lambda f: torch.save(obj, f))


def safe_load(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint as data only (no code runs), with a clear error for a bad file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidValueError(f"no such checkpoint file: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if zipfile.is_zipfile(path):  # a real torch file: refused, its text would suggest
            raise InvalidValueError(  # loading it unsafely
                f"{path} holds objects beyond plain data, which only running its code could "
                "build; nnf loads data only") from None
        raise InvalidValueError(f"{path} is not a readable checkpoint ({first_line(err)})") \
            from None
    except Exception as err:  # torch raises many kinds for a truncated or foreign file
        raise InvalidValueError(f"{path} is not a readable checkpoint ({first_line(err)})") \
            from None
    if not isinstance(data, dict):
        raise InvalidValueError(f"{path} is not a checkpoint of this tool (no dictionary inside)")
    return data


def save_fit(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
             generator: torch.Generator, history: History, best: StateDict | None) -> None:
    """Save everything a run needs to go on: weights, optimizer, History, RNG states."""
    state: dict[str, Any] = {
        "format": FIT_FORMAT, "model": model.state_dict(),
        "optimizer": optimizer.state_dict(), "history": history.to_dict(),
        "shuffle_rng": generator.get_state(), "torch_rng": torch.get_rng_state(),
        "best": best or {},
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    atomic_save(state, path)


class Checkpoint(Hook):
    """The checkpoint hook: :func:`save_fit` after every epoch, the last of the hooks, so
    that it saves what the others did."""

    def __init__(self, path: str | Path) -> None:
        self.path = path

    def on_epoch_end(self, state: FitState) -> None:
        """Save the run as it stands."""
        save_fit(self.path, state.model, state.optimizer, state.generator, state.history,
                 state.best)


def resume_fit(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
               generator: torch.Generator, settings: dict[str, Any],
               adopt_seed: bool) -> tuple[History, StateDict | None]:
    """Restore a :func:`save_fit` checkpoint into the run.

    The settings must match the saved run's, but for the epochs, the device, the engine
    (both compute the same gradients) and (when ``adopt_seed``) the seed, which the saved
    run's replaces.

    Returns:
        The saved History (its ``epochs``, ``device`` and ``engine`` now this run's) and the
        best weights so far.
    """
    state = safe_load(path)
    if state.get("format") != FIT_FORMAT:
        raise InvalidValueError(f"{path} is not a fit() checkpoint (format "
                                f"{state.get('format')!r})")
    history = History.from_dict(state["history"])
    free = ("epochs", "device", "engine", "processes") + (("seed",) if adopt_seed else ())
    changed = sorted(k for k in settings if k not in free
                     and history.settings.get(k) != settings[k])
    if changed:
        raise InvalidValueError(
            f"cannot resume {path}: settings differ from the saved run: "
            + ", ".join(f"{k} {history.settings.get(k)!r} -> {settings[k]!r}" for k in changed))
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise InvalidValueError(f"{path} does not fit this model: {first_line(err)}") from None
    generator.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    for key in ("epochs", "device", "engine", "processes"):  # the run goes on as now asked
        history.settings[key] = settings[key]
    return history, state["best"] or None
