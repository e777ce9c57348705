"""CSV reports: one row per image, written as results arrive, safe to open in a spreadsheet.

Beside the model's classes and the quality checks, each row carries the cell's review (the
person's label, who gave it and when), the class a differential counts (`final_class`) and
whether the cell falls in the review queue (`needs_review`, with its `review_reasons`).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from marrow_desktop.core.cells import box_of
from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review, cell_reasons, final_class
from marrow_desktop.core.text import printable

BASE_COLUMNS = ["path", "sha256", "status", "error", "predicted_class", "confidence",
                "top2_class", "top2_confidence", "top3_class", "top3_confidence"]
QUALITY_COLUMNS = ["brightness", "too_dark", "too_bright", "stain_ratio", "stain_present",
                   "color_type", "laplacian_var", "blurry"]
DOMAIN_COLUMNS = ["domain_score", "in_domain"]
#: A field run's columns (beside `path`, the field image): the cell's box in its pixels, whether
#: the box was cut by the border, the scale, and where its crop was written (--crops-dir).
FIELD_COLUMNS = ["source_path", "box_x", "box_y", "box_w", "box_h", "box_cut", "um_per_px",
                 "scale_source", "crop_path"]
REVIEW_COLUMNS = ["reviewed_class", "reviewer", "reviewed_at", "final_class", "needs_review",
                  "review_reasons"]
TAIL_COLUMNS = [*REVIEW_COLUMNS, "model_sha256"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ReportError(MarrowError, ValueError):
    """An existing report cannot be continued (other columns, unreadable)."""


def safe_cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula (prefix it with a quote)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def unsafe_cell(value: str) -> str:
    """The original text of a cell written by safe_cell."""
    if value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside `path` for writing it atomically."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


STALE_TEMPORARY = 600  # seconds: a temporary file this old was left by a killed run


def remove_stale_temporaries(path: Path) -> None:
    """Temporary files of `path` that a killed run left behind (older than STALE_TEMPORARY)."""
    now = time.time()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > STALE_TEMPORARY:
                tmp.unlink()


def atomic_write(path: str | Path, write: Callable[[Any], object], *, newline: str | None = None,
                 encoding: str = "utf-8", binary: bool = False) -> Path:
    """Write a file through a temporary file in its folder, then replace `path` in one step
    (readers see the old file or the new one, never half of it). Creates the folder. `write`
    gets a text handle, or a binary one with binary=True."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    text = {} if binary else {"newline": newline, "encoding": encoding}
    try:
        # "x" (not mkstemp): the file gets the usual permissions of the user's umask
        with open(tmp, "xb" if binary else "x", **text) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def report_columns(classes: Sequence[str], fields: bool = False) -> list[str]:
    """Columns of a report for a model with these class codes (none: quality only); a field
    run's also say where in its field each cell is."""
    return (BASE_COLUMNS + (FIELD_COLUMNS if fields else []) + [f"prob_{c}" for c in classes]
            + QUALITY_COLUMNS + DOMAIN_COLUMNS + TAIL_COLUMNS)


def row_key(row: dict[str, str]) -> tuple[str, ...]:
    """What one report row describes: its image, and in a field run the cell's box."""
    return (row.get("path", ""), row.get("box_x", ""), row.get("box_y", ""),
            row.get("box_w", ""), row.get("box_h", ""))


def _field_columns(result: ImageResult) -> dict[str, object]:
    """A field run's cells of a row (FIELD_COLUMNS)."""
    extra = result.extra
    cells: dict[str, object] = {"source_path": printable(result.path)}
    box = box_of(result.region)
    if box is not None:
        cells.update(box_x=box[0], box_y=box[1], box_w=box[2], box_h=box[3],
                     box_cut=int(bool(extra.get("cut"))))
    if "um_per_px" in extra:  # None: a cell boxed by hand (no scale of its own)
        um = extra["um_per_px"]
        cells.update(um_per_px=_fmt(float(um), 4) if um is not None else "",  # type: ignore[arg-type]
                     scale_source=extra.get("scale_source", ""))
    if extra.get("crop_path"):
        cells["crop_path"] = printable(str(extra["crop_path"]))
    return cells


def _fmt(value: float, digits: int = 6) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def result_row(result: ImageResult, classes: Sequence[str], review: Review | str | None = None,
               reasons: Sequence[str] | None = None, fields: bool = False) -> dict:
    """One CSV row (column -> cell) for a result and its review, if any.

    `reasons` are the cell's review reasons; None computes them with the default
    ReviewThresholds and the result's own quality verdicts (see cell_reasons). A bare string
    review is a label without reviewer or time (older callers).
    """
    if isinstance(review, str):
        review = Review(review, "", "") if review else None
    if reasons is None:
        reasons = cell_reasons(result)
    row: dict[str, object] = dict.fromkeys(report_columns(classes, fields), "")
    if fields:
        row.update(_field_columns(result))
    row.update(path=printable(result.path), sha256=result.content_sha256,
               status=result.status,
               error=printable(result.error),
               model_sha256=result.model_sha256, needs_review=int(bool(reasons)),
               review_reasons="; ".join(reasons))
    if review is not None:
        row.update(reviewed_class=review.label, reviewer=printable(review.reviewer),
                   reviewed_at=review.at)
    row["final_class"] = final_class(result.predicted_class, review.label if review else "")
    top = result.top(3)
    for rank, (code, prob) in enumerate(top, start=1):
        prefix = "" if rank == 1 else f"top{rank}_"
        row["predicted_class" if rank == 1 else f"{prefix}class"] = code
        row["confidence" if rank == 1 else f"{prefix}confidence"] = _fmt(prob)
    if result.probabilities is not None:
        for code, prob in zip(result.classes, result.probabilities):
            if f"prob_{code}" in row:
                row[f"prob_{code}"] = _fmt(float(prob))
    if result.domain_score is not None:
        row["domain_score"] = _fmt(result.domain_score, 4)
    if result.in_domain is not None:
        row["in_domain"] = int(result.in_domain)
    q = result.quality
    if q is not None:
        row.update(brightness=_fmt(q.brightness, 2), too_dark=int(q.too_dark),
                   too_bright=int(q.too_bright), stain_ratio=_fmt(q.stain_ratio, 4),
                   stain_present=int(q.stain_present), color_type=q.color_type,
                   laplacian_var=_fmt(q.laplacian_var, 3), blurry=int(q.blurry))
    return {k: safe_cell(v) for k, v in row.items()}


class ReportLocked(ReportError):
    """Another process is writing the same report."""


KeepRow = Callable[[dict[str, str]], bool]


def lock_report(path: Path) -> Any:
    """The OS lock on REPORT.lock beside a report (filelock), held; ReportLocked when another
    run holds it."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(f"{path}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ReportLocked(f"{path}: another marrow run is writing this report; wait for it to "
                           "finish or choose another output file") from None
    return lock


def check_columns(path: Path, found: list[str], classes: Sequence[str], fields: bool) -> None:
    """An existing report continues only with the columns this run writes."""
    if found == report_columns(classes, not fields):
        raise ReportError(f"{path}: existing report was written "
                          f"{'without' if fields else 'with'} --fields; choose another output "
                          "file")
    if found != report_columns(classes, fields):
        raise ReportError(f"{path}: existing report has other columns (another model, or a "
                          "report from an older version); choose another output file")


class ReportWriter:
    """Appends rows to a CSV report and flushes each one, so an interrupted run keeps its rows.

    Only one process writes a report at a time: an OS lock on REPORT.lock beside it (filelock)
    refuses a second writer with ReportLocked. Opening an existing report with the same columns
    continues it: its complete ok rows are kept (`done` holds their paths) unless `keep(row)`
    says otherwise (the file changed since, say), and its error rows and any half-written last
    line are dropped, so retried images do not appear twice. A report with other columns, or
    written with another model (`model_sha256`), is a ReportError rather than being mixed or
    overwritten. Files are UTF-8 with a BOM, so spreadsheets read non-ASCII paths.
    """

    def __init__(self, path: str | Path, classes: Sequence[str], resume: bool = True,
                 model_sha256: str = "", keep: KeepRow | None = None,
                 fields: bool = False) -> None:
        self.path = Path(path)
        self.fields = fields
        self.columns = report_columns(classes, fields)
        self.classes = tuple(classes)
        self.model_sha256 = model_sha256
        self.done: set[str] = set()
        self.dropped = 0  # rows of an earlier run dropped (their file changed)
        self._lock = lock_report(self.path)
        try:
            exists = resume and self.path.is_file() and self.path.stat().st_size > 0
            if exists:
                self._keep_finished_rows(keep)
            self._handle: TextIO = open(  # noqa: SIM115 - closed in close()
                self.path, "a" if exists else "w", newline="", encoding="utf-8-sig")
            self._writer = csv.DictWriter(self._handle, fieldnames=self.columns)
            if not exists:
                self._writer.writeheader()
                self._handle.flush()
        except BaseException:
            self._lock.release()
            raise

    def _keep_finished_rows(self, keep: KeepRow | None) -> None:
        """Read an existing report; rewrite it without the rows to drop, if it has any."""
        try:
            with open(self.path, "rb") as raw:
                raw.seek(-1, os.SEEK_END)
                complete_last = raw.read(1) in (b"\n", b"\r")
            total, kept = 0, 0
            for row in self._rows(complete_last, keep):
                total += 1
                if row is not None:
                    kept += 1
                    self.done.add(unsafe_cell(row["path"]))
            if kept == total and complete_last:
                return
            partial = temporary_name(self.path)
            with open(partial, "x", newline="", encoding="utf-8-sig") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.columns)
                writer.writeheader()
                writer.writerows(r for r in self._rows(complete_last, keep) if r is not None)
            os.replace(partial, self.path)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ReportError(f"{self.path}: cannot continue this report ({exc})") from exc

    def _rows(self, complete_last: bool, keep: KeepRow | None,
              ) -> Iterator[dict[str, str] | None]:
        """Rows of the existing report, None for those to drop (errors, cut-off last line,
        repeated paths, files changed since)."""
        with open(self.path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            check_columns(self.path, list(reader.fieldnames or ()), self.classes, self.fields)
            previous: dict[str, str] | None = None
            first = True
            seen: set[str] = set()
            for row in reader:
                if not first:
                    yield previous
                first = False
                ok = row.get("status") == "ok" and None not in row and None not in row.values()
                if ok and self.model_sha256 and row.get("model_sha256") not in (
                        "", self.model_sha256):
                    raise ReportError(
                        f"{self.path}: written with another model ({row['model_sha256'][:12]}"
                        f"…, now {self.model_sha256[:12]}…); use --overwrite or another output "
                        "file, so that one report holds one model's results")
                if ok and keep is not None and not keep(row):
                    self.dropped += 1
                    ok = False
                previous = row if ok and row_key(row) not in seen else None
                if previous is not None:
                    seen.add(row_key(row))
            if not first:
                yield previous if complete_last else None

    def write(self, result: ImageResult, review: Review | str | None = None,
              reasons: Sequence[str] | None = None) -> None:
        """Append one row (see result_row) and flush it; a full disk stops the run."""
        try:
            self._writer.writerow(result_row(result, self.classes, review, reasons,
                                             self.fields))
            self._handle.flush()
        except OSError as exc:
            raise ReportError(f"{self.path}: cannot write the report ({exc.strerror or exc}); "
                              "the rows written so far are kept") from exc

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError:
            pass
        finally:
            self._lock.release()

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
