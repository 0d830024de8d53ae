"""Rendering a graph as text: each node's form with its operands put in, bracketed by
binding strength, every node rendered once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nnfoundations._format import fmt

if TYPE_CHECKING:
    from nnfoundations.autodiff.engine import Value

#: Binding strength of each rendered form, for parentheses: higher binds tighter.
ATOM, ADD, MUL, UNARY, POW = 5, 1, 2, 3, 4
Text = tuple[str, int]  # a rendered expression and its binding strength


def fill(node: Value, operands: Sequence[Text]) -> str:
    """``node``'s form with its operands' texts put in, bracketed where needed."""
    parts = {}
    for key, (text, prec) in zip("ab", operands, strict=False):
        right = key == "b"
        needs = node.prec != ATOM and (  # a function's form already brackets its operand
            prec < node.prec
            or (right and prec == node.prec and node.op in "-/")
            or (text[:1] in "-−" and (node.prec >= MUL or right))  # a·(-0.3), a + (-0.3)
        )
        parts[key] = f"({text})" if needs else text
    return node.form.format(**parts)


def texts(
    order: Sequence[Value],
    *,
    values: bool = False,
    aliases: dict[int, str] | None = None,
    alias_longer_than: int | None = None,
) -> dict[int, Text]:
    """Render every node of ``order`` (operands before users) once, in linear time.

    Labelled nodes and leaves show their label (or their value when ``values``); other nodes
    show their expression over their operands' texts.

    Args:
        order: nodes in topological order, e.g. ``output.topological_order()``.
        values: show labelled nodes and leaves by value instead of by name.
        aliases: names (``t7``) to show instead of some nodes' expressions.
        alias_longer_than: give an expression longer than this a new alias ``t<k>``, added to
            ``aliases``, so that shared subgraphs never blow a text up.
    """
    aliases = {} if aliases is None else aliases
    out: dict[int, Text] = {}
    for k, node in enumerate(order):
        if not node.parents or node.label:
            shown = fmt(node.data) if values or not node.label else node.label
            out[id(node)] = (shown, ATOM)
        elif id(node) in aliases:
            out[id(node)] = (fmt(node.data) if values else aliases[id(node)], ATOM)
        else:
            text = fill(node, [out[id(p)] for p in node.parents])
            if alias_longer_than is not None and len(text) > alias_longer_than:
                aliases[id(node)] = f"t{k}"
                text = fmt(node.data) if values else f"t{k}"
                out[id(node)] = (text, ATOM)
            else:
                out[id(node)] = (text, node.prec)
    return out
