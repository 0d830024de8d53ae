"""Check a learner's own derivation step by step, as a tutor would (``nnf check``).

A derivation is a *program*: named steps, each an expression over the inputs and the steps
before it (the assignment's 1.1 is ``z = 2*w + 1; a = relu(z); L = (a - 3)**2``). A learner
gives values for any of its steps: forward values (``z=3``), derivatives of a step with
respect to one it uses (``da/dz=1``), or of any step with respect to an earlier one
(``dL/dw=0``). Each is recomputed twice: from the true inputs (the right answer) and from
the learner's *own* earlier values (what their working implies). A step that matches the
right answer is right; one that matches only what the learner's earlier values imply is
wrong only because it carried an earlier error forward; one that matches neither is a
mistake of its own, and the first of those, in the order a derivation is worked (forward
values, then local derivatives from the output back, then gradients), is named first with
what it should be and why. Nothing a learner types is evaluated as code: names are looked
up, numbers read with ``float``, and every expression goes through the safe parser of
:mod:`~nnfoundations.autodiff.expr`.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from nnfoundations._errors import InvalidValueError
from nnfoundations._format import fmt
from nnfoundations.autodiff.expr import ExpressionError, parse_expression
from nnfoundations.autodiff.seed_examples import NETWORK_DEFAULTS, WARMUP_DEFAULTS

#: A hand-worked value is right within this much (absolute) or this share of its size.
ABS_TOL, REL_TOL = 0.005, 0.01


@dataclass(frozen=True)
class Program:
    """Named steps, each an expression over the inputs and earlier steps; the last is
    the output."""

    steps: tuple[tuple[str, str], ...]
    inputs: Mapping[str, float]

    @property
    def output(self) -> str:
        """The last step's name."""
        return self.steps[-1][0]

    def names(self) -> list[str]:
        """Every node: the inputs, then the steps in order."""
        return [*self.inputs, *(name for name, _ in self.steps)]


WARMUP = Program((("z", "2*w + 1"), ("a", "relu(z)"), ("L", "(a - 3)**2")), WARMUP_DEFAULTS)
NETWORK = Program((("z1", "w11*x1 + w12*x2"), ("z2", "w21*x1 + w22*x2"), ("h1", "relu(z1)"),
                   ("h2", "relu(z2)"), ("ŷ", "v1*h1 + v2*h2"), ("L", "(ŷ - y)**2")),
                  NETWORK_DEFAULTS)
#: The assignment's exercises, by number and by name, and how each is titled.
EXERCISES = {"1.1": WARMUP, "warmup": WARMUP, "1.2": NETWORK, "1.2.1": NETWORK,
             "1.2.2": NETWORK, "1.2.3": NETWORK, "network": NETWORK}
TITLES = {"warmup": "1.1 (warmup)", "network": "1.2 (network)"}


class Status(StrEnum):
    """How a learner's step compares."""

    RIGHT = "right"
    CARRIED = "carried"  # wrong only because it used an earlier wrong value of theirs
    WRONG = "wrong"  # a mistake of its own


@dataclass(frozen=True)
class Step:
    """One step the learner gave.

    Attributes:
        name: the step as shown (``z1``, ``∂h1/∂z1``, ``∂L/∂w21``).
        given: the learner's value.
        right: the right value.
        expected: the value the learner's own earlier values imply.
        status: right, carried or wrong.
        why: how ``expected`` follows from the learner's values, in plain words.
    """

    name: str
    given: float
    right: float
    expected: float
    status: Status
    why: str


@dataclass(frozen=True)
class Checked:
    """A learner's derivation, checked: its steps in the order a derivation is worked."""

    title: str
    steps: tuple[Step, ...]

    @property
    def first_wrong(self) -> Step | None:
        """The first step that is a mistake of its own (None if there is none)."""
        return next((s for s in self.steps if s.status == Status.WRONG), None)

    def __str__(self) -> str:
        right = [s.name for s in self.steps if s.status == Status.RIGHT]
        lines = [f"{self.title}: {len(right)} of {len(self.steps)} step(s) right"]
        first = self.first_wrong
        if first is not None:
            lines.append(f"first wrong step: {first.name}: you wrote {fmt(first.given)}, "
                         f"but {first.why}")
        for s in self.steps:
            if s.status == Status.WRONG and s is not first:
                lines.append(f"also wrong: {s.name}: you wrote {fmt(s.given)}, but {s.why}")
            elif s.status == Status.CARRIED:
                lines.append(f"carried forward: {s.name} = {fmt(s.given)} is not the right "
                             f"{fmt(s.right)} only because of an earlier value of yours: from "
                             f"them it follows ({s.why})")
        if right:
            lines.append(f"right: {', '.join(right)}")
        return "\n".join(lines)


def program(what: str, at: Mapping[str, float] | None = None) -> tuple[str, Program]:
    """The program ``what`` names (an exercise) or is (an expression, its last part named
    ``f``), with inputs set by ``at``; and its title."""
    at = dict(at or {})
    known = EXERCISES.get(what.strip().lower())
    if known is not None:
        unknown = sorted(set(at) - set(known.inputs))
        if unknown:
            raise InvalidValueError(f"{what} has no input {', '.join(unknown)}; its inputs "
                                    f"are {list(known.inputs)}")
        key = what.strip().lower()
        title = TITLES.get(key) or f"{key} ({'warmup' if known is WARMUP else 'network'})"
        return title, Program(known.steps, {**known.inputs, **at})
    steps = _statements(what)
    parse_expression(what, at)  # every variable has a value, and the whole parses
    return "the expression", Program(steps, at)


def _statements(text: str) -> tuple[tuple[str, str], ...]:
    """An expression's steps: each ``name = expression`` and the final part as ``f``."""
    try:
        body = ast.parse(text.strip(), mode="exec").body
    except SyntaxError as err:
        raise ExpressionError(f"column {err.offset or 0}: invalid syntax: {err.msg}") from None
    steps = []
    for k, statement in enumerate(body):
        if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
            steps.append((statement.targets[0].id, ast.unparse(statement.value)))
        elif isinstance(statement, ast.Expr) and k == len(body) - 1:
            steps.append(("f", ast.unparse(statement.value)))
    if not steps or steps[-1][0] != "f":
        raise ExpressionError("column 1: an expression to check ends with its output")
    return tuple(steps)


def check(what: str, answers: str | Sequence[str] | Mapping[str, float],
          at: Mapping[str, float] | None = None) -> Checked:
    """Check a learner's values for the steps of an exercise or expression.

    Args:
        what: ``warmup`` or ``1.1``; ``network`` or ``1.2.1``, ``1.2.2``, ``1.2.3``; or an
            expression such as ``"a = relu(w); a*a"`` (its variables set by ``at``).
        answers: ``"z=3 a=3 dL/da=0"`` (spaces, commas or semicolons between), several such
            items, or a mapping; derivatives as ``dL/dw``, ``∂L/∂w`` or ``dLdw``.
        at: an exercise's inputs to change, or an expression's variables.

    Raises:
        InvalidValueError: an unknown exercise or name, a step given twice, or a value that
            is not a finite number.

    Example:
        >>> print(check("warmup", "z=3 a=3 dL/da=0 da/dz=1 dz/dw=2 dL/dw=0"))
        1.1 (warmup): 6 of 6 step(s) right
        right: z, a, ∂L/∂a, ∂a/∂z, ∂z/∂w, ∂L/∂w
    """
    title, prog = program(what, at)
    given = _answers(answers, prog)
    truth, mine = _Working(prog, {}), _Working(prog, given)
    steps = [_step(key, value, truth, mine) for key, value in sorted(
        given.items(), key=lambda item: _order(item[0], prog))]
    return Checked(title, tuple(steps))


Key = tuple[str, ...]  # (name,) for a value, (of, by) for a derivative


def implied(what: str, given: Mapping[Key, float], step: Key) -> float:
    """What a learner's ``given`` values of an exercise imply for ``step`` (``(name,)`` or
    ``(of, by)``): the value their own working leads to, right or not.

    Example:
        >>> implied("network", {("ŷ",): 0.8}, ("L", "w21"))  # 2(0.8 - 1) · 0.4 · 1 · 1
        -0.16
    """
    return round(_Working(program(what)[1], given).implied(step), 12)


class _Working:
    """The values, local derivatives and gradients of a program, where a learner's given
    values (if any) replace what they would compute."""

    def __init__(self, prog: Program, given: Mapping[Key, float]) -> None:
        self.prog, self.given = prog, given
        self.value: dict[str, float] = {}
        self.computed: dict[Key, float] = {}  # what the values in use imply
        for name, number in prog.inputs.items():
            self.value[name] = given.get((name,), number)
        for name, text in prog.steps:
            self.computed[(name,)] = self._evaluate(text)
            self.value[name] = given.get((name,), self.computed[(name,)])
        self.local: dict[Key, float] = {}
        for name, text in prog.steps:
            for var, grad in self._locals(text).items():
                self.computed[(name, var)] = grad
                self.local[(name, var)] = given.get((name, var), grad)

    def _evaluate(self, text: str) -> float:
        out, _ = parse_expression(text, self._scope(text))
        return out.data

    def _locals(self, text: str) -> dict[str, float]:
        out, leaves = parse_expression(text, self._scope(text))
        out.backward()
        return {name: leaf.grad for name, leaf in leaves.items()}

    def _scope(self, text: str) -> dict[str, float]:
        names = _variables(text)
        return {k: v for k, v in self.value.items() if k in names}

    def implied(self, key: Key) -> float:
        """What the values in use imply for ``key`` (an input is what it is)."""
        if len(key) == 2:
            return self.computed[key] if key in self.computed else self.derivative(*key)
        return self.computed.get(key, self.prog.inputs.get(key[0], 0.0))

    def derivative(self, of: str, by: str) -> float:
        """∂of/∂by over every path, each the product of the local derivatives in use."""
        if (of, by) in self.local:
            return self.local[(of, by)]
        grads = {of: 1.0}
        for name, _ in reversed(self.prog.steps):
            for (step, var), local in self.local.items():
                if step == name and name in grads:
                    grads[var] = grads.get(var, 0.0) + grads[name] * local
        return grads.get(by, 0.0)

    def paths(self, of: str, by: str) -> list[list[Key]]:
        """Each path from ``by`` up to ``of``, as its local links from the top down."""
        if of == by:
            return [[]]
        return [[(of, var), *rest] for (step, var) in self.local if step == of
                for rest in self.paths(var, by)]


def _step(key: Key, given: float, truth: _Working, mine: _Working) -> Step:
    name = _shown(key)
    right, expected = truth.implied(key), mine.implied(key)
    if _close(given, right):
        status = Status.RIGHT
    elif _close(given, expected):
        status = Status.CARRIED
    else:
        status = Status.WRONG
    return Step(name, given, right, expected, status, _why(key, expected, mine))


def _why(key: Key, expected: float, w: _Working) -> str:
    """How ``expected`` follows from the learner's values."""
    text = dict(w.prog.steps).get(key[0], "")
    if len(key) == 1:
        if not text:
            return f"{key[0]} is an input, {fmt(expected)}"
        return f"{key[0]} = {_substituted(text, w)} = {fmt(expected)}"
    of, by = key
    if (of, by) in w.computed:
        arg = w.value.get(by, 0.0)
        if text.replace(" ", "") == f"relu({by})":
            side = "> 0, so ReLU's slope there is 1" if arg > 0 else \
                "≤ 0, so ReLU's slope there is 0"
            return f"{by} = {fmt(arg)} {side}"
        return f"differentiating {of} = {text} with respect to {by}, at {_at(text, w)}, " \
            f"gives {fmt(expected)}"
    terms = [" · ".join(f"({fmt(w.local[link])})" for link in path) or "1"
             for path in w.paths(of, by)]
    names = [" · ".join(_shown(link) for link in path) for path in w.paths(of, by)]
    return f"{_shown(key)} = {' + '.join(names) or '0'} = {' + '.join(terms) or '0'} = " \
        f"{fmt(expected)}"


class _Numbers(ast.NodeTransformer):
    """Each name of a step's expression replaced by the value in use (as shown)."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:  # noqa: N802 (ast's naming)
        if node.id in self.values:
            return ast.Constant(float(fmt(self.values[node.id])))
        return node


def _substituted(text: str, w: _Working) -> str:
    return ast.unparse(_Numbers(w.value).visit(ast.parse(text, mode="eval")))


def _at(text: str, w: _Working) -> str:
    names = sorted(_variables(text) & set(w.value))
    return ", ".join(f"{n} = {fmt(w.value[n])}" for n in names)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(ABS_TOL, REL_TOL * abs(b))


def _shown(key: Key) -> str:
    return key[0] if len(key) == 1 else f"∂{key[0]}/∂{key[1]}"


def _order(key: Key, prog: Program) -> tuple[int, int, int]:
    """Forward values in program order; local derivatives from the output back; then
    gradients, those of later steps first."""
    position = {n: k for k, n in enumerate(prog.names())}
    if len(key) == 1:
        return (0, position[key[0]], 0)
    local = key[1] in _variables(dict(prog.steps).get(key[0], ""))
    return (1 if local else 2, -position[key[0]] if local else -position[key[1]],
            position[key[1]] if local else -position[key[0]])


def _variables(text: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.Name)} if text else set()


_DERIVATIVE = re.compile(r"^d(.+)/d(.+)$")


def _answers(answers: str | Sequence[str] | Mapping[str, float],
             prog: Program) -> dict[Key, float]:
    """The learner's values by step, their names read in the usual spellings."""
    if isinstance(answers, Mapping):
        items = [f"{k}={v}" for k, v in answers.items()]
    else:
        text = answers if isinstance(answers, str) else " ".join(answers)
        # commas separate items, except inside braces (w_{2,1})
        items = [i for i in re.split(r"[\s;]+|,(?![^{]*})", re.sub(r"\s*=\s*", "=", text))
                 if i]
    if not items:
        raise InvalidValueError("no answers to check: give steps as NAME=NUMBER, such as "
                                "z=3 or dL/dw=0")
    names = {_norm(n): n for n in prog.names()}
    out: dict[Key, float] = {}
    for item in items:
        name, sep, number = item.partition("=")
        if not sep:
            raise InvalidValueError(f"{item!r} is not NAME=NUMBER (z=3, dL/dw=0)")
        key = _key(name, names, prog)
        value = _number(name, number)
        if key in out:
            raise InvalidValueError(f"{name} is given twice")
        out[key] = value
    return out


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidValueError(f"{name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidValueError(f"{name}: the value must be finite, got {text!r}")
    return value


def _key(name: str, names: Mapping[str, str], prog: Program) -> Key:
    text = _norm(name).replace("∂", "d")
    if text in names:
        return (names[text],)
    match = _DERIVATIVE.match(text)
    splits = [match.groups()] if match else [
        (text[1:k], text[k + 1:]) for k in range(2, len(text)) if text[0] == text[k] == "d"]
    for of, by in splits:
        if of in names and by in names and _upstream(names[by], names[of], prog):
            return (names[of], names[by])
    raise InvalidValueError(f"{name!r} is not a step of this derivation; its steps are "
                            f"{prog.names()} and derivatives such as d{prog.output}/d"
                            f"{next(iter(prog.inputs))}")


def upstream(what: str, of: str) -> set[str]:
    """The steps and inputs of exercise ``what`` that step ``of`` depends on (itself
    included)."""
    _, prog = program(what)
    return {n for n in prog.names() if n == of or _upstream(n, of, prog)}


def _upstream(by: str, of: str, prog: Program) -> bool:
    """Whether ``of`` depends on ``by``."""
    depends = {of}
    for name, text in reversed(prog.steps):
        if name in depends:
            depends |= _variables(text)
    return by in depends and by != of


def _norm(name: str) -> str:
    """A name as compared: lower case kept, spaces, underscores, commas and braces gone,
    ``yhat`` for ``ŷ``."""
    text = re.sub(r"[\s_,{}]", "", name.strip())
    return text.replace("ŷ", "yhat")
