"""One line of muted text that changes often (counts under the browser's grid) and asks its
layout for room only when its width grows or shrinks by a step: a QLabel's every new text posts
a layout request to its parent, and Qt then repaints the whole browser, grid included
(benchmarks/bench_gui.py: the grid was repainted at every count change of a run). Text in a
leading <b>…</b> is drawn bold; text that does not fit is elided."""

from __future__ import annotations

import re

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from marrow_desktop.gui import theme

_BOLD = re.compile(r"^<b>(.*?)</b>(.*)$", re.S)
#: The width the widget asks for grows and shrinks in steps of this many pixels.
WIDTH_STEP = 40


class StatusText(QWidget):
    def __init__(self, parent: QWidget | None = None, align_right: bool = False) -> None:
        super().__init__(parent)
        self._text = ""
        self._right = align_right
        self._steps = 1  # the width asked for, in WIDTH_STEPs
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            plain = re.sub(r"<[^>]+>", "", text)
            self.setAccessibleName(plain)
            bold = QFont(self.font())
            bold.setBold(True)
            steps = -(-(QFontMetrics(bold).horizontalAdvance(plain) + 4) // WIDTH_STEP)
            if steps != self._steps:  # rarely: a layout request repaints the neighbours
                self._steps = steps
                self.updateGeometry()
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(self._steps * WIDTH_STEP, self.fontMetrics().height() + 6)

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
