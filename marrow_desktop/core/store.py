"""Embedded SQLite store of per-image results, keyed by image content hash and model hash.

Each result is committed on its own (WAL journal), so a killed process loses at most the image
in flight. Quality metrics depend only on the image; predictions on the image and the model.
A file table (path, size, mtime) lets a rerun skip re-reading unchanged files.

Reviews belong to a case (the opened folder): a person's label per cell beside the model's
predictions, every change appended to the case's hash-chained audit trail (core.audit) in the
same transaction. Triggers refuse UPDATE and DELETE on the trail; a signed-off case refuses new
labels until it is reopened (which the trail records too).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marrow_desktop.core import audit
from marrow_desktop.core.audit import AuditCheck, AuditEntry
from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review, case_id_for

SCHEMA_VERSION = 2
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
    sha256 TEXT PRIMARY KEY, label TEXT, note TEXT, updated REAL);  -- version 1, migrated
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, created TEXT, audit_head TEXT NOT NULL,
    audit_count INTEGER NOT NULL, signed_by TEXT NOT NULL DEFAULT '',
    signed_at TEXT NOT NULL DEFAULT '', sign_note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS case_reviews (
    case_id TEXT, sha256 TEXT, path TEXT, label TEXT NOT NULL, reviewer TEXT, at TEXT,
    PRIMARY KEY (case_id, sha256));
CREATE TABLE IF NOT EXISTS audit (
    case_id TEXT NOT NULL, seq INTEGER NOT NULL, action TEXT NOT NULL, sha256 TEXT, path TEXT,
    previous TEXT, new TEXT, who TEXT, at TEXT, model_name TEXT, model_sha256 TEXT, note TEXT,
    prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL, PRIMARY KEY (case_id, seq));
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
_AUDIT_FIELDS = ("seq", "case_id", "action", "sha256", "path", "previous", "new", "who", "at",
                 "model_name", "model_sha256", "note", "prev_hash", "row_hash")


class StoreError(MarrowError):
    """The results store cannot be opened or written."""


class CaseSignedError(StoreError):
    """A signed-off case cannot change until it is reopened."""


@dataclass(frozen=True)
class CaseInfo:
    """A case's trail head and sign-off state."""

    case_id: str
    created: str = ""
    audit_head: str = audit.GENESIS
    audit_count: int = 0
    signed_by: str = ""
    signed_at: str = ""
    sign_note: str = ""

    @property
    def signed(self) -> bool:
        return bool(self.signed_at)


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
            self._upgrade()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the results store ({exc})") from exc
        self._models: set[str] = set()

    def _upgrade(self) -> None:
        """Bring an older store up to SCHEMA_VERSION (version 1 kept reviews per image only:
        each becomes a review in the case of the folder the image was seen in)."""
        version = int(self._db.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: made by a newer Marrow Desktop (store version "
                             f"{version}); update the application or choose another store")
        if version < 2:
            rows = self._db.execute(
                "SELECT r.sha256, r.label, f.path FROM reviews r JOIN files f "
                "ON r.sha256 = f.sha256 ORDER BY r.updated").fetchall()
            for sha, label, path in rows:
                if label:
                    self._review_rows(case_id_for([os.path.dirname(path)]), [(sha, path, label)],
                                      "marrow (store upgrade)", note="from store version 1")
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             (str(SCHEMA_VERSION),))
            self._db.commit()

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

    # cases, reviews and the audit trail ------------------------------------------------------
    def case(self, case_id: str) -> CaseInfo:
        """A case's state (a case nobody has reviewed yet has an empty trail)."""
        with self._lock:
            return self._case(case_id)

    def _case(self, case_id: str) -> CaseInfo:
        row = self._db.execute(
            "SELECT case_id, created, audit_head, audit_count, signed_by, signed_at, sign_note "
            "FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return CaseInfo(*row) if row else CaseInfo(case_id)

    def _append(self, case: CaseInfo, **fields: str) -> tuple[CaseInfo, AuditEntry]:
        """Add one trail entry (inside the caller's transaction); returns the new case state."""
        entry = AuditEntry(seq=case.audit_count + 1, case_id=case.case_id,
                           prev_hash=case.audit_head, at=fields.pop("at", "") or audit.utc_now(),
                           **fields)
        entry = AuditEntry(**{**entry.__dict__, "row_hash": entry.computed_hash()})
        self._db.execute(f"INSERT INTO audit ({', '.join(_AUDIT_FIELDS)}) VALUES "
                         f"({', '.join('?' * len(_AUDIT_FIELDS))})",
                         [getattr(entry, f) for f in _AUDIT_FIELDS])
        self._db.execute(
            "INSERT INTO cases (case_id, created, audit_head, audit_count) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(case_id) DO UPDATE SET audit_head = excluded.audit_head, "
            "audit_count = excluded.audit_count",
            (case.case_id, case.created or entry.at, entry.row_hash, entry.seq))
        return (CaseInfo(case.case_id, case.created or entry.at, entry.row_hash, entry.seq,
                         case.signed_by, case.signed_at, case.sign_note), entry)

    def _review_rows(self, case_id: str, entries: Sequence[tuple[str, str, str]], who: str,
                     model_name: str = "", model_sha256: str = "", note: str = "",
                     ) -> list[AuditEntry]:
        case = self._case(case_id)
        if case.signed:
            raise CaseSignedError(f"case {case_id} was signed off by {case.signed_by} on "
                                  f"{case.signed_at[:16].replace('T', ' ')} UTC; reopen it to "
                                  "change labels")
        written = []
        for sha, path, label in entries:
            row = self._db.execute("SELECT label FROM case_reviews WHERE case_id = ? AND "
                                   "sha256 = ?", (case_id, sha)).fetchone()
            previous = str(row[0]) if row else ""
            if previous == label:
                continue
            case, entry = self._append(case, action=audit.REVIEW, sha256=sha, path=path,
                                       previous=previous, new=label, who=who,
                                       model_name=model_name, model_sha256=model_sha256,
                                       note=note)
            if label:
                self._db.execute("INSERT OR REPLACE INTO case_reviews VALUES (?, ?, ?, ?, ?, ?)",
                                 (case_id, sha, path, label, who, entry.at))
            else:
                self._db.execute("DELETE FROM case_reviews WHERE case_id = ? AND sha256 = ?",
                                 (case_id, sha))
            written.append(entry)
        return written

    def set_reviews(self, case_id: str, entries: Sequence[tuple[str, str, str]], who: str,
                    model_name: str = "", model_sha256: str = "", note: str = "",
                    ) -> list[AuditEntry]:
        """Label cells of a case: (content hash, path, label or '' to clear) each, all or none.

        Unchanged labels write nothing; each change is one audit entry. Raises CaseSignedError
        for a signed-off case.
        """
        with self._lock:
            try:
                written = self._review_rows(case_id, entries, who, model_name, model_sha256,
                                            note)
                self._db.commit()
                return written
            except sqlite3.DatabaseError as exc:
                self._db.rollback()
                raise StoreError(f"{self.path}: cannot save the review ({exc})") from exc
            except StoreError:
                self._db.rollback()
                raise

    def reviews(self, case_id: str) -> dict[str, Review]:
        """Content hash -> the person's label, for every reviewed cell of a case."""
        with self._lock:
            rows = self._db.execute("SELECT sha256, label, reviewer, at, path FROM case_reviews "
                                    "WHERE case_id = ?", (case_id,)).fetchall()
        return {sha: Review(label, reviewer or "", at or "", path or "")
                for sha, label, reviewer, at, path in rows}

    def review(self, case_id: str, sha256: str) -> Review | None:
        """The person's label of one cell of a case, if any."""
        with self._lock:
            row = self._db.execute("SELECT label, reviewer, at, path FROM case_reviews WHERE "
                                   "case_id = ? AND sha256 = ?", (case_id, sha256)).fetchone()
        return Review(row[0], row[1] or "", row[2] or "", row[3] or "") if row else None

    def trail(self, case_id: str, sha256: str = "") -> list[AuditEntry]:
        """A case's audit trail in order (only one cell's entries when sha256 is given)."""
        query = f"SELECT {', '.join(_AUDIT_FIELDS)} FROM audit WHERE case_id = ?"
        args: tuple[str, ...] = (case_id,)
        if sha256:
            query += " AND sha256 = ?"
            args += (sha256,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [AuditEntry(*row) for row in rows]

    def _set_signed(self, case_id: str, action: str, who: str, note: str, model_name: str,
                    model_sha256: str) -> CaseInfo:
        with self._lock:
            try:
                case = self._case(case_id)
                if case.signed == (action == audit.SIGN_OFF):
                    state = "already signed off" if case.signed else "not signed off"
                    raise CaseSignedError(f"case {case_id} is {state}")
                case, entry = self._append(case, action=action, who=who, note=note,
                                           model_name=model_name, model_sha256=model_sha256)
                signed = (who, entry.at, note) if action == audit.SIGN_OFF else ("", "", "")
                self._db.execute("UPDATE cases SET signed_by = ?, signed_at = ?, sign_note = ? "
                                 "WHERE case_id = ?", (*signed, case_id))
                self._db.commit()
            except sqlite3.DatabaseError as exc:
                self._db.rollback()
                raise StoreError(f"{self.path}: cannot record the sign-off ({exc})") from exc
            return self._case(case_id)

    def sign_off(self, case_id: str, who: str, note: str = "", model_name: str = "",
                 model_sha256: str = "") -> CaseInfo:
        """Freeze a case: its labels cannot change until it is reopened."""
        return self._set_signed(case_id, audit.SIGN_OFF, who, note, model_name, model_sha256)

    def reopen(self, case_id: str, who: str, reason: str, model_name: str = "",
               model_sha256: str = "") -> CaseInfo:
        """Unfreeze a signed-off case to amend it (the reason goes into the trail)."""
        if not reason.strip():
            raise StoreError("reopening a signed-off case needs a reason")
        return self._set_signed(case_id, audit.REOPEN, who, reason, model_name, model_sha256)

    def verify_case(self, case_id: str) -> AuditCheck:
        """Check a case's trail (see core.audit.verify)."""
        case = self.case(case_id)
        labels = {sha: r.label for sha, r in self.reviews(case_id).items()}
        return audit.verify(self.trail(case_id), case.audit_head, case.audit_count, labels,
                            case.signed)
