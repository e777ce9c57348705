"""The differential's table: AI / reviewed / final counts per class and a total row, as a model
and view. A new count is one model change (one dataChanged), so the columns sized to their
contents are measured once per count, not once per cell: a QTableWidget filled cell by cell took
about 20 ms per count during a batch, this about 1 ms."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from marrow_desktop.core.differential import Differential, DifferentialRow, Share
from marrow_desktop.core.review import BLAST
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui import theme

HEADERS = ("Class", "Name", "AI", "Reviewed", "Final", "95% CI")
HEADER_TIPS = {5: "Wilson 95% interval of the final percentage"}
GREY = QColor("#94a3b8")
TOTAL_FILL = QColor("#f1f5f9")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def count_pct(share: Share, counted: bool) -> str:
    if not counted:
        return f"{share.count}" if share.count else ""
    if not share.total:
        return "–"
    return f"{share.count} · {100 * share.fraction:.1f}%"


@dataclass(frozen=True)
class TableRow:
    """One line of the table: its texts and how they look."""

    texts: tuple[str, ...]
    code: str = ""  # a class row's code (its swatch); '' for the total row
    counted: bool = True
    tooltip: str = ""  # the count columns' tooltip (the other columns: the class name)
    total: bool = False


def table_rows(d: Differential | None) -> list[TableRow]:
    """The table's lines for a differential: one per class, then the total (none: empty)."""
    if d is None:
        return []
    rows = [_class_row(row) for row in d.rows]
    rows.append(TableRow(("Total", "counted cells", f"{d.ai_total:,}", f"{d.reviewed_total:,}",
                          f"{d.final_total:,}", ""), total=True))
    return rows


def _class_row(row: DifferentialRow) -> TableRow:
    texts = (row.code, full_name(row.code), count_pct(row.ai, row.counted),
             count_pct(row.reviewed, row.counted), count_pct(row.final, row.counted),
             row.final.interval_text() if row.counted else "not counted")
    tip = ""
    if row.counted and row.final.total:
        tip = (f"{row.final.count} of {row.final.total} counted cells: {row.final.text()} "
               "(Wilson 95% interval)")
    return TableRow(texts, row.code, row.counted, tip)


class DifferentialTableModel(QAbstractTableModel):
    """Read-only rows; set_rows() replaces them in one change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TableRow] = []
        self._swatches: dict[str, QIcon] = {}
        self._bold = QFont()
        self._bold.setBold(True)

    def set_rows(self, rows: list[TableRow]) -> None:
        if len(rows) != len(self._rows):
            self.beginResetModel()
            self._rows = list(rows)
            self.endResetModel()
        elif rows != self._rows:
            self._rows = list(rows)
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(rows) - 1, len(HEADERS) - 1))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_RIGHT if section >= 2 else _LEFT)
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.texts[column]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_RIGHT if column >= 2 else _LEFT)
        if role == Qt.ItemDataRole.DecorationRole and column == 0 and row.code:
            return self._swatch(row.code)
        if role == Qt.ItemDataRole.ForegroundRole and not row.counted:
            return QBrush(GREY)
        if role == Qt.ItemDataRole.BackgroundRole and row.total:
            return QBrush(TOTAL_FILL)
        if role == Qt.ItemDataRole.FontRole and (row.total or row.code == BLAST):
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole and not row.total:
            if not row.counted:
                return f"{full_name(row.code)}: listed, not part of the count"
            return row.tooltip if column >= 4 and row.tooltip else full_name(row.code)
        return None

    def _swatch(self, code: str) -> QIcon:
        if code not in self._swatches:
            pixmap = QPixmap(10, 10)
            pixmap.fill(theme.class_color(code))
            self._swatches[code] = QIcon(pixmap)
        return self._swatches[code]


class DifferentialTable(QTableView):
    """The table's view: no selection, no editing, no scroll bars (sized to its rows)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts = DifferentialTableModel(self)
        self.setModel(self.counts)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setStyleSheet("QTableView { border: 1px solid #e2e8f0; border-radius: 6px; "
                           "font-size: 11px; } QHeaderView::section { background: #f1f5f9; "
                           "border: none; border-bottom: 1px solid #e2e8f0; padding: 3px 4px; "
                           "font-size: 11px; font-weight: 600; color: #475569; }")
        self.verticalHeader().setDefaultSectionSize(20)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        for column in range(len(HEADERS)):
            mode = QHeaderView.ResizeMode.Stretch if column == 1 else \
                QHeaderView.ResizeMode.ResizeToContents
            header.setSectionResizeMode(column, mode)

    def show_differential(self, d: Differential | None) -> None:
        """Show a count (None: empty) and fit the table's height to its rows."""
        self.counts.set_rows(table_rows(d))
        rows = self.counts.rowCount()
        height = self.horizontalHeader().height() + 4 + sum(self.rowHeight(i)
                                                            for i in range(rows))
        self.setFixedHeight(max(60, height))

    def rowCount(self) -> int:
        return self.counts.rowCount()

    def text(self, row: int, column: int) -> str:
        """The text shown in a cell."""
        return str(self.counts.index(row, column).data() or "")

    def foreground(self, row: int, column: int) -> QColor | None:
        """A cell's text colour where it is not the default (greyed classes)."""
        brush = self.counts.index(row, column).data(Qt.ItemDataRole.ForegroundRole)
        return brush.color() if brush is not None else None
