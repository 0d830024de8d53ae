"""The fitted verdict as shipped: plain data evaluated in plain Python, attributions that add
up, a calibration that is recorded, and a fit that the committed corpus reproduces."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from nnfoundations.diagnosis import Curves, Features
from nnfoundations.diagnosis.features import MISSING, read
from nnfoundations.diagnosis.model import Model, shipped
from nnfoundations.diagnosis.verdict import EVIDENCE

ROOT = Path(__file__).resolve().parents[2]


def features(n=30):
    loss = [2.3 * math.exp(-0.2 * k) + 0.1 for k in range(n)]
    reading = read(Curves(list(range(1, n + 1)), loss, [v * 1.1 for v in loss]))
    assert reading is not None
    return reading.features


def test_the_shipped_model_reads_our_features_and_says_what_it_was_fitted_on():
    model = shipped()
    assert model.features == Features.names()
    assert set(model.classes) == {"good_fit", "overfitting", "underfitting", "not_converged",
                                  "diverged", "unstable"}
    assert model.temperature > 0 and model.min_points >= 1
    assert set(model.abstain_below) == set(model.classes)
    assert all(0 <= tau < 1 for tau in model.abstain_below.values())
    assert "fit part" in model.meta["fitted_on"] and "test part" in model.meta["fitted_on"]


def test_every_feature_is_evidence_of_exactly_one_kind():
    grouped = [name for names in EVIDENCE.values() for name in names]
    assert sorted(grouped) == sorted(Features.names())


def test_the_attributions_add_up_to_each_score():
    model = shipped()
    x = features()
    prediction = model.predict(x)
    for k, verdict in enumerate(model.classes):
        score = model.init[k] + sum(model.rate * stage[k].value[stage[k].path(x.vector())[-1]]
                                    for stage in model.trees)
        base = model.init[k] + sum(model.rate * stage[k].value[0] for stage in model.trees)
        assert base + sum(prediction.contributions[verdict].values()) == pytest.approx(score)
    assert sum(prediction.probabilities.values()) == pytest.approx(1)


def test_a_missing_series_reads_as_missing_not_as_zero():
    reading = read(Curves([1, 2, 3, 4], [None] * 4, [2.0, 1.5, 1.2, 1.1]))
    assert reading is not None
    f = reading.features
    assert f.has_train == 0 and f.train_end == MISSING and f.has_acc == 0 and f.acc_end == MISSING


def test_a_model_of_another_format_is_refused():
    with pytest.raises(ValueError, match="not a verdict model"):
        Model.from_dict({"format": "something else"})


def test_diagnose_imports_neither_torch_nor_numpy_nor_scikit_learn():
    code = ("import sys; from nnfoundations.diagnosis import diagnose, Curves; "
            "diagnose(Curves([1, 2, 3, 4, 5, 6], [2, 1, .5, .4, .3, .3], "
            "[2, 1.1, .6, .5, .4, .4]));"
            " print(sorted(m for m in ('torch', 'numpy', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_committed_corpus_refits_to_the_shipped_model_exactly():
    done = subprocess.run([sys.executable, "fit_diagnosis.py", "--check"],
                          cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "equals the shipped model" in done.stdout


def test_the_shipped_model_is_compact_json():
    path = ROOT / "src" / "nnfoundations" / "diagnosis" / "verdict_model.json"
    assert path.stat().st_size < 2 * 2**20
    assert json.loads(path.read_text())["format"] == "nnfoundations-verdict-model-1"
