"""Class taxonomy and model metadata validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marrow_desktop.core.errors import ModelFileError
from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.model_spec import ModelSpec, load_model_spec
from marrow_desktop.core.taxonomy import BONE_MARROW_CLASSES, SHIPPED_CLASSES, full_name


def test_taxonomy_has_21_codes() -> None:
    assert len(BONE_MARROW_CLASSES) == 21
    assert all(len(code) == 3 and code.isupper() for code in BONE_MARROW_CLASSES)
    assert set(SHIPPED_CLASSES) <= set(BONE_MARROW_CLASSES)
    assert len(SHIPPED_CLASSES) == 7
    assert full_name("bla") == "Blast" and full_name("my_cells") == "my cells"


def _data(**changes: object) -> dict:
    data = {"name": "m", "architecture": "rexnet_150", "classes": list(SHIPPED_CLASSES),
            "input_size": 128, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "files": {"onnx": "m.onnx"}}
    data.update(changes)
    return data


def test_roundtrip(tmp_path: Path) -> None:
    spec = ModelSpec.from_dict(_data())
    assert spec.class_names[0] == "Blast" and spec.num_classes == 7
    spec.save(tmp_path / "m.json")
    (tmp_path / "m.onnx").write_bytes(b"x")
    again = load_model_spec(tmp_path / "m.json")
    assert again.classes == spec.classes and again.path == (tmp_path / "m.json").resolve()
    assert load_model_spec(tmp_path / "m.onnx").name == "m"


@pytest.mark.parametrize(("changes", "message"), [
    ({"classes": []}, "class codes missing or repeated"),
    ({"classes": ["A", "A"]}, "class codes missing or repeated"),
    ({"class_names": ["one"]}, "class_names and classes differ"),
    ({"std": [0.2, 0.0, 0.2]}, r"std \[0.2, 0.0, 0.2\] must be finite numbers"),
    ({"std": [0.2, float("nan"), 0.2]}, "std .* must be finite numbers"),
    ({"mean": [0.5, float("inf"), 0.5]}, "mean .* must be finite numbers"),
    ({"mean": [0.5]}, "mean/std must be three numbers"),
    ({"input_size": 8}, "input_size 8 out of range"),
    ({"temperature": 0}, "temperature 0.0 must be a finite number"),
    ({"temperature": float("nan")}, "temperature nan must be a finite number"),
    ({"input_size": 128.5}, "invalid model metadata"),
    ({"interpolation": "magic"}, "interpolation 'magic' is not one of"),
    ({"files": {"onnx": "../../etc/x.onnx"}}, "must be a plain file name"),
    ({"files": {}}, "no weights file"),
    ({"input_size": "big"}, "invalid model metadata"),
])
def test_invalid_metadata(changes: dict, message: str) -> None:
    with pytest.raises(ModelFileError, match=message):
        ModelSpec.from_dict(_data(**changes), path=Path("bad.json"))


def test_missing_key_names_the_file() -> None:
    data = _data()
    del data["architecture"]
    with pytest.raises(ModelFileError, match=r"bad.json: invalid model metadata.*architecture"):
        ModelSpec.from_dict(data, path=Path("bad.json"))


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nope.json: model file not found"):
        load_model_spec(tmp_path / "nope.json")
    (tmp_path / "lonely.onnx").write_bytes(b"x")
    with pytest.raises(ModelFileError, match=r"no metadata file lonely.json"):
        load_model_spec(tmp_path / "lonely.onnx")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"broken.json: unreadable model metadata"):
        load_model_spec(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"list.json: model metadata must be a JSON object"):
        load_model_spec(tmp_path / "list.json")


def test_weight_file_checks(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"weights")
    spec = ModelSpec.from_dict(_data(sha256={"onnx": sha256_file(tmp_path / "m.onnx")}))
    spec.save(tmp_path / "m.json")
    spec = load_model_spec(tmp_path / "m.json")
    assert spec.weight_file("onnx") == tmp_path / "m.onnx"
    with pytest.raises(ModelFileError, match=r"has no torch file"):
        spec.weight_file("torch")
    (tmp_path / "m.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelFileError, match=r"m.onnx: SHA-256 .* does not match"):
        spec.weight_file("onnx")
    assert spec.weight_file("onnx", verify=False).name == "m.onnx"
    (tmp_path / "m.onnx").unlink()
    with pytest.raises(ModelFileError, match=r"m.onnx: model file is missing"):
        spec.weight_file("onnx")


def test_nan_in_the_json_is_refused(tmp_path: Path) -> None:
    text = json.dumps(_data(temperature=1.0)).replace('"temperature": 1.0', '"temperature": NaN')
    assert "NaN" in text
    (tmp_path / "m.json").write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"m.json: unreadable model metadata.*NaN"):
        load_model_spec(tmp_path / "m.json")


def test_a_file_without_sha256_is_not_loaded_unverified(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"weights")
    ModelSpec.from_dict(_data(sha256={})).save(tmp_path / "m.json")
    spec = load_model_spec(tmp_path / "m.json")
    with pytest.raises(ModelFileError, match=r"no SHA-256 recorded for m.onnx"):
        spec.weight_file("onnx")


def test_identity_covers_what_changes_predictions() -> None:
    spec = ModelSpec.from_dict(_data(sha256={"onnx": "ab" * 32}))
    same = {"name": "other", "version": "9", "info": {"card": 1},
            "sha256": {"onnx": "ab" * 32, "domain": "ef" * 32},
            "files": {"onnx": "m.onnx", "domain": "m.domain.npz"}}
    assert spec.with_updates(**same).identity == spec.identity
    for change in ({"temperature": 1.5}, {"mean": (0.4, 0.5, 0.5)}, {"std": (0.3, 0.2, 0.2)},
                   {"interpolation": "bicubic"}, {"input_size": 160},
                   {"sha256": {"onnx": "cd" * 32}}, {"classes": ("A", "C", "B")},
                   {"sha256": {"onnx": "ab" * 32, "head": "01" * 32}}):
        assert spec.with_updates(**change).identity != spec.identity, change
    assert spec.model_sha256 == spec.identity


def test_sidecar_describing_another_file(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_bytes(b"x")
    (tmp_path / "a.json").write_text(json.dumps(_data(files={"onnx": "b.onnx"})), "utf-8")
    with pytest.raises(ModelFileError, match=r"a.onnx: metadata a.json describes 'b.onnx'"):
        load_model_spec(tmp_path / "a.onnx")
