"""Plots of a run's curves, drawn headless (matplotlib's Agg backend)."""

from __future__ import annotations

import math
from io import BytesIO
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, overload

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nnfoundations._errors import InvalidValueError
from nnfoundations._files import atomic_write_bytes, writable_file
from nnfoundations.diagnosis import Curves, Diagnosis, diagnose
from nnfoundations.diagnosis.readers import read_run
from nnfoundations.history import History

if TYPE_CHECKING:
    from nnfoundations.training.compare import BatchRun
    from nnfoundations.training.lr_finder import LRFind

#: The suffixes a plot may be written as.
IMAGE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


Run = History | Curves | str | PathLike[str]


@overload
def plot_history(history: Run, path: None = None, diagnosis: Diagnosis | None = None, *,
                 run: int | None = None) -> Figure: ...


@overload
def plot_history(history: Run, path: str | Path, diagnosis: Diagnosis | None = None, *,
                 run: int | None = None) -> Path: ...


def plot_history(history: Run, path: str | Path | None = None,
                 diagnosis: Diagnosis | None = None, *, run: int | None = None,
                 ) -> Path | Figure:
    """Draw the loss curves (and a validation metric) of a run, into a file or a Figure.

    The best epoch and the epoch to keep are marked, and the verdict of
    :func:`~nnfoundations.diagnosis.verdict.diagnose` is in the title.

    Args:
        history: the run: a History, the Curves of any log, or a log's path (a run
            directory, ``history.json``, or any log ``nnf diagnose`` reads).
        path: where to write the image (its suffix names the format), atomically; None
            returns the Figure instead, which a notebook shows inline.
        diagnosis: the run's diagnosis; computed when not given.
        run: which run of a log holding several (1-based).

    Returns:
        The path written, or the Figure when no path is given.

    Example:
        >>> import pathlib, tempfile
        >>> h = History()
        >>> h.append(epoch=1, train_loss=1.0, val_loss=1.1, val_acc=0.5, lr=0.1, seconds=0)
        >>> plot_history(h, pathlib.Path(tempfile.mkdtemp()) / "curves.png").name
        'curves.png'
    """
    curves = read_run(history, run=run)
    if not len(curves):
        raise InvalidValueError("the run has no epochs to plot")
    image_format = None if path is None else check_image_path(path)  # before any drawing
    diagnosis = diagnosis or diagnose(curves)
    has_acc = any(v is not None for v in curves.acc)
    # A bare Figure on an Agg canvas: no display, and pyplot's global backend is left alone
    # (a notebook keeps its inline plots).
    fig = Figure(figsize=(11 if has_acc else 6.5, 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)
    _loss_panel(axes[0][0], curves, diagnosis)
    if has_acc:
        ax = axes[0][1]
        logged = curves.columns.get("acc", "val_acc")  # another log's name for its metric
        metric = "validation accuracy" if logged in ("val_acc", "-") else logged
        ax.plot(curves.epochs, _gaps(curves.acc), color="tab:green", label=metric)
        ax.set(xlabel="epoch", ylabel=metric, title="Validation accuracy"
               if metric == "validation accuracy" else "Validation metric")
        ax.grid(alpha=0.3)
        ax.legend()
    stop = "no epoch worth keeping" if diagnosis.stop_epoch is None else \
        f"keep epoch {diagnosis.stop_epoch}"
    fig.suptitle(f"Diagnosis: {diagnosis.verdict.replace('_', ' ')} ({stop})", fontsize=12)
    return _finish(fig, path, image_format)


def _gaps(values: list[float | None]) -> list[float]:
    """A series with its missing points as NaN, which matplotlib leaves as gaps."""
    return [math.nan if v is None else v for v in values]


def plot_comparison(runs: list[BatchRun], path: str | Path | None = None) -> Path | Figure:
    """The validation loss of each batch size against epochs and against updates, side by
    side: the assignment's 3.1.2 in one figure. Returns the path written, or the Figure."""
    if not runs:
        raise InvalidValueError("no runs to plot")
    image_format = None if path is None else check_image_path(path)
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    by_epoch, by_update = fig.subplots(1, 2)
    for run in runs:
        h = run.history
        loss = [v if v is not None else float("nan") for v in h.val_loss]
        label = f"batch {run.batch_size}"
        by_epoch.plot(h.epoch, loss, label=label)
        by_update.plot([e * run.updates_per_epoch for e in h.epoch], loss, label=label)
    by_epoch.set(xlabel="epoch", ylabel="validation loss", title="Against epochs")
    by_update.set(xlabel="updates (optimizer steps)", xscale="log", title="Against updates")
    for ax in (by_epoch, by_update):
        ax.grid(alpha=0.3)
        ax.legend()
    return _finish(fig, path, image_format)


def _finish(fig: Figure, path: str | Path | None, image_format: str | None) -> Path | Figure:
    """Write the figure to ``path``, or return it (laid out) when there is no path."""
    if path is None or image_format is None:
        fig.tight_layout()
        return fig
    return _save(fig, path, image_format)


def _save(fig: Figure, path: str | Path, image_format: str) -> Path:
    fig.tight_layout()
    buffer = BytesIO()
    fig.savefig(buffer, format=image_format, dpi=110)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def check_image_path(path: str | Path) -> str:
    """The image format a file name asks for (its suffix), once the destination is known to
    be writable: call it before the work whose result is drawn."""
    writable_file(path)
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in IMAGE_FORMATS:
        raise InvalidValueError(f"{path}: cannot write a {suffix or 'suffix-less'} image; "
                                f"name it .{', .'.join(IMAGE_FORMATS)}")
    return "jpeg" if suffix == "jpg" else suffix


def _loss_panel(ax: Axes, curves: Curves, diagnosis: Diagnosis) -> None:
    if any(v is not None for v in curves.train):
        ax.plot(curves.epochs, _gaps(curves.train), label="train loss", color="tab:blue")
    if curves.has_val:
        ax.plot(curves.epochs, _gaps(curves.val), label="validation loss", color="tab:orange")
    if diagnosis.best_epoch is not None:
        same = diagnosis.stop_epoch == diagnosis.best_epoch
        ax.axvline(diagnosis.best_epoch, color="tab:red" if same else "tab:gray", linestyle=":",
                   label=f"best epoch {diagnosis.best_epoch}"
                   + (" = the one to keep" if same else ""))
    if diagnosis.stop_epoch is not None and diagnosis.stop_epoch != diagnosis.best_epoch:
        ax.axvline(diagnosis.stop_epoch, color="tab:red", linestyle="--",
                   label=f"keep epoch {diagnosis.stop_epoch}")
    losses = [v for v in curves.train + curves.val if v is not None and 0 < v < math.inf]
    if losses and max(losses) / min(losses) > 20:  # let the small late losses show
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax.grid(alpha=0.3)
    ax.legend()


def plot_lr_find(found: LRFind, path: str | Path) -> Path:
    """Draw a learning-rate sweep (loss against log lr) and its suggestion into a PNG."""
    if not found.lrs:
        raise InvalidValueError("the sweep has no steps to plot")
    image_format = check_image_path(path)
    fig = Figure(figsize=(6.5, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot(found.lrs, found.losses, color="tab:blue", alpha=0.35, label="loss per step")
    ax.plot(found.lrs[: len(found.smoothed)], found.smoothed, color="tab:blue",
            label="running median")
    if found.suggestion is not None:
        ax.axvline(found.suggestion, color="tab:red", linestyle="--",
                   label=f"suggestion {found.suggestion:.3g}")
    ax.set(xscale="log", xlabel="learning rate", ylabel="training loss",
           title="Learning-rate finder")
    finite = [v for v in found.smoothed if v == v]
    if finite:
        ax.set_ylim(min(finite) * 0.9, max(finite[: max(1, len(finite) // 2)]) * 1.5)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path, image_format)
