"""explain(): the assignment's worked answers, exactly, and the derivation it writes."""

import pytest

from nnfoundations import Value, explain
from nnfoundations.autodiff.explain import MAX_PATHS
from nnfoundations.autodiff.seed_examples import network, warmup


def by_name(factors):
    return {(f.upper, f.lower): f.value for f in factors}


def test_seed_1_1_warmup():
    g = warmup()
    n = g.nodes
    e = explain(g.output, n["w"])
    assert (n["z"].data, n["a"].data, n["L"].data) == (3.0, 3.0, 0.0)
    assert by_name(e.factors) == {("L", "a"): 0.0, ("a", "z"): 1.0, ("z", "w"): 2.0}
    assert e.gradient == 0.0 == n["w"].grad
    assert "∂L/∂a = 2·(a − 3) = 2·(3 − 3) = 0" in str(e)


def test_seed_1_2_1_forward_pass():
    n = network().nodes
    expected = {"z1": -0.1, "z2": 1.8, "h1": 0.0, "h2": 1.8, "ŷ": 0.72, "L": 0.0784}
    for name, value in expected.items():
        assert n[name].data == pytest.approx(value, abs=1e-12)


def test_seed_1_2_2_gradient_of_w21():
    g = network()
    e = explain(g.output, g.nodes["w21"])
    assert e.gradient == pytest.approx(-0.224, abs=1e-12)
    factors = [(f.upper, f.lower, f.formula) for f in e.paths[0].factors]
    assert factors == [("L", "ŷ", "2·(ŷ − y)"), ("ŷ", "h2", "v2"), ("h2", "z2", "1"),
                       ("z2", "w21", "x1")]
    values = [f.value for f in e.paths[0].factors]
    assert values == pytest.approx([-0.56, 0.4, 1.0, 1.0], abs=1e-12)
    assert "= 2·(ŷ − y) · v2 · 1 · x1" in str(e) and "= -0.224" in str(e)


def test_seed_1_2_3_gradient_of_w11_is_zero_because_h1_is_inactive():
    g = network()
    e = explain(g.output, g.nodes["w11"])
    assert e.gradient == 0.0
    assert e.notes == ["h1 = ReLU(z1) is inactive: z1 = -0.1 ≤ 0, so ∂h1/∂z1 = 0 and every "
                       "path through h1 contributes 0"]
    assert [f.inactive for f in e.factors] == [False, False, True, False]  # ∂h1/∂z1 alone


def test_an_active_relu_is_noted_but_not_flagged():
    g = network()
    e = explain(g.output, g.nodes["w21"])
    relu = next(f for f in e.factors if f.upper == "h2")
    assert relu.note.startswith("ReLU active") and not relu.inactive and e.notes == []


def test_gradient_equals_backward_for_every_network_node():
    g = network(x1=0.7, w11=0.9, y=-1.0)
    for name, node in g.nodes.items():
        if name != "L":
            e = explain(g.output, node)
            g.output.backward()
            assert e.gradient == pytest.approx(node.grad, abs=1e-15)


def test_paths_are_summed():
    x = Value(2.0, "x")
    f = (x * 3 + x.tanh() * x).named("f")
    e = explain(f, x)
    assert len(e.paths) == 3
    assert e.gradient == pytest.approx(sum(p.value for p in e.paths))
    assert "summed over 3 paths" in str(e)


def test_independent_output():
    x, y = Value(1.0, "x"), Value(2.0, "y")
    e = explain((y * y).named("f"), x)
    assert e.gradient == 0.0 and e.method == "independent"
    assert "f does not depend on x" in str(e)


def test_falls_back_to_reverse_accumulation_when_paths_are_many():
    x = Value(0.5, "x")
    y = x
    for _ in range(8):  # each level doubles the paths: 2^8 of them
        y = (y * y.tanh()).tanh()
    e = explain(y, x)
    y.backward()
    assert e.method == "reverse accumulation" and e.gradient == x.grad
    assert MAX_PATHS < 2**8 and "reverse accumulation" in str(e)


def test_long_chain_explains_by_accumulation_in_few_lines():
    x = Value(1.0, "x")
    y = x
    for _ in range(10_000):
        y = -y
    e = explain(y, x)
    assert e.gradient == 1.0 and len(str(e).splitlines()) < 100


def test_markdown_rendering():
    g = warmup()
    md = explain(g.output, g.nodes["w"])._repr_markdown_()
    assert md.startswith("```text") and r"$\partial L/\partial w$" in md


def test_bad_arguments():
    with pytest.raises(TypeError, match=r"wrt must be a Value, got float"):
        explain(Value(1.0), 1.0)


def test_unknown_network_value_is_named():
    with pytest.raises(ValueError, match=r"network has no input 'w33'; its inputs are \['x1'"):
        network(w33=1.0)


def test_reverse_accumulation_lists_each_edge_once():
    x = Value(0.9, "x")
    t = (x * x).named("t")
    y = t
    for _ in range(4):
        y = y * y  # each level doubles the paths: 32 of them
    e = explain(y, x)
    assert e.method == "reverse accumulation"
    line = next(a for a in e.accumulation if a.startswith("∂f/∂t ="))
    assert line.count(" + ") == 1  # t·t: one user, two edges
    y.backward()
    assert e.gradient == x.grad


def test_a_node_used_twice_names_each_route_and_sums_them():
    import torch
    w = Value(3.0, "w")
    a = w.relu()
    a.label = "a"
    e = explain(a * a, w)
    routes = e.routed()[("f", "a")]
    assert [f.route for f in routes] == ["the first a of a·a", "the second a of a·a"]
    assert [f.value for f in routes] == [3.0, 3.0]
    text = str(e)
    assert "∂f/∂a in total, summed over its 2 routes = (3) + (3) = 6" in text
    assert "∂f/∂a (through the second a of a·a) · ∂a/∂w" in text
    t = torch.tensor(3.0, requires_grad=True)
    (torch.relu(t) * torch.relu(t)).backward()
    assert e.gradient == t.grad.item() == 6.0


def test_a_node_reached_through_two_operations_says_which():
    w, y = Value(0.5, "w"), Value(1.0, "y")
    p = w.sigmoid()
    p.label = "p"
    loss = -(y * p.log() + (1 - y) * (1 - p).log())
    routes = explain(loss, w).routed()[("f", "p")]
    assert [f.route for f in routes] == ["log(p)", "1 − p"]
    assert routes[1].value == 0  # (1 − y) = 0 silences the second route
