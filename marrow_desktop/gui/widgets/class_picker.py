"""Pick any class of the model by typing: a filter line over the classes (for models with more
classes than the Ctrl+1 … Ctrl+9 shortcuts reach), plus 'Not classified' to exclude a cell."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.review import EXCLUDED
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui import theme

CodeRole = Qt.ItemDataRole.UserRole + 1
SearchRole = Qt.ItemDataRole.UserRole + 2
EXCLUDE_TEXT = "Not classified (exclude from count)"
_NAV_KEYS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown}


class ClassPicker(QDialog):
    """Type to filter, arrows to move, Enter picks, Esc cancels; chosen() is the code."""

    def __init__(self, classes: Sequence[str], current: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set class")
        self.current = current
        self.filter = QLineEdit(placeholderText="Type a code or name…")
        self.filter.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setUniformItemSizes(True)
        entries = [(code, f"{code} – {full_name(code)}") for code in classes]
        entries.append((EXCLUDED, EXCLUDE_TEXT))
        for code, text in entries:
            item = QListWidgetItem(theme.icon("clear") if code == EXCLUDED else
                                   self._swatch(code), text + ("   (current)"
                                                               if code == current else ""))
            item.setData(CodeRole, code)
            item.setData(SearchRole, f"{text} {code}".lower())
            item.setToolTip("Leave this cell out of the differential count"
                            if code == EXCLUDED else full_name(code))
            self.list.addItem(item)
        self.hint = QLabel("Enter picks · Esc cancels", objectName="muted")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Set class")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        layout.addWidget(self.filter)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        layout.addWidget(buttons)

        self.filter.textChanged.connect(self.set_filter)
        self.filter.installEventFilter(self)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.list.currentRowChanged.connect(lambda _row: self._update_ok())
        self._select_first(prefer=current)
        self.filter.setFocus()

    @staticmethod
    def _swatch(code: str) -> QIcon:
        pixmap = QPixmap(12, 12)
        pixmap.fill(theme.class_color(code))
        return QIcon(pixmap)

    # filtering -------------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        """Show the entries whose code or name contains the text; the best match is current."""
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(bool(needle) and needle not in item.data(SearchRole))
        self._select_first(prefer=needle.upper() if needle else self.current)
        if self.filter.text() != text:
            self.filter.setText(text)

    def _select_first(self, prefer: str = "") -> None:
        """Current = the entry whose code equals `prefer`, else the first visible one."""
        visible = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        exact = [i for i in visible if self.list.item(i).data(CodeRole) == prefer]
        row = (exact or visible or [-1])[0]
        self.list.setCurrentRow(row)
        self._update_ok()

    def _update_ok(self) -> None:
        item = self.list.currentItem()
        self.ok_button.setEnabled(item is not None and not item.isHidden())

    def visible_codes(self) -> list[str]:
        return [self.list.item(i).data(CodeRole) for i in range(self.list.count())
                if not self.list.item(i).isHidden()]

    # result ----------------------------------------------------------------------------------
    def chosen(self) -> str | None:
        """The picked code (EXCLUDED for 'Not classified'), None when nothing is picked."""
        item = self.list.currentItem()
        return item.data(CodeRole) if item is not None and not item.isHidden() else None

    def accept(self) -> None:
        if self.chosen() is None:
            return
        super().accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """In the filter line, arrow and page keys move through the list and Enter picks."""
        if watched is self.filter and event.type() == QEvent.Type.KeyPress \
                and isinstance(event, QKeyEvent):
            if event.key() in _NAV_KEYS:
                self.list.keyPressEvent(event)
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept()
                return True
        return super().eventFilter(watched, event)

    @staticmethod
    def pick(parent: QWidget | None, classes: Sequence[str], current: str = "") -> str | None:
        """Ask for a class; None when cancelled."""
        dialog = ClassPicker(classes, current, parent)
        return dialog.chosen() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def sizeHint(self) -> QSize:
        return QSize(340, 420)
