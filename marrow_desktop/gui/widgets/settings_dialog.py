"""Settings: one form row per entry of the settings table (gui/settings.py), grouped by section.

The model row lists the bundled model and the user's own (adapted) models, given by the caller
(read on a worker); a user model can be removed from here (removeModelRequested).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.model_registry import ModelEntry
from marrow_desktop.core.review import current_user
from marrow_desktop.gui.settings import SETTINGS, Preferences, Setting


def describe_entry(entry: ModelEntry) -> str:
    """One line of the model list: name, where, base, date, local cells."""
    where = "bundled" if entry.bundled else "yours"
    parts = [entry.name, where]
    if entry.base_name:
        parts.append(f"adapted from {entry.base_name}")
    if entry.local_counts:
        parts.append(f"{sum(entry.local_counts.values())} local cells")
    if entry.created:
        parts.append(entry.created)
    if entry.error:
        parts.append("unreadable")
    return " · ".join(parts)


class ModelChooser(QWidget):
    """Bundled and user models, or a model file; Remove for a user model."""

    removeRequested = Signal(str)  # a user model's name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(30)
        self.browse = QPushButton("File…", toolTip="Use a model file (.json or .onnx)")
        self.remove = QPushButton("Remove", toolTip="Delete this model of yours")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.browse)
        row.addWidget(self.remove)
        self._entries: list[ModelEntry] = []
        self.browse.clicked.connect(self._browse)
        self.remove.clicked.connect(self._remove)
        self.combo.currentIndexChanged.connect(self._sync)

    def set_entries(self, entries: Sequence[ModelEntry], current: str) -> None:
        """Fill the list; `current` is the preference ('' = the bundled default)."""
        self._entries = list(entries)
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("Bundled model (default)", "")
        for entry in self._entries:
            if entry.is_default:
                continue
            value = entry.name if entry.spec is not None else str(entry.path)
            self.combo.addItem(describe_entry(entry), value)
        if current and self.combo.findData(current) < 0:
            self.combo.addItem(current, current)
        self.combo.setCurrentIndex(max(0, self.combo.findData(current)))
        self.combo.blockSignals(False)
        self._sync()

    def value(self) -> str:
        return str(self.combo.currentData() or "")

    def set_value(self, value: str) -> None:
        index = self.combo.findData(value)
        if index < 0:
            self.combo.addItem(value, value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)

    def _entry(self) -> ModelEntry | None:
        value = self.value()
        return next((e for e in self._entries if e.name == value and e.spec is not None), None)

    def _sync(self) -> None:
        entry = self._entry()
        self.remove.setEnabled(entry is not None and not entry.bundled)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "",
                                              "Model metadata or ONNX (*.json *.onnx);;All (*)")
        if path:
            self.set_value(path)

    def _remove(self) -> None:
        entry = self._entry()
        if entry is not None and not entry.bundled:
            self.removeRequested.emit(entry.name)


class SettingsDialog(QDialog):
    """Edits a Preferences value; `preferences()` returns the result after exec()."""

    removeModelRequested = Signal(str)

    def __init__(self, prefs: Any, models: Sequence[ModelEntry], torch_available: bool,
                 store_path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        sections: dict[str, QFormLayout] = {}
        for setting in SETTINGS:
            if setting.section not in sections:
                box = QGroupBox(setting.section)
                sections[setting.section] = QFormLayout(box)
                layout.addWidget(box)
            editor = self._editor(setting, models)
            editor.setToolTip(setting.help)
            self.editors[setting.name] = editor
            sections[setting.section].addRow(setting.label, editor)
        sections["Model"].addRow("", QLabel(
            "GPU runs PyTorch (needs the [torch] extra and an NVIDIA GPU); CPU runs ONNX "
            "Runtime." if torch_available else "PyTorch is not installed in this build: the "
            "CPU backend (ONNX Runtime) is used.", objectName="muted", wordWrap=True))
        sections["Folders"].addRow("Results store", QLabel(store_path, objectName="muted",
                                                           wordWrap=True))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults)
        layout.addWidget(buttons)
        self.set_values(prefs)

    def _editor(self, s: Setting, models: Sequence[ModelEntry]) -> QWidget:
        if s.widget == "model":
            chooser = ModelChooser()
            chooser.set_entries(models, "")
            chooser.removeRequested.connect(self.removeModelRequested)
            return chooser
        if s.choices is not None:
            combo = QComboBox()
            for key, text in s.choices.items():
                combo.addItem(text, key)
            return combo
        if s.kind is bool:
            return QCheckBox(s.help)
        if s.kind is int:
            return QSpinBox(minimum=int(s.minimum or 0), maximum=int(s.maximum or 10**6))
        if s.kind is float:
            if s.percent:
                return QSpinBox(minimum=round((s.minimum or 0) * 100),
                                maximum=round((s.maximum or 1) * 100),
                                singleStep=max(1, round(s.step * 100)), suffix=" %")
            return QDoubleSpinBox(minimum=s.minimum or 0.0, maximum=s.maximum or 1e6,
                                  decimals=s.decimals, singleStep=s.step)
        edit = QLineEdit()
        if s.name == "reviewer":
            edit.setPlaceholderText(current_user())
        return edit

    def set_values(self, prefs: Any) -> None:
        for s in SETTINGS:
            editor, value = self.editors[s.name], getattr(prefs, s.name)
            if isinstance(editor, ModelChooser):
                editor.set_value(value) if value else editor.combo.setCurrentIndex(0)
            elif isinstance(editor, QComboBox):
                editor.setCurrentIndex(max(0, editor.findData(value)))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox) and s.percent:
                editor.setValue(round(value * 100))
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                editor.setValue(value)
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value))

    def set_models(self, models: Sequence[ModelEntry]) -> None:
        chooser = self.editors["model_path"]
        assert isinstance(chooser, ModelChooser)
        chooser.set_entries(models, chooser.value())

    def restore_defaults(self) -> None:
        self.set_values(Preferences())

    def preferences(self) -> Any:
        values: dict[str, Any] = {}
        for s in SETTINGS:
            editor = self.editors[s.name]
            if isinstance(editor, ModelChooser):
                value: Any = editor.value()
            elif isinstance(editor, QComboBox):
                value = editor.currentData()
            elif isinstance(editor, QCheckBox):
                value = editor.isChecked()
            elif isinstance(editor, QSpinBox) and s.percent:
                value = editor.value() / 100
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                value = editor.value()
            else:
                value = editor.text()  # type: ignore[attr-defined]
            values[s.name] = s.coerce(value)
        return Preferences(**values)
