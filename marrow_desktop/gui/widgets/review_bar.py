"""Review controls: confirm the predicted class, correct it to another, or clear the review."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui import theme

CONFIRM = "__confirm__"  # reviewRequested value: each selected image keeps its predicted class


class ReviewBar(QWidget):
    """Emits reviewRequested(CONFIRM | class code | '' to clear)."""

    reviewRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = QLabel(objectName="muted")
        self.confirm_button = QPushButton(theme.icon("confirm"), "Confirm",
                                          objectName="confirmButton",
                                          toolTip="The predicted class is right (Ctrl+Return)")
        self.correct_box = QComboBox(toolTip="Correct the class (Ctrl+1 … Ctrl+9)")
        self.correct_box.setMinimumContentsLength(12)
        self.clear_button = QPushButton(theme.icon("clear"), "", toolTip="Clear the review")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(6)
        buttons.addWidget(self.confirm_button)
        buttons.addWidget(self.correct_box, 1)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(buttons)
        layout.addWidget(self.state)
        self.confirm_button.clicked.connect(lambda: self.reviewRequested.emit(CONFIRM))
        self.clear_button.clicked.connect(lambda: self.reviewRequested.emit(""))
        self.correct_box.activated.connect(self._on_correct)
        self.set_classes(())
        self.set_state("", "", False)

    def set_classes(self, classes: Sequence[str]) -> None:
        self.correct_box.clear()
        self.correct_box.addItem("Correct to…", "")
        for i, code in enumerate(classes):
            shortcut = f"   Ctrl+{i + 1}" if i < 9 else ""
            self.correct_box.addItem(f"{code} – {full_name(code)}{shortcut}", code)

    def _on_correct(self, index: int) -> None:
        code = self.correct_box.itemData(index)
        self.correct_box.setCurrentIndex(0)
        if code:
            self.reviewRequested.emit(code)

    def set_state(self, review: str, predicted: str, enabled: bool, count: int = 1) -> None:
        """Show the current image's review; count = how many images a click will affect."""
        for widget in (self.confirm_button, self.correct_box):
            widget.setEnabled(enabled)
        self.confirm_button.setEnabled(enabled and bool(predicted))
        self.clear_button.setEnabled(enabled and bool(review))
        many = f" ({count} images)" if count > 1 else ""
        self.confirm_button.setText(f"Confirm {predicted}{many}" if predicted else "Confirm")
        if not enabled:
            self.state.setText("")
        elif not review:
            self.state.setText("Not reviewed yet")
        elif review == predicted:
            self.state.setText(f"<span style='color:{theme.GOOD}'>✓ Confirmed as "
                               f"<b>{full_name(review)}</b></span>")
        else:
            self.state.setText(f"<span style='color:#7c3aed'>✎ Corrected to "
                               f"<b>{full_name(review)} ({review})</b></span>")
