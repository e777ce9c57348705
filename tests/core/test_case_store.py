"""Cases in the results store: reviews, the hash-chained audit trail, sign-off, upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from marrow_desktop.core import audit
from marrow_desktop.core.review import EXCLUDED, case_id_for
from marrow_desktop.core.store import CaseSignedError, ResultStore, StoreError

CASE = case_id_for(["/data/case-17"])


def _label(store: ResultStore, *entries: tuple[str, str], who: str = "alice") -> list:
    return store.set_reviews(CASE, [(sha, f"/data/case-17/{sha}.jpg", label)
                                    for sha, label in entries], who, "rexnet", "m" * 64)


def test_reviews_are_kept_per_case_with_who_and_when(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "r.sqlite") as store:
        _label(store, ("a", "BLA"), ("b", "EOS"))
        _label(store, ("a", "MON"), who="bob")
        other = case_id_for(["/data/case-18"])
        assert store.reviews(other) == {}
    with ResultStore(tmp_path / "r.sqlite") as store:  # survives reopening
        reviews = store.reviews(CASE)
        assert {k: r.label for k, r in reviews.items()} == {"a": "MON", "b": "EOS"}
        assert reviews["a"].reviewer == "bob" and reviews["b"].reviewer == "alice"
        assert reviews["a"].at.endswith("+00:00") and reviews["a"].path.endswith("a.jpg")


def test_every_change_is_one_chained_entry_and_no_change_writes_nothing() -> None:
    with ResultStore() as store:
        first = _label(store, ("a", "BLA"))
        assert _label(store, ("a", "BLA")) == []  # unchanged: nothing appended
        _label(store, ("a", EXCLUDED))
        _label(store, ("a", ""))  # cleared
        trail = store.trail(CASE)
        assert [(e.previous, e.new) for e in trail] == [("", "BLA"), ("BLA", EXCLUDED),
                                                         (EXCLUDED, "")]
        assert trail[0] == first[0] and trail[0].prev_hash == audit.GENESIS
        assert [e.prev_hash for e in trail[1:]] == [e.row_hash for e in trail[:-1]]
        assert all(e.model_name == "rexnet" and e.who == "alice" for e in trail)
        assert store.reviews(CASE) == {}
        assert store.case(CASE).audit_count == 3
        assert store.verify_case(CASE).ok


def test_the_trail_cannot_be_updated_or_deleted_through_sql() -> None:
    with ResultStore() as store:
        _label(store, ("a", "BLA"))
        for sql in ("UPDATE audit SET new = 'EOS'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                store._db.execute(sql)


@pytest.mark.parametrize("tamper", ["edit", "delete_middle", "delete_last", "label"])
def test_verify_detects_a_tampered_store(tamper: str) -> None:
    with ResultStore() as store:
        _label(store, ("a", "BLA"), ("b", "EOS"), ("c", "LYT"))
        db = store._db
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("DROP TRIGGER audit_no_delete")
        if tamper == "edit":  # someone rewrites who made a change
            db.execute("UPDATE audit SET who = 'mallory' WHERE seq = 2")
        elif tamper == "delete_middle":
            db.execute("DELETE FROM audit WHERE seq = 2")
        elif tamper == "delete_last":
            db.execute("DELETE FROM audit WHERE seq = 3")
        else:  # a label changed without a trail entry
            db.execute("UPDATE case_reviews SET label = 'MON' WHERE sha256 = 'a'")
        db.commit()
        check = store.verify_case(CASE)
        assert not check.ok
        assert check.summary().startswith("Audit trail BROKEN")
        if tamper == "edit":
            assert "entry 2: its contents were changed" in check.problems[0]


def test_sign_off_freezes_the_case_until_reopened_with_a_reason() -> None:
    with ResultStore() as store:
        _label(store, ("a", "BLA"))
        case = store.sign_off(CASE, "Dr. Ada Lovelace", "differential complete")
        assert case.signed and case.signed_by == "Dr. Ada Lovelace"
        with pytest.raises(CaseSignedError, match=r"signed off by Dr\. Ada Lovelace"):
            _label(store, ("a", "EOS"))
        assert store.reviews(CASE)["a"].label == "BLA"
        with pytest.raises(CaseSignedError, match="already signed off"):
            store.sign_off(CASE, "someone")
        with pytest.raises(StoreError, match="needs a reason"):
            store.reopen(CASE, "Dr. Ada Lovelace", "  ")
        assert not store.reopen(CASE, "Dr. Ada Lovelace", "late correction").signed
        _label(store, ("a", "EOS"))
        actions = [e.action for e in store.trail(CASE)]
        assert actions == [audit.REVIEW, audit.SIGN_OFF, audit.REOPEN, audit.REVIEW]
        assert store.trail(CASE)[2].note == "late correction"
        assert store.verify_case(CASE).ok


def test_a_failed_batch_writes_nothing(tmp_path: Path) -> None:
    with ResultStore() as store:
        store.sign_off(CASE, "x")
        with pytest.raises(CaseSignedError):
            _label(store, ("a", "BLA"), ("b", "EOS"))
        assert store.case(CASE).audit_count == 1 and store.reviews(CASE) == {}


def test_version_1_reviews_move_into_the_case_of_their_folder(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
        CREATE TABLE reviews (sha256 TEXT PRIMARY KEY, label TEXT, note TEXT, updated REAL);
        INSERT INTO files VALUES ('/data/case-17/a.jpg', 1, 1, 'sha-a');
        INSERT INTO reviews VALUES ('sha-a', 'PMO', '', 1.0);
    """)
    con.commit()
    con.close()
    with ResultStore(db) as store:
        assert store.reviews(CASE)["sha-a"].label == "PMO"
        assert store.trail(CASE)[0].note == "from store version 1"
        assert store.verify_case(CASE).ok
    with ResultStore(db) as store:  # upgraded once, not again
        assert store.case(CASE).audit_count == 1


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite"
    with ResultStore(db) as store:
        store._db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        store._db.commit()
    with pytest.raises(StoreError, match="newer Marrow Desktop"):
        ResultStore(db)


def test_case_of_files_is_their_common_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    files = [str(tmp_path / "sub" / "a.jpg"), str(tmp_path / "sub" / "b.jpg")]
    assert case_id_for(files) == case_id_for([str(tmp_path / "sub")])
    assert case_id_for([str(tmp_path)]) == case_id_for([str(tmp_path) + "/"])
