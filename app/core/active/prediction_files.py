"""Prediction files: classification probabilities (or logits) and detections, read and checked.

The import job is in :mod:`app.core.active.predictions`.

Names are sample names as Sieve shows them (the path relative to the dataset folder, or
lightly's frame name for a video frame), as in lightly's ``embeddings.csv``.

CSV, classification only: a header ``filename,<class>,<class>,...`` (``filenames`` works too),
then one row per image with its name and one number per class::

    filename,cat,dog
    cats/001.png,0.9,0.1

JSON, an object keyed by name; classification::

    {"cats/001.png": {"probabilities": [0.9, 0.1]}}

object detection, per box: ``[x0, y0, x1, y1]``, class probabilities and objectness (lightly's
keys ``class_probabilities`` and ``object_probabilities`` are read as well; objectness defaults
to 1)::

    {"street/001.png": {"boxes": [[10, 20, 50, 80]], "probabilities": [[0.7, 0.3]],
                        "objectness": [0.8]}}

Either JSON form may be wrapped as ``{"classes": ["cat", "dog"], "predictions": {...}}`` to
name the classes (else they are ``class_0``, ``class_1``, ...).

Values are probabilities (each row sums to 1) or logits (turned into probabilities by softmax,
or by a sigmoid for a single column). ``logits=None`` decides from the values: any value
outside [0, 1] means logits; rows inside [0, 1] that do not sum to 1 are refused as ambiguous.
A single column is the probability of the first of two classes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.active.uncertainty import Detections, sigmoid, softmax
from app.core.errors import SieveError

CLASSIFICATION = "classification"
DETECTION = "detection"
SUM_TOLERANCE = 0.01
_NAME_COLUMNS = ("filename", "filenames")


@dataclass
class Predictions:
    """Predictions read from a file, row ``i`` (or image ``i`` of the boxes) named ``names[i]``."""

    kind: str
    names: list[str]
    classes: list[str]
    logits: bool
    probabilities: np.ndarray | None = None  # classification: N x C
    detections: Detections | None = None


def read_predictions(path: Path, logits: bool | None = None) -> Predictions:
    """Read a predictions CSV or JSON file (see the module for the formats)."""
    if not path.is_file():
        raise SieveError(f"{path} is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise SieveError(
            f"{path.name} is not a text file: predictions come as CSV or JSON"
        ) from error
    except OSError as error:
        raise SieveError(f"cannot read {path}: {error.strerror or error}") from error
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
        return _read_json(text, path.name, logits)
    return _read_csv(text, path.name, logits)


def to_probabilities(
    values: np.ndarray, logits: bool | None, where: Callable[[int], str]
) -> tuple[np.ndarray, bool]:
    """``(probabilities, were_logits)`` of N x C values; ``where(row)`` names a row in errors."""
    values = np.asarray(values, dtype=np.float64)
    rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(rows):
        raise SieveError(f"{where(int(rows[0]))}: a value is NaN or infinite")
    if logits is None:
        logits = bool(len(values)) and not ((values >= 0) & (values <= 1)).all()
    if logits:
        if values.shape[1] == 1:
            return sigmoid(values), True
        return softmax(values), True
    for test, what in ((values < 0, "negative"), (values > 1, "above 1")):
        rows = np.flatnonzero(test.any(axis=1))
        if len(rows):
            raise SieveError(
                f"{where(int(rows[0]))}: a probability is {what}; pass --logits if the values "
                "are logits (scores before softmax)"
            )
    if values.shape[1] > 1:
        sums = values.sum(axis=1)
        rows = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
        if len(rows):
            raise SieveError(
                f"{where(int(rows[0]))}: the probabilities sum to {sums[rows[0]]:.4g}, not 1; "
                "pass --logits if the values are logits (scores before softmax)"
            )
        values = values / sums[:, None]
    return values.astype(np.float32), False


def normalise_name(name: str) -> str:
    """Forward slashes and no leading ``./``, as Sieve names samples."""
    name = name.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _read_csv(text: str, filename: str, logits: bool | None) -> Predictions:
    reader = csv.reader(io.StringIO(text))
    header = next((row for row in reader if row), None)
    if not header or header[0].strip().lower() not in _NAME_COLUMNS or len(header) < 2:
        found = ",".join(header[:3]) if header else "nothing"
        raise SieveError(
            f"{filename} is not a predictions CSV: the header must be "
            f"filename,<class>,<class>,... (found {found!r})"
        )
    classes = [column.strip() for column in header[1:]]
    _check_classes(classes, filename)
    names: list[str] = []
    lines: list[int] = []
    cells: list[list[str]] = []
    for row in reader:
        if not row or not any(field.strip() for field in row):
            continue
        if len(row) != len(header):
            raise SieveError(
                f"{filename}, line {reader.line_num}: {len(row)} fields, the header has "
                f"{len(header)}"
            )
        names.append(_name(row[0], f"{filename}, line {reader.line_num}"))
        lines.append(reader.line_num)
        cells.append(row[1:])
    if not names:
        raise SieveError(f"{filename} has a header but no predictions")
    values = _numbers(cells, lines, classes, filename)
    _check_unique(names, [f"line {line}" for line in lines], filename)
    probabilities, were_logits = to_probabilities(
        values, logits, lambda row: f"{filename}, line {lines[row]}"
    )
    return Predictions(CLASSIFICATION, names, classes, were_logits, probabilities=probabilities)


def _numbers(cells: list[list[str]], lines: list[int], classes: list[str], filename: str):
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        for row, line in zip(cells, lines, strict=True):
            for column, cell in enumerate(row):
                try:
                    float(cell)
                except ValueError:
                    raise SieveError(
                        f"{filename}, line {line}, column {classes[column]!r}: {cell!r} is not a "
                        "number"
                    ) from None
        raise


def _read_json(text: str, filename: str, logits: bool | None) -> Predictions:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SieveError(
            f"{filename} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    classes = None
    if isinstance(data, dict) and set(data) in ({"predictions"}, {"predictions", "classes"}):
        classes = data.get("classes")
        data = data["predictions"]
        if classes is not None and not (
            isinstance(classes, list) and all(isinstance(c, str) for c in classes)
        ):
            raise SieveError(f"{filename}: 'classes' must be a list of class names")
    if not isinstance(data, dict) or not data:
        raise SieveError(
            f"{filename} is not a predictions JSON: expected an object keyed by file name, "
            'like {"cats/001.png": {"probabilities": [0.9, 0.1]}}'
        )
    entries = list(data.items())
    for name, entry in entries:
        if not isinstance(entry, dict):
            raise SieveError(f"{filename}, {name!r}: expected an object with 'probabilities'")
    names = [_name(name, f"{filename}, {name!r}") for name, _ in entries]
    _check_unique(names, [repr(name) for name, _ in entries], filename)
    if any("boxes" in entry for _, entry in entries):
        return _json_detections(entries, names, classes, filename, logits)
    rows = [
        _field(entry, ("probabilities", "class_probabilities"), name, filename)
        for name, entry in entries
    ]
    values = _matrix(rows, filename, lambda i: repr(entries[i][0]), "class probabilities")
    classes = _classes(classes, values.shape[1], filename)
    probabilities, were_logits = to_probabilities(
        values, logits, lambda row: f"{filename}, {entries[row][0]!r}"
    )
    return Predictions(CLASSIFICATION, names, classes, were_logits, probabilities=probabilities)


def _json_detections(entries, names, classes, filename: str, logits: bool | None) -> Predictions:
    image, boxes, probabilities, objectness, where = [], [], [], [], []
    for index, (name, entry) in enumerate(entries):
        if "boxes" not in entry:
            raise SieveError(f"{filename}, {name!r}: detection predictions need 'boxes'")
        found = entry["boxes"]
        probs = _field(entry, ("probabilities", "class_probabilities"), name, filename)
        objects = entry.get("objectness", entry.get("object_probabilities"))
        if objects is None and isinstance(found, list):
            objects = [1.0] * len(found)
        for key, value in (("boxes", found), ("probabilities", probs), ("objectness", objects)):
            if not isinstance(value, list) or len(value) != len(found):
                raise SieveError(
                    f"{filename}, {name!r}: {key!r} must be a list with one entry per box"
                )
        image.extend([index] * len(found))
        boxes.extend(found)
        probabilities.extend(probs)
        objectness.extend(objects)
        where.extend(f"{name!r}, box {box + 1}" for box in range(len(found)))
    locate = where.__getitem__
    box_array = _matrix(boxes, filename, locate, "boxes", width=4) if boxes else np.zeros((0, 4))
    width = len(classes) if classes else None
    values = _matrix(probabilities, filename, locate, "class probabilities") if boxes else None
    classes = _classes(classes, values.shape[1] if values is not None else width or 1, filename)
    if values is None:
        values = np.zeros((0, len(classes)))
    object_array = _matrix([[value] for value in objectness], filename, locate, "objectness")
    bad = np.flatnonzero((object_array < 0) | (object_array > 1))
    if len(bad):
        raise SieveError(f"{filename}, {where[int(bad[0])]}: objectness must lie in [0, 1]")
    converted, were_logits = to_probabilities(
        values, logits, lambda row: f"{filename}, {where[row]}"
    )
    detections = Detections(
        count=len(entries),
        image=np.asarray(image, dtype=np.int64),
        boxes=box_array.astype(np.float32),
        probabilities=converted,
        objectness=object_array.reshape(-1).astype(np.float32),
    )
    return Predictions(DETECTION, names, classes, were_logits, detections=detections)


def _field(entry: dict[str, Any], keys: tuple[str, ...], name: str, filename: str) -> Any:
    for key in keys:
        if key in entry:
            return entry[key]
    raise SieveError(f"{filename}, {name!r}: no 'probabilities'")


def _matrix(
    rows: list[Any], filename: str, where: Callable[[int], str], what: str, width: int | None = None
) -> np.ndarray:
    """Rows of numbers of one length as an array; a readable error for the first bad row."""
    expected = width
    for index, row in enumerate(rows):
        if not isinstance(row, list) or not all(_is_number(value) for value in row):
            raise SieveError(f"{filename}, {where(index)}: {what} must be a list of numbers")
        if expected is None:
            expected = len(row)
        if len(row) != expected or not row:
            raise SieveError(
                f"{filename}, {where(index)}: {len(row)} {what}, expected {expected or 'some'}"
            )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), expected or 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _classes(classes: list[str] | None, count: int, filename: str) -> list[str]:
    if classes is None:
        return [f"class_{i}" for i in range(count)]
    if len(classes) != count:
        raise SieveError(f"{filename}: {len(classes)} class names for {count} probabilities")
    _check_classes(classes, filename)
    return classes


def _check_classes(classes: list[str], filename: str) -> None:
    if not all(classes):
        raise SieveError(f"{filename}: a class column has no name")
    if len(set(classes)) != len(classes):
        raise SieveError(f"{filename}: class names repeat ({', '.join(classes)})")


def _name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not normalise_name(name):
        raise SieveError(f"{where}: the file name is empty")
    return normalise_name(name)


def _check_unique(names: list[str], places: list[str], filename: str) -> None:
    first: dict[str, str] = {}
    for name, place in zip(names, places, strict=True):
        if name in first:
            raise SieveError(
                f"{filename}: {name!r} appears twice ({first[name]} and {place}); keep one"
            )
        first[name] = place
