"""What a reviewer expects beyond labelling, in the main window: undo/redo, the reviewer's name,
case details, a case that travels with its folder, the lab-shift banner and adapting the model,
the message log and the error dialog, and that every failure signal has a receiver."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest
from PySide6.QtCore import QMetaMethod, QObject, Qt
from PySide6.QtWidgets import QDialog

from marrow_desktop.core import audit
from marrow_desktop.core.case_details import CaseDetails
from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.model_spec import load_model_spec
from tests.cli.models import BUNDLED
from tests.conftest import SHARED_DATA
from tests.gui.helpers import run_batch, wait_listed


@pytest.fixture
def bundled_settings(app_settings):
    prefs = app_settings.preferences()
    prefs.backend = "onnx"
    app_settings.set_preferences(prefs)
    return app_settings


def _open(qtbot, make_window, settings, folder, reviewer="Dr. Test", classify=True):
    window = make_window(settings, folder, reviewer=reviewer)
    wait_listed(qtbot, window, len(list(Path(folder).glob("*.jpg"))))
    qtbot.waitUntil(lambda: window.session.handle is not None, timeout=5000)
    if classify:
        run_batch(qtbot, window)
    window.actions.advance.setChecked(False)
    return window


def _path(window, name: str) -> str:
    return next(p for p in window.model.paths() if p.endswith(name))


def _saved(qtbot, window, do) -> None:
    with qtbot.waitSignal(window.session.reviewsSaved, timeout=5000):
        do()


def test_undo_and_redo_are_audited(qtbot, make_window, bundled_settings, image_folder):
    window = _open(qtbot, make_window, bundled_settings, image_folder)
    path = _path(window, "LYT_00851.jpg")
    window.browser.select_path(path)
    _saved(qtbot, window, lambda: window.reviews.review("EOS"))
    assert window.actions.undo.isEnabled() and not window.actions.redo.isEnabled()
    _saved(qtbot, window, window.actions.undo.trigger)
    assert window.model.item_for(path).review == ""
    assert window.actions.redo.isEnabled()
    _saved(qtbot, window, window.actions.redo.trigger)
    assert window.model.item_for(path).review == "EOS"
    store = window.session.handle.reader()
    trail = [e for e in store.trail(window.session.case_id) if e.action == audit.REVIEW]
    assert [(e.previous, e.new) for e in trail] == [("", "EOS"), ("EOS", ""), ("", "EOS")]
    assert trail[0].note.startswith("AI ")  # the model's label the reviewer overrode
    assert store.verify_case(window.session.case_id).ok


def test_the_reviewer_is_asked_once_per_run(qtbot, make_window, bundled_settings,
                                            image_folder):
    window = _open(qtbot, make_window, bundled_settings, image_folder, reviewer="")
    path = _path(window, "EOS_00851.jpg")
    window.browser.select_path(path)
    assert window.reviews.review("EOS") == 0  # waits for the name
    dialog = window.reviews.dialog
    assert dialog is not None and dialog.isVisible()
    dialog.setTextValue("Dr. Grace Hopper")
    _saved(qtbot, window, dialog.accept)
    assert window.model.item_for(path).review == "EOS"
    window.browser.select_path(_path(window, "EOS_00872.jpg"))
    window.reviews.dialog = None
    _saved(qtbot, window, lambda: window.reviews.review("EOS"))
    assert window.reviews.dialog is None  # not asked again
    trail = window.session.handle.reader().trail(window.session.case_id)
    assert {e.who for e in trail} == {"Dr. Grace Hopper"}
    assert bundled_settings.preferences().reviewer == "Dr. Grace Hopper"  # remembered


def test_case_details_are_audited_and_reported(qtbot, make_window, bundled_settings,
                                               image_folder, tmp_path):
    window = _open(qtbot, make_window, bundled_settings, image_folder)
    dialog = window.cases.edit_details()
    dialog.edits["patient_id"].setText("P-00123")
    dialog.edits["accession"].setText("BM-2026-77")
    dialog.edits["comment"].setPlainText("Query relapse <b>urgent</b>")
    with qtbot.waitSignal(window.session.caseChanged, timeout=5000):
        dialog.accept()
    details = CaseDetails.from_json(window.session.info.details)
    assert details.patient_id == "P-00123" and details.accession == "BM-2026-77"
    store = window.session.handle.reader()
    assert store.verify_case(window.session.case_id).ok
    assert store.trail(window.session.case_id)[-1].action == audit.DETAILS
    assert "P-00123" not in store.trail(window.session.case_id)[-1].note  # only its hash
    with qtbot.waitSignal(window.session.exports.reportExported, timeout=15000):
        window.cases.export_report(str(tmp_path / "report"))
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "P-00123" in html and "&lt;b&gt;urgent&lt;/b&gt;" in html


def test_a_case_travels_with_its_folder(qtbot, make_window, bundled_settings, image_folder,
                                        tmp_path):
    window = _open(qtbot, make_window, bundled_settings, image_folder)
    path = _path(window, "MON_00851.jpg")
    window.browser.select_path(path)
    _saved(qtbot, window, lambda: window.reviews.review("LYT"))
    case_id = window.session.case_id
    window.close()
    moved = tmp_path / "elsewhere" / "renamed-case"
    shutil.move(str(image_folder), moved)
    second = _open(qtbot, make_window, bundled_settings, moved, classify=False)
    assert second.session.case_id == case_id
    qtbot.waitUntil(lambda: second.model.item_for(str(moved / "MON_00851.jpg")).review == "LYT",
                    timeout=10000)


def test_error_channel_message_log_and_dialog(qtbot, make_window, bundled_settings):
    window = make_window(bundled_settings, None)
    window.errors.report(ModelFileError("model.json: invalid model metadata"), "Model")
    assert "Model: model.json: invalid" in window.statusBar().currentMessage()
    assert window.dialogs.dialog is None or not isinstance(window.dialogs.dialog, QDialog) \
        or not window.dialogs.dialog.isVisible()
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as exc:
        window.errors.report(exc, "Export")
    dialog = window.dialogs.dialog
    assert dialog is not None and "disk on fire" in dialog.details_text
    assert "Traceback" in dialog.details_text
    log = window.dialogs.show_messages()
    texts = log.texts()
    assert any("invalid model metadata" in t for t in texts)
    assert any("disk on fire" in t for t in texts)


def test_every_failure_signal_has_a_receiver(qtbot, make_window, bundled_settings):
    """Signals that carry failures (…Failed) must be connected to something."""
    window = make_window(bundled_settings, None)
    objects: list[QObject] = [window, window.session, window.errors, window.reviews,
                              window.cases, window.lab, window.folders, window.selection]
    checked = []
    for obj in objects:
        meta = obj.metaObject()
        for i in range(meta.methodCount()):
            method = meta.method(i)
            if method.methodType() != QMetaMethod.MethodType.Signal:
                continue
            name = bytes(method.name().data()).decode()
            if name.endswith("Failed") or name in ("unexpected", "status"):

                assert obj.isSignalConnected(method), f"{type(obj).__name__}.{name}"
                checked.append(name)
    assert {"modelFailed", "analysisFailed", "unexpected", "status"} <= set(checked)


def test_keyboard_help_lists_the_review_keys(qtbot, make_window, bundled_settings):
    window = make_window(bundled_settings, None)
    dialog = window.dialogs.show_keyboard_help()
    rows = [(dialog.table.item(r, 0).text(), dialog.table.item(r, 1).text())
            for r in range(dialog.table.rowCount())]
    keys = {what: keys for keys, what in rows}
    assert "Return" in keys["Confirm Prediction"] or "Enter" in keys["Confirm Prediction"]
    assert any("Ctrl+Z" in k for k, what in rows if what == "Undo Review")
    assert any(what.startswith("BLA") and k.startswith("1") for k, what in rows)
    assert any("Zoom" in what for _, what in rows)


@pytest.fixture
def other_lab(tmp_path) -> Path:
    """42 peripheral-blood cells in one folder, reviewed later by the class in their names.
    They are another lab's cells for a model not trained on pbc8; for one that was (the shipped
    v2), green and red are swapped, a stain neither of its training labs uses (all 42 are then
    unlike its training images)."""
    pbc8 = SHARED_DATA / "pbc8"
    if not pbc8.is_dir():
        pytest.skip("../shared/data/pbc8 is not present")
    restain = BUNDLED.is_file() and "pbc8" in str(load_model_spec(BUNDLED).info.get("training"))
    folder = tmp_path / "cellavision-case"
    folder.mkdir()
    for name in ("eosinophil", "lymphocyte", "monocyte"):
        for path in sorted((pbc8 / name).glob("*.jpg"))[:14]:
            if restain:
                cv2.imwrite(str(folder / path.name), cv2.imread(str(path))[:, :, [0, 2, 1]])
            else:
                shutil.copy2(path, folder / path.name)
    return folder


def test_lab_shift_banner_acknowledge_and_adapt(qtbot, make_window, bundled_settings,
                                                other_lab):
    window = _open(qtbot, make_window, bundled_settings, other_lab)
    spec = window.session.spec
    qtbot.waitUntil(window.lab_bar.isVisible, timeout=5000)
    assert "unlike the model's training images" in window.lab_bar.label.text()
    assert window.differential.lab_banner.isVisible()
    assert "lab-shift warning" in " ".join(window.cases.unmet())
    # review the cells (their true classes are in the file names)
    codes = {"EO": "EOS", "LY": "LYT", "MO": "MON"}
    for path in window.model.paths():
        code = codes[Path(path).name.split("_")[0]]
        window.browser.select_path(path)
        _saved(qtbot, window, lambda c=code: window.reviews.review(c))
    dialog = window.lab.adapt()
    qtbot.waitUntil(dialog.switch_button.isEnabled, timeout=60000)
    assert "cross-validated accuracy" in dialog.result.text()
    with qtbot.waitSignal(window.session.modelReady, timeout=60000):
        dialog.accept()
    adapted = window.session.spec
    assert adapted.adapted and adapted.base["identity"] == spec.identity
    assert bundled_settings.preferences().model_path == adapted.name  # Settings can switch back
    qtbot.waitUntil(lambda: any(e.action == audit.MODEL and e.model_sha256 == adapted.identity
                                for e in window.session.handle.reader().trail(
                                    window.session.case_id)), timeout=5000)
    run_batch(qtbot, window)
    qtbot.waitUntil(lambda: not window.lab_bar.isVisible(), timeout=5000)  # in range now


def test_acknowledging_the_warning_is_in_the_trail(qtbot, make_window, bundled_settings,
                                                   other_lab):
    window = _open(qtbot, make_window, bundled_settings, other_lab)
    qtbot.waitUntil(window.lab_bar.isVisible, timeout=5000)
    dialog = window.lab.acknowledge()
    dialog.setTextValue("pilot with the CellaVision lab")
    with qtbot.waitSignal(window.session.caseChanged, timeout=5000):
        dialog.accept()
    assert not window.lab_bar.isVisible()
    entry = window.session.handle.reader().trail(window.session.case_id)[-1]
    assert entry.action == audit.ACKNOWLEDGE and "pilot with the CellaVision lab" in entry.note
    assert entry.model_sha256 == window.session.spec.identity
    window.browser.select_path(window.model.paths()[0])
    qtbot.keyClick(window.browser.grid, Qt.Key.Key_Escape)
