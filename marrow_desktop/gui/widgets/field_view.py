"""The field view: a smear photograph with a box, in its class colour, around every cell found
in it. Wheel zooms, dragging pans, double-click toggles fit/100% (ImageCanvas); clicking a box
picks that cell; with "Add cell" on, dragging draws a box around a cell the search missed;
Delete removes the picked cell (a false detection), "Restore" brings it back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPen, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.gui.theme import class_color
from marrow_desktop.gui.widgets.image_canvas import ImageCanvas

#: Shortest side (screen pixels) of a drawn box that counts as a box, not a click.
MIN_DRAG_PX = 8


@dataclass(frozen=True)
class FieldBox:
    """One cell of the field as drawn: its path, box in source pixels, class and state."""

    path: str
    box: tuple[int, int, int, int]
    code: str  # the class shown (reviewed, else predicted; '' = not classified yet)
    removed: bool = False
    reviewed: bool = False


class FieldCanvas(ImageCanvas):
    """The photograph and its boxes; emits the cell clicked and the boxes drawn."""

    boxClicked = Signal(str)  # cell path
    boxDrawn = Signal(int, int, int, int)  # x, y, w, h in source pixels

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, "Select a field photograph, or one of its cells")
        self.boxes: list[FieldBox] = []
        self.current = ""
        self.source_scale = 1.0  # shown-image pixels per source pixel
        self.adding = False
        self._press: QPointF | None = None
        self._rubber: QRectF | None = None
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    def set_boxes(self, boxes: list[FieldBox], current: str) -> None:
        self.boxes, self.current = boxes, current
        self.update()

    # source pixels <-> widget ------------------------------------------------------------------
    def _factor(self) -> float:
        """Widget pixels per source pixel."""
        image = self.image()
        rect = self.image_rect()
        if image is None or rect.isEmpty():
            return 0.0
        return rect.width() / image.width() * self.source_scale

    def to_widget(self, box: tuple[int, int, int, int]) -> QRectF:
        f, rect = self._factor(), self.image_rect()
        x, y, w, h = box
        return QRectF(rect.left() + x * f, rect.top() + y * f, w * f, h * f)

    def to_source(self, point: QPointF) -> tuple[float, float]:
        f, rect = self._factor(), self.image_rect()
        return (point.x() - rect.left()) / f, (point.y() - rect.top()) / f

    def box_at(self, point: QPointF) -> str:
        """The cell whose box holds the point (the smallest, then the nearest centre)."""
        hits = [(b.box[2] * b.box[3], (self.to_widget(b.box).center() - point).manhattanLength(),
                 b.path) for b in self.boxes if self.to_widget(b.box).contains(point)]
        return min(hits)[2] if hits else ""

    # mouse ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.image() is not None:
            self._press = event.position()
            if self.adding:
                self._rubber = QRectF(self._press, self._press)
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.adding and self._press is not None:
            self._rubber = QRectF(self._press, event.position()).normalized()
            self.update()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        press, adding = self._press, self._rubber is not None
        self._press = self._rubber = None
        super().mouseReleaseEvent(event)
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        moved = (event.position() - press).manhattanLength()
        rubber = QRectF(press, event.position()).normalized()
        if adding and min(rubber.width(), rubber.height()) >= MIN_DRAG_PX:
            (x0, y0), (x1, y1) = self.to_source(rubber.topLeft()), \
                self.to_source(rubber.bottomRight())
            self.boxDrawn.emit(round(x0), round(y0), max(1, round(x1 - x0)),
                               max(1, round(y1 - y0)))
            self.update()
        elif moved < MIN_DRAG_PX:
            path = self.box_at(event.position())
            if path:
                self.boxClicked.emit(path)
        self.update()

    # painting ------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.image() is None or self._factor() <= 0:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for b in self.boxes:
            rect = self.to_widget(b.box)
            colour = QColor("#94a3b8") if b.removed or not b.code else class_color(b.code)
            width = 3.0 if b.path == self.current else 1.6
            pen = QPen(colour, width)
            if b.removed:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(rect)
            if b.path == self.current:
                painter.setPen(QPen(QColor("#ffffff"), 1))
                painter.drawRect(rect.adjusted(-3, -3, 3, 3))
            label = "removed" if b.removed else (b.code or "…") + (" ✓" if b.reviewed else "")
            painter.setPen(colour)
            painter.drawText(QRectF(rect.left(), rect.top() - 15, 90, 14),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, label)
        if self._rubber is not None:
            painter.setPen(QPen(QColor("#2563eb"), 1.5, Qt.PenStyle.DashLine))
            painter.drawRect(self._rubber)


class FieldView(QWidget):
    """The field canvas with its tools: Add cell, Remove/Restore, Fit, and a summary line."""

    cellPicked = Signal(str)  # cell path
    addRequested = Signal(int, int, int, int)  # box drawn (source pixels)
    removeRequested = Signal(str, bool)  # cell path, removed (False: restore)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = FieldCanvas()
        self.summary = QLabel(objectName="muted")
        self.summary.setWordWrap(True)
        self.add_button = QPushButton("Add cell", checkable=True)
        self.add_button.setToolTip("Drag a box around a cell the search missed (A)")
        self.remove_button = QPushButton("Remove cell")
        self.remove_button.setToolTip("Delete the selected box: not a nucleated cell (Delete); "
                                      "recorded in the audit trail")
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole field (F); double-click: 100%")
        tools = QHBoxLayout()
        tools.setContentsMargins(0, 0, 0, 0)
        for button in (self.add_button, self.remove_button, self.fit_button):
            tools.addWidget(button)
        tools.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(tools)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.summary)
        self.add_button.toggled.connect(self._set_adding)
        self.remove_button.clicked.connect(self._remove_current)
        self.fit_button.clicked.connect(self.canvas.reset_view)
        self.canvas.boxClicked.connect(self.cellPicked)
        self.canvas.boxDrawn.connect(self._drawn)
        for key, slot in ((QKeySequence.StandardKey.Delete, self._remove_current),
                          (QKeySequence("A"), self.add_button.toggle),
                          (QKeySequence("F"), self.canvas.reset_view)):
            shortcut = QShortcut(key, self.canvas)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)
        self.path = ""
        self._editable = True
        self.show_field("", None, 1.0, [], "")

    def show_field(self, path: str, display: np.ndarray | None, scale: float,
                   boxes: list[FieldBox], current: str, summary: str = "") -> None:
        """A field (display copy at `scale` display pixels per source pixel) and its boxes."""
        if path != self.path or display is not None:
            self.canvas.source_scale = scale
            if display is None:
                self.canvas.set_placeholder("Select a field photograph, or one of its cells"
                                            if not path else "Loading the field…")
            else:
                self.canvas.set_image(display, "", keep_view=path == self.path)
        self.path = path
        self.canvas.set_boxes(boxes, current)
        self.summary.setText(summary)
        self._update_buttons()

    def set_boxes(self, boxes: list[FieldBox], current: str, summary: str) -> None:
        self.canvas.set_boxes(boxes, current)
        self.summary.setText(summary)
        self._update_buttons()

    def set_editable(self, editable: bool, why: str = "") -> None:
        """Cells can be added and removed (not after sign-off: `why` says so)."""
        self._editable = editable
        for button in (self.add_button, self.remove_button):
            button.setToolTip(button.toolTip().split("\n")[0] + (f"\n{why}" if why else ""))
        if not editable:
            self.add_button.setChecked(False)
        self._update_buttons()

    def _current_box(self) -> FieldBox | None:
        return next((b for b in self.canvas.boxes if b.path == self.canvas.current), None)

    def _update_buttons(self) -> None:
        has_image = self.canvas.image() is not None
        self.add_button.setEnabled(self._editable and has_image)
        box = self._current_box()
        self.remove_button.setText("Restore cell" if box is not None and box.removed
                                   else "Remove cell")
        self.remove_button.setEnabled(self._editable and box is not None)

    def _set_adding(self, on: bool) -> None:
        self.canvas.adding = on
        self.canvas.setCursor(Qt.CursorShape.CrossCursor) if on else self.canvas.unsetCursor()

    def _drawn(self, x: int, y: int, w: int, h: int) -> None:
        self.add_button.setChecked(False)
        self.addRequested.emit(x, y, w, h)

    def _remove_current(self) -> None:
        box = self._current_box()
        if box is not None and self._editable:
            self.removeRequested.emit(box.path, not box.removed)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.add_button.isChecked():
            self.add_button.setChecked(False)
            return
        super().keyPressEvent(event)
