"""The training loop: shuffled mini-batches of train_one_step, evaluate after each epoch."""

from __future__ import annotations

import sys

import torch
import torch.nn as nn

from nnfoundations.step import evaluate, step


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` with Adam and return one record per epoch."""
    X, y = train
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(X), generator=generator)
        total = torch.zeros(())
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            total += step(model, X[batch], y[batch], loss_fn, optimizer) * len(batch)
        val_loss, val_acc = evaluate(model, *val, loss_fn)
        record = {"epoch": epoch, "train_loss": total.item() / len(X),
                  "val_loss": val_loss, "val_acc": val_acc}
        print(f"epoch {epoch:3d}  train {record['train_loss']:.4f}  val {val_loss:.4f}  "
              f"acc {val_acc:.3f}", file=sys.stderr)
        history.append(record)
    return history
