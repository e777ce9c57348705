"""Data-set scanning and the contiguous-block split (no images decoded, no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from marrow_desktop.cli import main
from marrow_desktop.training.dataset import DatasetError, scan_class_folders, split_by_blocks


def _touch_set(root: Path, counts: dict[str, int]) -> Path:
    for code, n in counts.items():
        folder = root / code
        folder.mkdir(parents=True)
        for i in range(1, n + 1):
            (folder / f"{code}_{i}.jpg").write_bytes(b"")  # scanning looks at names only
    return root


def test_block_split_is_the_last_tenth_by_number(tmp_path: Path) -> None:
    dataset = scan_class_folders(_touch_set(tmp_path, {"AAA": 20, "BBB": 30}))
    train, val = split_by_blocks(dataset, 0.1)
    assert not set(train) & set(val)
    assert sorted(train + val) == list(range(len(dataset.samples)))
    val_names = sorted(Path(dataset.samples[i].source).name for i in val)
    # natural order: AAA_19, AAA_20 (not AAA_8, AAA_9), BBB_28..30
    assert val_names == ["AAA_19.jpg", "AAA_20.jpg", "BBB_28.jpg", "BBB_29.jpg", "BBB_30.jpg"]
    highest_train = {}
    for i in train:
        sample = dataset.samples[i]
        number = int(Path(sample.source).stem.split("_")[1])
        highest_train[sample.label] = max(highest_train.get(sample.label, 0), number)
    assert highest_train == {0: 18, 1: 27}


def test_empty_class_folder_is_skipped_with_a_warning(tmp_path: Path) -> None:
    root = _touch_set(tmp_path, {"AAA": 3, "BBB": 3})
    (root / "EMPTY").mkdir()
    dataset = scan_class_folders(root)
    assert dataset.classes == ["AAA", "BBB"]
    assert any("EMPTY" in w for w in dataset.warnings)


def test_one_class_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = _touch_set(tmp_path, {"AAA": 3})
    with pytest.raises(DatasetError, match="at least two class folders"):
        scan_class_folders(root)
    assert main(["data", "pack", str(root), "-o", str(tmp_path / "p.npz")]) == 2
    assert "at least two class folders" in capsys.readouterr().err


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        scan_class_folders(tmp_path / "nope")
