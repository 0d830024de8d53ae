"""Robust statistics of one curve: its trend, its noise, its slope and where it was lowest.

Plain Python (no numpy): a diagnosis must start fast and run anywhere. Every function takes
finite values; the callers leave out the rest. Each runs in time linear in the curve's
length (a running median over a window of fixed size at most :data:`MAX_WINDOW`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

#: The widest running median: a trend that reads through a run of spikes this long / 2.
MAX_WINDOW = 21


def running_median(values: Sequence[float], window: int) -> list[float]:
    """Each value's median over a centred window (shrunk at the ends): a trend that a
    single spike does not move.

    Example:
        >>> running_median([1.0, 9.0, 1.0, 1.0, 1.0], 3)
        [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    half = window // 2
    out = []
    for k in range(len(values)):
        reach = min(half, k, len(values) - 1 - k)
        out.append(statistics.median(values[k - reach : k + reach + 1]) if reach else values[k])
    if len(values) > 2 and half:  # the ends: the median of the end and its two neighbours
        out[0] = statistics.median(values[:3])
        out[-1] = statistics.median(values[-3:])
    return out


def window(n: int) -> int:
    """The running median's window for a curve of ``n`` points: wider for longer curves."""
    return 1 if n < 5 else 3 if n < 16 else 5 if n < 48 else min(2 * (n // 24) + 1, MAX_WINDOW)


def noise(values: Sequence[float]) -> float:
    """The point-to-point noise, as one value's standard deviation: the robust spread (MAD)
    of the second differences, which a steady slope or a gentle bend leaves near zero
    (white noise gives them six times its variance).

    Example:
        >>> noise([1.0, 2.0, 3.0, 4.0, 5.0])
        0.0
    """
    second = [a - 2 * b + c for a, b, c in zip(values, values[1:], values[2:], strict=False)]
    if len(second) < 2:
        return 0.0
    centre = statistics.median(second)
    return 1.4826 * statistics.median(abs(d - centre) for d in second) / math.sqrt(6)


def slope(values: Sequence[float]) -> float:
    """The least-squares slope per point of ``values`` (0 for fewer than two).

    Example:
        >>> slope([3.0, 2.0, 1.0])
        -1.0
    """
    n = len(values)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, statistics.fmean(values)
    num = sum((k - mx) * (v - my) for k, v in enumerate(values))
    return num / sum((k - mx) ** 2 for k in range(n))


@dataclass
class Series:
    """One curve's finite values, their positions in the run, trend and noise.

    Attributes:
        raw: the values.
        at: the position in the run of each value.
        trend: the running median of the values.
        noise: their point-to-point noise (:func:`noise`).
    """

    raw: list[float]
    at: list[int]
    trend: list[float] = field(init=False)
    noise: float = field(init=False)

    def __post_init__(self) -> None:
        self.trend = running_median(self.raw, window(len(self.raw)))
        self.noise = noise(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def signal(self) -> float:
        """How far the curve moves between its thirds (medians): its readable trend."""
        k = max(1, len(self.raw) // 3)
        parts = [statistics.median(p) for p in (self.raw[:k], self.raw[k:-k] or self.raw,
                                                self.raw[-k:])]
        return max(parts) - min(parts)

    @property
    def low(self) -> int:
        """Index of the trend's minimum (the first, when it is flat)."""
        return min(range(len(self.trend)), key=self.trend.__getitem__)

    @property
    def best(self) -> int:
        """Index of the lowest value itself: the epoch to keep."""
        return min(range(len(self.raw)), key=self.raw.__getitem__)

    @property
    def end(self) -> float:
        """The mean of the last three values: where the curve ends, read through noise."""
        return statistics.fmean(self.raw[-3:])

    def tail(self, share: float) -> list[float]:
        """The last ``share`` of the values (at least 3, or all of them)."""
        return self.raw[-max(3, round(len(self.raw) * share)):]

    def spikes(self, widths: float) -> list[int]:
        """Isolated values more than ``widths`` noise widths and a quarter of the trend's
        movement off the trend (their neighbours are not), after the first two points."""
        movement = max(self.trend) - min(self.trend)
        far = [abs(v - t) > widths * max(self.noise, 1e-12) and abs(v - t) > 0.25 *
               max(movement, 1e-12) for v, t in zip(self.raw, self.trend, strict=True)]
        return [k for k in range(2, len(far)) if far[k] and not far[k - 1]
                and not (k + 1 < len(far) and far[k + 1])]
