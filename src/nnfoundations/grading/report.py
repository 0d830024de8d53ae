"""What ``nnf grade`` writes: a report per student, JSON lines, a CSV of all scores, and
Gradescope's ``results.json``."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

from nnfoundations._files import atomic_write_text
from nnfoundations._format import fmt
from nnfoundations.grading.grader import Grade
from nnfoundations.grading.rubric import SPLIT, TOTAL, Check, CheckKind

#: Characters that would start a new line, move the cursor or reorder text where a report
#: is read: control characters, Unicode line separators and bidirectional overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e"
                     "\u2066-\u2069]")


def plain(text: object) -> str:
    """``text`` with every unsafe character written as its escape (``\\n``, ``\\x1b``): a
    name from the filesystem or a message from a submission cannot forge a report line."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"),
                       str(text))


def _points(x: float) -> str:
    return fmt(round(x, 3))


def _short(message: str, limit: int = 400) -> str:
    flat = plain(" ".join(message.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def text(grade: Grade) -> str:
    """One student's report: the score, each question, what to fix, what is manual."""
    sub = grade.submission
    files = ", ".join(plain(f) for f in (sub.script, sub.notebook) if f is not None)
    lines = [f"== {plain(sub.name)} ({files})",
             f"score {_points(grade.score)} / {_points(TOTAL - grade.manual_points)} graded "
             f"automatically; {_points(grade.manual_points)} points left to grade by hand"]
    lines += [f"  note: {plain(n)}" for n in grade.notes]  # the cause first, once
    for questions, points, checks in _rows(grade):
        earned = sum(c.earned for c in checks)
        mark = "manual" if checks[0].kind == CheckKind.MANUAL else \
            f"{_points(earned)} / {_points(points)}"
        lines.append(f"  {', '.join(questions):<20} {mark}")
        lines += [f"      - {c.name}: {plain(c.message)}" if c.kind == CheckKind.TEST else
                  f"      {plain(c.message)}" for c in checks
                  if c.message and c.kind != CheckKind.MANUAL]
        lines += [f"      {_short(c.message)}" for c in checks if c.kind == CheckKind.MANUAL]
    missing = [k.replace("_", " ") for k, v in grade.guarantees.items() if not v]
    if missing:
        lines.append(f"  not guaranteed on this machine: {', '.join(missing)}")
    return "\n".join(lines)


def _rows(grade: Grade) -> list[tuple[list[str], float, list[Check]]]:
    """The report's rows, question by question; questions scored zero for one same reason
    (no notebook, say) share a row."""
    rows: list[tuple[list[str], float, list[Check]]] = []
    for question, points, _ in SPLIT:
        checks = [c for c in grade.checks if c.question == question]
        if not checks:
            continue
        previous = rows[-1][2] if rows else []
        if len(checks) == 1 and checks[0].kind == CheckKind.WHOLE and len(previous) == 1 \
                and previous[0].kind == CheckKind.WHOLE \
                and previous[0].message == checks[0].message:
            rows[-1] = (rows[-1][0] + [question], rows[-1][1] + points, previous)
        else:
            rows.append(([question], points, checks))
    return rows


def as_dict(grade: Grade) -> dict[str, Any]:
    """One submission as plain data (the ``--json`` line)."""
    sub = grade.submission
    return {"student": sub.name, "script": str(sub.script) if sub.script else None,
            "notebook": str(sub.notebook) if sub.notebook else None,
            "score": grade.score, "automatic_max": round(TOTAL - grade.manual_points, 6),
            "manual_points": grade.manual_points, "total": TOTAL,
            "checks": [{"question": c.question, "check": c.name, "kind": c.kind.value,
                        "points": round(c.points, 6),
                        "earned": round(c.earned, 6), "message": c.message}
                       for c in grade.checks],
            "notes": grade.notes, "guarantees": grade.guarantees,
            "seconds": round(grade.seconds, 3)}


def csv_text(grades: Sequence[Grade]) -> str:
    """All scores: one row per student, one column per question."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "score", "automatic_max", *[q for q, _, _ in SPLIT], "notes"])
    for g in grades:
        per = [round(sum(c.earned for c in g.checks if c.question == q), 6)
               if any(c.kind != CheckKind.MANUAL for c in g.checks if c.question == q)
               else "manual"
               for q, _, _ in SPLIT]
        writer.writerow([plain(g.submission.name), g.score, round(TOTAL - g.manual_points, 6),
                         *per, plain(" | ".join(g.notes))])
    return out.getvalue()


def gradescope(grade: Grade) -> dict[str, Any]:
    """Gradescope's ``results.json``: the automatic checks as tests; manual ones are left to
    Gradescope's own manually graded questions."""
    tests = [{"name": f"{c.question} {c.name}", "score": round(c.earned, 6),
              "max_score": round(c.points, 6), "output": plain(c.message) or "passed",
              "visibility": "visible"} for c in grade.checks if c.kind != CheckKind.MANUAL]
    notes = "\n".join(map(plain, grade.notes))
    return {"score": grade.score, "output": notes or "graded by nnf grade",
            "tests": tests}


def write(grades: Sequence[Grade], *, as_json: bool, csv_path: str | None,
          gradescope_path: str | None) -> str:
    """Write the requested files and return what goes to stdout."""
    if csv_path is not None:
        atomic_write_text(csv_path, csv_text(grades))
    if gradescope_path is not None:
        atomic_write_text(gradescope_path, json.dumps(gradescope(grades[0]), indent=1) + "\n")
    if as_json:
        return "\n".join(json.dumps(as_dict(g), ensure_ascii=False) for g in grades)
    return "\n\n".join(text(g) for g in grades)
