"""Finding image files: natural order, optional recursion, safe against symlink loops.

Sub-folders that are not part of a case are not entered: a case's own data (`.marrow`) and
training sets exported into the case folder (their manifest.csv marks them), so an export made
inside a case is never counted in its differential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from marrow_desktop.core.imageio import is_image_path

_NUMBER = re.compile(r"(\d+)")
CASE_DATA_DIR = ".marrow"
EXPORT_MANIFEST = "manifest.csv"
EXPORT_HEADER = b"dest,source,sha256"


def is_training_export(folder: str | Path) -> bool:
    """A folder made by a training-set export (core.training_export)."""
    try:
        with open(Path(folder) / EXPORT_MANIFEST, "rb") as handle:
            return handle.read(len(EXPORT_HEADER) + 3).lstrip(b"\xef\xbb\xbf").startswith(
                EXPORT_HEADER)
    except OSError:
        return False


def natural_key(name: str) -> list[object]:
    """Sort key that orders 'BLA_9' before 'BLA_10'."""
    return [int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(name)]


def find_images(paths: Iterable[str | Path], recursive: bool = False) -> Iterator[Path]:
    """Image files named directly or found in folders, in natural order; follows no symlink
    into a folder already visited (so symlink loops end)."""
    seen_dirs: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, recursive, seen_dirs)
        else:
            yield path  # missing or non-image files become error rows downstream


def _walk(folder: Path, recursive: bool, seen: set[str]) -> Iterator[Path]:
    try:
        real = os.path.realpath(folder)
        if real in seen:
            return
        seen.add(real)
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError:
        return
    subdirs = []
    for entry in entries:
        try:
            if entry.is_dir():
                subdirs.append(Path(entry.path))
            elif entry.is_file() and is_image_path(entry.name):
                yield Path(entry.path)
        except OSError:
            continue
    if recursive:
        for sub in subdirs:
            if sub.name == CASE_DATA_DIR or is_training_export(sub):
                continue
            yield from _walk(sub, recursive, seen)
