"""CLI tests run `marrow` in-process; the default results store goes to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.models import bundled_model, model_json  # noqa: F401


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARROW_DATA_DIR", str(tmp_path / "user-data"))
