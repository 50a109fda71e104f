"""The CPU time estimate under the settings, with "Use faster settings" when a run is heavy."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from app.core.errors import SieveError
from app.core.ssl.config import TrainConfig
from app.ui.training.devices import trains_on_cpu
from app.ui.training.estimate import HEAVY_SECONDS, cpu_seconds, faster_config, rough_duration
from app.ui.training.messages import COLOURS


class CpuEstimate(QWidget):
    """Hidden unless the settings train on the CPU; ``apply_requested`` carries lighter ones."""

    apply_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._faster: TrainConfig | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.faster_button = QPushButton("Use faster settings")
        self.faster_button.setToolTip("Smaller images, a lighter backbone and fewer epochs")
        self.faster_button.clicked.connect(self._apply)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.faster_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.show_for(None, 0)

    @property
    def heavy(self) -> bool:
        return self._faster is not None

    def show_for(self, config: TrainConfig | None, images: int) -> None:
        """Estimate ``config`` on ``images`` images (None or a GPU device: hide)."""
        seconds = self._seconds(config, images)
        self.setVisible(seconds is not None)
        self._faster = None
        if seconds is None or config is None:
            return
        text = (
            f"On the CPU: {rough_duration(seconds)} for {images:,} images × {config.epochs} epochs."
        )
        if seconds > HEAVY_SECONDS:
            self._faster = faster_config(config, images)
            faster = self._faster
            text += (
                " These settings are heavy for a CPU; a GPU would be far faster. Faster: "
                f"{faster.image_size} px, {faster.backbone}, {faster.epochs} epochs, "
                f"{rough_duration(cpu_seconds(faster, images))}."
            )
        self.faster_button.setVisible(self.heavy)
        colour = COLOURS["warning" if self.heavy else "info"]
        self.label.setStyleSheet(f"QLabel {{ color: {colour}; }}")
        self.label.setText(text)

    @staticmethod
    def _seconds(config: TrainConfig | None, images: int) -> float | None:
        if config is None or images < 1 or not trains_on_cpu(config.device):
            return None
        try:
            return cpu_seconds(config, images)
        except (SieveError, ValueError):
            return None

    def _apply(self) -> None:
        if self._faster is not None:
            self.apply_requested.emit(self._faster)
