"""What ``nnf explain`` answers: a worked example, the operation counts, or any expression,
as one request checked in one place (the CLI only maps its flags onto it)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from nnfoundations._errors import InvalidValueError
from nnfoundations.autodiff.engine import Value
from nnfoundations.autodiff.explain import explain
from nnfoundations.autodiff.expr import parse_expression
from nnfoundations.autodiff.graph import Picture, picture
from nnfoundations.autodiff.op_counts import cost_table
from nnfoundations.autodiff.seed_examples import EXAMPLES, example, network_layers

#: The architectures ``explain cost`` counts when no sizes are given.
DEFAULT_COST_SIZES = ((2, 2, 1), (4, 8, 1), (16, 16, 1), (64, 32, 4), (784, 128, 10))


def parse_assignments(items: Sequence[str]) -> dict[str, float]:
    """Read ``NAME=NUMBER`` items into values; a name given twice is refused.

    Example:
        >>> parse_assignments(["w=2", "x = -0.5"])
        {'w': 2.0, 'x': -0.5}
    """
    values: dict[str, float] = {}
    for item in items:
        name, sep, number = (part.strip() for part in item.partition("="))
        if not sep or not name.isidentifier():
            raise InvalidValueError(f"--at takes NAME=NUMBER, got {item!r}")
        if name in values:
            raise InvalidValueError(f"--at {name} is given twice")
        try:
            values[name] = float(number)
        except ValueError:
            raise InvalidValueError(f"--at {name}: {number!r} is not a number") from None
        if not math.isfinite(values[name]):
            raise InvalidValueError(f"--at {name}: the value must be finite, got {number!r}")
    return values


def explain_query(what: str, *, wrt: str | None = None, at: Sequence[str] = (),
                  sizes: Sequence[Sequence[int]] | None = None) -> str:
    """The text ``nnf explain WHAT`` prints.

    Args:
        what: ``warmup`` (the assignment's 1.1), ``network`` (1.2), ``layers`` (1.2 as whole
            layers: the matrix chain rule), ``cost`` (1.3), or an expression such as
            ``"(relu(2*w + 1) - 3)**2"``.
        wrt: the node or variable to differentiate against (each example has a default; an
            expression with one variable needs none).
        at: ``NAME=NUMBER`` values: an example's inputs, or an expression's variables.
        sizes: the layer sizes of each network to count, for ``cost`` only.

    Raises:
        InvalidValueError: an option that does not apply to ``what``, an unknown node or
            input, or an expression that cannot be parsed.
    """
    if what == "layers":
        if wrt is not None or sizes:
            raise InvalidValueError("--wrt and --sizes do not apply to 'layers'; it takes --at")
        return network_layers(**parse_assignments(at))
    if what == "cost":
        if wrt is not None or at:
            raise InvalidValueError("--wrt and --at do not apply to 'cost'; it takes --sizes")
        return cost_table(sizes or DEFAULT_COST_SIZES)
    if sizes:
        raise InvalidValueError(f"--sizes applies to 'cost' only, not to {what!r}")
    output, target = graph_of(what, wrt=wrt, at=at)
    try:
        text = str(explain(output, target))
    except OverflowError:
        raise InvalidValueError(f"{what[:40]} overflows at these values: a value is too large "
                                "for a float; use smaller --at values") from None
    if not all(math.isfinite(v.data) and math.isfinite(v.grad)
               for v in output.topological_order()):
        raise InvalidValueError(f"{what[:40]} overflows at these values: a value or a gradient "
                                "is too large for a float; use smaller --at values")
    return text


def graph_of(what: str, *, wrt: str | None = None, at: Sequence[str] = ()
             ) -> tuple[Value, Value]:
    """The output and the node to differentiate against of an example or expression."""
    values = parse_assignments(at)
    try:
        if what in EXAMPLES:
            graph = example(what, values)
            return graph.output, graph.node(wrt or EXAMPLES[what][2])
        output, leaves = parse_expression(what, values)
    except OverflowError:
        raise InvalidValueError(f"{what[:40]} overflows at these values: a value is too large "
                                "for a float; use smaller --at values") from None
    return output, _variable(leaves, wrt)


def explain_picture(what: str, *, wrt: str | None = None, at: Sequence[str] = ()) -> Picture:
    """What ``nnf explain WHAT --graph FILE`` draws (not for ``layers`` or ``cost``)."""
    if what in ("layers", "cost"):
        raise InvalidValueError(f"--graph draws an example or an expression, not {what!r}")
    return picture(*graph_of(what, wrt=wrt, at=at))


def _variable(leaves: dict[str, Value], wrt: str | None) -> Value:
    if wrt is None:
        if len(leaves) != 1:
            raise InvalidValueError(f"say which variable to differentiate: --wrt, one of "
                                    f"{list(leaves)}")
        return next(iter(leaves.values()))
    if wrt not in leaves:
        raise InvalidValueError(f"--wrt {wrt!r} is not a variable given with --at; have "
                                f"{list(leaves)}")
    return leaves[wrt]
