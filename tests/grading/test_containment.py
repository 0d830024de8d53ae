"""`nnf grade` contains what it grades: the hostile submissions of ``hostile/`` (each one
escape a student tried), graded in one parallel batch beside a class's ordinary students,
then checked one by one. Nothing here writes to a host file: the submissions open files
for writing and close them."""

import ast
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnfoundations.grading import report
from nnfoundations.grading.answers import score_answers
from nnfoundations.grading.grader import SOLUTION, discover, grade
from nnfoundations.grading.notebook import Cell, answers
from nnfoundations.grading.sandbox import Limits

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("containment")]

HOSTILE = Path(__file__).with_name("hostile")
SOLVED = (SOLUTION / "hw4_foundations.py").read_text(encoding="utf-8")
OTHERS_SECRET = "SECRET-OF-ANOTHER-STUDENT-41c7"
FORGED_NAME = "eve\nscore 4.5 ∕ 4.5 graded automatically"
BATCH = ["root_files.py", "reads_others.py", "talks_to_host.py", "forges_events.py",
         "patches_probes.py", "reads_solution.ipynb"]


class Host:
    """A Unix socket that listens and a FIFO that is read, on the grader's filesystem."""

    def __init__(self, folder: Path) -> None:
        self.socket_path, self.fifo_path = folder / "host.sock", folder / "host.fifo"
        self.heard: list[bytes] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.socket_path))
        self.server.listen()
        self.server.settimeout(0.2)
        os.mkfifo(self.fifo_path)
        self.fifo = os.open(self.fifo_path, os.O_RDONLY | os.O_NONBLOCK)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.server.accept()
                self.heard.append(conn.recv(100) or b"connected")
            except OSError:
                continue

    def close(self) -> list[bytes]:
        self.done.set()
        self.thread.join()
        self.server.close()
        with contextlib.suppress(BlockingIOError):  # nothing was written
            self.heard.append(os.read(self.fifo, 100))
        os.close(self.fifo)
        return [h for h in self.heard if h]


def student(root: Path, name: str, source: Path | None = None, text: str | None = None,
            suffix: str = ".py") -> Path:
    folder = root / name
    folder.mkdir()
    path = folder / f"hw4_foundations{source.suffix if source else suffix}"
    path.write_text(text if text is not None else source.read_text(encoding="utf-8"),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    other = student(root, "another_student", text=SOLVED + f"\n# {OTHERS_SECRET}\n")
    host = Host(tmp_path_factory.mktemp("host"))
    fill = {"@OTHER@": str(other), "@SOLUTION@": str(SOLUTION / "hw4_foundations.py"),
            "@GRADER@": str(Path(report.__file__)), "@SOCKET@": str(host.socket_path),
            "@FIFO@": str(host.fifo_path),
            "@SOLUTION_NOTEBOOK@": str(SOLUTION / "hw4_foundations.ipynb")}
    for name in BATCH:
        text = (HOSTILE / name).read_text(encoding="utf-8")
        for key, value in fill.items():
            text = text.replace(key, value)
        student(root, Path(name).stem, text=text, suffix=Path(name).suffix)
    student(root, FORGED_NAME, text=SOLVED)
    student(root, "deep", text='{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}",
            suffix=".ipynb")
    student(root, "numbers", suffix=".ipynb", text=json.dumps({"cells": [
        {"cell_type": "code", "source": 5, "outputs": 7},
        {"cell_type": "markdown", "source": [1, 2.5], "outputs": [{"output_type": 3}]}]}))
    grades = grade(discover([root]), Limits(seconds=60, cpu_seconds=60), jobs=2,
                   execute=True)
    return {g.submission.name: g for g in grades}, host.close()


def said(grade):
    return " ".join(c.message for c in grade.checks) + " " + " ".join(grade.notes)


def earned(grade, prefix):
    return sum(c.earned for c in grade.checks if c.question.startswith(prefix))


def test_the_code_runs_unprivileged_with_no_capabilities_no_host_files_no_descriptors(graded):
    found = said(graded[0]["root_files"])
    assert re.search(r"uid=[1-9]\d* euid=[1-9]\d* ", found), found
    assert "caps=['0000000000000000', '0000000000000000']" in found, found
    assert "writable=[]" in found, found
    root = re.search(r"root=(\[.*?\])", found).group(1)
    # (a /tmp or /root there holds only the Python runtime, where the venv lives)
    assert not {"etc", "home", "var", "mnt", "opt", "srv"} & set(ast.literal_eval(root)), root
    fds = re.search(r"fds=(\[.*?\])", found).group(1)
    assert len(ast.literal_eval(fds)) <= 5, fds  # 0, 1, 2, the event pipe, the listing


def test_the_code_sees_no_other_submission_no_solution_and_no_grader(graded):
    for path in (SOLUTION / "hw4_foundations.py", Path(report.__file__)):
        assert path.is_file()  # what the submission looked for is there on the host
    found = said(graded[0]["reads_others"])
    assert re.search(r"read=\['(FileNotFoundError|PermissionError)', '(FileNotFoundError|"
                     r"PermissionError)', '(FileNotFoundError|PermissionError)'\]", found), found
    assert OTHERS_SECRET not in found and "def " not in found


def test_an_executed_notebook_cannot_print_the_reference_solution(graded):
    text = (SOLUTION / "hw4_foundations.ipynb").read_text(encoding="utf-8")
    pasted = [Cell("markdown", f"**{q}**") if k % 2 == 0 else Cell("code", "", text)
              for q in ("1.1", "1.2.1", "1.2.2", "1.2.3", "3.1.1") for k in range(2)]
    stolen = sum(c.earned for c in score_answers(answers(pasted)))
    assert stolen > 1  # had it read the solution, this is what it would have earned
    grade = graded[0]["reads_solution"]
    assert earned(grade, "1.") == 0 and earned(grade, "3.") == 0
    assert "FileNotFoundError" in said(grade) or "PermissionError" in said(grade)


def test_the_code_cannot_talk_to_the_host(graded):
    grades, heard = graded
    assert heard == []
    found = said(grades["talks_to_host"])
    assert "talked=[" in found and "'socket'" not in found and "'fifo'" not in found, found


@pytest.mark.parametrize("name", ["forges_events", "patches_probes"])
def test_marks_cannot_be_forged_from_inside_the_child(graded, name):
    grade = graded[0][name]
    assert earned(grade, "2.") == 0, [c for c in grade.checks if c.earned]


def test_a_name_cannot_forge_a_report_line_and_a_bad_notebook_costs_only_its_student(graded):
    grades = graded[0]
    text = "\n\n".join(report.text(g) for g in grades.values())
    assert not any(line.startswith("score 4.5 ∕ 4.5") for line in text.splitlines())
    assert "== eve\\nscore 4.5" in text
    assert earned(grades[FORGED_NAME], "2.") == pytest.approx(1.75)
    assert earned(grades["another_student"], "2.") == pytest.approx(1.75)
    assert grades["deep"].score == 0 and "not a readable notebook" in said(grades["deep"])
    assert grades["numbers"].score == 0  # numbers where text belongs read as no text
    csv_lines = report.csv_text(list(grades.values())).splitlines()
    assert not any(line.startswith("score 4.5") for line in csv_lines)


def children(marker: str) -> list[str]:
    """The processes whose command line holds ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "cmdline").read_bytes():
                found.append(proc.name)
        except OSError:
            continue
    return found


def wait_for(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _as_at_a_terminal() -> None:
    # a shell starts a background job with SIGINT ignored, and an ignored SIGINT stays
    # ignored in Python (the convention that keeps Ctrl-C off background jobs): a suite
    # started with `make test &` would pass that on to the grader, which then rightly runs
    # on. The grader under test gets SIGINT as a terminal's Ctrl-C gives it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=lambda s: s.name)
def test_nothing_outlives_the_grader_however_it_is_stopped(tmp_path, stop, graded_processes):
    marker = f"{6000 + stop.value}{os.getpid() % 1000}"
    code = (HOSTILE / "outlives.py").read_text(encoding="utf-8").replace("@SLEEP@", marker)
    (tmp_path / "outlives.py").write_text(code, encoding="utf-8")
    grader = subprocess.Popen([sys.executable, "-m", "nnfoundations", "grade",
                               str(tmp_path / "outlives.py"), "--timeout", "300"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              preexec_fn=_as_at_a_terminal)
    try:
        assert wait_for(lambda: children(marker), 60), "the submission never started"
        grader.send_signal(stop)
        # its clean-up may take up to 25 s by design (three 5 s rounds of killing what is
        # left in the child's cgroup, two 5 s joins of its reader threads); a grader that
        # ignored the signal would run on to its 300 s timeout
        grader.wait(timeout=60)
    finally:
        grader.kill()
    assert wait_for(lambda: not children(marker) and not graded_processes(grader.pid), 10), \
        children(marker)
    assert not list(Path("/sys/fs/cgroup").glob(f"nnf-grade-{grader.pid}-*")) \
        or stop == signal.SIGKILL  # a killed grader cannot clean; the next one sweeps it
    if stop != signal.SIGKILL:
        assert grader.returncode == 130
        assert grader.stderr.read().decode().strip() == "nnf: interrupted"


def test_a_low_address_space_limit_and_absurd_timeouts(tmp_path):
    run = [sys.executable, "-m", "nnfoundations", "grade"]
    low = subprocess.run(["prlimit", f"--as={4 * 2**30}", *run, "--solution", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert low.returncode == 0, low.stderr
    assert json.loads(low.stdout)["score"] == pytest.approx(3.25)
    (tmp_path / "a.py").write_text(SOLVED)
    for timeout in ("1e300", "inf", "-1"):
        bad = subprocess.run([*run, str(tmp_path / "a.py"), "--timeout", timeout],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
        assert "--timeout" in bad.stderr


def test_without_bubblewrap_grading_refuses_in_one_line(tmp_path):
    (tmp_path / "a.py").write_text(SOLVED)
    env = {**os.environ, "PATH": str(tmp_path)}  # no bwrap, no prlimit on this PATH
    done = subprocess.run([sys.executable, "-m", "nnfoundations", "grade",
                           str(tmp_path / "a.py")], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "bubblewrap" in done.stderr and "apt-get install bubblewrap" in done.stderr
