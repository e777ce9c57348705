"""The class gallery's list model: the cells of one class, least certain first, draggable.

It groups the Cells of the shared ThumbnailModel by their effective class (the reviewed
class where there is one, else the predicted one) and shows one group. Re-grouping follows the
shared model's changes, debounced, so a running batch does not re-sort on every chunk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from marrow_desktop.core.case import Cell
from marrow_desktop.gui.widgets.thumbnail_model import UNCLASSIFIED, ThumbnailModel

PATHS_MIME = "application/x-marrow-paths"
REGROUP_DELAY_MS = 400


def encode_paths(paths: Sequence[str]) -> QMimeData:
    """Mime data carrying image paths (one per line, UTF-8) under PATHS_MIME."""
    mime = QMimeData()
    mime.setData(PATHS_MIME, QByteArray("\n".join(paths).encode("utf-8")))
    return mime


def decode_paths(mime: QMimeData | None) -> list[str]:
    if mime is None or not mime.hasFormat(PATHS_MIME):
        return []
    text = bytes(mime.data(PATHS_MIME).data()).decode("utf-8")
    return [p for p in text.split("\n") if p]


def group_of(item: Cell) -> str:
    """The gallery group of a cell: its class code, EXCLUDED, or UNCLASSIFIED."""
    return item.effective_class or UNCLASSIFIED


def shown_confidence(item: Cell) -> float:
    """The model's probability for the class the cell is shown under (nan when unknown)."""
    code = item.effective_class
    return item.probability(code) if item.review and code != item.predicted else item.confidence


def _sort_key(item: Cell) -> tuple[bool, float, int]:
    conf = shown_confidence(item)
    missing = math.isnan(conf)
    return missing, (0.0 if missing else conf), item.order


class GalleryModel(QAbstractListModel):
    """Rows = the cells of `class_code`, ascending confidence (no confidence last)."""

    regrouped = Signal()  # groups were recomputed (counts may have changed)

    def __init__(self, source: ThumbnailModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self._code = ""
        self._groups: dict[str, list[Cell]] = {}
        self._rows: list[Cell] = []
        self._row_of: dict[str, int] = {}
        self._active = True
        self._dirty = False
        self._timer = QTimer(self, singleShot=True, interval=REGROUP_DELAY_MS)
        self._timer.timeout.connect(self.regroup)
        source.countsChanged.connect(self.schedule)
        source.modelReset.connect(self._on_source_reset)
        source.dataChanged.connect(self._on_source_data)
        source.loader.ready.connect(self._on_thumbnail)
        self.regroup()

    # Qt model interface ----------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        return self.source.item_data(self._rows[index.row()], role)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else flags

    def mimeTypes(self) -> list[str]:
        return [PATHS_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        return encode_paths([self._rows[r].path for r in rows if r < len(self._rows)])

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    # grouping --------------------------------------------------------------------------------
    @property
    def class_code(self) -> str:
        return self._code

    def set_class(self, code: str) -> None:
        """Show the cells of a class code, EXCLUDED or UNCLASSIFIED."""
        if code == self._code:
            return
        self._code = code
        self._show(self._groups.get(code, []))

    def counts(self) -> dict[str, int]:
        """Cells per group (class code, EXCLUDED, UNCLASSIFIED) as of the last re-grouping."""
        return {code: len(items) for code, items in self._groups.items()}

    def set_active(self, active: bool) -> None:
        """While inactive (the gallery is hidden) changes only mark the groups stale."""
        self._active = active
        if active and self._dirty:
            self.regroup()

    def schedule(self) -> None:
        """Re-group soon (many changes in a row cost one re-grouping)."""
        self._dirty = True
        if self._active and not self._timer.isActive():
            self._timer.start()

    def regroup(self) -> None:
        """Group every item now and show the current class again."""
        self._timer.stop()
        self._dirty = False
        groups: dict[str, list[Cell]] = {}
        for item in self.source.items():
            if not item.counted:  # a field (its cells are shown) or a cell removed by hand
                continue
            groups.setdefault(group_of(item), []).append(item)
        for items in groups.values():
            items.sort(key=_sort_key)
        self._groups = groups
        self._show(groups.get(self._code, []))
        self.regrouped.emit()

    def _show(self, rows: list[Cell]) -> None:
        if [i.path for i in rows] == [i.path for i in self._rows]:
            self._rows = rows
            if rows:
                self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            return
        self.beginResetModel()
        self._rows = rows
        self._row_of = {item.path: row for row, item in enumerate(rows)}
        self.endResetModel()

    # lookups ---------------------------------------------------------------------------------
    def item(self, row: int) -> Cell | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, path: str) -> int:
        return self._row_of.get(path, -1)

    def paths(self) -> list[str]:
        return [item.path for item in self._rows]

    def _on_source_reset(self) -> None:
        """Another folder replaced the items: drop the old ones now; a re-sort can wait."""
        stale = bool(self._rows) and self.source.item_for(self._rows[0].path) is not self._rows[0]
        if stale and self._active:
            self.regroup()
        else:
            self.schedule()

    def _on_source_data(self, _top: QModelIndex, _bottom: QModelIndex,
                        roles: Sequence[int] = ()) -> None:
        if list(roles) != [Qt.ItemDataRole.DecorationRole]:  # thumbnails do not regroup
            self.schedule()

    def _on_thumbnail(self, path: str) -> None:
        row = self._row_of.get(path, -1)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

