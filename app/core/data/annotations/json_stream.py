"""A large json document read one element of a big array at a time, with the standard
library's scanner: the text is held once (one byte per character for ASCII), never a Python
object per element of the whole array. Errors are :class:`json.JSONDecodeError` with the line
and column in the whole document."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.errors import SieveError

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_SPACES = " \t\n\r"


def read_text(path: Path) -> str:
    """The file's text (UTF-8, a byte order mark allowed)."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SieveError(f"{path}: not UTF-8 text ({error.reason}), nothing imported") from error
    except OSError as error:
        raise SieveError(f"cannot read {path}: {error.strerror or error}") from error


def _skip(text: str, at: int) -> int:
    return _SPACE.match(text, at).end()  # type: ignore[union-attr]


def _expect(text: str, at: int, characters: str, what: str) -> int:
    at = _skip(text, at)
    if at >= len(text) or text[at] not in characters:
        raise json.JSONDecodeError(f"Expecting {what}", text, at)
    return at


def first_character(text: str) -> str:
    """The document's first character that is not white space ('' when empty)."""
    at = _skip(text, 0)
    return text[at] if at < len(text) else ""


def scan_object(text: str, streamed: str) -> tuple[dict[str, Any], int | None]:
    """Decode the top-level object's members, except the array under the key ``streamed``:
    that one is only checked (element by element, nothing kept) and its offset returned."""
    at = _expect(text, 0, "{", "'{'")
    fields: dict[str, Any] = {}
    offset = None
    at = _skip(text, at + 1)
    if at < len(text) and text[at] == "}":
        return fields, None
    while True:
        at = _expect(text, at, '"', "property name enclosed in double quotes")
        key, at = _DECODER.raw_decode(text, at)
        at = _expect(text, at, ":", "':' delimiter") + 1
        at = _skip(text, at)
        if key == streamed and at < len(text) and text[at] == "[":
            offset = at
            at = skip_array(text, at)
        else:
            fields[key], at = _DECODER.raw_decode(text, at)
        at = _expect(text, at, ",}", "',' delimiter")
        if text[at] == "}":
            break
        at += 1
    end = _skip(text, at + 1)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return fields, offset


def iter_array(text: str, at: int) -> Iterator[Any]:
    """The elements of the array whose ``[`` is at ``at``, decoded one at a time."""
    yield from _elements(text, at, [])


def skip_array(text: str, at: int) -> int:
    """The offset just after the array whose ``[`` is at ``at`` (checked element by element)."""
    end: list[int] = []
    for _ in _elements(text, at, end):
        pass
    return end[0]


def _elements(text: str, at: int, end: list[int]) -> Iterator[Any]:
    """The array's elements; its end offset is appended to ``end`` once it is reached."""
    scan = _DECODER.scan_once
    size = len(text)
    at = _skip(text, _expect(text, at, "[", "'['") + 1)
    if at < size and text[at] == "]":
        end.append(at + 1)
        return
    while True:
        if at < size and text[at] in _SPACES:
            at = _skip(text, at)
        try:
            value, at = scan(text, at)
        except StopIteration as stop:
            raise json.JSONDecodeError("Expecting value", text, stop.value) from None
        yield value
        following = text[at] if at < size else ""
        if not following or following not in ",]":
            at = _expect(text, at, ",]", "',' delimiter")
            following = text[at]
        at += 1
        if following == "]":
            end.append(at)
            return


def check_end(text: str, at: int) -> None:
    """Refuse anything but white space after the top-level value ending at ``at``."""
    end = _skip(text, at)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
