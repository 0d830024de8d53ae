"""The nnf command line, run in-process and as a real subprocess."""

import subprocess
import sys

import pytest

from nnfoundations.app.cli import main


def test_train_prints_progress_and_a_report(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "5", "--hidden", "64", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("/5  train") == 5  # one progress line per epoch, on stderr
    accuracy = float(captured.out.split("test accuracy:")[1].split()[0])
    assert accuracy > 0.85 and "verdict:" in captured.out and str(out) in captured.out
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.png", "history.json", "metrics.json", "model.pt", "settings.json"]


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
    _, out, _ = run_cli(capsys, "explain", "network", "--wrt", "w11", "--w12", "0.3")
    assert "ReLU active: z1 = 1.1 > 0" in out  # 0.5·1 + 0.3·2


def test_explain_expression(capsys):
    status, out, _ = run_cli(capsys, "explain", "(relu(2*w + 1) - 3)**2", "--at", "w=1",
                             "--wrt", "w")
    assert status == 0 and out.rstrip().endswith("= 0")


def test_explain_cost_table(capsys):
    status, out, _ = run_cli(capsys, "explain", "cost", "--sizes", "2", "2", "1")
    assert status == 0 and out.splitlines()[1].split()[:6] == ["2", "2", "1", "6", "13", "23"]


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
    import nnfoundations.app.cli as cli

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "cost_table", broken)
    status, out, err = run_cli(capsys, "explain", "cost")
    assert status == 1 and "nnf: internal error: RuntimeError: boom" in err
    assert "--debug" in err and "Traceback" not in err
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "explain", "cost"])


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err.startswith("nnf: error: unrecognized arguments: --bogus")
