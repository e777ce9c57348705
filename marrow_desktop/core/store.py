"""Embedded SQLite store of per-image results, keyed by image content hash and model hash.

Each result is committed on its own (WAL journal), so a killed process loses at most the image
in flight. Quality metrics depend only on the image; predictions on the image and the model.
A file table (path, size, mtime) lets a rerun skip re-reading unchanged files.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.results import ImageResult

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
CREATE TABLE IF NOT EXISTS quality (sha256 TEXT PRIMARY KEY, metrics TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (model_sha256 TEXT PRIMARY KEY, name TEXT, classes TEXT);
CREATE TABLE IF NOT EXISTS predictions (
    sha256 TEXT, model_sha256 TEXT, probabilities TEXT NOT NULL, created REAL,
    PRIMARY KEY (sha256, model_sha256));
CREATE TABLE IF NOT EXISTS reviews (
    sha256 TEXT PRIMARY KEY, label TEXT, note TEXT, updated REAL);
"""


class StoreError(MarrowError):
    """The results store cannot be opened or written."""


class ResultStore:
    """Thread-safe access to one SQLite results file (":memory:" for a throwaway store)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the results store ({exc})") from exc
        self._models: set[str] = set()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # files ---------------------------------------------------------------------------------
    def known_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """Content hash recorded for a file, if its size and modification time are unchanged."""
        with self._lock:
            row = self._db.execute("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?",
                                   (path,)).fetchone()
        if row and row[0] == size and row[1] == mtime_ns:
            return str(row[2])
        return None

    # results -------------------------------------------------------------------------------
    def put(self, result: ImageResult, size: int = -1, mtime_ns: int = -1,
            model_name: str = "") -> None:
        """Keep a computed result (errors are not kept: they are retried next time)."""
        if not result.ok or not result.content_sha256:
            return
        sha = result.content_sha256
        with self._lock:
            try:
                if size >= 0:
                    self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                                     (result.path, size, mtime_ns, sha))
                if result.quality is not None:
                    self._db.execute("INSERT OR REPLACE INTO quality VALUES (?, ?)",
                                     (sha, json.dumps(result.quality.as_dict())))
                if result.probabilities is not None and result.model_sha256:
                    if result.model_sha256 not in self._models:
                        self._db.execute("INSERT OR IGNORE INTO models VALUES (?, ?, ?)",
                                         (result.model_sha256, model_name,
                                          json.dumps(list(result.classes))))
                        self._models.add(result.model_sha256)
                    self._db.execute(
                        "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?)",
                        (sha, result.model_sha256,
                         json.dumps([float(p) for p in result.probabilities]),  # exact f32
                         time.time()),
                    )
                self._db.commit()
            except sqlite3.DatabaseError as exc:
                self._db.rollback()
                raise StoreError(f"{self.path}: cannot write result ({exc})") from exc

    def get(self, path: str, content_sha256: str, model_sha256: str = "") -> ImageResult | None:
        """Stored result for an image (quality, plus predictions of the model if asked)."""
        with self._lock:
            q = self._db.execute("SELECT metrics FROM quality WHERE sha256 = ?",
                                 (content_sha256,)).fetchone()
            p = None
            if model_sha256:
                p = self._db.execute(
                    "SELECT p.probabilities, m.classes FROM predictions p JOIN models m "
                    "ON p.model_sha256 = m.model_sha256 WHERE p.sha256 = ? AND p.model_sha256 = ?",
                    (content_sha256, model_sha256)).fetchone()
        if q is None or (model_sha256 and p is None):
            return None
        result = ImageResult(path=path, content_sha256=content_sha256, from_store=True,
                             quality=QualityMetrics(**json.loads(q[0])))
        if p is not None:
            result.model_sha256 = model_sha256
            result.probabilities = np.asarray(json.loads(p[0]), dtype=np.float32)
            result.classes = tuple(json.loads(p[1]))
        return result

    def lookup_paths(self, paths: Iterable[str], model_sha256: str) -> dict[str, ImageResult]:
        """Stored results of files whose path is known, without reading the files (GUI reopen).

        Callers must check size/mtime (known_hash) before trusting a hit for a changed file.
        """
        out: dict[str, ImageResult] = {}
        for path in paths:
            with self._lock:
                row = self._db.execute("SELECT sha256 FROM files WHERE path = ?",
                                       (path,)).fetchone()
            if row:
                hit = self.get(path, row[0], model_sha256)
                if hit is not None:
                    out[path] = hit
        return out

    def count_predictions(self, model_sha256: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM predictions WHERE model_sha256 = ?",
                                        (model_sha256,)).fetchone()[0])

    # reviews -------------------------------------------------------------------------------
    def set_review(self, content_sha256: str, label: str, note: str = "") -> None:
        """Record a person's class for an image ('' clears the review)."""
        with self._lock:
            if label:
                self._db.execute("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?)",
                                 (content_sha256, label, note, time.time()))
            else:
                self._db.execute("DELETE FROM reviews WHERE sha256 = ?", (content_sha256,))
            self._db.commit()

    def review(self, content_sha256: str) -> tuple[str, str] | None:
        """(label, note) a person gave an image, if any."""
        with self._lock:
            row = self._db.execute("SELECT label, note FROM reviews WHERE sha256 = ?",
                                   (content_sha256,)).fetchone()
        return (str(row[0]), str(row[1] or "")) if row else None
