"""`marrow classify -o NAME.parquet`: the CSV report's rows in Parquet, continued like it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.report import report_columns
from marrow_desktop.core.report_parquet import parquet_rows
from tests.cli.helpers import marrow, read_report
from tests.conftest import copy_images

pytest.importorskip("pyarrow")


@pytest.fixture()
def folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    out = copy_images(sample_paths[:8], tmp_path / "cells")
    (out / "zz_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg" * 10)
    return out


def _run(folder: Path, out: Path, model: Path, *extra: object) -> int:
    return marrow("classify", folder, "-o", out, "--model", model, "--no-store",
                  "--no-progress", *extra)


def test_parquet_holds_the_csv_reports_rows(folder: Path, tmp_path: Path,
                                            bundled_model: Path) -> None:
    csv_out, pq_out = tmp_path / "r.csv", tmp_path / "r.parquet"
    assert _run(folder, csv_out, bundled_model) == 0
    assert _run(folder, pq_out, bundled_model) == 0
    rows = list(parquet_rows(pq_out))
    assert list(rows[0]) == report_columns(load_model_spec(bundled_model).classes)
    assert rows == read_report(csv_out)
    assert not pq_out.with_name("r.parquet.part").exists()


def test_a_parquet_report_is_continued_and_its_errors_redone(folder: Path, tmp_path: Path,
                                                             bundled_model: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    out = tmp_path / "r.parquet"
    assert _run(folder, out, bundled_model) == 0
    first = list(parquet_rows(out))
    (folder / "zz_broken.jpg").unlink()
    shutil.copy(folder / sorted(p.name for p in folder.iterdir())[0], folder / "zz_new.jpg")
    capsys.readouterr()
    assert _run(folder, out, bundled_model) == 0
    assert "8 images already done, 1 to go" in capsys.readouterr().err
    second = list(parquet_rows(out))
    assert second[:8] == [r for r in first if r["status"] == "ok"]
    assert [Path(r["path"]).name for r in second[8:]] == ["zz_new.jpg"]
    # a field run's columns are never mixed into it
    assert _run(folder, out, bundled_model, "--fields") == 2
    assert "was written without --fields" in capsys.readouterr().err
    assert list(parquet_rows(out)) == second
