"""The detail view on an indexed project: full image, zoom, stepping, frames, info, neighbours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.ingest.thumbnails import thumbnail_job
from app.core.jobs import run_job
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.project import Project, SampleRow
from app.gui_model.state import AppState
from app.ui.detail.image_view import ZOOM_STEP
from app.ui.detail.neighbours import HINT
from app.ui.detail.widget import LOADING, DetailView
from tests.factories import gradient, make_dataset, write_clip

SIZE = (160, 120)


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """cats x6, dogs x5 (160 x 120), one broken png, a 9-frame clip sampled every 2nd frame."""
    root = make_dataset(tmp_path / "data", {"cats": 6, "dogs": 5}, size=SIZE)
    (root / "dogs" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    write_clip(root / "clips" / "walk.mp4", frames=9)
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(every_nth=2, workers=2)))
        run_job(thumbnail_job(project, workers=2))
        return project.path


@pytest.fixture
def rows(project_dir: Path) -> dict[str, SampleRow]:
    with Project.open(project_dir) as project:
        return {row.name: row for row in project.samples()}


@pytest.fixture
def view(qtbot, project_dir: Path) -> Iterator[DetailView]:
    view = DetailView(AppState())
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    view.set_project(project_dir)
    yield view
    view.shutdown()


def shown_size(view: DetailView) -> tuple[int, int] | None:
    pixmap = view.image_view.pixmap()
    return None if pixmap is None else (pixmap.width(), pixmap.height())


def grey_level(view: DetailView) -> float | None:
    """The mean grey level of the shown image."""
    pixmap = view.image_view.pixmap()
    if pixmap is None:
        return None
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return float(
        pixels.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()].mean()
    )


def clip_levels(path: Path) -> list[float]:
    """Mean grey level of every frame in a plain sequential decode (mpeg4 drifts from 10 + 4i)."""
    with av.open(str(path)) as container:
        return [float(np.asarray(f.to_image()).mean()) for f in container.decode(video=0)]


def shows_frame(view: DetailView, levels: list[float], frame: int) -> bool:
    """Whether the shown image is ``frame``: its level is nearest to that frame's."""
    level = grey_level(view)
    if level is None:
        return False
    nearest = int(np.argmin([abs(level - other) for other in levels]))
    return nearest == frame and abs(level - levels[frame]) < 0.5


def show(qtbot, view: DetailView, row: SampleRow) -> None:
    view.state.set_current(row.id)
    qtbot.waitUntil(lambda: shown_size(view) == (row.width, row.height))


def write_embeddings(project_dir: Path, ids: list[int], twins: tuple[int, int]) -> None:
    """Random unit vectors, with ``twins[1]`` almost the same as ``twins[0]``."""
    vectors = np.random.default_rng(7).normal(size=(len(ids), 16)).astype(np.float32)
    first, second = ids.index(twins[0]), ids.index(twins[1])
    vectors[second] = vectors[first] + 0.02
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Project.open(project_dir) as project:
        embedding_set = create_embedding_set(project, {"source": "test vectors"})
        finish_embedding_set(project, embedding_set, np.asarray(ids), vectors)


def test_current_sample_is_shown_at_full_resolution_and_fitted(qtbot, view, rows) -> None:
    row = rows["cats/002.png"]
    view.state.set_current(row.id)
    assert view.image_view.message() == LOADING
    qtbot.waitUntil(lambda: shown_size(view) == SIZE)
    assert view.image_view.message() == ""
    expected = gradient(*SIZE, seed=2).getpixel((37, 21))
    colour = view.image_view.pixmap().toImage().pixelColor(37, 21)
    assert (colour.red(), colour.green(), colour.blue()) == expected
    viewport = view.image_view.viewport().size()
    fitted = min(viewport.width() / SIZE[0], viewport.height() / SIZE[1])
    assert view.image_view.fit_mode
    assert fitted * 0.9 < view.image_view.scale_factor() <= fitted


def test_stale_decodes_are_dropped(qtbot, view, rows) -> None:
    first, second = rows["cats/000.png"], rows["dogs/001.png"]
    loaded: list[int] = []
    view.loader.loaded.connect(lambda sample_id, _: loaded.append(sample_id))
    view.state.set_current(first.id)
    view.state.set_current(second.id)
    qtbot.waitUntil(lambda: loaded == [second.id])
    assert shown_size(view) == SIZE


def test_hidden_view_loads_only_when_shown(qtbot, view, rows) -> None:
    view.hide()
    view.state.set_current(rows["cats/001.png"].id)
    assert view.image_view.pixmap() is None and view.info.text("name") == ""
    view.show()
    qtbot.waitUntil(lambda: shown_size(view) == SIZE)
    assert view.info.text("name") == "001.png"


def test_keys_step_through_the_given_order(qtbot, view, rows) -> None:
    order = np.array([rows[name].id for name in sorted(rows, reverse=True)], dtype=np.int64)
    view.set_order(order)
    state = view.state
    view.step(1)  # from outside the order: to the first
    assert state.current == order[0]
    expected = [
        (view.image_view, Qt.Key.Key_Right, 1),  # passed on by the image view
        (view, Qt.Key.Key_Down, 2),
        (view, Qt.Key.Key_PageDown, 3),
        (view.image_view, Qt.Key.Key_Left, 2),
        (view, Qt.Key.Key_Up, 1),
        (view, Qt.Key.Key_PageUp, 0),
        (view, Qt.Key.Key_Left, 0),  # stays at the first
        (view.image_view, Qt.Key.Key_End, len(order) - 1),
        (view, Qt.Key.Key_Right, len(order) - 1),  # stays at the last
        (view, Qt.Key.Key_Home, 0),
    ]
    for widget, key, position in expected:
        qtbot.keyClick(widget, key)
        assert state.current == order[position], (key, position)
    assert view.position.text().strip() == f"1 / {len(order)}"
    assert not view.previous_action.isEnabled() and view.next_action.isEnabled()


def test_frame_buttons_move_to_the_adjacent_sampled_frame(qtbot, view, rows) -> None:
    frames = {row.frame: row for row in rows.values() if row.frame is not None}
    assert sorted(frames) == [0, 2, 4, 6, 8]
    levels = clip_levels(view.project.dataset_root / "clips" / "walk.mp4")
    assert [round(level / 4) for level in levels[::2]] == [2, 4, 6, 8, 10]  # about 10 + 4i
    view.state.set_current(frames[2].id)
    qtbot.waitUntil(lambda: shows_frame(view, levels, 2))
    assert view.info.text("frame") == "frame 2 of 9 (clips/walk.mp4)"
    next_button = view.toolbar.widgetForAction(view.next_frame_action)
    previous_button = view.toolbar.widgetForAction(view.previous_frame_action)
    assert next_button.isVisible()
    qtbot.mouseClick(next_button, Qt.MouseButton.LeftButton)
    assert view.state.current == frames[4].id
    qtbot.waitUntil(lambda: shows_frame(view, levels, 4))
    for _ in range(3):
        qtbot.mouseClick(previous_button, Qt.MouseButton.LeftButton)
    assert view.state.current == frames[0].id  # stops at the first sampled frame
    qtbot.waitUntil(lambda: shows_frame(view, levels, 0))
    assert len(view.loader.readers) == 1  # one open reader, reused
    show(qtbot, view, rows["cats/000.png"])
    assert not next_button.isVisible()
    view.set_project(None)
    assert len(view.loader.readers) == 0


def test_broken_sample_shows_its_reason(qtbot, view, rows) -> None:
    row = rows["dogs/bad.png"]
    assert row.status == "broken" and row.reason
    view.state.set_current(row.id)
    assert view.image_view.message() == f"broken: {row.reason}"
    assert view.image_view.pixmap() is None
    assert view.info.text("status") == f"broken: {row.reason}"


def test_a_file_that_broke_after_indexing_shows_the_decode_error(qtbot, view, rows) -> None:
    row = rows["dogs/003.png"]
    with Project.open(view.project.path) as project:
        (project.dataset_root / row.relpath).write_bytes(b"")
    view.state.set_current(row.id)
    qtbot.waitUntil(lambda: view.image_view.message() == "broken: empty file (0 bytes)")


def wheel(view: DetailView, position: QPoint, notches: int = 1) -> None:
    event = QWheelEvent(
        QPointF(position),
        QPointF(view.image_view.viewport().mapToGlobal(position)),
        QPoint(),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.image_view.viewport(), event)


def test_zoom_with_keys_and_wheel_then_fit_again(qtbot, view, rows) -> None:
    show(qtbot, view, rows["cats/000.png"])
    image_view = view.image_view
    fitted = image_view.scale_factor()
    qtbot.keyClick(image_view, Qt.Key.Key_Plus)
    assert image_view.scale_factor() == pytest.approx(fitted * ZOOM_STEP)
    assert not image_view.fit_mode
    cursor = QPoint(150, 120)
    under_cursor = image_view.mapToScene(cursor)
    wheel(view, cursor)
    assert image_view.scale_factor() == pytest.approx(fitted * ZOOM_STEP**2)
    moved = image_view.mapToScene(cursor) - under_cursor
    assert abs(moved.x()) < 1 and abs(moved.y()) < 1  # zoomed around the cursor
    wheel(view, cursor, -1)
    qtbot.keyClick(image_view, Qt.Key.Key_Minus)
    assert image_view.scale_factor() == pytest.approx(fitted)
    qtbot.keyClick(image_view, Qt.Key.Key_1)
    assert image_view.scale_factor() == pytest.approx(1.0)
    view.resize(700, 500)  # not in fit mode: the scale stays
    qtbot.waitUntil(lambda: image_view.viewport().width() < 600)
    assert image_view.scale_factor() == pytest.approx(1.0)
    qtbot.keyClick(image_view, Qt.Key.Key_0)
    assert image_view.fit_mode and image_view.scale_factor() < fitted
    smaller = image_view.scale_factor()
    view.resize(1000, 700)  # in fit mode: follows the size
    qtbot.waitUntil(lambda: image_view.scale_factor() > smaller * 1.1)
    qtbot.keyClick(image_view, Qt.Key.Key_1)
    qtbot.keyClick(image_view, Qt.Key.Key_F)
    assert image_view.fit_mode and image_view.scale_factor() == pytest.approx(fitted)


def test_info_panel_shows_label_size_tags_and_scores(qtbot, view, rows) -> None:
    row = rows["dogs/002.png"]
    project = view.project
    project.add_tag(project.create_tag("keep"), [row.id])
    project.add_tag(project.create_tag("blurry"), [row.id])
    with project.db:
        project.db.execute("INSERT INTO metadata VALUES (?, 'uniqueness', 0.123456)", (row.id,))
    show(qtbot, view, row)
    info = view.info
    assert info.text("name") == "002.png"
    assert info.text("path") == "dogs/002.png"
    assert info.text("absolute") == str(project.dataset_root / "dogs" / "002.png")
    assert info.text("size") == "160 × 120"
    assert info.text("label") == "dogs"
    assert info.text("tags") == "blurry, keep"
    assert info.text("scores") == "uniqueness: 0.1235"
    assert not info.fields["frame"].isVisible() and not info.fields["status"].isVisible()


def test_neighbour_strip_shows_nearest_first_and_opens_a_click(
    qtbot, view, rows, project_dir, screenshots
) -> None:
    usable = [row.id for row in rows.values() if row.status == "ok"]
    a, b = rows["cats/001.png"].id, rows["dogs/004.png"].id
    write_embeddings(project_dir, usable, (a, b))
    strip = view.neighbours
    view.set_order(np.array(sorted(usable), dtype=np.int64))
    show(qtbot, view, rows["cats/001.png"])
    qtbot.waitUntil(lambda: len(strip.buttons) == 12)
    neighbours = strip.neighbour_ids()
    assert neighbours[0] == b and a not in neighbours and len(set(neighbours)) == 12
    assert view.state.highlighted.tolist() == sorted(neighbours)
    assert not strip.hint.isVisible()
    assert all(not button.icon().isNull() for button in strip.buttons)
    assert float(strip.buttons[0].text()) > 0.99
    qtbot.waitUntil(lambda: strip.buttons[0].isVisible())
    view.grab().save(str(screenshots / "detail_view.png"))
    qtbot.mouseClick(strip.buttons[0], Qt.MouseButton.LeftButton)
    assert view.state.current == b
    qtbot.waitUntil(lambda: strip.neighbour_ids()[:1] == [a])


def test_without_embeddings_the_strip_explains_itself(qtbot, view, rows) -> None:
    show(qtbot, view, rows["cats/003.png"])
    strip = view.neighbours
    assert strip.hint.isVisible() and strip.hint.text() == HINT
    assert strip.buttons == [] and view.state.highlighted.size == 0


def test_escape_and_back_ask_to_close(qtbot, view) -> None:
    with qtbot.waitSignal(view.close_requested):
        qtbot.keyClick(view.image_view, Qt.Key.Key_Escape)
    back = view.toolbar.widgetForAction(view.back_action)
    with qtbot.waitSignal(view.close_requested):
        qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
