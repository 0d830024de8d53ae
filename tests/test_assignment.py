"""The assignment's deliverables: the standalone .py, its agreement with the package, the
notebook."""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn as nn

import nnfoundations

ASSIGNMENT = Path(__file__).resolve().parents[1] / "assignment"
sys.path.insert(0, str(ASSIGNMENT))
import build_notebook  # noqa: E402

HIDE_PACKAGE = """
import importlib.abc, runpy, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "nnfoundations":
            raise ImportError("nnfoundations is hidden for this test")
sys.meta_path.insert(0, Hide())
runpy.run_path(sys.argv[1], run_name="__main__")
"""


@pytest.fixture(scope="module")
def standalone():
    spec = importlib.util.spec_from_file_location("hw4", ASSIGNMENT / "hw4_foundations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_standalone_script_runs_without_the_package():
    done = subprocess.run([sys.executable, "-c", HIDE_PACKAGE,
                           str(ASSIGNMENT / "hw4_foundations.py")],
                          capture_output=True, text=True, check=False, cwd=ASSIGNMENT)
    assert done.returncode == 0, done.stderr
    for line in ("Test 1 passed: 109,321 parameters", "Test 2 passed: found 2 Dropout layers",
                 "Test 3 passed: 67 parameters", "All build_model tests passed!",
                 "train_one_step tests passed!", "Evaluation accuracy:",
                 "Number of batches per epoch: 4"):
        assert line in done.stdout


def test_the_standalone_script_imports_only_numpy_and_torch():
    tree = ast.parse((ASSIGNMENT / "hw4_foundations.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported == {"numpy", "torch"}


@pytest.mark.parametrize("sizes", [(784, [128, 64], 9, 0.0), (10, [5], 2, 0.2), (3, [], 4, 0.0),
                                   (7, [9, 8, 7], 3, 0.5)])
def test_same_architecture_as_the_package(standalone, sizes):
    ours, theirs = standalone.build_model(*sizes), nnfoundations.build_model(*sizes)
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in theirs.parameters())


def test_same_losses_and_evaluation_as_the_package(standalone):
    g = torch.Generator().manual_seed(3)
    batches = [(torch.randn(16, 6, generator=g), torch.randint(0, 3, (16,), generator=g))
               for _ in range(5)]
    results = []
    for impl in (standalone, nnfoundations):
        torch.manual_seed(0)
        model = impl.build_model(6, [12, 8], 3, dropout_rate=0.3)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for X_batch, y_batch in batches:
            losses.append(impl.train_one_step(model, X_batch, y_batch, nn.CrossEntropyLoss(),
                                              opt))
            model.eval()  # the next step must switch training mode back on
        results.append((losses, impl.evaluate(model, *batches[0], nn.CrossEntropyLoss()),
                        model.training))
    (loss_a, (val_a, acc_a), mode_a), (loss_b, (val_b, acc_b), mode_b) = results
    assert loss_a == loss_b and acc_a == acc_b and mode_a == mode_b
    assert val_a == pytest.approx(val_b, rel=1e-12)


def test_the_stored_notebook_is_built_from_its_sources():
    stored = nbformat.read(build_notebook.NOTEBOOK, as_version=4)
    assert build_notebook.sources(stored) == build_notebook.sources(build_notebook.build())
    code = [c for c in stored.cells if c.cell_type == "code"]
    shows = [c for c in code if "print(" in c.source or "display(" in c.source]
    assert len(shows) >= 10 and all(c.outputs for c in shows)  # stored executed
    assert not any(o.output_type == "error" for c in code for o in c.outputs)


def test_every_answer_is_given():
    stored = nbformat.read(build_notebook.NOTEBOOK, as_version=4)
    answers = [c.source for c in stored.cells if c.cell_type == "markdown"
               and ("Your response" in c.source or "diagnosis:" in c.source)]
    joined = "\n".join(answers)
    for question in ("1.1 Chain rule", "1.2.3", "3.1.1", "3.1.2", "Model A diagnosis",
                     "Model B diagnosis", "3.2.2"):
        assert question in joined
    assert not any("TODO" in a for a in answers)
    todo = [c.source for c in stored.cells if "TODO" in c.source]
    assert len(todo) == 1 and "your name" in todo[0]  # the name fields stay for the student


@pytest.mark.slow
def test_the_notebook_executes_top_to_bottom(tmp_path):
    notebook = build_notebook.execute(build_notebook.build(), tmp_path)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert "= -0.224" in text and "Model A: verdict: underfitting" in text
    assert "Model B: verdict: overfitting" in text and "verdict: good fit" in text
    assert "batch updates/epoch" in text  # 3.1.2's batch-size experiment
    assert sum(o.output_type == "display_data" for o in outputs) == 4  # the four figures


def test_the_notebook_builds_reproducibly():
    stored = nbformat.read(build_notebook.NOTEBOOK, as_version=4)
    ids = [c.id for c in stored.cells]
    assert ids == [c.id for c in build_notebook.build().cells] == [
        f"cell-{k:03d}" for k in range(len(ids))]
    assert not any("execution" in c.metadata for c in stored.cells)  # no timestamps
