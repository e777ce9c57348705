"""A folder chooser for outputs that also takes a typed new folder name (Qt's directory
chooser accepts existing folders only); the caller creates the folder."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QWidget


def output_folder_dialog(parent: QWidget | None, title: str, start: str) -> QFileDialog:
    """The dialog, for callers that open it themselves (tests); see choose_output_folder."""
    dialog = QFileDialog(parent, title, start)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)  # a name that does not exist yet is fine
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, True)  # existing folders are fine
    dialog.setLabelText(QFileDialog.DialogLabel.FileName, "Folder:")
    dialog.setLabelText(QFileDialog.DialogLabel.Accept, "Choose")
    return dialog


def choose_output_folder(parent: QWidget | None, title: str, start: str) -> str:
    """An existing folder or a new folder's path ('' when cancelled)."""
    dialog = output_folder_dialog(parent, title, start)
    if dialog.exec() != QFileDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return ""
    return dialog.selectedFiles()[0]
