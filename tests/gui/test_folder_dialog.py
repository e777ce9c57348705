"""The output folder chooser takes a typed name of a folder that does not exist yet."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QLineEdit

from marrow_desktop.gui.widgets.folder_dialog import output_folder_dialog


def test_a_typed_new_folder_name_is_accepted(qtbot, tmp_path: Path):
    (tmp_path / "existing").mkdir()
    dialog = output_folder_dialog(None, "Folder for the case report", str(tmp_path))
    qtbot.addWidget(dialog)
    dialog.open()
    name = dialog.findChild(QLineEdit, "fileNameEdit")
    name.setText("new report")
    with qtbot.waitSignal(dialog.finished, timeout=5000):
        dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.selectedFiles() == [str(tmp_path / "new report")]
    assert not (tmp_path / "new report").exists()  # the caller creates it
