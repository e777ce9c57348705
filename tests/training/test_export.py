"""`marrow export`: ONNX with three outputs, parity with PyTorch, optional int8."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from marrow_desktop.cli import main
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.inference.onnx_backend import OUTPUTS, OnnxClassifier

pytestmark = [pytest.mark.torch, pytest.mark.slow]


@pytest.fixture(scope="module")
def exported(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["export", str(trained_run / "best.json"), "-o", str(out),
                     "--name", "tiny-test"]) == 0
    return out, buffer.getvalue()


def test_export_parity_and_outputs(exported: tuple[Path, str], sample_paths: list[Path]) -> None:
    out, printed = exported
    diff = float(re.search(r"max probability difference (\S+)", printed).group(1))
    assert diff < 1e-4
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == list(OUTPUTS)
    spec = load_model_spec(out.with_suffix(".json"))
    assert spec.name == "tiny-test" and set(spec.files) == {"onnx", "torch"}
    spec.weight_file("onnx")
    spec.weight_file("torch")  # both hashes match the sidecar
    meta = session.get_modelmeta().custom_metadata_map
    assert "tiny-test" in meta["marrow_model_spec"]


def test_int8_keeps_cam_outputs(trained_run: Path, tiny_set: Path,
                                sample_paths: list[Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "q.onnx"
    rc = main(["export", str(trained_run / "best.json"), "-o", str(out), "--quantize-int8",
               "--calibration", str(tiny_set), "--max-drop", "100"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"accuracy fp32 [\d.]+, int8 [\d.]+", printed)
    int8 = load_model_spec(tmp_path / "q.int8.json")
    assert int8.files == {"onnx": "q.int8.onnx"}
    assert int8.info["quantization"]["validation_images"] == 3  # the run's own val split
    fp32 = OnnxClassifier(load_model_spec(out.with_suffix(".json")))
    quantized = OnnxClassifier(int8)
    np.testing.assert_array_equal(fp32.fc_weight, quantized.fc_weight)
    from marrow_desktop.core.imageio import load_image

    image = load_image(sample_paths[0]).rgb
    cam = quantized.explain(image).cam
    assert cam.shape == (64, 64) and cam.min() >= 0 and cam.max() <= 1


def test_int8_is_discarded_when_less_accurate(trained_run: Path, tiny_set: Path,
                                              tmp_path: Path) -> None:
    out = tmp_path / "q.onnx"
    rc = main(["export", str(trained_run / "best.json"), "-o", str(out), "--quantize-int8",
               "--calibration", str(tiny_set), "--max-drop", "-101"])
    assert rc == 1
    assert not (tmp_path / "q.int8.onnx").exists() and not (tmp_path / "q.int8.json").exists()
    assert out.is_file()  # the fp32 export stands
