"""Number formatting shared by the explanations, the stopping reasons and the diagnosis."""

from __future__ import annotations


def fmt(x: float) -> str:
    """Format a number the way a derivation shows it: up to six significant digits.

    Example:
        >>> fmt(0.1 + 0.2), fmt(-0.0), fmt(1234567.0)
        ('0.3', '0', '1.23457e+06')
    """
    if x == 0:
        return "0"  # never "-0"
    return f"{x:.6g}"
