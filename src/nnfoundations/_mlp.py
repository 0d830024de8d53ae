"""The size of the assignment's MLP from its widths alone, before anything is built: the
model's memory check and the grader's expected parameter count share it."""

from __future__ import annotations

from collections.abc import Sequence


def parameter_count(widths: Sequence[int]) -> int:
    """``(in + 1) · out`` summed over the Linear layers of an MLP with these widths (input,
    hidden..., output), biases included.

    Example:
        >>> parameter_count([784, 128, 64, 9])
        109321
    """
    return sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
