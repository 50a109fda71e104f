"""The training settings form, generated from TrainConfig's fields (one definition per concept).

Each field gets an editor by its type: closed choices become combo boxes, ints spin boxes,
floats double spin boxes (both limited to the field's declared range), ``float | None`` an
"auto" tick box beside a spin box, dicts a ``key=value`` line. The basic fields are always
shown, the rest fold under "Advanced". Choosing a method shows its defaults wherever a field is
on "auto".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from app.core.ranges import Range
from app.core.ssl.backbones import BACKBONES, backbone_names, resolve_backbone_name
from app.core.ssl.config import TrainConfig, config_fields
from app.core.ssl.methods import METHODS
from app.ui.training.collapsible import Collapsible
from app.ui.training.devices import device_choices, device_label
from app.ui.training.fields import (
    AUTO,
    AutoFloatEditor,
    ChoiceEditor,
    FieldEditor,
    FloatEditor,
    IntEditor,
    PairsEditor,
    TextEditor,
)
from app.ui.training.validation import format_pairs

BASIC = ("method", "backbone", "image_size", "epochs", "batch_size", "device")
LABELS = {
    "lr": "Learning rate",
    "knn_k": "kNN k",
    "knn_temperature": "kNN temperature",
    "knn_every": "kNN every (epochs)",
    "options": "Method options",
    "augment": "Augmentation",
    "warmup_epochs": "Warm-up epochs",
    "checkpoint_every": "Checkpoint every (steps)",
    "image_size": "Image size (px)",
}
WEIGHTS = [("none", "none"), ("imagenet", "imagenet")]
AUGMENT_HINT = "e.g. blur_prob=0, cj_strength=0.5, hflip_prob=0.5"


def _registry_choices() -> dict[str, Callable[[], ChoiceEditor]]:
    """Fields whose choices live in a registry rather than in the field's metadata."""
    return {
        "method": lambda: ChoiceEditor([(name, name) for name in METHODS]),
        "backbone": lambda: ChoiceEditor([(AUTO, AUTO)] + [(n, n) for n in backbone_names()]),
        "device": lambda: ChoiceEditor(device_choices()),
        "weights": lambda: ChoiceEditor(WEIGHTS, editable=True),
    }


def make_editor(spec: dataclasses.Field) -> FieldEditor:
    """The editor for one TrainConfig field, chosen by its choices and declared type."""
    special = _registry_choices().get(spec.name)
    if special is not None:
        return special()
    choices = spec.metadata.get("choices")
    if choices:
        return ChoiceEditor([(choice, choice) for choice in choices])
    kind = str(spec.type)
    limits = spec.metadata.get("range") or Range()
    if kind == "int":
        return IntEditor(limits)
    if kind == "float":
        return FloatEditor(limits)
    if kind == "float | None":
        return AutoFloatEditor(limits)
    if kind == "str":
        return TextEditor()
    if kind.startswith("dict["):
        return PairsEditor(LABELS.get(spec.name, spec.name).lower())
    raise TypeError(f"no form editor for TrainConfig.{spec.name} of type {kind}")


def label_for(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


class TrainForm(QWidget):
    """Edits one TrainConfig; ``config()`` reads it back (SieveError for unreadable text)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editors: dict[str, FieldEditor] = {}
        basic, advanced = QFormLayout(), QFormLayout()
        for layout in (basic, advanced):
            layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            layout.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        for spec in config_fields():
            editor = make_editor(spec)
            editor.setToolTip(spec.metadata["help"])
            editor.changed.connect(self.changed)
            self.editors[spec.name] = editor
            label = QLabel(label_for(spec.name))
            label.setToolTip(spec.metadata["help"])
            (basic if spec.name in BASIC else advanced).addRow(label, editor)
        self._describe_choices()
        advanced_body = QWidget()
        advanced_body.setLayout(advanced)
        advanced.setContentsMargins(0, 4, 0, 0)
        self.advanced = Collapsible("Advanced", advanced_body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(basic)
        layout.addWidget(self.advanced)
        self.editors["method"].changed.connect(self._show_auto_values)
        self.editors["image_size"].changed.connect(self._show_auto_values)
        self.set_config(TrainConfig())

    def _describe_choices(self) -> None:
        """Tool tips on the method and backbone items: what each one is."""
        for name, summaries in (
            ("method", {name: cls.summary for name, cls in METHODS.items()}),
            ("backbone", {name: spec.summary for name, spec in BACKBONES.items()}),
        ):
            combo = self.editors[name].combo
            for index in range(combo.count()):
                summary = summaries.get(combo.itemData(index))
                if summary:
                    combo.setItemData(index, summary, Qt.ItemDataRole.ToolTipRole)

    # ------------------------------------------------------------------ values
    def config(self) -> TrainConfig:
        """The settings entered, as a TrainConfig (not validated: see check_config)."""
        return TrainConfig(**{name: editor.value() for name, editor in self.editors.items()})

    def set_config(self, config: TrainConfig) -> None:
        for spec in config_fields():
            self.editors[spec.name].set_value(getattr(config, spec.name))
        self._show_auto_values()

    def method(self) -> str:
        return self.editors["method"].value()

    # ------------------------------------------------------------------- auto
    def _show_auto_values(self) -> None:
        """Show the chosen method's defaults (and the auto backbone for the size) on auto."""
        method = METHODS.get(self.method())
        if method is None:
            return
        defaults = method.defaults
        self.editors["optimizer"].set_auto(defaults.optimizer)
        self.editors["lr"].set_auto(defaults.lr)
        self.editors["weight_decay"].set_auto(defaults.weight_decay)
        self.editors["warmup_epochs"].set_auto(defaults.warmup_epochs)
        self.editors["options"].set_auto(format_pairs(dict(method.options)))
        self.editors["augment"].set_auto(f"{defaults.augment} views; {AUGMENT_HINT}")
        size = self.editors["image_size"].value()
        self.editors["backbone"].set_auto(resolve_backbone_name(AUTO, max(size, 1)))
        self.editors["device"].set_auto(device_label(AUTO))
