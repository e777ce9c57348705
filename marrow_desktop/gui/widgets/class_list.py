"""The gallery's class list: one row per class (chip, name, count), each a drop target for
cells dragged from the gallery grid."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from marrow_desktop.core.review import EXCLUDED
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui import theme
from marrow_desktop.gui.widgets.gallery_model import (
    PATHS_MIME,
    decode_paths,
)
from marrow_desktop.gui.widgets.thumbnail_model import UNCLASSIFIED

KeyRole = Qt.ItemDataRole.UserRole + 1
CountRole = Qt.ItemDataRole.UserRole + 2
_SPECIAL = {EXCLUDED: ("Excluded", "⊘", "#94a3b8", "#ffffff"),
            UNCLASSIFIED: ("Not classified", "?", "#e2e8f0", "#475569")}


def group_title(key: str) -> str:
    return _SPECIAL[key][0] if key in _SPECIAL else full_name(key)


class _ClassDelegate(QStyledItemDelegate):
    """A class row: colour chip with the code, full name, cell count on the right."""

    def __init__(self, parent: ClassList) -> None:
        super().__init__(parent)
        self.list = parent
        self.chip_font = QFont()
        self.chip_font.setPixelSize(10)
        self.chip_font.setBold(True)
        self.count_font = QFont()
        self.count_font.setPixelSize(11)

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(180, 28)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        key = index.data(KeyRole) or ""
        count = int(index.data(CountRole) or 0)
        rect = QRectF(option.rect).adjusted(3, 1, -3, -1)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover_drop = index.row() == self.list.drop_row
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if hover_drop:
            painter.setPen(QPen(QColor(theme.ACCENT), 1.5, Qt.PenStyle.DashLine))
            painter.setBrush(QColor("#eff6ff"))
            painter.drawRoundedRect(rect, 6, 6)
        elif selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#dbeafe"))
            painter.drawRoundedRect(rect, 6, 6)
        if key in _SPECIAL:
            name, chip_text, color, ink = _SPECIAL[key]
        else:
            name, chip_text, color, ink = full_name(key), key, theme.class_color(key).name(), \
                "#ffffff"
        painter.setFont(self.chip_font)
        chip_w = max(34, painter.fontMetrics().horizontalAdvance(chip_text) + 12)
        chip = QRectF(rect.left() + 6, rect.center().y() - 8, chip_w, 16)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(color))
        painter.drawRoundedRect(chip, 8, 8)
        painter.setPen(QColor(ink))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, chip_text)
        painter.setFont(self.count_font)
        count_text = f"{count:,}"
        count_w = painter.fontMetrics().horizontalAdvance(count_text) + 4
        count_rect = QRectF(rect.right() - count_w - 8, rect.top(), count_w, rect.height())
        painter.setPen(QColor(theme.MUTED if count else "#cbd5e1"))
        painter.drawText(count_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         count_text)
        font = QFont(option.font)
        font.setBold(selected)
        painter.setFont(font)
        painter.setPen(QColor("#0f172a" if count else "#94a3b8"))
        text_rect = QRectF(chip.right() + 8, rect.top(), count_rect.left() - chip.right() - 12,
                           rect.height())
        text = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight,
                                                int(text_rect.width()))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         text)
        painter.restore()


class ClassList(QListWidget):
    """The classes with their counts; cells dropped on a class emit pathsDropped(paths, key)."""

    pathsDropped = Signal(list, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.drop_row = -1
        self.setItemDelegate(_ClassDelegate(self))
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformItemSizes(True)
        self.setStyleSheet("QListWidget { border: none; background: #ffffff; }")

    def set_entries(self, keys: Sequence[str], counts: dict[str, int]) -> None:
        """Rebuild (when the keys changed) or update the counts in place."""
        if [self.item(i).data(KeyRole) for i in range(self.count())] != list(keys):
            current = self.current_key()
            self.blockSignals(True)
            self.clear()
            for key in keys:
                item = QListWidgetItem()
                item.setData(KeyRole, key)
                self.addItem(item)
            self._select(current)
            self.blockSignals(False)
        for i in range(self.count()):
            item = self.item(i)
            key = item.data(KeyRole)
            item.setData(CountRole, counts.get(key, 0))
            drop = "" if key == UNCLASSIFIED else "\nDrop cells here to relabel them"
            item.setToolTip(f"{group_title(key)}: {counts.get(key, 0):,} cells{drop}")

    def current_key(self) -> str:
        item = self.currentItem()
        return (item.data(KeyRole) or "") if item is not None else ""

    def _select(self, key: str) -> None:
        for i in range(self.count()):
            if self.item(i).data(KeyRole) == key:
                self.setCurrentRow(i)
                return

    def select_key(self, key: str) -> None:
        self.blockSignals(True)
        self._select(key)
        self.blockSignals(False)
        self.viewport().update()

    # drop target -----------------------------------------------------------------------------
    def target_key(self, pos: QPoint) -> str:
        """The class a drop at pos would give ('' where cells cannot be dropped)."""
        item = self.itemAt(pos)
        key = (item.data(KeyRole) or "") if item is not None else ""
        return "" if key in ("", UNCLASSIFIED) or key == self.current_key() else key

    def _set_drop_row(self, row: int) -> None:
        if row != self.drop_row:
            self.drop_row = row
            self.viewport().update()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(PATHS_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        if event.mimeData().hasFormat(PATHS_MIME) and self.target_key(pos):
            self._set_drop_row(self.row(self.itemAt(pos)))
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            self._set_drop_row(-1)
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self._set_drop_row(-1)
        event.accept()

    def dropEvent(self, event) -> None:
        self._set_drop_row(-1)
        key = self.target_key(event.position().toPoint())
        paths = decode_paths(event.mimeData())
        if not key or not paths:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.pathsDropped.emit(paths, key)
