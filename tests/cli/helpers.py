"""Running `marrow` in-process and reading its CSV reports."""

from __future__ import annotations

import csv
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
