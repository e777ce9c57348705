"""The current cell: its analysis (decoded on a worker: quality, probabilities, heat map) shown
in the classification panel and the quality inspector, the heat map's target class, and the
unsharp-masked view."""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QTimer, Signal

from marrow_desktop.core.results import ImageResult
from marrow_desktop.gui import tasks
from marrow_desktop.gui.session import Session
from marrow_desktop.gui.tasks import Analysis
from marrow_desktop.gui.widgets.classification_panel import ClassificationPanel
from marrow_desktop.gui.widgets.inspector_panel import InspectorPanel
from marrow_desktop.gui.widgets.thumbnail_model import ThumbnailModel


class SelectionController(QObject):
    """Follows the current path of the active view."""

    changed = Signal(str)  # the current path ('' = none)

    def __init__(self, session: Session, model: ThumbnailModel,
                 classification: ClassificationPanel, inspector: InspectorPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.model = session, model
        self.classification, self.inspector = classification, inspector
        self.path = ""
        self.analysis: Analysis | None = None
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self._analyze)
        self._distribution = QTimer(self, singleShot=True, interval=1000)
        self._distribution.timeout.connect(self.refresh_distribution)
        session.analysisReady.connect(self._on_analysis)
        session.analysisFailed.connect(self._on_failed)
        session.camReady.connect(self._on_cam)
        session.sharpenedReady.connect(self._on_sharpened)
        session.modelReady.connect(lambda _c: self.reanalyze())
        session.modelFailed.connect(lambda _m: self.reanalyze())
        classification.targetChanged.connect(self._on_target)
        inspector.unsharpRequested.connect(self._on_unsharp)
        model.case.subscribe(self._on_case)

    def set_current(self, path: str) -> None:
        if path == self.path and self.analysis is not None:
            return
        self.path = path
        self.analysis = None
        if not path:
            self.classification.clear()
            self.inspector.clear()
        else:
            self.show_known()
            self.inspector.set_loading(self._quality(path))
            self._timer.start()
        self.changed.emit(path)

    def reanalyze(self) -> None:
        if self.path:
            self.analysis = None
            self._timer.start()

    def known_cell_id(self, path: str) -> str:
        """The content hash of the current image when the analysis knows it before the batch."""
        a = self.analysis
        return a.sha256 if a is not None and a.path == path else ""

    def clear(self, message: str) -> None:
        self.path, self.analysis = "", None
        self.classification.clear(message)
        self.inspector.clear(message)

    def _quality(self, path: str):
        item = self.model.item_for(path)
        return item.quality if item is not None else None

    def show_known(self) -> None:
        """The stored result of the current cell until its analysis arrives."""
        item = self.model.item_for(self.path) if self.path else None
        if item is None or self.analysis is not None:
            return
        probs = item.result.probabilities if item.classified else None
        self.classification.show_known(item.name, probs, item.error, item.reasons)

    def _on_case(self, change) -> None:
        """The current cell's result or review reasons changed (a batch, a review)."""
        if change.cells is None or any(c.path == self.path for c in change.cells):
            item = self.model.item_for(self.path) if self.path else None
            if item is not None:
                if self.analysis is None:
                    self.show_known()
                else:
                    self.classification.set_reasons(item.reasons)
        if change.kind in ("results", "reset"):
            self._distribution.start()

    def _analyze(self) -> None:
        if self.path:
            self.session.analyze(self.path, self.classification.target_mode)

    def _on_analysis(self, analysis: Analysis) -> None:
        if analysis.path != self.path:
            return
        self.analysis = analysis
        self.model.update_results([analysis.result])
        item = self.model.item_for(analysis.path)
        self.classification.set_analysis(os.path.basename(analysis.path), analysis.display,
                                         analysis.probabilities, analysis.cam,
                                         analysis.class_index,
                                         item.reasons if item is not None else ())
        if item is not None and item.is_field:
            shown = [c for c in self.model.case.field_cells(item.path) if not c.removed]
            self.classification.show_field(item.name, len(shown))
        self.inspector.set_image(analysis.display, analysis.quality)
        self._distribution.start()

    def _on_failed(self, path: str, message: str) -> None:
        if path != self.path:
            return
        self.model.update_results([ImageResult.failed(path, message)])
        self.classification.show_known(os.path.basename(path), None, message)
        self.classification.cam_view.set_placeholder("Cannot show this image")
        self.inspector.clear(message)
        self.session.errors.note(message, "warning")

    def _on_target(self, mode: str) -> None:
        a = self.analysis
        if a is None or a.probabilities is None or self.session.classifier is None:
            return
        index = tasks.resolve_target(a.probabilities, mode, self.session.classifier.spec.classes)
        self.session.explain(a, index)

    def _on_cam(self, class_index: int, cam) -> None:
        if self.analysis is not None:
            self.analysis.cam, self.analysis.class_index = cam, class_index
            self.classification.set_cam(cam, class_index)

    def _on_unsharp(self, amount: float) -> None:
        if self.analysis is not None:
            self.session.sharpen(self.analysis.display, amount)

    def _on_sharpened(self, amount: float, image) -> None:
        if self.analysis is not None and image.shape == self.analysis.display.shape:
            self.inspector.set_sharpened(image, amount)

    def refresh_distribution(self) -> None:
        if self.inspector.isVisible() or not self.inspector.window().isVisible():
            self.inspector.set_distribution(self.model.sharpness_values())
