"""Running a trained model without training it: one mode switch, one way to chunk, and the
predictions built on them (class probabilities, the confusion matrix, per-class accuracy)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn

#: Rows per forward pass when a model is only applied: bounded memory, the same results.
CHUNK_ROWS = 4096


def model_device(model: nn.Module) -> torch.device:
    """Return the device of the model's first parameter (CPU for a model without any)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (float32 without any)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


@contextmanager
def inference(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (dropout off) under ``torch.no_grad()``; the model's mode is restored after.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        >>> with inference(model):
        ...     model.training
        False
        >>> model.training
        True
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def chunks(device: torch.device, *tensors: torch.Tensor,
           rows: int = CHUNK_ROWS) -> Iterator[tuple[torch.Tensor, ...]]:
    """The same rows of each tensor, ``rows`` at a time, moved to ``device``."""
    for start in range(0, len(tensors[0]), rows):
        yield tuple(t[start : start + rows].to(device) for t in tensors)


def predict_proba(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Class probabilities (softmax of the outputs) for each row of ``X``, on the CPU.

    Example:
        >>> predict_proba(nn.Linear(3, 4), torch.zeros(5, 3)).shape
        torch.Size([5, 4])
    """
    device = model_device(model)
    with inference(model):
        return torch.cat([torch.softmax(model(X_chunk), dim=-1).cpu()
                          for (X_chunk,) in chunks(device, X)])


def confusion(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
              n_classes: int) -> list[list[int]]:
    """The confusion matrix: row ``i``, column ``j`` counts the examples of class ``i``
    predicted as ``j``.

    Example:
        >>> confusion(nn.Linear(2, 2, bias=False).requires_grad_(False).eval(),
        ...           torch.zeros(3, 2), torch.tensor([0, 1, 1]), 2)
        [[1, 0], [2, 0]]
    """
    predicted = predict_proba(model, X).argmax(dim=-1)
    pairs = y.cpu().long() * n_classes + predicted
    return torch.bincount(pairs, minlength=n_classes**2).view(n_classes, n_classes).tolist()


def per_class_accuracy(matrix: list[list[int]]) -> list[tuple[int, float | None]]:
    """For each class of a :func:`confusion` matrix: how many examples it has and the share
    predicted right (None for a class with none).

    Example:
        >>> per_class_accuracy([[3, 1], [0, 0]])
        [(4, 0.75), (0, None)]
    """
    return [(sum(row), row[c] / sum(row) if sum(row) else None) for c, row in enumerate(matrix)]
