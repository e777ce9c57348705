"""Model fixtures for CLI and inference tests: the bundled model, or a random-weight export."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.paths import DEFAULT_MODEL

BUNDLED = Path(__file__).resolve().parents[2] / "models" / f"{DEFAULT_MODEL}.json"


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    """The shipped model (skips while models/DEFAULT_MODEL.json is absent)."""
    if not BUNDLED.is_file():
        pytest.skip(f"the bundled model models/{DEFAULT_MODEL}.json is not present yet")
    return BUNDLED


@pytest.fixture(scope="session")
def model_json(request: pytest.FixtureRequest) -> Path:
    """A usable ONNX model: the bundled one if present, else the random test export (torch)."""
    if BUNDLED.is_file():
        return BUNDLED
    return request.getfixturevalue("random_model")


def copy_model(sidecar: Path, folder: Path) -> Path:
    """Copy a model's sidecar and weight files into folder; returns the new sidecar."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = load_model_spec(sidecar)
    for name in spec.files.values():
        shutil.copy2(sidecar.parent / name, folder / name)
    return Path(shutil.copy2(sidecar, folder / sidecar.name))


def broken_models(model_json: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (model file to pass, file the error must name)."""
    out = {}
    missing = folder / "missing" / "nothing.json"
    out["missing"] = (missing, "nothing.json")

    bad_json = copy_model(model_json, folder / "bad_json")
    bad_json.write_text("{ this is not json", encoding="utf-8")
    out["bad_json"] = (bad_json, bad_json.name)

    sha = copy_model(model_json, folder / "sha")
    spec = json.loads(sha.read_text())
    onnx = sha.parent / spec["files"]["onnx"]
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")
    out["sha_mismatch"] = (sha, onnx.name)

    corrupt = copy_model(model_json, folder / "corrupt")
    spec = json.loads(corrupt.read_text())
    onnx = corrupt.parent / spec["files"]["onnx"]
    onnx.write_bytes(b"\x08\x07garbage, not a protobuf" * 50)
    spec["sha256"]["onnx"] = hashlib.sha256(onnx.read_bytes()).hexdigest()
    corrupt.write_text(json.dumps(spec))
    out["corrupt_onnx"] = (corrupt, onnx.name)

    classes = copy_model(model_json, folder / "classes")
    spec = json.loads(classes.read_text())
    spec["classes"], spec["class_names"] = spec["classes"][:5], spec["class_names"][:5]
    classes.write_text(json.dumps(spec))
    out["class_count"] = (classes, spec["files"]["onnx"])
    return out
