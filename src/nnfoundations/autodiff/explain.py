"""The chain rule, written out: explain how ``∂output/∂wrt`` comes from the graph.

:func:`explain` lists the forward values, each local derivative with its formula and value,
and the chain products summed over every path from the output down to ``wrt``. Unnamed
intermediate nodes are folded into the step between two named nodes, as one writes it by hand
(``∂L/∂ŷ = 2·(ŷ − y)``, not ``∂L/∂(ŷ − y) · ∂(ŷ − y)/∂ŷ``). Where the paths are too many to
list, it shows backpropagation itself: node-by-node reverse accumulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from nnfoundations._errors import InvalidTypeError
from nnfoundations._format import fmt
from nnfoundations.autodiff.engine import Value, dependents
from nnfoundations.autodiff.render import ATOM, UNARY, fill, texts

#: Past this many paths the explanation shows reverse accumulation instead (paths can grow
#: exponentially with depth; a student reads a dozen, not thousands).
MAX_PATHS = 12
#: Past this many nodes between the output and ``wrt`` the paths are too long to read either.
MAX_PATH_NODES = 200
#: A section lists at most this many lines (the first and last halves).
MAX_LINES = 40
#: An unnamed node whose expression is longer than this is called ``t<k>`` instead.
MAX_NAME = 40

ORDINALS = ("first", "second", "third", "fourth")
Edge = tuple[Value, int]  # (node, operand index): the derivative ∂node/∂node.parents[i]


@dataclass(frozen=True)
class Factor:
    """One local derivative ``∂upper/∂lower`` between two consecutive named steps."""

    upper: str
    lower: str
    formula: str
    substituted: str
    value: float
    note: str = ""
    inactive: bool = False  # an inactive ReLU on this step makes the factor 0
    route: str = ""  # the operation ``lower`` enters here: ``the first a of a·a``, ``log(p)``

    def __str__(self) -> str:
        return self.text(routed=False)

    def name(self, routed: bool) -> str:
        """``∂upper/∂lower``, and the route where ``lower`` reaches ``upper`` by several."""
        return f"∂{self.upper}/∂{self.lower}" + (f" (through {self.route})" if routed else "")

    def text(self, routed: bool) -> str:
        """The derivative written out: its rule, the values put in, its value."""
        parts = dict.fromkeys([self.formula, self.substituted, fmt(self.value)])
        text = f"{self.name(routed)} = " + " = ".join(parts)
        return text + (f"   ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Path:
    """One path from the output down to ``wrt``: its factors and their product."""

    factors: tuple[Factor, ...]
    value: float


@dataclass
class Explanation:
    """How the gradient ``∂output/∂wrt`` arises; ``str()`` gives the written derivation.

    Attributes:
        output: the output's name.
        wrt: the name of the node differentiated against.
        gradient: the gradient, equal to what ``output.backward()`` leaves in ``wrt.grad``.
        forward: one line per computed node of the forward pass.
        paths: each path's factors and product (empty under reverse accumulation).
        method: ``"paths"``, ``"reverse accumulation"`` or ``"independent"``.
        accumulation: the reverse-accumulation lines, when ``method`` says so.
        notes: sentences on what makes a factor zero.
    """

    output: str
    wrt: str
    gradient: float
    forward: list[str]
    paths: list[Path] = field(default_factory=list)
    method: str = "paths"
    accumulation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def factors(self) -> list[Factor]:
        """The distinct local derivatives used by the paths, in order of first use."""
        unique: dict[tuple[str, str], Factor] = {}
        for path in self.paths:
            for f in path.factors:
                unique.setdefault((str(f), f.route), f)
        return list(unique.values())

    def routed(self) -> dict[tuple[str, str], list[Factor]]:
        """The derivatives ``∂upper/∂lower`` that ``lower`` reaches by several routes (a node
        used twice, as in ``a·a``), each route's factor: they must be told apart, and their
        sum is the total."""
        routes: dict[tuple[str, str], list[Factor]] = {}
        for f in self.factors:
            routes.setdefault((f.upper, f.lower), []).append(f)
        return {pair: found for pair, found in routes.items() if len(found) > 1}

    def __str__(self) -> str:
        lines = ["Forward pass:", *(f"  {line}" for line in self.forward)]
        d = f"∂{self.output}/∂{self.wrt}"
        if self.method == "independent":
            lines += ["", f"{self.output} does not depend on {self.wrt}: {d} = 0"]
        elif self.method == "paths":
            routed = self.routed()
            lines += ["", "Local derivatives:", *self._locals(routed), ""]
            lines += _paths_text(d, self.paths, self.gradient, set(routed))
        else:
            lines += ["", f"Backpropagation (reverse accumulation; the paths of {d} are too "
                      "many or too long to list): each node's gradient is the sum over its "
                      "users of ∂out/∂user · ∂user/∂node", *(f"  {a}" for a in self.accumulation)]
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines)

    def _locals(self, routed: dict[tuple[str, str], list[Factor]]) -> list[str]:
        """Each local derivative, those of one pair together, and after the routes of a
        pair reached by several their total."""
        lines = []
        for pair in dict.fromkeys((f.upper, f.lower) for f in self.factors):
            found = routed.get(pair) or [f for f in self.factors if (f.upper, f.lower) == pair]
            lines += [f"  {f.text(pair in routed)}" for f in found]
            if pair in routed:
                lines.append(f"  ∂{pair[0]}/∂{pair[1]} in total, summed over its {len(found)} "
                             f"routes = {' + '.join(f'({fmt(f.value)})' for f in found)} = "
                             f"{fmt(math.fsum(f.value for f in found))}")
        return lines

    def _repr_markdown_(self) -> str:
        return "```text\n" + str(self) + "\n```\n" + f"**{_md(f'∂{self.output}/∂{self.wrt}')} "\
            f"= {fmt(self.gradient)}**"


def _md(text: str) -> str:
    return "$" + text.replace("∂", r"\partial ").replace("·", r" \cdot ").replace("−", "-") + "$"


def _paths_text(d: str, paths: list[Path], gradient: float,
                routed: set[tuple[str, str]]) -> list[str]:
    title = "Chain rule" + (f", summed over {len(paths)} paths:" if len(paths) > 1 else ":")
    lines = [title]
    for k, path in enumerate(paths, 1):
        head = f"  path {k}: " if len(paths) > 1 else "  "
        chain = " · ".join(f.name((f.upper, f.lower) in routed) for f in path.factors)
        pad = " " * (len(head) + len(d) + 1)
        lines.append(f"{head}{d} = {chain}")
        lines.append(f"{pad}= {' · '.join(_factor(f.formula) for f in path.factors)}")
        lines.append(f"{pad}= {'·'.join(f'({fmt(f.value)})' for f in path.factors)}")
        lines.append(f"{pad}= {fmt(path.value)}")
    if len(paths) > 1:
        terms = " + ".join(f"({fmt(p.value)})" for p in paths)
        lines.append(f"  {d} = {terms} = {fmt(gradient)}")
    return lines


def _factor(formula: str) -> str:
    """Parenthesise a formula with a top-level sum, so that a product of factors reads right."""
    depth = 0
    for k, ch in enumerate(formula):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and formula[k : k + 3] in (" + ", " − "):
            return f"({formula})"
    return formula


def explain(output: Value, wrt: Value) -> Explanation:
    """Explain ``∂output/∂wrt`` step by step, as a student would write it.

    Runs ``output.backward()`` (fresh gradients), then reads each local derivative and its
    formula off the graph. Nodes with a ``label`` are the named steps; when no intermediate
    node has one, every operation is a step.

    Args:
        output: the node differentiated, usually the loss.
        wrt: the node differentiated against, usually a weight.

    Returns:
        An :class:`Explanation`; ``str()`` of it is the derivation, and its ``gradient``
        equals ``wrt.grad`` after ``output.backward()``.

    Example:
        >>> w = Value(1.0, label="w")
        >>> L = ((2 * w + 1).named("z").relu().named("a") - 3) ** 2
        >>> print(explain(L.named("L"), w).gradient)
        0.0
    """
    for name, node in (("output", output), ("wrt", wrt)):
        if not isinstance(node, Value):
            raise InvalidTypeError(f"{name} must be a Value, got {type(node).__name__}")
    order = output.topological_order()
    output.backward()
    reaches = dependents(order, wrt)
    steps = _steps(order, output, wrt, reaches)
    view = _View(order, output)
    expl = Explanation(view.name(output), view.name(wrt),
                       wrt.grad if id(wrt) in reaches else 0.0, view.forward(steps))
    if id(output) not in reaches:
        expl.method = "independent"
    elif len(reaches) > MAX_PATH_NODES or _count_paths(order, output, wrt, reaches) > MAX_PATHS:
        expl.method = "reverse accumulation"
        expl.accumulation = _shorten(_accumulation(order, reaches, output, view.name))
    else:
        for edges in _edge_paths(output, wrt, reaches):
            factors = tuple(view.fold(seg) for seg in _segments(edges, steps))
            expl.paths.append(Path(factors, math.prod(f.value for f in factors)))
        expl.notes = list(dict.fromkeys(f.note for f in expl.factors if f.inactive))
    return expl


class _View:
    """How one explanation names and writes each node: every text computed once."""

    def __init__(self, order: list[Value], output: Value) -> None:
        self.output = output
        self.aliases: dict[int, str] = {}
        self.names = texts(order, aliases=self.aliases, alias_longer_than=MAX_NAME)
        self.values = texts(order, values=True, aliases=self.aliases)
        self.order = order

    def name(self, node: Value) -> str:
        if node.label or not node.parents:
            return node.label or fmt(node.data)
        if node is self.output:
            return "f"
        text, prec = self.names[id(node)]
        return text if prec == ATOM else f"({text})"

    def definition(self, node: Value, values: bool) -> str:
        known = self.values if values else self.names
        return fill(node, [known[id(p)] for p in node.parents])

    def forward(self, steps: set[int]) -> list[str]:
        lines = []
        for node in self.order:
            if node.parents and (node.label or id(node) in steps or id(node) in self.aliases):
                parts = [self.name(node), self.definition(node, False),
                         self.definition(node, True), fmt(node.data)]
                if parts[0] in (parts[1], f"({parts[1]})"):
                    parts.pop(0)
                lines.append(" = ".join(dict.fromkeys(parts)))
        inputs = [f"{n.label} = {fmt(n.data)}" for n in self.order if not n.parents and n.label]
        return ([f"with {', '.join(inputs)}"] if inputs else []) + _shorten(lines)

    def local(self, node: Value, i: int, values: bool) -> str:
        """The rule ``∂node/∂operand_i`` with the operands' texts put in."""
        known = self.values if values else self.names
        operands = {}
        for key, p in zip("ab", node.parents, strict=False):
            text, prec = known[id(p)]
            negative = text[:1] in "-−" and node.prec != ATOM
            operands[key] = f"({text})" if prec < UNARY or negative else text
        return node.rules[i].format(**operands)

    def fold(self, segment: list[Edge]) -> Factor:
        """One factor ``∂upper/∂lower`` from the edges between two steps."""
        kept = [(self.local(n, i, False), self.local(n, i, True)) for n, i in segment]
        kept = [(f, v) for f, v in kept if f != "1"] or [("1", "1")]
        relus = [n for n, _ in segment if n.op == "relu"]
        upper, lower = segment[0][0], segment[-1][0].parents[segment[-1][1]]
        return Factor(self.name(upper), self.name(lower), "·".join(_factor(f) for f, _ in kept),
                      "·".join(_factor(v) for _, v in kept),
                      math.prod(n.local_grads[i] for n, i in segment),
                      "; ".join(self._relu_note(n) for n in relus),
                      any(not n.local_grads[0] for n in relus), self._route(*segment[-1]))

    def _route(self, node: Value, i: int) -> str:
        """Where operand ``i`` enters ``node``: ``the second a of a·a`` for a repeated
        operand, else the operation itself."""
        operand = node.parents[i]
        uses = [k for k, p in enumerate(node.parents) if p is operand]
        where = self.definition(node, False)
        if len(uses) == 1:
            return where
        return f"the {ORDINALS[uses.index(i)]} {self.name(operand)} of {where}"

    def _relu_note(self, node: Value) -> str:
        pre, unit = self.name(node.parents[0]), self.name(node)
        value = fmt(node.parents[0].data)
        if node.local_grads[0]:
            return f"ReLU active: {pre} = {value} > 0"
        return (f"{unit} = ReLU({pre}) is inactive: {pre} = {value} ≤ 0, so ∂{unit}/∂{pre} = 0 "
                f"and every path through {unit} contributes 0")


def _shorten(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LINES:
        return lines
    hidden = len(lines) - MAX_LINES
    return [*lines[: MAX_LINES // 2], f"... {hidden} more ...", *lines[-MAX_LINES // 2 :]]


def _steps(order: list[Value], output: Value, wrt: Value, reaches: set[int]) -> set[int]:
    """Ids of the nodes a derivation stops at: named ones, or every one when none is."""
    inner = [n for n in order if id(n) in reaches and n is not output and n is not wrt]
    named = {id(n) for n in inner if n.label}
    return (named or {id(n) for n in inner}) | {id(output), id(wrt)}


def _count_paths(order: list[Value], output: Value, wrt: Value, reaches: set[int]) -> int:
    count: dict[int, int] = {id(wrt): 1}
    for node in order:
        if node is not wrt and id(node) in reaches:
            count[id(node)] = sum(count.get(id(p), 0) for p in node.parents)
    return count.get(id(output), 0)


def _edge_paths(output: Value, wrt: Value, reaches: set[int]) -> list[list[Edge]]:
    """Every path from ``output`` down to ``wrt`` as its list of edges (iterative DFS)."""
    paths: list[list[Edge]] = []
    stack: list[tuple[Value, list[Edge]]] = [(output, [])]
    while stack:
        node, edges = stack.pop()
        if node is wrt:
            paths.append(edges)
            continue
        for i in reversed(range(len(node.parents))):
            if id(node.parents[i]) in reaches:
                stack.append((node.parents[i], [*edges, (node, i)]))
    return paths


def _segments(edges: list[Edge], steps: set[int]) -> list[list[Edge]]:
    """Cut a path into the runs of edges between consecutive steps."""
    segments, current = [], []
    for node, i in edges:
        current.append((node, i))
        if id(node.parents[i]) in steps:
            segments.append(current)
            current = []
    return segments


def _accumulation(order: list[Value], reaches: set[int], output: Value,
                  name: Callable[[Value], str]) -> list[str]:
    users: dict[int, dict[int, Value]] = {}  # a dict, so that a user of x·x counts once
    for node in order:
        for p in node.parents:
            users.setdefault(id(p), {})[id(node)] = node
    lines = []
    for node in reversed(order):
        if id(node) not in reaches or node is output:
            continue
        terms = " + ".join(
            f"({fmt(u.grad)})·({fmt(g)})"
            for u in users[id(node)].values()
            for p, g in zip(u.parents, u.local_grads, strict=True) if p is node
        )
        lines.append(f"∂{name(output)}/∂{name(node)} = {terms} = {fmt(node.grad)}")
    return lines
