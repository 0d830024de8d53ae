"""The grader's child process: load a submission, run its functions on the grader's inputs,
report what they produced.

Run as a script (``python -I child.py``) by :mod:`nnfoundations.grading.sandbox`, inside
bubblewrap, as an unprivileged user, never imported by the grader. It imports nothing of
``nnfoundations``: it reads its orders as JSON on standard input, and writes one JSON object
per line to the file descriptor the orders name. It only observes: it is given fresh
inputs, and reports what the submission's functions produced on them (returned values and
types, layer lists, weights after a step); the grader holds the expected values and
judges. Faking a report can at most fake the student's own outputs, which needs the
answers it never sees.

Order of work:

1. read the orders (the inputs, the submission's files) from standard input;
2. import torch, then snapshot the functions a submission could monkey-patch;
3. load the submission and run each probe, reporting as it goes, so that a crash, a hang
   or ``os._exit()`` loses only the probes after it.
"""

from __future__ import annotations

import io
import json
import math
import os
import runpy
import signal
import sys
import traceback
from collections.abc import Callable
from contextlib import nullcontext, redirect_stdout
from typing import Any

FUNCTIONS = ("build_model", "train_one_step", "evaluate")
_sorted, _vars, _setattr = sorted, vars, setattr  # held before any submission can swap them


class Reporter:
    """One JSON object per line on the event descriptor."""

    def __init__(self, fd: int) -> None:
        self.out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def __call__(self, event: str, **data: Any) -> None:
        self.out.write(json.dumps({"event": event, **data}, default=repr) + "\n")


def _error(err: BaseException) -> str:
    """An exception as one short line a student can act on."""
    text = f"{type(err).__name__}: {err}".splitlines()[0] if str(err) else type(err).__name__
    return text[:300]


# -- tampering --------------------------------------------------------------------------------

def warm_up() -> None:
    """Let torch make its own lazy patches first (the first optimizer wraps ``step`` and
    imports dynamo, which wraps ``torch.manual_seed``), so that only the submission's count."""
    import torch
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    _clean_step(model, torch.ones(1, 2), torch.zeros(1, dtype=torch.long),
                torch.nn.CrossEntropyLoss(), opt)


Watched = dict[str, tuple[Any, str, Any]]  # name: (owner, attribute, the object it held)


def watched() -> Watched:
    """What a submission must leave alone: the builtins and torch's parts the probes use."""
    import builtins

    import torch
    import torch.nn as nn
    found: Watched = {}
    for attr in ("isinstance", "len", "sum", "float", "int", "type", "abs", "max", "min",
                 "print", "open", "__import__", "getattr", "hasattr", "round", "sorted", "zip",
                 "range", "repr", "str", "list", "dict", "tuple", "bool", "callable"):
        found[f"builtins.{attr}"] = (builtins, attr, getattr(builtins, attr))
    for path, owner in [("torch.Tensor", torch.Tensor), ("torch.nn.Module", nn.Module),
                        ("torch.optim.Optimizer", torch.optim.Optimizer),
                        ("torch.optim.SGD", torch.optim.SGD),
                        ("torch.nn.CrossEntropyLoss", nn.CrossEntropyLoss)]:
        for attr in ("backward", "item", "__call__", "zero_grad", "step", "forward", "train",
                     "eval", "parameters", "argmax", "__init__"):
            if attr in vars(owner):
                found[f"{path}.{attr}"] = (owner, attr, vars(owner)[attr])
    for attr in ("no_grad", "is_grad_enabled", "manual_seed", "randn", "randint", "allclose",
                 "equal", "tensor", "zeros", "cat", "stack"):
        found[f"torch.{attr}"] = (torch, attr, getattr(torch, attr))
    for attr in ("Linear", "ReLU", "Dropout", "Sequential", "CrossEntropyLoss", "Module"):
        found[f"torch.nn.{attr}"] = (nn, attr, getattr(nn, attr))
    found["torch.nn.functional.cross_entropy"] = (nn.functional, "cross_entropy",
                                                  nn.functional.cross_entropy)
    return found


def tampered(before: Watched) -> list[str]:
    """The names in ``before`` that no longer hold the same object; each is put back, so
    that the grader's own reporting can still run."""
    changed = _sorted(n for n, (owner, attr, obj) in before.items()
                      if _vars(owner).get(attr, None) is not obj)
    for name in changed:
        owner, attr, obj = before[name]
        _setattr(owner, attr, obj)
    return changed


# -- loading ----------------------------------------------------------------------------------

def load(files: list[dict[str, str]], scratch: str, report: Reporter,
         execute: bool) -> dict[str, Any]:
    """Write each piece of code into scratch and run it as a module of its own, chaining
    the globals; for an executed notebook, report each cell's printed output."""
    namespace: dict[str, Any] = {}
    for k, piece in enumerate(files):
        path = os.path.join(scratch, f"{piece['name']}")
        with open(path, "w", encoding="utf-8") as f:
            f.write(piece["code"])
        out = io.StringIO()
        try:
            with redirect_stdout(out) if execute else nullcontext():
                namespace = runpy.run_path(path, init_globals=namespace,
                                           run_name="submission")
        except BaseException as err:  # SystemExit and KeyboardInterrupt too: report, go on
            report("load_error", piece=piece["name"], cell=piece.get("cell"),
                   error=_error(err), line=_line(err, path))
            if not execute:
                return namespace
        if execute:
            report("cell_output", cell=piece.get("cell", k), text=out.getvalue()[-20000:])
    return namespace


def _line(err: BaseException, path: str) -> int | None:
    """The line of the submission's file where ``err`` arose (the deepest frame in it)."""
    if isinstance(err, SyntaxError) and err.filename == path:
        return err.lineno
    line, tb = None, err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def origins(namespace: dict[str, Any], files: set[str]) -> dict[str, list[str]]:
    """Where each section-2 function comes from, as ``[kind, detail]``: ``own`` (defined in
    the submission), ``missing``, ``not_a_function`` (its type) or ``elsewhere`` (its
    module)."""
    found = {}
    for name in FUNCTIONS:
        fn = namespace.get(name)
        code = getattr(fn, "__code__", None)
        if fn is None:
            found[name] = ["missing", ""]
        elif code is None or not callable(fn):
            found[name] = ["not_a_function", type(fn).__name__]
        elif os.path.basename(code.co_filename) in files:
            found[name] = ["own", ""]
        else:
            found[name] = ["elsewhere", str(getattr(fn, "__module__", "?"))]
    return found


# -- probes -----------------------------------------------------------------------------------

def probe_build_model(build_model: Callable[..., Any], asked: dict[str, Any]) -> dict[str, Any]:
    """Layer lists and parameter counts for the asked shapes."""
    results = []
    for input_size, hidden, output, rate in asked["shapes"]:
        key = [input_size, hidden, output, rate]
        try:
            model = build_model(input_size, list(hidden), output, dropout_rate=rate)
            results.append({"args": key, "type": type(model).__name__,
                            "is_sequential": _is_sequential(model),
                            "layers": [_layer(m) for m in _children(model)],
                            "params": sum(p.numel() for p in model.parameters())})
        except BaseException as err:
            results.append({"args": key, "error": _error(err)})
    return {"shapes": results}


def _is_sequential(model: Any) -> bool:
    import torch.nn as nn
    return isinstance(model, nn.Sequential)


def _children(model: Any) -> list[Any]:
    return list(model.children()) if hasattr(model, "children") else []


def _layer(m: Any) -> list[Any]:
    import torch.nn as nn
    if isinstance(m, nn.Linear):
        return ["Linear", m.in_features, m.out_features]
    if isinstance(m, nn.Dropout):
        return ["Dropout", float(m.p)]
    return [type(m).__name__]


def _model(net: dict[str, Any]) -> tuple[Any, list[Any]]:
    """The grader's network as an ``nn.Sequential``, and its parameters (held apart, in
    case the submission swaps the model's layers)."""
    import torch
    import torch.nn as nn
    layers: list[Any] = []
    for k, (weight, bias) in enumerate(net["layers"]):
        linear = nn.Linear(len(weight[0]), len(weight))
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(weight))
            linear.bias.copy_(torch.tensor(bias))
        layers.append(linear)
        if k < len(net["layers"]) - 1:
            layers += [nn.ReLU()] + ([nn.Dropout(net["dropout"])] if net["dropout"] else [])
    model = nn.Sequential(*layers)
    return model, list(model.parameters())


def _weights(params: list[Any]) -> list[list[float]]:
    return [p.detach().flatten().tolist() for p in params]


def _batch(asked: dict[str, Any]) -> tuple[Any, Any]:
    import torch
    return torch.tensor(asked["X"]), torch.tensor(asked["y"])


def probe_train_one_step(train_one_step: Callable[..., Any],
                         asked: dict[str, Any]) -> dict[str, Any]:
    """Two calls on the grader's network and batch: what each returned, and the weights
    after each."""
    import torch
    import torch.nn as nn
    model, params = _model(asked["net"])
    X, y = _batch(asked)
    opt = torch.optim.SGD(model.parameters(), lr=asked["lr"])
    out: dict[str, Any] = {}
    try:
        first = train_one_step(model, X, y, nn.CrossEntropyLoss(), opt)
        out["returned_type"] = type(first).__name__
        out["first_loss"] = float(first) if _number_like(first) else None
        out["after_one"] = _weights(params)
        train_one_step(model, X, y, nn.CrossEntropyLoss(), opt)
        out["after_two"] = _weights(params)
    except BaseException as err:
        out["error"] = _error(err)
    return out


def _number_like(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError, RuntimeError):
        return False


def _clean_step(model: Any, X: Any, y: Any, loss_fn: Any, opt: Any) -> None:
    opt.zero_grad()
    loss_fn(model(X), y).backward()
    opt.step()


def probe_evaluate(evaluate: Callable[..., Any], asked: dict[str, Any]) -> dict[str, Any]:
    """The plain network once, then the dropout network twice, left in train mode before
    each call: what each call returned, whether gradients were on, and the weights after."""
    import torch
    import torch.nn as nn
    X, y = _batch(asked)
    (plain, _), (dropped, params) = _model(asked["plain"]), _model(asked["dropout"])
    grad_seen: list[bool] = []
    for model in (plain, dropped):
        model[-1].register_forward_hook(
            lambda m, i, o: grad_seen.append(torch.is_grad_enabled()))
    out: dict[str, Any] = {}
    try:
        plain.train()
        first = evaluate(plain, X, y, nn.CrossEntropyLoss())
        out.update(returned_type=type(first).__name__, length=_length(first),
                   item_types=[type(v).__name__ for v in first] if _length(first) else [],
                   plain=_floats(first))
        runs = []
        for _ in range(2):
            dropped.train()
            runs.append(_floats(evaluate(dropped, X, y, nn.CrossEntropyLoss())))
        out.update(dropout=runs, grad_enabled=grad_seen, dropout_after=_weights(params))
    except BaseException as err:
        out["error"] = _error(err)
    return out


def _length(x: Any) -> int:
    return len(x) if isinstance(x, tuple | list) else 0


def _floats(x: Any) -> list[float | None]:
    if not isinstance(x, tuple | list):
        return []
    return [float(v) if _number_like(v) else None for v in x]


def _probe(probe: Callable[..., dict[str, Any]], fn: Callable[..., Any],
           asked: dict[str, Any]) -> dict[str, Any]:
    """Run one probe; a failure of the probe's own (not the student's) is said as such."""
    try:
        return probe(fn, asked)
    except BaseException:
        return {"error": "the grader's probe failed: " + traceback.format_exc(limit=2)[-300:]}


PROBES = {"build_model": probe_build_model, "train_one_step": probe_train_one_step,
          "evaluate": probe_evaluate}


def main() -> None:
    """Do what the orders on standard input say; every outcome becomes an event."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a huge print fails; it does not kill us
    orders = json.load(sys.stdin)
    report = Reporter(orders["event_fd"])
    scratch = os.getcwd()
    warm_up()
    before = watched()
    namespace = load(orders["files"], scratch, report, orders.get("execute", False))
    changed = tampered(before)
    names = {p["name"] for p in orders["files"]}
    report("origins", **origins(namespace, names))
    for name, asked in orders.get("inputs", {}).items():
        if changed:
            break
        fn = namespace.get(name)
        if callable(fn) and name in PROBES:
            report("probe", name=name, result=_probe(PROBES[name], fn, asked))
            changed = tampered(before)
    report("tampered", names=changed)
    report("done")


if __name__ == "__main__":
    main()
