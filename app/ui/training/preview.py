"""The augmentation preview: one sample and the views training would see, via ``render_views``.

Requests are debounced (the last one within ``DEBOUNCE_MS`` wins) and rendered on the GUI
thread: a handful of views of one small image takes milliseconds. The source is squared to the
side the trainer caches (``cache_side``), so the preview matches training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.errors import SieveError
from app.core.ssl.augment import preset, render_views
from app.core.ssl.data import cache_side, square
from app.core.ssl.methods import METHODS
from app.ui.detail.loader import to_qimage

VIEWS = 8
COLUMNS = 4
TILE = 80
DEBOUNCE_MS = 200


@dataclass(frozen=True)
class PreviewRequest:
    method: str
    image_size: int
    augment: dict[str, float]


class AugmentPreview(QWidget):
    """A source image and ``VIEWS`` augmented views; ``rendered`` follows each redraw."""

    rendered = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: Image.Image | None = None
        self._request: PreviewRequest | None = None
        self._seed = 0
        self.render_count = 0
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.render)

        self.source_label = self._tile()
        self.source_caption = QLabel("sample")
        self.source_caption.setWordWrap(True)
        self.source_caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.view_labels = [self._tile() for _ in range(VIEWS)]
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.shuffle_button = QPushButton("Shuffle")
        self.shuffle_button.setToolTip("Draw other random views")
        self.shuffle_button.clicked.connect(self.shuffle)

        source = QHBoxLayout()  # the sample above its views, so the preview fits a narrow dock
        source.addWidget(self.source_label)
        source.addWidget(self.source_caption, 1)
        grid = QGridLayout()
        grid.setSpacing(4)
        for index, label in enumerate(self.view_labels):
            grid.addWidget(label, index // COLUMNS, index % COLUMNS)
        tiles = QVBoxLayout()
        tiles.addLayout(source)
        tiles.addLayout(grid)
        footer = QHBoxLayout()
        footer.addWidget(self.caption, 1)
        footer.addWidget(self.shuffle_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tiles)
        layout.addLayout(footer)
        self._show_empty("No sample to preview: open a project with images.")

    @staticmethod
    def _tile() -> QLabel:
        label = QLabel()
        label.setFixedSize(TILE, TILE)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet("QLabel { background: palette(base); border: 1px solid palette(mid); }")
        return label

    # ------------------------------------------------------------------ inputs
    def set_source(self, image: Image.Image | None, caption: str = "") -> None:
        """The sample to augment (None: nothing to show)."""
        self._image = image
        self.source_caption.setText(caption)
        self.source_caption.setToolTip(caption)
        if image is None:
            self.source_label.clear()
            self._show_empty("No sample to preview: open a project with images.")
            return
        self.source_label.setPixmap(self._fit(QPixmap.fromImage(to_qimage(image))))
        self.schedule()

    def request(self, method: str, image_size: int, augment: dict[str, float]) -> None:
        """Show ``method``'s views at ``image_size`` with ``augment`` overrides (debounced)."""
        self._request = PreviewRequest(method, image_size, dict(augment))
        self.schedule()

    def show_problem(self, text: str) -> None:
        """The settings cannot be previewed (e.g. unreadable augmentation text)."""
        self.timer.stop()
        self._request = None
        self._show_empty(text)

    def schedule(self) -> None:
        self.timer.start()

    def shuffle(self) -> None:
        self._seed += 1
        self.render()

    # ------------------------------------------------------------------ render
    def render(self) -> None:
        """Draw the views now (the debounce timer calls this)."""
        self.timer.stop()
        request, image = self._request, self._image
        if request is None or image is None:
            return
        try:
            views = self._views(request, image)
        except (SieveError, ValueError, KeyError) as error:
            self._show_empty(f"Cannot preview these settings: {error}")
            return
        for label, view in zip(self.view_labels, views, strict=True):
            label.setPixmap(self._fit(QPixmap.fromImage(to_qimage(view))))
            label.setToolTip(f"{view.width} × {view.height} px")
        preset_name = METHODS[request.method].defaults.augment
        self.caption.setText(
            f"{VIEWS} random views as {request.method} trains on them "
            f"({preset_name} augmentations, {request.image_size} px)"
        )
        self.caption.setStyleSheet("")
        self.render_count += 1
        self.rendered.emit()

    def _views(self, request: PreviewRequest, image: Image.Image) -> list[Image.Image]:
        config = preset(
            METHODS[request.method].defaults.augment, request.image_size, **request.augment
        )
        side = min(cache_side(request.image_size), max(image.size))
        source = Image.fromarray(np.ascontiguousarray(square(image, side)))
        return render_views(source, config, n=VIEWS, seed=self._seed)

    def _fit(self, pixmap: QPixmap) -> QPixmap:
        """Scaled to the tile; small views keep their pixels sharp."""
        small = max(pixmap.width(), pixmap.height()) < TILE
        mode = (
            Qt.TransformationMode.FastTransformation
            if small
            else Qt.TransformationMode.SmoothTransformation
        )
        return pixmap.scaled(TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, mode)

    def _show_empty(self, text: str) -> None:
        for label in self.view_labels:
            label.clear()
        self.caption.setText(text)
        self.caption.setStyleSheet("QLabel { color: palette(placeholder-text); }")
