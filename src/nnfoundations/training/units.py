"""Dead ReLU units: the assignment's 1.2.3 (an inactive ReLU passes no gradient) at network
scale."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.training.inference import CHUNK_ROWS, chunks, inference, model_device


@dataclass(frozen=True)
class DeadUnits:
    """The units of one ReLU layer whose output is 0 for every example given.

    Such a unit passes no gradient back for any of these examples (∂ReLU/∂z = 0 where
    z <= 0), so its incoming weights no longer learn from them.

    Attributes:
        layer: the ReLU module's name in the model (e.g. ``"1"`` in an ``nn.Sequential``).
        units: the layer's width.
        dead: how many units never fired.
        indices: which ones.
    """

    layer: str
    units: int
    dead: int
    indices: tuple[int, ...]

    @property
    def fraction(self) -> float:
        """The dead share of the layer's units."""
        return self.dead / self.units if self.units else 0.0


def dead_units(model: nn.Module, X: torch.Tensor,
               batch_size: int = CHUNK_ROWS) -> list[DeadUnits]:
    """Find, for each ReLU layer, the units whose output is zero for every row of ``X``.

    Runs the model in eval mode under ``no_grad`` (its mode is restored), in chunks.

    Args:
        model: a network with ``nn.ReLU`` modules.
        X: the examples, shape ``(n, input_size)``; n >= 1.
        batch_size: rows per forward pass.

    Returns:
        One :class:`DeadUnits` per ReLU module, in the model's order.

    Example:
        >>> from nnfoundations import build_model
        >>> model = build_model(4, [8], 2)
        >>> [(d.layer, d.units) for d in dead_units(model, torch.randn(50, 4))]
        [('1', 8)]
    """
    if not isinstance(X, torch.Tensor) or X.ndim < 2 or len(X) == 0:
        raise InvalidValueError("X must be a non-empty tensor of shape (n, input_size)")
    batch_size = _checks.positive_int("batch_size", batch_size)
    relus = {name: m for name, m in model.named_modules() if isinstance(m, nn.ReLU)}
    fired: dict[str, torch.Tensor] = {}

    def record(name: str) -> Callable[[nn.Module, object, torch.Tensor], None]:
        def hook(module: nn.Module, inputs: object, out: torch.Tensor) -> None:
            active = (out > 0).flatten(1).any(dim=0)
            fired[name] = active if name not in fired else fired[name] | active
        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in relus.items()]
    try:
        with inference(model):
            for (X_chunk,) in chunks(model_device(model), X, rows=batch_size):
                model(X_chunk)
    finally:
        for h in handles:
            h.remove()
    return [_summary(name, fired[name]) for name in relus if name in fired]


def _summary(name: str, fired: torch.Tensor) -> DeadUnits:
    dead = (~fired).nonzero().flatten().tolist()
    return DeadUnits(name, len(fired), len(dead), tuple(dead))
