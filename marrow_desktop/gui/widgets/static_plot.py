"""A pyqtgraph plot for read-only charts: no mouse, menu or buttons, fast repaints."""

from __future__ import annotations

import pyqtgraph as pg


def static_plot() -> pg.PlotWidget:
    """A white PlotWidget the user cannot pan, zoom or open a menu on."""
    plot = pg.PlotWidget(background="w")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setAntialiasing(False)  # bars and lines are axis-aligned: faster repaints
    return plot
