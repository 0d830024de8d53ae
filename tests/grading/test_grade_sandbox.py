"""nnf grade against real submissions: the solution, typical mistakes and hostile code, all
graded in one parallel batch (each in its own confined child), then checked one by one.

The submissions are strings written to a temporary folder: data, never imported here."""

import csv
import io
import json
import os
import re

import pytest

from nnfoundations.grading import answers as answers_module
from nnfoundations.grading.command import grade_command
from nnfoundations.grading.grader import SOLUTION, Submission, grade
from nnfoundations.grading.sandbox import Limits

pytestmark = pytest.mark.slow  # processes, sandboxes: seconds each

SOLVED = (SOLUTION / "hw4_foundations.py").read_text(encoding="utf-8")
SECRET = "grader-secret-7f3a"


def mutate(old, new):
    assert old in SOLVED, old
    return SOLVED.replace(old, new, 1)


def in_function(name, code):
    """The solution with ``code`` run first thing in function ``name``."""
    head = re.search(rf"def {name}\(.*?\n    \"\"\".*?\"\"\"\n", SOLVED, re.S).group(0)
    return SOLVED.replace(head, head + "".join(f"    {line}\n" for line in code.splitlines()))


SUBMISSIONS = {
    "solution": SOLVED,
    "no_zero_grad": mutate("    optimizer.zero_grad()\n", "    pass\n"),
    "dropout_after_output": mutate("    layers.append(nn.Linear(prev_size, output_size))\n",
                                   "    layers.append(nn.Linear(prev_size, output_size))\n"
                                   "    if dropout_rate > 0:\n"
                                   "        layers.append(nn.Dropout(p=dropout_rate))\n"),
    "accuracy_count": mutate(".sum().item() / len(y)", ".sum().item()"),
    "left_in_train_mode": mutate("model.eval()  # disable dropout", "pass"),
    "loss_tensor": mutate("loss = loss_fn(y_pred, y.to(device)).item()",
                          "loss = loss_fn(y_pred, y.to(device))"),
    "crash": "import ctypes\nctypes.string_at(0)\n",  # a real segfault (PID 1 ignores kill)
    "hang": in_function("build_model", "while True:\n    pass"),
    "forks": in_function("build_model", "import os, time\nfor _ in range(100):\n"
                         "    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)"),
    "sys_exit": "import sys\nsys.exit(0)\n" + SOLVED,
    "os_exit": in_function("train_one_step", "import os\nos._exit(3)"),
    "huge_print": in_function("build_model", "for _ in range(100):\n    print('x' * 10**6)"),
    "writes_files": "import pathlib\n"
                    "pathlib.Path('results.json').write_text('{\"score\": 4.5}')\n"
                    "for target in TARGETS:\n"
                    "    try:\n        pathlib.Path(target).write_text('owned')\n"
                    "    except OSError:\n        pass\n" + SOLVED,
    "patches_torch": SOLVED + "\ntorch.Tensor.backward = lambda self, *a, **k: None\n",
    "patches_builtins": SOLVED + "\nimport builtins\nbuiltins.isinstance = lambda a, b: True\n",
    "reads_environment": in_function("build_model", "import os\n"
                                     "raise ValueError('env=' + str(os.environ.get("
                                     "'NNF_GRADER_SECRET')))"),
    "reads_grader_files": in_function("build_model", "raise ValueError('read: ' + open("
                                      "ANSWERS).read().split('KEYS')[1][:80])"),
    "imports_nnfoundations": "from nnfoundations import build_model, train_one_step, "
                             "evaluate\n",
    "delegates": SOLVED + "\nimport nnfoundations\n\ndef build_model(*a, **k):\n"
                          "    return nnfoundations.build_model(*a, **k)\n",
}


@pytest.fixture(scope="module")
def graded(containment, tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    outside = folder.parent / "grader_owned.txt"
    os.environ["NNF_GRADER_SECRET"] = SECRET
    subs = []
    for name, code in SUBMISSIONS.items():
        code = code.replace("TARGETS", repr([str(outside), str(SOLUTION / "owned.txt")]))
        code = code.replace("ANSWERS", repr(answers_module.__file__))
        (folder / f"{name}.py").write_text(code, encoding="utf-8")
        subs.append(Submission(name, folder / f"{name}.py"))
    try:
        grades = grade(subs, Limits(seconds=25, cpu_seconds=25), jobs=2)
    finally:
        del os.environ["NNF_GRADER_SECRET"]
    return {g.submission.name: g for g in grades}, outside


def section(grade, prefix):
    checks = [c for c in grade.checks if c.question.startswith(prefix)]
    return sum(c.earned for c in checks), [c for c in checks if not c.passed]


def messages(grade):
    return " ".join(c.message for c in grade.checks) + " " + " ".join(grade.notes)


def test_the_solution_earns_every_point_of_section_2(graded):
    earned, failed = section(graded[0]["solution"], "2.")
    assert earned == pytest.approx(1.75) and not failed


@pytest.mark.parametrize("name, question, checks", [
    ("no_zero_grad", "2.2", ["zero_grad before backward"]),
    ("dropout_after_output", "2.1", ["one Dropout(p) after each ReLU",
                                     "nothing after the output layer"]),
    ("accuracy_count", "2.3", ["accuracy is the fraction correct"]),
    ("left_in_train_mode", "2.3", ["in eval mode (dropout off)"]),
    ("loss_tensor", "2.3", ["returns (loss, accuracy) as two Python numbers"]),
])
def test_a_typical_mistake_loses_its_checks_only_with_a_message_to_act_on(graded, name,
                                                                         question, checks):
    grade = graded[0][name]
    earned, failed = section(grade, "2.")
    assert [c.name for c in failed] == checks
    assert all(c.question.startswith(question) and c.message for c in failed)
    assert 0 < earned < 1.75
    if name == "accuracy_count":
        assert "looks like a count" in failed[0].message


@pytest.mark.parametrize("name, reason", [
    ("crash", r"process ended \(status -?\d+\)"),
    ("hang", r"ran out of time"),
    ("forks", r"BlockingIOError|Resource temporarily unavailable"),
    ("sys_exit", r"SystemExit"),
    ("huge_print", r"File too large|OSError"),
    ("patches_torch", r"replaces torch\.Tensor\.backward"),
    ("patches_builtins", r"replaces builtins\.isinstance"),
    ("imports_nnfoundations", r"No module named 'nnfoundations'"),
    ("delegates", r"No module named 'nnfoundations'"),
])
def test_hostile_code_scores_with_a_one_line_reason(graded, name, reason):
    grade = graded[0][name]
    assert re.search(reason, messages(grade)), messages(grade)
    assert section(grade, "2.")[0] < 1.75
    assert all("\n" not in n for n in grade.notes)


def test_a_file_that_fails_to_load_says_where_first_and_once(graded):
    grade = graded[0]["imports_nnfoundations"]
    assert grade.notes == ["the submission stopped at imports_nnfoundations.py:1: "
                           "ModuleNotFoundError: No module named 'nnfoundations'"]
    rows = [c.message for c in grade.checks if c.question.startswith("2.")]
    assert set(rows) == {"not graded: the code stopped while loading (see the note above)"}


def test_os_exit_loses_only_what_had_not_reported(graded):
    grade = graded[0]["os_exit"]
    assert section(grade, "2.1")[0] == pytest.approx(0.5)
    assert "status 3" in messages(grade) and section(grade, "2.2")[0] == 0


def test_a_submission_never_sees_the_graders_environment(graded):
    env = messages(graded[0]["reads_environment"])
    assert "env=None" in env and SECRET not in env


def test_a_submission_cannot_write_outside_its_scratch_or_read_the_grader(graded):
    grades, outside = graded
    assert section(grades["writes_files"], "2.")[0] == pytest.approx(1.75)
    assert not outside.exists() and not (SOLUTION / "owned.txt").exists()
    stolen = messages(grades["reads_grader_files"])
    assert re.search(r"build_model\(.*\) raised \w+Error", stolen) and 'Key("' not in stolen


def test_no_process_outlives_its_grading(graded, graded_processes):
    assert graded_processes(os.getpid()) == []


def test_gradescope_results_are_the_graders_not_the_submissions(graded, tmp_path):
    target = tmp_path / "results.json"
    script = tmp_path / "writes.py"
    script.write_text(SUBMISSIONS["writes_files"].replace("TARGETS", repr([str(target)])))
    grade_command([str(script)], gradescope_path=str(target), timeout=60)
    results = json.loads(target.read_text())
    assert results["score"] == pytest.approx(1.75)
    assert {"name", "score", "max_score", "output"} <= set(results["tests"][0])


def computed_notebook(path):
    """A notebook whose 1.2.1 answers exist only once its code runs."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "**1.2.1** the forward pass"},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": "z1 = 0.5 * 1 + (-0.3) * 2\nprint(f'z1 = {z1:.3g}')\n%whos"}]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_notebooks_the_solution_the_template_and_execute(containment, tmp_path, capsys):
    from nnfoundations.app.cli import main
    assert main(["grade", "--solution", "--json"]) == 0
    solution = json.loads(capsys.readouterr().out)
    assert solution["score"] == solution["automatic_max"] == 3.25  # every automatic point
    assert main(["grade", "--template", str(tmp_path / "blank")]) == 0
    assert main(["grade", "--template", str(tmp_path / "blank")]) == 2  # never overwrites
    capsys.readouterr()
    assert main(["grade", str(tmp_path / "blank"), "--csv", str(tmp_path / "s.csv")]) == 0
    assert "train_one_step raised AttributeError" in capsys.readouterr().out
    row = next(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    # the blank files earn nothing: their stubs' right forms (an nn.Sequential, no_grad) count
    # only beside a right value
    assert float(row["score"]) == 0 and float(row["1.2.2"]) == 0 and float(row["3.2.1"]) == 0
    book = computed_notebook(tmp_path / "computed.ipynb")
    stored, executed = (grade([Submission("c", notebook=book)], Limits(seconds=60),
                              execute=run)[0] for run in (False, True))
    z1 = [next(c for c in g.checks if c.name == "z1 = -0.1") for g in (stored, executed)]
    assert not z1[0].passed and z1[1].passed


def test_bad_grade_commands_exit_2_with_one_line(capsys, tmp_path):
    from nnfoundations.app.cli import main
    assert main(["grade"]) == 2
    assert main(["grade", str(tmp_path / "nothing.py")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "no such file or directory" in err


def test_nnf_grade_credits_consistent_working_where_the_instructor_says(containment, tmp_path,
                                                                          capsys):
    from nnfoundations.app.cli import main
    cells = [{"cell_type": "markdown", "metadata": {}, "source": source} for source in (
        "**1.2.1** z1 = -0.1, z2 = 1.8, h1 = 0, h2 = 1.8, ŷ = 0.8, L = 0.04",
        "**1.2.2** dL/dw21 = 2(ŷ − y)·v2·1·x1 = -0.16")]
    book = tmp_path / "carol" / "hw4_foundations.ipynb"
    book.parent.mkdir()
    book.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    scores = []
    for share in ("0", "0.5"):
        assert main(["grade", str(book.parent), "--json", "--carried-credit", share]) == 0
        scores.append(json.loads(capsys.readouterr().out))
    q122 = [next(c for c in s["checks"] if c["question"] == "1.2.2") for s in scores]
    assert q122[0]["earned"] == 0 and q122[1]["earned"] == pytest.approx(0.125)
    assert "carries your ŷ = 0.8 forward" in q122[1]["message"]


def test_a_function_that_hangs_loses_only_its_own_points(graded):
    grade = graded[0]["hang"]
    assert section(grade, "2.1")[0] == 0
    assert "build_model: ran out of time while it was being tested" in messages(grade)
    for question in ("2.2", "2.3"):  # tested again in a fresh process, in full
        earned, failed = section(grade, question)
        assert not failed and earned > 0, question
