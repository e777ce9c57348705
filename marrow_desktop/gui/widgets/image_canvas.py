"""A widget that shows an RGB image scaled to fit, aspect ratio kept, with a caption; the
mouse wheel zooms at the pointer, dragging pans, a double-click toggles between fit and 100%
(at least 2x fit)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen, QWheelEvent
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


MAX_ZOOM = 8.0  # times the fitted size
WHEEL_STEP = 1.25  # zoom factor per wheel notch


class ImageCanvas(QWidget):
    """Paints one image (numpy RGB or QImage) fitted to the widget, zoomed and panned by the
    mouse (`zoom` 1 = fit); a message when empty."""

    def __init__(self, parent: QWidget | None = None, placeholder: str = "No image") -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._array: np.ndarray | None = None
        self._scaled = ScaledCache()
        self.placeholder = placeholder
        self.caption = ""
        self.zoom = 1.0
        self._center = QPointF(0.5, 0.5)  # the image point (fractions) at the view's centre
        self._drag: QPointF | None = None
        self.setMinimumSize(140, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: np.ndarray | QImage | None, caption: str = "",
                  keep_view: bool = False) -> None:
        """Show an image (fitted again unless keep_view: the same image redrawn)."""
        if not keep_view:
            self.reset_view()
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

    def _fit_rect(self) -> QRectF:
        if self._image is None:
            return QRectF()
        return fit_rect(self._image.size(), QRectF(self.rect()).adjusted(2, 2, -2, -2))

    def image_rect(self) -> QRectF:
        """Where the image is drawn (beyond the widget when zoomed)."""
        fit = self._fit_rect()
        if self.zoom == 1.0 or fit.isEmpty():
            return fit
        w, h = fit.width() * self.zoom, fit.height() * self.zoom
        view = QRectF(self.rect()).center()
        return QRectF(view.x() - self._center.x() * w, view.y() - self._center.y() * h, w, h)

    # zoom and pan ----------------------------------------------------------------------------
    def reset_view(self) -> None:
        self.zoom, self._center = 1.0, QPointF(0.5, 0.5)
        self.update()

    def zoom_at(self, point: QPointF, zoom: float) -> None:
        """Zoom to `zoom` (times fit) keeping the image point under `point` where it is."""
        rect = self.image_rect()
        if rect.isEmpty():
            return
        zoom = min(max(zoom, 1.0), MAX_ZOOM)
        under = QPointF((point.x() - rect.left()) / rect.width(),
                        (point.y() - rect.top()) / rect.height())
        fit = self._fit_rect()
        w, h = fit.width() * zoom, fit.height() * zoom
        view = QRectF(self.rect()).center()
        self.zoom = zoom
        self._set_center(QPointF(under.x() + (view.x() - point.x()) / w,
                                 under.y() + (view.y() - point.y()) / h))

    def _set_center(self, center: QPointF) -> None:
        """Keep as much of the image in view as the zoom allows."""
        fit = self._fit_rect()
        if self.zoom <= 1.0 or fit.isEmpty():
            self._center = QPointF(0.5, 0.5)
        else:
            half_w = self.width() / (2 * fit.width() * self.zoom)
            half_h = self.height() / (2 * fit.height() * self.zoom)
            self._center = QPointF(min(max(center.x(), half_w), 1 - half_w) if half_w < 0.5
                                   else 0.5,
                                   min(max(center.y(), half_h), 1 - half_h) if half_h < 0.5
                                   else 0.5)
        self.update()

    def actual_size_zoom(self) -> float:
        """The zoom that shows one image pixel per screen pixel (at least 2x fit)."""
        fit = self._fit_rect()
        if self._image is None or fit.isEmpty():
            return 1.0
        ratio = self.devicePixelRatioF()
        actual = self._image.width() / (fit.width() * ratio)
        return min(MAX_ZOOM, max(2.0, actual))

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._image is None:
            return super().wheelEvent(event)
        steps = event.angleDelta().y() / 120
        self.zoom_at(event.position(), self.zoom * WHEEL_STEP ** steps)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._image is None:
            return
        if self.zoom > 1.0:
            self.reset_view()
        else:
            self.zoom_at(event.position(), self.actual_size_zoom())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.zoom > 1.0 and event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            rect = self.image_rect()
            delta = event.position() - self._drag
            self._drag = event.position()
            self._set_center(QPointF(self._center.x() - delta.x() / rect.width(),
                                     self._center.y() - delta.y() / rect.height()))
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self.unsetCursor()
        super().mouseReleaseEvent(event)

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
        visible = target.intersected(QRectF(self.rect()))
        draw_caption(painter, visible, self.caption)
        if self.zoom > 1.0:
            draw_caption(painter, visible, f"{self.zoom * 100:.0f}% of fit · double-click: fit",
                         right=True, bottom=True)

    def sizeHint(self) -> QSize:
        return QSize(300, 300)
