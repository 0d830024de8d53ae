"""Data-parallel training: 2 CPU processes at batch 32 give the weights 1 process gives at
batch 64 over the same permutation, on both engines, the last partial batch included, with
the same early stop and restored weights on every rank."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from nnfoundations import build_model, fit
from nnfoundations.app.cli import main
from nnfoundations.training.batches import Batches

pytestmark = pytest.mark.slow  # processes, sandboxes: seconds each

WORKER = """
import json, os, sys, torch
from nnfoundations import build_model, fit
from nnfoundations.training.distributed import init_from_env, leave

rank, world = init_from_env()
out = sys.argv[1]
for n in (256, 250):
    for engine in ("autograd", "matrix"):
        g = torch.Generator().manual_seed(n)
        X, y = torch.randn(n, 20, generator=g), torch.randint(0, 3, (n,), generator=g)
        torch.manual_seed(1)
        model = build_model(20, [16], 3)
        h = fit(model, (X, y), (X[:50], y[:50]), epochs=6, batch_size=32, seed=0, lr=0.05,
                patience=1, progress=False, engine=engine,
                checkpoint=f"{out}/ckpt-{rank}-{n}-{engine}.pt")
        torch.save({"state": model.state_dict(), "val": h.val_loss, "train": h.train_loss,
                    "best": h.best_epoch, "stop": h.stop_reason, "settings": h.settings},
                   f"{out}/{n}-{engine}-rank{rank}.pt")
leave()
tasks = f"/proc/{os.getpid()}/task"
if os.path.isdir(tasks):  # Linux: the threads still running once the group is left
    import time
    for _ in range(50):  # a tcp loop may take a moment to wind down; a pinned group never does
        names = [open(f"{tasks}/{t}/comm").read().strip() for t in os.listdir(tasks)]
        if not any(n.startswith(("pt_gloo", "gloo")) for n in names):
            break
        time.sleep(0.1)
    open(f"{out}/threads-{rank}.json", "w").write(json.dumps(names))
"""


def run_group(command, timeout=120, cwd=None):
    """Run a command in its own process group; kill the whole group if it overruns."""
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=cwd)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{command[:6]} timed out; its process group was killed")
    assert proc.returncode == 0, out[-3000:]
    return out


def test_strided_shards_split_each_global_batch_of_one_permutation():
    X, y = torch.arange(70.0).reshape(70, 1), torch.arange(70)
    whole = [yb.clone() for _, yb in Batches((X, y), 20, torch.device("cpu")).epoch(
        torch.Generator().manual_seed(3))]
    shards = [[yb.clone() for _, yb in Batches((X, y), 10, torch.device("cpu"), rank=r,
                                                world=2).epoch(torch.Generator().manual_seed(3))]
              for r in (0, 1)]
    assert len(whole) == len(shards[0]) == len(shards[1]) == 4
    for batch, a, b in zip(whole, *shards, strict=True):
        assert torch.equal(a, batch[0::2]) and torch.equal(b, batch[1::2])


def test_two_ranks_at_32_equal_one_process_at_64(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    run_group([sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node=2", str(script), str(tmp_path)])
    listed = sorted(tmp_path.glob("threads-*.json"))
    assert len(listed) == (2 if os.path.isdir("/proc/self/task") else 0)
    for threads in listed:  # gloo's, left running, abort the process at exit
        assert not [t for t in json.loads(threads.read_text()) if "gloo" in t], threads.name
    for n in (256, 250):
        for engine in ("autograd", "matrix"):
            ddp, other = (torch.load(tmp_path / f"{n}-{engine}-rank{r}.pt", weights_only=True)
                          for r in (0, 1))
            g = torch.Generator().manual_seed(n)
            X, y = torch.randn(n, 20, generator=g), torch.randint(0, 3, (n,), generator=g)
            torch.manual_seed(1)
            model = build_model(20, [16], 3)
            h = fit(model, (X, y), (X[:50], y[:50]), epochs=6, batch_size=64, seed=0, lr=0.05,
                    patience=1, progress=False, engine=engine)
            # the same early stop and restored weights on every rank, and as one process
            assert ddp["stop"] == other["stop"] == h.stop_reason
            assert ddp["best"] == other["best"] == h.best_epoch
            for k in ddp["state"]:
                assert torch.equal(ddp["state"][k], other["state"][k])
            for k, v in model.state_dict().items():
                assert torch.allclose(ddp["state"][k], v, atol=1e-6), (n, engine, k)
            assert ddp["val"] == pytest.approx(h.val_loss, rel=1e-5)
            assert ddp["train"] == pytest.approx(h.train_loss, rel=1e-5)
            assert ddp["settings"]["processes"] == 2 and ddp["settings"]["engine"] == engine
            assert (tmp_path / f"ckpt-0-{n}-{engine}.pt").exists()  # rank 0 alone writes
            assert not (tmp_path / f"ckpt-1-{n}-{engine}.pt").exists()


def test_nnf_train_nproc_2_writes_one_run_equal_to_one_process_at_twice_the_batch(tmp_path):
    common = ["--epochs", "2", "--hidden", "16", "--dropout", "0", "--quiet"]
    work = tmp_path / "work"  # the user's folder: a module there must never be imported
    work.mkdir()
    for name in ("tqdm", "numpy", "nnfoundations"):
        (work / f"{name}.py").write_text(f"open({str(tmp_path / 'RAN')!r}, 'a').write("
                                         f"{name!r})\n")
    nnf = os.path.join(os.path.dirname(sys.executable), "nnf")
    out = run_group([nnf, "train", "--nproc", "2", *common, "--out", str(tmp_path / "ddp")],
                    cwd=work)
    assert not (tmp_path / "RAN").exists(), "a rank imported a module from the current folder"
    assert out.count("run written to") == 1  # rank 0 reports, once
    assert main(["train", *common, "--batch-size", "128", "--out", str(tmp_path / "one")]) == 0
    runs = [json.loads((tmp_path / d / "history.json").read_text()) for d in ("ddp", "one")]
    assert runs[0]["settings"]["processes"] == 2
    assert [r["val_loss"] for r in runs[0]["records"]] == pytest.approx(
        [r["val_loss"] for r in runs[1]["records"]], rel=1e-5)


def test_a_bad_run_in_several_processes_is_one_line_and_status_2(tmp_path):
    for args in (["--epochs", "0"], ["--data", str(tmp_path / "nope.csv")]):
        done = subprocess.run([sys.executable, "-m", "nnfoundations", "train", "--nproc", "2",
                               *args], capture_output=True, text=True, timeout=120,
                              check=False, start_new_session=True)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("nnf: error: ")


def test_a_rank_records_its_status_for_the_launcher_as_data_not_text(tmp_path, monkeypatch):
    from nnfoundations.app.launch import STATUS_DIR, record_status
    record_status(2)  # not started by the launcher: nothing is written anywhere
    monkeypatch.setenv(STATUS_DIR, str(tmp_path))
    monkeypatch.setenv("RANK", "1")
    record_status(2)
    assert (tmp_path / "rank-1").read_text() == "2"
    monkeypatch.setenv("RANK", "../x")  # only a rank number names a file
    record_status(2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rank-1"]
