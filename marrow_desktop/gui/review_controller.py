"""Labelling cells: confirm, correct, exclude, clear, the class picker, undo/redo, the review
queue and the counts.

The controller is given what it needs (the session, the browser's model over the case, the
actions and a small view protocol) rather than the window; the store work runs on the
session's writer thread. Which actions are enabled is gui/enablement.enabled_actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QWidget

from marrow_desktop.core.case_report import selective_sentence
from marrow_desktop.core.differential import Differential
from marrow_desktop.core.review import EXCLUDED, ReviewThresholds
from marrow_desktop.core.store import CaseInfo
from marrow_desktop.core.taxonomy import BONE_MARROW_CLASSES
from marrow_desktop.gui.actions import Actions
from marrow_desktop.gui.enablement import UiState, enabled_actions
from marrow_desktop.gui.session import Session
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.widgets.class_picker import ClassPicker
from marrow_desktop.gui.widgets.review_bar import CONFIRM
from marrow_desktop.gui.widgets.thumbnail_model import ThumbnailModel


def rule_text(t: ReviewThresholds, blur_threshold: float) -> str:
    return (f"predicted blast or blast ≥ {t.blast_probability:.0%}, confidence below "
            f"{t.min_confidence:.0%}, top-2 margin below {t.min_margin:.0%}, unlike the "
            f"training images, or a quality flag (blur threshold {blur_threshold:g}); plus a "
            f"{t.verification_share:.0%} random verification sample")


def signed_text(case: CaseInfo | None) -> str:
    if case is None or not case.signed:
        return ""
    when = case.signed_at[:16].replace("T", " ")
    return f"Signed off by {case.signed_by} on {when} UTC"


@dataclass(frozen=True)
class ReviewState:
    """What the review bar shows for the current cell."""

    review: str
    predicted: str
    enabled: bool
    count: int
    signed_by: str = ""
    mixed: bool = False  # the selected cells are predicted as different classes
    history: bool = False  # the cell's history can be shown


class ReviewView(Protocol):
    """What the controller needs of the window."""

    def selected_paths(self) -> list[str]: ...
    def current_path(self) -> str: ...
    def known_cell_id(self, path: str) -> str: ...
    def after_review(self, reviewed: str) -> None: ...
    def show_review_state(self, state: ReviewState) -> None: ...
    def show_counts(self, needs: int, unreviewed: int, rule: str, sentence: str,
                    differential: Callable[[], Differential]) -> None: ...
    def show_message(self, text: str, timeout: int = 8000) -> None: ...
    def dialog_parent(self) -> QWidget: ...


@dataclass(frozen=True)
class _Change:
    """One review action: (path, cell id, label before, label after) per cell."""

    cells: tuple[tuple[str, str, str, str], ...]


class ReviewController(QObject):
    """Holds no case state of its own: the case (core.case) and the store hold it."""

    reviewed = Signal(int)  # cells changed by a review action (before the store confirms)

    def __init__(self, session: Session, model: ThumbnailModel, actions: Actions,
                 view: ReviewView, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.model, self.actions, self.view = session, model, actions, view
        self.settings = settings
        self.dialog: QObject | None = None  # the open dialog (tests use it)
        self.target = int(settings.ui("target"))
        self._changed: dict[str, float] = {}  # path -> when its label was last changed here
        self._undo: list[_Change] = []
        self._redo: list[_Change] = []
        self._pending: tuple[list[str], str] | None = None  # waiting for the reviewer's name
        self._refresh_timer = QTimer(self, singleShot=True, interval=150)
        self._refresh_timer.timeout.connect(self.refresh_counts)
        a = actions
        a.confirm.triggered.connect(lambda: self.review(CONFIRM))
        a.exclude.triggered.connect(lambda: self.review(EXCLUDED))
        a.clear_review.triggered.connect(lambda: self.review(""))
        a.correct_menu.triggered.connect(lambda action: self.review(action.data()))
        a.pick_class.triggered.connect(self.pick_class)
        a.next_in_queue.triggered.connect(self.next_in_queue)
        a.undo.triggered.connect(self.undo)
        a.redo.triggered.connect(self.redo)
        model.countsChanged.connect(self.schedule_refresh)
        session.reviewsSaved.connect(lambda _n: self.schedule_refresh())
        session.caseChanged.connect(lambda _info: self.update_ui())

    # the reviewer ----------------------------------------------------------------------------
    def reviewer_known(self) -> bool:
        return bool(self.settings.session_reviewer)

    def ask_reviewer(self) -> QInputDialog:
        """Ask the reviewer's name once per run of the app (remembered as the default)."""
        dialog = QInputDialog(self.view.dialog_parent())
        dialog.setWindowTitle("Reviewer")
        dialog.setLabelText("Your name, as the audit trail should record your reviews:")
        dialog.setTextValue(self.settings.reviewer())
        dialog.textValueSelected.connect(self._reviewer_given)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _reviewer_given(self, name: str) -> None:
        name = name.strip()
        if not name:
            self.view.show_message("A review needs the reviewer's name.")
            self._pending = None
            return
        self.settings.session_reviewer = name
        prefs = self.settings.preferences()
        prefs.reviewer = name
        self.settings.set_preferences(prefs)
        if self._pending is not None:
            paths, value = self._pending
            self._pending = None
            self.review_paths(paths, value)

    # labelling -------------------------------------------------------------------------------
    def review(self, value: str) -> int:
        """CONFIRM (each cell keeps its predicted class), a class code, EXCLUDED, or '' to
        clear, for the selected cells of the active view."""
        return self.review_paths(self.view.selected_paths(), value)

    def review_paths(self, paths: list[str], value: str) -> int:
        s = self.session
        if s.signed:
            self.view.show_message(f"{signed_text(s.info)}: reopen the case to change labels "
                                   "(Review ▸ Reopen Case).")
            return 0
        if s.handle is None:
            self.view.show_message("The case is still being opened; try again in a moment.")
            return 0
        changes = []
        for path in paths:
            cell = self.model.item_for(path)
            if cell is None or cell.error:
                continue
            label = cell.predicted if value == CONFIRM else value
            if value == CONFIRM and not label:
                continue
            cid = cell.cell_id or self.view.known_cell_id(path)
            changes.append((path, cid, cell.review, label))
        if not changes:
            self.view.show_message("Nothing to review: select a classified cell first.")
            return 0
        if not self.reviewer_known():
            self._pending = (paths, value)
            self.ask_reviewer()
            return 0
        n = self._apply(_Change(tuple(changes)))
        self._undo.append(_Change(tuple(changes)))
        self._redo.clear()
        current = self.view.current_path()
        if value and n == 1 and self.actions.advance.isChecked():
            self.view.after_review(current)
        what = "Cleared the review of" if not value else (
            "Confirmed" if value == CONFIRM else "Excluded from the count:" if value == EXCLUDED
            else f"Corrected to {value}:")
        self.view.show_message(f"{what} {n} cell{'s' if n > 1 else ''}")
        self.update_ui()
        return n

    def _apply(self, change: _Change, undo: bool = False) -> int:
        """Show the new labels at once and save them (in order, on the writer thread)."""
        labels = {path: (old if undo else new) for path, _cid, old, new in change.cells}
        self.model.set_reviews(labels)
        now = time.monotonic()
        self._changed.update(dict.fromkeys(labels, now))
        self.session.save_reviews([(path, cid, labels[path], self._ai_note(path))
                                   for path, cid, _, _ in change.cells],
                                  self.settings.reviewer())
        self.reviewed.emit(len(labels))
        return len(labels)

    def _ai_note(self, path: str) -> str:
        """The model's label the person confirmed or overrode, for the trail."""
        cell = self.model.item_for(path)
        if cell is None or not cell.classified:
            return ""
        return f"AI {cell.predicted} {cell.confidence:.0%}"

    def undo(self) -> None:
        if not self._undo or self.session.signed:
            return
        change = self._undo.pop()
        self._apply(change, undo=True)
        self._redo.append(change)
        self.view.show_message(f"Undone: {len(change.cells)} label change(s) (kept in the "
                               "audit trail)")
        self.update_ui()

    def redo(self) -> None:
        if not self._redo or self.session.signed:
            return
        change = self._redo.pop()
        self._apply(change)
        self._undo.append(change)
        self.view.show_message(f"Redone: {len(change.cells)} label change(s)")
        self.update_ui()

    def forget_history(self) -> None:
        """Another case: its undo history does not carry over."""
        self._undo.clear()
        self._redo.clear()

    def unchanged_since(self, path: str, started: float) -> bool:
        """No label of this cell was changed here since a worker started reading the store
        (a late answer must not undo a newer review)."""
        return self._changed.get(path, -1.0) < started

    def pick_class(self) -> str | None:
        """Any class of the 21-class taxonomy (the model's first), searchable."""
        spec = self.session.spec
        if spec is None or not self.view.selected_paths():
            return None
        if self.session.signed:
            self.view.show_message(f"{signed_text(self.session.info)}: reopen the case to "
                                   "change labels.")
            return None
        item = self.model.item_for(self.view.current_path())
        others = sorted(c for c in BONE_MARROW_CLASSES if c not in spec.classes)
        code = ClassPicker.pick(self.view.dialog_parent(), [*spec.classes, *others],
                                item.effective_class if item else "")
        if code:
            self.review(code)
        return code

    def next_in_queue(self) -> str:
        path = self.model.next_in_queue(self.view.current_path())
        if not path:
            self.view.show_message("No cell needing review is left unreviewed.")
        return path

    # state of the controls -------------------------------------------------------------------
    def ui_state(self) -> UiState:
        s, m = self.session, self.model
        current = self.view.current_path()
        item = m.item_for(current) if current else None
        return UiState(
            images=m.total(), listing=s.listing, running=s.batch_running,
            model_ready=s.classifier is not None, model_loading=s.model_loading,
            current=item is not None, current_classified=item is not None and item.classified
            and not item.error, current_has_id=item is not None and bool(item.sha256),
            selected=len(self.view.selected_paths()), case_open=s.handle is not None,
            signed=s.signed, classified=m.classified_count(), reviewed=m.reviewed_count(),
            can_undo=bool(self._undo), can_redo=bool(self._redo))

    def update_ui(self, *_args: object) -> None:
        """Enable the actions and show the current cell's review state."""
        state = self.ui_state()
        enabled = enabled_actions(state)
        self.actions.apply(enabled)
        item = self.model.item_for(self.view.current_path()) if state.current else None
        selected = [self.model.item_for(p) for p in self.view.selected_paths()]
        predictions = {c.predicted for c in selected if c is not None and c.predicted}
        self.view.show_review_state(ReviewState(
            item.review if item else "", item.predicted if item else "",
            state.current_classified and state.case_open and not state.signed,
            max(1, len(selected)), self.session.info.signed_by if state.signed else "",
            len(predictions) > 1, enabled["cell_history"]))

    # counts ----------------------------------------------------------------------------------
    def schedule_refresh(self) -> None:
        """Recount soon: at once after a review, at most once a second while a batch runs."""
        if not self._refresh_timer.isActive():
            self._refresh_timer.start(1000 if self.session.batch_running else 150)

    def current_differential(self) -> Differential:
        return self.session.case.differential(self.target)

    def set_target(self, target: int) -> None:
        self.target = target
        self.settings.set_ui("target", target)
        self.refresh_counts()

    def refresh_counts(self) -> None:
        """The queue counts, the differential and the accuracy above the thresholds: one
        computation, shown in the browser and the differential panel."""
        self._refresh_timer.stop()
        case = self.session.case
        needs, unreviewed = case.queue_counts()
        spec = self.session.spec
        table = spec.info.get("validation_selective") if spec is not None else None
        self.view.show_counts(needs, unreviewed, rule_text(case.thresholds, case.blur_threshold),
                              selective_sentence(table, case.thresholds),
                              self.current_differential)  # counted only where it is shown
        self.update_ui()
