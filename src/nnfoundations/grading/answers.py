"""Checking the notebook's numeric answers, tolerant of how a person writes a number.

A value is found next to its name: on a line that names the quantity (``z1``, ``z_1``,
``z₁``, ``\\frac{\\partial L}{\\partial w_{2,1}}`` ...), a number that directly follows an
``=`` or ``:`` (lines that start with ``=`` continue the line above, as a derivation does).
It matches the key when it equals it, or when it has at least two significant digits and is
the key rounded to as many decimals (``-0.22`` for ``-0.224``, ``.0784``, ``−2.24e-1``).
A distinctive non-zero key may also be found anywhere in the answer; a zero never is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nnfoundations.autodiff.check import implied, upstream
from nnfoundations.grading.rubric import Check, manual, split, zero

_NUMBER = r"[-−–]?\s?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+−]?\d+)?"
_VALUE = re.compile(rf"(?:=|:|\bis\b|\bare\b|→|->)\s*\$?\s*({_NUMBER})(?![\d·*(/^×])")
_ANY = re.compile(rf"(?<![\w.])({_NUMBER})(?![\w.]*\d)")
_DERIVATIVE = re.compile(r"∂|\\partial|\bd\s*\\?(?:mathcal\{L\}|L)|\bgrad|dL/d|\\frac\{d")


def _index(name: str, k: str, denominator: bool = False) -> str:
    """``z1``, ``z_1``, ``z_{1}``, ``z₁``, ``z^{(1)}``; for two digits ``w21``, ``w_{2,1}``;
    a ``denominator`` may also stand right after ``/d`` (``dL/dw21``)."""
    subscripts = "".join("₀₁₂₃₄₅₆₇₈₉"[int(d)] for d in k)
    digits = r"\s*,?\s*".join(k)
    forms = rf"_?\{{?\(?\s*{digits}\s*\)?\}}?|{subscripts}|\^\{{?\(?{digits}\)?\}}?"
    before = r"(?:(?<![A-Za-z])|(?<=/d))" if denominator else r"(?<![A-Za-z])"
    return rf"{before}{name}(?:{forms})(?![\d,])"


@dataclass(frozen=True)
class Key:
    """One expected value: what it is called, how it may be named, and the value."""

    label: str
    names: str
    value: float
    derivative: bool = False
    anywhere: bool = False
    step: tuple[str, ...] = ()  # the step of the 1.2 network it is, for carried credit


KEYS: dict[str, list[Key]] = {
    "1.1": [Key("dL/dw = 0", r"(?:d|∂)\s*(?:L|\\mathcal\{L\})\s*/\s*(?:d|∂)\s*w(?![\w₀-₉])|"
                r"\\frac\{\s*(?:d|\\partial)\s*(?:L|\\mathcal\{L\})\s*\}\s*\{\s*(?:d|\\partial)"
                r"\s*w\s*\}|gradient", 0.0)],
    "1.2.1": [Key("z1 = -0.1", _index("z", "1"), -0.1, step=("z1",)),
              Key("z2 = 1.8", _index("z", "2"), 1.8, step=("z2",)),
              Key("h1 = 0", _index("h", "1"), 0.0, step=("h1",)),
              Key("h2 = 1.8", _index("h", "2"), 1.8, step=("h2",)),
              Key("ŷ = 0.72", r"ŷ|\\hat\s*\{?\s*y\s*\}?|y_?hat|\by\^", 0.72, step=("ŷ",)),
              Key("L = 0.0784", r"(?<![\w∂/{\\])L(?![\w/])|\\mathcal\{L\}(?!\s*\})", 0.0784,
                  step=("L",))],
    "1.2.2": [Key("dL/dw21 = -0.224", _index("w", "21", True), -0.224, derivative=True,
                  anywhere=True, step=("L", "w21"))],
    "1.2.3": [Key("dL/dw11 = 0", _index("w", "11", True), 0.0, derivative=True,
                  step=("L", "w11"))],
    "3.1.1": [Key("16 updates in one epoch", r"(?:one|an|each|per|1|single)\s+epoch", 16,
                  anywhere=True),
              Key("160 updates in 10 epochs", r"(?:10|ten)\s+epochs|total", 160, anywhere=True),
              Key("10 full-batch updates", r"full[- ]?batch|b\s*=\s*n", 10, anywhere=True)],
}
_REASON = re.compile(r"inactive|relu|dead|negative|flat|off\b|not active|zero (?:slope|"
                     r"derivative|gradient)|z_?\{?1\}?\s*(?:<|≤|\\le)|∂h_?\{?1\}?/∂z", re.I)
MANUAL = ("1.3", "3.1.2", "3.2.1", "3.2.2")


def number(text: str) -> float:
    """A written number as a float (unicode minus signs and inner spaces allowed)."""
    return float(text.replace("−", "-").replace("–", "-").replace(" ", ""))


def matches(written: str, value: float) -> bool:
    """Whether ``written`` is ``value``, exactly or rounded to two significant digits or more.

    Example:
        >>> matches("-0.22", -0.224), matches(".0784", 0.0784), matches("0.08", 0.0784)
        (True, True, False)
    """
    x = number(written)
    if abs(x - value) <= 1e-9 * max(1.0, abs(value)):
        return True
    mantissa = written.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    significant = len(mantissa.replace("-", "").replace("−", "").replace(".", "").lstrip("0"))
    return "e" not in written.lower() and significant >= 2 and round(value, decimals) == x


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.splitlines():
        if lines and line.lstrip().startswith("="):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def written(key: Key, text: str) -> list[str]:
    """The values written next to ``key``'s name, in order."""
    named = re.compile(key.names)
    seen: list[str] = []
    for line in _logical_lines(text):
        if not named.search(line) or (key.derivative and not _DERIVATIVE.search(line)):
            continue
        start = named.search(line).start()  # type: ignore[union-attr]
        seen += [w.strip() for w in _VALUE.findall(line[start:])]
    return seen


def find(key: Key, text: str) -> tuple[bool, str]:
    """Whether the answer gives ``key``, and what it gave instead."""
    seen = written(key, text)
    if any(matches(w, key.value) for w in seen):
        return True, ""
    if key.anywhere and key.value != 0 and any(matches(w, key.value)
                                               for w in _ANY.findall(text)):
        return True, ""
    got = f"found {', '.join(seen[:3])}" if seen else "found no value next to its name"
    return False, f"expected {key.label}; {got}"


def score_answers(found: dict[str, str] | None, carried: float = 0.0) -> list[Check]:
    """Sections 1 and 3 of one notebook's answers (None: no notebook submitted); an answer
    of 1.2 that is wrong only because it carries the student's own earlier values forward
    earns ``carried`` of its points."""
    checks: list[Check] = []
    for question, keys in KEYS.items():
        if found is None:
            checks += zero(question, "no notebook in the submission")
            continue
        text = found.get(question, "")
        results = [(k.label, *find(k, text)) for k in keys]
        if question == "1.2.3":
            results.append(("why: h1 is inactive", bool(_REASON.search(text)),
                            "say why: z1 < 0, so the ReLU is inactive and ∂h1/∂z1 = 0"))
        credit = _consistent(found, keys) if carried else {}
        checks += [Check(question, c.name, c.points, c.points * carried,
                         f"{credit[c.name]}; consistent working earns {carried:.0%} of its "
                         "points") if c.name in credit and not c.passed else c
                   for c in split(question, results)]
    for question in MANUAL:
        checks += zero(question, "no notebook in the submission") if found is None else \
            manual(question, found.get(question, ""))
    return checks


def _consistent(found: dict[str, str], keys: list[Key]) -> dict[str, str]:
    """The 1.2 answers among ``keys`` that are wrong only because they follow from the
    student's own wrong 1.2.1 values, each with why."""
    theirs = {k.step: number(w[0]) for k in KEYS["1.2.1"]
              if (w := written(k, found.get("1.2.1", "")))}
    credit: dict[str, str] = {}
    for key in (k for k in keys if k.step):
        question = next(q for q, ks in KEYS.items() if key in ks)
        before = upstream("network", key.step[0]) - {key.step[0]}
        wrong = [f"{k.step[0]} = {theirs[k.step]:g}" for k in KEYS["1.2.1"] if k.step in theirs
                 and k.step[0] in before and not matches(f"{theirs[k.step]}", k.value)]
        follows = implied("network", {s: v for s, v in theirs.items() if s != key.step},
                          key.step)
        gave = [w for w in written(key, found.get(question, "")) if matches(w, follows)]
        if wrong and gave and not matches(gave[0], key.value):
            credit[key.label] = f"{key.label.split(' = ')[0]} = {gave[0]} is wrong only " \
                f"because it carries your {', '.join(wrong)} forward"
    return credit
