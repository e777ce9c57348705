"""The field view's behaviour: shows the field of the current cell (a field photograph, or a
cell found in one) with its cells' boxes, picks the cell whose box is clicked, and adds or
removes cells by hand (recorded in the case's audit trail)."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QDockWidget

from marrow_desktop.core.case import CaseChange, Cell
from marrow_desktop.core.cells import box_of
from marrow_desktop.core.fields import hand_box
from marrow_desktop.gui import tasks
from marrow_desktop.gui.review_controller import ReviewController, signed_text
from marrow_desktop.gui.session import Session
from marrow_desktop.gui.tasks import FieldPicture
from marrow_desktop.gui.widgets.field_view import FieldBox, FieldView


class FieldWindow(Protocol):
    def select_cell(self, path: str) -> None: ...
    def show_message(self, text: str, timeout: int = 8000) -> None: ...


class FieldController(QObject):
    def __init__(self, session: Session, view: FieldView, dock: QDockWidget,
                 reviews: ReviewController, window: FieldWindow,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.view, self.dock = session, view, dock
        self.reviews, self.window = reviews, window
        self.field_path = ""  # the field shown
        self.current = ""  # the current cell
        self.picture: FieldPicture | None = None
        self._refresh = QTimer(self, singleShot=True, interval=100)
        self._refresh.timeout.connect(self.refresh_boxes)
        session.case.subscribe(self._on_case)
        session.caseChanged.connect(lambda _info: self._update_editable())
        view.cellPicked.connect(window.select_cell)
        view.addRequested.connect(self.add_cell)
        view.removeRequested.connect(self.remove_cell)

    # following the current cell ----------------------------------------------------------------
    def set_current(self, path: str) -> None:
        """Show the field of the current cell; with no current cell (the browser's rows were
        re-made) the field shown stays."""
        self.current = path
        if not path:
            return
        case = self.session.case
        cell = case.cell(path) if path else None
        field = None
        if cell is not None:
            field = cell if cell.is_field else case.field_of(cell)
        if field is None:
            if self.field_path:
                self.field_path, self.picture = "", None
                self.view.show_field("", None, 1.0, [], "", "The current image is not a field "
                                     "photograph.")
            return
        if field.path != self.field_path:
            self.field_path, self.picture = field.path, None
            self.view.show_field(field.path, None, 1.0, [], path)
            self.session.tasks.submit(tasks.field_picture, field.path, channel="field",
                                      on_result=self._on_picture,
                                      on_error=lambda exc: self.view.show_field(
                                          field.path, None, 1.0, [], "", f"Cannot show the "
                                          f"field: {exc}"))
            if not self.dock.isVisible() or self.dock.visibleRegion().isEmpty():
                self.dock.show()
                self.dock.raise_()
        self.refresh_boxes()

    def _on_picture(self, picture: FieldPicture) -> None:
        if picture.path != self.field_path:
            return
        self.picture = picture
        boxes, summary = self._boxes()
        self.view.show_field(picture.path, picture.display, picture.scale, boxes, self.current,
                             summary)
        self._update_editable()

    def _boxes(self) -> tuple[list[FieldBox], str]:
        cells = [c for c in self.session.case.field_cells(self.field_path) if not c.stale]
        boxes = [FieldBox(c.path, box_of(c.region), c.effective_class,  # type: ignore[arg-type]
                          c.removed, bool(c.review)) for c in cells]
        shown = [c for c in cells if not c.removed]
        removed = len(cells) - len(shown)
        reviewed = sum(1 for c in shown if c.review)
        field = self.session.case.cell(self.field_path)
        name = field.name if field is not None else self.field_path
        summary = (f"{name}: {len(shown)} cell{'s' if len(shown) != 1 else ''}"
                   f"{f', {removed} removed' if removed else ''}, {reviewed} reviewed"
                   f"{self._scale_text(shown)}. Click a box to open its cell; Delete removes "
                   "it; Add cell draws one.")
        return boxes, summary

    @staticmethod
    def _scale_text(cells: list[Cell]) -> str:
        for c in cells:
            extra = c.result.extra if c.result is not None else {}
            if extra.get("um_per_px"):
                return f" · {extra['um_per_px']:.3g} µm/px ({extra.get('scale_source', '')})"
        return ""

    def refresh_boxes(self) -> None:
        self._refresh.stop()
        if self.field_path:
            boxes, summary = self._boxes()
            self.view.set_boxes(boxes, self.current, summary)

    def _on_case(self, change: CaseChange) -> None:
        if not self.field_path:
            return
        if change.kind == "reset":
            self.field_path, self.picture = "", None
            self.view.show_field("", None, 1.0, [], "")
            return
        cells = change.cells
        if cells is None or any(c.path == self.field_path or c.path.startswith(
                self.field_path + "#") for c in cells):
            self._refresh.start()

    def _update_editable(self) -> None:
        s = self.session
        self.view.set_editable(not s.signed, f"{signed_text(s.info)}: reopen the case to "
                               "change its cells." if s.signed else "")

    # changes by hand -----------------------------------------------------------------------------
    def _can_change(self) -> bool:
        s = self.session
        if s.signed:
            self.window.show_message(f"{signed_text(s.info)}: reopen the case to change its "
                                     "cells (Review ▸ Reopen Case).")
            return False
        if not self.reviews.reviewer_known():
            self.reviews.ask_reviewer()
            self.window.show_message("Give your name for the audit trail, then try again.")
            return False
        return True

    def _field_side(self) -> int | None:
        """The side of the field's found boxes (the model's crop at the field's scale)."""
        for c in self.session.case.field_cells(self.field_path):
            box = box_of(c.region)
            extra = c.result.extra if c.result is not None else {}
            if box is not None and extra.get("scale_source") not in (None, "by hand"):
                return box[2]
        return None

    def add_cell(self, x: int, y: int, w: int, h: int) -> str:
        """A cell the search missed, boxed at the field's crop size around what was drawn."""
        if not self.field_path or not self._can_change():
            return ""
        box = hand_box((x, y, w, h), self._field_side())
        path = self.session.add_cell(self.field_path, box, self.reviews.settings.reviewer())
        if path:
            self.window.select_cell(path)
            self.window.show_message("Cell added (recorded in the audit trail); it is being "
                                     "classified.")
        return path

    def remove_cell(self, path: str, removed: bool = True) -> None:
        field = self.field_path
        if not field or not self._can_change():
            return
        self.session.remove_cell(path, self.reviews.settings.reviewer(), removed)
        self.window.select_cell(field if removed else path)
        self.refresh_boxes()
        self.window.show_message(("Cell removed from the count" if removed else
                                  "Cell restored") + " (recorded in the audit trail).")
