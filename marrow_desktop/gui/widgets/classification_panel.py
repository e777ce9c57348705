"""Classification of the selected image: class and confidence, Grad-CAM view with a selectable
target class, all class probabilities, the model in use, and the review controls."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from marrow_desktop.core.model_spec import ModelSpec
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui import theme
from marrow_desktop.gui.widgets.cam_view import CamView
from marrow_desktop.gui.widgets.probability_chart import ProbabilityChart
from marrow_desktop.gui.widgets.review_bar import ReviewBar


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None
                                         and a.shape == b.shape and bool(np.all(a == b)))


class ClassificationPanel(QWidget):
    """Binds one image's probabilities, CAM and review; asks for CAMs of other classes."""

    targetChanged = Signal(str)  # 'top', 'second' or a class code

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec: ModelSpec | None = None
        self._probs: np.ndarray | None = None
        self._reasons: tuple[str, ...] = ()
        self._cam_index = -1

        self.chip = QLabel(objectName="chip")
        self.chip.setVisible(False)
        self.class_name = QLabel("No image selected", objectName="className")
        self.class_name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.confidence = QLabel(objectName="classConfidence")
        self.detail = QLabel(objectName="muted", wordWrap=True)
        # two lines kept free: a one-line detail after a two-line one moves nothing below it
        # (a move resizes and repaints the heat map and the chart on every selection)
        self.detail.setMinimumHeight(2 * self.detail.fontMetrics().lineSpacing())
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(8)
        header.addWidget(self.chip)
        header.addWidget(self.class_name, 1)
        header.addWidget(self.confidence)

        self.target = QComboBox(toolTip="Which class the heat map explains")
        self.target.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target.setMinimumContentsLength(18)
        target_row = QHBoxLayout()
        target_row.setContentsMargins(0, 0, 0, 0)
        target_row.addWidget(QLabel("Heat map for", objectName="muted"))
        target_row.addWidget(self.target, 1)

        self.cam_view = CamView()
        self.chart = ProbabilityChart()
        self.review = ReviewBar()
        self.model_label = QLabel(objectName="modelLabel", wordWrap=True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addWidget(self.detail)
        layout.addLayout(target_row)
        layout.addWidget(self.cam_view, 5)
        layout.addWidget(self.chart, 3)
        layout.addWidget(self.review)
        layout.addWidget(self.model_label)

        self.target.activated.connect(self._on_target)
        self.set_model(None, "", "Loading the model…")

    # model -----------------------------------------------------------------------------------
    def set_model(self, spec: ModelSpec | None, device: str = "", message: str = "") -> None:
        self.spec = spec
        if spec is None:
            self.chart.set_classes((), ())
            self.review.set_classes(())
            self.model_label.setText(f"<span style='color:{theme.WARN}'>{message}</span>"
                                     if message else "No model loaded")
        else:
            self.chart.set_classes(spec.classes, spec.class_names)
            self.review.set_classes(spec.classes)
            flags = []
            if spec.info.get("interim") or "interim" in str(spec.info.get("note", "")):
                flags.append("interim")
            self.model_label.setText(
                f"Model <b>{spec.name}</b> v{spec.version} · {spec.architecture} · "
                f"{spec.input_size} px · {device}" + (f" · {', '.join(flags)}" if flags else ""))
            self.model_label.setToolTip(f"{spec.path}\nSHA-256 {spec.model_sha256}")
        self._fill_targets()

    def _fill_targets(self) -> None:
        current = self.target.currentData() or "top"
        probs = self._probs
        self.target.blockSignals(True)
        self.target.clear()
        if self.spec is not None:
            classes = self.spec.classes
            order = np.argsort(-probs, kind="stable") if probs is not None else None
            top = f" – {classes[order[0]]}" if order is not None else ""
            second = f" – {classes[order[1]]}" if order is not None and len(order) > 1 else ""
            self.target.addItem(f"Top class{top}", "top")
            self.target.addItem(f"Runner-up{second}", "second")
            self.target.insertSeparator(2)
            for code, name in zip(classes, self.spec.class_names):
                self.target.addItem(f"{code} – {name}", code)
        index = self.target.findData(current)
        self.target.setCurrentIndex(max(0, index))
        self.target.setEnabled(self.spec is not None)
        self.target.blockSignals(False)

    @property
    def target_mode(self) -> str:
        return self.target.currentData() or "top"

    def set_target_mode(self, mode: str) -> None:
        index = self.target.findData(mode)
        if index >= 0 and index != self.target.currentIndex():
            self.target.setCurrentIndex(index)
            self.targetChanged.emit(mode)

    def _on_target(self, _index: int) -> None:
        self.targetChanged.emit(self.target_mode)

    # image -----------------------------------------------------------------------------------
    def clear(self, message: str = "Select an image") -> None:
        self._probs = None
        self.chip.setVisible(False)
        self.class_name.setText("No image selected")
        self.confidence.setText("")
        self.detail.setText("")
        self.cam_view.set_placeholder(message)
        self.chart.set_probabilities(None)
        self.review.set_state("", "", False)
        self._fill_targets()

    def show_known(self, name: str, probabilities: np.ndarray | None, error: str = "",
                   reasons: Sequence[str] = ()) -> None:
        """A new image was selected: show what is already known while its CAM is computed;
        `reasons`: why the case's review rule queues this cell (core.review)."""
        self.cam_view.set_placeholder("Loading…")
        self._reasons = tuple(reasons)
        self._show_probabilities(probabilities)
        if error:
            self.class_name.setText("Cannot read this image")
            self.detail.setText(f"<span style='color:{theme.BAD}'>{error}</span>")
        elif probabilities is None:
            self.detail.setText(name)

    def set_analysis(self, name: str, display: np.ndarray, probabilities: np.ndarray | None,
                     cam: np.ndarray | None, class_index: int,
                     reasons: Sequence[str] = ()) -> None:
        self._reasons = tuple(reasons)
        self._show_probabilities(probabilities)
        if probabilities is None:
            message = "No model loaded: quality checks only." if self.spec is None else ""
            self.cam_view.set_image(display, None)
            if message:
                self.detail.setText(f"{name} · {message}")
            return
        self.set_cam(cam, class_index, display)

    def show_field(self, name: str, cells: int) -> None:
        """A field photograph is selected: its cells are what is classified."""
        self.class_name.setText("Field photograph")
        self.detail.setText(f"{name}: {cells} cell{'s' if cells != 1 else ''} found, each "
                            "classified and counted on its own; they follow this image in the "
                            "browser and are boxed in the Field view (click a box to open it)."
                            if cells else f"{name}: no cells found yet (Classify finds them).")

    def set_reasons(self, reasons: Sequence[str]) -> None:
        """The current cell's review reasons changed (a review, new thresholds)."""
        if tuple(reasons) != self._reasons:
            self._reasons = tuple(reasons)
            self._show_probabilities(self._probs)

    def set_cam(self, cam: np.ndarray | None, class_index: int,
                display: np.ndarray | None = None) -> None:
        self._cam_index = class_index
        caption = ""
        if self.spec is not None and 0 <= class_index < len(self.spec.classes):
            caption = f"Grad-CAM: {self.spec.classes[class_index]}"
            if self._probs is not None:
                p = float(self._probs[class_index])
                top = int(np.argmax(self._probs))
                caption += f" ({p:.1%}" + (", map scaled to its own maximum)"
                                           if class_index != top else ")")
        if display is not None:
            self.cam_view.set_image(display, cam, caption)
        else:
            self.cam_view.set_cam(cam, caption)

    @property
    def cam_class_index(self) -> int:
        return self._cam_index

    def _show_probabilities(self, probabilities: np.ndarray | None) -> None:
        before = self._probs
        self._probs = None if probabilities is None else np.asarray(probabilities, np.float32)
        if not _same(before, self._probs) or not len(self.chart.values()):
            # a cell's stored result, then its analysis: the chart and menu are filled once
            self.chart.set_probabilities(self._probs if self.spec is not None else None)
            self._fill_targets()
        if self._probs is None or self.spec is None:
            self.chip.setVisible(False)
            self.class_name.setText("Not classified" if self.spec is not None else "No model")
            self.confidence.setText("")
            self.detail.setText("")
            return
        order = np.argsort(-self._probs, kind="stable")
        code = self.spec.classes[order[0]]
        conf = float(self._probs[order[0]])
        self.chip.setText(code)
        theme.set_style(self.chip, f"background: {theme.class_color(code).name()}; color: white;")
        self.chip.setVisible(True)
        self.class_name.setText(self.spec.class_names[order[0]] or full_name(code))
        self.confidence.setText(f"{conf:.1%}")
        reasons = self._reasons
        low = bool(reasons)
        theme.set_style(self.confidence, f"color: {theme.WARN};" if low else "")
        runner = ""
        if len(order) > 1:
            second = order[1]
            runner = (f"Runner-up: {self.spec.class_names[second]} "
                      f"({float(self._probs[second]):.1%})")
        warning = (f"<span style='color:{theme.WARN}'><b>Needs review</b> "
                   f"({', '.join(reasons)})</span> · ") if low else ""
        self.detail.setText(warning + runner)

    def set_review_state(self, review: str, predicted: str, enabled: bool, count: int = 1,
                         signed: str = "", mixed: bool = False) -> None:
        self.review.set_state(review, predicted, enabled, count, signed, mixed)
