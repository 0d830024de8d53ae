"""A scalar reverse-mode autodiff engine whose graph remembers why each gradient is what it is.

Each operation is one method that computes its output and, right beside it, the local
derivative with respect to each operand, both as a number and as a readable formula. The
explainer (:mod:`nnfoundations.autodiff.explain`) reads the derivation straight off the graph.

Subtraction, division and negation are primitives here (micrograd derives them from ``+``,
``*`` and ``**``) so that a derivation reads ``∂(a − b)/∂b = −1`` rather than going through
``b·(−1)``.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Sequence
from numbers import Real

from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations._format import fmt
from nnfoundations.autodiff.render import ADD, ATOM, MUL, POW, UNARY, fill, texts

_serials = itertools.count()
_creation = operator.attrgetter("serial")



class Value:
    """A scalar node of a computation graph, with its value, gradient and local rules.

    Attributes:
        data: the value computed in the forward pass.
        grad: ``∂output/∂self`` after ``output.backward()``.
        label: an optional name used by the explainer (``"w21"``, ``"ŷ"``).
        parents: the operands this node was computed from (a repeated operand repeats).
        local_grads: ``∂self/∂parent`` for each parent, computed in the forward pass.
        op: the operation's name (``"+"``, ``"relu"``, ...; ``""`` for a leaf).

    Example:
        >>> w = Value(1.0, label="w")
        >>> L = ((2 * w + 1).relu() - 3) ** 2
        >>> L.backward(); w.grad
        0.0
    """

    __slots__ = ("serial", "data", "grad", "label", "parents", "local_grads", "op", "form", "prec",
                 "rules")
    serial: int
    data: float
    grad: float
    label: str
    parents: tuple[Value, ...]
    local_grads: tuple[float, ...]
    op: str
    form: str  # how the op reads, with {a} and {b} for the operands
    prec: int  # its binding strength, for parentheses (see render)
    rules: tuple[str, ...]  # ∂self/∂parent as formulas over {a} and {b}

    def __init__(self, data: float, label: str = "") -> None:
        if isinstance(data, bool) or not isinstance(data, Real):
            raise InvalidTypeError(
                f"Value needs a real number, got {data!r} ({type(data).__name__})")
        self.serial = next(_serials)  # creation number: operands always come first
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self.parents = ()
        self.local_grads = ()
        self.op = ""
        self.form = ""
        self.prec = ATOM
        self.rules = ()

    def __repr__(self) -> str:
        name = f"label={self.label!r}, " if self.label else ""
        return f"Value({name}data={fmt(self.data)}, grad={fmt(self.grad)})"

    def named(self, label: str) -> Value:
        """Set this node's label and return the node, for ``z = (w * x).named("z")``."""
        self.label = label
        return self

    # -- one place per op: output, local derivatives and their formulas ------------------

    def _result(
        self,
        data: float,
        op: str,
        parents: tuple[Value, ...],
        local_grads: tuple[float, ...],
        form: str,
        prec: int,
        rules: tuple[str, ...],
    ) -> Value:
        out = Value(data)
        out.parents, out.local_grads, out.op = parents, local_grads, op
        out.form, out.prec, out.rules = form, prec, rules
        return out

    def __add__(self, other: Value | float) -> Value:
        other = self._operand(other, "+")
        return self._result(self.data + other.data, "+", (self, other), (1.0, 1.0),
                            "{a} + {b}", ADD, ("1", "1"))

    def __sub__(self, other: Value | float) -> Value:
        other = self._operand(other, "-")
        return self._result(self.data - other.data, "-", (self, other), (1.0, -1.0),
                            "{a} − {b}", ADD, ("1", "−1"))

    def __mul__(self, other: Value | float) -> Value:
        other = self._operand(other, "*")
        return self._result(self.data * other.data, "*", (self, other),
                            (other.data, self.data), "{a}·{b}", MUL, ("{b}", "{a}"))

    def __truediv__(self, other: Value | float) -> Value:
        other = self._operand(other, "/")
        if other.data == 0:
            raise InvalidValueError(f"division by zero: {self.describe()} / {other.describe()}, "
                                    "and the divisor is 0")
        a, b = self.data, other.data
        return self._result(a / b, "/", (self, other), (1 / b, -a / b**2), "{a}/{b}", MUL,
                            ("1/{b}", "−{a}/{b}^2"))

    def __pow__(self, exponent: float) -> Value:
        if isinstance(exponent, Value | bool) or not isinstance(exponent, Real):
            raise InvalidTypeError(f"the exponent of {self.describe()} must be a plain number, "
                                   f"got {exponent!r} ({type(exponent).__name__})")
        n, a = float(exponent), self.data
        if (a == 0 and n < 1 and n != 0) or (a < 0 and not n.is_integer()):
            raise InvalidValueError(f"{self.describe()} = {fmt(a)} cannot be raised to {fmt(n)} "
                                    "with a finite real derivative")
        power = f"^{fmt(n - 1)}" if n - 1 != 1 else ""
        return self._result(a**n, "**", (self,), (n * a ** (n - 1),), "{a}^" + fmt(n), POW,
                            (f"{fmt(n)}·{{a}}{power}",))

    def __neg__(self) -> Value:
        return self._result(-self.data, "neg", (self,), (-1.0,), "−{a}", UNARY, ("−1",))

    def relu(self) -> Value:
        """``max(0, x)``. Its derivative is 1 for x > 0 and 0 for x <= 0 (0 at exactly 0,
        as in torch)."""
        active = self.data > 0
        return self._result(self.data if active else 0.0, "relu", (self,),
                            (1.0 if active else 0.0,), "ReLU({a})", ATOM,
                            ("1" if active else "0",))

    def tanh(self) -> Value:
        """Hyperbolic tangent; ``d tanh(x)/dx = 1 − tanh(x)²``."""
        t = math.tanh(self.data)
        return self._result(t, "tanh", (self,), (1 - t * t,), "tanh({a})", ATOM,
                            ("1 − tanh({a})^2",))

    def sigmoid(self) -> Value:
        """Logistic sigmoid ``1 / (1 + e^−x)``; ``dσ(x)/dx = σ(x)·(1 − σ(x))``."""
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        return self._result(s, "sigmoid", (self,), (s * (1 - s),), "σ({a})", ATOM,
                            ("σ({a})·(1 − σ({a}))",))

    def exp(self) -> Value:
        """``e^x``; its derivative is ``e^x``."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise InvalidValueError(f"exp({self.describe()}) overflows: {self.describe()} = "
                                    f"{fmt(self.data)} is too large") from None
        return self._result(e, "exp", (self,), (e,), "exp({a})", ATOM, ("exp({a})",))

    def log(self) -> Value:
        """Natural logarithm, for x > 0; ``d log(x)/dx = 1/x``."""
        if self.data <= 0:
            raise InvalidValueError(f"log of a non-positive number: {self.describe()} = "
                                    f"{fmt(self.data)}")
        return self._result(math.log(self.data), "log", (self,), (1 / self.data,),
                            "log({a})", ATOM, ("1/{a}",))

    # -- derived forms: plain numbers on the left ---------------------------------------

    def __radd__(self, other: float) -> Value:
        return self._operand(other, "+") + self

    def __rsub__(self, other: float) -> Value:
        return self._operand(other, "-") - self

    def __rmul__(self, other: float) -> Value:
        return self._operand(other, "*") * self

    def __rtruediv__(self, other: float) -> Value:
        return self._operand(other, "/") / self

    def _operand(self, other: object, op: str) -> Value:
        if isinstance(other, Value):
            return other
        if isinstance(other, bool) or not isinstance(other, Real):
            raise InvalidTypeError(f"cannot apply '{op}' to {self.describe()} and {other!r} "
                                   f"({type(other).__name__}): operands must be numbers or Values")
        return Value(float(other))

    # -- the backward pass ---------------------------------------------------------------

    def topological_order(self) -> list[Value]:
        """Every node of this graph, each after all its operands.

        A node is always created after its operands, so sorting by creation number is a
        topological order: one iterative sweep collects the nodes (no recursion limit, so
        chains of any length work) and a C-speed sort orders them.
        """
        seen = {self}
        stack = [self]
        while stack:
            for p in stack.pop().parents:
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return sorted(seen, key=_creation)

    def backward(self) -> None:
        """Compute ``∂self/∂node`` into ``node.grad`` for every node of this graph.

        Grads of the graph are set afresh (unlike torch, which adds to earlier calls), then
        each node's grad is the sum over its uses: a node used twice gets both paths.
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            grad = node.grad
            for parent, local in zip(node.parents, node.local_grads, strict=False):
                parent.grad += local * grad

    # -- reading the graph -----------------------------------------------------------------

    def definition(self, values: bool = False) -> str:
        """This node's own operation over its operands, e.g. ``w11·x1 + w12·x2``."""
        if not self.parents:
            return texts([self], values=values)[id(self)][0]
        known = texts(self.topological_order()[:-1], values=values, alias_longer_than=200)
        return fill(self, [known[id(p)] for p in self.parents])

    def describe(self) -> str:
        """A short name for error messages: the label, else the expression."""
        text = self.label or self.definition()
        text = text if len(text) <= 60 else text[:57] + "..."
        return f"'{text}'" if self.label or self.parents else text

    def rule(self, i: int) -> str:
        """The generic local rule for operand ``i``, e.g. ``∂(a·b)/∂a = b``."""
        expr = self.form.format(a="a", b="b")
        return f"∂({expr})/∂{'ab'[i]} = {self.rules[i].format(a='a', b='b')}"


def dependents(order: Sequence[Value], wrt: Value) -> set[int]:
    """Ids of the nodes of ``order`` that depend on ``wrt``, ``wrt`` included (none when
    ``wrt`` is not in ``order``); ``order`` must be topological.

    Example:
        >>> x, y = Value(1.0), Value(2.0)
        >>> z = x * y + 1
        >>> len(dependents(z.topological_order(), x))  # x, x·y and x·y + 1
        3
    """
    if not any(n is wrt for n in order):
        return set()
    found = {id(wrt)}
    for node in order:
        if any(id(p) in found for p in node.parents):
            found.add(id(node))
    return found
