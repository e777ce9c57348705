"""The image with its Grad-CAM overlay: on/off, opacity slider and a colour bar."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from marrow_desktop.core.cam import overlay
from marrow_desktop.gui.widgets.color_bar import ColorBar
from marrow_desktop.gui.widgets.image_canvas import ImageCanvas


class CamView(QWidget):
    """Blends the heat map over the image at the chosen opacity (cheap: display-sized arrays)."""

    settingsChanged = Signal(bool, float)  # overlay shown, opacity

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rgb: np.ndarray | None = None
        self._cam: np.ndarray | None = None
        self._caption = ""
        self.canvas = ImageCanvas(placeholder="Select an image")
        self.color_bar = ColorBar()
        self.toggle = QCheckBox("Heat map", checked=True, toolTip="Show the Grad-CAM overlay (H)")
        self.opacity = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=45,
                               toolTip="Overlay opacity")
        self.opacity.setAccessibleName("Heat map opacity")
        self.opacity_label = QLabel("45%", objectName="muted")
        self.opacity_label.setMinimumWidth(34)

        images = QHBoxLayout()
        images.setContentsMargins(0, 0, 0, 0)
        images.setSpacing(4)
        images.addWidget(self.canvas, 1)
        images.addWidget(self.color_bar)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.toggle)
        controls.addSpacing(8)
        controls.addWidget(QLabel("Opacity", objectName="muted"))
        controls.addWidget(self.opacity, 1)
        controls.addWidget(self.opacity_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(images, 1)
        layout.addLayout(controls)

        self.toggle.toggled.connect(self._changed)
        self.opacity.valueChanged.connect(self._changed)

    @property
    def overlay_shown(self) -> bool:
        return self.toggle.isChecked()

    def set_settings(self, shown: bool, opacity: float) -> None:
        self.toggle.setChecked(shown)
        self.opacity.setValue(round(opacity * 100))

    def set_image(self, rgb: np.ndarray | None, cam: np.ndarray | None = None,
                  caption: str = "") -> None:
        self._rgb, self._cam, self._caption = rgb, cam, caption
        self.canvas.reset_view()  # another cell: fitted again
        self._render()

    def set_cam(self, cam: np.ndarray | None, caption: str = "") -> None:
        self._cam, self._caption = cam, caption
        self._render()

    def set_placeholder(self, text: str) -> None:
        self._rgb = self._cam = None
        self.canvas.set_placeholder(text)

    def _changed(self, *_args: object) -> None:
        self.opacity_label.setText(f"{self.opacity.value()}%")
        self.opacity.setEnabled(self.toggle.isChecked())
        self._render()
        self.settingsChanged.emit(self.toggle.isChecked(), self.opacity.value() / 100)

    def _render(self) -> None:
        if self._rgb is None:
            return
        if self._cam is not None and self.toggle.isChecked() and self.opacity.value() > 0:
            shown = overlay(self._rgb, self._cam, self.opacity.value() / 100)
            self.canvas.set_image(shown, self._caption, keep_view=True)
        else:
            self.canvas.set_image(self._rgb, "", keep_view=True)
