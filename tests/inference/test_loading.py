"""Loading models: backend choice, and every broken model file is a ModelFileError naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.inference import loader
from marrow_desktop.inference.classifier import Classifier, top_k
from marrow_desktop.inference.loader import load_classifier, resolve_backend
from tests.cli.models import broken_models

CASES = ["missing", "bad_json", "sha_mismatch", "corrupt_onnx", "class_count"]


@pytest.mark.parametrize("case", CASES)
def test_broken_model_names_the_file(case: str, model_json: Path, tmp_path: Path) -> None:
    model, name = broken_models(model_json, tmp_path)[case]
    with pytest.raises(ModelFileError) as info:
        load_classifier(model, backend="onnx")
    message = str(info.value)
    assert name in message and "\n" not in message


def test_auto_is_onnx_without_cuda(model_json: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "nvidia_driver_present", lambda: False)
    classifier = load_classifier(model_json, backend="auto", threads=1)
    assert classifier.backend == "onnx" and isinstance(classifier, Classifier)
    assert "ONNX Runtime" in classifier.device_name and "1 threads" in classifier.device_name


def test_auto_rules(model_json: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_model_spec(model_json)
    monkeypatch.setattr(loader, "torch_installed", lambda: True)
    monkeypatch.setattr(loader, "torch_build_has_cuda", lambda: True)
    monkeypatch.setattr(loader, "nvidia_driver_present", lambda: True)
    assert resolve_backend("auto", spec) == ("torch" if "torch" in spec.files else "onnx")
    onnx_only = spec.with_updates(files={"onnx": spec.files["onnx"]})
    assert resolve_backend("auto", onnx_only) == "onnx"
    monkeypatch.setattr(loader, "torch_build_has_cuda", lambda: False)  # CPU-only torch
    assert resolve_backend("auto", spec) == "onnx"
    monkeypatch.setattr(loader, "torch_build_has_cuda", lambda: True)
    monkeypatch.setattr(loader, "nvidia_driver_present", lambda: False)  # no GPU
    assert resolve_backend("auto", spec) == "onnx"
    assert resolve_backend("onnx", spec) == "onnx"
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("tpu", spec)


def test_deciding_auto_does_not_import_torch(model_json: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from marrow_desktop.core.model_spec import load_model_spec; "
            "from marrow_desktop.inference.loader import resolve_backend; "
            f"print(resolve_backend('auto', load_model_spec({str(model_json)!r}))); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1] == "False"


def test_torch_build_without_cuda_is_seen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util
    from types import SimpleNamespace

    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "version.py").write_text("__version__ = '2.14.1+cpu'\ncuda: Optional[str] = None\n")
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: SimpleNamespace(origin=str(fake / "__init__.py")))
    assert not loader.torch_build_has_cuda()
    (fake / "version.py").write_text("cuda: Optional[str] = '13.0'\n")
    assert loader.torch_build_has_cuda()


def test_torch_backend_without_torch_is_a_clear_error(model_json: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "torch_installed", lambda: False)
    with pytest.raises(ModelFileError, match=r"\[torch\] extra"):
        load_classifier(model_json, backend="torch")


def test_onnx_predict_and_explain(model_json: Path, sample_paths: list[Path]) -> None:
    classifier = load_classifier(model_json, backend="onnx", threads=1)
    k, size = classifier.spec.num_classes, classifier.spec.input_size
    images = [load_image(p).rgb for p in sample_paths[:6]]
    batch = classifier.predict(images)
    assert batch.shape == (6, k) and batch.dtype == np.float32
    assert np.allclose(batch.sum(axis=1), 1, atol=1e-5)
    single = np.concatenate([classifier.predict([i]) for i in images])
    assert np.abs(batch - single).max() < 1e-5  # batching does not change results
    assert classifier.predict([]).shape == (0, k)
    explanation = classifier.explain(images[0])
    assert explanation.class_index == top_k(batch[0], 1)[0][0]
    assert np.abs(explanation.probabilities - batch[0]).max() < 1e-5
    assert explanation.cam.shape == (size, size)
    assert explanation.cam.min() >= 0 and explanation.cam.max() <= 1
    other = classifier.explain(images[0], class_index=(explanation.class_index + 1) % k)
    assert not np.allclose(other.cam, explanation.cam)
