"""The run directory: its files, their format, one atomic writer for all of them, and
reading a run back.

A run directory holds ``model.pt`` (weights, architecture, standardisation, classes and
feature names: plain data, loadable with ``weights_only=True``), ``history.json``,
``curves.png``, ``metrics.json``, ``settings.json`` (with the run format's version),
``split.json`` (the data's path and SHA-256 and the held-out test rows, which ``nnf evaluate
RUN`` scores) and ``report.html`` (all of it on one page). :func:`write_run` writes them
into a temporary folder beside the final place and renames it at the end: a failed or
interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from sklearn.preprocessing import StandardScaler

from nnfoundations._errors import InvalidValueError, first_line
from nnfoundations._files import current_umask
from nnfoundations._signals import caught
from nnfoundations.app.formats import Table, load_digits
from nnfoundations.app.preprocess import scaler_from_dict, scaler_to_dict, standardise
from nnfoundations.app.report import build_page
from nnfoundations.diagnosis import Diagnosis
from nnfoundations.diagnosis.readers import read_run
from nnfoundations.history import History
from nnfoundations.training.checkpoint import atomic_save, safe_load
from nnfoundations.training.model import build_model
from nnfoundations.training.plots import plot_history

#: The version of the run directory's layout, written into ``settings.json``; a run without
#: one was written before it was recorded and reads the same.
RUN_FORMAT = 1
#: The files of a run directory (``curves.png`` only where an epoch completed).
FILES = ("model.pt", "history.json", "curves.png", "metrics.json", "settings.json",
         "split.json", "report.html")
MODEL_FORMAT = "nnfoundations-model-1"


#: The end of a run's temporary folder's name: ``.<run, shortened>.<random>.tmp``.
TMP_SUFFIX = ".tmp"


#: The file that marks a temporary folder as one of ours, naming its host and process: the
#: sweep removes nothing without it.
TMP_MARKER = ".nnf-partial-run"


def model_state(model: nn.Module, architecture: dict, standardizer: StandardScaler,
                 classes: list, feature_names: list[str]) -> dict[str, Any]:
    """What ``model.pt`` holds: weights on the CPU and what applying them needs, as plain
    data."""
    return {"format": MODEL_FORMAT,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "architecture": architecture, "standardizer": scaler_to_dict(standardizer),
            "classes": classes, "feature_names": feature_names}


def write_run(out: Path, model_state: dict, history: History, diagnosis: Diagnosis,
               metrics: dict, records: dict, unique: bool) -> Path:
    """Write the run into a temporary folder and rename it to ``out`` (when ``unique``, to
    the first free ``out-2``, ``out-3`` ...: two runs started in the same second both
    land)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep_dead_runs(out.parent)
    with caught() as stop:  # a signal now waits until the run is written
        written = _write_files(out, model_state, history, diagnosis, metrics, records, unique)
    if stop["set"]:
        raise KeyboardInterrupt  # after the run landed
    return written


def _write_files(out: Path, model_state: dict, history: History, diagnosis: Diagnosis,
                 metrics: dict, records: dict, unique: bool) -> Path:
    # a short name: the final one may be as long as the filesystem allows
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name[:32]}.", suffix=TMP_SUFFIX))
    try:
        (tmp / TMP_MARKER).write_text(json.dumps({"host": socket.gethostname(),
                                                  "pid": os.getpid()}), encoding="utf-8")
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private
        atomic_save(model_state, tmp / "model.pt")
        history.to_json(tmp / "history.json")
        if history.records:
            plot_history(history, tmp / "curves.png", diagnosis)
        settings = {"format": RUN_FORMAT, **records["settings"], "fit": history.settings}
        for name, data in (("metrics.json", metrics), ("split.json", records["split"]),
                           ("settings.json", settings)):
            (tmp / name).write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
        (tmp / "report.html").write_text(build_page(read_run(history), diagnosis, out.name,
                                                    history, metrics, settings),
                                         encoding="utf-8")
        (tmp / TMP_MARKER).unlink()
        return _rename_free(tmp, out, unique)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _sweep_dead_runs(folder: Path) -> None:
    """Remove the temporary folders that runs killed while writing left: only a folder
    that holds our marker, written on this host by a process that is gone (a process of
    another host sharing the filesystem cannot be asked)."""
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        owner = _owner(tmp)
        if owner is not None and owner[0] == socket.gethostname() and not _alive(owner[1]):
            shutil.rmtree(tmp, ignore_errors=True)


def _owner(tmp: Path) -> tuple[str, int] | None:
    """The host and process named by a temporary folder's marker; None when it is not one
    of ours (no marker, a link, or a marker that does not read as ours)."""
    marker = tmp / TMP_MARKER
    if tmp.is_symlink() or not tmp.is_dir() or marker.is_symlink() or not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8")[:1000])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("host"), str) or \
            type(data.get("pid")) is not int or data["pid"] <= 0:
        return None
    return data["host"], data["pid"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, alive
    return True


def _rename_free(tmp: Path, out: Path, unique: bool) -> Path:
    for k in range(1, 1000 if unique else 2):
        target = out if k == 1 else out.with_name(f"{out.name}-{k}")
        try:
            tmp.rename(target)  # fails when the target exists and is not empty
            return target
        except OSError:
            if not unique or not target.exists():
                raise
    raise InvalidValueError(f"no free run directory name beside {out}")


@dataclass
class LoadedRun:
    """A trained model read back from a run directory, with what it needs to be applied."""

    model: nn.Module
    standardizer: StandardScaler
    classes: list
    feature_names: list[str]

    def features(self, table: Table) -> torch.Tensor:
        """The table's features, in the model's column order, standardised."""
        width = len(self.feature_names)
        position = {name: j for j, name in enumerate(table.feature_names)}
        if all(name in position for name in self.feature_names):
            X = table.X[:, [position[name] for name in self.feature_names]]
        elif table.X.shape[1] == width:
            X = table.X
        else:
            raise InvalidValueError(f"the data has {table.X.shape[1]} features but the model takes "
                                    f"{width}")
        return torch.from_numpy(standardise(self.standardizer, X))


def load_run(run_dir: str | Path) -> LoadedRun:
    """Read ``model.pt`` of a run directory (data only: ``weights_only=True``)."""
    path = Path(run_dir) / "model.pt"
    if not Path(run_dir).is_dir():
        raise InvalidValueError(f"no such run directory: {run_dir}")
    state = safe_load(path)
    if state.get("format") != MODEL_FORMAT:
        raise InvalidValueError(f"{path} is not a model saved by nnf train")
    try:
        model = build_model(**state["architecture"])
        model.load_state_dict(state["state_dict"])
        standardizer = scaler_from_dict(state["standardizer"])
        classes, names = list(state["classes"]), list(state["feature_names"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        first = first_line(err)
        raise InvalidValueError(f"{path} does not match its architecture or is damaged ({first})") \
            from None
    if len(standardizer.mean_) != len(names) or len(classes) != \
            state["architecture"]["output_size"]:
        raise InvalidValueError(f"{path} is inconsistent: its preprocessing does not fit its model")
    _usable(path, model, standardizer)
    return LoadedRun(model, standardizer, classes, names)


def _usable(path: Path, model: nn.Module, standardizer: StandardScaler) -> None:
    """Refuse a model that can only answer NaN: non-finite weights or scaling."""
    bad = [name for name, p in model.state_dict().items() if not torch.isfinite(p).all()]
    if bad:
        raise InvalidValueError(f"{path} holds non-finite weights (in {', '.join(bad[:3])}); "
                                "the run diverged: train it again")
    stats = np.concatenate([standardizer.mean_, standardizer.scale_])
    if not np.isfinite(stats).all() or (standardizer.scale_ <= 0).any():
        raise InvalidValueError(f"{path} holds a standardisation with a non-finite mean or a "
                                "standard deviation that is not positive")


def fingerprint(source: str) -> str:
    """A SHA-256 of the data's contents (the bundled digits: of its arrays; a folder: of its
    .npy files), read in blocks."""
    digest = hashlib.sha256()
    if source == "digits":
        X, y = load_digits()
        digest.update(X.tobytes() + y.tobytes())
        return digest.hexdigest()
    path = Path(source)
    for file in sorted(path.glob("*.npy")) if path.is_dir() else [path]:
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):  # noqa: B023 (used at once)
                digest.update(block)
    return digest.hexdigest()


def saved_split(run_dir: Path, required: bool = False) -> dict[str, Any]:
    """The run's ``split.json`` (empty for a run of an older nnf, unless ``required``)."""
    path = run_dir / "split.json"
    if not path.is_file():
        if not required:
            return {}
        raise InvalidValueError(f"{run_dir} has no split.json (a run of an older nnf): give "
                                "the data to score with --data")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidValueError(f"{path} is damaged: not JSON ({err})") from None
    if not isinstance(saved, dict):
        raise InvalidValueError(f"{path} is damaged: it holds a {type(saved).__name__}, not an "
                                "object")
    for key, kinds in _SPLIT_KEYS.items():
        if key in saved and not isinstance(saved[key], kinds):
            raise InvalidValueError(f"{path} is damaged: {key!r} is {str(saved[key])[:40]!r}")
    missing = [k for k in _SPLIT_KEYS if k not in saved]
    if missing and required:
        raise InvalidValueError(f"{path} is damaged: it lacks {missing}; give the data to "
                                "score with --data")
    return saved


#: What a split.json holds, and the types each value may have.
_SPLIT_KEYS: dict[str, type | tuple[type, ...]] = {
    "data": str, "sha256": str, "label": (str, type(None)), "labels": (str, type(None)),
    "test_index": list}


def held_out_rows(path: Path, index: list[Any], n: int) -> np.ndarray:
    """The saved test rows, checked: whole numbers within the data's ``n`` rows."""
    if not index or not all(type(i) is int and 0 <= i < n for i in index):
        bad = next((i for i in index if not (type(i) is int and 0 <= i < n)), "none")
        raise InvalidValueError(f"{path} is damaged: a test index must be a row number from 0 "
                                f"to {n - 1}, got {str(bad)[:40]!r}")
    return np.asarray(index, dtype=np.int64)
