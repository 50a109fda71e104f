"""The embedding map: lasso, box, click, legend and hover by real mouse events; its pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPixmap, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.ui.scatter import EmbeddingScatter
from app.ui.scatter.colouring import BACKGROUND, CATEGORICAL, MISSING, RAMP, colouring
from app.ui.scatter.points import Layout, Points
from app.ui.scatter.polygon import points_in_polygon
from app.ui.scatter.raster import LEVELS, Palettes, PixelTransform, Rasteriser
from app.ui.scatter.viewport import Viewport

SIDE = 20  # grid points per axis
NAMES = np.array(["a", "b", "c"])
# a concave "U" in data units, its vertices half-way between grid points
U_SHAPE = np.array(
    [(2.5, 2.5), (16.5, 2.5), (16.5, 15.5), (12.5, 15.5), (12.5, 6.5), (6.5, 6.5), (6.5, 15.5),
     (2.5, 15.5)]
)  # fmt: skip


def grid_points() -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(SIDE, dtype=float), np.arange(SIDE, dtype=float))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    classes = NAMES[(gx.ravel().astype(int) + gy.ravel().astype(int)) % 3]
    return xy, classes


@pytest.fixture
def scatter(qtbot) -> EmbeddingScatter:
    widget = EmbeddingScatter()
    qtbot.addWidget(widget)
    widget.resize(420, 420)
    widget.show()
    qtbot.waitExposed(widget)
    xy, classes = grid_points()
    widget.set_points(xy, categories=classes)
    return widget


def pixel_of(scatter: EmbeddingScatter, row: int) -> QPoint:
    xy, _ = grid_points()
    x, y = scatter.map_to_widget(xy[row])[0]
    return QPoint(int(np.floor(x)), int(np.floor(y)))


def reference_inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Rows inside ``polygon``: a plain per-point ray cast, independent of the widget's code."""
    inside = []
    for row, (x, y) in enumerate(points):
        crossings = 0
        for (x1, y1), (x2, y2) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                crossings += 1
        if crossings % 2:
            inside.append(row)
    return np.array(inside, dtype=np.int64)


def drag(scatter, path: list[QPoint], button=Qt.MouseButton.LeftButton, modifier=None) -> None:
    """Press at the first point, move along the path in small steps, release at the last."""
    modifier = modifier or Qt.KeyboardModifier.NoModifier
    QTest.mousePress(scatter, button, modifier, path[0])
    for a, b in zip(path, path[1:], strict=False):
        steps = max(1, int(max(abs(b.x() - a.x()), abs(b.y() - a.y())) // 6))
        for i in range(1, steps + 1):
            QTest.mouseMove(scatter, a + (b - a) * i / steps)
    QTest.mouseRelease(scatter, button, modifier, path[-1])


def lasso(scatter, qtbot, polygon_px: np.ndarray, modifier=None) -> tuple[np.ndarray, str]:
    path = [QPoint(int(x), int(y)) for x, y in polygon_px]
    with qtbot.waitSignal(scatter.lasso_selected, timeout=1000) as blocker:
        drag(scatter, path, modifier=modifier)
    rows, mode = blocker.args
    return rows, mode


def colour_at(scatter: EmbeddingScatter, point: QPoint) -> int:
    image = scatter.grab().toImage()
    return image.pixel(point) & 0xFFFFFF


# ------------------------------------------------------------------------- lasso, box
def test_lasso_selects_exactly_the_points_inside_with_each_mode(scatter, qtbot):
    xy, _ = grid_points()
    polygon = np.rint(scatter.map_to_widget(U_SHAPE))
    expected = reference_inside(scatter.map_to_widget(xy), polygon)
    assert 50 < len(expected) < 200  # the U really is concave and non-trivial

    rows, mode = lasso(scatter, qtbot, polygon)
    assert mode == "replace"
    np.testing.assert_array_equal(rows, expected)
    assert rows.dtype == np.int64

    _, mode = lasso(scatter, qtbot, polygon, Qt.KeyboardModifier.ShiftModifier)
    assert mode == "add"
    rows, mode = lasso(scatter, qtbot, polygon, Qt.KeyboardModifier.ControlModifier)
    assert mode == "remove"
    np.testing.assert_array_equal(rows, expected)


def test_points_in_polygon_matches_a_plain_ray_cast():
    rng = np.random.default_rng(3)
    points = rng.uniform(-1, 1, (3000, 2))
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    radii = rng.uniform(0.2, 1.0, 40)  # a star: concave, many crossings
    polygon = np.column_stack([np.cos(angles) * radii, np.sin(angles) * radii])
    mask = points_in_polygon(points[:, 0], points[:, 1], polygon)
    np.testing.assert_array_equal(np.flatnonzero(mask), reference_inside(points, polygon))


def test_box_selects_the_points_in_the_rectangle(scatter, qtbot):
    xy, _ = grid_points()
    scatter.set_tool("box")
    corners = np.rint(scatter.map_to_widget([(3.5, 4.5), (9.5, 11.5)]))
    path = [QPoint(int(x), int(y)) for x, y in corners]
    with qtbot.waitSignal(scatter.lasso_selected, timeout=1000) as blocker:
        drag(scatter, path, modifier=Qt.KeyboardModifier.ShiftModifier)
    rows, mode = blocker.args
    inside = (xy[:, 0] > 3.5) & (xy[:, 0] < 9.5) & (xy[:, 1] > 4.5) & (xy[:, 1] < 11.5)
    np.testing.assert_array_equal(rows, np.flatnonzero(inside))
    assert mode == "add"


# ---------------------------------------------------------------------- pick, click
def test_pick_finds_the_row_at_its_pixel_and_nothing_between_points(scatter):
    for row in (0, 7, 213, SIDE * SIDE - 1):
        point = pixel_of(scatter, row)
        assert scatter.pick(point.x(), point.y()) == row
        assert scatter.pick(point.x() + 2, point.y() - 2) == row
    x, y = scatter.map_to_widget([(4.5, 4.5)])[0]  # the middle of a grid cell
    assert scatter.pick(x, y) is None
    assert scatter.pick(2, scatter.height() - 2) is None


def test_a_click_emits_the_row_under_it_or_minus_one(scatter, qtbot):
    with qtbot.waitSignal(scatter.clicked, timeout=1000) as blocker:
        QTest.mouseClick(scatter, Qt.MouseButton.LeftButton, pos=pixel_of(scatter, 42))
    assert blocker.args == [42]
    x, y = scatter.map_to_widget([(4.5, 4.5)])[0]
    with qtbot.waitSignal(scatter.clicked, timeout=1000) as blocker:
        QTest.mouseClick(scatter, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))
    assert blocker.args == [-1]


# --------------------------------------------------------------------------- legend
def test_legend_click_hides_a_class_and_double_click_isolates(scatter, qtbot):
    xy, classes = grid_points()
    rows_widget = scatter.legend.rows
    assert scatter.legend.isVisible()
    b_row = int(np.flatnonzero(classes == "b")[5])
    point = pixel_of(scatter, b_row)
    assert colour_at(scatter, point) == CATEGORICAL[1]

    QTest.mouseClick(rows_widget, Qt.MouseButton.LeftButton, pos=rows_widget.row_rect(1).center())
    assert scatter.class_visibility().tolist() == [True, False, True]
    assert scatter.pick(point.x(), point.y()) is None
    assert colour_at(scatter, point) == BACKGROUND
    polygon = np.rint(scatter.map_to_widget(U_SHAPE))
    rows, _ = lasso(scatter, qtbot, polygon)
    expected = reference_inside(scatter.map_to_widget(xy), polygon)
    np.testing.assert_array_equal(rows, expected[classes[expected] != "b"])

    QTest.mouseDClick(rows_widget, Qt.MouseButton.LeftButton, pos=rows_widget.row_rect(2).center())
    assert scatter.class_visibility().tolist() == [False, False, True]
    QTest.mouseDClick(rows_widget, Qt.MouseButton.LeftButton, pos=rows_widget.row_rect(2).center())
    assert scatter.class_visibility().tolist() == [True, True, True]
    assert scatter.pick(point.x(), point.y()) == b_row


# --------------------------------------------------------------- colours, positions
def test_set_colours_switches_colours_without_moving_points(scatter):
    xy, _ = grid_points()
    view = scatter.view()
    point = pixel_of(scatter, 21)
    before = colour_at(scatter, point)
    scatter.set_colours(values=xy[:, 0] * 1e200)  # a huge range still spans the ramp
    assert scatter.view() == view
    assert scatter.pick(point.x(), point.y()) == 21
    assert colour_at(scatter, point) != before
    assert not scatter.legend.isVisible() and scatter.colour_bar.isVisible()
    ramp = colouring(len(xy), values=xy[:, 0]).palette
    assert colour_at(scatter, pixel_of(scatter, 0)) == ramp[0]
    assert colour_at(scatter, pixel_of(scatter, SIDE * SIDE - 1)) == ramp[RAMP - 1]

    values = xy[:, 0].copy()
    values[21] = np.nan
    scatter.set_colours(values=values)
    assert colour_at(scatter, point) == MISSING


def test_set_positions_follows_the_points_until_the_user_moves_the_view(scatter, qtbot):
    xy, _ = grid_points()
    scatter.set_selection([5])
    spread = xy * 10 + 100  # a UMAP epoch spreading out
    scatter.set_positions(spread)
    corners = scatter.map_to_widget(spread)
    assert (corners >= 0).all() and (corners[:, 0] <= scatter.width()).all()
    assert (corners[:, 1] <= scatter.height()).all()
    drag(scatter, [QPoint(200, 200), QPoint(260, 230)], button=Qt.MouseButton.RightButton)
    view = scatter.view()
    moved = spread + 0.5
    scatter.set_positions(moved)
    assert scatter.view() == view
    x, y = scatter.map_to_widget(moved[5])[0]
    assert scatter.pick(x, y) == 5
    assert scatter.class_visibility().all()


def test_esc_emits_selection_cleared_and_letters_pick_tools(scatter, qtbot):
    scatter.setFocus()
    with qtbot.waitSignal(scatter.selection_cleared, timeout=1000):
        QTest.keyClick(scatter, Qt.Key.Key_Escape)
    for key, tool in ((Qt.Key.Key_B, "box"), (Qt.Key.Key_P, "pan"), (Qt.Key.Key_L, "lasso")):
        QTest.keyClick(scatter, key)
        assert scatter.tool() == tool
        assert scatter._toolbar.buttons[tool].isChecked()


# ---------------------------------------------------------------------- navigation
def test_wheel_zooms_about_the_cursor_and_right_drag_pans(scatter):
    view = scatter.view()
    at = pixel_of(scatter, 150)
    under = scatter.view().to_data(at.x(), at.y())
    wheel = QWheelEvent(
        QPointF(at), QPointF(scatter.mapToGlobal(at)), QPoint(), QPoint(0, 240),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(scatter, wheel)
    assert scatter.view().scale > view.scale * 1.4
    np.testing.assert_allclose(scatter.view().to_data(at.x(), at.y()), under, rtol=1e-9)

    zoomed = scatter.view()
    drag(scatter, [QPoint(200, 200), QPoint(260, 170)], button=Qt.MouseButton.RightButton)
    after = scatter.view()
    assert after.cx == pytest.approx(zoomed.cx - 60 / zoomed.scale)
    assert after.cy == pytest.approx(zoomed.cy - 30 / zoomed.scale)

    scatter.fit_view()
    assert scatter.view() == view


# ---------------------------------------------------------------------------- hover
def test_hover_emits_the_row_after_a_dwell_and_shows_the_card(scatter, qtbot):
    thumb = QPixmap(40, 30)
    thumb.fill(QColor("orange"))
    asked = []
    scatter.set_card_provider(lambda row: (asked.append(row) or thumb, f"sample {row}"))
    row = 16 * SIDE + 3  # upper left: the card opens below right of the cursor
    point = pixel_of(scatter, row)
    with qtbot.waitSignal(scatter.hovered, timeout=2000) as blocker:
        QTest.mouseMove(scatter, point)
    assert blocker.args == [row] and asked == [row]
    assert scatter._card.isVisible()
    assert scatter._card.geometry().contains(point + QPoint(20, 20))

    x, y = scatter.map_to_widget([(4.5, 4.5)])[0]
    with qtbot.waitSignal(scatter.hovered, timeout=1000) as blocker:
        QTest.mouseMove(scatter, QPoint(int(x), int(y)))
    assert blocker.args == [-1]
    assert not scatter._card.isVisible()


# --------------------------------------------------------------------------- pixels
def test_points_marks_and_selection_show_in_the_pixels(scatter):
    _, classes = grid_points()
    row, other = 63, 64
    colour = CATEGORICAL[list(NAMES).index(classes[row])]
    point, other_point = pixel_of(scatter, row), pixel_of(scatter, other)
    assert colour_at(scatter, point) == colour
    assert colour_at(scatter, QPoint(point.x() + 9, point.y() + 9)) == BACKGROUND

    undimmed = colour_at(scatter, other_point)
    scatter.set_selection([row])
    image = scatter.grab().toImage()
    assert image.pixel(point) & 0xFFFFFF == colour
    assert QColor(image.pixel(point + QPoint(0, 3))).lightness() > 220  # the light outline
    assert QColor(image.pixel(other_point)).lightness() < QColor(undimmed).lightness()

    scatter.set_highlight([other])
    scatter.set_current(row)
    image = scatter.grab().toImage()
    assert image.pixel(other_point + QPoint(5, 0)) & 0xFFFFFF == 0xFF4FD8  # neighbour ring
    assert image.pixel(point) & 0xFFFFFF == colour


def test_dense_points_render_as_density(qtbot):
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(0, 0.05, (150_000, 2)), rng.uniform(-3, 3, (10_000, 2))])
    layout = Layout.build(xy)
    points = Points.of(layout, np.zeros(len(layout.rows), np.uint16))
    view = Viewport.fit(layout.data_bounds, 300, 300)
    palettes = Palettes(np.array([0xFFFFFF], dtype=np.uint32))
    raster = Rasteriser().points(points, PixelTransform.of(view, layout.frame, 1.0), palettes)
    assert raster.style.radius == 0 and raster.drawn == len(xy)
    entry, level = raster.keys // LEVELS, raster.keys % LEVELS
    drawn = entry != palettes.background
    assert level.max() == LEVELS - 1  # the dense core is drawn at full colour
    assert level[drawn].min() == 0  # lone points stay faint


# ------------------------------------------------------------------------ edge cases
@pytest.mark.parametrize(
    "xy",
    [
        np.empty((0, 2)),
        np.array([[3.0, -2.0]]),
        np.full((50, 2), 7.0),
        np.array([[np.nan, 1.0], [0.0, 0.0], [np.inf, 2.0], [1.0, 1.0]]),
        np.array([[-1e300, 5e299], [1e300, -1e300], [0.0, 0.0]]),
    ],
    ids=["empty", "one", "identical", "nan-rows", "huge"],
)
def test_degenerate_inputs_draw_and_pick(qtbot, xy):
    widget = EmbeddingScatter()
    qtbot.addWidget(widget)
    widget.resize(300, 240)
    widget.show()
    widget.set_points(xy, values=np.resize([-1e308, 1e308, np.nan, 0.0], len(xy)))
    image = widget.grab().toImage()
    assert image.format() != QImage.Format.Format_Invalid
    finite = np.flatnonzero(np.isfinite(xy).all(axis=1))
    for row in finite:
        x, y = widget.map_to_widget(xy[row])[0]
        assert widget.pick(x, y) is not None
    everything = np.array([(1, 1), (298, 1), (298, 238), (1, 238)], dtype=float)
    rows = widget.rows_in_polygon(everything)
    np.testing.assert_array_equal(rows, finite)
