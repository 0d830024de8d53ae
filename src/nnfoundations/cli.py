"""The ``nnf`` command line: a thin map from flags onto library calls."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

import torch
import torch.nn as nn

from nnfoundations.chainrule import NETWORK_DEFAULTS, network, warmup
from nnfoundations.cost import cost_table
from nnfoundations.data import load_digits, split_data
from nnfoundations.engine import Value
from nnfoundations.explain import explain
from nnfoundations.expr import parse_expression
from nnfoundations.loop import fit
from nnfoundations.model import build_model
from nnfoundations.step import evaluate

DEFAULT_COST_SIZES = [[2, 2, 1], [4, 8, 1], [16, 16, 1], [64, 32, 4]]


def _cmd_train(args: argparse.Namespace) -> int:
    torch.manual_seed(args.seed)
    X, y = load_digits()
    split = split_data(X, y, seed=args.seed)
    model = build_model(split.n_features, args.hidden, int(y.max()) + 1, args.dropout)
    fit(model, (split.X_train, split.y_train), (split.X_val, split.y_val),
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        progress=True)
    loss, acc = evaluate(model, split.X_test, split.y_test, nn.CrossEntropyLoss())
    print(f"test loss {loss:.4f}  test accuracy {acc:.4f}")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    if args.what == "cost":
        print(cost_table(args.sizes or DEFAULT_COST_SIZES))
        return 0
    if args.what == "warmup":
        graph = warmup(args.w)
        output, wrt = graph.output, graph.nodes[args.wrt or "w"]
    elif args.what == "network":
        values = {k: getattr(args, k) for k in NETWORK_DEFAULTS if getattr(args, k) is not None}
        graph = network(**values)
        wrt_name = args.wrt or "w21"
        if wrt_name not in graph.nodes or wrt_name == "L":
            raise ValueError(f"--wrt {wrt_name!r} is not a node of the network; "
                             f"choose one of {[n for n in graph.nodes if n != 'L']}")
        output, wrt = graph.output, graph.nodes[wrt_name]
    else:
        output, wrt = _expression(args.what, args.at, args.wrt)
    print(explain(output, wrt))
    return 0


def _expression(text: str, at: list[str], wrt: str | None) -> tuple[Value, Value]:
    values = dict(_assignment(item) for item in at)
    output, leaves = parse_expression(text, values)
    if wrt is None:
        if len(leaves) != 1:
            raise ValueError(f"say which variable to differentiate: --wrt, one of {list(leaves)}")
        wrt = next(iter(leaves))
    if wrt not in leaves:
        raise ValueError(f"--wrt {wrt!r} is not a variable given with --at; have {list(leaves)}")
    return output, leaves[wrt]


def _assignment(item: str) -> tuple[str, float]:
    name, sep, number = item.partition("=")
    if not sep or not name.strip().isidentifier():
        raise ValueError(f"--at takes NAME=NUMBER, got {item!r}")
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"--at {name.strip()}: {number!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"--at {name.strip()}: the value must be finite, got {number!r}")
    return name.strip(), value


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

    explain_ = commands.add_parser(
        "explain", help="write out the chain rule for a gradient",
        description="Explain a gradient step by step: 'warmup' (seed 1.1), 'network' (1.2), "
        "'cost' (1.3), or any expression such as \"(relu(2*w + 1) - 3)**2\".")
    explain_.add_argument("what", help="warmup | network | cost | EXPRESSION")
    explain_.add_argument("--wrt", help="the variable or node to differentiate against")
    explain_.add_argument("--at", action="append", default=[], metavar="NAME=NUMBER",
                          help="a variable's value, for an expression (repeatable)")
    explain_.add_argument("--w", type=float, default=1.0, help="w for 'warmup' (default 1)")
    explain_.add_argument("--sizes", type=int, nargs="+", action="append",
                          help="layer sizes for 'cost' (repeatable)")
    for name, default in NETWORK_DEFAULTS.items():
        explain_.add_argument(f"--{name}", type=float, help=f"for 'network' (default {default})")
    explain_.set_defaults(run=_cmd_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``nnf`` with ``argv`` (default: the process's arguments) and return its status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError) as err:
        print(f"nnf: error: {err}", file=sys.stderr)
        return 2
