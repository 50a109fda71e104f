"""The form's ``key=value`` text for a dict of numbers (method options, augmentation), Qt-free."""

from __future__ import annotations

from app.core.ssl import config


def parse_pairs(text: str, what: str) -> dict[str, float]:
    """``"a=1, b=0.5"`` (commas or new lines) as ``{"a": 1.0, "b": 0.5}``, as the CLI reads it."""
    items = [item for item in text.replace("\n", ",").split(",") if item.strip()]
    return config.parse_pairs(items, what)


def format_pairs(values: dict[str, float]) -> str:
    """The inverse of :func:`parse_pairs`."""
    return ", ".join(f"{key}={value:.12g}" for key, value in values.items())
