"""Shared fixtures: the digits split, built once per session."""

import pytest

from nnfoundations.data import load_digits, split_data


@pytest.fixture(scope="session")
def digits():
    return split_data(*load_digits(), seed=0)
