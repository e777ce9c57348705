"""The viewer's controller: owns the model, the results store and the workers.

Widgets never touch these; the main window forwards user requests here and binds the signals
below to widgets. Every request runs on a worker (gui/tasks.py does the work); requests on the
same channel supersede older ones, so only the newest answer reaches the GUI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import case_id_for
from marrow_desktop.core.store import CaseInfo, ResultStore, StoreError
from marrow_desktop.gui import tasks
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.tasks import Analysis, SerializedClassifier, StoredState
from marrow_desktop.gui.workers import TaskRunner, Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSummary:
    """How a folder run ended."""

    total: int
    done: int
    computed: int  # results not restored from the store
    errors: int
    cancelled: bool
    elapsed: float
    quality_only: bool
    error: str = ""

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


class Session(QObject):
    """State that outlives a selection: the open image list, the model, the store."""

    modelLoading = Signal(str)  # what is being loaded
    modelReady = Signal(object)  # SerializedClassifier
    modelFailed = Signal(str)
    listed = Signal(str, list)  # label of the source, its first image paths
    appended = Signal(list)  # more image paths of the same source
    listingDone = Signal(str, int)  # label, number of images
    listFailed = Signal(str)
    storedLoaded = Signal(object)  # StoredState
    batchStarted = Signal(int, bool)  # total, quality only
    resultsArrived = Signal(list)  # list[ImageResult], in chunks
    batchFinished = Signal(object)  # BatchSummary
    analysisReady = Signal(object)  # Analysis
    analysisFailed = Signal(str, str)  # path, message
    camReady = Signal(int, object)  # class index, display-sized CAM
    sharpenedReady = Signal(float, object)  # amount, image
    reviewsSaved = Signal(int)
    reviewFailed = Signal(str)
    caseChanged = Signal(object)  # CaseInfo of the open case
    trailReady = Signal(str, object, object)  # sha256 ('' = whole case), entries, AuditCheck
    exported = Signal(str, int)  # path, rows
    reportExported = Signal(str, str)  # csv path, html path
    trainingExported = Signal(str)  # summary
    message = Signal(str)  # status-bar text (errors included)

    def __init__(self, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.tasks = TaskRunner(3, "marrow-tasks", self)
        # heavy work below the GUI thread's priority; ONNX Runtime's threads, created while the
        # model loads, inherit it
        self.batch_runner = TaskRunner(1, "marrow-batch", self, background=True)
        self.model_runner = TaskRunner(1, "marrow-model", self, background=True)
        # label changes and sign-offs: one thread, so they reach the store in the order made
        self.writer = TaskRunner(1, "marrow-store", self)
        self.classifier: SerializedClassifier | None = None
        self.model_error = ""
        self.model_loading = False
        self.store: ResultStore | None = None
        self.store_error = ""
        self.paths: list[str] = []
        self.label = ""
        self.case: CaseInfo | None = None  # the open case (folder) that reviews belong to
        self._batch: Ticket | None = None
        self._listing: Ticket | None = None
        self._batch_state: dict[str, float] = {}
        self.batch_done = 0
        self._classify_when_ready = False
        self._closed = False
        self.open_store()

    # store -----------------------------------------------------------------------------------
    def open_store(self) -> None:
        path = self.settings.store_path()
        try:
            self.store = ResultStore(path)
            self.store_error = ""
        except (StoreError, OSError) as exc:
            self.store = None
            self.store_error = f"Results will not be kept: {exc}"
            self.message.emit(self.store_error)

    # model -----------------------------------------------------------------------------------
    @property
    def spec(self):
        return self.classifier.spec if self.classifier is not None else None

    @property
    def model_sha256(self) -> str:
        return self.classifier.spec.model_sha256 if self.classifier is not None else ""

    def load_model(self) -> None:
        """Load the model the preferences name, on a worker (torch only for the GPU backend)."""
        prefs = self.settings.preferences()
        self.model_loading = True
        self.modelLoading.emit(str(tasks.model_path_for(prefs.model_path)))
        self.model_runner.submit(tasks.load_model, prefs.model_path, prefs.backend,
                                 channel="model", on_result=self._model_loaded,
                                 on_error=self._model_failed)

    def _model_loaded(self, classifier: SerializedClassifier) -> None:
        self.model_loading = False
        self.classifier = classifier
        self.model_error = ""
        self.modelReady.emit(classifier)
        if self._classify_when_ready:
            self._classify_when_ready = False
            self.classify()

    def _model_failed(self, message: str) -> None:
        self.model_loading = False
        self.classifier = None
        self.model_error = message
        self._classify_when_ready = False
        self.modelFailed.emit(message)

    # image lists -----------------------------------------------------------------------------
    def open_sources(self, sources: Sequence[str], label: str) -> None:
        """List the images of folders and/or files (natural order) on a worker; the first
        paths arrive within a fraction of a second however big the folder is."""
        self.cancel_batch()
        if self._listing is not None:
            self._listing.cancel()
        recursive = self.settings.preferences().recursive
        state = {"first": True}
        case_id = case_id_for(list(sources))

        def chunk(paths: list[str]) -> None:
            if ticket is not self._listing:
                return  # a newer listing replaced this one
            if state["first"]:
                state["first"] = False
                self.paths = list(paths)
                self.label = label
                self.case = CaseInfo(case_id)
                self.tasks.invalidate("analysis")
                self.listed.emit(label, list(paths))
            else:
                self.paths.extend(paths)
                self.appended.emit(list(paths))

        def finished(cancelled: bool) -> None:
            if ticket is not self._listing or cancelled:
                return
            self._listing = None
            if state["first"]:
                chunk([])
            self.listingDone.emit(label, len(self.paths))
            self.lookup()

        ticket = self.tasks.stream(tasks.iter_images, list(sources), recursive, channel="list",
                                   on_chunk=chunk, on_finished=finished,
                                   on_error=self._list_failed, interval=0.05, min_chunk=500,
                                   max_chunk=20000)
        self._listing = ticket

    def _list_failed(self, message: str) -> None:
        self.listFailed.emit(message)
        self.message.emit(f"Cannot open: {message}")

    def lookup(self) -> None:
        """Restore stored results of the open images (no pixels read, no inference)."""
        if self.store is None or not self.paths:
            return
        self.tasks.submit(tasks.lookup_stored, list(self.paths), self.store, self.model_sha256,
                          self.case_id, channel="lookup", pass_ticket=True, on_result=self._stored,
                          on_error=self._report)

    def _stored(self, state: StoredState) -> None:
        self.storedLoaded.emit(state)
        if state.case is not None and state.case.case_id == self.case_id:
            self.case = state.case
            self.caseChanged.emit(state.case)

    @property
    def case_id(self) -> str:
        return self.case.case_id if self.case is not None else ""

    @property
    def signed(self) -> bool:
        return self.case is not None and self.case.signed

    # folder runs -----------------------------------------------------------------------------
    @property
    def listing(self) -> bool:
        """A folder is still being listed."""
        return self._listing is not None

    @property
    def batch_running(self) -> bool:
        return self._batch is not None

    def classify(self, paths: Sequence[str] | None = None, quality_only: bool = False) -> bool:
        """Run the open images (or `paths`) through core.batch.run_batch on the batch worker."""
        if self._batch is not None:
            return False
        if not quality_only and self.classifier is None:
            if self.model_loading:
                self._classify_when_ready = True
                self.message.emit("The model is still loading; the run starts when it is ready.")
                return True
            self.message.emit(f"No model to classify with: {self.model_error or 'not loaded'}")
            return False
        todo = list(self.paths if paths is None else paths)
        if not todo:
            self.message.emit("No images to run.")
            return False
        prefs = self.settings.preferences()
        classifier = None if quality_only else self.classifier
        self.batch_done = 0
        self._batch_state = {"start": time.monotonic(), "total": len(todo), "computed": 0,
                             "errors": 0, "quality_only": quality_only}
        self._batch_error = ""
        self._batch = self.batch_runner.stream(
            tasks.batch_results, todo, classifier, self.store, prefs.batch_size,
            self.settings.thresholds(), on_chunk=self._batch_chunk,
            on_finished=self._batch_finished, on_error=self._batch_failed, interval=0.15,
            max_chunk=1000)
        self.batchStarted.emit(len(todo), quality_only)
        return True

    def cancel_batch(self) -> None:
        if self._batch is not None:
            self._batch.cancel()

    def _batch_chunk(self, results: list[ImageResult]) -> None:
        self.batch_done += len(results)
        self._batch_state["computed"] += sum(1 for r in results if not r.from_store)
        self._batch_state["errors"] += sum(1 for r in results if not r.ok)
        self.resultsArrived.emit(results)

    def _batch_failed(self, message: str) -> None:
        self._batch_error = message
        self.message.emit(f"The run stopped: {message}")

    def _batch_finished(self, cancelled: bool) -> None:
        state = self._batch_state
        self._batch = None
        summary = BatchSummary(
            total=int(state["total"]), done=self.batch_done, computed=int(state["computed"]),
            errors=int(state["errors"]), cancelled=cancelled,
            elapsed=time.monotonic() - state["start"], quality_only=bool(state["quality_only"]),
            error=self._batch_error)
        self.batchFinished.emit(summary)

    # the selected image ----------------------------------------------------------------------
    def analyze(self, path: str, target: str = "top") -> None:
        self.tasks.submit(tasks.analyze_image, path, self.classifier, self.settings.thresholds(),
                          self.store, target, self.case_id, channel="analysis", pass_ticket=True,
                          on_result=self._analysis,
                          on_error=lambda message: self.analysisFailed.emit(path, message))
        self.tasks.invalidate("cam")
        self.tasks.invalidate("sharpen")

    def _analysis(self, analysis: Analysis | None) -> None:
        if analysis is not None:
            self.analysisReady.emit(analysis)

    def explain(self, analysis: Analysis, class_index: int) -> None:
        if self.classifier is None:
            return
        self.tasks.submit(tasks.explain_class, analysis.full, analysis.display.shape,
                          self.classifier, class_index, channel="cam",
                          on_result=lambda value: self.camReady.emit(*value),
                          on_error=self._report)

    def sharpen(self, display: np.ndarray, amount: float) -> None:
        self.tasks.submit(tasks.sharpen, display, amount, channel="sharpen",
                          on_result=lambda value: self.sharpenedReady.emit(*value),
                          on_error=self._report)

    # reviews and reports ---------------------------------------------------------------------
    def save_reviews(self, entries: list[tuple[str, str, str]]) -> None:
        """(path, content hash or '', label) triples; label '' clears."""
        if self.store is None:
            self.message.emit("Reviews cannot be kept: the results store is not available.")
            return
        spec = self.spec
        self.writer.submit(tasks.save_reviews, self.store, self.case_id, entries,
                           self.settings.reviewer(), spec.name if spec else "",
                           self.model_sha256, on_result=self.reviewsSaved.emit,
                           on_error=self._review_failed)

    def _review_failed(self, message: str) -> None:
        self.message.emit(f"Review not saved: {message}")
        self.reviewFailed.emit(message)
        self.lookup()  # show what the store holds again

    def sign(self, who: str, note: str, reopen: bool = False) -> None:
        """Sign off the open case (or reopen it, `note` being the reason)."""
        if self.store is None or not self.case_id:
            self.message.emit("Cannot sign off: the results store is not available.")
            return
        spec = self.spec
        self.writer.submit(tasks.sign_case, self.store, self.case_id, who, note, reopen,
                           spec.name if spec else "", self.model_sha256,
                           on_result=self._case_signed, on_error=self._report)

    def _case_signed(self, case: CaseInfo) -> None:
        if case.case_id == self.case_id:
            self.case = case
            self.caseChanged.emit(case)

    def load_trail(self, sha256: str = "") -> None:
        """The open case's audit trail (one cell's when sha256 is given) and its check."""
        if self.store is None or not self.case_id:
            return
        self.writer.submit(tasks.audit_trail, self.store, self.case_id, sha256,
                           on_result=lambda value: self.trailReady.emit(sha256, *value),
                           on_error=self._report)

    def export_csv(self, out_path: str, results: list[ImageResult]) -> None:
        """The per-cell CSV of the open case (with its reviews), on a worker."""
        prefs = self.settings.preferences()
        self.writer.submit(tasks.export_csv, out_path, self.store, self.case_id, results,
                           self.spec, self.settings.review_thresholds(), prefs.blur_threshold,
                           on_result=lambda n: self.exported.emit(out_path, n),
                           on_error=lambda m: self.message.emit(f"Export failed: {m}"))

    def export_report(self, out_dir: str, results: list[ImageResult], target: int) -> None:
        """The case report (cells.csv + report.html) of the open case, on a worker."""
        prefs = self.settings.preferences()
        self.writer.submit(tasks.export_case_report, out_dir, self.store, self.case_id, results,
                           self.spec, self.settings.review_thresholds(), prefs.blur_threshold,
                           target, on_result=lambda paths: self.reportExported.emit(*paths),
                           on_error=lambda m: self.message.emit(f"Report not written: {m}"))

    def export_training(self, out_dir: str, cells: list[tuple[str, str, str]],
                        include_unreviewed: bool) -> None:
        """Copy (path, sha256, predicted) cells into class folders by final label."""
        self.writer.submit(tasks.export_training_set, out_dir, self.store, self.case_id, cells,
                           include_unreviewed, on_result=self.trainingExported.emit,
                           on_error=lambda m: self.message.emit(f"Training set not written: {m}"))

    def _report(self, message: str) -> None:
        self.message.emit(message)

    # shutting down ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel the run, wait for workers, close the store (window close)."""
        if self._closed:
            return
        self._closed = True
        self.cancel_batch()
        self.batch_runner.shutdown()
        self.tasks.shutdown()
        self.writer.shutdown()
        self.model_runner.shutdown()
        if self.store is not None:
            self.store.close()
            self.store = None
