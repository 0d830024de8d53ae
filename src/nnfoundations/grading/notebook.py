"""Reading a submitted notebook as data: its code for the child, and its answers by question.

A notebook is JSON; nothing in it runs here. Its text is cut into questions at the lines
that start with a question's number (``### 1.1 ...``, ``**1.2.2** ...``); each question's
answer is what the student wrote there (markdown lines that are not the template's) and
what the code cells under it printed (their stored outputs, or the outputs of ``--execute``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nnfoundations._errors import InvalidValueError

_MARKER = re.compile(r"^\s*(?:#+\s*|\*\*|__)?(\d\.\d(?:\.\d)?)(?![\d.]*\d)")
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


@dataclass
class Cell:
    """One cell: its kind, its source, and its outputs as plain text."""

    kind: str
    source: str
    outputs: str = ""


def read_cells(path: Path) -> list[Cell]:
    """The cells of a notebook file, refused clearly when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cells = data["cells"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError,
            RecursionError) as err:  # JSON nested too deep for the parser
        raise InvalidValueError(f"{path} is not a readable notebook ({type(err).__name__})") \
            from None
    if not isinstance(cells, list):
        raise InvalidValueError(f"{path} is not a readable notebook (no list of cells)")
    return [Cell(str(c.get("cell_type", "")), _text(c.get("source", "")),
                 "\n".join(_output_text(o) for o in _list(c.get("outputs"))))
            for c in cells if isinstance(c, dict)]


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str:
    """A notebook's text field: a string, or a list of lines; anything else (a number, a
    nested object) is read as no text."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _output_text(output: object) -> str:
    if not isinstance(output, dict):
        return ""
    if output.get("output_type") == "stream":
        return _text(output.get("text", ""))
    data = output.get("data", {})
    if not isinstance(data, dict) or any(k.startswith("image/") for k in data):
        return ""  # a figure's text form says only that it is a figure
    return _text(data.get("text/plain", ""))


def definitions(cells: list[Cell]) -> str:
    """The imports, functions and classes of the code cells, as one module's source: enough
    to grade section 2 without running the notebook's other work."""
    kept: list[str] = []
    for cell in cells:
        if cell.kind != "code":
            continue
        try:
            tree = ast.parse(_without_magics(cell.source))
        except SyntaxError:
            continue
        kept += [ast.unparse(node) for node in tree.body if isinstance(node, _DEFINITIONS)]
    return "\n\n".join(kept) + "\n"


def code_cells(cells: list[Cell]) -> list[tuple[int, str]]:
    """Each code cell's number and its source without IPython's magics, to execute."""
    return [(k, _without_magics(c.source)) for k, c in enumerate(cells) if c.kind == "code"]


def _without_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def answers(cells: list[Cell], template: list[Cell] | None = None) -> dict[str, str]:
    """Each question's answer text: the student's markdown lines and the outputs under it."""
    known = {line.strip() for c in template or [] if c.kind == "markdown"
             for line in c.source.splitlines()}
    found: dict[str, list[str]] = {}
    for question, line in _lines(cells):
        if question is not None and line.strip() and line.strip() not in known:
            found.setdefault(question, []).append(line)
    return {q: "\n".join(lines) for q, lines in found.items()}


def _lines(cells: list[Cell]) -> Iterator[tuple[str | None, str]]:
    """Every markdown line and output line, with the question it falls under."""
    question: str | None = None
    for cell in cells:
        if cell.kind == "markdown":
            for line in cell.source.splitlines():
                marker = _MARKER.match(line)
                if marker:
                    question = marker.group(1)
                elif line.lstrip().startswith("#"):
                    question = None  # a heading of something else ends the question
                yield question, line
        elif cell.kind == "code":
            for line in cell.outputs.splitlines():
                yield question, line
