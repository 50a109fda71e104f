"""ActiveLearningPanel: label fast, fit the probe, colour the map by uncertainty, pick the next
batch, repeat; with the round history.

Labels are class tags edited on the shared undo stack (or folder names); the probe fit and the
rounds are jobs on the panel's own :class:`JobRunner`, each opening its own Project.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent, QUndoStack
from PySide6.QtWidgets import (
    QGroupBox,
    QInputDialog,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.core.active.labels import (
    MIN_CLASSES,
    UNCERTAINTY_KEY,
    ClassCounts,
    LabelFacts,
    LabelSource,
    class_counts,
    label_tags,
    load_label_source,
    read_label_facts,
    save_label_source,
)
from app.core.active.probe_fit import ProbeFit
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import Project
from app.engine import JobRunner, LatestRunner
from app.gui_model.state import AppState, Event
from app.ui.active.classes import ClassList
from app.ui.active.controls import BatchBox, ProbeBox
from app.ui.active.history import RoundHistory
from app.ui.active.jobs import RoundOutcome, fit_job, load_rounds_job, round_job
from app.ui.active.keys import NumberKeys
from app.ui.active.labeller import TO_LABEL_TAG, Labeller
from app.ui.index_gate import gate
from app.ui.job_progress import JobProgress
from app.ui.tags.commands import quoted, samples_text
from app.ui.tags.editor import PALETTE

if TYPE_CHECKING:
    from app.core.active.rounds import Round

UNCERTAINTY_COLOUR = f"score:{UNCERTAINTY_KEY}"
EMBED_FIRST = (
    "Embed the dataset first: Train \u2192 Runs \u2192 Embed and map (or the map's Quick look)"
)
NO_PROJECT = "Open a project to run active learning."
WARNING_STYLE = "color: #e8a33d;"


class ActiveLearningPanel(QWidget):
    """Active learning on the open project; ``tags_changed`` after it tags samples."""

    tags_changed = Signal()

    def __init__(
        self, state: AppState, undo_stack: QUndoStack, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.undo_stack = undo_stack
        self.runner = JobRunner(self)
        self._reader = LatestRunner(parent=self)  # the counts, read off the GUI thread
        self.labeller = Labeller(undo_stack, self)
        self._project_dir: Path | None = None
        self._source = LabelSource()
        self._counts = ClassCounts((), (), 0, 0)
        self._colours: list[str] = []
        self._has_embeddings = False
        self._folders_available = False
        self._note = ""
        self._note_is_warning = False
        self._rounds_loaded = False
        self._on_done: Callable[[Any], None] | None = None

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.classes = ClassList()
        self.probe_box = ProbeBox()
        self.batch_box = BatchBox()
        self.history = RoundHistory()
        self.progress = JobProgress(self.runner)
        self._build_layout()

        self.keys = NumberKeys(self.press_number, self)
        self.keys.watch(self)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        self.classes.label_clicked.connect(self.label_class)
        self.classes.add_clicked.connect(self._ask_class)
        self.classes.remove_clicked.connect(self.remove_class)
        self.classes.source_chosen.connect(self.use_folders)
        self.probe_box.fit_button.clicked.connect(self.fit_probe)
        self.batch_box.next_button.clicked.connect(self.next_batch)
        self.history.picks_requested.connect(self.state.select)
        self.labeller.changed.connect(self.tags_changed)
        self.undo_stack.indexChanged.connect(self._refresh_counts)
        self.runner.busy_changed.connect(self._on_busy)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self._reader.finished.connect(self._on_facts)
        self._reader.failed.connect(lambda message, _details: self._warn(message))
        unsubscribe = state.subscribe(self._on_state)
        self.destroyed.connect(lambda *_: unsubscribe())
        self._update()

    # ----------------------------------------------------------------- project
    @property
    def project(self) -> Project | None:
        return self.labeller.project

    def set_project(self, project_dir: Path | None) -> None:
        """Work on the project in ``project_dir`` (None: no project).

        Stops a running job, opens a connection of its own on this (GUI) thread for the class
        tags and clears the undo stack, whose commands belong to the previous project. Raises
        SieveError if there is no project there.
        """
        self._stop_job()
        project = None if project_dir is None else Project.open(project_dir)
        old = self.labeller.project
        self.undo_stack.clear()
        self.labeller.set_project(project)
        if old is not None:
            old.close()
        self._project_dir = None if project is None else project.path
        self._note = ""
        self._rounds_loaded = False
        self.history.set_rounds([])
        self.probe_box.clear()
        self._source_read = None  # read when first needed: at 1M samples it takes a second
        self._reader.cancel()
        if self.isVisible():  # else when it is shown
            self.refresh()
            self._load_rounds()

    def shutdown(self) -> None:
        """Stop the running job and close the panel's project connection."""
        self._stop_job()
        self._reader.shutdown()
        old = self.labeller.project
        self.labeller.set_project(None)
        if old is not None:
            old.close()
        self._project_dir = None

    def _stop_job(self) -> None:
        """Cancel and wait for a running job; its result is dropped."""
        self._on_done = None
        if self.runner.is_busy:
            self.runner.shutdown()
            self.progress.setVisible(False)

    @property
    def _source(self) -> LabelSource:
        """Where the class labels come from (read from the project the first time it is asked)."""
        if self._source_read is None:
            project = self.project
            self._source_read = LabelSource() if project is None else load_label_source(project)
        return self._source_read

    @_source.setter
    def _source(self, source: LabelSource) -> None:
        self._source_read = source

    def refresh(self) -> None:
        """Re-read classes, counts and whether embeddings exist, off the GUI thread (at 1M
        samples the counts take a second); a hidden panel reads them when it is shown."""
        project_dir = self._project_dir
        if project_dir is None:
            self._has_embeddings = self._folders_available = False
            self._refresh_counts()
            return
        if self.isVisible():
            source = self._source_read
            self._reader.request(partial(_label_facts_job, project_dir, source), "Label counts")

    @property
    def reading(self) -> bool:
        """Whether a refresh's read is still under way."""
        return self._reader.is_busy

    def _on_facts(self, facts: LabelFacts) -> None:
        self._has_embeddings = facts.has_embeddings
        self._folders_available = facts.folders_available
        if self._source_read not in (None, facts.source):  # changed meanwhile: count again
            self._refresh_counts()
            return
        self._source_read, self._counts = facts.source, facts.counts
        self._colours = self._class_colours()
        self._update()

    # ------------------------------------------------------------------ labels
    def use_folders(self, from_folders: bool) -> None:
        """Take labels from folder names (True) or from the class tags (False); remembered."""
        project = self.project
        if project is None or from_folders == self._source.from_folders:
            return
        self._source = self._source.with_(from_folders=from_folders)
        save_label_source(project, self._source)
        self._note = ""
        self._refresh_counts()

    def add_class(self, name: str) -> bool:
        """Use the tag ``name`` as the next class (created, undoably, when there is none)."""
        name = name.strip()
        if self.project is None or not name:
            return False
        if name in self._source.classes:
            self._warn(f"{quoted(name)} is a class already.")
            return False
        if not self._guarded(lambda: self.labeller.ensure_tag(name)):
            return False
        self._source = self._source.with_(classes=(*self._source.classes, name))
        save_label_source(self.project, self._source)
        self._say(f"Class {len(self._source.classes)}: {quoted(name)}.")
        self._refresh_counts()
        return True

    def remove_class(self, name: str) -> None:
        """Stop using ``name`` as a class; the tag and its samples stay."""
        if self.project is None or name not in self._source.classes:
            return
        classes = tuple(c for c in self._source.classes if c != name)
        self._source = self._source.with_(classes=classes)
        save_label_source(self.project, self._source)
        self._say(f"{quoted(name)} is no longer a class; the tag stays.")
        self._refresh_counts()

    def press_number(self, n: int) -> None:
        """Key ``n`` (1-9): label the selection with class ``n``, or say why not."""
        if self.project is None:
            return
        if self._source.from_folders:
            self._warn("Folder names label these samples: choose Tags to label by hand.")
        elif n > len(self._source.classes):
            self._warn(f"There is no class {n}: add one with \u201cAdd class\u2026\u201d.")
        else:
            self.label_class(n - 1)

    def label_class(self, index: int) -> int:
        """Give the selected samples class ``index`` (one undo step); returns how many changed."""
        if self.project is None or self._source.from_folders:
            return 0
        if not len(self.state.selected):
            self._warn("Select samples first (in the grid or on the map), then press a class key.")
            return 0
        name = self._source.classes[index]
        ids = self.state.selected
        changed = self._guarded(lambda: self.labeller.label(ids, name, self._source.classes))
        if changed is None:
            return 0
        if changed:
            self._say(f"Labelled {samples_text(len(ids))} {quoted(name)}.")
        else:
            self._say(f"The {samples_text(len(ids))} are labelled {quoted(name)} already.")
        return changed

    # ---------------------------------------------------------------- the loop
    def fit_probe(self) -> bool:
        """Start the probe fit; False (with a message) when it cannot run yet."""
        if not self._can_run():
            return False
        if self._counts.classes_labelled < MIN_CLASSES:
            self._warn(
                f"Label samples of at least {MIN_CLASSES} classes first "
                f"({self._counts.classes_labelled} so far): select samples and press 1, 2, \u2026"
            )
            return False
        tags = label_tags(self.project, self._source)
        self._start(partial(fit_job, self._project_dir, tags), "Fit probe", self._on_fitted)
        return True

    def next_batch(self) -> bool:
        """Start a round that picks the next batch; False (with a message) when it cannot."""
        if not self._can_run():
            return False
        if self._counts.total and self._counts.unlabelled == 0:
            self._warn("Every sample has a label: there is nothing left to pick.")
            return False
        tags = label_tags(self.project, self._source)
        box = self.batch_box
        factory = partial(round_job, self._project_dir, box.size.value(), box.strategy_name(), tags)
        self._start(factory, "Next batch", self._on_round)
        return True

    def _can_run(self) -> bool:
        if self.project is None or self.runner.is_busy:
            return False
        if not self._has_embeddings:
            self.refresh()
        if not self._has_embeddings:
            self._warn(EMBED_FIRST)
            return False
        return True

    def _on_fitted(self, fit: ProbeFit) -> None:
        self.probe_box.show_accuracy(fit.accuracy, fit.held_out, fit.labelled)
        self._colour_by_uncertainty()
        self._say(
            f"Probe fitted on {fit.labelled:,} labelled samples; the map is coloured by "
            "uncertainty (label the most uncertain next)."
        )

    def _on_round(self, outcome: RoundOutcome) -> None:
        record = outcome.record
        self.history.set_rounds(outcome.rounds)
        self._rounds_loaded = True
        self.probe_box.show_accuracy(record.accuracy, record.held_out, record.labelled)
        tagged = ""
        if self.batch_box.tag_picks.isChecked() and self._guarded(
            lambda: self.labeller.queue(record.picked)
        ):
            tagged = f", tagged {quoted(TO_LABEL_TAG)}"
        self.state.select(record.picked)
        if record.classes >= MIN_CLASSES:
            self._colour_by_uncertainty()
        self._say(
            f"Round {record.number}: {samples_text(len(record.picked))} selected to label "
            f"next{tagged}."
        )

    def _colour_by_uncertainty(self) -> None:
        """Colour the map by the new uncertainty; views already colouring by it re-read it.

        AppState only reports a changed key, so a key that stays is passed through None.
        """
        if self.state.colour_by == UNCERTAINTY_COLOUR:
            self.state.set_colour_by(None)
        self.state.set_colour_by(UNCERTAINTY_COLOUR)

    def _on_rounds_loaded(self, rounds: list[Round]) -> None:
        self.history.set_rounds(rounds)
        if rounds:
            last = rounds[-1]
            self.probe_box.show_accuracy(
                last.accuracy, last.held_out, last.labelled, f"round {last.number}"
            )

    # ------------------------------------------------------------------- jobs
    def _start(
        self,
        factory: Callable[[CancelToken], Job[Any]],
        name: str,
        on_done: Callable[[Any], None],
    ) -> None:
        """Run ``factory`` on the panel's runner; ``on_done(result)`` when it succeeds."""
        self._note = ""
        self._on_done = on_done
        self.runner.start(factory, name)

    def _on_finished(self, result: object) -> None:
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(result)

    def _on_busy(self, busy: bool) -> None:
        if not busy and self.isVisible():
            self._load_rounds()
        self._update()

    def _load_rounds(self) -> None:
        if self._project_dir is None or self.runner.is_busy or self._rounds_loaded:
            return
        self._rounds_loaded = True
        factory = partial(load_rounds_job, self._project_dir)
        self._start(factory, "Round history", self._on_rounds_loaded)

    def _on_failed(self, message: str, _details: str) -> None:
        self._on_done = None
        self._warn(message)

    def _on_cancelled(self) -> None:
        self._on_done = None
        self._say("Cancelled.")

    # ---------------------------------------------------------------- showing
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.project is not None:
            self.refresh()
            self._load_rounds()

    def _refresh_counts(self, *_: object) -> None:
        project = self.project
        if project is None:
            self._counts = ClassCounts((), (), 0, 0)
        else:
            self._counts = class_counts(project, self._source)
        self._colours = self._class_colours()
        self._update()

    def _class_colours(self) -> list[str]:
        """Each class's tag colour (a palette colour for folder names and missing tags)."""
        project = self.project
        colours = [PALETTE[i % len(PALETTE)] for i in range(len(self._counts.names))]
        if project is None or self._source.from_folders:
            return colours
        by_name = {tag.name: tag.color for tag in project.tags()}
        return [by_name.get(name, c) for name, c in zip(self._counts.names, colours, strict=True)]

    def _update(self, *_: object) -> None:
        has_project = self.project is not None
        busy = self.runner.is_busy
        self.classes.setEnabled(has_project)
        self.classes.show_classes(
            self._counts,
            (self._source_read or LabelSource()).from_folders,  # not read yet: no classes
            self._folders_available,
            self._colours,
            len(self.state.selected),
        )
        ready = has_project and self._has_embeddings and not busy
        gate(self.probe_box.fit_button, self.state, ready)
        gate(self.batch_box.next_button, self.state, ready)
        self.classes.source.setEnabled(has_project and not busy)
        if not has_project:
            self._show_message(NO_PROJECT, False)
        elif not self._has_embeddings:
            self._show_message(EMBED_FIRST, True)
        else:
            self._show_message(self._note, self._note_is_warning)

    def _show_message(self, text: str, warning: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(WARNING_STYLE if warning else "")
        self.message.setVisible(bool(text))

    def _say(self, text: str) -> None:
        self._note, self._note_is_warning = text, False
        self._update()

    def _warn(self, text: str) -> None:
        self._note, self._note_is_warning = text, True
        self._update()

    def _guarded(self, edit: Callable[[], Any]) -> Any:
        """Run a tag edit; a refused one (SieveError) becomes a warning and returns None."""
        try:
            return edit()
        except SieveError as error:
            self._warn(str(error))
            return None

    def _on_state(self, event: Event) -> None:
        if event in ("selection", "indexing"):
            self._update()

    def _ask_class(self) -> None:
        project = self.project
        if project is None:
            return
        free = [
            t.name for t in project.tags() if t.name not in (*self._source.classes, TO_LABEL_TAG)
        ]
        name, ok = QInputDialog.getItem(
            self, "Add class", "Name of the class (a new or an existing tag):", free, 0, True
        )
        if ok:
            self.add_class(name)

    def _build_layout(self) -> None:
        label_box = QGroupBox("1 \u00b7 Label")
        QVBoxLayout(label_box).addWidget(self.classes)
        rounds_box = QGroupBox("Rounds")
        QVBoxLayout(rounds_box).addWidget(self.history)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.message)
        layout.addWidget(label_box)
        layout.addWidget(self.probe_box)
        layout.addWidget(self.batch_box)
        layout.addWidget(rounds_box, 1)
        layout.addWidget(self.progress)


def _label_facts_job(
    project_dir: Path, source: LabelSource | None, cancel: CancelToken | None = None
) -> Job[LabelFacts]:
    yield Progress("read", 0, None, "counting labels")
    with Project.open(project_dir) as project:
        return read_label_facts(project, source)
