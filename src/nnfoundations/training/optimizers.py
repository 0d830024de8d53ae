"""Optimizers by name, with torch's fused kernels where this torch has one for the device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from nnfoundations._errors import InvalidTypeError
from nnfoundations.training.names import OPTIMIZER_NAMES

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = dict(zip(
    OPTIMIZER_NAMES, (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD), strict=True))
OptimizerSpec = str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer]


def make_optimizer(optimizer: OptimizerSpec, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """Return an optimizer for ``model``.

    A name (``adam``, ``adamw``, ``sgd``, as the settings checked it) gets torch's fused
    kernel where this torch has one for the device (else foreach); a callable is called with
    the parameters; an instance is used as it is.
    """
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        cls = OPTIMIZERS[optimizer.lower()]
        options: tuple[dict[str, Any], ...] = ({"fused": True}, {"foreach": True}, {})
        for fast in options:
            try:
                return cls(model.parameters(), lr=lr, **fast)  # type: ignore[call-arg]
            except (RuntimeError, TypeError, ValueError):  # not for this device or torch
                continue
    if callable(optimizer):
        made = optimizer(model.parameters())
        if isinstance(made, torch.optim.Optimizer):
            return made
    raise InvalidTypeError(f"optimizer must be a name {list(OPTIMIZERS)}, an Optimizer, or a "
                           f"callable returning one; got {optimizer!r}")
