"""The window's layout and view settings: restored at start, saved on close, reset on request
(docks on the right: classification beside the quality inspector, the differential count
and the field view tabbed with it), and the Grad-CAM and unsharp-mask choices remembered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

if TYPE_CHECKING:
    from marrow_desktop.gui.main_window import MainWindow

DEFAULT_SIZE = (1280, 800)


class WindowLayout(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        window.actions.reset_layout.triggered.connect(self.reset)
        window.classification.cam_view.settingsChanged.connect(self._cam_settings)
        window.inspector.settingsChanged.connect(self._unsharp_settings)

    def _cam_settings(self, shown: bool, opacity: float) -> None:
        w = self.window
        w.actions.toggle_cam.setChecked(shown)
        w.settings.set_ui("cam_shown", shown)
        w.settings.set_ui("cam_opacity", opacity)

    def _unsharp_settings(self, enabled: bool, amount: float, mode: str) -> None:
        w = self.window
        w.actions.toggle_unsharp.setChecked(enabled)
        w.settings.set_ui("unsharp_amount", amount)
        w.settings.set_ui("unsharp_mode", mode)

    def restore(self) -> None:
        w, s = self.window, self.window.settings
        w.classification.cam_view.set_settings(bool(s.ui("cam_shown")),
                                               float(s.ui("cam_opacity")))
        w.inspector.set_settings(False, float(s.ui("unsharp_amount")), str(s.ui("unsharp_mode")))
        w.browser.set_sort(str(s.ui("sort")), bool(s.ui("sort_descending")))
        w.actions.advance.setChecked(bool(s.ui("advance")))
        w.differential.set_target(w.reviews.target)
        geometry, state = s.window_state()
        if geometry is None or not w.restoreGeometry(geometry):
            w.resize(*DEFAULT_SIZE)
        if state is None or not w.restoreState(state):
            self.reset()

    def reset(self) -> None:
        w = self.window
        docks = (w.classification_dock, w.inspector_dock, w.differential_dock, w.field_dock)
        for dock in docks:
            dock.setFloating(False)
            dock.show()
        w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, w.classification_dock)
        w.splitDockWidget(w.classification_dock, w.inspector_dock, Qt.Orientation.Horizontal)
        for dock in (w.differential_dock, w.field_dock):
            if dock not in w.tabifiedDockWidgets(w.inspector_dock):
                w.tabifyDockWidget(w.inspector_dock, dock)
        w.inspector_dock.raise_()
        width = max(w.width(), 1000)
        w.resizeDocks([w.classification_dock, w.inspector_dock],
                      [int(width * 0.33), int(width * 0.30)], Qt.Orientation.Horizontal)

    def save(self) -> None:
        w = self.window
        w.settings.set_window_state(w.saveGeometry(), w.saveState())
        key, descending = w.model.sort_key
        w.settings.set_ui("sort", key)
        w.settings.set_ui("sort_descending", descending)
        w.settings.sync()
