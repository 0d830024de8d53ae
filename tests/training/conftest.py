"""Fixtures for the training wing: running fit() on both engines, and faults in a step."""

import itertools

import pytest

from nnfoundations.training import loop
from nnfoundations.training.backprop import MatrixBackprop


@pytest.fixture(params=["autograd", "auto"])
def engine(request, monkeypatch):
    """Run the test with fit() defaulting to autograd, then to auto (the matrix path wherever
    it applies), so that each behaviour is shown on both engines."""
    monkeypatch.setitem(loop.fit.__kwdefaults__, "engine", request.param)
    return request.param


@pytest.fixture
def on_step(monkeypatch):
    """``on_step(n, action)`` makes every training step, on either engine, take
    ``action(X_batch, k)`` as its batch, k being the step's number since the call (from 1)
    minus ``n``."""
    calls = itertools.count(1)

    def install(n, action):
        def wrap(real):
            def stepped(first, X, *rest):
                return real(first, action(X, next(calls) - n), *rest)
            return stepped
        monkeypatch.setattr(loop, "step", wrap(loop.step))
        monkeypatch.setattr(MatrixBackprop, "step", wrap(MatrixBackprop.step))
    return install
