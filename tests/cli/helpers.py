"""Running `marrow` in-process and reading its CSV reports."""

from __future__ import annotations

import csv
from html.parser import HTMLParser
from pathlib import Path

from marrow_desktop.cli import main


def marrow(*args: object) -> int:
    return main([str(a) for a in args])


def read_report(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def by_name(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    out = {Path(r["path"]).name: r for r in rows}
    assert len(out) == len(rows), "duplicate rows"
    return out


def probabilities(row: dict[str, str]) -> list[str]:
    return [v for k, v in row.items() if k.startswith("prob_")]


class _ReportPage(HTMLParser):
    """Collects the machine-readable parts of a case report page (core.case_report)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], dict[str, str]] = {}  # (class, col) -> attributes
        self.ids: dict[str, dict[str, str]] = {}  # id -> attributes, plus its text as "text"
        self._open: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        a["text"] = ""
        if "data-col" in a:
            self.cells[(a.get("data-class", ""), a["data-col"])] = a
        if "id" in a:
            self.ids[a["id"]] = a
        if tag not in ("meta", "br", "hr", "img", "link", "input"):  # void: no end tag
            self._open.append(a)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for a in self._open:
            a["text"] += data


def read_report_html(path: Path) -> _ReportPage:
    """Parse a case report page: .cells[(class, col)] and .ids[id] hold attributes + "text"."""
    page = _ReportPage()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page
