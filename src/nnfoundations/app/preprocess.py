"""Preprocessing: a seeded stratified split, standardisation (scikit-learn's
``StandardScaler``), and class labels."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations.training.batches import Rows


def fit_scaler(X: np.ndarray | Iterable[np.ndarray]) -> StandardScaler:
    """scikit-learn's ``StandardScaler`` fitted on the training rows ``X``, or on an iterable
    of row chunks in one streaming pass (``partial_fit``). A feature that is constant there
    gets a scale of 1, so that it maps to 0 rather than to NaN."""
    if isinstance(X, np.ndarray):
        return StandardScaler().fit(X)
    scaler = StandardScaler()
    for chunk in X:
        scaler.partial_fit(chunk)
    return scaler


def standardise(scaler: StandardScaler, X: np.ndarray) -> np.ndarray:
    """``X`` standardised with the fitted statistics, as float32."""
    return scaler.transform(X).astype(np.float32)


def scaler_to_dict(scaler: StandardScaler) -> dict[str, list[float]]:
    """The fitted statistics as plain lists, for JSON or a ``weights_only`` checkpoint (the
    ``mean`` and ``std`` of every run saved so far)."""
    return {"mean": scaler.mean_.tolist(), "std": scaler.scale_.tolist()}


def scaler_from_dict(d: dict[str, list[float]]) -> StandardScaler:
    """Inverse of :func:`scaler_to_dict`: a fitted ``StandardScaler``."""
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = np.asarray(d["mean"], float), np.asarray(d["std"], float)
    scaler.var_, scaler.n_features_in_ = scaler.scale_**2, len(scaler.mean_)
    return scaler


@dataclass
class Split:
    """Train, validation and test tensors, standardised with the training part's statistics."""

    X_train: torch.Tensor | Rows  # Rows: memory-mapped data, read as batches need it
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    standardizer: StandardScaler
    test_index: np.ndarray  # the test part's rows in the data as read

    @property
    def n_features(self) -> int:
        """Width of one example."""
        return self.X_train.shape[1]


def split_data(
    X: np.ndarray,
    y: np.ndarray,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> Split:
    """Split ``(X, y)`` into stratified train/validation/test parts and standardise them.

    The standardisation is fitted on the training part only, so nothing of the validation
    or test data leaks into training.

    Args:
        X: features, shape ``(n, d)``.
        y: integer class labels, shape ``(n,)``.
        val_fraction: share of all examples held out for validation, in ``(0, 1)``.
        test_fraction: share of all examples held out for the final test, in ``[0, 1)``.
        seed: seed of the shuffle, so the same seed gives the same split.

    Returns:
        A :class:`Split` of float32 features and int64 labels. For a memory-mapped ``X``
        the statistics come from one streaming pass and the training part stays on disk
        (:class:`~nnfoundations.training.batches.Rows`), read as batches need it.
    """
    seed = _checks.seed("seed", seed)
    val_fraction = _checks.fraction("val_fraction", val_fraction, low_open=True)
    test_fraction = _checks.fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise InvalidValueError(
            f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
        )
    _check_room(len(y), val_fraction, test_fraction)
    idx = np.arange(len(y))
    rest, test = _stratified(idx, y, test_fraction, seed)
    train, val = _stratified(rest, y, val_fraction / (1 - test_fraction), seed + 1)
    if isinstance(X, np.memmap):  # larger than memory: stream the statistics, keep it on disk
        scaler = fit_scaler(Rows(X, np.sort(train)).chunks())
        Xtr: torch.Tensor | Rows = Rows(X, train, scaler.mean_, scaler.scale_)
    else:
        scaler = fit_scaler(X[train])
        Xtr = torch.from_numpy(standardise(scaler, X[train]))

    def part(i: np.ndarray) -> torch.Tensor:
        if isinstance(X, np.memmap):  # the held-out parts, read once (a share of the data)
            return Rows(X, i, scaler.mean_, scaler.scale_).gather(np.arange(len(i)))
        return torch.from_numpy(standardise(scaler, X[i]))

    labels = torch.from_numpy(y.astype(np.int64))
    return Split(Xtr, labels[train], part(val), labels[val], part(test), labels[test], scaler,
                 np.sort(test))


def _check_room(n: int, val_fraction: float, test_fraction: float) -> None:
    """Refuse a split that leaves no example to train on (the held-out parts are rounded up,
    as scikit-learn's ``train_test_split`` rounds them)."""
    n_test = math.ceil(test_fraction * n)
    n_val = math.ceil(val_fraction / (1 - test_fraction) * (n - n_test))
    if n - n_test - n_val < 1:
        raise InvalidValueError(
            f"{n} example(s) are too few to split: {n_test} held out for test and {n_val} for "
            "validation leave none to train on; give more examples or smaller "
            "val_fraction/test_fraction")


def _stratified(
    idx: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    if fraction == 0:
        return idx, idx[:0]
    stratify = y[idx] if can_stratify(y[idx], fraction) else None
    return train_test_split(idx, test_size=fraction, random_state=seed, stratify=stratify)


def can_stratify(y: np.ndarray, fraction: float) -> bool:
    """Whether a stratified split of ``y`` holding out ``fraction`` is possible: every class
    has two members, and each part has room for one of every class (else the split is plain).

    Example:
        >>> can_stratify(np.array([0, 0, 1, 1]), 0.5), can_stratify(np.array([0, 0, 1]), 0.5)
        (True, False)
    """
    counts = np.unique(y, return_counts=True)[1]
    held_out = math.ceil(fraction * len(y))
    return bool(counts.min() >= 2 and min(held_out, len(y) - held_out) >= len(counts))


def encode_labels(raw: np.ndarray) -> tuple[np.ndarray, list]:
    """Map raw labels (numbers or strings) to class indices ``0..K-1``, in sorted order.

    Returns:
        The indices and the classes (``classes[i]`` is the raw label of index ``i``), as
        plain Python values, so they can be saved and mapped back.
    """
    classes, indices = np.unique(raw, return_inverse=True)
    if len(classes) > max(MIN_TOO_MANY, len(raw) // 2):
        raise InvalidValueError(f"{len(classes):,} classes in {len(raw):,} rows: fewer than two "
                                "examples a class; is the label column an id or a measurement? "
                                "(name the label with --label)")
    return indices.astype(np.int64), classes.tolist()


#: More classes than half the rows (and than this) leaves under two examples a class.
MIN_TOO_MANY = 1000


def index_labels(raw: np.ndarray, classes: list) -> np.ndarray:
    """Map raw labels onto the indices of known ``classes``; unknown labels are refused."""
    lookup = {c: i for i, c in enumerate(classes)}
    try:
        return np.array([lookup[v] for v in raw.tolist()], dtype=np.int64)
    except KeyError as err:
        raise InvalidValueError(f"label {err.args[0]!r} is not one of the model's classes "
                                f"{classes[:10]}{' ...' if len(classes) > 10 else ''}") from None
