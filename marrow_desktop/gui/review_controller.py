"""The review workflow of the main window: labelling cells, the queue, the differential count,
sign-off, the audit trail and the case exports.

It binds the review widgets (browser, gallery by class, classification panel's review bar,
differential panel) to the session; the store work runs on the session's writer thread.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from marrow_desktop.core.case_report import selective_sentence
from marrow_desktop.core.differential import Differential
from marrow_desktop.core.review import EXCLUDED, ReviewThresholds
from marrow_desktop.gui.widgets.audit_dialog import AuditDialog
from marrow_desktop.gui.widgets.class_picker import ClassPicker
from marrow_desktop.gui.widgets.review_bar import CONFIRM
from marrow_desktop.gui.widgets.sign_off_dialog import SignOffDialog

if TYPE_CHECKING:
    from marrow_desktop.core.store import CaseInfo
    from marrow_desktop.gui.main_window import MainWindow


def rule_text(t: ReviewThresholds, blur_threshold: float) -> str:
    return (f"confidence below {t.min_confidence:.0%}, top-2 margin below {t.min_margin:.0%}, "
            f"or a quality flag (blur threshold {blur_threshold:g})")


def signed_text(case: CaseInfo | None) -> str:
    if case is None or not case.signed:
        return ""
    when = case.signed_at[:16].replace("T", " ")
    return f"Signed off by {case.signed_by} on {when} UTC"


class ReviewController(QObject):
    """Owns no state the store does not also hold; the window's widgets show it."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.dialog: QObject | None = None  # the open audit / sign-off dialog (tests use it)
        self._stale = False  # the differential panel missed an update while hidden
        self._changed: dict[str, float] = {}  # path -> when its label was last changed here
        self._refresh_timer = QTimer(self, singleShot=True, interval=150)
        self._refresh_timer.timeout.connect(self.refresh_counts)
        w, a, s = window, window.actions, window.session
        a.confirm.triggered.connect(lambda: self.review(CONFIRM))
        a.exclude.triggered.connect(lambda: self.review(EXCLUDED))
        a.clear_review.triggered.connect(lambda: self.review(""))
        a.correct_menu.triggered.connect(lambda action: self.review(action.data()))
        a.pick_class.triggered.connect(self.pick_class)
        a.next_in_queue.triggered.connect(self.next_in_queue)
        a.cell_history.triggered.connect(self.show_cell_history)
        a.audit_trail.triggered.connect(lambda: self.show_trail(""))
        a.sign_off.triggered.connect(self.sign_off)
        a.reopen.triggered.connect(self.reopen)
        a.export_report.triggered.connect(self.choose_report_folder)
        a.export_training.triggered.connect(self.choose_training_folder)
        w.classification.review.reviewRequested.connect(self.review)
        w.classification.review.historyRequested.connect(self.show_cell_history)
        w.browser.nextInQueueRequested.connect(self.next_in_queue)
        w.gallery.reclassifyRequested.connect(self.review_paths)
        w.model.countsChanged.connect(self.schedule_refresh)
        w.differential.targetChanged.connect(self._target_changed)
        w.differential_dock.visibilityChanged.connect(self.panel_shown)
        w.case_bar.actionTriggered.connect(lambda key: key == "reopen" and self.reopen())
        s.caseChanged.connect(self.on_case)
        s.trailReady.connect(self._on_trail)
        s.reviewsSaved.connect(lambda _n: self.schedule_refresh())
        target = int(w.settings.value("review/target", 200, int))
        w.differential.set_target(target)

    # labelling -------------------------------------------------------------------------------
    def selected_paths(self) -> list[str]:
        return self.w.active_view().selected_paths()

    def review(self, value: str) -> int:
        """CONFIRM (each cell keeps its predicted class), a class code, EXCLUDED, or '' to
        clear, for the selected cells of the active view."""
        return self.review_paths(self.selected_paths(), value)

    def review_paths(self, paths: list[str], value: str) -> int:
        w = self.w
        if w.session.signed:
            w.show_message(f"{signed_text(w.session.case)}: reopen the case to change labels.")
            return 0
        entries, reviews = [], {}
        analysis = w.current_analysis()  # knows the current image's hash before the batch does
        for path in paths:
            item = w.model.item_for(path)
            if item is None or item.error:
                continue
            label = item.predicted if value == CONFIRM else value
            if value == CONFIRM and not label:
                continue
            sha = item.sha256 or (analysis.sha256 if analysis is not None
                                  and analysis.path == path else "")
            entries.append((path, sha, label))
            reviews[path] = label
        if not entries:
            w.show_message("Nothing to review: select a classified cell first.")
            return 0
        view = w.active_view()
        current = view.current_path()
        w.model.set_reviews(reviews)
        now = time.monotonic()
        self._changed.update(dict.fromkeys(reviews, now))
        w.session.save_reviews(entries)
        n = len(entries)
        if value and n == 1 and w.actions.advance.isChecked():
            self._advance(current)
        what = "Cleared the review of" if not value else (
            "Confirmed" if value == CONFIRM else "Excluded from the count:" if value == EXCLUDED
            else f"Corrected to {value}:")
        w.show_message(f"{what} {n} cell{'s' if n > 1 else ''}")
        self.update_ui()
        return n

    def not_changed_since(self, reviews: dict[str, str], started: float) -> dict[str, str]:
        """The labels a worker read from the store, less those changed here since it started
        (a late answer must not undo a newer review)."""
        return {path: label for path, label in reviews.items()
                if self._changed.get(path, -1.0) < started}

    def _advance(self, reviewed: str) -> None:
        """After a one-cell review, go on to the next cell needing review (or the next one)."""
        w = self.w
        view = w.active_view()
        if view is w.browser:
            following = w.model.next_in_queue(reviewed)
            if following and w.model.row_of(following) > w.model.row_of(reviewed):
                view.select_path(following)
                return
            row = w.model.row_of(reviewed)
            if 0 <= row < w.model.rowCount() - 1:
                w.browser.select_row(row + 1)
        elif view.current_path() == reviewed:  # gallery: the cell may have left the class
            view.select_next(reviewed)

    def pick_class(self) -> str | None:
        spec = self.w.session.spec
        if spec is None or not self.selected_paths() or self.w.session.signed:
            return None
        item = self.w.model.item_for(self.w.active_view().current_path())
        code = ClassPicker.pick(self.w, spec.classes, item.effective_class if item else "")
        if code:
            self.review(code)
        return code

    def next_in_queue(self) -> str:
        w = self.w
        w.views.setCurrentWidget(w.browser)
        path = w.model.next_in_queue(w.browser.current_path())
        if path:
            w.browser.select_path(path)
            w.browser.focus_grid()
        else:
            w.show_message("No cell needing review is left unreviewed.")
        return path

    def update_ui(self, *_args: object) -> None:
        """Enable the review controls for the current cell and the case's state."""
        w = self.w
        current = w.current_path()
        item = w.model.item_for(current) if current else None
        count = len(self.selected_paths())
        signed = w.session.signed
        enabled = (item is not None and w.session.classifier is not None and not item.error
                   and not signed)
        w.classification.set_review_state(item.review if item else "",
                                          item.predicted if item else "", enabled, count,
                                          w.session.case.signed_by if signed else "")
        for action in [w.actions.confirm, w.actions.clear_review, w.actions.exclude,
                       w.actions.pick_class, *w.actions.correct_to]:
            action.setEnabled(enabled)
        has_case = bool(w.session.case_id) and w.session.store is not None
        w.actions.sign_off.setEnabled(has_case and not signed and w.model.classified_count() > 0)
        w.actions.reopen.setEnabled(has_case and signed)
        w.actions.audit_trail.setEnabled(has_case)
        w.actions.cell_history.setEnabled(has_case and item is not None and bool(item.sha256))
        w.classification.review.history_button.setEnabled(w.actions.cell_history.isEnabled())
        w.actions.export_report.setEnabled(w.model.classified_count() > 0)
        w.actions.export_training.setEnabled(w.model.reviewed_count() > 0)

    # counts ----------------------------------------------------------------------------------
    def schedule_refresh(self) -> None:
        """Recount soon: at once after a review, at most once a second while a batch runs."""
        if not self._refresh_timer.isActive():
            self._refresh_timer.start(1000 if self.w.session.batch_running else 150)

    def current_differential(self) -> Differential:
        w = self.w
        case = w.model.case
        case.set_model(w.session.spec.classes if w.session.spec is not None else ())
        return case.differential(w.differential.target())

    def refresh_counts(self) -> None:
        """Differential, queue counts and the accuracy above the thresholds."""
        w = self.w
        self._refresh_timer.stop()
        needs, unreviewed = w.model.queue_counts()
        prefs = w.settings.preferences()
        thresholds = w.settings.review_thresholds()
        rule = rule_text(thresholds, prefs.blur_threshold)
        w.browser.set_queue(needs, unreviewed, rule)
        self._stale = not w.differential.isVisible() and w.isVisible()
        if not self._stale:  # a hidden panel is brought up to date when it is shown
            w.differential.set_differential(self.current_differential())
            spec = w.session.spec
            table = spec.info.get("validation_selective") if spec is not None else None
            w.differential.set_queue(needs, unreviewed, rule,
                                     selective_sentence(table, thresholds))
        self.update_ui()

    def panel_shown(self, visible: bool) -> None:
        if visible and self._stale:
            self.refresh_counts()

    def _target_changed(self, target: int) -> None:
        self.w.settings.set_value("review/target", target)
        self.refresh_counts()

    # case: sign-off and the audit trail ------------------------------------------------------
    def on_case(self, case: CaseInfo | None) -> None:
        w = self.w
        text = signed_text(case)
        w.differential.set_signed(text)
        if text:
            note = f" – “{case.sign_note}”" if case.sign_note else ""
            w.case_bar.show_message(f"<b>{text}</b>{note}. The labels of this case are frozen.",
                                    "info", (("reopen", "Reopen to amend…"),))
        else:
            w.case_bar.hide()
        self.update_ui()

    def _case_summary(self) -> tuple[str, str]:
        d = self.current_differential()
        needs, unreviewed = self.w.model.queue_counts()
        blast = d.blast
        blast_text = f", blasts {blast.text()}" if blast is not None and blast.total else ""
        summary = (f"{d.final_total} cells counted (target {d.target}){blast_text}; "
                   f"{d.reviewed_cells} reviewed; {needs} needed review.")
        warning = (f"{unreviewed} cell{'s' if unreviewed != 1 else ''} needing review "
                   f"{'are' if unreviewed != 1 else 'is'} not reviewed yet." if unreviewed
                   else "")
        if d.final_total < d.target:
            warning += (" " if warning else "") + (
                f"Only {d.final_total} of the {d.target} target cells are counted.")
        return summary, warning

    def sign_off(self) -> SignOffDialog | None:
        w = self.w
        if not w.session.case_id or w.session.signed:
            return None
        summary, warning = self._case_summary()
        dialog = SignOffDialog(summary, w.settings.reviewer(), warning, parent=w)
        dialog.accepted.connect(lambda: w.session.sign(dialog.name(), dialog.note()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def reopen(self) -> SignOffDialog | None:
        w = self.w
        if not w.session.signed:
            return None
        dialog = SignOffDialog(signed_text(w.session.case), w.settings.reviewer(), reopen=True,
                               parent=w)
        dialog.accepted.connect(
            lambda: w.session.sign(dialog.name(), dialog.note(), reopen=True))
        self.dialog = dialog
        dialog.open()
        return dialog

    def show_cell_history(self) -> None:
        item = self.w.model.item_for(self.w.current_path())
        if item is not None and item.sha256:
            self.w.session.load_trail(item.sha256)

    def show_trail(self, sha256: str = "") -> None:
        self.w.session.load_trail(sha256)

    def _on_trail(self, sha256: str, entries: list, check) -> None:
        dialog = AuditDialog(entries, check, cell=sha256, parent=self.w)
        self.dialog = dialog
        dialog.open()

    # exports ---------------------------------------------------------------------------------
    def choose_report_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Folder for the case report",
                                                  str(Path.home()))
        if folder:
            self.export_report(folder)

    def export_report(self, folder: str) -> int:
        """Write cells.csv and report.html of the open case into `folder` (on a worker)."""
        w = self.w
        results = [item.result for item in w.model.items() if item.result is not None]
        if not any(r.classified for r in results):
            w.show_message("Nothing to report yet: classify the folder first.")
            return 0
        missing = w.model.total() - len(results)
        if missing:
            w.show_message(f"{missing:,} images without results are left out of the report")
        w.session.export_report(folder, results, w.differential.target())
        return len(results)

    def choose_training_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Empty folder for the training set",
                                                  str(Path.home()))
        if not folder:
            return
        answer = QMessageBox.question(
            self.w, "Export training set",
            "Include cells nobody reviewed, with the model's class?\n\nNo (recommended): only "
            "cells a person confirmed or corrected, so retraining does not learn the model's "
            "own mistakes.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        self.export_training(folder, answer == QMessageBox.StandardButton.Yes)

    def export_training(self, folder: str, include_unreviewed: bool = False) -> int:
        w = self.w
        cells = [(item.path, item.sha256, item.predicted)
                 for item in w.model.items() if item.sha256 and (item.review or item.predicted)]
        if not cells:
            w.show_message("No classified or reviewed cells to export.")
            return 0
        w.session.export_training(os.path.abspath(folder), cells, include_unreviewed)
        return len(cells)
