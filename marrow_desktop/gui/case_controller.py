"""The case as a whole: sign-off and reopening, the audit trail, case details and the exports
(case report, training set). Dialogs are built here from data the session loaded on workers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from marrow_desktop.core import audit
from marrow_desktop.core.case_details import CaseDetails
from marrow_desktop.core.store import CaseInfo
from marrow_desktop.gui import case_tasks
from marrow_desktop.gui.actions import Actions
from marrow_desktop.gui.review_controller import ReviewController, signed_text
from marrow_desktop.gui.session import Session
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.widgets.audit_dialog import AuditDialog
from marrow_desktop.gui.widgets.case_details_dialog import CaseDetailsDialog
from marrow_desktop.gui.widgets.folder_dialog import choose_output_folder
from marrow_desktop.gui.widgets.sign_off_dialog import SignOffDialog
from marrow_desktop.gui.widgets.thumbnail_model import ThumbnailModel


class CaseView(Protocol):
    """What the controller needs of the window."""

    def current_path(self) -> str: ...
    def show_message(self, text: str, timeout: int = 8000) -> None: ...
    def show_case_state(self, info: CaseInfo | None) -> None: ...
    def dialog_parent(self) -> QWidget: ...


def case_folder(session: Session) -> str:
    """Where the case's exports are suggested: the case folder, else the home folder."""
    folder = session.handle.folder if session.handle is not None else ""
    return folder if folder and os.path.isdir(folder) else str(Path.home())


class CaseController(QObject):
    dialogOpened = Signal(object)  # a dialog that needed data from a worker first

    def __init__(self, session: Session, model: ThumbnailModel, actions: Actions,
                 reviews: ReviewController, view: CaseView, settings: AppSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.model, self.reviews, self.view = session, model, reviews, view
        self.settings = settings
        self.dialog: QObject | None = None  # the open dialog (tests use it)
        self.lab_warning_open = lambda: False  # set by the lab-shift controller
        a = actions
        a.cell_history.triggered.connect(self.show_cell_history)
        a.audit_trail.triggered.connect(lambda: self.show_trail(""))
        a.sign_off.triggered.connect(self.sign_off)
        a.reopen.triggered.connect(self.reopen)
        a.case_details.triggered.connect(self.edit_details)
        a.export_report.triggered.connect(self.choose_report_folder)
        a.export_training.triggered.connect(self.choose_training_folder)
        session.caseChanged.connect(self.view.show_case_state)
        session.trailReady.connect(self._on_trail)
        session.signFailed.connect(self._sign_failed)
        self._sign_request: dict = {}

    # sign-off --------------------------------------------------------------------------------
    def unmet(self) -> list[str]:
        """What a lab expects before sign-off and this case does not have yet."""
        d = self.reviews.current_differential()
        _, unreviewed = self.session.case.queue_counts()
        out = []
        if unreviewed:
            out.append(f"{unreviewed} cell{'s' if unreviewed != 1 else ''} needing review "
                       f"{'are' if unreviewed != 1 else 'is'} not reviewed")
        if d.final_total < d.target:
            out.append(f"{d.final_total} of the {d.target} target cells counted")
        if self.lab_warning_open():
            out.append("the images look unlike the model's training images (lab-shift "
                       "warning not acted on)")
        return out

    def summary(self) -> str:
        d = self.reviews.current_differential()
        needs, _ = self.session.case.queue_counts()
        blast = d.blast
        blast_text = f", blasts {blast.text()}" if blast is not None and blast.total else ""
        return (f"{d.final_total} cells counted (target {d.target}){blast_text}; "
                f"{d.reviewed_cells} reviewed; {needs} needed review.")

    def sign_off(self) -> None:
        """Ask for the sign-off (after loading who can sign here, on a worker)."""
        if self.session.handle is None or self.session.signed:
            return
        self._sign_request = {"reopen": False}
        self._load_signers()

    def reopen(self) -> None:
        if not self.session.signed:
            return
        self._sign_request = {"reopen": True}
        self._load_signers()

    def _load_signers(self) -> None:
        """Who can sign on this computer (read on the writer thread), then the dialog."""
        self.session.writer.submit(
            case_tasks.signers, on_result=self._open_sign_dialog,
            on_error=lambda exc: self.session.errors.report(exc, "Signing keys"))

    def _open_sign_dialog(self, signers: frozenset[str]) -> None:
        s, request = self.session, self._sign_request
        reopen = request.get("reopen", False)
        if "reopen" not in request or s.handle is None or s.signed != reopen:
            return
        summary = signed_text(s.info) if reopen else self.summary()
        dialog = SignOffDialog(summary, request.get("name", self.settings.reviewer()),
                               reopen=reopen, unmet=None if reopen else self.unmet(),
                               signers=signers, error=request.get("error", ""),
                               note=request.get("note", ""), parent=self.view.dialog_parent())

        def accepted() -> None:
            self._sign_request = {"reopen": reopen, "name": dialog.name(),
                                  "note": dialog.note_edit.toPlainText()}
            s.sign(dialog.name(), dialog.note(), dialog.passphrase(), reopen=reopen,
                   new_key=dialog.new_key())
        dialog.accepted.connect(accepted)
        dialog.rejected.connect(lambda: setattr(self, "_sign_request", {}))
        self.dialog = dialog
        dialog.open()
        self.dialogOpened.emit(dialog)

    def _sign_failed(self, why: str) -> None:
        """A wrong passphrase (or an unreadable key): the dialog again, with the reason."""
        if "reopen" in self._sign_request:
            self._sign_request["error"] = why
            self._load_signers()

    # details ---------------------------------------------------------------------------------
    def details(self) -> CaseDetails:
        info = self.session.info
        return CaseDetails.from_json(info.details) if info is not None else CaseDetails()

    def edit_details(self) -> CaseDetailsDialog | None:
        if self.session.handle is None:
            return None
        before = self.details()
        dialog = CaseDetailsDialog(before, read_only=self.session.signed,
                                   parent=self.view.dialog_parent())

        def save() -> None:
            after = dialog.details()
            if after != before and not self.session.signed:
                self.session.record(audit.DETAILS, self.settings.reviewer(),
                                    details=after.to_json())
        dialog.accepted.connect(save)
        self.dialog = dialog
        dialog.open()
        return dialog

    # the audit trail -------------------------------------------------------------------------
    def show_cell_history(self) -> None:
        item = self.model.item_for(self.view.current_path())
        if item is not None and item.cell_id:
            self.session.load_trail(item.cell_id)

    def show_trail(self, cid: str = "") -> None:
        self.session.load_trail(cid)

    def _on_trail(self, cid: str, entries: list, check) -> None:
        dialog = AuditDialog(entries, check, cell=cid, parent=self.view.dialog_parent())
        self.dialog = dialog
        dialog.open()

    # exports ---------------------------------------------------------------------------------
    def choose_report_folder(self) -> None:
        folder = choose_output_folder(self.view.dialog_parent(),
                                      "Folder for the case report (existing or new)",
                                      case_folder(self.session))
        if folder:
            self.export_report(folder)

    def export_report(self, folder: str) -> int:
        """Write cells.csv and report.html of the open case into `folder` (on a worker)."""
        results = self.session.case.results()
        if not any(r.classified for r in results):
            self.view.show_message("Nothing to report yet: classify the folder first.")
            return 0
        missing = len(self.session.case) - len(results)
        if missing:
            self.view.show_message(f"{missing:,} images without results are left out of the "
                                   "report")
        self.session.exports.export_report(folder, results, self.reviews.target)
        return len(results)

    def choose_training_folder(self) -> None:
        parent = self.view.dialog_parent()
        folder = choose_output_folder(parent, "Empty or new folder for the training set",
                                      case_folder(self.session))
        if not folder:
            return
        answer = QMessageBox.question(
            parent, "Export training set",
            "Include cells nobody reviewed, with the model's class?\n\nNo (recommended): only "
            "cells a person confirmed or corrected, so retraining does not learn the model's "
            "own mistakes.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        self.export_training(folder, answer == QMessageBox.StandardButton.Yes)

    def export_training(self, folder: str, include_unreviewed: bool = False) -> int:
        cells = [(c.path, c.cell_id, c.predicted) for c in self.session.case.cells
                 if c.cell_id and c.counted and (c.review or c.predicted)]
        if not cells:
            self.view.show_message("No classified or reviewed cells to export.")
            return 0
        self.session.exports.export_training(os.path.abspath(folder), cells, include_unreviewed)
        return len(cells)
