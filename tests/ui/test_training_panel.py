"""The training panel through its widgets: settings, preview, runs, pause and resume, export."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.ssl.config import TrainConfig
from app.core.ssl.methods import METHODS
from app.core.ssl.process_owner import ProcessOwner
from app.core.ssl.runs import train_runs
from app.core.ssl.trainer import train_job
from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.training import TrainingPanel, export_dialog
from app.ui.training import panel as panel_module
from app.ui.training.jobs import train_session_job
from tests.factories import make_dataset

TINY = dict(
    method="simclr",
    backbone="mobilenet_v3_small",
    image_size=16,
    epochs=1,
    batch_size=4,
    device="cpu",
    checkpoint_every=0,
    holdout=0.25,
)
WAIT_MS = 60_000


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A labelled 12-image project of 24 px images."""
    root = make_dataset(tmp_path / "data", {"cats": 6, "dogs": 6}, size=(24, 24))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        return project.path


@pytest.fixture
def trained_dir(project_dir: Path) -> Path:
    """The project with one finished run (trained headless, as the CLI would)."""
    with Project.open(project_dir) as project:
        run_job(train_job(project, TrainConfig(**TINY)))
    return project_dir


@pytest.fixture
def panel(qtbot, project_dir: Path):
    panel = TrainingPanel(AppState())
    qtbot.addWidget(panel)
    panel.resize(1500, 900)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_project(project_dir)
    yield panel
    panel.shutdown()


def fill(panel: TrainingPanel, **values) -> None:
    """Enter ``values`` in the form's widgets."""
    for name, value in values.items():
        editor = panel.form.editors[name]
        if hasattr(editor, "combo") and not editor.combo.isEditable():
            editor.combo.setCurrentIndex(editor.combo.findData(value))
        elif hasattr(editor, "auto"):
            editor.auto.setChecked(value is None)
            if value is not None:
                editor.spin.setValue(value)
        elif hasattr(editor, "spin"):
            editor.spin.setValue(value)
        else:
            editor.set_value(value)


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def runs_of(project_dir: Path):
    with Project.open(project_dir) as project:
        return train_runs(project)


def test_trains_one_epoch_from_the_panel(qtbot, panel, project_dir, screenshots):
    fill(panel, **TINY)
    assert not panel.pause_button.isEnabled() and not panel.resume_button.isEnabled()
    click(qtbot, panel.start_button)
    assert panel.phase == "running" and not panel.form.isEnabled()
    assert panel.pause_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: panel.phase == "idle" and not panel.runner.is_busy, timeout=WAIT_MS)

    assert panel.message.level == "success", panel.message.text()
    panel.curves.redraw()
    assert panel.curves.loss_points() > 0
    assert len(panel.curves.history) == 1
    [record] = runs_of(project_dir)
    assert record.status == "finished"
    assert panel.runs.table.topLevelItemCount() == 1
    item = panel.runs.table.topLevelItem(0)
    assert item.text(1) == "finished" and item.text(4) == "1/1"
    assert panel.runs.current_id() == record.id
    assert panel.runs.embed_button.isEnabled() and panel.runs.export_button.isEnabled()
    assert panel.start_button.isEnabled() and panel.form.isEnabled()
    panel.grab().save(str(screenshots / "training_after_run.png"))


def test_choosing_a_method_shows_its_defaults(panel):
    lr, optimizer = panel.form.editors["lr"], panel.form.editors["optimizer"]
    fill(panel, method="simclr")
    assert lr.shown() == pytest.approx(METHODS["simclr"].defaults.lr)
    assert optimizer.combo.itemText(0) == "auto (sgd)"
    fill(panel, method="dino")
    assert lr.shown() == pytest.approx(METHODS["dino"].defaults.lr)
    assert optimizer.combo.itemText(0) == "auto (adamw)"
    assert "teacher_temp" in panel.form.editors["options"].edit.placeholderText()
    assert panel.form.config().lr is None


def test_the_form_round_trips_a_config(panel):
    entered = dict(
        method="byol",
        backbone="resnet18",
        weights="imagenet",
        image_size=48,
        epochs=7,
        batch_size=32,
        optimizer="adamw",
        lr=0.25,
        warmup_epochs=None,
        weight_decay=1e-06,
        device="cpu",
        precision="fp32",
        seed=3,
        workers=2,
        checkpoint_every=50,
        holdout=0.2,
        knn_k=20,
        knn_temperature=0.07,
        knn_every=2,
    )
    fill(panel, **entered)
    panel.form.editors["options"].edit.setText("projection_dim=64, hidden_dim=256")
    panel.form.editors["augment"].edit.setText("blur_prob=0")
    expected = TrainConfig(
        **entered, options={"projection_dim": 64.0, "hidden_dim": 256.0}, augment={"blur_prob": 0.0}
    )
    assert panel.form.config() == expected
    panel.form.set_config(TrainConfig())
    panel.form.set_config(expected)
    assert panel.form.config() == expected


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("options", "nonsense=1", "unknown option(s) for simclr: nonsense"),
        ("options", "temperature=nan", "method options temperature must be a finite number"),
        ("options", "temperature=0", "option temperature of simclr must be a finite number > 0"),
        ("augment", "blur_prob=3", "blur_prob must be in [0, 1]"),
        ("augment", "blur_prob", "augmentation expects KEY=NUMBER"),
    ],
)
def test_invalid_settings_show_a_message_and_start_nothing(
    qtbot, panel, project_dir, field, text, expected
):
    fill(panel, **TINY)
    if isinstance(text, str):
        panel.form.editors[field].edit.setText(text)
    else:
        fill(panel, **{field: text})
    click(qtbot, panel.start_button)
    assert panel.message.level == "error" and expected in panel.message.text()
    assert panel.message.isVisible() and "Traceback" not in panel.message.text()
    assert not panel.runner.is_busy and panel.phase == "idle"
    assert runs_of(project_dir) == []


def test_spin_boxes_follow_the_declared_ranges(panel):
    editors = panel.form.editors
    assert (editors["image_size"].spin.minimum(), editors["image_size"].spin.maximum()) == (8, 4096)
    assert editors["epochs"].spin.minimum() == 1 and editors["batch_size"].spin.minimum() == 2
    assert 0 < editors["knn_temperature"].spin.minimum() < 1e-9
    assert editors["holdout"].spin.minimum() == 0 and editors["holdout"].spin.maximum() < 1
    lr = editors["lr"].spin
    for text, state in (("nan", "Invalid"), ("inf", "Invalid"), ("0", "Invalid"), ("0.1", "")):
        assert lr.validate(text, 0)[0] == getattr(QValidator.State, state or "Acceptable"), text


def held_after_first_step(times: int = 1):
    """``train_session_job`` whose first ``times`` jobs wait after their first training step
    until the panel cancels them, so a Pause or a shutdown always lands mid-run."""
    holds = [True] * times

    def job(project_dir, session, cancel):
        hold = bool(holds) and holds.pop()
        inner = train_session_job(project_dir, session, cancel)
        try:
            while True:
                try:
                    progress = next(inner)
                except StopIteration as stop:
                    return stop.value
                yield progress
                if hold and progress.stage == "training":
                    hold = False
                    deadline = time.monotonic() + WAIT_MS / 1000
                    while not cancel.cancelled and time.monotonic() < deadline:
                        time.sleep(0.005)
        finally:
            inner.close()

    return job


def test_pause_then_resume_continues_the_same_run(qtbot, panel, project_dir, monkeypatch):
    monkeypatch.setattr(panel_module, "train_session_job", held_after_first_step())
    fill(panel, **{**TINY, "epochs": 2})
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: bool(panel.curves.steps), timeout=WAIT_MS)
    click(qtbot, panel.pause_button)
    qtbot.waitUntil(lambda: panel.phase == "paused", timeout=WAIT_MS)

    [stopped] = runs_of(project_dir)
    assert stopped.status == "stopped" and stopped.metrics["global_step"] == 1
    assert panel.resume_button.isEnabled() and panel.stop_button.isEnabled()
    assert not panel.pause_button.isEnabled() and panel.start_button.isEnabled() is not False
    assert "paused" in panel.message.text()
    steps_before = len(panel.curves.steps)

    click(qtbot, panel.resume_button)
    qtbot.waitUntil(lambda: panel.phase == "idle" and not panel.runner.is_busy, timeout=WAIT_MS)
    [finished] = runs_of(project_dir)
    assert finished.id == stopped.id
    assert finished.status == "finished" and finished.epochs_done == 2
    assert panel.session.run_id == stopped.id
    assert len(panel.curves.steps) > steps_before
    assert f"Run {stopped.id} finished" in panel.message.text()


def test_preview_shows_views_that_follow_the_settings(qtbot, panel):
    preview = panel.preview
    qtbot.waitUntil(lambda: preview.render_count > 0, timeout=WAIT_MS)
    assert all(not label.pixmap().isNull() for label in preview.view_labels)
    assert len(preview.view_labels) == 8
    before = [label.pixmap().toImage() for label in preview.view_labels]

    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        panel.form.editors["augment"].edit.setText("grayscale_prob=1, hflip_prob=0")
    after = [label.pixmap().toImage() for label in preview.view_labels]
    assert all(not image.isNull() for image in after)
    assert any(a != b for a, b in zip(before, after, strict=True))
    pixel = after[0].pixelColor(after[0].width() // 2, after[0].height() // 2)
    assert pixel.red() == pixel.green() == pixel.blue()

    with qtbot.waitSignal(preview.rendered, timeout=WAIT_MS):
        fill(panel, method="dino")
    assert "dino" in preview.caption.text()

    panel.form.editors["augment"].edit.setText("grayscale_prob")
    assert "expects KEY=NUMBER" in preview.caption.text()


def test_preview_follows_the_current_sample(qtbot, project_dir):
    state = AppState()
    panel = TrainingPanel(state)
    qtbot.addWidget(panel)
    panel.set_project(project_dir)
    with Project.open(project_dir) as project:
        last = project.samples(status="ok")[-1]
    state.set_current(last.id)
    qtbot.waitUntil(lambda: panel.preview.source_caption.text() == last.name, timeout=WAIT_MS)
    panel.shutdown()


def test_export_dialog_writes_a_loadable_state_dict(qtbot, trained_dir, tmp_path, screenshots):
    panel = TrainingPanel(AppState())
    qtbot.addWidget(panel)
    panel.resize(1500, 900)
    panel.show()
    panel.set_project(trained_dir)
    assert panel.runs.current_id() == 1
    click(qtbot, panel.runs.export_button)
    dialog = panel.export_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.grab().save(str(screenshots / "training_export_dialog.png"))
    dialog.set_format("torchscript")
    assert dialog.path_edit.text().endswith(".torchscript.pt")
    dialog.set_format("state_dict")
    target = tmp_path / "out" / "backbone.pt"
    dialog.path_edit.setText(str(target))
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: not panel.export_runner.is_busy, timeout=WAIT_MS)

    assert panel.export_message.level == "success", panel.export_message.text()
    assert str(target) in panel.export_message.text()
    payload = torch.load(target, map_location="cpu", weights_only=True)
    assert payload["backbone"] == "mobilenet_v3_small" and payload["image_size"] == 16
    assert all(np.isfinite(v.float().numpy()).all() for v in payload["state_dict"].values())
    panel.shutdown()


def test_onnx_is_disabled_with_a_reason_without_the_package(qtbot, trained_dir, monkeypatch):
    monkeypatch.setattr(export_dialog, "onnx_available", lambda: False)
    panel = TrainingPanel(AppState())
    qtbot.addWidget(panel)
    panel.set_project(trained_dir)
    dialog = panel.open_export_dialog(1)
    index = dialog.format_combo.findData("onnx")
    assert not dialog.format_combo.model().item(index).isEnabled()
    assert "'onnx' package" in dialog.reason.text()
    dialog.reject()
    panel.shutdown()


def test_export_failure_is_a_readable_message(qtbot, trained_dir, tmp_path):
    panel = TrainingPanel(AppState())
    qtbot.addWidget(panel)
    panel.set_project(trained_dir)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    panel.runs.select(1)
    dialog = panel.open_export_dialog(1)
    dialog.path_edit.setText(str(blocker / "backbone.pt"))
    click(qtbot, dialog.ok_button)
    qtbot.waitUntil(lambda: not panel.export_runner.is_busy, timeout=WAIT_MS)
    assert panel.export_message.level == "error"
    assert "Export failed" in panel.export_message.text()
    assert "Traceback" not in panel.export_message.text()
    panel.shutdown()


def test_embed_and_map_emits_the_run_id(qtbot, trained_dir):
    panel = TrainingPanel(AppState())
    qtbot.addWidget(panel)
    panel.set_project(trained_dir)
    panel.runs.select(1)
    with qtbot.waitSignal(panel.embed_and_map_requested, timeout=WAIT_MS) as signal:
        click(qtbot, panel.runs.embed_button)
    assert signal.args == [1]
    panel.shutdown()


def test_cpu_estimate_offers_faster_settings(qtbot, panel):
    panel.facts = panel.facts.__class__(samples=50_000, labelled=True)
    fill(panel, image_size=224, backbone="resnet50", epochs=100, device="cpu")
    assert panel.estimate.isVisible() and panel.estimate.faster_button.isVisible()
    assert "heavy for a CPU" in panel.estimate.label.text()
    click(qtbot, panel.estimate.faster_button)
    config = panel.form.config()
    assert config.image_size <= 64 and config.epochs <= 100
    assert config.backbone != "resnet50"
    assert not panel.estimate.faster_button.isVisible()


def test_shutdown_is_idempotent_and_stops_training(qtbot, panel, project_dir, monkeypatch):
    monkeypatch.setattr(panel_module, "train_session_job", held_after_first_step())
    fill(panel, **{**TINY, "epochs": 2})
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: bool(panel.curves.steps), timeout=WAIT_MS)
    panel.shutdown()
    panel.shutdown()
    assert not panel.runner.is_busy and panel.runner.running_threads == 0
    [record] = runs_of(project_dir)
    assert record.status == "stopped"


def test_a_failing_run_shows_a_readable_message(qtbot, panel, project_dir, tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a weights file")
    fill(panel, **TINY)
    panel.form.editors["weights"].combo.setEditText(str(broken))
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.phase == "idle" and not panel.runner.is_busy, timeout=WAIT_MS)
    assert panel.message.level == "error"
    text = panel.message.text()
    assert text.startswith("Training failed:") and "broken.pt" in text
    assert "Traceback" not in text
    assert panel.start_button.isEnabled() and panel.form.isEnabled()
    assert runs_of(project_dir) == []


def test_a_missing_weights_file_is_refused_before_starting(qtbot, panel, project_dir, tmp_path):
    fill(panel, **TINY)
    panel.form.editors["weights"].combo.setEditText(str(tmp_path / "missing.pt"))
    click(qtbot, panel.start_button)
    assert panel.message.level == "error" and "Cannot start" in panel.message.text()
    assert "missing.pt" in panel.message.text() and not panel.runner.is_busy
    assert runs_of(project_dir) == []


def test_a_killed_run_is_listed_interrupted_and_can_be_resumed(qtbot, trained_dir):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with Project.open(trained_dir) as project:
        [run] = project.runs()
        metrics = {**run["metrics"], "owner": ProcessOwner.of(gone.pid).to_dict()}
        project.update_run(run["id"], status="running", metrics=metrics)
    panel = TrainingPanel(AppState())
    qtbot.addWidget(panel)
    panel.show()
    panel.set_project(trained_dir)
    assert panel.runs.table.topLevelItem(0).text(1) == "interrupted"
    assert panel.runs.resume_button.isEnabled()
    click(qtbot, panel.runs.resume_button)
    qtbot.waitUntil(lambda: panel.phase == "idle" and not panel.runner.is_busy, timeout=WAIT_MS)
    assert [run.status for run in runs_of(trained_dir)] == ["finished"]
    panel.shutdown()
