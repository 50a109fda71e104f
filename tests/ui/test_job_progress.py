"""The one job line where it is used: in a panel, as a row with an outcome, in the status bar."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.core.jobs import CancelToken, Job, Progress
from app.engine import JobRunner
from app.ui import job_progress
from app.ui.job_progress import JobProgress
from app.ui.status import StatusPanel

UI = Path(__file__).resolve().parents[2] / "app" / "ui"
TIMEOUT_MS = 5000


def test_one_progress_widget_is_defined_in_the_ui() -> None:
    """Every job line is a JobProgress (the map panel's own code is outside this check)."""
    defining = sorted(
        str(path.relative_to(UI))
        for path in UI.rglob("*.py")
        if "QProgressBar(" in path.read_text() and path.parts[-2] != "map"
    )
    assert defining == ["job_progress.py"]


def gated(gate: threading.Event):
    """Reports 4 of 9 with a message, then waits for ``gate`` (or a cancel)."""

    def factory(cancel: CancelToken) -> Job[str]:
        def job() -> Job[str]:
            for done in (2, 4):
                yield Progress("reading", done, 9, "pool")
                time.sleep(0.1)  # two reports apart, so the line has a rate
            while not gate.wait(0.01):
                cancel.raise_if_cancelled()
                yield Progress("reading", 4, 9, "pool")
            return "done"

        return job()

    return factory


def test_each_layout_follows_the_runner_and_cancel(qtbot, tmp_path: Path) -> None:
    runner = JobRunner()
    host = QWidget()
    qtbot.addWidget(host)
    panel_line = JobProgress(runner)
    row = JobProgress(runner, row=True, idle="message")
    status = StatusPanel(runner)
    layout = QVBoxLayout(host)
    for widget in (panel_line, row, status):
        layout.addWidget(widget)
    host.resize(700, 160)
    host.show()
    qtbot.waitExposed(host)
    row.show_error("the last selection failed")
    assert not panel_line.isVisible() and row.isVisible() and not row.bar.isVisible()

    gate = threading.Event()
    runner.start(gated(gate), "Select")
    qtbot.waitUntil(lambda: row.bar.value() == 4, timeout=TIMEOUT_MS)
    assert row.isVisible() and status.job.isVisible()  # rows at once ...
    qtbot.waitUntil(panel_line.isVisible, timeout=TIMEOUT_MS)  # ... a panel's line once it lasts
    for line in (panel_line, row, status.job):
        assert line.isVisible() and line.bar.isVisible() and line.cancel_button.isVisible()
        assert line.label.text() == "Select · reading: pool"
        assert line.bar.format() == "4 / 9"
    assert not status.counts_label.isVisible()
    qtbot.waitUntil(lambda: "/s · ETA " in row.rate_label.text(), timeout=TIMEOUT_MS)
    host.grab().save(str(tmp_path / "job_progress.png"))

    row.cancel_button.click()
    assert row.label.text() == "Select · stopping…" and not row.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not runner.is_busy, timeout=TIMEOUT_MS)
    assert row.label.text() == "Select cancelled" and row.isVisible() and not row.bar.isVisible()
    assert not panel_line.isVisible() and status.counts_label.isVisible()
    assert not status.job.isVisible()
    assert runner.shutdown(TIMEOUT_MS)


def test_a_panel_line_never_shows_for_a_job_over_at_once(qtbot) -> None:
    """A job shorter than SHOW_AFTER_MS leaves a panel's line hidden (no flicker, no layout);
    the status row shows it as it runs."""
    runner = JobRunner()
    host = QWidget()
    qtbot.addWidget(host)
    panel_line = JobProgress(runner)
    status = StatusPanel(runner)
    layout = QVBoxLayout(host)
    layout.addWidget(panel_line)
    layout.addWidget(status)
    host.show()
    qtbot.waitExposed(host)
    shown = []
    runner.busy_changed.connect(
        lambda busy: shown.append((busy, panel_line.isVisible(), status.job.isVisible()))
    )

    def quick(cancel: CancelToken) -> Job[str]:
        yield Progress("reading", 1, 1, "")
        return "done"

    runner.start(quick, "Quick")
    qtbot.waitUntil(lambda: not runner.is_busy, timeout=TIMEOUT_MS)
    qtbot.wait(job_progress.SHOW_AFTER_MS + 100)
    assert shown[0] == (True, False, True)  # the row shows the job; the panel's line waits
    assert not panel_line.isVisible()
    assert runner.shutdown(TIMEOUT_MS)
