"""The case in memory: its cells, their results and reviews, the review queue, the counts and
the differential. No Qt: the viewer's list models are thin adapters over it (napari's habit of
pure models beside Qt containers), and `marrow report` builds its report from the same object.

A cell is an image of the opened folder, or a region of one (a cell found in a smear photograph,
core.cells, known by a cell path 'field.jpg#cell=x,y,w,h'). A field photograph whose cells
were found is a *field* of the case: its found cells are the cells counted (its own
whole-image prediction is not), listed after it; a found cell deleted by hand is *removed*
(kept, not shown or counted); a cell added by hand is a region like any other. Each cell
caches what hot paths need (predicted class, confidence, margin, review reasons); the one
needs-review rule is core.review.cell_reasons. Listeners are called with a
CaseChange after every change (on the caller's thread).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from marrow_desktop.core.cells import box_of, cell_id, cell_path, split_cell_id
from marrow_desktop.core.defaults import BLUR_THRESHOLD
from marrow_desktop.core.differential import Differential, differential
from marrow_desktop.core.domain import CaseVerdict, case_verdict
from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import (
    EXCLUDED,
    Review,
    ReviewThresholds,
    cell_reasons,
    final_class,
    top_two,
    uncertain,
)


@dataclass(eq=False)
class Cell:
    """One cell of the case, with what views sort, filter and badge by."""

    path: str
    name: str
    order: int  # position in the folder's natural order
    region: str = ""  # part of the image (core.cells); '' = the whole image
    result: ImageResult | None = None
    review: str = ""  # the person's label ('' = not reviewed)
    reviewer: str = ""
    reviewed_at: str = ""
    sha256: str = ""
    predicted: str = ""
    confidence: float = math.nan
    margin: float = math.nan  # top-1 minus top-2 probability
    reasons: tuple[str, ...] = ()  # why it needs review (empty: it does not)
    parent: int = -1  # order of the field a found cell belongs to (-1: none)
    is_field: bool = False  # a field photograph whose cells are cells of the case
    removed: bool = False  # a found cell deleted by hand (not shown, not counted)
    stale: bool = False  # found by an earlier search of its field, not by the latest one

    @property
    def cell_id(self) -> str:
        return cell_id(self.sha256, self.region) if self.sha256 else ""

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
    def in_domain(self) -> bool | None:
        return self.result.in_domain if self.result is not None else None

    @property
    def needs_review(self) -> bool:
        return bool(self.reasons)

    @property
    def effective_class(self) -> str:
        """The reviewed class where there is one, else the predicted class."""
        return final_class(self.predicted, self.review)

    @property
    def review_state(self) -> str:
        if not self.review:
            return "unreviewed"
        if self.review == EXCLUDED:
            return "excluded"
        return "confirmed" if self.review == self.predicted else "corrected"

    def uncertain(self, thresholds: ReviewThresholds) -> bool:
        return self.classified and uncertain(self.confidence, self.margin, thresholds)

    def probability(self, code: str) -> float:
        """The model's probability of a class for this cell (nan when unknown)."""
        r = self.result
        if r is None or r.probabilities is None or code not in r.classes:
            return math.nan
        return float(r.probabilities[r.classes.index(code)])

    @property
    def counted(self) -> bool:
        """Part of the case's cells: not a field (its cells are) and not removed."""
        return not self.is_field and not self.removed and not self.stale

    @property
    def rank(self) -> tuple[int, int, int]:
        """Folder order, a field's cells right after it (in the order they were found)."""
        return (self.parent, 1, self.order) if self.parent >= 0 else (self.order, 0, 0)

    def as_review(self) -> Review | None:
        return Review(self.review, self.reviewer, self.reviewed_at, self.path) \
            if self.review else None


@dataclass(frozen=True)
class CaseChange:
    """What changed: 'reset' (new cells), 'added', 'results', 'reviews', 'rules' or 'regions'
    (found cells removed or restored by hand); the cells concerned (None: all)."""

    kind: str
    cells: tuple[Cell, ...] | None = None


Listener = Callable[[CaseChange], None]


@dataclass
class Case:
    """The cells of the opened case and everything derived from them."""

    case_id: str = ""
    classes: tuple[str, ...] = ()
    thresholds: ReviewThresholds = field(default_factory=ReviewThresholds)
    blur_threshold: float = BLUR_THRESHOLD
    false_alarm: float = math.nan  # the model's per-image lab-shift rate (nan: no check)

    def __post_init__(self) -> None:
        self._cells: list[Cell] = []
        self._by_path: dict[str, Cell] = {}
        self._needs: set[int] = set()
        self._n_classified = 0
        self._n_reviewed = 0
        self._listeners: list[Listener] = []
        self._reviews_by_cell: dict[str, Review] = {}  # the case's labels, by cell id
        self._regions: dict[str, str] = {}  # cell id -> 'added'/'removed' (regions by hand)
        self._fields = 0  # cells that are fields

    # listening -------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, kind: str, cells: Iterable[Cell] | None = None) -> None:
        change = CaseChange(kind, tuple(cells) if cells is not None else None)
        for listener in list(self._listeners):
            listener(change)

    # contents --------------------------------------------------------------------------------
    def set_paths(self, paths: Sequence[str], case_id: str | None = None) -> None:
        """A new list of cells (results and reviews start empty)."""
        if case_id is not None:
            self.case_id = case_id
        self._cells = [Cell(p, os.path.basename(p), i) for i, p in enumerate(paths)]
        self._by_path = {cell.path: cell for cell in self._cells}
        self._needs, self._n_classified, self._n_reviewed = set(), 0, 0
        self._reviews_by_cell, self._regions, self._fields = {}, {}, 0
        self._emit("reset")

    def append_paths(self, paths: Sequence[str]) -> list[Cell]:
        """More cells of the same case (a big folder arrives in parts)."""
        new = []
        for path in paths:
            if path in self._by_path:
                continue
            cell = Cell(path, os.path.basename(path), len(self._cells))
            self._cells.append(cell)
            self._by_path[path] = cell
            new.append(cell)
        if new:
            self._emit("added", new)
        return new

    def set_case_id(self, case_id: str) -> None:
        """The case's id became known (its reviews are keyed by it): recompute the reasons
        (the verification sample is drawn by case and cell)."""
        if case_id != self.case_id:
            self.case_id = case_id
            self._recompute(self._cells)
            self._emit("rules")

    def set_rules(self, thresholds: ReviewThresholds, blur_threshold: float) -> None:
        if (thresholds, blur_threshold) != (self.thresholds, self.blur_threshold):
            self.thresholds, self.blur_threshold = thresholds, blur_threshold
            self._recompute(self._cells)
            self._emit("rules")

    def set_model(self, classes: Sequence[str], false_alarm: float = math.nan) -> None:
        self.classes = tuple(classes)
        self.false_alarm = false_alarm

    def update_results(self, results: Iterable[ImageResult]) -> list[Cell]:
        """Attach results to their cells (a quality-only result does not erase a prediction).
        A result for a region of a listed image is a cell found in a field: the cell is added
        (after its field) the first time."""
        changed: list[Cell] = []
        added: list[Cell] = []
        for result in results:
            cell = self._by_path.get(cell_path(result.path, result.region))
            if cell is None and result.region:
                cell = self._add_region(result.path, result.region, result.content_sha256)
                if cell is not None:
                    added.append(cell)
            if cell is None:
                continue
            if cell.is_field and result.classified:
                continue  # a field's own whole-image prediction is not one of its cells
            if cell.result is not None and cell.result is not result:
                for key, value in cell.result.extra.items():  # a found cell's box and scale
                    result.extra.setdefault(key, value)
            if cell.classified and cell.result is not None and result.ok \
                    and not result.classified:
                if result.quality is not None:
                    cell.result.quality = result.quality
            else:
                self._set_result(cell, result)
            self._recompute([cell])
            changed.append(cell)
            field = self.field_of(cell) if cell.region else cell
            if self._regions and field is not None and field.is_field and field.sha256:
                added += self._restore_added(field)
        if added:
            self._emit("added", added)
        if changed:
            self._emit("results", changed)
            pending = {c.path: self._reviews_by_cell[c.cell_id] for c in changed
                       if not c.review and c.cell_id in self._reviews_by_cell}
            if pending:
                self.set_reviews(pending)
        return changed

    # cells of fields ---------------------------------------------------------------------------
    @property
    def has_fields(self) -> bool:
        return self._fields > 0

    def field_cells(self, field_path: str) -> list[Cell]:
        """The cells found in (or added to) a field, removed ones included."""
        field = self._by_path.get(field_path)
        if field is None or not field.is_field:
            return []
        return [c for c in self._cells if c.parent == field.order]

    def field_of(self, cell: Cell) -> Cell | None:
        """The field a cell belongs to (None for a whole image)."""
        return self._cells[cell.parent] if cell.parent >= 0 else None

    def _add_region(self, source: str, region: str, sha: str = "") -> Cell | None:
        """A new cell for a region of a listed image, which becomes a field."""
        field = self._by_path.get(source)
        if field is None or field.region or box_of(region) is None:
            return None
        if sha and not field.sha256:
            field.sha256 = sha
        if not field.is_field:
            field.is_field = True
            self._fields += 1
            if field.result is not None:  # its whole-image prediction is not a cell
                self._set_result(field, None)
                self._recompute([field])
        x, y, w, h = box_of(region)  # type: ignore[misc]
        path = cell_path(source, region)
        cell = Cell(path, f"{field.name} · cell at {x + w // 2},{y + h // 2}", len(self._cells),
                    region=region, sha256=field.sha256, parent=field.order)
        cell.removed = self._regions.get(cell.cell_id) == "removed"
        self._cells.append(cell)
        self._by_path[path] = cell
        return cell

    def _restore_added(self, field: Cell) -> list[Cell]:
        """The cells added by hand to this field (recorded in the case) that are not here yet."""
        out = []
        for cid, state in self._regions.items():
            sha, region = split_cell_id(cid)
            if state == "added" and sha == field.sha256 and region \
                    and cell_path(field.path, region) not in self._by_path:
                cell = self._add_region(field.path, region)
                if cell is not None:
                    out.append(cell)
        return out

    def add_region(self, field_path: str, region: str) -> Cell:
        """A cell added by hand: a region of a field (or of a listed image, which becomes a
        field). The caller records it (audit ADD_CELL) and classifies it."""
        path = cell_path(field_path, region)
        cell = self._by_path.get(path)
        if cell is None:
            cell = self._add_region(field_path, region)
            if cell is None:
                raise ValueError(f"{field_path} is not an image of this case")
            self._emit("added", [cell])
        if cell.cell_id:
            self._regions[cell.cell_id] = "added"
        if cell.removed:
            self.set_removed(cell.path, False)
        return cell

    def set_removed(self, path: str, removed: bool = True) -> Cell | None:
        """Delete a found cell by hand (a false detection), or bring it back."""
        cell = self._by_path.get(path)
        if cell is None or not cell.region or cell.removed == removed:
            return cell
        cell.removed = removed
        if cell.cell_id:
            self._regions[cell.cell_id] = "removed" if removed else "added"
        self._recompute([cell])
        self._emit("regions", [cell])
        return cell

    def keep_found(self, found: Mapping[str, set[str]]) -> list[Cell]:
        """After a run searched these fields (path -> regions found): their cells the search
        no longer finds (another scale, say) are stale, not counted; cells added by hand stay."""
        changed = []
        for path, regions in found.items():
            for cell in self.field_cells(path):
                stale = cell.region not in regions and \
                    self._regions.get(cell.cell_id) != "added"
                if stale != cell.stale:
                    cell.stale = stale
                    self._recompute([cell])
                    changed.append(cell)
        if changed:
            self._emit("regions", changed)
        return changed

    def set_case_regions(self, regions: Mapping[str, str]) -> list[Cell]:
        """The case's cells added or removed by hand (cell id -> state, from the store)."""
        self._regions = dict(regions)
        added_to = {split_cell_id(cid)[0] for cid, state in regions.items() if state == "added"}
        changed, added = [], []
        for cell in self._cells:
            if cell.region and cell.cell_id:
                removed = regions.get(cell.cell_id) == "removed"
                if removed != cell.removed:
                    cell.removed = removed
                    self._recompute([cell])
                    changed.append(cell)
            elif not cell.region and cell.sha256 in added_to:  # becomes a field if not one
                added += self._restore_added(cell)
        if added:
            self._emit("added", added)
        if changed:
            self._emit("regions", changed)
        return changed + added

    def _set_result(self, cell: Cell, result: ImageResult | None) -> None:
        was = cell.classified
        cell.result = result
        cell.predicted, cell.confidence, cell.margin = "", math.nan, math.nan
        if result is not None:
            if result.content_sha256:
                cell.sha256 = result.content_sha256
            if result.classified:
                cell.predicted = result.predicted_class
                cell.confidence, cell.margin = top_two(result.probabilities)  # type: ignore
        self._n_classified += int(cell.classified) - int(was)

    def set_reviews(self, reviews: Mapping[str, Review | str]) -> list[Cell]:
        """Labels by cell path ('' clears); a Review also carries who gave it and when."""
        changed = []
        for path, value in reviews.items():
            cell = self._by_path.get(path)
            if cell is None:
                continue
            review = value if isinstance(value, Review) else Review(value, "", "")
            self._n_reviewed += int(bool(review.label)) - int(bool(cell.review))
            cell.review, cell.reviewer, cell.reviewed_at = review.label, review.reviewer, \
                review.at
            changed.append(cell)
        if changed:
            self._emit("reviews", changed)
        return changed

    def set_hashes(self, hashes: Mapping[str, str]) -> None:
        """Content hashes of cells known without a result (path -> SHA-256)."""
        for path, sha in hashes.items():
            cell = self._by_path.get(path)
            if cell is not None and not cell.sha256:
                cell.sha256 = sha

    def set_case_reviews(self, reviews: Mapping[str, Review],
                         keep: Callable[[Cell], bool] = lambda _c: True) -> list[Cell]:
        """The case's labels by cell id (from the store): applied to the cells whose content
        hash is known, and to the others as soon as it is (a moved or renamed folder, a file
        not yet read). `keep(cell)` False leaves a cell's current label alone (changed here
        after the store was read)."""
        self._reviews_by_cell = dict(reviews)
        by_path = {c.path: reviews.get(c.cell_id, Review("", "", ""))
                   for c in self._cells if c.cell_id and keep(c)
                   and (c.cell_id in reviews or c.review)}
        return self.set_reviews(by_path) if by_path else []

    def clear_results(self) -> None:
        """Forget every result and review (another model: the store is asked again)."""
        for cell in self._cells:
            self._set_result(cell, None)
            cell.review = cell.reviewer = cell.reviewed_at = ""
        self._n_classified = self._n_reviewed = 0
        self._needs = set()
        self._recompute(self._cells)
        self._emit("results", None)

    def _recompute(self, cells: Iterable[Cell]) -> None:
        for cell in cells:
            cell.reasons = tuple(cell_reasons(cell.result, self.thresholds, self.blur_threshold,
                                              self.case_id)) \
                if cell.result is not None and cell.counted else ()
            if cell.reasons:
                self._needs.add(cell.order)
            else:
                self._needs.discard(cell.order)

    # lookups ---------------------------------------------------------------------------------
    @property
    def cells(self) -> list[Cell]:
        """All cells in folder order."""
        return self._cells

    def cell(self, path: str) -> Cell | None:
        return self._by_path.get(path)

    def __len__(self) -> int:
        return len(self._cells)

    def paths(self) -> list[str]:
        return [c.path for c in self._cells]

    def run_paths(self, searching_fields: bool) -> list[str]:
        """What a run classifies: every image, and the cells of fields that a field search
        would not find again (all of them when fields are not searched; else those added by
        hand)."""
        return [c.path for c in self._cells if not c.region or not searching_fields
                or self._regions.get(c.cell_id) == "added"]

    @property
    def classified_count(self) -> int:
        return self._n_classified

    @property
    def reviewed_count(self) -> int:
        return self._n_reviewed

    def results(self) -> list[ImageResult]:
        """The results the cells have, in folder order."""
        return [c.result for c in self._cells if c.result is not None and c.counted]

    def queue_counts(self) -> tuple[int, int]:
        """(cells needing review, of which not reviewed yet)."""
        return len(self._needs), sum(1 for o in self._needs if not self._cells[o].review)

    def next_in_queue(self, cells: Sequence[Cell], after: str = "") -> str:
        """The next cell of `cells` (a view's order, wrapping after `after`) that needs review
        and has none yet; '' when there is none."""
        start = 0
        if after:
            start = next((i + 1 for i, c in enumerate(cells) if c.path == after), 0)
        n = len(cells)
        for k in range(n):
            cell = cells[(start + k) % n]
            if not cell.review and cell.needs_review:
                return cell.path
        return ""

    def reason_counts(self) -> dict[str, int]:
        """How many unreviewed cells each kind of reason queues (the text before a number)."""
        counts: dict[str, int] = {}
        for order in self._needs:
            cell = self._cells[order]
            if cell.review:
                continue
            for reason in cell.reasons:
                kind = reason.split(" ")[0] if reason[-1] == "%" else reason
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def differential(self, target: int = 200) -> Differential:
        return differential(((c.predicted, c.review) for c in self._cells if c.counted),
                            self.classes, target)

    def verdict(self) -> CaseVerdict | None:
        """The lab-shift verdict of the cells the check scored (None: no check)."""
        flags = [c.in_domain for c in self._cells if c.in_domain is not None and c.counted]
        if math.isnan(self.false_alarm) or not flags:
            return None
        return case_verdict(flags, self.false_alarm)

    def sharpness_values(self) -> list[float]:
        return [c.quality.laplacian_var for c in self._cells
                if c.quality is not None and c.counted]
