"""Gallery by class: a list of classes (drop targets) beside the cells of the chosen class,
least certain first. Dragging cells onto another class asks for them to be relabelled."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QPoint,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QDrag, QFont, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.review import EXCLUDED
from marrow_desktop.gui import theme
from marrow_desktop.gui.widgets.browser_view import ThumbnailGrid
from marrow_desktop.gui.widgets.class_list import ClassList, group_title
from marrow_desktop.gui.widgets.gallery_model import (
    GalleryModel,
    decode_paths,
    group_of,
)
from marrow_desktop.gui.widgets.thumbnail_delegate import ThumbnailDelegate
from marrow_desktop.gui.widgets.thumbnail_model import UNCLASSIFIED, PathRole, ThumbnailModel


class _GalleryGrid(ThumbnailGrid):
    """Thumbnail grid whose drags carry the selected paths with a small picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)  # after setMovement(Static), which turns dragging off
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setLayoutMode(QListView.LayoutMode.SinglePass)  # restoring the scroll needs it all
        self.empty_text = "No cells in this class."

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        indexes = sorted(self.selectionModel().selectedIndexes(), key=lambda i: i.row())
        if not indexes:
            return
        drag = QDrag(self)
        drag.setMimeData(self.model().mimeData(indexes))
        drag.setPixmap(self._drag_pixmap(indexes[0], len(indexes)))
        drag.setHotSpot(QPoint(12, 12))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def _drag_pixmap(self, first: QModelIndex, count: int) -> QPixmap:
        pixmap = QPixmap(72, 72)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        image = first.data(Qt.ItemDataRole.DecorationRole)
        box = QRectF(4, 8, 60, 60)
        if image is not None and not image.isNull():
            painter.drawImage(box, image)
        else:
            painter.setBrush(QColor("#e2e8f0"))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(box, 6, 6)
        if count > 1:
            badge = QRectF(40, 0, 32, 20)
            painter.setBrush(QColor(theme.ACCENT))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(badge, 10, 10)
            font = QFont()
            font.setPixelSize(11)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, f"{count}")
        painter.end()
        return pixmap


class ClassGallery(QWidget):
    """Class list (drop targets) and the chosen class's cells, least certain first."""

    reclassifyRequested = Signal(list, str)  # paths, class code or EXCLUDED
    currentPathChanged = Signal(str)  # '' when no cell is current
    activated = Signal(str)  # a cell was double-clicked / Enter was pressed

    def __init__(self, model: ThumbnailModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = model
        self.gallery = GalleryModel(model, self)
        self._classes: tuple[str, ...] = ()
        self._restore: tuple[str, int, list[str], int] | None = None
        self._last_emitted = ""
        self._switching = False

        self.class_list = ClassList()
        self.class_list.setMinimumWidth(170)
        hint = QLabel("Drag cells onto a class to relabel them", objectName="muted",
                      wordWrap=True)
        hint.setStyleSheet("font-size: 11px; padding: 2px 6px;")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(2)
        left_layout.addWidget(self.class_list, 1)
        left_layout.addWidget(hint)

        self.title = QLabel(objectName="muted")
        self.grid = _GalleryGrid()
        self.delegate = ThumbnailDelegate(lambda: model.blur_threshold, self.grid)
        self.grid.setItemDelegate(self.delegate)
        self.grid.setModel(self.gallery)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(4)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.grid, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([230, 600])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 4)
        layout.addWidget(self.splitter)

        self.class_list.currentRowChanged.connect(
            lambda _row: self.show_class(self.class_list.current_key()))
        self.class_list.pathsDropped.connect(self.reclassifyRequested)
        self.gallery.regrouped.connect(self._update_classes)
        self.gallery.modelAboutToBeReset.connect(self._remember_selection)
        self.gallery.modelReset.connect(self._restore_selection)
        self.grid.selectionModel().currentChanged.connect(self._on_current)
        self.grid.activated.connect(lambda index: self.activated.emit(index.data(PathRole) or ""))
        self.grid.verticalScrollBar().valueChanged.connect(
            lambda _value: model.loader.clear_pending())
        self._update_classes()

    # classes ---------------------------------------------------------------------------------
    def set_classes(self, codes: Sequence[str]) -> None:
        """The model's class codes (listed even when empty, so cells can be dropped on them)."""
        self._classes = tuple(codes)
        self._update_classes()
        keys = self.keys()
        if self.gallery.class_code not in keys[:-2] or not self.gallery.class_code:
            counts = self.gallery.counts()
            self.show_class(next((k for k in keys if counts.get(k)), keys[0]))

    def keys(self) -> list[str]:
        """List entries: the model's classes, other classes present, EXCLUDED, UNCLASSIFIED."""
        present = set(self.gallery.counts())
        extra = sorted(present - set(self._classes) - {EXCLUDED, UNCLASSIFIED})
        return [*self._classes, *extra, EXCLUDED, UNCLASSIFIED]

    def _update_classes(self) -> None:
        self.class_list.set_entries(self.keys(), self.gallery.counts())
        self.class_list.select_key(self.gallery.class_code)
        self._update_title()

    def _update_title(self) -> None:
        code = self.gallery.class_code
        if not code:
            self.title.setText("Choose a class")
            return
        n = self.gallery.rowCount()
        label = group_title(code) + (f" ({code})" if code not in (EXCLUDED, UNCLASSIFIED) else "")
        order = " · least certain first" if n > 1 and code != UNCLASSIFIED else ""
        self.title.setText(f"<b style='color:#0f172a'>{label}</b> · {n:,} "
                           f"cell{'s' if n != 1 else ''}{order}")

    def current_class(self) -> str:
        return self.gallery.class_code

    def show_class(self, code: str) -> None:
        """Show a class (EXCLUDED / UNCLASSIFIED for those groups); the first cell is current."""
        if code == self.gallery.class_code:
            return
        self._switching = True
        try:
            self.gallery.set_class(code)
        finally:
            self._switching = False
        self.class_list.select_key(code)
        self._update_title()
        self.grid.scrollToTop()
        if self.gallery.rowCount():
            self.grid.selectionModel().setCurrentIndex(
                self.gallery.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._emit_current()

    def refresh(self) -> None:
        """Re-group now (after items changed), keeping the selection and scroll where possible."""
        self.gallery.regroup()


    # drops -----------------------------------------------------------------------------------
    def drop_paths(self, mime: QMimeData, code: str) -> bool:
        """Handle cells dropped on a class (what a drop on the class list does)."""
        paths = decode_paths(mime)
        if not paths or not code or code == UNCLASSIFIED:
            return False
        self.reclassifyRequested.emit(paths, code)
        return True

    # selection -------------------------------------------------------------------------------
    def current_path(self) -> str:
        index = self.grid.currentIndex()
        return (index.data(PathRole) or "") if index.isValid() else ""

    def selected_paths(self) -> list[str]:
        """Selected cells in gallery order (the current one when nothing else is selected)."""
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        paths = [self.gallery.item(r).path for r in rows if self.gallery.item(r) is not None]
        if not paths and self.current_path():
            paths = [self.current_path()]
        return paths

    def select_path(self, path: str) -> bool:
        """Make a cell current, showing its class first if needed."""
        item = self.source.item_for(path)
        if item is None:
            return False
        if self.gallery.row_of(path) < 0:
            if self.gallery.class_code == group_of(item):
                self.refresh()
            else:
                self.show_class(group_of(item))
        row = self.gallery.row_of(path)
        if row < 0:
            return False
        index = self.gallery.index(row)
        self.grid.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.scrollTo(index)
        return True

    def select_next(self, reviewed: str) -> None:
        """After a review of `reviewed`: the cell after it in this class (it may have left the
        class when it was relabelled: then the one that took its place)."""
        row = self.gallery.row_of(reviewed)
        if row < 0:
            row = max(0, self.grid.currentIndex().row())
        else:
            row += 1
        if 0 <= row < self.gallery.rowCount():
            index = self.gallery.index(row)
            self.grid.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.grid.scrollTo(index)

    def _on_current(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._emit_current()

    def _emit_current(self) -> None:
        path = self.current_path()
        if path != self._last_emitted:
            self._last_emitted = path
            self.currentPathChanged.emit(path)

    def _remember_selection(self) -> None:
        if self._switching:  # another class: nothing to keep
            self._restore = None
            return
        self._restore = (self.current_path(), max(0, self.grid.currentIndex().row()),
                         self.selected_paths(), self.grid.verticalScrollBar().value())

    def _restore_selection(self) -> None:
        self._update_title()
        if self._restore is None:
            self._emit_current()
            return
        current, old_row, selected, scroll = self._restore
        self._restore = None
        selection = self.grid.selectionModel()
        selection.blockSignals(True)
        for path in selected:
            row = self.gallery.row_of(path)
            if row >= 0:
                selection.select(self.gallery.index(row), QItemSelectionModel.SelectionFlag.Select)
        row = self.gallery.row_of(current) if current else -1
        if row < 0 and current and self.gallery.rowCount():  # it left the class: take its place
            row = min(old_row, self.gallery.rowCount() - 1)
            selection.select(self.gallery.index(row), QItemSelectionModel.SelectionFlag.Select)
        if row >= 0:
            selection.setCurrentIndex(self.gallery.index(row),
                                      QItemSelectionModel.SelectionFlag.NoUpdate)
        selection.blockSignals(False)
        self.grid.doItemsLayout()
        self.grid.verticalScrollBar().setValue(scroll)
        if row >= 0:
            self.grid.scrollTo(self.gallery.index(row), QAbstractItemView.ScrollHint.EnsureVisible)
        self.grid.viewport().update()
        self._emit_current()

    # visibility ------------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        self.gallery.set_active(True)
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self.gallery.set_active(False)
        super().hideEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(760, 600)
