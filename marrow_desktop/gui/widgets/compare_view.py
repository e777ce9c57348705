"""Original vs. sharpened: one image, side by side, or an A/B wipe with a draggable divider."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from marrow_desktop.gui.theme import to_qimage
from marrow_desktop.gui.widgets.image_canvas import ScaledCache, draw_caption, fit_rect

MODES = ("single", "side", "wipe")


class CompareView(QWidget):
    """Shows image A alone, A | B side by side, or B wiped over A (drag the divider)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._a: QImage | None = None
        self._b: QImage | None = None
        self._cache = {"a": ScaledCache(), "b": ScaledCache()}
        self.mode = "single"
        self.split = 0.5
        self.caption_a = "Original"
        self.caption_b = "Sharpened"
        self.placeholder = "Select an image"
        self.setMinimumSize(160, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_images(self, a: np.ndarray | None, b: np.ndarray | None = None) -> None:
        self._a = to_qimage(a) if a is not None else None
        self._b = to_qimage(b) if b is not None else None
        self._cache["a"].set(self._a)
        self._cache["b"].set(self._b)
        self.update()

    def set_b(self, b: np.ndarray | None, caption: str = "Sharpened") -> None:
        self._b = to_qimage(b) if b is not None else None
        self._cache["b"].set(self._b)
        self.caption_b = caption
        self.update()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.setCursor(Qt.CursorShape.SplitHCursor if mode == "wipe"
                       else Qt.CursorShape.ArrowCursor)
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._a = self._b = None
        self._cache["a"].set(None)
        self._cache["b"].set(None)
        self.placeholder = text
        self.update()

    def has_b(self) -> bool:
        return self._b is not None

    # painting --------------------------------------------------------------------------------
    def _draw(self, painter: QPainter, image: QImage, target: QRectF, caption: str,
              clip: QRectF | None = None) -> None:
        which = "a" if image is self._a else "b"
        target = QRectF(target.toRect())
        scaled = self._cache[which].get(target)
        if scaled is None:
            return
        if clip is not None:
            painter.save()
            painter.setClipRect(clip)
        painter.drawImage(target.topLeft(), scaled)
        if clip is not None:
            painter.restore()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor("#eef1f5"))
        bounds = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        if self._a is None:
            painter.setPen(QColor("#64748b"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            return
        b = self._b if self.mode != "single" else None
        if b is not None and self.mode == "side":
            half = (bounds.width() - 6) / 2
            left = fit_rect(self._a.size(), QRectF(bounds.left(), bounds.top(), half,
                                                   bounds.height()))
            right = fit_rect(b.size(), QRectF(bounds.left() + half + 6, bounds.top(), half,
                                              bounds.height()))
            for image, target, caption in ((self._a, left, self.caption_a),
                                           (b, right, self.caption_b)):
                self._draw(painter, image, target, caption)
                self._frame(painter, target)
                draw_caption(painter, target, caption)
            return
        target = fit_rect(self._a.size(), bounds)
        self._draw(painter, self._a, target, self.caption_a)
        if b is not None:  # wipe: B right of the divider
            x = target.left() + self.split * target.width()
            self._draw(painter, b, target, self.caption_b,
                       clip=QRectF(x, target.top(), target.right() - x, target.height()))
            painter.setPen(QPen(QColor("#ffffff"), 2))
            painter.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
            handle = QRectF(0, 0, 14, 28)
            handle.moveCenter(QPointF(x, target.center().y()))
            painter.setBrush(QColor("#ffffff"))
            painter.setPen(QPen(QColor("#475569"), 1))
            painter.drawRoundedRect(handle, 5, 5)
            self._frame(painter, target)
            draw_caption(painter, target, "A: " + self.caption_a)
            draw_caption(painter, target, "B: " + self.caption_b, right=True, bottom=True)
        else:
            self._frame(painter, target)
            draw_caption(painter, target, self.caption_a if self.mode != "single" else "")

    def _frame(self, painter: QPainter, target: QRectF) -> None:
        painter.setPen(QPen(QColor("#cbd5e1"), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(target.toRect()))

    # the wipe divider ------------------------------------------------------------------------
    def _set_split_from(self, event: QMouseEvent) -> None:
        if self._a is None:
            return
        target = fit_rect(self._a.size(), QRectF(self.rect()).adjusted(2, 2, -2, -2))
        if target.width() > 0:
            self.split = min(1.0, max(0.0, (event.position().x() - target.left())
                                      / target.width()))
            self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.mode == "wipe" and event.button() == Qt.MouseButton.LeftButton:
            self._set_split_from(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.mode == "wipe" and event.buttons() & Qt.MouseButton.LeftButton:
            self._set_split_from(event)

    def sizeHint(self) -> QSize:
        return QSize(360, 260)
