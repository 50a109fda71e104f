"""The dataset browser on a real indexed project, driven through its widgets, and at 1M rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.core.data.scan import NOT_READ, FoundFile
from app.core.ingest.indexing import index_job
from app.core.ingest.listing import insert_pending
from app.core.ingest.thumbnails import thumbnail_job
from app.core.jobs import run_job
from app.core.store import catalog
from app.core.store.catalog import SampleTable
from app.core.store.project import Project
from app.core.store.selections import save_selection
from app.gui_model.state import AppState
from app.ui.browser import reading
from app.ui.browser import widget as widget_module
from app.ui.browser.model import BrokenRole, BrowserModel, MissingRole, SampleIdRole
from app.ui.browser.view import BrowserView
from app.ui.browser.widget import BrowserWidget
from tests.factories import write_clip, write_image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """3 colours x 4 images, a broken ``red/bad.png``, a 6-frame clip; a tag on two samples."""
    root = tmp_path / "data"
    for name, colour in COLOURS.items():
        for i in range(4):
            write_image(root / name / f"{i:02d}.png", Image.new("RGB", (40 + 8 * i, 30), colour))
    (root / "red" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    write_clip(root / "clips" / "walk.mp4", frames=6)
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        run_job(thumbnail_job(project))
        ids = [row.id for row in project.samples()]
        project.add_tag(project.create_tag("keep", "#f0c020"), ids[:3])
        project.add_tag(project.create_tag("check", "#e040e0"), ids[1:2])
        return project.path


@pytest.fixture
def state() -> AppState:
    return AppState()


@pytest.fixture
def browser(qtbot, state: AppState, project_dir: Path) -> Iterator[BrowserWidget]:
    widget = BrowserWidget(state)
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_project(project_dir)
    yield widget
    widget.shutdown()


def centre(browser: BrowserWidget, row: int) -> QPoint:
    return browser.view.visualRect(browser.model.index(row)).center()


def click(qtbot, browser: BrowserWidget, row: int, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(browser.view.viewport(), LEFT, modifier, centre(browser, row))


def ids_of(browser: BrowserWidget, rows: list[int]) -> list[int]:
    return [browser.model.sample_id(row) for row in rows]


def test_shows_every_sample_with_counts(browser: BrowserWidget, qtbot) -> None:
    assert browser.model.rowCount() == 12 + 1 + 6
    with qtbot.waitSignal(browser.counts_changed) as counts:
        browser.refresh_tags()
        browser.state.select([])
        browser.state.select(ids_of(browser, [0]))
    assert counts.args == [19, 19, 1]
    assert browser.order_ids().tolist() == [browser.model.sample_id(r) for r in range(19)]


def test_click_ctrl_shift_select(browser: BrowserWidget, state: AppState, qtbot) -> None:
    click(qtbot, browser, 2)
    assert state.selected.tolist() == ids_of(browser, [2])
    assert state.current == browser.model.sample_id(2)
    click(qtbot, browser, 7, SHIFT)
    assert state.selected.tolist() == sorted(ids_of(browser, list(range(2, 8))))
    click(qtbot, browser, 5, CTRL)
    assert state.selected.tolist() == sorted(ids_of(browser, [2, 3, 4, 6, 7]))
    click(qtbot, browser, 10, CTRL)
    assert state.selected.tolist() == sorted(ids_of(browser, [2, 3, 4, 6, 7, 10]))
    click(qtbot, browser, 1)
    assert state.selected.tolist() == ids_of(browser, [1])


def test_rubber_band_selects_several(browser: BrowserWidget, state: AppState, qtbot) -> None:
    viewport = browser.view.viewport()
    start = browser.view.visualRect(browser.model.index(0)).topLeft() + QPoint(2, 2)
    end = centre(browser, 2) + QPoint(0, 2)
    qtbot.mousePress(viewport, LEFT, pos=start)
    for step in (0.5, 1.0):
        pos = QPointF(start + (end - start) * step)
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            pos,
            viewport.mapToGlobal(pos),
            Qt.MouseButton.NoButton,
            LEFT,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, move)
    qtbot.mouseRelease(viewport, LEFT, pos=end)
    assert state.selected.tolist() == sorted(ids_of(browser, [0, 1, 2]))


def test_selection_from_the_state_shows_in_the_view(
    browser: BrowserWidget, state: AppState
) -> None:
    wanted = ids_of(browser, [1, 3, 4, 9])
    state.select(wanted)
    assert sorted(browser.view.selected_ids().tolist()) == sorted(wanted)
    assert browser.view.selectionModel().isSelected(browser.model.index(3))
    state.set_current(wanted[-1])
    assert browser.view.currentIndex().row() == 9
    state.clear_selection()
    assert browser.view.selected_ids().tolist() == []


def test_filters_change_the_rows(browser: BrowserWidget, state: AppState, qtbot) -> None:
    bar, model = browser.bar, browser.model
    qtbot.keyClicks(bar.text, "WALK")
    qtbot.waitUntil(lambda: model.rowCount() == 6)
    assert state.filter.text == "WALK"
    bar.text.clear()
    qtbot.waitUntil(lambda: model.rowCount() == 19)
    bar.label.setCurrentIndex(bar.label.findData("green"))
    assert model.rowCount() == 4 and state.filter.labels == {"green"}
    bar.label.setCurrentIndex(0)
    bar.tag.setCurrentIndex(bar.tag.findData("keep"))
    assert model.rowCount() == 3
    bar.tag.setCurrentIndex(0)
    bar.broken.setCurrentIndex(bar.broken.findData(True))
    assert model.rowCount() == 1 and model.index(0).data(BrokenRole)
    bar.broken.setCurrentIndex(bar.broken.findData(False))
    assert model.rowCount() == 18
    bar.folder.setCurrentIndex(bar.folder.findData("clips"))
    assert model.rowCount() == 6


def test_a_selection_saved_after_loading_filters_the_grid(
    browser: BrowserWidget, state: AppState, project_dir: Path
) -> None:
    with Project.open(project_dir) as project:
        members = np.array([row.id for row in project.samples()][4:7], dtype=np.int64)
        save_selection(project, "picked", members, {"kind": "test"})
    state.set_filter(state.filter.with_(selection="picked"))
    assert sorted(browser.order_ids().tolist()) == members.tolist()
    assert browser.bar.selection.findData("picked") >= 0


def test_sort_by_label_descending(browser: BrowserWidget, state: AppState, qtbot) -> None:
    bar = browser.bar
    bar.sort.setCurrentIndex(bar.sort.findData("label"))
    qtbot.mouseClick(bar.descending, LEFT)
    assert state.filter.sort == "label" and state.filter.descending
    names = [browser.model.index(r).data() for r in range(browser.model.rowCount())]
    assert [n.split("/")[0] for n in names] == ["red"] * 5 + ["green"] * 4 + ["clips"] * 6 + [
        "blue"
    ] * 4


def test_a_cell_holds_what_the_roles_say(browser: BrowserWidget) -> None:
    model = browser.model
    for row in range(model.rowCount()):
        cell, index = model.cell(row), model.index(row)
        assert cell is not None
        assert (cell.name, cell.sample_id) == (index.data(), index.data(SampleIdRole))
        assert (cell.broken, cell.missing) == (index.data(BrokenRole), index.data(MissingRole))
        tip = index.data(Qt.ItemDataRole.ToolTipRole)
        assert cell.reason == (tip.partition("broken: ")[2] if cell.broken else "")
        assert cell.broken or cell.thumbnail is model.thumbnail(int(model.order[row]))
    assert model.cell(-1) is None and model.cell(model.rowCount()) is None


def test_thumbnails_load_and_broken_has_a_badge(
    browser: BrowserWidget, state: AppState, qtbot, screenshots: Path
) -> None:
    model = browser.model
    browser.resize(900, 720)
    usable = [r for r in range(model.rowCount()) if not model.index(r).data(BrokenRole)]
    qtbot.waitUntil(lambda: all(model.thumbnail(int(model.order[r])) is not None for r in usable))
    red = model.thumbnail(int(model.order[ids_row(browser, "red/00.png")])).toImage()
    assert red.pixelColor(red.width() // 2, red.height() // 2).red() > 180
    bad = ids_row(browser, "red/bad.png")
    tip = model.index(bad).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(bad).data(BrokenRole) and "broken:" in tip
    state.select(ids_of(browser, [8, 9]))
    qtbot.waitUntil(lambda: browser.view.visualRect(model.index(bad)).bottom() < 680)
    shot = browser.grab()
    shot.save(str(screenshots / "browser.png"))
    image, size = shot.toImage(), browser.view.delegate.thumbnail_size

    def tile_at(row: int) -> QPoint:
        rect = browser.view.visualRect(model.index(row))
        corner = browser.view.viewport().mapTo(browser, rect.topLeft())
        return corner + QPoint((rect.width() - size) // 2, 6)

    badge = tile_at(bad) + QPoint(size // 2, int(size * 0.72))
    assert image.pixelColor(badge).red() > 180 and image.pixelColor(badge).green() < 120
    dot = tile_at(0) + QPoint(size - 4 - 9 // 2 - 1, 4 + 9 // 2)
    assert image.pixelColor(dot).name() == "#f0c020"  # the "keep" tag's dot on the first sample
    assert browser.view.delegate.tags_of(model.sample_id(1)) != []


def ids_row(browser: BrowserWidget, name: str) -> int:
    model = browser.model
    return next(r for r in range(model.rowCount()) if model.index(r).data() == name)


def test_missing_thumbnails_are_made_from_the_files(qtbot, state, project_dir: Path) -> None:
    with Project.open(project_dir) as project:
        project.thumbs.delete([row.id for row in project.samples()])
    widget = BrowserWidget(state)
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    widget.show()
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_project(project_dir)
    row = ids_row(widget, "blue/01.png")
    qtbot.waitUntil(lambda: widget.model.thumbnail(int(widget.model.order[row])) is not None)
    with Project.open(project_dir) as project:
        assert project.thumbs.get(widget.model.sample_id(row)) is not None
    widget.shutdown()


def test_size_slider_changes_item_size(browser: BrowserWidget, qtbot, screenshots: Path) -> None:
    before = browser.view.gridSize()
    qtbot.waitUntil(lambda: browser.model.thumbnail(int(browser.model.order[0])) is not None)
    browser.bar.size.setValue(224)
    assert browser.view.delegate.thumbnail_size == 224
    assert browser.view.gridSize().width() > before.width() + 80
    qtbot.waitUntil(lambda: browser.view.visualRect(browser.model.index(0)).width() > 224)
    browser.grab().save(str(screenshots / "browser-large.png"))
    browser.set_thumbnail_size(64)
    assert browser.bar.size.value() == 64


def test_select_all_reports_counts_and_enter_activates(browser: BrowserWidget, qtbot) -> None:
    with qtbot.waitSignal(browser.counts_changed) as counts:
        browser.view.setFocus()
        qtbot.keyClick(browser.view, Qt.Key.Key_A, CTRL)
    assert counts.args == [19, 19, 19]
    click(qtbot, browser, 4)
    with qtbot.waitSignal(browser.activated) as activated:
        qtbot.keyClick(browser.view, Qt.Key.Key_Return)
    assert activated.args == [browser.model.sample_id(4)]
    click(qtbot, browser, 6)
    with qtbot.waitSignal(browser.activated) as activated:
        qtbot.mouseDClick(browser.view.viewport(), LEFT, pos=centre(browser, 6))
    assert activated.args == [browser.model.sample_id(6)]


def million_table(n: int = 1_000_000) -> SampleTable:
    i32 = np.int32
    return SampleTable(
        ids=np.arange(1, n + 1, dtype=np.int64),
        file_index=np.arange(n, dtype=i32),
        relpaths=[f"class{i % 100:03d}/img{i:07d}.jpg" for i in range(n)],
        frame=np.full(n, -1, i32),
        n_frames=np.zeros(n, i32),
        label_code=(np.arange(n) % 100).astype(i32),
        labels=[f"class{i:03d}" for i in range(100)],
        broken=np.zeros(n, bool),
        missing=np.zeros(n, bool),
        width=np.full(n, 64, i32),
        height=np.full(n, 48, i32),
    )


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def test_a_million_rows_scroll_select_and_filter(qtbot) -> None:
    from app.gui_model.filtering import apply_filter
    from app.gui_model.state import Filter

    table, state = million_table(), AppState()
    model = BrowserModel()
    view = BrowserView(state)
    qtbot.addWidget(view)
    view.setModel(model)
    view.resize(1000, 700)
    view.show()
    model.set_table(None, table)
    assert timed(lambda: model.set_order(np.arange(len(table)))) < 1.0
    qtbot.waitUntil(
        lambda: view.verticalScrollBar().maximum() > 1_000_000 // 8 * 100, timeout=10_000
    )
    assert timed(lambda: (view.scrollToBottom(), QApplication.processEvents())) < 1.0
    assert view.indexAt(view.viewport().rect().center()).row() > 999_000
    assert timed(lambda: (view.selectAll(), QApplication.processEvents())) < 2.5
    assert len(state.selected) == 1_000_000
    assert timed(lambda: model.set_order(apply_filter(table, Filter(text="IMG00012"), {}))) < 1.0
    assert model.rowCount() == 100
    state.select(table.ids[5:500_000])
    assert timed(view.sync_selection) < 1.0
    assert len(view.selected_ids()) == 0 or view.selected_ids().max() < 500_001
    model.close()


def test_a_project_shows_its_first_files_then_grows_to_all_without_a_reset(
    qtbot, state: AppState, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "HEAD_FILES", 5)  # blue/00-03 and the clip's 6 frames
    monkeypatch.setattr(reading, "HEAD_ABOVE_FILES", 0)
    widget = BrowserWidget(state)
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    widget.show()
    events: list[object] = []
    widget.loaded.connect(lambda: events.append(("loaded", widget.model.rowCount())))
    widget.model.modelReset.connect(lambda: events.append("reset"))
    widget.model.rowsInserted.connect(lambda *_: events.append("inserted"))
    with qtbot.waitSignal(widget.grown, timeout=10_000):
        widget.set_project(project_dir)
    assert widget.model.rowCount() == 13 + 6
    after = events[events.index(("loaded", 4 + 6)) + 1 :]
    assert after and set(after) == {"inserted"}, "the rest of the files are inserted, no reset"
    assert widget.data is not None and widget.data.table.labels == ["blue", "clips", "green", "red"]
    assert "red/bad.png" in [widget.model.data(widget.model.index(r)) for r in range(19)]
    widget.shutdown()


def test_a_grow_while_files_are_listed_reads_only_the_new_files(
    qtbot, state: AppState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"{folder}/{i}.jpg" for folder in ("a", "b", "c") for i in range(4)]
    root = tmp_path / "data"
    for name in names:
        write_image(root / name, format="JPEG")
    listed = [FoundFile(name, "image", NOT_READ, NOT_READ) for name in names]
    with Project.for_dataset(root) as project:
        insert_pending(project.db, listed[:5])
        project_dir = project.path
    appended: list[int] = []

    def load_more(project: Project, table: SampleTable) -> SampleTable | None:
        more = catalog.load_more(project, table)
        appended.append(-1 if more is None else len(more) - len(table))
        return more

    monkeypatch.setattr(reading, "load_more", load_more)
    widget = BrowserWidget(state)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_project(project_dir)
    assert widget.model.rowCount() == 5
    events: list[str] = []
    widget.model.modelReset.connect(lambda: events.append("reset"))
    widget.model.rowsInserted.connect(lambda *_: events.append("inserted"))
    with Project.open(project_dir) as project:
        insert_pending(project.db, listed[5:])
    with qtbot.waitSignal(widget.grown, timeout=10_000):
        widget.grow(appending=True)
    assert appended == [7] and events == ["inserted"]
    assert widget.model.rowCount() == 12 and widget.data.table.labels == ["a", "b", "c"]
    assert widget.data.pending.all()
    widget.shutdown()


def test_a_whole_reread_of_a_decoding_project_keeps_the_shown_paths(
    qtbot, state: AppState, tmp_path: Path
) -> None:
    """While the index decodes (flags change, paths do not), the grid's whole re-read shares
    the shown table's paths: its GUI thread never frees a column of them (18-25 ms at 1M)."""
    names = [f"{folder}/{i}.jpg" for folder in ("a", "b") for i in range(3)]
    root = tmp_path / "data"
    for name in names:
        write_image(root / name, format="JPEG")
    with Project.for_dataset(root) as project:
        insert_pending(project.db, [FoundFile(n, "image", NOT_READ, NOT_READ) for n in names])
        project_dir = project.path
    widget = BrowserWidget(state)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_project(project_dir)
    shown = widget.data.table.relpaths
    with Project.open(project_dir) as project:
        project.db.execute("UPDATE files SET pending = 0 WHERE relpath LIKE 'a/%'")
        project.db.commit()
    with qtbot.waitSignal(widget.grown, timeout=10_000):
        assert widget.grow()
    assert widget.data.table.relpaths is shown
    assert widget.data.pending.tolist() == [False] * 3 + [True] * 3
    widget.shutdown()


def test_an_appending_read_marks_only_the_new_files_pending(tmp_path: Path) -> None:
    root = tmp_path / "data"
    names = [f"{folder}/{i}.jpg" for folder in ("a", "b") for i in range(4)]
    for name in names:
        write_image(root / name, format="JPEG")
    write_clip(root / "c/clip.mp4", frames=12)
    listed = [FoundFile(name, "image", NOT_READ, NOT_READ) for name in names]
    with Project.for_dataset(root) as project:
        insert_pending(project.db, listed[:4])
        known = reading.read_project(project.path)
        assert known.pending.all()
        insert_pending(project.db, listed[4:])
        run_job(index_job(project))  # all decoded: the clip's frames are rows now
        write_image(root / "d/late.jpg", format="JPEG")
        insert_pending(project.db, [FoundFile("d/late.jpg", "image", NOT_READ, NOT_READ)])
        with project.db:
            project.db.execute("UPDATE files SET pending = 1 WHERE relpath = 'b/1.jpg'")
        project_dir = project.path
    more = reading.read_more(project_dir, known)
    table = more.table
    assert len(table) > len(names) + 1, "the clip has several frame rows"
    assert more.pending[:4].all(), "rows shown keep their marks until a whole read"
    whole = reading.read_project(project_dir)
    assert np.array_equal(whole.table.ids, table.ids)
    assert np.array_equal(more.pending[4:], whole.pending[4:])
    pending = {table.relpaths[table.file_index[row]] for row in np.flatnonzero(whole.pending)}
    assert pending == {"b/1.jpg", "d/late.jpg"}


def test_a_small_project_is_read_whole_at_once(
    qtbot, state: AppState, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "HEAD_FILES", 5)  # 14 files: far below HEAD_ABOVE_FILES
    widget = BrowserWidget(state)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_project(project_dir)
    assert widget.model.rowCount() == 19 and widget.data is not None and widget.data.whole
    widget.shutdown()
