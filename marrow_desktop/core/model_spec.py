"""Model metadata: what a model file needs to be used without its training code.

A model is a JSON sidecar (`NAME.json`) beside its files: `NAME.onnx` (ONNX Runtime),
`NAME.safetensors` (PyTorch), and optionally `NAME.domain.npz` (the statistics of the training
images that the lab-shift check compares with) and `NAME.head.npz` (a classifier head refitted to
a laboratory's own cells, see core.adapt). An adapted model carries only its head and statistics
and names its `base` model, whose weights are found by SHA-256 among the known model folders.

A model's *identity* is the SHA-256 of what decides its predictions: the backbone weights, the
head, the architecture, the classes, the preprocessing (input size, mean/std, interpolation) and
the temperature. Results are stored under it. The name, version, model card and the domain
statistics are not part of it: adding statistics keeps the stored predictions.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.taxonomy import full_name

FORMAT_VERSION = 2
#: Files that hold the network (the backends), the refitted head, the domain statistics.
BACKBONE_ROLES = ("onnx", "torch")
HEAD_ROLE = "head"
DOMAIN_ROLE = "domain"
WEIGHT_ROLES = (*BACKBONE_ROLES, HEAD_ROLE, DOMAIN_ROLE)
INTERPOLATIONS = ("area", "bilinear", "bicubic")
_SUFFIX_ROLE = {".onnx": "onnx", ".safetensors": "torch"}
_ARCHITECTURE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.-")


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
    base: dict[str, Any] = field(default_factory=dict)  # adapted models: the base model
    path: Path | None = None

    def __post_init__(self) -> None:
        if not self.class_names:
            object.__setattr__(self, "class_names", tuple(full_name(c) for c in self.classes))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # identity --------------------------------------------------------------------------------
    def backbone_sha256(self) -> dict[str, str]:
        """SHA-256 of the network's weight files (its own, or its base model's)."""
        own = {r: self.sha256[r] for r in BACKBONE_ROLES if r in self.sha256}
        return own or {r: str(v) for r, v in (self.base.get("sha256") or {}).items()
                       if r in BACKBONE_ROLES}

    @property
    def identity(self) -> str:
        """SHA-256 of everything that decides the predictions (see the module docstring)."""
        weights = self.backbone_sha256()
        payload = {
            "weights": weights.get("onnx") or weights.get("torch") or "",
            "head": self.sha256.get(HEAD_ROLE, ""), "architecture": self.architecture,
            "classes": list(self.classes), "input_size": self.input_size,
            "mean": list(self.mean), "std": list(self.std),
            "interpolation": self.interpolation, "temperature": self.temperature,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def model_sha256(self) -> str:
        """The identity: what the results store, reports and audit trail record."""
        return self.identity

    @property
    def domain_sha256(self) -> str:
        """Identity of the domain statistics ('' when the model has none)."""
        return self.sha256.get(DOMAIN_ROLE, "")

    @property
    def adapted(self) -> bool:
        return bool(self.base)

    def has_weights(self, role: str) -> bool:
        """The model can run on this backend ('onnx' or 'torch'), itself or through its base."""
        return role in self.files or role in (self.base.get("files") or {})

    # files -----------------------------------------------------------------------------------
    def with_updates(self, **changes: Any) -> ModelSpec:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        if not data["base"]:
            data.pop("base")
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
                input_size=_integer(data["input_size"]),
                mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
                std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
                interpolation=str(data.get("interpolation", "area")),
                temperature=float(data.get("temperature", 1.0)),
                version=str(data.get("version", "1")),
                files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
                sha256={str(k): str(v) for k, v in (data.get("sha256") or {}).items()},
                info=dict(data.get("info") or {}),
                base=dict(data.get("base") or {}),
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: invalid model metadata ({exc!r})") from exc
        problems = spec.problems()
        if problems:
            raise ModelFileError(f"{where}: invalid model metadata: {'; '.join(problems)}")
        return spec

    def problems(self) -> list[str]:
        """What is wrong with this metadata (empty: usable)."""
        problems = []
        if not self.classes or len(set(self.classes)) != len(self.classes):
            problems.append("class codes missing or repeated")
        if len(self.class_names) != len(self.classes):
            problems.append("class_names and classes differ in length")
        if len(self.mean) != 3 or len(self.std) != 3:
            problems.append("mean/std must be three numbers each")
        elif not all(math.isfinite(v) and -10 <= v <= 10 for v in self.mean):
            problems.append(f"mean {list(self.mean)} must be finite numbers in [-10, 10]")
        elif not all(math.isfinite(v) and 1e-4 <= v <= 10 for v in self.std):
            problems.append(f"std {list(self.std)} must be finite numbers in [0.0001, 10]")
        if not 16 <= self.input_size <= 1024:
            problems.append(f"input_size {self.input_size} out of range (16-1024)")
        if not (math.isfinite(self.temperature) and 0.01 <= self.temperature <= 100):
            problems.append(f"temperature {self.temperature} must be a finite number in "
                            "[0.01, 100]")
        if self.interpolation not in INTERPOLATIONS:
            problems.append(f"interpolation {self.interpolation!r} is not one of "
                            f"{', '.join(INTERPOLATIONS)}")
        if not self.architecture or not set(self.architecture) <= _ARCHITECTURE_CHARS:
            problems.append(f"architecture {self.architecture!r} is not a model name")
        for role, name in self.files.items():
            if role not in WEIGHT_ROLES:
                problems.append(f"unknown file role {role!r}")
            elif Path(name).name != name or name in ("", ".", ".."):
                problems.append(f"file {name!r} must be a plain file name beside the metadata")
        if not (self.has_weights("onnx") or self.has_weights("torch")):
            problems.append("no weights file (onnx or torch), own or of a base model")
        return problems

    def save(self, path: str | Path) -> Path:
        """Write the sidecar JSON."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n",
                        encoding="utf-8")
        return path

    def weight_file(self, role: str, verify: bool = True) -> Path:
        """Path of one of the model's files, checked against its SHA-256.

        A backbone file an adapted model does not carry is its base model's, found by name and
        SHA-256 in the model folders (core.model_registry). A file listed without a SHA-256 is
        an error: nothing is loaded unverified.
        """
        if role not in self.files:
            base_files = self.base.get("files") or {}
            if role in BACKBONE_ROLES and role in base_files:
                from marrow_desktop.core.model_registry import find_base_file

                return find_base_file(self, role)
            raise ModelFileError(f"{self.path or self.name}: this model has no {role} file")
        base = self.path.parent if self.path else Path.cwd()
        file = base / self.files[role]
        if not file.is_file():
            raise ModelFileError(f"{file}: model file is missing")
        expected = self.sha256.get(role)
        if verify:
            if not expected:
                raise ModelFileError(
                    f"{self.path or self.name}: no SHA-256 recorded for {file.name}, so it "
                    "cannot be verified; re-export the model (marrow export) or add its "
                    "\"sha256\" entry")
            actual = sha256_file(file)
            if actual != expected:
                raise ModelFileError(
                    f"{file}: SHA-256 {actual[:12]}... does not match the metadata "
                    f"({expected[:12]}...); the file is corrupt or belongs to another model"
                )
        return file


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: Path) -> Any:
    """A JSON file, refusing NaN and Infinity (Python's json accepts them by default)."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constants)


def load_model_spec(path: str | Path) -> ModelSpec:
    """Read model metadata from a sidecar JSON, or from the JSON beside an .onnx/.safetensors."""
    path = Path(path)
    sidecar = path if path.suffix.lower() == ".json" else path.with_suffix(".json")
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    if not sidecar.is_file():
        raise ModelFileError(f"{path}: no metadata file {sidecar.name} beside the model")
    try:
        data = read_json(sidecar)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{sidecar}: unreadable model metadata ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"{sidecar}: model metadata must be a JSON object")
    spec = ModelSpec.from_dict(data, path=sidecar.resolve())
    role = _SUFFIX_ROLE.get(path.suffix.lower())
    if role and spec.files.get(role) != path.name:
        raise ModelFileError(f"{path}: metadata {sidecar.name} describes {spec.files.get(role)!r}")
    return spec
