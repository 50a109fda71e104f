"""What the window says about a project's problems: missing files and unreadable folders."""

from __future__ import annotations

from app.core.data.scan import readable_name
from app.ui.opening import LoadedProject
from app.ui.status import plural


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
