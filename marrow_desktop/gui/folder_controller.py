"""Opening folders and images (dialogs, recent folders, drops), the listing and the stored
results that follow it, folder runs (classify, quality), and Export CSV."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from marrow_desktop.core.imageio import IMAGE_EXTENSIONS, is_image_path
from marrow_desktop.core.paths import samples_dir
from marrow_desktop.gui.actions import Actions
from marrow_desktop.gui.batch_summary import BatchSummary
from marrow_desktop.gui.case_controller import case_folder
from marrow_desktop.gui.case_tasks import StoredState
from marrow_desktop.gui.review_controller import ReviewController
from marrow_desktop.gui.session import Session
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.widgets.batch_bar import format_duration
from marrow_desktop.gui.widgets.thumbnail_model import ThumbnailModel


class FolderView(Protocol):
    def show_message(self, text: str, timeout: int = 8000) -> None: ...
    def dialog_parent(self) -> QWidget: ...
    def show_listed(self, label: str, is_samples: bool, has_images: bool) -> None: ...
    def show_welcome(self, count: int) -> None: ...
    def hide_welcome(self) -> None: ...
    def show_running(self, total: int, what: str) -> None: ...
    def show_progress(self, done: int) -> None: ...
    def show_finished(self) -> None: ...
    def results_arrived(self, paths: set[str]) -> None: ...


def is_samples(label: str) -> bool:
    return bool(label) and Path(label) == samples_dir()


class FolderController(QObject):
    def __init__(self, session: Session, model: ThumbnailModel, actions: Actions,
                 reviews: ReviewController, view: FolderView, settings: AppSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.model, self.reviews = session, model, reviews
        self.view, self.settings, self.actions = view, settings, actions
        a, s = actions, session
        a.open_folder.triggered.connect(self.choose_folder)
        a.open_images.triggered.connect(self.choose_images)
        a.open_samples.triggered.connect(self.open_samples)
        a.export_csv.triggered.connect(self.choose_export)
        a.classify.triggered.connect(self.classify)
        a.check_quality.triggered.connect(lambda: s.classify(quality_only=True))
        a.cancel.triggered.connect(s.cancel_batch)
        a.recent_menu.triggered.connect(lambda action: self._open_recent(action.data()))
        s.listed.connect(self._on_listed)
        s.listingDone.connect(self._on_listing_done)
        s.storedLoaded.connect(self._on_stored)
        s.batchStarted.connect(self._on_batch_started)
        s.resultsArrived.connect(self._on_results)
        s.batchFinished.connect(self._on_batch_finished)
        s.exports.exported.connect(
            lambda path, n: view.show_message(f"Exported {n:,} rows to {path}", 10000))
        self.actions.set_recent(self.settings.recent_folders())

    # opening ---------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self.session.label if Path(self.session.label).is_dir() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.view.dialog_parent(),
                                                  "Open a folder of cell images", start)
        if folder:
            self.open_folder(folder)

    def choose_images(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self.view.dialog_parent(), "Open cell images",
                                                case_folder(self.session),
                                                f"Images ({patterns});;All files (*)")
        if files:
            self.open_images(files)

    def open_path(self, path: str) -> None:
        if Path(path).is_dir():
            self.open_folder(path)
        else:
            self.open_images([path])

    def open_folder(self, folder: str) -> None:
        folder = os.path.abspath(folder)
        if not is_samples(folder):
            self.actions.set_recent(self.settings.add_recent_folder(folder))
        self.session.open_sources([folder], folder)

    def open_images(self, files: list[str]) -> None:
        label = files[0] if len(files) == 1 else f"{len(files)} images"
        self.session.open_sources(files, label)

    def open_samples(self) -> None:
        self.session.open_sources([str(samples_dir())], str(samples_dir()))

    def open_dropped(self, paths: list[str]) -> None:
        folders = [p for p in paths if Path(p).is_dir()]
        if len(paths) == 1 and folders:
            self.open_folder(folders[0])
            return
        usable = [p for p in paths if Path(p).is_dir() or is_image_path(p)]
        if usable:
            self.session.open_sources(usable, f"{len(usable)} dropped items")

    def _open_recent(self, folder: str) -> None:
        if not folder:
            self.settings.clear_recent_folders()
            self.actions.set_recent([])
        elif Path(folder).is_dir():
            self.open_folder(folder)
        else:
            self.view.show_message(f"Folder not found: {folder}")

    def start(self, folder: str | None = None) -> None:
        """Open a folder: the argument, the last one, or the samples."""
        if folder:
            self.open_path(folder)
            return
        last = self.settings.last_folder()
        if last and Path(last).is_dir():
            self.open_folder(last)
        else:
            self.open_samples()

    # listing and stored results --------------------------------------------------------------
    def _on_listed(self, label: str, paths: list[str]) -> None:
        self.reviews.forget_history()
        self.view.show_listed(label, is_samples(label), bool(paths))
        self.view.show_message(f"Opening {label}…")
        self.reviews.update_ui()

    def _on_listing_done(self, label: str, count: int) -> None:
        if is_samples(label):
            self.view.show_welcome(count)
        self.view.show_message(f"Opened {label}: {count:,} images")
        self.reviews.update_ui()

    def _on_stored(self, state: StoredState) -> None:
        case = self.session.case
        case.set_hashes(state.hashes)
        self.model.update_results(state.results)
        case.set_case_regions(state.regions)
        case.set_case_reviews(state.reviews,
                              keep=lambda c: self.reviews.unchanged_since(c.path, state.started))
        classified = sum(1 for r in state.results if r.classified)
        if state.results:
            self.view.show_message(f"Restored {classified:,} stored classifications and "
                                   f"{len(state.results):,} quality checks from the results "
                                   "store")
        self.view.results_arrived({r.path for r in state.results})

    # runs ------------------------------------------------------------------------------------
    def classify(self) -> None:
        self.session.classify()

    def _on_batch_started(self, total: int, quality_only: bool) -> None:
        self.view.show_running(total, "Checking quality" if quality_only else "Classifying")
        self.reviews.update_ui()

    def _on_results(self, results: list) -> None:
        self.model.update_results(results)
        self.view.show_progress(self.session.batch_done)
        self.view.results_arrived({r.path for r in results})

    def _on_batch_finished(self, summary: BatchSummary) -> None:
        self.view.show_finished()
        what = "Quality check" if summary.quality_only else "Classification"
        errors = f" · {summary.errors:,} unreadable" if summary.errors else ""
        if summary.error:
            text = f"{what} stopped after {summary.done:,} images: {summary.error}"
        elif summary.cancelled:
            text = f"{what} cancelled after {summary.done:,} of {summary.total:,} images{errors}"
        else:
            stored = summary.done - summary.computed
            restored = f" ({stored:,} from the results store)" if stored > 0 and \
                not summary.found else ""
            found = (f" · {summary.found:,} cell{'s' if summary.found != 1 else ''} found in "
                     f"{summary.searched:,} field "
                     f"photograph{'s' if summary.searched != 1 else ''}") if summary.found else ""
            text = (f"{what} of {summary.done:,} image{'s' if summary.done != 1 else ''} done in "
                    f"{format_duration(summary.elapsed)}{restored}{found}{errors}")
        self.view.show_message(text, 15000)
        if summary.fields:
            what = "1 image looks" if summary.fields == 1 else f"{summary.fields:,} images look"
            self.session.errors.note(
                f"{what} like a field photograph, not one cell: turn on Settings ▸ Folders ▸ "
                "Find cells in field photographs and classify again to find and count its "
                "cells",
                "warning", 30000)
        if not summary.quality_only and not summary.cancelled:
            self.view.hide_welcome()
        self.reviews.update_ui()

    # export ----------------------------------------------------------------------------------
    def choose_export(self) -> None:
        label = Path(self.session.label)
        base = label if label.is_dir() else label.parent
        suggestion = str(Path(case_folder(self.session)) / f"{base.name or 'marrow'}_results.csv")
        path, _ = QFileDialog.getSaveFileName(self.view.dialog_parent(), "Export CSV report",
                                              suggestion, "CSV files (*.csv)")
        if path:
            self.export_to(path if path.lower().endswith(".csv") else path + ".csv")

    def export_to(self, path: str) -> int:
        """Write the report of every image with a result (folder order); returns the rows."""
        rows = self.session.case.results()
        missing = len(self.session.case) - len(rows)
        if not rows:
            self.view.show_message("Nothing to export yet: classify the folder first.")
            return 0
        if missing:
            self.view.show_message(f"{missing:,} images without results are left out of the "
                                   "report")
        self.session.exports.export_csv(path, rows)
        return len(rows)
