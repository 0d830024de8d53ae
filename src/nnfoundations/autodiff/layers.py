"""The chain rule for whole layers: the matrix backward pass of a small network, written
out with the shape of every factor and evaluated in plain Python.

This is section 1's chain rule, one layer at a time instead of one weight at a time, and
the same formulas as the training wing's matrix path
(:mod:`nnfoundations.training.backprop`). Rows are examples; ``W_l`` is
``(out × in)``, as ``nn.Linear`` stores it:

* forward: ``Z_l = H_{l-1} W_lᵀ + 1 b_lᵀ``, ``H_l = ReLU(Z_l)`` for a hidden layer;
* backward: ``δ_l = ∂L/∂Z_l``; ``∂L/∂W_l = δ_lᵀ H_{l-1}``; ``∂L/∂b_l = 1ᵀ δ_l``;
  ``∂L/∂H_{l-1} = δ_l W_l``; ``δ_{l-1} = ∂L/∂H_{l-1} ⊙ 1[Z_{l-1} > 0]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import cast

from nnfoundations._errors import InvalidValueError
from nnfoundations._format import fmt

Matrix = list[list[float]]
#: ``(B × out)`` target values for squared error; B class indices for cross-entropy.
Target = Sequence[Sequence[float]] | Sequence[int]


class Loss(StrEnum):
    """The losses the explanation knows, with their gradient at the output."""

    SQUARED = "squared error"  # L = Σ (Ŷ − Y)² / B: the assignment's 1.2
    CROSS_ENTROPY = "cross-entropy"  # L = −Σ log softmax(Z)[y] / B: fit()'s


@dataclass(frozen=True)
class Dense:
    """One layer: ``Z = H Wᵀ (+ b)``, then ReLU unless it is the output layer.

    Attributes:
        weight: ``(out × in)`` rows of weights; ``weight[k][j]`` joins input j to unit k.
        bias: one per unit, or None for none (the assignment's network has none).
        relu: whether ReLU follows.
    """

    weight: Matrix
    bias: list[float] | None = None
    relu: bool = True


@dataclass
class LayerPass:
    """What the forward and backward passes give one layer (all ``B`` rows)."""

    inputs: Matrix  # H_{l-1}
    z: Matrix
    h: Matrix
    delta: Matrix = field(default_factory=list)  # ∂L/∂Z_l
    grad_h_below: Matrix | None = None  # ∂L/∂H_{l-1}; None for the first layer
    grad_weight: Matrix = field(default_factory=list)
    grad_bias: list[float] | None = None


def matmul(a: Matrix, b: Matrix) -> Matrix:
    """``a b`` for lists of rows."""
    columns = list(zip(*b, strict=True)) if b else []
    return [[math.fsum(x * y for x, y in zip(row, col, strict=True)) for col in columns]
            for row in a]


def transpose(a: Matrix) -> Matrix:
    """``aᵀ``."""
    return [list(col) for col in zip(*a, strict=True)]


def backprop(layers: Sequence[Dense], X: Matrix, target: Target,
             loss: Loss) -> tuple[float, list[LayerPass]]:
    """Run the forward pass and the matrix chain rule on a batch.

    Args:
        layers: the network, input side first; the last one is the output layer.
        X: the batch, ``(B × in)``.
        target: ``(B × out)`` values for squared error; B class indices for cross-entropy.
        loss: which loss, averaged over the ``B`` rows.

    Returns:
        The loss and each layer's values and gradients.
    """
    passes, h = [], X
    for layer in layers:
        z = matmul(h, transpose(layer.weight))
        if layer.bias is not None:
            z = [[v + b for v, b in zip(row, layer.bias, strict=True)] for row in z]
        passes.append(LayerPass(h, z, [[max(v, 0.0) for v in row] for row in z]
                                if layer.relu else z))
        h = passes[-1].h
    value, delta = _loss_and_delta(h, target, loss)
    for k in range(len(layers) - 1, -1, -1):
        p = passes[k]
        p.delta = delta
        p.grad_weight = matmul(transpose(delta), p.inputs)
        p.grad_bias = [math.fsum(col) for col in zip(*delta, strict=True)] \
            if layers[k].bias is not None else None
        if k > 0:
            p.grad_h_below = matmul(delta, layers[k].weight)
            below = passes[k - 1]
            delta = [[g if z > 0 else 0.0 for g, z in zip(g_row, z_row, strict=True)]
                     for g_row, z_row in zip(p.grad_h_below, below.z, strict=True)]
    return value, passes


def _loss_and_delta(out: Matrix, target: Target, loss: Loss) -> tuple[float, Matrix]:
    B = len(out)
    if loss is Loss.SQUARED:
        rows = cast(Sequence[Sequence[float]], target)
        diff = [[o - t for o, t in zip(o_row, t_row, strict=True)]
                for o_row, t_row in zip(out, rows, strict=True)]
        return (math.fsum(d * d for row in diff for d in row) / B,
                [[2 * d / B for d in row] for row in diff])
    value, delta = 0.0, []
    for row, label in zip(out, cast(Sequence[int], target), strict=True):
        top = max(row)
        exps = [math.exp(v - top) for v in row]
        total = math.fsum(exps)
        value += math.log(total) + top - row[label]
        delta.append([(e / total - (j == label)) / B for j, e in enumerate(exps)])
    return value / B, delta


def _shape(a: Matrix) -> str:
    return f"({len(a)}×{len(a[0])})"


def _values(a: Matrix) -> str:
    return "[" + ", ".join("[" + ", ".join(map(fmt, row)) + "]" for row in a) + "]"


def explain_layers(layers: Sequence[Dense], X: Matrix, target: Target, loss: Loss,
                   names: Mapping[tuple[int, int, int], str] | None = None) -> str:
    """The matrix forward and backward pass of a network on a batch, as text: each formula,
    the shapes of its factors, and its value.

    Args:
        layers, X, target, loss: as for :func:`backprop`.
        names: a name for some weights, by ``(layer, row, column)`` from 1 (the assignment's
            ``w21`` is ``(1, 2, 1)``), to read their gradients off at the end.

    Example:
        >>> print(explain_layers([Dense([[2.0]], relu=False)], [[1.0]], [[3.0]],
        ...                      Loss.SQUARED).splitlines()[-1])
          ∂L/∂W1 = δ1ᵀ X                (1×1) = (1×1)ᵀ(1×1)   [[-2]]
    """
    _check(layers, X)
    value, passes = backprop(layers, X, target, loss)
    n, lines = len(layers), [_title(layers, loss, len(X)), "", "forward:"]
    rows: list[tuple[str, str, str]] = []
    for k, (layer, p) in enumerate(zip(layers, passes, strict=True), start=1):
        below = "X" if k == 1 else f"H{k - 1}"
        bias = f" + 1 b{k}ᵀ" if layer.bias is not None else ""
        rows.append((f"Z{k} = {below} W{k}ᵀ{bias}",
                     f"{_shape(p.z)} = {_shape(p.inputs)}{_shape(layer.weight)}ᵀ", _values(p.z)))
        if layer.relu:
            rows.append((f"H{k} = ReLU(Z{k})", _shape(p.h), _values(p.h)))
    rows.append((_loss_formula(loss, n), "scalar", fmt(value)))
    lines += _aligned(rows) + ["", "backward (the chain rule, one layer at a time):"]
    lines += _aligned(_backward_rows(layers, passes, loss))
    return "\n".join(lines + _read_off(passes, names or {}))


def _check(layers: Sequence[Dense], X: Matrix) -> None:
    if not layers or not X:
        raise InvalidValueError("explain_layers needs at least one layer and one row")
    width = len(X[0])
    for k, layer in enumerate(layers, start=1):
        if any(len(row) != width for row in layer.weight):
            raise InvalidValueError(f"layer {k}'s weights do not take {width} inputs")
        width = len(layer.weight)


def _title(layers: Sequence[Dense], loss: Loss, rows: int) -> str:
    widths = [str(len(layers[0].weight[0]))] + [
        f"{len(layer.weight)}{' (ReLU)' if layer.relu else ''}" for layer in layers]
    return (f"The chain rule for whole layers: {' → '.join(widths)}, {loss.value}, a batch "
            f"of B = {rows} row{'s' if rows != 1 else ''}. Rows are examples; W is "
            "(out × in), as nn.Linear stores it.")


def _loss_formula(loss: Loss, n: int) -> str:
    if loss is Loss.SQUARED:
        return f"L = Σ (Z{n} − Y)² / B"
    return f"L = −Σ log softmax(Z{n})[y] / B"


def _backward_rows(layers: Sequence[Dense], passes: list[LayerPass],
                   loss: Loss) -> list[tuple[str, str, str]]:
    n = len(layers)
    start = f"2(Z{n} − Y) / B" if loss is Loss.SQUARED else f"(softmax(Z{n}) − onehot(y)) / B"
    rows = [(f"δ{n} = ∂L/∂Z{n} = {start}", _shape(passes[-1].delta),
             _values(passes[-1].delta))]
    for k in range(n, 0, -1):
        p, below = passes[k - 1], "X" if k == 1 else f"H{k - 1}"
        rows.append((f"∂L/∂W{k} = δ{k}ᵀ {below}",
                     f"{_shape(p.grad_weight)} = {_shape(p.delta)}ᵀ{_shape(p.inputs)}",
                     _values(p.grad_weight)))
        if p.grad_bias is not None:
            rows.append((f"∂L/∂b{k} = 1ᵀ δ{k}", _shape([p.grad_bias]), _values([p.grad_bias])))
        if p.grad_h_below is not None:
            rows.append((f"∂L/∂H{k - 1} = δ{k} W{k}",
                         f"{_shape(p.grad_h_below)} = {_shape(p.delta)}"
                         f"{_shape(layers[k - 1].weight)}", _values(p.grad_h_below)))
            rows.append((f"δ{k - 1} = ∂L/∂H{k - 1} ⊙ 1[Z{k - 1} > 0]",
                         f"{_shape(passes[k - 2].delta)}", _values(passes[k - 2].delta)))
    return rows


def _aligned(rows: list[tuple[str, str, str]]) -> list[str]:
    wide = [max(len(r[i]) for r in rows) for i in (0, 1)]
    return [f"  {a:<{wide[0]}}   {b:<{wide[1]}}   {c}" for a, b, c in rows]


def _read_off(passes: list[LayerPass], names: Mapping[tuple[int, int, int], str]) -> list[str]:
    """Each named weight's gradient, and why a dead unit's incoming weights get none."""
    lines = []
    for (k, row, col), name in names.items():
        p = passes[k - 1]
        grad = p.grad_weight[row - 1][col - 1]
        lines.append(f"  ∂L/∂{name} = (∂L/∂W{k})[{row},{col}] = δ{k}[:,{row}]ᵀ "
                     f"{'X' if k == 1 else f'H{k - 1}'}[:,{col}] = {fmt(grad)}")
    for k, p in enumerate(passes[:-1], start=1):
        for unit in range(len(p.z[0])):
            if all(row[unit] <= 0 for row in p.z):
                lines.append(f"  unit {unit + 1} of layer {k} is inactive (Z{k}[:,{unit + 1}] "
                             f"= [{', '.join(fmt(row[unit]) for row in p.z)}] ≤ 0): 1[Z{k} > 0] "
                             f"zeroes column {unit + 1} of δ{k}, so row {unit + 1} of "
                             f"∂L/∂W{k} is zero")
    return ["", "reading it off:", *lines] if lines else []
