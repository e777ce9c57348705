"""The results store's tables and the upgrades from older versions (one step per version).

Version 3 keys every cell by content hash + region (core.cells), predictions by the model's
identity (core.model_spec), keeps lab-shift scores under the domain statistics' own hash, and
gives cases an id of their own (so a case can live in a file inside its folder and travel with
it), case details, a model, signatures of sign-offs, and cells added or removed by hand.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 3

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
CREATE TABLE IF NOT EXISTS quality (sha256 TEXT PRIMARY KEY, metrics TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (model_sha256 TEXT PRIMARY KEY, name TEXT, classes TEXT);
CREATE TABLE IF NOT EXISTS predictions (
    sha256 TEXT NOT NULL, region TEXT NOT NULL DEFAULT '', model_sha256 TEXT NOT NULL,
    probabilities TEXT NOT NULL, created REAL, PRIMARY KEY (sha256, region, model_sha256));
CREATE TABLE IF NOT EXISTS domain_scores (
    sha256 TEXT NOT NULL, region TEXT NOT NULL DEFAULT '', stats_sha256 TEXT NOT NULL,
    score REAL NOT NULL, created REAL, PRIMARY KEY (sha256, region, stats_sha256));
CREATE TABLE IF NOT EXISTS detections (
    sha256 TEXT NOT NULL, finder TEXT NOT NULL, boxes TEXT NOT NULL, created REAL,
    PRIMARY KEY (sha256, finder));
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, created TEXT, audit_head TEXT NOT NULL,
    audit_count INTEGER NOT NULL, signed_by TEXT NOT NULL DEFAULT '',
    signed_at TEXT NOT NULL DEFAULT '', sign_note TEXT NOT NULL DEFAULT '',
    folder TEXT NOT NULL DEFAULT '', fingerprint TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}', model_sha256 TEXT NOT NULL DEFAULT '',
    model_name TEXT NOT NULL DEFAULT '', moved_to TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS case_reviews (
    case_id TEXT NOT NULL, sha256 TEXT NOT NULL, region TEXT NOT NULL DEFAULT '', path TEXT,
    label TEXT NOT NULL, reviewer TEXT, at TEXT, PRIMARY KEY (case_id, sha256, region));
CREATE TABLE IF NOT EXISTS case_regions (
    case_id TEXT NOT NULL, sha256 TEXT NOT NULL, region TEXT NOT NULL, path TEXT,
    state TEXT NOT NULL, PRIMARY KEY (case_id, sha256, region));
CREATE TABLE IF NOT EXISTS audit (
    case_id TEXT NOT NULL, seq INTEGER NOT NULL, action TEXT NOT NULL, sha256 TEXT, path TEXT,
    previous TEXT, new TEXT, who TEXT, at TEXT, model_name TEXT, model_sha256 TEXT, note TEXT,
    prev_hash TEXT NOT NULL, row_hash TEXT NOT NULL, region TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, seq));
CREATE TABLE IF NOT EXISTS signatures (
    case_id TEXT NOT NULL, seq INTEGER NOT NULL, key_fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY (case_id, seq));
"""
#: Indexes and triggers: made after any upgrade (they name columns older versions lack).
INDEXES = """
CREATE INDEX IF NOT EXISTS files_by_sha ON files (sha256);
CREATE INDEX IF NOT EXISTS cases_by_fingerprint ON cases (fingerprint);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS signatures_no_update BEFORE UPDATE ON signatures
    BEGIN SELECT RAISE(ABORT, 'signatures are append-only'); END;
CREATE TRIGGER IF NOT EXISTS signatures_no_delete BEFORE DELETE ON signatures
    BEGIN SELECT RAISE(ABORT, 'signatures are append-only'); END;
"""


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _upgrade_1_to_2(db: sqlite3.Connection, review_rows: Callable[..., object]) -> None:
    """Version 1 kept reviews per image only: each becomes a review in the case of the folder
    the image was seen in (through the store's own trail writer)."""
    from marrow_desktop.core.review import case_id_for

    if "reviews" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}:
        return
    rows = db.execute("SELECT r.sha256, r.label, f.path FROM reviews r JOIN files f "
                      "ON r.sha256 = f.sha256 ORDER BY r.updated").fetchall()
    for sha, label, path in rows:
        if label:
            review_rows(case_id_for([os.path.dirname(path)]), [(sha, path, label)],
                        "marrow (store upgrade)", note="from store version 1")
    db.execute("DROP TABLE reviews")


def _rebuild(db: sqlite3.Connection, table: str, create: str, columns: str) -> None:
    """Copy a table into its new layout (new columns take their defaults)."""
    db.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
    db.execute(create)
    db.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_old")
    db.execute(f"DROP TABLE {table}_old")


def _upgrade_2_to_3(db: sqlite3.Connection) -> None:
    """Regions in the keys of predictions and reviews, a region column in the trail (entries
    written before keep their hashes: an empty region is not part of the hashed text), and the
    new case columns. Old predictions stay under the hash they were keyed by (the ONNX file's);
    they are not the identity of any model now, so they are simply recomputed."""
    if "region" not in _columns(db, "predictions"):
        _rebuild(db, "predictions",
                 "CREATE TABLE predictions (sha256 TEXT NOT NULL, region TEXT NOT NULL DEFAULT "
                 "'', model_sha256 TEXT NOT NULL, probabilities TEXT NOT NULL, created REAL, "
                 "PRIMARY KEY (sha256, region, model_sha256))",
                 "sha256, model_sha256, probabilities, created")
    if "region" not in _columns(db, "case_reviews"):
        _rebuild(db, "case_reviews",
                 "CREATE TABLE case_reviews (case_id TEXT NOT NULL, sha256 TEXT NOT NULL, "
                 "region TEXT NOT NULL DEFAULT '', path TEXT, label TEXT NOT NULL, reviewer "
                 "TEXT, at TEXT, PRIMARY KEY (case_id, sha256, region))",
                 "case_id, sha256, path, label, reviewer, at")
    if "region" not in _columns(db, "audit"):
        db.execute("ALTER TABLE audit ADD COLUMN region TEXT NOT NULL DEFAULT ''")
    have = _columns(db, "cases")
    for name in ("folder", "fingerprint", "model_sha256", "model_name", "moved_to"):
        if name not in have:
            db.execute(f"ALTER TABLE cases ADD COLUMN {name} TEXT NOT NULL DEFAULT ''")
    if "details" not in have:
        db.execute("ALTER TABLE cases ADD COLUMN details TEXT NOT NULL DEFAULT '{}'")
    # version-2 cases are keyed by their folder's path: remember it as the folder
    db.execute("UPDATE cases SET folder = case_id WHERE folder = ''")


def upgrade(db: sqlite3.Connection, version: int, review_rows: Callable[..., object]) -> None:
    """Bring a store from `version` to SCHEMA_VERSION (the caller holds one transaction; the
    tables new in a version were already made from TABLES)."""
    if version < 2:
        _upgrade_1_to_2(db, review_rows)
    if version < 3:
        _upgrade_2_to_3(db)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
