"""What the window says about a project's problems: missing files and unreadable folders, and
File > Forget N missing files… (its action, its question, its job)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from app.core.data.scan import readable_name
from app.ui.opening import LoadedProject, forget_missing_job
from app.ui.status import plural

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class MissingFiles:
    """Forgetting the open project's missing files, only after the user said yes."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def update_action(self) -> None:
        """The File menu's action names the count and is enabled only when it can run."""
        project = self.window.project
        count = project.missing_files if project is not None else 0
        action = self.window.actions.forget_missing
        what = plural(count, "missing file") if count else "missing files"
        action.setText(f"Forget {what}…")
        action.setEnabled(count > 0 and not self.window.runner.is_busy)

    def forget(self) -> None:
        """Ask, then forget the missing files with their tags, selection places and scores."""
        window, project = self.window, self.window.project
        if project is None or not project.missing_files or window.runner.is_busy:
            return
        answer = QMessageBox.question(
            window,
            "Forget missing files",
            forget_question(project),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        path = project.path
        window.start_job(
            lambda cancel: forget_missing_job(path, cancel),
            "Forgetting missing files",
            lambda loaded: self._forgotten(project.missing_files, loaded),
        )

    def _forgotten(self, before: int, loaded: LoadedProject) -> None:
        self.window.show_project(loaded)
        forgotten = plural(before - loaded.missing_files, "missing file")
        self.window.statusBar().showMessage(f"Forgot {forgotten}", 5000)


def counts_line(
    project: LoadedProject, shown: int, total: int, selected: int, indexing: str | None
) -> str:
    """The status bar's counts: samples shown, selected, the project's problems, labels and
    the background index's progress (``indexing``, when one runs)."""
    shown_text = plural(total, "sample") if shown == total else f"{shown:,} of {total:,}"
    problems = f"{project.broken_files:,} broken"
    if project.missing_files:
        problems += f" · {project.missing_files:,} missing"
    if project.unreadable:
        problems += f" · {len(project.unreadable):,} unreadable"
    note = f" · {indexing}" if indexing else ""
    return (
        f"{shown_text} · {selected:,} selected · {problems} · "
        f"{plural(project.labels, 'label')}{note}"
    )


def forget_question(project: LoadedProject) -> str:
    """The confirmation asked before the missing files are forgotten."""
    question = (
        f"Forget {plural(project.missing_files, 'missing file')} of {project.dataset_root}?\n\n"
        "Their samples leave the project with their tags, selection places and scores; this "
        "cannot be undone. The files themselves are not touched."
    )
    if project.warning is not None:
        question += (
            "\n\nMost of the project's files are missing: is the drive mounted? If it is only "
            "unplugged, choose No and open the folder again once it is back."
        )
    return question


def problem_details(project: LoadedProject) -> str:
    """The status line's tooltip: what is missing and what could not be read."""
    lines = []
    if project.missing_files:
        lines.append(
            f"{plural(project.missing_files, 'file')} not found at the last index: kept with "
            "their tags; File > Forget missing files… forgets them."
        )
    if project.unreadable:
        lines.append("Could not read:")
        lines.extend(f"  {readable_name(entry)}" for entry in project.unreadable)
    return "\n".join(lines)
