"""Running a submission's code contained: bubblewrap's private view of the system, an
unprivileged user, limits, and a kill of the whole tree when grading ends for any reason.

Every child runs :mod:`~nnfoundations.grading.child` inside bubblewrap (``bwrap``, the
sandbox Flatpak uses) with:

* new network (loopback only), PID, IPC, UTS and cgroup namespaces; as the grader's own
  user unless that is root, in which case ``setpriv`` drops to ``nobody`` (65534) with no
  capabilities and no way to gain any (bubblewrap's user namespace alone would map its
  users back to root on the host);
* a filesystem of its own: the system's ``/usr`` and the Python runtime read-only, a fresh
  ``/proc`` and a minimal ``/dev``, and a 64 MB tmpfs as its working directory; nothing
  else of the host (no other submission, no solution, no grader files, no sockets);
* a scrubbed environment, its own session, no descriptors but its orders (standard input),
  its output (a private file) and its event pipe;
* ``--die-with-parent`` and a PID namespace, so that everything it started dies with it,
  and with the grader, however the grader ends;
* rlimits (``prlimit``) on CPU time, address space, file size and core dumps, and as root a
  pids cgroup (``RLIMIT_NPROC`` otherwise).

Grading refuses to start where bubblewrap is missing or cannot make its namespaces, rather
than run a submission unconfined.
"""

from __future__ import annotations

import contextlib
import functools
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from nnfoundations._errors import InvalidValueError

CHILD = Path(__file__).with_name("child.py")
#: Directories the child never sees: the grader's own code, wherever it is installed.
HIDDEN = (Path(__file__).resolve().parents[1],)
NOBODY = 65534
SCRATCH = "/submission"
MAX_EVENTS_BYTES = 4 * 2**20
INSTALL = ("nnf grade runs submissions only inside bubblewrap, which needs {what} here: "
           "install it (Debian and Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
           "bubblewrap)")
BROKEN = ("nnf grade runs submissions only inside bubblewrap, which failed here ({said}): it "
          "needs root or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone"
          "=1)")
_CGROUPS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


@dataclass(frozen=True)
class Limits:
    """What one child may use.

    Attributes:
        seconds: wall-clock time before the whole process tree is killed.
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

    def last(self, event: str, name: str) -> dict[str, Any] | None:
        """The last event of this kind for ``name`` (a probe's own report comes after
        anything the submission wrote while loading)."""
        found = [e for e in self.events if e.get("event") == event and e.get("name") == name]
        return found[-1] if found else None


def run(files: list[dict[str, Any]], limits: Limits, *, execute: bool = False,
        inputs: dict[str, Any] | None = None) -> ChildResult:
    """Run the child on ``files`` (name and code of each piece), contained; probe the
    functions named in ``inputs`` with the inputs given.

    Never raises for what the submission does: a crash, a hang or an exit becomes a
    result with the events it sent before.

    Raises:
        InvalidValueError: this machine cannot contain the child (see :func:`check`).
    """
    check()
    cgroup = _make_cgroup(limits.processes)
    read_fd, write_fd = os.pipe()
    orders = {"event_fd": write_fd, "files": files, "execute": execute,
              "inputs": inputs or {}}
    try:
        with tempfile.TemporaryFile() as log:
            return _watch(_argv(limits, cgroup), orders, limits, cgroup, log, read_fd,
                          write_fd)
    finally:
        _remove_cgroup(cgroup)


@functools.cache
def check() -> None:
    """Refuse, in one line saying how to fix it, where bubblewrap cannot contain a child.

    Raises:
        InvalidValueError: no ``bwrap`` (or, as root, no ``setpriv``), or a trial sandbox
            that fails (no namespaces allowed here).
    """
    missing = [t for t in ("bwrap", "prlimit") + (("setpriv",) if _root() else ())
               if shutil.which(t) is None]
    if sys.platform != "linux":
        raise InvalidValueError("nnf grade runs submissions only inside bubblewrap, which "
                                "needs Linux")
    if missing:
        raise InvalidValueError(INSTALL.format(what=", ".join(missing)))
    try:
        trial = subprocess.run([*_bwrap(), *_drop(), _python(), "-I", "-c", "pass"],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                               env=_scrubbed_env())
        said = (trial.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
    except (OSError, subprocess.SubprocessError) as err:
        trial, said = None, f"{type(err).__name__}: {err}"
    if trial is None or trial.returncode != 0:
        raise InvalidValueError(BROKEN.format(said=said[:200]))


def _python() -> str:
    """This interpreter, as a path that holds inside the sandbox (no ``..`` through folders
    it does not have)."""
    return os.path.abspath(sys.executable)


def _root() -> bool:
    return os.geteuid() == 0


def _bwrap() -> list[str]:
    """bubblewrap's command: namespaces, the read-only system and Python, a scratch
    tmpfs as the working directory, nothing else of the host."""
    argv = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    argv += [] if _root() else ["--unshare-user"]
    argv += _system_view()
    for folder in _python_folders():
        argv += [*_parents(folder), "--ro-bind", str(folder), str(folder)]
    for hidden in HIDDEN:
        if any(hidden.is_relative_to(f) for f in _python_folders()):
            argv += ["--tmpfs", str(hidden), "--remount-ro", str(hidden)]
    argv += ["--perms", "0755", "--dir", "/grader", "--ro-bind", str(CHILD), "/grader/child.py",
             "--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(64 * 2**20), "--tmpfs", SCRATCH,
             "--chdir", SCRATCH, "--clearenv"]
    for key, value in _scrubbed_env().items():
        argv += ["--setenv", key, value]
    return argv


def _system_view() -> list[str]:
    """``/usr`` and the top-level folders that hold programs and libraries, as on the host
    (symbolic links where the host has them)."""
    argv: list[str] = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    return argv


@functools.cache
def _python_folders() -> tuple[Path, ...]:
    """The interpreter's installation and the environment's (a venv's packages), outside
    ``/usr``, the outermost of any nested pair."""
    found = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix,
                                         Path(sys.executable).resolve().parents[1],
                                         Path(_python()).parents[1])}
    found = {p for p in found if not p.is_relative_to("/usr")}
    return tuple(sorted(p for p in found if not any(p != q and p.is_relative_to(q)
                                                    for q in found)))


def _parents(folder: Path) -> list[str]:
    """Each folder above ``folder``, made traversable: bubblewrap would make them private
    (0700) for root, and nobody could reach the Python runtime."""
    argv: list[str] = []
    for parent in reversed(folder.parents[:-1]):
        argv += ["--perms", "0755", "--dir", str(parent)]
    return argv


def _drop() -> list[str]:
    """As root, become nobody with no capabilities before anything of the submission's runs."""
    if not _root():
        return []
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


def _argv(limits: Limits, cgroup: Path | None) -> list[str]:
    """The whole command: join the cgroup, set the rlimits, then bubblewrap."""
    hard = {k: resource.getrlimit(k)[1] for k in (resource.RLIMIT_CPU, resource.RLIMIT_AS,
                                                  resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC)}

    def capped(which: int, value: int) -> str:
        limit = hard[which]
        return str(value if limit == resource.RLIM_INFINITY else min(value, limit))

    argv = ["prlimit", f"--cpu={capped(resource.RLIMIT_CPU, limits.cpu_seconds)}",
            f"--as={capped(resource.RLIMIT_AS, limits.memory_mb * 2**20)}",
            f"--fsize={capped(resource.RLIMIT_FSIZE, limits.file_mb * 2**20)}", "--core=0"]
    if cgroup is None:
        argv.append(f"--nproc={capped(resource.RLIMIT_NPROC, _nproc(limits.processes))}")
    argv += ["--", *_bwrap(), *_drop(), _python(), "-I", "/grader/child.py"]
    if cgroup is not None:  # the shell joins the cgroup, then becomes the command
        argv = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup / "cgroup.procs"),
                *argv]
    return argv


def _nproc(processes: int) -> int:
    """RLIMIT_NPROC counts all of the user's processes, so add the ones running now."""
    return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit()) + processes


def _watch(argv: list[str], orders: dict[str, Any], limits: Limits, cgroup: Path | None,
           log: IO[bytes], read_fd: int, write_fd: int) -> ChildResult:
    """Start the child, give it its orders, read its events, and kill what is left when it
    ends or times out."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, env=_scrubbed_env(), stdin=subprocess.PIPE, stdout=log,
                                stderr=log, start_new_session=True, pass_fds=(write_fd,))
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    with _LIVE_LOCK:
        _LIVE.add(proc)
        if _STOPPING.is_set():  # the grader was stopped while this one was starting
            os.killpg(proc.pid, signal.SIGKILL)
    chunks: list[bytes] = []
    threads = [threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True),
               threading.Thread(target=_give, args=(proc, orders), daemon=True)]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill(proc, cgroup)
    for thread in threads:
        thread.join(timeout=5)
    return ChildResult(_events(b"".join(chunks)), proc.returncode, timed_out,
                       time.monotonic() - start, _guarantees(cgroup), _tail(log))


def _give(proc: subprocess.Popen[bytes], orders: dict[str, Any]) -> None:
    """Write the orders to the child's standard input (in a thread: they may fill the pipe)."""
    assert proc.stdin is not None
    with contextlib.suppress(OSError), proc.stdin:
        proc.stdin.write(json.dumps(orders).encode())


def _scrubbed_env() -> dict[str, str]:
    """Nothing of the grader's environment: only what Python and torch need."""
    return {"PATH": "/usr/bin:/bin", "HOME": SCRATCH, "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "TMPDIR": SCRATCH}


def _make_cgroup(processes: int) -> Path | None:
    """A pids cgroup capping the child's processes, where this user may make one."""
    if not _root():
        return None
    for root in _CGROUPS:
        v1 = root.name == "pids"
        if (root / "cgroup.procs").exists() and (v1 or "pids" in _controllers(root)):
            _sweep(root)
            path = root / f"nnf-grade-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(processes))
                return path
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
    return None


def _sweep(root: Path) -> None:
    """Remove the empty cgroups of graders that were killed outright (SIGKILL)."""
    for old in root.glob("nnf-grade-*"):
        pid = old.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                old.rmdir()


def _controllers(root: Path) -> str:
    try:
        return (root / "cgroup.subtree_control").read_text()
    except OSError:
        return ""


def _kill(proc: subprocess.Popen[bytes], cgroup: Path | None) -> None:
    """Kill bubblewrap's process group (its PID namespace dies with it), then anything left
    in its cgroup."""
    for _ in range(3):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _cgroup_pids(cgroup) if cgroup is not None else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
            if cgroup is None or not _cgroup_pids(cgroup):
                break
        except subprocess.TimeoutExpired:
            continue
    with _LIVE_LOCK:
        _LIVE.discard(proc)


def stop_all() -> None:
    """Kill every child still running, and any that starts until :func:`resume` (the
    grader is being stopped)."""
    with _LIVE_LOCK:
        _STOPPING.set()
        live = list(_LIVE)
    for proc in live:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def resume() -> None:
    """Let children start again after :func:`stop_all`."""
    _STOPPING.clear()


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
        except (ValueError, RecursionError):
            continue  # a partial last line, or noise written to the pipe
        if isinstance(event, dict):
            events.append(event)
    return events


def _tail(log: IO[bytes]) -> str:
    log.seek(0, os.SEEK_END)
    size = log.tell()
    log.seek(max(0, size - 2000))
    return log.read().decode("utf-8", "replace")


def _guarantees(cgroup: Path | None) -> dict[str, bool]:
    """What held for this child; all but the process cap hold wherever grading runs."""
    return {"contained": True, "unprivileged": True, "process_count_capped":
            cgroup is not None or not _root()}
