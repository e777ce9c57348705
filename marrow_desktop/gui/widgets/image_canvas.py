"""A widget that shows an RGB image scaled to fit, aspect ratio kept, with a caption."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from marrow_desktop.gui.theme import to_qimage


def fit_rect(image_size: QSize, bounds: QRectF) -> QRectF:
    """The largest rectangle of the image's aspect ratio centred in bounds."""
    if image_size.isEmpty():
        return QRectF()
    scale = min(bounds.width() / image_size.width(), bounds.height() / image_size.height())
    w, h = image_size.width() * scale, image_size.height() * scale
    rect = QRectF(0, 0, w, h)
    rect.moveCenter(bounds.center())
    return rect


class ScaledCache:
    """The image scaled smoothly once per display size, so repaints only copy pixels."""

    def __init__(self) -> None:
        self.source: QImage | None = None
        self._scaled: QImage | None = None

    def set(self, image: QImage | None) -> None:
        self.source, self._scaled = image, None

    def get(self, target: QRectF) -> QImage | None:
        if self.source is None or self.source.isNull():
            return None
        size = target.size().toSize()
        if self._scaled is None or self._scaled.size() != size:
            self._scaled = self.source.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation)
        return self._scaled


def draw_caption(painter: QPainter, rect: QRectF, text: str, right: bool = False,
                 bottom: bool = False) -> None:
    """A small label on a translucent pill in a corner of the image (top left by default)."""
    if not text:
        return
    font = QFont(painter.font())
    font.setPixelSize(11)
    font.setBold(True)
    painter.setFont(font)
    width = painter.fontMetrics().horizontalAdvance(text) + 12
    width = min(width, rect.width() - 12)
    top = rect.bottom() - 24 if bottom else rect.top() + 6
    pill = QRectF(rect.right() - width - 6 if right else rect.left() + 6, top, width, 18)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(15, 23, 42, 150))
    painter.drawRoundedRect(pill, 9, 9)
    painter.setPen(QColor("#ffffff"))
    shown = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                             int(pill.width()) - 10)
    painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, shown)


class ImageCanvas(QWidget):
    """Paints one image (numpy RGB or QImage) fitted to the widget; a message when empty."""

    def __init__(self, parent: QWidget | None = None, placeholder: str = "No image") -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._array: np.ndarray | None = None
        self._scaled = ScaledCache()
        self.placeholder = placeholder
        self.caption = ""
        self.setMinimumSize(140, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: np.ndarray | QImage | None, caption: str = "") -> None:
        if isinstance(image, np.ndarray):
            self._array = image
            image = to_qimage(image)
        else:
            self._array = None
        self._image = image
        self._scaled.set(image)
        self.caption = caption
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._image = None
        self._array = None
        self._scaled.set(None)
        self.placeholder = text
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def array(self) -> np.ndarray | None:
        """The numpy image last shown (tests)."""
        return self._array

    def image_rect(self) -> QRectF:
        if self._image is None:
            return QRectF()
        return fit_rect(self._image.size(), QRectF(self.rect()).adjusted(2, 2, -2, -2))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor("#eef1f5"))
        if self._image is None or self._image.isNull():
            painter.setPen(QColor("#64748b"))
            painter.drawText(self.rect().adjusted(10, 10, -10, -10),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            return
        target = QRectF(self.image_rect().toRect())
        painter.drawImage(target.topLeft(), self._scaled.get(target))
        painter.setPen(QPen(QColor("#cbd5e1"), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(target)
        draw_caption(painter, target, self.caption)

    def sizeHint(self) -> QSize:
        return QSize(300, 300)
