"""Section 1.3: why backpropagation is cheap, counted by the engine on a real graph.

For an MLP built from :class:`Value` nodes (ReLU hidden layers, a linear output, squared
error, no biases as in the seed's 1.2), we count elementary operations:

* **forward**: one per computed node of the graph;
* **backward**: one multiply-accumulate per edge (``parent.grad += local · node.grad``), which
  yields *every* weight's gradient in one sweep, sharing the upstream factors;
* **independent chains**: for each weight on its own, the reverse sweep over just the part of
  the graph between the loss and that weight, sharing nothing between weights;
* **finite differences**: one extra forward pass per weight (forward differences).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.autodiff.engine import Value


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
    sizes = [_checks.positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise InvalidValueError(f"sizes needs an input and an output size, got {sizes}")
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


def count_cost(sizes: Sequence[int], seed: int = 0) -> Cost:
    """Count the operations of the four ways to get every weight's gradient.

    Example:
        >>> c = count_cost([2, 2, 1]); (c.weights, c.forward, c.backward)
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
    reaches = {id(wrt)}
    edges = 0
    for node in order:
        hits = sum(1 for p in node.parents if id(p) in reaches)
        if hits:
            reaches.add(id(node))
            edges += hits
    return edges


def cost_table(all_sizes: Sequence[Sequence[int]]) -> str:
    """A text table of :func:`count_cost` for each architecture, with ratios to forward."""
    head = (f"{'sizes':<14}{'weights':>8}{'forward':>9}{'backward':>10}{'indep.':>10}"
            f"{'fin.diff':>10}   backward/fwd  indep./fwd  fin.diff/fwd")
    rows = [head]
    for sizes in all_sizes:
        c = count_cost(sizes)
        r = c.ratios()
        rows.append(
            f"{' '.join(map(str, c.sizes)):<14}{c.weights:>8}{c.forward:>9}{c.backward:>10}"
            f"{c.independent:>10}{c.finite_differences:>10}   {r['backward']:>12.2f}"
            f"{r['independent']:>12.1f}{r['finite_differences']:>14.1f}"
        )
    return "\n".join(rows)
