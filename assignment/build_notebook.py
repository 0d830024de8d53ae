"""Build hw4_foundations.ipynb from hw4_foundations_notebook.py, and execute it.

The notebook's source is a jupytext percent script, readable in a diff. A code cell holding
only ``# include: NAME`` is replaced by a piece of ``hw4_foundations.py``: ``imports`` (its
imports and RNG), a function by its name, or ``main K`` (its K-th ``if __name__`` block), so
the notebook and the standalone file share one source.

    python assignment/build_notebook.py            # build and execute, write the .ipynb
    python assignment/build_notebook.py --check    # fail if the .ipynb is not up to date
"""

from __future__ import annotations

import ast
import os
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "hw4_foundations_notebook.py"
STANDALONE = HERE / "hw4_foundations.py"
NOTEBOOK = HERE / "hw4_foundations.ipynb"
TIMEOUT_S = 120


def pieces() -> dict[str, str]:
    """The includable pieces of the standalone file, by name."""
    text = STANDALONE.read_text(encoding="utf-8")
    lines = text.splitlines()
    found, mains, head = {}, 0, []
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = ast.get_source_segment(text, node)
        elif isinstance(node, ast.If):
            mains += 1
            found[f"main {mains}"] = ast.get_source_segment(text, node)
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            head.append(node)  # imports and the RNG, not the module docstring
    # the lines from the first import to the RNG, comments and blank lines included
    found["imports"] = "\n".join(lines[head[0].lineno - 1 : head[-1].end_lineno])
    return found


def build() -> nbformat.NotebookNode:
    """The notebook, unexecuted, with its includes filled in."""
    notebook = jupytext.reads(SOURCE.read_text(encoding="utf-8"), fmt="py:percent")
    available = pieces()
    for k, cell in enumerate(notebook.cells):
        cell.id = f"cell-{k:03d}"  # stable ids: a rebuild changes only what changed
        source = cell.source.strip()
        if cell.cell_type == "code" and source.startswith("# include: "):
            cell.source = available[source.removeprefix("# include: ")]
    return notebook


def execute(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Run every cell top to bottom in a fresh kernel, in ``folder`` (its plots land there)."""
    # One thread: the notebook's tensors are too small for torch to split, so its outputs are
    # the same, while two OpenMP threads in a kernel ran 25x slower (165 s against 7) on a
    # 2-core machine whose other core another process held.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(folder)}}).execute(env=env)
    return notebook


def sources(notebook: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in notebook.cells]


def main() -> int:
    if "--check" in sys.argv:
        stored = nbformat.read(NOTEBOOK, as_version=4)
        if sources(stored) != sources(build()):
            print(f"{NOTEBOOK.name} is out of date: run `make notebook`", file=sys.stderr)
            return 1
        return 0
    with tempfile.TemporaryDirectory() as folder:  # the plots are inside the notebook
        notebook = execute(build(), Path(folder))
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
