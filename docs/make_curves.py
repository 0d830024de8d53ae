"""Make ``docs/curves.png``, the README's figure: the default run (``nnf train``) on
digits, drawn with its diagnosis in the title. ``make docs`` runs it."""

import sys
import tempfile
from pathlib import Path

from nnfoundations.app.cli import main
from nnfoundations.history import History
from nnfoundations.training.plots import plot_history

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        if main(["train", "--quiet", "--out", str(Path(tmp) / "run")]) != 0:
            sys.exit(1)
        plot_history(History.from_json(Path(tmp) / "run" / "history.json"),
                     HERE / "curves.png")
    print(f"wrote {HERE / 'curves.png'}")
