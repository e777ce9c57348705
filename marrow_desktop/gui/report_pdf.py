"""The case report as report.pdf, drawn by Qt itself (QTextDocument on a QPdfWriter, the chart
through QtSvg): no browser engine in the bundle. The page is the HTML summary's own template in
the subset Qt lays out (core.report_html.summary_html(for_pdf=True)); runs on a worker."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QByteArray, QMarginsF, QSize, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
)
from PySide6.QtSvg import QSvgRenderer

from marrow_desktop.core.case_report import CaseReport
from marrow_desktop.core.report_html import chart_svg, summary_html

REPORT_PDF = "report.pdf"
CHART_SCALE = 3  # the chart image's pixels per SVG unit (sharp in print)
BODY_POINTS = 8.0  # the page's text size (headings are relative to it)


def _chart_image(svg: str) -> QImage:
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    size = renderer.defaultSize()
    image = QImage(QSize(size.width() * CHART_SCALE, size.height() * CHART_SCALE),
                   QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


def report_document(report: CaseReport) -> QTextDocument:
    """The page as a QTextDocument (chart included as an image resource)."""
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    font = QFont()
    font.setPointSizeF(BODY_POINTS)
    doc.setDefaultFont(font)
    svg = chart_svg(report)
    if svg:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("chart.svg"),
                        _chart_image(svg))
    doc.setHtml(summary_html(report, for_pdf=True))
    return doc


def write_report_pdf(report: CaseReport, path: str | Path) -> Path:
    """Write the one-page A4 PDF next to the HTML (atomically: a temporary file renamed)."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer = QPdfWriter(temp)
        writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        writer.setPageMargins(QMarginsF(12, 10, 12, 10), QPageLayout.Unit.Millimeter)
        writer.setTitle(f"Differential count – {report.case_id}")
        writer.setCreator("Marrow Desktop")
        report_document(report).print_(writer)
        del writer  # closes the file
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path
