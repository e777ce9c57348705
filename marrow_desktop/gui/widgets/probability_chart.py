"""Horizontal bar chart of every class probability (pyqtgraph BarGraphItem), top 3 highlighted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from marrow_desktop.gui import theme
from marrow_desktop.gui.widgets.static_plot import static_plot

BAR_HEIGHT = 0.68
INSIDE_FROM = 0.6  # bars at least this long carry their value inside (never cut off)


class ProbabilityChart(QWidget):
    """One bar per class in the model's order; the three most probable in shades of blue."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = static_plot()
        item = self.plot.getPlotItem()
        item.getViewBox().invertY(True)
        item.showGrid(x=True, y=False, alpha=0.25)
        item.setContentsMargins(0, 4, 6, 0)
        bottom = item.getAxis("bottom")
        bottom.setTicks([[(v, f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        small = QFont()
        small.setPixelSize(10)
        bottom.setStyle(tickFont=small)
        left = item.getAxis("left")
        label_font = QFont()
        label_font.setPixelSize(11)
        left.setStyle(tickFont=label_font, tickLength=0)
        left.setWidth(132)
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=BAR_HEIGHT)
        item.addItem(self.bars)
        self._labels: list[pg.TextItem] = []
        self.classes: tuple[str, ...] = ()
        self.class_names: tuple[str, ...] = ()
        self._values = np.zeros(0, dtype=np.float32)
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._set_ranges()

    def set_classes(self, classes: Sequence[str], names: Sequence[str]) -> None:
        self.classes, self.class_names = tuple(classes), tuple(names)
        item = self.plot.getPlotItem()
        ticks = [(i, f"{name} ({code})") for i, (code, name) in enumerate(zip(classes, names))]
        left = item.getAxis("left")
        left.setTicks([ticks])
        font = QFont()
        font.setPixelSize(11)
        widest = max((QFontMetrics(font).horizontalAdvance(t) for _, t in ticks), default=60)
        left.setWidth(min(220, widest + 14))
        for label in self._labels:
            item.removeItem(label)
        self._labels = []
        for i in range(len(classes)):
            label = pg.TextItem("", color="#334155", anchor=(0, 0.5))
            label.setPos(0, i)
            item.addItem(label)
            self._labels.append(label)
        self._set_ranges()
        self.set_probabilities(None)

    def _set_ranges(self) -> None:
        n = max(1, len(self.classes))
        self.plot.setXRange(0, 1.02, padding=0)  # long bars carry their label inside
        self.plot.setYRange(-0.6, n - 0.4, padding=0)

    def set_probabilities(self, probabilities: np.ndarray | None) -> None:
        """Show a probability vector (None: empty bars)."""
        n = len(self.classes)
        values = np.zeros(n, np.float32) if probabilities is None else \
            np.asarray(probabilities, dtype=np.float32)[:n]
        self._values = values.copy() if probabilities is not None else np.zeros(0, np.float32)
        order = np.argsort(-values, kind="stable")
        brushes = [pg.mkBrush(theme.OTHER_BAR) for _ in range(n)]
        if probabilities is not None:
            for rank, index in enumerate(order[:3]):
                brushes[index] = pg.mkBrush(theme.TOP_COLORS[rank])
        self.bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=values, height=BAR_HEIGHT,
                          brushes=brushes, pen=None, pens=None)
        top = set(order[:3].tolist()) if probabilities is not None else set()
        for i, label in enumerate(self._labels):
            if probabilities is None:
                label.setText("")
                continue
            inside = values[i] >= INSIDE_FROM  # a long bar: the value inside its end, in white
            label.setAnchor((1, 0.5) if inside else (0, 0.5))
            label.setPos(float(values[i]) + (-0.015 if inside else 0.015), i)
            font = QFont()
            font.setPixelSize(11)
            font.setBold(i in top)
            label.setFont(font)
            label.setColor(QColor("#ffffff" if inside else "#0f172a" if i in top
                                  else "#64748b"))
            label.setText(f"{values[i]:.1%}")

    def values(self) -> np.ndarray:
        """The probabilities on display (empty when none)."""
        return self._values.copy()

    def highlighted(self) -> list[int]:
        """Class indices drawn as the top 3, best first."""
        if not len(self._values):
            return []
        return [int(i) for i in np.argsort(-self._values, kind="stable")[:3]]

    def sizeHint(self) -> QSize:
        return QSize(360, 200)
