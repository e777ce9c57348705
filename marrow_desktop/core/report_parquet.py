"""The batch report as Parquet (`-o NAME.parquet`), for million-row runs: the CSV report's
columns and cells (core.report.result_row), in row groups.

Rows go to NAME.parquet.part, which replaces NAME.parquet when the writer closes (a finished or
interrupted run leaves a readable file; a killed one leaves the previous file as it was).
Continuing an existing report keeps its ok rows, as the CSV writer does. Needs pyarrow (the
`[cluster]` extra).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.report import (
    KeepRow,
    ReportError,
    check_columns,
    lock_report,
    report_columns,
    result_row,
    row_key,
    unsafe_cell,
)
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review

#: Rows per row group (and per batch when reading).
ROW_GROUP = 10_000


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith(".parquet")


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MarrowError("a .parquet report needs pyarrow: pip install "
                          "'marrow-desktop[cluster]' (or pyarrow)") from exc
    return pa, pq


def parquet_rows(path: str | Path) -> Iterator[dict[str, str]]:
    """The rows of a Parquet report, streamed."""
    _, pq = _pyarrow()
    try:
        for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=ROW_GROUP):
            yield from batch.to_pylist()
    except OSError as exc:
        raise ReportError(f"{path}: cannot read this Parquet report ({exc})") from exc


class ParquetReportWriter:
    """ReportWriter's interface (path, done, dropped, write, close) for a Parquet report."""

    def __init__(self, path: str | Path, classes: Sequence[str], resume: bool = True,
                 model_sha256: str = "", keep: KeepRow | None = None,
                 fields: bool = False) -> None:
        pa, pq = _pyarrow()
        self.path = Path(path)
        self.fields = fields
        self.columns = report_columns(classes, fields)
        self.classes = tuple(classes)
        self.done: set[str] = set()
        self.dropped = 0
        self._buffer: list[dict[str, str]] = []
        self._schema = pa.schema([(c, pa.string()) for c in self.columns])
        self._lock = lock_report(self.path)
        self._part = self.path.with_name(self.path.name + ".part")
        try:
            self._writer = pq.ParquetWriter(str(self._part), self._schema)
            if resume and self.path.is_file():
                self._keep_finished_rows(model_sha256, keep)
        except BaseException:
            self._abandon()
            raise

    def _keep_finished_rows(self, model_sha256: str, keep: KeepRow | None) -> None:
        _, pq = _pyarrow()
        try:
            names = pq.ParquetFile(str(self.path)).schema_arrow.names
        except OSError as exc:
            raise ReportError(f"{self.path}: cannot continue this report ({exc})") from exc
        check_columns(self.path, names, self.classes, self.fields)
        seen: set[tuple[str, ...]] = set()
        for row in parquet_rows(self.path):
            if row.get("status") != "ok" or row_key(row) in seen:
                continue
            if model_sha256 and row.get("model_sha256") not in ("", model_sha256):
                raise ReportError(
                    f"{self.path}: written with another model ({row['model_sha256'][:12]}…, now "
                    f"{model_sha256[:12]}…); use --overwrite or another output file")
            if keep is not None and not keep(row):
                self.dropped += 1
                continue
            seen.add(row_key(row))
            self.done.add(unsafe_cell(row["path"]))
            self._add(row)

    def _add(self, row: dict[str, str]) -> None:
        self._buffer.append(row)
        if len(self._buffer) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        pa, _ = _pyarrow()
        try:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=self._schema))
        except OSError as exc:
            raise ReportError(f"{self.path}: cannot write the report ({exc})") from exc
        self._buffer = []

    def write(self, result: ImageResult, review: Review | str | None = None,
              reasons: Sequence[str] | None = None) -> None:
        """Add one row (the CSV report's cells, as text)."""
        row = result_row(result, self.classes, review, reasons, self.fields)
        self._add({c: "" if row[c] is None else str(row[c]) for c in self.columns})

    def _abandon(self) -> None:
        try:
            writer = getattr(self, "_writer", None)
            if writer is not None:
                writer.close()
            self._part.unlink(missing_ok=True)
        finally:
            self._lock.release()

    def close(self) -> None:
        """Write what is buffered and put the finished file in place."""
        try:
            self._flush()
            self._writer.close()
            os.replace(self._part, self.path)
        except OSError as exc:
            raise ReportError(f"{self.path}: cannot write the report ({exc})") from exc
        finally:
            self._lock.release()

    def __enter__(self) -> ParquetReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
