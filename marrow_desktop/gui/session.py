"""The viewer's session: owns the model, the results store, the open case and the workers.

Widgets never touch these; controllers forward user requests here and bind the signals below to
widgets. Every request runs on a worker (gui/tasks.py and gui/case_tasks.py do the work);
requests on the same channel supersede older ones, so only the newest answer reaches the GUI.
Every failure goes to the error channel (gui/errors.py) as the exception itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QObject, Signal

from marrow_desktop.core import audit
from marrow_desktop.core.case import Case
from marrow_desktop.core.case_files import CaseHandle
from marrow_desktop.core.cells import region_of
from marrow_desktop.core.discovery import skipped_lines
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.signing import SigningError
from marrow_desktop.core.store import CaseInfo, ResultStore, StoreError
from marrow_desktop.gui import case_tasks, tasks
from marrow_desktop.gui.batch_summary import BatchSummary
from marrow_desktop.gui.case_exports import CaseExports
from marrow_desktop.gui.errors import ErrorChannel
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.tasks import Analysis, SerializedClassifier
from marrow_desktop.gui.workers import TaskRunner, Ticket


class Session(QObject):
    """State that outlives a selection: the open case, the model, the store."""

    modelLoading = Signal(str)  # what is being loaded
    modelReady = Signal(object)  # SerializedClassifier
    modelFailed = Signal(str)  # why (also reported on the error channel)
    listed = Signal(str, list)  # label of the source, its first image paths
    appended = Signal(list)  # more image paths of the same source
    listingDone = Signal(str, int)  # label, number of images
    storedLoaded = Signal(object)  # case_tasks.StoredState
    batchStarted = Signal(int, bool)  # total, quality only
    resultsArrived = Signal(list)  # list[ImageResult], in chunks
    batchFinished = Signal(object)  # BatchSummary
    analysisReady = Signal(object)  # Analysis
    analysisFailed = Signal(str, str)  # path, message
    camReady = Signal(int, object)  # class index, display-sized CAM
    sharpenedReady = Signal(float, object)  # amount, image
    reviewsSaved = Signal(int)
    caseChanged = Signal(object)  # CaseInfo of the open case
    trailReady = Signal(str, object, object)  # cell id ('' = whole case), entries, AuditCheck
    signFailed = Signal(str)  # why a sign-off or reopening was not recorded (e.g. passphrase)

    def __init__(self, settings: AppSettings, errors: ErrorChannel | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.errors = errors if errors is not None else ErrorChannel(self)
        self.tasks = TaskRunner(3, "marrow-tasks", self)
        # heavy work below the GUI thread's priority; ONNX Runtime's threads, created while the
        # model loads, inherit it
        self.batch_runner = TaskRunner(1, "marrow-batch", self, background=True)
        self.model_runner = TaskRunner(1, "marrow-model", self, background=True)
        # changes of the case: one thread, so they reach the store in the order made
        self.writer = TaskRunner(1, "marrow-store", self)
        self.exports = CaseExports(self)
        self.classifier: SerializedClassifier | None = None
        self.model_error = ""
        self.model_loading = False
        self.store: ResultStore | None = None
        self.case = Case(thresholds=settings.review_thresholds(),
                         blur_threshold=settings.preferences().blur_threshold)
        self.handle: CaseHandle | None = None  # where the open case lives
        self.info: CaseInfo | None = None  # its trail head, sign-off, details, model
        self.acknowledged: set[str] = set()  # models whose lab-shift warning was acknowledged
        self.sources: list[str] = []
        self.label = ""
        self._batch: Ticket | None = None
        self._listing: Ticket | None = None
        self._batch_state: dict[str, float] = {}
        self._batch_error = ""
        self.batch_done = 0
        self._last_source = ""  # the file of the last result (a field's cells: one image)
        self._found: dict[str, set[str]] = {}
        self._classify_when_ready = False
        self._closed = False
        self.open_store()

    # store -----------------------------------------------------------------------------------
    def open_store(self) -> None:
        path = self.settings.store_path()
        try:
            self.store = ResultStore(path)
        except (StoreError, OSError) as exc:
            self.store = None
            self.errors.note(f"Results will not be kept: {exc}", "warning")

    # model -----------------------------------------------------------------------------------
    @property
    def spec(self):
        return self.classifier.spec if self.classifier is not None else None

    @property
    def model_sha256(self) -> str:
        return self.classifier.spec.model_sha256 if self.classifier is not None else ""

    def load_model(self, model: str | None = None) -> None:
        """Load the model the preferences name (or `model`, a name or path), on a worker."""
        prefs = self.settings.preferences()
        chosen = prefs.model_path if model is None else model
        self.model_loading = True
        self.modelLoading.emit(str(chosen or "the bundled model"))
        self.model_runner.submit(tasks.load_model, chosen, prefs.backend, channel="model",
                                 on_result=self._model_loaded, on_error=self._model_failed)

    def _model_loaded(self, classifier: SerializedClassifier) -> None:
        self.model_loading = False
        self.classifier = classifier
        self.model_error = ""
        stats = classifier.domain
        self.case.set_model(classifier.spec.classes,
                            stats.false_alarm if stats is not None else float("nan"))
        if classifier.domain_error:
            self.errors.note(classifier.domain_error, "warning")
        self.modelReady.emit(classifier)
        if self._classify_when_ready:
            self._classify_when_ready = False
            self.classify()

    def _model_failed(self, exc: BaseException) -> None:
        self.model_loading = False
        self.classifier = None
        self._classify_when_ready = False
        self.errors.report(exc, "No model")
        self.model_error = str(exc)
        self.modelFailed.emit(self.model_error)

    # opening a case --------------------------------------------------------------------------
    def open_sources(self, sources: Sequence[str], label: str) -> None:
        """List the images of folders and/or files (natural order) on a worker; the first
        paths arrive within a fraction of a second however big the folder is. The case they
        belong to is found when the listing is complete."""
        self.cancel_batch()
        if self._listing is not None:
            self._listing.cancel()
        recursive = self.settings.preferences().recursive
        state = {"first": True}
        skipped: list[tuple[str, str]] = []

        def chunk(paths: list[str]) -> None:
            if ticket is not self._listing:
                return  # a newer listing replaced this one
            if state["first"]:
                state["first"] = False
                self._close_case()
                self.sources, self.label = list(sources), label
                self.tasks.invalidate("analysis")
                self.case.set_paths(paths, case_id="")
                self.listed.emit(label, list(paths))
            else:
                self.case.append_paths(paths)
                self.appended.emit(list(paths))

        def finished(cancelled: bool) -> None:
            if ticket is not self._listing or cancelled:
                return
            self._listing = None
            if state["first"]:
                chunk([])
            self.listingDone.emit(label, len(self.case))
            if skipped:
                for line in skipped_lines(skipped):
                    self.errors.note(line[0].upper() + line[1:], "warning", 15000)
            self.tasks.submit(case_tasks.open_case_handle, list(sources), self.store,
                              self.case.paths(), channel="case", on_result=self._case_opened,
                              on_error=lambda exc: self.errors.report(exc, "Case"))

        ticket = self.tasks.stream(tasks.iter_images, list(sources), recursive, skipped,
                                   channel="list",
                                   on_chunk=chunk, on_finished=finished,
                                   on_error=lambda exc: self.errors.report(exc, "Cannot open"),
                                   interval=0.05, min_chunk=500, max_chunk=20000)
        self._listing = ticket

    def _case_opened(self, opened: case_tasks.OpenedCase) -> None:
        handle, info = opened.handle, opened.info
        if handle.folder != self._folder_key():
            handle.close()
            return
        self.handle, self.info = handle, info
        self.acknowledged = set(opened.acknowledged)
        self.case.set_case_id(handle.case_id)
        self.caseChanged.emit(info)
        self.lookup()

    def _folder_key(self) -> str:
        from marrow_desktop.core.review import case_id_for

        return case_id_for(self.sources)

    def _close_case(self) -> None:
        if self.handle is not None:
            handle = self.handle
            self.writer.submit(handle.close)  # after any pending change of that case
        self.handle, self.info = None, None
        self.acknowledged = set()

    def lookup(self) -> None:
        """Restore stored results of the open images (no pixels read, no inference) and the
        case's reviews."""
        if not len(self.case):
            return
        spec = self.spec
        self.tasks.submit(case_tasks.lookup_stored, self.case.paths(), self.store,
                          self.model_sha256, spec.domain_sha256 if spec is not None else "",
                          self.handle, channel="lookup", pass_ticket=True,
                          fields=self.settings.preferences().find_cells,
                          on_result=self.storedLoaded.emit,
                          on_error=lambda exc: self.errors.report(exc, "Results store"))

    @property
    def case_id(self) -> str:
        return self.handle.case_id if self.handle is not None else ""

    @property
    def signed(self) -> bool:
        return self.info is not None and self.info.signed

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
                self.errors.note("The model is still loading; the run starts when it is ready.")
                return True
            self.errors.note(f"No model to classify with: {self.model_error or 'not loaded'}",
                             "warning")
            return False
        prefs = self.settings.preferences()
        todo = list(self.case.run_paths(prefs.find_cells) if paths is None else paths)
        if not todo:
            self.errors.note("No images to run.")
            return False
        classifier = None if quality_only else self.classifier
        fields = tasks.field_search(self.classifier, prefs.um_per_px) if prefs.find_cells \
            else None
        self._last_source = ""
        self._found: dict[str, set[str]] = {}  # field -> regions its search found in this run
        self.batch_done = 0
        self._batch_state = {"start": time.monotonic(), "total": len(todo), "computed": 0,
                             "errors": 0, "fields": 0, "found": 0, "searched": 0,
                             "quality_only": quality_only}
        self._batch_error = ""
        self._batch = self.batch_runner.stream(
            tasks.batch_results, todo, classifier, self.store, prefs.batch_size,
            self.settings.thresholds(), fields, on_chunk=self._batch_chunk,
            on_finished=self._batch_finished, on_error=self._batch_failed, interval=0.15,
            max_chunk=1000)
        self.batchStarted.emit(len(todo), quality_only)
        return True

    def cancel_batch(self) -> None:
        if self._batch is not None:
            self._batch.cancel()

    def _batch_chunk(self, results: list[ImageResult]) -> None:
        for r in results:  # images done: the cells of a field come from one image of the run
            if r.path != self._last_source or not r.region:
                self.batch_done += 1
                self._batch_state["searched"] += int(bool(r.region) and r.extra.get(
                    "scale_source") != "by hand")
            self._last_source = r.path
        searched = [r for r in results if r.region and r.extra.get("scale_source") != "by hand"]
        self._batch_state["found"] += len(searched)
        for r in searched:
            self._found.setdefault(r.path, set()).add(r.region)
        self.batch_done = min(self.batch_done, int(self._batch_state["total"]))
        self._batch_state["computed"] += sum(1 for r in results if not r.from_store)
        self._batch_state["errors"] += sum(1 for r in results if not r.ok)
        self._batch_state["fields"] += sum(1 for r in results if r.extra.get("field"))
        self.resultsArrived.emit(results)

    def _batch_failed(self, exc: BaseException) -> None:
        self._batch_error = str(exc)
        self.errors.report(exc, "The run stopped")

    def _batch_finished(self, cancelled: bool) -> None:
        state = self._batch_state
        self._batch = None
        if not cancelled and not self._batch_error:  # cells an earlier search found, not now
            self.case.keep_found(self._found)
        summary = BatchSummary(
            total=int(state["total"]), done=self.batch_done, computed=int(state["computed"]),
            errors=int(state["errors"]), cancelled=cancelled,
            elapsed=time.monotonic() - state["start"], quality_only=bool(state["quality_only"]),
            error=self._batch_error, fields=int(state["fields"]), found=int(state["found"]),
            searched=int(state["searched"]))
        self.batchFinished.emit(summary)

    # the selected image ----------------------------------------------------------------------
    def analyze(self, path: str, target: str = "top") -> None:
        cell = self.case.cell(path)
        self.tasks.submit(tasks.analyze_image, path, self.classifier, self.settings.thresholds(),
                          self.store, target, channel="analysis", pass_ticket=True,
                          field=cell is not None and cell.is_field,
                          on_result=self._analysis,
                          on_error=lambda exc: self.analysisFailed.emit(path, str(exc)))
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
                          on_error=lambda exc: self.errors.report(exc, "Heat map"))

    def sharpen(self, display: np.ndarray, amount: float) -> None:
        self.tasks.submit(tasks.sharpen, display, amount, channel="sharpen",
                          on_result=lambda value: self.sharpenedReady.emit(*value),
                          on_error=lambda exc: self.errors.report(exc, "Unsharp mask"))

    # changes of the case ---------------------------------------------------------------------
    def _case_ready(self, what: str) -> CaseHandle | None:
        if self.handle is None:
            self.errors.note(f"{what}: the case is not open yet (the folder is still being "
                             "listed)", "warning")
        return self.handle

    def save_reviews(self, entries: list[tuple[str, str, str, str]], who: str) -> None:
        """(path, cell id or '', label, note) each; label '' clears."""
        handle = self._case_ready("Review not saved")
        if handle is None:
            return
        self.writer.submit(case_tasks.save_reviews, handle, entries, who, self.spec,
                           on_result=self._reviews_saved, on_error=self._review_failed)

    def _reviews_saved(self, value: tuple[int, CaseInfo]) -> None:
        n, info = value
        self._set_info(info)
        self.reviewsSaved.emit(n)

    def _review_failed(self, exc: BaseException) -> None:
        self.errors.report(exc, "Review not saved")
        self.lookup()  # show what the store holds again

    def sign(self, who: str, note: str, passphrase: str, reopen: bool = False,
             new_key: bool = False) -> None:
        """Sign off the open case (or reopen it, `note` being the reason), signed with the
        reviewer's key; a refused key or passphrase comes back as signFailed."""
        handle = self._case_ready("Cannot sign off")
        if handle is None:
            return

        def failed(exc: BaseException) -> None:
            self.errors.report(exc, "Not signed")
            if isinstance(exc, SigningError):
                self.signFailed.emit(str(exc))
        self.writer.submit(case_tasks.sign_case, handle, who, note, reopen, self.spec,
                           passphrase, new_key, on_result=self._set_info, on_error=failed)

    def record(self, action: str, who: str, note: str = "", details: str | None = None) -> None:
        """A case-level trail entry (core.audit: details, model, acknowledge), with the model
        in use."""
        handle = self._case_ready("Not recorded")
        if handle is None:
            return
        if action == audit.ACKNOWLEDGE and self.spec is not None:
            self.acknowledged.add(self.spec.identity)
        self.writer.submit(case_tasks.record_case, handle, action, who, note, self.spec,
                           details, on_result=self._set_info,
                           on_error=lambda exc: self.errors.report(exc, "Not recorded"))

    # cells of field photographs, by hand --------------------------------------------------------
    def add_cell(self, field_path: str, box: tuple[int, int, int, int], who: str) -> str:
        """A cell the search missed: added to the case, recorded (audit 'add_cell') and
        classified; returns its path ('' when the case cannot be changed)."""
        if self._case_ready("Cell not added") is None:
            return ""
        cell = self.case.add_region(field_path, region_of(box))
        self._record_region(audit.ADD_CELL, who, cell)
        if not self.classify([cell.path]):
            self.errors.note("The added cell is classified with the next run (Classify).")
        return cell.path

    def remove_cell(self, path: str, who: str, removed: bool = True) -> None:
        """Delete a false detection (audit 'remove_cell'), or bring a deleted cell back."""
        if self._case_ready("Cell not removed") is None:
            return
        cell = self.case.set_removed(path, removed)
        if cell is not None:
            self._record_region(audit.REMOVE_CELL if removed else audit.ADD_CELL, who, cell)

    def _record_region(self, action: str, who: str, cell) -> None:
        handle = self.handle
        if handle is None or not cell.cell_id:
            return
        self.writer.submit(case_tasks.record_case, handle, action, who, "", self.spec, None,
                           cell.cell_id, cell.path, on_result=self._set_info,
                           on_error=lambda exc: self.errors.report(exc, "Not recorded"))

    def _set_info(self, info: CaseInfo) -> None:
        if self.handle is not None and info.case_id == self.handle.case_id:
            self.info = info
            self.caseChanged.emit(info)

    def load_trail(self, cid: str = "") -> None:
        """The open case's audit trail (one cell's when a cell id is given) and its check."""
        if self.handle is not None:
            self.writer.submit(case_tasks.audit_trail, self.handle, cid,
                               on_result=lambda value: self.trailReady.emit(cid, *value),
                               on_error=lambda exc: self.errors.report(exc, "Audit trail"))

    # shutting down ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel the run, wait for workers, close the stores (window close)."""
        if self._closed:
            return
        self._closed = True
        self.cancel_batch()
        self.batch_runner.shutdown()
        self.tasks.shutdown()
        self.writer.shutdown()
        self.model_runner.shutdown()
        if self.handle is not None:
            self.handle.close()
        if self.store is not None:
            self.store.close()
            self.store = None

