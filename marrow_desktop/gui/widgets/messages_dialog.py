"""View ▸ Messages: every status message of this session, newest last, with its time."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.gui import theme
from marrow_desktop.gui.errors import Message

_COLORS = {"warning": theme.WARN, "error": theme.BAD}


class MessagesDialog(QDialog):
    def __init__(self, messages: Sequence[Message], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Messages")
        self.resize(720, 380)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        for message in messages:
            self.add(message)
        copy = QPushButton("Copy")
        copy.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)

    def add(self, message: Message) -> None:
        item = QListWidgetItem(f"{message.at}  {message.text}")
        if message.level in _COLORS:
            item.setForeground(QBrush(QColor(_COLORS[message.level])))
        self.list.addItem(item)
        self.list.scrollToBottom()

    def texts(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def copy(self) -> None:
        QGuiApplication.clipboard().setText("\n".join(self.texts()))
