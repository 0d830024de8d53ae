"""`nnf grade` on a class: 50 generated submissions (correct, buggy and hostile), graded in
parallel, each in its own confined child process.

The submissions are the test suite's (`tests/grading/test_grade_sandbox.py`): the solution,
five typical mistakes and thirteen kinds of hostile code, repeated to 50."""

from __future__ import annotations

import os
import runpy
import tempfile
import time
from collections import Counter
from pathlib import Path

from nnfoundations.grading.grader import Submission, grade
from nnfoundations.grading.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
COUNT, TIMEOUT = 50, 20.0


def main() -> None:
    kinds = runpy.run_path(str(ROOT / "tests/grading/test_grade_sandbox.py"))["SUBMISSIONS"]
    names = sorted(kinds)
    order = ["solution"] * 20 + [names[k % len(names)] for k in range(COUNT - 20)]
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        subs = []
        for k, kind in enumerate(order):
            path = Path(tmp) / f"student{k:02d}_{kind}.py"
            path.write_text(kinds[kind].replace("TARGETS", "[]").replace("ANSWERS", "''"))
            subs.append(Submission(path.stem, path))
        start = time.perf_counter()
        grades = grade(subs, Limits(seconds=TIMEOUT, cpu_seconds=int(TIMEOUT)), jobs=jobs)
        seconds = time.perf_counter() - start
    held = Counter(k for g in grades for k, v in g.guarantees.items() if v)
    per = sorted(g.seconds for g in grades)
    print(f"== nnf grade: {COUNT} submissions ({Counter(order)['solution']} correct, the rest "
          f"buggy or hostile, {len(set(order))} kinds), {jobs} jobs at once, torch's threads 1 "
          f"per child, timeout {TIMEOUT:.0f} s")
    print(f"graded in {seconds:.1f} s: {seconds / COUNT:.2f} s a submission; one child takes "
          f"{per[len(per) // 2]:.1f} s (median), {per[-1]:.1f} s at most (the hang, killed)")
    print("guarantees held: " + ", ".join(f"{k} {n}/{COUNT}" for k, n in sorted(held.items())))


if __name__ == "__main__":
    main()
