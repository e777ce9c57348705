"""The main window: builds the widgets, lays them out and hands the work to controllers.

Layout: the image browser (and the gallery by class, a second tab) in the centre under the info
bars (model, case, lab-shift warning, welcome); the classification panel, the quality
inspector, the differential count and the field view (smear photographs) as docks on the right
(movable, floatable; the layout is remembered). The window implements the small view
protocols its controllers are given (review, case, lab, folder, selection, field); the
controllers own the behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.differential import Differential
from marrow_desktop.core.store import CaseInfo
from marrow_desktop.gui import theme
from marrow_desktop.gui.actions import Actions
from marrow_desktop.gui.case_controller import CaseController
from marrow_desktop.gui.errors import ErrorChannel
from marrow_desktop.gui.field_controller import FieldController
from marrow_desktop.gui.folder_controller import FolderController
from marrow_desktop.gui.lab_controller import LabController
from marrow_desktop.gui.review_controller import ReviewController, ReviewState, signed_text
from marrow_desktop.gui.selection_controller import SelectionController
from marrow_desktop.gui.session import Session
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.tasks import SerializedClassifier
from marrow_desktop.gui.thumbnails import ThumbnailLoader
from marrow_desktop.gui.widgets.batch_bar import BatchBar
from marrow_desktop.gui.widgets.browser_view import BrowserView
from marrow_desktop.gui.widgets.class_gallery import ClassGallery
from marrow_desktop.gui.widgets.classification_panel import ClassificationPanel
from marrow_desktop.gui.widgets.differential_panel import DifferentialPanel
from marrow_desktop.gui.widgets.field_view import FieldView
from marrow_desktop.gui.widgets.info_bar import InfoBar
from marrow_desktop.gui.widgets.inspector_panel import InspectorPanel
from marrow_desktop.gui.widgets.thumbnail_model import ThumbnailModel
from marrow_desktop.gui.window_dialogs import WindowDialogs
from marrow_desktop.gui.window_layout import WindowLayout

APP_TITLE = "Marrow Desktop"


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        theme.configure_pyqtgraph()
        self.settings = settings
        self.errors = ErrorChannel(self)
        self.session = Session(settings, self.errors, self)
        self._closing = False
        self._model_identity = ""  # the loaded model's (core.model_spec identity)
        self._report_files: dict[str, str] = {}  # export bar action -> file to open
        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        self.loader = ThumbnailLoader(parent=self)
        self.model = ThumbnailModel(self.loader, self, case=self.session.case)
        self.browser = BrowserView(self.model)
        self.gallery = ClassGallery(self.model)
        self.views = QTabWidget(documentMode=True)
        self.views.addTab(self.browser, "Browser")
        self.views.addTab(self.gallery, "Gallery by class")
        self.model_bar, self.case_bar, self.lab_bar, self.sample_bar, self.export_bar = (
            InfoBar(), InfoBar(), InfoBar(), InfoBar(), InfoBar())
        self.case_bar.close_button.hide()
        self.lab_bar.close_button.hide()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(6, 6, 0, 0)
        column.setSpacing(6)
        for bar in (self.model_bar, self.case_bar, self.lab_bar, self.sample_bar,
                    self.export_bar):
            column.addWidget(bar)
        column.addWidget(self.views, 1)
        self.setCentralWidget(central)

        self.classification = ClassificationPanel()
        self.inspector = InspectorPanel()
        self.differential = DifferentialPanel()
        self.classification_dock = self._dock("Classification", "classificationDock",
                                              self.classification)
        self.inspector_dock = self._dock("Image quality", "inspectorDock", self.inspector)
        self.differential_dock = self._dock("Differential count", "differentialDock",
                                            self.differential)
        self.field_view = FieldView()
        self.field_dock = self._dock("Field", "fieldDock", self.field_view)
        for dock in (self.classification_dock, self.inspector_dock, self.differential_dock,
                     self.field_dock):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

        self.actions = Actions(self)
        self.actions.build_menus(self)
        self.toolbar = self.actions.build_toolbar(self)
        if self.actions.view_menu is not None:
            self.actions.view_menu.addActions([self.classification_dock.toggleViewAction(),
                                               self.inspector_dock.toggleViewAction(),
                                               self.differential_dock.toggleViewAction(),
                                               self.field_dock.toggleViewAction()])
            self.actions.view_menu.addSeparator()
            self.actions.view_menu.addAction(self.actions.reset_layout)
        self.batch_bar = BatchBar()
        self.model_status = QLabel(objectName="muted")
        self.statusBar().addPermanentWidget(self.batch_bar)
        self.statusBar().addPermanentWidget(self.model_status)

        self.selection = SelectionController(self.session, self.model, self.classification,
                                             self.inspector, self)
        self.reviews = ReviewController(self.session, self.model, self.actions, self, settings,
                                        self)
        self.cases = CaseController(self.session, self.model, self.actions, self.reviews, self,
                                    settings, self)
        self.lab = LabController(self.session, self.actions, self, settings, self)
        self.cases.lab_warning_open = self.lab.warning_open
        self.folders = FolderController(self.session, self.model, self.actions, self.reviews,
                                        self, settings, self)
        self.fields = FieldController(self.session, self.field_view, self.field_dock,
                                      self.reviews, self, self)
        self.dialogs = WindowDialogs(self)
        self.layout_state = WindowLayout(self)
        self._connect()
        self._apply_preferences()
        self.layout_state.restore()

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        return dock

    # wiring ------------------------------------------------------------------------------------
    def _connect(self) -> None:
        a, s = self.actions, self.session
        a.quit.triggered.connect(self.close)
        a.show_gallery.toggled.connect(
            lambda on: self.views.setCurrentWidget(self.gallery if on else self.browser))
        a.toggle_cam.toggled.connect(self.classification.cam_view.toggle.setChecked)
        a.toggle_unsharp.toggled.connect(self.inspector.unsharp.setChecked)
        a.focus_browser.triggered.connect(self.browser.focus_grid)
        a.advance.toggled.connect(lambda on: self.settings.set_ui("advance", on))
        a.next_in_queue.triggered.connect(self._select_next_in_queue)
        self.browser.currentPathChanged.connect(
            lambda path: self.active_view() is self.browser and self.selection.set_current(path))
        self.gallery.currentPathChanged.connect(
            lambda path: self.active_view() is self.gallery and self.selection.set_current(path))
        self.views.currentChanged.connect(self._on_view_changed)
        for grid in (self.browser.grid, self.gallery.grid):
            grid.selectionModel().selectionChanged.connect(self.reviews.update_ui)
        self.selection.changed.connect(self.reviews.update_ui)
        self.selection.changed.connect(self.fields.set_current)
        self.browser.nextInQueueRequested.connect(self._select_next_in_queue)
        self.gallery.reclassifyRequested.connect(self.reviews.review_paths)
        self.classification.review.reviewRequested.connect(self.reviews.review)
        self.classification.review.historyRequested.connect(self.cases.show_cell_history)
        self.differential.targetChanged.connect(self.reviews.set_target)
        self.differential_dock.visibilityChanged.connect(
            lambda visible: visible and self.reviews.refresh_counts())
        self.batch_bar.cancelRequested.connect(s.cancel_batch)
        for bar in (self.sample_bar, self.model_bar, self.case_bar, self.lab_bar,
                    self.export_bar):
            bar.actionTriggered.connect(self._info_action)
        s.modelLoading.connect(self._on_model_loading)
        s.modelReady.connect(self._on_model_ready)
        s.modelFailed.connect(self._on_model_failed)
        s.exports.reportExported.connect(self._on_report)
        s.exports.trainingExported.connect(lambda text: self.show_message(text, 15000))
        self.errors.status.connect(self.statusBar().showMessage)

    # start-up ----------------------------------------------------------------------------------
    def start(self, folder: str | None = None) -> None:
        """Load the model and open a folder: the argument, the last one, or the samples."""
        self.session.load_model()
        self.folders.start(folder)

    def show_message(self, text: str, timeout: int = 8000) -> None:
        self.errors.note(text, timeout=timeout)

    def dialog_parent(self) -> QWidget:
        return self

    # the folder view ---------------------------------------------------------------------------
    def show_listed(self, label: str, is_samples: bool, has_images: bool) -> None:
        name = "Sample images" if is_samples else (Path(label).name or label)
        self.setWindowTitle(f"{name} – {APP_TITLE}")
        self.browser.set_empty_text("No images found here.\nOpen another folder (Ctrl+O) or "
                                    "drop one onto this window.")
        self.inspector.set_distribution([])
        self.sample_bar.hide()
        self.export_bar.hide()
        self.show_case_state(None)
        self.show_lab_warning("")
        if has_images:
            self.browser.select_row(0)
            self.browser.focus_grid()
        else:
            self.selection.clear("No images")

    def show_welcome(self, count: int) -> None:
        self.sample_bar.show_message(
            f"<b>Welcome!</b> {count} sample cells to try<br><span style='color:#64748b'>"
            "Matek et al. 2021, CC BY 4.0</span>", "info",
            (("classify", "Classify samples"), ("open", "Open folder…")))

    def hide_welcome(self) -> None:
        self.sample_bar.hide()

    def show_running(self, total: int, what: str) -> None:
        self.batch_bar.start(total, what)

    def show_progress(self, done: int) -> None:
        self.batch_bar.advance(done)

    def show_finished(self) -> None:
        self.batch_bar.finish()
        self.selection.refresh_distribution()

    def results_arrived(self, paths: set[str]) -> None:
        """Results for these paths arrived (the current cell's shows at once)."""

    # the review view ---------------------------------------------------------------------------
    def active_view(self) -> BrowserView | ClassGallery:
        return self.gallery if self.views.currentWidget() is self.gallery else self.browser

    def selected_paths(self) -> list[str]:
        return self.active_view().selected_paths()

    def current_path(self) -> str:
        return self.selection.path

    def known_cell_id(self, path: str) -> str:
        return self.selection.known_cell_id(path)

    def select_cell(self, path: str) -> None:
        """Make a cell current (a box clicked in the field view), in the browser when the
        gallery does not show it."""
        if self.active_view() is self.gallery and self.gallery.select_path(path):
            return
        self.views.setCurrentWidget(self.browser)
        if not self.browser.select_path(path):
            self.selection.set_current(path)

    def after_review(self, reviewed: str) -> None:
        """After a one-cell review, go on to the next cell needing review (or the next one)."""
        view = self.active_view()
        if view is self.browser:
            following = self.model.next_in_queue(reviewed)
            if following and self.model.row_of(following) > self.model.row_of(reviewed):
                view.select_path(following)
                return
            row = self.model.row_of(reviewed)
            if 0 <= row < self.model.rowCount() - 1:
                self.browser.select_row(row + 1)
        elif view.current_path() == reviewed:  # gallery: the cell may leave the class
            self.gallery.select_next(reviewed)

    def show_review_state(self, state: ReviewState) -> None:
        self.classification.set_review_state(state.review, state.predicted, state.enabled,
                                             state.count, state.signed_by, state.mixed)
        self.classification.review.history_button.setEnabled(state.history)

    def show_counts(self, needs: int, unreviewed: int, rule: str, sentence: str,
                    differential: Callable[[], Differential]) -> None:
        self.browser.set_queue(needs, unreviewed, rule)
        if self.differential.isVisible() or not self.isVisible():
            self.differential.set_differential(differential())
            self.differential.set_queue(needs, unreviewed, rule, sentence)

    def _select_next_in_queue(self) -> None:
        self.views.setCurrentWidget(self.browser)
        path = self.reviews.next_in_queue()
        if path:
            self.browser.select_path(path)
            self.browser.focus_grid()

    # the case and lab views --------------------------------------------------------------------
    def show_case_state(self, info: CaseInfo | None) -> None:
        text = signed_text(info)
        self.differential.set_signed(text)
        if text and info is not None:
            note = f" – “{info.sign_note.splitlines()[0]}”" if info.sign_note else ""
            self.case_bar.show_message(f"<b>{text}</b>{note}. The labels of this case are "
                                       "frozen.", "info", (("reopen", "Reopen to amend…"),))
        else:
            self.case_bar.hide()
        self.reviews.update_ui()

    def show_lab_warning(self, text: str) -> None:
        self.differential.set_lab_warning(text)
        if text:
            self.lab_bar.show_message(f"<b>⚠ {text}.</b>", "warning",
                                      (("adapt", "Adapt model to this lab…"),
                                       ("acknowledge", "Acknowledge…")))
        else:
            self.lab_bar.hide()

    def _on_report(self, csv_path: str, html: str, pdf: str) -> None:
        self._report_files = {"open_pdf": pdf, "open_html": html,
                              "open_report_folder": str(Path(pdf).parent)}
        self.export_bar.show_message(
            f"<b>Case report written</b> to {escape(str(Path(pdf).parent))}: report.pdf, "
            "report.html and cells.csv.", "info",
            (("open_pdf", "Open PDF"), ("open_report_folder", "Open folder")))
        self.show_message(f"Case report written: {pdf}, {html} and {csv_path}", 15000)

    def _info_action(self, key: str) -> None:
        if key in self._report_files:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self._report_files[key]))
            return
        actions = {"classify": self.folders.classify, "open": self.folders.choose_folder,
                   "settings": self.dialogs.show_settings, "reopen": self.cases.reopen,
                   "adapt": self.lab.adapt, "acknowledge": self.lab.acknowledge}
        actions[key]()

    # the model ---------------------------------------------------------------------------------
    def _on_model_loading(self, what: str) -> None:
        self.model_status.setText("Loading model…")
        self.classification.set_model(None, message="Loading the model…")

    def _on_model_ready(self, classifier: SerializedClassifier) -> None:
        spec = classifier.spec
        self.model_bar.hide()
        self.classification.set_model(spec, classifier.device_name)
        self.browser.set_classes(spec.classes)
        self.gallery.set_classes(spec.classes)
        self.actions.set_classes(self, spec.classes, spec.class_names)
        self.classification.review.set_classes(spec.classes)
        short_device = classifier.device_name.split(" (")[0]
        self.model_status.setText(f"{spec.name} v{spec.version} · {short_device}")
        self.model_status.setToolTip(f"{classifier.device_name}\nidentity {spec.identity}")
        if self._model_identity and spec.identity != self._model_identity:
            self.model.clear_results()  # another model: its predictions come from the store
        self._model_identity = spec.identity  # the same model loaded again keeps its results
        self.session.lookup()
        self.reviews.schedule_refresh()

    def _on_model_failed(self, message: str) -> None:
        self.classification.set_model(None, message="No model loaded")
        self.actions.set_classes(self, (), ())
        self.model_status.setText("No model")
        self.model_status.setToolTip(message)
        self.model_bar.show_message(
            f"<b>No classification model.</b> {message}<br>You can still browse the images and "
            "check their quality.", "warning", (("settings", "Choose a model…"),))
        self.reviews.update_ui()

    # views -------------------------------------------------------------------------------------
    def _on_view_changed(self, _index: int) -> None:
        view = self.active_view()
        self.actions.show_gallery.setChecked(view is self.gallery)
        current = self.selection.path
        if view is self.gallery:
            self.gallery.refresh()
            if not current or not self.gallery.select_path(current):
                self.selection.set_current(self.gallery.current_path())
        elif not current or not self.browser.select_path(current):
            self.selection.set_current(self.browser.current_path())
        view.setFocus()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.folders.open_dropped([u.toLocalFile() for u in event.mimeData().urls()
                                   if u.isLocalFile()])
        event.acceptProposedAction()

    # preferences -------------------------------------------------------------------------------
    def apply_preferences(self, prefs) -> None:
        old = self.settings.preferences()
        self.settings.set_preferences(prefs)
        if prefs.reviewer:
            self.settings.session_reviewer = prefs.reviewer
        self._apply_preferences()
        if (prefs.model_path, prefs.backend) != (old.model_path, old.backend):
            self.session.load_model()
        if prefs.recursive != old.recursive and Path(self.session.label).is_dir():
            self.session.open_sources([self.session.label], self.session.label)

    def _apply_preferences(self) -> None:
        self.model.set_thresholds(self.settings.review_thresholds(),
                                  self.settings.preferences().blur_threshold)
        self.inspector.set_thresholds(self.settings.thresholds())
        self.reviews.schedule_refresh()
        self.selection.refresh_distribution()

    # closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self.layout_state.save()
            self.loader.shutdown()
            self.session.shutdown()
        super().closeEvent(event)
