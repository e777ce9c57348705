"""Storing a fitted softmax temperature in a model's metadata (sidecar and embedded ONNX copy)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import ModelSpec

EMBEDDED_KEY = "marrow_model_spec"
SELECTIVE_KEY = "validation_selective"


def check_can_store(spec: ModelSpec) -> None:
    """Fail early (before a long evaluation) when the temperature could not be written back."""
    if spec.path is None:
        raise ModelFileError(f"{spec.name}: model metadata has no file to store a temperature in")
    if "onnx" in spec.files and importlib.util.find_spec("onnx") is None:
        raise ModelFileError(
            f"{spec.path}: storing a temperature in an ONNX model needs the onnx package "
            "(pip install onnx) to keep its embedded metadata consistent"
        )


def _with_calibration(info: dict[str, Any], calibration: dict[str, Any],
                      selective: dict[str, Any] | None) -> dict[str, Any]:
    """`info` with the new calibration and selective table (a stale table is dropped)."""
    info = {k: v for k, v in info.items() if k != SELECTIVE_KEY}
    info["calibration"] = calibration
    if selective is not None:
        info[SELECTIVE_KEY] = selective
    return info


def update_embedded(path: Path, temperature: float, calibration: dict[str, Any],
                    selective: dict[str, Any] | None = None) -> bool:
    """Set the temperature (and calibration info) in the metadata embedded in an ONNX file;
    False if it has none."""
    import onnx

    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == EMBEDDED_KEY:
            data = json.loads(prop.value)
            data["temperature"] = temperature
            data["info"] = _with_calibration(data.get("info") or {}, calibration, selective)
            prop.value = json.dumps(data)
            tmp = path.with_name(path.name + ".tmp")
            onnx.save(model, str(tmp))
            tmp.replace(path)
            return True
    return False


def store_temperature(spec: ModelSpec, temperature: float, calibration: dict[str, Any],
                      selective: dict[str, Any] | None = None) -> ModelSpec:
    """Write `temperature` into the sidecar JSON (and the ONNX file's embedded copy, re-hashing
    it); returns the updated spec.

    `calibration` goes to info["calibration"] and `selective` (a `core.selective` table at this
    temperature) to info["validation_selective"]; without one, an older table is removed, as it
    was measured at another temperature.
    """
    check_can_store(spec)
    assert spec.path is not None
    sha256 = dict(spec.sha256)
    if "onnx" in spec.files:
        onnx_path = spec.weight_file("onnx")
        if update_embedded(onnx_path, temperature, calibration, selective):
            sha256["onnx"] = sha256_file(onnx_path)
    updated = spec.with_updates(temperature=float(temperature), sha256=sha256,
                                info=_with_calibration(spec.info, calibration, selective))
    updated.save(spec.path)
    return updated
