"""`marrow eda` writes its report files and survives bad images."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from marrow_desktop.cli import main
from tests.training.conftest import CORRUPT


@pytest.fixture()
def eda_set(tiny_set_corrupt: Path, tmp_path: Path) -> Path:
    root = tmp_path / "set"
    shutil.copytree(tiny_set_corrupt, root)
    (root / "EMPTY").mkdir()
    gray = Image.open(root / "EOS" / "EOS_00001.jpg").convert("L")
    gray.save(root / "EOS" / "EOS_00099.png")
    return root


def test_eda_report(eda_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "report"
    assert main(["eda", str(eda_set), "-o", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "EMPTY" in captured.err  # the empty class folder: a warning, not an error
    assert "unreadable 1" in captured.out
    for name in ("index.html", "quality.csv", "summary.csv", "unreadable.txt", "summary.json",
                 "class_counts.svg", "preview_grid.png", "blur_histogram.svg",
                 "unsharp_mask.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "quality.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20
    bad = [r for r in rows if r["readable"] == "False"]
    assert len(bad) == 1 and bad[0]["source"].endswith(CORRUPT)
    gray = next(r for r in rows if r["source"].endswith("EOS_00099.png"))
    assert gray["color_type"] == "grayscale" and gray["source_mode"] == "L"
    assert sum(r["blurriest_fraction"] == "True" for r in rows) == round(19 * 0.3)
    assert CORRUPT in (out / "unreadable.txt").read_text()
    with open(out / "summary.csv", newline="") as handle:
        summary = {r["class"]: r for r in csv.DictReader(handle)}
    assert summary["BLA"]["class_name"] == "Blast"
    assert summary["all"]["images"] == "20" and summary["all"]["grayscale"] == "1"
    page = (out / "index.html").read_text()
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(links) >= 6
    for link in links:
        assert not Path(link).is_absolute() and (out / link).is_file(), link


def test_eda_needs_no_matplotlib(eda_set: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The clinic install has no matplotlib: the report is drawn with SVG and OpenCV."""
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    out = tmp_path / "report"
    assert main(["eda", str(eda_set), "-o", str(out), "--no-progress"]) == 0
    svg = (out / "class_counts.svg").read_text()
    assert svg.startswith("<svg") and "Blast" in svg
    grid = Image.open(out / "preview_grid.png")
    assert grid.width > 300 and grid.height > 300
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.")]  # no temp left
