"""Backward over graphs of 10^4, 10^5 and 10^6 nodes: time per node, beside micrograd's algorithm.

micrograd's algorithm (re-implemented here from its description: a closure per node and a
recursive topological sort) is timed on a balanced tree, which it can sort; on a deep chain
its recursion fails, which is reported rather than timed.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

import torch

from nnfoundations import Value


class ClosureValue:
    """micrograd's scheme: each op stores a closure; backward sorts recursively."""

    def __init__(self, data: float, parents: tuple = ()) -> None:
        self.data, self.grad, self.parents = data, 0.0, parents
        self.backward_fn = lambda: None

    def __add__(self, other: ClosureValue) -> ClosureValue:
        out = ClosureValue(self.data + other.data, (self, other))

        def fn() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out.backward_fn = fn
        return out

    def __mul__(self, other: ClosureValue) -> ClosureValue:
        out = ClosureValue(self.data * other.data, (self, other))

        def fn() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out.backward_fn = fn
        return out

    def backward(self) -> None:
        order, seen = [], set()

        def build(v: ClosureValue) -> None:
            if v not in seen:
                seen.add(v)
                for p in v.parents:
                    build(p)
                order.append(v)

        build(self)
        self.grad = 1.0
        for v in reversed(order):
            v.backward_fn()


def tree(cls: type, n_nodes: int) -> object:
    """A balanced sum of products of random leaves with about ``n_nodes`` nodes."""
    rng = random.Random(0)
    layer = [cls(rng.random()) * cls(rng.random()) for _ in range(n_nodes // 4)]
    while len(layer) > 1:
        layer = [a + b for a, b in zip(layer[::2], layer[1::2], strict=False)] + \
            ([layer[-1]] if len(layer) % 2 else [])
    return layer[0]


def chain(n_nodes: int) -> Value:
    y = Value(0.5)
    for _ in range(n_nodes - 1):
        y = -y
    return y


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    print(f"== engine: build + backward (Python {sys.version.split()[0]}; pure Python, 1 thread; "
          f"torch threads {torch.get_num_threads()} unused here)")
    print(f"{'graph':<7}{'nodes':>9}{'build s':>9}{'bwd s':>8}{'bwd ns/node':>13}"
          f"{'mg build':>10}{'mg bwd':>8}{'mg ns/node':>12}{'bwd mg/ours':>13}"
          f"{'total mg/ours':>15}")
    for n in (10**4, 10**5, 10**6):
        build, root = timed(lambda n=n: tree(Value, n))
        nodes = len(root.topological_order())
        bwd, _ = timed(root.backward)
        mg_build, mg_root = timed(lambda n=n: tree(ClosureValue, n))
        mg_bwd, _ = timed(mg_root.backward)
        print(f"{'tree':<7}{nodes:>9}{build:>9.3f}{bwd:>8.3f}{bwd / nodes * 1e9:>13.0f}"
              f"{mg_build:>10.3f}{mg_bwd:>8.3f}{mg_bwd / nodes * 1e9:>12.0f}"
              f"{mg_bwd / bwd:>13.2f}{(mg_build + mg_bwd) / (build + bwd):>15.2f}")
        build, root = timed(lambda n=n: chain(n))
        bwd, _ = timed(root.backward)
        print(f"{'chain':<7}{n:>9}{build:>9.3f}{bwd:>8.3f}{bwd / n * 1e9:>13.0f}"
              f"   micrograd: RecursionError (depth > {sys.getrecursionlimit()})")
    print("ns/node staying flat from 10^4 to 10^6 nodes is the linear growth.")


if __name__ == "__main__":
    main()
