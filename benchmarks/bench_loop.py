"""One epoch of the assignment's model on 60,000 synthetic samples, five ways, side by side.

* ``textbook``: the assignment's Part 2 preview, a ``DataLoader`` over a ``TensorDataset`` and one
  ``train_one_step`` per batch;
* ``autograd`` and ``matrix``: ``fit(engine=...)``, with telemetry on as by default;
* ``sklearn``: scikit-learn's ``MLPClassifier`` (its own backprop by hand, in NumPy), float32,
  the same architecture and batch size, ``max_iter=1``: one epoch;
* ``floor``: the eight matrix products of one epoch (three forward, three weight gradients,
  two deltas) of the same shapes, timed alone into preallocated outputs.

Each variant runs in its own process per thread count (torch, OpenMP and BLAS limited to that
many threads), all batch sizes in turn; seconds are the median of ``EPOCHS`` epochs, the
best of ``ROUNDS`` interleaved rounds. Peak memory is measured in a pass of its own, one epoch
on one thread with glibc's malloc made to return freed memory at once
(``MALLOC_MMAP_THRESHOLD_=0``, which slows allocation, hence a pass apart): the rise of the
process's peak RSS above its RSS before the variant ran (``/proc/self/clear_refs`` resets the
peak), after a warm-up on a slice of the data, so that neither the data set, shared by all,
nor the libraries' pages count.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

N, FEATURES, HIDDEN, CLASSES = 60_000, 784, [128, 64], 9
BATCHES, THREADS, EPOCHS, ROUNDS = (64, 256, 1024), (1, 2), 3, 3
VARIANTS = ("textbook", "autograd", "matrix", "sklearn", "floor")


def _data() -> tuple[Any, Any]:
    import torch
    g = torch.Generator().manual_seed(0)
    return torch.randn(N, FEATURES, generator=g), torch.randint(0, CLASSES, (N,), generator=g)


def _textbook(X: Any, y: Any, batch: int, epochs: int) -> list[float]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from nnfoundations import build_model, train_one_step
    model = build_model(FEATURES, HIDDEN, CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=True)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for X_batch, y_batch in loader:
            train_one_step(model, X_batch, y_batch, loss_fn, optimizer)
        seconds.append(time.perf_counter() - start)
    return seconds


def _fit(engine: str, telemetry: bool = True, diagnosed: bool = False) -> Any:
    def run(X: Any, y: Any, batch: int, epochs: int) -> list[float]:
        from nnfoundations import build_model, fit
        from nnfoundations.integrations.fit import Diagnose
        model = build_model(FEATURES, HIDDEN, CLASSES)
        history = fit(model, (X, y), epochs=epochs, batch_size=batch, seed=0, progress=False,
                      engine=engine, telemetry=telemetry,
                      hooks=[Diagnose()] if diagnosed else [])
        assert history.settings["engine"] == engine
        return history.seconds
    return run


def _sklearn(X: Any, y: Any, batch: int, epochs: int) -> list[float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    Xn, yn = X.numpy(), y.numpy()
    seconds = []
    for k in range(epochs):
        clf = MLPClassifier(tuple(HIDDEN), batch_size=batch, max_iter=1, random_state=k)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xn, yn)
        seconds.append(time.perf_counter() - start)
        assert clf.coefs_[0].dtype == Xn.dtype  # float32 throughout
    return seconds


def _floor(X: Any, y: Any, batch: int, epochs: int) -> list[float]:
    import torch
    sizes = [FEATURES, *HIDDEN, CLASSES]
    weights = [torch.randn(o, i) for i, o in zip(sizes, sizes[1:], strict=False)]
    acts = [torch.randn(batch, s) for s in sizes]  # H_0 = X, ..., Z_L
    grads = [torch.empty_like(w) for w in weights]
    deltas = [torch.empty(batch, s) for s in sizes]
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in range(-(-len(X) // batch)):
            for k, w in enumerate(weights):
                torch.mm(acts[k], w.t(), out=acts[k + 1])
            for k in range(len(weights) - 1, -1, -1):
                torch.mm(acts[k + 1].t(), acts[k], out=grads[k])
                if k > 0:
                    torch.mm(acts[k + 1], weights[k], out=deltas[k])
        seconds.append(time.perf_counter() - start)
    return seconds


RUNNERS = {"textbook": _textbook, "autograd": _fit("autograd"), "matrix": _fit("matrix"),
           "matrix-no-telemetry": _fit("matrix", telemetry=False),
           "matrix-diagnosed": _fit("matrix", diagnosed=True), "sklearn": _sklearn,
           "floor": _floor}


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def child(variant: str, threads: int, epochs: int, batches: list[int]) -> None:
    """Run ``variant`` at each batch size; print its seconds and peak memory as JSON."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    X, y = _data()
    results = {}
    for batch in batches:
        RUNNERS[variant](X[:4096], y[:4096], batch, 1)  # a warm-up: code and caches paged in
        Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts again from here
        before = _status_kb("VmRSS")
        seconds = RUNNERS[variant](X, y, batch, epochs)
        results[batch] = {"seconds": statistics.median(seconds),
                          "peak_mb": (_status_kb("VmHWM") - before) / 1024}
    print(json.dumps(results))


def _measure(variant: str, threads: int, batches: tuple[int, ...] = BATCHES,
             memory: bool = False) -> dict[int, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    if memory:
        env["MALLOC_MMAP_THRESHOLD_"] = "0"
    out = subprocess.run([sys.executable, __file__, variant, str(threads),
                          str(1 if memory else EPOCHS), *map(str, batches)],
                         capture_output=True, text=True, check=True, env=env)
    return {int(k): v for k, v in json.loads(out.stdout).items()}


def _best(results: dict[tuple[str, int], dict[int, Any]], variant: str, threads: int,
          got: dict[int, Any], key: str = "seconds") -> None:
    """Keep, per batch size, the run with the least ``key``: noise only ever adds to it."""
    mine = results.setdefault((variant, threads), {})
    for batch, r in got.items():
        if batch not in mine or r[key] < mine[batch][key]:
            mine[batch] = r


def main() -> None:
    import sklearn
    import torch
    print(f"== one epoch of build_model({FEATURES}, {HIDDEN}, {CLASSES}) on {N:,} samples, "
          f"Adam; torch {torch.__version__}, scikit-learn {sklearn.__version__}; the median of "
          f"{EPOCHS} epochs, best of {ROUNDS} interleaved rounds; threads as stated per line")
    results: dict[tuple[str, int], dict[int, Any]] = {}
    for _ in range(ROUNDS):  # interleaved: a slow moment hits all alike
        for threads in THREADS:
            for variant in VARIANTS:
                _best(results, variant, threads, _measure(variant, threads))
    for threads in THREADS:
        for batch in BATCHES:
            _report(threads, batch, {v: results[(v, threads)][batch]["seconds"]
                                     for v in VARIANTS})
    _memory()
    _cost("matrix", "matrix-no-telemetry", "telemetry", "< 5%")
    # the live diagnosis (integrations.fit.Diagnose): the history diagnosed after each epoch
    _cost("matrix-diagnosed", "matrix", "the live diagnosis", "negligible, < 1%")
    _digits_agreement()


def _report(threads: int, batch: int, s: dict[str, float]) -> None:
    m, goal = s["matrix"], batch == 64 and threads == 1
    print(f"{threads} thread{'s' if threads > 1 else ' '}, batch {batch:>4}: "
          + "  ".join(f"{v} {s[v]:.3f} s" for v in VARIANTS))
    print(f"    matrix: {m / s['floor']:.2f}x the floor{' (goal <= 2.0)' if goal else ''}, "
          f"{s['textbook'] / m:.2f}x faster than textbook{' (goal >= 2.5)' if goal else ''}, "
          f"{s['autograd'] / m:.2f}x faster than autograd, {s['sklearn'] / m:.2f}x faster than "
          "sklearn (goal > 1)")


def _memory() -> None:
    peaks: dict[tuple[str, int], dict[int, Any]] = {}
    for _ in range(2):
        for v in VARIANTS:
            _best(peaks, v, 1, _measure(v, 1, memory=True), key="peak_mb")
    print("peak memory above the data, MB (1 thread, one epoch, the least of two runs):")
    for batch in BATCHES:
        p = {v: peaks[(v, 1)][batch]["peak_mb"] for v in VARIANTS}
        print(f"    batch {batch:>4}: " + "  ".join(f"{v} {p[v]:.1f}" for v in VARIANTS)
              + f"  (matrix - autograd: {p['matrix'] - p['autograd']:+.1f}; goal <= 0)")


def _cost(variant: str, without: str, what: str, goal: str) -> None:
    """What ``variant`` costs over the same epochs run as ``without``, best of ROUNDS."""
    threads = THREADS[-1]
    best: dict[str, float] = {}
    for _ in range(ROUNDS):
        for name in (variant, without):
            got = _measure(name, threads, (64,))[64]["seconds"]
            best[name] = min(best.get(name, got), got)
    print(f"{what} costs {best[variant] / best[without] - 1:+.1%} of a matrix epoch at batch "
          f"64, {threads} threads (goal {goal})")


def _digits_agreement() -> None:
    """`make run`'s training on both engines: the same History to float tolerance?"""
    import torch

    from nnfoundations.app.config import TrainConfig
    from nnfoundations.app.runs import train_run
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("autograd", "matrix"):
            runs[engine] = train_run(TrainConfig(engine=engine, quiet=True,
                                                 out=str(Path(tmp) / engine)))
    a, m = (runs[e].history for e in ("autograd", "matrix"))
    drift = [abs(x - y) / x for x, y in zip(a.val_loss, m.val_loss, strict=False)]
    acc = {e: runs[e].metrics["test_accuracy"] for e in runs}
    print(f"`make run` (digits, {torch.get_num_threads()} threads) on both engines: test "
          f"accuracy autograd {acc['autograd']:.2%}, matrix {acc['matrix']:.2%} (goal: within "
          f"0.5 points); best epoch {a.best_epoch} and {m.best_epoch} of {len(a)} and {len(m)}"
          f"; validation loss apart by at most {max(drift[:5]):.1e} (relative) over the first "
          f"5 epochs, {max(drift):.1e} over the run, as float32 rounding compounds")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(b) for b in sys.argv[4:]])
    else:
        main()
