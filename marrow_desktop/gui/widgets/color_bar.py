"""Vertical colour bar of the heat map's colour map (the same colorize() as the overlay)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from marrow_desktop.core.cam import colorize
from marrow_desktop.gui.theme import to_qimage


class ColorBar(QWidget):
    """'high' at the top, 'low' at the bottom, gradient between."""

    def __init__(self, parent: QWidget | None = None, high: str = "high", low: str = "low",
                 ) -> None:
        super().__init__(parent)
        ramp = np.linspace(1.0, 0.0, 256, dtype=np.float32)[:, None].repeat(8, axis=1)
        self._gradient = to_qimage(colorize(ramp))
        self.high, self.low = high, low
        self.setFixedWidth(34)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setToolTip("Grad-CAM relevance: how much each region raised the score of the "
                        "selected class (red = most)")

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        font = QFont(painter.font())
        font.setPixelSize(10)
        painter.setFont(font)
        label_h = 14
        bar = QRectF(9, label_h + 2, 14, max(10, self.height() - 2 * label_h - 4))
        painter.drawImage(bar, self._gradient)
        painter.setPen(QPen(QColor("#94a3b8"), 1))
        painter.drawRect(bar)
        painter.setPen(QColor("#475569"))
        painter.drawText(QRectF(0, 0, self.width(), label_h), Qt.AlignmentFlag.AlignCenter,
                         self.high)
        painter.drawText(QRectF(0, bar.bottom() + 2, self.width(), label_h),
                         Qt.AlignmentFlag.AlignCenter, self.low)

    def sizeHint(self) -> QSize:
        return QSize(34, 200)
