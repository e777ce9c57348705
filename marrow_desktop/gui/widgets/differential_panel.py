"""The differential count of the open case: blast percentage up top, progress towards the target
count, a table of AI / reviewed / final counts per class and a chart of the final percentages
with their 95% intervals. Sized for a right-side dock about 380 px wide."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from marrow_desktop.core.differential import Differential, DifferentialRow
from marrow_desktop.core.review import TARGET_COUNTS
from marrow_desktop.gui import theme
from marrow_desktop.gui.widgets.blast_box import BlastBox
from marrow_desktop.gui.widgets.differential_table import HEADERS, DifferentialTable
from marrow_desktop.gui.widgets.static_plot import static_plot

NAME_COLUMN_MIN_WIDTH = 500  # the name column shows only where the panel is this wide


class DifferentialPanel(QWidget):
    """set_differential() shows a count; the target selector emits targetChanged(n)."""

    targetChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._diff: Differential | None = None
        self.signed_banner = QLabel(wordWrap=True)
        self.signed_banner.setStyleSheet(
            "background: #f0fdf4; border: 1px solid #86efac; border-radius: 8px; "
            f"padding: 6px 10px; color: {theme.GOOD}; font-weight: 600;")
        self.signed_banner.hide()
        self.lab_banner = QLabel(wordWrap=True)
        self.lab_banner.setStyleSheet(
            "background: #fff7ed; border: 1px solid #fdba74; border-radius: 8px; "
            f"padding: 6px 10px; color: {theme.UNFAMILIAR}; font-weight: 600;")
        self.lab_banner.hide()

        self.blast_box = BlastBox()
        self.blast_value, self.blast_interval, self.blast_chip = (
            self.blast_box.value, self.blast_box.interval, self.blast_box.chip)

        self.target_box = QComboBox(toolTip="How many cells the differential should count")
        for n in TARGET_COUNTS:
            self.target_box.addItem(f"{n} cells", n)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMinimumHeight(18)
        self.queue_label = QLabel(wordWrap=True)
        self.queue_detail = QLabel(objectName="muted", wordWrap=True)
        self.queue_detail.setStyleSheet("font-size: 11px;")

        self.table = DifferentialTable()
        self.plot = static_plot()
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.62)
        self.whiskers = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), beam=0.25,
                                        pen=pg.mkPen("#334155", width=1))
        self._build_chart()
        self.chart_caption = QLabel("Final percentages with 95% intervals", objectName="muted")
        self.chart_caption.setStyleSheet("font-size: 11px;")
        self.counts_label = QLabel(objectName="muted", wordWrap=True)

        target_row = QHBoxLayout()
        target_row.setContentsMargins(0, 0, 0, 0)
        target_row.setSpacing(6)
        target_row.addWidget(QLabel("Target"))
        target_row.addWidget(self.target_box)
        target_row.addWidget(self.progress, 1)

        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.setSpacing(6)
        body_layout.addWidget(self.table)
        body_layout.addWidget(self.counts_label)
        body_layout.addWidget(self.chart_caption)
        body_layout.addWidget(self.plot)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self.signed_banner)
        layout.addWidget(self.lab_banner)
        layout.addWidget(self.blast_box)
        layout.addLayout(target_row)
        layout.addWidget(self.queue_label)
        layout.addWidget(self.queue_detail)
        layout.addWidget(scroll, 1)

        self.target_box.currentIndexChanged.connect(
            lambda _i: self.targetChanged.emit(self.target()))
        self.set_queue(0, 0)
        self.set_differential(None)

    # construction ----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        narrow = self.width() < NAME_COLUMN_MIN_WIDTH
        self.table.setColumnHidden(1, narrow)
        # the code column always fits its contents; the last column takes the slack when the
        # name column is hidden
        mode = QHeaderView.ResizeMode.Stretch if narrow else \
            QHeaderView.ResizeMode.ResizeToContents
        self.table.horizontalHeader().setSectionResizeMode(len(HEADERS) - 1, mode)

    def _build_chart(self) -> None:
        item = self.plot.getPlotItem()
        item.getViewBox().invertY(True)
        item.showGrid(x=True, y=False, alpha=0.25)
        item.setContentsMargins(0, 2, 8, 0)
        small = QFont()
        small.setPixelSize(10)
        for name in ("bottom", "left"):
            item.getAxis(name).setStyle(tickFont=small, tickLength=0 if name == "left" else 4)
        item.getAxis("left").setWidth(36)
        item.addItem(self.bars)
        item.addItem(self.whiskers)

    # target ----------------------------------------------------------------------------------
    def target(self) -> int:
        return int(self.target_box.currentData() or TARGET_COUNTS[0])

    def set_target(self, n: int) -> None:
        """Select a target count (added to the list if it is not offered); no signal."""
        index = self.target_box.findData(int(n))
        self.target_box.blockSignals(True)
        if index < 0:
            self.target_box.addItem(f"{n} cells", int(n))
            index = self.target_box.count() - 1
        self.target_box.setCurrentIndex(index)
        self.target_box.blockSignals(False)
        if self._diff is not None:
            self._show_progress(self._diff.final_total, int(n))

    # contents --------------------------------------------------------------------------------
    def set_signed(self, text: str) -> None:
        """'Signed off by … on …' (empty: the case is open)."""
        self.signed_banner.setText(f"✓ {text}" if text else "")
        self.signed_banner.setVisible(bool(text))

    def set_lab_warning(self, text: str) -> None:
        """The lab-shift verdict (empty: none): the figures below may not apply."""
        self.lab_banner.setText(f"⚠ {text}" if text else "")
        self.lab_banner.setVisible(bool(text))

    def set_queue(self, count: int, unreviewed: int, thresholds_text: str = "",
                  selective_text: str = "") -> None:
        """The review queue: cells needing review and how many of them nobody has reviewed."""
        if count == 0:
            head = f"<span style='color:{theme.GOOD}'>No cells need review</span>"
        elif unreviewed:
            head = (f"<span style='color:{theme.WARN}'><b>{count:,}</b> cell"
                    f"{'s' if count != 1 else ''} need review · <b>{unreviewed:,}</b> not "
                    "reviewed yet</span>")
        else:
            head = (f"<span style='color:{theme.GOOD}'>{count:,} cell"
                    f"{'s' if count != 1 else ''} needed review · all reviewed ✓</span>")
        self.queue_label.setText(head)
        details = " · ".join(t for t in (thresholds_text, selective_text) if t)
        self.queue_detail.setText(f"Queued: {details}" if thresholds_text else details)
        self.queue_detail.setVisible(bool(details))

    def set_differential(self, d: Differential | None) -> None:
        if d is not None and d == self._diff:  # unchanged (a cell looked at again): no refill
            return
        self._diff = d
        if d is not None and d.target != self.target():
            self.set_target(d.target)
        self.blast_box.show_share(d)
        self._show_progress(d.final_total if d is not None else 0, self.target())
        rows = d.rows if d is not None else ()
        self.table.show_differential(d)
        self._fill_chart([r for r in rows if r.counted and r.final.total])
        if d is None:
            self.counts_label.setText("")
            return
        parts = [f"{d.excluded:,} excluded by a reviewer"] if d.excluded else []
        if d.not_counted:
            listed = ", ".join(f"{code} {n}" for code, n in sorted(d.not_counted.items()))
            parts.append(f"not counted: {listed}")
        parts.append(f"{d.reviewed_cells:,} of {d.cells:,} cells reviewed")
        self.counts_label.setText(" · ".join(parts))

    def _show_progress(self, counted: int, target: int) -> None:
        self.progress.setRange(0, max(1, target))
        self.progress.setValue(min(counted, target))
        done = counted >= target
        self.progress.setFormat(f"{counted:,} of {target:,} cells counted" + (" ✓" if done else ""))
        chunk = theme.GOOD if done else theme.ACCENT
        style = f"QProgressBar::chunk {{ background: {chunk}; border-radius: 4px; }}"
        theme.set_style(self.progress, style)

    def _fill_chart(self, rows: list[DifferentialRow]) -> None:
        n = len(rows)
        values = np.array([100 * r.final.fraction for r in rows], dtype=float)
        bounds = np.array([r.final.interval for r in rows], dtype=float).reshape(n, 2) * 100
        self.bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=values, height=0.62,
                          brushes=[pg.mkBrush(theme.class_color(r.code)) for r in rows],
                          pen=None, pens=None)
        self.whiskers.setData(x=values, y=np.arange(n, dtype=float),
                              left=values - bounds[:, 0], right=bounds[:, 1] - values,
                              beam=0.25)
        self.plot.getPlotItem().getAxis("left").setTicks([[(i, r.code) for i, r in
                                                            enumerate(rows)]])
        top = float(bounds[:, 1].max()) if n else 10.0
        top = max(10.0, min(100.0, math.ceil(top * 1.08 / 5) * 5))
        step = 5 if top <= 30 else 10 if top <= 60 else 20
        self.plot.getPlotItem().getAxis("bottom").setTicks(
            [[(v, f"{v:g}%") for v in np.arange(0, top + 0.1, step)]])
        self.plot.setXRange(0, top, padding=0)
        self.plot.setYRange(-0.6, max(1, n) - 0.4, padding=0)
        self.plot.setFixedHeight(40 + 18 * max(n, 2))
        self.plot.setVisible(n > 0)
        self.chart_caption.setVisible(n > 0)

    def differential(self) -> Differential | None:
        return self._diff

    def sizeHint(self) -> QSize:
        return QSize(380, 640)
