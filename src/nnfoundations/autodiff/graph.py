"""The computation as a picture to draw (``nnf explain ... --graph``), as plain data.

The picture shows the named steps of a graph (each labelled node: inputs, weights, the
steps of a derivation) with their values and gradients, and each link between them with
its local derivative (through any unnamed operations in between). The links and nodes on
a path from the node differentiated against up to the output are marked; an inactive ReLU
(its input ≤ 0) and everything whose every route to the output passes through one are
marked off: no gradient reaches them. Drawing it is the application's job (matplotlib);
this module decides what is drawn, in the standard library alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from nnfoundations._errors import InvalidTypeError
from nnfoundations.autodiff.engine import Value


class Mark(StrEnum):
    """How a node or link is drawn."""

    PATH = "path"  # on a path from the node differentiated against to the output
    OFF = "off"  # an inactive ReLU, or blocked by one: no gradient flows
    PLAIN = "plain"


@dataclass(frozen=True)
class Node:
    """A named step: its value and gradient, its column (depth) and row."""

    name: str
    value: float
    grad: float
    column: int
    row: int
    mark: Mark


@dataclass(frozen=True)
class Link:
    """From an operand step to the step that uses it, with ``∂user/∂operand``."""

    source: str
    target: str
    local: float
    mark: Mark


@dataclass(frozen=True)
class Picture:
    """What ``--graph`` draws."""

    output: str
    wrt: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]


def picture(output: Value, wrt: Value) -> Picture:
    """The named steps of ``output``'s graph and their links, marked for ``∂output/∂wrt``.

    Example:
        >>> from nnfoundations.autodiff.seed_examples import warmup
        >>> g = warmup(); p = picture(g.output, g.nodes["w"])
        >>> [(link.source, link.target, link.local) for link in p.links]
        [('w', 'z', 2.0), ('z', 'a', 1.0), ('a', 'L', 0.0)]
    """
    for name, node in (("output", output), ("wrt", wrt)):
        if not isinstance(node, Value):
            raise InvalidTypeError(f"{name} must be a Value, got {type(node).__name__}")
    output.backward()
    named = [v for v in output.topological_order() if v.label or v is output]
    operands = {id(v): _operands(v) for v in named}
    users: dict[int, list[Value]] = {}
    for v in named:
        for u in operands[id(v)]:
            users.setdefault(id(u), []).append(v)
    column = _columns(named, operands, users)
    row = _rows(named, users, column)
    on_path = _between(named, operands, wrt, output)
    off = _blocked(named, users, output)
    nodes = []
    for v in named:
        mark = Mark.OFF if id(v) in off else Mark.PATH if id(v) in on_path else Mark.PLAIN
        nodes.append(Node(_name(v, output), v.data, v.grad, column[id(v)], row[id(v)], mark))
    links = []
    for v in named:
        for u, local in operands[id(v)].items():
            mark = Mark.OFF if id(v) in off or id(u) in off else \
                Mark.PATH if id(u) in on_path and id(v) in on_path else Mark.PLAIN
            links.append(Link(_name(u, output), _name(v, output), local, mark))
    return Picture(_name(output, output), _name(wrt, output), tuple(nodes), tuple(links))


def _columns(named: list[Value], operands: dict[int, dict[Value, float]],
             users: dict[int, list[Value]]) -> dict[int, int]:
    """Each node's column: one past its operands'; an input just before its first user."""
    column: dict[int, int] = {}
    for v in named:  # in topological order: operands first
        column[id(v)] = 1 + max((column[id(u)] for u in operands[id(v)]), default=-1)
    for v in named:
        if not operands[id(v)] and users.get(id(v)):
            column[id(v)] = min(column[id(u)] for u in users[id(v)]) - 1
    return column


def _rows(named: list[Value], users: dict[int, list[Value]],
          column: dict[int, int]) -> dict[int, int]:
    """Each node's row in its column: the last column in order, each earlier one sorted by
    where its users stand (fewer crossing links)."""
    row: dict[int, int] = {}
    height: dict[int, float] = {}
    for c in sorted(set(column.values()), reverse=True):
        here = [v for v in named if column[id(v)] == c]
        here.sort(key=lambda v: sum(height[id(u)] for u in users.get(id(v), [])) /
                  max(len(users.get(id(v), [])), 1))
        for k, v in enumerate(here):
            row[id(v)], height[id(v)] = k, k - (len(here) - 1) / 2
    return row


def _name(v: Value, output: Value) -> str:
    return v.label or ("output" if v is output else "?")


def _operands(v: Value) -> dict[Value, float]:
    """The named nodes ``v`` is computed from, through unnamed operations, each with
    ``∂v/∂operand`` (summed over the routes between them)."""
    found: dict[Value, float] = {}

    def walk(node: Value, factor: float) -> None:
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            if parent.label:
                found[parent] = found.get(parent, 0.0) + factor * local
            elif parent.parents:  # an unnamed constant leaf is not drawn
                walk(parent, factor * local)
    walk(v, 1.0)
    return found


def _between(named: list[Value], operands: dict[int, dict[Value, float]], wrt: Value,
             output: Value) -> set[int]:
    """The nodes on some path from ``wrt`` up to ``output``."""
    below = {id(wrt)}
    for v in named:
        if any(id(u) in below for u in operands[id(v)]):
            below.add(id(v))
    above = {id(output)}
    for v in reversed(named):
        if id(v) in above:
            above |= {id(u) for u in operands[id(v)]}
    return below & above if id(output) in below else set()


def _blocked(named: list[Value], users: dict[int, list[Value]], output: Value) -> set[int]:
    """Inactive ReLUs and the nodes every route of which to the output passes one."""
    dead = {id(v) for v in named if v.op == "relu" and v.parents[0].data <= 0}
    off = set(dead)
    for v in reversed(named):  # users come before their operands in this order
        mine = users.get(id(v), [])
        if v is not output and mine and all(id(u) in off for u in mine):
            off.add(id(v))
    return off
