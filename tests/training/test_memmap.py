"""Features larger than memory: a memory-mapped .npy trains row by row, with the same
batches as in memory, and the process's anonymous memory stays far below the file's size."""

from pathlib import Path

import numpy as np
import pytest
import torch

from nnfoundations import build_model, fit
from nnfoundations.training.batches import Rows


def rss_anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no RssAnon in /proc/self/status on this system")


def memmapped(path, n, d, seed=0):
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(seed)
    for start in range(0, n, 8192):  # written in chunks: never whole in memory
        X[start:start + 8192] = rng.standard_normal((min(8192, n - start), d), np.float32)
    X.flush()
    del X
    return np.load(path, mmap_mode="r"), rng.integers(0, 9, n)


def test_a_memory_mapped_array_trains_like_the_same_array_in_memory(tmp_path):
    X, y = memmapped(tmp_path / "X.npy", 700, 12)
    histories = []
    for data in ((X, y), (torch.from_numpy(np.array(X)), torch.from_numpy(y))):
        torch.manual_seed(0)
        histories.append(fit(build_model(12, [8], 9), data, data, epochs=2, batch_size=64,
                             seed=3, progress=False))
    assert histories[0].train_loss == pytest.approx(histories[1].train_loss, rel=1e-6)
    assert histories[0].val_loss == pytest.approx(histories[1].val_loss, rel=1e-6)


def test_standardised_rows_are_gathered_on_demand():
    array = np.arange(20.0).reshape(10, 2)
    rows = Rows(array, index=np.array([9, 0, 5]), mean=np.array([1.0, 1.0]),
                std=np.array([2.0, 2.0]))
    assert rows.gather(np.array([0, 2])).tolist() == [[8.5, 9.0], [4.5, 5.0]]
    assert [c.shape for c in rows.chunks()] == [(3, 2)]


@pytest.mark.slow
def test_a_file_larger_than_the_memory_it_costs_trains_with_bounded_memory(tmp_path):
    n, d = 100_000, 784  # 313 MB of float32 on disk
    X, y = memmapped(tmp_path / "big.npy", n, d)
    size_mb = X.nbytes / 2**20
    before = rss_anon_mb()
    history = fit(build_model(d, [64], 9), (X, y), epochs=1, batch_size=512, seed=0,
                  progress=False, telemetry=False)
    grew = rss_anon_mb() - before
    print(f"anonymous memory grew {grew:.1f} MB training on a {size_mb:.0f} MB file")
    assert len(history) == 1 and history.settings["n_train"] == n
    assert grew < 0.3 * size_mb, f"anonymous memory grew {grew:.0f} MB for a {size_mb:.0f} MB file"
