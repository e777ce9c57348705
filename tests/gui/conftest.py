"""GUI fixtures: offscreen Qt (tests/conftest.py), a settings file and results store per test,
a folder of real cell images, and main windows wired to a random-weight test model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from marrow_desktop.gui import qt_compat
from tests.conftest import copy_images


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    problem = qt_compat.runtime_problem()
    skip = pytest.mark.skip(reason=problem) if problem else None
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.gui)
            if skip is not None:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own user-data folder, so its own default results store."""
    folder = tmp_path / "user-data"
    monkeypatch.setenv("MARROW_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def app_settings(settings_file: Path):
    """Settings kept in the test's own INI file."""
    from marrow_desktop.gui.settings import AppSettings

    return AppSettings.from_file(settings_file)


@pytest.fixture
def image_folder(tmp_path: Path, sample_paths: list[Path]) -> Path:
    """A folder of the 21 real sample images (copies: mtimes belong to this test)."""
    return copy_images(sample_paths, tmp_path / "cells")


@pytest.fixture
def model_settings(app_settings, random_model: Path):
    """Settings naming the random-weight test model on the CPU backend."""
    prefs = app_settings.preferences()
    prefs.model_path = str(random_model)
    prefs.backend = "onnx"
    prefs.batch_size = 4
    app_settings.set_preferences(prefs)
    return app_settings


@pytest.fixture
def make_window(qtbot) -> Iterator[Callable]:
    """Build main windows that are closed (workers stopped, store closed) after the test."""
    from marrow_desktop.gui.main_window import MainWindow

    windows = []

    def make(settings, folder: Path | str | None = None, wait_model: bool = True,
             reviewer: str = "tester"):
        settings.session_reviewer = reviewer  # '' lets the window ask, as on a first review
        window = MainWindow(settings)
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        if folder is None:
            window.session.load_model()
        else:
            window.start(str(folder))
        if wait_model:
            qtbot.waitUntil(lambda: not window.session.model_loading, timeout=30000)
        return window

    yield make
    for window in windows:
        window.close()
