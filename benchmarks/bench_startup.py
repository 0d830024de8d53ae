"""Start-up time of ``nnf`` commands: the ones that load no model against ``nnf train``.

Each command runs as a fresh process (the console script of this venv), several times; the
figure is the median wall time. ``nnf train`` runs one epoch on digits, so its time is
mostly importing torch and matplotlib, then a second of training at most.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NNF = [sys.executable, "-m", "nnfoundations"]
REPEATS = 5


def wall(argv: list[str], repeats: int = REPEATS) -> float:
    """Median seconds of ``nnf ARGV`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(NNF + argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def history_file(folder: Path) -> Path:
    path = folder / "history.json"
    path.write_text(json.dumps({"version": 2, "records": [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_acc": 0.5, "lr": 1e-3,
         "seconds": 0.0} for e in range(1, 31)], "settings": {"n_outputs": 10},
        "stop_kind": "completed", "stop_reason": "completed", "best_epoch": 30}))
    return path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        history = history_file(folder)
        rows = [("nnf --help", wall(["--help"])), ("nnf --version", wall(["--version"])),
                ("nnf explain warmup", wall(["explain", "warmup"])),
                ("nnf diagnose history.json", wall(["diagnose", str(history)]))]
        train = ["train", "--epochs", "1", "--quiet", "--out"]
        train_s = statistics.median(wall([*train, str(folder / f"run{k}")], repeats=1)
                                    for k in range(3))
    import torch  # here only, for its thread count: the commands timed above never load it

    print(f"Start-up, median wall seconds of a fresh process (torch threads "
          f"{torch.get_num_threads()}, {os.cpu_count()} cores)")
    for name, seconds in rows:
        print(f"  {name:<28}{seconds:7.3f} s   {train_s / seconds:5.1f}x faster than train")
    print(f"  {'nnf train --epochs 1':<28}{train_s:7.3f} s")


if __name__ == "__main__":
    main()
