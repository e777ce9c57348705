"""Interrupt and resume: finished images are neither recomputed nor written twice."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.inference.onnx_backend import OnnxClassifier
from tests.cli.helpers import by_name, marrow, read_report

_REAL = {"predict": OnnxClassifier.predict, "predict_pooled": OnnxClassifier.predict_pooled}


class Counter:
    """Wraps OnnxClassifier.predict(_pooled): counts images, raises Ctrl-C once `stop_after`
    were seen (a batch run with the lab-shift check calls predict_pooled)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stop_after: int | None = None) -> None:
        self.images = 0
        self.stop_after = stop_after
        counter = self

        def wrap(name: str):
            def method(clf: OnnxClassifier, images: Sequence[np.ndarray]):
                if counter.stop_after is not None and counter.images >= counter.stop_after:
                    raise KeyboardInterrupt
                counter.images += len(images)
                return _REAL[name](clf, images)
            return method

        for name in _REAL:
            monkeypatch.setattr(OnnxClassifier, name, wrap(name))


@pytest.fixture()
def folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    out = tmp_path / "cells"
    out.mkdir()
    for p in sample_paths:
        shutil.copy(p, out / p.name)
    return out


@pytest.mark.parametrize("use_store", [True, False])
def test_interrupt_then_resume(folder: Path, tmp_path: Path, model_json: Path, use_store: bool,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report.csv"
    store = ["--store", tmp_path / "r.sqlite"] if use_store else ["--no-store"]
    args = ["classify", folder, "-o", report, "--model", model_json, "--batch-size", "4",
            "--no-progress", *store]
    first = Counter(monkeypatch, stop_after=8)
    assert marrow(*args) == 130
    assert "run the same command again" in capsys.readouterr().err
    assert first.images == 8
    done = read_report(report)
    assert len(done) == 8 and all(r["status"] == "ok" for r in done)

    second = Counter(monkeypatch)
    assert marrow(*args) == 0
    assert second.images == 21 - 8  # finished images are not recomputed
    assert "8 images already done, 13 to go" in capsys.readouterr().err
    rows = read_report(report)
    assert len(rows) == 21 and len(by_name(rows)) == 21
    assert [Path(r["path"]).name for r in rows] == sorted(p.name for p in folder.iterdir())
    assert all(r["status"] == "ok" for r in rows)

    third = Counter(monkeypatch)
    assert marrow(*args) == 0
    assert third.images == 0 and len(read_report(report)) == 21


def test_store_alone_avoids_recomputing(folder: Path, tmp_path: Path, model_json: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.sqlite"
    base = ["--model", model_json, "--store", db, "--no-progress"]
    first = Counter(monkeypatch)
    assert marrow("classify", folder, "-o", tmp_path / "a.csv", *base) == 0
    assert first.images == 21
    second = Counter(monkeypatch)
    assert marrow("classify", folder, "-o", tmp_path / "b.csv", *base) == 0
    assert second.images == 0  # a new report, every result from the store
    a, b = read_report(tmp_path / "a.csv"), read_report(tmp_path / "b.csv")
    assert a == b
    third = Counter(monkeypatch)
    assert marrow("classify", folder, "-o", tmp_path / "b.csv", "--overwrite", *base[:2],
                  "--no-store", "--no-progress") == 0
    assert third.images == 21 and len(read_report(tmp_path / "b.csv")) == 21


def test_default_store_is_used(folder: Path, tmp_path: Path, model_json: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["--model", model_json, "--no-progress"]
    assert marrow("classify", folder, "-o", tmp_path / "a.csv", *args) == 0
    assert (tmp_path / "user-data" / "results.sqlite").is_file()  # $MARROW_DATA_DIR
    again = Counter(monkeypatch)
    assert marrow("classify", folder, "-o", tmp_path / "b.csv", *args) == 0
    assert again.images == 0


def test_error_rows_are_retried_not_duplicated(folder: Path, tmp_path: Path,
                                               model_json: Path) -> None:
    broken = folder / "BLA_99999.jpg"
    broken.write_bytes(b"")
    report = tmp_path / "r.csv"
    args = ["classify", folder, "-o", report, "--model", model_json, "--no-progress"]
    assert marrow(*args) == 0
    assert by_name(read_report(report))[broken.name]["status"] == "error"
    shutil.copy(folder / "BLA_00851.jpg", broken)  # the user fixes the file
    assert marrow(*args) == 0
    rows = by_name(read_report(report))
    assert len(rows) == 22 and rows[broken.name]["status"] == "ok"
