"""Pascal VOC xml: one ``<annotation>`` file per image with its ``<filename>``, ``<size>`` and
``<object>`` elements (``<name>``, ``<bndbox>`` with ``xmin ymin xmax ymax`` in pixels).

Parsed with the standard library's ElementTree (which reports the line and column of broken
xml). The image a file describes is its ``<filename>`` in the xml file's folder (relative to the
source folder), so ``Annotations/train/a.xml`` naming ``a.jpg`` matches ``train/a.jpg``, else
``a.jpg``. Classes are the object names, sorted.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

from app.core.data.annotations.parsed import ImageEntry, ParsedAnnotations, Problem
from app.core.errors import SieveError

MAX_PROBLEMS = 1000


def read_voc(folder: str | Path) -> ParsedAnnotations:
    """Read every ``.xml`` file under ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SieveError(f"{folder}: not a folder (a VOC source is a folder of xml files)")
    files = _xml_files(folder)
    if not files:
        raise SieveError(f"{folder}: no VOC xml files found")
    parsed = ParsedAnnotations("voc", str(folder))
    objects: list[tuple[int, str, tuple[float, float, float, float], int, float | None]] = []
    for path in files:
        if len(parsed.problems) >= MAX_PROBLEMS:
            break
        _read_file(path, path.relative_to(folder), parsed, objects)
    parsed.classes = sorted({name for _, name, _, _, _ in objects})
    codes = {name: code for code, name in enumerate(parsed.classes)}
    for image, name, box, number, score in objects:
        parsed.add(image, codes[name], box, number, score)
    parsed.describe = _describer(parsed)
    return parsed


def _xml_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(top) / n for n in sorted(names) if n.lower().endswith(".xml"))
    return found


def _read_file(
    path: Path,
    relative: Path,
    parsed: ParsedAnnotations,
    objects: list[tuple[int, str, tuple[float, float, float, float], int, float | None]],
) -> None:
    shown = relative.as_posix()
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        line, column = error.position
        parsed.problems.append(Problem(f"{shown}:{line}", f"broken xml (column {column + 1})"))
        return
    except OSError as error:
        parsed.problems.append(Problem(shown, f"cannot read: {error.strerror or error}"))
        return
    if root.tag != "annotation":
        parsed.problems.append(Problem(shown, f"<{root.tag}> is not a VOC <annotation>"))
        return
    filename = (root.findtext("filename") or "").strip()
    if not filename:
        parsed.problems.append(Problem(shown, "no <filename>"))
        return
    size = _size(root)
    name = (relative.parent / filename).as_posix() if relative.parent != Path() else filename
    image = len(parsed.images)
    parsed.images.append(ImageEntry(name, shown, size))
    for number, element in enumerate(root.iter("object"), start=1):
        where = f"{shown}: <object> {number}"
        try:
            label, box, score = _object(element)
        except ValueError as error:
            parsed.problems.append(Problem(where, str(error)))
            continue
        objects.append((image, label, box, number, score))


def _size(root: ElementTree.Element) -> tuple[int, int] | None:
    try:
        width = int(float(root.findtext("size/width") or ""))
        height = int(float(root.findtext("size/height") or ""))
    except ValueError:
        return None
    return (width, height) if width > 0 and height > 0 else None


def _object(
    element: ElementTree.Element,
) -> tuple[str, tuple[float, float, float, float], float | None]:
    label = (element.findtext("name") or "").strip()
    if not label:
        raise ValueError("no <name>")
    box = element.find("bndbox")
    if box is None:
        raise ValueError(f"{label}: no <bndbox>")
    try:
        xmin, ymin, xmax, ymax = (float(box.findtext(k) or "") for k in _CORNERS)
    except ValueError:
        raise ValueError(f"{label}: <bndbox> needs numbers xmin, ymin, xmax, ymax") from None
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise ValueError(f"{label}: <bndbox> coordinates must be finite")
    if xmax < xmin or ymax < ymin:
        raise ValueError(f"{label}: <bndbox> has a negative size (xmax < xmin or ymax < ymin)")
    score_text = element.findtext("score")
    try:
        score = float(score_text) if score_text is not None else None
    except ValueError:
        raise ValueError(f"{label}: <score> is not a number") from None
    return label, (xmin, ymin, xmax - xmin, ymax - ymin), score


_CORNERS = ("xmin", "ymin", "xmax", "ymax")


def _describer(parsed: ParsedAnnotations) -> Callable[[int, int], str]:
    def describe(image: int, number: int) -> str:
        return f"{parsed.images[image].where}: <object> {number}"

    return describe
