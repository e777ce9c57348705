"""A dismissible message strip with an optional action button (first run, missing model)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from marrow_desktop.gui import theme


class InfoBar(QFrame):
    """kind: 'info', 'warning' or 'error' (styled in resources/style/marrow.qss)."""

    actionTriggered = Signal(str)  # the action's key

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("infoBar")
        self.label = QLabel(wordWrap=True)
        self.label.setOpenExternalLinks(False)
        self.buttons: list[QPushButton] = []
        self.close_button = QToolButton(icon=theme.icon("clear"), autoRaise=True,
                                        toolTip="Dismiss")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(10, 6, 6, 6)
        self._layout.setSpacing(8)
        self._layout.addWidget(self.label, 1)
        self._layout.addWidget(self.close_button)
        self.close_button.clicked.connect(self.hide)
        self.hide()

    def show_message(self, text: str, kind: str = "info",
                     actions: tuple[tuple[str, str], ...] = ()) -> None:
        """actions: (key, button text) pairs; clicking one emits actionTriggered(key)."""
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for i, (key, text_) in enumerate(actions):
            button = QPushButton(text_)
            if i == 0:
                button.setObjectName("primaryButton")
            button.clicked.connect(lambda _=False, k=key: self.actionTriggered.emit(k))
            self._layout.insertWidget(1 + i, button)
            self.buttons.append(button)
        self.label.setText(text)
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
