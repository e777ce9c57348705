"""The current cell at full resolution in its own resizable window (zoom with the wheel, pan by
dragging, double-click for 100% / fit); follows the selection while open."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from marrow_desktop.gui.widgets.image_canvas import ImageCanvas


class ImageViewer(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Full-size image")
        self.canvas = ImageCanvas(placeholder="Select an image")
        self.info = QLabel(objectName="muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.info)
        self.resize(760, 800)

    def show_image(self, name: str, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self.canvas.set_placeholder("No image")
            self.info.setText("")
            return
        h, w = rgb.shape[:2]
        self.setWindowTitle(f"{name} – full size")
        self.canvas.set_image(rgb, name)
        self.info.setText(f"{name} · {w} × {h} px · wheel: zoom, drag: pan, double-click: "
                          "100% / fit")
