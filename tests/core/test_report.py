"""CSV reports: columns, spreadsheet-formula neutralisation, resume without duplicates."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.report import (
    ReportError,
    ReportWriter,
    report_columns,
    result_row,
    safe_cell,
    unsafe_cell,
)
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review

CLASSES = ("BLA", "EOS", "LYT")
QUALITY = QualityMetrics(brightness=150.123, too_dark=False, too_bright=False, stain_ratio=0.4,
                         stain_present=True, color_type="rgb", laplacian_var=17.5, blurry=False,
                         width=250, height=250)


def _ok(path: str) -> ImageResult:
    return ImageResult(path=path, content_sha256="c", model_sha256="m", classes=CLASSES,
                       probabilities=np.asarray([0.1, 0.6, 0.3], np.float32), quality=QUALITY)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_columns() -> None:
    cols = report_columns(CLASSES)
    assert cols[:6] == ["path", "sha256", "status", "error", "predicted_class", "confidence"]
    assert cols[-9:-7] == ["domain_score", "in_domain"]
    assert [c for c in cols if c.startswith("prob_")] == ["prob_BLA", "prob_EOS", "prob_LYT"]
    assert "laplacian_var" in cols and "blurry" in cols and cols[-1] == "model_sha256"
    assert cols[-7:-1] == ["reviewed_class", "reviewer", "reviewed_at", "final_class",
                           "needs_review", "review_reasons"]
    assert not any(c.startswith("prob_") for c in report_columns(()))


def test_row_values() -> None:
    row = result_row(_ok("a.jpg"), CLASSES)
    assert (row["predicted_class"], row["confidence"]) == ("EOS", "0.600000")
    assert (row["top2_class"], row["top3_class"]) == ("LYT", "BLA")
    assert row["prob_BLA"] == "0.100000" and row["laplacian_var"] == "17.500"
    assert row["blurry"] == 0 and row["stain_present"] == 1 and row["status"] == "ok"
    err = result_row(ImageResult.failed("b.jpg", "b.jpg: empty file"), CLASSES)
    assert err["status"] == "error" and err["predicted_class"] == "" and err["brightness"] == ""


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_formula_cells_are_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text
    assert unsafe_cell(safe_cell(text)) == text
    row = result_row(ImageResult.failed(text + ".jpg", text + ": bad"), CLASSES)
    assert row["path"] == "'" + text + ".jpg" and row["error"].startswith("'")


def test_plain_cells_untouched() -> None:
    assert safe_cell("/data/a.jpg") == "/data/a.jpg" and safe_cell(3) == 3
    assert unsafe_cell("'quoted") == "'quoted"


def test_written_report_has_bom_and_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with ReportWriter(out, CLASSES) as writer:
        writer.write(_ok("zellé_细胞.jpg"))
        writer.write(ImageResult.failed("=bad.jpg", "=bad.jpg: empty file"))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _rows(out)
    assert [r["path"] for r in rows] == ["zellé_细胞.jpg", "'=bad.jpg"]


def test_resume_keeps_ok_rows_and_drops_errors(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with ReportWriter(out, CLASSES) as writer:
        writer.write(_ok("a.jpg"))
        writer.write(ImageResult.failed("b.jpg", "b.jpg: file not found"))
        writer.write(_ok("-c.jpg"))
    with ReportWriter(out, CLASSES) as writer:
        assert writer.done == {"a.jpg", "-c.jpg"}
        writer.write(_ok("b.jpg"))
    rows = _rows(out)
    assert [r["path"] for r in rows] == ["a.jpg", "'-c.jpg", "b.jpg"]
    assert all(r["status"] == "ok" for r in rows)
    assert out.read_bytes().count(b"\xef\xbb\xbf") == 1  # appending adds no second BOM


def test_resume_drops_a_half_written_last_row(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with ReportWriter(out, CLASSES) as writer:
        writer.write(_ok("a.jpg"))
        writer.write(_ok("b.jpg"))
    data = out.read_bytes()
    out.write_bytes(data[:-20])  # killed while writing b.jpg's row
    with ReportWriter(out, CLASSES) as writer:
        assert writer.done == {"a.jpg"}
        writer.write(_ok("b.jpg"))
    assert [r["path"] for r in _rows(out)] == ["a.jpg", "b.jpg"]


def test_resume_drops_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with ReportWriter(out, CLASSES) as writer:
        writer.write(_ok("a.jpg"))
        writer.write(_ok("a.jpg"))
    with ReportWriter(out, CLASSES) as writer:
        assert writer.done == {"a.jpg"}
    assert len(_rows(out)) == 1


def test_no_resume_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with ReportWriter(out, CLASSES) as writer:
        writer.write(_ok("a.jpg"))
    with ReportWriter(out, CLASSES, resume=False) as writer:
        assert writer.done == set()
    assert _rows(out) == []


def test_other_columns_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with ReportWriter(out, CLASSES) as writer:
        writer.write(_ok("a.jpg"))
    with pytest.raises(ReportError, match=r"other columns"):
        ReportWriter(out, ("BLA", "EOS"))
    with pytest.raises(ValueError):  # ReportError is also a ValueError, as before
        ReportWriter(out, ())
    assert len(_rows(out)) == 1  # untouched


def test_review_columns() -> None:
    review = Review("LYT", "alice", "2024-05-01T10:00:00+00:00")
    row = result_row(_ok("a.jpg"), CLASSES, review, ["margin 8%", "blurry"])
    assert (row["reviewed_class"], row["reviewer"], row["reviewed_at"]) == \
        ("LYT", "alice", "2024-05-01T10:00:00+00:00")
    assert (row["final_class"], row["needs_review"], row["review_reasons"]) == \
        ("LYT", 1, "margin 8%; blurry")
    plain = result_row(_ok("a.jpg"), CLASSES)
    # default thresholds (0.7, 0.2): top 0.6, margin 0.3 -> low confidence only
    assert (plain["reviewed_class"], plain["final_class"]) == ("", "EOS")
    assert (plain["needs_review"], plain["review_reasons"]) == (1, "confidence 60%")
    excluded = result_row(_ok("a.jpg"), CLASSES, Review("excluded", "bob", "t"), [])
    assert excluded["final_class"] == "excluded" and excluded["needs_review"] == 0
    legacy = result_row(_ok("a.jpg"), CLASSES, "BLA")  # a bare label, as older callers pass
    assert (legacy["reviewed_class"], legacy["reviewer"], legacy["final_class"]) == \
        ("BLA", "", "BLA")
    err = result_row(ImageResult.failed("b.jpg", "b.jpg: empty file"), CLASSES)
    assert (err["final_class"], err["needs_review"], err["review_reasons"]) == ("", 0, "")


def test_reasons_follow_the_blur_verdict_of_the_run() -> None:
    from dataclasses import replace

    from marrow_desktop.core.report import cell_reasons

    blurry = replace(_ok("a.jpg"), quality=replace(QUALITY, blurry=True))
    assert cell_reasons(blurry) == ["confidence 60%", "blurry"]
    assert cell_reasons(blurry, blur_threshold=8.0) == ["confidence 60%"]  # 17.5 is sharp at 8
    assert cell_reasons(_ok("a.jpg"), blur_threshold=20.0)[-1] == "blurry"


def test_review_cells_are_neutralised(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    with ReportWriter(out, CLASSES) as writer:
        writer.write(_ok("a.jpg"), Review("EOS", "=cmd|' /C calc'!A0", "t"), [])
    assert _rows(out)[0]["reviewer"] == "'=cmd|' /C calc'!A0"
