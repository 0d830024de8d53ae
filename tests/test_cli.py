"""The nnf command line, run in-process and as a real subprocess."""

import subprocess
import sys

from nnfoundations.cli import main


def test_train_prints_epochs_and_test_accuracy(capsys):
    assert main(["train", "--epochs", "5", "--hidden", "64"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("epoch") == 5
    accuracy = float(captured.out.split("test accuracy")[1].split()[0])
    assert accuracy > 0.8


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "nnfoundations", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "train" in done.stdout
