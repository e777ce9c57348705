"""The lab-shift check from the command line: CSV columns, the case verdict, statistics for an
exported model, `marrow adapt` (and its bad inputs) and `marrow models`."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import pytest

from marrow_desktop.cli import main
from marrow_desktop.core.model_spec import load_model_spec
from marrow_desktop.core.paths import DEFAULT_MODEL
from tests.cli.models import copy_model
from tests.conftest import SHARED_DATA

PBC_MAP = ["--map", "pbc8:eosinophil=EOS", "--map", "pbc8:lymphocyte=LYT", "--map",
           "pbc8:monocyte=MON"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def pbc8() -> Path:
    path = SHARED_DATA / "pbc8"
    if not path.is_dir():
        pytest.skip("../shared/data/pbc8 is not present")
    return path


def _pbc_cells(pbc8: Path, dest: Path, per_class: int, start: int = 0,
               classes: dict[str, str] | None = None) -> Path:
    """Copies of pbc8 cells as DEST/<code>/<file> (a training-set export's layout)."""
    classes = classes or {"eosinophil": "EOS", "lymphocyte": "LYT", "monocyte": "MON"}
    for folder, code in classes.items():
        (dest / code).mkdir(parents=True, exist_ok=True)
        for path in sorted((pbc8 / folder).glob("*.jpg"))[start:start + per_class]:
            shutil.copy2(path, dest / code / path.name)
    return dest


def test_classify_writes_domain_columns_and_no_warning_for_own_lab(
        bundled_model: Path, sample_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.csv"
    assert main(["classify", str(sample_dir), "-o", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    rows = _rows(out)
    assert all(r["domain_score"] and r["in_domain"] in ("0", "1") for r in rows)
    assert sum(r["in_domain"] == "1" for r in rows) >= 19  # bundled samples: the model's lab
    assert "lab-shift check:" in text and "WARNING" not in text


def test_another_labs_case_gets_the_verdict(bundled_model: Path, pbc8: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    spec = load_model_spec(bundled_model)
    if "pbc8" in json.dumps(spec.info.get("training", {})):
        pytest.skip("the bundled model was trained on this lab: it is not another lab")
    case = tmp_path / "case"
    for folder in ("eosinophil", "lymphocyte", "monocyte", "neutrophil"):
        for path in sorted((pbc8 / folder).glob("*.jpg"))[:10]:
            case.mkdir(exist_ok=True)
            shutil.copy2(path, case / path.name)
    out = tmp_path / "r.csv"
    assert main(["classify", str(case), "-o", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "WARNING: These images look unlike the model's training images" in text
    rows = _rows(out)
    assert sum(r["in_domain"] == "0" for r in rows) >= 30
    assert all("unfamiliar" in r["review_reasons"] for r in rows if r["in_domain"] == "0")


def test_a_case_in_another_stain_gets_the_verdict(bundled_model: Path, sample_paths: list[Path],
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    """The bundled cells with blue and green swapped: a stain neither training lab uses (the
    shipped model's training labs are its own, so this case stands in for another lab)."""
    case = tmp_path / "case"
    case.mkdir()
    for path in sample_paths:
        cv2.imwrite(str(case / path.name), cv2.imread(str(path))[:, :, [1, 0, 2]])
    out = tmp_path / "r.csv"
    assert main(["classify", str(case), "-o", str(out), "--no-progress", "--no-store"]) == 0
    assert "WARNING: These images look unlike the model's training images" in \
        capsys.readouterr().out
    rows = _rows(out)
    assert sum(r["in_domain"] == "0" for r in rows) >= 18
    assert all("unfamiliar" in r["review_reasons"] for r in rows if r["in_domain"] == "0")


def test_tampered_statistics_name_the_file_and_classification_goes_on(
        bundled_model: Path, sample_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture) -> None:
    model = copy_model(bundled_model, tmp_path / "model")
    spec = load_model_spec(model)
    stats = model.parent / spec.files["domain"]
    stats.write_bytes(stats.read_bytes()[:-10] + b"0123456789")
    out = tmp_path / "r.csv"
    assert main(["classify", str(sample_dir), "-o", str(out), "--model", str(model),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "lab-shift check unavailable" in text and stats.name in text
    rows = _rows(out)
    assert all(r["predicted_class"] and r["domain_score"] == "" for r in rows)
    stats.unlink()  # missing altogether: the same
    assert main(["classify", str(sample_dir), "-o", str(tmp_path / "r2.csv"), "--model",
                 str(model), "--no-progress"]) == 0
    assert "model file is missing" in capsys.readouterr().out


def test_evaluate_gives_an_exported_model_its_statistics(bundled_model: Path, matek_dir: Path,
                                                         tmp_path: Path) -> None:
    """Statistics added to a model keep its identity (its stored predictions stay valid)."""
    data = tmp_path / "set"
    for code in ("BLA", "EOS", "LYT", "MON", "NGS", "NIF", "PMO"):
        (data / code).mkdir(parents=True)
        for path in sorted((matek_dir / code).glob("*.jpg"))[:30]:
            shutil.copy2(path, data / code / path.name)
    model = copy_model(bundled_model, tmp_path / "model")
    spec = load_model_spec(model)
    for role in ("domain",):  # start from a model without statistics
        (model.parent / spec.files[role]).unlink()
    bare = spec.with_updates(files={k: v for k, v in spec.files.items() if k != "domain"},
                             sha256={k: v for k, v in spec.sha256.items() if k != "domain"})
    bare.save(model)
    identity = load_model_spec(model).identity
    assert main(["evaluate", str(model), str(data), "--val-fraction", "0.3", "--subset",
                 "report", "--domain-stats", "-o", str(tmp_path / "ev"), "--no-progress"]) == 0
    with_stats = load_model_spec(model)
    assert with_stats.identity == identity
    assert with_stats.files["domain"] == f"{DEFAULT_MODEL}.domain.npz"
    assert (model.parent / with_stats.files["domain"]).is_file()
    assert with_stats.info["domain"]["threshold_images"] == 35  # 5 tune cells of each class


def test_adapt_end_to_end_and_models(bundled_model: Path, pbc8: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture) -> None:
    local = _pbc_cells(pbc8, tmp_path / "export", 12)
    assert main(["adapt", str(local), "--lab", "cellavision"]) == 0
    out = capsys.readouterr().out
    assert "cross-validated accuracy on the local cells" in out
    name = f"{load_model_spec(bundled_model).name}-cellavision"
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert name in listing and "yours" in listing and "bundled" in listing
    assert "EOS 12, LYT 12, MON 12" in listing
    spec = load_model_spec(Path(tmp_path / "user-data" / "models" / f"{name}.json"))
    card = spec.info["adaptation"]
    assert spec.base["identity"] == load_model_spec(bundled_model).identity
    assert card["local_counts"] == {"EOS": 12, "LYT": 12, "MON": 12}
    assert set(card["kept_base_head"]) >= {"BLA", "NIF"}
    test = _pbc_cells(pbc8, tmp_path / "test", 10, start=100)
    assert main(["classify", str(test), "-o", str(tmp_path / "r.csv"), "--model", name,
                 "--no-progress", "-r"]) == 0
    rows = _rows(tmp_path / "r.csv")
    assert len(rows) == 30 and all(r["model_sha256"] == spec.identity for r in rows)
    assert main(["models", "remove", name]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["models", "remove", DEFAULT_MODEL]) == 2
    assert "bundled model and cannot be removed" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["empty", "unknown", "one_class", "unreadable", "exists",
                                  "no_stats"])
def test_adapt_bad_input_is_one_clear_line(case: str, bundled_model: Path, pbc8: Path,
                                           tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "labelled"
    args = ["adapt", str(folder), "-o", str(tmp_path / "out" / "m.json")]
    expected = {"empty": "no images", "unknown": "none of the labelled folders is a class",
                "one_class": "need at least 10 cells of two or more classes",
                "unreadable": "need at least 10 cells", "exists": "already exists",
                "no_stats": "no usable domain statistics"}[case]
    if case == "empty":
        folder.mkdir()
    elif case == "unknown":
        _pbc_cells(pbc8, folder, 12, classes={"basophil": "basophil", "platelet": "platelet"})
    elif case == "one_class":
        _pbc_cells(pbc8, folder, 12, classes={"eosinophil": "EOS"})
        (folder / "LYT").mkdir()
        shutil.copy2(next((pbc8 / "lymphocyte").glob("*.jpg")), folder / "LYT")
    elif case == "unreadable":
        _pbc_cells(pbc8, folder, 12, classes={"eosinophil": "EOS"})
        (folder / "LYT").mkdir()
        for i in range(12):
            (folder / "LYT" / f"broken{i}.jpg").write_bytes(b"not an image")
    elif case == "exists":
        _pbc_cells(pbc8, folder, 12)
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "m.json").write_text("{}")
    elif case == "no_stats":
        _pbc_cells(pbc8, folder, 12)
        model = copy_model(bundled_model, tmp_path / "bare")
        spec = load_model_spec(model)
        spec.with_updates(files={k: v for k, v in spec.files.items() if k != "domain"},
                          sha256={k: v for k, v in spec.sha256.items() if k != "domain"}
                          ).save(model)
        args += ["--model", str(model)]
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and err.count("\n") == 0, err
    after = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert after == before  # nothing written, nothing overwritten
    if case == "exists":
        assert (tmp_path / "out" / "m.json").read_text() == "{}"


def test_adapted_model_without_its_base_says_so(bundled_model: Path, pbc8: Path,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    local = _pbc_cells(pbc8, tmp_path / "export", 12)
    out = tmp_path / "adapted" / "lab.json"
    assert main(["adapt", str(local), "-o", str(out)]) == 0
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("MARROW_MODELS_DIR", str(empty))  # the bundled model is not found
    assert main(["classify", str(local), "-r", "-o", str(tmp_path / "r.csv"), "--model",
                 str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "its base model" in err and "is not in" in err
