"""`marrow evaluate`: metrics files, class mapping, split subsets, temperature fitting."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from marrow_desktop.cli import main
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.selective import query
from marrow_desktop.inference.loader import load_classifier

pytestmark = pytest.mark.torch  # the random_model fixture is made with torch


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_evaluate_writes_consistent_report(random_model: Path, sample_set: Path,
                                           tmp_path: Path) -> None:
    out = tmp_path / "ev"
    assert main(["evaluate", str(random_model), str(sample_set), "-o", str(out),
                 "--no-progress"]) == 0
    for name in ("metrics.json", "per_class.csv", "confusion_matrix.csv",
                 "confusion_matrix_normalized.csv", "confusion_matrix.png", "reliability.png",
                 "predictions.csv", "report.md"):
        assert (out / name).stat().st_size > 0, name
    cm = np.array([[int(v) for v in row[1:]] for row in _rows(out / "confusion_matrix.csv")[1:]])
    assert cm.shape == (7, 7) and cm.sum() == 21
    assert (cm.sum(axis=1) == 3).all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 21 and metrics["backend"] == "onnx"
    assert metrics["accuracy"] == pytest.approx(np.trace(cm) / 21)
    assert 0 <= metrics["ece"] <= 1
    predictions = _rows(out / "predictions.csv")
    assert len(predictions) == 22
    probs = np.array([[float(v) for v in row[6:]] for row in predictions[1:]])
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    selective = metrics["selective"]  # at the model's temperature
    assert selective["temperature"] == metrics["temperature"]
    everything = query(selective, 0.0, 0.0)
    assert everything is not None and everything.kept == everything.images == 21
    assert everything.accuracy == pytest.approx(metrics["accuracy"])
    confidence = probs.max(axis=1)
    sel = query(selective, 0.5, 0.0)
    assert sel is not None and abs(sel.kept - (confidence >= 0.5).sum()) <= 1  # 4-decimal CSV
    assert "| confidence ≥ |" in (out / "report.md").read_text(encoding="utf-8")


def test_tta_averages_eight_views(random_model: Path, sample_set: Path, tmp_path: Path) -> None:
    assert main(["evaluate", str(random_model), str(sample_set), "-o", str(tmp_path),
                 "--tta", "--no-progress"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["tta"] is True and metrics["images"] == 21


def test_unknown_class_is_an_error(random_model: Path, sample_set: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "set"
    shutil.copytree(sample_set, root)
    shutil.copytree(root / "BLA", root / "XYZ")
    assert main(["evaluate", str(random_model), str(root), "-o", str(tmp_path / "ev")]) == 2
    assert "XYZ" in capsys.readouterr().err


def test_fit_temperature_updates_sidecar_and_onnx(random_model: Path, sample_set: Path,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    source = load_model_spec(random_model.with_suffix(".json"))
    for file in [*source.files.values(), random_model.with_suffix(".json").name]:
        shutil.copy2(random_model.parent / file, model_dir / file)
    sidecar = model_dir / random_model.with_suffix(".json").name
    old_hash = source.sha256["onnx"]
    assert main(["evaluate", str(sidecar), str(sample_set), "-o", str(tmp_path / "ev"),
                 "--fit-temperature", "--no-progress"]) == 0
    assert "ECE" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    fitted = metrics["calibration"]["temperature"]
    spec = load_model_spec(sidecar)
    assert spec.temperature == pytest.approx(fitted) and fitted != 1.0
    assert spec.sha256["onnx"] != old_hash
    onnx_file = spec.weight_file("onnx")  # the new hash is right
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    embedded = json.loads(session.get_modelmeta().custom_metadata_map["marrow_model_spec"])
    assert embedded["temperature"] == pytest.approx(fitted)
    # the selective table at the fitted temperature travels with it, in both copies
    assert metrics["selective"]["temperature"] == pytest.approx(fitted)
    assert spec.info["validation_selective"] == metrics["selective"]
    assert embedded["info"]["validation_selective"] == metrics["selective"]
    assert embedded["info"]["calibration"] == metrics["calibration"]
    load_classifier(sidecar, backend="onnx")  # still loads, hashes verified


@pytest.mark.slow
def test_evaluate_a_runs_validation_split(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    assert main(["evaluate", str(trained_run / "best.json"), "-o", str(out),
                 "--split", str(trained_run / "split.csv"), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["images"] == 3 and metrics["backend"] == "torch"
    cm = np.array([[int(v) for v in row[1:]] for row in _rows(out / "confusion_matrix.csv")[1:]])
    assert cm.sum() == 3 and (cm.sum(axis=1) == 1).all()
    sources = [row[0] for row in _rows(out / "predictions.csv")[1:]]
    assert sorted(Path(s).name for s in sources) == ["BLA_00006.jpg", "EOS_00006.jpg",
                                                     "LYT_00006.jpg"]
