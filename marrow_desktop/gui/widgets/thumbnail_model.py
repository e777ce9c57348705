"""The browser's list model: one item per image, its result and review, filtered and sorted.

Filtering and sorting happen here on plain Python lists (a folder of 10,000 images re-sorts in a
few milliseconds) instead of in a QSortFilterProxyModel, whose per-comparison Python callbacks
would be far slower. Thumbnails come from a ThumbnailLoader, only for the cells the view paints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import EXCLUDED, ReviewThresholds, review_reasons, uncertain
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui.thumbnails import ThumbnailLoader

ItemRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
UNCLASSIFIED = "-"  # class filter value for images without a prediction

REVIEW_FILTERS = {"all": "Any review state", "unreviewed": "Not reviewed",
                  "reviewed": "Reviewed", "confirmed": "Confirmed", "corrected": "Corrected",
                  "excluded": "Excluded"}
FLAG_FILTERS = {"all": "Any flags", "needs_review": "Needs review",
                "low_confidence": "Uncertain", "poor_quality": "Poor quality",
                "ok": "No flags", "errors": "Unreadable"}
SORT_KEYS = {"name": "File name", "queue": "Review queue", "class": "Class",
             "confidence": "Confidence", "sharpness": "Sharpness", "review": "Review state"}


def poor_quality(quality: QualityMetrics | None, blur_threshold: float) -> bool:
    """Any quality check failed, with the blur verdict at the current threshold."""
    return quality is not None and bool(quality.problems_at(blur_threshold))


def quality_problems(quality: QualityMetrics | None, blur_threshold: float) -> list[str]:
    return quality.problems_at(blur_threshold) if quality is not None else []


@dataclass(eq=False)
class ImageItem:
    """One image of the open folder."""

    path: str
    name: str
    order: int  # position in the folder's natural order
    result: ImageResult | None = None
    review: str = ""  # class code a person gave it ('' = not reviewed)
    sha256: str = ""
    predicted: str = ""  # top class of the result (kept here: sorting 10,000 items is hot)
    confidence: float = math.nan
    margin: float = math.nan  # top-1 minus top-2 probability

    def set_result(self, result: ImageResult | None) -> None:
        self.result = result
        self.predicted, self.confidence, self.margin = "", math.nan, math.nan
        if result is None:
            return
        if result.content_sha256:
            self.sha256 = result.content_sha256
        if result.classified:
            probs = result.probabilities
            index = int(np.argmax(probs))  # type: ignore[arg-type]
            self.predicted = result.classes[index]
            self.confidence = float(probs[index])  # type: ignore[index]
            second = float(np.partition(probs, -2)[-2]) if len(probs) > 1 else 0.0  # type: ignore[arg-type]
            self.margin = self.confidence - second

    def uncertain(self, thresholds: ReviewThresholds) -> bool:
        """Classified with a confidence or a top-2 margin below the review thresholds."""
        return self.classified and uncertain(self.confidence, self.margin, thresholds)

    @property
    def classified(self) -> bool:
        return bool(self.predicted)

    @property
    def quality(self) -> QualityMetrics | None:
        return self.result.quality if self.result is not None else None

    @property
    def sharpness(self) -> float:
        q = self.quality
        return q.laplacian_var if q is not None else math.nan

    @property
    def error(self) -> str:
        return self.result.error if self.result is not None and not self.result.ok else ""

    @property
    def effective_class(self) -> str:
        """The reviewed class where there is one, else the predicted class."""
        return self.review or self.predicted

    @property
    def review_state(self) -> str:
        if not self.review:
            return "unreviewed"
        if self.review == EXCLUDED:
            return "excluded"
        return "confirmed" if self.review == self.predicted else "corrected"


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


class ThumbnailModel(QAbstractListModel):
    """Items of the open folder; `rows` maps view rows to items after filtering and sorting."""

    countsChanged = Signal()

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.loader.ready.connect(self._on_thumbnail)
        self._items: list[ImageItem] = []
        self._n_classified = 0
        self._needs: set[int] = set()  # orders of the items that need review (kept up to date)
        self._n_reviewed = 0
        self._by_path: dict[str, ImageItem] = {}
        self._rows: list[int] = []
        self._row_of: dict[int, int] = {}
        self._filter = BrowserFilter()
        self._sort_key = "name"
        self._descending = False
        self.review_thresholds = ReviewThresholds()
        self.blur_threshold = 8.0
        self._refilter_timer = QTimer(self)
        self._refilter_timer.setSingleShot(True)
        self._refilter_timer.setInterval(600)
        self._refilter_timer.timeout.connect(self.refilter)

    # Qt model interface ----------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        return self.item_data(self._items[self._rows[index.row()]], role)

    def item_data(self, item: ImageItem, role: int) -> object:
        """What a view asks of an item (shared with views that show items in another order)."""
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

    def tooltip(self, item: ImageItem) -> str:
        lines = [f"<b>{item.name}</b>", f"<span style='color:#64748b'>{item.path}</span>"]
        if item.error:
            lines.append(f"<span style='color:#b91c1c'>{item.error}</span>")
        if item.classified:
            tops = ", ".join(f"{c} {p:.0%}" for c, p in item.result.top(3))  # type: ignore[union-attr]
            lines.append(f"Predicted: <b>{full_name(item.predicted)}</b> "
                         f"({item.confidence:.1%})<br>Top 3: {tops}")
            reasons = self.reasons(item)
            if reasons:
                lines.append(f"<span style='color:#b45309'>Needs review: "
                             f"{', '.join(reasons)}</span>")
        if item.review == EXCLUDED:
            lines.append("Reviewed: <b>excluded from the count</b>")
        elif item.review:
            state = "confirmed" if item.review_state == "confirmed" else "corrected to"
            lines.append(f"Reviewed: {state} <b>{full_name(item.review)}</b>")
        problems = quality_problems(item.quality, self.blur_threshold)
        if problems:
            lines.append(f"<span style='color:#b91c1c'>Quality: {', '.join(problems)}</span>")
        elif item.quality is not None:
            lines.append(f"Quality OK (sharpness {item.sharpness:.1f})")
        return "<br>".join(lines)

    # contents --------------------------------------------------------------------------------
    def set_paths(self, paths: Sequence[str]) -> None:
        """Show a new list of images (results and reviews start empty)."""
        self.beginResetModel()
        self.loader.clear()
        self._items = [ImageItem(p, os.path.basename(p), i) for i, p in enumerate(paths)]
        self._by_path = {item.path: item for item in self._items}
        self._n_classified = self._n_reviewed = 0
        self._needs = set()
        self._rows, self._row_of = self._compute_rows()
        self.endResetModel()
        self.countsChanged.emit()

    def append_paths(self, paths: Sequence[str]) -> None:
        """More images of the same list (a big folder arrives in parts)."""
        start = len(self._items)
        new = [ImageItem(p, os.path.basename(p), start + i) for i, p in enumerate(paths)
               if p not in self._by_path]
        if not new:
            return
        for item in new:
            item.order = len(self._items)
            self._items.append(item)
            self._by_path[item.path] = item
        if self._filter.active or self._sort_key != "name" or self._descending:
            self.refilter()
        else:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for item in new:
                self._row_of[item.order] = len(self._rows)
                self._rows.append(item.order)
            self.endInsertRows()
        self.countsChanged.emit()

    def update_results(self, results: Iterable[ImageResult]) -> int:
        """Attach results to their items; returns how many matched."""
        changed: list[ImageItem] = []
        for result in results:
            item = self._by_path.get(result.path)
            if item is None:
                continue
            was_classified = item.classified
            if item.result is not None and was_classified and not result.classified \
                    and result.ok:  # a quality-only result does not erase a prediction
                if result.quality is not None:
                    item.result.quality = result.quality
            else:
                item.set_result(result)
                self._n_classified += int(item.classified) - int(was_classified)
            self._track_need(item)
            changed.append(item)
        if changed:
            self._contents_changed(changed)
        return len(changed)

    def set_reviews(self, reviews: dict[str, str]) -> None:
        changed: list[ImageItem] = []
        for path, label in reviews.items():
            item = self._by_path.get(path)
            if item is not None:
                self._n_reviewed += int(bool(label)) - int(bool(item.review))
                item.review = label
                changed.append(item)
        if changed:
            self._contents_changed(changed)

    def clear_results(self) -> None:
        """Forget every result and review (the model changed; the store is asked again)."""
        for item in self._items:
            item.set_result(None)
            item.review = ""
        self._n_classified = self._n_reviewed = 0
        self._needs = set()
        self._contents_changed(None)

    def set_thresholds(self, review: ReviewThresholds, blur_threshold: float) -> None:
        self.review_thresholds = review
        self.blur_threshold = blur_threshold
        self._needs = {item.order for item in self._items if self.needs_review(item)}
        self._contents_changed(None)

    # the review queue ------------------------------------------------------------------------
    def needs_review(self, item: ImageItem) -> bool:
        """A classified cell that is uncertain or has a quality flag."""
        return item.classified and (item.uncertain(self.review_thresholds)
                                    or poor_quality(item.quality, self.blur_threshold))

    def reasons(self, item: ImageItem) -> list[str]:
        if not item.classified:
            return []
        return review_reasons(item.result.probabilities,  # type: ignore[union-attr]
                              quality_problems(item.quality, self.blur_threshold),
                              self.review_thresholds)

    def _track_need(self, item: ImageItem) -> None:
        if self.needs_review(item):
            self._needs.add(item.order)
        else:
            self._needs.discard(item.order)

    def queue_counts(self) -> tuple[int, int]:
        """(cells needing review, of which not reviewed yet)."""
        return len(self._needs), sum(1 for order in self._needs if not self._items[order].review)

    def next_in_queue(self, after: str = "") -> str:
        """The next shown cell (view order, wrapping) that needs review and has none yet."""
        start = self.row_of(after) + 1 if after else 0
        n = len(self._rows)
        for k in range(n):
            item = self._items[self._rows[(start + k) % n]]
            if not item.review and self.needs_review(item):
                return item.path
        return ""

    def _contents_changed(self, items: list[ImageItem] | None) -> None:
        """Repaint the rows of these items (None: all) and re-filter soon if needed."""
        if items is None:
            rows = [0, len(self._rows) - 1] if self._rows else []
        else:
            rows = [r for r in (self._row_of.get(item.order) for item in items) if r is not None]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))
        if (self._filter.active or self._sort_key != "name") \
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

    def _accepts(self, item: ImageItem) -> bool:
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
                     "needs_review": item.classified and (low or poor),
                     "ok": item.classified and not (low or poor) and not item.error,
                     "errors": bool(item.error)}
            if not flags.get(f.flag, True):
                return False
        return True

    def _sort_value(self, item: ImageItem) -> tuple | None:
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
            rank = 0 if self.needs_review(item) and not item.review else (
                1 if not item.review else 2)
            return (rank, item.confidence, item.order)
        return (item.order,)

    def _compute_rows(self) -> tuple[list[int], dict[int, int]]:
        f = self._filter
        indices = [i for i, item in enumerate(self._items) if not f.active or self._accepts(item)]
        if self._sort_key != "name" or self._descending:
            keyed = [(self._sort_value(self._items[i]), i) for i in indices]
            present = [pair for pair in keyed if pair[0] is not None]
            present.sort(key=lambda pair: pair[0], reverse=self._descending)
            indices = [i for _, i in present] + [i for key, i in keyed if key is None]
        return indices, {item_index: row for row, item_index in enumerate(indices)}

    # lookups ---------------------------------------------------------------------------------
    def item(self, row: int) -> ImageItem | None:
        return self._items[self._rows[row]] if 0 <= row < len(self._rows) else None

    def item_for(self, path: str) -> ImageItem | None:
        return self._by_path.get(path)

    def row_of(self, path: str) -> int:
        item = self._by_path.get(path)
        if item is None:
            return -1
        return self._row_of.get(item.order, -1)

    def items(self) -> list[ImageItem]:
        """All items in folder order (filtered or not)."""
        return list(self._items)

    def paths(self) -> list[str]:
        return [item.path for item in self._items]

    def total(self) -> int:
        return len(self._items)

    def classified_count(self) -> int:
        return self._n_classified

    def reviewed_count(self) -> int:
        return self._n_reviewed

    def sharpness_values(self) -> list[float]:
        return [item.quality.laplacian_var for item in self._items if item.quality is not None]

    def _on_thumbnail(self, path: str) -> None:
        row = self.row_of(path)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
