"""The form's ``key=value`` text for a dict of numbers (method options, augmentation), Qt-free."""

from __future__ import annotations

from app.core.errors import SieveError


def parse_pairs(text: str, what: str) -> dict[str, float]:
    """``"a=1, b=0.5"`` (commas or new lines) as ``{"a": 1.0, "b": 0.5}``, as the CLI reads it."""
    out: dict[str, float] = {}
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        try:
            if not sep or not key:
                raise ValueError
            out[key] = float(value)
        except ValueError:
            raise SieveError(f"{what}: expected KEY=NUMBER, got {item!r}") from None
    return out


def format_pairs(values: dict[str, float]) -> str:
    """The inverse of :func:`parse_pairs`."""
    return ", ".join(f"{key}={value:.12g}" for key, value in values.items())
