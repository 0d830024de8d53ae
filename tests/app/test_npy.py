"""Data as .npy: a folder of X.npy and y.npy, or a file and --labels; memory-mapped, its
standardisation streamed, its training part left on disk."""

import json

import numpy as np
import pytest

from nnfoundations.app.cli import main
from nnfoundations.app.formats import load_digits, read_data
from nnfoundations.app.preprocess import fit_scaler, split_data
from nnfoundations.training.batches import Rows


@pytest.fixture
def folder(tmp_path):
    X, y = load_digits()
    np.save(tmp_path / "X.npy", X.astype(np.float32))
    np.save(tmp_path / "y.npy", y)
    return tmp_path


def test_streamed_statistics_equal_the_in_memory_ones():
    X = np.random.default_rng(0).normal(5.0, 3.0, size=(20_001, 7))
    X[:, 3] = 2.0  # a constant column
    whole, streamed = fit_scaler(X), fit_scaler(Rows(X).chunks())
    assert np.allclose(whole.mean_, streamed.mean_) and np.allclose(whole.scale_,
                                                                   streamed.scale_)
    assert streamed.scale_[3] == 1.0 and streamed.n_samples_seen_ == len(X)


def test_a_folder_is_read_memory_mapped_and_split_with_the_part_on_disk(folder):
    table = read_data(str(folder))
    assert isinstance(table.X, np.memmap) and table.label_name == "file y.npy"
    split = split_data(table.X, table.labels(), seed=0)
    assert isinstance(split.X_train, Rows)
    in_memory = split_data(np.array(table.X, dtype=np.float64), table.labels(), seed=0)
    assert np.allclose(split.X_train.gather(np.arange(5)).numpy(), in_memory.X_train[:5],
                       atol=1e-5)
    assert np.allclose(split.X_val.numpy(), in_memory.X_val.numpy(), atol=1e-5)


def test_nnf_train_on_npy_equals_the_same_data_in_memory(folder, tmp_path, capsys):
    args = ["--epochs", "3", "--hidden", "16", "--quiet"]
    assert main(["train", "--data", str(folder), *args, "--out", str(tmp_path / "a")]) == 0
    assert main(["train", *args, "--out", str(tmp_path / "b")]) == 0  # the same digits
    a, b = (json.loads((tmp_path / d / "history.json").read_text()) for d in "ab")
    assert [r["val_loss"] for r in a["records"]] == pytest.approx(
        [r["val_loss"] for r in b["records"]], rel=1e-5)
    assert main(["evaluate", str(tmp_path / "a")]) == 0  # its held-out rows, by fingerprint


def test_a_file_with_labels_and_the_errors(folder, tmp_path):
    X = folder / "X.npy"
    assert len(read_data(str(X), labels=str(folder / "y.npy")).labels()) == 1797
    (tmp_path / "f.npy").write_bytes(X.read_bytes())
    with pytest.raises(ValueError, match="give its labels' .npy with --labels"):
        read_data(str(tmp_path / "f.npy"))
    bad = np.ones((4, 3), np.float32)
    bad[2, 1] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    np.save(tmp_path / "lab.npy", np.arange(4))
    with pytest.raises(ValueError, match="X row 2, feature 1: nan is not a finite number"):
        read_data(str(tmp_path / "bad.npy"), labels=str(tmp_path / "lab.npy"))
    with pytest.raises(ValueError, match="y must be one label per row of X"):
        read_data(str(folder / "X.npy"), labels=str(tmp_path / "lab.npy"))
    with pytest.raises(ValueError, match="no such .npy file"):
        read_data(str(tmp_path / "missing.npy"), labels=str(tmp_path / "lab.npy"))
