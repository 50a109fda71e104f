"""Boxes and masks over the detail image: class colours, labels (with the score of a
prediction), a checkbox per annotation source and a class legend.

The objects of the shown sample are read on a worker thread with its own :class:`Project`
(RLE masks are decoded there too, with pycocotools); the items are children of one root item
in the image's scene, in image pixels, so they follow the view's fit and zoom. Box outlines and
labels keep their screen size at any zoom. Ground-truth boxes are solid, predictions dashed.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QKeySequence,
    QPainter,
    QPen,
    QPixmap,
    QPolygonF,
    QShortcut,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QStyleOptionGraphicsItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SieveError
from app.core.store.objects import AnnotationSource, ObjectRow, objects_of, sources
from app.core.store.project import Project
from app.gui_model.class_colours import class_rgb, register
from app.ui.detail.image_view import ImageView
from app.ui.objects.filter_button import swatch

log = logging.getLogger("sieve")

MASK_ALPHA = 90
BOX_WIDTH = 2.0
NO_OBJECTS = "No annotations on this sample"
LEGEND_HEIGHT = 180


@dataclass
class SampleObjects:
    """What the worker read for one sample."""

    sample_id: int
    size: tuple[int, int]  # the sample's width and height in pixels (0, 0 when unknown)
    sources: list[AnnotationSource]
    objects: list[ObjectRow]
    rle_layers: dict[int, QImage] = field(default_factory=dict)  # source id -> its RLE masks


def decode_rle(mask: dict[str, Any]) -> np.ndarray:
    """A COCO RLE (compressed string or uncompressed counts) as an h x w bool array."""
    from pycocotools import mask as coco_mask

    rle = dict(mask["rle"])
    height, width = (int(v) for v in rle["size"])
    if isinstance(rle["counts"], list):
        rle = coco_mask.frPyObjects(rle, height, width)
    elif isinstance(rle["counts"], str):
        rle["counts"] = rle["counts"].encode("ascii")
    return coco_mask.decode(rle).astype(bool)


def mask_layer(objects: list[ObjectRow], alpha: int = MASK_ALPHA) -> QImage | None:
    """One translucent image of the objects' RLE masks, each in its class colour (one image per
    source, not per object: a hundred masks on a 12 MP photo stay one 48 MB layer). Masks whose
    size differs from the first one's, or that cannot be decoded, are left out (logged)."""
    rgba: np.ndarray | None = None
    for obj in objects:
        try:
            mask = decode_rle(obj.mask or {})
        except (ImportError, KeyError, TypeError, ValueError) as error:
            log.warning("cannot decode the mask of object %s: %s", obj.id, error)
            continue
        if rgba is None:
            rgba = np.zeros((*mask.shape, 4), np.uint8)
        if mask.shape != rgba.shape[:2]:
            log.warning("the mask of object %s is %s, not %s", obj.id, mask.shape, rgba.shape[:2])
            continue
        rgba[mask] = (*class_rgb(obj.label), alpha)
    if rgba is None:
        return None
    height, width = rgba.shape[:2]
    image = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return image.copy()


def read_sample_objects(project_dir: Path, sample_id: int) -> SampleObjects:
    """On a worker: the sample's size, the sources and the sample's objects, RLE masks decoded."""
    with Project.open(project_dir) as project:
        row = project.samples_by_id([sample_id]).get(sample_id)
        size = (row.width or 0, row.height or 0) if row is not None else (0, 0)
        found = SampleObjects(sample_id, size, sources(project), objects_of(project, sample_id))
    register(name for source in found.sources for name in source.classes)
    for source in found.sources:
        rle = [o for o in found.objects if o.source_id == source.id and o.mask and "rle" in o.mask]
        layer = mask_layer(rle) if rle else None
        if layer is not None:
            found.rle_layers[source.id] = layer
    return found


class LabelItem(QGraphicsItem):
    """A class name (and score) on a filled tag in the class colour, at a constant screen size."""

    def __init__(
        self, text: str, colour: QColor, parent: QGraphicsItem | None = None, below: bool = False
    ) -> None:
        super().__init__(parent)
        self.text, self.colour = text, colour
        self.font = QFont()
        self.font.setPixelSize(12)
        metrics = QFontMetricsF(self.font)
        height = metrics.height() + 2
        top = 0.0 if below else -height
        self._rect = QRectF(0, top, metrics.horizontalAdvance(text) + 6, height)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.fillRect(self._rect, self.colour)
        c = self.colour
        light = 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue() > 140
        painter.setPen(Qt.GlobalColor.black if light else Qt.GlobalColor.white)
        painter.setFont(self.font)
        painter.drawText(self._rect.adjusted(3, 0, -3, 0), Qt.AlignmentFlag.AlignVCenter, self.text)


def _plain_item(parent: QGraphicsItem | None = None) -> QGraphicsRectItem:
    """An invisible item that only groups and transforms its children."""
    item = QGraphicsRectItem(parent)
    item.setPen(Qt.PenStyle.NoPen)
    return item


class ObjectsPanel(QWidget):
    """A checkbox per source and the legend of the classes shown."""

    toggled = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("<b>Annotations</b> (B shows or hides them all)")
        self.empty = QLabel(NO_OBJECTS)
        self.empty.setWordWrap(True)
        self.boxes_layout = QVBoxLayout()
        self.legend = QListWidget()
        self.legend.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.legend.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.checkboxes: dict[str, QCheckBox] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.empty)
        layout.addLayout(self.boxes_layout)
        layout.addWidget(QLabel("Classes"))
        layout.addWidget(self.legend, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.hide()  # until the project turns out to have annotations

    def set_sources(self, counts: list[tuple[AnnotationSource, int]], hidden: set[str]) -> None:
        """One checkbox per source (with its number of objects on this sample)."""
        for box in self.checkboxes.values():
            box.deleteLater()
        self.checkboxes.clear()
        for source, count in counts:
            kind = "ground truth" if source.is_ground_truth else "predictions"
            box = QCheckBox(f"{source.name} ({kind}): {count}")
            box.setChecked(source.name not in hidden)
            box.toggled.connect(partial(self.toggled.emit, source.name))
            self.boxes_layout.addWidget(box)
            self.checkboxes[source.name] = box
        self.empty.setVisible(not any(count for _, count in counts))

    def set_legend(self, counts: dict[str, int]) -> None:
        self.legend.clear()
        for name, count in sorted(counts.items()):
            self.legend.addItem(QListWidgetItem(swatch(name), f"{name}  ({count})"))
        rows = max(1, self.legend.count())
        height = rows * self.legend.sizeHintForRow(0) + 2 * self.legend.frameWidth() + 4
        self.legend.setFixedHeight(min(LEGEND_HEIGHT, max(height, 24)))

    def legend_classes(self) -> list[str]:
        return [self.legend.item(i).text().rsplit("  (", 1)[0] for i in range(self.legend.count())]


class ObjectsOverlay(QObject):
    """Draws the current sample's objects over an :class:`ImageView`; ``panel`` holds the
    per-source toggles and the legend. Call :meth:`show_for` when the image is shown."""

    _answered = Signal(int, object)  # sample id, SampleObjects | None

    def __init__(
        self,
        view: ImageView,
        project_dir: Callable[[], Path | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.view, self.project_dir = view, project_dir
        self.panel = ObjectsPanel()
        self.hidden: set[str] = set()
        self.data: SampleObjects | None = None
        self.root = _plain_item()
        self.root.setZValue(1)
        view.scene().addItem(self.root)
        self.groups: dict[str, QGraphicsRectItem] = {}
        self.boxes: dict[str, list[QGraphicsRectItem]] = {}
        self._wanted: int | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._answered.connect(self._on_answered)
        self.panel.toggled.connect(self.set_source_visible)
        self.toggle_all = QShortcut(QKeySequence("B"), view)
        self.toggle_all.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.toggle_all.activated.connect(lambda: self.root.setVisible(not self.root.isVisible()))

    # ------------------------------------------------------------------- API
    def show_for(self, sample_id: int | None) -> None:
        """Read and draw the objects of ``sample_id`` (None: draw nothing)."""
        self.clear()
        self._wanted = sample_id
        self._pool.clear()
        project_dir = self.project_dir()
        if sample_id is None or project_dir is None:
            return
        self._pool.start(partial(self._read, project_dir, sample_id))

    def clear(self) -> None:
        """Remove every drawn object."""
        self._wanted = None
        self.data = None
        for child in self.root.childItems():
            self.view.scene().removeItem(child)
        self.groups.clear()
        self.boxes.clear()
        self.panel.set_sources([], self.hidden)
        self.panel.set_legend({})

    def set_source_visible(self, name: str, visible: bool) -> None:
        """Show or hide one source's objects (remembered for the next samples)."""
        (self.hidden.discard if visible else self.hidden.add)(name)
        if name in self.groups:
            self.groups[name].setVisible(visible)
        box = self.panel.checkboxes.get(name)
        if box is not None and box.isChecked() != visible:
            box.setChecked(visible)
        self._update_legend()

    def box_items(self, source: str | None = None) -> list[QGraphicsRectItem]:
        """The box items drawn (of one source), shown or not."""
        names = [source] if source is not None else list(self.boxes)
        return [item for name in names for item in self.boxes.get(name, [])]

    def visible_box_items(self) -> list[QGraphicsRectItem]:
        return [item for item in self.box_items() if item.isVisibleTo(None)]

    def shutdown(self) -> None:
        self._wanted = None
        self._pool.clear()
        self._pool.waitForDone()

    # ------------------------------------------------------------ background
    def _read(self, project_dir: Path, sample_id: int) -> None:
        """On the worker thread."""
        if self._wanted != sample_id:
            return
        try:
            found = read_sample_objects(project_dir, sample_id)
        except (SieveError, OSError, sqlite3.Error) as error:
            log.warning("cannot read the objects of sample %s: %s", sample_id, error)
            found = None
        self._answered.emit(sample_id, found)

    @Slot(int, object)
    def _on_answered(self, sample_id: int, found: SampleObjects | None) -> None:
        if sample_id != self._wanted or found is None:
            return
        self.data = found
        self._draw(found)

    # ---------------------------------------------------------------- drawing
    def _draw(self, found: SampleObjects) -> None:
        pixmap = self.view.pixmap()
        width, _height = found.size
        scale = pixmap.width() / width if pixmap is not None and width else 1.0
        self.root.setScale(scale)
        by_source: dict[int, list[ObjectRow]] = {}
        for obj in found.objects:
            by_source.setdefault(obj.source_id, []).append(obj)
        counts = []
        for source in found.sources:
            objects = by_source.get(source.id, [])
            counts.append((source, len(objects)))
            if objects:
                self._draw_source(source, objects, found.rle_layers.get(source.id))
        self.panel.set_sources([(s, n) for s, n in counts], self.hidden)
        self.panel.setVisible(bool(found.sources))
        self._update_legend()

    def _draw_source(
        self, source: AnnotationSource, objects: list[ObjectRow], rle: QImage | None
    ) -> None:
        group = _plain_item(self.root)
        group.setVisible(source.name not in self.hidden)
        self.groups[source.name] = group
        if rle is not None:
            masks = QGraphicsPixmapItem(QPixmap.fromImage(rle), group)
            width = self.data.size[0] if self.data is not None else 0
            if width and rle.width() != width:  # a mask stored at another size than the sample
                masks.setScale(width / rle.width())
        items = self.boxes.setdefault(source.name, [])
        for obj in objects:
            colour = QColor(*class_rgb(obj.label))
            self._draw_polygons(group, obj, colour)
            pen = QPen(colour, BOX_WIDTH)
            pen.setCosmetic(True)
            if not source.is_ground_truth:
                pen.setStyle(Qt.PenStyle.DashLine)
            box = QGraphicsRectItem(QRectF(obj.x, obj.y, obj.w, obj.h), group)
            box.setPen(pen)
            box.setData(0, obj.label)
            box.setToolTip(self._label_text(obj))
            items.append(box)
            below = not source.is_ground_truth  # predictions hang below: both stay readable
            label = LabelItem(self._label_text(obj), colour, group, below)
            label.setPos(QPointF(obj.x, obj.y + obj.h if below else obj.y))

    def _draw_polygons(self, group: QGraphicsItem, obj: ObjectRow, colour: QColor) -> None:
        if obj.mask and "polygons" in obj.mask:
            fill = QColor(colour)
            fill.setAlpha(MASK_ALPHA)
            for flat in obj.mask["polygons"]:
                points = [QPointF(x, y) for x, y in zip(flat[0::2], flat[1::2], strict=False)]
                if len(points) >= 3:
                    polygon = QGraphicsPolygonItem(QPolygonF(points), group)
                    polygon.setBrush(fill)
                    polygon.setPen(Qt.PenStyle.NoPen)

    @staticmethod
    def _label_text(obj: ObjectRow) -> str:
        return obj.label if obj.score is None else f"{obj.label} {obj.score:.2f}"

    def _update_legend(self) -> None:
        counts: dict[str, int] = {}
        if self.data is not None:
            shown = {s.id for s in self.data.sources if s.name not in self.hidden}
            for obj in self.data.objects:
                if obj.source_id in shown:
                    counts[obj.label] = counts.get(obj.label, 0) + 1
        self.panel.set_legend(counts)
