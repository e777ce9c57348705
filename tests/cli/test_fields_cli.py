"""`marrow classify --fields` and `marrow report --fields` on the bundled smear fields."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from marrow_desktop.core.cells import cell_id
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.report import FIELD_COLUMNS, report_columns
from marrow_desktop.core.review import case_id_for
from marrow_desktop.core.store import ResultStore
from tests.cli.helpers import by_name, marrow, read_report
from tests.conftest import REPO

FIELDS = REPO / "resources" / "fields"


@pytest.fixture()
def fields(tmp_path: Path) -> Path:
    """The three bundled fields, an all-black photograph and a broken file."""
    folder = tmp_path / "fields"
    shutil.copytree(FIELDS, folder, ignore=shutil.ignore_patterns("*.md"))
    cv2.imwrite(str(folder / "black.png"), np.zeros((480, 640, 3), np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg" * 10)
    return folder


def _classify(fields: Path, out: Path, model: Path, *extra: object) -> int:
    return marrow("classify", fields, "--fields", "-o", out, "--model", model,
                  "--no-progress", "--threads", "1", *extra)


def test_one_row_per_found_cell_with_its_box_and_crop(fields: Path, tmp_path: Path,
                                                      bundled_model: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out, crops = tmp_path / "cells.csv", tmp_path / "crops"
    assert _classify(fields, out, bundled_model, "--crops-dir", crops,
                     "--store", tmp_path / "s.sqlite") == 0
    rows = read_report(out)
    classes = load_model_spec(bundled_model).classes
    assert list(rows[0]) == report_columns(classes, fields=True)
    named = by_name(rows)  # one cell in each bundled field: one row per file
    assert len(rows) == 5
    assert named["black.png"]["status"] == "error" and "uniform" in named["black.png"]["error"]
    assert named["broken.jpg"]["status"] == "error"
    for name in ("BloodImage_00000.jpg", "BloodImage_00002.jpg", "BloodImage_00193.jpg"):
        row = named[name]
        assert row["status"] == "ok" and row["predicted_class"] in classes
        assert row["source_path"] == str(fields / name) == row["path"]
        assert row["scale_source"] == "measured" and 0.05 < float(row["um_per_px"]) < 0.09
        side = int(row["box_w"])
        assert side == int(row["box_h"]) and 250 < side < 500
        crop = load_image(Path(row["crop_path"])).rgb
        assert crop.shape == (250, 250, 3)  # the training crops' side: a single-cell image
        assert Path(row["crop_path"]).parent == crops
    cut = named["BloodImage_00002.jpg"]
    assert cut["box_cut"] == "1" and int(cut["box_y"]) < 0
    assert named["BloodImage_00000.jpg"]["box_cut"] == "0"
    err = capsys.readouterr().err
    assert "5 fields searched" in err and "5 rows" in err
    # the crops are single-cell images: classified as such they give the field run's answers
    again = tmp_path / "crops.csv"
    assert marrow("classify", crops, "-o", again, "--model", bundled_model, "--no-store",
                  "--no-progress") == 0
    for row in read_report(again):
        source = next(r for r in rows if r["crop_path"] == row["path"])
        assert row["error"] == ""  # not taken for a field photograph
        assert row["predicted_class"] == source["predicted_class"]
        assert float(row["confidence"]) == pytest.approx(float(source["confidence"]), abs=1e-4)


def test_a_field_run_resumes_and_refuses_a_single_cell_report(
        fields: Path, tmp_path: Path, bundled_model: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cells.csv"
    assert _classify(fields, out, bundled_model, "--no-store") == 0
    first = read_report(out)
    assert _classify(fields, out, bundled_model, "--no-store") == 0  # error rows are redone
    again = read_report(out)
    assert len(again) == len(first)
    assert ([r for r in again if r["status"] == "ok"] == [r for r in first if r["status"] == "ok"])
    assert marrow("classify", fields, "-o", out, "--model", bundled_model, "--no-store",
                  "--no-progress") == 2  # written with --fields: not mixed with other columns
    assert "was written with --fields" in capsys.readouterr().err


def test_scale_options_need_fields_and_a_given_scale_is_used(fields: Path, tmp_path: Path,
                                                             bundled_model: Path) -> None:
    out = tmp_path / "cells.csv"
    assert marrow("classify", fields, "-o", out, "--um-per-px", "0.07", "--no-progress") == 2
    assert not out.exists()
    assert _classify(fields, out, bundled_model, "--no-store", "--um-per-px", "0.07") == 0
    ok = [r for r in read_report(out) if r["status"] == "ok"]
    assert ok and all(r["scale_source"] == "given" and r["um_per_px"] == "0.0700" for r in ok)


def test_a_field_classified_as_one_cell_carries_a_note(fields: Path, tmp_path: Path,
                                                       bundled_model: Path) -> None:
    out = tmp_path / "single.csv"
    assert marrow("classify", fields / "BloodImage_00000.jpg", "-o", out, "--model",
                  bundled_model, "--no-store", "--no-progress") == 0
    (row,) = read_report(out)
    assert row["status"] == "ok" and "--fields" in row["error"]
    assert row["needs_review"] == "1" and "field photograph" in row["review_reasons"]
    assert not set(FIELD_COLUMNS) & set(row)


def test_report_counts_the_found_cells_with_their_reviews(fields: Path, tmp_path: Path,
                                                          bundled_model: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    store, out = tmp_path / "store.sqlite", tmp_path / "rep"
    args = ("report", fields, "--fields", "-o", out, "--model", bundled_model, "--store", store,
            "--no-progress", "--threads", "1")
    assert marrow(*args) == 0
    rows = read_report(out / "cells.csv")
    assert {"source_path", "box_x", "box_w"} <= set(rows[0])
    cell = by_name(rows)["BloodImage_00000.jpg"]
    region = ",".join(cell[k] for k in ("box_x", "box_y", "box_w", "box_h"))
    path = fields / "BloodImage_00000.jpg"
    with ResultStore(store) as s:  # review the found cell as the viewer would
        s.set_reviews(case_id_for([str(fields.absolute())]),
                      [(cell_id(sha256_file(path), region), str(path), "NGS")], "alice")
    capsys.readouterr()
    assert marrow(*args) == 0
    text = capsys.readouterr().out
    assert "3 fields with 3 cells found, 3 classified, 2 errors" in text
    reviewed = by_name(read_report(out / "cells.csv"))["BloodImage_00000.jpg"]
    assert (reviewed["reviewed_class"], reviewed["final_class"]) == ("NGS", "NGS")
    assert reviewed["sha256"] == cell["sha256"] and reviewed["box_x"] == cell["box_x"]
