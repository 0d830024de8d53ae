"""A run's report: one self-contained HTML page (no network, no script, no font or image
outside it) with the curves, the verdict and its evidence, the findings and, for a run of
``nnf train``, its settings, test metrics, per-class accuracy, confusion matrix and dead
units. It reads on a phone and prints on paper."""

from __future__ import annotations

import html
import json
from io import StringIO
from pathlib import Path
from typing import Any

from nnfoundations._errors import InvalidValueError
from nnfoundations._files import atomic_write_text, writable_file
from nnfoundations.diagnosis import Columns, Diagnosis, diagnose
from nnfoundations.diagnosis.kinds import render
from nnfoundations.diagnosis.readers import read_run
from nnfoundations.history import History
from nnfoundations.training.plots import plot_history

#: The page's look: one column, figures and tables as wide as the screen allows.
STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #ddd}
svg{max-width:100%;height:auto}.wide{overflow-x:auto}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}th{background:#f4f4f4}
.verdict{font-size:1.2rem;font-weight:600}.fix{color:#555}
@media print{body{max-width:none}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


def report(source: str | Path | History, out: str | Path | None = None, *,
           run: int | None = None, columns: Columns | None = None) -> str:
    """The report of a run as one HTML page; written (atomically) to ``out`` when given.

    Args:
        source: a run directory of ``nnf train``, a History, or any log ``nnf diagnose``
            reads (a CSV, a JSON history, a TensorBoard folder, ...).
        out: where to write the page; None writes nothing.
        run: which run of a log holding several (1-based).
        columns: the columns to read, where a log's names are not guessed right.

    Returns:
        The page's HTML.

    Example:
        >>> h = History()
        >>> for e in range(1, 6):
        ...     h.append(epoch=e, train_loss=1 / e, val_loss=1.1 / e, val_acc=0.2 * e, lr=0.1,
        ...              seconds=0.0)
        >>> page = report(h)
        >>> page.startswith("<!doctype html>") and "<svg" in page and 'id="verdict"' in page
        True
    """
    if out is not None:
        writable_file(out)  # refused before any work
    history, extra = None, {}
    if isinstance(source, History):
        history = source
    elif (Path(source) / "history.json").is_file() and (Path(source) / "metrics.json").is_file():
        history, extra = History.from_json(Path(source) / "history.json"), _files(Path(source))
    curves = read_run(source if history is None else history, run=run,
                      columns=columns or Columns())
    title = "a run" if isinstance(source, History) else str(source)
    page = build_page(curves, diagnose(curves), title, history, **extra)
    if out is not None:
        atomic_write_text(out, page)
    return page


def _files(folder: Path) -> dict[str, Any]:
    """What a run directory adds to its curves: its metrics and settings."""
    try:
        return {name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
                for name in ("metrics", "settings") if (folder / f"{name}.json").is_file()}
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InvalidValueError(f"{folder} holds a damaged file ({err})") from None


def build_page(curves: Any, diagnosis: Diagnosis, title: str, history: History | None = None,
               metrics: dict[str, Any] | None = None,
               settings: dict[str, Any] | None = None) -> str:
    """The page of a run from what is known of it (``curves`` as ``read_run`` gives them)."""
    parts = [f"<h1>Run report: {_e(title)}</h1>", _verdict(diagnosis), _figure(curves, diagnosis),
             _reasons(diagnosis), _findings(diagnosis)]
    if metrics:
        parts += [_metrics(metrics), _per_class(metrics), _confusion(metrics)]
    if history is not None and history.telemetry:
        parts.append(_dead_units(history.telemetry[-1]))
    if settings:
        parts.append(_settings(settings))
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}: {_e(_words(diagnosis.verdict))}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(p for p in parts if p)}"
            "</body></html>\n")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _words(name: str) -> str:
    return str(name).replace("_", " ")


def _verdict(d: Diagnosis) -> str:
    keep = "none" if d.stop_epoch is None else f"epoch {d.stop_epoch}"
    best = "" if d.best_epoch is None else f"; best epoch {d.best_epoch}"
    return (f"<p class=\"verdict\" id=\"verdict\">{_e(_words(d.verdict))} "
            f"(confidence {d.confidence:.2f})</p><p>keep: {_e(keep)}{_e(best)}</p>")


def _figure(curves: Any, d: Diagnosis) -> str:
    """The curves as inline SVG, the best epoch and the epoch to keep marked."""
    if not len(curves):
        return "<p>No epoch to draw.</p>"
    text = StringIO()
    figure = plot_history(curves, None, d)
    figure.savefig(text, format="svg", metadata={"Date": None})  # the same page each time
    svg = text.getvalue()
    return f"<figure id=\"curves\">{svg[svg.index('<svg'):]}</figure>"


def _reasons(d: Diagnosis) -> str:
    items = "".join(f"<li>{_e(render(r))}</li>" for r in d.reasons)
    return f"<h2>Why</h2><ul id=\"reasons\">{items}</ul>" if items else ""


def _findings(d: Diagnosis) -> str:
    items = "".join(f"<li><b>{_e(_words(f.name))}</b>: {_e(f.evidence)}<br>"
                    f"<span class=\"fix\">{_e(f.fix)}</span></li>" for f in d.findings)
    return f"<h2>Findings</h2><ul id=\"findings\">{items}</ul>" if items else \
        "<h2>Findings</h2><p>None.</p>"


def _table(head: list[str], rows: list[list[object]], table_id: str) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<div class=\"wide\"><table id=\"{table_id}\"><tr>{th}</tr>{body}</table></div>"


def _metrics(m: dict[str, Any]) -> str:
    if m.get("test_accuracy") is None:
        return ""
    return ("<h2>Test</h2>" + _table(["loss", "accuracy", "epochs run"],
                                     [[f"{m['test_loss']:.4f}", f"{m['test_accuracy']:.4f}",
                                       m.get("epochs_run")]], "test")
            + f"<p>Training ended: {_e(m.get('stop_reason'))}.</p>")


def _per_class(m: dict[str, Any]) -> str:
    rows = [[r["class"], r["count"], "" if r["accuracy"] is None else f"{r['accuracy']:.3f}"]
            for r in m.get("per_class") or []]
    return "<h2>Per class</h2>" + _table(["class", "count", "accuracy"], rows, "per-class") \
        if rows else ""


def _confusion(m: dict[str, Any]) -> str:
    matrix, classes = m.get("confusion"), [r["class"] for r in m.get("per_class") or []]
    if not matrix or len(matrix) != len(classes):
        return ""
    rows = [[c, *counts] for c, counts in zip(classes, matrix, strict=True)]
    return ("<h2>Confusion matrix</h2><p>Rows: the true class; columns: the predicted one.</p>"
            + _table(["true \\ predicted", *map(str, classes)], rows, "confusion"))


def _dead_units(record: dict[str, Any]) -> str:
    dead = record.get("dead_relu") or {}
    rows = [[layer, f"{share:.0%}"] for layer, share in dead.items()]
    return ("<h2>Dead ReLU units (last epoch)</h2>"
            + _table(["layer", "share that never fired"], rows, "dead-units")) if rows else ""


def _settings(s: dict[str, Any]) -> str:
    flat = {**{k: v for k, v in s.items() if k != "fit"}, **(s.get("fit") or {})}
    rows = [[k, json.dumps(v) if isinstance(v, list | dict) else v] for k, v in flat.items()]
    return "<h2>Settings</h2>" + _table(["setting", "value"], rows, "settings")
