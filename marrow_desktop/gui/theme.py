"""Look and feel: palette, stylesheet, icons, class colours, numpy <-> QImage, pyqtgraph options.

Resources are found through core.paths, the one module that knows the bundled layout.
"""

from __future__ import annotations

import zlib
from functools import cache

import numpy as np
from PySide6.QtGui import QColor, QIcon, QImage, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from marrow_desktop.core.paths import resources_dir

#: Colours of the shipped classes (colour-blind-aware Tableau hues); other codes hash into these.
CLASS_COLORS = {
    "BLA": "#d62728", "EOS": "#ff7f0e", "LYT": "#1f77b4", "MON": "#9467bd", "NGS": "#2ca02c",
    "NIF": "#7f7f7f", "PMO": "#8c564b", "ART": "#bcbd22", "BAS": "#17becf", "EBO": "#e377c2",
}
_EXTRA = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d",
          "#31a354", "#756bb1", "#636363", "#ad494a"]

ACCENT = "#2563eb"
TOP_COLORS = ("#2563eb", "#60a5fa", "#bfdbfe")  # top-1, top-2, top-3 bars
OTHER_BAR = "#d4d8de"
GOOD = "#15803d"
BAD = "#b91c1c"
WARN = "#b45309"
UNFAMILIAR = "#7c2d12"  # a cell unlike the model's training images (lab-shift check)
MUTED = "#64748b"


def class_color(code: str) -> QColor:
    if code in CLASS_COLORS:
        return QColor(CLASS_COLORS[code])
    return QColor(_EXTRA[zlib.crc32(code.encode()) % len(_EXTRA)])


@cache
def icon(name: str) -> QIcon:
    """An icon from resources/icons (empty icon when the file is missing)."""
    path = resources_dir() / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def to_qimage(rgb: np.ndarray) -> QImage:
    """H x W x 3 uint8 RGB (row-major) -> an independent QImage."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def set_style(widget: QWidget, style: str) -> None:
    """Set a widget's style sheet only when it changes: a new one re-polishes the widget and
    asks for a relayout (about 1 ms each, several times a second during a batch)."""
    if widget.styleSheet() != style:
        widget.setStyleSheet(style)


def configure_pyqtgraph() -> None:
    """Row-major images (else they show transposed), white plots, antialiasing."""
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background="w",
                        foreground="#334155")


def apply_theme(app: QApplication) -> None:
    """Fusion style, a light palette and the bundled stylesheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#f5f6f8", QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f1f4f8", QPalette.ColorRole.Text: "#0f172a",
        QPalette.ColorRole.WindowText: "#0f172a", QPalette.ColorRole.Button: "#ffffff",
        QPalette.ColorRole.ButtonText: "#0f172a", QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#ffffff",
        QPalette.ColorRole.ToolTipText: "#0f172a", QPalette.ColorRole.PlaceholderText: "#94a3b8",
    }
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#94a3b8"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText,
                     QColor("#94a3b8"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText,
                     QColor("#94a3b8"))
    app.setPalette(palette)
    style = resources_dir() / "style" / "marrow.qss"
    if style.is_file():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    app.setWindowIcon(icon("marrow"))
    configure_pyqtgraph()
