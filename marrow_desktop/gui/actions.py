"""The main window's actions, menus and toolbar (declared here; connected in main_window)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QToolButton

from marrow_desktop.gui import theme


class Actions:
    """Every QAction of the window, created once, parented to the window."""

    def __init__(self, window: QMainWindow) -> None:
        def make(text: str, shortcut: str | QKeySequence.StandardKey | None = None,
                 icon: str = "", tip: str = "", checkable: bool = False,
                 more_keys: tuple[str, ...] = ()) -> QAction:
            action = QAction(theme.icon(icon) if icon else theme.icon("__none__"), text, window)
            if shortcut is not None:
                action.setShortcuts([QKeySequence(shortcut),
                                     *(QKeySequence(k) for k in more_keys)])
            if tip:
                action.setStatusTip(tip)
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                action.setToolTip(f"{tip} ({keys})" if keys else tip)
            action.setCheckable(checkable)
            action.setIconText(text.replace("&", "").replace("…", ""))
            window.addAction(action)
            return action

        self.open_folder = make("Open &Folder…", QKeySequence.StandardKey.Open, "folder-open",
                                "Open a folder of cell images")
        self.open_images = make("Open &Images…", "Ctrl+Shift+O", "images",
                                "Open one or more image files")
        self.open_samples = make("Open &Sample Images", None, "samples",
                                 "Show the 21 bundled sample cells")
        self.export_csv = make("&Export CSV…", "Ctrl+E", "export",
                               "Write the results and reviews as a CSV report")
        self.export_report = make("Export Case &Report…", "Ctrl+Shift+E", "export",
                                  "Write the case report: per-cell CSV and a one-page summary")
        self.export_training = make("Export &Training Set…", None, "",
                                    "Copy reviewed cells into class folders for marrow train")
        self.quit = make("&Quit", QKeySequence.StandardKey.Quit)
        self.classify = make("&Classify Folder", "Ctrl+R", "classify",
                             "Classify every image of the open folder")
        self.check_quality = make("Check &Quality", "Ctrl+Shift+R", "quality",
                                  "Measure sharpness, brightness and stain of every image")
        self.cancel = make("Ca&ncel Run", "Esc", "stop", "Stop the running batch")
        self.confirm = make("&Confirm Prediction", "Return", "confirm",
                            "Mark the selected cells' predicted class as right",
                            more_keys=("Enter", "Ctrl+Return"))
        self.exclude = make("&Not Classified (Exclude)", "0", "",
                            "Leave the selected cells out of the differential count")
        self.pick_class = make("&Pick Class…", "P", "", "Assign any class of the model")
        self.clear_review = make("C&lear Review", "Backspace", "clear",
                                 "Remove the review of the selected cells",
                                 more_keys=("Ctrl+0",))
        self.next_in_queue = make("&Next to Review", "N", "",
                                  "Select the next cell that needs review")
        self.cell_history = make("Cell &History…", "Ctrl+Shift+H", "",
                                 "Every label change of the current cell")
        self.audit_trail = make("&Audit Trail…", None, "",
                                "Every label change of this case, and whether the trail is intact")
        self.sign_off = make("&Sign Off Case…", "Ctrl+Shift+S", "confirm",
                             "Sign the case: its labels are frozen")
        self.reopen = make("R&eopen Case…", None, "", "Reopen a signed-off case to amend it")
        self.undo = make("&Undo Review", QKeySequence.StandardKey.Undo, "",
                         "Take back the last label change (recorded in the audit trail)")
        self.redo = make("&Redo Review", QKeySequence.StandardKey.Redo, "",
                         "Make the label change again (recorded in the audit trail)",
                         more_keys=("Ctrl+Shift+Z",))
        self.case_details = make("Case &Details…", "Ctrl+I", "",
                                 "Patient or sample identifier, accession, specimen, clinician, "
                                 "comment")
        self.adapt = make("&Adapt Model to This Lab…", None, "",
                          "Fit the model to this laboratory's reviewed cells")
        self.messages = make("&Messages…", None, "", "Every message of this session")
        self.keyboard_help = make("&Keyboard Shortcuts…", "F1", "",
                                  "Every shortcut of the window", more_keys=("?",))
        self.show_gallery = make("&Gallery by Class", "Ctrl+G",
                                 tip="Thumbnails grouped by class", checkable=True)
        self.advance = make("&Next Image After Review", tip="After confirming or correcting "
                            "one image, select the next", checkable=True)
        self.toggle_cam = make("&Heat Map", "H", tip="Show or hide the Grad-CAM overlay",
                               checkable=True)
        self.toggle_unsharp = make("&Unsharp Mask", "U", tip="Show a sharpened copy",
                                   checkable=True)
        self.full_image = make("&Full-Size Image…", "F", tip="The current cell at full "
                               "resolution in its own window (zoom and pan)")
        self.focus_browser = make("Focus &Browser", "Ctrl+B")
        self.reset_layout = make("&Reset Layout")
        self.settings = make("&Settings…", QKeySequence.StandardKey.Preferences, "settings",
                             "Backend, model, batch size and thresholds")
        if self.settings.shortcut().isEmpty():
            self.settings.setShortcut(QKeySequence("Ctrl+,"))
        self.about = make("&About Marrow Desktop", None, "info", "Version, model card, credits")
        self.about.setIconText("About")
        self.export_report.setIconText("Report")
        self.sign_off.setIconText("Sign Off")
        self.cancel.setIconText("Cancel")
        self.correct_to: list[QAction] = []
        self.recent_menu = QMenu("Open &Recent", window)
        self.correct_menu = QMenu("Correct &To", window)
        self.view_menu: QMenu | None = None
        self.cancel.setEnabled(False)
        self.toggle_cam.setChecked(True)

    def apply(self, enabled: dict[str, bool]) -> None:
        """Enable actions by name (gui/enablement.enabled_actions)."""
        for name, on in enabled.items():
            if name == "correct_to":
                for action in self.correct_to:
                    action.setEnabled(on)
                self.correct_menu.menuAction().setEnabled(on and bool(self.correct_to))
            else:
                getattr(self, name).setEnabled(on)

    def set_recent(self, folders: list[str]) -> None:
        """The Open Recent submenu (and a Clear entry); disabled while empty."""
        menu = self.recent_menu
        menu.clear()
        for folder in folders:
            menu.addAction(folder).setData(folder)
        if folders:
            menu.addSeparator()
            menu.addAction("Clear List").setData("")
        menu.menuAction().setEnabled(bool(folders))

    def set_classes(self, window: QMainWindow, classes: tuple[str, ...],
                    names: tuple[str, ...]) -> None:
        """One 'Correct to' action per class: keys 1 … 9 (and Ctrl+1 … Ctrl+9)."""
        for action in self.correct_to:
            window.removeAction(action)
            action.deleteLater()
        self.correct_to = []
        self.correct_menu.clear()
        for i, (code, name) in enumerate(zip(classes, names)):
            action = QAction(f"{code} – {name}", window)
            action.setData(code)
            if i < 9:
                action.setShortcuts([QKeySequence(str(i + 1)), QKeySequence(f"Ctrl+{i + 1}")])
            window.addAction(action)
            self.correct_menu.addAction(action)
            self.correct_to.append(action)
        self.correct_menu.menuAction().setEnabled(bool(classes))

    def build_menus(self, window: QMainWindow) -> None:
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open_folder, self.open_images])
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.open_samples)
        file_menu.addSeparator()
        file_menu.addActions([self.export_csv, self.export_report, self.export_training])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        run_menu = bar.addMenu("&Analyze")
        run_menu.addActions([self.classify, self.check_quality, self.cancel])
        review_menu = bar.addMenu("&Review")
        review_menu.addAction(self.confirm)
        review_menu.addMenu(self.correct_menu)
        review_menu.addActions([self.pick_class, self.exclude, self.clear_review])
        review_menu.addSeparator()
        review_menu.addActions([self.undo, self.redo])
        review_menu.addSeparator()
        review_menu.addActions([self.next_in_queue, self.advance])
        review_menu.addSeparator()
        review_menu.addActions([self.cell_history, self.audit_trail])
        review_menu.addSeparator()
        review_menu.addActions([self.case_details, self.sign_off, self.reopen])
        review_menu.addSeparator()
        review_menu.addAction(self.adapt)
        self.view_menu = bar.addMenu("&View")
        self.view_menu.addActions([self.show_gallery, self.toggle_cam, self.toggle_unsharp,
                                   self.full_image, self.focus_browser, self.messages])
        self.view_menu.addSeparator()
        tools = bar.addMenu("&Tools")
        tools.addAction(self.settings)
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.keyboard_help, self.about])

    def build_toolbar(self, window: QMainWindow) -> QToolBar:
        toolbar = QToolBar("Main toolbar", window)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([self.open_folder, self.open_images])
        toolbar.addSeparator()
        toolbar.addAction(self.classify)
        button = toolbar.widgetForAction(self.classify)
        if isinstance(button, QToolButton):
            button.setObjectName("primaryAction")
        toolbar.addActions([self.check_quality, self.cancel])
        toolbar.addSeparator()
        toolbar.addAction(self.export_report)
        toolbar.addSeparator()
        toolbar.addAction(self.sign_off)
        toolbar.addSeparator()
        toolbar.addActions([self.settings, self.about])
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        return toolbar
