"""The hostile submissions are data for the grader: never imported, collected or linted; and
the graded processes a grader started, told from those of other graders running beside it
(another test worker's)."""

from collections.abc import Callable
from pathlib import Path

import pytest

collect_ignore_glob = ["hostile/*"]
#: Where the sandbox puts the child script: in a graded process's command line.
CHILD_IN_SANDBOX = b"/grader/child.py"


def _parent(pid: str) -> str:
    return Path("/proc", pid, "stat").read_text().rsplit(")", 1)[1].split()[1]


def _ours(pid: str, grader: int) -> bool:
    """Started by ``grader``: in one of its cgroups (which an orphan never leaves), or below
    it in the process tree."""
    if f"/nnf-grade-{grader}-" in Path("/proc", pid, "cgroup").read_text():
        return True
    while pid not in ("0", "1"):
        if int(pid) == grader:
            return True
        pid = _parent(pid)
    return False


def _graded_processes(grader: int) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and CHILD_IN_SANDBOX in (proc / "cmdline").read_bytes() \
                    and _ours(proc.name, grader):
                found.append(proc.name)
        except OSError:  # it ended while we looked
            continue
    return found


@pytest.fixture
def graded_processes() -> Callable[[int], list[str]]:
    """``graded_processes(grader)``: the graded processes (the child script, contained)
    that the grader of that pid started and that are still alive."""
    return _graded_processes
