"""The model builder: a typed ``nn.Sequential`` of Linear -> ReLU -> (Dropout) blocks."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn

from nnfoundations import _checks
from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations._machine import available_memory
from nnfoundations._mlp import parameter_count


def build_model(
    input_size: int,
    hidden_sizes: Sequence[int],
    output_size: int,
    dropout_rate: float = 0.0,
) -> nn.Sequential:
    """Build a feedforward neural network with ReLU activations.

    Each hidden size ``h`` adds ``Linear(prev, h) -> ReLU`` and, only when ``dropout_rate > 0``,
    ``Dropout(p=dropout_rate)``. The output layer is a plain ``Linear`` with no activation and
    no Dropout after it. An empty ``hidden_sizes`` gives a single ``Linear`` (a linear model).

    Args:
        input_size: number of input features, a positive int.
        hidden_sizes: hidden layer sizes, e.g. ``[128, 64]``; a sequence of positive ints.
        output_size: number of output classes, a positive int.
        dropout_rate: dropout probability in ``[0, 1)``; default 0.0 (no Dropout layers).

    Returns:
        The model as an ``nn.Sequential``.

    Raises:
        TypeError: a size is not an int (bools are refused) or ``hidden_sizes`` is not a
            sequence.
        ValueError: a size is not positive or ``dropout_rate`` is outside ``[0, 1)``.

    Example:
        >>> model = build_model(784, [128, 64], 9)
        >>> sum(p.numel() for p in model.parameters())
        109321
    """
    input_size = _checks.positive_int("input_size", input_size)
    output_size = _checks.positive_int("output_size", output_size)
    if isinstance(hidden_sizes, str | bytes) or not isinstance(hidden_sizes, Sequence):
        raise InvalidTypeError(
            f"hidden_sizes must be a sequence of positive ints, got {hidden_sizes!r}"
        )
    sizes = [_checks.positive_int(f"hidden_sizes[{i}]", h) for i, h in enumerate(hidden_sizes)]
    dropout_rate = _checks.fraction("dropout_rate", dropout_rate)

    _fits_in_memory([input_size, *sizes, output_size])
    layers: list[nn.Module] = []
    prev_size = input_size
    for h in sizes:
        layers += [nn.Linear(prev_size, h), nn.ReLU()]
        if dropout_rate > 0:
            layers.append(nn.Dropout(p=dropout_rate))
        prev_size = h
    layers.append(nn.Linear(prev_size, output_size))
    return nn.Sequential(*layers)


def _fits_in_memory(widths: list[int]) -> None:
    """Refuse a network that this machine's memory cannot train: its weights, their
    gradients and an optimizer's two moments (Adam's) make four float32 copies."""
    parameters = parameter_count(widths)
    memory = available_memory()
    if TRAINING_COPIES * 4 * parameters > 0.8 * memory:  # the data and activations need room
        raise InvalidValueError(f"layer sizes {widths} make {parameters:,} parameters: "
                                f"{TRAINING_COPIES * 4 * parameters / 2**30:,.1f} GiB to train "
                                f"(weights, gradients, Adam's two moments), more than this "
                                f"machine's {memory / 2**30:,.1f} GiB of available memory "
                                "can hold with room for the data")


#: Copies of the parameters that training holds: weights, gradients, two optimizer moments.
TRAINING_COPIES = 4


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
