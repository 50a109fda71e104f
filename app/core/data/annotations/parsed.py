"""What a reader returns: objects as compact columns, the files they belong to, and problems.

Readers never hold a Python object per box: boxes, classes, scores and crowd flags are appended
to ``array`` columns; only masks (rare, and variable in size) are kept in a dict by object index.
Each object carries a *locator* (the line of a YOLO file, the id of a COCO annotation, the
number of a VOC ``<object>``) so a later check (a box outside its image) can say where it is.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.errors import SieveError

SHOWN_PROBLEMS = 5


@dataclass(frozen=True, slots=True)
class Problem:
    """A bad entry of an annotation file: where it is (file and line or element) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def problems_error(problems: list[Problem], origin: str) -> SieveError:
    """One line: how many problems ``origin`` has, the first few, and that nothing was imported."""
    shown = "; ".join(str(problem) for problem in problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    rest = f"; ... and {more:,} more" if more > 0 else ""
    count = f"{len(problems):,} problem{'s' if len(problems) != 1 else ''}"
    return SieveError(f"{count} in {origin}, nothing imported: {shown}{rest}")


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """An image the labels talk about: its name as written, and what the labels say of it."""

    name: str  # a relative path or a file name, as the label file gives it
    where: str  # the file (and place in it) the entry comes from
    size: tuple[int, int] | None = None  # (width, height) stated by the labels, if any


@dataclass
class ParsedAnnotations:
    """Objects read from one annotation source, as columns (see the module docstring).

    Boxes are ``x, y, w, h`` in pixels, or in fractions of the image size when ``normalized``
    (YOLO). ``stems``: the image names have no extension (YOLO label files name their image by
    stem only). Polygons in masks follow the boxes' units.
    """

    format: str
    origin: str
    classes: list[str] = field(default_factory=list)
    images: list[ImageEntry] = field(default_factory=list)
    normalized: bool = False
    stems: bool = False
    image_index: array = field(default_factory=lambda: array("q"))
    class_index: array = field(default_factory=lambda: array("q"))
    boxes: array = field(default_factory=lambda: array("d"))  # flat x, y, w, h
    scores: array = field(default_factory=lambda: array("d"))  # NaN where none
    iscrowd: array = field(default_factory=lambda: array("b"))
    locators: array = field(default_factory=lambda: array("q"))
    masks: dict[int, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    describe: Callable[[int, int], str] | None = None  # (image index, locator) -> where

    def __len__(self) -> int:
        return len(self.image_index)

    def add(
        self,
        image: int,
        label: int,
        box: tuple[float, float, float, float],
        locator: int,
        score: float | None = None,
        iscrowd: bool = False,
        mask: dict[str, Any] | None = None,
    ) -> None:
        """Append one object (its image and class are indexes into ``images`` / ``classes``)."""
        if mask is not None:
            self.masks[len(self.image_index)] = mask
        self.image_index.append(image)
        self.class_index.append(label)
        self.boxes.extend(box)
        self.scores.append(float("nan") if score is None else score)
        self.iscrowd.append(1 if iscrowd else 0)
        self.locators.append(locator)

    def box_array(self) -> np.ndarray:
        """The boxes as an N x 4 float64 array (a view on the column)."""
        return np.frombuffer(self.boxes, np.float64).reshape(-1, 4)

    def where(self, position: int) -> str:
        """Where object ``position`` was read, for a message."""
        image = self.image_index[position]
        if self.describe is None:
            return self.images[image].where
        return self.describe(image, self.locators[position])

    def has_scores(self) -> bool:
        return bool(len(self)) and not bool(np.isnan(np.frombuffer(self.scores)).all())

    def raise_problems(self) -> None:
        """Raise the one-line error when the reader found problems."""
        if self.problems:
            raise problems_error(self.problems, self.origin)
