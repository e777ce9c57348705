"""Sign off a case (name, optional note), or reopen a signed-off one (name, required reason).

Signing off a case with unmet criteria (cells needing review left unreviewed, fewer cells
counted than the target, a lab-shift warning not acted on) lists them and asks for an explicit
override reason, which the trail records with the note.

Both are signed with the reviewer's own key (core.signing): the passphrase unlocks it; a
reviewer without a key on this computer chooses a passphrase (twice) and one is made.
"""

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

from marrow_desktop.core.signing import MIN_PASSPHRASE
from marrow_desktop.gui import theme


class SignOffDialog(QDialog):
    """The caller gives the summary and warning texts; name() and note() are the answers."""

    def __init__(self, summary: str, default_name: str, warning: str = "", reopen: bool = False,
                 parent: QWidget | None = None, unmet: list[str] | None = None,
                 signers: frozenset[str] = frozenset(), error: str = "",
                 note: str = "") -> None:
        super().__init__(parent)
        self.reopen = reopen
        self.signers = signers
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
        self.unmet = list(unmet or [])
        if self.unmet:
            items = "".join(f"<li>{u}</li>" for u in self.unmet)
            warning = (f"<b>Not met:</b><ul style='margin: 2px 0 0 -20px'>{items}</ul>"
                       "Signing off anyway needs a reason, kept in the audit trail.")
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
        self.note_edit.setPlainText(note)
        self.override_edit = QLineEdit(placeholderText="Why sign off with these unmet (required)")
        self.passphrase_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.repeat_edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password,
                                     placeholderText="The same passphrase again")
        self.key_note = QLabel(objectName="muted", wordWrap=True)
        self.error = QLabel(f"✗ {error}" if error else "", wordWrap=True)
        self.error.setStyleSheet(f"color: {theme.BAD}; font-weight: 600;")
        self.error.setVisible(bool(error))
        form = QFormLayout()
        form.setContentsMargins(0, 4, 0, 0)
        form.addRow("Name", self.name_edit)
        form.addRow("Reason" if reopen else "Note", self.note_edit)
        if self.unmet:
            form.addRow("Override reason", self.override_edit)
        form.addRow("Passphrase", self.passphrase_edit)
        self.repeat_label = QLabel("Repeat")
        form.addRow(self.repeat_label, self.repeat_edit)
        form.addRow("", self.key_note)

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
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.name_edit.textChanged.connect(self._update_ok)
        self.note_edit.textChanged.connect(self._update_ok)
        self.override_edit.textChanged.connect(self._update_ok)
        self.passphrase_edit.textChanged.connect(self._update_ok)
        self.repeat_edit.textChanged.connect(self._update_ok)
        self._update_ok()
        (self.note_edit if default_name.strip() and reopen else self.name_edit).setFocus()

    def name(self) -> str:
        return self.name_edit.text().strip()

    def note(self) -> str:
        """The note (sign-off) or the reason (reopen); with unmet criteria, the override reason
        and what was not met follow it."""
        note = self.note_edit.toPlainText().strip()
        if self.unmet:
            override = (f"OVERRIDE: {self.override_edit.text().strip()} (not met: "
                        f"{'; '.join(self.unmet)})")
            note = f"{note}\n{override}" if note else override
        return note

    def passphrase(self) -> str:
        return self.passphrase_edit.text()

    def new_key(self) -> bool:
        """The reviewer has no signing key here: accepting makes one with this passphrase."""
        return self.name() not in self.signers

    def can_accept(self) -> bool:
        if self.unmet and not self.override_edit.text().strip():
            return False
        if not self.passphrase():
            return False
        if self.new_key() and (len(self.passphrase()) < MIN_PASSPHRASE
                               or self.repeat_edit.text() != self.passphrase()):
            return False
        return bool(self.name()) and (bool(self.note()) or not self.reopen)

    def _update_ok(self) -> None:
        new = self.new_key() and bool(self.name())
        self.repeat_label.setVisible(new)
        self.repeat_edit.setVisible(new)
        self.passphrase_edit.setPlaceholderText(
            f"At least {MIN_PASSPHRASE} characters, for your new signing key" if new else
            "Unlocks your signing key")
        self.key_note.setText(
            f"No signing key for {self.name()} on this computer yet: one is made with this "
            "passphrase. Keep the passphrase to yourself; it cannot be recovered." if new else
            f"Signed with {self.name()}'s key: a rewritten audit trail then fails the check."
            if self.name() else "")
        self.ok_button.setEnabled(self.can_accept())

    def accept(self) -> None:
        if self.can_accept():
            super().accept()
