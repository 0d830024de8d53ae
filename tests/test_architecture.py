"""The package's shape: what each wing may import, and what importing it costs."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nnfoundations

PACKAGE = Path(nnfoundations.__file__).parent
#: The helpers below every wing.
SHARED = {"_checks", "_errors", "_files", "_format", "_machine", "_mlp", "_signals"}
#: What each part may import from nnfoundations (besides itself), lowest part first.
ALLOWED = {
    "shared": SHARED,
    "history": SHARED,
    "autodiff": SHARED,
    "diagnosis": SHARED | {"history"},
    "training": SHARED | {"history", "diagnosis"},
    # the grader: torch-free (its expected values come from our engine); its child process
    # imports nothing of ours
    "grading": SHARED | {"autodiff"},
    "app": SHARED | {"history", "autodiff", "diagnosis", "training", "grading", "app"},
    # the live diagnosis in training loops: ours, and (imported when used) other frameworks'
    "integrations": SHARED | {"history", "diagnosis", "training", "app"},
    "top": SHARED | {"autodiff", "diagnosis", "history", "training", "app"},  # __init__,
    # __main__, sklearn (the estimator)
}
HEAVY = {"torch", "numpy", "matplotlib", "sklearn", "tqdm"}


def part_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if len(rel.parts) > 1:
        return rel.parts[0]
    stem = rel.stem
    return "shared" if stem in SHARED else "history" if stem == "history" else "top"


def imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_what_its_wing_may(path):
    part = part_of(path)
    for name in imports(path):
        parts = name.split(".")
        if parts[0] != "nnfoundations" or len(parts) == 1:
            continue
        target = parts[1]
        target = "shared" if target in SHARED else target
        assert target == part or target in ALLOWED[part] or parts[1] in ALLOWED[part], \
            f"{path.relative_to(PACKAGE)} ({part}) imports {name}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "autodiff").glob("*.py")) +
                         sorted((PACKAGE / "diagnosis").glob("*.py")) +
                         sorted((PACKAGE / "grading").glob("*.py")) +
                         [PACKAGE / f"{m}.py" for m in sorted(SHARED)] +
                         [PACKAGE / "history.py"], ids=lambda p: p.name)
def test_the_engine_the_diagnosis_and_the_core_need_the_standard_library_only(path):
    outside = {name.split(".")[0] for name in imports(path)} - set(sys.stdlib_module_names)
    optional = {"tensorboard"} if path.name == "readers.py" else set()  # an extra, lazily
    if path.name == "child.py":  # the graded process: torch, and nothing of ours
        optional = {"torch"}
        assert "nnfoundations" not in outside, "the grader's child imports nnfoundations"
    assert outside <= {"nnfoundations"} | optional, f"{path.name} imports {outside}"


def loaded_after(code: str) -> set[str]:
    """The heavy libraries loaded once ``code`` has run in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return HEAVY & {m.split(".")[0] for m in json.loads(done.stdout.splitlines()[-1])}


@pytest.mark.parametrize(("code", "allowed"), [
    ("import nnfoundations", set()),
    ("import nnfoundations.autodiff", set()),
    ("import nnfoundations.diagnosis", set()),
    ("import nnfoundations.history", set()),
    ("import nnfoundations.app.cli", set()),
    ("import nnfoundations.grading.command", set()),
    ("from nnfoundations import Value, explain, diagnose, History", set()),
    ("import nnfoundations.training.plots", {"matplotlib", "numpy"}),
])
def test_importing_loads_nothing_heavy_until_it_is_used(code, allowed):
    assert loaded_after(code) <= allowed


@pytest.mark.slow
def test_the_commands_that_load_no_model_never_import_torch(tmp_path):
    history = tmp_path / "history.json"
    history.write_text(json.dumps({"version": 2, "records": [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "val_acc": 0.5, "lr": 0.1,
         "seconds": 0.0} for e in range(1, 6)], "settings": {"n_outputs": 10},
        "stop_kind": "completed", "stop_reason": "completed", "best_epoch": 5}))
    for argv in (["--help"], ["--version"], ["explain", "warmup"], ["explain", "cost"],
                 ["explain", "network", "--wrt", "w11"], ["explain", "layers"],
                 ["diagnose", str(history)]):
        code = ("from nnfoundations.app.cli import main\n"
                f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0\n")
        assert "torch" not in loaded_after(code), argv
    for command, output in (("plot", "c.png"), ("report", "r.html")):
        assert "torch" not in loaded_after(
            f"from nnfoundations.app.cli import main\nmain([{command!r}, {str(history)!r}, "
            f"'-o', {str(tmp_path / output)!r}])"), command


def test_every_lazy_name_resolves_to_its_module():
    assert sorted(nnfoundations._EXPORTS) == sorted(nnfoundations.__all__)
    for name, module in nnfoundations._EXPORTS.items():
        assert getattr(nnfoundations, name).__module__ == module, name
    assert set(nnfoundations.__all__) <= set(dir(nnfoundations))
    with pytest.raises(AttributeError, match=r"has no attribute 'fitt'"):
        _ = nnfoundations.fitt
