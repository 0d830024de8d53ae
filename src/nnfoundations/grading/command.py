"""What ``nnf grade`` does, its options checked in one place: grade submissions, write the
blank student files, or grade our own solution as a self-check."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from nnfoundations import _checks
from nnfoundations._errors import InvalidValueError
from nnfoundations._files import atomic_write_bytes, new_directory, writable_file
from nnfoundations.grading import report
from nnfoundations.grading.answers import KEYS
from nnfoundations.grading.grader import SOLUTION, TEMPLATES, Submission, discover, grade
from nnfoundations.grading.rubric import SPLIT, TOTAL
from nnfoundations.grading.sandbox import Limits

#: The longest a submission may run, in seconds.
MAX_TIMEOUT = 86_400
#: The blank files a student gets: package data, written out under their real names.
TEMPLATE_FILES = {"hw4_foundations.py.txt": "hw4_foundations.py",
                  "hw4_foundations.ipynb": "hw4_foundations.ipynb"}


def grade_command(paths: Sequence[str], *, template: str | None = None,
                  solution: bool = False, rubric: bool = False, execute: bool = False,
                  jobs: int = 0, timeout: float = 120.0, as_json: bool = False,
                  csv_path: str | None = None, gradescope_path: str | None = None,
                  carried_credit: float = 0.0) -> str:
    """The text ``nnf grade`` prints, after writing any file it was asked for.

    Raises:
        InvalidValueError: options that do not go together, a bad number, a path that
            cannot be read or written.
    """
    modes = [bool(paths), template is not None, solution, rubric]
    if sum(modes) != 1:
        raise InvalidValueError("give submissions to grade, or one of --template DIR, "
                                "--solution, --rubric")
    if template is not None:
        return write_template(template)
    if rubric:
        return rubric_text()
    jobs = 0 if jobs == 0 else _checks.positive_int("--jobs", jobs)
    timeout = _checks.positive_number("--timeout", timeout)
    if timeout > MAX_TIMEOUT:
        raise InvalidValueError(f"--timeout must be at most {MAX_TIMEOUT} seconds (a day), "
                                f"got {timeout:g}")
    if not _checks.is_real(carried_credit) or not 0 <= float(carried_credit) <= 1:
        raise InvalidValueError(f"--carried-credit is the share of an answer's points that "
                                f"consistent working earns, from 0 to 1; got {carried_credit}")
    for out in (csv_path, gradescope_path):
        if out is not None:
            writable_file(out)
    submissions = [solution_submission()] if solution else discover(paths)
    if gradescope_path is not None and len(submissions) != 1:
        raise InvalidValueError(f"--gradescope writes one submission's results.json; got "
                                f"{len(submissions)} submissions")
    limits = Limits(seconds=timeout, cpu_seconds=math.ceil(timeout) + 1)
    grades = grade(submissions, limits, jobs=jobs, execute=execute,
                   carried=float(carried_credit))
    return report.write(grades, as_json=as_json, csv_path=csv_path,
                        gradescope_path=gradescope_path)


def write_template(folder: str) -> str:
    """Write the blank student files into ``folder`` (made if missing), never over a file."""
    target = Path(folder)
    if not target.is_dir():
        new_directory(target).mkdir(parents=True)
    outputs = [writable_file(target / name) for name in TEMPLATE_FILES.values()]
    taken = [str(p) for p in outputs if p.exists() or p.is_symlink()]
    if taken:
        raise InvalidValueError(f"{', '.join(taken)} already exist: --template writes only "
                                "new files")
    for stored, out in zip(TEMPLATE_FILES, outputs, strict=True):
        atomic_write_bytes(out, (TEMPLATES / stored).read_bytes())
    return f"wrote {', '.join(map(str, outputs))}"


def solution_submission() -> Submission:
    """Our own ``assignment/`` files, which ship with the source repository."""
    script, book = SOLUTION / "hw4_foundations.py", SOLUTION / "hw4_foundations.ipynb"
    if not (script.is_file() and book.is_file()):
        raise InvalidValueError(f"--solution grades {SOLUTION}, which is not here: it comes "
                                "with the source repository, not with an installed package")
    return Submission("solution", script, book)


def rubric_text() -> str:
    """How the points split, question by question."""
    lines = [f"{'question':<20} points  graded"]
    for q, p, how in SPLIT:
        keys = [k.label for k in KEYS.get(q, [])] + (["why: h1 is inactive"] if q == "1.2.3"
                                                     else [])
        split = f": {len(keys)} checks of {p / len(keys):.3g} ({'; '.join(keys)})" if keys \
            else ": its tests share the points equally" if q.startswith("2.") else ""
        lines.append(f"{q:<20} {p:>6.3g}  {how}{split}")
    auto = sum(p for _, p, how in SPLIT if how == "auto")
    lines.append(f"{'total':<20} {TOTAL:>6.3g}  ({auto:.3g} automatically, "
                 f"{TOTAL - auto:.3g} by hand)")
    return "\n".join(lines)

