"""The browser's list model: a thin Qt adapter over the case (core.case).

The cells, their results, reviews and review reasons live in the Case; this model keeps only
the view's rows (filtered and sorted on plain Python lists: a folder of 10,000 images re-sorts in
a few milliseconds, far faster than QSortFilterProxyModel's per-comparison callbacks) and turns
the case's changes into Qt model signals. Thumbnails come from a ThumbnailLoader, only for the
cells the view paints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from marrow_desktop.core.case import Case, CaseChange, Cell
from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import EXCLUDED, Review, ReviewThresholds
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui.thumbnails import ThumbnailLoader

ItemRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
UNCLASSIFIED = "-"  # class filter value for images without a prediction
#: Changes of up to this many rows are announced row by row: Qt repaints the whole grid for a
#: change that spans several rows, but only a visible cell for a one-row change (a batch's
#: results arrive a few at a time, mostly off screen; benchmarks/bench_gui.py).
SINGLE_ROW_UPDATES = 64

REVIEW_FILTERS = {"all": "Any review state", "unreviewed": "Not reviewed",
                  "reviewed": "Reviewed", "confirmed": "Confirmed", "corrected": "Corrected",
                  "excluded": "Excluded"}
FLAG_FILTERS = {"all": "Any flags", "needs_review": "Needs review",
                "low_confidence": "Uncertain", "poor_quality": "Poor quality",
                "unfamiliar": "Unlike training images", "ok": "No flags",
                "errors": "Unreadable"}
SORT_KEYS = {"name": "File name", "queue": "Review queue", "class": "Class",
             "confidence": "Confidence", "sharpness": "Sharpness", "review": "Review state"}


def quality_problems(quality: QualityMetrics | None, blur_threshold: float) -> list[str]:
    return quality.problems_at(blur_threshold) if quality is not None else []


def poor_quality(quality: QualityMetrics | None, blur_threshold: float) -> bool:
    """Any quality check failed, with the blur verdict at the current threshold."""
    return bool(quality_problems(quality, blur_threshold))


@dataclass(frozen=True)
class BrowserFilter:
    """What the browser shows: file-name text, class, review state and flags."""

    text: str = ""
    class_code: str = ""  # '' = all, UNCLASSIFIED = no prediction, else a class code
    review: str = "all"
    flag: str = "all"

    @property
    def active(self) -> bool:
        return bool(self.text or self.class_code) or self.review != "all" or self.flag != "all"

    @property
    def depends_on_review(self) -> bool:
        """A review can change whether a cell is shown (its class, review state or flags)."""
        return bool(self.class_code) or self.review != "all" or self.flag != "all"


class ThumbnailModel(QAbstractListModel):
    """The case's cells as view rows (filtered and sorted); `countsChanged` follows every change
    of the case."""

    countsChanged = Signal()

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None,
                 case: Case | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.loader.ready.connect(self._on_thumbnail)
        self.case = case if case is not None else Case()
        self.case.subscribe(self._on_case)
        self._rows: list[int] = []
        self._row_of: dict[int, int] = {}
        self._filter = BrowserFilter()
        self._sort_key = "name"
        self._descending = False
        self._refilter_timer = QTimer(self)
        self._refilter_timer.setSingleShot(True)
        self._refilter_timer.setInterval(600)
        self._refilter_timer.timeout.connect(self.refilter)

    @property
    def review_thresholds(self) -> ReviewThresholds:
        return self.case.thresholds

    @property
    def blur_threshold(self) -> float:
        return self.case.blur_threshold

    # Qt model interface ----------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        return self.item_data(self.case.cells[self._rows[index.row()]], role)

    def item_data(self, item: Cell, role: int) -> object:
        """What a view asks of a cell (shared with views that show cells in another order)."""
        if role == ItemRole:
            return item
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.get(item.path)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return item.name
        if role == PathRole:
            return item.path
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(item)
        return None

    def tooltip(self, item: Cell) -> str:
        lines = [f"<b>{item.name}</b>", f"<span style='color:#64748b'>{item.path}</span>"]
        if item.is_field:
            lines.append("Field photograph: the cells found in it follow it in the browser "
                         "(File order) and are shown on it in the Field view")
        if item.error:
            lines.append(f"<span style='color:#b91c1c'>{item.error}</span>")
        if item.classified:
            tops = ", ".join(f"{c} {p:.0%}" for c, p in item.result.top(3))  # type: ignore[union-attr]
            lines.append(f"Predicted: <b>{full_name(item.predicted)}</b> "
                         f"({item.confidence:.1%})<br>Top 3: {tops}")
            if item.reasons:
                lines.append(f"<span style='color:#b45309'>Needs review: "
                             f"{', '.join(item.reasons)}</span>")
        if item.review == EXCLUDED:
            lines.append("Reviewed: <b>excluded from the count</b>")
        elif item.review:
            state = "confirmed" if item.review_state == "confirmed" else "corrected to"
            who = f" by {item.reviewer}" if item.reviewer else ""
            lines.append(f"Reviewed{who}: {state} <b>{full_name(item.review)}</b>")
        problems = quality_problems(item.quality, self.blur_threshold)
        if problems:
            lines.append(f"<span style='color:#b91c1c'>Quality: {', '.join(problems)}</span>")
        elif item.quality is not None:
            lines.append(f"Quality OK (sharpness {item.sharpness:.1f})")
        return "<br>".join(lines)

    # the case's changes ----------------------------------------------------------------------
    def _on_case(self, change: CaseChange) -> None:
        if change.kind == "reset":
            self.beginResetModel()
            self.loader.clear()
            self._rows, self._row_of = self._compute_rows()
            self.endResetModel()
        elif change.kind == "added":
            self._append(change.cells or ())
        elif change.kind == "regions":
            self.refilter()
        else:
            self._contents_changed(change.cells, resort=change.kind != "reviews"
                                   or self._filter.depends_on_review)
            return
        self.countsChanged.emit()

    def _append(self, new: Sequence[Cell]) -> None:
        if not new:
            return
        if self._filter.active or self._sort_key != "name" or self._descending \
                or any(item.parent >= 0 for item in new):
            self.refilter()
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for item in new:
            self._row_of[item.order] = len(self._rows)
            self._rows.append(item.order)
        self.endInsertRows()

    # contents (delegated to the case) --------------------------------------------------------
    def set_paths(self, paths: Sequence[str]) -> None:
        """Show a new list of images (results and reviews start empty)."""
        self.case.set_paths(paths)

    def append_paths(self, paths: Sequence[str]) -> None:
        """More images of the same list (a big folder arrives in parts)."""
        self.case.append_paths(paths)

    def update_results(self, results: Iterable[ImageResult]) -> int:
        """Attach results to their cells; returns how many matched."""
        return len(self.case.update_results(results))

    def set_reviews(self, reviews: Mapping[str, Review | str]) -> None:
        self.case.set_reviews(reviews)

    def clear_results(self) -> None:
        """Forget every result and review (the model changed; the store is asked again)."""
        self.case.clear_results()

    def set_thresholds(self, review: ReviewThresholds, blur_threshold: float) -> None:
        self.case.set_rules(review, blur_threshold)

    # the review queue ------------------------------------------------------------------------
    def needs_review(self, item: Cell) -> bool:
        """A classified cell with a review reason (core.review.cell_reasons)."""
        return item.needs_review

    def reasons(self, item: Cell) -> list[str]:
        return list(item.reasons)

    def queue_counts(self) -> tuple[int, int]:
        """(cells needing review, of which not reviewed yet)."""
        return self.case.queue_counts()

    def next_in_queue(self, after: str = "") -> str:
        """The next shown cell (view order, wrapping) that needs review and has none yet."""
        cells = self.case.cells
        return self.case.next_in_queue([cells[i] for i in self._rows], after)

    def _contents_changed(self, items: Sequence[Cell] | None, resort: bool = True) -> None:
        """Repaint the rows of these cells (None: all) and re-filter soon if needed. A review
        does not re-sort (resort=False): the reviewed cell stays where the reviewer is, e.g.
        in "Sort: Review queue"; the order catches up with the next sort, filter or results."""
        if items is None:
            rows = [0, len(self._rows) - 1] if self._rows else []
        else:
            rows = [r for r in (self._row_of.get(item.order) for item in items) if r is not None]
        if 0 < len(rows) <= SINGLE_ROW_UPDATES:  # only the cells on screen are repainted
            for row in rows:
                index = self.index(row)
                self.dataChanged.emit(index, index)
        elif rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))
        if resort and (self._filter.active or self._sort_key != "name") \
                and not self._refilter_timer.isActive():
            self._refilter_timer.start()
        self.countsChanged.emit()

    # filtering and sorting -------------------------------------------------------------------
    @property
    def filter(self) -> BrowserFilter:
        return self._filter

    @property
    def sort_key(self) -> tuple[str, bool]:
        return self._sort_key, self._descending

    def set_filter(self, browser_filter: BrowserFilter) -> None:
        if browser_filter != self._filter:
            self._filter = browser_filter
            self.refilter()

    def set_sort(self, key: str, descending: bool = False) -> None:
        if key not in SORT_KEYS:
            raise ValueError(f"unknown sort key {key!r}")
        if (key, descending) != (self._sort_key, self._descending):
            self._sort_key, self._descending = key, descending
            self.refilter()

    def refilter(self) -> None:
        self._refilter_timer.stop()
        rows, row_of = self._compute_rows()
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows, self._row_of = rows, row_of
        self.endResetModel()
        self.countsChanged.emit()

    def _accepts(self, item: Cell) -> bool:
        f = self._filter
        if f.text and f.text.lower() not in item.name.lower():
            return False
        if f.class_code:
            if f.class_code == UNCLASSIFIED:
                if item.classified:
                    return False
            elif item.effective_class != f.class_code:
                return False
        if f.review != "all":
            state = item.review_state
            if f.review == "reviewed":
                if state == "unreviewed":
                    return False
            elif state != f.review:
                return False
        if f.flag != "all":
            low = item.uncertain(self.review_thresholds)
            poor = poor_quality(item.quality, self.blur_threshold)
            flags = {"low_confidence": low, "poor_quality": poor,
                     "needs_review": item.needs_review,
                     "unfamiliar": item.in_domain is False,
                     "ok": item.classified and not item.needs_review and not item.error,
                     "errors": bool(item.error)}
            if not flags.get(f.flag, True):
                return False
        return True

    def _sort_value(self, item: Cell) -> tuple | None:
        """Sort key of an item, None when it has no value for the key (those go last)."""
        key = self._sort_key
        if key == "class":
            code = item.effective_class
            return (code, item.order) if code else None
        if key in ("confidence", "sharpness"):
            value = item.confidence if key == "confidence" else item.sharpness
            return None if math.isnan(value) else (value, item.order)
        if key == "review":
            rank = {"corrected": 0, "excluded": 1, "confirmed": 2,
                    "unreviewed": 3}[item.review_state]
            return (rank, item.order)
        if key == "queue":  # needs review and not reviewed, least confident first
            if not item.classified:
                return None
            rank = 0 if item.needs_review and not item.review else (
                1 if not item.review else 2)
            return (rank, item.confidence, item.order)
        return item.rank

    def _compute_rows(self) -> tuple[list[int], dict[int, int]]:
        f = self._filter
        indices = [i for i, item in enumerate(self.case.cells)
                   if not (item.removed or item.stale) and (not f.active or self._accepts(item))]
        if self._sort_key != "name" or self._descending or self.case.has_fields:
            keyed = [(self._sort_value(self.case.cells[i]), i) for i in indices]
            present = [pair for pair in keyed if pair[0] is not None]
            present.sort(key=lambda pair: pair[0], reverse=self._descending)
            indices = [i for _, i in present] + [i for key, i in keyed if key is None]
        return indices, {item_index: row for row, item_index in enumerate(indices)}

    # lookups ---------------------------------------------------------------------------------
    def item(self, row: int) -> Cell | None:
        return self.case.cells[self._rows[row]] if 0 <= row < len(self._rows) else None

    def item_for(self, path: str) -> Cell | None:
        return self.case.cell(path)

    def row_of(self, path: str) -> int:
        item = self.case.cell(path)
        if item is None:
            return -1
        return self._row_of.get(item.order, -1)

    def items(self) -> list[Cell]:
        """All cells in folder order (filtered or not)."""
        return self.case.cells

    def paths(self) -> list[str]:
        return self.case.paths()

    def total(self) -> int:
        return len(self.case)

    def classified_count(self) -> int:
        return self.case.classified_count

    def reviewed_count(self) -> int:
        return self.case.reviewed_count

    def sharpness_values(self) -> list[float]:
        return self.case.sharpness_values()

    def _on_thumbnail(self, path: str) -> None:
        row = self.row_of(path)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
