"""The Value engine: every leaf gradient against float64 torch.autograd and finite differences."""

import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nnfoundations import Value
from nnfoundations.autodiff.engine import dependents

# Each op works on engine Values and float64 tensors alike; its guard says where it is defined.
OPS = {
    "neg": (lambda a, b, c: -a, None),
    "relu": (lambda a, b, c: a.relu(), None),
    "tanh": (lambda a, b, c: a.tanh(), None),
    "sigmoid": (lambda a, b, c: a.sigmoid(), None),
    "exp": (lambda a, b, c: a.exp(), lambda x, y: x < 5),
    "log": (lambda a, b, c: a.log(), lambda x, y: x > 0.1),
    "square": (lambda a, b, c: a**2, None),
    "cube": (lambda a, b, c: a**3, None),
    "inv": (lambda a, b, c: a**-1, lambda x, y: abs(x) > 0.1),
    "sqrt": (lambda a, b, c: a**0.5, lambda x, y: x > 0.1),
    "add": (lambda a, b, c: a + b, None),
    "sub": (lambda a, b, c: a - b, None),
    "mul": (lambda a, b, c: a * b, None),
    "div": (lambda a, b, c: a / b, lambda x, y: abs(y) > 0.1),
    "radd": (lambda a, b, c: c + a, None),
    "rmul": (lambda a, b, c: c * a, None),
    "rsub": (lambda a, b, c: c - a, None),
    "rdiv": (lambda a, b, c: c / a, lambda x, y: abs(x) > 0.1),
}


def scalar(node):
    return node.data if isinstance(node, Value) else node.item()


def build(leaf_values, program, make_leaf):
    """Run ``program`` (a list of (op, i, j, const)); operands are picked from earlier nodes, so
    nodes are shared. Returns the output, the leaves, the ReLU inputs and the steps taken; ops
    that would be undefined or blow up are skipped."""
    leaves = [make_leaf(v, k) for k, v in enumerate(leaf_values)]
    nodes = list(leaves)
    kinks, taken = [], []
    for step, (op, i, j, const) in enumerate(program):
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        fn, defined = OPS[op]
        if defined is not None and not defined(scalar(a), scalar(b)):
            continue
        if op == "relu":
            kinks.append(scalar(a))
        out = fn(a, b, const)
        if abs(scalar(out)) < 1e4:
            nodes.append(out)
            taken.append(step)
    return nodes[-1], leaves, kinks, taken


programs = st.lists(
    st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 50), st.integers(0, 50),
              st.floats(-3, 3).filter(lambda c: abs(c) > 0.1)),
    min_size=1, max_size=25,
)
leaf_values = st.lists(st.floats(-2, 2), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(leaf_values, programs)
def test_every_leaf_gradient_matches_torch_autograd(values, program):
    out, leaves, _, _ = build(values, program, lambda v, k: Value(v, f"x{k}"))
    t_out, t_leaves, _, _ = build(values, program,
                               lambda v, k: torch.tensor(v, dtype=torch.float64,
                                                         requires_grad=True))
    assume(out.parents)  # every op skipped: nothing to differentiate
    assert out.data == pytest.approx(t_out.item(), rel=1e-12, abs=1e-12)
    out.backward()
    t_out.backward()
    for leaf, t_leaf in zip(leaves, t_leaves, strict=True):
        expected = 0.0 if t_leaf.grad is None else t_leaf.grad.item()
        assert math.isclose(leaf.grad, expected, rel_tol=1e-9, abs_tol=1e-9), (leaf, expected)


@settings(max_examples=200, deadline=None)
@given(leaf_values, programs)
def test_gradients_match_central_finite_differences_where_smooth(values, program):
    out, leaves, kinks, taken = build(values, program, Value)
    assume(all(abs(k) > 1e-3 for k in kinks))  # away from ReLU's kink
    out.backward()
    h = 1e-6
    for k, leaf in enumerate(leaves):
        up = build([v + h * (i == k) for i, v in enumerate(values)], program, Value)
        down = build([v - h * (i == k) for i, v in enumerate(values)], program, Value)
        assume(up[3] == taken and down[3] == taken)  # the same ops, not one guard flipped
        numeric = (up[0].data - down[0].data) / (2 * h)
        assert math.isclose(leaf.grad, numeric, rel_tol=1e-4, abs_tol=1e-4)


def test_shared_node_gets_the_sum_of_its_paths():
    x = Value(3.0, "x")
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad == 2 * 3.0 + 1


def test_relu_derivative_at_zero_is_zero_as_in_torch():
    x = Value(0.0)
    x.relu().backward()
    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    torch.relu(t).backward()
    assert x.grad == t.grad.item() == 0.0


def test_backward_sets_gradients_afresh():
    x = Value(2.0)
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 4.0


def test_chain_of_200000_nodes_has_no_recursion_limit():
    x = Value(1.5, "x")
    y = x
    for _ in range(200_000):
        y = -y
    y.backward()
    assert len(y.topological_order()) == 200_001
    assert x.grad == 1.0


def test_local_rules_read_as_formulas():
    a, b = Value(2.0, "a"), Value(5.0, "b")
    assert (a * b).rule(0) == "∂(a·b)/∂a = b"
    assert (a * b).rule(1) == "∂(a·b)/∂b = a"
    assert (a - b).rule(1) == "∂(a − b)/∂b = −1"
    assert (a**3).rule(0) == "∂(a^3)/∂a = 3·a^2"
    assert a.relu().rule(0) == "∂(ReLU(a))/∂a = 1"


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Value(1.0, "w") + "3", TypeError,
         r"cannot apply '\+' to 'w' and '3' \(str\): operands must be numbers or Values"),
        (lambda: [1] * Value(1.0, "w"), TypeError, r"cannot apply '\*' to 'w' and \[1\]"),
        (lambda: Value(1.0, "w") ** Value(2.0), TypeError, r"exponent of 'w' must be a plain"),
        (lambda: Value(-1.0, "z").log(), ValueError,
         r"log of a non-positive number: 'z' = -1"),
        (lambda: Value(0.0, "z").log(), ValueError, r"log of a non-positive number: 'z' = 0"),
        (lambda: Value(1.0, "a") / Value(0.0, "b"), ValueError,
         r"division by zero: 'a' / 'b', and the divisor is 0"),
        (lambda: 1 / (Value(2.0, "w") - 2), ValueError, r"division by zero: 1 / 'w − 2'"),
        (lambda: Value(-8.0, "a") ** 0.5, ValueError, r"'a' = -8 cannot be raised to 0.5"),
        (lambda: Value(1000.0, "a").exp(), ValueError, r"exp\('a'\) overflows"),
        (lambda: Value("1"), TypeError, r"Value needs a real number, got '1' \(str\)"),
        (lambda: Value(True), TypeError, r"Value needs a real number, got True \(bool\)"),
    ],
)
def test_errors_name_the_node(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_dependents_are_the_nodes_downstream_of_a_leaf():
    x, y, z = Value(1.0, "x"), Value(2.0, "y"), Value(3.0, "z")
    xy = x * y
    out = xy + z
    order = out.topological_order()
    assert dependents(order, x) == {id(x), id(xy), id(out)}
    assert dependents(order, z) == {id(z), id(out)}
    assert dependents(order, Value(5.0)) == set()  # not in the graph
