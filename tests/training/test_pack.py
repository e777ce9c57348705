"""`marrow data pack` on real images, unreadable files included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from marrow_desktop.cli import main
from marrow_desktop.core.imageio import decode_image
from marrow_desktop.training.dataset import load_dataset
from tests.training.conftest import CORRUPT


def test_pack_round_trip_and_skips_unreadable(tiny_set_corrupt: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    rc = main(["data", "pack", str(tiny_set_corrupt), "-o", str(tmp_path / "tiny"),
               "--size", "64", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "packed 18 images of 3 classes at 64 px" in captured.out
    assert " MB" in captured.out
    assert "skipped 1 unreadable" in captured.err and CORRUPT in captured.err
    pack = tmp_path / "tiny.npz"  # the suffix is added
    assert pack.is_file()
    dataset = load_dataset(pack)
    assert dataset.classes == ["BLA", "EOS", "LYT"]
    assert dataset.counts() == {"BLA": 6, "EOS": 6, "LYT": 6}
    image = decode_image(dataset.samples[0].data, dataset.samples[0].source)
    assert image.rgb.shape == (64, 64, 3)
    assert dataset.samples[0].source.endswith("BLA/BLA_00001.jpg")


def test_pack_rejects_train_val_layout(tiny_set: Path, tmp_path: Path) -> None:
    for part in ("train", "val"):
        shutil.copytree(tiny_set, tmp_path / "root" / part)
    assert main(["data", "pack", str(tmp_path / "root"), "-o", str(tmp_path / "p.npz")]) == 2
