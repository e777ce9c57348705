"""Where models live: the bundled model folder (read-only, shipped with the application) and the
user's model folder (app data; `marrow adapt` writes there). `marrow models` and Settings list
both; only user models can be removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import BACKBONE_ROLES, ModelSpec, load_model_spec
from marrow_desktop.core.paths import default_model_path, models_dir, user_data_dir

_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> SHA-256


def user_models_dir() -> Path:
    """The user's own models (adapted ones): app data folder / models."""
    return user_data_dir() / "models"


def model_dirs() -> list[Path]:
    """Where models are looked for, the user's folder first."""
    return [user_models_dir(), models_dir()]


@dataclass(frozen=True)
class ModelEntry:
    """A model found in one of the folders (spec None when its metadata cannot be read)."""

    path: Path
    bundled: bool
    spec: ModelSpec | None = None
    error: str = ""

    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else self.path.stem

    @property
    def base_name(self) -> str:
        return str(self.spec.base.get("name", "")) if self.spec is not None else ""

    @property
    def created(self) -> str:
        """When the model was made (adapted models record it), else the file's date."""
        if self.spec is not None:
            made = (self.spec.info.get("adaptation") or {}).get("created")
            if made:
                return str(made)[:10]
        try:
            stamp = self.path.stat().st_mtime
        except OSError:
            return ""
        return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d")

    @property
    def local_counts(self) -> dict[str, int]:
        if self.spec is None:
            return {}
        counts = (self.spec.info.get("adaptation") or {}).get("local_counts") or {}
        return {str(k): int(v) for k, v in counts.items()}

    @property
    def is_default(self) -> bool:
        return self.bundled and self.path.resolve() == default_model_path().resolve()


def _is_model_json(path: Path) -> bool:
    return path.suffix == ".json" and not path.name.startswith(".")


def list_models() -> list[ModelEntry]:
    """Every model in the user's folder and the bundled folder (bundled last)."""
    entries = []
    for folder in model_dirs():
        bundled = folder == models_dir()
        try:
            files = sorted(p for p in folder.iterdir() if _is_model_json(p))
        except OSError:
            continue
        for path in files:
            try:
                entries.append(ModelEntry(path, bundled, load_model_spec(path)))
            except ModelFileError as exc:
                entries.append(ModelEntry(path, bundled, error=str(exc)))
    return entries


def find_model(name_or_path: str | os.PathLike[str]) -> Path:
    """A model's metadata file: an existing path, or a model name in the user's folder, then
    the bundled one."""
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".json", ".onnx", ".safetensors") or os.sep in str(path):
        return path
    for folder in model_dirs():
        candidate = folder / f"{path.name}.json"
        if candidate.is_file():
            return candidate
    names = ", ".join(e.name for e in list_models() if e.spec is not None) or "none"
    raise ModelFileError(f"no model named {path.name!r} (known: {names}); give a .json path")


def _cached_sha(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]


def find_base_file(spec: ModelSpec, role: str) -> Path:
    """The base model's weight file of an adapted model, by file name and SHA-256."""
    files = spec.base.get("files") or {}
    expected = (spec.base.get("sha256") or {}).get(role, "")
    name = files.get(role, "")
    if role not in BACKBONE_ROLES or not name or not expected:
        raise ModelFileError(f"{spec.path or spec.name}: base model entry has no {role} file "
                             "with a SHA-256")
    folders = ([spec.path.parent] if spec.path else []) + model_dirs()
    seen: set[Path] = set()
    for folder in folders:
        candidate = (folder / Path(name).name).resolve()
        if candidate in seen or not candidate.is_file():
            continue
        seen.add(candidate)
        if _cached_sha(candidate) == expected:
            return candidate
    raise ModelFileError(
        f"{spec.path or spec.name}: its base model {spec.base.get('name', '?')} "
        f"({Path(name).name}, SHA-256 {expected[:12]}...) is not in "
        f"{', '.join(str(f) for f in model_dirs())}; an adapted model needs the exact model it "
        "was adapted from")


def remove_user_model(name: str) -> list[Path]:
    """Delete a user model's metadata and own files; bundled models cannot be removed, nor a
    model another user model is adapted from."""
    entries = list_models()
    matches = [e for e in entries if e.name == name or e.path.stem == name]
    if not matches:
        raise ModelFileError(f"no model named {name!r}")
    user = [e for e in matches if not e.bundled]
    if not user:
        raise ModelFileError(f"{name} is a bundled model and cannot be removed")
    entry = user[0]
    if entry.spec is not None:
        dependants = [e.name for e in entries if e.spec is not None and e is not entry
                      and e.spec.base.get("identity") == entry.spec.identity]
        if dependants:
            raise ModelFileError(f"{name} is the base of {', '.join(dependants)}; remove those "
                                 "first")
    removed = []
    own = list(entry.spec.files.values()) if entry.spec is not None else []
    for file in [*own, entry.path.name]:
        target = entry.path.parent / file
        if target.is_file():
            target.unlink()
            removed.append(target)
    return removed
