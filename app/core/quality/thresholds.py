"""Thresholds relative to the dataset's own distribution, kept within absolute bounds.

A statistic's default threshold is a robust fence: the median minus (or plus) ``k`` robust
standard deviations (1.4826 x the median absolute deviation), measured in a space where the
statistic spreads evenly (log for brightness and sharpness). The fence is then kept between a
``floor`` and a ``cap``: below the floor an image is a problem whatever the dataset (a black
image is dark even among night photos); beyond the cap it never is (a mid-grey image is not dark
even in a set of bright studio shots). A threshold the user gives replaces all of this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from app.core.errors import SieveError

MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Fence:
    """How the default threshold of a statistic is found.

    ``direction``: "low" flags values below the threshold, "high" above. ``k``: robust standard
    deviations from the median. ``floor`` / ``cap``: the threshold stays between these (in the
    statistic's units, ``floor`` the one nearer the problem side). ``log``: measure the spread
    of ``log(value)`` (``log(1 - value)`` when ``mirror``) instead of the value.
    """

    direction: str
    k: float
    floor: float
    cap: float
    log: bool = False
    mirror: bool = False

    def threshold(self, values: np.ndarray) -> float:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if not len(values):
            return self.cap
        space = self._forward(values)
        centre = float(np.median(space))
        spread = MAD_TO_SIGMA * float(np.median(np.abs(space - centre)))
        toward_problem = -1.0 if (self.direction == "low") != self.mirror else 1.0
        fence = self._backward(centre + toward_problem * self.k * spread)
        low, high = sorted((self.floor, self.cap))
        return float(np.clip(fence, low, high))

    def flags(self, values: np.ndarray, threshold: float) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            hit = values < threshold if self.direction == "low" else values > threshold
        return hit & np.isfinite(values)

    def _forward(self, values: np.ndarray) -> np.ndarray:
        if self.mirror:
            values = 1.0 - values
        return np.log(np.clip(values, 1e-6, None)) if self.log else values

    def _backward(self, value: float) -> float:
        value = float(np.exp(value)) if self.log else value
        return 1.0 - value if self.mirror else value


def parse_thresholds(
    texts: list[str] | None, known: Mapping[str, object], check: Callable[[str], None] | None = None
) -> dict[str, float]:
    """``["dark=0.2", "near_duplicates=6"]`` -> ``{"dark": 0.2, "near_duplicates": 6.0}``."""
    out: dict[str, float] = {}
    for text in texts or []:
        for part in text.split(","):
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise SieveError(
                    f"bad threshold {part!r}: use CHECK=VALUE with a check among "
                    + ", ".join(known)
                )
            try:
                number = float(value)
            except ValueError:
                raise SieveError(f"bad threshold {part!r}: {value!r} is not a number") from None
            if not np.isfinite(number):
                raise SieveError(f"bad threshold {part!r}: the value must be finite")
            out[name] = number
    return out
