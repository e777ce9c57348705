"""One line of muted text that changes often (counts under the browser's grid) without asking
its layout for room: a QLabel's new text posts a layout request to its parent, and Qt then
repaints the whole browser, grid included (benchmarks/bench_gui.py: the grid was repainted at
every count change of a run). Text in a leading <b>…</b> is drawn bold."""

from __future__ import annotations

import re

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from marrow_desktop.gui import theme

_BOLD = re.compile(r"^<b>(.*?)</b>(.*)$", re.S)


class StatusText(QWidget):
    def __init__(self, parent: QWidget | None = None, align_right: bool = False) -> None:
        super().__init__(parent)
        self._text = ""
        self._right = align_right
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.setAccessibleName(re.sub(r"<[^>]+>", "", text))
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, self.fontMetrics().height() + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(60, self.fontMetrics().height() + 6)

    def paintEvent(self, event) -> None:
        if not self._text:
            return
        match = _BOLD.match(self._text)
        bold, rest = (match.group(1), match.group(2)) if match else ("", self._text)
        painter = QPainter(self)
        painter.setPen(QColor(theme.MUTED))
        rect = QRectF(self.rect())
        normal = QFont(self.font())
        strong = QFont(normal)
        strong.setBold(True)
        painter.setFont(strong)
        bold_width = painter.fontMetrics().horizontalAdvance(bold)
        painter.setFont(normal)
        rest = painter.fontMetrics().elidedText(rest, Qt.TextElideMode.ElideRight,
                                                max(0, int(rect.width() - bold_width)))
        width = bold_width + painter.fontMetrics().horizontalAdvance(rest)
        x = rect.right() - width if self._right else rect.left()
        flags = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        if bold:
            painter.setFont(strong)
            painter.drawText(QRectF(x, rect.top(), bold_width, rect.height()), flags, bold)
            painter.setFont(normal)
        painter.drawText(QRectF(x + bold_width, rect.top(), rect.width(), rect.height()), flags,
                         rest)
