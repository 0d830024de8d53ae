"""The ``nnf`` command line: a thin map from flags onto library calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
import torch.nn as nn

from nnfoundations.data import load_digits, split_data
from nnfoundations.loop import fit
from nnfoundations.model import build_model
from nnfoundations.step import evaluate


def _cmd_train(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    X, y = load_digits()
    split = split_data(X, y, seed=args.seed)
    model = build_model(split.n_features, args.hidden, int(y.max()) + 1, args.dropout)
    fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val),
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    loss, acc = evaluate(model, split.X_test, split.y_test, nn.CrossEntropyLoss())
    print(f"test loss {loss:.4f}  test accuracy {acc:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``nnf``."""
    parser = argparse.ArgumentParser(prog="nnf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train an MLP on the digits dataset")
    train.add_argument("--hidden", type=int, nargs="*", default=[128, 64])
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``nnf`` with ``argv`` (default: the process's arguments) and return its status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError) as err:
        print(f"nnf: error: {err}", file=sys.stderr)
        return 2
