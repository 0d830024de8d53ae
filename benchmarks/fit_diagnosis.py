"""Fit the verdict to the oracle corpus, calibrate it, and write it into the package.

The corpus (``benchmarks/corpus/``, made by ``corpus.py``) is split by data set (each group
of runs shares one data set and seed, and its family) into three parts: **fit** (60%),
**calibrate** (20%) and **test** (20%). The trees are fitted on the fit part; the calibrate
part chooses the temperature of the scores (a reliability curve fitted on top, isotonic or
logistic, did no better on its held-out folds), the confidence below which the diagnosis
abstains and the fewest points it answers on; the test part chooses nothing and is only
scored (``bench_diagnosis.py`` prints it).

Usage::

    python benchmarks/fit_diagnosis.py            # writes src/.../verdict_model.json
    python benchmarks/fit_diagnosis.py --check    # refits and compares with the shipped one
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import oracle
from sklearn.ensemble import GradientBoostingClassifier

from nnfoundations.diagnosis.curves import Curves
from nnfoundations.diagnosis.features import Features, read
from nnfoundations.diagnosis.model import MODEL_FORMAT, Model

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
SHIPPED = HERE.parent / "src" / "nnfoundations" / "diagnosis" / "verdict_model.json"
VERDICTS = ("good_fit", "overfitting", "underfitting", "not_converged", "diverged", "unstable")
PARTS = (("fit", 0.6), ("calibrate", 0.8), ("test", 1.0))
#: Below three points a curve has no trend, slope over its last third or noise to read (the
#: features degenerate): structural, not fitted.
READABLE = 3
#: The trees: chosen by a 5-fold cross-validation over the fit part alone (log loss, among
#: six sizes from 100 x depth 3 to 400 x depth 2 and 300 x depth 5).
TREES = dict(n_estimators=300, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=0)
#: The share of the runs the diagnosis must answer (the issue's floor is 90%; the calibrate
#: part keeps a margin above it, since the test part's share varies around it).
COVERAGE = 0.92
#: The share of "good fit" answers that may go to a run that diverged or underfit.
HARMFUL = 0.02


@dataclass
class Run:
    """A corpus run as the fitting reads it."""

    id: int
    family: str
    group: int
    part: str
    curves: Curves
    label: oracle.Label
    features: Features | None  # None: no finite monitored loss

    @property
    def points(self) -> int:
        return len(self.curves)


def part_of(group: int) -> str:
    """The part a data group falls in (fixed by its number alone)."""
    u = random.Random(f"part-{group}").random()
    return next(name for name, upto in PARTS if u < upto)


def load(folder: Path = CORPUS) -> list[Run]:
    """Every run of the corpus, read as the diagnosis reads it, with its oracle label."""
    runs = []
    for path in sorted(folder.glob("chunk-*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            runs += [to_run(json.loads(line)) for line in f if line.strip()]
    return runs


def to_run(record: dict[str, Any]) -> Run:
    seen = oracle.visible(record)
    curves = Curves(epochs=seen.epochs, train=seen.train, val=seen.val, acc=seen.acc,
                    classes=seen.classes)
    reading = read(curves)
    group = record["data"]["seed"]
    return Run(record["id"], record["data"]["family"], group, part_of(group), curves,
               oracle.label(record), reading.features if reading else None)


def fit(runs: Sequence[Run]) -> GradientBoostingClassifier:
    """The trees, fitted on ``runs`` (those with features)."""
    X = np.array([r.features.vector() for r in runs if r.features])
    y = np.array([VERDICTS.index(r.label.verdict) for r in runs if r.features])
    return GradientBoostingClassifier(**TREES).fit(X, y)


def export(gbc: GradientBoostingClassifier) -> dict[str, Any]:
    """The ensemble as plain data; each node's value is the mean of the leaves below it
    (weighted by their training samples), so that attributions add up."""
    classes = [VERDICTS[k] for k in gbc.classes_]
    init = gbc._raw_predict_init(np.zeros((1, gbc.n_features_in_)))[0].tolist()
    stages = [[_tree(est.tree_) for est in stage] for stage in gbc.estimators_]
    return {"format": MODEL_FORMAT, "features": list(Features.names()), "classes": classes,
            "init": init, "rate": gbc.learning_rate, "trees": stages}


def _tree(tree: Any) -> dict[str, list[Any]]:
    left, right = tree.children_left.tolist(), tree.children_right.tolist()
    weight = tree.weighted_n_node_samples.tolist()
    value = [float(v) for v in tree.value[:, 0, 0]]

    def mean(node: int) -> tuple[float, float]:  # (weighted sum of leaf values, weight)
        if left[node] == -1:
            return value[node] * weight[node], weight[node]
        a, b = mean(left[node]), mean(right[node])
        value[node] = (a[0] + b[0]) / (a[1] + b[1])
        return a[0] + b[0], a[1] + b[1]
    mean(0)
    return {"feature": [max(f, 0) for f in tree.feature.tolist()],
            "threshold": [round(t, 9) for t in tree.threshold.tolist()], "left": left,
            "right": right, "value": [round(v, 9) for v in value]}


def scores(model: Model, runs: Iterable[Run]) -> list[tuple[Run, dict[str, float]]]:
    """Each run with the model's probabilities at temperature 1."""
    plain = Model(model.features, model.classes, model.init, model.rate, model.trees, 1.0,
                  dict.fromkeys(model.classes, 0.0), 0, {})
    return [(r, plain.predict(r.features).probabilities) for r in runs if r.features]


def temperature(scored: list[tuple[Run, dict[str, float]]]) -> float:
    """The temperature that minimises the log loss of the calibrate part (a golden-section
    search over log T in [-2, 2])."""
    logs = [({c: math.log(max(p, 1e-300)) for c, p in probs.items()}, r.label.verdict)
            for r, probs in scored]

    def nll(log_t: float) -> float:
        t = math.exp(log_t)
        total = 0.0
        for lp, truth in logs:
            scaled = {c: v / t for c, v in lp.items()}
            top = max(scaled.values())
            norm = top + math.log(sum(math.exp(v - top) for v in scaled.values()))
            total += norm - scaled.get(truth, -1e9)
        return total
    lo, hi = -2.0, 2.0
    for _ in range(40):
        a, b = lo + 0.382 * (hi - lo), lo + 0.618 * (hi - lo)
        lo, hi = (lo, b) if nll(a) < nll(b) else (a, hi)
    return round(math.exp((lo + hi) / 2), 6)


def abstain_below(predicted: list[tuple[Run, str, float]], total: int,
                  answered: int) -> dict[str, float]:
    """Per verdict, the confidence below which the diagnosis says it cannot tell, from the
    ``predicted`` runs of the calibrate part's ``total`` (``answered`` others get a verdict
    by definition; the rest are too short to read).

    For every verdict: the lowest step of confidence (steps of 0.05) from which on every
    bin of the calibrate part is right at least half the time (below it a verdict is more
    likely wrong than right). For "good fit", which leaves a user doing nothing, higher:
    the lowest step at which at most :data:`HARMFUL` of the calibrate part's good-fit
    answers are given to runs that diverged or underfit. Neither is raised past the step
    at which the calibrate part's coverage would fall under :data:`COVERAGE`.
    """
    steps = [k / 20 for k in range(20)]

    def coverage(taus: dict[str, float]) -> float:
        return (answered + sum(c >= taus[v] for _, v, c in predicted)) / total

    def sound(tau: float) -> bool:
        bins = [[r.label.verdict == v for r, v, c in predicted if lo <= c < lo + 0.05]
                for lo in steps if lo >= tau]
        return all(sum(b) >= len(b) / 2 for b in bins if b)

    def harmless(tau: float) -> bool:
        said = [r.label.verdict for r, v, c in predicted if v == "good_fit" and c >= tau]
        return sum(t in ("diverged", "underfitting") for t in said) <= HARMFUL * len(said)
    base = next((t for t in steps if sound(t)), steps[-1])
    base = max([t for t in steps if t <= base and
                coverage(dict.fromkeys(VERDICTS, t)) >= COVERAGE], default=0.0)
    taus = dict.fromkeys(VERDICTS, base)
    for tau in (t for t in steps if t > base):
        if harmless(taus["good_fit"]) or coverage({**taus, "good_fit": tau}) < COVERAGE:
            break
        taus["good_fit"] = tau
    return taus


def fewest_points(predicted: list[tuple[Run, str, float]]) -> int:
    """The fewest points a log needs: the smallest n, from :data:`READABLE` on, at which
    the calibrate part's runs of exactly n points get the right verdict (the most probable
    one, before any abstention) more often than not; shorter logs are too short to read."""
    for n in range(READABLE, 11):
        these = [(r, v) for r, v, _ in predicted if r.points == n]
        if these and sum(r.label.verdict == v for r, v in these) > len(these) / 2:
            return n
    return 10


def calibrate(model: Model, runs: Sequence[Run]) -> Model:
    """``model`` with its temperature, abstention thresholds and fewest points fitted on
    ``runs`` (the calibrate part)."""
    scored = scores(model, runs)
    t = temperature(scored)
    calibrated = [(r, {c: p ** (1 / t) for c, p in probs.items()}) for r, probs in scored]
    predicted = [(r, max(q, key=q.__getitem__), max(q.values()) / sum(q.values()))
                 for r, q in calibrated]
    n = fewest_points(predicted)
    readable = [p for p in predicted if p[0].points >= n]
    # the coverage counts every run: too short ones abstain, unreadable ones are diverged
    taus = abstain_below(readable, len(runs), sum(r.features is None for r in runs))
    return Model(model.features, model.classes, model.init, model.rate, model.trees, t, taus,
                 n, model.meta)


def build(runs: Sequence[Run]) -> dict[str, Any]:
    """The model's JSON form: fitted on the fit part, calibrated on the calibrate part."""
    fit_part = [r for r in runs if r.part == "fit"]
    data = export(fit(fit_part))
    data.update(temperature=1.0, abstain_below=dict.fromkeys(data["classes"], 0.0),
                min_points=0, meta={})
    model = calibrate(Model.from_dict(data), [r for r in runs if r.part == "calibrate"])
    counts = {p: sum(r.part == p for r in runs) for p, _ in PARTS}
    data.update(temperature=model.temperature, abstain_below=model.abstain_below,
                min_points=model.min_points,
                meta={"fitted_on": f"{counts['fit']} runs of the oracle corpus's fit part; "
                      f"calibrated on {counts['calibrate']} of its calibrate part; "
                      f"{counts['test']} runs of its test part chose nothing",
                      "trees": {k: v for k, v in TREES.items() if k != "random_state"},
                      "families": sorted({r.family for r in runs})})
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="refit and compare with the shipped model; write nothing")
    args = parser.parse_args(argv)
    runs = load()
    data = build(runs)
    if args.check:
        shipped = json.loads(SHIPPED.read_text(encoding="utf-8"))
        same = {k: v for k, v in shipped.items() if k != "meta"} == \
            {k: v for k, v in data.items() if k != "meta"}
        print("the refit equals the shipped model" if same else "the refit differs")
        return 0 if same else 1
    SHIPPED.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {SHIPPED} ({SHIPPED.stat().st_size // 1024} KiB): temperature "
          f"{data['temperature']}, abstains below {data['abstain_below']}, answers from "
          f"{data['min_points']} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
