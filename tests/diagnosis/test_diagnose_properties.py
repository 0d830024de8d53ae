"""diagnose() on any curves: a verdict from the list, a confidence in (0, 1], an epoch to keep
that the run has, and never an exception, whatever the values (NaN, inf, negative, flat)."""

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nnfoundations import diagnose
from nnfoundations.diagnosis import VERDICTS, Curves, Reason

value = st.one_of(st.floats(-5, 50, allow_nan=False), st.sampled_from([math.nan, math.inf]),
                  st.floats(0, 1e-6))


@st.composite
def runs(draw: st.DrawFn) -> Curves:
    n = draw(st.integers(1, 60))
    train = draw(st.lists(value, min_size=n, max_size=n))
    val = draw(st.one_of(st.just([]), st.lists(value, min_size=n, max_size=n)))
    scale = draw(st.sampled_from([1.0, 100.0]))
    acc = draw(st.one_of(st.just([]), st.lists(
        st.one_of(st.none(), st.floats(0, 1).map(lambda a: a * scale)), min_size=n,
        max_size=n))) if val else []
    classes = draw(st.one_of(st.none(), st.integers(2, 100)))
    return Curves(epochs=list(range(1, n + 1)), train=train, val=val, acc=acc,
                  classes=classes)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(runs())
# a validation loss starting at zero beside a training loss that does not: once a division by
# zero (the losses were not shifted, so the yardstick was 0)
@example(Curves(epochs=[1], train=[1.0], val=[0.0], acc=[None], classes=None))
# shifting -2**53 by its range plus one rounds it to zero: so did the yardstick
@example(Curves(epochs=[1], train=[-9007199254740992.0], val=[], acc=[], classes=None))
def test_any_run_gets_a_verdict_and_an_epoch_it_has(run):
    d = diagnose(run)
    assert d.verdict in VERDICTS and 0 < d.confidence <= 1
    assert d.stop_epoch is None or d.stop_epoch in run.epochs
    assert d.reasons and all(isinstance(r, Reason) and str(r) for r in d.reasons)
