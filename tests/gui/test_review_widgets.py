"""Review widgets: the gallery by class, the differential panel, the audit dialog, the class
picker and the sign-off dialog, on real sample images and hand-made counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QDialog

from marrow_desktop.core import audit
from marrow_desktop.core.differential import differential
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import EXCLUDED, Review
from marrow_desktop.core.store import CaseInfo
from marrow_desktop.core.taxonomy import BONE_MARROW_CLASSES, SHIPPED_CLASSES
from marrow_desktop.gui.thumbnails import ThumbnailLoader
from marrow_desktop.gui.widgets.audit_dialog import AuditDialog
from marrow_desktop.gui.widgets.class_gallery import ClassGallery
from marrow_desktop.gui.widgets.class_picker import ClassPicker
from marrow_desktop.gui.widgets.differential_panel import DifferentialPanel
from marrow_desktop.gui.widgets.gallery_model import PATHS_MIME, decode_paths, encode_paths
from marrow_desktop.gui.widgets.sign_off_dialog import SignOffDialog
from marrow_desktop.gui.widgets.thumbnail_model import UNCLASSIFIED, ThumbnailModel


def _result(path: str, top: str, confidence: float) -> ImageResult:
    probs = np.full(len(SHIPPED_CLASSES), (1 - confidence) / (len(SHIPPED_CLASSES) - 1),
                    np.float32)
    probs[SHIPPED_CLASSES.index(top)] = confidence
    return ImageResult(path=path, content_sha256=path, classes=SHIPPED_CLASSES,
                       probabilities=probs)


@pytest.fixture
def cells(qtbot, sample_paths: list[Path]):
    """A shared ThumbnailModel over 8 real images: 3 BLA, 2 LYT, 1 EOS, 1 NGS, 1 unclassified."""
    loader = ThumbnailLoader()
    model = ThumbnailModel(loader)
    paths = [str(p) for p in sample_paths[:8]]
    model.set_paths(paths)
    predictions = [("BLA", 0.9), ("BLA", 0.4), ("BLA", 0.65), ("LYT", 0.8), ("LYT", 0.55),
                   ("EOS", 0.7), ("NGS", 0.99)]
    model.update_results([_result(p, c, conf) for p, (c, conf) in zip(paths, predictions)])
    gallery = ClassGallery(model)
    qtbot.addWidget(gallery)
    gallery.set_classes(SHIPPED_CLASSES)
    gallery.refresh()
    yield model, gallery, paths
    loader.shutdown()


def test_gallery_groups_by_class_least_certain_first(cells):
    _model, gallery, paths = cells
    counts = gallery.gallery.counts()
    assert counts["BLA"] == 3 and counts["LYT"] == 2 and counts[UNCLASSIFIED] == 1
    assert gallery.keys()[-2:] == [EXCLUDED, UNCLASSIFIED]
    gallery.show_class("BLA")
    assert gallery.gallery.paths() == [paths[1], paths[2], paths[0]]  # 0.4, 0.65, 0.9
    assert gallery.current_path() == paths[1]  # least certain cell first
    gallery.show_class(UNCLASSIFIED)
    assert gallery.gallery.paths() == [paths[7]]
    assert "1 cell" in gallery.title.text()


def test_gallery_follows_reviews_debounced(qtbot, cells):
    model, gallery, paths = cells
    gallery.show_class("BLA")
    gallery.select_path(paths[0])
    model.set_reviews({paths[3]: "BLA", paths[2]: EXCLUDED})
    assert gallery.gallery.paths() == [paths[1], paths[2], paths[0]]  # not yet: debounced
    qtbot.waitUntil(lambda: len(gallery.gallery.paths()) == 3
                    and paths[3] in gallery.gallery.paths(), timeout=3000)
    assert paths[2] not in gallery.gallery.paths()
    assert gallery.current_path() == paths[0]  # the selection survived the re-grouping
    assert gallery.gallery.counts()[EXCLUDED] == 1


def test_gallery_current_moves_on_when_the_cell_leaves(qtbot, cells):
    model, gallery, paths = cells
    gallery.show_class("BLA")
    assert gallery.current_path() == paths[1]
    with qtbot.waitSignal(gallery.currentPathChanged) as blocker:
        model.set_reviews({paths[1]: "LYT"})
        gallery.refresh()
    assert blocker.args == [paths[2]]  # the next cell took its place
    assert gallery.select_path(paths[1])  # switches to the cell's class
    assert gallery.current_class() == "LYT"


def test_gallery_drag_and_drop_asks_to_reclassify(qtbot, cells):
    _model, gallery, paths = cells
    gallery.show()
    gallery.show_class("BLA")
    grid, selection = gallery.grid, gallery.grid.selectionModel()
    selection.select(gallery.gallery.index(2), selection.SelectionFlag.Select)
    assert gallery.selected_paths() == [paths[1], paths[0]]
    indexes = selection.selectedIndexes()
    mime = grid.model().mimeData(indexes)
    assert mime.hasFormat(PATHS_MIME)
    assert sorted(decode_paths(mime)) == sorted([paths[0], paths[1]])

    with qtbot.waitSignal(gallery.reclassifyRequested) as blocker:
        assert gallery.drop_paths(encode_paths([paths[0], paths[1]]), "LYT")
    assert blocker.args == [[paths[0], paths[1]], "LYT"]
    assert not gallery.drop_paths(encode_paths([paths[0]]), UNCLASSIFIED)

    # the class list's own drop handler, on the 'Excluded' row
    class_list = gallery.class_list
    row = gallery.keys().index(EXCLUDED)
    pos = class_list.visualItemRect(class_list.item(row)).center()
    assert class_list.target_key(pos) == EXCLUDED
    dropped = encode_paths([paths[2]])  # kept alive: the event does not own it
    event = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, dropped,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(gallery.reclassifyRequested) as blocker:
        class_list.dropEvent(event)
    assert blocker.args == [[paths[2]], EXCLUDED]
    own = class_list.visualItemRect(class_list.item(gallery.keys().index("BLA"))).center()
    assert class_list.target_key(own) == ""  # dropping on the class shown does nothing


def _row(panel: DifferentialPanel, code: str) -> int:
    return next(r for r in range(panel.table.rowCount()) if panel.table.text(r, 0) == code)


def test_differential_panel_numbers(qtbot):
    panel = DifferentialPanel()
    qtbot.addWidget(panel)
    cells = [("BLA", "")] * 8 + [("NGS", "")] * 10 + [("LYT", "NGS")] * 2 + [("NIF", "")] * 3 \
        + [("LYT", EXCLUDED)]
    d = differential(cells, SHIPPED_CLASSES, 200)
    panel.set_differential(d)
    assert panel.blast_value.text() == "40.0%"
    assert "21.9–61.3" in panel.blast_interval.text()
    assert panel.blast_chip.isHidden()  # 20 counted cells: too few for an alarm colour
    assert "only 20 of the 50 cells" in panel.blast_interval.text()
    assert "20%" in panel.blast_box.toolTip()
    assert panel.progress.format() == "20 of 200 cells counted"
    bla, nif = _row(panel, "BLA"), _row(panel, "NIF")
    assert panel.table.text(bla, 4) == "8 · 40.0%"
    assert panel.table.text(bla, 5) == "21.9–61.3"
    assert panel.table.text(bla, 2) == "8 · 38.1%"  # AI: the excluded cell counts
    assert panel.table.text(nif, 5) == "not counted"
    assert panel.table.foreground(nif, 0).name() == "#94a3b8"
    total = panel.table.rowCount() - 1
    assert panel.table.text(total, 0) == "Total"
    assert panel.table.text(total, 4) == "20"
    assert "1 excluded" in panel.counts_label.text() and "NIF 3" in panel.counts_label.text()

    with qtbot.assertNotEmitted(panel.targetChanged):
        panel.set_target(500)
    assert panel.target() == 500 and panel.progress.format() == "20 of 500 cells counted"
    with qtbot.waitSignal(panel.targetChanged) as blocker:
        panel.target_box.setCurrentIndex(panel.target_box.findData(300))
    assert blocker.args == [300]

    panel.set_queue(14, 3, "confidence < 70%")
    assert "14" in panel.queue_label.text() and "3" in panel.queue_label.text()
    panel.set_signed("Signed off by anna on 2025-05-02 14:03")
    assert not panel.signed_banner.isHidden()
    panel.set_signed("")
    assert panel.signed_banner.isHidden()


def test_differential_panel_blast_levels(qtbot):
    panel = DifferentialPanel()
    qtbot.addWidget(panel)
    panel.set_differential(differential([("BLA", "")] * 4 + [("NGS", "")] * 56, SHIPPED_CLASSES))
    assert panel.blast_chip.text().startswith("≥ 5%")
    panel.set_differential(differential([("BLA", "")] * 15 + [("NGS", "")] * 45, SHIPPED_CLASSES))
    assert panel.blast_chip.text().startswith("≥ 20%")
    # header and table come from the same count
    bla = _row(panel, "BLA")
    assert panel.blast_value.text() == "25.0%" == panel.table.text(bla, 4).split(" · ")[1]
    panel.set_differential(differential([("BLA", "")] * 3 + [("NGS", "")] * 10, SHIPPED_CLASSES))
    assert panel.blast_chip.isHidden() and panel.blast_value.text() == "23.1%"
    panel.set_differential(differential([("NGS", "")] * 40, SHIPPED_CLASSES))
    assert panel.blast_value.text() == "0.0%" and panel.blast_chip.isHidden()
    panel.set_differential(differential([], SHIPPED_CLASSES))
    assert panel.blast_value.text() == "–"
    panel.set_differential(None)
    assert panel.table.rowCount() == 0


def _trail() -> list[audit.AuditEntry]:
    entries: list[audit.AuditEntry] = []
    prev = audit.GENESIS
    rows = [dict(action=audit.REVIEW, sha256="aa", path="/case/BLA_1.jpg", new="BLA"),
            dict(action=audit.REVIEW, sha256="bb", path="/case/LYT_2.jpg", new=EXCLUDED),
            dict(action=audit.SIGN_OFF, note="done")]
    for i, row in enumerate(rows, start=1):
        entry = audit.AuditEntry(seq=i, case_id="/case", prev_hash=prev, who="anna",
                                 at=f"2025-05-02T12:0{i}:00.000000+00:00",
                                 model_name="rexnet150", model_sha256="3fa2c1d0" * 8, **row)
        entry = audit.AuditEntry(**{**entry.__dict__, "row_hash": entry.computed_hash()})
        entries.append(entry)
        prev = entry.row_hash
    return entries


def test_audit_dialog_rows_and_status(qtbot):
    entries = _trail()
    at = [e.at for e in entries]
    case = CaseInfo("/case", at[0], entries[-1].row_hash, 3, "anna", at[2], "done")
    reviews = {"aa": Review("BLA", "anna", at[0]), "bb": Review(EXCLUDED, "anna", at[1])}
    good = audit.verify(entries, case, reviews)
    dialog = AuditDialog(entries, good)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 3
    assert dialog.table.item(0, 4).text() == "BLA_1.jpg"
    assert dialog.table.item(1, 5).text() == "— → excluded"
    assert dialog.table.item(2, 3).text() == "Sign-off"
    assert dialog.table.item(0, 6).text() == "rexnet150 · 3fa2c1d0"
    assert "intact" in dialog.status.text() and "#b45309" in dialog.status.styleSheet()
    assert "entry 3 (sign-off by anna) is not signed with a key" in dialog.status.text()
    assert dialog.as_tsv().count("\n") == 4

    broken = audit.verify(entries[:2], case, {"aa": reviews["aa"]})
    assert not broken.ok
    dialog = AuditDialog(entries, broken, cell="/case/LYT_2.jpg")
    qtbot.addWidget(dialog)
    assert "BROKEN" in dialog.status.text() and "#b91c1c" in dialog.status.styleSheet()
    assert broken.problems[0] in dialog.status.text()
    assert dialog.table.rowCount() == 1 and "LYT_2.jpg" in dialog.windowTitle()


def test_class_picker_filter_and_accept(qtbot):
    classes = sorted(BONE_MARROW_CLASSES)
    picker = ClassPicker(classes, current="BLA")
    qtbot.addWidget(picker)
    assert picker.chosen() == "BLA"  # starts on the current class
    picker.set_filter("lymph")
    assert picker.visible_codes() == ["LYI", "LYT"]
    qtbot.keyClick(picker.filter, Qt.Key.Key_Down)
    assert picker.chosen() == "LYT"
    picker.accept()
    assert picker.result() == QDialog.DialogCode.Accepted and picker.chosen() == "LYT"

    picker = ClassPicker(classes)
    qtbot.addWidget(picker)
    picker.set_filter("exclude")
    assert picker.chosen() == EXCLUDED
    picker.set_filter("zzz")
    assert picker.chosen() is None and not picker.ok_button.isEnabled()
    picker.accept()
    assert picker.result() != QDialog.DialogCode.Accepted
    picker.set_filter("mon")
    qtbot.keyClick(picker.filter, Qt.Key.Key_Return)
    assert picker.result() == QDialog.DialogCode.Accepted and picker.chosen() == "MON"


def test_sign_off_dialog_needs_a_name(qtbot):
    dialog = SignOffDialog("212 cells counted", "", warning="3 cells not reviewed")
    qtbot.addWidget(dialog)
    assert not dialog.ok_button.isEnabled() and dialog.ok_button.text() == "Sign off"
    assert not dialog.warning.isHidden()
    dialog.name_edit.setText("  anna ")
    dialog.passphrase_edit.setText("short")
    dialog.repeat_edit.setText("short")
    assert not dialog.ok_button.isEnabled()  # a new key needs 8 characters
    dialog.passphrase_edit.setText("long enough")
    assert not dialog.ok_button.isEnabled()  # and the same passphrase twice
    dialog.repeat_edit.setText("long enough")
    assert dialog.ok_button.isEnabled() and dialog.name() == "anna" and dialog.note() == ""

    reopen = SignOffDialog("Signed off by anna", "bob", reopen=True, signers=frozenset({"bob"}))
    qtbot.addWidget(reopen)
    assert reopen.windowTitle() == "Reopen signed-off case"
    reopen.passphrase_edit.setText("x")  # bob's key exists: any passphrase may be tried
    assert not reopen.ok_button.isEnabled()  # a reason is required
    reopen.note_edit.setPlainText("second opinion")
    assert reopen.ok_button.isEnabled() and reopen.note() == "second opinion"


def test_gallery_drops_a_closed_folder_at_once(cells, sample_paths: list[Path]):
    model, gallery, _paths = cells
    gallery.show_class("BLA")
    assert not gallery.grid._drag_pixmap(gallery.gallery.index(0), 3).isNull()
    model.set_paths([str(sample_paths[-1])])  # another folder: old cells must not linger
    assert gallery.gallery.paths() == []
    assert gallery.gallery.counts() == {UNCLASSIFIED: 1}
