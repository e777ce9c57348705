"""Settings: backend, model file (bundled or the user's), batch size, thresholds."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.review import current_user
from marrow_desktop.gui.settings import BACKEND_CHOICES, Preferences


class SettingsDialog(QDialog):
    """Edits a Preferences value; `preferences()` returns the result after exec()."""

    def __init__(self, prefs: Preferences, bundled_model: str, bundled_found: bool,
                 torch_available: bool, store_path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)

        self.backend = QComboBox()
        for key, text in BACKEND_CHOICES.items():
            self.backend.addItem(text, key)
        self.backend.setCurrentIndex(max(0, self.backend.findData(prefs.backend)))
        backend_note = QLabel(
            "GPU runs PyTorch (needs the [torch] extra and an NVIDIA GPU); CPU runs ONNX Runtime."
            if torch_available else
            "PyTorch is not installed in this build: the CPU backend (ONNX Runtime) is used.",
            objectName="muted", wordWrap=True)

        self.bundled = QRadioButton("Bundled model")
        self.custom = QRadioButton("Model file")
        group = QButtonGroup(self)
        group.addButton(self.bundled)
        group.addButton(self.custom)
        self.bundled_label = QLabel(bundled_model if bundled_found else
                                    f"{bundled_model} (not found)", objectName="muted",
                                    wordWrap=True)
        self.path = QLineEdit(prefs.model_path, placeholderText="…/model.json or model.onnx")
        self.browse = QPushButton("Browse…")
        model_box = QGroupBox("Model")
        grid = QGridLayout(model_box)
        grid.addWidget(self.bundled, 0, 0)
        grid.addWidget(self.bundled_label, 0, 1, 1, 2)
        grid.addWidget(self.custom, 1, 0)
        grid.addWidget(self.path, 1, 1)
        grid.addWidget(self.browse, 1, 2)
        grid.setColumnStretch(1, 1)
        (self.custom if prefs.model_path else self.bundled).setChecked(True)

        self.batch_size = QSpinBox(minimum=1, maximum=256, value=prefs.batch_size,
                                   toolTip="Images per inference call in a folder run")
        self.blur = QDoubleSpinBox(minimum=0.0, maximum=500.0, decimals=1, singleStep=0.5,
                                   value=prefs.blur_threshold,
                                   toolTip="Laplacian variance (at 256 px) below which an image "
                                           "counts as blurry")
        self.low_conf = QSpinBox(minimum=0, maximum=100, value=round(prefs.low_confidence * 100),
                                 singleStep=5, suffix=" %",
                                 toolTip="Cells whose calibrated confidence is below this are "
                                         "queued for review")
        self.margin = QSpinBox(minimum=0, maximum=100, value=round(prefs.review_margin * 100),
                               singleStep=5, suffix=" %",
                               toolTip="Cells whose two most probable classes are closer than "
                                       "this are queued for review")
        self.reviewer = QLineEdit(prefs.reviewer, placeholderText=current_user(),
                                  toolTip="The name the audit trail records for your changes "
                                          "(empty: your operating-system user name)")
        self.recursive = QCheckBox("Include sub-folders when opening a folder",
                                   checked=prefs.recursive)

        form = QFormLayout()
        form.addRow("Backend", self.backend)
        form.addRow("", backend_note)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Blur threshold", self.blur)
        form.addRow("", self.recursive)
        form.addRow("Needs review below", self.low_conf)
        form.addRow("…or top-2 margin below", self.margin)
        form.addRow("Reviewer name", self.reviewer)
        form.addRow("Results store", QLabel(store_path, objectName="muted", wordWrap=True))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(model_box)
        layout.addWidget(buttons)
        self.browse.clicked.connect(self._browse)
        self.custom.toggled.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        on = self.custom.isChecked()
        self.path.setEnabled(on)
        self.browse.setEnabled(on)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", self.path.text(),
                                              "Model metadata or ONNX (*.json *.onnx);;All (*)")
        if path:
            self.path.setText(path)
            self.custom.setChecked(True)

    def restore_defaults(self) -> None:
        d = Preferences()
        self.backend.setCurrentIndex(max(0, self.backend.findData(d.backend)))
        self.bundled.setChecked(True)
        self.batch_size.setValue(d.batch_size)
        self.blur.setValue(d.blur_threshold)
        self.low_conf.setValue(round(d.low_confidence * 100))
        self.margin.setValue(round(d.review_margin * 100))
        self.recursive.setChecked(d.recursive)

    def preferences(self) -> Preferences:
        custom = self.path.text().strip() if self.custom.isChecked() else ""
        return Preferences(backend=self.backend.currentData(), model_path=custom,
                           batch_size=self.batch_size.value(), blur_threshold=self.blur.value(),
                           low_confidence=self.low_conf.value() / 100,
                           review_margin=self.margin.value() / 100,
                           recursive=self.recursive.isChecked(),
                           reviewer=self.reviewer.text().strip())

