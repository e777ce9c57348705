"""A case report's per-cell CSV: `marrow classify`'s columns (core.report) with the case's
reviews filled in, then the case's details on every row (so a row read alone says whose it is).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from marrow_desktop.core.case_details import FIELDS
from marrow_desktop.core.case_report import CaseReport
from marrow_desktop.core.report import atomic_write, report_columns, result_row, safe_cell

CELLS_CSV = "cells.csv"
CASE_COLUMNS = [f"case_{name}" for name, _, _ in FIELDS]


def cells_columns(classes: tuple[str, ...], fields: bool = False) -> list[str]:
    """The columns; a case with cells found in field photographs also has their boxes."""
    return report_columns(classes, fields) + CASE_COLUMNS


def write_cells_csv(report: CaseReport, path: str | Path) -> Path:
    """One row per cell of the case (atomically written)."""
    fields = any(cell.result.region for cell in report.cells)
    columns = cells_columns(report.classes, fields)
    case = {f"case_{name}": safe_cell(getattr(report.details, name)) for name, _, _ in FIELDS}

    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for cell in report.cells:
            row = result_row(cell.result, report.classes, cell.review, cell.reasons, fields)
            writer.writerow({**row, **case})

    return atomic_write(Path(path), write, newline="", encoding="utf-8-sig")
