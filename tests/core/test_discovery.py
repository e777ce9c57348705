"""Finding images: natural order, recursion, symlink loops, explicit files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from marrow_desktop.core.discovery import find_images, natural_key


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


def test_natural_order(tmp_path: Path) -> None:
    _touch(tmp_path, "BLA_10.jpg", "BLA_9.jpg", "bla_100.png", "BLA_1.jpg", "notes.txt")
    names = [p.name for p in find_images([tmp_path])]
    assert names == ["BLA_1.jpg", "BLA_9.jpg", "BLA_10.jpg", "bla_100.png"]
    assert sorted(["x10", "x9", "X1"], key=natural_key) == ["X1", "x9", "x10"]


def test_recursion_is_optional(tmp_path: Path) -> None:
    _touch(tmp_path, "a.jpg")
    _touch(tmp_path / "sub", "b.jpg")
    _touch(tmp_path / "sub" / "deeper", "c.tif")
    assert [p.name for p in find_images([tmp_path])] == ["a.jpg"]
    assert [p.name for p in find_images([tmp_path], recursive=True)] == ["a.jpg", "b.jpg", "c.tif"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlink_loop_ends(tmp_path: Path) -> None:
    _touch(tmp_path / "top", "a.jpg")
    _touch(tmp_path / "top" / "sub", "b.jpg")
    os.symlink(tmp_path / "top", tmp_path / "top" / "sub" / "loop")
    os.symlink(tmp_path / "top" / "sub", tmp_path / "top" / "again")
    names = [p.name for p in find_images([tmp_path / "top"], recursive=True)]
    assert sorted(names) == ["a.jpg", "b.jpg"]


def test_explicit_files_pass_through(tmp_path: Path) -> None:
    _touch(tmp_path, "a.jpg")
    missing, text = tmp_path / "gone.jpg", tmp_path / "n.txt"
    found = list(find_images([tmp_path / "a.jpg", missing, text]))
    assert found == [tmp_path / "a.jpg", missing, text]  # errors are reported downstream


def test_same_folder_twice_is_listed_once(tmp_path: Path) -> None:
    _touch(tmp_path, "a.jpg")
    assert len(list(find_images([tmp_path, tmp_path]))) == 1
