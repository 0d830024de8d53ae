"""Cheap per-epoch telemetry for the diagnosis's findings, taken on one step per epoch.

On the epoch's first step it records each Linear layer's gradient norm (after the backward
pass), the size of the update against the weights (‖ΔW‖/‖W‖, across the optimizer's step),
the share of each ReLU layer's units that fired for no row of the batch, and, in the first
epoch, the scale of the inputs. One observed step in a few hundred costs well under 1% of an
epoch (``make bench`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn as nn

from nnfoundations.history import StopKind
from nnfoundations.training.hooks import FitState, Hook


class Telemetry:
    """Collects one record per epoch; :meth:`forward`, :meth:`before_update` and
    :meth:`after_update` bracket the step it watches."""

    def __init__(self, model: nn.Module) -> None:
        self.linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
        self.relus = {n: m for n, m in model.named_modules() if isinstance(m, nn.ReLU)}
        self.record: dict[str, Any] = {}
        self._dead: dict[str, float] = {}
        self._before: dict[str, torch.Tensor] = {}

    @contextmanager
    def forward(self, X: torch.Tensor, first_epoch: bool) -> Iterator[None]:
        """Around the observed step's forward and backward pass: which ReLU units fire.

        A module's forward pass reports its ReLUs' outputs through hooks; the matrix path,
        which calls no module, reports them with :meth:`relu_output`.
        """
        self.record = {}
        if first_epoch:
            flat = X.detach().double()
            self.record.update(input_mean=flat.mean().item(), input_std=flat.std().item()
                               if flat.numel() > 1 else 0.0,
                               input_max_abs=flat.abs().max().item())
        self._dead = {}
        handles = [m.register_forward_hook(self._hook(n)) for n, m in self.relus.items()]
        try:
            yield
        finally:
            for h in handles:
                h.remove()
        self.record["dead_relu"] = self._dead

    def _hook(self, name: str) -> Callable[[nn.Module, object, torch.Tensor], None]:
        return lambda module, inputs, out: self.relu_output(name, out)

    def relu_output(self, name: str, out: torch.Tensor) -> None:
        """Record the share of the ReLU ``name``'s units that fired for no row of ``out``."""
        fired = (out.detach() > 0).flatten(1).any(dim=0)
        self._dead[name] = 1.0 - fired.double().mean().item()

    def before_update(self) -> None:
        """After the backward pass: the gradient norms, and the weights before the update."""
        self.record["grad_norm"] = {n: _norm(m.weight.grad, m.bias.grad if m.bias is not None
                                             else None) for n, m in self.linears.items()}
        self._before = {n: m.weight.detach().clone() for n, m in self.linears.items()}

    def after_update(self) -> None:
        """After the optimizer's step: each layer's update against its weights."""
        ratios = {}
        for n, m in self.linears.items():
            size = self._before[n].norm().item()
            ratios[n] = (m.weight.detach() - self._before[n]).norm().item() / size \
                if size > 0 else 0.0
        self.record["update_ratio"] = ratios
        self._before = {}


class Observe(Hook):
    """The telemetry hook: one observed step, the first of each epoch, recorded in
    ``history.telemetry`` when the epoch completes, or when it ended the run by blowing up
    (the findings read its norms)."""

    def __init__(self, model: nn.Module) -> None:
        self.telemetry = Telemetry(model)

    def on_epoch_start(self, state: FitState) -> None:
        """Forget the last epoch's record."""
        self.telemetry.record = {}

    def on_step_start(self, state: FitState) -> None:
        """Watch the epoch's first step only."""
        state.watch = self.telemetry if state.step == 0 else None

    def on_epoch_end(self, state: FitState) -> None:
        """Keep the epoch's record."""
        state.history.telemetry.append(self.telemetry.record)

    def on_fit_end(self, state: FitState) -> None:
        """Keep what the step of an epoch that blew up saw."""
        if state.history.stop_kind is StopKind.NON_FINITE and self.telemetry.record \
                and len(state.history.telemetry) < state.epoch:
            state.history.telemetry.append(self.telemetry.record)


def _norm(*grads: torch.Tensor | None) -> float:
    present = [g for g in grads if g is not None]
    if not present:
        return 0.0
    return float(torch.stack([g.double().square().sum() for g in present]).sum().sqrt().item())
