"""Case details: patient or sample identifier, accession number, specimen, requesting clinician
and a free-text comment. Stored with the case (core.case_details), shown on the report."""

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

from marrow_desktop.core.case_details import FIELDS, CaseDetails


class CaseDetailsDialog(QDialog):
    """details() is the edited CaseDetails after the dialog is accepted."""

    def __init__(self, details: CaseDetails, read_only: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Case details")
        self.setMinimumWidth(460)
        self.edits: dict[str, QLineEdit | QPlainTextEdit] = {}
        form = QFormLayout()
        for name, label, multiline in FIELDS:
            value = getattr(details, name)
            edit: QLineEdit | QPlainTextEdit
            if multiline:
                edit = QPlainTextEdit(value)
                edit.setFixedHeight(70)
                edit.setTabChangesFocus(True)
            else:
                edit = QLineEdit(value)
            edit.setReadOnly(read_only)
            self.edits[name] = edit
            form.addRow(label, edit)
        note = QLabel("Kept with the case and printed on its report; never written to "
                      "training-set manifests, adapted-model cards or log files. Every change is "
                      "recorded in the audit trail." + (" The case is signed off: reopen it to "
                                                        "change them." if read_only else ""),
                      objectName="muted", wordWrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close if read_only else
                                   QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def details(self) -> CaseDetails:
        values = {}
        for name, edit in self.edits.items():
            text = edit.toPlainText() if isinstance(edit, QPlainTextEdit) else edit.text()
            values[name] = text.strip()
        return CaseDetails(**values)
