"""Review controls: confirm the predicted class, correct it to another, or clear the review."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from marrow_desktop.core.review import EXCLUDED
from marrow_desktop.core.taxonomy import full_name
from marrow_desktop.gui import theme

CONFIRM = "__confirm__"  # reviewRequested value: each selected image keeps its predicted class


class ReviewBar(QWidget):
    """Emits reviewRequested(CONFIRM | class code | '' to clear)."""

    reviewRequested = Signal(str)
    historyRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = QLabel(objectName="muted", wordWrap=True)  # never widens the dock
        self.confirm_button = QPushButton(theme.icon("confirm"), "Confirm",
                                          objectName="confirmButton",
                                          toolTip="The predicted class is right (Enter)")
        self.correct_box = QComboBox(toolTip="Correct the class (keys 1 … 9, P for any class, "
                                             "0 to leave the cell out of the count)")
        self.correct_box.setMinimumContentsLength(12)
        self.clear_button = QPushButton(theme.icon("clear"), "",
                                        toolTip="Clear the review (Backspace)")
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
        self.history_button = QPushButton("History…", flat=True,
                                          toolTip="Every label change of this cell, with who, "
                                                  "when and the model (Ctrl+Shift+H)")
        self.history_button.setEnabled(False)
        state_row = QHBoxLayout()
        state_row.setContentsMargins(0, 0, 0, 0)
        state_row.addWidget(self.state, 1)
        state_row.addWidget(self.history_button)
        layout.addLayout(state_row)
        self.history_button.clicked.connect(self.historyRequested)
        self.confirm_button.clicked.connect(lambda: self.reviewRequested.emit(CONFIRM))
        self.clear_button.clicked.connect(lambda: self.reviewRequested.emit(""))
        self.correct_box.activated.connect(self._on_correct)
        self.set_classes(())
        self.set_state("", "", False)

    def set_classes(self, classes: Sequence[str]) -> None:
        self.correct_box.clear()
        self.correct_box.addItem("Correct to…", "")
        for i, code in enumerate(classes):
            shortcut = f"   key {i + 1}" if i < 9 else ""
            self.correct_box.addItem(f"{code} – {full_name(code)}{shortcut}", code)
        if classes:
            self.correct_box.addItem("Not classified (exclude from the count)   key 0", EXCLUDED)

    def _on_correct(self, index: int) -> None:
        code = self.correct_box.itemData(index)
        self.correct_box.setCurrentIndex(0)
        if code:
            self.reviewRequested.emit(code)

    def set_state(self, review: str, predicted: str, enabled: bool, count: int = 1,
                  signed: str = "", mixed: bool = False) -> None:
        """Show the current image's review; count = how many images a click will affect
        (mixed: they are predicted as different classes, each keeps its own); signed = who
        signed the case off (the controls are then read-only)."""
        for widget in (self.confirm_button, self.correct_box):
            widget.setEnabled(enabled)
        self.confirm_button.setEnabled(enabled and bool(predicted))
        self.clear_button.setEnabled(enabled and bool(review))
        if count > 1 and mixed:
            text = f"Confirm each prediction ({count} cells)"
            tip = ("Each selected cell keeps its own predicted class (they differ); Enter does "
                   "the same")
        else:
            many = f" ({count} cells)" if count > 1 else ""
            text = f"Confirm {predicted}{many}" if predicted else "Confirm"
            tip = "The predicted class is right (Enter)"
        self.confirm_button.setText(text)
        self.confirm_button.setToolTip(tip)
        if signed:
            self.state.setText(f"Case signed off by {signed}: labels are frozen"
                               + (f" · {_describe(review, predicted)}" if review else ""))
        elif not enabled:
            self.state.setText("")
        elif review == EXCLUDED:
            self.state.setText("<span style='color:#64748b'>⊘ Excluded from the count</span>")
        elif not review:
            self.state.setText("Not reviewed yet")
        elif review == predicted:
            self.state.setText(f"<span style='color:{theme.GOOD}'>✓ Confirmed as "
                               f"<b>{full_name(review)}</b></span>")
        else:
            self.state.setText(f"<span style='color:#7c3aed'>✎ Corrected to "
                               f"<b>{full_name(review)} ({review})</b></span>")


def _describe(review: str, predicted: str) -> str:
    if review == EXCLUDED:
        return "excluded"
    return f"confirmed {review}" if review == predicted else f"corrected to {review}"
