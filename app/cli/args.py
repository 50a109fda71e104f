"""argparse types for the CLI's numeric flags: a range each, and never NaN or infinity.

``parser.add_argument("--lr", type=finite_float(0, low_open=True))`` turns ``--lr nan`` into
``sieve train: error: argument --lr: must be a finite number > 0, not nan`` (exit code 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from app.core.ranges import Range

NumberType = Callable[[str], int | float]


def in_range(limits: Range) -> NumberType:
    """The argparse type that reads a number inside ``limits``."""

    def number(text: str) -> int | float:
        try:
            return limits.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    number.__name__ = "integer" if limits.integer else "number"
    return number


def finite_float(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> NumberType:
    """A finite float between optional bounds (closed unless ``low_open`` / ``high_open``)."""
    return in_range(Range(low, high, low_open, high_open))


def int_between(low: int | None = None, high: int | None = None) -> NumberType:
    """A whole number in ``[low, high]`` (either bound optional)."""
    return in_range(Range(low, high, integer=True))


positive_int = int_between(1)
non_negative_int = int_between(0)
positive_float = finite_float(0, low_open=True)
non_negative_float = finite_float(0)
fraction = finite_float(0, 1)
"""A finite number in [0, 1]."""
