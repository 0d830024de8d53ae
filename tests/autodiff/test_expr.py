"""The expression language: what it builds, and everything it refuses (never eval/exec)."""

import pytest

from nnfoundations.autodiff.explain import explain
from nnfoundations.autodiff.expr import ExpressionError, parse_expression


def test_builds_the_warmup_with_named_steps():
    out, leaves = parse_expression("z = 2*w + 1; a = relu(z); L = (a - 3)**2", {"w": 1.0})
    e = explain(out, leaves["w"])
    assert out.label == "L" and e.gradient == 0.0
    assert [(f.upper, f.lower) for f in e.factors] == [("L", "a"), ("a", "z"), ("z", "w")]


def test_functions_and_constant_folding():
    out, leaves = parse_expression("log(exp(x)) * sigmoid(0) + tanh(x) - -x / 2**1", {"x": 0.3})
    out.backward()
    assert leaves["x"].grad == pytest.approx(0.5 + (1 - 0.291312612451591**2) + 0.5, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("w.real", r"column 1: Attribute is not allowed"),
        ("w[0]", r"column 1: Subscript is not allowed"),
        ("(lambda: w)()", r"column 1: unknown function .lambda: w."),
        ("lambda: w", r"column 1: Lambda is not allowed"),
        ("[w for w in (1, 2)]", r"column 1: ListComp is not allowed"),
        ("{w for w in (1,)}", r"column 1: SetComp is not allowed"),
        ("__import__('os').system('true')", r"unknown function '__import__\('os'\).system'"),
        ("open('x')", r"column 1: unknown function 'open'"),
        ("w + foo", r"column 5: unknown name 'foo': give it a value with --at foo=NUMBER"),
        ("2*(w", r"column 3: invalid syntax"),
        ("w ^ 2", r"column 1: operator BitXor is not allowed \(use \*\* for powers\)"),
        ("2 ** w", r"column 6: the exponent must be a number"),
        ("relu(w, w)", r"column 1: relu\(\) takes exactly one argument"),
        ("'w'", r"column 1: only numbers are allowed"),
        ("import os", r"column 1: only 'name = expression' steps"),
        ("log(w - 1)", r"column 1: log of a non-positive number"),
        ("", r"column 1: the expression is empty"),
        ("1 + 2", r"no variable to differentiate"),
        ("+".join(["w"] * 5000), r"nested too deeply|invalid syntax"),
    ],
)
def test_refuses_with_the_column(text, match):
    with pytest.raises(ExpressionError, match=match):
        parse_expression(text, {"w": 1.0})


def test_each_operator_builds_one_node():
    out, leaves = parse_expression("w*x", {"w": 2.0, "x": 3.0})
    assert len(out.topological_order()) == 3 and out.data == 6.0 and out.op == "*"
    out, _ = parse_expression("w - 2*3 / 4", {"w": 1.0})  # the constants fold to a number
    assert out.op == "-" and out.parents[1].data == 1.5 and len(out.topological_order()) == 3


@pytest.mark.parametrize(("text", "match"), [
    ("w + (-8)**0.5", r"column 5: -8.0 \*\* 0.5 is not a finite real number"),
    ("w + 1/0", r"column 5: float division by zero"),
    ("w / (w - 1)", r"column 1: division by zero"),
])
def test_arithmetic_errors_name_their_column(text, match):
    with pytest.raises(ExpressionError, match=match):
        parse_expression(text, {"w": 1.0})
