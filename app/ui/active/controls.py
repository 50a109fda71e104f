"""The loop's two control boxes: fit the probe (with its accuracy) and pick the next batch."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.active.strategies import RECOMMENDED, STRATEGIES
from app.ui.active.history import accuracy_text
from app.ui.active.labeller import TO_LABEL_TAG
from app.ui.tags.commands import quoted

DEFAULT_BATCH = 40
NO_ACCURACY = "Held-out accuracy: \u2013"


class ProbeBox(QGroupBox):
    """The Fit probe button and the latest held-out accuracy."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("2 \u00b7 Probe and uncertainty", parent)
        self.fit_button = QPushButton("Fit probe")
        self.fit_button.setToolTip(
            "Fit a linear probe on the labelled samples' embeddings, store every sample's "
            "uncertainty and colour the map by it"
        )
        self.accuracy = QLabel(NO_ACCURACY)
        self.accuracy.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.fit_button)
        layout.addWidget(self.accuracy)

    def clear(self) -> None:
        self.accuracy.setText(NO_ACCURACY)

    def show_accuracy(
        self, accuracy: float | None, held_out: int, labelled: int, when: str = "now"
    ) -> None:
        if accuracy is None:
            text = f"{NO_ACCURACY} (too few of the {labelled:,} labelled samples to hold some out)"
        else:
            text = (
                f"Held-out accuracy ({when}): <b>{accuracy_text(accuracy)}</b> on "
                f"{held_out:,} of {labelled:,} labelled"
            )
        self.accuracy.setText(text)


class BatchBox(QGroupBox):
    """Strategy (the recommended one first chosen), batch size, the to-label tag and the button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("3 \u00b7 Next batch", parent)
        self.strategy = QComboBox()
        for name in STRATEGIES:
            text = f"{name} (recommended)" if name == RECOMMENDED else name
            self.strategy.addItem(text, name)
        self.strategy.setCurrentIndex(STRATEGIES.index(RECOMMENDED))
        self.strategy.setToolTip(
            "How the next batch is picked; the recommended one won Sieve's benchmark"
        )
        self.size = QSpinBox()
        self.size.setRange(1, 100_000)
        self.size.setValue(DEFAULT_BATCH)
        self.size.setToolTip("How many samples to pick")
        self.tag_picks = QCheckBox(f"Tag the picks {quoted(TO_LABEL_TAG)}")
        self.tag_picks.setChecked(True)
        self.next_button = QPushButton("Select next batch")
        self.next_button.setToolTip(
            "Pick the samples to label next (never a labelled one), select them and record "
            "the round"
        )
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Strategy", self.strategy)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size)
        size_row.addWidget(self.tag_picks, 1)
        form.addRow("Batch size", size_row)
        form.addRow(self.next_button)

    def strategy_name(self) -> str:
        return str(self.strategy.currentData())
