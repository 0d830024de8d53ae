"""The live diagnosis as a Lightning callback, with real Lightning on digits."""

import os
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("lightning.pytorch") if os.environ.get("CI") != "true" else \
    __import__("lightning.pytorch").pytorch

from nnfoundations.integrations.lightning import Diagnose  # noqa: E402
from nnfoundations.integrations.live import DiagnosisWarning  # noqa: E402

pytestmark = pytest.mark.slow  # a framework's import and training: seconds


class Classifier(pl.LightningModule):
    def __init__(self, widths, lr):
        super().__init__()
        layers, size = [], 64
        for w in widths:
            layers += [torch.nn.Linear(size, w), torch.nn.ReLU()]
            size = w
        self.net, self.lr = torch.nn.Sequential(*layers, torch.nn.Linear(size, 10)), lr
        self.val_losses = []

    def training_step(self, batch, _):
        X, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(X), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, _):
        X, y = batch
        logits = self.net(X)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.val_losses.append(float(self.trainer.callback_metrics["val_loss"]))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def loader(X, y, shuffle):
    return DataLoader(TensorDataset(torch.as_tensor(X), torch.as_tensor(y).long()),
                      batch_size=64, shuffle=shuffle)


def train(parts, data, hook, widths, lr, epochs):
    pl.seed_everything(0, verbose=False)
    module = Classifier(widths, lr)
    trainer = pl.Trainer(max_epochs=epochs, callbacks=[hook], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(module, loader(*parts[data], True), loader(*parts["val"], False))
    return module, [w for w in caught if issubclass(w.category, DiagnosisWarning)]


def test_it_warns_soon_after_the_turn_stops_and_restores_the_best_weights(digits_parts):
    hook = Diagnose(stop=True, restore_best=True, classes=10)
    module, said = train(digits_parts, "noisy", hook, (256, 256), 3e-3, 80)
    losses = module.val_losses
    turn = int(np.argmin(losses)) + 1  # the test's own reading of where it turned
    assert len(said) == 1 and hook.live.alarms[0].kind == "overfitting"
    assert hook.live.alarms[0].epoch == turn and turn < len(losses) <= turn + 20
    X, y = (torch.as_tensor(a) for a in digits_parts["val"])
    with torch.no_grad():
        best = torch.nn.functional.cross_entropy(module.net(X), y.long()).item()
    assert best == pytest.approx(min(losses), rel=1e-4)


def test_a_clean_run_is_not_warned_of(digits_parts):
    hook = Diagnose(classes=10)
    module, said = train(digits_parts, "clean", hook, (64,), 1e-3, 15)
    assert said == [] and hook.live.alarms == [] and len(module.val_losses) == 15
