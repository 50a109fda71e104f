"""COCO json: a dataset file (``images``, ``annotations``, ``categories``) or a results file (a
list of ``{image_id, category_id, bbox, score}``, read against the dataset file naming its ids).

The json is parsed with the standard library so that a broken file is reported with its line
and column (pycocotools' loader only re-raises), the ``annotations`` array one element at a
time (:mod:`.json_stream`): a million boxes are never a million dicts at once. RLE masks go
through ``pycocotools.mask``: uncompressed counts are compressed, a missing ``bbox`` is taken
from the mask. Classes are the category names in category-id order.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.data.annotations.json_stream import (
    check_end,
    first_character,
    iter_array,
    read_text,
    scan_object,
    skip_array,
)
from app.core.data.annotations.parsed import ImageEntry, ParsedAnnotations, Problem
from app.core.errors import SieveError

MAX_PROBLEMS = 1000


def read_coco(path: str | Path, reference: str | Path | None = None) -> ParsedAnnotations:
    """Read a COCO dataset json, or a results json (``reference``: the dataset json of its ids).

    The garbage collector is paused meanwhile: the parsed json holds millions of containers
    that live until the end, and its full passes over them would take most of the time.
    """
    with _collector_paused():
        return _read_coco(Path(path), reference)


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_coco(path: Path, reference: str | Path | None) -> ParsedAnnotations:
    text = read_text(path)
    parsed = ParsedAnnotations("coco", str(path))
    try:
        if first_character(text) == "[":
            check_end(text, skip_array(text, _skip_to(text, "[")))
            if reference is None:
                raise SieveError(
                    f"{path} is a COCO results list (image and category ids only): give the "
                    "COCO dataset json that names its images and categories"
                )
            ref, _ = _scan(Path(reference))
            categories = _categories(ref, str(reference), parsed)
            images = _images(ref, str(reference), parsed)
            key, offset = "results", _skip_to(text, "[")
        else:
            data, offset = _scan_text(text, path)
            categories = _categories(data, str(path), parsed)
            images = _images(data, str(path), parsed)
            key = "annotations"
            if offset is None and data.get(key) not in (None, []):
                parsed.problems.append(Problem(path.name, f"'{key}' is not a list"))
                return parsed
        parsed.describe = _describer(path.name, key)
        entries = iter_array(text, offset) if offset is not None else iter(())
        del text  # the iterator keeps what it needs
        _annotations(entries, images, categories, parsed, f"{path.name}: {key}")
    except json.JSONDecodeError as error:
        raise _broken(path, error) from error
    return parsed


def _skip_to(text: str, character: str) -> int:
    return text.index(character)


def _scan(path: Path) -> tuple[dict[str, Any], int | None]:
    """A COCO dataset json's members but its annotations (only checked)."""
    return _scan_text(read_text(path), path)


def _scan_text(text: str, path: Path) -> tuple[dict[str, Any], int | None]:
    if first_character(text) != "{":
        raise SieveError(f"{path}: not COCO json (an object with images, or a results list)")
    try:
        return scan_object(text, "annotations")
    except json.JSONDecodeError as error:
        raise _broken(path, error) from error


def _broken(path: Path, error: json.JSONDecodeError) -> SieveError:
    return SieveError(
        f"{path}: line {error.lineno} column {error.colno}: broken json ({error.msg}), "
        "nothing imported"
    )


_NUMBERS = (int, float)


def _annotations(
    annotations: Iterable[Any],
    images: dict[Any, int],
    categories: dict[int, int],
    parsed: ParsedAnnotations,
    where: str,
) -> None:
    """Add every annotation: plain boxes on a fast path (1M boxes take seconds), anything
    else (masks, odd values, errors) through :func:`_annotation`'s full checks."""
    image_index, class_index = parsed.image_index.append, parsed.class_index.append
    boxes, scores = parsed.boxes.extend, parsed.scores.append
    crowds, locators = parsed.iscrowd.append, parsed.locators.append
    nan = float("nan")
    for index, entry in enumerate(annotations):
        try:
            image = images[entry["image_id"]]
            label = categories[entry["category_id"]]
            box = entry["bbox"]
            crowd = entry.get("iscrowd", 0)
            score = entry.get("score")
            plain = not entry.get("segmentation") and type(box) is list and len(box) == 4
        except (KeyError, TypeError, AttributeError):
            plain = False
        if plain and (crowd == 0 or crowd == 1) and type(crowd) is not float:
            x, y, w, h = box
            if (
                type(x) in _NUMBERS
                and type(y) in _NUMBERS
                and type(w) in _NUMBERS
                and type(h) in _NUMBERS
                and w >= 0
                and h >= 0
                and math.isfinite(x + y + w + h)
                and (score is None or (type(score) in _NUMBERS and math.isfinite(score)))
            ):
                image_index(image)
                class_index(label)
                boxes((x, y, w, h))
                scores(nan if score is None else score)
                crowds(1 if crowd else 0)
                locators(index)
                continue
        if len(parsed.problems) >= MAX_PROBLEMS:
            break
        _annotation(entry, index, images, categories, parsed, f"{where}[{index}]")


def _describer(filename: str, key: str) -> Callable[[int, int], str]:
    def describe(image: int, locator: int) -> str:
        return f"{filename}: {key}[{locator}]"

    return describe


def _categories(data: dict, filename: str, parsed: ParsedAnnotations) -> dict[int, int]:
    """Category id -> class index; ``parsed.classes`` gets the names in id order."""
    entries = data.get("categories")
    if not isinstance(entries, list):
        parsed.problems.append(Problem(Path(filename).name, "no 'categories' list"))
        return {}
    names: dict[int, str] = {}
    for index, entry in enumerate(entries):
        where = f"{Path(filename).name}: categories[{index}]"
        category_id = entry.get("id") if isinstance(entry, dict) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        if not _is_int(category_id) or not isinstance(name, str) or not name:
            parsed.problems.append(Problem(where, "a category needs an integer id and a name"))
        elif category_id in names:
            parsed.problems.append(Problem(where, f"category id {category_id} given twice"))
        elif name in names.values():
            parsed.problems.append(Problem(where, f"category name {name!r} given twice"))
        else:
            names[category_id] = name
    order = sorted(names)
    parsed.classes = [names[i] for i in order]
    return {category_id: position for position, category_id in enumerate(order)}


def _images(data: dict, filename: str, parsed: ParsedAnnotations) -> dict[Any, int]:
    """Image id -> index into ``parsed.images`` (which gets every image listed)."""
    entries = data.get("images")
    name = Path(filename).name
    if not isinstance(entries, list):
        parsed.problems.append(Problem(name, "no 'images' list"))
        return {}
    ids: dict[Any, int] = {}
    seen: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        where = f"{name}: images[{index}]"
        if not isinstance(entry, dict):
            parsed.problems.append(Problem(where, "an image must be an object"))
            continue
        image_id, file_name = entry.get("id"), entry.get("file_name")
        if not isinstance(image_id, (int, str)) or isinstance(image_id, bool):
            parsed.problems.append(Problem(where, "an image needs an id"))
            continue
        if not isinstance(file_name, str) or not file_name:
            parsed.problems.append(Problem(where, f"image id {image_id} has no file_name"))
            continue
        if image_id in ids:
            parsed.problems.append(Problem(where, f"image id {image_id} given twice"))
            continue
        if file_name in seen:
            parsed.problems.append(
                Problem(where, f"{file_name} listed twice (ids {seen[file_name]} and {image_id})")
            )
            continue
        width, height = entry.get("width"), entry.get("height")
        size = (int(width), int(height)) if _is_int(width) and _is_int(height) else None
        seen[file_name] = image_id
        ids[image_id] = len(parsed.images)
        parsed.images.append(ImageEntry(file_name, f"{where} ({file_name})", size))
    return ids


def _annotation(
    entry: Any,
    index: int,
    images: dict[Any, int],
    categories: dict[int, int],
    parsed: ParsedAnnotations,
    where: str,
) -> None:
    """Check one annotation and add it to ``parsed`` (or add a problem)."""
    if not isinstance(entry, dict):
        parsed.problems.append(Problem(where, "an annotation must be an object"))
        return
    if "id" in entry:
        where = f"{where} (id {entry['id']})"
    image = images.get(entry.get("image_id"))
    if image is None:
        parsed.problems.append(Problem(where, f"unknown image_id {entry.get('image_id')!r}"))
        return
    label = categories.get(entry.get("category_id"))
    if label is None:
        parsed.problems.append(Problem(where, f"unknown category_id {entry.get('category_id')!r}"))
        return
    score = entry.get("score")
    if score is not None and not _is_number(score):
        parsed.problems.append(Problem(where, f"score {score!r} is not a number"))
        return
    try:
        mask = _mask(entry.get("segmentation"))
        box = _box(entry.get("bbox"), mask)
    except ValueError as error:
        parsed.problems.append(Problem(where, str(error)))
        return
    crowd = entry.get("iscrowd", 0)
    if crowd not in (0, 1, True, False):
        parsed.problems.append(Problem(where, f"iscrowd {crowd!r} is not 0 or 1"))
        return
    parsed.add(image, label, box, index, score, bool(crowd), mask)


def _box(value: Any, mask: dict[str, Any] | None) -> tuple[float, float, float, float]:
    if value is None or (isinstance(value, list) and not value and mask is not None):
        if mask is None:
            raise ValueError("no bbox and no segmentation")
        return _mask_box(mask)
    if not isinstance(value, list) or len(value) != 4 or not all(map(_is_number, value)):
        raise ValueError(f"bbox {value!r} is not four numbers [x, y, width, height]")
    x, y, w, h = (float(v) for v in value)
    if w < 0 or h < 0:
        raise ValueError(f"bbox {value!r} has a negative size")
    return (x, y, w, h)


def _mask(value: Any) -> dict[str, Any] | None:
    """A COCO segmentation as Sieve's mask (polygons, or compressed RLE); None when absent."""
    if value is None or value == []:
        return None
    if isinstance(value, list):
        polygons = []
        for polygon in value:
            if (
                not isinstance(polygon, list)
                or len(polygon) < 6
                or len(polygon) % 2
                or not all(map(_is_number, polygon))
            ):
                raise ValueError("a segmentation polygon must be a list of at least 3 x, y pairs")
            polygons.append([float(v) for v in polygon])
        return {"polygons": polygons}
    if isinstance(value, dict):
        return {"rle": _rle(value)}
    raise ValueError("segmentation must be a list of polygons or an RLE object")


def _rle(value: dict[str, Any]) -> dict[str, Any]:
    size, counts = value.get("size"), value.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v >= 0 for v in size)):
        raise ValueError("an RLE segmentation needs size [height, width]")
    height, width = size
    if isinstance(counts, list):
        if not all(_is_int(v) and v >= 0 for v in counts) or sum(counts) != height * width:
            raise ValueError(
                f"RLE counts must be non-negative integers adding up to {height} x {width}"
            )
        from pycocotools import mask as mask_utils

        counts = mask_utils.frPyObjects({"size": size, "counts": counts}, height, width)["counts"]
    elif not isinstance(counts, (str, bytes)):
        raise ValueError("RLE counts must be a list of integers or a compressed string")
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    try:
        _rle_area({"size": size, "counts": counts})
    except Exception as error:  # pycocotools raises bare exceptions on garbage
        raise ValueError(f"RLE counts cannot be decoded ({error})") from error
    return {"size": [height, width], "counts": counts}


def _rle_area(rle: dict[str, Any]) -> int:
    from pycocotools import mask as mask_utils

    return int(mask_utils.area({"size": rle["size"], "counts": rle["counts"].encode("ascii")}))


def _mask_box(mask: dict[str, Any]) -> tuple[float, float, float, float]:
    """The box around a mask (polygons or RLE)."""
    if "polygons" in mask:
        xs = [v for polygon in mask["polygons"] for v in polygon[0::2]]
        ys = [v for polygon in mask["polygons"] for v in polygon[1::2]]
        return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    from pycocotools import mask as mask_utils

    rle = mask["rle"]
    box = mask_utils.toBbox({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
