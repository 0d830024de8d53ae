"""build_model: architecture, parameter counts against the formula, and argument checks."""

import pytest
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from nnfoundations import build_model, count_parameters

sizes = st.integers(min_value=1, max_value=40)


@settings(max_examples=40, deadline=None)
@given(sizes, st.lists(sizes, max_size=4), sizes)
def test_parameter_count_matches_formula(n_in, hidden, n_out):
    widths = [n_in, *hidden, n_out]
    expected = sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
    assert count_parameters(build_model(n_in, hidden, n_out)) == expected


def test_layer_pattern_with_dropout():
    model = build_model(6, [5, 4], 3, dropout_rate=0.5)
    kinds = [type(m) for m in model]
    assert kinds == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert all(m.p == 0.5 for m in model if isinstance(m, nn.Dropout))


def test_no_dropout_at_zero_and_never_after_output():
    assert not any(isinstance(m, nn.Dropout) for m in build_model(6, [5], 3))
    assert isinstance(build_model(6, [5], 3, dropout_rate=0.3)[-1], nn.Linear)


def test_empty_hidden_is_a_single_linear():
    model = build_model(6, [], 3)
    assert len(model) == 1 and isinstance(model[0], nn.Linear)
    assert (model[0].in_features, model[0].out_features) == (6, 3)


def test_tuple_hidden_sizes_accepted():
    assert count_parameters(build_model(2, (3,), 1)) == 2 * 3 + 3 + 3 + 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"input_size": 0}, ValueError, r"input_size must be a positive int, got 0"),
        ({"input_size": -3}, ValueError, r"input_size must be a positive int, got -3"),
        ({"input_size": 2.0}, TypeError, r"input_size must be a positive int, got 2.0 \(float\)"),
        ({"input_size": True}, TypeError, r"input_size must be a positive int, got True \(bool\)"),
        ({"output_size": 0}, ValueError, r"output_size must be a positive int, got 0"),
        ({"hidden_sizes": [4, 0]}, ValueError, r"hidden_sizes\[1\] must be a positive int, got 0"),
        ({"hidden_sizes": [False]}, TypeError, r"hidden_sizes\[0\] must be a positive int"),
        ({"hidden_sizes": "64"}, TypeError, r"hidden_sizes must be a sequence"),
        ({"hidden_sizes": 64}, TypeError, r"hidden_sizes must be a sequence"),
        ({"dropout_rate": 1.0}, ValueError, r"dropout_rate must satisfy 0 <= value < 1, got 1.0"),
        ({"dropout_rate": -0.1}, ValueError, r"dropout_rate must satisfy 0 <= value < 1"),
        ({"dropout_rate": float("nan")}, ValueError, r"dropout_rate must be finite, got nan"),
        ({"dropout_rate": "0.2"}, TypeError, r"dropout_rate must be a number, got '0.2'"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    args = {"input_size": 4, "hidden_sizes": [8], "output_size": 3, **kwargs}
    with pytest.raises(error, match=match):
        build_model(**args)
