"""The live diagnosis as a Keras callback, with real Keras (torch backend) on digits."""

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras") if os.environ.get("CI") != "true" else __import__("keras")

from nnfoundations.integrations.keras import Diagnose  # noqa: E402
from nnfoundations.integrations.live import DiagnosisWarning  # noqa: E402

pytestmark = pytest.mark.slow  # a framework's import and training: seconds


def turned(val_losses):
    """The test's own reading of where the validation loss turned: its lowest epoch."""
    return int(np.argmin(val_losses)) + 1


def model(widths=(256, 256), lr=3e-3, dropout=0.0):
    keras.utils.set_random_seed(0)
    hidden = [keras.layers.Dense(w, activation="relu") for w in widths]
    net = keras.Sequential([keras.Input((64,)), *hidden, keras.layers.Dropout(dropout),
                            keras.layers.Dense(10)])
    net.compile(optimizer=keras.optimizers.Adam(lr), metrics=["accuracy"],
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return net


def train(net, data, val, callback, epochs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log = net.fit(*data, validation_data=val, epochs=epochs, batch_size=64, verbose=0,
                      callbacks=[callback])
    return log.history, [w for w in caught if issubclass(w.category, DiagnosisWarning)]


def test_it_warns_soon_after_the_turn_stops_and_restores_the_best_weights(digits_parts):
    net, hook = model(), Diagnose(stop=True, restore_best=True)
    log, said = train(net, digits_parts["noisy"], digits_parts["val"], hook, epochs=80)
    turn = turned(log["val_loss"])
    assert len(said) == 1 and hook.live.alarms[0].kind == "overfitting"
    assert hook.live.alarms[0].epoch == turn and turn < len(log["val_loss"]) <= turn + 20
    best = net.evaluate(*digits_parts["val"], verbose=0)[0]
    assert best == pytest.approx(min(log["val_loss"]), rel=1e-4)


def test_a_clean_run_is_not_warned_of(digits_parts):
    hook = Diagnose()
    log, said = train(model((64,), 1e-3, 0.2), digits_parts["clean"], digits_parts["val"], hook,
                      epochs=20)
    assert said == [] and hook.live.alarms == [] and len(log["loss"]) == 20
    assert np.isfinite(log["val_loss"]).all()
