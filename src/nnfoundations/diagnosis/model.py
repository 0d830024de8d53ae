"""The fitted verdict: a gradient-boosted tree ensemble over :class:`Features`, shipped as
data (``verdict_model.json``) and evaluated in plain Python.

``benchmarks/fit_diagnosis.py`` fits it on the oracle corpus's fit part, calibrates it on
the calibrate part (a temperature on its scores; for each verdict, the confidence below
which it abstains rather than say it; the fewest points it answers on) and records how it
scored on the test part, which chose nothing. Each tree node carries the mean of the
leaves below it, so a prediction splits exactly into one share per feature along the
paths it took (Saabas' attribution): the reasons a user reads are the features that moved
the verdict most.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from nnfoundations.diagnosis.features import Features

MODEL_FORMAT = "nnfoundations-verdict-model-1"


@dataclass(frozen=True)
class Tree:
    """One regression tree, as parallel arrays (a leaf has ``left == -1``)."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def path(self, x: tuple[float, ...]) -> list[int]:
        """The nodes from the root to the leaf that ``x`` falls in."""
        node, nodes = 0, [0]
        while self.left[node] != -1:
            node = self.left[node] if x[self.feature[node]] <= self.threshold[node] \
                else self.right[node]
            nodes.append(node)
        return nodes


@dataclass(frozen=True)
class Prediction:
    """The model's reading of one run.

    Attributes:
        probabilities: each verdict's calibrated probability.
        contributions: per verdict, each feature's share of its score (before the softmax).
    """

    probabilities: dict[str, float]
    contributions: dict[str, dict[str, float]]

    @property
    def verdict(self) -> str:
        """The most probable verdict."""
        return max(self.probabilities, key=self.probabilities.__getitem__)


@dataclass(frozen=True)
class Model:
    """The fitted ensemble and its calibration.

    Attributes:
        features: the feature names, in the order the trees index them.
        classes: the verdicts, in the order of the scores.
        init: each verdict's score before any tree.
        rate: the boosting learning rate (each tree's weight).
        trees: per stage, one tree per verdict.
        temperature: the scores are divided by it before the softmax.
        abstain_below: per verdict, the confidence below which the diagnosis says it cannot
            tell rather than give that verdict (higher for "good fit", the verdict that
            would leave a user doing nothing).
        min_points: fewer points than this are too few to read.
        meta: what it was fitted on and how it scored on what it was not.
    """

    features: tuple[str, ...]
    classes: tuple[str, ...]
    init: tuple[float, ...]
    rate: float
    trees: tuple[tuple[Tree, ...], ...]
    temperature: float
    abstain_below: dict[str, float]
    min_points: int
    meta: dict[str, Any]

    def predict(self, features: Features) -> Prediction:
        """The calibrated probabilities of each verdict, and each feature's share."""
        x = features.vector()
        scores = list(self.init)
        shares = [[0.0] * len(self.features) for _ in self.classes]
        for stage in self.trees:
            for k, tree in enumerate(stage):
                nodes = tree.path(x)
                scores[k] += self.rate * tree.value[nodes[-1]]
                for parent, child in zip(nodes, nodes[1:], strict=False):
                    shares[k][tree.feature[parent]] += self.rate * (tree.value[child] -
                                                                    tree.value[parent])
        top = max(scores)
        weights = [math.exp((s - top) / self.temperature) for s in scores]
        total = sum(weights)
        return Prediction({c: w / total for c, w in zip(self.classes, weights, strict=True)},
                          {c: dict(zip(self.features, shares[k], strict=True))
                           for k, c in enumerate(self.classes)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        """A model from its JSON form (``to_dict`` of the fitting script)."""
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a verdict model of format {MODEL_FORMAT}")
        trees = tuple(tuple(Tree(*(tuple(t[key]) for key in ("feature", "threshold", "left",
                                                              "right", "value")))
                            for t in stage) for stage in data["trees"])
        return cls(tuple(data["features"]), tuple(data["classes"]), tuple(data["init"]),
                   float(data["rate"]), trees, float(data["temperature"]),
                   {k: float(v) for k, v in data["abstain_below"].items()},
                   int(data["min_points"]), data["meta"])


@cache
def shipped() -> Model:
    """The model that ships with the package (read once)."""
    text = resources.files("nnfoundations.diagnosis").joinpath("verdict_model.json") \
        .read_text(encoding="utf-8")
    model = Model.from_dict(json.loads(text))
    if model.features != Features.names():
        raise RuntimeError("verdict_model.json was fitted on other features: refit it with "
                           "benchmarks/fit_diagnosis.py")
    return model
