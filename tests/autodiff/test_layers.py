"""The chain rule for whole layers: section 1.2 from the matrix formulas, the scalar engine's
gradients on any values, and the training wing's matrix path on a network with biases."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfoundations.autodiff.layers import Dense, Loss, backprop, explain_layers
from nnfoundations.autodiff.seed_examples import NETWORK_DEFAULTS, network, network_layers
from nnfoundations.training.backprop import MatrixBackprop
from nnfoundations.training.model import build_model


def seed_layers(v):
    return [Dense([[v["w11"], v["w12"]], [v["w21"], v["w22"]]]),
            Dense([[v["v1"], v["v2"]]], relu=False)]


def test_the_seeds_network_gives_section_1_2_from_the_matrix_formulas():
    v = NETWORK_DEFAULTS
    loss, (hidden, out) = backprop(seed_layers(v), [[1.0, 2.0]], [[1.0]], Loss.SQUARED)
    assert hidden.z[0] == pytest.approx([-0.1, 1.8]) and hidden.h[0] == pytest.approx([0, 1.8])
    assert out.z[0][0] == pytest.approx(0.72) and loss == pytest.approx(0.0784)
    assert hidden.grad_weight[1][0] == pytest.approx(-0.224, abs=1e-15)  # ∂L/∂w21
    assert hidden.grad_weight[0] == [0.0, 0.0]  # ∂L/∂w11, ∂L/∂w12: h1 inactive


def test_the_text_shows_every_factors_shape_and_reads_the_answers_off():
    text = network_layers()
    for line in ("Z1 = X W1ᵀ            (1×2) = (1×2)(2×2)ᵀ   [[-0.1, 1.8]]",
                 "δ1 = ∂L/∂H1 ⊙ 1[Z1 > 0]       (1×2)                 [[0, -0.224]]",
                 "∂L/∂W1 = δ1ᵀ X                (2×2) = (1×2)ᵀ(1×2)   [[0, 0], [-0.224, -0.448]]",
                 "∂L/∂w21 = (∂L/∂W1)[2,1] = δ1[:,2]ᵀ X[:,1] = -0.224",
                 "∂L/∂w11 = (∂L/∂W1)[1,1] = δ1[:,1]ᵀ X[:,1] = 0",
                 "unit 1 of layer 1 is inactive (Z1[:,1] = [-0.1] ≤ 0)"):
        assert line in text
    assert "inactive" not in network_layers(w11=0.9)


values = st.floats(-3, 3, allow_nan=False).map(lambda x: round(x, 3))


@settings(max_examples=80, deadline=None)
@given(st.fixed_dictionaries({k: values for k in NETWORK_DEFAULTS}))
def test_the_matrix_formulas_equal_the_scalar_engine_on_any_values(v):
    _, (hidden, out) = backprop(seed_layers(v), [[v["x1"], v["x2"]]], [[v["y"]]], Loss.SQUARED)
    graph = network(**v)
    graph.output.backward()
    grads = {"w11": hidden.grad_weight[0][0], "w12": hidden.grad_weight[0][1],
             "w21": hidden.grad_weight[1][0], "w22": hidden.grad_weight[1][1],
             "v1": out.grad_weight[0][0], "v2": out.grad_weight[0][1]}
    for name, grad in grads.items():
        assert grad == pytest.approx(graph.nodes[name].grad, abs=1e-12)


def test_the_formulas_give_the_training_wings_matrix_path_gradients():
    """Cross-entropy, biases, two hidden layers and a batch of 5: the explanation's plain
    Python and fit()'s matrix path compute the same gradients."""
    torch.manual_seed(3)
    model = build_model(3, [4, 3], 2).double()
    X, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    layers = [Dense(m.weight.tolist(), m.bias.tolist(), relu=k < 2)
              for k, m in enumerate(linears)]
    loss, passes = backprop(layers, X.tolist(), y.tolist(), Loss.CROSS_ENTROPY)
    engine = MatrixBackprop(model, torch.optim.SGD(model.parameters(), lr=0.1), 5)
    assert engine._gradients(X, y, None).item() == pytest.approx(loss, abs=1e-12)
    for m, p in zip(linears, passes, strict=True):
        assert torch.allclose(m.weight.grad, torch.tensor(p.grad_weight, dtype=torch.float64),
                              atol=1e-12, rtol=0)
        assert torch.allclose(m.bias.grad, torch.tensor(p.grad_bias, dtype=torch.float64),
                              atol=1e-12, rtol=0)
    text = explain_layers(layers, X.tolist(), y.tolist(), Loss.CROSS_ENTROPY)
    assert "∂L/∂b3 = 1ᵀ δ3" in text and "(5×3) = (5×4)(3×4)ᵀ" in text


def test_a_network_that_does_not_fit_its_inputs_is_refused():
    with pytest.raises(ValueError, match="layer 2's weights do not take 2 inputs"):
        explain_layers([Dense([[1.0], [2.0]]), Dense([[1.0]])], [[1.0]], [[0.0]],
                       Loss.SQUARED)
