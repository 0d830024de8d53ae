"""At home in a notebook: HTML for History and Diagnosis, a Figure to show inline, and
tqdm.auto's bar where a kernel runs."""

import sys
from types import SimpleNamespace

from matplotlib.figure import Figure

from nnfoundations import diagnose, plot_history
from nnfoundations.history import History
from nnfoundations.training.progress import Progress


def run():
    h = History(stop_reason="early stop <after 3>", best_epoch=2)
    for e, (t, v) in enumerate([(1.0, 1.1), (0.5, 0.6), (0.4, 0.7)], start=1):
        h.append(epoch=e, train_loss=t, val_loss=v, val_acc=0.5 + e / 10, lr=1e-3,
                 seconds=0.1)
    return h


def test_history_renders_as_a_table_with_the_best_epoch_in_bold():
    html = run()._repr_html_()
    assert html.count("<tr>") == 4 and "<td><b>2</b></td>" in html
    assert "early stop &lt;after 3&gt;" in html  # escaped


def test_a_diagnosis_renders_its_verdict_and_reasons():
    html = diagnose(run())._repr_html_()
    assert html.startswith("<p><b>verdict: ") and html.count("<li>") >= 2


def test_plot_history_without_a_path_returns_the_figure():
    fig = plot_history(run())
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_the_progress_bar_shows_in_a_notebook_kernel(monkeypatch):
    state = SimpleNamespace(epoch=1, settings=SimpleNamespace(epochs=3))
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    progress = Progress(steps_per_epoch=2)
    progress.on_epoch_start(state)
    assert progress.bar is None  # no terminal, no kernel
    monkeypatch.setitem(sys.modules, "ipykernel", sys)
    progress.on_epoch_start(state)
    assert type(progress.bar).__module__.startswith("tqdm") and progress.bar.total == 2
    progress.on_step_end(state, None)
    assert progress.bar.n == 1
    progress.on_fit_end(state)
    assert progress.bar is None
