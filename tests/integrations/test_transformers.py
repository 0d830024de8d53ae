"""The live diagnosis as a Hugging Face TrainerCallback, with the real Trainer and a tiny
BERT built from a config (no download), reading each digit's 64 pixels (0 to 16) as tokens."""

import os
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

transformers = pytest.importorskip("transformers") if os.environ.get("CI") != "true" else \
    __import__("transformers")

from nnfoundations.integrations.live import DiagnosisWarning  # noqa: E402
from nnfoundations.integrations.transformers import Diagnose  # noqa: E402

pytestmark = pytest.mark.slow  # a framework's import and training: seconds


class Tokens(torch.utils.data.Dataset):
    def __init__(self, X, y):
        self.X, self.y = torch.as_tensor(X, dtype=torch.long), torch.as_tensor(y)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, k):
        return {"input_ids": self.X[k], "labels": self.y[k]}


@pytest.fixture(scope="module")
def tokens():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order].astype(int), y[order]
    noisy = y[:300].copy()
    flip = np.random.default_rng(1).random(300) < 0.5
    noisy[flip] = np.random.default_rng(2).integers(0, 10, int(flip.sum()))
    return {"noisy": Tokens(X[:300], noisy), "clean": Tokens(X[:1200], y[:1200]),
            "val": Tokens(X[1400:], y[1400:])}


def train(tokens, data, hook, tmp_path, epochs, lr):
    transformers.set_seed(0)
    config = transformers.BertConfig(vocab_size=17, hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=128,
                                     max_position_embeddings=64, num_labels=10,
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = transformers.BertForSequenceClassification(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), num_train_epochs=epochs, learning_rate=lr,
        per_device_train_batch_size=64, eval_strategy="epoch", logging_strategy="epoch",
        save_strategy="no", report_to=[], use_cpu=True, seed=0, disable_tqdm=True,
        lr_scheduler_type="constant")
    trainer = transformers.Trainer(model=model, args=args, train_dataset=tokens[data],
                                   eval_dataset=tokens["val"], callbacks=[hook])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    losses = [e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e]
    said = [w for w in caught if issubclass(w.category, DiagnosisWarning)]
    return trainer, losses, said


def test_it_warns_soon_after_the_turn_stops_and_restores_the_best_weights(tokens, tmp_path):
    hook = Diagnose(stop=True, restore_best=True)
    trainer, losses, said = train(tokens, "noisy", hook, tmp_path, 60, 1e-3)
    turn = int(np.argmin(losses)) + 1  # the test's own reading of where it turned
    assert len(said) == 1 and hook.live.alarms[0].kind == "overfitting"
    assert hook.live.alarms[0].epoch == turn and turn < len(losses) <= turn + 20
    assert trainer.evaluate()["eval_loss"] == pytest.approx(min(losses), rel=1e-4)


def test_a_clean_run_is_not_warned_of(tokens, tmp_path):
    hook = Diagnose()
    _, losses, said = train(tokens, "clean", hook, tmp_path, 12, 3e-3)
    assert said == [] and hook.live.alarms == [] and len(losses) == 12, hook.live.alarms
