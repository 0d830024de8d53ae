"""check(): a learner's own derivation, checked step by step against the right answer and
against what their own earlier values imply (nnf check)."""

import pytest
import torch

from nnfoundations import check
from nnfoundations.app.cli import main
from nnfoundations.autodiff.check import NETWORK, Status
from nnfoundations.autodiff.seed_examples import NETWORK_DEFAULTS

SEED_ANSWERS = {  # NOTES.md's answer keys
    "1.1": "z=3 a=3 L=0 dL/da=0 da/dz=1 dz/dw=2 dL/dw=0",
    "1.2.1": "z1=-0.1 z2=1.8 h1=0 h2=1.8 ŷ=0.72 L=0.0784",
    "1.2.2": "dL/dŷ=-0.56 dŷ/dh2=0.4 dh2/dz2=1 dz2/dw21=1 dL/dw21=-0.224",
    "1.2.3": "z1=-0.1 dh1/dz1=0 dL/dw11=0",
}


def statuses(checked):
    return {s.name: s.status for s in checked.steps}


@pytest.mark.parametrize("exercise", sorted(SEED_ANSWERS))
def test_the_seeds_answers_are_all_right(exercise):
    checked = check(exercise, SEED_ANSWERS[exercise])
    assert checked.steps and set(statuses(checked).values()) == {Status.RIGHT}
    assert checked.first_wrong is None


@pytest.mark.parametrize(("exercise", "answers", "first", "should", "carried"), [
    # the ReLU's slope taken as 1 at a negative input
    ("1.2.3", "z1=-0.1 dh1/dz1=1 dL/dw11=-0.336", "∂h1/∂z1", 0.0, ["∂L/∂w11"]),
    # the factor 2 of the square forgotten
    ("1.2.2", "dL/dŷ=-0.28 dŷ/dh2=0.4 dh2/dz2=1 dz2/dw21=1 dL/dw21=-0.112", "∂L/∂ŷ", -0.56,
     ["∂L/∂w21"]),
    # a sign error
    ("1.2.2", "dL/dŷ=0.56 dŷ/dh2=0.4 dh2/dz2=1 dz2/dw21=1 dL/dw21=0.224", "∂L/∂ŷ", -0.56,
     ["∂L/∂w21"]),
    # a swapped index: x2 (for w22) taken as ∂z2/∂w21
    ("1.2.2", "dL/dŷ=-0.56 dŷ/dh2=0.4 dh2/dz2=1 dz2/dw21=2 dL/dw21=-0.448", "∂z2/∂w21", 1.0,
     ["∂L/∂w21"]),
    # a forward value wrong, carried into the loss
    ("1.2.1", "z1=-0.1 z2=1.8 h1=0 h2=1.8 ŷ=0.8 L=0.04", "ŷ", 0.72, ["L"]),
])
def test_a_typical_mistake_is_named_first_and_what_it_carried_is_marked(
        exercise, answers, first, should, carried):
    checked = check(exercise, answers)
    assert checked.first_wrong is not None and checked.first_wrong.name == first
    assert checked.first_wrong.expected == pytest.approx(should)
    assert [s.name for s in checked.steps if s.status == Status.CARRIED] == carried
    assert all(s.status == Status.RIGHT for s in checked.steps
               if s.name != first and s.name not in carried)


def test_the_why_recomputes_from_the_learners_own_values():
    checked = check("1.2.3", "z1=-0.1 dh1/dz1=1")
    assert checked.first_wrong.why == "z1 = -0.1 ≤ 0, so ReLU's slope there is 0"
    # a wrong z1 is judged on its own; the slope is then checked against it
    checked = check("1.2.3", "z1=0.1 dh1/dz1=1")
    assert statuses(checked) == {"z1": Status.WRONG, "∂h1/∂z1": Status.CARRIED}


def test_a_mistake_with_no_earlier_cause_is_wrong_not_carried():
    checked = check("1.2.2", "dL/dw21=-0.448")
    assert statuses(checked) == {"∂L/∂w21": Status.WRONG}
    assert checked.first_wrong.expected == pytest.approx(-0.224)


@pytest.mark.parametrize("spelling", ["dL/dw21", "∂L/∂w21", "dLdw21", "dL/dw_21",
                                      "dL/dw_{2,1}"])
def test_derivatives_in_the_usual_spellings(spelling):
    [step] = check("network", f"{spelling} = -0.224").steps
    assert step.name == "∂L/∂w21" and step.status == Status.RIGHT


def test_hand_arithmetic_is_right_within_its_rounding():
    assert check("1.2.2", "dL/dw21=-0.22").steps[0].status == Status.RIGHT
    assert check("1.2.2", "dL/dw21=-0.2").steps[0].status == Status.WRONG


def test_the_right_answers_are_torch_autograds():
    x = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in NETWORK_DEFAULTS.items()}
    h1 = torch.relu(x["w11"] * x["x1"] + x["w12"] * x["x2"])
    h2 = torch.relu(x["w21"] * x["x1"] + x["w22"] * x["x2"])
    loss = (x["v1"] * h1 + x["v2"] * h2 - x["y"]) ** 2
    loss.backward()
    weights = ["w11", "w12", "w21", "w22", "v1", "v2"]
    checked = check("network", " ".join(f"dL/d{w}=0" for w in weights))
    rights = {s.name: s.right for s in checked.steps}
    for w in weights:
        assert rights[f"∂L/∂{w}"] == pytest.approx(x[w].grad.item(), abs=1e-12)


def test_a_node_used_twice_reads_as_the_sum_of_its_paths():
    checked = check("a = relu(w); a*a", "df/da=6 df/dw=6", at={"w": 3})
    assert set(statuses(checked).values()) == {Status.RIGHT}
    assert check("a = relu(w); a*a", "df/da=3", at={"w": 3}).first_wrong.expected == 6


@pytest.mark.parametrize(("answers", "match"), [
    ("", "no answers"), ("z", "not NAME=NUMBER"), ("q=1", "not a step"),
    ("z=abc", "not a number"), ("z=nan", "finite"), ("z=3 z=3", "given twice"),
    ("dw/dL=1", "not a step"),
])
def test_bad_answers_are_refused_with_what_is_allowed(answers, match):
    with pytest.raises(ValueError, match=match):
        check("warmup", answers)


def test_nothing_typed_is_run_as_code(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ValueError, match="unknown function"):
        check(f"__import__('pathlib').Path({str(marker)!r}).touch()", "f=1")
    with pytest.raises(ValueError):
        check("warmup", f"z=__import__('pathlib').Path({str(marker)!r}).touch()")
    assert not marker.exists()


def test_nnf_check_prints_the_tutors_reading(capsys):
    assert main(["check", "1.2.3", "z1=-0.1", "dh1/dz1=1", "dL/dw11=-0.336"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("first wrong step: ∂h1/∂z1")
    assert main(["check", "warmup", "q=1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_exercises_inputs_can_be_changed():
    assert check("network", "z1=0.1", at={"w11": 0.7}).steps[0].status == Status.RIGHT
    with pytest.raises(ValueError, match="no input"):
        check("network", "z1=0.1", at={"w99": 1.0})
    assert NETWORK.output == "L"


def test_the_readme_shows_what_nnf_check_prints(capsys):
    import shlex
    from pathlib import Path
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = text.split("$ nnf check 1.2.2 ", 1)[1].split("```", 1)[0]
    command, printed = block.split("\n", 1)
    assert main(["check", "1.2.2", *shlex.split(command)]) == 0
    assert capsys.readouterr().out == printed
