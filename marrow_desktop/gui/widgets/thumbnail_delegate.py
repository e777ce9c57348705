"""Paints one browser cell: thumbnail, predicted class chip, confidence, badges, file name."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from marrow_desktop.core.case import Cell
from marrow_desktop.core.review import EXCLUDED, UNFAMILIAR
from marrow_desktop.gui import theme
from marrow_desktop.gui.thumbnails import THUMB_SIZE
from marrow_desktop.gui.widgets.thumbnail_model import ItemRole, poor_quality

CELL = QSize(THUMB_SIZE + 22, THUMB_SIZE + 50)
_BADGE = 17


class ThumbnailDelegate(QStyledItemDelegate):
    """Draws cells directly (one data() call per cell), which keeps scrolling smooth. Badges
    follow the case's verdicts cached on each cell (core.case)."""

    def __init__(self, blur_threshold: Callable[[], float], parent=None) -> None:
        super().__init__(parent)
        self.blur_threshold = blur_threshold  # the case's current blur threshold
        self.badge_font = QFont()
        self.badge_font.setBold(True)
        self.badge_font.setPixelSize(11)
        self.chip_font = QFont(self.badge_font)
        self.text_font = QFont()
        self.text_font.setPixelSize(11)
        self.name_font = QFont()
        self.name_font.setPixelSize(10)
        self.chip_metrics = QFontMetrics(self.chip_font)
        self.name_metrics = QFontMetrics(self.name_font)

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        item: Cell | None = index.data(ItemRole)
        if item is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        rect = QRectF(option.rect).adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        focused = bool(option.state & QStyle.StateFlag.State_HasFocus)
        bg = QColor("#dbeafe") if selected else QColor("#eef2f7" if hovered else "#ffffff")
        border = QColor(theme.ACCENT) if selected else QColor("#e2e8f0")
        painter.setPen(QPen(border, 2 if selected else 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(rect, 8, 8)
        if focused and not selected:
            painter.setPen(QPen(QColor(theme.ACCENT), 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(2, 2, -2, -2), 6, 6)

        thumb_rect = QRectF(rect.center().x() - THUMB_SIZE / 2, rect.top() + 6, THUMB_SIZE,
                            THUMB_SIZE)
        self._draw_thumbnail(painter, thumb_rect, index.data(Qt.ItemDataRole.DecorationRole))
        self._draw_badges(painter, thumb_rect, item)
        self._draw_label(painter, rect, thumb_rect, item, selected)
        painter.restore()

    def _draw_thumbnail(self, painter: QPainter, box: QRectF, image: QImage | None) -> None:
        if image is None or image.isNull():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#f1f5f9"))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor("#94a3b8"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                             "…" if image is None else "cannot\nread")
            return
        if image.width() <= box.width() and image.height() <= box.height():
            x = box.center().x() - image.width() / 2
            y = box.center().y() - image.height() / 2
            painter.drawImage(QPointF(round(x), round(y)), image)  # made rounded, no scaling
        else:
            size = image.size().scaled(box.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(0, 0, size.width(), size.height())
            target.moveCenter(box.center())
            painter.drawImage(target, image)

    def _badge(self, painter: QPainter, center: QPointF, color: str, text: str) -> None:
        r = QRectF(0, 0, _BADGE, _BADGE)
        r.moveCenter(center)
        painter.setPen(QPen(QColor("#ffffff"), 1.5))
        painter.setBrush(QColor(color))
        painter.drawEllipse(r)
        painter.setFont(self.badge_font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(r, Qt.AlignmentFlag.AlignCenter, text)

    def _draw_badges(self, painter: QPainter, box: QRectF, item: Cell) -> None:
        top = box.top() + _BADGE / 2 + 2
        right = box.right() - _BADGE / 2 - 2
        x = right
        if item.error:
            self._badge(painter, QPointF(x, top), theme.BAD, "×")
            x -= _BADGE + 2
        if poor_quality(item.quality, self.blur_threshold()):
            self._badge(painter, QPointF(x, top), theme.BAD, "!")
            x -= _BADGE + 2
        if UNFAMILIAR in item.reasons:
            self._badge(painter, QPointF(x, top), theme.UNFAMILIAR, "≠")
            x -= _BADGE + 2
        if item.needs_review and not item.review:
            self._badge(painter, QPointF(x, top), theme.WARN, "?")
        if item.review:
            bottom = box.bottom() - _BADGE / 2 - 2
            color, mark = {"confirmed": (theme.GOOD, "✓"), "excluded": ("#64748b", "⊘")}.get(
                item.review_state, ("#7c3aed", "✎"))
            self._badge(painter, QPointF(right, bottom), color, mark)

    def _draw_label(self, painter: QPainter, cell: QRectF, box: QRectF, item: Cell,
                    selected: bool) -> None:
        line1 = QRectF(cell.left() + 6, box.bottom() + 5, cell.width() - 12, 18)
        code = item.effective_class
        if code:
            painter.setFont(self.chip_font)
            chip = QRectF(line1.left(), line1.top(),
                          self.chip_metrics.horizontalAdvance(code) + 12, 17)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#94a3b8") if code == EXCLUDED else theme.class_color(code))
            painter.drawRoundedRect(chip, 8, 8)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, code)
            painter.setFont(self.text_font)
            if item.review and item.review != item.predicted:
                text, color = f"was {item.predicted}" if item.predicted else "", "#7c3aed"
            else:
                conf = item.confidence
                text = f"{conf:.0%}" if conf == conf else ""
                color = theme.WARN if item.needs_review and not item.review else "#334155"
            painter.setPen(QColor(color))
            painter.drawText(line1.adjusted(chip.width() + 5, 0, 0, 0),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        else:
            painter.setFont(self.text_font)
            painter.setPen(QColor(theme.BAD if item.error and not item.is_field else "#94a3b8"))
            text = "field photograph" if item.is_field else (
                "unreadable" if item.error else "not classified")
            painter.drawText(line1, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             text)
        painter.setFont(self.name_font)
        painter.setPen(QColor("#1e3a8a" if selected else theme.MUTED))
        line2 = QRect(int(line1.left()), int(line1.bottom() + 2), int(line1.width()), 14)
        name = self.name_metrics.elidedText(item.name, Qt.TextElideMode.ElideMiddle,
                                            line2.width())
        painter.drawText(line2, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
