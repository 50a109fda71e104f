"""The selection's export dialog writes the images with their objects as YOLO (and refuses
when the project has no annotations)."""

from __future__ import annotations

import numpy as np
import yaml
from PySide6.QtCore import Qt

from app.core.data.annotations.importing import import_annotations_job
from app.core.jobs import run_job
from app.core.store.selections import save_selection
from app.ui.selection.export_dialog import ExportDialog
from tests.annotation_files import indexed_project, write_coco


def _export(qtbot, dialog: ExportDialog, fmt: str, out) -> None:
    dialog.set_format(fmt)
    dialog.destination.setText(str(out))
    with qtbot.waitSignal(
        dialog.runner.busy_changed, timeout=20_000, check_params_cb=lambda busy: not busy
    ):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)


def test_the_export_dialog_writes_yolo_with_labels(qtbot, tmp_path) -> None:
    with indexed_project(tmp_path / "data") as project:
        ids = np.array([row.id for row in project.samples()])
        save_selection(project, "picked", ids, {"n": len(ids)}, np.ones(len(ids)))
        project_dir = project.path
    dialog = ExportDialog(project_dir, "picked", len(ids))
    qtbot.addWidget(dialog)
    _export(qtbot, dialog, "yolo", tmp_path / "none")
    assert "no annotations to export" in dialog.progress.label.text()
    with indexed_project(tmp_path / "data") as project:
        run_job(import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco"))
    dialog.split.setChecked(True)
    _export(qtbot, dialog, "yolo", tmp_path / "yolo")
    config = yaml.safe_load((tmp_path / "yolo/data.yaml").read_text())
    assert config["names"] == {0: "dog", 1: "cat", 2: "bird"} and config["val"] == "images/val"
    assert len(list((tmp_path / "yolo/labels").rglob("*.txt"))) == 4
    assert "labels/train" in dialog.progress.label.text()
