"""Section 1.3: backprop costs a constant times a forward pass; the others grow with weights."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfoundations.autodiff.op_counts import count_by_graph, count_cost, value_mlp


def test_counts_on_the_seed_network_shape():
    c = count_cost([2, 2, 1])
    # forward: 2 hidden units x (2 mul + 1 add + relu) + output (2 mul + 1 add) + sub + square
    assert (c.weights, c.forward) == (6, 13)
    loss, _ = value_mlp([2, 2, 1])
    assert c.backward == sum(len(n.parents) for n in loss.topological_order())
    assert c.finite_differences == c.forward * (c.weights + 1)


def test_backprop_stays_a_small_constant_while_the_others_grow():
    small, large = count_cost([4, 4, 1]), count_cost([32, 32, 1])
    for c in (small, large):
        assert 1 < c.ratios()["backward"] < 3
    assert large.ratios()["independent"] > 3 * small.ratios()["independent"]
    assert large.ratios()["finite_differences"] == large.weights + 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=2, max_size=5))
def test_the_formulas_equal_the_counts_on_the_built_graph(sizes):
    assert count_cost(sizes) == count_by_graph(sizes)


def test_large_networks_are_counted_by_formula_and_overflow_is_refused():
    c = count_cost([784, 128, 10])  # a graph of ~200,000 nodes per forward pass
    assert c.weights == 784 * 128 + 128 * 10 and c.finite_differences < 2**63
    huge = count_cost([31_623, 31_623, 1])  # a billion weights
    assert huge.weights == 31_623**2 + 31_623
    with pytest.raises(ValueError, match=r"beyond a 64-bit integer"):
        count_cost([10**7, 10**7, 10**7])


@pytest.mark.parametrize(("sizes", "match"), [
    ([3], r"sizes needs an input and an output size"),
    ([3, 0], r"sizes\[1\] must be a positive int"),
])
def test_bad_sizes_are_refused(sizes, match):
    with pytest.raises(ValueError, match=match):
        count_cost(sizes)
