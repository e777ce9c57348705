"""The ONNX Runtime and PyTorch backends agree: probabilities and CAM maps on real images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from marrow_desktop.core.imageio import load_image
from marrow_desktop.core.model_spec import load_model_spec

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module", params=["random", "bundled"])
def backends(request: pytest.FixtureRequest) -> Iterator[tuple]:
    import torch

    from marrow_desktop.inference.onnx_backend import OnnxClassifier
    from marrow_desktop.inference.torch_backend import TorchClassifier

    fixture = "random_model" if request.param == "random" else "bundled_model"
    spec = load_model_spec(request.getfixturevalue(fixture))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch-1 Grad-CAM: threads only add contention on a busy CPU
    yield OnnxClassifier(spec, threads=1), TorchClassifier(spec, device="cpu")
    torch.set_num_threads(threads)


def test_same_probabilities(backends: tuple, sample_paths: list[Path]) -> None:
    onnx, torch_ = backends
    images = [load_image(p).rgb for p in sample_paths]
    a, b = onnx.predict(images), torch_.predict(images)
    assert np.abs(a - b).max() < 1e-4
    assert (a.argmax(axis=1) == b.argmax(axis=1)).all()


def test_same_cam(backends: tuple, sample_paths: list[Path]) -> None:
    """numpy CAM from the ONNX features == pytorch-grad-cam's GradCAM, same normalisation."""
    onnx, torch_ = backends
    informative = 0
    for path in sample_paths[::10]:
        rgb = load_image(path).rgb
        for index in (None, 2):
            a, b = onnx.explain(rgb, index), torch_.explain(rgb, index)
            assert a.class_index == b.class_index
            assert a.cam.shape == b.cam.shape == (onnx.spec.input_size,) * 2
            assert np.abs(a.cam - b.cam).max() < 1e-4, path.name
            informative += a.cam.max() - a.cam.min() > 0.5  # not a flat (all-ReLU'd) map
    assert informative >= 2
