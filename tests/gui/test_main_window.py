"""The viewer end to end on real images: open, select, classify, cancel, export, reopen, review."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.quality import QualityThresholds, assess
from marrow_desktop.core.report_csv import cells_columns
from marrow_desktop.gui.widgets.review_bar import CONFIRM
from marrow_desktop.gui.widgets.thumbnail_model import BrowserFilter
from marrow_desktop.inference.loader import load_classifier
from marrow_desktop.inference.onnx_backend import OnnxClassifier

from .helpers import run_batch, wait_analysis, wait_listed

pytestmark = pytest.mark.torch  # the test model is exported with torch


@pytest.fixture(scope="module")
def reference(random_model):
    """The same model outside the GUI, to check what the GUI shows."""
    return load_classifier(random_model, "onnx")


@pytest.fixture
def count_predict(monkeypatch):
    """Counts OnnxClassifier.predict calls (inference on whole images)."""
    calls = []
    original = OnnxClassifier.predict

    def counting(self, images):
        calls.append(len(images))
        return original(self, images)

    monkeypatch.setattr(OnnxClassifier, "predict", counting)
    return calls


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_open_folder_select_image_shows_model_output(qtbot, make_window, model_settings,
                                                      image_folder, reference):
    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 21)
    assert window.session.classifier is not None
    qtbot.waitUntil(lambda: window.loader.decoded >= 10, timeout=15000)  # visible thumbnails
    wait_analysis(qtbot, window)  # the first image is selected on open
    path = sorted(image_folder.iterdir())[4]
    assert window.browser.select_path(str(path))
    wait_analysis(qtbot, window, str(path))

    rgb = load_image(path).rgb
    expected = reference.predict([rgb])[0]
    shown = window.classification.chart.values()
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    top3 = list(np.argsort(-expected)[:3])
    assert window.classification.chart.highlighted() == top3
    spec = reference.spec
    assert window.classification.class_name.text() == spec.class_names[top3[0]]
    assert spec.name in window.classification.model_label.text()
    assert window.classification.cam_class_index == top3[0]

    quality = assess(rgb, QualityThresholds())
    assert window.inspector.values["sharpness"].text() == f"{quality.laplacian_var:.1f}"
    assert window.inspector.values["size"].text() == "250 × 250 px"
    assert window.inspector.histogram.current == pytest.approx(quality.laplacian_var)

    # another target class: the CAM follows, computed off the GUI thread
    with qtbot.waitSignal(window.session.camReady, timeout=10000):
        window.classification.set_target_mode("second")
    assert window.classification.cam_class_index == top3[1]
    expected_cam = cv2.resize(reference.explain(rgb, top3[1]).cam, (250, 250),
                              interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(window.selection.analysis.cam, expected_cam, atol=1e-5)

    # the unsharp-masked view is made by a worker too
    with qtbot.waitSignal(window.session.sharpenedReady, timeout=10000):
        window.inspector.unsharp.setChecked(True)
    assert window.inspector.view.has_b()


def test_batch_to_the_end_then_export_matches_classifier(qtbot, make_window, model_settings,
                                                         image_folder, reference, tmp_path):
    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 21)
    summary = run_batch(qtbot, window)
    assert not summary.cancelled and summary.done == 21 and summary.errors == 0
    assert window.model.classified_count() == 21
    assert window.session.store.count_predictions(reference.spec.model_sha256) == 21
    assert not window.batch_bar.isVisible()

    out = tmp_path / "report.csv"
    with qtbot.waitSignal(window.session.exports.exported, timeout=10000):
        window.folders.export_to(str(out))
    rows = _read_csv(out)
    # the viewer's export is the case's cells.csv: the report columns and the case details
    assert list(rows[0].keys()) == cells_columns(reference.spec.classes)
    assert len(rows) == 21
    for row in rows:
        probs = reference.predict([load_image(row["path"]).rgb])[0]
        got = np.array([float(row[f"prob_{c}"]) for c in reference.spec.classes])
        np.testing.assert_allclose(got, probs, atol=1e-5)
        assert row["predicted_class"] == reference.spec.classes[int(np.argmax(probs))]
        assert row["reviewed_class"] == ""
        assert row["status"] == "ok" and row["laplacian_var"]


def test_cancelled_batch_stops_early_and_keeps_what_it_did(qtbot, make_window, model_settings,
                                                          image_folder, monkeypatch):
    original = OnnxClassifier.predict

    def slow(self, images):
        time.sleep(0.25)
        return original(self, images)

    monkeypatch.setattr(OnnxClassifier, "predict", slow)
    prefs = model_settings.preferences()
    prefs.batch_size = 2
    model_settings.set_preferences(prefs)
    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 21)
    with qtbot.waitSignal(window.session.batchFinished, timeout=30000) as finished:
        window.folders.classify()
        assert window.batch_bar.isVisible() and window.actions.cancel.isEnabled()
        qtbot.waitUntil(lambda: window.session.batch_done >= 2, timeout=15000)
        window.batch_bar.cancel_button.click()
    summary = finished.args[0]
    assert summary.cancelled and 2 <= summary.done < 21
    assert window.model.classified_count() >= summary.done
    assert not window.batch_bar.isVisible() and window.actions.classify.isEnabled()
    assert "cancelled" in window.statusBar().currentMessage()


def test_reopen_restores_results_without_recomputing(qtbot, make_window, model_settings,
                                                     image_folder, count_predict):
    first = make_window(model_settings, image_folder)
    wait_listed(qtbot, first, 21)
    run_batch(qtbot, first)
    assert sum(count_predict) == 21
    first.close()

    count_predict.clear()
    second = make_window(model_settings, image_folder)
    wait_listed(qtbot, second, 21)
    qtbot.waitUntil(lambda: second.model.classified_count() == 21, timeout=15000)
    wait_analysis(qtbot, second)
    assert count_predict == []  # restored from the store, nothing inferred
    summary = run_batch(qtbot, second)  # a rerun finds everything stored
    assert summary.computed == 0 and count_predict == []


def test_review_shows_in_browser_filter_and_csv(qtbot, make_window, model_settings,
                                               image_folder, tmp_path):
    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 21)
    run_batch(qtbot, window)
    paths = window.model.paths()

    window.browser.select_path(paths[0])
    wait_analysis(qtbot, window, paths[0])
    predicted = window.model.item_for(paths[0]).predicted
    with qtbot.waitSignal(window.session.reviewsSaved, timeout=5000):
        window.reviews.review(CONFIRM)
    assert window.model.item_for(paths[0]).review == predicted
    assert window.browser.current_path() == paths[1]  # next image after a review
    window.browser.select_path(paths[0])
    assert "Confirmed" in window.classification.review.state.text()

    window.browser.select_path(paths[1])
    wait_analysis(qtbot, window, paths[1])
    other = next(c for c in window.session.spec.classes
                 if c != window.model.item_for(paths[1]).predicted)
    with qtbot.waitSignal(window.session.reviewsSaved, timeout=5000):
        window.reviews.review(other)
    assert window.model.item_for(paths[1]).review_state == "corrected"

    window.browser.set_filter(BrowserFilter(review="corrected"))
    assert [window.model.item(r).path for r in range(window.model.rowCount())] == [paths[1]]
    window.browser.set_filter(BrowserFilter(review="reviewed"))
    assert window.model.rowCount() == 2
    window.browser.set_filter(BrowserFilter())

    out = tmp_path / "reviewed.csv"
    with qtbot.waitSignal(window.session.exports.exported, timeout=10000):
        window.folders.export_to(str(out))
    reviewed = {row["path"]: row["reviewed_class"] for row in _read_csv(out)}
    assert reviewed[paths[0]] == predicted and reviewed[paths[1]] == other
    assert sum(1 for v in reviewed.values() if v) == 2
    window.close()

    again = make_window(model_settings, image_folder)  # reviews live in the store
    qtbot.waitUntil(lambda: again.model.reviewed_count() == 2, timeout=15000)
    assert again.model.item_for(paths[1]).review == other


def test_keyboard_navigation_moves_the_selection(qtbot, make_window, model_settings,
                                                 image_folder):
    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 21)
    wait_analysis(qtbot, window)
    first = window.browser.current_path()
    window.browser.grid.setFocus()
    qtbot.keyClick(window.browser.grid, Qt.Key.Key_Right)
    assert window.browser.current_path() == window.model.item(1).path != first
    qtbot.keyClick(window.browser.grid, Qt.Key.Key_End)
    assert window.browser.current_path() == window.model.item(20).path
    wait_analysis(qtbot, window, window.model.item(20).path)


def test_missing_model_still_browses_and_checks_quality(qtbot, make_window, app_settings,
                                                        image_folder, tmp_path):
    prefs = app_settings.preferences()
    prefs.model_path = str(tmp_path / "nowhere" / "model.json")
    app_settings.set_preferences(prefs)
    window = make_window(app_settings, image_folder)
    assert window.session.classifier is None and "not found" in window.session.model_error
    assert window.model_bar.isVisible() and "No classification model" in \
        window.model_bar.label.text()
    wait_listed(qtbot, window, 21)
    wait_analysis(qtbot, window)  # quality still measured for the selection
    assert window.inspector.values["sharpness"].text() not in ("–", "…")
    assert not window.actions.classify.isEnabled()
    summary = run_batch(qtbot, window, quality_only=True)
    assert summary.done == 21 and summary.quality_only
    assert len(window.model.sharpness_values()) == 21
    assert window.model.classified_count() == 0


def test_corrupt_image_reports_error_without_crashing(qtbot, make_window, model_settings,
                                                      image_folder):
    (image_folder / "AAA_broken.jpg").write_bytes(b"\xff\xd8 truncated")
    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 22)
    qtbot.waitUntil(lambda: "AAA_broken.jpg" in window.statusBar().currentMessage(),
                    timeout=10000)
    summary = run_batch(qtbot, window)
    assert summary.done == 22 and summary.errors == 1
    assert window.model.item_for(str(image_folder / "AAA_broken.jpg")).error


def test_counts_under_the_grid_change_without_a_relayout(qtbot, make_window, model_settings,
                                                         image_folder):
    """A new count text must not relayout the browser: Qt then repaints the whole grid, which
    a run did at every batch of results (benchmarks/bench_gui.py)."""
    from PySide6.QtCore import QCoreApplication, QEvent, QObject
    from PySide6.QtWidgets import QLabel

    window = make_window(model_settings, image_folder)
    wait_listed(qtbot, window, 21)
    requests = []

    class Watch(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.LayoutRequest:
                requests.append(obj)
            return False

    watch = Watch()
    window.browser.installEventFilter(watch)
    window.browser.count_label.setText("21 images · 5 classified · 0 reviewed")
    window.browser.queue_label.setText("<b>3</b> of 5 cells needing review left")
    QCoreApplication.sendPostedEvents()
    requests.clear()
    for n in range(6, 16):  # the counts of a run going on
        window.browser.count_label.setText(f"21 images · {n} classified · 0 reviewed")
        window.browser.queue_label.setText(f"<b>{n - 2}</b> of {n} cells needing review left")
        QCoreApplication.sendPostedEvents()
    assert requests == []
    assert window.browser.queue_label.text().startswith("<b>13</b>")
    label = QLabel("a label", window.browser)  # what a QLabel does, for contrast
    label.show()
    QCoreApplication.sendPostedEvents()
    requests.clear()
    label.setText("a much longer text than before")
    QCoreApplication.sendPostedEvents()
    assert requests
