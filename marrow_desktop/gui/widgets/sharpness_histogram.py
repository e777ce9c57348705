"""The folder's sharpness distribution (pyqtgraph), with the selected image and blur threshold."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from marrow_desktop.gui import theme
from marrow_desktop.gui.widgets.static_plot import static_plot


class SharpnessHistogram(QWidget):
    """Histogram of Laplacian variances; orange line = selected image, red dashes = threshold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = static_plot()
        item = self.plot.getPlotItem()
        item.setContentsMargins(0, 2, 6, 0)
        small = QFont()
        small.setPixelSize(10)
        for name in ("left", "bottom"):
            item.getAxis(name).setStyle(tickFont=small)
        item.getAxis("left").setWidth(30)
        item.setLabel("bottom", "Laplacian variance (higher = sharper)",
                      **{"font-size": "10px", "color": "#475569"})
        self.bars = pg.BarGraphItem(x0=[], x1=[], y0=[], height=[], brush="#94a3b8",
                                    pen=pg.mkPen("#f8fafc", width=0.5))
        item.addItem(self.bars)
        self.threshold_line = pg.InfiniteLine(angle=90, movable=False,
                                              pen=pg.mkPen(theme.BAD, width=1.5,
                                                           style=Qt.PenStyle.DashLine))
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#f97316", width=3))
        item.addItem(self.threshold_line)
        item.addItem(self.marker)
        self.marker.hide()
        self.caption = QLabel(objectName="muted", wordWrap=True)
        self.values = np.zeros(0)
        self.current: float | None = None
        self.threshold = 8.0
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        self._refresh()

    def set_values(self, values: Sequence[float], threshold: float) -> None:
        values = np.asarray(values, dtype=np.float64)
        self.values = np.sort(values[np.isfinite(values)])
        self.threshold = threshold
        self._refresh()

    def set_current(self, value: float | None) -> None:
        """Move the marker (cheap: the histogram itself is not recomputed)."""
        self.current = value
        if value is not None:
            self.marker.setValue(value)
            self.marker.show()
            if value > self.plot.getViewBox().viewRange()[0][1]:
                self._refresh()
        else:
            self.marker.hide()
        self.caption.setText(self._caption_text(len(self.values)))

    def percentile(self) -> float | None:
        """Share of measured images less sharp than the current one (0-100)."""
        if self.current is None or not len(self.values):
            return None
        return float(np.searchsorted(self.values, self.current) / len(self.values) * 100)

    def _refresh(self) -> None:
        values = self.values
        self.threshold_line.setValue(self.threshold)
        if len(values) >= 2:
            high = float(values[min(len(values) - 1, int(len(values) * 0.995))])
            high = max(high, self.threshold * 1.5, (self.current or 0) * 1.05, 1.0)
            bins = int(np.clip(np.sqrt(len(values)) * 2, 8, 40))
            counts, edges = np.histogram(np.clip(values, 0, high), bins=bins, range=(0, high))
            self.bars.setOpts(x0=edges[:-1], x1=edges[1:], y0=np.zeros(len(counts)),
                              height=counts)
            self.plot.setXRange(0, high, padding=0.02)
            self.plot.setYRange(0, max(1, counts.max()) * 1.1, padding=0)
        else:
            self.bars.setOpts(x0=[], x1=[], y0=[], height=[])
            self.plot.setXRange(0, max(self.threshold * 3, (self.current or 0) * 1.2), padding=0)
            self.plot.setYRange(0, 1, padding=0)
        if self.current is not None:
            self.marker.setValue(self.current)
            self.marker.show()
        else:
            self.marker.hide()
        self.caption.setText(self._caption_text(len(values)))

    def _caption_text(self, n: int) -> str:
        if n < 2:
            return ("Sharpness of the folder: run <b>Check quality</b> or <b>Classify</b> to "
                    "see where this image sits.")
        share = self.percentile()
        where = "" if share is None else \
            f"This image is sharper than <b>{share:.0f}%</b> of them. "
        return (f"{where}{n:,} images measured · "
                f"<span style='color:{theme.BAD}'>dashed: blur threshold "
                f"{self.threshold:g}</span>")

    def sizeHint(self) -> QSize:
        return QSize(360, 170)
