"""One settings record: fit's keywords, NNFClassifier's parameters and nnf train's flags take
their defaults from the one declaration, and the main job's own defaults are said there."""

import inspect
from pathlib import Path

import pytest

from nnfoundations.app.cli import build_parser
from nnfoundations.app.config import MAIN_JOB, TrainConfig
from nnfoundations.sklearn import NNFClassifier
from nnfoundations.training.loop import fit
from nnfoundations.training.model import build_model
from nnfoundations.training.settings import SETTINGS, FitSettings

#: NNFClassifier's name for a setting, where scikit-learn's convention gives another.
SKLEARN_NAMES = {"hidden": "hidden_sizes", "dropout": "dropout_rate",
                 "val_fraction": "validation_fraction", "seed": "random_state"}


def defaults(function):
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_fit_and_the_estimator_default_to_the_declaration():
    fit_defaults, estimator = defaults(fit), defaults(NNFClassifier.__init__)
    checked = 0
    for name, setting in SETTINGS.items():
        if name in fit_defaults:
            assert fit_defaults[name] == setting.default, name
            checked += 1
        sk = SKLEARN_NAMES.get(name, name)
        if sk in estimator:
            assert estimator[sk] == setting.default, name
            checked += 1
    assert defaults(build_model)["dropout_rate"] == SETTINGS["dropout"].default
    assert checked >= 15  # fit holds 8 of them, the estimator 9
    assert FitSettings() == FitSettings.check({})  # the record's own defaults too


def test_the_command_line_defaults_to_the_main_job_and_says_why_where_it_differs():
    args = build_parser().parse_args(["train"])
    flags = {name for name in MAIN_JOB if hasattr(args, name)}
    assert flags == set(SETTINGS) - {"min_delta", "restore_best"}  # nnf train keeps these
    for name in flags:
        value = MAIN_JOB[name]
        expected = list(value) if isinstance(value, tuple) else value
        assert getattr(args, name) == expected == getattr(TrainConfig(), name), name
    differ = {n for n, s in SETTINGS.items() if s.main_job != s.default}
    assert differ == {"dropout", "patience", "seed"}
    assert all(SETTINGS[n].why for n in differ)


@pytest.mark.parametrize(("flags", "message"), [
    (["--lr", "0"], "--lr must be > 0, got 0.0"),
    (["--patience", "0"], "--patience must be a positive int, got 0"),
    (["--optimizer", "rmsprop"], "--optimizer must be one of ['adam', 'adamw', 'sgd'], got "
                                 "'rmsprop'"),
    (["--hidden", "8", "0"], "--hidden (size 2) must be a positive int, got 0"),
])
def test_the_command_line_checks_once_under_the_flag_typed(flags, message):
    args = build_parser().parse_args(["train", *flags])
    config = TrainConfig(**{k: getattr(args, k) for k in TrainConfig.__dataclass_fields__})
    with pytest.raises((ValueError, TypeError)) as error:
        config.check()
    assert str(error.value) == message


def test_the_record_the_command_line_checked_is_the_one_fit_runs_on():
    settings = TrainConfig(lr=0.01, patience=3).check()
    assert (settings.lr, settings.patience, settings.seed) == (0.01, 3, 0)


def test_the_readme_quotes_the_declared_defaults():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    shown = {None: "none", 0.0: "0.0"}
    for name in ("dropout", "patience", "seed"):
        s = SETTINGS[name]
        library = shown.get(s.default, str(s.default))
        assert f"| {name} | {library}" in readme and f"| {s.main_job} | {s.why} |" in readme
