"""Embedded SQLite store of per-cell results and of cases (core.store_schema has the tables).

Results are keyed by cell (image content hash + region, core.cells) and model identity; each is
committed on its own (WAL journal), so a killed process loses at most the cell in flight.
Quality metrics depend only on the image; predictions on the cell and the model; lab-shift
scores on the cell and the domain statistics. A file table (path, size, mtime) lets a rerun
skip re-reading unchanged files.

Cases: a person's label per cell beside the model's predictions, every change appended to the
case's hash-chained audit trail (core.audit) in the same transaction. Triggers refuse UPDATE and
DELETE on the trail; a signed-off case refuses new labels until it is reopened (which the trail
records too). The same class opens the user's store and a case file inside a case folder
(core.case_files), which holds one case and no results.

On open, the file is checked (PRAGMA quick_check): a damaged store is one clear error, never
per-image errors. The user's store is private to its owner (0600 in a 0700 folder on POSIX).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from marrow_desktop.core import audit
from marrow_desktop.core.audit import AuditCheck, AuditEntry
from marrow_desktop.core.cells import cell_id, split_cell_id
from marrow_desktop.core.errors import MarrowError
from marrow_desktop.core.quality import QualityMetrics
from marrow_desktop.core.results import ImageResult
from marrow_desktop.core.review import Review
from marrow_desktop.core.signing import Keyring, SignatureRecord, Signer
from marrow_desktop.core.store_schema import INDEXES, SCHEMA_VERSION, TABLES, upgrade
from marrow_desktop.core.text import printable

_AUDIT_FIELDS = ("seq", "case_id", "action", "sha256", "path", "previous", "new", "who", "at",
                 "model_name", "model_sha256", "note", "prev_hash", "row_hash", "region")
_CASE_FIELDS = ("case_id", "created", "audit_head", "audit_count", "signed_by", "signed_at",
                "sign_note", "folder", "fingerprint", "details", "model_sha256", "model_name",
                "moved_to")


class StoreError(MarrowError):
    """The results store cannot be opened or written."""


class CaseSignedError(StoreError):
    """A signed-off case cannot change until it is reopened."""


@dataclass(frozen=True)
class CaseInfo:
    """A case's trail head, sign-off state, details and model."""

    case_id: str
    created: str = ""
    audit_head: str = audit.GENESIS
    audit_count: int = 0
    signed_by: str = ""
    signed_at: str = ""
    sign_note: str = ""
    folder: str = ""  # where the case folder was last opened from
    fingerprint: str = ""  # of its images (finds a read-only folder again after a move)
    details: str = "{}"  # JSON: patient/sample identifier, accession, ... (core.case_details)
    model_sha256: str = ""  # the model the case's results come from
    model_name: str = ""
    moved_to: str = ""  # the case now lives in this case file

    @property
    def signed(self) -> bool:
        return bool(self.signed_at)

    @property
    def exists(self) -> bool:
        """Something was recorded for this case (a trail entry)."""
        return self.audit_count > 0


def make_private(path: Path) -> None:
    """Owner-only permissions for a store file and its folder (POSIX; on Windows the user's
    profile folder is already private)."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        os.chmod(path.parent, stat.S_IRWXU)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.chmod(f"{path}{suffix}", stat.S_IRUSR | stat.S_IWUSR)


class ResultStore:
    """Thread-safe access to one SQLite store file (":memory:" for a throwaway store).

    private: owner-only file permissions (the user's store). wal: WAL journal (the user's
    store); a case file on a shared folder uses a rollback journal, which works on network
    file systems.
    """

    def __init__(self, path: str | Path = ":memory:", private: bool = True,
                 wal: bool = True) -> None:
        self.path = str(path)
        memory = self.path == ":memory:"
        if not memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                       isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 30000")
            if not memory:
                self._check()
            self._db.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._open_schema()
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(Exception):
                self._db.close()
            raise StoreError(f"{self.path}: cannot open the results store ({exc})") from exc
        except StoreError:
            with contextlib.suppress(Exception):
                self._db.close()
            raise
        self._db.isolation_level = ""  # implicit transactions from here on
        if private and not memory:
            make_private(Path(self.path))
        self._models: set[str] = set()

    def _check(self) -> None:
        rows = self._db.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            first = str(rows[0][0]).splitlines()[0] if rows else "no answer"
            raise StoreError(
                f"{self.path}: the results store is damaged ({first}); nothing was written to "
                "it. Move the file aside (results are recomputed; a backup restores reviews) "
                "or choose another store")

    def _open_schema(self) -> None:
        """Create the tables of a new store or upgrade an older one (with a backup copy)."""
        db = self._db
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            has_tables = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
                                    "AND name = 'files'").fetchone()[0]
            version = 1 if has_tables else SCHEMA_VERSION
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
        else:
            try:
                version = int(row[0])
            except (TypeError, ValueError):
                raise StoreError(f"{self.path}: not a results store of this application "
                                 f"(schema version {row[0]!r})") from None
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: made by a newer Marrow Desktop (store version "
                             f"{version}); update the application or choose another store")
        if version < SCHEMA_VERSION and self.path != ":memory:":
            self._backup(version)
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(TABLES):
                db.execute(statement)
            if version < SCHEMA_VERSION:
                upgrade(db, version, self._review_rows)
            for statement in _statements(INDEXES):
                db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _backup(self, version: int) -> None:
        """Copy an older store before upgrading it (results.sqlite.v2.bak)."""
        target = Path(f"{self.path}.v{version}.bak")
        if target.exists():
            return
        try:
            out = sqlite3.connect(str(target))
            with out:
                self._db.backup(out)
            out.close()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"{self.path}: cannot back up the store before upgrading it "
                             f"({exc})") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, what: str):
        """A context for one write transaction: commit, or roll back and raise StoreError."""
        return _Transaction(self, what)

    # files -----------------------------------------------------------------------------------
    def known_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """Content hash recorded for a file, if its size and modification time are unchanged."""
        with self._lock:
            row = self._read("SELECT size, mtime_ns, sha256 FROM files WHERE path = ?",
                             (printable(path),)).fetchone()
        if row and row[0] == size and row[1] == mtime_ns:
            return str(row[2])
        return None

    def _read(self, query: str, args: Sequence[object] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(query, args)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the results store ({exc})") from exc

    # results -------------------------------------------------------------------------------
    def put(self, result: ImageResult, size: int = -1, mtime_ns: int = -1,
            model_name: str = "") -> None:
        """Keep a computed result (errors are not kept: they are retried next time)."""
        if not result.ok or not result.content_sha256:
            return
        sha, region = result.content_sha256, result.region
        with self._lock, self._write("cannot write result"):
            if size >= 0:
                self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                                 (printable(result.path), size, mtime_ns, sha))
            if result.quality is not None and not region:
                self._db.execute("INSERT OR REPLACE INTO quality VALUES (?, ?)",
                                 (sha, json.dumps(result.quality.as_dict())))
            if result.probabilities is not None and result.model_sha256:
                if result.model_sha256 not in self._models:
                    self._db.execute("INSERT OR IGNORE INTO models VALUES (?, ?, ?)",
                                     (result.model_sha256, model_name,
                                      json.dumps(list(result.classes))))
                    self._models.add(result.model_sha256)
                self._db.execute(
                    "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?)",
                    (sha, region, result.model_sha256,
                     json.dumps([float(p) for p in result.probabilities]),  # exact f32
                     time.time()))
            if result.domain_score is not None and result.domain_sha256:
                self._db.execute("INSERT OR REPLACE INTO domain_scores VALUES (?, ?, ?, ?, ?)",
                                 (sha, region, result.domain_sha256, result.domain_score,
                                  time.time()))

    def get(self, path: str, content_sha256: str, model_sha256: str = "", region: str = "",
            domain_sha256: str = "") -> ImageResult | None:
        """Stored result for a cell (quality, plus predictions of the model and the domain
        score under these statistics, if asked). A row that does not parse counts as absent
        (it is recomputed and replaced)."""
        with self._lock:
            q = self._read("SELECT metrics FROM quality WHERE sha256 = ?",
                           (content_sha256,)).fetchone()
            p = d = None
            if model_sha256:
                p = self._read(
                    "SELECT p.probabilities, m.classes FROM predictions p JOIN models m "
                    "ON p.model_sha256 = m.model_sha256 WHERE p.sha256 = ? AND p.region = ? "
                    "AND p.model_sha256 = ?", (content_sha256, region, model_sha256)).fetchone()
            if domain_sha256:
                d = self._read("SELECT score FROM domain_scores WHERE sha256 = ? AND region = ? "
                               "AND stats_sha256 = ?",
                               (content_sha256, region, domain_sha256)).fetchone()
        # a region's quality is not kept (its caller measures the crop): only its prediction
        if (q is None and not region) or (model_sha256 and p is None):
            return None
        try:
            quality = QualityMetrics(**json.loads(q[0])) if q is not None and not region else None
            result = ImageResult(path=path, content_sha256=content_sha256, region=region,
                                 from_store=True, quality=quality)
            if p is not None:
                probs = np.asarray(json.loads(p[0]), dtype=np.float32)
                classes = tuple(json.loads(p[1]))
                if probs.ndim != 1 or len(probs) != len(classes) or not np.isfinite(probs).all():
                    return None
                result.model_sha256 = model_sha256
                result.probabilities = probs
                result.classes = classes
        except (ValueError, TypeError):
            return None
        if d is not None and d[0] is not None and np.isfinite(d[0]):
            result.domain_score, result.domain_sha256 = float(d[0]), domain_sha256
        return result

    def lookup_paths(self, paths: Mapping[str, str] | Iterable[str], model_sha256: str,
                     domain_sha256: str = "") -> dict[str, ImageResult]:
        """Stored results of files whose path is known, without reading the files (GUI reopen).

        Callers must check size/mtime (known_hash) before trusting a hit for a changed file.
        """
        out: dict[str, ImageResult] = {}
        for path in paths:
            with self._lock:
                row = self._read("SELECT sha256 FROM files WHERE path = ?",
                                 (printable(path),)).fetchone()
            if row:
                hit = self.get(path, row[0], model_sha256, domain_sha256=domain_sha256)
                if hit is not None:
                    out[path] = hit
        return out

    def found_regions(self, content_sha256: str, model_sha256: str) -> list[str]:
        """The regions of an image (cells of a field) the model's latest field search
        classified: the boxes of the side last stored (a search at another scale made boxes
        of another side), oldest first."""
        with self._lock:
            rows = self._read("SELECT region, created FROM predictions WHERE sha256 = ? AND "
                              "model_sha256 = ? AND region != '' ORDER BY created, region",
                              (content_sha256, model_sha256)).fetchall()
        if not rows:
            return []
        side = rows[-1][0].split(",")[2]
        return [region for region, _ in rows if region.split(",")[2] == side]

    def count_predictions(self, model_sha256: str) -> int:
        with self._lock:
            return int(self._read("SELECT COUNT(*) FROM predictions WHERE model_sha256 = ?",
                                  (model_sha256,)).fetchone()[0])

    # cases, reviews and the audit trail ------------------------------------------------------
    def case(self, case_id: str) -> CaseInfo:
        """A case's state (a case nobody has reviewed yet has an empty trail)."""
        with self._lock:
            return self._case(case_id)

    def _case(self, case_id: str) -> CaseInfo:
        row = self._read(f"SELECT {', '.join(_CASE_FIELDS)} FROM cases WHERE case_id = ?",
                         (case_id,)).fetchone()
        return CaseInfo(*row) if row else CaseInfo(case_id)

    def cases(self) -> list[CaseInfo]:
        """Every case of this store (a case file holds one)."""
        with self._lock:
            rows = self._read(f"SELECT {', '.join(_CASE_FIELDS)} FROM cases ORDER BY created"
                              ).fetchall()
        return [CaseInfo(*row) for row in rows]

    def find_case(self, folder: str = "", fingerprint: str = "") -> CaseInfo | None:
        """A case recorded for this folder path, else one with this image fingerprint (a
        folder opened from another place); cases that moved into a case file are skipped."""
        with self._lock:
            for column, value in (("case_id", folder), ("folder", folder),
                                  ("fingerprint", fingerprint)):
                if not value:
                    continue
                row = self._read(f"SELECT {', '.join(_CASE_FIELDS)} FROM cases WHERE {column} = "
                                 "? AND moved_to = '' ORDER BY created DESC", (value,)).fetchone()
                if row:
                    return CaseInfo(*row)
        return None

    def note_case(self, case_id: str, folder: str = "", fingerprint: str = "") -> None:
        """Remember where a case's folder was opened from and its image fingerprint (not part
        of the trail: they only help to find the case again)."""
        folder = printable(folder)
        with self._lock, self._write("cannot record the case"):
            self._ensure_case(case_id)
            if folder:
                self._db.execute("UPDATE cases SET folder = ? WHERE case_id = ?",
                                 (folder, case_id))
            if fingerprint:
                self._db.execute("UPDATE cases SET fingerprint = ? WHERE case_id = ?",
                                 (fingerprint, case_id))

    def mark_moved(self, case_id: str, to: str) -> None:
        """The case was copied into a case file: lookups here skip it from now on."""
        with self._lock, self._write("cannot record the case"):
            self._db.execute("UPDATE cases SET moved_to = ? WHERE case_id = ?", (to, case_id))

    def _ensure_case(self, case_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO cases (case_id, created, audit_head, "
                         "audit_count) VALUES (?, ?, ?, 0)", (case_id, audit.utc_now(),
                                                               audit.GENESIS))

    def _append(self, case: CaseInfo, **fields: str) -> tuple[CaseInfo, AuditEntry]:
        """Add one trail entry (inside the caller's transaction); returns the new case state."""
        entry = AuditEntry(seq=case.audit_count + 1, case_id=case.case_id,
                           prev_hash=case.audit_head, at=fields.pop("at", "") or audit.utc_now(),
                           **fields)
        entry = replace(entry, row_hash=entry.computed_hash())
        self._db.execute(f"INSERT INTO audit ({', '.join(_AUDIT_FIELDS)}) VALUES "
                         f"({', '.join('?' * len(_AUDIT_FIELDS))})",
                         [getattr(entry, f) for f in _AUDIT_FIELDS])
        self._ensure_case(case.case_id)
        self._db.execute("UPDATE cases SET audit_head = ?, audit_count = ?, created = CASE WHEN "
                         "audit_count = 0 THEN ? ELSE created END WHERE case_id = ?",
                         (entry.row_hash, entry.seq, entry.at, case.case_id))
        created = case.created if case.audit_count else entry.at
        return replace(case, created=created, audit_head=entry.row_hash,
                       audit_count=entry.seq), entry

    def _refuse_if_signed(self, case: CaseInfo) -> None:
        if case.signed:
            raise CaseSignedError(f"case {case.case_id} was signed off by {case.signed_by} on "
                                  f"{case.signed_at[:16].replace('T', ' ')} UTC; reopen it to "
                                  "change it")

    def _review_rows(self, case_id: str, entries: Sequence[tuple[str, ...]], who: str,
                     model_name: str = "", model_sha256: str = "", note: str = "",
                     ) -> list[AuditEntry]:
        case = self._case(case_id)
        self._refuse_if_signed(case)
        written = []
        for cid, raw_path, label, *own_note in entries:
            sha, region = split_cell_id(cid)
            path = printable(raw_path)
            row = self._db.execute("SELECT label FROM case_reviews WHERE case_id = ? AND "
                                   "sha256 = ? AND region = ?", (case_id, sha, region)).fetchone()
            previous = str(row[0]) if row else ""
            if previous == label:
                continue
            case, entry = self._append(case, action=audit.REVIEW, sha256=sha, region=region,
                                       path=path, previous=previous, new=label, who=who,
                                       model_name=model_name, model_sha256=model_sha256,
                                       note=own_note[0] if own_note else note)
            if label:
                self._db.execute("INSERT OR REPLACE INTO case_reviews VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (case_id, sha, region, path, label, who, entry.at))
            else:
                self._db.execute("DELETE FROM case_reviews WHERE case_id = ? AND sha256 = ? AND "
                                 "region = ?", (case_id, sha, region))
            written.append(entry)
        return written

    def set_reviews(self, case_id: str, entries: Sequence[tuple[str, ...]], who: str,
                    model_name: str = "", model_sha256: str = "", note: str = "",
                    ) -> list[AuditEntry]:
        """Label cells of a case: (cell id, path, label or '' to clear[, note]) each, all or
        none (the note, e.g. the model's label at the time, defaults to `note`).

        Unchanged labels write nothing; each change is one audit entry. Raises CaseSignedError
        for a signed-off case.
        """
        with self._lock, self._write("cannot save the review"):
            return self._review_rows(case_id, entries, who, model_name, model_sha256, note)

    def reviews(self, case_id: str) -> dict[str, Review]:
        """Cell id -> the person's label, for every reviewed cell of a case."""
        with self._lock:
            rows = self._read("SELECT sha256, region, label, reviewer, at, path FROM "
                              "case_reviews WHERE case_id = ?", (case_id,)).fetchall()
        return {cell_id(sha, region): Review(label, reviewer or "", at or "", path or "")
                for sha, region, label, reviewer, at, path in rows}

    def review(self, case_id: str, cid: str) -> Review | None:
        """The person's label of one cell of a case, if any."""
        sha, region = split_cell_id(cid)
        with self._lock:
            row = self._read("SELECT label, reviewer, at, path FROM case_reviews WHERE "
                             "case_id = ? AND sha256 = ? AND region = ?",
                             (case_id, sha, region)).fetchone()
        return Review(row[0], row[1] or "", row[2] or "", row[3] or "") if row else None

    def trail(self, case_id: str, cid: str = "") -> list[AuditEntry]:
        """A case's audit trail in order (only one cell's entries when a cell id is given;
        a bare content hash gives every region of that image)."""
        query = f"SELECT {', '.join(_AUDIT_FIELDS)} FROM audit WHERE case_id = ?"
        args: tuple[str, ...] = (case_id,)
        if cid:
            sha, region = split_cell_id(cid)
            query += " AND sha256 = ?"
            args += (sha,)
            if region:
                query += " AND region = ?"
                args += (region,)
        with self._lock:
            rows = self._read(query + " ORDER BY seq", args).fetchall()
        return [AuditEntry(**dict(zip(_AUDIT_FIELDS, row))) for row in rows]

    def _set_signed(self, case_id: str, action: str, who: str, note: str, model_name: str,
                    model_sha256: str, signer: Signer | None) -> CaseInfo:
        if signer is not None and signer.name != who:
            raise StoreError(f"the signing key is {signer.name}'s, not {who}'s")
        with self._lock, self._write("cannot record the sign-off"):
            case = self._case(case_id)
            if case.signed == (action == audit.SIGN_OFF):
                state = "already signed off" if case.signed else "not signed off"
                raise CaseSignedError(f"case {case_id} is {state}")
            case, entry = self._append(case, action=action, who=who, note=note,
                                       model_name=model_name, model_sha256=model_sha256)
            if signer is not None:
                record = signer.sign(case_id, entry.seq, action, entry.row_hash)
                self._db.execute("INSERT INTO signatures VALUES (?, ?, ?, ?, ?)",
                                 (case_id, record.seq, record.key_fingerprint, record.public_key,
                                  record.signature))
            signed = (who, entry.at, note) if action == audit.SIGN_OFF else ("", "", "")
            self._db.execute("UPDATE cases SET signed_by = ?, signed_at = ?, sign_note = ? "
                             "WHERE case_id = ?", (*signed, case_id))
        return self.case(case_id)

    def sign_off(self, case_id: str, who: str, note: str = "", model_name: str = "",
                 model_sha256: str = "", signer: Signer | None = None) -> CaseInfo:
        """Freeze a case: its labels cannot change until it is reopened. With `signer` (the
        reviewer's unlocked key) the new audit head is signed in the same transaction."""
        return self._set_signed(case_id, audit.SIGN_OFF, who, note, model_name, model_sha256,
                                signer)

    def reopen(self, case_id: str, who: str, reason: str, model_name: str = "",
               model_sha256: str = "", signer: Signer | None = None) -> CaseInfo:
        """Unfreeze a signed-off case to amend it (the reason goes into the trail)."""
        if not reason.strip():
            raise StoreError("reopening a signed-off case needs a reason")
        return self._set_signed(case_id, audit.REOPEN, who, reason, model_name, model_sha256,
                                signer)

    def record(self, case_id: str, action: str, who: str, note: str = "", model_name: str = "",
               model_sha256: str = "", *, details: str | None = None, cid: str = "",
               path: str = "", allow_signed: bool = False) -> CaseInfo:
        """Append a case-level entry (details changed, model chosen, a warning acknowledged,
        a cell added or removed); updates the case columns the entry describes."""
        if action not in (audit.DETAILS, audit.MODEL, audit.ACKNOWLEDGE, audit.ADD_CELL,
                          audit.REMOVE_CELL):
            raise ValueError(f"not a case-level action: {action}")
        sha, region = split_cell_id(cid)
        path = printable(path)
        with self._lock, self._write("cannot record the change"):
            case = self._case(case_id)
            if not allow_signed:
                self._refuse_if_signed(case)
            if action == audit.DETAILS:
                if details is None:
                    raise ValueError("a details entry needs the details")
                note = audit.details_hash(details)
            self._append(case, action=action, who=who, note=note, model_name=model_name,
                         model_sha256=model_sha256, sha256=sha, region=region, path=path)
            if action == audit.DETAILS:
                self._db.execute("UPDATE cases SET details = ? WHERE case_id = ?",
                                 (details, case_id))
            elif action == audit.MODEL:
                self._db.execute("UPDATE cases SET model_sha256 = ?, model_name = ? WHERE "
                                 "case_id = ?", (model_sha256, model_name, case_id))
            elif action in (audit.ADD_CELL, audit.REMOVE_CELL):
                state = "added" if action == audit.ADD_CELL else "removed"
                self._db.execute("INSERT OR REPLACE INTO case_regions VALUES (?, ?, ?, ?, ?)",
                                 (case_id, sha, region, path, state))
        return self.case(case_id)

    def case_regions(self, case_id: str) -> dict[str, str]:
        """Cell id -> 'added' or 'removed', for the cells of field images changed by hand."""
        with self._lock:
            rows = self._read("SELECT sha256, region, state FROM case_regions WHERE case_id = ?",
                              (case_id,)).fetchall()
        return {cell_id(sha, region): state for sha, region, state in rows}

    def signatures(self, case_id: str) -> list[SignatureRecord]:
        """The signatures of a case's sign-offs and reopenings, in trail order."""
        with self._lock:
            rows = self._read("SELECT case_id, seq, key_fingerprint, public_key, signature FROM "
                              "signatures WHERE case_id = ? ORDER BY seq", (case_id,)).fetchall()
        return [SignatureRecord(str(c), int(q), str(f), str(k), str(s))
                for c, q, f, k, s in rows]

    def verify_case(self, case_id: str, known_keys: dict[str, set[str]] | None = None,
                    ) -> AuditCheck:
        """Check a case's trail, that every shown field agrees with it and every signature
        (core.audit.verify); `known_keys` defaults to this computer's keyring."""
        if known_keys is None:
            known_keys = Keyring().known()
        return audit.verify(self.trail(case_id), self.case(case_id), self.reviews(case_id),
                            self.signatures(case_id), known_keys)

    # moving a case into a case file ---------------------------------------------------------
    def copy_case_to(self, case_id: str, other: ResultStore) -> None:
        """Copy a case verbatim (row, reviews, trail, regions, signatures) into another store."""
        tables = (("cases", "case_id"), ("case_reviews", "case_id"), ("audit", "case_id"),
                  ("case_regions", "case_id"), ("signatures", "case_id"))
        with self._lock:
            data = {t: (self._read(f"SELECT * FROM {t} WHERE {key} = ?", (case_id,)).fetchall(),
                        [d[0] for d in self._read(f"SELECT * FROM {t} LIMIT 0").description])
                    for t, key in tables}
        with other._lock, other._write("cannot copy the case"):
            for table, (rows, names) in data.items():
                for row in rows:
                    other._db.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                                      f"({', '.join('?' * len(names))})", row)


def _statements(script: str) -> list[str]:
    """The statements of a DDL script (triggers keep their inner semicolons)."""
    out, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and (not text.upper().startswith("CREATE TRIGGER")
                                   or text.upper().endswith("END;")):
            out.append(text)
            current = []
    return out


class _Transaction:
    """Commit on success; roll back on any error (SQLite errors become StoreError)."""

    def __init__(self, store: ResultStore, what: str) -> None:
        self.store, self.what = store, what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        db = self.store._db
        if kind is None:
            try:
                db.commit()
                return False
            except sqlite3.DatabaseError as error:
                db.rollback()
                raise StoreError(f"{self.store.path}: {self.what} ({error})") from error
        db.rollback()
        if isinstance(exc, sqlite3.DatabaseError):
            raise StoreError(f"{self.store.path}: {self.what} ({exc})") from exc
        return False

