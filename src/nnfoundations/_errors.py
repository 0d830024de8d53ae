"""The library's own error types, and the first line of an error for one-line messages.

A caller's bad value raises :class:`InvalidValueError` (a ``ValueError``) and a value of the
wrong kind :class:`InvalidTypeError` (a ``TypeError``), so code that catches the built-in
types keeps working, while the CLI can tell these from a ``TypeError`` raised by a bug.
"""

from __future__ import annotations


class InputError(Exception):
    """Input that nnfoundations refuses; the message names the value and what is allowed."""


class InvalidValueError(InputError, ValueError):
    """A value of the right kind outside what is allowed."""


class InvalidTypeError(InputError, TypeError):
    """A value of the wrong kind."""


def first_line(err: BaseException) -> str:
    """The first non-empty line of ``err``'s message, or its type's name when it has none.

    Example:
        >>> first_line(RuntimeError("size mismatch\\n  more detail")), first_line(KeyError())
        ('size mismatch', 'KeyError')
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
