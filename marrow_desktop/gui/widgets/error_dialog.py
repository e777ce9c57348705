"""An unexpected error: one line, the traceback behind "Show details", and "Copy details"."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.gui import theme
from marrow_desktop.gui.errors import log_path


class ErrorDialog(QDialog):
    def __init__(self, line: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Something went wrong")
        self.setMinimumWidth(520)
        self.details_text = details
        head = QLabel(f"<b style='color:{theme.BAD}'>{line}</b>", wordWrap=True)
        explain = QLabel("The window goes on working; nothing you reviewed was lost. The details "
                         f"are also in the log file {log_path()}. Please send them to whoever "
                         "supports this installation.", objectName="muted", wordWrap=True)
        self.details = QPlainTextEdit(details, readOnly=True)
        self.details.setMinimumHeight(180)
        self.details.hide()
        toggle = QPushButton("Show details", checkable=True)
        toggle.toggled.connect(self.details.setVisible)
        copy = QPushButton("Copy details")
        copy.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(toggle, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(explain)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.details_text)
