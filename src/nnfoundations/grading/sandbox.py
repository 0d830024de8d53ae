"""Running a submission's code in a confined child process, and saying which confinements
held.

Every child gets: a scratch directory as its working directory, a scrubbed environment
(nothing of the grader's), its own process group (killed whole when the child ends or runs
out of time), a wall-clock timeout and rlimits on CPU time, address space, file size, core
dumps and processes. Where the OS allows it, more:

* as root with ``unshare`` available: new network (loopback only, down), PID and mount
  namespaces; inside, every filesystem is remounted read-only, the scratch directory becomes
  a 64 MB tmpfs, the grader's own package is hidden, and all capabilities are dropped before
  the submission runs;
* as root with a pids cgroup (v1 or v2): a cap on the number of processes, which
  ``RLIMIT_NPROC`` does not give root.

:func:`run` reports the guarantees that took effect, and the report prints them, rather
than claiming what the machine could not give.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHILD = Path(__file__).with_name("child.py")
#: Directories the child never sees when it runs confined: the grader's own code.
HIDDEN = (Path(__file__).parent,)
MAX_EVENTS_BYTES = 4 * 2**20
_CGROUPS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


@dataclass(frozen=True)
class Limits:
    """What one child may use.

    Attributes:
        seconds: wall-clock time before the whole process group is killed.
        cpu_seconds: CPU time (RLIMIT_CPU).
        memory_mb: address space (RLIMIT_AS); torch's import alone maps ~0.7 GB.
        file_mb: the largest file it may write (RLIMIT_FSIZE).
        processes: processes and threads (a pids cgroup as root, RLIMIT_NPROC otherwise).
    """

    seconds: float = 120.0
    cpu_seconds: int = 120
    memory_mb: int = 6144
    file_mb: int = 16
    processes: int = 64


@dataclass
class ChildResult:
    """What came back from one child."""

    events: list[dict[str, Any]]
    exit_status: int | None
    timed_out: bool
    seconds: float
    guarantees: dict[str, bool] = field(default_factory=dict)
    output_tail: str = ""

    def first(self, event: str) -> dict[str, Any] | None:
        """The first event of this kind, if any."""
        return next((e for e in self.events if e.get("event") == event), None)


def run(files: list[dict[str, str]], limits: Limits, *, execute: bool = False,
        functions: bool = True) -> ChildResult:
    """Run :mod:`~nnfoundations.grading.child` on ``files`` (name and code of each piece).

    Never raises for what the submission does: a crash, a hang or an exit becomes a
    result with the events it sent before.
    """
    scratch = Path(tempfile.mkdtemp(prefix="nnf-grade-"))
    cgroup = _make_cgroup(limits.processes)
    try:
        return _run_in(scratch, cgroup, files, limits, execute, functions)
    finally:
        _remove_cgroup(cgroup)
        shutil.rmtree(scratch, ignore_errors=True)


def _run_in(scratch: Path, cgroup: Path | None, files: list[dict[str, str]], limits: Limits,
            execute: bool, functions: bool) -> ChildResult:
    confine = _can_confine()
    read_fd, write_fd = os.pipe()
    config = {"event_fd": write_fd, "scratch": str(scratch), "files": files,
              "execute": execute, "functions": functions, "confine": confine,
              "hide": [str(d) for d in HIDDEN]}
    (scratch / "config.json").write_text(json.dumps(config), encoding="utf-8")
    argv = [sys.executable, "-I", str(CHILD), str(scratch / "config.json")]
    if confine:
        argv = ["unshare", "--net", "--pid", "--fork", "--mount", "--mount-proc",
                "--kill-child", *argv]
    with tempfile.TemporaryFile() as log:
        return _watch(argv, scratch, limits, cgroup, log, read_fd, write_fd, confine)


def _watch(argv: list[str], scratch: Path, limits: Limits, cgroup: Path | None, log: Any,
           read_fd: int, write_fd: int, confine: bool) -> ChildResult:
    """Start the child, read its events, and kill what is left when it ends or times out."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=scratch, env=_scrubbed_env(scratch),
                            stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log, start_new_session=True,
                            pass_fds=(write_fd,), preexec_fn=_child_setup(limits, cgroup))
    os.close(write_fd)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    _kill_all(proc, cgroup)
    reader.join(timeout=5)
    result = ChildResult(_events(b"".join(chunks)), proc.returncode, timed_out,
                         time.monotonic() - start, output_tail=_tail(log))
    result.guarantees = _guarantees(result, confine, cgroup)
    return result


def _scrubbed_env(scratch: Path) -> dict[str, str]:
    """Nothing of the grader's environment: only what Python and torch need."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "TMPDIR": str(scratch)}


def _child_setup(limits: Limits, cgroup: Path | None) -> Callable[[], None]:
    """What runs in the child between fork and exec: the cgroup, the limits."""
    def setup() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
        for which, value in ((resource.RLIMIT_CPU, limits.cpu_seconds),
                             (resource.RLIMIT_AS, limits.memory_mb * 2**20),
                             (resource.RLIMIT_FSIZE, limits.file_mb * 2**20),
                             (resource.RLIMIT_CORE, 0),
                             (resource.RLIMIT_NPROC, _nproc(limits.processes))):
            resource.setrlimit(which, (value, value))
    return setup


def _nproc(processes: int) -> int:
    """RLIMIT_NPROC counts all of this user's processes, so add the ones running now."""
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    if os.geteuid() == 0:
        return hard  # it does not bind root; the cgroup does
    running = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())
    return min(running + processes, hard) if hard != resource.RLIM_INFINITY \
        else running + processes


def _can_confine() -> bool:
    return sys.platform == "linux" and os.geteuid() == 0 and shutil.which("unshare") is not None


def _make_cgroup(processes: int) -> Path | None:
    """A pids cgroup capping the child's processes, where this user may make one."""
    if os.geteuid() != 0:
        return None
    for root in _CGROUPS:
        v1 = root.name == "pids"
        if (root / "cgroup.procs").exists() and (v1 or "pids" in _controllers(root)):
            path = root / f"nnf-grade-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(processes))
                return path
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
    return None


def _controllers(root: Path) -> str:
    try:
        return (root / "cgroup.subtree_control").read_text()
    except OSError:
        return ""


def _kill_all(proc: subprocess.Popen[bytes], cgroup: Path | None) -> None:
    """Kill the child's process group, then anything left in its cgroup."""
    for _ in range(3):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _cgroup_pids(cgroup) if cgroup is not None else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
            if cgroup is None or not _cgroup_pids(cgroup):
                return
        except subprocess.TimeoutExpired:
            continue


def _cgroup_pids(cgroup: Path) -> list[int]:
    try:
        return [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
    except OSError:
        return []


def _remove_cgroup(cgroup: Path | None) -> None:
    if cgroup is not None:
        for _ in range(50):
            try:
                cgroup.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def _drain(fd: int, chunks: list[bytes]) -> None:
    """Read the event pipe to its end, keeping at most MAX_EVENTS_BYTES."""
    kept = 0
    with os.fdopen(fd, "rb") as pipe:
        while block := pipe.read1(65536):
            if kept < MAX_EVENTS_BYTES:
                chunks.append(block[: MAX_EVENTS_BYTES - kept])
                kept += len(chunks[-1])


def _events(data: bytes) -> list[dict[str, Any]]:
    events = []
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a partial last line, or noise written to the pipe
        if isinstance(event, dict):
            events.append(event)
    return events


def _tail(log: Any) -> str:
    log.seek(0, os.SEEK_END)
    size = log.tell()
    log.seek(max(0, size - 2000))
    return str(log.read().decode("utf-8", "replace"))


def _guarantees(result: ChildResult, confine: bool, cgroup: Path | None) -> dict[str, bool]:
    confined = (result.first("confined") or {}) if confine else {}
    return {"scrubbed_environment": True, "rlimits": True, "process_group_killed": True,
            "no_network": confine and bool(confined),
            "own_pid_namespace": confine and bool(confined),
            "read_only_filesystem": bool(confined.get("read_only")),
            "grader_files_hidden": bool(confined.get("hidden")),
            "capabilities_dropped": bool(confined.get("capabilities_dropped")),
            "process_count_capped": cgroup is not None or os.geteuid() != 0}
