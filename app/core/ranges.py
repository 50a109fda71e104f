"""`Range`: the values a numeric setting accepts, in one place for its CLI flag, form and checks.

Every range refuses NaN and infinities; bounds are optional and each may be open or closed.
``Range(0, low_open=True)`` reads "a finite number > 0", ``Range(8, 4096, integer=True)``
"an integer from 8 to 4096".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.core.errors import SieveError


@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def contains(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value) or (self.integer and value != int(value)):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """What the range accepts, e.g. "a finite number in [0, 1)" or "an integer >= 1"."""
        kind = "an integer" if self.integer else "a finite number"
        low, high = self.low, self.high
        if low is not None and high is not None:
            if self.integer:
                return f"{kind} from {_number(low)} to {_number(high)}"
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{kind} in {left}{_number(low)}, {_number(high)}{right}"
        if low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {_number(low)}"
        if high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {_number(high)}"
        return kind

    def problem(self, value: object) -> str | None:
        """None when ``value`` is in the range, else "must be <range>, not <value>"."""
        if self.contains(value):
            return None
        return f"must be {self.describe()}, not {_number(value)}"

    def check(self, name: str, value: object) -> None:
        """Raise SieveError "<name> must be <range>, not <value>" for a value outside it."""
        problem = self.problem(value)
        if problem is not None:
            raise SieveError(f"{name} {problem}")

    def parse(self, text: str) -> int | float:
        """The number written in ``text`` if in range; ValueError "must be ..., not <text>"."""
        try:
            value = float(text)
            if self.integer and self.contains(value):
                value = int(text) if text.strip().lstrip("+-").isdigit() else int(value)
        except ValueError:
            raise ValueError(f"must be {self.describe()}, not {text!r}") from None
        if not self.contains(value):
            raise ValueError(f"must be {self.describe()}, not {text.strip()}")
        return value

    def clamp_bounds(self, step: float) -> tuple[float | None, float | None]:
        """The closed bounds that a spin box stepping by ``step`` can show (open bounds moved
        in by one step)."""
        low = None if self.low is None else self.low + (step if self.low_open else 0)
        high = None if self.high is None else self.high - (step if self.high_open else 0)
        return low, high


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
