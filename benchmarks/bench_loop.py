"""One epoch of the seed's model on 60,000 synthetic samples: fit() against the textbook loop.

The textbook loop is the seed's Part 2 preview: a ``DataLoader`` over a ``TensorDataset``,
one ``train_one_step`` per batch. Each variant runs in its own process, one after the other,
so that its peak memory (max RSS) is its own; seconds are the median epoch, the best of three
interleaved rounds.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from nnfoundations import build_model, fit, train_one_step

N, FEATURES, CLASSES, BATCH, EPOCHS = 60_000, 784, 9, 64, 5
ROUNDS = 3


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(N, FEATURES, generator=g), torch.randint(0, CLASSES, (N,), generator=g)


def textbook(X: torch.Tensor, y: torch.Tensor) -> list[float]:
    model = build_model(FEATURES, [128, 64], CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True)
    seconds = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        for X_batch, y_batch in loader:
            train_one_step(model, X_batch, y_batch, loss_fn, optimizer)
        seconds.append(time.perf_counter() - start)
    return seconds


def ours(X: torch.Tensor, y: torch.Tensor, telemetry: bool = True) -> list[float]:
    model = build_model(FEATURES, [128, 64], CLASSES)
    return fit(model, (X, y), epochs=EPOCHS, batch_size=BATCH, seed=0, progress=False,
               telemetry=telemetry).seconds


def ours_quiet(X: torch.Tensor, y: torch.Tensor) -> list[float]:
    return ours(X, y, telemetry=False)


def child(variant: str) -> None:
    torch.manual_seed(0)
    X, y = data()
    seconds = {"textbook": textbook, "fit": ours, "fit-no-telemetry": ours_quiet}[variant](X, y)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": statistics.median(seconds), "peak_mb": peak_mb}))


def main() -> None:
    data_mb = N * FEATURES * 4 / 2**20
    print(f"== one epoch, build_model({FEATURES}, [128, 64], {CLASSES}), {N:,} samples, batch "
          f"{BATCH}, Adam; torch {torch.__version__}, {torch.get_num_threads()} threads; median "
          f"of {EPOCHS} epochs")
    results: dict[str, dict[str, float]] = {}
    for _ in range(ROUNDS):  # interleaved rounds, best of each: a slow moment hits all alike
        for variant in ("textbook", "fit", "fit-no-telemetry"):
            out = subprocess.run([sys.executable, __file__, variant], capture_output=True,
                                 text=True, check=True)
            got = json.loads(out.stdout)
            if variant not in results or got["seconds"] < results[variant]["seconds"]:
                results[variant] = got
    for variant, r in results.items():
        print(f"{variant:<17}{r['seconds']:>8.3f} s/epoch   peak RSS {r['peak_mb']:>7.0f} MB")
    t, f = results["textbook"], results["fit"]
    print(f"fit() is {t['seconds'] / f['seconds']:.2f}x faster than the textbook loop "
          f"(goal >= 1.4x); peak memory {f['peak_mb'] - t['peak_mb']:+.0f} MB against it "
          f"(allowed: + one copy of the data, {data_mb:.0f} MB)")
    q = results["fit-no-telemetry"]
    print(f"telemetry costs {f['seconds'] / q['seconds'] - 1:+.1%} of an epoch (goal < 5%)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        child(sys.argv[1])
    else:
        main()
