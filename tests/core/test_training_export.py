"""Training-set export: reviewed cells only by default, class folders `marrow train` reads,
manifest, name collisions, updating an earlier export, refusing folders that are not exports."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from marrow_desktop.core.hashing import sha256_file
from marrow_desktop.core.review import EXCLUDED, Review
from marrow_desktop.core.training_export import (
    MANIFEST,
    MANIFEST_COLUMNS,
    TrainingExportError,
    export_training_set,
)
from marrow_desktop.training.dataset import scan_class_folders
from tests.conftest import copy_images


def _review(label: str, who: str = "alice") -> Review:
    return Review(label, who, "2024-05-01T10:00:00+00:00")


@pytest.fixture()
def case(tmp_path: Path, sample_paths: list[Path]) -> Path:
    return copy_images(sample_paths[:8], tmp_path / "case")


def _cells(folder: Path, labels: dict[str, str]) -> list[tuple[str, str, str, Review | None]]:
    """(path, sha, predicted, review) for every image; predicted = the file name's class."""
    out = []
    for p in sorted(folder.rglob("*.jpg")):
        label = labels.get(p.name, "")
        out.append((str(p), sha256_file(p), p.name[:3], _review(label) if label else None))
    return out


def _manifest(out: Path) -> list[dict[str, str]]:
    with open(out / MANIFEST, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == MANIFEST_COLUMNS
        return list(reader)


def _files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_only_reviewed_cells_by_default(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "train"
    labels = {"BLA_00851.jpg": "MON", "BLA_00872.jpg": "BLA", "EOS_00851.jpg": EXCLUDED,
              "EOS_00872.jpg": "EOS"}
    summary = export_training_set(_cells(case, labels), out)
    assert _files(out) == ["BLA/BLA_00872.jpg", "EOS/EOS_00872.jpg", "MON/BLA_00851.jpg",
                           MANIFEST]
    assert (summary.written, summary.skipped_excluded, summary.skipped_unreviewed) == (3, 1, 4)
    assert summary.per_class == {"BLA": 1, "EOS": 1, "MON": 1} and summary.files == 3
    rows = {r["dest"]: r for r in _manifest(out)}
    mon = rows["MON/BLA_00851.jpg"]
    assert (mon["final_class"], mon["label_source"], mon["reviewer"]) == ("MON", "reviewed",
                                                                          "alice")
    assert mon["source"] == str(case / "BLA_00851.jpg")
    assert mon["sha256"] == sha256_file(out / "MON" / "BLA_00851.jpg")
    assert mon["reviewed_at"] == "2024-05-01T10:00:00+00:00"
    assert (out / "MON" / "BLA_00851.jpg").read_bytes() == (case / "BLA_00851.jpg").read_bytes()


def test_include_unreviewed_uses_the_model_label(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "train"
    summary = export_training_set(_cells(case, {"BLA_00851.jpg": "MON",
                                                "EOS_00851.jpg": EXCLUDED}),
                                  out, include_unreviewed=True)
    assert summary.files == 7 and summary.skipped_excluded == 1
    rows = _manifest(out)
    assert sum(r["label_source"] == "model" for r in rows) == 6
    assert all(r["reviewer"] == "" for r in rows if r["label_source"] == "model")
    dataset = scan_class_folders(out)  # what `marrow train` reads
    assert dataset.counts() == {"BLA": 2, "EOS": 2, "LYT": 2, "MON": 1}


def test_name_collisions_get_a_short_hash(case: Path, tmp_path: Path,
                                          sample_paths: list[Path]) -> None:
    other = case / "second"
    other.mkdir()
    shutil.copy(sample_paths[10], other / "BLA_00851.jpg")  # same name, other cell
    cells = _cells(case, {"BLA_00851.jpg": "BLA"})
    assert sum(1 for c in cells if c[3] is not None) == 2
    export_training_set(cells, tmp_path / "train")
    sha = sha256_file(other / "BLA_00851.jpg")
    assert _files(tmp_path / "train") == sorted(
        ["BLA/BLA_00851.jpg", f"BLA/BLA_00851_{sha[:8]}.jpg", MANIFEST])


def test_same_image_twice_is_exported_once(case: Path, tmp_path: Path) -> None:
    shutil.copy(case / "BLA_00851.jpg", case / "copy_of_BLA_00851.jpg")
    summary = export_training_set(_cells(case, {"BLA_00851.jpg": "BLA",
                                                "copy_of_BLA_00851.jpg": "BLA"}),
                                  tmp_path / "train")
    assert summary.files == 1 and summary.skipped_duplicate == 1


def test_refuses_a_folder_that_is_not_an_export(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(TrainingExportError, match=r"not empty and holds no manifest.csv"):
        export_training_set(_cells(case, {"BLA_00851.jpg": "BLA"}), out)
    assert _files(out) == ["thesis.docx"]
    other = tmp_path / "other_csv"
    other.mkdir()
    (other / MANIFEST).write_text("a,b\n1,2\n")
    with pytest.raises(TrainingExportError, match=r"not a training-export manifest"):
        export_training_set(_cells(case, {"BLA_00851.jpg": "BLA"}), other)


def test_update_moves_relabelled_and_removes_excluded(case: Path, tmp_path: Path,
                                                      sample_paths: list[Path]) -> None:
    out = tmp_path / "train"
    other_case = tmp_path / "other"
    other_case.mkdir()
    shutil.copy(sample_paths[20], other_case / sample_paths[20].name)
    export_training_set(_cells(other_case, {sample_paths[20].name: "PMO"}), out)
    first = export_training_set(_cells(case, {"BLA_00851.jpg": "BLA", "BLA_00872.jpg": "BLA",
                                              "EOS_00851.jpg": "EOS"}), out)
    assert first.written == 3 and first.files == 4
    again = export_training_set(_cells(case, {"BLA_00851.jpg": "MON", "BLA_00872.jpg": "BLA",
                                              "EOS_00851.jpg": EXCLUDED}), out)
    assert (again.written, again.kept, again.moved, again.removed) == (1, 1, 1, 1)
    assert _files(out) == sorted(["BLA/BLA_00872.jpg", "MON/BLA_00851.jpg", MANIFEST,
                                  f"PMO/{sample_paths[20].name}"])  # the other case stays
    assert {r["final_class"] for r in _manifest(out)} == {"BLA", "MON", "PMO"}
    assert not (out / "EOS").exists()  # emptied class folders go too


def test_changed_source_is_not_exported(case: Path, tmp_path: Path,
                                        sample_paths: list[Path]) -> None:
    cells = _cells(case, {"BLA_00851.jpg": "BLA"})
    shutil.copy(sample_paths[12], case / "BLA_00851.jpg")  # replaced after the review
    summary = export_training_set(cells, tmp_path / "train")
    assert summary.files == 0 and "changed since" in summary.failed[0]


def test_interrupted_export_is_adopted_not_duplicated(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "train"
    cells = _cells(case, {"BLA_00851.jpg": "BLA"})
    export_training_set(cells, out)
    (out / MANIFEST).write_text(",".join(MANIFEST_COLUMNS) + "\n", encoding="utf-8-sig")
    summary = export_training_set(cells, out)  # the image is there, the manifest lost it
    assert summary.written == 0 and summary.files == 1
    assert _files(out) == ["BLA/BLA_00851.jpg", MANIFEST]


def test_link_mode(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "train"
    summary = export_training_set(_cells(case, {"BLA_00851.jpg": "BLA"}), out, link=True)
    dest = out / "BLA" / "BLA_00851.jpg"
    assert summary.linked == 1 and os.path.samefile(dest, case / "BLA_00851.jpg")


def test_manifest_outside_paths_are_ignored(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "train"
    victim = tmp_path / "victim.jpg"
    shutil.copy(case / "BLA_00851.jpg", victim)
    sha = sha256_file(victim)
    out.mkdir()
    with open(out / MANIFEST, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerow(["../victim.jpg", str(victim), sha, "BLA", "reviewed", "x", "t"])
    export_training_set(_cells(case, {"BLA_00851.jpg": "MON"}), out)
    assert victim.is_file()  # a relabel never deletes outside the export folder
    assert _files(out) == ["MON/BLA_00851.jpg", MANIFEST]


def test_progress_and_bad_labels(case: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    summary = export_training_set(_cells(case, {"BLA_00851.jpg": "../evil"}),
                                  tmp_path / "train", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (8, 8) and len(seen) == 8
    assert summary.files == 0 and "cannot be a folder name" in summary.failed[0]
