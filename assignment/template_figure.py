"""Put the figures of 3.2.1 into the blank template a student gets (``nnf grade --template``).

The assignment's 3.2.1 asks to diagnose "the plots" of two models trained for 20 epochs on
the same data, and the plots are lost from the seed. This makes them by code, from two real
runs on the digits: Model A with a one-unit bottleneck (it underfits) and Model B, a large
network on 100 examples without dropout (it overfits). Only the curves are drawn: no verdict,
which is the student's to give. The figure is stored in the template's 3.2.1 cell as a
notebook attachment. ``make notebook`` runs it.

    python assignment/template_figure.py
"""

from __future__ import annotations

import base64
import json
import sys
from io import BytesIO

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nnfoundations import build_model, fit
from nnfoundations.app.formats import load_digits
from nnfoundations.app.preprocess import split_data
from nnfoundations.grading.grader import TEMPLATES

TEMPLATE = TEMPLATES / "hw4_foundations.ipynb"
NAME = "models_a_and_b.png"
EPOCHS = 20


def runs() -> list[tuple[str, list[float], list[float]]]:
    """Model A's and Model B's train and validation losses, epoch by epoch."""
    split = split_data(*load_digits(), seed=0)
    out = []
    for name, hidden, n_train, lr in (("Model A", [1], None, 3e-2),
                                      ("Model B", [256, 256], 100, 1e-2)):
        torch.manual_seed(0)
        n = n_train or len(split.y_train)
        history = fit(build_model(64, hidden, 10), (split.X_train[:n], split.y_train[:n]),
                      (split.X_val, split.y_val), epochs=EPOCHS, batch_size=16, lr=lr,
                      seed=0, progress=False)
        out.append((name, history.train_loss, history.val_loss))
    return out


def figure(curves: list[tuple[str, list[float], list[float]]]) -> bytes:
    """Both models' curves side by side, as PNG bytes."""
    fig = Figure(figsize=(10, 3.8))
    FigureCanvasAgg(fig)
    for ax, (name, train, val) in zip(fig.subplots(1, 2), curves, strict=True):
        epochs = range(1, len(train) + 1)
        ax.plot(epochs, train, label="train loss")
        ax.plot(epochs, val, label="validation loss")
        ax.set(title=name, xlabel="epoch", ylabel="cross-entropy loss")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    return buffer.getvalue()


def embed(png: bytes) -> None:
    """Store ``png`` in the template's 3.2.1 cell (replacing an earlier figure)."""
    book = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    cell = next(c for c in book["cells"] if c["cell_type"] == "markdown"
                and "".join(c["source"]).startswith("**3.2.1**"))
    text = "".join(cell["source"]).split("\n\n![")[0]
    cell["source"] = f"{text}\n\n![Model A and Model B: train and validation loss over " \
        f"{EPOCHS} epochs](attachment:{NAME})"
    cell["attachments"] = {NAME: {"image/png": base64.b64encode(png).decode("ascii")}}
    TEMPLATE.write_text(json.dumps(book, indent=1, ensure_ascii=False),
                        encoding="utf-8")


def main() -> int:
    embed(figure(runs()))
    print(f"wrote the 3.2.1 figure into {TEMPLATE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
