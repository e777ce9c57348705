"""Progress of a folder run: bar, images per second, time left, Cancel."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from marrow_desktop.gui import theme

#: How often a run's progress is drawn (results arrive every 0.15 s).
REDRAWS_PER_S = 4


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class BatchBar(QWidget):
    """Hidden while idle. Rate and time left use the last few seconds (stored results, which
    arrive almost at once, do not distort the estimate for long)."""

    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.progress = QProgressBar(minimum=0, maximum=1, value=0)
        self.progress.setFixedWidth(200)
        self.rate_label = QLabel(objectName="muted")
        self.cancel_button = QPushButton(theme.icon("stop"), "Cancel", toolTip="Stop the run (Esc)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(8)
        layout.addWidget(self.title)
        layout.addWidget(self.progress)
        layout.addWidget(self.rate_label)
        layout.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.total = 0
        self.done = 0
        self._start = 0.0
        self._window: list[tuple[float, int]] = []
        self._shown = 0.0
        self.setVisible(False)

    @property
    def running(self) -> bool:
        return self.isVisibleTo(self.parentWidget()) if self.parentWidget() else self.isVisible()

    def start(self, total: int, title: str) -> None:
        self.total, self.done = total, 0
        self._start = time.monotonic()
        self._window = [(self._start, 0)]
        self._shown = 0.0  # when the progress was last drawn
        self.title.setText(title)
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(0)
        self.rate_label.setText("starting…")
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def advance(self, done: int) -> None:
        """Show the progress, at most REDRAWS_PER_S times a second (QProgressBar.setValue
        repaints the window's pending changes at once, in the caller's slot)."""
        now = time.monotonic()
        self.done = done
        if now - self._shown < 1 / REDRAWS_PER_S and done < self.total:
            return
        self._shown = now
        self.progress.setValue(done)
        self._window.append((now, done))
        while len(self._window) > 2 and now - self._window[0][0] > 5.0:
            self._window.pop(0)
        t0, d0 = self._window[0]
        rate = (done - d0) / (now - t0) if now > t0 else 0.0
        left = (self.total - done) / rate if rate > 0 else float("nan")
        eta = f" · {format_duration(left)} left" if left == left else ""
        self.rate_label.setText(f"{done:,} / {self.total:,} · {rate:,.0f} img/s{eta}")

    def finish(self) -> float:
        """Hide; returns the elapsed seconds."""
        self.setVisible(False)
        return time.monotonic() - self._start

    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.rate_label.setText("cancelling…")
        self.cancelRequested.emit()
