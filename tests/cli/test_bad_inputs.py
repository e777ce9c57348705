"""`marrow classify` end to end over a folder of real images mixed with awkward files."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from marrow_desktop.core import batch
from marrow_desktop.core.imageio import load_image
from tests.cli import badfiles
from tests.cli.helpers import by_name, marrow, probabilities, read_report

NON_ASCII = "Zellé_细胞_№1.jpg"
EXPECTED_ERRORS = {
    "empty.jpg": "empty file (0 bytes)",
    "truncated.jpg": "corrupt or truncated",
    "text.jpg": "not an image",
    "huge.png": "too large (30000x30000 pixels",
    "deleted.jpg": "file not found",
}


@pytest.fixture()
def awkward_folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sample_paths[::3]:  # 7 real images, one per class
        shutil.copy(p, folder / p.name)
    src = sample_paths[0]
    rgb = load_image(src).rgb
    data = src.read_bytes()
    write = badfiles.write
    write(folder, "empty.jpg", b"")
    write(folder, "truncated.jpg", data[: len(data) // 2])
    write(folder, "text.jpg", b"patient list\nnot an image\n")
    write(folder, "alpha.png", badfiles.rgba_png(rgb))  # opaque alpha: same pixels as src
    write(folder, "alpha_cut.png", badfiles.rgba_png(rgb, transparent_rows=40))
    write(folder, "gray16.png", badfiles.png16(rgb))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    write(folder, "gray8.png", badfiles.encode(Image.fromarray(gray), "PNG"))
    write(folder, "cmyk.jpg", badfiles.encode(Image.fromarray(rgb).convert("CMYK"), "JPEG"))
    wide = np.ascontiguousarray(rgb[:150])  # 250 x 150, stored sideways with EXIF 6
    rotated = badfiles.exif_rotated_jpeg(wide, 6)
    write(folder, "rotated.jpg", rotated)
    upright = load_image(folder / "rotated.jpg").rgb
    write(folder, "upright.png", badfiles.encode(Image.fromarray(upright), "PNG"))
    write(folder, "tiny.png", badfiles.encode(Image.new("RGB", (1, 1), (180, 90, 160)), "PNG"))
    write(folder, "huge.png", badfiles.huge_png_header())
    write(folder, NON_ASCII, data)
    write(folder, "deleted.jpg", data)
    sub = folder / "sub"
    sub.mkdir()
    shutil.copy(sample_paths[2], sub / "nested.jpg")
    os.symlink(folder, sub / "loop")  # a directory symlink loop
    return folder


def test_every_file_gets_a_correct_row_or_an_error(
        awkward_folder: Path, tmp_path: Path, model_json: Path, sample_paths: list[Path],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real_read = batch.read_bytes

    def read_after_delete(path: str | Path, limit: int | None = None) -> bytes:
        if Path(path).name == "deleted.jpg":  # listed, then removed before it was read
            Path(path).unlink()
        return real_read(path, limit)

    monkeypatch.setattr(batch, "read_bytes", read_after_delete)
    out, cams = tmp_path / "report.csv", tmp_path / "cams"
    start = time.perf_counter()
    rc = marrow("classify", awkward_folder, "-o", out, "--model", model_json, "--recursive",
                "--cam-dir", cams, "--no-progress", "--batch-size", "4")
    elapsed = time.perf_counter() - start
    assert rc == 0
    assert elapsed < 60
    rows = by_name(read_report(out))  # also: no duplicates despite the symlink loop
    expected_names = {p.name for p in awkward_folder.iterdir() if p.is_file()} | {"nested.jpg"}
    expected_names.add("deleted.jpg")
    assert set(rows) == expected_names

    for name, message in EXPECTED_ERRORS.items():
        assert rows[name]["status"] == "error", name
        assert message in rows[name]["error"] and name in rows[name]["error"]
    ok = {n: r for n, r in rows.items() if n not in EXPECTED_ERRORS}
    assert all(r["status"] == "ok" and r["predicted_class"] for r in ok.values())
    assert len(ok) == len(rows) - len(EXPECTED_ERRORS)

    src = sample_paths[0].name
    assert probabilities(rows["alpha.png"]) == probabilities(rows[src])
    assert probabilities(rows["alpha_cut.png"]) != probabilities(rows[src])  # control
    assert probabilities(rows[NON_ASCII]) == probabilities(rows[src])
    assert probabilities(rows["gray16.png"]) == probabilities(rows["gray8.png"])
    assert rows["gray16.png"]["color_type"] == "grayscale"
    assert rows["cmyk.jpg"]["color_type"] == "rgb"
    assert probabilities(rows["rotated.jpg"]) == probabilities(rows["upright.png"])
    assert rows["tiny.png"]["blurry"] == "1"
    assert rows[NON_ASCII]["path"] == str(awkward_folder / NON_ASCII)

    rotated_cam = load_image(cams / "rotated_cam.png").rgb
    assert rotated_cam.shape == (250, 150, 3)  # EXIF orientation applied before the CAM
    assert len(list(cams.glob("*.png"))) == len(ok)
    summary = capsys.readouterr().out
    assert f"{len(rows)} images" in summary and f"{len(EXPECTED_ERRORS)} errors" in summary


def test_huge_header_alone_is_quick(tmp_path: Path, model_json: Path) -> None:
    huge = badfiles.write(tmp_path, "huge.png", badfiles.huge_png_header())
    start = time.perf_counter()
    assert marrow("classify", huge, "-o", tmp_path / "r.csv", "--model", model_json,
                  "--no-store", "--no-progress") == 1  # no image could be processed
    assert time.perf_counter() - start < 20  # model load included; no 2.7 GB decode
    (row,) = read_report(tmp_path / "r.csv")
    assert row["status"] == "error" and "too large" in row["error"]


def test_missing_and_non_image_arguments(tmp_path: Path, model_json: Path,
                                         sample_paths: list[Path]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    out = tmp_path / "r.csv"
    rc = marrow("classify", sample_paths[0], tmp_path / "gone.jpg", notes, "-o", out,
                "--model", model_json, "--no-progress")
    assert rc == 0
    rows = by_name(read_report(out))
    assert rows[sample_paths[0].name]["status"] == "ok"
    assert "file not found" in rows["gone.jpg"]["error"]
    assert "not a supported image type (.txt)" in rows["notes.txt"]["error"]
