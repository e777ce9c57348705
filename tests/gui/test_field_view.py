"""Field photographs in the viewer: their cells are found, listed after them, boxed in the field
view, opened by a click, reviewed with the same keys, removed or added by hand (audited),
counted in the differential and listed in the report, and kept with the case on reopening."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from marrow_desktop.core import audit
from tests.conftest import REPO, copy_images
from tests.gui.helpers import run_batch, wait_analysis, wait_listed

FIELDS = REPO / "resources" / "fields"


@pytest.fixture
def field_folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    return copy_images(sorted(FIELDS.glob("*.jpg")) + sample_paths[:2], tmp_path / "smear")


def _open_field(qtbot, window, path: str) -> None:
    window.select_cell(path)
    qtbot.waitUntil(lambda: window.fields.picture is not None
                    and window.fields.picture.path == path, timeout=15000)


def _centre(window, cell) -> QPoint:
    box = next(b for b in window.field_view.canvas.boxes if b.path == cell.path)
    return window.field_view.canvas.to_widget(box.box).center().toPoint()


def _trail(window) -> list:
    return window.session.handle.reader().trail(window.session.case_id)


def test_a_field_photographs_cells_are_cells_of_the_case(qtbot, make_window, model_settings,
                                                         field_folder: Path,
                                                         tmp_path: Path) -> None:
    window = make_window(model_settings, field_folder)
    wait_listed(qtbot, window, 5)
    summary = run_batch(qtbot, window)
    assert summary.done == 5 and summary.searched == 3 and summary.found == 3
    assert summary.fields == 0  # searched, so not flagged as one cell
    case = window.session.case
    field = str(field_folder / "BloodImage_00000.jpg")
    assert case.cell(field).is_field and not case.cell(field).classified
    (cell,) = case.field_cells(field)
    assert cell.classified and cell.region
    rows = [window.model.item(r).path for r in range(window.model.rowCount())]
    assert rows[rows.index(field) + 1] == cell.path  # listed right after its field
    assert case.differential().cells == 5  # 3 found cells + 2 single-cell images

    # the field view boxes the cell; a click opens it in the classification panel
    _open_field(qtbot, window, field)
    assert "1 cell" in window.field_view.summary.text()
    assert [b.path for b in window.field_view.canvas.boxes] == [cell.path]
    qtbot.mouseClick(window.field_view.canvas, Qt.MouseButton.LeftButton,
                     pos=_centre(window, cell))
    assert window.selection.path == cell.path
    wait_analysis(qtbot, window, cell.path)
    np.testing.assert_allclose(window.selection.analysis.probabilities,
                               cell.result.probabilities, atol=1e-4)  # as the batch saw it
    assert window.selection.analysis.display.shape[:2] == (250, 250)  # the cell, not the field

    # reviewed with the same keys as any cell
    window.activateWindow()
    window.browser.grid.setFocus()
    with qtbot.waitSignal(window.session.reviewsSaved, timeout=5000):
        qtbot.keyClick(window.browser.grid, Qt.Key.Key_Return)
    assert cell.review == cell.predicted
    assert window.session.handle.reader().review(window.session.case_id, cell.cell_id)

    # a false detection is removed (audited), no longer listed or counted
    other_field = str(field_folder / "BloodImage_00193.jpg")
    (false,) = case.field_cells(other_field)
    _open_field(qtbot, window, other_field)
    window.select_cell(false.path)
    qtbot.waitUntil(lambda: window.field_view.remove_button.isEnabled(), timeout=5000)
    window.field_view.remove_button.click()
    qtbot.waitUntil(lambda: _trail(window)[-1].action == audit.REMOVE_CELL, timeout=5000)
    assert false.removed and case.differential().cells == 4
    assert window.model.row_of(false.path) == -1
    assert window.field_view.remove_button.text() == "Restore cell" or \
        window.fields.current == other_field

    # a missed cell is added by drawing a box (audited) and classified
    canvas = window.field_view.canvas
    window.field_view.add_button.setChecked(True)
    start = canvas.to_widget((40, 40, 10, 10)).topLeft().toPoint()
    end = canvas.to_widget((120, 120, 10, 10)).topLeft().toPoint()
    with qtbot.waitSignal(window.session.batchFinished, timeout=30000):
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(canvas, end)
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)
    added = [c for c in case.field_cells(other_field) if not c.removed]
    assert len(added) == 1 and added[0].classified
    x, y, w, h = (int(v) for v in added[0].region.split(","))
    assert w == h == false.result.extra["box"][2]  # the field's crop size, centred on the box
    tolerance = 2 / canvas._factor() + 1  # screen pixels are rounded
    assert abs(x + w / 2 - 80) < tolerance and abs(y + h / 2 - 80) < tolerance
    assert _trail(window)[-1].action == audit.ADD_CELL
    assert _trail(window)[-1].path == added[0].path
    assert case.differential().cells == 5
    assert window.session.handle.reader().verify_case(window.session.case_id).ok

    # the report lists the found cells with their field and box; the removed one is not in it
    with qtbot.waitSignal(window.session.exports.reportExported, timeout=15000):
        window.cases.export_report(str(tmp_path / "report"))
    with open(tmp_path / "report" / "cells.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    boxes = {(Path(r["source_path"]).name, r["box_x"]) for r in rows if r["box_x"]}
    assert len(boxes) == 3 and ("BloodImage_00193.jpg", str(x)) in boxes
    assert ("BloodImage_00193.jpg", str(false.result.extra["box"][0])) not in boxes
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "3 cells found in 3 field photographs" in html
    reviewed = cell.path
    window.close()

    # opened again: the removed cell stays removed, the added one and the review come back
    again = make_window(model_settings, field_folder)
    case = again.session.case
    # the found cells, their reviews and the hand changes are back as soon as the store is
    # read, before any run
    qtbot.waitUntil(lambda: case.cell(added[0].path) is not None
                    and case.cell(reviewed) is not None and case.cell(reviewed).review
                    and case.cell(reviewed).classified, timeout=15000)
    assert case.cell(false.path).removed and case.differential().cells == 5
    run_batch(qtbot, again)
    assert case.cell(false.path).removed
    assert case.cell(added[0].path) is not None and case.cell(added[0].path).classified
    assert case.cell(reviewed).review
    assert case.differential().cells == 5


def test_a_signed_case_refuses_changes_to_its_cells(qtbot, make_window, model_settings,
                                                    field_folder: Path) -> None:
    window = make_window(model_settings, field_folder)
    wait_listed(qtbot, window, 5)
    run_batch(qtbot, window)
    field = str(field_folder / "BloodImage_00000.jpg")
    _open_field(qtbot, window, field)
    (cell,) = window.session.case.field_cells(field)
    window.session.info = dataclasses.replace(window.session.info, signed_by="dr a",
                                              signed_at="2026-12-02T10:00:00")
    window.fields._update_editable()
    assert not window.field_view.add_button.isEnabled()
    window.fields.remove_cell(cell.path)
    assert not cell.removed and "reopen the case" in window.errors.messages[-1].text


def test_with_the_search_off_a_field_is_one_flagged_image(qtbot, make_window, model_settings,
                                                          field_folder: Path) -> None:
    prefs = model_settings.preferences()
    prefs.find_cells = False
    model_settings.set_preferences(prefs)
    window = make_window(model_settings, field_folder)
    wait_listed(qtbot, window, 5)
    summary = run_batch(qtbot, window)
    assert summary.fields == 3 and summary.found == 0
    assert "Find cells in field photographs" in window.errors.messages[-1].text
    assert not window.session.case.has_fields


def test_a_new_scale_replaces_the_cells_found_before(qtbot, make_window, model_settings,
                                                     field_folder: Path) -> None:
    window = make_window(model_settings, field_folder)
    wait_listed(qtbot, window, 5)
    run_batch(qtbot, window)
    case = window.session.case
    field = str(field_folder / "BloodImage_00000.jpg")
    (before,) = case.field_cells(field)
    prefs = model_settings.preferences()
    prefs.um_per_px = 0.05  # the user's camera scale: larger boxes
    model_settings.set_preferences(prefs)
    run_batch(qtbot, window)
    cells = case.field_cells(field)
    assert len(cells) == 2 and before.stale and not cells[1].stale
    assert cells[1].result.extra["scale_source"] == "given"
    assert window.model.row_of(before.path) == -1
    assert case.differential().cells == 5
