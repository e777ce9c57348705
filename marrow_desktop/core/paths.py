"""The one place that knows where bundled resources and models live (source tree or frozen app)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

MODEL_DIR_ENV = "MARROW_MODELS_DIR"
#: The shipped model's file stem in models/ (bundles, the wheel and the default all use it).
DEFAULT_MODEL = "rexnet150_marrow8"


def app_root() -> Path:
    """Folder holding `resources/` and `models/`: the PyInstaller bundle, an installed wheel's
    package data (`marrow_desktop/bundled`, see pyproject.toml) or the source checkout (also
    an editable install)."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    package = Path(__file__).resolve().parents[1]
    if (package / "bundled" / "models").is_dir():
        return package / "bundled"
    return package.parent


def is_frozen() -> bool:
    """True when running from a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def resources_dir() -> Path:
    """Bundled icons, style and sample images."""
    return app_root() / "resources"


def samples_dir() -> Path:
    """Bundled sample cell images (see resources/samples/CREDITS.md)."""
    return resources_dir() / "samples"


def fields_dir() -> Path:
    """Bundled smear-field photographs for field mode (see resources/fields/CREDITS.md)."""
    return resources_dir() / "fields"


def models_dir() -> Path:
    """Bundled model folder, or the folder named by $MARROW_MODELS_DIR."""
    override = os.environ.get(MODEL_DIR_ENV)
    return Path(override) if override else app_root() / "models"


def default_model_path() -> Path:
    """Metadata file of the default shipped model."""
    return models_dir() / f"{DEFAULT_MODEL}.json"


def user_data_dir() -> Path:
    """Per-user folder for the results store ($MARROW_DATA_DIR overrides it)."""
    override = os.environ.get("MARROW_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "marrow-desktop"


def default_store_path() -> Path:
    """The SQLite results store shared by the CLI and the GUI."""
    return user_data_dir() / "results.sqlite"


def bundle_flavour() -> str:
    """'cpu' or 'gpu' for a PyInstaller bundle (by whether torch was bundled), else 'source'."""
    if not is_frozen():
        return "source"
    import importlib.util

    return "gpu" if importlib.util.find_spec("torch") is not None else "cpu"
