"""Shared fixtures: the digits split, built once per session; the grader's containment."""

import os

import pytest
from hypothesis import settings

from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import split_data

# CI draws the same examples every run (a failure there is reproducible, not luck); a local
# run keeps exploring new ones
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def digits():
    return split_data(*load_digits(), seed=0)


@pytest.fixture(scope="session")
def containment():
    """Grading runs submissions only inside bubblewrap: where it cannot, its tests skip and
    say why, except under CI=true, where they fail (CI installs it)."""
    from nnfoundations._errors import InvalidValueError
    from nnfoundations.grading import sandbox
    try:
        sandbox.check()
    except InvalidValueError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to contain submissions: {err}")
        pytest.skip(str(err))
