"""One gradient-descent step and an evaluation pass: the assignment's section 2.2 and 2.3."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn as nn

from nnfoundations import _checks
from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations.training.inference import chunks, inference, model_device
from nnfoundations.training.telemetry import Telemetry

#: Data-parallel training's hook between the backward pass and the update: the local loss and
#: rows in, the global batch's loss out (its gradients left in ``.grad``).
Sync = Callable[[torch.Tensor, int], torch.Tensor]


def step(
    model: nn.Module,
    X_batch: torch.Tensor,
    y_batch: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    telemetry: Telemetry | None = None,
    first_epoch: bool = False,
    sync: Sync | None = None,
) -> torch.Tensor:
    """Run one training step and return the loss as a detached tensor on the model's device.

    This is :func:`train_one_step` without the ``.item()``: the training loop accumulates
    these on the device so that it does not wait for the device after every step. With
    ``telemetry`` the step is also observed (gradient norms, update sizes, ReLU firing);
    with ``sync`` (data-parallel training) the gradients and the loss become the global
    batch's before the update.
    """
    model.train()  # an earlier evaluate() must never leave dropout switched off here
    device = model_device(model)
    X_batch, y_batch = X_batch.to(device), y_batch.to(device)
    optimizer.zero_grad(set_to_none=True)
    with telemetry.forward(X_batch, first_epoch) if telemetry else nullcontext():
        loss = loss_fn(model(X_batch), y_batch)
        loss.backward()
    if sync is not None:
        loss = sync(loss, len(X_batch))
    if telemetry:
        telemetry.before_update()
    optimizer.step()
    if telemetry:
        telemetry.after_update()
    return loss.detach()


def train_one_step(
    model: nn.Module,
    X_batch: torch.Tensor,
    y_batch: torch.Tensor,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> float:
    """Perform one gradient descent step: forward, loss, backward, update.

    The model is put in training mode first and the batch is moved to the model's device.

    Args:
        model: the neural network model.
        X_batch: input features for this batch, shape ``(batch_size, input_size)``.
        y_batch: target labels for this batch, shape ``(batch_size,)``.
        loss_fn: the loss function (e.g. ``nn.CrossEntropyLoss()``).
        optimizer: the optimizer (e.g. ``torch.optim.SGD`` or ``Adam``).

    Returns:
        The loss value, as a Python float.

    Example:
        >>> from nnfoundations import build_model
        >>> model = build_model(4, [8], 3)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
        >>> loss = train_one_step(model, torch.randn(16, 4), torch.randint(0, 3, (16,)),
        ...                       nn.CrossEntropyLoss(), opt)
    """
    return step(model, X_batch, y_batch, loss_fn, optimizer).item()


def _check_eval_inputs(X: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise InvalidTypeError(
            f"X and y must be torch.Tensors, got {type(X).__name__} and {type(y).__name__}"
        )
    if len(X) == 0:
        raise InvalidValueError("X is empty: evaluate needs at least one example")
    if len(X) != len(y):
        raise InvalidValueError(f"X and y differ in length: {len(X)} examples but {len(y)} labels")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise InvalidTypeError(f"y must hold integer class labels, got dtype {y.dtype}")


def evaluate(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: nn.Module,
    batch_size: int | None = None,
) -> tuple[float, float]:
    """Evaluate the model: returns ``(loss, accuracy)`` without updating weights.

    Runs in eval mode (dropout off) under ``torch.no_grad()`` and restores the model's
    previous train/eval mode on return. With ``batch_size`` the data goes through in chunks
    (bounded memory); each chunk's mean loss is weighted by its size, so the result equals
    one pass for a mean-reducing ``loss_fn``.

    Args:
        model: the neural network model.
        X: input features, shape ``(n, input_size)``.
        y: integer class labels in ``[0, n_classes)``, shape ``(n,)``.
        loss_fn: the loss function, reducing by the mean (the default of torch's losses).
        batch_size: examples per chunk; ``None`` evaluates everything in one pass.

    Returns:
        ``(loss, accuracy)`` as Python floats, accuracy in ``[0, 1]``.

    Raises:
        TypeError: X or y is not a tensor, or y does not hold integers.
        ValueError: X is empty, X and y differ in length, or a label is outside
            ``[0, n_classes)``.

    Example:
        >>> from nnfoundations import build_model
        >>> loss, acc = evaluate(build_model(4, [8], 3), torch.randn(100, 4),
        ...                      torch.randint(0, 3, (100,)), nn.CrossEntropyLoss())
    """
    _check_eval_inputs(X, y)
    rows = len(X) if batch_size is None else _checks.positive_int("batch_size", batch_size)
    device = model_device(model)
    with inference(model):
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for X_chunk, y_chunk in chunks(device, X, y, rows=rows):
            y_pred = model(X_chunk)
            check_labels(y_chunk, y_pred.shape[-1])
            loss_sum += loss_fn(y_pred, y_chunk).double() * len(y_chunk)
            correct += (y_pred.argmax(dim=-1) == y_chunk).sum()
    return (loss_sum / len(X)).item(), correct.item() / len(X)


def check_labels(y: torch.Tensor, n_classes: int) -> None:
    """Refuse a class label outside ``[0, n_classes)``, naming it."""
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise InvalidValueError(
            f"label {bad} is outside [0, {n_classes}): the model has {n_classes} outputs"
        )
