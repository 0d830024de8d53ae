"""The assignment's rubric: its points, how they split, and the checks behind each.

The assignment gives section points (1.75 + 1.75 + 1 = 4.5) and, within sections 1 and 3, points
per subsection; where it does not split further, a subsection's points are split equally
among its questions, and a question's among its checks (:data:`SPLIT`, printed by
``nnf grade --rubric``). Section 2 is scored from what the child process reports the
submission's functions produced on inputs drawn for this grading; sections 1 and 3 from the
notebook's answers. The expected values are computed here, in the grader
(:mod:`~nnfoundations.grading.reference`), and never enter the child.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nnfoundations._mlp import parameter_count
from nnfoundations.grading.reference import distance, loss_and_correct, net_of, sgd_step

#: (question, points, how it is graded) in the assignment's order; "manual" is for the instructor.
SPLIT: tuple[tuple[str, float, str], ...] = (
    ("1.1", 0.5, "auto"), ("1.2.1", 0.25, "auto"), ("1.2.2", 0.25, "auto"),
    ("1.2.3", 0.25, "auto"), ("1.3", 0.5, "manual"),
    ("2.1 build_model", 0.5, "auto"), ("2.2 train_one_step", 0.75, "auto"),
    ("2.3 evaluate", 0.5, "auto"),
    ("3.1.1", 0.25, "auto"), ("3.1.2", 0.25, "manual"), ("3.2.1", 0.25, "manual"),
    ("3.2.2", 0.25, "manual"),
)
TOTAL = 4.5
POINTS = {question: points for question, points, _ in SPLIT}
#: What the instructor is told to look for in each manually graded answer.
MANUAL_HINTS = {
    "1.3": "credit an account of why one backward pass gives every gradient at about the cost "
           "of a forward pass (shared upstream factors); the assignment's own text of 1.3 is "
           "missing",
    "3.1.2": "small batches: more, noisier updates per epoch, less memory, less parallelism; "
             "large: fewer, smoother updates, faster epochs on parallel hardware",
    "3.2.1": "Model A and Model B each diagnosed (underfitting, overfitting or a good fit) "
             "with a reason read from the curves",
    "3.2.2": "both losses fall and level off close together; stop near the validation "
             "loss's minimum (early stopping)",
}


class CheckKind(StrEnum):
    """What a check is: one automatic test, a whole question scored at once for one reason,
    or an answer left to the instructor."""

    TEST = "test"
    WHOLE = "whole"
    MANUAL = "manual"


@dataclass
class Check:
    """One graded check: its share of its question's points, and what a student should do."""

    question: str
    name: str
    points: float
    earned: float
    message: str = ""
    kind: CheckKind = CheckKind.TEST

    @property
    def passed(self) -> bool:
        return math.isclose(self.earned, self.points) and self.points > 0


def split(question: str, results: list[tuple[str, bool, str]]) -> list[Check]:
    """Share the question's points equally among ``(name, passed, message)`` results."""
    share = POINTS[question] / len(results)
    return [Check(question, name, share, share if ok else 0.0, "" if ok else message)
            for name, ok, message in results]


def zero(question: str, reason: str) -> list[Check]:
    """The whole question scores zero, for one reason."""
    return [Check(question, "all", POINTS[question], 0.0, reason, CheckKind.WHOLE)]


def manual(question: str, answer: str) -> list[Check]:
    """A free-text answer, collected for the instructor with a rubric hint; no answer at all
    scores zero without one."""
    text = re.sub(r"^\W*your response:\W*", "", answer.strip(), flags=re.I)
    if not text:
        return zero(question, "no answer")
    return [Check(question, "manual", POINTS[question], 0.0,
                  f"manual: {MANUAL_HINTS[question]}. Student's answer: {text[:1500]}",
                  CheckKind.MANUAL)]


# -- section 2 --------------------------------------------------------------------------------

def expected_layers(input_size: int, hidden: list[int], output: int, rate: float) -> list[Any]:
    """The assignment's architecture for one call of ``build_model``, as the child reports
    layers."""
    layers: list[Any] = []
    prev = input_size
    for h in hidden:
        layers += [["Linear", prev, h], ["ReLU"]] + ([["Dropout", rate]] if rate > 0 else [])
        prev = h
    return [*layers, ["Linear", prev, output]]


def parameters(input_size: int, hidden: list[int], output: int) -> int:
    """``(in + 1) · out`` summed over the Linear layers."""
    return parameter_count([input_size, *hidden, output])


def genuine(results: list[tuple[str, bool, str]], values: set[str],
            ) -> list[tuple[str, bool, str]]:
    """Checks of form (a return type, gradients off) pass only beside a right value: a report
    with no right value is no evidence that the student's function ran at all."""
    if any(ok for name, ok, _ in results if name in values):
        return results
    why = "no value it returned was right, so nothing shows the function ran"
    return [(name, ok and name in values, message if name in values or not ok else why)
            for name, ok, message in results]


def score_build_model(asked: dict[str, Any], observed: dict[str, Any]) -> list[Check]:
    """Return type, parameter counts, layer order, Dropout placement and count, for the
    shapes asked."""
    shapes = observed["shapes"]
    if [s["args"] for s in shapes] != asked["shapes"]:
        raise ValueError("the report is not of the shapes asked")
    errors = [s for s in shapes if "error" in s]
    if errors:
        return zero("2.1 build_model", f"build_model{tuple(errors[0]['args'])} raised "
                                       f"{errors[0]['error']}")
    checks = [("returns nn.Sequential", all(s["is_sequential"] is True for s in shapes),
               f"return an nn.Sequential, not a {shapes[0]['type'] if shapes else '?'}")]
    for s in shapes:
        want = parameters(*s["args"][:3])
        checks.append((f"parameters of build_model{tuple(s['args'])}", s["params"] == want,
                       f"build_model{tuple(s['args'])} has {s['params']:,} parameters; "
                       f"expected {want:,}"))
    checks += _layer_checks(shapes)
    values = {name for name, _, _ in checks[1:]}
    return split("2.1 build_model", genuine(checks, values))


def _layer_checks(shapes: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    plain = [s for s in shapes if s["args"][3] == 0]
    dropped = [s for s in shapes if s["args"][3] > 0]
    order = all(s["layers"] == expected_layers(*s["args"]) for s in plain)
    drop = all(s["layers"] == expected_layers(*s["args"]) for s in dropped)
    last_is_linear = all(s["layers"][-1:] and s["layers"][-1][0] == "Linear" for s in shapes)
    return [
        ("Linear → ReLU per hidden layer, a plain Linear output", order,
         "each hidden size needs Linear(prev, h) then ReLU(), and the output layer a plain "
         "Linear(prev, output_size)"),
        ("one Dropout(p) after each ReLU", drop, _dropout_message(dropped)),
        ("nothing after the output layer", last_is_linear,
         "the last layer must be the output Linear: no ReLU or Dropout after it"),
    ]


def _dropout_message(dropped: list[dict[str, Any]]) -> str:
    """What is wrong with the Dropout layers, against the assignment's Linear → ReLU →
    Dropout blocks: the first block that differs, or the count."""
    for s in dropped:
        found, want = _blocks(s["layers"]), _blocks(expected_layers(*s["args"]))
        for k, (mine, theirs) in enumerate(zip(found, want, strict=False), 1):
            if mine != theirs:
                return (f"build_model{tuple(s['args'])}: block {k} is {mine}; the assignment's "
                        f"is {theirs}")
        if len(found) != len(want):
            return (f"build_model{tuple(s['args'])} has {len(found)} blocks; the assignment's "
                    f"has {len(want)}: Linear → ReLU → Dropout per hidden layer, then Linear")
    return "with dropout_rate > 0, put nn.Dropout(p=dropout_rate) after each ReLU"


def _blocks(layers: list[Any]) -> list[str]:
    """Layers cut into blocks at each Linear, as ``Linear → ReLU → Dropout(0.5)``."""
    blocks: list[list[str]] = []
    for layer in layers:
        name = f"Dropout({layer[1]:g})" if layer[0] == "Dropout" else str(layer[0])
        if name == "Linear" or not blocks:
            blocks.append([])
        blocks[-1].append(name)
    return [" → ".join(b) for b in blocks]


def score_train_one_step(asked: dict[str, Any], observed: dict[str, Any]) -> list[Check]:
    """Float return, the loss before the update, the update, zero_grad before backward:
    the weights the child saw after each call against two clean SGD steps computed here."""
    if "error" in observed:
        return zero("2.2 train_one_step", f"train_one_step raised {observed['error']}")
    start, X, y = net_of(asked["net"]), asked["X"], asked["y"]
    want = loss_and_correct(start, X, y)[0]
    one = sgd_step(start, X, y, asked["lr"])
    two = sgd_step(one, X, y, asked["lr"])
    loss, kind = observed["first_loss"], observed["returned_type"]
    return split("2.2 train_one_step", genuine([
        ("returns a Python float", kind == "float",
         f"return loss.item() (a float), not a {kind}"),
        ("returns the batch's loss", _close(loss, want),
         f"the returned loss {loss} is not loss_fn(model(X_batch), y_batch) = {want:.6g}"),
        ("the optimizer steps", distance(observed["after_one"], start.flat()) > 0,
         "the weights did not change: call loss.backward() and then optimizer.step()"),
        ("one step is one gradient-descent update",
         distance(observed["after_one"], one.flat()) < 1e-4,
         "one call did not make one SGD update from the batch's gradient (order: zero_grad, "
         "forward, loss, backward, step)"),
        ("zero_grad before backward", distance(observed["after_two"], two.flat()) < 1e-4,
         "the second step used accumulated gradients: call optimizer.zero_grad() before "
         "loss.backward()"),
    ], {"returns the batch's loss", "one step is one gradient-descent update",
        "zero_grad before backward"}))


def score_evaluate(asked: dict[str, Any], observed: dict[str, Any]) -> list[Check]:
    """Two numbers; the loss; accuracy as a fraction; eval mode; no gradients; no updates:
    what the child saw against the loss and accuracy computed here."""
    if "error" in observed:
        return zero("2.3 evaluate", f"evaluate raised {observed['error']}")
    X, y = asked["X"], asked["y"]
    plain, correct = loss_and_correct(net_of(asked["plain"]), X, y)
    dropped = net_of(asked["dropout"])
    dropout_loss = loss_and_correct(dropped, X, y)[0]
    loss, acc = (list(observed["plain"]) + [None, None])[:2]
    runs = [r[0] if r else None for r in observed["dropout"]]
    fraction = correct / len(y)
    seen, types = observed["grad_enabled"], observed["item_types"]
    return split("2.3 evaluate", genuine([
        ("returns (loss, accuracy) as two Python numbers",
         observed["length"] == 2 and all(t in ("float", "int") for t in types),
         f"return a tuple of two Python numbers (use .item()); got a "
         f"{observed['returned_type']} of {types}"),
        ("returns the loss", _close(loss, plain),
         f"the loss {loss} is not loss_fn(model(X), y) = {plain:.6g}"),
        ("accuracy is the fraction correct", _close(acc, fraction),
         f"accuracy {acc} should be the fraction of correct predictions, {fraction:g} here"
         + (" (it looks like a count)" if acc == correct else "")),
        ("in eval mode (dropout off)", len(runs) == 2 and all(_close(r, dropout_loss)
                                                              for r in runs),
         "with dropout the loss changes from call to call: call model.eval() first"),
        ("under torch.no_grad()", bool(seen) and not any(seen),
         "run the forward pass inside torch.no_grad()"),
        ("leaves the weights alone", distance(observed["dropout_after"], dropped.flat()) == 0,
         "evaluate changed the model's weights"),
    ], {"returns the loss", "accuracy is the fraction correct", "in eval mode (dropout off)"}))


def _close(x: float | None, want: float) -> bool:
    return isinstance(x, float | int) and math.isclose(x, want, rel_tol=1e-4, abs_tol=1e-9)


Scorer = Callable[[dict[str, Any], dict[str, Any]], list[Check]]
SCORERS: dict[str, tuple[str, Scorer]] = {
    "build_model": ("2.1 build_model", score_build_model),
    "train_one_step": ("2.2 train_one_step", score_train_one_step),
    "evaluate": ("2.3 evaluate", score_evaluate),
}
