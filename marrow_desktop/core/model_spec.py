"""Model metadata: what a model file needs to be used without its training code.

A model is a JSON sidecar (`NAME.json`) beside its weight files (`NAME.onnx` for ONNX Runtime,
`NAME.safetensors` for PyTorch). The sidecar carries the architecture, class codes and names,
input size, normalisation, softmax temperature and the SHA-256 of every weight file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.taxonomy import full_name

FORMAT_VERSION = 1
WEIGHT_ROLES = ("onnx", "torch")
_SUFFIX_ROLE = {".onnx": "onnx", ".safetensors": "torch"}


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to preprocess for, run and label the outputs of one model."""

    name: str
    architecture: str
    classes: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...] = ()
    interpolation: str = "area"
    temperature: float = 1.0
    version: str = "1"
    files: dict[str, str] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        if not self.class_names:
            object.__setattr__(self, "class_names", tuple(full_name(c) for c in self.classes))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def model_sha256(self) -> str:
        """Identity of the model for reports and the results store (ONNX graph, else weights)."""
        return self.sha256.get("onnx") or self.sha256.get("torch") or ""

    def with_updates(self, **changes: Any) -> ModelSpec:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        data["format_version"] = FORMAT_VERSION
        for key in ("classes", "class_names", "mean", "std"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None) -> ModelSpec:
        where = str(path) if path else "model metadata"
        try:
            classes = tuple(str(c) for c in data["classes"])
            spec = cls(
                name=str(data["name"]),
                architecture=str(data["architecture"]),
                classes=classes,
                class_names=tuple(str(c) for c in data.get("class_names") or ()),
                input_size=int(data["input_size"]),
                mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
                std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
                interpolation=str(data.get("interpolation", "area")),
                temperature=float(data.get("temperature", 1.0)),
                version=str(data.get("version", "1")),
                files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
                sha256={str(k): str(v) for k, v in (data.get("sha256") or {}).items()},
                info=dict(data.get("info") or {}),
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: invalid model metadata ({exc!r})") from exc
        problems = []
        if not spec.classes or len(set(spec.classes)) != len(spec.classes):
            problems.append("class codes missing or repeated")
        if len(spec.class_names) != len(spec.classes):
            problems.append("class_names and classes differ in length")
        if len(spec.mean) != 3 or len(spec.std) != 3 or min(spec.std) <= 0:
            problems.append("mean/std must be three numbers, std > 0")
        if not 16 <= spec.input_size <= 1024:
            problems.append(f"input_size {spec.input_size} out of range")
        if spec.temperature <= 0:
            problems.append("temperature must be > 0")
        if problems:
            raise ModelFileError(f"{where}: invalid model metadata: {'; '.join(problems)}")
        return spec

    def save(self, path: str | Path) -> Path:
        """Write the sidecar JSON."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def weight_file(self, role: str, verify: bool = True) -> Path:
        """Path of the weight file for a backend ('onnx' or 'torch'), checked against its hash."""
        base = self.path.parent if self.path else Path.cwd()
        if role not in self.files:
            raise ModelFileError(f"{self.path or self.name}: this model has no {role} weights file")
        file = base / self.files[role]
        if not file.is_file():
            raise ModelFileError(f"{file}: model file is missing")
        expected = self.sha256.get(role)
        if verify and expected:
            actual = sha256_file(file)
            if actual != expected:
                raise ModelFileError(
                    f"{file}: SHA-256 {actual[:12]}... does not match the metadata "
                    f"({expected[:12]}...); the file is corrupt or belongs to another model"
                )
        return file


def load_model_spec(path: str | Path) -> ModelSpec:
    """Read model metadata from a sidecar JSON, or from the JSON beside an .onnx/.safetensors."""
    path = Path(path)
    sidecar = path if path.suffix.lower() == ".json" else path.with_suffix(".json")
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    if not sidecar.is_file():
        raise ModelFileError(f"{path}: no metadata file {sidecar.name} beside the model")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{sidecar}: unreadable model metadata ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"{sidecar}: model metadata must be a JSON object")
    spec = ModelSpec.from_dict(data, path=sidecar.resolve())
    role = _SUFFIX_ROLE.get(path.suffix.lower())
    if role and spec.files.get(role) != path.name:
        raise ModelFileError(f"{path}: metadata {sidecar.name} describes {spec.files.get(role)!r}")
    return spec
