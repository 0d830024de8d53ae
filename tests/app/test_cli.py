"""The nnf command line, run in-process and as a real subprocess."""

import json
import re
import subprocess
import sys

import pytest

from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations.app.cli import main


def test_train_prints_progress_and_a_report(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "5", "--hidden", "64", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("/5  train") == 5  # one progress line per epoch, on stderr
    accuracy = float(captured.out.split("test accuracy:")[1].split()[0])
    assert accuracy > 0.85 and "verdict:" in captured.out and str(out) in captured.out
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.png", "history.json", "metrics.json", "model.pt", "report.html", "settings.json",
        "split.json"]


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "nnfoundations", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "train" in done.stdout


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_explain_warmup(capsys):
    status, out, _ = run_cli(capsys, "explain", "warmup")
    assert status == 0
    for line in ("z = 2·w + 1 = 2·1 + 1 = 3", "a = ReLU(z) = ReLU(3) = 3",
                 "L = (a − 3)^2 = (3 − 3)^2 = 0", "∂L/∂a = 2·(a − 3) = 2·(3 − 3) = 0",
                 "∂a/∂z = 1", "∂z/∂w = 2"):
        assert line in out
    assert out.rstrip().endswith("= 0")


def test_explain_network_w21(capsys):
    status, out, _ = run_cli(capsys, "explain", "network", "--wrt", "w21")
    assert status == 0
    assert "ŷ = v1·h1 + v2·h2 = 0.6·0 + 0.4·1.8 = 0.72" in out
    assert "L = (ŷ − y)^2 = (0.72 − 1)^2 = 0.0784" in out
    assert "= 2·(ŷ − y) · v2 · 1 · x1" in out and out.rstrip().endswith("= -0.224")


def test_explain_network_w11_names_the_inactive_unit(capsys):
    _, out, _ = run_cli(capsys, "explain", "network", "--wrt", "w11")
    assert "h1 = ReLU(z1) is inactive: z1 = -0.1 ≤ 0, so ∂h1/∂z1 = 0" in out
    assert "∂L/∂w11 = ∂L/∂ŷ · ∂ŷ/∂h1 · ∂h1/∂z1 · ∂z1/∂w11" in out


def test_explain_network_with_changed_values(capsys):
    _, out, _ = run_cli(capsys, "explain", "network", "--wrt", "w11", "--at", "w12=0.3")
    assert "ReLU active: z1 = 1.1 > 0" in out  # 0.5·1 + 0.3·2
    _, out, _ = run_cli(capsys, "explain", "network", "--at", "w11=0.9", "--wrt", "w11")
    assert "z1 = w11·x1 + w12·x2 = 0.9·1 + (-0.3)·2 = 0.3" in out


def test_explain_warmup_takes_its_weight_with_at(capsys):
    status, out, _ = run_cli(capsys, "explain", "warmup", "--at", "w=2")
    assert status == 0 and "z = 2·w + 1 = 2·2 + 1 = 5" in out
    assert out.rstrip().endswith("= 8")  # 2·(5 − 3) · 1 · 2


def test_explain_cost_answers_at_once_for_a_real_network(capsys):
    status, out, _ = run_cli(capsys, "explain", "cost", "--sizes", "784", "128", "10")
    assert status == 0 and out.splitlines()[1].split()[:7] == [
        "784", "128", "10", "101,632", "203,283", "406,428", "109,218,134"]
    assert "independent: each weight's gradient on its own" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["explain", "warmup", "--wrt", "q"], r"--wrt 'q' is not a node .* \['w', 'z', 'a'\]"),
        (["explain", "warmup", "--wrt", "L"], r"--wrt 'L' is not a node"),
        (["explain", "network", "--wrt", "L"], r"--wrt 'L' is not a node"),
        (["explain", "warmup", "--at", "x1=1"], r"warmup has no input 'x1'; its inputs are"),
        (["explain", "network", "--at", "w=1"], r"network has no input 'w'"),
        (["explain", "warmup", "--sizes", "2", "1"], r"--sizes applies to 'cost' only"),
        (["explain", "cost", "--wrt", "w"], r"do not apply to 'cost'"),
        (["explain", "w", "--at", "w=1", "--at", "w=2"], r"--at w is given twice"),
        (["explain", "cost", "--sizes", "100000000", "100000000", "100000000"],
         r"beyond a 64-bit integer"),
    ],
)
def test_explain_refuses_what_does_not_apply(capsys, argv, match):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert re.search(match, err), err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == "nnf 0.1.0"


def test_explain_expression(capsys):
    status, out, _ = run_cli(capsys, "explain", "(relu(2*w + 1) - 3)**2", "--at", "w=1",
                             "--wrt", "w")
    assert status == 0 and out.rstrip().endswith("= 0")


def test_explain_cost_table(capsys):
    status, out, _ = run_cli(capsys, "explain", "cost", "--sizes", "2", "2", "1")
    assert status == 0 and out.splitlines()[1].split()[:6] == ["2", "2", "1", "6", "13", "23"]
    header = out.splitlines()[0]
    assert all(f"  {name}" in header for name in ("independent", "finite diff."))


def test_explain_errors_are_one_line_with_status_2(capsys):
    for argv in (["explain", "w.x", "--at", "w=1"], ["explain", "w +", "--at", "w=1"],
                 ["explain", "w*v", "--at", "w=1"], ["explain", "w", "--at", "w=abc"],
                 ["explain", "network", "--wrt", "q"]):
        status, out, err = run_cli(capsys, *argv)
        assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, argv
        assert err.startswith("nnf: error:")
    _, _, err = run_cli(capsys, "explain", "w + foo", "--at", "w=1")
    assert "column 5: unknown name 'foo'" in err


def test_an_internal_error_is_status_1_and_debug_shows_the_traceback(capsys, monkeypatch):
    import nnfoundations.autodiff.queries as queries

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(queries, "cost_table", broken)
    status, out, err = run_cli(capsys, "explain", "cost")
    assert status == 1 and "nnf: internal error: RuntimeError: boom" in err
    assert "--debug" in err and "Traceback" not in err
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "explain", "cost"])


@pytest.mark.parametrize(("error", "status"), [
    (TypeError("an argument of ours was wrong"), 1),  # our own bug, not the user's input
    (ValueError("a ValueError from deep inside"), 1),
    (InvalidValueError("a value the library refuses"), 2),
    (InvalidTypeError("a kind the library refuses"), 2),
    (PermissionError(13, "Permission denied"), 2),  # the boundary with the machine
    (MemoryError(), 2),
])
def test_only_the_librarys_refusals_and_the_boundary_are_user_errors(capsys, monkeypatch,
                                                                     error, status):
    import nnfoundations.autodiff.queries as queries

    def raising(*args, **kwargs):
        raise error

    monkeypatch.setattr(queries, "cost_table", raising)
    got, _, err = run_cli(capsys, "explain", "cost")
    assert got == status and len(err.strip().splitlines()) == 1
    assert err.startswith("nnf: internal error:" if status == 1 else "nnf: error:")


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err.startswith("nnf: error: unrecognized arguments: --bogus")


def test_explain_layers_writes_the_matrix_chain_rule_of_section_1_2(capsys):
    status, out, _ = run_cli(capsys, "explain", "layers")
    assert status == 0 and "∂L/∂W1 = δ1ᵀ X" in out
    assert "∂L/∂w21 = (∂L/∂W1)[2,1] = δ1[:,2]ᵀ X[:,1] = -0.224" in out
    _, out, _ = run_cli(capsys, "explain", "layers", "--at", "w11=0.9")
    assert "∂L/∂w11 = (∂L/∂W1)[1,1] = δ1[:,1]ᵀ X[:,1] = -0.12" in out
    status, _, err = run_cli(capsys, "explain", "layers", "--wrt", "w21")
    assert status == 2 and "--wrt and --sizes do not apply to 'layers'" in err


def test_train_engines_record_themselves_and_agree(capsys, tmp_path):
    histories = {}
    for engine in ("autograd", "matrix"):
        out = tmp_path / engine
        assert main(["train", "--epochs", "4", "--hidden", "32", "--quiet", "--engine", engine,
                     "--out", str(out)]) == 0
        histories[engine] = json.loads((out / "history.json").read_text())
        assert histories[engine]["settings"]["engine"] == engine
    val = [[r["val_loss"] for r in histories[e]["records"]] for e in ("autograd", "matrix")]
    assert val[1] == pytest.approx(val[0], rel=1e-5)
    capsys.readouterr()
    status, _, err = run_cli(capsys, "train", "--engine", "numpy", "--out", str(tmp_path / "x"))
    assert status == 2 and "engine must be one of ['auto', 'autograd', 'matrix']" in err
    assert not (tmp_path / "x").exists()
