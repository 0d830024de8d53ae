"""The live diagnosis as a hook of fit: it warns once, soon after the validation loss turned,
naming the epoch it turned; it stays silent on a clean run; asked to, it stops the run, which
ends with the best epoch's weights, and writes the report."""

import warnings

import pytest
import torch
import torch.nn as nn

from nnfoundations import build_model, evaluate, fit
from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import split_data
from nnfoundations.history import StopKind
from nnfoundations.integrations.fit import Diagnose, DiagnosisWarning


@pytest.fixture(scope="module")
def split():
    return split_data(*load_digits(), seed=0)


def noisy(split, n=300, share=0.3):
    """A small training set with a share of its labels drawn at random: it overfits."""
    g = torch.Generator().manual_seed(1)
    y = split.y_train[:n].clone()
    flip = torch.rand(n, generator=g) < share
    y[flip] = torch.randint(0, 10, (int(flip.sum()),), generator=g)
    return split.X_train[:n], y


def train(split, data, hook, **kwargs):
    torch.manual_seed(0)
    model = build_model(64, [256], 10, kwargs.pop("dropout", 0.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, data, (split.X_val, split.y_val), seed=0, progress=False,
                      hooks=[hook], **kwargs)
    said = [w for w in caught if issubclass(w.category, DiagnosisWarning)]
    return model, history, said


def test_an_overfitting_run_is_warned_of_once_soon_after_it_turned(split):
    hook = Diagnose()
    _, history, said = train(split, noisy(split), hook, epochs=60, lr=3e-3)
    losses = history.val_loss
    turned = min(range(len(losses)), key=losses.__getitem__) + 1  # the test's own reading
    assert len(said) == 1 and [a.kind for a in hook.alarms] == ["overfitting"]
    assert hook.alarms[0].epoch == turned
    warned_at = int(str(said[0].message).split(":")[0].removeprefix("epoch "))
    assert turned < warned_at <= turned + 20, (turned, warned_at)
    assert f"overfitting since epoch {turned}" in str(said[0].message)


def test_a_clean_run_is_not_warned_of(split):
    hook = Diagnose()
    _, history, said = train(split, (split.X_train, split.y_train), hook, epochs=30,
                             dropout=0.2)
    assert said == [] and hook.alarms == [] and len(history) == 30


def test_asked_to_stop_it_ends_the_run_with_the_best_epochs_weights_and_a_report(split,
                                                                                 tmp_path):
    hook = Diagnose(stop=True, report=tmp_path / "report.html")
    model, history, _ = train(split, noisy(split), hook, epochs=60, lr=3e-3)
    assert history.stop_kind is StopKind.REQUESTED and len(history) < 60
    assert "the live diagnosis stopped the run: overfitting" in history.stop_reason
    loss, _ = evaluate(model, split.X_val, split.y_val, nn.CrossEntropyLoss())
    assert loss == pytest.approx(history.val_loss[history.best_epoch - 1], rel=1e-6)
    assert 'id="verdict"' in (tmp_path / "report.html").read_text(encoding="utf-8")
