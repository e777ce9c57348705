"""The main window: builds the widgets and wires them to the session (no work of its own).

Layout: the image browser (and the gallery by class, a second tab) in the centre; the
classification panel, the quality inspector and the differential count as docks on the right
(movable, floatable; the layout is remembered between runs). The review workflow's wiring lives
in gui/review_controller.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop import __version__
from marrow_desktop.core.imageio import IMAGE_EXTENSIONS, is_image_path
from marrow_desktop.core.paths import bundle_flavour, default_model_path, samples_dir
from marrow_desktop.core.results import ImageResult
from marrow_desktop.gui import tasks, theme
from marrow_desktop.gui.actions import Actions
from marrow_desktop.gui.review_controller import ReviewController
from marrow_desktop.gui.session import BatchSummary, Session
from marrow_desktop.gui.settings import AppSettings
from marrow_desktop.gui.tasks import Analysis, SerializedClassifier, StoredState
from marrow_desktop.gui.thumbnails import ThumbnailLoader
from marrow_desktop.gui.widgets.about_dialog import AboutDialog, AboutInfo
from marrow_desktop.gui.widgets.batch_bar import BatchBar, format_duration
from marrow_desktop.gui.widgets.browser_view import BrowserView
from marrow_desktop.gui.widgets.class_gallery import ClassGallery
from marrow_desktop.gui.widgets.classification_panel import ClassificationPanel
from marrow_desktop.gui.widgets.differential_panel import DifferentialPanel
from marrow_desktop.gui.widgets.info_bar import InfoBar
from marrow_desktop.gui.widgets.inspector_panel import InspectorPanel
from marrow_desktop.gui.widgets.settings_dialog import SettingsDialog
from marrow_desktop.gui.widgets.thumbnail_model import ThumbnailModel

APP_TITLE = "Marrow Desktop"


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        theme.configure_pyqtgraph()
        self.settings = settings
        self.session = Session(settings, self)
        self._current = ""
        self._analysis: Analysis | None = None
        self._closing = False
        self._had_model = False
        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        # widgets -------------------------------------------------------------------------------
        self.loader = ThumbnailLoader(parent=self)
        self.model = ThumbnailModel(self.loader, self)
        self.browser = BrowserView(self.model)
        self.gallery = ClassGallery(self.model)
        self.views = QTabWidget(documentMode=True)
        self.views.addTab(self.browser, "Browser")
        self.views.addTab(self.gallery, "Gallery by class")
        self.sample_bar = InfoBar()
        self.model_bar = InfoBar()
        self.case_bar = InfoBar()
        self.case_bar.close_button.hide()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(6, 6, 0, 0)
        column.setSpacing(6)
        column.addWidget(self.model_bar)
        column.addWidget(self.case_bar)
        column.addWidget(self.sample_bar)
        column.addWidget(self.views, 1)
        self.setCentralWidget(central)

        self.classification = ClassificationPanel()
        self.inspector = InspectorPanel()
        self.classification_dock = self._dock("Classification", "classificationDock",
                                              self.classification)
        self.inspector_dock = self._dock("Image quality", "inspectorDock", self.inspector)
        self.differential = DifferentialPanel()
        self.differential_dock = self._dock("Differential count", "differentialDock",
                                            self.differential)
        for dock in (self.classification_dock, self.inspector_dock, self.differential_dock):
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)  # placed below

        self.actions = Actions(self)
        self.actions.build_menus(self)
        self.toolbar = self.actions.build_toolbar(self)
        view_menu = self.actions.view_menu
        if view_menu is not None:
            view_menu.addActions([self.classification_dock.toggleViewAction(),
                                  self.inspector_dock.toggleViewAction(),
                                  self.differential_dock.toggleViewAction()])
            view_menu.addSeparator()
            view_menu.addAction(self.actions.reset_layout)

        self.batch_bar = BatchBar()
        self.model_status = QLabel(objectName="muted")
        self.statusBar().addPermanentWidget(self.batch_bar)
        self.statusBar().addPermanentWidget(self.model_status)

        self._analysis_timer = QTimer(self, singleShot=True, interval=30)
        self._analysis_timer.timeout.connect(self._analyze_current)
        self._distribution_timer = QTimer(self, singleShot=True, interval=1000)
        self._distribution_timer.timeout.connect(self._refresh_distribution)

        self.reviews = ReviewController(self)
        self._apply_preferences()
        self._restore_ui_state()
        self._connect()
        self._rebuild_recent()
        self._set_running(False)

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
        a.open_folder.triggered.connect(self.choose_folder)
        a.open_images.triggered.connect(self.choose_images)
        a.open_samples.triggered.connect(self.open_samples)
        a.export_csv.triggered.connect(self.choose_export)
        a.quit.triggered.connect(self.close)
        a.classify.triggered.connect(self.classify_folder)
        a.check_quality.triggered.connect(self.check_quality)
        a.cancel.triggered.connect(s.cancel_batch)
        a.show_gallery.toggled.connect(
            lambda on: self.views.setCurrentWidget(self.gallery if on else self.browser))
        a.toggle_cam.toggled.connect(self.classification.cam_view.toggle.setChecked)
        a.toggle_unsharp.toggled.connect(self.inspector.unsharp.setChecked)
        a.focus_browser.triggered.connect(self.browser.focus_grid)
        a.advance.toggled.connect(lambda on: self.settings.set_value("review/advance", on))
        a.reset_layout.triggered.connect(self.reset_layout)
        a.settings.triggered.connect(self.show_settings)
        a.about.triggered.connect(self.show_about)
        a.recent_menu.triggered.connect(self._open_recent)

        self.browser.currentPathChanged.connect(
            lambda path: self.active_view() is self.browser and self._on_current(path))
        self.gallery.currentPathChanged.connect(
            lambda path: self.active_view() is self.gallery and self._on_current(path))
        self.views.currentChanged.connect(self._on_view_changed)
        self.browser.grid.selectionModel().selectionChanged.connect(self.reviews.update_ui)
        self.gallery.grid.selectionModel().selectionChanged.connect(self.reviews.update_ui)
        self.model.countsChanged.connect(self._update_actions)
        self.classification.targetChanged.connect(self._on_target)
        self.classification.cam_view.settingsChanged.connect(self._cam_settings)
        self.inspector.unsharpRequested.connect(self._on_unsharp)
        self.inspector.settingsChanged.connect(self._unsharp_settings)
        self.inspector_dock.visibilityChanged.connect(
            lambda visible: visible and self._distribution_timer.start())
        self.batch_bar.cancelRequested.connect(s.cancel_batch)
        self.sample_bar.actionTriggered.connect(self._info_action)
        self.model_bar.actionTriggered.connect(self._info_action)

        s.modelLoading.connect(self._on_model_loading)
        s.modelReady.connect(self._on_model_ready)
        s.modelFailed.connect(self._on_model_failed)
        s.listed.connect(self._on_listed)
        s.appended.connect(self.model.append_paths)
        s.listingDone.connect(self._on_listing_done)
        s.storedLoaded.connect(self._on_stored)
        s.batchStarted.connect(self._on_batch_started)
        s.resultsArrived.connect(self._on_results)
        s.batchFinished.connect(self._on_batch_finished)
        s.analysisReady.connect(self._on_analysis)
        s.analysisFailed.connect(self._on_analysis_failed)
        s.camReady.connect(self._on_cam)
        s.sharpenedReady.connect(self._on_sharpened)
        s.exported.connect(lambda path, n: self.show_message(
            f"Exported {n:,} rows to {path}", 10000))
        s.reportExported.connect(lambda csv_path, html: self.show_message(
            f"Case report written: {html} and {csv_path}", 15000))
        s.trainingExported.connect(lambda text: self.show_message(text, 15000))
        s.message.connect(self.show_message)

    # start-up ----------------------------------------------------------------------------------
    def start(self, folder: str | None = None) -> None:
        """Load the model and open a folder: the argument, the last one, or the samples."""
        self.session.load_model()
        if folder:
            self.open_path(folder)
            return
        last = self.settings.last_folder()
        if last and Path(last).is_dir():
            self.open_folder(last)
        else:
            self.open_samples()

    def show_message(self, text: str, timeout: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout)

    # opening -----------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self.session.label if Path(self.session.label).is_dir() else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of cell images", start)
        if folder:
            self.open_folder(folder)

    def choose_images(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Open cell images", str(Path.home()),
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
        if Path(folder) != samples_dir():
            self.settings.add_recent_folder(folder)
            self._rebuild_recent()
        self.session.open_sources([folder], folder)

    def open_images(self, files: list[str]) -> None:
        label = files[0] if len(files) == 1 else f"{len(files)} images"
        self.session.open_sources(files, label)

    def open_samples(self) -> None:
        self.session.open_sources([str(samples_dir())], str(samples_dir()))

    def _rebuild_recent(self) -> None:
        menu = self.actions.recent_menu
        menu.clear()
        recent = self.settings.recent_folders()
        for folder in recent:
            action = menu.addAction(folder)
            action.setData(folder)
        if recent:
            menu.addSeparator()
            menu.addAction("Clear list").setData("")
        menu.setEnabled(bool(recent))

    def _open_recent(self, action: QAction) -> None:
        folder = action.data()
        if not folder:
            self.settings.clear_recent_folders()
            self._rebuild_recent()
        elif Path(folder).is_dir():
            self.open_folder(folder)
        else:
            self.show_message(f"Folder not found: {folder}")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        folders = [p for p in paths if Path(p).is_dir()]
        if len(paths) == 1 and folders:
            self.open_folder(folders[0])
        else:
            usable = [p for p in paths if Path(p).is_dir() or is_image_path(p)]
            if usable:
                self.session.open_sources(usable, f"{len(usable)} dropped items")
        event.acceptProposedAction()

    def _on_listed(self, label: str, paths: list[str]) -> None:
        self._current = ""
        self._analysis = None
        self.model.set_paths(paths)
        is_samples = Path(label) == samples_dir()
        name = "Sample images" if is_samples else (Path(label).name or label)
        self.setWindowTitle(f"{name} – {APP_TITLE}")
        self.browser.set_empty_text("No images found here.\nOpen another folder (Ctrl+O) or "
                                    "drop one onto this window.")
        self.inspector.set_distribution([])
        self.sample_bar.hide()
        self.reviews.on_case(self.session.case)
        if paths:
            self.browser.select_row(0)
            self.browser.focus_grid()
        else:
            self.classification.clear("No images")
            self.inspector.clear("No images")
        self.show_message(f"Opening {label}…")
        self._update_actions()

    def _on_listing_done(self, label: str, count: int) -> None:
        if Path(label) == samples_dir():
            self.sample_bar.show_message(
                f"<b>Welcome!</b> {count} sample cells to try<br><span style='color:#64748b'>"
                "Matek et al. 2021, CC BY 4.0</span>", "info",
                (("classify", "Classify samples"), ("open", "Open folder…")))
        self.show_message(f"Opened {label}: {count:,} images")
        self._update_actions()

    def _on_stored(self, state: StoredState) -> None:
        self.model.update_results(state.results)
        self.model.set_reviews(self.reviews.not_changed_since(state.reviews, state.started))
        self._distribution_timer.start()
        classified = sum(1 for r in state.results if r.classified)
        if state.results:
            self.show_message(f"Restored {classified:,} stored classifications and "
                              f"{len(state.results):,} quality checks from the results store")
        self._refresh_current_known()

    # model -------------------------------------------------------------------------------------
    def _on_model_loading(self, path: str) -> None:
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
        self.model_status.setToolTip(classifier.device_name)
        if self._had_model:  # another model: its predictions come from the store, if any
            self.model.clear_results()
        self._had_model = True
        self.session.lookup()
        self._update_actions()
        self.reviews.schedule_refresh()
        if self._current:
            self._analysis_timer.start()

    def _on_model_failed(self, message: str) -> None:
        self.classification.set_model(None, message="No model loaded")
        self.actions.set_classes(self, (), ())
        self.model_status.setText("No model")
        self.model_status.setToolTip(message)
        self.model_bar.show_message(
            f"<b>No classification model.</b> {message}<br>You can still browse the images and "
            "check their quality.", "warning", (("settings", "Choose a model…"),))
        self._update_actions()
        if self._current:
            self._analysis_timer.start()

    # selection ---------------------------------------------------------------------------------
    def _on_current(self, path: str) -> None:
        self._current = path
        self._analysis = None
        if not path:
            self.classification.clear()
            self.inspector.clear()
            self.reviews.update_ui()
            return
        self._refresh_current_known()
        self.inspector.set_loading(self._item_quality(path))
        self._analysis_timer.start()

    def _item_quality(self, path: str):
        item = self.model.item_for(path)
        return item.quality if item is not None else None

    def _refresh_current_known(self) -> None:
        """Show the stored result of the current image until its analysis arrives."""
        item = self.model.item_for(self._current) if self._current else None
        if item is None or self._analysis is not None:
            self.reviews.update_ui()
            return
        probs = item.result.probabilities if item.classified else None
        self.classification.show_known(item.name, probs, item.error, item.reasons)
        self.reviews.update_ui()

    def _analyze_current(self) -> None:
        if self._current:
            self.session.analyze(self._current, self.classification.target_mode)

    def _on_analysis(self, analysis: Analysis) -> None:
        if analysis.path != self._current:
            return
        self._analysis = analysis
        self.model.update_results([analysis.result])
        self.model.set_reviews(self.reviews.not_changed_since({analysis.path: analysis.review},
                                                              analysis.started))
        name = os.path.basename(analysis.path)
        item = self.model.item_for(analysis.path)
        self.classification.set_analysis(name, analysis.display, analysis.probabilities,
                                         analysis.cam, analysis.class_index,
                                         item.reasons if item is not None else ())
        self.inspector.set_image(analysis.display, analysis.quality)
        self.reviews.update_ui()
        self._distribution_timer.start()

    def _on_analysis_failed(self, path: str, message: str) -> None:
        if path != self._current:
            return
        self.model.update_results([ImageResult.failed(path, message)])
        self.classification.show_known(os.path.basename(path), None, message)
        self.classification.cam_view.set_placeholder("Cannot show this image")
        self.inspector.clear(message)
        self.show_message(message)

    def _on_target(self, mode: str) -> None:
        a = self._analysis
        if a is None or a.probabilities is None or self.session.classifier is None:
            return
        index = tasks.resolve_target(a.probabilities, mode, self.session.classifier.spec.classes)
        self.session.explain(a, index)

    def _on_cam(self, class_index: int, cam) -> None:
        if self._analysis is not None:
            self._analysis.cam, self._analysis.class_index = cam, class_index
            self.classification.set_cam(cam, class_index)

    def _on_unsharp(self, amount: float) -> None:
        if self._analysis is not None:
            self.session.sharpen(self._analysis.display, amount)

    def _on_sharpened(self, amount: float, image) -> None:
        if self._analysis is not None and image.shape == self._analysis.display.shape:
            self.inspector.set_sharpened(image, amount)

    # reviews (see gui/review_controller.py) --------------------------------------------------
    def review(self, value: str) -> int:
        """CONFIRM, a class code, EXCLUDED or '' for the selected cells of the active view."""
        return self.reviews.review(value)

    def active_view(self) -> BrowserView | ClassGallery:
        return self.gallery if self.views.currentWidget() is self.gallery else self.browser

    def current_path(self) -> str:
        return self._current

    def current_analysis(self) -> Analysis | None:
        return self._analysis

    def _on_view_changed(self, _index: int) -> None:
        view = self.active_view()
        self.actions.show_gallery.setChecked(view is self.gallery)
        if view is self.gallery:
            self.gallery.refresh()
            if self._current and not self.gallery.select_path(self._current):
                self._on_current(self.gallery.current_path())
        elif self._current and not self.browser.select_path(self._current):
            self._on_current(self.browser.current_path())
        view.setFocus()

    # runs --------------------------------------------------------------------------------------
    def classify_folder(self) -> None:
        self.session.classify()

    def check_quality(self) -> None:
        self.session.classify(quality_only=True)

    def _on_batch_started(self, total: int, quality_only: bool) -> None:
        self.batch_bar.start(total, "Checking quality" if quality_only else "Classifying")
        self._set_running(True)

    def _on_results(self, results: list[ImageResult]) -> None:
        self.model.update_results(results)
        self.batch_bar.advance(self.session.batch_done)
        if not self._distribution_timer.isActive():
            self._distribution_timer.start()
        if self._analysis is None and self._current and any(
                r.path == self._current for r in results):
            self._refresh_current_known()

    def _on_batch_finished(self, summary: BatchSummary) -> None:
        self.batch_bar.finish()
        self._set_running(False)
        self._refresh_distribution()
        what = "Quality check" if summary.quality_only else "Classification"
        errors = f" · {summary.errors:,} unreadable" if summary.errors else ""
        if summary.error:
            text = f"{what} stopped after {summary.done:,} images: {summary.error}"
        elif summary.cancelled:
            text = f"{what} cancelled after {summary.done:,} of {summary.total:,} images{errors}"
        else:
            stored = summary.done - summary.computed
            restored = f" ({stored:,} from the results store)" if stored else ""
            text = (f"{what} of {summary.done:,} images done in "
                    f"{format_duration(summary.elapsed)}{restored}{errors}")
        self.show_message(text, 15000)
        if not summary.quality_only and not summary.cancelled:
            self.sample_bar.hide()

    def _set_running(self, running: bool) -> None:
        self.actions.cancel.setEnabled(running)
        self._update_actions()

    def _update_actions(self) -> None:
        running = self.session.batch_running
        has_images = self.model.total() > 0
        can_classify = self.session.classifier is not None or self.session.model_loading
        idle = not running and not self.session.listing
        self.actions.classify.setEnabled(has_images and idle and can_classify)
        self.actions.check_quality.setEnabled(has_images and idle)
        self.actions.export_csv.setEnabled(has_images)

    def _refresh_distribution(self) -> None:
        if self.inspector.isVisible() or not self.isVisible():
            self.inspector.set_distribution(self.model.sharpness_values())

    # export ------------------------------------------------------------------------------------
    def choose_export(self) -> None:
        label = Path(self.session.label)
        base = label if label.is_dir() else label.parent
        suggestion = str(Path.home() / f"{base.name or 'marrow'}_results.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV report", suggestion,
                                              "CSV files (*.csv)")
        if path:
            self.export_to(path if path.lower().endswith(".csv") else path + ".csv")

    def export_to(self, path: str) -> int:
        """Write the report of every image with a result (folder order); returns the rows."""
        rows = [item.result for item in self.model.items() if item.result is not None]
        missing = self.model.total() - len(rows)
        if not rows:
            self.show_message("Nothing to export yet: classify the folder first.")
            return 0
        if missing:
            self.show_message(f"{missing:,} images without results are left out of the report")
        self.session.export_csv(path, rows)
        return len(rows)

    # dialogs -----------------------------------------------------------------------------------
    def _info_action(self, key: str) -> None:
        if key == "classify":
            self.classify_folder()
        elif key == "open":
            self.choose_folder()
        elif key == "settings":
            self.show_settings()

    def show_settings(self) -> SettingsDialog:
        from marrow_desktop.inference.loader import torch_installed

        bundled = default_model_path()
        dialog = SettingsDialog(self.settings.preferences(), str(bundled), bundled.is_file(),
                                torch_installed(), str(self.settings.store_path()), self)
        dialog.accepted.connect(lambda: self.apply_preferences(dialog.preferences()))
        dialog.open()
        return dialog

    def apply_preferences(self, prefs) -> None:
        old = self.settings.preferences()
        self.settings.set_preferences(prefs)
        self._apply_preferences()
        if (prefs.model_path, prefs.backend) != (old.model_path, old.backend):
            self.session.load_model()
        if prefs.recursive != old.recursive and Path(self.session.label).is_dir():
            self.session.open_sources([self.session.label], self.session.label)

    def _apply_preferences(self) -> None:
        prefs = self.settings.preferences()
        review = self.settings.review_thresholds()
        self.model.set_thresholds(review, prefs.blur_threshold)
        self.inspector.set_thresholds(self.settings.thresholds())
        self.reviews.schedule_refresh()
        self._refresh_distribution()

    def about_info(self) -> AboutInfo:
        classifier = self.session.classifier
        return AboutInfo(version=__version__, flavour=bundle_flavour(),
                         model_card=tasks.model_card_text(self.session.spec),
                         credits=tasks.credits_text(),
                         device=classifier.device_name if classifier else "",
                         model_name=classifier.spec.name if classifier else "")

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.about_info(), self)
        dialog.open()
        return dialog

    # layout and closing ------------------------------------------------------------------------
    def _cam_settings(self, shown: bool, opacity: float) -> None:
        self.actions.toggle_cam.setChecked(shown)
        self.settings.set_value("ui/cam_shown", shown)
        self.settings.set_value("ui/cam_opacity", opacity)

    def _unsharp_settings(self, enabled: bool, amount: float, mode: str) -> None:
        self.actions.toggle_unsharp.setChecked(enabled)
        self.settings.set_value("ui/unsharp_amount", amount)
        self.settings.set_value("ui/unsharp_mode", mode)

    def _restore_ui_state(self) -> None:
        s = self.settings
        self.classification.cam_view.set_settings(bool(s.value("ui/cam_shown", True, bool)),
                                                  float(s.value("ui/cam_opacity", 0.45, float)))
        self.inspector.set_settings(False, float(s.value("ui/unsharp_amount", 1.0, float)),
                                    str(s.value("ui/unsharp_mode", "side", str)))
        self.browser.set_sort(str(s.value("ui/sort", "name", str)),
                              bool(s.value("ui/sort_descending", False, bool)))
        self.actions.advance.setChecked(bool(s.value("review/advance", True, bool)))
        geometry, state = s.window_state()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        if state is None or not self.restoreState(state):
            self.reset_layout()

    def reset_layout(self) -> None:
        for dock in (self.classification_dock, self.inspector_dock, self.differential_dock):
            dock.setFloating(False)
            dock.show()
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.classification_dock)
        self.splitDockWidget(self.classification_dock, self.inspector_dock,
                             Qt.Orientation.Horizontal)
        if self.differential_dock not in self.tabifiedDockWidgets(self.inspector_dock):
            self.tabifyDockWidget(self.inspector_dock, self.differential_dock)
        self.inspector_dock.raise_()
        width = max(self.width(), 1000)
        self.resizeDocks([self.classification_dock, self.inspector_dock],
                         [int(width * 0.33), int(width * 0.30)], Qt.Orientation.Horizontal)

    def save_ui_state(self) -> None:
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        key, descending = self.model.sort_key
        self.settings.set_value("ui/sort", key)
        self.settings.set_value("ui/sort_descending", descending)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self._closing = True
            self.save_ui_state()
            self.loader.shutdown()
            self.session.shutdown()
        super().closeEvent(event)

