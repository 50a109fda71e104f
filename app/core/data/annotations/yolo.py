"""YOLO txt labels: one file per image, one object per line, coordinates as fractions of the
image size.

A line is ``class cx cy w h`` (a box), ``class cx cy w h score`` (a prediction), or ``class x1
y1 x2 y2 x3 y3 ...`` (a segment: a polygon of at least 3 points; its box is its bounds). The
folder is either the Ultralytics layout (``data.yaml`` with ``names`` as a list or a dict, label
files under ``labels/``) or a labels folder mirroring the images, its class names in
``classes.txt`` (or ``data.yaml``) in the folder or beside it. A label file names its image by
its path relative to the folder without extension, with its ``labels`` folder read as
``images`` (``labels/train/a.txt`` -> ``images/train/a``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from app.core.data.annotations.parsed import ImageEntry, ParsedAnnotations, Problem
from app.core.errors import SieveError

NAME_FILES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
CLASSES_FILE = "classes.txt"
TOLERANCE = 0.01  # a normalised coordinate may stray this far outside [0, 1]
MAX_PROBLEMS = 1000


def read_yolo(folder: str | Path, classes: Sequence[str] | None = None) -> ParsedAnnotations:
    """Read a YOLO folder (``classes``: the class names, when the folder has no name file)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SieveError(f"{folder}: not a folder (a YOLO source is a folder of txt labels)")
    parsed = ParsedAnnotations("yolo", str(folder), normalized=True, stems=True)
    parsed.classes = list(classes) if classes is not None else class_names(folder)
    files = label_files(folder)
    if not files:
        raise SieveError(f"{folder}: no YOLO label files (.txt) found")
    for path in files:
        if len(parsed.problems) >= MAX_PROBLEMS:
            break
        relative = path.relative_to(folder)
        image = len(parsed.images)
        parsed.images.append(ImageEntry(_image_stem(relative), relative.as_posix()))
        _read_file(path, relative.as_posix(), image, parsed)
    parsed.describe = _describer(parsed)
    return parsed


def class_names(folder: Path) -> list[str]:
    """Class names from ``data.yaml`` (list or dict) or ``classes.txt``, here or one folder up."""
    for place in (folder, folder.parent):
        for name in NAME_FILES:
            if (place / name).is_file():
                return _yaml_names(place / name)
        if (place / CLASSES_FILE).is_file():
            return _classes_txt(place / CLASSES_FILE)
    raise SieveError(
        f"{folder}: no class names: add a data.yaml with 'names' or a classes.txt (one name "
        "per line) to the folder"
    )


def label_files(folder: Path) -> list[Path]:
    """The label files: the .txt files under a ``labels`` folder if there is one, else all of
    them (less ``classes.txt``), in path order."""
    found: list[Path] = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(top) / n for n in sorted(names) if n.endswith(".txt") and n != CLASSES_FILE
        )
    under_labels = [p for p in found if "labels" in p.relative_to(folder).parts[:-1]]
    return under_labels or found


def _image_stem(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if "labels" in parts[:-1]:
        parts[parts.index("labels")] = "images"
    return "/".join(parts)


def _yaml_names(path: Path) -> list[str]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f": line {mark.line + 1}" if mark is not None else ""
        raise SieveError(f"{path}{line}: broken yaml, nothing imported") from error
    except (OSError, UnicodeDecodeError) as error:
        raise SieveError(f"cannot read {path}: {error}") from error
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list) and all(isinstance(n, (str, int)) for n in names):
        return [str(n) for n in names]
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        keys = sorted(names)
        if keys != list(range(len(keys))):
            raise SieveError(f"{path}: 'names' ids must be 0, 1, 2, ... without gaps")
        return [str(names[k]) for k in keys]
    raise SieveError(f"{path}: no 'names' list or {{id: name}} mapping, nothing imported")


def _classes_txt(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SieveError(f"cannot read {path}: {error}") from error
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise SieveError(f"{path}: no class names in it")
    return names


def _read_file(path: Path, shown: str, image: int, parsed: ParsedAnnotations) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        parsed.problems.append(Problem(shown, f"cannot read: {error}"))
        return
    n_classes = len(parsed.classes)
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{shown}:{number}"
        problem = _line(fields, n_classes, image, number, parsed)
        if problem:
            parsed.problems.append(Problem(where, problem))
            if len(parsed.problems) >= MAX_PROBLEMS:
                return


def _line(
    fields: list[str], n_classes: int, image: int, number: int, parsed: ParsedAnnotations
) -> str | None:
    """Add the object of one line; the problem with it, if any."""
    try:
        label = int(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        return f"not numbers: {' '.join(fields)[:60]!r}"
    if not all(math.isfinite(v) for v in values):
        return "a coordinate is not finite"
    if not 0 <= label < n_classes:
        return f"unknown class id {label} (the names give {n_classes} classes)"
    score = None
    mask = None
    if len(values) in (4, 5):
        cx, cy, w, h = values[:4]
        score = values[4] if len(values) == 5 else None
        if w < 0 or h < 0:
            return f"negative size {w:g} x {h:g}"
        box = (cx - w / 2, cy - h / 2, w, h)
    elif len(values) >= 6 and len(values) % 2 == 0:
        xs, ys = values[0::2], values[1::2]
        box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        mask = {"polygons": [values]}
    else:
        return (
            f"{len(fields)} values: expected 'class cx cy w h' (+ score) or a polygon "
            "'class x1 y1 x2 y2 x3 y3 ...'"
        )
    x, y, w, h = box
    if x < -TOLERANCE or y < -TOLERANCE or x + w > 1 + TOLERANCE or y + h > 1 + TOLERANCE:
        return "box outside the image (coordinates must be fractions between 0 and 1)"
    parsed.add(image, label, box, number, score, False, mask)
    return None


def _describer(parsed: ParsedAnnotations) -> Callable[[int, int], str]:
    def describe(image: int, line: int) -> str:
        return f"{parsed.images[image].where}:{line}"

    return describe
