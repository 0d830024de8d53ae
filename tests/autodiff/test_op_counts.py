"""Section 1.3: backprop costs a constant times a forward pass; the others grow with weights."""

from nnfoundations.autodiff.op_counts import count_cost, value_mlp


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
