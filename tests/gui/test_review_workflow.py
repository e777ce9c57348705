"""The review workflow end to end in the main window, on the bundled model and the 21 samples.

The bundled model's predictions for the samples are recorded in its metadata (info.selftest),
so the differential below is computed by hand from them: AI counts BLA 3 (BLA_00872,
BLA_00893, MON_00893), EOS 3, LYT 2, MON 3, NGS 3, PMO 3 = 17 counted cells, NIF 4 not counted.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from marrow_desktop.core.paths import DEFAULT_MODEL
from marrow_desktop.core.review import EXCLUDED, case_id_for
from marrow_desktop.gui.widgets.differential_table import HEADERS
from tests.cli.helpers import read_report_html
from tests.gui.helpers import run_batch, wait_listed


@pytest.fixture
def window(qtbot, make_window, app_settings, image_folder):
    prefs = app_settings.preferences()
    prefs.backend = "onnx"  # the bundled model (model_path '')
    prefs.reviewer = "Dr. Test"
    app_settings.set_preferences(prefs)
    window = make_window(app_settings, image_folder, reviewer="Dr. Test")
    wait_listed(qtbot, window, 21)
    qtbot.waitUntil(lambda: window.session.handle is not None, timeout=5000)
    run_batch(qtbot, window)
    window.actions.advance.setChecked(False)
    window.differential_dock.raise_()  # tabbed behind the inspector at first
    qtbot.waitUntil(window.differential.isVisible, timeout=3000)
    window.reviews.refresh_counts()
    return window


def _path(window, name: str) -> str:
    return next(p for p in window.model.paths() if p.endswith(name))


def _table(window) -> dict[str, list[str]]:
    table = window.differential.table
    rows = {}
    for r in range(table.rowCount()):
        texts = [table.text(r, c) for c in range(len(HEADERS))]
        rows[texts[0]] = texts
    return rows


def _activate(qtbot, window) -> None:
    """Shortcuts need the window active (a closed dialog leaves none active offscreen)."""
    if not window.isActiveWindow():
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.browser.grid.setFocus()


def _key(qtbot, window, key: Qt.Key) -> None:
    _activate(qtbot, window)
    with qtbot.waitSignal(window.session.reviewsSaved, timeout=5000):
        qtbot.keyClick(window.browser.grid, key)


def test_keyboard_review_is_stored_with_its_audit_trail(qtbot, window):
    path = _path(window, "MON_00893.jpg")  # the model says BLA
    window.browser.select_path(path)
    _key(qtbot, window, Qt.Key.Key_4)  # the 4th class of the model: MON
    item = window.model.item_for(path)
    assert item.review == "MON" and item.review_state == "corrected"
    _key(qtbot, window, Qt.Key.Key_Return)  # confirm the model's BLA
    assert item.review == "BLA" and item.review_state == "confirmed"
    _key(qtbot, window, Qt.Key.Key_0)  # not classified: out of the count
    assert item.review == EXCLUDED
    _key(qtbot, window, Qt.Key.Key_Backspace)
    assert item.review == ""

    store, case = window.session.handle.reader(), window.session.case_id
    trail = store.trail(case, item.sha256)
    assert [(e.previous, e.new) for e in trail] == [
        ("", "MON"), ("MON", "BLA"), ("BLA", EXCLUDED), (EXCLUDED, "")]
    assert {e.who for e in trail} == {"Dr. Test"}
    assert {e.model_name for e in trail} == {DEFAULT_MODEL}
    assert all(e.model_sha256 == window.session.model_sha256 for e in trail)
    assert store.verify_case(case).ok


def test_digits_typed_into_the_search_field_do_not_review(qtbot, window):
    window.browser.select_path(_path(window, "BLA_00851.jpg"))
    window.browser.search.setFocus()
    qtbot.keyClicks(window.browser.search, "1")
    qtbot.wait(100)
    assert window.browser.search.text() == "1"
    assert window.model.reviewed_count() == 0


def test_differential_and_intervals_match_hand_computed_values(qtbot, window):
    d = window.reviews.current_differential()
    assert (d.ai_total, d.final_total, d.not_counted) == (18, 18, {"NIF": 3})
    rows = _table(window)
    assert rows["BLA"][4] == "3 · 16.7%"
    # Wilson 95% for 3/18: centre (0.16667 + 0.10671) / 1.21341 = 0.22529, half 0.16693
    assert rows["BLA"][5] == "5.8–39.2"
    assert window.differential.blast_value.text() == "16.7%"

    window.browser.select_path(_path(window, "MON_00893.jpg"))
    _key(qtbot, window, Qt.Key.Key_4)  # BLA -> MON
    window.browser.select_path(_path(window, "LYT_00872.jpg"))
    _key(qtbot, window, Qt.Key.Key_0)  # excluded
    window.reviews.refresh_counts()
    rows = _table(window)
    # final: BLA 2, MON 5, LYT 2 of 17 counted; 2/17: centre (0.11765 + 0.11298) / 1.22597
    # = 0.18812, half 0.15524
    assert rows["Total"][4] == "17"
    assert rows["BLA"][4] == "2 · 11.8%" and rows["BLA"][5] == "3.3–34.3"
    assert rows["MON"][4] == "5 · 29.4%" and rows["LYT"][4] == "2 · 11.8%"
    assert rows["MON"][3] == "1 · 100.0%"  # the only counted reviewed cell
    assert window.differential.blast_value.text() == "11.8%"
    assert "17 of 200" in window.differential.progress.format()


def test_review_queue_lists_uncertain_cells_first(qtbot, window):
    needs, unreviewed = window.model.queue_counts()
    assert needs == unreviewed > 0
    assert f"{unreviewed} of {needs}" in window.browser.queue_label.text().replace("<b>", "") \
        .replace("</b>", "")
    assert "92.2% correct" in window.differential.queue_detail.text()  # validation figure
    window.actions.next_in_queue.trigger()
    first = window.browser.current_path()
    assert window.model.needs_review(window.model.item_for(first))
    _key(qtbot, window, Qt.Key.Key_Return)
    assert window.model.queue_counts() == (needs, unreviewed - 1)
    assert window.reviews.next_in_queue() not in ("", first)


def test_gallery_drop_relabels_cells(qtbot, window):
    window.views.setCurrentWidget(window.gallery)
    paths = [_path(window, "BLA_00851.jpg"), _path(window, "LYT_00851.jpg")]
    with qtbot.waitSignal(window.session.reviewsSaved, timeout=5000):
        window.gallery.reclassifyRequested.emit(paths, "EOS")
    assert [window.model.item_for(p).review for p in paths] == ["EOS", "EOS"]
    qtbot.waitUntil(lambda: window.gallery.gallery.counts().get("EOS") == 5, timeout=3000)


def test_sign_off_freezes_the_case_until_reopened(qtbot, window):
    path = _path(window, "BLA_00851.jpg")
    window.browser.select_path(path)
    _key(qtbot, window, Qt.Key.Key_1)
    with qtbot.waitSignal(window.cases.dialogOpened, timeout=5000) as opened:
        window.cases.sign_off()
    dialog = opened.args[0]
    assert "18 cells counted" in dialog.summary.text()
    assert "needing review are not reviewed" in dialog.warning.text()  # the queue is not done
    assert "18 of the 200 target cells counted" in dialog.warning.text()
    assert dialog.name() == "Dr. Test"
    dialog.name_edit.setText("Dr. Ada Lovelace")
    assert not dialog.ok_button.isEnabled()  # unmet criteria need an override reason
    dialog.override_edit.setText("teaching case, partial count")
    assert dialog.new_key() and not dialog.ok_button.isEnabled()  # no key yet: choose one
    dialog.passphrase_edit.setText("s3cret passphrase")
    dialog.repeat_edit.setText("s3cret passphrase")
    with qtbot.waitSignal(window.session.caseChanged, timeout=5000):
        dialog.accept()
    assert window.session.signed and window.case_bar.isVisible()
    assert not window.classification.review.confirm_button.isEnabled()
    _activate(qtbot, window)
    qtbot.keyClick(window.browser.grid, Qt.Key.Key_2)  # refused, and the user is told why
    qtbot.wait(200)
    assert window.model.item_for(path).review == "BLA"
    assert "reopen the case" in window.statusBar().currentMessage()
    assert window.reviews.review("EOS") == 0  # the menu / panel path is refused too
    store, case = window.session.handle.reader(), window.session.case_id
    assert store.reviews(case)[window.model.item_for(path).sha256].label == "BLA"

    with qtbot.waitSignal(window.cases.dialogOpened, timeout=5000) as opened:
        window.cases.reopen()
    dialog = opened.args[0]
    dialog.name_edit.setText("Dr. Ada Lovelace")
    assert not dialog.new_key() and dialog.repeat_edit.isHidden()  # her key exists now
    dialog.passphrase_edit.setText("a wrong guess")
    assert not dialog.ok_button.isEnabled()  # a reason is required
    dialog.note_edit.setPlainText("late correction")
    assert dialog.ok_button.isEnabled()
    with qtbot.waitSignal(window.cases.dialogOpened, timeout=5000) as opened:
        dialog.accept()  # the wrong passphrase: asked again, with the reason and the note kept
    dialog = opened.args[0]
    assert "wrong passphrase" in dialog.error.text()
    assert dialog.note_edit.toPlainText() == "late correction" and window.session.signed
    dialog.passphrase_edit.setText("s3cret passphrase")
    with qtbot.waitSignal(window.session.caseChanged, timeout=5000):
        dialog.accept()
    assert not window.session.signed
    _key(qtbot, window, Qt.Key.Key_2)
    assert window.model.item_for(path).review == "EOS"
    actions = [e.action for e in store.trail(case)]
    assert actions == ["model", "review", "sign_off", "reopen", "review"]
    assert store.trail(case)[2].who == "Dr. Ada Lovelace"
    assert "OVERRIDE: teaching case, partial count" in store.trail(case)[2].note
    assert "needing review" in store.trail(case)[2].note
    assert store.trail(case)[3].note == "late correction"
    check = store.verify_case(case)
    assert check.ok and len(check.signed) == 2 and not check.notes  # both signed, key known


def test_audit_dialog_reports_a_tampered_store(qtbot, window, data_dir):
    window.browser.select_path(_path(window, "BLA_00851.jpg"))
    _key(qtbot, window, Qt.Key.Key_1)
    _key(qtbot, window, Qt.Key.Key_2)
    with qtbot.waitSignal(window.session.trailReady, timeout=5000):
        window.cases.show_trail()
    assert "intact" in window.cases.dialog.status.text()
    assert len(window.cases.dialog.entries) == 3  # the case's model, then two reviews
    window.cases.dialog.close()
    window.browser.select_path(_path(window, "BLA_00872.jpg"))
    _key(qtbot, window, Qt.Key.Key_3)
    window.browser.select_path(_path(window, "BLA_00851.jpg"))
    assert window.classification.review.history_button.isEnabled()
    with qtbot.waitSignal(window.session.trailReady, timeout=5000):
        window.classification.review.history_button.click()
    history = window.cases.dialog
    assert [(e.previous, e.new) for e in history.entries] == [("", "BLA"), ("BLA", "EOS")]
    assert "BLA_00851.jpg" in history.windowTitle()
    history.close()

    db = sqlite3.connect(window.session.handle.case_path)  # the case file in the folder
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET who = 'mallory' WHERE seq = 1")
    db.commit()
    db.close()
    with qtbot.waitSignal(window.session.trailReady, timeout=5000):
        window.cases.show_trail()
    assert "BROKEN" in window.cases.dialog.status.text()


def test_exported_report_numbers_match_the_csv(qtbot, window, tmp_path):
    window.browser.select_path(_path(window, "MON_00893.jpg"))
    _key(qtbot, window, Qt.Key.Key_4)  # BLA -> MON
    window.browser.select_path(_path(window, "NGS_00851.jpg"))
    _key(qtbot, window, Qt.Key.Key_0)  # excluded
    out = tmp_path / "report"
    with qtbot.waitSignal(window.session.exports.reportExported, timeout=15000) as exported:
        window.cases.export_report(str(out))
    pdf = Path(exported.args[2])
    assert pdf == out / "report.pdf" and pdf.read_bytes().startswith(b"%PDF")
    assert "Open PDF" in [b.text() for b in window.export_bar.buttons]
    with open(out / "cells.csv", newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    page = read_report_html(out / "report.html")
    assert len(rows) == 21
    finals = [r["final_class"] for r in rows]
    counted = [c for c in finals if c not in (EXCLUDED, "NIF")]
    assert int(page.ids["final-total"]["text"].strip().replace(",", "")) == len(counted) == 17
    for code in ("BLA", "EOS", "LYT", "MON", "NGS", "PMO"):
        cell = page.cells[(code, "final-count")]
        assert int(float(cell["data-value"])) == counted.count(code)
    assert page.cells[("BLA", "final-count")]["data-value"].startswith("2")
    reviewed = {Path(r["path"]).name: (r["reviewed_class"], r["reviewer"]) for r in rows
                if r["reviewed_class"]}
    assert reviewed == {"MON_00893.jpg": ("MON", "Dr. Test"),
                        "NGS_00851.jpg": (EXCLUDED, "Dr. Test")}
    assert page.ids["audit"]["data-status"] == "intact"
    folder = case_id_for([str(Path(rows[0]["path"]).parent)])
    assert window.session.handle.folder == folder and window.session.handle.in_folder


def test_training_set_export_takes_reviewed_cells_only(qtbot, window, tmp_path):
    window.browser.select_path(_path(window, "MON_00893.jpg"))
    _key(qtbot, window, Qt.Key.Key_4)
    window.browser.select_path(_path(window, "EOS_00851.jpg"))
    _key(qtbot, window, Qt.Key.Key_Return)
    window.browser.select_path(_path(window, "NGS_00851.jpg"))
    _key(qtbot, window, Qt.Key.Key_0)
    out = tmp_path / "train"
    with qtbot.waitSignal(window.session.exports.trainingExported, timeout=15000):
        window.cases.export_training(str(out))
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert files == ["EOS/EOS_00851.jpg", "MON/MON_00893.jpg"]
    assert (out / "manifest.csv").is_file()


def test_a_late_store_answer_does_not_undo_a_newer_review(qtbot, window):
    from marrow_desktop.core.review import Review
    from marrow_desktop.gui.case_tasks import StoredState

    path = _path(window, "BLA_00851.jpg")
    cid = window.model.item_for(path).cell_id
    stale = StoredState(reviews={cid: Review("EOS", "x", "")})  # read before the review below
    window.browser.select_path(path)
    _key(qtbot, window, Qt.Key.Key_4)
    window.folders._on_stored(stale)
    assert window.model.item_for(path).review == "MON"
    window.folders._on_stored(StoredState(reviews={cid: Review("LYT", "x", "")}))  # read after
    assert window.model.item_for(path).review == "LYT"  # it: the store's word
