"""run_gui end to end: the event loop, the log file, and a clean exit while a job runs."""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.ui import app as app_module
from app.ui.app import run_gui
from app.ui.main_window import MainWindow
from tests.factories import make_dataset

TIMEOUT_S = 20


@pytest.fixture
def made_windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MainWindow]]:
    """The windows ``run_gui`` makes. Listing ``QApplication.topLevelWidgets()`` instead wraps
    every top-level widget, one of an earlier test's mid-deletion too: that segfaulted a CI run
    once (PySide 6.12)."""
    made: list[MainWindow] = []

    class Recorded(MainWindow):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(app_module, "MainWindow", Recorded)
    yield made
    gc.unfreeze()  # run_gui froze this test process's objects: later tests' collections see them


@contextmanager
def kept_log_handlers() -> Iterator[None]:
    """Remove the file handler run_gui adds, so later tests do not write to this test's log."""
    logger = logging.getLogger("sieve")
    before = set(logger.handlers)
    try:
        yield
    finally:
        for handler in set(logger.handlers) - before:
            logger.removeHandler(handler)
            handler.close()


def test_run_gui_opens_a_folder_and_logs(
    qtbot, colour_dataset: Path, made_windows: list[MainWindow]
) -> None:
    seen: dict[str, object] = {}
    deadline = time.monotonic() + TIMEOUT_S

    def close_when_loaded() -> None:
        shown = [w for w in made_windows if w.isVisible() and w.browser.model.rowCount() == 13]
        if shown and not shown[0].runner.is_busy:
            seen["title"] = shown[0].windowTitle()
            seen["start-up objects exempt from collections"] = gc.get_freeze_count() > 10_000
            shown[0].close()
        elif time.monotonic() > deadline:
            QApplication.quit()
        else:
            QTimer.singleShot(10, close_when_loaded)

    QTimer.singleShot(0, close_when_loaded)
    with kept_log_handlers():
        code = run_gui(str(colour_dataset))
    assert code == 0
    assert seen == {"title": "colours — Sieve", "start-up objects exempt from collections": True}
    log_text = (Path(os.environ["SIEVE_DATA_DIR"]) / "logs" / "sieve.log").read_text()
    assert "opened" in log_text and "Sieve exiting with code 0" in log_text


def test_quitting_while_a_job_runs_stops_its_thread(qtbot, made_windows: list[MainWindow]) -> None:
    seen: dict[str, object] = {}
    deadline = time.monotonic() + TIMEOUT_S

    def quit_once_running() -> None:
        stage = made_windows[0].status_panel.stage_label.text() if made_windows else ""
        if "·" in stage:
            window = made_windows[0]
            seen.update(window=window, stage=stage, threads=window.runner.running_threads)
            file_menu = window.menuBar().actions()[0].menu()
            quit_action = next(a for a in file_menu.actions() if a.text() == "&Quit")
            quit_action.trigger()
        elif time.monotonic() > deadline:
            QApplication.quit()
        else:
            QTimer.singleShot(5, quit_once_running)

    QTimer.singleShot(0, quit_once_running)
    with kept_log_handlers():
        code = run_gui(demo=True)
    assert code == 0
    assert str(seen["stage"]).startswith("Opening the demo · ")
    assert seen["threads"] == 1
    runner = seen["window"].runner
    assert runner.running_threads == 0 and not runner.is_busy
    log_text = (Path(os.environ["SIEVE_DATA_DIR"]) / "logs" / "sieve.log").read_text()
    assert "Sieve exiting with code 0" in log_text


@pytest.mark.parametrize("open_with", ["folder", "--demo"])
def test_ctrl_c_in_the_terminal_closes_the_window_and_exits_130(
    tmp_path: Path, open_with: str
) -> None:
    """Ctrl-C once the window is idle on a folder, or while the demo is opening (its job is
    cancelled and waited for: no thread is left running)."""
    folder = make_dataset(tmp_path / "photos", {"a": 3}, size=(24, 24))
    data = tmp_path / "user"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "SIEVE_DATA_DIR": str(data),
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    log = data / "logs" / "sieve.log"
    target = str(folder) if open_with == "folder" else open_with
    wait_for = "opened" if open_with == "folder" else "Sieve starting"
    command = [sys.executable, "-m", "app", "gui", target]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while wait_for not in (log.read_text() if log.exists() else ""):
            assert process.poll() is None and time.monotonic() < deadline, "the GUI did not open"
            time.sleep(0.05)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    log_text = log.read_text()
    assert "Ctrl-C in the terminal: closing the window" in log_text
    assert "Sieve exiting with code 130" in log_text and "still running" not in log_text
