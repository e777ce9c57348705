"""The image browser: filter/sort bar over a grid of thumbnails, keyboard navigable."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.review import EXCLUDED
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui.widgets.status_text import StatusText
from marrow_desktop.gui.widgets.thumbnail_delegate import ThumbnailDelegate
from marrow_desktop.gui.widgets.thumbnail_model import (
    FLAG_FILTERS,
    REVIEW_FILTERS,
    SORT_KEYS,
    UNCLASSIFIED,
    BrowserFilter,
    PathRole,
    ThumbnailModel,
)


class ThumbnailGrid(QListView):
    """An icon-mode list view that paints a hint when it is empty."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("thumbnailGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSpacing(2)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.empty_text = "No images.\nOpen a folder (Ctrl+O) or drop one here."

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is not None and model.rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#64748b"))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             self.empty_text)


class BrowserView(QWidget):
    """Filter bar, thumbnail grid and a count; emits the current image's path."""

    currentPathChanged = Signal(str)  # '' when nothing is selected
    activated = Signal(str)
    nextInQueueRequested = Signal()

    def __init__(self, model: ThumbnailModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._restore: tuple[str, list[str]] | None = None
        self._last_emitted = ""

        self.search = QLineEdit(placeholderText="Filter by file name  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.class_filter = QComboBox(toolTip="Show one class (the reviewed class where an image "
                                              "has been reviewed)")
        self.review_filter = QComboBox(toolTip="Show images by review state")
        for key, text in REVIEW_FILTERS.items():
            self.review_filter.addItem(text, key)
        self.flag_filter = QComboBox(toolTip="Show images with low confidence or poor quality")
        for key, text in FLAG_FILTERS.items():
            self.flag_filter.addItem(text, key)
        self.sort_box = QComboBox(toolTip="Sort the images")
        for key, text in SORT_KEYS.items():
            self.sort_box.addItem(f"Sort: {text}", key)
        self.order_button = QToolButton(toolTip="Ascending / descending order", checkable=True)
        self.order_button.setText("↑")
        self.order_button.setAutoRaise(True)
        # counts change all through a run: StatusText, not QLabel (whose every new text
        # relayouts the browser and repaints the whole grid)
        self.count_label = StatusText()
        self.queue_label = StatusText(align_right=True)
        self.queue_button = QToolButton(text="Next to review ▸", autoRaise=True,
                                        toolTip="Select the next cell that needs review (N)")
        self.queue_button.clicked.connect(self.nextInQueueRequested)
        self.set_classes(())

        self.grid = ThumbnailGrid()
        self.delegate = ThumbnailDelegate(lambda: model.blur_threshold, self.grid)
        self.grid.setItemDelegate(self.delegate)
        self.grid.setModel(model)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(6)
        top.addWidget(self.search, 1)
        top.addWidget(self.sort_box)
        top.addWidget(self.order_button)
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.setSpacing(6)
        for box in (self.class_filter, self.review_filter, self.flag_filter):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            filters.addWidget(box)
        filters.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 4)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.grid, 1)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.count_label)
        bottom.addStretch(1)
        bottom.addWidget(self.queue_label)
        bottom.addWidget(self.queue_button)
        layout.addLayout(bottom)

        self._filter_timer = QTimer(self, singleShot=True, interval=150)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.search.textChanged.connect(lambda _text: self._filter_timer.start())
        for box in (self.class_filter, self.review_filter, self.flag_filter):
            box.currentIndexChanged.connect(self._apply_filter)
        self.sort_box.currentIndexChanged.connect(self._apply_sort)
        self.order_button.toggled.connect(self._apply_sort)
        self.grid.selectionModel().currentChanged.connect(self._on_current)
        self.grid.activated.connect(lambda index: self.activated.emit(index.data(PathRole) or ""))
        self.grid.verticalScrollBar().valueChanged.connect(
            lambda _value: model.loader.clear_pending())
        model.modelAboutToBeReset.connect(self._remember_selection)
        model.modelReset.connect(self._restore_selection)
        model.countsChanged.connect(self._update_count)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.focus_search)
        self._update_count()

    # classes and filters ---------------------------------------------------------------------
    def set_classes(self, classes: Sequence[str]) -> None:
        """Class codes offered by the class filter (the model's classes)."""
        current = self.class_filter.currentData()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("All classes", "")
        for code in classes:
            self.class_filter.addItem(f"{code} – {full_name(code)}", code)
        self.class_filter.addItem("Excluded from the count", EXCLUDED)
        self.class_filter.addItem("Not classified", UNCLASSIFIED)
        index = self.class_filter.findData(current)
        self.class_filter.setCurrentIndex(max(0, index))
        self.class_filter.blockSignals(False)

    def current_filter(self) -> BrowserFilter:
        return BrowserFilter(text=self.search.text().strip(),
                             class_code=self.class_filter.currentData() or "",
                             review=self.review_filter.currentData() or "all",
                             flag=self.flag_filter.currentData() or "all")

    def set_filter(self, browser_filter: BrowserFilter) -> None:
        """Set the controls (and so the model's filter)."""
        self.search.setText(browser_filter.text)
        for box, value in ((self.class_filter, browser_filter.class_code),
                           (self.review_filter, browser_filter.review),
                           (self.flag_filter, browser_filter.flag)):
            box.setCurrentIndex(max(0, box.findData(value)))
        self._apply_filter()

    def set_sort(self, key: str, descending: bool = False) -> None:
        self.sort_box.setCurrentIndex(max(0, self.sort_box.findData(key)))
        self.order_button.setChecked(descending)
        self._apply_sort()

    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        self.model.set_filter(self.current_filter())

    def _apply_sort(self) -> None:
        descending = self.order_button.isChecked()
        self.order_button.setText("↓" if descending else "↑")
        self.model.set_sort(self.sort_box.currentData() or "name", descending)


    def set_queue(self, needs: int, unreviewed: int, rule: str) -> None:
        """Show how many cells need review (and how many of them are still unreviewed)."""
        if needs:
            text = (f"<b>{unreviewed:,}</b> of {needs:,} left to review" if unreviewed
                    else f"All {needs:,} queued cells reviewed")
        else:
            classified = self.model.classified_count()
            text = "No cell needs review" if classified else ""
        self.queue_label.setText(text)
        self.queue_label.setToolTip(f"{needs:,} cells need review, {unreviewed:,} of them not "
                                    f"reviewed yet. Queued for review: {rule}")
        self.queue_button.setEnabled(unreviewed > 0)

    def _update_count(self) -> None:
        total = self.model.total()
        shown = self.model.rowCount()
        classified = self.model.classified_count()
        reviewed = self.model.reviewed_count()
        text = f"{shown:,} of {total:,}" if shown != total else f"{total:,} images"
        if total:
            text += f" · {classified:,} classified · {reviewed:,} reviewed"
        self.count_label.setText(text)

    # selection -------------------------------------------------------------------------------
    def current_path(self) -> str:
        index = self.grid.currentIndex()
        return (index.data(PathRole) or "") if index.isValid() else ""

    def selected_paths(self) -> list[str]:
        """Selected images (the current one when nothing else is selected)."""
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        paths = [self.model.item(r).path for r in rows if self.model.item(r) is not None]
        if not paths and self.current_path():
            paths = [self.current_path()]
        return paths

    def select_path(self, path: str) -> bool:
        row = self.model.row_of(path)
        if row < 0:
            return False
        index = self.model.index(row)
        self.grid.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.grid.scrollTo(index)
        return True

    def select_row(self, row: int) -> bool:
        item = self.model.item(row)
        return self.select_path(item.path) if item is not None else False

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def focus_grid(self) -> None:
        self.grid.setFocus()

    def set_empty_text(self, text: str) -> None:
        self.grid.empty_text = text
        self.grid.viewport().update()

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        path = (current.data(PathRole) or "") if current.isValid() else ""
        if path != self._last_emitted:
            self._last_emitted = path
            self.currentPathChanged.emit(path)

    def _remember_selection(self) -> None:
        self._restore = (self.current_path(), self.selected_paths())

    def _restore_selection(self) -> None:
        if not self._restore:
            return
        current, selected = self._restore
        self._restore = None
        selection = self.grid.selectionModel()
        selection.blockSignals(True)
        for path in selected:
            row = self.model.row_of(path)
            if row >= 0:
                selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        row = self.model.row_of(current) if current else -1
        if row >= 0:
            selection.setCurrentIndex(self.model.index(row),
                                      QItemSelectionModel.SelectionFlag.NoUpdate)
        selection.blockSignals(False)
        if row >= 0:
            self.grid.scrollTo(self.model.index(row), QAbstractItemView.ScrollHint.EnsureVisible)
        elif current:  # the current image was filtered out
            self._last_emitted = ""
            self.currentPathChanged.emit("")
        self.grid.viewport().update()

    def sizeHint(self) -> QSize:
        return QSize(440, 600)
