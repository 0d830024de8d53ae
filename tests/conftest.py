"""Shared fixtures: the digits split, built once per session."""

import pytest

from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import split_data


@pytest.fixture(scope="session")
def digits():
    return split_data(*load_digits(), seed=0)
