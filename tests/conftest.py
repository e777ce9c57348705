"""Shared fixtures: real images (bundled samples, ../shared/data when present) and models."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "resources" / "samples"
SHARED_DATA = Path(os.environ.get("MARROW_SHARED_DATA", REPO.parent / "shared" / "data"))
HAS_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "timm"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `torch` are skipped where the [torch] extra is not installed."""
    if HAS_TORCH:
        return
    skip = pytest.mark.skip(reason="needs the [torch] extra")
    for item in items:
        if "torch" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The 21 bundled sample images (file names start with the true class code)."""
    return SAMPLES


@pytest.fixture(scope="session")
def sample_paths(sample_dir: Path) -> list[Path]:
    return sorted(p for p in sample_dir.iterdir() if p.suffix == ".jpg")


@pytest.fixture(scope="session")
def matek_dir() -> Path:
    """The labelled 7-class bone-marrow set in ../shared/data (skips where absent)."""
    path = SHARED_DATA / "matek7"
    if not path.is_dir():
        pytest.skip("../shared/data/matek7 is not present")
    return path


@pytest.fixture(scope="session")
def random_model(tmp_path_factory: pytest.TempPathFactory, sample_paths: list[Path]) -> Path:
    """A rexnet_150 with random weights, 7 classes, 64 px, exported to ONNX (test use only)."""
    if not HAS_TORCH:
        pytest.skip("needs the [torch] extra")
    import torch

    from marrow_desktop.core.hashing import sha256_file
    from marrow_desktop.core.imageio import load_image
    from marrow_desktop.core.model_spec import ModelSpec
    from marrow_desktop.core.taxonomy import SHIPPED_CLASSES
    from marrow_desktop.inference.torch_model import create_model, save_weights
    from marrow_desktop.training.export import export_onnx

    folder = tmp_path_factory.mktemp("random_model")
    torch.manual_seed(0)
    model = create_model("rexnet_150", len(SHIPPED_CLASSES))
    weights = save_weights(model, folder / "ckpt.safetensors")
    ModelSpec(
        name="random-test-model", architecture="rexnet_150", classes=SHIPPED_CLASSES,
        input_size=64, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
        files={"torch": weights.name}, sha256={"torch": sha256_file(weights)},
        info={"note": "random weights, for tests only"},
    ).save(folder / "ckpt.json")
    images = [load_image(p).rgb for p in sample_paths[:4]]
    spec, _ = export_onnx(folder / "ckpt.json", folder / "export" / "random.onnx", images)
    assert spec.path is not None
    return spec.path


def copy_images(paths: list[Path], folder: Path) -> Path:
    """Copies of real images in a new folder (their mtimes then belong to the test)."""
    folder.mkdir(parents=True)
    for path in paths:
        shutil.copy2(path, folder / path.name)
    return folder
