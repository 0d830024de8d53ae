"""Section 1.3: why backpropagation is cheap, in operation counts.

For an MLP as the assignment's 1.2 draws it (ReLU hidden layers, a linear output, squared error,
no biases) built from :class:`Value` nodes, we count elementary operations:

* **forward**: one per computed node of the graph;
* **backward**: one multiply-accumulate per edge (``parent.grad += local · node.grad``), which
  yields *every* weight's gradient in one sweep, sharing the upstream factors;
* **independent chains**: for each weight on its own, the reverse sweep over just the part of
  the graph between the loss and that weight, sharing nothing between weights;
* **finite differences**: one extra forward pass per weight (forward differences).

:func:`count_cost` computes the four counts by formula from the layer sizes, in
microseconds for any size; :func:`count_by_graph` counts them on the built graph, for small
networks, and is the formulas' test oracle: the two agree exactly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.autodiff.engine import Value, dependents


@dataclass(frozen=True)
class Cost:
    """Operation counts for one architecture; ratios are to one forward pass."""

    sizes: tuple[int, ...]
    weights: int
    forward: int
    backward: int
    independent: int
    finite_differences: int

    def ratios(self) -> dict[str, float]:
        """Each count divided by the forward pass's."""
        return {k: getattr(self, k) / self.forward
                for k in ("backward", "independent", "finite_differences")}


def value_mlp(sizes: Sequence[int], seed: int = 0) -> tuple[Value, list[Value]]:
    """Build the squared-error loss of a bias-free ReLU MLP on one random example.

    Returns:
        The loss node and the weight leaves.
    """
    sizes = _sizes(sizes)
    rng = random.Random(seed)
    layer = [Value(rng.uniform(-1, 1), f"x{j + 1}") for j in range(sizes[0])]
    weights: list[Value] = []
    for depth, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False), 1):
        out = []
        for k in range(n_out):
            w = [Value(rng.uniform(-1, 1), f"w{depth}_{k + 1}{j + 1}") for j in range(n_in)]
            weights += w
            z = w[0] * layer[0]
            for wj, xj in zip(w[1:], layer[1:], strict=True):
                z = z + wj * xj
            out.append(z.relu() if depth < len(sizes) - 1 else z)
        layer = out
    loss = (layer[0] - rng.uniform(-1, 1)) ** 2
    for unit in layer[1:]:
        loss = loss + (unit - rng.uniform(-1, 1)) ** 2
    return loss, weights


def count_by_graph(sizes: Sequence[int], seed: int = 0) -> Cost:
    """Count the four operation counts on the graph :func:`value_mlp` builds (small sizes:
    the graph has one node per operation, and the chains cost a sweep per weight).

    Example:
        >>> c = count_by_graph([2, 2, 1]); (c.weights, c.forward, c.backward)
        (6, 13, 23)
    """
    loss, weights = value_mlp(sizes, seed)
    order = loss.topological_order()
    forward = sum(1 for n in order if n.parents)
    backward = sum(len(n.parents) for n in order)
    independent = sum(_edges_between(order, w) for w in weights)
    return Cost(tuple(sizes), len(weights), forward, backward, independent,
                forward * (len(weights) + 1))


def _edges_between(order: list[Value], wrt: Value) -> int:
    """Edges on some path from the loss down to ``wrt``: one weight's own reverse sweep."""
    depends = dependents(order, wrt)
    return sum(1 for n in order if id(n) in depends for p in n.parents if id(p) in depends)


def count_cost(sizes: Sequence[int]) -> Cost:
    """The four operation counts of :func:`value_mlp`'s network, by formula.

    Layer ``l`` maps ``m`` inputs to ``n`` units, each unit one product per input and
    ``m − 1`` additions (and a ReLU when hidden); the loss adds a subtraction and a square
    per output and sums them. Backpropagation visits each edge of that graph once. One
    weight's own chain visits only the edges of the nodes that depend on it: its unit's
    remaining additions, and everything after that unit.

    Raises:
        InvalidValueError: fewer than two sizes, or counts beyond a 64-bit integer.

    Example:
        >>> c = count_cost([784, 128, 10]); (c.weights, c.backward)
        (101632, 406428)
    """
    n = _sizes(sizes)
    hidden = [1] * (len(n) - 2) + [0]  # a ReLU after each layer but the last
    layers = list(zip(n[:-1], n[1:], hidden, strict=True))
    forward = sum(o * (2 * i - 1 + r) for i, o, r in layers) + 3 * n[-1] - 1
    backward = sum(o * (4 * i - 2 + r) for i, o, r in layers) + 5 * n[-1] - 2
    full = _full_sweeps(layers, loss=4 * n[-1] - 2)
    independent = 0
    for k, (i, o, r) in enumerate(layers):
        independent += o * (i * (1 + r) + _chain(i))  # within the weight's own unit
        if k + 1 < len(layers):
            i2, o2, r2 = layers[k + 1]
            independent += i * (o2 * (i2 * (1 + r2) + _chain(i2)) + o * full[k + 2])
        else:
            independent += i * (2 * o + _chain(o))  # its output's square and the sum
    weights = sum(i * o for i, o, _ in layers)
    cost = Cost(tuple(n), weights, forward, backward, independent, forward * (weights + 1))
    _fits_int64(cost)
    return cost


def _chain(m: int) -> int:
    """Edges of the additions ``t_k = t_(k−1) + p_k`` that depend on one of ``m`` terms,
    summed over the terms: term 0 and 1 reach all ``m − 1`` additions, term ``j`` ``m − j``.
    """
    return (m - 1) + m * (m - 1) // 2


def _full_sweeps(layers: list[tuple[int, int, int]], loss: int) -> list[int]:
    """For each layer index ``l``, the edges from layer ``l`` on, the loss's ``loss``
    included, when every input of layer ``l`` depends on the weight (each unit: a product per
    input, two per addition, one ReLU)."""
    sweeps = [0] * len(layers) + [loss]
    for k in reversed(range(len(layers))):
        i, o, r = layers[k]
        sweeps[k] = sweeps[k + 1] + o * (3 * i - 2 + r)
    return sweeps


def _sizes(sizes: Sequence[int]) -> list[int]:
    n = [_checks.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    if len(n) < 2:
        raise InvalidValueError(f"sizes needs an input and an output size, got {n}")
    return n


def _fits_int64(cost: Cost) -> None:
    biggest = max(cost.forward, cost.backward, cost.independent, cost.finite_differences)
    if biggest >= 2**63:
        raise InvalidValueError(f"sizes {list(cost.sizes)} give counts up to {biggest:.3e}, "
                                "beyond a 64-bit integer (2^63); choose smaller layers")


#: The table's columns, and what each counts (printed under it).
COLUMNS = ("sizes", "weights", "forward", "backward", "independent", "finite diff.",
           "backward/fwd", "independent/fwd", "finite diff./fwd")
LEGEND = (
    "forward: one operation per node the forward pass computes",
    "backward: one multiply-add per edge (parent.grad += local * grad): every weight's "
    "gradient in one sweep, each upstream factor computed once and shared",
    "independent: each weight's gradient on its own, a reverse sweep over just the graph "
    "between the loss and that weight, sharing nothing between weights",
    "finite diff.: one more forward pass per weight, (L(w + h) - L(w)) / h",
    ".../fwd: each count as a multiple of one forward pass",
)


def cost_table(all_sizes: Sequence[Sequence[int]]) -> str:
    """A text table of :func:`count_cost` for each architecture, with ratios to forward
    and a legend of what each column counts; columns as wide as their widest figure."""
    rows: list[tuple[str, ...]] = [COLUMNS]
    for sizes in all_sizes:
        c = count_cost(sizes)
        r = c.ratios()
        rows.append((" ".join(map(str, c.sizes)), *(f"{n:,}" for n in (
            c.weights, c.forward, c.backward, c.independent, c.finite_differences)),
            f"{r['backward']:,.2f}", f"{r['independent']:,.1f}",
            f"{r['finite_differences']:,.1f}"))
    widths = [max(len(row[k]) for row in rows) for k in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if k == 0 else cell.rjust(w)
                       for k, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    return "\n".join([*lines, "", *LEGEND])
