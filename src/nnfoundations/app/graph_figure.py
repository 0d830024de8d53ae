"""Drawing a computation's picture (``nnf explain ... --graph FILE``) with matplotlib.

What is drawn is decided in :mod:`nnfoundations.autodiff.graph`; this module only places
it: one column per depth, each node a box with its value and gradient, each link an arrow
labelled with its local derivative; the path to the output highlighted, what an inactive
ReLU blocks greyed.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from nnfoundations._format import fmt
from nnfoundations.autodiff.engine import Value
from nnfoundations.autodiff.graph import Mark, Node, Picture, picture
from nnfoundations.training.plots import _finish, check_image_path

#: How each mark is drawn: (edge and text colour, line width).
STYLE = {Mark.PATH: ("tab:orange", 2.6), Mark.OFF: ("0.72", 1.0), Mark.PLAIN: ("0.2", 1.2)}


def draw_graph(output: Value, wrt: Value, path: str | Path | None = None) -> Path | Figure:
    """Draw the computation of ``output`` for ``∂output/∂wrt`` (what ``nnf explain
    --graph`` draws); a notebook shows the returned figure inline.

    Example:
        >>> from nnfoundations.autodiff.seed_examples import network
        >>> g = network(); type(draw_graph(g.output, g.nodes["w21"])).__name__
        'Figure'
    """
    return plot_graph(picture(output, wrt), path)


def plot_graph(drawn: Picture, path: str | Path | None = None) -> Path | Figure:
    """Draw ``drawn``; write it to ``path`` (its suffix names the format) or return the
    figure (a notebook shows it inline)."""
    image_format = check_image_path(path) if path is not None else None
    columns = max(n.column for n in drawn.nodes) + 1
    tallest = max(sum(1 for m in drawn.nodes if m.column == n.column) for n in drawn.nodes)
    fig = Figure(figsize=(2.6 * columns + 1, 1.5 * tallest + 1.2))
    ax = fig.add_subplot()
    where = {n.name: _position(n, drawn) for n in drawn.nodes}
    for link in drawn.links:
        colour, width = STYLE[link.mark]
        (x0, y0), (x1, y1) = where[link.source], where[link.target]
        ax.annotate("", xy=(x1 - 0.33, y1), xytext=(x0 + 0.33, y0),
                    arrowprops={"arrowstyle": "->", "color": colour, "lw": width})
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.1,
                f"∂{link.target}/∂{link.source} = {fmt(link.local)}", ha="center",
                fontsize=7, color=colour, gid=f"link {link.source}->{link.target}")
    for node in drawn.nodes:
        colour, width = STYLE[node.mark]
        x, y = where[node.name]
        ax.text(x, y, f"{node.name} = {fmt(node.value)}\n∂{drawn.output}/∂{node.name} = "
                f"{fmt(node.grad)}", ha="center", va="center", fontsize=8, color=colour,
                gid=f"node {node.name}",
                bbox={"boxstyle": "round", "fc": "white", "ec": colour, "lw": width})
    ax.set_xlim(-0.6, columns - 0.4)
    ax.set_ylim(-tallest / 2 - 0.3, tallest / 2 + 0.3)
    ax.axis("off")
    ax.set_title(f"∂{drawn.output}/∂{drawn.wrt}: the path highlighted; what an inactive "
                 "ReLU blocks greyed", fontsize=9)
    return _finish(fig, path, image_format)


def _position(node: Node, drawn: Picture) -> tuple[float, float]:
    rows = sum(1 for n in drawn.nodes if n.column == node.column)
    return float(node.column), (rows - 1) / 2 - node.row
