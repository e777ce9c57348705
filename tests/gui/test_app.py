"""Start-up: --selftest without Qt, fast first window, settings and layout kept between runs,
the dialogs, first run on the bundled samples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from marrow_desktop import __version__
from marrow_desktop.core.paths import samples_dir
from marrow_desktop.core.review import ReviewThresholds

from .helpers import run_batch, wait_listed


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)


def test_selftest_flag_does_not_import_qt(tmp_path):
    code = ("import sys\n"
            "import marrow_desktop.selftest as st\n"
            "st.main = lambda argv: print('selftest ran', argv) or 0\n"
            "from marrow_desktop.gui.app import main\n"
            "rc = main(['--selftest', '--quick'])\n"
            "print('qt imported:', any(m.startswith('PySide6') for m in sys.modules), 'rc', rc)\n")
    has_selftest = (Path(__file__).parents[2] / "marrow_desktop" / "selftest.py").is_file()
    if not has_selftest:
        code = code.replace("import marrow_desktop.selftest as st\n", "").replace(
            "st.main = lambda argv: print('selftest ran', argv) or 0\n", "")
    done = _python(code, tmp_path)
    assert "qt imported: False" in done.stdout, done.stderr
    if has_selftest:
        assert "selftest ran ['--quick']" in done.stdout and "rc 0" in done.stdout
    else:
        assert "rc 3" in done.stdout and "self-test is not available" in done.stderr


def test_gui_modules_stay_out_of_core_and_cli_help_is_qt_free(tmp_path):
    done = _python("import sys\nfrom marrow_desktop.cli import build_parser\n"
                   "build_parser().parse_args(['gui', '--help'])\n", tmp_path)
    assert "open the desktop viewer" in done.stdout.lower() or "folder" in done.stdout
    done = _python("import sys, marrow_desktop.core.batch, marrow_desktop.core.store\n"
                   "print(any(m.startswith('PySide6') for m in sys.modules))", tmp_path)
    assert done.stdout.strip() == "False"


@pytest.mark.torch
def test_first_run_shows_the_samples_with_a_one_click_classify(qtbot, make_window,
                                                               app_settings, random_model):
    prefs = app_settings.preferences()
    prefs.model_path, prefs.backend = str(random_model), "onnx"
    app_settings.set_preferences(prefs)
    window = make_window(app_settings, None)
    window.start()  # no folder argument, no last folder: the bundled samples
    wait_listed(qtbot, window, 21)
    assert Path(window.session.label) == samples_dir()
    # the welcome comes when the listing is complete (a moment after the last cells show)
    qtbot.waitUntil(window.sample_bar.isVisible, timeout=15000)
    classify_button = window.sample_bar.buttons[0]
    assert "Classify" in classify_button.text()
    with qtbot.waitSignal(window.session.batchFinished, timeout=60000):
        classify_button.click()
    assert window.model.classified_count() == 21
    assert not window.sample_bar.isVisible()


@pytest.mark.torch
def test_layout_preferences_and_recent_folders_persist(qtbot, make_window, model_settings,
                                                      image_folder):
    first = make_window(model_settings, image_folder)
    wait_listed(qtbot, first, 21)
    first.resize(1100, 700)
    first.classification.cam_view.opacity.setValue(70)
    first.browser.set_sort("confidence", descending=True)
    first.inspector_dock.hide()
    first.close()

    second = make_window(model_settings, None)
    # restored, not the 1280 x 800 default (the offscreen screen is 800 px wide: Qt clamps it)
    assert second.height() == 700 and second.width() != 1280
    assert second.classification.cam_view.opacity.value() == 70
    assert second.model.sort_key == ("confidence", True)
    assert not second.inspector_dock.isVisibleTo(second)
    assert str(image_folder) in model_settings.recent_folders()
    assert model_settings.last_folder() == str(image_folder)
    recent = [a.data() for a in second.actions.recent_menu.actions() if a.data()]
    assert recent[0] == str(image_folder)


def test_settings_dialog_round_trip(qtbot, make_window, app_settings, tmp_path):
    prefs = app_settings.preferences()
    prefs.model_path = str(tmp_path / "missing.json")
    app_settings.set_preferences(prefs)
    window = make_window(app_settings, None)
    dialog = window.dialogs.show_settings()
    qtbot.addWidget(dialog)
    e = dialog.editors
    assert e["model_path"].value().endswith("missing.json")
    qtbot.waitUntil(lambda: e["model_path"].combo.count() >= 2)  # the models, from a worker
    e["batch_size"].setValue(32)
    e["blur_threshold"].setValue(12.5)
    e["low_confidence"].setValue(80)
    e["review_margin"].setValue(10)
    e["blast_probability"].setValue(40)
    e["reviewer"].setText("Dr. Ada Lovelace")
    e["model_path"].combo.setCurrentIndex(0)  # the bundled model
    e["backend"].setCurrentIndex(e["backend"].findData("onnx"))
    dialog.accept()
    saved = app_settings.preferences()
    assert (saved.batch_size, saved.blur_threshold, saved.low_confidence) == (32, 12.5, 0.8)
    assert saved.review_margin == 0.1 and app_settings.reviewer() == "Dr. Ada Lovelace"
    assert saved.model_path == "" and saved.backend == "onnx"
    assert window.inspector.thresholds.blur_threshold == 12.5
    assert window.model.case.thresholds == ReviewThresholds(0.8, 0.1, 0.4, 0.05)
    qtbot.waitUntil(lambda: not window.session.model_loading, timeout=30000)  # reloaded


def test_about_dialog_names_version_flavour_and_data_credit(qtbot, make_window, app_settings):
    window = make_window(app_settings, None)
    dialog = window.dialogs.show_about()
    qtbot.addWidget(dialog)
    text = dialog.about.toPlainText()
    assert __version__ in text and "CC BY 4.0" in text
    assert "Matek" in dialog.credits.toPlainText()
    assert dialog.model_card.toPlainText().strip()
    dialog.close()


def test_window_starts_without_importing_torch(tmp_path, sample_dir):
    """The CPU path never imports torch (start-up time and memory on clinic PCs)."""
    code = f"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["MARROW_DATA_DIR"] = {str(tmp_path / "data")!r}
from PySide6.QtWidgets import QApplication
app = QApplication([])
from marrow_desktop.gui.main_window import MainWindow
from marrow_desktop.gui.settings import AppSettings
settings = AppSettings.from_file({str(tmp_path / "s.ini")!r})
window = MainWindow(settings)
window.show()
window.start({str(sample_dir)!r})
import time
end = time.time() + 20
while time.time() < end and (window.session.model_loading or window.model.total() < 21):
    app.processEvents()
print("images", window.model.total(), "torch", "torch" in sys.modules)
window.close()
"""
    done = _python(code, tmp_path)
    assert "images 21 torch False" in done.stdout, done.stderr[-2000:]


def test_drop_a_folder_opens_it(qtbot, make_window, app_settings, image_folder):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    window = make_window(app_settings, None)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_folder))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    wait_listed(qtbot, window, 21)
    assert window.session.label == str(image_folder)
    assert app_settings.recent_folders()[0] == str(image_folder)


@pytest.mark.torch
def test_loading_the_same_model_again_keeps_its_results(qtbot, make_window, model_settings,
                                                        image_folder):
    """start() loads the model a second time: that must not empty the classified cells (it did,
    and a run finishing meanwhile was left one cell short until the store lookup came back)."""
    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 21)
    run_batch(qtbot, window)
    assert window.model.classified_count() == 21
    with qtbot.waitSignal(window.session.modelReady, timeout=30000):
        window.session.load_model()
    assert window.model.classified_count() == 21
