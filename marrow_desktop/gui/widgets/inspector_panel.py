"""Image-quality inspector: every metric with its verdict, the folder's sharpness distribution,
and an unsharp-masked view (side by side or A/B wipe) with an amount slider."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.quality import QualityMetrics, QualityThresholds
from marrow_desktop.gui.widgets.compare_view import CompareView
from marrow_desktop.gui.widgets.sharpness_histogram import SharpnessHistogram
from marrow_desktop.gui.widgets.thumbnail_model import quality_problems

_ROWS = ("sharpness", "brightness", "stain", "colour", "size")
_TITLES = {"sharpness": "Sharpness", "brightness": "Brightness", "stain": "MGG stain",
           "colour": "Colour", "size": "Size"}
_HELP = {
    "sharpness": "Variance of the Laplacian of the grey image at 256×256 px; below the blur "
                 "threshold the image counts as blurry.",
    "brightness": "Mean grey level (0-255); outside the limits it is too dark or washed out.",
    "stain": "Share of purple (May-Grünwald-Giemsa) pixels; too few means no stain was found.",
    "colour": "Whether the image has colour or is grayscale.",
    "size": "Pixel size of the image file.",
}


def _chip(text: str, verdict: str) -> QLabel:
    label = QLabel(text, objectName="chip")
    label.setProperty("verdict", verdict)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class InspectorPanel(QWidget):
    """Shows the quality of the selected image; asks for a sharpened copy when enabled."""

    unsharpRequested = Signal(float)  # amount (> 0) whenever the sharpened view needs an image
    settingsChanged = Signal(bool, float, str)  # enabled, amount, mode

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thresholds = QualityThresholds()
        self._quality: QualityMetrics | None = None
        self._has_image = False

        self.view = CompareView()
        self.unsharp = QCheckBox("Unsharp mask", toolTip="Show a sharpened copy (U)")
        self.amount = QSlider(Qt.Orientation.Horizontal, minimum=5, maximum=300, value=100,
                              toolTip="Unsharp-mask amount")
        self.amount.setAccessibleName("Unsharp amount")
        self.amount_label = QLabel("1.00×", objectName="muted")
        self.amount_label.setMinimumWidth(38)
        self.side_button = QToolButton(text="Side by side", checkable=True, checked=True,
                                       objectName="segment")
        self.wipe_button = QToolButton(text="A/B", checkable=True, objectName="segment",
                                       toolTip="Drag across the image to compare")
        self.mode_group = QButtonGroup(self, exclusive=True)
        self.mode_group.addButton(self.side_button)
        self.mode_group.addButton(self.wipe_button)

        self.amount.setMinimumWidth(120)  # its own row: never squeezed by the buttons
        toggles = QHBoxLayout()
        toggles.setContentsMargins(0, 0, 0, 0)
        toggles.setSpacing(6)
        toggles.addWidget(self.unsharp)
        toggles.addStretch(1)
        toggles.addWidget(self.side_button)
        toggles.addSpacing(-7)
        toggles.addWidget(self.wipe_button)
        amount_row = QHBoxLayout()
        amount_row.setContentsMargins(22, 0, 0, 0)
        amount_row.setSpacing(6)
        amount_row.addWidget(QLabel("Amount", objectName="muted"))
        amount_row.addWidget(self.amount, 1)
        amount_row.addWidget(self.amount_label)
        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.setSpacing(2)
        controls.addLayout(toggles)
        controls.addLayout(amount_row)

        self.metrics_box = QGroupBox("Quality checks")
        grid = QGridLayout(self.metrics_box)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        self.values: dict[str, QLabel] = {}
        self.verdicts: dict[str, QLabel] = {}
        for row, key in enumerate(_ROWS):
            title = QLabel(_TITLES[key], toolTip=_HELP[key])
            value = QLabel("–", objectName="metricValue", toolTip=_HELP[key])
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            verdict = _chip("", "neutral")
            grid.addWidget(title, row, 0)
            grid.addWidget(value, row, 1)
            grid.addWidget(verdict, row, 2, Qt.AlignmentFlag.AlignRight)
            self.values[key], self.verdicts[key] = value, verdict
        grid.setColumnStretch(1, 1)
        self.summary = QLabel(wordWrap=True)
        grid.addWidget(self.summary, len(_ROWS), 0, 1, 3)

        self.histogram = SharpnessHistogram()
        hist_box = QGroupBox("Sharpness in this folder")
        hist_layout = QVBoxLayout(hist_box)
        hist_layout.setContentsMargins(6, 4, 6, 6)
        hist_layout.addWidget(self.histogram)
        hist_box.setMaximumHeight(250)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.view, 4)
        layout.addLayout(controls)
        layout.addWidget(self.metrics_box)
        layout.addWidget(hist_box, 3)

        self._request_timer = QTimer(self, singleShot=True, interval=40)
        self._request_timer.timeout.connect(self._request)
        self.unsharp.toggled.connect(self._on_unsharp)
        self.amount.valueChanged.connect(self._on_amount)
        self.mode_group.buttonToggled.connect(self._on_mode)
        self._sync_enabled()
        self.clear("Select an image")

    # state -----------------------------------------------------------------------------------
    @property
    def amount_value(self) -> float:
        return self.amount.value() / 100

    @property
    def mode(self) -> str:
        return "wipe" if self.wipe_button.isChecked() else "side"

    def set_settings(self, enabled: bool, amount: float, mode: str) -> None:
        self.amount.setValue(round(amount * 100))
        (self.wipe_button if mode == "wipe" else self.side_button).setChecked(True)
        self.unsharp.setChecked(enabled)

    def set_thresholds(self, thresholds: QualityThresholds) -> None:
        self.thresholds = thresholds
        self.histogram.set_values(self.histogram.values, thresholds.blur_threshold)
        if self._quality is not None:
            self.set_quality(self._quality)

    # contents --------------------------------------------------------------------------------
    def clear(self, message: str = "Select an image") -> None:
        self._has_image = False
        self._quality = None
        self.view.set_placeholder(message)
        for key in _ROWS:
            self.values[key].setText("–")
            self._set_verdict(key, "", "neutral")
        self.summary.setText("")
        self.histogram.set_current(None)

    def set_loading(self, quality: QualityMetrics | None) -> None:
        """A new image was selected: show stored metrics now, pixels when they arrive."""
        if quality is not None:
            self.set_quality(quality)
        else:
            for key in _ROWS:
                self.values[key].setText("…")
                self._set_verdict(key, "", "neutral")
            self.summary.setText("")
            self.histogram.set_current(None)

    def set_image(self, rgb: np.ndarray, quality: QualityMetrics) -> None:
        self._has_image = True
        self.view.set_images(rgb)
        self.set_quality(quality)
        if self.unsharp.isChecked():
            self._request()

    def set_sharpened(self, rgb: np.ndarray, amount: float) -> None:
        self.view.set_b(rgb, f"Unsharp {amount:.2f}×")

    def set_distribution(self, values: Sequence[float]) -> None:
        self.histogram.set_values(values, self.thresholds.blur_threshold)

    def set_quality(self, q: QualityMetrics) -> None:
        t = self.thresholds
        self._quality = q
        blurry = q.laplacian_var < t.blur_threshold
        self.values["sharpness"].setText(f"{q.laplacian_var:.1f}")
        self._set_verdict("sharpness", "Blurry" if blurry else "Sharp", "bad" if blurry else "good",
                          f"Blur threshold {t.blur_threshold:g}")
        self.values["brightness"].setText(f"{q.brightness:.0f} / 255")
        if q.too_dark:
            self._set_verdict("brightness", "Too dark", "bad", f"below {t.too_dark:g}")
        elif q.too_bright:
            self._set_verdict("brightness", "Too bright", "bad", f"above {t.too_bright:g}")
        else:
            self._set_verdict("brightness", "OK", "good", f"{t.too_dark:g}-{t.too_bright:g}")
        self.values["stain"].setText(f"{q.stain_ratio:.1%} purple")
        self._set_verdict("stain", "Present" if q.stain_present else "Not found",
                          "good" if q.stain_present else "bad",
                          f"needs ≥ {t.min_stain_ratio:.0%}")
        self.values["colour"].setText("RGB colour" if q.color_type == "rgb" else "Grayscale")
        self._set_verdict("colour", "OK" if q.color_type == "rgb" else "Grayscale",
                          "good" if q.color_type == "rgb" else "warn")
        self.values["size"].setText(f"{q.width} × {q.height} px")
        self._set_verdict("size", "", "neutral")
        problems = quality_problems(q, t.blur_threshold)
        if problems:
            self.summary.setText(f"<span style='color:#b91c1c'><b>Check the image:</b> "
                                 f"{', '.join(problems)}</span>")
        else:
            self.summary.setText("<span style='color:#15803d'><b>Good quality</b> – all checks "
                                 "passed</span>")
        self.histogram.set_current(q.laplacian_var)

    def _set_verdict(self, key: str, text: str, verdict: str, tip: str = "") -> None:
        chip = self.verdicts[key]
        chip.setText(text)
        chip.setVisible(bool(text))
        chip.setToolTip(tip)
        if chip.property("verdict") != verdict:
            chip.setProperty("verdict", verdict)
            chip.style().unpolish(chip)
            chip.style().polish(chip)

    # unsharp mask ----------------------------------------------------------------------------
    def _sync_enabled(self) -> None:
        on = self.unsharp.isChecked()
        for widget in (self.amount, self.amount_label, self.side_button, self.wipe_button):
            widget.setEnabled(on)

    def _on_unsharp(self, on: bool) -> None:
        self._sync_enabled()
        self.view.set_mode(self.mode if on else "single")
        if on:
            self._request_timer.start()
        self._emit_settings()

    def _on_amount(self, value: int) -> None:
        self.amount_label.setText(f"{value / 100:.2f}×")
        if self.unsharp.isChecked():
            self._request_timer.start()
        self._emit_settings()

    def _on_mode(self, *_args: object) -> None:
        if self.unsharp.isChecked():
            self.view.set_mode(self.mode)
        self._emit_settings()

    def _request(self) -> None:
        if self._has_image and self.unsharp.isChecked():
            self.unsharpRequested.emit(self.amount_value)

    def _emit_settings(self) -> None:
        self.settingsChanged.emit(self.unsharp.isChecked(), self.amount_value, self.mode)
