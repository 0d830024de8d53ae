"""The computation's picture (nnf explain --graph): what is drawn, decided as data, then
drawn by matplotlib."""

import pytest
from matplotlib.colors import to_rgba

from nnfoundations.app.cli import main
from nnfoundations.app.graph_figure import STYLE, plot_graph
from nnfoundations.autodiff.graph import Mark, picture
from nnfoundations.autodiff.seed_examples import network, warmup


def marks(p):
    return {n.name: n.mark for n in p.nodes}


def test_1_2_2_greys_h1_and_what_it_blocks_and_highlights_the_path_through_h2():
    g = network()
    p = picture(g.output, g.nodes["w21"])
    m = marks(p)
    assert {k for k, v in m.items() if v == Mark.PATH} == {"w21", "z2", "h2", "ŷ", "L"}
    assert {k for k, v in m.items() if v == Mark.OFF} == {"h1", "z1", "w11", "w12"}
    assert m["x1"] == m["x2"] == m["v1"] == Mark.PLAIN  # x1 and x2 also feed z2
    links = {(lk.source, lk.target): lk for lk in p.links}
    assert links[("z1", "h1")].local == 0 and links[("z1", "h1")].mark == Mark.OFF
    assert links[("h2", "ŷ")].local == pytest.approx(0.4)
    assert links[("h2", "ŷ")].mark == Mark.PATH
    grads = {n.name: n.grad for n in p.nodes}
    assert grads["w21"] == pytest.approx(-0.224) and grads["w11"] == 0


def test_the_drawing_shows_each_value_gradient_and_mark():
    g = network()
    fig = plot_graph(picture(g.output, g.nodes["w21"]))
    texts = {t.get_gid(): t for t in fig.axes[0].texts if t.get_gid()}
    assert texts["node h1"].get_text() == "h1 = 0\n∂L/∂h1 = -0.336"
    assert texts["node w21"].get_text() == "w21 = 0.2\n∂L/∂w21 = -0.224"
    assert to_rgba(texts["node h1"].get_color()) == to_rgba(STYLE[Mark.OFF][0])
    assert to_rgba(texts["node h2"].get_color()) == to_rgba(STYLE[Mark.PATH][0])
    assert texts["link h2->ŷ"].get_text() == "∂ŷ/∂h2 = 0.4"
    assert len([k for k in texts if k.startswith("node")]) == 15  # 9 inputs, 6 steps


def test_the_warmup_is_a_chain_and_an_expression_is_drawn_too():
    g = warmup()
    p = picture(g.output, g.nodes["w"])
    assert [(n.name, n.column) for n in p.nodes] == [("w", 0), ("z", 1), ("a", 2), ("L", 3)]
    assert set(marks(p).values()) == {Mark.PATH}


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_nnf_explain_graph_writes_the_figure(tmp_path, capsys, suffix):
    target = tmp_path / f"g.{suffix}"
    assert main(["explain", "network", "--wrt", "w21", "--graph", str(target)]) == 0
    assert "∂L/∂w21" in capsys.readouterr().out
    assert target.stat().st_size > 1000
    if suffix == "svg":
        assert target.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_a_graph_of_what_has_none_is_refused(capsys, tmp_path):
    assert main(["explain", "cost", "--graph", str(tmp_path / "g.png")]) == 2
    assert main(["explain", "warmup", "--graph", str(tmp_path / "g.txt")]) == 2
    assert capsys.readouterr().err.count("\n") == 2
    assert not list(tmp_path.iterdir())
