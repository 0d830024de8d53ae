"""Backpropagation by hand at matrix scale: the chain rule of the assignment's section 1, for
whole layers, as the fast path of :func:`~nnfoundations.training.loop.fit`.

For a model that :func:`~nnfoundations.training.model.build_model` makes (``Linear``,
``ReLU`` and ``Dropout`` blocks ending in a ``Linear``) under cross-entropy, with a batch
``H₀ = X`` of ``B`` rows:

* forward, layer ``l``: ``Z_l = H_{l-1} W_lᵀ + b_l``, then ``H_l = ReLU(Z_l) ⊙ M_l`` for a
  hidden layer (``M_l`` the dropout mask, scaled by ``1/(1-p)``; all ones without dropout);
* the loss's gradient at the logits: ``δ_L = (softmax(Z_L) − onehot(y)) / B``;
* backward, layer ``l``: ``∂L/∂W_l = δ_lᵀ H_{l-1}``, ``∂L/∂b_l = Σ_rows δ_l`` and
  ``δ_{l-1} = (δ_l W_l) ⊙ M_{l-1} ⊙ 1[Z_{l-1} > 0]``.

Every product and activation writes into buffers allocated once (``out=`` forms and
in-place masks), the gradients land in each parameter's ``.grad``, and the update is the
run's own optimizer (torch's fused kernel for one given by name), so checkpoints, resume
and early stopping see exactly what the autograd path gives them. Dropout draws its mask
with the same call as ``nn.Dropout`` on the CPU, so both paths draw the same masks there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn.modules import module as _module

from nnfoundations.training.step import Sync
from nnfoundations.training.telemetry import Telemetry

#: The optimizers whose ``step()`` only reads ``.grad``: the matrix path can feed them.
SUPPORTED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
_threshold_backward = torch.ops.aten.threshold_backward.grad_input
_CODES = {nn.Linear: "L", nn.ReLU: "R", nn.Dropout: "D"}
_EMPTY = torch.empty(0)


@dataclass
class _Layer:
    """One Linear layer, the ReLU and Dropout after it, and its buffers."""

    weight: torch.Tensor  # detached aliases of the parameters: the optimizer updates them
    bias: torch.Tensor
    grad_weight: torch.Tensor
    grad_bias: torch.Tensor
    relu: str | None = None  # the ReLU module's name; None for the output layer
    dropout: float = 0.0
    out: torch.Tensor = _EMPTY  # Z, then H in place; (rows, out_features)
    mask: torch.Tensor | None = None  # the dropout mask, scaled by 1/(1-p)
    grad_in: torch.Tensor | None = None  # δ of this layer's input; None for the first layer
    inputs: torch.Tensor = _EMPTY  # H_{l-1} of the current step


def unsupported(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer) \
        -> str | None:
    """Why the matrix path cannot train this model, loss and optimizer; None if it can."""
    if type(loss_fn) is not nn.CrossEntropyLoss or loss_fn.weight is not None \
            or loss_fn.reduction != "mean" or loss_fn.label_smoothing != 0.0:
        return f"the loss {loss_fn!r} is not a plain mean CrossEntropyLoss()"
    if type(optimizer) not in SUPPORTED_OPTIMIZERS:
        return f"the optimizer {type(optimizer).__name__} is not Adam, AdamW or SGD"
    if type(model) is not nn.Sequential:
        return f"the model is a {type(model).__name__}, not an nn.Sequential"
    codes = "".join(_CODES.get(type(m), "?") for m in model)
    if not re.fullmatch(r"(LRD?)*L", codes):
        return "its layers are not Linear → ReLU → (Dropout) blocks ending in a Linear"
    if any(isinstance(m, nn.Linear) and m.bias is None for m in model):
        return "a Linear layer has no bias"
    if any(isinstance(m, nn.Dropout) and m.p >= 1 for m in model):
        return "a Dropout drops everything (p=1)"
    params = list(model.parameters())
    if not all(p.requires_grad for p in params) or not params[0].is_floating_point() \
            or len({(p.device, p.dtype) for p in params}) != 1:
        return "its parameters are not all trainable floats of one dtype on one device"
    if any(map(_has_hooks, [loss_fn, *model.modules()])) or _global_hooks():
        return "hooks are registered, which only the modules' own forward pass would run"
    return None


def _has_hooks(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)


def _global_hooks() -> bool:
    return bool(_module._global_forward_hooks or _module._global_forward_pre_hooks
                or _module._global_backward_hooks or _module._global_backward_pre_hooks)


class MatrixBackprop:
    """The training step of the matrix path, for a model that :func:`unsupported` accepts.

    Args:
        model: the network; its parameters get ``.grad`` tensors, reused every step.
        optimizer: the run's optimizer over the model's parameters.
        rows: the largest batch expected; a larger one grows the buffers.
    """

    def __init__(self, model: nn.Sequential, optimizer: torch.optim.Optimizer,
                 rows: int) -> None:
        self.optimizer, self.layers, self.rows = optimizer, [], 0
        model.train()  # as the autograd step leaves it: the masks are drawn here regardless
        for name, module in model.named_children():
            if isinstance(module, nn.Linear):
                weight, bias = module.weight, module.bias
                weight.grad, bias.grad = torch.zeros_like(weight), torch.zeros_like(bias)
                self.layers.append(_Layer(weight.detach(), bias.detach(), weight.grad,
                                          bias.grad))
            elif isinstance(module, nn.ReLU):
                self.layers[-1].relu = name
            elif isinstance(module, nn.Dropout):
                self.layers[-1].dropout = module.p
        self._allocate(rows)

    def _allocate(self, rows: int) -> None:
        """Allocate every buffer for batches of up to ``rows`` rows."""
        for k, layer in enumerate(self.layers):
            layer.out = layer.weight.new_empty((rows, layer.weight.shape[0]))
            layer.mask = torch.empty_like(layer.out) if layer.dropout > 0 else None
            layer.grad_in = layer.weight.new_empty((rows, layer.weight.shape[1])) \
                if k > 0 else None
        self.minus_one = self.layers[-1].out.new_full((rows, 1), -1.0)
        self.picked = self.layers[-1].out.new_empty((rows, 1))
        self.rows = rows

    def step(self, X: torch.Tensor, y: torch.Tensor, telemetry: Telemetry | None = None,
             first_epoch: bool = False, sync: Sync | None = None) -> torch.Tensor:
        """One step on the batch ``(X, y)``: forward, the chain rule, the update; ``sync``
        (data-parallel training) makes the gradients the global batch's first.

        Returns:
            The batch's mean loss, as a detached tensor on the model's device.
        """
        if len(X) > self.rows:
            self._allocate(len(X))
        if telemetry is None:
            loss = self._gradients(X, y, None)
        else:
            with telemetry.forward(X, first_epoch):
                loss = self._gradients(X, y, telemetry)
        if sync is not None:
            loss = sync(loss, len(X))
        if telemetry is not None:
            telemetry.before_update()
        self.optimizer.step()
        if telemetry is not None:
            telemetry.after_update()
        return loss

    def _gradients(self, X: torch.Tensor, y: torch.Tensor,
                   telemetry: Telemetry | None) -> torch.Tensor:
        """The forward pass, then every parameter's gradient into its ``.grad``."""
        n = len(X)
        logits = self._forward(X, telemetry)
        torch.log_softmax(logits, 1, out=logits)
        picked = torch.gather(logits, 1, y.unsqueeze(1), out=self.picked[:n])
        loss = picked.mean().neg_()
        delta = logits.exp_()  # softmax(Z_L), then δ_L = (softmax − onehot(y)) / B
        delta.scatter_add_(1, y.unsqueeze(1), self.minus_one[:n]).div_(n)
        self._backward(delta, n)
        return loss

    def _forward(self, X: torch.Tensor, telemetry: Telemetry | None) -> torch.Tensor:
        h = X
        for layer in self.layers:
            layer.inputs, z = h, layer.out[: len(X)]
            torch.addmm(layer.bias, h, layer.weight.t(), out=z)
            if layer.relu is not None:
                z.relu_()
                if telemetry is not None:
                    telemetry.relu_output(layer.relu, z)
                if layer.mask is not None:  # as nn.Dropout draws it: same RNG, same masks
                    mask = layer.mask[: len(X)].bernoulli_(1 - layer.dropout)
                    z.mul_(mask.div_(1 - layer.dropout))
            h = z
        return h

    def _backward(self, delta: torch.Tensor, n: int) -> None:
        for k in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[k]
            torch.mm(delta.t(), layer.inputs, out=layer.grad_weight)
            torch.sum(delta, 0, out=layer.grad_bias)
            layer.inputs = _EMPTY
            if layer.grad_in is None:
                return
            below = self.layers[k - 1]
            delta = torch.mm(delta, layer.weight, out=layer.grad_in[:n])
            if below.mask is not None:
                delta.mul_(below.mask[:n])
            _threshold_backward(delta, below.out[:n], 0, grad_input=delta)  # ⊙ 1[Z > 0]
