"""Make the README's figures from the default run (``nnf train``) on digits:
``docs/curves.png``, its curves with the diagnosis in the title, and ``docs/report.png``, the
top of its ``report.html`` as a phone shows it (headless Chromium, with the code the report's
browser test uses). ``make docs`` runs it."""

import sys
import tempfile
from pathlib import Path

from browser import chromium, open_page

from nnfoundations.app.cli import main
from nnfoundations.history import History
from nnfoundations.training.plots import plot_history

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        if main(["train", "--quiet", "--out", str(run)]) != 0:
            sys.exit(1)
        plot_history(History.from_json(run / "history.json"), HERE / "curves.png")
        print(f"wrote {HERE / 'curves.png'}")
        if chromium() is None:
            sys.exit("no chromium here for docs/report.png (apt-get install chromium)")
        open_page(run / "report.html", screenshot=HERE / "report.png", width=420, height=1300)
    print(f"wrote {HERE / 'report.png'}")
