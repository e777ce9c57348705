"""Tiny real data sets and one short training run shared by the training tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marrow_desktop.cli import main

CLASSES = ("BLA", "EOS", "LYT")
PER_CLASS = 6
CORRUPT = "BLA_00000.jpg"  # sorts first, so it lands in the training block


def copy_subset(matek_dir: Path, dest: Path, classes=CLASSES, per_class: int = PER_CLASS) -> Path:
    """The first `per_class` images of some matek7 classes, as ROOT/<class>/<image>."""
    for code in classes:
        folder = dest / code
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted((matek_dir / code).glob("*.jpg"))[:per_class]:
            shutil.copy2(path, folder / path.name)
    return dest


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory: pytest.TempPathFactory, matek_dir: Path) -> Path:
    """3 classes x 6 real images; read-only for tests (copy it to change it)."""
    return copy_subset(matek_dir, tmp_path_factory.mktemp("tiny") / "set")


@pytest.fixture(scope="session")
def tiny_set_corrupt(tmp_path_factory: pytest.TempPathFactory, matek_dir: Path) -> Path:
    """tiny_set plus one unreadable file in the BLA training block."""
    root = copy_subset(matek_dir, tmp_path_factory.mktemp("tiny_corrupt") / "set")
    (root / "BLA" / CORRUPT).write_bytes(b"this is not a JPEG")
    return root


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_set_corrupt: Path) -> Path:
    """One epoch of rexnet_150 at 64 px on tiny_set_corrupt (read-only: copy it to change it)."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("run") / "run"
    rc = main(["train", str(tiny_set_corrupt), "-o", str(out), "--epochs", "1",
               "--batch-size", "8", "--input-size", "64", "--ema-decay", "0"])
    assert rc == 0
    return out


@pytest.fixture(scope="session")
def sample_set(tmp_path_factory: pytest.TempPathFactory, sample_paths: list[Path]) -> Path:
    """The 21 bundled samples as a 7-class ROOT/<class>/<image> set."""
    root = tmp_path_factory.mktemp("samples") / "set"
    for path in sample_paths:
        folder = root / path.name.split("_")[0]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, folder / path.name)
    return root
