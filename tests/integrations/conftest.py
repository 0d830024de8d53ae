"""Digits for the frameworks' callbacks: a small training set with half of its labels drawn at
random (it overfits clearly), and the whole one (it does not)."""

import numpy as np
import pytest

from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import split_data


@pytest.fixture(scope="session")
def digits_parts():
    split = split_data(*load_digits(), seed=0)
    rng = np.random.default_rng(1)
    X, y = split.X_train.numpy(), split.y_train.numpy()
    noisy = y[:300].copy()
    flip = rng.random(300) < 0.5
    noisy[flip] = rng.integers(0, 10, int(flip.sum()))
    return {"noisy": (X[:300], noisy), "clean": (X, y),
            "val": (split.X_val.numpy(), split.y_val.numpy())}

