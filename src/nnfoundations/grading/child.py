"""The grader's child process: confine itself, load a submission, run the probes, report.

Run as a script (``python -I child.py CONFIG``) by :mod:`nnfoundations.grading.sandbox`,
never imported by the grader. It imports nothing of ``nnfoundations``: it reads its orders
from ``CONFIG`` (JSON), and writes one JSON object per line to the file descriptor the
config names. Nothing it writes is an answer key: it reports what the submission's
functions produce (types, layer lists, parameter counts, losses, weight changes), and the
parent compares that with the rubric.

Order of work, so that the submission's code meets every confinement:

1. read the config and the submission's files into memory;
2. when ``confine`` is set (the process is PID 1 of new network, PID and mount
   namespaces, made by ``unshare``): remount every filesystem read-only, put a small tmpfs
   on the scratch directory (hiding the files of step 1), a read-only empty tmpfs on each
   ``hide`` directory, and drop every capability, so that the submission can undo none of
   it;
3. import torch, then snapshot the functions a submission could monkey-patch;
4. load the submission and run each probe, reporting as it goes, so that a crash, a hang
   or ``os._exit()`` loses only the probes after it.
"""

from __future__ import annotations

import ctypes
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

_MS_RDONLY, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
_PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 24, 38
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


# -- confinement ------------------------------------------------------------------------------

def confine(scratch: str, hide: list[str]) -> dict[str, bool]:
    """Read-only filesystems, a fresh scratch tmpfs, hidden directories, no capabilities."""
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(src: str | None, target: str, fstype: str | None, flags: int,
              data: str | None = None) -> bool:
        return libc.mount(_b(src), _b(target), _b(fstype), flags, _b(data)) == 0

    done = {"private_mounts": mount(None, "/", None, _MS_REC | _MS_PRIVATE)}
    with open("/proc/self/mountinfo") as f:
        points = sorted({line.split()[4] for line in f}, key=len)
    done["read_only"] = all([mount(None, p, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
                             for p in points if p != "/proc" and not p.startswith("/proc/")])
    done["scratch_tmpfs"] = mount("tmpfs", scratch, "tmpfs", 0, "size=64m,mode=700")
    done["hidden"] = all([mount("tmpfs", d, "tmpfs", _MS_RDONLY, "size=4k") for d in hide])
    done["capabilities_dropped"] = _drop_capabilities(libc)
    return done


def _b(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _drop_capabilities(libc: ctypes.CDLL) -> bool:
    cap = 0
    while libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    ok = libc.capset(header, data) == 0
    return ok and libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 and cap > 0


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
                   error=_error(err))
            if not execute:
                return namespace
        if execute:
            report("cell_output", cell=piece.get("cell", k), text=out.getvalue()[-20000:])
    return namespace


def origins(namespace: dict[str, Any], files: set[str]) -> dict[str, str]:
    """Where each section-2 function comes from: ``submission``, or what else it is."""
    found = {}
    for name in FUNCTIONS:
        fn = namespace.get(name)
        code = getattr(fn, "__code__", None)
        if fn is None:
            found[name] = "missing"
        elif code is None or not callable(fn):
            found[name] = f"not a function ({type(fn).__name__})"
        elif os.path.basename(code.co_filename) in files:
            found[name] = "submission"
        else:
            found[name] = f"defined in {getattr(fn, '__module__', '?')}, not in the submission"
    return found


# -- probes -----------------------------------------------------------------------------------

def probe_build_model(build_model: Callable[..., Any]) -> dict[str, Any]:
    """Layer lists and parameter counts for several shapes; the rubric checks them."""
    shapes = [(784, [128, 64], 9, 0.0), (10, [5], 2, 0.0), (784, [128, 64], 9, 0.2),
              (4, [8, 6], 3, 0.5), (7, [4, 4, 4], 3, 0.0), (3, [], 2, 0.0)]
    results = []
    for input_size, hidden, output, rate in shapes:
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


def _model(hidden: list[int], rate: float = 0.0, seed: int = 0) -> Any:
    """The probes' own model, built without the submission's build_model."""
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    layers: list[Any] = []
    prev = 4
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()] + ([nn.Dropout(rate)] if rate else [])
        prev = h
    return nn.Sequential(*layers, nn.Linear(prev, 3))


def probe_train_one_step(train_one_step: Callable[..., Any]) -> dict[str, Any]:
    """Two steps of the submission against two clean SGD steps on a twin model."""
    import copy

    import torch
    import torch.nn as nn
    model = _model([8])
    twin = copy.deepcopy(model)
    torch.manual_seed(1)
    X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    loss_fn = nn.CrossEntropyLoss()
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    expected_loss = loss_fn(twin(X), y).item()
    out: dict[str, Any] = {}
    try:
        first = train_one_step(model, X, y, loss_fn, opt)
        out["returned_type"] = type(first).__name__
        out["first_loss"] = float(first) if _number_like(first) else None
        out["expected_loss"] = expected_loss
        out["moved"] = max((p.detach() - b).abs().max().item()
                           for p, b in zip(model.parameters(), before, strict=True))
        twin_opt = torch.optim.SGD(twin.parameters(), lr=0.1)
        _clean_step(twin, X, y, loss_fn, twin_opt)
        out["one_step_error"] = _distance(model, twin)
        train_one_step(model, X, y, loss_fn, opt)
        _clean_step(twin, X, y, loss_fn, twin_opt)
        out["two_step_error"] = _distance(model, twin)
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


def _distance(a: Any, b: Any) -> float:
    """The largest weight difference between two models, relative to the weights' size."""
    pairs = list(zip(a.parameters(), b.parameters(), strict=True))
    return max((p.detach() - q.detach()).abs().max().item() / max(q.abs().max().item(), 1e-12)
               for p, q in pairs)


def probe_evaluate(evaluate: Callable[..., Any]) -> dict[str, Any]:
    """A plain model once (the loss, the accuracy against a hand count), then a dropout
    model twice (eval mode), watching gradients and weights."""
    import torch
    import torch.nn as nn
    torch.manual_seed(2)
    X, y = torch.randn(100, 4), torch.randint(0, 3, (100,))
    loss_fn = nn.CrossEntropyLoss()
    plain, dropped = _model([16], seed=3), _model([32], rate=0.5)
    grad_seen: list[bool] = []
    for model in (plain, dropped):
        model[-1].register_forward_hook(
            lambda m, i, o: grad_seen.append(torch.is_grad_enabled()))
    expected = {"plain": _reference(plain, X, y, loss_fn),
                "dropout": _reference(dropped, X, y, loss_fn)}
    before = [p.detach().clone() for p in dropped.parameters()]
    out: dict[str, Any] = {"expected": expected}
    try:
        first = evaluate(plain, X, y, loss_fn)
        out.update(returned_type=type(first).__name__, length=_length(first),
                   item_types=[type(v).__name__ for v in first] if _length(first) else [],
                   plain=_floats(first))
        dropped.train()
        runs = [_floats(evaluate(dropped, X, y, loss_fn))]
        dropped.train()
        runs.append(_floats(evaluate(dropped, X, y, loss_fn)))
        out.update(dropout=runs, grad_enabled=grad_seen,
                   weights_changed=any(not torch.equal(p.detach(), b) for p, b in
                                       zip(dropped.parameters(), before, strict=True)))
    except BaseException as err:
        out["error"] = _error(err)
    return out


def _reference(model: Any, X: Any, y: Any, loss_fn: Any) -> dict[str, Any]:
    import torch
    was = model.training
    model.eval()
    with torch.no_grad():
        logits = model(X)
    model.train(was)
    return {"loss": loss_fn(logits, y).item(),
            "correct": int((logits.argmax(1) == y).sum().item()), "n": len(y)}


def _length(x: Any) -> int:
    return len(x) if isinstance(x, tuple | list) else 0


def _floats(x: Any) -> list[float | None]:
    if not isinstance(x, tuple | list):
        return []
    return [float(v) if _number_like(v) else None for v in x]


def _probe(probe: Callable[..., dict[str, Any]], fn: Callable[..., Any]) -> dict[str, Any]:
    """Run one probe, noting any call into nnfoundations that it makes."""
    calls: set[str] = set()
    sys.setprofile(_package_calls(calls))
    try:
        result = probe(fn)
    except BaseException:  # the probes' own fault: say so rather than hide it
        result = {"error": "the grader's probe failed: " + traceback.format_exc(limit=2)[-300:]}
    finally:
        sys.setprofile(None)
    return {"result": result, "package_calls": sorted(calls)}


def _package_calls(calls: set[str]) -> Callable[..., None]:
    """A profiler noting each nnfoundations function the probed code calls."""
    def profile(frame: Any, event: str, arg: Any) -> None:
        where = frame.f_code.co_filename
        if event == "call" and where != __file__ and "nnfoundations" in where.split(os.sep):
            calls.add(frame.f_code.co_name)
    return profile


PROBES = {"build_model": probe_build_model, "train_one_step": probe_train_one_step,
          "evaluate": probe_evaluate}


def main(config_path: str) -> None:
    """Do what the config says; every outcome becomes an event."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a huge print fails; it does not kill us
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    report = Reporter(config["event_fd"])
    if config.get("confine"):
        report("confined", **confine(config["scratch"], config.get("hide", [])))
    os.chdir(config["scratch"])
    warm_up()
    before = watched()
    namespace = load(config["files"], config["scratch"], report, config.get("execute", False))
    changed = tampered(before)
    names = {p["name"] for p in config["files"]}
    report("origins", **origins(namespace, names))
    for name, probe in PROBES.items() if config.get("functions", True) else ():
        if changed:
            break
        fn = namespace.get(name)
        if callable(fn):
            report("probe", name=name, **_probe(probe, fn))
            changed = tampered(before)
    report("tampered", names=changed)
    report("done")


if __name__ == "__main__":
    main(sys.argv[1])
