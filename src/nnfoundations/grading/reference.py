"""What the grader asks a submission's section-2 functions, and what they should answer.

Every grading draws fresh inputs (layer sizes, weights, batches, from the operating
system's randomness), so that no answer can be known before the grading starts. The child
process only runs the student's functions on them and returns what they produced, as data;
the expected results are computed here, in the grader, in plain Python with our own
autodiff engine (:mod:`nnfoundations.autodiff`), and never enter the child.

The networks are small (a few inputs, one hidden ReLU layer, three or four classes) and
their values are float32 numbers, so that the child's torch holds them exactly.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nnfoundations.autodiff.engine import Value

Matrix = list[list[float]]
#: A pre-activation or a top-two logit gap closer than this to a tie is drawn again, so that
#: float32 (the child) and float64 (here) agree on every ReLU and every argmax.
MARGIN = 1e-3
#: The learning rate of the probed SGD steps.
LR = 0.1


def f32(x: float) -> float:
    """``x`` rounded to the nearest float32, as the child's tensors will hold it."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


@dataclass(frozen=True)
class Net:
    """A network of Linear layers with ReLU between them (and Dropout after each ReLU).

    Attributes:
        layers: each layer's ``(weight, bias)``, the weight as ``out × in`` rows.
        dropout: the Dropout rate after each ReLU (0 for none).
    """

    layers: tuple[tuple[Matrix, list[float]], ...]
    dropout: float = 0.0

    def as_data(self) -> dict[str, Any]:
        """The form the child builds its ``nn.Sequential`` from."""
        return {"layers": [[w, b] for w, b in self.layers], "dropout": self.dropout}

    def flat(self) -> list[list[float]]:
        """Each parameter flattened, in ``model.parameters()`` order."""
        return [p for w, b in self.layers for p in ([x for row in w for x in row], b)]


def draw_net(rng: random.Random, sizes: Sequence[int], dropout: float = 0.0) -> Net:
    """A network of the given widths, initialised as ``nn.Linear`` does (uniform in
    ±1/√fan_in)."""
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        bound = 1 / math.sqrt(n_in)
        weight = [[f32(rng.uniform(-bound, bound)) for _ in range(n_in)] for _ in range(n_out)]
        layers.append((weight, [f32(rng.uniform(-bound, bound)) for _ in range(n_out)]))
    return Net(tuple(layers), dropout)


def draw_batch(rng: random.Random, rows: int, width: int, classes: int) -> tuple[Matrix,
                                                                                 list[int]]:
    """Standard normal inputs and uniformly drawn labels."""
    X = [[f32(rng.gauss(0, 1)) for _ in range(width)] for _ in range(rows)]
    return X, [rng.randrange(classes) for _ in range(rows)]


# -- forward, loss, one SGD step ---------------------------------------------------------------

def _layer(w: Sequence[Sequence[Any]], b: Sequence[Any], x: Sequence[Any]) -> list[Any]:
    return [sum((wi * xi for wi, xi in zip(row, x, strict=True)), bias)
            for row, bias in zip(w, b, strict=True)]


def pre_activations(net: Net, x: Sequence[float]) -> tuple[list[list[float]], list[float]]:
    """Each hidden layer's pre-activations and the logits, for one input (eval mode)."""
    hidden = []
    for w, b in net.layers[:-1]:
        z = _layer(w, b, x)
        hidden.append(z)
        x = [max(v, 0.0) for v in z]
    w, b = net.layers[-1]
    return hidden, _layer(w, b, x)


def _cross_entropy(logits: Sequence[Any], label: int) -> Any:
    """``log Σ exp(z) − z_label``, shifted by the largest logit for stability."""
    top = max(float(getattr(z, "data", z)) for z in logits)
    total = sum(((z - top).exp() if isinstance(z, Value) else math.exp(z - top)
                 for z in logits), 0.0)
    log_total = total.log() if isinstance(total, Value) else math.log(total)
    return log_total + top - logits[label]


def loss_and_correct(net: Net, X: Matrix, y: list[int]) -> tuple[float, int]:
    """The mean cross-entropy over the batch and how many rows the argmax gets right."""
    total, correct = 0.0, 0
    for x, label in zip(X, y, strict=True):
        logits = pre_activations(net, x)[1]
        total += _cross_entropy(logits, label)
        correct += int(max(range(len(logits)), key=logits.__getitem__) == label)
    return total / len(y), correct


def well_separated(net: Net, X: Matrix) -> bool:
    """No ReLU input and no top-two logit gap within :data:`MARGIN` of a tie."""
    for x in X:
        hidden, logits = pre_activations(net, x)
        top_two = sorted(logits)[-2:]
        if top_two[1] - top_two[0] < MARGIN or any(abs(v) < MARGIN for z in hidden for v in z):
            return False
    return True


def sgd_step(net: Net, X: Matrix, y: list[int], lr: float) -> Net:
    """The network after one step of plain SGD on the batch's mean cross-entropy, its
    gradient from our own engine."""
    params = [([[Value(v) for v in row] for row in w], [Value(v) for v in b])
              for w, b in net.layers]
    total: Any = 0.0
    for x, label in zip(X, y, strict=True):
        h: list[Any] = list(x)
        for k, (w, b) in enumerate(params):
            h = _layer(w, b, h)
            h = [v.relu() for v in h] if k < len(params) - 1 else h
        total = total + _cross_entropy(h, label)
    loss = total / len(y)
    loss.backward()
    stepped = tuple(([[v.data - lr * v.grad for v in row] for row in w],
                     [v.data - lr * v.grad for v in b]) for w, b in params)
    return Net(stepped, net.dropout)


def distance(observed: Sequence[Sequence[float]], expected: Sequence[Sequence[float]]) -> float:
    """The largest difference between two parameter lists, relative to each expected
    parameter's size; infinite where their shapes differ.

    Raises:
        TypeError: ``observed`` is not a list of lists of numbers (a malformed report).
    """
    if len(observed) != len(expected) or any(len(o) != len(e) for o, e in
                                             zip(observed, expected, strict=True)):
        return math.inf
    return max((max(abs(float(a) - b) for a, b in zip(o, e, strict=True)) /
                max(max(abs(b) for b in e), 1e-12) for o, e in zip(observed, expected,
                                                                  strict=True)), default=0.0)


# -- what the child is asked ------------------------------------------------------------------

def draw_inputs(rng: random.Random) -> dict[str, Any]:
    """Fresh inputs for the three probes, as the child receives them."""
    return {"build_model": {"shapes": _shapes(rng)},
            "train_one_step": _train_inputs(rng), "evaluate": _evaluate_inputs(rng)}


def _shapes(rng: random.Random) -> list[list[Any]]:
    """``build_model`` calls: two hidden layers, one, none and three, with and without
    dropout."""
    def width() -> int:
        return rng.randint(2, 160)

    def rate() -> float:
        return rng.randint(1, 9) / 10

    return [[rng.randint(10, 800), [width(), width()], rng.randint(2, 12), 0.0],
            [rng.randint(2, 20), [width()], rng.randint(2, 12), 0.0],
            [rng.randint(10, 800), [width(), width()], rng.randint(2, 12), rate()],
            [rng.randint(2, 20), [width(), width()], rng.randint(2, 12), rate()],
            [rng.randint(2, 20), [width(), width(), width()], rng.randint(2, 12), 0.0],
            [rng.randint(2, 20), [], rng.randint(2, 12), 0.0]]


def _train_inputs(rng: random.Random) -> dict[str, Any]:
    """A batch and a network whose two SGD steps stay clear of every tie."""
    sizes = [rng.randint(3, 6), rng.randint(4, 8), rng.randint(3, 4)]
    while True:
        net = draw_net(rng, sizes)
        X, y = draw_batch(rng, 12, sizes[0], sizes[-1])
        one = sgd_step(net, X, y, LR)
        if all(well_separated(n, X) for n in (net, one, sgd_step(one, X, y, LR))):
            return {"net": net.as_data(), "X": X, "y": y, "lr": LR}


def _evaluate_inputs(rng: random.Random) -> dict[str, Any]:
    """A batch, a plain network and a network with dropout 0.5, both clear of ties."""
    n_in, classes = rng.randint(3, 6), rng.randint(3, 4)
    while True:
        plain = draw_net(rng, [n_in, rng.randint(8, 16), classes])
        dropped = draw_net(rng, [n_in, rng.randint(16, 32), classes], dropout=0.5)
        X, y = draw_batch(rng, 60, n_in, classes)
        if well_separated(plain, X) and well_separated(dropped, X):
            return {"plain": plain.as_data(), "dropout": dropped.as_data(), "X": X, "y": y}


def net_of(data: dict[str, Any]) -> Net:
    """The :class:`Net` that :meth:`Net.as_data` wrote."""
    return Net(tuple((w, b) for w, b in data["layers"]), data["dropout"])
