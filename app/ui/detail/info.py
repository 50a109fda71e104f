"""The information panel beside the image: paths, size, label, tags, scores, frame position."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from app.core.store.metadata import sample_metadata
from app.core.store.project import Project, SampleRow

FIELDS = ("name", "path", "absolute", "size", "label", "frame", "status", "tags", "scores")
_TITLES = {
    "name": "Name",
    "path": "Path",
    "absolute": "Absolute path",
    "size": "Size",
    "label": "Label",
    "frame": "Frame",
    "status": "Status",
    "tags": "Tags",
    "scores": "Scores",
}


def format_value(value: object) -> str:
    """Scores with four significant digits, everything else as it is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def sample_fields(project: Project, row: SampleRow) -> dict[str, str]:
    """The text of each field for ``row`` ("" hides a field)."""
    absolute = Path(project.dataset_root) / row.relpath
    scores = sample_metadata(project, row.id)
    frame = ""
    if row.frame is not None:
        of = f" of {row.n_frames}" if row.n_frames else ""
        frame = f"frame {row.frame}{of} ({row.relpath})"
    return {
        "name": Path(row.name).name,
        "path": row.name,
        "absolute": str(absolute),
        "size": f"{row.width} × {row.height}" if row.width and row.height else "unknown",
        "label": row.label or "(none)",
        "frame": frame,
        "status": "" if row.status == "ok" else f"{row.status}: {row.reason or 'unreadable'}",
        "tags": ", ".join(project.tags_of(row.id)) or "(none)",
        "scores": "\n".join(f"{key}: {format_value(value)}" for key, value in scores.items())
        or "(none)",
    }


class InfoPanel(QWidget):
    """One selectable label per field; fields without a value are hidden."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = QFormLayout(self)
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for key in FIELDS:
            label = QLabel()
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            title = QLabel(_TITLES[key])
            font = title.font()
            font.setBold(True)
            title.setFont(font)
            self._form.addRow(title, label)
            self.fields[key] = label
        self.show_sample(None, None)

    def show_sample(self, project: Project | None, row: SampleRow | None) -> None:
        """Show ``row``'s information, or nothing."""
        values = {} if project is None or row is None else sample_fields(project, row)
        for key, label in self.fields.items():
            text = values.get(key, "")
            label.setText(text)
            self._form.setRowVisible(label, bool(text))

    def text(self, key: str) -> str:
        """The text shown for one field."""
        return self.fields[key].text()
