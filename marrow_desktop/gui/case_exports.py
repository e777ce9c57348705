"""The open case's exports (per-cell CSV, case report with PDF, training set), each written on
the session's writer thread after the changes before it; the signals carry what was written."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from marrow_desktop.core.results import ImageResult
from marrow_desktop.gui import case_tasks

if TYPE_CHECKING:
    from marrow_desktop.gui.session import Session


class CaseExports(QObject):
    exported = Signal(str, int)  # path, rows
    reportExported = Signal(str, str, str)  # csv, html and pdf paths
    trainingExported = Signal(str)  # summary

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.session = session

    def export_csv(self, out_path: str, results: list[ImageResult]) -> None:
        """The per-cell CSV of the open case (with its reviews)."""
        s = self.session
        s.writer.submit(case_tasks.export_csv, out_path, s.handle, results, s.spec,
                        s.case.thresholds, s.case.blur_threshold,
                        on_result=lambda n: self.exported.emit(out_path, n),
                        on_error=lambda exc: s.errors.report(exc, "Export failed"))

    def export_report(self, out_dir: str, results: list[ImageResult], target: int) -> None:
        """The case report (cells.csv, report.html, report.pdf) of the open case."""
        s = self.session
        s.writer.submit(case_tasks.export_case_report, out_dir, s.handle, results, s.spec,
                        s.case.thresholds, s.case.blur_threshold, target,
                        on_result=lambda paths: self.reportExported.emit(*paths),
                        on_error=lambda exc: s.errors.report(exc, "Report not written"))

    def export_training(self, out_dir: str, cells: list[tuple[str, str, str]],
                        include_unreviewed: bool) -> None:
        """Copy (path, cell id, predicted) cells into class folders by final label."""
        s = self.session
        s.writer.submit(case_tasks.export_training_set, out_dir, s.handle, cells,
                        include_unreviewed, on_result=self.trainingExported.emit,
                        on_error=lambda exc: s.errors.report(exc, "Training set not written"))
