"""The training settings, declared once: each one's check, its default, what it means, and
where ``nnf train``'s main job takes another default and why.

``fit``'s keywords, ``NNFClassifier``'s parameters and ``nnf train``'s flags are made from
this table (a test holds their defaults to it), and a value is checked once, where it
enters, under the name the user typed there: :meth:`FitSettings.check` with ``names``.
Torch-free, so that the CLI shows its defaults without loading a model library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from nnfoundations import _checks
from nnfoundations._errors import InvalidTypeError, InvalidValueError
from nnfoundations.training.names import ENGINES, OPTIMIZER_NAMES

#: A check: the name the user typed and the value, to the value as the run uses it.
Check = Callable[[str, Any], Any]


def _optional(check: Check) -> Check:
    return lambda name, value: None if value is None else check(name, value)


def _one_of(choices: Sequence[str]) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise InvalidValueError(f"{name} must be one of {list(choices)}, got {value!r}")
        return value.lower()
    return check


def _optimizer(name: str, value: Any) -> Any:
    """A name of ours, or an optimizer or a factory of one (told apart when it is built)."""
    if isinstance(value, str):
        return _one_of(OPTIMIZER_NAMES)(name, value)
    if callable(value) or hasattr(value, "param_groups"):
        return value
    raise InvalidTypeError(f"{name} must be a name {list(OPTIMIZER_NAMES)}, an Optimizer, or "
                           f"a callable returning one; got {value!r}")


def _non_negative(name: str, value: Any) -> float:
    if _checks.real_number(name, value) < 0:
        raise InvalidValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidTypeError(f"{name} must be True or False, got {value!r}")
    return value


def _sizes(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidTypeError(f"{name} must be a sequence of positive ints, got {value!r}")
    return tuple(_checks.positive_int(f"{name} (size {k + 1})", h) for k, h in enumerate(value))


def _open_fraction(name: str, value: Any) -> float:
    return _checks.fraction(name, value, low_open=True)


@dataclass(frozen=True)
class Setting:
    """One setting: its check, its default, its meaning, and the main job's default.

    Attributes:
        check: the check, given the name the user typed.
        default: the library's default (``fit``, ``NNFClassifier``).
        help: what it means, in a few words (``--help`` and the docs show it).
        main_job: ``nnf train``'s default where it is another; ``default`` otherwise.
        why: why the main job's default differs.
    """

    check: Check
    default: Any
    help: str
    main_job: Any = None
    why: str = ""

    def __post_init__(self) -> None:
        if not self.why:  # no reason given: the main job takes the library's default
            object.__setattr__(self, "main_job", self.default)


#: Every setting, by the name ``fit`` gives it.
SETTINGS: dict[str, Setting] = {
    "hidden": Setting(_sizes, (256, 128), "the hidden layers' widths"),
    "dropout": Setting(_checks.fraction, 0.0, "dropout after each hidden ReLU, in [0, 1)",
                       0.2, "the digits model reaches >= 97% test accuracy with it"),
    "epochs": Setting(_checks.positive_int, 100, "the most epochs to train"),
    "batch_size": Setting(_checks.positive_int, 64, "examples per mini-batch"),
    "lr": Setting(_checks.positive_number, 1e-3, "the learning rate"),
    "optimizer": Setting(_optimizer, "adam", "adam, adamw or sgd"),
    "patience": Setting(_optional(_checks.positive_int), None,
                        "early-stopping patience in epochs, or none", 15,
                        "a command-line run stops by itself once the validation loss "
                        "has not improved for a while"),
    "min_delta": Setting(_non_negative, 0.0, "the least fall of the loss that counts"),
    "restore_best": Setting(_flag, True, "end with the best epoch's weights"),
    "seed": Setting(_optional(_checks.seed), None, "the run's random seed", 0,
                    "a command-line run is the same run each time unless asked otherwise"),
    "engine": Setting(_one_of(ENGINES), "auto", "how gradients are computed: auto, "
                      "autograd or matrix"),
    "val_fraction": Setting(_open_fraction, 0.15, "the share of the data held out to "
                            "validate"),
}


@dataclass(frozen=True)
class FitSettings:
    """What a run was asked to do, checked; ``History.settings`` starts from it.

    Attributes:
        epochs: the last epoch to train.
        batch_size: examples per mini-batch.
        lr: the learning rate of an optimizer given by name.
        optimizer: the optimizer's lower-case name, or the optimizer (or its factory).
        patience: epochs without improvement before an early stop; None never stops.
        min_delta: the least decrease of the monitored loss that counts as improvement.
        restore_best: end with the best epoch's weights.
        seed: the seed of the shuffling and of torch's global RNG; None: one is drawn.
        engine: how gradients are computed: ``auto``, ``autograd`` or ``matrix``.
    """

    epochs: int = SETTINGS["epochs"].default
    batch_size: int = SETTINGS["batch_size"].default
    lr: float = SETTINGS["lr"].default
    optimizer: Any = SETTINGS["optimizer"].default
    patience: int | None = SETTINGS["patience"].default
    min_delta: float = SETTINGS["min_delta"].default
    restore_best: bool = SETTINGS["restore_best"].default
    seed: int | None = SETTINGS["seed"].default
    engine: str = SETTINGS["engine"].default

    @classmethod
    def check(cls, values: Mapping[str, object],
              names: Mapping[str, str] | None = None) -> FitSettings:
        """The record of ``values`` (the rest at their defaults), each checked by its
        declared check, named as ``names`` maps it (a flag, say) or by its own name.

        Raises:
            TypeError, ValueError: the first bad value, named, with what is allowed.
        """
        names = names or {}
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise InvalidTypeError(f"unknown settings {unknown}")
        return cls(**{k: SETTINGS[k].check(names.get(k, k), v) for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for ``History.settings`` (an optimizer object by its repr)."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        if not isinstance(self.optimizer, str):
            record["optimizer"] = repr(self.optimizer)
        return record
