"""Sign off a case (name, optional note), or reopen a signed-off one (name, required reason)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.gui import theme


class SignOffDialog(QDialog):
    """The caller gives the summary and warning texts; name() and note() are the answers."""

    def __init__(self, summary: str, default_name: str, warning: str = "", reopen: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reopen = reopen
        self.setMinimumWidth(460)
        self.setWindowTitle("Reopen signed-off case" if reopen else "Sign off case")
        heading = QLabel("Reopen this signed-off case" if reopen else "Sign off this case")
        heading.setStyleSheet("font-size: 16px; font-weight: 700; color: #0f172a;")
        explain = QLabel(
            "Reopening lets labels be changed again. Your name, the time and the reason are "
            "recorded in the case's audit trail." if reopen else
            "Signing off records your name, the time and the note in the case's audit trail. "
            "Labels cannot be changed until the case is reopened.",
            objectName="muted", wordWrap=True)
        self.summary = QLabel(summary, wordWrap=True)
        self.summary.setStyleSheet("background: #f8fafc; border: 1px solid #e2e8f0; "
                                   "border-radius: 8px; padding: 8px 10px; font-weight: 600;")
        self.warning = QLabel(f"⚠ {warning}" if warning else "", wordWrap=True)
        self.warning.setStyleSheet("background: #fffbeb; border: 1px solid #fcd34d; "
                                   f"border-radius: 8px; padding: 6px 10px; color: {theme.WARN};")
        self.warning.setVisible(bool(warning))

        self.name_edit = QLineEdit(default_name, placeholderText="Your name (required)")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("Why the case is reopened (required)" if reopen else
                                          "Optional note, e.g. findings or caveats")
        self.note_edit.setFixedHeight(72)
        self.note_edit.setTabChangesFocus(True)
        form = QFormLayout()
        form.setContentsMargins(0, 4, 0, 0)
        form.addRow("Name", self.name_edit)
        form.addRow("Reason" if reopen else "Note", self.note_edit)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Reopen" if reopen else "Sign off")
        self.ok_button.setObjectName("primaryButton")
        self.ok_button.setStyleSheet(  # the theme has no disabled look for primary buttons
            "QPushButton:disabled { background: #cbd5e1; border-color: #cbd5e1; color: #f8fafc; }")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addWidget(self.summary)
        layout.addWidget(self.warning)
        layout.addLayout(form)
        layout.addWidget(buttons)

        self.name_edit.textChanged.connect(self._update_ok)
        self.note_edit.textChanged.connect(self._update_ok)
        self._update_ok()
        (self.note_edit if default_name.strip() and reopen else self.name_edit).setFocus()

    def name(self) -> str:
        return self.name_edit.text().strip()

    def note(self) -> str:
        """The note (sign-off) or the reason (reopen)."""
        return self.note_edit.toPlainText().strip()

    def can_accept(self) -> bool:
        return bool(self.name()) and (bool(self.note()) or not self.reopen)

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(self.can_accept())

    def accept(self) -> None:
        if self.can_accept():
            super().accept()
