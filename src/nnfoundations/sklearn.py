"""A scikit-learn estimator around :func:`~nnfoundations.training.loop.fit`: our MLP trainer
in a ``Pipeline`` or a ``GridSearchCV``.

It follows scikit-learn's conventions: ``__init__`` only stores its parameters; ``fit``
checks them and the data, and sets the fitted attributes (``classes_``,
``n_features_in_``, ``model_``, ``history_``); inputs are validated as scikit-learn's own
estimators do. Scale the features first (``StandardScaler``), as for any MLP.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), NNFClassifier(hidden_sizes=(16,), lr=0.01,
    ...                                                      epochs=60, random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from nnfoundations.training.inference import predict_proba
from nnfoundations.training.loop import run_fit
from nnfoundations.training.model import build_model
from nnfoundations.training.settings import SETTINGS, FitSettings

Pair = tuple[np.ndarray, np.ndarray]


class NNFClassifier(ClassifierMixin, BaseEstimator):
    """A ReLU MLP classifier (``build_model``) trained by ``fit``, Adam by default.

    Its defaults are the library's (:data:`~nnfoundations.training.settings.SETTINGS`), and
    each parameter is checked once, by ``fit``, under its own name.

    Args:
        hidden_sizes: the hidden layers' widths.
        dropout_rate: dropout after each hidden ReLU, in [0, 1).
        epochs: the most epochs to train.
        batch_size: examples per mini-batch (the data's size when it has fewer).
        lr: the learning rate.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``.
        patience: early stopping on a held-out ``validation_fraction`` of the training data
            (the best epoch's weights are kept); None trains every epoch on all of it.
        validation_fraction: the share held out when ``patience`` is set.
        random_state: seeds the initial weights, the shuffling, dropout and the hold-out.
        device: where to train (``"cpu"``, ``"cuda"``); None uses a GPU when present.
        verbose: show fit's progress.
    """

    def __init__(self, hidden_sizes: tuple[int, ...] = (256, 128), dropout_rate: float = 0.0,
                 epochs: int = 100, batch_size: int = 64, lr: float = 1e-3,
                 optimizer: str = "adam", patience: int | None = None,
                 validation_fraction: float = 0.15, random_state: Any = None,
                 device: str | None = None, verbose: bool = False) -> None:
        self.hidden_sizes = hidden_sizes
        self.dropout_rate = dropout_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X: Any, y: Any) -> NNFClassifier:
        """Check the parameters and the data, and train a new network on them.

        Raises:
            ValueError: a bad parameter, or data scikit-learn's checks refuse (NaN, a
                continuous target, a sparse matrix, ...).
        """
        settings = FitSettings.check({"epochs": self.epochs, "batch_size": self.batch_size,
                                      "lr": self.lr, "optimizer": self.optimizer,
                                      "patience": self.patience})
        share = SETTINGS["val_fraction"].check("validation_fraction", self.validation_fraction)
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        torch.manual_seed(seed)
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model_ = build_model(X.shape[1], list(self.hidden_sizes), len(self.classes_),
                                  self.dropout_rate).to(device)
        train, val = self._split(np.asarray(X, dtype=np.float32), encoded, seed, share)
        self.history_ = run_fit(self.model_, train, val, replace(settings, seed=seed),
                                progress=self.verbose)
        return self

    def _split(self, X: np.ndarray, y: np.ndarray, seed: int,
               share: float) -> tuple[Pair, Pair | None]:
        """The training data and, for early stopping, a held-out part of it."""
        held = int(round(share * len(y))) if self.patience is not None else 0
        if held == 0 or held >= len(y):
            return (X, y), None
        order = np.random.default_rng(seed).permutation(len(y))
        return (X[order[held:]], y[order[held:]]), (X[order[:held]], y[order[:held]])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class of ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        inputs = torch.as_tensor(np.asarray(X, dtype=np.float32))
        return predict_proba(self.model_, inputs).double().cpu().numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        proba = self.predict_proba(X)  # checks first that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]
