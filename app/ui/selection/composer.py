"""The form that composes a :class:`SelectSpec`: a preset, strategy rows and the run's options.

Choosing a preset fills the rows and options; editing any of them afterwards shows "Custom".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SieveError
from app.core.selection.spec import SelectSpec, next_selection_name
from app.ui.compact import compact
from app.ui.selection.jobs import PoolInfo
from app.ui.selection.presets import (
    CUSTOM,
    DUPLICATE_DISTANCE,
    PRESETS,
    RECOMMENDED,
    Preset,
)
from app.ui.selection.strategy_rows import StrategyList

BALANCE_BY = (
    ("No class balance", None),
    ("Balance labels", "label"),
    ("Balance folders", "folder"),
)
BALANCE_TARGETS = (("equal shares", "uniform"), ("shares as in the pool", "input"))
UNITS = (("samples", "count"), ("% of pool", "fraction"))
MAX_SEED = 2**31 - 1


class StrategyComposer(QWidget):
    """See the module docstring; :meth:`spec` reads the form, :meth:`set_info` fills choices."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info: PoolInfo | None = None
        self._auto_name = ""
        self._applying = False

        self.preset = compact(QComboBox(), 16)
        for preset in PRESETS:
            self.preset.addItem(preset.label)
            self.preset.setItemData(
                self.preset.count() - 1, preset.tip, Qt.ItemDataRole.ToolTipRole
            )
        self.preset_tip = QLabel()
        self.preset_tip.setWordWrap(True)
        self.preset_tip.setEnabled(False)
        self.strategies = StrategyList()

        self.balance_by = _combo(BALANCE_BY, "Steer the picks' class shares")
        self.balance_target = _combo(BALANCE_TARGETS, "The class shares to aim for")
        self.dedupe = QCheckBox("Skip near-duplicates")
        self.dedupe.setToolTip("Diversity stops once every candidate is this close to a pick")
        self.min_distance = QDoubleSpinBox(decimals=2, minimum=0.01, maximum=2.0, singleStep=0.02)
        self.min_distance.setValue(DUPLICATE_DISTANCE)
        self.min_distance.setPrefix("closer than ")
        self.min_distance.setToolTip(
            "Distance between unit embeddings (0 to 2); 0.32 is cosine similarity 0.95"
        )
        self.exclude = compact(QComboBox())
        self.exclude.setToolTip("Samples with this tag (e.g. already labelled) are never picked")
        self.leave_out = compact(QComboBox())
        self.leave_out.setToolTip(
            "Samples with this tag (e.g. exclude, from the Issues tab) are left out entirely: "
            "never picked, and their neighbours are not passed over on their account"
        )
        self.count = QSpinBox(minimum=1, maximum=1_000_000_000, value=100)
        self.count.setGroupSeparatorShown(True)
        self.percent = QDoubleSpinBox(decimals=1, minimum=0.1, maximum=100.0, value=10.0)
        self.percent.setSuffix(" %")
        self.unit = _combo(UNITS, "A number of samples, or a share of the candidates")
        self.pool_label = QLabel()
        self.pool_label.setEnabled(False)
        self.seed = QSpinBox(minimum=0, maximum=MAX_SEED)
        self.seed.setToolTip("Seeds random strategies and breaks ties")
        self.name = QLineEdit()
        self.name.setToolTip("The selection is saved under this name")

        size = QHBoxLayout()
        size.addWidget(self.count, 1)
        size.addWidget(self.percent, 1)
        size.addWidget(self.unit)
        balance = QHBoxLayout()
        balance.addWidget(self.balance_by, 1)
        balance.addWidget(self.balance_target, 1)
        dedupe = QHBoxLayout()
        dedupe.addWidget(self.dedupe)
        dedupe.addWidget(self.min_distance)
        dedupe.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Preset", self.preset)
        form.addRow("", self.preset_tip)
        form.addRow("Strategies", self.strategies)
        form.addRow("Classes", balance)
        form.addRow("Duplicates", dedupe)
        form.addRow("Exclude tag", self.exclude)
        form.addRow("Leave out tag", self.leave_out)
        form.addRow("Pick", size)
        form.addRow("", self.pool_label)
        seed = QHBoxLayout()
        seed.addWidget(self.seed)
        seed.addStretch(2)
        form.addRow("Seed", seed)
        form.addRow("Save as", self.name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)

        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.strategies.edited.connect(self._edited)
        for combo in (self.balance_by, self.balance_target):
            combo.currentIndexChanged.connect(self._edited)
        self.dedupe.toggled.connect(self._edited)
        self.min_distance.valueChanged.connect(self._edited)
        self.unit.currentIndexChanged.connect(self._show_size)
        self.exclude.currentIndexChanged.connect(self._show_size)
        self.percent.valueChanged.connect(self._show_size)
        self.set_info(None)
        self.apply_preset(RECOMMENDED)

    # ------------------------------------------------------------------- API
    def set_info(self, info: PoolInfo | None) -> None:
        """Offer the project's tags, scores and pool size; refresh the default name."""
        self.info = info
        tags = info.tags if info else []
        self.strategies.set_choices(tags, info.scores if info else [])
        for combo in (self.exclude, self.leave_out):
            keep = combo.currentData()
            with QSignalBlocker(combo):
                combo.clear()
                combo.addItem("nothing", None)
                for tag in tags:
                    combo.addItem(tag, tag)
                combo.setCurrentIndex(max(0, combo.findData(keep)))
        self.refresh_name(info.selections if info else [])
        self._show_size()

    def refresh_name(self, existing: Sequence[str]) -> None:
        """Suggest a fresh ``selection-N`` unless the user typed a name of their own."""
        fresh = next_selection_name(existing)
        if self.name.text().strip() in ("", self._auto_name):
            self.name.setText(fresh)
        self._auto_name = fresh

    def apply_preset(self, preset: Preset) -> None:
        """Fill the rows and options from ``preset`` (Custom leaves them as they are)."""
        self._applying = True
        try:
            with QSignalBlocker(self.preset):
                self.preset.setCurrentIndex(PRESETS.index(preset))
            self.preset_tip.setText(preset.tip)
            if preset is not CUSTOM:
                self.strategies.set_entries(preset.strategies)
                balance = preset.balance or {}
                _choose(self.balance_by, balance.get("by"))
                _choose(self.balance_target, balance.get("target", "uniform"))
                self.dedupe.setChecked(preset.min_distance is not None)
                if preset.min_distance is not None:
                    self.min_distance.setValue(preset.min_distance)
        finally:
            self._applying = False
        self._sync_enabled()

    def current_preset(self) -> Preset:
        return PRESETS[self.preset.currentIndex()]

    def spec(self, selected: np.ndarray) -> SelectSpec:
        """The form as a spec; SieveError says what to fix. ``selected``: the current selection
        (for "similar to selection" rows)."""
        by = self.balance_by.currentData()
        fraction = self.unit.currentData() == "fraction"
        return SelectSpec(
            n=0 if fraction else int(self.count.value()),
            strategies=self.strategies.entries(selected),
            balance=None if by is None else {"by": by, "target": self.balance_target.currentData()},
            exclude_tag=self.exclude.currentData(),
            leave_out_tag=self.leave_out.currentData(),
            min_distance=float(self.min_distance.value()) if self.dedupe.isChecked() else None,
            seed=int(self.seed.value()),
            fraction=float(self.percent.value()) / 100.0 if fraction else None,
        )

    def selection_name(self) -> str:
        name = self.name.text().strip()
        if not name:
            raise SieveError("give the selection a name")
        return name

    # --------------------------------------------------------------- helpers
    def _preset_chosen(self, *_: object) -> None:
        self.apply_preset(self.current_preset())

    def _edited(self, *_: object) -> None:
        self._sync_enabled()
        if not self._applying and self.current_preset() is not CUSTOM:
            with QSignalBlocker(self.preset):
                self.preset.setCurrentIndex(PRESETS.index(CUSTOM))
            self.preset_tip.setText(CUSTOM.tip)

    def _sync_enabled(self) -> None:
        self.balance_target.setEnabled(self.balance_by.currentData() is not None)
        self.min_distance.setEnabled(self.dedupe.isChecked())

    def _show_size(self, *_: object) -> None:
        fraction = self.unit.currentData() == "fraction"
        self.count.setVisible(not fraction)
        self.percent.setVisible(fraction)
        if self.info is None:
            self.pool_label.setText("")
            return
        pool = self.info.pool(self.exclude.currentData())
        if fraction:
            wanted = int(round(self.percent.value() / 100.0 * pool))
            self.pool_label.setText(f"\u2248 {wanted:,} of {pool:,}")
        else:
            self.pool_label.setText(f"of {pool:,} candidates")


def _combo(items: Sequence[tuple[str, object]], tip: str) -> QComboBox:
    combo = compact(QComboBox())
    combo.setToolTip(tip)
    for text, data in items:
        combo.addItem(text, data)
    return combo


def _choose(combo: QComboBox, data: object) -> None:
    combo.setCurrentIndex(max(0, combo.findData(data)))
