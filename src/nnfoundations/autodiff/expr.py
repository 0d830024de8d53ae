"""A small, safe expression language for ``nnf explain "EXPRESSION"``.

The text is parsed by Python's :mod:`ast` and then walked with a whitelist: numbers, names,
``+ - * / **``, unary minus, parentheses, calls of ``relu tanh sigmoid exp log`` with one
argument, and ``name = expression`` statements separated by ``;`` or new lines (the names
label intermediate steps in the derivation). Nothing is ever passed to ``eval`` or ``exec``:
attribute access, subscripts, lambdas, comprehensions and any other call are refused with
the column where they stand.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from nnfoundations._errors import InvalidValueError
from nnfoundations.autodiff.engine import Value

FUNCTIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu, "tanh": Value.tanh, "sigmoid": Value.sigmoid,
    "exp": Value.exp, "log": Value.log,
}
Operand = Value | float
#: Each allowed binary operator: its symbol and the function that applies it, to Values
#: (building one node) or to plain numbers alike.
_BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Operand]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv), ast.Pow: ("**", operator.pow),
}


#: The most parts (names, numbers, operations) an expression may have: a derivation of more
#: is unreadable, and its rendering grows with the square of its depth.
MAX_NODES = 2000


class ExpressionError(InvalidValueError):
    """A syntax error or refused construct; the message gives the column (1-based)."""


def _error(node: ast.expr | ast.stmt, message: str) -> ExpressionError:
    return ExpressionError(f"column {node.col_offset + 1}: {message}")


def parse_expression(text: str, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    """Build the graph of ``text`` with the variables set to ``values``.

    Args:
        text: e.g. ``"(relu(2*w + 1) - 3)**2"`` or ``"z = 2*w + 1; a = relu(z); (a - 3)**2"``.
        values: a number for each free variable.

    Returns:
        The output node and the variables' leaf nodes by name.

    Raises:
        ExpressionError: a syntax error, an unknown or valueless name, or a refused construct.
    """
    try:
        tree = ast.parse(text.strip(), mode="exec")
    except SyntaxError as err:
        raise ExpressionError(f"column {err.offset or 0}: invalid syntax: {err.msg}") from None
    except (RecursionError, MemoryError):  # Python's parser gives up on deep nesting so
        raise ExpressionError("column 1: the expression is nested too deeply") from None
    if not tree.body:
        raise ExpressionError("column 1: the expression is empty")
    size = sum(1 for node in ast.walk(tree) if isinstance(node, ast.expr))
    if size > MAX_NODES:
        raise ExpressionError(f"column 1: the expression has {size} parts, more than the "
                              f"{MAX_NODES} a derivation can show")
    leaves = {k: Value(float(v), k) for k, v in values.items()}
    scope: dict[str, Operand] = dict(leaves)
    out: Value | float = 0.0
    try:
        for k, statement in enumerate(tree.body):
            out = _statement(statement, scope, last=k == len(tree.body) - 1)
    except RecursionError:
        raise ExpressionError("column 1: the expression is nested too deeply") from None
    if not isinstance(out, Value):
        raise ExpressionError("column 1: the expression has no variable to differentiate")
    return out, leaves


def _statement(node: ast.stmt, scope: dict[str, Operand], last: bool) -> Operand:
    if isinstance(node, ast.Expr) and last:
        return _walk(node.value, scope)
    if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            and isinstance(node.targets[0], ast.Name):
        name = node.targets[0].id
        result = _walk(node.value, scope)
        scope[name] = result.named(name) if isinstance(result, Value) else result
        return scope[name]
    raise _error(node, "only 'name = expression' steps and a final expression are allowed")


def _walk(node: ast.expr, scope: dict[str, Operand]) -> Operand:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise _error(node, f"only numbers are allowed, not {node.value!r}")
        number = float(node.value) if isinstance(node.value, float) or \
            abs(node.value) < 10 ** 308 else math.inf
        if not math.isfinite(number):
            raise _error(node, "a number is too large: it overflows a float")
        return number
    if isinstance(node, ast.Name):
        if node.id not in scope:
            raise _error(node, f"unknown name '{node.id}': give it a value with --at "
                         f"{node.id}=NUMBER")
        return scope[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _walk(node.operand, scope)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _binary(node, scope)
    if isinstance(node, ast.Call):
        return _call(node, scope)
    raise _error(node, f"{type(node).__name__} is not allowed; use numbers, names, "
                 f"+ - * / **, parentheses and {', '.join(FUNCTIONS)}")


def _binary(node: ast.BinOp, scope: dict[str, Operand]) -> Operand:
    if type(node.op) not in _BINARY:
        hint = " (use ** for powers)" if isinstance(node.op, ast.BitXor) else ""
        raise _error(node, f"operator {type(node.op).__name__} is not allowed{hint}")
    symbol, apply = _BINARY[type(node.op)]
    a, b = _walk(node.left, scope), _walk(node.right, scope)
    if symbol == "**" and isinstance(b, Value):
        raise _error(node.right, "the exponent must be a number, not an expression of variables")
    try:
        result = apply(a, b)
    except (ValueError, ZeroDivisionError, OverflowError) as err:
        raise _error(node, str(err)) from None
    if not isinstance(result, Value) and not (isinstance(result, float)
                                              and math.isfinite(result)):
        raise _error(node, f"{a} {symbol} {b} is not a finite real number")
    return result


def _call(node: ast.Call, scope: dict[str, Operand]) -> Value:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        raise _error(node, f"unknown function '{name}'; allowed: {', '.join(FUNCTIONS)}")
    if len(node.args) != 1 or node.keywords:
        raise _error(node, f"{node.func.id}() takes exactly one argument")
    arg = _walk(node.args[0], scope)
    arg = arg if isinstance(arg, Value) else Value(arg)
    try:
        return FUNCTIONS[node.func.id](arg)
    except ValueError as err:
        raise _error(node, str(err)) from None
