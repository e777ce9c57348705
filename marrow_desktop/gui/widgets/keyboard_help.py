"""Help ▸ Keyboard Shortcuts (F1): every shortcut of the window, read from its actions."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

#: Keys that are not actions of the window (the views handle them).
VIEW_KEYS = (
    ("Arrow keys, Home, End, Page Up/Down", "Move between cells"),
    ("Shift/Ctrl + click or arrows", "Select several cells (a review applies to all)"),
    ("Mouse wheel on the cell image", "Zoom in and out"),
    ("Drag on the cell image", "Pan the zoomed image"),
    ("Double-click on the cell image", "Toggle 100% / fit"),
    ("Drag cells onto a class (gallery)", "Relabel them"),
    ("Click a box (field view)", "Open that cell of the field photograph"),
    ("Delete (field view)", "Remove the selected box: not a cell (audited); again: restore"),
    ("A, then drag (field view)", "Add a cell the search missed (audited); Esc cancels"),
    ("F (field view)", "Fit the whole field; wheel and drag zoom and pan as on a cell"),
)


def shortcut_rows(actions) -> list[tuple[str, str]]:
    """(keys, what) for every action of the window that has a shortcut."""
    rows = []
    for name, value in vars(actions).items():
        candidates = value if name == "correct_to" else [value]
        for action in candidates:
            if not hasattr(action, "shortcuts") or not action.shortcuts():
                continue
            keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                             for s in action.shortcuts())
            rows.append((keys, action.text().replace("&", "")))
    return rows


class KeyboardHelp(QDialog):
    def __init__(self, actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 560)
        rows = shortcut_rows(actions) + list(VIEW_KEYS)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(("Keys", "Does"))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        for r, (keys, what) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(what))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        note = QLabel("Review keys work while the browser or the gallery has the focus; typing "
                      "in the filter box is never taken as a review.", objectName="muted",
                      wordWrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
