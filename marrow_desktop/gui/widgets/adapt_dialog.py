"""Adapt Model to This Lab: what will be used, then the cross-validated estimate before and
after, and the question whether to switch to the adapted model. Shows what it is given."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from marrow_desktop.gui import theme


class AdaptDialog(QDialog):
    """Starts as 'computing'; show_result() or show_error() fill it in."""

    def __init__(self, intro: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Adapt model to this lab")
        self.setMinimumWidth(520)
        heading = QLabel("Adapt the model to this laboratory")
        heading.setStyleSheet("font-size: 16px; font-weight: 700; color: #0f172a;")
        self.intro = QLabel(intro, wordWrap=True)
        self.result = QLabel("Computing the adaptation from the reviewed cells…",
                             objectName="muted", wordWrap=True)
        self.result.setStyleSheet("background: #f8fafc; border: 1px solid #e2e8f0; "
                                  "border-radius: 8px; padding: 8px 10px;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.switch_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.switch_button.setText("Switch to the adapted model")
        self.switch_button.setObjectName("primaryButton")
        self.switch_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(
            "Keep the current model")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(heading)
        layout.addWidget(self.intro)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)

    def show_result(self, lines: list[str], better: bool) -> None:
        color = theme.GOOD if better else theme.WARN
        items = "".join(f"<li>{line}</li>" for line in lines)
        verdict = ("The adapted model classified the held-out local cells better." if better
                   else "The adapted model was not better on the held-out local cells; keeping "
                   "the current model is advised.")
        self.result.setText(f"<ul style='margin: 0 0 0 -20px'>{items}</ul>"
                            f"<span style='color:{color}'><b>{verdict}</b></span><br>"
                            "Switching is recorded in this case's audit trail; Settings can "
                            "switch back at any time.")
        self.switch_button.setEnabled(True)

    def show_error(self, text: str) -> None:
        self.result.setText(f"<span style='color:{theme.BAD}'>{text}</span>")
        self.switch_button.setEnabled(False)
