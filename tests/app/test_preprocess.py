"""The digits dataset, the stratified split and the standardisation."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split

from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import (
    can_stratify,
    fit_scaler,
    scaler_from_dict,
    scaler_to_dict,
    split_data,
    standardise,
)


def test_digits_is_embedded():
    X, y = load_digits()
    assert X.shape == (1797, 64) and set(np.unique(y)) == set(range(10))


def test_split_is_seeded_stratified_and_disjoint():
    X, y = load_digits()
    a, b = split_data(X, y, seed=3), split_data(X, y, seed=3)
    assert torch.equal(a.X_val, b.X_val) and torch.equal(a.y_test, b.y_test)
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == len(y)
    assert len(a.y_test) == pytest.approx(0.15 * len(y), abs=1)
    # stratified: each class's share in the test part is within one example of the whole's
    for c in range(10):
        assert abs((a.y_test == c).sum().item() - 0.15 * (y == c).sum()) <= 1


def test_standardisation_is_fitted_on_training_part_only():
    X, y = load_digits()
    split = split_data(X, y, seed=0)
    assert split.X_train.mean(0).abs().max() < 1e-5
    nonconstant = split.standardizer.scale_ != 1.0
    assert torch.allclose(split.X_train.std(0, unbiased=False)[nonconstant],
                          torch.ones(int(nonconstant.sum())), atol=1e-4)
    assert split.X_val.mean(0).abs().max() > 1e-3  # val statistics were not used


def test_constant_features_map_to_zero():
    scaler = fit_scaler(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert np.array_equal(standardise(scaler, np.array([[2.0, 5.0]])), [[0.0, 0.0]])


def test_the_scaler_is_saved_as_plain_lists_and_read_back_fitted():
    X = np.random.default_rng(1).normal(3.0, 2.0, size=(50, 4))
    scaler = fit_scaler(X)
    saved = scaler_to_dict(scaler)
    assert set(saved) == {"mean", "std"} and all(type(v) is list for v in saved.values())
    assert np.array_equal(standardise(scaler_from_dict(saved), X), standardise(scaler, X))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 0.0}, r"val_fraction must satisfy 0 < value < 1, got 0.0"),
        ({"test_fraction": 1.0}, r"test_fraction must satisfy 0 <= value < 1, got 1.0"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, r"val_fraction \+ test_fraction must be < 1"),
    ],
)
def test_bad_fractions_are_named(kwargs, match):
    X, y = load_digits()
    with pytest.raises(ValueError, match=match):
        split_data(X, y, **kwargs)


@pytest.mark.parametrize(("y", "fraction", "expected"), [
    ([0] * 10 + [1] * 10, 0.2, True),
    ([0] * 10 + [1], 0.2, False),  # a class of one cannot be in both parts
    ([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], 0.2, False),  # 2 held out, 5 classes
    ([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], 0.5, True),
])
def test_stratifying_is_decided_from_the_class_counts(y, fraction, expected):
    assert can_stratify(np.array(y), fraction) is expected
    kwargs = {"test_size": fraction, "random_state": 0}
    idx = np.arange(len(y))
    if expected:  # scikit-learn agrees, both ways
        train_test_split(idx, stratify=np.array(y), **kwargs)
    else:
        with pytest.raises(ValueError):
            train_test_split(idx, stratify=np.array(y), **kwargs)


def test_a_class_too_small_to_stratify_still_splits():
    X, y = np.zeros((41, 2)), np.array([0] * 20 + [1] * 20 + [2])
    split = split_data(X, y, seed=0)
    assert len(split.y_train) + len(split.y_val) + len(split.y_test) == 41
