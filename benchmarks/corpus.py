"""The oracle corpus: thousands of small training runs whose labels come from what their
logs do not show (issue 19).

Each run is drawn by :func:`sample` from its number alone (so any chunk can be rebuilt and
the script resumes where it stopped), trained to four times its visible length, and stored
as one JSON line: the log a user would see (its first ``visible`` points, logged one of
several ways) and what only the oracle sees (the hidden test set's loss after every point up
to 4x, the loss of a constant predictor, and a reference model's test loss: the best of a
small sweep on the same data). ``benchmarks/oracle.py`` turns those into labels.

Usage::

    python benchmarks/corpus.py --runs 2400 --jobs 2      # resumable, chunk by chunk
    python benchmarks/corpus.py --runs 2400 --chunks 0-5  # only chunks 0 to 5

The training loop is the generator's own, not ``fit``: it needs per-step training losses,
momentum, learning-rate schedules and regression with arbitrary widths, and it must keep
training past the visible epochs without a checkpoint round trip each epoch.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from sklearn import datasets as skd

HERE = Path(__file__).resolve().parent
OUT = HERE / "corpus"
CHUNK = 100  # runs per chunk file: a chunk takes a few minutes on one core
GROUP = 6  # consecutive runs sharing one data set (and its reference model)
#: Seconds of training a run may cost at most, by the sampler's estimate.
BUDGET_S = 2.0
#: Estimated seconds per optimiser step (overhead) and per multiply-add of a step.
STEP_S, MAC_S = 1.6e-4, 1.2e-9

FAMILIES = ("digits", "breast_cancer", "wine", "iris", "diabetes", "classification",
            "regression", "moons", "circles")


@dataclass
class Data:
    """The sampled data set of a group of runs."""

    family: str
    n_train: int
    label_noise: float
    unscaled: float  # 0: standardised; else the raw features times this
    seed: int
    noise: float = 0.0  # the synthetic families' noise level
    classes: int = 0  # 0: regression


@dataclass
class Config:
    """One run's training settings."""

    hidden: list[int]
    activation: str
    optimizer: str
    lr: float
    schedule: str
    weight_decay: float
    dropout: float
    batch_size: int
    visible: int  # epochs the user sees (before any early stop)
    patience: int  # 0: no early stopping
    style: str  # how the run is logged
    eval_every: float  # epochs between evaluations ("steps" style)
    acc_column: bool
    seed: int


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def sample_data(group: int) -> Data:
    """The data set of run group ``group``."""
    rng = random.Random(f"data-{group}")
    family = FAMILIES[group % len(FAMILIES)]
    noise, classes = 0.0, 3
    if family in ("moons", "circles"):
        noise, classes = rng.choice((0.05, 0.15, 0.3, 0.5)), 2
    elif family == "classification":
        classes = rng.choice((2, 3, 5, 10))
        noise = rng.choice((0.0, 0.05, 0.2))
    elif family == "regression":
        noise, classes = rng.choice((1.0, 10.0, 50.0)), 0
    else:
        classes = {"digits": 10, "breast_cancer": 2, "wine": 3, "iris": 3, "diabetes": 0}[family]
    n_train = int(_log_uniform(rng, 30, 2400))
    label_noise = rng.choice((0.0, 0.0, 0.0, 0.1, 0.3)) if classes else 0.0
    unscaled = _log_uniform(rng, 3, 1000) if rng.random() < 0.12 else 0.0
    return Data(family, n_train, label_noise, unscaled, group, noise, classes)


def sample(index: int) -> tuple[Data, Config]:
    """Run ``index``: its data (shared by its group) and its settings."""
    data = sample_data(index // GROUP)
    rng = random.Random(f"run-{index}")
    depth = rng.choice((0, 1, 1, 2, 2, 2, 3, 4, 6))
    # most runs are set up as people set them up; a third anywhere on the axis
    width = int(_log_uniform(rng, 1, 1024) if rng.random() < 0.3 else _log_uniform(rng, 16, 1024))
    hidden = [max(1, int(width * rng.choice((1, 1, 0.5, 2)))) for _ in range(depth)]
    optimizer = rng.choice(("sgd", "momentum", "adam", "adamw"))
    centre = {"sgd": 0.1, "momentum": 0.03, "adam": 1e-3, "adamw": 1e-3}[optimizer]
    lr = centre * 10 ** (rng.uniform(-3.0, 2.5) if rng.random() < 0.4 else rng.uniform(-1, 1))
    schedule = rng.choice(("constant", "constant", "step", "cosine", "warmup"))
    weight_decay = _log_uniform(rng, 1e-5, 0.1) if rng.random() < 0.3 else 0.0
    dropout = rng.uniform(0.1, 0.6) if rng.random() < 0.3 and depth else 0.0
    visible = int(_log_uniform(rng, 3, 300))
    patience = rng.choice((3, 5, 10, 20)) if rng.random() < 0.2 else 0
    style = rng.choices(("epoch", "steps", "step_last", "val_only"), (55, 20, 15, 10))[0]
    config = Config(hidden, rng.choice(("relu",) * 6 + ("tanh", "sigmoid")), optimizer, lr,
                    schedule, weight_decay, dropout, 0, visible, patience, style,
                    rng.choice((0.25, 0.5, 2.0, 3.0)), rng.random() < 0.7, index)
    config.batch_size, config.visible = _batch_and_epochs(rng, data, config)
    return data, config


def _batch_and_epochs(rng: random.Random, data: Data, c: Config) -> tuple[int, int]:
    """A batch size from 8 to the whole set, then raised (and at last the epochs cut) until
    the run's estimated cost fits the budget: 4x the visible epochs are trained."""
    n = _train_size(data)
    batch = n if rng.random() < 0.15 else min(n, int(_log_uniform(rng, 8, 1024)))
    sizes = [_features(data), *c.hidden, max(data.classes, 1)]
    macs = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    epochs = c.visible

    def cost() -> float:
        steps = math.ceil(n / batch) * 4 * epochs
        return steps * (STEP_S + 3 * batch * macs * MAC_S)
    while cost() > BUDGET_S and batch < n:
        batch = min(n, batch * 2)
    while cost() > BUDGET_S and epochs > 3:
        epochs = max(3, int(epochs * 0.8))
    while cost() > BUDGET_S and max(c.hidden, default=0) > 1:  # too wide even so: narrower
        c.hidden[:] = [max(1, w // 2) for w in c.hidden]
        sizes = [_features(data), *c.hidden, max(data.classes, 1)]
        macs = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    return batch, epochs


_SIZES = {"digits": (1797, 64), "breast_cancer": (569, 30), "wine": (178, 13),
          "iris": (150, 4), "diabetes": (442, 10)}


def _total(data: Data) -> int:
    return _SIZES.get(data.family, (4000, 0))[0]


def _features(data: Data) -> int:
    return _SIZES.get(data.family, (0, 20 if data.family in ("classification", "regression")
                                   else 2))[1]


def _train_size(data: Data) -> int:
    """Examples left to train on after the hidden test set (30%) and validation (20%)."""
    return max(20, min(data.n_train, int(_total(data) * 0.56)))


def load(data: Data) -> dict[str, torch.Tensor]:
    """The tensors of a data set: train, validation and the hidden test set."""
    rng = np.random.default_rng(data.seed)
    X, y = _raw(data, rng)
    order = rng.permutation(len(X))
    n_test, n_val = int(0.3 * len(X)), int(0.2 * len(X))
    test, val = order[:n_test], order[n_test:n_test + n_val]
    train = order[n_test + n_val:][:_train_size(data)]
    std = X[train].std(0)
    scaled = (X - X[train].mean(0)) / np.where(std > 0, std, 1.0)  # a pixel always 0 stays 0
    if data.classes:
        y = y.astype(np.int64)
        noisy = y.copy()
        flip = rng.random(len(y)) < data.label_noise
        noisy[flip] = rng.integers(0, data.classes, flip.sum())
    else:
        y = (y - y[train].mean()) / (y[train].std() + 1e-8)
        noisy = y
    X = X * data.unscaled if data.unscaled else scaled
    out = {"X_train": X[train], "y_train": noisy[train], "X_val": X[val], "y_val": noisy[val],
           "X_test": X[test], "y_test": y[test], "S_train": scaled[train],
           "S_val": scaled[val], "S_test": scaled[test]}
    # S_*: the features standardised, for the reference model whatever the run was given
    return {k: torch.as_tensor(v, dtype=torch.long if k.startswith("y") and data.classes
                               else torch.float32) for k, v in out.items()}


def _raw(data: Data, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    seed = int(rng.integers(1 << 30))
    if data.family in _SIZES:
        X, y = getattr(skd, f"load_{data.family}")(return_X_y=True)
        return X.astype(np.float64), y.astype(np.float64)
    if data.family == "moons":
        return skd.make_moons(4000, noise=data.noise, random_state=seed)
    if data.family == "circles":
        return skd.make_circles(4000, noise=data.noise / 2, factor=0.5, random_state=seed)
    if data.family == "regression":
        X, y = skd.make_regression(4000, 20, n_informative=8, noise=data.noise,
                                   random_state=seed)
        # a little curvature (a linear model is not the answer), not heavy tails
        return X, y + 0.2 * y ** 2 / y.std()
    return skd.make_classification(4000, 20, n_informative=6, n_redundant=4,
                                   n_classes=data.classes, n_clusters_per_class=2,
                                   flip_y=data.noise, random_state=seed)


_ACT = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def model(n_in: int, c: Config, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in c.hidden:
        layers += [nn.Linear(n_in, width), _ACT[c.activation]()]
        if c.dropout:
            layers.append(nn.Dropout(c.dropout))
        n_in = width
    return nn.Sequential(*layers, nn.Linear(n_in, n_out))


def optimiser(c: Config, params: Any) -> torch.optim.Optimizer:
    if c.optimizer == "sgd":
        return torch.optim.SGD(params, lr=c.lr, weight_decay=c.weight_decay)
    if c.optimizer == "momentum":
        return torch.optim.SGD(params, lr=c.lr, momentum=0.9, weight_decay=c.weight_decay)
    if c.optimizer == "adam":
        return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
    return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay or 0.01)


def lr_factor(schedule: str, progress: float) -> float:
    """The learning rate's multiplier at ``progress`` (epochs / visible epochs); past the
    visible epochs a schedule stays where it ended."""
    p = min(progress, 1.0)
    if schedule == "step":
        return 0.01 if p >= 0.75 else 0.1 if p >= 0.5 else 1.0
    if schedule == "cosine":
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p))
    if schedule == "warmup":
        return min(1.0, (progress + 0.02) / 0.1)
    return 1.0


def _evaluate(net: nn.Module, loss: nn.Module, X: torch.Tensor,
              y: torch.Tensor) -> tuple[float, float | None]:
    net.eval()
    with torch.no_grad():
        out = net(X)
        value = float(loss(out.squeeze(-1) if out.shape[-1] == 1 else out, y))
        acc = float((out.argmax(1) == y).float().mean()) if y.dtype == torch.long else None
    net.train()
    return value, acc


def train(t: dict[str, torch.Tensor], data: Data, c: Config) -> dict[str, list[Any]]:
    """Train to 4x the visible epochs; the series at each evaluation point."""
    torch.manual_seed(c.seed)
    net = model(t["X_train"].shape[1], c, max(data.classes, 1))
    opt = optimiser(c, net.parameters())
    loss: nn.Module = nn.CrossEntropyLoss() if data.classes else nn.MSELoss()
    n = len(t["y_train"])
    per_epoch = math.ceil(n / c.batch_size)
    every = max(1, round(c.eval_every * per_epoch)) if c.style == "steps" else per_epoch
    total = 4 * c.visible * per_epoch
    series: dict[str, list[Any]] = {k: [] for k in ("epoch", "train", "last", "val", "acc",
                                                    "test", "test_acc")}
    steps, window, dead = 0, [], False
    while steps < total:
        for idx in torch.randperm(n).split(c.batch_size):
            for group in opt.param_groups:
                group["lr"] = c.lr * lr_factor(c.schedule, steps / per_epoch / c.visible)
            value = math.nan
            if not dead:
                opt.zero_grad()
                out = net(t["X_train"][idx])
                step_loss = loss(out.squeeze(-1) if out.shape[-1] == 1 else out,
                                 t["y_train"][idx])
                value = float(step_loss.detach())
                if math.isfinite(value):
                    step_loss.backward()
                    opt.step()
                dead = not math.isfinite(value) or not all(
                    torch.isfinite(p).all() for p in net[-1].parameters())
            steps += 1
            window.append(value)
            if steps % every == 0 or steps == total:
                _record(series, net, loss, t, steps / per_epoch, window, dead)
                window = []
            if steps >= total:
                break
    return series


def _record(series: dict[str, list[Any]], net: nn.Module, loss: nn.Module,
            t: dict[str, torch.Tensor], epoch: float, window: list[float], dead: bool) -> None:
    series["epoch"].append(round(epoch, 4))
    series["train"].append(sum(window) / len(window))
    series["last"].append(window[-1])
    for name, part in (("val", "val"), ("test", "test")):
        value, acc = _evaluate(net, loss, t[f"X_{part}"], t[f"y_{part}"]) if not dead \
            else (math.nan, None)
        series[name].append(value)
        series["acc" if name == "val" else "test_acc"].append(acc)


def reference(t: dict[str, torch.Tensor], data: Data) -> float:
    """The hidden test loss of the best of a small sweep (by validation loss, each with
    early stopping): what the data allows."""
    best = (math.inf, math.nan)
    n = len(t["y_train"])
    scaled = {k: t[k.replace("X", "S")] if k.startswith("X") else v for k, v in t.items()}
    for i, (hidden, lr, wd, dropout) in enumerate((([256, 256], 1e-3, 1e-4, 0.2),
                                                   ([64], 3e-3, 1e-3, 0.0))):
        c = Config(hidden, "relu", "adamw", lr, "constant", wd, dropout,
                   max(min(n, 32), n // 8), 300, 20, "epoch", 1.0, True, 1000 + i)
        val, test = _early_stopped(scaled, data, c)
        best = min(best, (val, test))
    return best[1]


def _early_stopped(t: dict[str, torch.Tensor], data: Data, c: Config) -> tuple[float, float]:
    torch.manual_seed(c.seed)
    net = model(t["X_train"].shape[1], c, max(data.classes, 1))
    opt = optimiser(c, net.parameters())
    loss: nn.Module = nn.CrossEntropyLoss() if data.classes else nn.MSELoss()
    n, best, wait = len(t["y_train"]), (math.inf, math.nan), 0
    for _ in range(c.visible):
        for idx in torch.randperm(n).split(c.batch_size):
            opt.zero_grad()
            out = net(t["X_train"][idx])
            loss(out.squeeze(-1) if out.shape[-1] == 1 else out, t["y_train"][idx]).backward()
            opt.step()
        val = _evaluate(net, loss, t["X_val"], t["y_val"])[0]
        if val < best[0]:
            best, wait = (val, _evaluate(net, loss, t["X_test"], t["y_test"])[0]), 0
        else:
            wait += 1
            if wait >= c.patience:
                break
    return best


def constant_loss(t: dict[str, torch.Tensor], data: Data) -> float:
    """The hidden test loss of the best constant prediction (the training set's class
    shares, or its mean): what learning nothing scores."""
    if data.classes:
        counts = torch.bincount(t["y_train"], minlength=data.classes).double() + 0.5
        p = counts / counts.sum()
        return float(-torch.log(p[t["y_test"]]).mean())
    return float(((t["y_test"] - t["y_train"].mean()) ** 2).mean())


def _round(values: list[Any]) -> list[Any]:
    return [None if v is None else v if not math.isfinite(v) else float(f"{v:.5g}")
            for v in values]


def run(index: int, cache: dict[int, tuple[dict[str, torch.Tensor], float, float]]
        ) -> dict[str, Any]:
    """Generate run ``index`` (its group's data and reference come from ``cache``)."""
    data, c = sample(index)
    started = time.perf_counter()
    if data.seed not in cache:
        cache.clear()
        t = load(data)
        cache[data.seed] = (t, reference(t, data), constant_loss(t, data))
    t, ref, const = cache[data.seed]
    series = train(t, data, c)
    return {"id": index, "data": asdict(data), "config": asdict(c),
            "reference": float(f"{ref:.5g}"), "constant": float(f"{const:.5g}"),
            "n_train": len(t["y_train"]), "n_test": len(t["y_test"]),
            "seconds": round(time.perf_counter() - started, 2),
            "series": {k: _round(v) for k, v in series.items()}}


def chunk(number: int) -> Path:
    """Write chunk ``number`` (runs ``number * CHUNK`` onwards) unless it is there."""
    path = OUT / f"chunk-{number:04d}.jsonl.gz"
    if path.exists():
        return path
    torch.set_num_threads(1)
    cache: dict[int, Any] = {}
    lines = [json.dumps(run(i, cache)) for i in range(number * CHUNK, (number + 1) * CHUNK)]
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)  # a chunk is complete or absent: resuming redoes only the rest
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2400)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chunks", default="", help="FIRST-LAST, default all")
    args = parser.parse_args()
    n = math.ceil(args.runs / CHUNK)
    first, last = map(int, args.chunks.split("-")) if args.chunks else (0, n - 1)
    OUT.mkdir(exist_ok=True)
    started = time.perf_counter()
    with Pool(args.jobs) as pool:
        for path in pool.imap_unordered(chunk, range(first, last + 1)):
            print(f"{path.name} ({time.perf_counter() - started:.0f} s)", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
