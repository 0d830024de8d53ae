"""Grading submissions: find them, run each in the sandbox, score it against the rubric.

A submission is a student's ``.py`` (section 2) and ``.ipynb`` (sections 1 and 3, and
section 2 when there is no ``.py``). Its section-2 functions must be its own: one that is
missing or imported from elsewhere scores zero for its item, with the reason (the sandbox
holds no ``nnfoundations`` to import). Each grading draws fresh inputs for the functions;
the child reports what they produced, and the grader judges it. A submission that replaces
parts of torch or of Python's builtins scores zero for section 2.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnfoundations import _signals
from nnfoundations._errors import InvalidValueError
from nnfoundations.grading import notebook, sandbox
from nnfoundations.grading.answers import score_answers
from nnfoundations.grading.reference import draw_inputs
from nnfoundations.grading.rubric import SCORERS, SPLIT, Check, CheckKind, Scorer, zero
from nnfoundations.grading.sandbox import ChildResult, Limits, run

TEMPLATES = Path(__file__).with_name("templates")
#: What a student reads for each kind of origin the child reports of a function.
ORIGINS = {"missing": "missing", "not_a_function": "not a function ({})",
           "elsewhere": "defined in {}, not in the submission",
           "unreached": "not reached (the process stopped first)"}
SOLUTION = Path(__file__).resolve().parents[3] / "assignment"


@dataclass(frozen=True)
class Submission:
    """One student's files."""

    name: str
    script: Path | None = None
    notebook: Path | None = None


@dataclass
class Grade:
    """One submission's checks, what happened while running it, and the guarantees held."""

    submission: Submission
    checks: list[Check]
    notes: list[str] = field(default_factory=list)
    guarantees: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(c.earned for c in self.checks), 6)

    @property
    def manual_points(self) -> float:
        return round(sum(c.points for c in self.checks if c.kind == CheckKind.MANUAL), 6)


def discover(paths: Sequence[str | Path]) -> list[Submission]:
    """The submissions among ``paths``: files, folders of files (paired by name), or folders
    of one folder per student.

    Raises:
        InvalidValueError: a path that does not exist, or holds no submission.
    """
    found: list[Submission] = []
    files = [Path(p) for p in paths if Path(p).is_file()]
    files += [twin for f in files for twin in (f.with_suffix(".py"), f.with_suffix(".ipynb"))
              if twin.is_file() and twin not in files]  # the notebook beside a script
    found += _pair(files) if files else []  # files given together pair up by name
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            continue
        if path.is_dir():
            students = [d for d in sorted(path.iterdir()) if d.is_dir() and _files(d)]
            found += [_student(d) for d in students] if students else \
                _pair(_files(path), folder=path)
        else:
            raise InvalidValueError(f"no such file or directory: {path}")
    if not found:
        raise InvalidValueError(f"no .py or .ipynb submission in {', '.join(map(str, paths))}")
    return found


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".py", ".ipynb"))


def _pair(files: list[Path], folder: Path | None = None) -> list[Submission]:
    """Files with the same stem in one folder are one student's ``.py`` and ``.ipynb``; the
    assignment's own file names are the student of the folder that holds them."""
    bad = [f for f in files if f.suffix not in (".py", ".ipynb")]
    if bad:
        raise InvalidValueError(f"{bad[0]}: a submission is a .py or an .ipynb file")
    subs = []
    for parent, stem in sorted({(f.parent, f.stem) for f in files}):
        mine = {f.suffix: f for f in files if (f.parent, f.stem) == (parent, stem)}
        name = (folder or parent).resolve().name if stem == "hw4_foundations" else stem
        subs.append(Submission(name, mine.get(".py"), mine.get(".ipynb")))
    return subs


def _student(folder: Path) -> Submission:
    files = _files(folder)
    scripts = [f for f in files if f.suffix == ".py"]
    books = [f for f in files if f.suffix == ".ipynb"]
    return Submission(folder.name, _preferred(scripts), _preferred(books))


def _preferred(files: list[Path]) -> Path | None:
    named = [f for f in files if f.stem == "hw4_foundations"]
    return (named or files)[0] if files else None


def grade(submissions: Sequence[Submission], limits: Limits | None = None, *, jobs: int = 0,
          execute: bool = False, carried: float = 0.0) -> list[Grade]:
    """Grade each submission, ``jobs`` at a time (0: one per CPU), in the given order; an
    answer of 1.2 wrong only because it carries the student's own earlier values forward
    earns ``carried`` of its points.

    Interrupted (Ctrl-C, SIGTERM), it kills every child before it raises.

    Raises:
        InvalidValueError: this machine cannot contain submissions (no bubblewrap).
    """
    sandbox.check()
    sandbox.resume()
    limits = limits or Limits()
    template = notebook.read_cells(TEMPLATES / "hw4_foundations.ipynb")
    workers = jobs or os.cpu_count() or 1
    with _signals.interrupting(), ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            return list(pool.map(lambda s: grade_one(s, limits, execute, template, carried),
                                 submissions))
        except BaseException:
            sandbox.stop_all()
            pool.shutdown(cancel_futures=True)
            raise


def grade_one(sub: Submission, limits: Limits, execute: bool,
              template: list[notebook.Cell], carried: float = 0.0) -> Grade:
    """One submission's grade; never raises for anything the submission does (a file that
    breaks the grader itself costs only this submission its points, with a note)."""
    try:
        return _grade_one(sub, limits, execute, template, carried)
    except Exception as err:  # one student's file must not stop the class's grading
        checks = [c for q, _, _ in SPLIT for c in zero(q, "not graded")]
        return Grade(sub, checks, [f"could not be graded: {type(err).__name__}: {err}"[:300]])


def _grade_one(sub: Submission, limits: Limits, execute: bool,
               template: list[notebook.Cell], carried: float) -> Grade:
    notes: list[str] = []
    cells = _cells(sub.notebook, notes)
    inputs = draw_inputs(random.Random(os.urandom(16)))  # fresh for every grading
    outputs: dict[int, str] = {}
    result: ChildResult | None = None
    if cells is not None and execute:
        result = run(_cell_pieces(cells), limits, execute=True,
                     inputs=inputs if sub.script is None else None)
        outputs = {int(e["cell"]): e["text"] for e in result.events
                   if e.get("event") == "cell_output"}
        notes += _run_notes(result, "the notebook", sub)
        for k, text in outputs.items():
            cells[k].outputs = text
    if sub.script is not None or (cells is not None and not execute):
        pieces = _script_pieces(sub.script, notes) if sub.script is not None else \
            [{"name": "notebook_definitions.py", "code": notebook.definitions(cells or [])}]
        result = _probed(pieces, limits, inputs) if pieces else None
        if result is not None:
            notes += _run_notes(result, "the submission", sub)
    order = {q: k for k, (q, _, _) in enumerate(SPLIT)}
    checks = sorted(_section_1_and_3(cells, template, carried) + _section_2(result, inputs),
                    key=lambda c: order[c.question])
    guarantees = result.guarantees if result is not None else {}
    return Grade(sub, checks, notes, guarantees, result.seconds if result else 0.0)


def _probed(pieces: list[dict[str, Any]], limits: Limits,
            inputs: dict[str, Any]) -> ChildResult:
    """The child's report on every function; where one runs out of time, the functions
    after it are probed again in a fresh child, so that a question that hangs loses only
    its own points (a child is started again only after a timeout: no cost otherwise)."""
    result = run(pieces, limits, inputs=inputs)
    while result.timed_out and result.first("origins") is not None:
        stuck = next((n for n in inputs if result.last("probe", n) is None), None)
        rest = list(inputs)[list(inputs).index(stuck) + 1:] if stuck else []
        if not rest:
            break
        again = run(pieces, limits, inputs={n: inputs[n] for n in rest})
        probes = [e for e in again.events if e.get("event") == "probe"]
        restarted = {"event": "timed_out", "name": stuck}  # the parent's own record
        result = ChildResult(result.events + [restarted, *probes], again.exit_status,
                             again.timed_out, result.seconds + again.seconds,
                             {k: v and again.guarantees.get(k, False)
                              for k, v in result.guarantees.items()}, again.output_tail)
        inputs = {n: inputs[n] for n in rest}
    return result


def _cells(path: Path | None, notes: list[str]) -> list[notebook.Cell] | None:
    if path is None:
        return None
    try:
        return notebook.read_cells(path)
    except InvalidValueError as err:
        notes.append(str(err))
        return None


def _file_of(piece: str, sub: Submission) -> str:
    """A piece the child ran, named as the student knows it: the file, or the cell."""
    cell = re.fullmatch(r"cell_(\d+)\.py", piece)
    if cell is not None and sub.notebook is not None:
        return f"{sub.notebook.name}, cell {int(cell.group(1)) + 1}"
    if piece == "submission.py" and sub.script is not None:
        return sub.script.name
    return "the notebook's definitions" if piece == "notebook_definitions.py" else piece


def _cell_pieces(cells: list[notebook.Cell]) -> list[dict[str, Any]]:
    return [{"name": f"cell_{k}.py", "code": code, "cell": k}
            for k, code in notebook.code_cells(cells)]


def _script_pieces(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    try:
        return [{"name": "submission.py", "code": path.read_text(encoding="utf-8")}]
    except (OSError, UnicodeDecodeError) as err:
        notes.append(f"{path} could not be read ({type(err).__name__})")
        return []


def _run_notes(result: ChildResult, what: str, sub: Submission) -> list[str]:
    """What went wrong while running, each as one line: a load error as ``file:line:
    error``, under the student's own file name."""
    notes = [f"{what} stopped at {_file_of(str(e.get('piece')), sub)}"
             f"{'' if e.get('line') is None else ':' + str(e.get('line'))}: {e.get('error')}"
             for e in result.events if e.get("event") == "load_error"]
    if result.timed_out or result.first("timed_out") is not None:
        notes.append(f"{what} ran out of time; a function that had not reported scores zero "
                     "(the functions after it were tested again in a fresh process)")
    elif result.first("done") is None:
        tail = result.output_tail.strip().splitlines()[-1:] or ["no output"]
        notes.append(f"{what}'s process ended (status {result.exit_status}) before it "
                     f"finished: {tail[0][:200]}")
    tampered = (result.first("tampered") or {}).get("names", [])
    if tampered:
        notes.append(f"{what} replaces {', '.join(map(str, tampered[:5]))}: section 2 scores "
                     "zero")
    return notes


def _section_2(result: ChildResult | None, inputs: dict[str, Any]) -> list[Check]:
    """Each function's checks: the child's report of what it produced, judged here against
    the inputs it was given; a report that is not what the child writes scores zero."""
    if result is None:
        return [c for q, _ in SCORERS.values() for c in zero(q, "no code to test")]
    checks: list[Check] = []
    for name, (question, scorer) in SCORERS.items():
        try:
            checks += _function(result, name, scorer, inputs[name])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError):
            checks += zero(question, f"{name}: the report of what it produced is malformed")
    return checks


def _function(result: ChildResult, name: str, scorer: Scorer,
              asked: dict[str, Any]) -> list[Check]:
    question = SCORERS[name][0]
    kind, detail = (result.first("origins") or {}).get(name, ["unreached", ""])
    probe = result.last("probe", name)
    if (result.first("tampered") or {}).get("names"):
        return zero(question, "the submission replaces parts of torch or builtins")
    if kind == "missing" and result.first("load_error") is not None:
        return zero(question, "not graded: the code stopped while loading (see the note "
                              "above)")
    if kind != "own":
        return zero(question, f"{name}: " + ORIGINS.get(kind, "{}").format(detail))
    if probe is None and result.last("timed_out", name) is not None:
        return zero(question, f"{name}: ran out of time while it was being tested")
    if probe is None:
        return zero(question, f"{name}: no result (the process stopped while testing it)")
    return list(scorer(asked, probe["result"]))


def _section_1_and_3(cells: list[notebook.Cell] | None, template: list[notebook.Cell],
                     carried: float) -> list[Check]:
    found = None if cells is None else notebook.answers(cells, template)
    return score_answers(found, carried)
