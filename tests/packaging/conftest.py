"""Fixtures for the packaging tests: the bundled model (skips when absent) and broken copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marrow_desktop.core.paths import default_model_path


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    """The shipped model's sidecar (models/ or $MARROW_MODELS_DIR); skips where absent."""
    path = default_model_path()
    if not path.is_file():
        pytest.skip(f"the bundled model is not present ({path})")
    return path


@pytest.fixture
def model_copy(tmp_path: Path, bundled_model: Path) -> Path:
    """A writable copy of the bundled model's files (sidecar path returned)."""
    import json

    spec = json.loads(bundled_model.read_text(encoding="utf-8"))
    names = {bundled_model.name, *spec.get("files", {}).values()}
    for name in names:
        source = bundled_model.parent / name
        if source.is_file():
            shutil.copy2(source, tmp_path / name)
    return tmp_path / bundled_model.name


@pytest.fixture
def random_model_copy(tmp_path: Path, random_model: Path) -> Path:
    """A writable copy of the random-weights test model (needs the [torch] extra)."""
    folder = tmp_path / "random"
    shutil.copytree(random_model.parent, folder)
    return folder / random_model.name
