"""The window's own dialogs: settings, about, messages, keyboard help and unexpected errors.
Built from what the window and session hold; slow data (the model list) comes from a worker."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from marrow_desktop import __version__
from marrow_desktop.core.paths import bundle_flavour
from marrow_desktop.gui import tasks
from marrow_desktop.gui.widgets.about_dialog import AboutDialog, AboutInfo
from marrow_desktop.gui.widgets.error_dialog import ErrorDialog
from marrow_desktop.gui.widgets.image_viewer import ImageViewer
from marrow_desktop.gui.widgets.keyboard_help import KeyboardHelp
from marrow_desktop.gui.widgets.messages_dialog import MessagesDialog
from marrow_desktop.gui.widgets.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from marrow_desktop.gui.main_window import MainWindow


class WindowDialogs(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: QWidget | None = None  # the last dialog opened (tests use it)
        a = window.actions
        a.settings.triggered.connect(self.show_settings)
        a.about.triggered.connect(self.show_about)
        a.messages.triggered.connect(self.show_messages)
        a.keyboard_help.triggered.connect(self.show_keyboard_help)
        a.full_image.triggered.connect(self.show_full_image)
        window.errors.unexpected.connect(self.show_error)
        window.selection.changed.connect(lambda _path: self._follow_selection())
        window.session.analysisReady.connect(lambda _analysis: self._follow_selection())
        self.viewer: ImageViewer | None = None

    def _open(self, dialog: QWidget) -> None:
        self.dialog = dialog
        dialog.open()

    def show_settings(self) -> SettingsDialog:
        from marrow_desktop.core.model_registry import list_models, remove_user_model
        from marrow_desktop.inference.loader import torch_installed

        w = self.window
        dialog = SettingsDialog(w.settings.preferences(), [], torch_installed(),
                                str(w.settings.store_path()), w)
        dialog.accepted.connect(lambda: w.apply_preferences(dialog.preferences()))

        def refresh() -> None:
            w.session.tasks.submit(list_models, on_result=dialog.set_models,
                                   on_error=lambda exc: w.errors.report(exc, "Models"))

        def remove(name: str) -> None:
            w.session.tasks.submit(remove_user_model, name, on_result=lambda _r: refresh(),
                                   on_error=lambda exc: w.errors.report(exc, "Remove"))
        dialog.removeModelRequested.connect(remove)
        refresh()
        self._open(dialog)
        return dialog

    def about_info(self) -> AboutInfo:
        session = self.window.session
        classifier = session.classifier
        return AboutInfo(version=__version__, flavour=bundle_flavour(),
                         model_card=tasks.model_card_text(session.spec),
                         credits=tasks.credits_text(),
                         device=classifier.device_name if classifier else "",
                         model_name=classifier.spec.name if classifier else "")

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.about_info(), self.window)
        self._open(dialog)
        return dialog

    def show_messages(self) -> MessagesDialog:
        dialog = MessagesDialog(self.window.errors.messages, self.window)
        self.window.errors.logged.connect(dialog.add)
        self._open(dialog)
        return dialog

    def show_keyboard_help(self) -> KeyboardHelp:
        dialog = KeyboardHelp(self.window.actions, self.window)
        self._open(dialog)
        return dialog

    def show_full_image(self) -> ImageViewer:
        if self.viewer is None:
            self.viewer = ImageViewer(self.window)
        self.viewer.show()
        self._follow_selection()
        self.viewer.raise_()
        return self.viewer

    def _follow_selection(self) -> None:
        if self.viewer is None or not self.viewer.isVisible():
            return
        analysis = self.window.selection.analysis
        current = analysis if analysis is not None \
            and analysis.path == self.window.selection.path else None
        self.viewer.show_image(os.path.basename(current.path) if current else "",
                               current.full if current else None)

    def show_error(self, line: str, details: str) -> ErrorDialog:
        dialog = ErrorDialog(line, details, self.window)
        self._open(dialog)
        return dialog
