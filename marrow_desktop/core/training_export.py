"""Exporting a case's labelled cells as a class-folder training set (`marrow train` reads it).

The export is `<out>/<final class>/<image>` plus `<out>/manifest.csv` (dest, source, sha256,
final_class, label_source, reviewer, reviewed_at). By default only cells a person reviewed are
exported: training on the model's own unchecked guesses teaches it its errors again, so the
model's labels go in only when asked (`include_unreviewed`), marked `label_source=model`. Cells
a person excluded never go in.

An export folder can be updated: exporting again into a folder with a manifest keeps the rows
of other cells (e.g. earlier cases) and brings this case's cells up to date (a relabelled cell
moves to its new class folder, a cell now excluded or no longer selected is removed). A
non-empty folder without a manifest is refused, so nothing unrelated is mixed in or overwritten.
Each source is hashed before it is written: a file changed since it was reviewed is skipped.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from marrow_desktop.core.cells import box_of, split_cell_id, split_cell_path
from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.fields import cell_image
from marrow_desktop.core.hashing import sha256_bytes, sha256_file
from marrow_desktop.core.imageio import decode_image
from marrow_desktop.core.report import atomic_write, safe_cell, unsafe_cell
from marrow_desktop.core.review import EXCLUDED, Review
from marrow_desktop.core.text import printable

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["dest", "source", "sha256", "final_class", "label_source", "reviewer",
                    "reviewed_at"]
#: Class codes usable as folder names (no separators, dots or other surprises).
_SAFE_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\- ]{0,63}$")

#: One cell to export: (image path, content SHA-256, model's class or '', review or None).
ExportCell = tuple[str, str, str, Review | None]


class TrainingExportError(MarrowError):
    """The export folder cannot be used (not ours, unreadable manifest)."""


@dataclass
class ExportSummary:
    """What an export did. `files` counts every image the manifest now lists."""

    out_dir: Path
    manifest: Path
    written: int = 0  # images copied or linked by this export
    linked: int = 0  # of those, hard- or symbolic links
    kept: int = 0  # already in place from an earlier export, unchanged
    moved: int = 0  # relabelled since the earlier export: moved to the new class folder
    removed: int = 0  # exported earlier, now excluded or no longer selected
    skipped_unreviewed: int = 0
    skipped_excluded: int = 0
    skipped_duplicate: int = 0  # the same image content twice in the case
    failed: list[str] = field(default_factory=list)  # could not export (messages)
    per_class: dict[str, int] = field(default_factory=dict)  # this case's exported cells
    files: int = 0

    def text(self) -> str:
        classes = ", ".join(f"{c} {n}" for c, n in sorted(self.per_class.items())) or "none"
        parts = [f"{sum(self.per_class.values())} cells exported to {self.out_dir} ({classes})",
                 f"{self.written} written ({self.linked} linked), {self.kept} unchanged, "
                 f"{self.moved} moved, {self.removed} removed"]
        skipped = [f"{n} {what}" for n, what in (
            (self.skipped_unreviewed, "unreviewed (use --include-unreviewed)"),
            (self.skipped_excluded, "excluded"), (self.skipped_duplicate, "duplicate"))
            if n]
        if skipped:
            parts.append("skipped: " + ", ".join(skipped))
        if self.failed:
            parts.append(f"{len(self.failed)} failed: " + "; ".join(self.failed[:5]))
        parts.append(f"the manifest {self.manifest} lists {self.files} images")
        return "\n".join(parts)


def read_manifest(out_dir: str | Path) -> list[dict[str, str]] | None:
    """The rows of an export folder's manifest; None when it has none.

    Raises TrainingExportError for a non-empty folder without a manifest (not an export) and
    for a manifest that cannot be read.
    """
    out = Path(out_dir)
    manifest = out / MANIFEST
    if not manifest.is_file():
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise TrainingExportError(
                f"{out}: not empty and holds no {MANIFEST} from an earlier export; choose an "
                "empty or new folder (an export only updates a folder it made)")
        return None
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != MANIFEST_COLUMNS:
                raise TrainingExportError(f"{manifest}: not a training-export manifest "
                                          f"(columns {reader.fieldnames})")
            return [{k: unsafe_cell(v or "") for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TrainingExportError(f"{manifest}: cannot read the manifest ({exc})") from exc


def _place(source: Path, dest: Path, data: bytes, link: bool) -> bool:
    """Put the image at dest (a new name): a hard link, else a symlink when `link`, else (or
    when links fail) a copy of `data` written atomically. Returns whether it linked."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        for make in (os.link, os.symlink):
            try:
                make(os.path.abspath(source), dest)
                return True
            except (OSError, NotImplementedError):
                with contextlib.suppress(OSError):
                    if dest.is_symlink():
                        dest.unlink()
    atomic_write(dest, lambda handle: handle.write(data), binary=True)
    with contextlib.suppress(OSError):
        shutil.copystat(source, dest)
    return False


def _same_content(path: Path, sha256: str) -> bool:
    try:
        return path.is_file() and sha256_file(path) == sha256
    except OSError:
        return False


def _free_name(folder: Path, name: str, sha256: str, taken: set[str]) -> tuple[Path, bool]:
    """A destination for an image in folder: its own name, else with a short hash added.
    Returns (path, already there with this content)."""
    stem, suffix = os.path.splitext(name)
    candidates = [name, f"{stem}_{sha256[:8]}{suffix}", f"{stem}_{sha256[:16]}{suffix}"]
    candidates += [f"{stem}_{sha256[:16]}_{i}{suffix}" for i in range(2, 1000)]
    for candidate in candidates:
        path = folder / candidate
        key = os.path.normcase(str(path))
        if key in taken:
            continue
        if _same_content(path, sha256):  # left by an interrupted export: adopt it
            return path, True
        if not path.exists() and not path.is_symlink():
            return path, False
    raise TrainingExportError(f"{folder}: no free file name for {name}")


def export_training_set(
    cells: Iterable[ExportCell],
    out_dir: str | Path,
    include_unreviewed: bool = False,
    link: bool = False,
    progress: Callable[[int, int], object] | None = None,
) -> ExportSummary:
    """Export cells (path, content SHA-256, model's class, review or None) as a training set.

    Only reviewed cells unless `include_unreviewed` (the model's class then labels the rest);
    excluded cells never. `link` hard-links (else symlinks) instead of copying, falling back to
    a copy where links fail. `progress(done, total)` is called after each cell (a GUI worker
    reports it). Raises TrainingExportError for a folder that is not an export.
    """
    out = Path(out_dir)
    previous = read_manifest(out) or []
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    summary = ExportSummary(out_dir=out, manifest=manifest_path)
    if not manifest_path.exists():  # mark the folder as an export before the first image
        _write_manifest(manifest_path, [])
    todo = list(cells)
    by_sha = {row["sha256"]: row for row in previous if _inside(out, row.get("dest", ""))}
    ours: set[str] = {sha for _, sha, _, _ in todo if sha}
    rows: dict[str, dict[str, str]] = {sha: row for sha, row in by_sha.items() if sha not in ours}
    taken = {os.path.normcase(str(out / row["dest"])) for row in rows.values()}
    handled: set[str] = set()
    for done, (path, sha, predicted, review) in enumerate(todo, start=1):
        old = by_sha.get(sha)
        if sha and sha in handled:  # the same image content twice in this case
            summary.skipped_duplicate += 1
        else:
            handled.add(sha)
            try:
                row = _export_one(out, path, sha, predicted, review, include_unreviewed, link,
                                  old, taken, summary)
            except (OSError, MarrowError) as exc:
                summary.failed.append(f"{path}: {exc}")
                row = None
            if isinstance(row, dict):
                rows[sha] = row
                taken.add(os.path.normcase(str(out / row["dest"])))
                summary.per_class[row["final_class"]] = (
                    summary.per_class.get(row["final_class"], 0) + 1)
            elif old is not None and row == _SKIPPED:  # no longer selected: take it out
                _remove(out, out / old["dest"])
                summary.removed += 1
            elif old is not None and _same_content(out / old["dest"], sha):
                rows[sha] = old  # failed now: the earlier export stays as it was
                taken.add(os.path.normcase(str(out / old["dest"])))
        if progress is not None:
            progress(done, len(todo))
    ordered = sorted(rows.values(), key=lambda r: (r["final_class"], r["dest"]))
    _write_manifest(manifest_path, ordered)
    summary.files = len(ordered)
    return summary


_SKIPPED = "skipped"


def _contained(out: Path, target: Path) -> bool:
    """`target` lies inside the export folder once every symbolic link is resolved (a planted
    link must not lead a write or a delete elsewhere)."""
    root = os.path.realpath(out)
    parent = os.path.realpath(target.parent)
    return (parent == root or parent.startswith(root.rstrip(os.sep) + os.sep)) and \
        os.path.realpath(target) != root


def _inside(out: Path, dest: str) -> bool:
    """Whether a manifest's dest names a file inside the export folder (never act elsewhere)."""
    if not dest or os.path.isabs(dest):
        return False
    root = os.path.abspath(out)
    lexical = os.path.commonpath([root, os.path.abspath(out / dest)]) == root and \
        os.path.abspath(out / dest) != root
    return lexical and _contained(out, out / dest)


def _export_one(out: Path, path: str, sha: str, predicted: str, review: Review | None,
                include_unreviewed: bool, link: bool, old: dict[str, str] | None,
                taken: set[str], summary: ExportSummary) -> dict[str, str] | str | None:
    """Export one cell: its manifest row, _SKIPPED when it is not selected, None on failure."""
    if review is not None and review.label == EXCLUDED:
        summary.skipped_excluded += 1
        return _SKIPPED
    if review is None and not (include_unreviewed and predicted):
        summary.skipped_unreviewed += 1
        return _SKIPPED
    label = review.label if review is not None else predicted
    if not sha:
        summary.failed.append(f"{path}: no content hash (unreadable image)")
        return None
    if not _SAFE_CLASS.match(label):
        summary.failed.append(f"{path}: class {label!r} cannot be a folder name")
        return None
    source_file, region = split_cell_path(path)
    source = Path(source_file)
    row = {"source": printable(os.path.abspath(path)), "sha256": sha, "final_class": label,
           "label_source": "reviewed" if review is not None else "model",
           "reviewer": review.reviewer if review is not None else "",
           "reviewed_at": review.at if review is not None else ""}
    if old is not None and old["final_class"] == label and _same_content(out / old["dest"], sha):
        summary.kept += 1
        return {"dest": old["dest"], **row}
    data = source.read_bytes()
    if sha256_bytes(data) != split_cell_id(sha)[0]:
        summary.failed.append(f"{printable(path)}: the file changed since it was classified "
                              "or reviewed")
        return None
    name = source.name
    if region:  # a cell of a field photograph: its crop, as the model saw it
        data, name = _region_png(data, source, region)
    if old is not None:
        _remove(out, out / old["dest"])
        summary.moved += old["final_class"] != label
    if (out / label).is_symlink() or not _contained(out, out / label / "x"):
        summary.failed.append(f"{printable(path)}: class folder {label} leads outside the "
                              "export folder (a symbolic link); not written")
        return None
    dest, present = _free_name(out / label, name, sha, taken)
    if present:
        summary.kept += old is None
    else:
        summary.linked += _place(source, dest, data, link)
        summary.written += 1
    return {"dest": dest.relative_to(out).as_posix(), **row}


def _region_png(data: bytes, source: Path, region: str) -> tuple[bytes, str]:
    """A field's cell as a PNG (core.fields.cell_image) and its file name."""
    box = box_of(region)
    assert box is not None
    rgb = cell_image(decode_image(data, source.name).rgb, box)
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode the cell at {region} as PNG")
    return png.tobytes(), f"{source.stem}_cell_{box[0]}_{box[1]}.png"


def _remove(out: Path, path: Path) -> None:
    """Delete an exported image (and its class folder if that is now empty), only inside the
    export folder."""
    if not _contained(out, path):
        return
    with contextlib.suppress(OSError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def _write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    def write(handle: object) -> None:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)  # type: ignore[arg-type]
        writer.writeheader()
        writer.writerows({k: safe_cell(row.get(k, "")) for k in MANIFEST_COLUMNS}
                         for row in rows)

    atomic_write(path, write, newline="", encoding="utf-8-sig")
