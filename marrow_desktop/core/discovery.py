"""Finding image files: natural order, optional recursion, safe against symlink loops.

Sub-folders that are not part of a case are not entered: a case's own data (`.marrow`) and
training sets exported into the case folder (their manifest.csv marks them), so an export made
inside a case is never counted in its differential.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
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


Skip = Callable[[Path, str], object]


def find_images(paths: Iterable[str | Path], recursive: bool = False,
                on_skip: Skip | None = None) -> Iterator[Path]:
    """Image files named directly or found in folders, in natural order; follows no symlink
    into a folder already visited (so symlink loops end). Files of a folder that are not of a
    supported type, and folders that cannot be read, are passed to on_skip(path, why) (hidden
    files are not). A path given directly is always yielded: missing or non-image files
    become error rows downstream."""
    seen_dirs: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, recursive, seen_dirs, on_skip)
        else:
            yield path


def _walk(folder: Path, recursive: bool, seen: set[str], on_skip: Skip | None) -> Iterator[Path]:
    try:
        real = os.path.realpath(folder)
        if real in seen:
            return
        seen.add(real)
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as exc:
        if on_skip is not None:
            on_skip(folder, f"folder cannot be read ({exc.strerror or exc})")
        return
    subdirs = []
    for entry in entries:
        try:
            if entry.is_dir():
                subdirs.append(Path(entry.path))
            elif entry.is_file() and is_image_path(entry.name):
                yield Path(entry.path)
            elif on_skip is not None and not entry.name.startswith("."):
                on_skip(Path(entry.path), "type not supported" if entry.is_file()
                        else "not a regular file")
        except OSError:
            continue
    if recursive:
        for sub in subdirs:
            if sub.name == CASE_DATA_DIR or is_training_export(sub):
                continue
            yield from _walk(sub, recursive, seen, on_skip)


def skipped_lines(skipped: list[tuple[str, str]], limit: int = 10) -> list[str]:
    """'skipped N files (why): name, name, …' per reason."""
    by_reason: dict[str, list[str]] = {}
    for path, why in skipped:
        by_reason.setdefault(why, []).append(os.path.basename(str(path)))
    lines = []
    for why, names in by_reason.items():
        more = f" … and {len(names) - limit} more" if len(names) > limit else ""
        lines.append(f"skipped {len(names)} file{'s' if len(names) != 1 else ''} ({why}): "
                     f"{', '.join(names[:limit])}{more}")
    return lines
