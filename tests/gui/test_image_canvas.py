"""Zoom and pan on the cell image, and the full-size viewer following the selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from marrow_desktop.core.imageio import load_image
from marrow_desktop.gui.widgets.image_canvas import MAX_ZOOM, ImageCanvas
from tests.gui.helpers import wait_listed


def _wheel(canvas: ImageCanvas, at: QPointF, notches: int) -> None:
    event = QWheelEvent(at, canvas.mapToGlobal(at), QPoint(), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


def test_wheel_zooms_at_the_pointer_drag_pans_double_click_fits(qtbot, sample_paths: list[Path]):
    canvas = ImageCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    canvas.set_image(load_image(sample_paths[0]).rgb, "BLA")
    fit = canvas.image_rect()
    point = QPointF(fit.left() + fit.width() * 0.25, fit.top() + fit.height() * 0.25)
    _wheel(canvas, point, 3)
    assert canvas.zoom == np.float64(1.25 ** 3)
    zoomed = canvas.image_rect()
    assert zoomed.width() > fit.width() * 1.9
    # the image point under the pointer stayed under it
    assert abs((point.x() - zoomed.left()) / zoomed.width() - 0.25) < 0.01
    left = zoomed.left()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(150, 150))
    qtbot.mouseMove(canvas, QPoint(200, 150))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    assert canvas.image_rect().left() > left  # dragged right: the image moved right
    assert canvas.image_rect().left() <= 2  # but never leaves an empty margin
    _wheel(canvas, point, 40)
    assert canvas.zoom == MAX_ZOOM
    qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(150, 150))
    assert canvas.zoom == 1.0 and canvas.image_rect() == fit
    qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(150, 150))
    assert canvas.zoom >= 2.0
    canvas.set_image(load_image(sample_paths[1]).rgb)  # another cell: fitted again
    assert canvas.zoom == 1.0


def test_full_size_viewer_follows_the_selection(qtbot, make_window, app_settings,
                                                image_folder):
    prefs = app_settings.preferences()
    prefs.backend = "onnx"
    app_settings.set_preferences(prefs)
    window = make_window(app_settings, image_folder)
    wait_listed(qtbot, window, 21)
    qtbot.waitUntil(lambda: window.selection.analysis is not None, timeout=20000)
    viewer = window.dialogs.show_full_image()
    qtbot.waitUntil(lambda: viewer.canvas.image() is not None, timeout=10000)
    first = viewer.windowTitle()
    full = window.selection.analysis.full
    assert viewer.canvas.image().width() == full.shape[1]
    with qtbot.waitSignal(window.session.analysisReady, timeout=10000):
        window.browser.select_row(1)
    qtbot.waitUntil(lambda: viewer.windowTitle() != first, timeout=5000)
    assert Path(window.selection.path).name in viewer.windowTitle()
