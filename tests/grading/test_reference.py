"""The grader judges section 2 itself: its expected values (plain Python and our engine)
against torch.autograd, and its scorers on what an honest child and a forger report."""

import random
import runpy

import pytest
import torch
import torch.nn as nn

from nnfoundations.grading.reference import distance, draw_inputs, loss_and_correct, net_of
from nnfoundations.grading.reference import sgd_step as reference_step
from nnfoundations.grading.report import plain
from nnfoundations.grading.rubric import (
    expected_layers,
    parameters,
    score_build_model,
    score_evaluate,
    score_train_one_step,
)
from nnfoundations.grading.sandbox import CHILD


def torch_model(net_data):
    """The network as the child builds it (its own builder, read as data from its script)."""
    return CHILD_SCRIPT["_model"](net_data)[0]


CHILD_SCRIPT = runpy.run_path(str(CHILD))  # the child's functions; its main() does not run


def flat(model):
    return [p.detach().flatten().tolist() for p in model.parameters()]


@pytest.fixture(params=[0, 1, 2])
def asked(request):
    return draw_inputs(random.Random(request.param))


def test_the_expected_step_and_loss_agree_with_torch_autograd(asked):
    data = asked["train_one_step"]
    model = torch_model(data["net"])
    X, y = torch.tensor(data["X"]), torch.tensor(data["y"])
    loss = nn.CrossEntropyLoss()(model(X), y)
    want, _ = loss_and_correct(net_of(data["net"]), data["X"], data["y"])
    assert want == pytest.approx(loss.item(), rel=1e-6)
    optimizer = torch.optim.SGD(model.parameters(), lr=data["lr"])
    loss.backward()
    optimizer.step()
    ours = reference_step(net_of(data["net"]), data["X"], data["y"], data["lr"])
    assert distance(flat(model), ours.flat()) < 1e-6


def honest_train_report(data, zero_grad=True):
    model = torch_model(data["net"])
    X, y = torch.tensor(data["X"]), torch.tensor(data["y"])
    optimizer = torch.optim.SGD(model.parameters(), lr=data["lr"])
    after, first = [], None
    for _ in range(2):
        if zero_grad:
            optimizer.zero_grad()
        loss = nn.CrossEntropyLoss()(model(X), y)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
        after.append(flat(model))
    return {"returned_type": "float", "first_loss": first, "after_one": after[0],
            "after_two": after[1]}


def honest_evaluate_report(data, eval_mode=True):
    X, y = torch.tensor(data["X"]), torch.tensor(data["y"])
    results = []
    for name in ("plain", "dropout", "dropout"):
        model = torch_model(data[name])
        model.train(not eval_mode)
        with torch.no_grad():
            logits = model(X)
        results.append([nn.CrossEntropyLoss()(logits, y).item(),
                        (logits.argmax(1) == y).float().mean().item()])
    return {"returned_type": "tuple", "length": 2, "item_types": ["float", "float"],
            "plain": results[0], "dropout": results[1:], "grad_enabled": [False] * 3,
            "dropout_after": flat(torch_model(data["dropout"]))}


def honest_build_report(data):
    return {"shapes": [{"args": s, "type": "Sequential", "is_sequential": True,
                        "layers": expected_layers(*s), "params": parameters(*s[:3])}
                       for s in data["shapes"]]}


def earned(checks):
    return sum(c.earned for c in checks)


def test_an_honest_report_earns_every_point_and_a_mistake_loses_its_check(asked):
    assert earned(score_build_model(asked["build_model"],
                                    honest_build_report(asked["build_model"]))) == \
        pytest.approx(0.5)
    data = asked["train_one_step"]
    assert earned(score_train_one_step(data, honest_train_report(data))) == pytest.approx(0.75)
    failed = [c.name for c in score_train_one_step(data, honest_train_report(data, False))
              if not c.passed]
    assert failed == ["zero_grad before backward"]
    data = asked["evaluate"]
    assert earned(score_evaluate(data, honest_evaluate_report(data))) == pytest.approx(0.5)
    failed = [c.name for c in score_evaluate(data, honest_evaluate_report(data, False))
              if not c.passed]
    assert failed == ["in eval mode (dropout off)"]


def test_a_canned_report_earns_nothing_not_even_its_right_forms(asked):
    data = asked["evaluate"]
    canned = {**honest_evaluate_report(data), "plain": [1.0, 0.5],
              "dropout": [[1.0, 0.5], [1.0, 0.5]]}
    checks = score_evaluate(data, canned)
    assert earned(checks) == 0
    assert "nothing shows the function ran" in checks[0].message
    canned = {"returned_type": "float", "first_loss": 1.0, "after_one": [[0.0]],
              "after_two": [[0.0]]}
    assert earned(score_train_one_step(asked["train_one_step"], canned)) == 0
    other = draw_inputs(random.Random(99))["build_model"]
    with pytest.raises(ValueError, match="shapes asked"):
        score_build_model(asked["build_model"], honest_build_report(other))


def test_fresh_inputs_for_every_grading():
    first, second = draw_inputs(random.Random(1)), draw_inputs(random.Random(2))
    assert first["build_model"] != second["build_model"]
    assert first["train_one_step"]["X"] != second["train_one_step"]["X"]


@pytest.mark.parametrize("text, shown", [
    ("eve\nscore 4.5 ∕ 4.5", "eve\\nscore 4.5 ∕ 4.5"), ("a\rb", "a\\rb"),
    ("x\x1b[2Jy", "x\\x1b[2Jy"), ("left\u202eright", "left\\u202eright"),
    ("plain ∂L/∂w", "plain ∂L/∂w")])
def test_names_are_escaped_where_reports_show_them(text, shown):
    assert plain(text) == shown
