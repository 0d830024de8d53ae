"""Data-parallel throughput: samples per second of one epoch of the assignment's model on 60,000
samples, in 1 and 2 processes (torchrun, gloo, one thread each) and in 1 process with 2
threads, at the same global batch (128, then 1024: fewer all-reduces an epoch)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N, GLOBAL_BATCHES, EPOCHS = 60_000, (128, 1024), 3

WORKER = """
import json, sys, time, torch
from nnfoundations import build_model, fit
from nnfoundations.training.distributed import init_from_env, leave
rank, world = init_from_env()
torch.set_num_threads(int(sys.argv[2]))
g = torch.Generator().manual_seed(0)
X, y = torch.randn({n}, 784, generator=g), torch.randint(0, 9, ({n},), generator=g)
torch.manual_seed(0)
h = fit(build_model(784, [128, 64], 9), (X, y), epochs={epochs}, batch_size={batch} // world,
        seed=0, progress=False)
if rank == 0:
    json.dump(h.seconds, open(sys.argv[1], "w"))
leave()
"""


def measure(processes: int, threads: int, batch: int) -> float:
    """The median epoch's samples per second."""
    with tempfile.TemporaryDirectory() as tmp:
        script, out = Path(tmp) / "worker.py", Path(tmp) / "seconds.json"
        script.write_text(WORKER.format(n=N, epochs=EPOCHS, batch=batch))
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        f"--nproc-per-node={processes}", str(script), str(out), str(threads)],
                       check=True, capture_output=True, env=env, timeout=600)
        return N / statistics.median(json.loads(out.read_text()))


def main() -> None:
    print(f"== data-parallel fit: build_model(784, [128, 64], 9), {N:,} samples, median of "
          f"{EPOCHS} epochs; samples per second at the same global batch")
    start = time.perf_counter()
    for batch in GLOBAL_BATCHES:
        r = {(p, t): measure(p, t, batch) for p, t in ((1, 1), (2, 1), (1, 2))}
        print(f"global batch {batch:>4}: 1 process x 1 thread {r[(1, 1)]:>8,.0f}   "
              f"2 processes x 1 thread {r[(2, 1)]:>8,.0f}   1 process x 2 threads "
              f"{r[(1, 2)]:>8,.0f}   (2 processes: {r[(2, 1)] / r[(1, 1)]:.2f}x one "
              f"single-thread process)")
    print(f"({time.perf_counter() - start:.0f} s in all; gloo's all-reduce over loopback "
          "costs each step the same, so it pays only where a step's work outweighs it)")


if __name__ == "__main__":
    main()
