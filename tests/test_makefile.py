"""The Makefile's install steps, read with make -n (nothing runs)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def planned(*args: str) -> str:
    return subprocess.run(["make", "-n", "-B", *args], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_torch_index_installs_torch_from_that_index_first():
    assert "--index-url" not in planned("run")
    plan = planned("run", "TORCH_INDEX=https://example.invalid/cpu").splitlines()
    torch_line = next(k for k, line in enumerate(plan) if "--index-url" in line)
    assert "https://example.invalid/cpu torch" in plan[torch_line]
    assert "--constraint constraints.txt" in plan[torch_line]
    assert torch_line < next(k for k, line in enumerate(plan) if line.endswith("-e ."))
