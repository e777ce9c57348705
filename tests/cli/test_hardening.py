"""What an adversarial pass broke, each fixed and held here: hostile names, FIFOs and devices,
forged attribution, another model's JSON, more image types, per-image output failures,
exports inside a case, symlinked export folders, a damaged store, and private stores."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marrow_desktop.core.case_files import open_case
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.store import ResultStore
from tests.cli.helpers import by_name, marrow, read_report, read_report_html
from tests.cli.models import copy_model

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names and permissions")
BAD_NAME = os.fsdecode(b"cell_\xff\xfe_latin1.jpg")  # not valid UTF-8: surrogate escapes


@pytest.fixture
def cells(tmp_path: Path, sample_paths: list[Path]) -> Path:
    folder = tmp_path / "case"
    folder.mkdir()
    for path in sample_paths[:6]:
        shutil.copy2(path, folder / path.name)
    return folder


@POSIX
def test_a_name_that_is_not_utf8_is_written_escaped_and_the_run_goes_on(
        cells: Path, tmp_path: Path, model_json: Path, sample_paths: list[Path]) -> None:
    shutil.copy2(sample_paths[0], os.path.join(os.fsencode(cells), os.fsencode(BAD_NAME)))
    out = tmp_path / "r.csv"
    assert marrow("classify", cells, "-o", out, "--model", model_json, "--no-progress") == 0
    rows = read_report(out)
    assert len(rows) == 7 and all(r["status"] == "ok" for r in rows)
    escaped = [r for r in rows if "\\xff\\xfe" in r["path"]]
    assert len(escaped) == 1 and escaped[0]["path"].endswith("cell_\\xff\\xfe_latin1.jpg")
    # rerun: the escaped row is recognised as done (no duplicate, nothing redone)
    assert marrow("classify", cells, "-o", out, "--model", model_json, "--no-progress") == 0
    assert len(read_report(out)) == 7
    report = tmp_path / "report"
    assert marrow("report", cells, "-o", report, "--model", model_json, "--no-progress") == 0
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "report.html" and "<title>" in html
    assert marrow("trainset", cells, "-o", tmp_path / "ts", "--include-unreviewed",
                  "--model", model_json, "--no-progress") == 0


@POSIX
def test_fifo_and_device_arguments_are_error_rows_at_once(tmp_path: Path, model_json: Path,
                                                          cells: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    out = tmp_path / "r.csv"
    result: dict[str, int] = {}

    def run() -> None:
        result["rc"] = marrow("classify", fifo, zero, cells, "-o", out, "--model", model_json,
                              "--no-progress")

    thread = threading.Thread(target=run, daemon=True)
    start = time.perf_counter()
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "classify hung on a FIFO"
    assert time.perf_counter() - start < 60 and result["rc"] == 0
    rows = by_name(read_report(out))
    assert "not a regular file" in rows["pipe.jpg"]["error"]
    assert "not a regular file" in rows["zero.png"]["error"]
    assert sum(r["status"] == "ok" for r in rows.values()) == 6


def test_webp_gif_and_multipage_tiff_are_read(tmp_path: Path, model_json: Path,
                                              sample_paths: list[Path]) -> None:
    folder = tmp_path / "types"
    folder.mkdir()
    image = Image.open(sample_paths[0]).convert("RGB")
    image.save(folder / "cell.webp", lossless=True)
    image.save(folder / "cell.gif")
    image.save(folder / "pages.tif", save_all=True, append_images=[image.rotate(90)])
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "r.csv"
    assert marrow("classify", folder, "-o", out, "--model", model_json, "--no-progress") == 0
    rows = by_name(read_report(out))
    assert {"cell.webp", "cell.gif", "pages.tif"} <= set(rows)
    assert all(rows[n]["status"] == "ok" and rows[n]["predicted_class"]
               for n in ("cell.webp", "cell.gif", "pages.tif"))
    assert rows["pages.tif"]["error"] == "note: page 1 of 2 used"


def test_forged_sign_off_and_reviewer_break_the_trail(cells: Path, tmp_path: Path,
                                                      model_json: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    handle = open_case([str(cells)], store)
    writer = handle.writer()
    sha = next(iter({p.name: p for p in cells.iterdir()}))
    from marrow_desktop.core.hashing import sha256_file

    cid = sha256_file(cells / sha)
    writer.set_reviews(handle.case_id, [(cid, str(cells / sha), "BLA")], "Dr. Real")
    writer.sign_off(handle.case_id, "Dr. Real", "ok")
    assert writer.verify_case(handle.case_id).ok
    handle.close()
    store.close()
    db = sqlite3.connect(cells / ".marrow" / "case.sqlite")
    db.execute("UPDATE cases SET signed_by = 'Dr. Forger'")
    db.commit()
    out = tmp_path / "report"
    assert marrow("report", cells, "-o", out, "--model", model_json, "--store",
                  tmp_path / "s.sqlite", "--no-progress") == 0
    page = read_report_html(out / "report.html")
    assert page.ids["audit"]["data-status"] == "broken"
    assert "sign-off" in page.ids["audit"]["text"]
    db.execute("UPDATE cases SET signed_by = 'Dr. Real'")
    db.execute("UPDATE case_reviews SET reviewer = 'Dr. Forger'")
    db.commit()
    db.close()
    assert marrow("report", cells, "-o", out, "--model", model_json, "--store",
                  tmp_path / "s.sqlite", "--no-progress") == 0
    page = read_report_html(out / "report.html")
    assert page.ids["audit"]["data-status"] == "broken"
    assert "reviewer or time" in page.ids["audit"]["text"]


def test_another_temperature_is_another_model(cells: Path, tmp_path: Path,
                                              model_json: Path) -> None:
    """Stored predictions are keyed by the weights and the metadata that change them."""
    model = copy_model(model_json, tmp_path / "m")
    db = tmp_path / "s.sqlite"
    assert marrow("classify", cells, "-o", tmp_path / "a.csv", "--model", model, "--store", db,
                  "--no-progress") == 0
    data = json.loads(model.read_text())
    data["temperature"] = data.get("temperature", 1.0) * 3
    model.write_text(json.dumps(data))
    assert marrow("classify", cells, "-o", tmp_path / "b.csv", "--model", model, "--store", db,
                  "--no-progress") == 0
    a, b = read_report(tmp_path / "a.csv"), read_report(tmp_path / "b.csv")
    assert a[0]["model_sha256"] != b[0]["model_sha256"]
    assert a[0]["confidence"] != b[0]["confidence"]  # recomputed, not reused
    data["temperature"] = float("nan")
    model.write_text(json.dumps(data))
    assert marrow("classify", cells, "-o", tmp_path / "c.csv", "--model", model,
                  "--no-progress") == 2


def test_a_training_set_exported_inside_the_case_is_not_counted(
        cells: Path, tmp_path: Path, model_json: Path) -> None:
    export = cells / "export"
    assert marrow("trainset", cells, "-o", export, "--include-unreviewed", "--model",
                  model_json, "--no-progress") == 0
    assert len(list(export.rglob("*.jpg"))) == 6
    out = tmp_path / "report"
    assert marrow("report", cells, "-o", out, "--model", model_json, "--no-progress") == 0
    assert len(read_report(out / "cells.csv")) == 6  # not 12


def test_a_damaged_store_stops_the_run_with_one_message(cells: Path, tmp_path: Path,
                                                        model_json: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "s.sqlite"
    assert marrow("classify", cells, "-o", tmp_path / "a.csv", "--model", model_json,
                  "--store", db, "--no-progress") == 0
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for start in range(2 * page, len(data), 2 * page):
        data[start:start + 8] = b"\xff" * 8
    db.write_bytes(bytes(data))
    capsys.readouterr()
    out = tmp_path / "b.csv"
    assert marrow("classify", cells, "-o", out, "--model", model_json, "--store", db,
                  "--no-progress") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged" in err[0] and "s.sqlite" in err[0]


@POSIX
def test_the_users_store_is_private(cells: Path, tmp_path: Path, model_json: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "user-data"
    monkeypatch.setenv("MARROW_DATA_DIR", str(data))
    data.mkdir(mode=0o755)
    old = ResultStore(data / "results.sqlite", private=False)  # as earlier versions made it
    old.close()
    os.chmod(data / "results.sqlite", 0o644)
    assert marrow("classify", cells, "-o", tmp_path / "a.csv", "--model", model_json,
                  "--no-progress") == 0
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "results.sqlite").st_mode) == 0o600


def test_model_metadata_without_sha256_is_refused(tmp_path: Path, model_json: Path,
                                                  cells: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    model = copy_model(model_json, tmp_path / "m")
    data = json.loads(model.read_text())
    data["sha256"] = {}
    model.write_text(json.dumps(data))
    assert marrow("classify", cells, "-o", tmp_path / "r.csv", "--model", model,
                  "--no-progress") == 2
    assert "no SHA-256 recorded" in capsys.readouterr().err
    spec = load_model_spec(model_json)
    assert spec.identity == load_model_spec(model_json).identity


def test_unsupported_types_are_named_in_the_summary(cells: Path, tmp_path: Path,
                                                    model_json: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    (cells / "notes.txt").write_text("x")
    (cells / "scan.heic").write_bytes(b"\x00" * 16)
    assert marrow("classify", cells, "-o", tmp_path / "r.csv", "--model", model_json,
                  "--no-progress") == 0
    out = capsys.readouterr().out
    assert "skipped 2 files (type not supported): notes.txt, scan.heic" in out
    np.testing.assert_equal(len(read_report(tmp_path / "r.csv")), 6)


def test_a_second_writer_of_the_same_report_is_refused(cells: Path, tmp_path: Path,
                                                       model_json: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    from marrow_desktop.core.report import ReportWriter

    out = tmp_path / "r.csv"
    holder = ReportWriter(out, ("BLA",))  # another run holds the report
    try:
        assert marrow("classify", cells, "-o", out, "--model", model_json,
                      "--no-progress") == 2
        assert "another marrow run is writing this report" in capsys.readouterr().err
    finally:
        holder.close()
    assert marrow("classify", cells, "-o", out, "--model", model_json, "--overwrite",
                  "--no-progress") == 0
    assert len(read_report(out)) == 6


def test_resume_redoes_a_replaced_image_and_refuses_another_model(
        cells: Path, tmp_path: Path, model_json: Path, sample_paths: list[Path],
        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.csv"
    assert marrow("classify", cells, "-o", out, "--model", model_json, "--no-progress") == 0
    first = by_name(read_report(out))
    target = sorted(cells.iterdir())[0]
    shutil.copy2(sample_paths[-1], target)  # the image is replaced under the same name
    capsys.readouterr()
    assert marrow("classify", cells, "-o", out, "--model", model_json, "--no-progress") == 0
    assert "describe files that changed since" in capsys.readouterr().err
    again = by_name(read_report(out))
    assert len(again) == 6 and again[target.name]["sha256"] != first[target.name]["sha256"]
    other = copy_model(model_json, tmp_path / "m")
    data = json.loads(other.read_text())
    data["temperature"] = data.get("temperature", 1.0) * 2
    other.write_text(json.dumps(data))
    assert marrow("classify", cells, "-o", out, "--model", other, "--no-progress") == 2
    assert "written with another model" in capsys.readouterr().err
    assert len(read_report(out)) == 6  # untouched


@POSIX
def test_output_failures_are_per_image_or_one_clear_line(cells: Path, tmp_path: Path,
                                                         model_json: Path, sample_paths,
                                                         capsys: pytest.CaptureFixture) -> None:
    long_name = "x" * 250 + ".jpg"  # + "_cam.png" would pass 255 bytes
    shutil.copy2(sample_paths[0], cells / long_name)
    cams = tmp_path / "cams"
    out = tmp_path / "r.csv"
    assert marrow("classify", cells, "-o", out, "--model", model_json, "--cam-dir", cams,
                  "--no-progress") == 0
    rows = by_name(read_report(out))
    assert rows[long_name]["status"] == "ok" and len(list(cams.glob("*.png"))) == 7
    locked = tmp_path / "read-only"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions
        pytest.skip("running as a user that can write anywhere")
    capsys.readouterr()
    assert marrow("classify", cells, "-o", tmp_path / "r2.csv", "--model", model_json,
                  "--cam-dir", locked / "cams", "--no-progress") == 2
    assert "cannot write heat maps here" in capsys.readouterr().err


@POSIX
def test_trainset_never_writes_or_deletes_through_planted_links(
        cells: Path, tmp_path: Path, model_json: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "keep.txt"
    victim.write_text("precious")
    export = tmp_path / "export"
    assert marrow("trainset", cells, "-o", export, "--include-unreviewed", "--model",
                  model_json, "--no-progress") == 0
    manifest = export / "manifest.csv"
    rows = manifest.read_text(encoding="utf-8-sig").splitlines()
    # a planted link and a manifest row naming a file through it
    (export / "evil").symlink_to(outside)
    rows.append(f"evil/keep.txt,{rows[1].split(',')[1]},{'0' * 64},BLA,model,,")
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    classes = [p for p in export.iterdir() if p.is_dir() and not p.is_symlink()]
    shutil.rmtree(classes[0])
    classes[0].symlink_to(outside)  # a class folder that leads outside
    assert marrow("trainset", cells, "-o", export, "--model", model_json,
                  "--no-progress") == 0  # reviewed only: the earlier rows are taken out
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
