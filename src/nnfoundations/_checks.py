"""Argument checks shared by the public entry points.

Each check raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for a value
of the right kind outside what is allowed, and names the argument and what it got.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TypeGuard

from nnfoundations._errors import InvalidTypeError, InvalidValueError


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a positive integer (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidTypeError(
            f"{name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value <= 0:
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def seed(name: str, value: object) -> int:
    """Return ``value`` if it is an int in [0, 2**32), what random number generators take."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidTypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    number = int(value)
    if not 0 <= number < 2**32:
        raise InvalidValueError(f"{name} must be a non-negative int below 2**32, got {value!r}")
    return number


def is_real(value: object) -> TypeGuard[Real]:
    """Whether ``value`` is a real number: an int or a float, not a bool."""
    if type(value) in (int, float):  # the common case, without the ABC's slow check
        return True
    return isinstance(value, Real) and not isinstance(value, bool)


def real_number(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number (bools are refused)."""
    if not is_real(value):
        raise InvalidTypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise InvalidValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def positive_number(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite number greater than 0."""
    number = real_number(name, value)
    if number <= 0:
        raise InvalidValueError(f"{name} must be > 0, got {value!r}")
    return number


def fraction(name: str, value: object, *, low_open: bool = False) -> float:
    """Return ``value`` as a float in [0, 1) (or (0, 1) when ``low_open``)."""
    number = real_number(name, value)
    low_ok = number > 0 if low_open else number >= 0
    if not (low_ok and number < 1):
        allowed = "0 < value < 1" if low_open else "0 <= value < 1"
        raise InvalidValueError(f"{name} must satisfy {allowed}, got {value!r}")
    return number
