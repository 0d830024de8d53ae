"""The notebook's answers read as data: questions found, numbers read however a person writes
them, manual answers collected; and the reports' formats."""

import csv
import io
import json

import pytest

from nnfoundations.grading.answers import KEYS, find, matches, score_answers
from nnfoundations.grading.command import grade_command, rubric_text
from nnfoundations.grading.grader import Grade, Submission, discover
from nnfoundations.grading.notebook import Cell, answers, definitions, read_cells
from nnfoundations.grading.report import as_dict, csv_text, gradescope, text
from nnfoundations.grading.rubric import (
    SPLIT,
    TOTAL,
    CheckKind,
    parameters,
    score_build_model,
)


def notebook(*cells):
    return [Cell(kind, source, outputs) for kind, source, outputs in cells]


def key(question, label):
    return next(k for k in KEYS[question] if k.label.startswith(label))


@pytest.mark.parametrize("written, value, ok", [
    ("-0.224", -0.224, True), ("−0.224", -0.224, True), ("-.224", -0.224, True),
    ("-0.22", -0.224, True), ("-2.24e-1", -0.224, True), ("-0.2", -0.224, False),
    ("0.0784", 0.0784, True), ("0.078", 0.0784, True), ("0.08", 0.0784, False),
    ("0", 0.0, True), ("0.0", 0.0, True), ("16", 16, True), ("1.6", 16, False),
])
def test_numbers_match_however_they_are_written(written, value, ok):
    assert matches(written, value) is ok


@pytest.mark.parametrize("line", [
    "z1 = 0.5(1) + (-0.3)(2) = -0.1", "$z_1 = -0.1$", "z_{1} = −0.10", "z₁ = -0.1",
    "the pre-activation z1 is -0.1",
])
def test_a_value_is_read_next_to_its_name(line):
    assert find(key("1.2.1", "z1"), line)[0]


def test_a_derivative_needs_its_name_and_a_derivative_and_zero_is_never_guessed():
    w21 = key("1.2.2", "dL/dw21")
    assert find(w21, r"$\frac{\partial \mathcal{L}}{\partial w_{2,1}} = 2(-0.28)(0.4)(1)(1) "
                     r"= -0.224$")[0]
    assert find(w21, "∂L/∂w21 = ∂L/∂ŷ · ∂ŷ/∂h2\n        = 2·(ŷ − y) · v2 · 1 · x1\n"
                     "        = -0.224")[0]  # a derivation over lines
    assert find(w21, "the answer is -0.224")[0]  # a distinctive value, anywhere
    assert not find(w21, "w21 = 0.2 (the weight)")[0]
    w11 = key("1.2.3", "dL/dw11")
    ok, why = find(w11, "it is 0 because h1 is off")
    assert not ok and "expected dL/dw11 = 0" in why
    assert find(w11, "∂L/∂w11 = 0 since z1 < 0")[0]


def test_questions_are_cut_at_their_numbers_and_template_lines_do_not_count():
    template = notebook(("markdown", "**1.2.1** Compute z1 when x = 2", ""),
                        ("markdown", "**Your response:** TODO", ""))
    cells = notebook(("markdown", "**1.2.1** Compute z1 when x = 2", ""),
                     ("markdown", "**Your response:** z1 = -0.1", ""),
                     ("code", "print(z2)", "z2 = 1.8"),
                     ("markdown", "## How to submit", ""),
                     ("markdown", "z1 = 5", ""))
    found = answers(cells, template)
    assert found["1.2.1"] == "**Your response:** z1 = -0.1\nz2 = 1.8"


def test_a_blank_or_wrong_notebook_scores_zero_with_what_was_found():
    checks = score_answers({"1.2.1": "z1 = 0.1\nh1 = 0"})
    z1 = next(c for c in checks if c.name == "z1 = -0.1")
    assert z1.earned == 0 and "found 0.1" in z1.message
    assert next(c for c in checks if c.name == "h1 = 0").passed
    assert all(c.earned == 0 for c in score_answers(None))
    found = score_answers({"3.2.1": "**Your response:** Model A underfits"})
    manual = [c for c in found if c.kind == CheckKind.MANUAL]
    assert [c.question for c in manual] == ["3.2.1"] and manual[0].earned == 0
    assert manual[0].message.endswith("Student's answer: Model A underfits")
    unanswered = [c for c in found if c.question in ("1.3", "3.1.2", "3.2.2")]
    assert all(c.earned == 0 and c.message == "no answer" and c.kind == CheckKind.WHOLE
               for c in unanswered)


def test_definitions_keep_imports_functions_and_classes_only():
    cells = notebook(("code", "import torch\nX = torch.randn(10**9)\n%matplotlib inline\n"
                              "def build_model():\n    return 1", ""),
                     ("code", "this is not python", ""))
    assert definitions(cells) == "import torch\n\ndef build_model():\n    return 1\n"


def test_the_rubric_adds_up_and_prints_its_split():
    assert sum(p for _, p, _ in SPLIT) == pytest.approx(TOTAL) == 4.5
    printed = rubric_text()
    assert "6 checks of 0.0417 (z1 = -0.1;" in printed and "3.25 automatically" in printed


def test_reports_in_every_format():
    sub = Submission("ada")
    grade = Grade(sub, score_answers({"1.1": "dL/dw = 0", "3.2.1": "A underfits"}),
                  notes=["a note"],
                  guarantees={"no_network": False, "rlimits": True})
    report = text(grade)
    assert "== ada" in report and "1.1                  0.5 / 0.5" in report
    assert "not guaranteed on this machine: no network" in report
    data = as_dict(grade)
    assert data["score"] == 0.5 and data["total"] == 4.5 and data["notes"] == ["a note"]
    rows = list(csv.reader(io.StringIO(csv_text([grade]))))
    assert rows[0][:3] == ["student", "score", "automatic_max"] and rows[1][0] == "ada"
    assert rows[1][rows[0].index("3.2.1")] == "manual"
    results = gradescope(grade)
    assert results["score"] == 0.5 and all(t["name"][0] in "13" for t in results["tests"])
    json.dumps(results)


def test_discovery_pairs_a_students_files_and_refuses_what_is_not_a_submission(tmp_path):
    for name in ("ada.py", "ada.ipynb", "bob.py"):
        (tmp_path / name).write_text("{}")
    subs = discover([tmp_path])
    assert [(s.name, bool(s.script), bool(s.notebook)) for s in subs] == [
        ("ada", True, True), ("bob", True, False)]
    (tmp_path / "cy").mkdir()
    (tmp_path / "cy" / "hw4_foundations.py").write_text("")
    assert [s.name for s in discover([tmp_path])] == ["cy"]  # a folder per student
    with pytest.raises(ValueError, match="no such file or directory"):
        discover([tmp_path / "missing"])
    with pytest.raises(ValueError, match="is not a readable notebook"):
        read_cells(tmp_path / "ada.ipynb")


def test_a_single_file_is_named_by_its_folder_with_the_notebook_beside_it(tmp_path):
    for student in ("bob", "ann"):
        (tmp_path / student).mkdir()
        for suffix in (".py", ".ipynb"):
            (tmp_path / student / f"hw4_foundations{suffix}").write_text("{}")
    subs = discover([tmp_path / "bob" / "hw4_foundations.py",
                     tmp_path / "ann" / "hw4_foundations.py"])
    assert [(s.name, s.script.parent.name, s.notebook.name) for s in subs] == [
        ("ann", "ann", "hw4_foundations.ipynb"), ("bob", "bob", "hw4_foundations.ipynb")]


def test_dropout_in_the_wrong_place_says_which_block_and_what_is_expected():
    args = [10, [5, 4], 3, 0.5]
    swapped = [["Linear", 10, 5], ["Dropout", 0.5], ["ReLU"], ["Linear", 5, 4],
               ["Dropout", 0.5], ["ReLU"], ["Linear", 4, 3]]
    observed = {"shapes": [{"args": args, "type": "Sequential", "is_sequential": True,
                            "layers": swapped, "params": parameters(*args[:3])}]}
    failed = [c for c in score_build_model({"shapes": [args]}, observed) if not c.passed]
    assert [c.name for c in failed] == ["one Dropout(p) after each ReLU"]
    assert failed[0].message == ("build_model(10, [5, 4], 3, 0.5): block 1 is Linear → "
                                 "Dropout(0.5) → ReLU; the assignment's is Linear → ReLU → "
                                 "Dropout(0.5)")


def test_options_that_do_not_go_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="give submissions to grade, or one of"):
        grade_command([])
    with pytest.raises(ValueError, match="give submissions to grade, or one of"):
        grade_command(["x.py"], solution=True)
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    with pytest.raises(ValueError, match="--gradescope writes one submission's"):
        grade_command([str(tmp_path)], gradescope_path=str(tmp_path / "r.json"))
    with pytest.raises(ValueError, match="--jobs must be a positive int"):
        grade_command([str(tmp_path)], jobs=-1)


CARRIED = {"1.1": "dL/dw = 0",
           "1.2.1": "z1 = -0.1\nz2 = 1.8\nh1 = 0\nh2 = 1.8\nŷ = 0.8\nL = 0.04",
           "1.2.2": "∂L/∂w21 = -0.16", "1.2.3": "dL/dw11 = 0: z1 < 0, so h1 is inactive"}


def test_an_answer_wrong_only_by_carrying_an_earlier_error_earns_the_credit_set():
    def failed(carried):
        return {c.name: c for c in score_answers(CARRIED, carried)
                if not c.passed and c.question in ("1.1", "1.2.1", "1.2.2", "1.2.3")}
    plain, credited = failed(0.0), failed(0.5)
    assert plain.keys() == credited.keys() == {"ŷ = 0.72", "L = 0.0784", "dL/dw21 = -0.224"}
    assert all(c.earned == 0 for c in plain.values())
    assert credited["ŷ = 0.72"].earned == 0  # the mistake itself earns nothing
    for name in ("L = 0.0784", "dL/dw21 = -0.224"):  # (0.8 - 1)² and 2(0.8 - 1)·0.4·1·1
        c = credited[name]
        assert c.earned == pytest.approx(c.points / 2)
        assert "carries your ŷ = 0.8 forward" in c.message
    # a value that follows from nothing the student wrote earns no credit
    wrong = {**CARRIED, "1.2.2": "∂L/∂w21 = -0.3"}
    assert next(c for c in score_answers(wrong, 0.5) if c.name.startswith("dL/dw21")).earned == 0


def test_a_gradient_is_read_in_plain_text_after_its_d():
    assert find(key("1.2.3", "dL/dw11"), "dL/dw11 = 0")[0]
    assert find(key("1.2.2", "dL/dw21"), "dL/dw21 = -0.224")[0]
    assert not find(key("1.2.1", "z1"), "dL/dz1 = -0.1")[0]  # a gradient is not z1's value


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_carried_credit_outside_0_to_1_is_refused(share, tmp_path):
    with pytest.raises(ValueError, match="carried-credit"):
        grade_command([str(tmp_path)], carried_credit=share)


def test_the_blank_template_shows_the_figures_3_2_1_asks_about():
    import base64

    from nnfoundations.grading.grader import TEMPLATES
    book = json.loads((TEMPLATES / "hw4_foundations.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in book["cells"] if "".join(c["source"]).startswith("**3.2.1**"))
    [(name, image)] = cell["attachments"].items()
    assert f"(attachment:{name})" in "".join(cell["source"])
    png = base64.b64decode(image["image/png"])
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
